// Regex Matcher and apply_token_bitmask on a tiny hand-made vocabulary (unit level).
#include "test_support.hpp"

#include <cmath>

#include "tollgate/tollgate.hpp"

using namespace tollgate;

namespace {
// ids: 0 "a", 1 "b", 2 "ab", 3 "ba", 4 "c", 5 "abc", 6 <eos> (special), 7..39 padding
TokenizerInfoPtr tiny_vocab() {
  return TokenizerInfo::from_tokens({"a", "b", "ab", "ba", "c", "abc", "<eos>"}, {6}, 40, {6});
}
std::vector<int32_t> allowed(const Matcher& m, int32_t vocab) {
  std::vector<int32_t> mask(bitmask_words(vocab), 0x5A5A5A5A);
  m.fill_next_token_bitmask(mask.data());
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < vocab; ++i)
    if ((mask[i >> 5] >> (i & 31)) & 1) ids.push_back(i);
  return ids;
}
}  // namespace

TEST_CASE("regex matcher: masks, accept, EOS, rollback, reset", "[matcher]") {
  auto tok = tiny_vocab();
  Compiler compiler(tok);
  auto g = compiler.compile_regex("(ab)+c");
  Matcher m(g);
  CHECK(allowed(m, 40) == std::vector<int32_t>{0, 2, 5});
  CHECK_FALSE(m.accept_token(1));  // "b" not allowed: state unchanged
  CHECK_FALSE(m.accept_token(6));  // EOS not allowed yet
  CHECK_FALSE(m.accept_token(39)); // padding
  CHECK_FALSE(m.accept_token(-1));
  CHECK_FALSE(m.accept_token(1000));
  CHECK(m.num_accepted() == 0);
  REQUIRE(m.accept_token(0));      // a
  CHECK(allowed(m, 40) == std::vector<int32_t>{1, 3});  // b, ba
  REQUIRE(m.accept_token(3));      // ba
  CHECK(allowed(m, 40) == std::vector<int32_t>{1, 3});  // b, ba ("ababa" is a live prefix)
  REQUIRE(m.accept_token(1));      // b  → "abab"
  CHECK(allowed(m, 40) == std::vector<int32_t>{0, 2, 4, 5});
  CHECK(m.jump_forward().empty());
  REQUIRE(m.accept_token(4));      // c
  CHECK(m.is_accepting());
  CHECK(allowed(m, 40) == std::vector<int32_t>{6});     // only EOS
  REQUIRE(m.accept_token(6));
  CHECK(m.is_terminated());
  CHECK(allowed(m, 40).empty());
  CHECK_FALSE(m.accept_token(0));
  m.rollback(2);
  CHECK_FALSE(m.is_terminated());
  CHECK(allowed(m, 40) == std::vector<int32_t>{0, 2, 4, 5});
  CHECK_THROWS_AS(m.rollback(100), Error);
  m.reset();
  CHECK(m.num_accepted() == 0);
  CHECK(allowed(m, 40) == std::vector<int32_t>{0, 2, 5});
}

TEST_CASE("regex matcher: accept_bytes, jump_forward, fork", "[matcher]") {
  auto tok = tiny_vocab();
  Compiler compiler(tok);
  auto g = compiler.compile_regex("abc(a|b)");
  Matcher m(g);
  CHECK(m.jump_forward() == "abc");
  CHECK(m.accept_bytes("a"));
  CHECK(m.jump_forward() == "bc");
  CHECK_FALSE(m.accept_bytes("bx"));  // refused as a whole, state unchanged
  CHECK(m.jump_forward() == "bc");
  Matcher fork(m);
  CHECK(fork.accept_bytes("bcb"));
  CHECK(fork.is_accepting());
  CHECK_FALSE(m.is_accepting());
  CHECK(m.accept_bytes("bca"));
  CHECK(m.is_accepting());
}

TEST_CASE("regex matcher: max_rollback bounds the history", "[matcher]") {
  auto tok = tiny_vocab();
  auto g = Compiler(tok).compile_regex("a*");
  Matcher m(g, 3);
  for (int i = 0; i < 10; ++i) REQUIRE(m.accept_token(0));
  CHECK(m.num_accepted() == 3);
  m.rollback(3);
  CHECK_THROWS_AS(m.rollback(1), Error);
}

TEST_CASE("apply_token_bitmask sets exactly the disallowed logits to -inf", "[bitmask]") {
  for (int32_t vocab : {1, 31, 32, 33, 100, 1000, 128256}) {
    std::vector<float> logits(vocab);
    std::vector<int32_t> mask(bitmask_words(vocab));
    uint32_t x = 12345;
    for (auto& w : mask) {
      x = x * 1103515245u + 12345u;
      w = static_cast<int32_t>(x);
    }
    mask[0] = -1;  // a word allowing everything
    for (int32_t i = 0; i < vocab; ++i) logits[i] = static_cast<float>(i) * 0.5f;
    apply_token_bitmask(logits.data(), mask.data(), vocab);
    for (int32_t i = 0; i < vocab; ++i) {
      bool allowed = (mask[i >> 5] >> (i & 31)) & 1;
      if (allowed) CHECK(logits[i] == static_cast<float>(i) * 0.5f);
      else CHECK(std::isinf(logits[i]));
    }
  }
}

TEST_CASE("from_tokens validates its input", "[vocab-unit]") {
  CHECK_THROWS_AS(TokenizerInfo::from_tokens({"a"}, {5}, 2), Error);   // EOS outside
  CHECK_THROWS_AS(TokenizerInfo::from_tokens({"a", "b"}, {0}, 1), Error);  // vocab smaller
}
