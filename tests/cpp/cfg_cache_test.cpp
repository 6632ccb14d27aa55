// Bounded caches of the context-free back-end (engine/cfg_backend): with a budget far below what a
// replay needs, the boundary, local-walk and guard caches are cleared again and again, and masks
// must stay exactly the brute-force trie walk (fill_mask_slow) while the cached bytes stay within
// the budget; two threads with their own Matchers on one grammar whose caches keep being cleared
// must see the masks a single thread sees.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

#include "engine/cfg_backend.hpp"
#include "grammar/grammar_ir.hpp"
#include "grammar/json_schema.hpp"
#include "test_support.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;

namespace {

using tollgate::testing::cfg_of;
using tollgate::testing::llama3;
using tollgate::testing::maskbench_docs;

// A freshly built grammar (not the Compiler's shared one) with the given cache budgets (0: default).
CompiledGrammarPtr build(std::string_view text, std::string_view dialect, size_t cache_budget = 0,
                         size_t mask_cache_budget = 0) {
  auto impl = engine::build_cfg_grammar(grammar::parse_grammar(text, dialect, "test"), llama3());
  if (cache_budget) impl->cache_budget = cache_budget;
  if (mask_cache_budget) impl->mask_cache_budget = mask_cache_budget;
  return std::make_shared<const CompiledGrammar>(std::move(impl));
}

struct Replay {
  int steps = 0, mismatches = 0;
  size_t max_cache_bytes = 0;
};

// Feeds the documents' tokens through the parser states of `g`, comparing fill_mask with
// fill_mask_slow at every state and recording the largest cache size seen.
Replay replay_docs(const CompiledGrammarPtr& g, const std::vector<std::vector<int32_t>>& docs, bool check) {
  const engine::CfgGrammar& impl = cfg_of(g);
  const TokenizerInfo& tok = *llama3();
  std::vector<uint32_t> fast(bitmask_words(tok.vocab_size())), slow(fast.size());
  Replay r;
  for (const auto& doc : docs) {
    fsm::ParserState st = impl.rt->initial();
    for (int32_t id : doc) {
      impl.fill_mask(st, fast.data());
      if (check) {
        impl.fill_mask_slow(st, slow.data());
        if (fast != slow && ++r.mismatches <= 3) UNSCOPED_INFO("mismatch at step " << r.steps);
      }
      ++r.steps;
      r.max_cache_bytes = std::max(r.max_cache_bytes, impl.cache_bytes());
      if (!impl.rt->feed(st, tok.token_bytes(id))) break;
    }
  }
  return r;
}

}  // namespace

TEST_CASE("cfg caches: a tiny budget keeps JSON masks exact and the caches bounded", "[cfg][cache][oracle]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  auto docs = maskbench_docs(mb, 40);
  REQUIRE(docs.size() == 40);
  // What the replay caches without a limit, then the same replay with a sixteenth of that.
  auto free = build(grammar::builtin_json_gbnf(), "gbnf");
  Replay unbounded = replay_docs(free, docs, false);
  size_t need = cfg_of(free).cache_bytes();
  CHECK(cfg_of(free).num_cache_clears() == 0);
  INFO(unbounded.steps << " steps, " << need << " bytes cached");
  REQUIRE(need > (size_t(16) << 10));
  size_t budget = need / 16;
  auto tight = build(grammar::builtin_json_gbnf(), "gbnf", budget, size_t(48) << 10);
  const engine::CfgGrammar& impl = cfg_of(tight);
  Replay r = replay_docs(tight, docs, true);
  CHECK(r.steps == unbounded.steps);
  CHECK(r.steps >= 1000);
  CHECK(r.mismatches == 0);
  CHECK(impl.num_cache_clears() >= 4);
  CHECK(r.max_cache_bytes <= budget);
  CHECK(r.max_cache_bytes > 0);
  CHECK(impl.cache_bytes() <= budget);
  CHECK(impl.mask_cache_bytes() <= (size_t(48) << 10));
  // The rest of the grammar (Earley graph, walk DFA) is what both hold alike.
  CHECK(tight->memory_bytes() + (need - budget) <= free->memory_bytes() + (size_t(1) << 20));
  // A second replay over the cleared-and-refilled caches is still exact.
  Replay again = replay_docs(tight, docs, true);
  CHECK(again.mismatches == 0);
  WARN("JSON with a cache budget of " << budget << " bytes (unbounded: " << need << "): " << r.steps + again.steps
                                      << " masks equal to the trie walk, " << impl.num_cache_clears() << " clears");
}

// Lark (leftmost-first lexing): guard sets are cached too. Seeded random walks, budget tiny.
TEST_CASE("cfg caches: a tiny budget keeps Lark masks (guards) exact", "[cfg][cache][oracle][lark]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  auto sql = tollgate::testing::read_file(std::filesystem::path(TOLLGATE_SOURCE_DIR) / "tests/data/lark/sql.lark");
  auto g = build(sql, "lark", size_t(32) << 10, size_t(32) << 10);
  const engine::CfgGrammar& impl = cfg_of(g);
  const TokenizerInfo& tok = *llama3();
  std::vector<uint32_t> fast(bitmask_words(tok.vocab_size())), slow(fast.size());
  std::mt19937 rng(7);
  int steps = 0, mismatches = 0, guarded = 0;
  size_t max_bytes = 0;
  for (int walk = 0; walk < 8; ++walk) {
    fsm::ParserState st = impl.rt->initial();
    for (int step = 0; step < 40; ++step) {
      impl.fill_mask(st, fast.data());
      impl.fill_mask_slow(st, slow.data());
      ++steps;
      for (auto& t : st.threads) guarded += t.guard != 0;
      max_bytes = std::max(max_bytes, impl.cache_bytes());
      if (fast != slow) ++mismatches;
      std::vector<int32_t> allowed;
      for (int32_t id = 0; id < tok.vocab_size(); ++id)
        if ((slow[id >> 5] >> (id & 31)) & 1) allowed.push_back(id);
      if (allowed.empty()) break;
      REQUIRE(impl.rt->feed(st, tok.token_bytes(allowed[rng() % allowed.size()])));
    }
  }
  CHECK(mismatches == 0);
  CHECK(steps >= 200);
  CHECK(guarded > 0);
  CHECK(impl.num_cache_clears() >= 2);
  CHECK(max_bytes <= (size_t(32) << 10));
  WARN("sql.lark with a 32 KiB cache budget: " << steps << " masks, " << impl.num_cache_clears() << " clears");
}

TEST_CASE("cfg caches: two threads share a grammar whose caches keep being cleared", "[cfg][cache][threads]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  auto docs = maskbench_docs(mb, 16);
  REQUIRE(docs.size() == 16);
  const TokenizerInfo& tok = *llama3();
  const size_t words = bitmask_words(tok.vocab_size());
  // Single-threaded reference masks from a grammar with default budgets: masks[doc][step].
  auto reference = build(grammar::builtin_json_gbnf(), "gbnf");
  std::vector<std::vector<std::vector<int32_t>>> expect(docs.size());
  for (size_t d = 0; d < docs.size(); ++d) {
    Matcher m(reference);
    for (int32_t id : docs[d]) {
      expect[d].emplace_back(words);
      m.fill_next_token_bitmask(expect[d].back().data());
      REQUIRE(m.accept_token(id));
    }
  }
  // An eighth of what the documents cache.
  const size_t budget = cfg_of(reference).cache_bytes() / 8;
  REQUIRE(budget >= 1024);  // room for a few entries
  auto shared = build(grammar::builtin_json_gbnf(), "gbnf", budget, size_t(32) << 10);
  std::atomic<int> mismatches{0}, refused{0}, masks{0};
  auto run = [&](int which) {
    std::vector<int32_t> mask(words);
    for (int round = 0; round < 3; ++round)
      for (size_t k = 0; k < docs.size(); ++k) {
        size_t d = which == 0 ? k : docs.size() - 1 - k;  // the threads meet in different places
        Matcher m(shared);
        for (size_t s = 0; s < docs[d].size(); ++s) {
          m.fill_next_token_bitmask(mask.data());
          ++masks;
          if (mask != expect[d][s]) ++mismatches;
          if (!m.accept_token(docs[d][s])) {
            ++refused;
            break;
          }
        }
      }
  };
  std::thread a(run, 0), b(run, 1);
  a.join();
  b.join();
  int total = 0;
  for (auto& e : expect) total += static_cast<int>(e.size());
  CHECK(masks.load() == 2 * 3 * total);
  CHECK(mismatches.load() == 0);
  CHECK(refused.load() == 0);
  CHECK(cfg_of(shared).num_cache_clears() >= 4);
  CHECK(cfg_of(shared).cache_bytes() <= budget);
  WARN("two threads: " << masks.load() << " masks equal to the single-threaded ones, "
                       << cfg_of(shared).num_cache_clears() << " cache clears");
}

// Two threads walk one Lark grammar (guards interned and stepped concurrently, guard masks
// cached and cleared) along token sequences recorded single-threaded; every mask must equal the
// single-threaded one. Run under ThreadSanitizer as well (see docs/design.md).
TEST_CASE("cfg caches: two threads share a Lark grammar (guards) whose caches keep being cleared",
          "[cfg][cache][threads][lark]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  const TokenizerInfo& tok = *llama3();
  const size_t words = bitmask_words(tok.vocab_size());
  std::string text = tollgate::testing::read_file(std::filesystem::path(TOLLGATE_SOURCE_DIR) / "tests/data/lark/sql.lark");
  // Reference: seeded walks on a grammar of its own, single-threaded.
  auto reference = build(text, "lark");
  std::vector<std::vector<int32_t>> walks;
  std::vector<std::vector<std::vector<int32_t>>> expect;
  std::mt19937 rng(5);
  for (int w = 0; w < 6; ++w) {
    Matcher m(reference);
    walks.emplace_back();
    expect.emplace_back();
    for (int s = 0; s < 30; ++s) {
      std::vector<int32_t> mask(words);
      m.fill_next_token_bitmask(mask.data());
      std::vector<int32_t> allowed;
      for (int32_t id = 0; id < tok.vocab_size(); ++id)
        if (((mask[id >> 5] >> (id & 31)) & 1) && !tok.is_eos(id)) allowed.push_back(id);
      expect.back().push_back(std::move(mask));
      if (allowed.empty()) break;
      int32_t id = allowed[rng() % allowed.size()];
      walks.back().push_back(id);
      REQUIRE(m.accept_token(id));
    }
  }
  auto shared = build(text, "lark", size_t(16) << 10, size_t(32) << 10);
  std::atomic<int> mismatches{0}, masks{0};
  auto run = [&](int which) {
    std::vector<int32_t> mask(words);
    for (int round = 0; round < 2; ++round)
      for (size_t k = 0; k < walks.size(); ++k) {
        size_t w = which == 0 ? k : walks.size() - 1 - k;
        Matcher m(shared);
        for (size_t s = 0; s < expect[w].size(); ++s) {
          m.fill_next_token_bitmask(mask.data());
          ++masks;
          if (mask != expect[w][s]) ++mismatches;
          if (s < walks[w].size() && !m.accept_token(walks[w][s])) break;
        }
      }
  };
  std::thread a(run, 0), b(run, 1);
  a.join();
  b.join();
  int total = 0;
  for (auto& e : expect) total += static_cast<int>(e.size());
  CHECK(masks.load() == 2 * 2 * total);
  CHECK(mismatches.load() == 0);
  CHECK(cfg_of(shared).num_cache_clears() >= 2);
  WARN("two threads, sql.lark: " << masks.load() << " masks equal to the single-threaded ones, "
                                 << cfg_of(shared).num_cache_clears() << " cache clears");
}

// The lazy token index (entries computed on first use, shared between states with the same
// future and, through the Compiler's IndexCache, between grammars) gives the masks of the eager,
// unshared index along a MaskBench replay, with two threads computing entries of one grammar at
// once; a second compile from the same Compiler takes entries from its IndexCache. Run under
// ThreadSanitizer as well.
TEST_CASE("cfg lazy index: masks equal the eager index's, two threads sharing the grammar", "[cfg][cache][threads]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(file, "corpora/maskbench-dev/Github_medium---o25805.json");
  auto j = nlohmann::json::parse(tollgate::testing::read_file(file));
  const std::string schema = j["schema"].dump();
  std::vector<std::vector<int32_t>> docs;
  for (auto& t : j["tests"])
    if (t.contains("tokens_llama3")) docs.push_back(t["tokens_llama3"].get<std::vector<int32_t>>());
  REQUIRE(docs.size() >= 2);
  const TokenizerInfo& tok = *llama3();
  const size_t words = bitmask_words(tok.vocab_size());

  // Reference: every entry computed at build time, for its own state.
  engine::CfgBuildOptions eager;
  eager.eager_index = true;
  eager.share_states = false;
  eager.threads = 2;
  auto ref_impl = engine::build_cfg_grammar(grammar::json_schema_to_grammar(schema, {}, "o25805"), llama3(), eager);
  const size_t all_states = ref_impl->num_index_entries();
  CompiledGrammarPtr reference = std::make_shared<const CompiledGrammar>(std::move(ref_impl));
  // masks[doc][step], the mask after the last token accepted included (an invalid document ends
  // where the grammar refuses a token).
  std::vector<std::vector<std::vector<int32_t>>> expect(docs.size());
  int refusals = 0;
  for (size_t d = 0; d < docs.size(); ++d) {
    Matcher m(reference);
    bool refused = false;
    for (int32_t id : docs[d]) {
      expect[d].emplace_back(words);
      m.fill_next_token_bitmask(expect[d].back().data());
      if (!m.accept_token(id)) {
        refused = true;
        ++refusals;
        break;
      }
    }
    if (!refused) {
      expect[d].emplace_back(words);
      m.fill_next_token_bitmask(expect[d].back().data());
    }
  }
  REQUIRE(refusals < static_cast<int>(docs.size()));

  CompileOptions no_grammar_cache;  // a second compile must compile again, not return the cached grammar
  no_grammar_cache.grammar_cache_bytes = 0;
  Compiler compiler(llama3(), no_grammar_cache);
  auto replay = [&](const CompiledGrammarPtr& g, size_t d, int& mismatches) {
    std::vector<int32_t> mask(words);
    Matcher m(g);
    for (size_t s = 0; s < expect[d].size(); ++s) {
      m.fill_next_token_bitmask(mask.data());
      if (mask != expect[d][s]) ++mismatches;
      // Accepted exactly where the reference accepted.
      if (s < docs[d].size() && m.accept_token(docs[d][s]) != (s + 1 < expect[d].size())) ++mismatches;
    }
  };
  CompiledGrammarPtr lazy = compiler.compile_json_schema(schema, {}, "o25805");
  std::atomic<int> mismatches{0};
  auto run = [&](int which) {
    int mine = 0;
    for (size_t k = 0; k < docs.size(); ++k) replay(lazy, which == 0 ? k : docs.size() - 1 - k, mine);
    mismatches += mine;
  };
  std::thread a(run, 0), b(run, 1);
  a.join();
  b.join();
  CHECK(mismatches.load() == 0);
  const size_t computed = cfg_of(lazy).num_index_entries();
  CHECK(computed > 0);
  CHECK(computed * 10 < all_states);  // a replay touches few states
  // The brute-force oracle on the lazily indexed grammar along the first document.
  {
    Matcher m(lazy);
    int oracle = 0;
    for (size_t s = 0; s < docs[0].size() && s < 24; ++s) {
      oracle += tollgate::testing::mask_oracle_mismatches(m);
      if (!m.accept_token(docs[0][s])) break;
    }
    CHECK(oracle == 0);
  }
  // Compiled again by the same Compiler: entries come from its IndexCache.
  CompiledGrammarPtr again = compiler.compile_json_schema(schema, {}, "o25805");
  int mm = 0;
  for (size_t d = 0; d < docs.size(); ++d) replay(again, d, mm);
  CHECK(mm == 0);
  CHECK(cfg_of(again).num_index_shared() > 0);
  WARN("lazy index: " << computed << " of " << all_states << " entries computed; second compile took "
                      << cfg_of(again).num_index_shared() << " shared entries");
}

// Matcher::try_fill_next_token_bitmask_cached (what the Python bindings fill with the GIL held): on
// a fresh grammar it declines the masks that need computing and writes nothing then; after one
// replay has computed them it serves every mask of the same replay again, equal to
// fill_next_token_bitmask's. The length budget's filter computes, so it declines under a budget; a
// regular grammar's index is computed at compile time, so it never declines there.
TEST_CASE("cfg caches: try_fill_next_token_bitmask_cached serves computed masks only", "[cfg][cache][matcher]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  auto docs = maskbench_docs(mb, 6);
  auto g = build(grammar::builtin_json_gbnf(), "gbnf");
  const int32_t words = bitmask_words(llama3()->vocab_size());
  static constexpr int32_t kUntouched = 0x5A5A5A5A;
  struct Pass {
    int steps = 0, served = 0, declined_untouched = 0, mismatches = 0;
  };
  auto replay = [&](const CompiledGrammarPtr& grammar, const std::vector<int32_t>& doc, Pass& pass) {
    Matcher m(grammar);
    std::vector<int32_t> cached(words), full(words);
    for (int32_t id : doc) {
      std::fill(cached.begin(), cached.end(), kUntouched);
      const bool served = m.try_fill_next_token_bitmask_cached(cached.data());
      m.fill_next_token_bitmask(full.data());
      ++pass.steps;
      if (served) {
        ++pass.served;
        pass.mismatches += cached != full;
      } else {
        pass.declined_untouched += std::all_of(cached.begin(), cached.end(), [](int32_t w) { return w == kUntouched; });
      }
      if (!m.accept_token(id)) break;
    }
  };
  Pass first, second;
  for (const auto& doc : docs) replay(g, doc, first);
  for (const auto& doc : docs) replay(g, doc, second);
  CHECK(first.mismatches == 0);
  CHECK(second.mismatches == 0);
  CHECK(first.served < first.steps);  // a fresh grammar had masks to compute
  CHECK(first.declined_untouched == first.steps - first.served);
  CHECK(second.declined_untouched == second.steps - second.served);
  CHECK(second.steps == first.steps);
  CHECK(second.served >= second.steps - static_cast<int>(docs.size()));  // all but perhaps each first step
  WARN("try_fill_next_token_bitmask_cached: " << first.served << " of " << first.steps << " masks served on a fresh grammar, "
                                              << second.served << " on the replay");

  // Under a length budget: declined, untouched.
  Matcher budgeted(g);
  budgeted.set_token_budget(40);
  std::vector<int32_t> row(words, kUntouched);
  CHECK_FALSE(budgeted.try_fill_next_token_bitmask_cached(row.data()));
  CHECK(std::all_of(row.begin(), row.end(), [](int32_t w) { return w == kUntouched; }));

  // A regular grammar: served from the first step, equal to the full fill.
  Matcher date(Compiler(llama3()).compile_regex(R"(\d{4}-\d{2}-\d{2})"));
  std::vector<int32_t> full(words);
  for (std::string_view piece : {"20", "24", "-0", "1-", "31"}) {
    CHECK(date.try_fill_next_token_bitmask_cached(row.data()));
    date.fill_next_token_bitmask(full.data());
    CHECK(row == full);
    REQUIRE(date.accept_bytes(piece));
  }
}
