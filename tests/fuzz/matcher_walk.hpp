// A random walk over a Matcher with the invariants checked at every step, shared by the
// libFuzzer matcher target (bytes from the fuzzer) and the soak (bytes from a PRNG).
// Takes: a compiled grammar and a byte source. Gives: abort() with a message on the first broken
// invariant —
//   - a token outside the mask is accepted, or a token inside it refused (checked on a fork before
//     a step, and on the step itself);
//   - rollback(n) does not restore the exact mask seen n steps earlier;
//   - a fork's mask differs from its parent's;
//   - a refusal changes the state;
//   - anything but kLimit escapes accept_token / accept_bytes.
// Steps: take the k-th allowed token, take an arbitrary id (negative, past the vocabulary,
// special, padding), roll back n steps, fork, EOS, raw bytes.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tollgate/matcher.hpp"

namespace tollgate::fuzz {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The grammars walked: the built-in JSON grammar, GBNF corpus grammars from `data`, Lark grammars
// from tests/data, a regex and a JSON Schema.
inline std::vector<CompiledGrammarPtr> walk_grammars(const Compiler& c, const std::filesystem::path& data) {
  namespace fs = std::filesystem;
  std::vector<CompiledGrammarPtr> out{c.builtin_json()};
  for (const char* g : {"arithmetic.gbnf", "json_arr.gbnf", "list.gbnf", "chess.gbnf"}) {
    fs::path p = data / "corpora/gbnf" / g;
    if (fs::exists(p)) out.push_back(c.compile_grammar(slurp(p), "gbnf", g));
  }
  for (const char* g : {"calc.lark", "sexp.lark", "config.lark"}) {
    fs::path p = fs::path(TOLLGATE_SOURCE_DIR) / "tests/data/lark" / g;
    if (fs::exists(p)) out.push_back(c.compile_grammar(slurp(p), "lark", g));
  }
  out.push_back(c.compile_regex("[a-z]{1,8}(, ?[0-9]+(\\.[0-9]+)?)*"));
  out.push_back(c.compile_json_schema(
      R"({"type":"object","properties":{"name":{"type":"string","maxLength":12},)"
      R"("tags":{"type":"array","items":{"enum":["a","bc","d\"e"]}},"n":{"type":"integer","minimum":-5}},)"
      R"("required":["name"]})"));
  return out;
}

#define FUZZ_CHECK(cond, what)                                                      \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "matcher walk: check failed: %s (%s)\n", what, #cond);   \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)


inline std::vector<int32_t> mask(const Matcher& m) {
  std::vector<int32_t> out(bitmask_words(m.grammar().tokenizer().vocab_size()));
  m.fill_next_token_bitmask(out.data());
  return out;
}
inline bool bit(const std::vector<int32_t>& mask, int32_t id) {
  return id >= 0 && static_cast<size_t>(id >> 5) < mask.size() && ((mask[id >> 5] >> (id & 31)) & 1);
}
// The k-th set bit (k taken modulo the count), or -1 when the mask is empty.
inline int32_t nth_set(const std::vector<int32_t>& mask, uint32_t k) {
  size_t count = 0;
  for (int32_t w : mask) count += __builtin_popcount(static_cast<uint32_t>(w));
  if (count == 0) return -1;
  k %= count;
  for (size_t i = 0; i < mask.size(); ++i) {
    uint32_t w = static_cast<uint32_t>(mask[i]);
    uint32_t c = __builtin_popcount(w);
    if (k < c) {
      for (; k > 0; --k) w &= w - 1;
      return static_cast<int32_t>(i * 32 + __builtin_ctz(w));
    }
    k -= c;
  }
  return -1;
}

// In: a byte source with bool empty() and uint32_t byte(). Runs at most max_steps steps.
template <class In>
void walk_matcher(const CompiledGrammarPtr& g, In& in, int max_steps) {
  auto u16 = [&] { return in.byte() | (in.byte() << 8); };
  const int32_t vocab = g->tokenizer().vocab_size();
  Matcher m(g, 16);
  std::vector<std::vector<int32_t>> history{mask(m)};  // history.back() == mask(m)
  auto pushed = [&] {
    history.push_back(mask(m));
    if (history.size() > 64) history.erase(history.begin());
  };
  try {
    for (int steps = 0; steps < max_steps && !in.empty(); ++steps) {
      const std::vector<int32_t> cur = history.back();
      uint32_t op = in.byte() % 10;
      if (op <= 4) {  // the k-th allowed token: a fork accepts it, and so does m
        int32_t t = nth_set(cur, u16() | (in.byte() << 16));
        if (t < 0) continue;
        // A token outside the mask, chosen near it, is refused by a fork.
        int32_t near = (t + 1 + static_cast<int32_t>(in.byte())) % vocab;
        if (!bit(cur, near)) {
          Matcher f(m);
          FUZZ_CHECK(!f.accept_token(near), "a token outside the mask was accepted");
          FUZZ_CHECK(mask(f) == cur, "a refused token changed the state");
        }
        FUZZ_CHECK(m.accept_token(t), "a token inside the mask was refused");
        pushed();
      } else if (op == 5) {  // an arbitrary id: accepted exactly when its bit is set
        int32_t t = static_cast<int32_t>(u16() | (u16() << 16));
        if (in.byte() & 1) t = static_cast<int32_t>(static_cast<uint32_t>(t) % static_cast<uint32_t>(vocab + 64)) - 32;
        bool ok = m.accept_token(t);
        FUZZ_CHECK(ok == bit(cur, t), "accept_token disagrees with the mask");
        if (ok) pushed();
        else FUZZ_CHECK(mask(m) == cur, "a refused token changed the state");
      } else if (op == 6) {  // rollback restores the exact mask
        int n = static_cast<int>(in.byte()) % (m.num_accepted() + 1);
        if (static_cast<size_t>(n) >= history.size()) continue;
        m.rollback(n);
        history.resize(history.size() - n);
        FUZZ_CHECK(mask(m) == history.back(), "rollback did not restore the mask");
      } else if (op == 7) {  // fork: same mask; continue on the fork
        Matcher f(m);
        FUZZ_CHECK(mask(f) == cur, "a fork's mask differs");
        m = std::move(f);
      } else if (op == 8) {  // EOS (refused after termination: the matcher stays terminated)
        int32_t eos = g->tokenizer().eos_ids().front();
        const bool was_terminated = m.is_terminated();
        bool ok = m.accept_token(eos);
        FUZZ_CHECK(ok == bit(cur, eos), "EOS disagrees with the mask");
        if (ok) {
          FUZZ_CHECK(!was_terminated && m.is_terminated(), "EOS accepted but not terminated");
          pushed();
        } else {
          FUZZ_CHECK(m.is_terminated() == was_terminated, "a refused EOS changed termination");
          FUZZ_CHECK(mask(m) == cur, "a refused EOS changed the state");
        }
      } else {  // raw bytes: no oracle beyond "refusal leaves the state unchanged"
        std::string bytes;
        for (uint32_t k = 1 + in.byte() % 5; k > 0; --k) bytes.push_back(static_cast<char>(in.byte()));
        if (m.accept_bytes(bytes)) pushed();
        else FUZZ_CHECK(mask(m) == cur, "refused bytes changed the state");
      }
    }
  } catch (const Error& e) {
    FUZZ_CHECK(e.kind() == ErrorKind::kLimit, e.what());
  }
}

}  // namespace tollgate::fuzz
