// BatchMatcher and speculative decoding (tollgate/batch.hpp, Matcher::validate_tokens, draft
// masks, fork): batch masks equal each matcher's own mask and do not depend on the number of
// threads; matchers of one shared grammar driven from several threads on cold caches see the
// masks of a single-threaded run on a separate grammar; validate_tokens and draft masks leave the
// state unchanged and agree with accepting token by token; fork and rollback after partial
// acceptance. Data: MaskBench-dev documents (Llama-3 token ids) through the built-in JSON grammar.
#include <algorithm>
#include <thread>

#include "test_support.hpp"
#include "tollgate/batch.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;
using tollgate::testing::llama3;
using tollgate::testing::mask_of;
using tollgate::testing::maskbench_docs;

namespace {

// A fresh compile of the built-in JSON grammar (its caches cold, shared with no other test).
CompiledGrammarPtr fresh_json() { return Compiler(llama3()).builtin_json(); }

// Masks of `doc` along its replay, one matcher, one thread (the reference).
std::vector<std::vector<int32_t>> replay_masks(const CompiledGrammarPtr& g, const std::vector<int32_t>& doc) {
  std::vector<std::vector<int32_t>> out;
  Matcher m(g);
  for (int32_t t : doc) {
    out.push_back(mask_of(m));
    if (!m.accept_token(t)) break;
  }
  out.push_back(mask_of(m));
  return out;
}

}  // namespace

TEST_CASE("batch: masks of a lock-step replay equal each matcher's own, with 1, 2 and 4 threads", "[batch]") {
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  auto docs = maskbench_docs(mb, 24, 5);
  REQUIRE(docs.size() == 24);
  const int32_t words = bitmask_words(llama3()->vocab_size());
  std::vector<std::vector<std::vector<int32_t>>> results;  // per thread count: every batch row of every step
  for (int threads : {1, 2, 4}) {
    CompiledGrammarPtr g = fresh_json();  // cold caches: misses race across threads
    BatchMatcher batch(threads);
    CHECK(batch.threads() == threads);
    std::vector<Matcher> ms;
    for (size_t i = 0; i < docs.size(); ++i) ms.emplace_back(g);
    std::vector<const Matcher*> ptrs;
    for (auto& m : ms) ptrs.push_back(&m);
    std::vector<Matcher*> mptrs;
    for (auto& m : ms) mptrs.push_back(&m);
    std::vector<int32_t> bitmask(docs.size() * words);
    std::vector<std::vector<int32_t>> rows;
    size_t longest = 0;
    for (auto& d : docs) longest = std::max(longest, d.size());
    for (size_t step = 0; step <= longest; ++step) {
      std::fill(bitmask.begin(), bitmask.end(), -1);
      batch.fill_next_token_bitmask(ptrs, bitmask.data());
      rows.push_back(bitmask);
      // Every row is that matcher's own mask.
      for (size_t i = 0; i < docs.size(); i += 5) {
        std::vector<int32_t> own = mask_of(ms[i]);
        CHECK(std::equal(own.begin(), own.end(), bitmask.begin() + i * words));
      }
      std::vector<int32_t> tokens(docs.size());
      for (size_t i = 0; i < docs.size(); ++i) tokens[i] = step < docs[i].size() ? docs[i][step] : llama3()->eos_ids()[0];
      std::vector<uint8_t> ok(docs.size());
      std::vector<Matcher*> live;
      std::vector<int32_t> live_tokens;
      for (size_t i = 0; i < docs.size(); ++i)
        if (!ms[i].is_terminated()) {
          live.push_back(&ms[i]);
          live_tokens.push_back(tokens[i]);
        }
      std::vector<uint8_t> acc(live.size());
      batch.accept_tokens(live, live_tokens, acc);
      CHECK(std::count(acc.begin(), acc.end(), 1) == static_cast<long>(acc.size()));  // valid documents, then EOS
    }
    for (auto& m : ms) CHECK(m.is_terminated());
    results.push_back(std::move(rows));
  }
  CHECK(results[0] == results[1]);
  CHECK(results[0] == results[2]);
  // Rows given explicitly, in reverse order.
  CompiledGrammarPtr g = fresh_json();
  Matcher a(g), b(g);
  REQUIRE(a.accept_token(docs[0][0]));
  std::vector<const Matcher*> two = {&a, &b};
  std::vector<int64_t> rows = {1, 0};
  std::vector<int32_t> bm(2 * words);
  BatchMatcher::shared().fill_next_token_bitmask(two, bm.data(), rows);
  CHECK(std::equal(bm.begin(), bm.begin() + words, mask_of(b).begin()));
  CHECK(std::equal(bm.begin() + words, bm.end(), mask_of(a).begin()));
  CHECK_THROWS_AS(BatchMatcher::shared().fill_next_token_bitmask(two, bm.data(), std::vector<int64_t>{0}), Error);
}

TEST_CASE("batch: threads replaying different documents on one cold grammar see single-thread masks", "[batch]") {
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  auto docs = maskbench_docs(mb, 8, 11);
  REQUIRE(docs.size() == 8);
  CompiledGrammarPtr reference = fresh_json();
  std::vector<std::vector<std::vector<int32_t>>> want;
  for (auto& d : docs) want.push_back(replay_masks(reference, d));
  CompiledGrammarPtr shared = fresh_json();
  std::vector<std::vector<std::vector<int32_t>>> got(docs.size());
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([&, w] {
      for (size_t i = w; i < docs.size(); i += 4) got[i] = replay_masks(shared, docs[i]);
    });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < docs.size(); ++i) CHECK(got[i] == want[i]);
}

TEST_CASE("speculative: validate_tokens, draft masks, fork and rollback after partial acceptance", "[batch]") {
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  std::vector<std::vector<int32_t>> docs;
  for (auto& d : maskbench_docs(mb, 400, 1))
    if (d.size() >= 80 && docs.size() < 6) docs.push_back(d);
  REQUIRE(docs.size() == 6);
  CompiledGrammarPtr g = fresh_json();
  const int32_t words = bitmask_words(llama3()->vocab_size());
  for (const auto& doc : docs) {
    Matcher m(g);
    // The whole document validates from the start; the state stays at the start.
    auto before = mask_of(m);
    CHECK(m.validate_tokens(doc) == static_cast<int>(doc.size()));
    CHECK(m.num_accepted() == 0);
    CHECK(mask_of(m) == before);
    // A token the mask refuses at position 5 stops the count there.
    Matcher at5(g);
    for (int i = 0; i < 5; ++i) REQUIRE(at5.accept_token(doc[i]));
    auto mask5 = mask_of(at5);
    int32_t refused = 0;
    while (testing::mask_bit(mask5, refused)) ++refused;
    std::vector<int32_t> bad(doc.begin(), doc.begin() + 8);
    bad[5] = refused;
    CHECK(m.validate_tokens(bad) == 5);

    // Draft of k = 8 tokens from position 10: rows equal the sequential masks; a refused draft
    // token zeroes the rows after it.
    Matcher d(g);
    for (int i = 0; i < 10; ++i) REQUIRE(d.accept_token(doc[i]));
    std::vector<int32_t> draft(doc.begin() + 10, doc.begin() + 18);
    std::vector<int32_t> rows(9 * words, -1);
    CHECK(d.fill_next_token_bitmask_draft(draft, rows.data()) == 8);
    CHECK(d.num_accepted() == 10);
    Matcher seq = d.fork();
    for (int i = 0; i <= 8; ++i) {
      auto want = mask_of(seq);
      CHECK(std::equal(want.begin(), want.end(), rows.begin() + i * words));
      if (i < 8) REQUIRE(seq.accept_token(draft[i]));
    }
    draft[3] = refused == doc[13] ? refused + 1 : refused;
    if (d.validate_tokens(draft) == 3) {
      std::fill(rows.begin(), rows.end(), -1);
      CHECK(d.fill_next_token_bitmask_draft(draft, rows.data()) == 3);
      CHECK(std::all_of(rows.begin() + 5 * words, rows.end(), [](int32_t w) { return w == 0; }));
    }

    // Speculation: accept a 40-token draft whose tail the verifier rejects, roll back 32.
    Matcher s(g, 64);
    for (int i = 0; i < 40; ++i) REQUIRE(s.accept_token(doc[i]));
    Matcher at8 = s.fork();
    at8.rollback(32);
    Matcher direct(g);
    for (int i = 0; i < 8; ++i) REQUIRE(direct.accept_token(doc[i]));
    CHECK(mask_of(at8) == mask_of(direct));
    CHECK(at8.num_accepted() == 8);
    CHECK(s.num_accepted() == 40);  // the fork's rollback left the original alone
    // Both continue independently to the end.
    for (size_t i = 8; i < doc.size(); ++i) REQUIRE(at8.accept_token(doc[i]));
    for (size_t i = 40; i < doc.size(); ++i) REQUIRE(s.accept_token(doc[i]));
    CHECK(at8.is_accepting());
    CHECK(s.is_accepting());
    const int kept = static_cast<int>(std::min<size_t>(doc.size(), 64));
    CHECK(s.num_accepted() == kept);  // bounded by max_rollback
    CHECK_THROWS_AS(s.rollback(kept + 1), Error);
    s.rollback(kept);
    CHECK(s.num_accepted() == 0);
    Matcher back(g);
    for (size_t i = 0; i + kept < doc.size(); ++i) REQUIRE(back.accept_token(doc[i]));
    CHECK(mask_of(s) == mask_of(back));
  }
}
