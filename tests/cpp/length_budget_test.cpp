// The length budget (Matcher::set_token_budget) on real data with Llama-3: regexes, the GBNF corpus,
// the Lark test grammars and maskbench-dev schemas. Oracles, at states along random walks and
// corpus documents:
//  - shortest_completion_bytes() against the matcher's own step function: 0 exactly when accepting,
//    otherwise 1 + the least over the 256 bytes that it accepts (Bellman's equation, by brute force);
//  - the budgeted mask against "fork, accept the token, shortest completion <= budget - 1" for every
//    allowed token (sampled on dense masks), at tight budgets; never empty while the budget holds;
//  - accept/rollback/fork/reset keep the count.
// Then generate() with a small random RetNet and small max_tokens: every output is a complete match.
// Last, Matcher::jump_forward_tokens: after its rollback and ids the matcher is where the forced
// bytes put it, along maskbench-dev documents (compact and flexible whitespace) and at a merge.
#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <random>

#include "tollgate/encoder.hpp"
#include "tollgate/generate.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;
namespace fs = std::filesystem;

namespace {

int64_t shortest(const Matcher& m) { return m.shortest_completion_bytes(); }

// Bellman's equation for shortest_completion_bytes at m's state, by brute force over the bytes.
void check_shortest(const Matcher& m) {
  const int64_t c = shortest(m);
  REQUIRE(c >= 0);
  if (m.is_accepting()) {
    REQUIRE(c == 0);
    return;
  }
  int64_t best = -1;
  for (int x = 0; x < 256; ++x) {
    Matcher f = m.fork();
    const char byte = static_cast<char>(x);
    if (!f.accept_bytes(std::string_view(&byte, 1))) continue;
    const int64_t after = shortest(f);
    REQUIRE(after >= 0);  // every live state completes
    if (best < 0 || after + 1 < best) best = after + 1;
  }
  REQUIRE(c == best);
}

// The budgeted mask at m's state with `budget` tokens left against the per-token oracle.
// Returns the tokens checked.
int check_mask(const Matcher& m, int budget, std::mt19937& rng) {
  const TokenizerInfo& tok = m.grammar().tokenizer();
  std::vector<int32_t> plain = testing::mask_of(m);
  Matcher b = m.fork();
  b.set_token_budget(budget);
  std::vector<int32_t> budgeted = testing::mask_of(b);
  std::vector<int32_t> allowed;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (testing::mask_bit(budgeted, id)) REQUIRE(testing::mask_bit(plain, id));  // a subset
    if (testing::mask_bit(plain, id)) allowed.push_back(id);
  }
  const int64_t c = shortest(m);
  bool any = false;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) any = any || testing::mask_bit(budgeted, id);
  if (c >= 0 && c <= budget) REQUIRE(any);  // a byte token on a shortest completion is always left
  // Dense masks: a sample, plus every token the budget removed.
  const size_t kMax = 1500;
  std::vector<int32_t> check;
  if (allowed.size() <= kMax) {
    check = allowed;
  } else {
    std::sample(allowed.begin(), allowed.end(), std::back_inserter(check), kMax, rng);
    for (int32_t id : allowed)
      if (!testing::mask_bit(budgeted, id)) check.push_back(id);
  }
  const int64_t room = std::max<int64_t>(budget, c) - 1;  // below the shortest: as the shortest
  for (int32_t id : check) {
    bool expect;
    if (tok.is_eos(id)) {
      expect = budget >= 0;  // EOS stays as it was
    } else {
      Matcher f = m.fork();
      REQUIRE(f.accept_token(id));
      expect = shortest(f) <= room;
    }
    INFO("token " << id << " '" << tok.token_bytes(id) << "' budget " << budget << " shortest " << c);
    REQUIRE(testing::mask_bit(budgeted, id) == expect);
  }
  return static_cast<int>(check.size());
}

// Random walk of `steps` tokens from the start, checking every state; the walk takes tokens of
// the budgeted mask with a budget of `walk_budget`, so it ends complete.
int walk_and_check(const CompiledGrammarPtr& g, int steps, int walk_budget, uint32_t seed) {
  std::mt19937 rng(seed);
  Matcher m(g);
  m.set_token_budget(walk_budget);
  int checked = 0;
  for (int i = 0; i < steps; ++i) {
    Matcher plain = m.fork();
    plain.set_token_budget(-1);
    check_shortest(plain);
    const int64_t c = shortest(plain);
    for (int extra : {0, 1, 3}) checked += check_mask(plain, static_cast<int>(c) + extra, rng);
    std::vector<int32_t> mask = testing::mask_of(m);
    std::vector<int32_t> ids;
    for (int32_t id = 0; id < g->tokenizer().vocab_size(); ++id)
      if (testing::mask_bit(mask, id) && !g->tokenizer().is_eos(id)) ids.push_back(id);
    if (ids.empty()) break;
    REQUIRE(m.accept_token(ids[std::uniform_int_distribution<size_t>(0, ids.size() - 1)(rng)]));
  }
  return checked;
}

CompileOptions one_thread() {
  CompileOptions o;
  o.threads = 1;
  return o;
}

// maskbench-dev schemas (files first, first + stride, ...) that compile, each with its first valid
// Llama-3 document of at least min_tokens tokens that the grammar accepts whole (a document in
// another property order is no walk); at most `count` of them.
struct SchemaDoc {
  fs::path file;
  CompiledGrammarPtr g;
  std::vector<int32_t> tokens;
};
std::vector<SchemaDoc> schema_docs(Compiler& c, const fs::path& mb, size_t first, size_t stride, size_t count,
                                   size_t min_tokens) {
  const std::vector<fs::path> files = testing::maskbench_files(mb);
  std::vector<SchemaDoc> out;
  for (size_t i = first; i < files.size() && out.size() < count; i += stride) {
    std::string schema;
    std::vector<int32_t> tokens = testing::first_valid_tokens(testing::read_file(files[i]), &schema);
    if (tokens.empty() || tokens.size() < min_tokens) continue;
    CompiledGrammarPtr g;
    try {
      g = c.compile_json_schema(schema);
    } catch (const Error&) {
      continue;  // a schema the compiler refuses
    }
    Matcher probe(g);
    bool all = true;
    for (int32_t id : tokens) all = all && probe.accept_token(id);
    if (!all || !probe.is_accepting()) continue;
    out.push_back({files[i], std::move(g), std::move(tokens)});
  }
  return out;
}

}  // namespace

TEST_CASE("length budget: regexes (Llama-3)", "[budget]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  Compiler c(testing::llama3(), one_thread());
  int checked = 0;
  for (const char* re : {R"([a-z]{3,8}@example\.(com|org))", R"(\d{3}-\d{4}( ext\. \d{1,5})?)",
                         R"(\{"name": "[^"]{0,20}", "age": (0|[1-9]\d{0,2})\})", R"((ab|cde)*fgh)"}) {
    INFO(re);
    checked += walk_and_check(c.compile_regex(re), 10, 40, 1);
  }
  CHECK(checked > 1000);
}

TEST_CASE("length budget: the GBNF corpus (Llama-3)", "[budget]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(dir, "corpora/gbnf");
  Compiler c(testing::llama3(), one_thread());
  int grammars = 0, checked = 0;
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".gbnf") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    INFO(f.filename().string());
    CompiledGrammarPtr g = c.compile_grammar(testing::read_file(f), "gbnf", f.filename().string());
    checked += walk_and_check(g, 6, 60, 2);
    ++grammars;
  }
  CHECK(grammars >= 8);
  CHECK(checked > 1000);
}

TEST_CASE("length budget: the Lark test grammars (Llama-3)", "[budget]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  Compiler c(testing::llama3(), one_thread());
  int grammars = 0;
  for (auto& e : fs::directory_iterator(fs::path(TOLLGATE_SOURCE_DIR) / "tests/data/lark")) {
    if (e.path().extension() != ".lark") continue;
    INFO(e.path().filename().string());
    CompiledGrammarPtr g = c.compile_grammar(testing::read_file(e.path()), "lark", e.path().filename().string());
    walk_and_check(g, 5, 60, 3);
    ++grammars;
  }
  CHECK(grammars >= 5);
}

TEST_CASE("length budget: maskbench-dev schemas along their valid documents (Llama-3)", "[budget]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  Compiler c(testing::llama3(), one_thread());
  std::mt19937 rng(4);
  int schemas = 0, states = 0;
  for (const SchemaDoc& d : schema_docs(c, mb, 0, 37, 6, 1)) {
    const CompiledGrammarPtr& g = d.g;
    const std::vector<int32_t>& tokens = d.tokens;
    INFO(d.file.filename().string());
    ++schemas;
    Matcher m(g);
    // Every few tokens of the document: the oracles. The walk's budget is the document's length in
    // bytes (a byte bounds a token), so its own tokens stay allowed all along.
    std::string text;
    for (int32_t id : tokens) text += g->tokenizer().token_bytes(id);
    Matcher budgeted(g);
    budgeted.set_token_budget(static_cast<int>(text.size()));
    for (size_t k = 0; k < tokens.size(); ++k) {
      if (k % 5 == 0) {
        check_shortest(m);
        check_mask(m, static_cast<int>(shortest(m)) + 1, rng);
        ++states;
      }
      REQUIRE(testing::mask_bit(testing::mask_of(budgeted), tokens[k]));
      REQUIRE(m.accept_token(tokens[k]));
      REQUIRE(budgeted.accept_token(tokens[k]));
    }
    CHECK(budgeted.token_budget() == static_cast<int>(text.size() - tokens.size()));
    CHECK(m.is_accepting());
  }
  CHECK(schemas >= 4);
  CHECK(states > 20);
}

TEST_CASE("length budget: accept, rollback, fork, reset and drafts keep the count", "[budget]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  Compiler c(testing::llama3(), one_thread());
  auto g = c.compile_grammar(R"(root ::= "[" [0-9]+ ("," [0-9]+)* "]")", "gbnf");
  const TokenizerInfo& tok = g->tokenizer();
  Matcher m(g);
  CHECK(m.token_budget() == -1);
  CHECK(m.shortest_completion_bytes() == 3);  // "[0]"
  m.set_token_budget(5);
  Encoder enc((*testing::data_dir() / "tokenizers/llama3/tokenizer.json").string());
  std::vector<int32_t> ids = enc.encode("[12,3");
  for (int32_t id : ids) REQUIRE(m.accept_token(id));
  CHECK(m.token_budget() == 5 - static_cast<int>(ids.size()));
  REQUIRE(m.accept_bytes("4"));  // bytes do not count
  CHECK(m.token_budget() == 5 - static_cast<int>(ids.size()));
  Matcher f = m.fork();
  m.rollback(2);  // "4" and the last token
  CHECK(m.token_budget() == 5 - static_cast<int>(ids.size()) + 1);
  CHECK(f.token_budget() == 5 - static_cast<int>(ids.size()));
  // With one token left only a closing token that ends the list is allowed, then only EOS.
  Matcher one = f.fork();
  one.set_token_budget(1);
  std::vector<int32_t> mask = testing::mask_of(one);
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (!testing::mask_bit(mask, id)) continue;
    Matcher x = one.fork();
    REQUIRE(x.accept_token(id));
    CHECK(x.is_accepting());
  }
  REQUIRE(one.accept_token(enc.encode("]")[0]));
  CHECK(one.token_budget() == 0);
  mask = testing::mask_of(one);
  for (int32_t id = 0; id < tok.vocab_size(); ++id) CHECK(testing::mask_bit(mask, id) == tok.is_eos(id));
  one.reset();
  CHECK(one.token_budget() == 1);
  // Draft masks count the draft's tokens: after "[" with 2 tokens left, only a digit token that
  // leaves room for "]" ... and after it only "]".
  Matcher d(g);
  d.set_token_budget(3);
  std::vector<int32_t> draft = enc.encode("[7");
  std::vector<int32_t> rows((draft.size() + 1) * bitmask_words(tok.vocab_size()));
  REQUIRE(d.fill_next_token_bitmask_draft(draft, rows.data()) == static_cast<int>(draft.size()));
  Matcher e(g);
  e.set_token_budget(3);
  for (int32_t id : draft) REQUIRE(e.accept_token(id));
  std::vector<int32_t> last(rows.end() - bitmask_words(tok.vocab_size()), rows.end());
  CHECK(last == testing::mask_of(e));
  CHECK(d.token_budget() == 3);  // the draft left the state alone
}

TEST_CASE("length budget: generate() with small max_tokens ends complete", "[budget][generate]") {
  Encoder enc((fs::path(TOLLGATE_SOURCE_DIR) / "models/retnet/tokenizer.json").string());
  RetNet model(RetNetConfig{.vocab_size = 4096, .d_model = 32, .n_layers = 2, .n_heads = 2, .d_ffn = 48}, 21);
  Compiler c(enc.tokenizer_ptr(), one_thread());
  struct Case {
    CompiledGrammarPtr g;
    std::string name;
  };
  std::vector<Case> cases;
  cases.push_back({c.compile_regex(R"([a-z]{3,30}@example\.(com|org))"), "regex"});
  cases.push_back({c.builtin_json(), "json"});
  cases.push_back({c.compile_grammar(testing::read_file(fs::path(TOLLGATE_SOURCE_DIR) / "tests/data/lark/json.lark"),
                                     "lark", "json.lark"),
                   "json.lark"});
  cases.push_back({c.compile_grammar(R"g(root ::= "(" expr ")"
expr ::= [a-z]+ | expr "+" expr)g", "gbnf"),
                   "gbnf"});
  cases.push_back({c.compile_json_schema(R"({"type":"object","properties":{"name":{"type":"string"},
      "tags":{"type":"array","items":{"type":"string"}}},"required":["name","tags"]})"),
                   "schema"});
  int runs = 0, stopped_by_budget = 0;
  for (const Case& k : cases) {
    INFO(k.name);
    const int64_t shortest_bytes = Matcher(k.g).shortest_completion_bytes();
    REQUIRE(shortest_bytes > 0);
    for (int extra : {0, 2, 8}) {
      for (uint64_t seed = 0; seed < 4; ++seed) {
        GenerateOptions opt{.max_tokens = static_cast<int>(shortest_bytes) + extra, .temperature = 1.0f, .seed = seed};
        GenerateResult r = generate(model, enc, k.g, "", opt);
        INFO("seed " << seed << " max_tokens " << opt.max_tokens << ": " << r.text << " (" << r.stop_reason << ")");
        CHECK(r.grammar_accepting);
        CHECK(r.stop_reason != "no_allowed_token");
        CHECK(r.stats.tokens <= opt.max_tokens);
        stopped_by_budget += r.stop_reason == "max_tokens";
        ++runs;
      }
    }
    GenerateOptions tiny{.max_tokens = static_cast<int>(shortest_bytes) - 1};
    GenerateResult r = generate(model, enc, k.g, "", tiny);
    CHECK(r.stop_reason == "budget_too_small");
    CHECK(r.shortest_bytes == shortest_bytes);
    CHECK(r.token_ids.empty());
  }
  CHECK(runs == 60);
  CHECK(stopped_by_budget > 0);  // some runs were cut by max_tokens and still complete
}

// ---- Jump-forward tokens (Matcher::jump_forward_tokens) on Llama-3 -----------------------------

namespace {
// After rollback and the ids, the matcher is where accepting the forced bytes puts it.
void check_jump(const Matcher& m, const Encoder& enc, int max_rollback, int& rolled) {
  const std::string forced = m.jump_forward();
  JumpForwardTokens jf = m.jump_forward_tokens(enc, max_rollback);
  if (forced.empty()) {
    REQUIRE(jf.tokens.empty());
    return;
  }
  REQUIRE(!jf.tokens.empty());
  REQUIRE(jf.rollback <= max_rollback);
  rolled += jf.rollback > 0;
  Matcher a = m.fork(), b = m.fork();
  a.rollback(jf.rollback);
  for (int32_t id : jf.tokens) REQUIRE(a.accept_token(id));
  REQUIRE(b.accept_bytes(forced));
  CHECK(testing::mask_of(a) == testing::mask_of(b));
  CHECK(a.is_accepting() == b.is_accepting());
  CHECK(a.jump_forward() == b.jump_forward());
}
}  // namespace

TEST_CASE("jump_forward_tokens: the ids carry the forced bytes, re-encoded across the boundary", "[jump-forward]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  Compiler c(testing::llama3(), one_thread());
  Encoder enc(testing::llama3());
  // A forced tail that merges with the sampled token: "hel" then "lo world" is "hello world".
  {
    auto g = c.compile_regex("hello world[0-9]");
    Matcher m(g);
    std::vector<int32_t> hel = enc.encode("hel");
    REQUIRE(hel.size() == 1);
    REQUIRE(m.accept_token(hel[0]));
    REQUIRE(m.jump_forward() == "lo world");
    JumpForwardTokens plain = m.jump_forward_tokens(enc, 0);
    CHECK(plain.rollback == 0);
    CHECK(enc.decode(plain.tokens) == "lo world");
    JumpForwardTokens jf = m.jump_forward_tokens(enc, 4);
    CHECK(jf.rollback == 1);
    CHECK(jf.tokens == enc.encode("hello world"));
    int rolled = 0;
    check_jump(m, enc, 4, rolled);
    CHECK(rolled == 1);
    // accept_bytes breaks the window: only tokens accepted since are re-encoded.
    Matcher n(g);
    REQUIRE(n.accept_bytes("hel"));
    CHECK(n.jump_forward_tokens(enc, 4).rollback == 0);
  }
  // Along maskbench-dev documents, compact and flexible whitespace.
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(mb))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  int steps = 0, rolled = 0, docs = 0;
  for (size_t i = 0; i < files.size() && docs < 10; i += 53) {
    auto doc = nlohmann::ordered_json::parse(testing::read_file(files[i]));
    for (auto ws : {JsonSchemaOptions::Whitespace::kCompact, JsonSchemaOptions::Whitespace::kFlexible}) {
      JsonSchemaOptions so;
      so.whitespace = ws;
      CompiledGrammarPtr g;
      try {
        g = c.compile_json_schema(doc["schema"].dump(), so);
      } catch (const Error&) {
        continue;
      }
      for (auto& t : doc["tests"]) {
        if (!t.value("valid", false)) continue;
        std::string text = enc.decode(t["tokens_llama3"].get<std::vector<int32_t>>());
        if (ws == JsonSchemaOptions::Whitespace::kCompact) text = nlohmann::ordered_json::parse(text).dump();
        std::vector<int32_t> toks = enc.encode(text);
        Matcher m(g);
        bool ok = true;
        for (int32_t id : toks) {
          check_jump(m, enc, 0, rolled);
          check_jump(m, enc, 4, rolled);
          ++steps;
          if (!m.accept_token(id)) {
            ok = false;  // the grammar refuses this rendering of the instance (property order)
            break;
          }
        }
        docs += ok;
        break;
      }
    }
  }
  CHECK(docs >= 8);
  CHECK(steps > 200);
}

// A draft sampled without the budget (a draft model does not know it) against the budgeted masks:
// validate_tokens and fill_next_token_bitmask_draft both count the tokens up to the first one that
// the budgeted mask at its step excludes, and the draft rows are the masks of that walk. The drafts
// are windows of maskbench-dev valid documents, from states along the document, at tight budgets.
// (Found by the vLLM-adapter test: validate_tokens accepted a draft token the budgeted mask excluded.)
TEST_CASE("length budget: validate_tokens and draft masks agree with the budgeted mask", "[budget][batch]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  Compiler c(testing::llama3(), one_thread());
  std::mt19937 rng(11);
  int schemas = 0, drafts = 0, cut_by_budget = 0;
  for (const SchemaDoc& d : schema_docs(c, mb, 5, 41, 8, 8)) {
    const CompiledGrammarPtr& g = d.g;
    const std::vector<int32_t>& tokens = d.tokens;
    INFO(d.file.filename().string());
    ++schemas;
    const int32_t words = bitmask_words(g->tokenizer().vocab_size());
    Matcher m(g);
    for (size_t k = 0; k + 1 < tokens.size(); k += 3) {
      const size_t len = std::min<size_t>(tokens.size() - k, 1 + rng() % 6);
      std::vector<int32_t> draft(tokens.begin() + static_cast<long>(k), tokens.begin() + static_cast<long>(k + len));
      Matcher b = m.fork();
      const int64_t c0 = b.shortest_completion_bytes();
      REQUIRE(c0 >= 0);
      // Budgets from "no room beyond the shortest completion" to "room for the whole draft".
      const int budget = static_cast<int>(c0) + static_cast<int>(rng() % 3);
      b.set_token_budget(budget);
      // The oracle: step by step, the token must be in the budgeted mask and accepted.
      int expect = 0;
      {
        Matcher w = b.fork();
        for (int32_t id : draft) {
          if (!testing::mask_bit(testing::mask_of(w), id)) break;
          REQUIRE(w.accept_token(id));
          ++expect;
        }
      }
      INFO("at token " << k << ", draft of " << len << ", budget " << budget << ", oracle " << expect);
      CHECK(b.validate_tokens(draft) == expect);
      std::vector<int32_t> rows((draft.size() + 1) * static_cast<size_t>(words), -1);
      CHECK(b.fill_next_token_bitmask_draft(draft, rows.data()) == expect);
      Matcher w = b.fork();
      for (size_t r = 0; r <= draft.size(); ++r) {
        std::vector<int32_t> row(rows.begin() + static_cast<long>(r * words), rows.begin() + static_cast<long>((r + 1) * words));
        if (static_cast<int>(r) <= expect) {
          INFO("row " << r);
          REQUIRE(row == testing::mask_of(w));
          if (static_cast<int>(r) < expect) REQUIRE(w.accept_token(draft[r]));
        } else {
          REQUIRE(std::all_of(row.begin(), row.end(), [](int32_t x) { return x == 0; }));
        }
      }
      CHECK(b.token_budget() == budget);  // the state is unchanged
      if (expect < static_cast<int>(draft.size())) ++cut_by_budget;  // every draft token is grammar-valid
      ++drafts;
      for (size_t j = 0; j < 3 && k + j < tokens.size(); ++j) REQUIRE(m.accept_token(tokens[k + j]));
    }
  }
  CHECK(schemas >= 5);
  CHECK(drafts > 100);
  CHECK(cut_by_budget > 10);  // the budget really cut drafts short
}
