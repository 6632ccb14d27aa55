// Truncated parse contexts in the context-free back-end (engine/cfg_backend): boundary tokens are
// computed against Earley nodes cut a few origin levels down (wildcard origins) and the tokens
// that leave the known context are checked against the real parse. These tests check masks
// against the brute-force oracle (accept_bytes of every token on a copy of the matcher) at every
// state of deeply nested JSON documents, for context depths from 0 (exact nodes) to 6, with
// tokens that close several levels at once, and across rollbacks.
#include <algorithm>
#include <thread>

#include "engine/cfg_backend.hpp"
#include "fsm/cfg_runtime.hpp"
#include "grammar/grammar_ir.hpp"
#include "test_support.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;

namespace {

using tollgate::testing::cfg_of;
using tollgate::testing::llama3;

using tollgate::testing::mask_of;

int oracle_mismatches(const Matcher& m) { return tollgate::testing::mask_oracle_mismatches(m); }

int32_t longest_allowed(const Matcher& m, const std::string& doc, size_t pos) {
  return tollgate::testing::longest_allowed(m.grammar().tokenizer(), mask_of(m), doc, pos);
}

CompiledGrammarPtr json_grammar(std::string_view gbnf, uint32_t depth) {
  engine::CfgBuildOptions opt;
  opt.context_depth = depth;
  auto impl = engine::build_cfg_grammar(grammar::parse_grammar(gbnf, "gbnf", "json"), llama3(), opt);
  return std::make_shared<const CompiledGrammar>(std::move(impl));
}

// Feeds `doc` by the longest allowed tokens, the mask checked against the oracle before each.
void replay_against_oracle(const CompiledGrammarPtr& g, const std::string& doc) {
  const TokenizerInfo& tok = g->tokenizer();
  Matcher m(g);
  size_t pos = 0;
  while (pos < doc.size()) {
    INFO(doc << " at " << pos);
    REQUIRE(oracle_mismatches(m) == 0);
    int32_t id = longest_allowed(m, doc, pos);
    REQUIRE(id >= 0);
    REQUIRE(m.accept_token(id));
    pos += tok.token_bytes(id).size();
  }
  CHECK(m.is_accepting());
  CHECK(oracle_mismatches(m) == 0);
}

// Nested documents whose closers come in runs: "}]}, "}]", ]]], }}}} ...
const std::vector<std::string> kDeepDocs = {
    R"({"a": [{"b": [[{"c": "x"}]]}], "d": {"e": {"f": [1, {"g": "y"}]}}})",
    R"([[[[{"k": [true, null, {"m": "n"}]}]]], {"p": {"q": {"r": {"s": [0.5, -2e3]}}}}])",
    R"({"x":{"y":{"z":[{"w":"v"}]}},"u":[[["t"]]],"s":{}})",
};

}  // namespace

TEST_CASE("cfg masks: truncated contexts agree with the oracle on deep nesting, depths 0 to 6",
          "[cfg][context][oracle]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  const TokenizerInfo& tok = *llama3();
  for (uint32_t depth : {0u, 1u, 2u, 6u}) {
    auto g = json_grammar(grammar::builtin_json_gbnf(), depth);
    int states = 0, mismatches = 0, multi_closers = 0;
    for (const auto& doc : kDeepDocs) {
      Matcher m(g);
      size_t pos = 0;
      while (pos < doc.size()) {
        INFO("depth " << depth << " doc " << doc << " at " << pos);
        int bad = oracle_mismatches(m);
        mismatches += bad;
        ++states;
        REQUIRE(bad == 0);
        int32_t id = longest_allowed(m, doc, pos);
        REQUIRE(id >= 0);
        const std::string& bytes = tok.token_bytes(id);
        if (std::count_if(bytes.begin(), bytes.end(), [](char c) { return c == '}' || c == ']'; }) >= 2)
          ++multi_closers;
        REQUIRE(m.accept_token(id));
        pos += bytes.size();
      }
      CHECK(m.is_accepting());
      CHECK(oracle_mismatches(m) == 0);
    }
    CHECK(mismatches == 0);
    CHECK(multi_closers >= 3);  // tokens such as "}]} and ]]] were exercised
    // With one or two levels of context every closer leaves the known context, so the
    // real-parse check of uncertain tokens must have run and accepted some of them.
    if (depth == 1 || depth == 2) {
      CHECK(cfg_of(g).num_uncertain_checked() > 0);
      CHECK(cfg_of(g).num_uncertain_accepted() > 0);
    }
    WARN("context depth " << depth << ": " << states << " states, " << multi_closers << " multi-level closers, "
                          << cfg_of(g).num_uncertain_checked() << " uncertain tokens checked");
  }
}

TEST_CASE("cfg masks: boundary walks by the roots' children agree with the oracle, closers popping below them",
          "[cfg][context][oracle]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  // Whitespace and digit runs end inside many Llama-3 tokens (" ]", "\n\n]", " [["): their entries
  // have dozens of roots, so boundary walks go by the roots' children grouped by byte, and with
  // little context the closers below those children complete lists into the wildcard context
  // (uncertain tokens, checked against the real parse).
  const std::string gbnf =
      "root ::= list\n"
      "list ::= \"[\" elem (\",\" elem)* sp \"]\"\n"
      "elem ::= sp (list | num)\n"
      "num ::= [0-9]+\n"
      "sp ::= [ \\n]*\n";
  const std::vector<std::string> docs = {"[ [ 1, 22 ], [[ 333  ]  ],\n\n4\n]", "[[[ 7 ] ]\n\n]", "[ 12,  [ 5 ] ]", "[[1],[[2]]]"};
  for (uint32_t depth : {0u, 1u, 2u}) {
    auto g = json_grammar(gbnf, depth);
    const auto& cg = cfg_of(g);
    for (const auto& doc : docs) {
      INFO("depth " << depth);
      replay_against_oracle(g, doc);
    }
    CHECK(cg.num_children_walks() > 0);
    if (depth == 1) CHECK(cg.num_uncertain_accepted() > 0);
  }
}

TEST_CASE("cfg masks: json.gbnf with one level of context agrees with the oracle", "[cfg][context][oracle]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(jg, "corpora/gbnf/json.gbnf");
  auto g = json_grammar(tollgate::testing::read_file(jg), 1);
  for (const auto& doc : kDeepDocs)
    if (doc[0] == '{') replay_against_oracle(g, doc);  // json.gbnf's root is an object
  CHECK(cfg_of(g).num_uncertain_checked() > 0);
}

TEST_CASE("cfg masks: rollback across lexeme boundaries restores the same masks", "[cfg][context]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  const TokenizerInfo& tok = *llama3();
  auto g = json_grammar(grammar::builtin_json_gbnf(), 2);
  const std::string& doc = kDeepDocs[0];
  Matcher m(g, 64);
  std::vector<std::vector<int32_t>> masks;  // masks[i]: after i tokens
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos < doc.size()) {
    masks.push_back(mask_of(m));
    int32_t id = longest_allowed(m, doc, pos);
    REQUIRE(id >= 0);
    REQUIRE(m.accept_token(id));
    ids.push_back(id);
    pos += tok.token_bytes(id).size();
  }
  masks.push_back(mask_of(m));
  size_t n = ids.size();
  REQUIRE(n >= 10);
  // Roll back to several points (each lands just after a lexeme boundary or inside a lexeme),
  // check the mask there, then replay forward and check the masks again.
  for (size_t back : {size_t(1), size_t(3), n / 2, n - 1}) {
    m.rollback(static_cast<int>(back));
    CHECK(m.num_accepted() == static_cast<int>(n - back));
    CHECK(mask_of(m) == masks[n - back]);
    CHECK(oracle_mismatches(m) == 0);
    for (size_t i = n - back; i < n; ++i) {
      REQUIRE(m.accept_token(ids[i]));
      CHECK(mask_of(m) == masks[i + 1]);
    }
  }
  CHECK(m.is_accepting());
}

TEST_CASE("Earley graph: truncated nodes are shared across nesting depths", "[cfg][context]") {
  fsm::CfgRuntime rt(fsm::build_cfg(grammar::parse_grammar(grammar::builtin_json_gbnf(), "gbnf", "json")));
  auto node_after = [&](const std::string& text) {
    fsm::ParserState s = rt.initial();
    REQUIRE(rt.feed(s, text));
    REQUIRE(!s.threads.empty());
    uint32_t n = 0;  // the Earley node the next lexemes start in: the newest one
    for (auto& t : s.threads) n = std::max(n, t.node);
    return n;
  };
  uint32_t shallow = node_after("[[[{\"a\": [1, ");
  uint32_t deep = node_after("[[[[[[[{\"a\": [1, ");
  uint32_t other = node_after("{\"a\": {\"b\": ");
  auto& g = rt.graph();
  CHECK(shallow != deep);  // exact nodes tell the contexts apart
  CHECK(g.truncate(shallow, 2) == g.truncate(deep, 2));
  CHECK(g.truncate(shallow, 2) != g.truncate(other, 2));
  CHECK(g.truncate(shallow, 0) == shallow);
  // A truncated node expects what the real node expects.
  CHECK(g.node(g.truncate(deep, 2)).expected == g.node(deep).expected);
  // Parsing on from the truncated node: a value stays inside the known context, while closing
  // every level leaves it (the completion into the wildcard context is reported).
  fsm::ParserState local;
  rt.spawn(g.truncate(deep, 2), local.threads);
  std::sort(local.threads.begin(), local.threads.end());
  local.threads.erase(std::unique(local.threads.begin(), local.threads.end()), local.threads.end());
  fsm::ParserState a = local, b;
  bool popped = false;
  REQUIRE(rt.step(a, '2', b, &popped));
  CHECK_FALSE(popped);
  std::swap(a, b);
  bool any_pop = false;
  for (char c : std::string("]}]]]")) {
    popped = false;
    if (!rt.step(a, static_cast<uint8_t>(c), b, &popped)) break;
    any_pop |= popped;
    std::swap(a, b);
  }
  CHECK(any_pop);
}

TEST_CASE("cfg masks: matchers on one grammar in several threads get the single-thread masks", "[cfg][context]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  const TokenizerInfo& tok = *llama3();
  // Reference: masks from a grammar used by one thread only.
  auto reference = json_grammar(grammar::builtin_json_gbnf(), 2);
  std::vector<std::vector<int32_t>> ids(kDeepDocs.size());
  std::vector<std::vector<std::vector<int32_t>>> want(kDeepDocs.size());
  for (size_t d = 0; d < kDeepDocs.size(); ++d) {
    Matcher m(reference);
    size_t pos = 0;
    while (pos < kDeepDocs[d].size()) {
      want[d].push_back(mask_of(m));
      int32_t id = longest_allowed(m, kDeepDocs[d], pos);
      REQUIRE(id >= 0);
      REQUIRE(m.accept_token(id));
      ids[d].push_back(id);
      pos += tok.token_bytes(id).size();
    }
  }
  // A fresh grammar (cold caches) shared by four threads, each replaying every document.
  auto shared = json_grammar(grammar::builtin_json_gbnf(), 2);
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (size_t k = 0; k < kDeepDocs.size(); ++k) {
        size_t d = (k + t) % kDeepDocs.size();
        Matcher m(shared);
        for (size_t i = 0; i < ids[d].size(); ++i) {
          if (mask_of(m) != want[d][i]) ++mismatches[t];
          if (!m.accept_token(ids[d][i])) ++mismatches[t];
        }
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) CHECK(mismatches[t] == 0);
}

TEST_CASE("cfg masks: a repetition's loop item keeps its context, so a token spanning many items stays local",
          "[cfg][context][oracle]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  // Format "regex" is a context-free grammar whose terms repeat (S → ε | S term; a run of code
  // points is one lexeme with what follows it, a group or class another): a token such as "a(b)[c]"
  // crosses several boundaries. JSON Schemas walk boundaries with one level of context; were the
  // loop item S → S • term cut there, the walk would leave the known context after the first term
  // and nearly every token of the vocabulary would be checked against the real parse at every new
  // position (about 100,000 a time).
  Compiler c(llama3());
  auto g = c.compile_json_schema(
      R"({"type": "object", "properties": {"a": {"type": "string", "format": "regex"},
          "b": {"type": "array", "items": {"type": "string", "format": "regex"}}}})");
  for (const std::string doc :
       {R"({"a": "^[a-z]+(?:foobar|bazqux)*\\d{2,3}$", "b": ["hello world", "(abc|def)+ghi", "x"]})",
        R"({"a": "plain words here", "b": ["^validation(Regex)?[0-9A-Z]*$", "((((nested))))text", "a|b|c|d|e|f"]})"})
    replay_against_oracle(g, doc);
  const auto& cg = cfg_of(g);
  INFO(cg.num_uncertain_checked() << " uncertain tokens checked");
  CHECK(cg.num_uncertain_checked() < 100000);  // 4.5 million with the loop item cut, 49,000 kept
  // (one lexeme per code point; 6,890 since runs are lexemes)
}
