// Generations of the context-free back-end (issues 11 and 12; engine/cfg_backend.hpp): the Earley
// graph, guard tables and the caches keyed by their ids are leased by a matcher at reset and
// replaced once they pass CompileOptions::generation_bytes. Checked on real data: maskbench-dev
// documents through the built-in JSON grammar and through JSON Schemas, and random walks through
// a Lark grammar (leftmost-first guards), masks equal with a tiny budget (a fresh generation per
// sequence) and with the default; a generation is freed with its last matcher (forks included),
// and a matcher keeps working across the switch (rollback included); matchers on different
// generations filled from the BatchMatcher pool on 1, 2 and 4 threads; over a long run of
// sequences the generations the grammar holds stay within the budget plus one sequence's growth
// while a grammar without a budget keeps growing.
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/cfg_backend.hpp"
#include "test_support.hpp"
#include "tollgate/batch.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;
using tollgate::testing::cfg_of;
using tollgate::testing::llama3;
using tollgate::testing::mask_bit;
using tollgate::testing::mask_of;
using tollgate::testing::maskbench_docs;
namespace fs = std::filesystem;

namespace {

CompileOptions with_budget(size_t generation_bytes) {
  CompileOptions o;
  o.threads = 1;
  o.generation_bytes = generation_bytes;
  return o;
}

// Replays `tokens` through `a` and `b` side by side; the steps whose masks differ. Stops at the
// first token either refuses (both must agree).
size_t replay_mismatches(const CompiledGrammarPtr& a, const CompiledGrammarPtr& b, const std::vector<int32_t>& tokens,
                         size_t& steps) {
  Matcher ma(a), mb(b);
  size_t bad = 0;
  for (int32_t id : tokens) {
    ++steps;
    bad += mask_of(ma) != mask_of(mb);
    bool ok = ma.accept_token(id);
    CHECK(ok == mb.accept_token(id));
    if (!ok) return bad;
  }
  ++steps;
  return bad + (mask_of(ma) != mask_of(mb));
}

// A maskbench-dev file's schema and its valid tests' Llama-3 tokens.
struct SchemaCase {
  std::string schema;
  std::vector<std::vector<int32_t>> docs;
};

std::vector<SchemaCase> schema_cases(const fs::path& dir, size_t n, size_t stride) {
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<SchemaCase> out;
  for (size_t i = 0; i < files.size() && out.size() < n; i += stride) {
    auto doc = nlohmann::json::parse(tollgate::testing::read_file(files[i]));
    SchemaCase c{doc["schema"].dump(), {}};
    for (auto& t : doc["tests"])
      if (t.value("valid", false) && t.contains("tokens_llama3")) c.docs.push_back(t["tokens_llama3"].get<std::vector<int32_t>>());
    if (!c.docs.empty()) out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

TEST_CASE("generations: masks equal with a tiny generation budget and with the default", "[memory][generation]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  Compiler tiny(llama3(), with_budget(1)), defaults(llama3(), with_budget(CompileOptions{}.generation_bytes));
  size_t steps = 0, mismatches = 0, sequences = 0;
  {
    // The built-in JSON grammar: every sequence in a fresh generation.
    CompiledGrammarPtr a = tiny.builtin_json(), b = defaults.builtin_json();
    for (const auto& doc : maskbench_docs(mb, 60, 13)) {
      mismatches += replay_mismatches(a, b, doc, steps);
      ++sequences;
    }
    CHECK(cfg_of(a).num_generations() == sequences);
    CHECK(cfg_of(b).num_generations() == 1);
  }
  // JSON Schemas: each with its valid documents.
  size_t schemas = 0;
  for (const SchemaCase& c : schema_cases(mb, 8, 97)) {
    CompiledGrammarPtr a, b;
    try {
      a = tiny.compile_json_schema(c.schema);
      b = defaults.compile_json_schema(c.schema);
    } catch (const Error&) {
      continue;  // a schema the compiler refuses
    }
    ++schemas;
    for (const auto& doc : c.docs) {
      mismatches += replay_mismatches(a, b, doc, steps);
      ++sequences;
    }
    CHECK(cfg_of(a).num_generations() == c.docs.size());
  }
  CHECK(schemas >= 5);
  // A Lark grammar (leftmost-first lexing: guard tables per generation): random walks inside the
  // default grammar's mask.
  {
    CompiledGrammarPtr a = tiny.compile_grammar(
        tollgate::testing::read_file(fs::path(TOLLGATE_SOURCE_DIR) / "tests/data/lark/sql.lark"), "lark", "sql.lark");
    CompiledGrammarPtr b = defaults.compile_grammar(
        tollgate::testing::read_file(fs::path(TOLLGATE_SOURCE_DIR) / "tests/data/lark/sql.lark"), "lark", "sql.lark");
    std::mt19937_64 rng(12);
    std::vector<int32_t> allowed;
    for (int walk = 0; walk < 12; ++walk, ++sequences) {
      Matcher ma(a), mb2(b);
      for (int i = 0; i < 30 && !mb2.is_terminated(); ++i, ++steps) {
        std::vector<int32_t> want = mask_of(mb2);
        mismatches += mask_of(ma) != want;
        allowed.clear();
        for (int32_t t = 0; t < llama3()->vocab_size(); ++t)
          if (mask_bit(want, t)) allowed.push_back(t);
        if (allowed.empty()) break;
        int32_t id = allowed[rng() % allowed.size()];
        REQUIRE(ma.accept_token(id));
        REQUIRE(mb2.accept_token(id));
      }
    }
    CHECK(cfg_of(a).num_generations() == 12);
  }
  INFO(sequences << " sequences, " << steps << " masks");
  CHECK(steps > 5000);
  CHECK(mismatches == 0);
  WARN("generations: " << sequences << " sequences, " << steps << " masks equal with a fresh generation per sequence and with "
                       << "one generation");
}

TEST_CASE("generations: a generation is freed with its last matcher (forks, rollback across the switch)",
          "[memory][generation]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  auto docs = maskbench_docs(mb, 2, 29);
  REQUIRE(docs.size() == 2);
  const std::vector<int32_t>& doc = docs[0];
  REQUIRE(doc.size() > 20);
  CompiledGrammarPtr g = Compiler(llama3(), with_budget(1)).builtin_json();
  CompiledGrammarPtr ref = Compiler(llama3(), with_budget(0)).builtin_json();  // one generation for ever
  const auto& cfg = cfg_of(g);
  // The reference masks along the document.
  std::vector<std::vector<int32_t>> want;
  {
    Matcher r(ref);
    for (int32_t id : doc) {
      want.push_back(mask_of(r));
      REQUIRE(r.accept_token(id));
    }
  }
  CHECK(cfg_of(ref).num_generations() == 1);
  const size_t half = doc.size() / 2;
  auto m1 = std::make_unique<Matcher>(g);
  for (size_t i = 0; i < half; ++i) REQUIRE(m1->accept_token(doc[i]));
  auto fork = std::make_unique<Matcher>(*m1);  // shares the lease
  CHECK(cfg.num_generations() == 1);
  CHECK(cfg.num_live_generations() == 1);
  const size_t one = g->memory_bytes();

  // A new sequence: the first generation is over its (1-byte) budget, so a second starts; the
  // first stays for m1 and its fork, which keep working on it.
  auto m2 = std::make_unique<Matcher>(g);
  for (size_t i = 0; i < 5; ++i) REQUIRE(m2->accept_token(docs[1][i]));
  CHECK(cfg.num_generations() == 2);
  CHECK(cfg.num_live_generations() == 2);
  m1->rollback(5);  // back across the switch, on the first generation
  CHECK(mask_of(*m1) == want[half - 5]);
  for (size_t i = half - 5; i < doc.size(); ++i) {
    CHECK(mask_of(*m1) == want[i]);
    REQUIRE(m1->accept_token(doc[i]));
  }
  for (size_t i = half; i < doc.size(); ++i) {
    CHECK(mask_of(*fork) == want[i]);
    REQUIRE(fork->accept_token(doc[i]));
  }
  CHECK(m1->is_accepting());
  CHECK(fork->is_accepting());
  const size_t two = g->memory_bytes();
  CHECK(two > one);

  m1.reset();
  CHECK(cfg.num_live_generations() == 2);  // the fork still holds the first
  fork.reset();
  CHECK(cfg.num_live_generations() == 1);  // freed with its last matcher
  const size_t after = g->memory_bytes();
  CHECK(after < two);

  // reset() leases again: a third generation, the second freed with it (m2 held it alone).
  const size_t gen2 = cfg.earley_bytes();
  m2->reset();
  CHECK(cfg.num_generations() == 3);
  CHECK(cfg.num_live_generations() == 1);
  CHECK(cfg.earley_bytes() < gen2);
  for (size_t i = 0; i < doc.size(); ++i) {
    CHECK(mask_of(*m2) == want[i]);
    REQUIRE(m2->accept_token(doc[i]));
  }
  WARN("generations: grammar " << one << " bytes with one generation, " << two << " with two, " << after
                               << " after the first went with its last matcher");
}

TEST_CASE("generations: over many sequences the generation held stays within the budget plus one sequence's growth",
          "[memory][generation]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  auto docs = maskbench_docs(mb, 80, 11);
  REQUIRE(docs.size() >= 70);
  const size_t budget = size_t(1) << 20;
  CompiledGrammarPtr bounded = Compiler(llama3(), with_budget(budget)).builtin_json();
  CompiledGrammarPtr unbounded = Compiler(llama3(), with_budget(0)).builtin_json();
  const auto& cb = cfg_of(bounded);
  const auto& cu = cfg_of(unbounded);
  std::mt19937_64 rng(5);
  size_t max_held = 0, max_growth = 0, mismatches = 0, masks = 0;
  const size_t sequences = 160;
  for (size_t seq = 0; seq < sequences; ++seq) {
    Matcher mbnd(bounded), mu(unbounded);
    const size_t start = cb.generations_bytes();
    // Documents, and random walks inside the mask (they nest deeper: new parse contexts).
    const bool walk = seq % 2 == 1;
    const std::vector<int32_t>& doc = docs[(seq / 2) % docs.size()];
    for (size_t i = 0; walk ? i < 40 : i < doc.size(); ++i) {
      std::vector<int32_t> want = mask_of(mu);
      if (i % 4 == 0) {
        mismatches += mask_of(mbnd) != want;
        ++masks;
      }
      int32_t id = doc[i % doc.size()];
      if (walk) {
        // A uniform pick among the allowed tokens: the k-th set bit (EOS ends no walk here).
        for (int32_t eos : llama3()->eos_ids()) want[eos >> 5] &= ~(1 << (eos & 31));
        size_t count = 0;
        for (int32_t w : want) count += static_cast<size_t>(__builtin_popcount(static_cast<uint32_t>(w)));
        if (count == 0) break;
        size_t k = rng() % count;
        id = -1;
        for (size_t w = 0; id < 0; ++w) {
          uint32_t bits = static_cast<uint32_t>(want[w]);
          const size_t c = static_cast<size_t>(__builtin_popcount(bits));
          if (k >= c) {
            k -= c;
            continue;
          }
          for (; k > 0; --k) bits &= bits - 1;
          id = static_cast<int32_t>(w * 32) + __builtin_ctz(bits);
        }
      }
      REQUIRE(mbnd.accept_token(id));
      REQUIRE(mu.accept_token(id));
    }
    // One sequence at a time: the bounded grammar holds one generation (graph, guard tables,
    // caches), which was within the budget when this sequence leased it.
    CHECK(cb.num_live_generations() == 1);
    CHECK(start <= budget);
    max_growth = std::max(max_growth, cb.generations_bytes() - start);
    max_held = std::max(max_held, cb.generations_bytes());
  }
  INFO("generations " << cb.num_generations() << ", held at most " << max_held << " bytes, one sequence added at most "
                      << max_growth << "; without a budget " << cu.generations_bytes());
  CHECK(mismatches == 0);
  CHECK(masks > 1500);
  CHECK(cb.num_generations() >= 3);
  CHECK(max_held <= budget + max_growth);
  CHECK(max_growth < budget);
  CHECK(cu.generations_bytes() > 2 * budget);  // without a budget the generation only grows
  WARN("generations: " << sequences << " sequences with a " << (budget >> 20) << " MiB budget: " << cb.num_generations()
                       << " generations, the generation held at most " << max_held << " bytes (one sequence added at most "
                       << max_growth << "); without a budget it reached " << cu.generations_bytes());
}

TEST_CASE("generations: matchers on different generations filled from the BatchMatcher pool, 1, 2 and 4 threads",
          "[batch][generation]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  auto docs = maskbench_docs(mb, 12, 17);
  REQUIRE(docs.size() == 12);
  const int32_t words = bitmask_words(llama3()->vocab_size());
  // The reference: each document alone, one generation, one thread.
  CompiledGrammarPtr ref = Compiler(llama3(), with_budget(0)).builtin_json();
  std::vector<std::vector<std::vector<int32_t>>> want(docs.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    Matcher m(ref);
    for (int32_t id : docs[i]) {
      want[i].push_back(mask_of(m));
      REQUIRE(m.accept_token(id));
    }
    want[i].push_back(mask_of(m));
  }
  for (int threads : {1, 2, 4}) {
    // Budget 1 byte: each matcher leases its own generation; cold caches race across threads.
    CompiledGrammarPtr g = Compiler(llama3(), with_budget(1)).builtin_json();
    BatchMatcher batch(threads);
    std::vector<Matcher> ms;
    for (size_t i = 0; i < docs.size(); ++i) ms.emplace_back(g);
    CHECK(cfg_of(g).num_live_generations() == docs.size());
    std::vector<const Matcher*> ptrs;
    for (auto& m : ms) ptrs.push_back(&m);
    std::vector<int32_t> bitmask(docs.size() * words);
    size_t longest = 0, bad = 0;
    for (auto& d : docs) longest = std::max(longest, d.size());
    for (size_t step = 0; step <= longest; ++step) {
      batch.fill_next_token_bitmask(ptrs, bitmask.data());
      std::vector<Matcher*> live;
      std::vector<int32_t> tokens;
      for (size_t i = 0; i < docs.size(); ++i) {
        if (step > docs[i].size()) continue;
        bad += !std::equal(want[i][step].begin(), want[i][step].end(), bitmask.begin() + i * words);
        if (step < docs[i].size()) {
          live.push_back(&ms[i]);
          tokens.push_back(docs[i][step]);
        }
      }
      std::vector<uint8_t> acc(live.size());
      batch.accept_tokens(live, tokens, acc);
      CHECK(std::count(acc.begin(), acc.end(), 1) == static_cast<long>(acc.size()));
    }
    INFO(threads << " threads");
    CHECK(bad == 0);
  }
}
