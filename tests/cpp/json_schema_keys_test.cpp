// JSON Schema with property_order 'any': the required keys of objects that require many
// (grammar::UniquePlan::State::required, built by the schema front-end) are enforced at run time by
// the context-free back-end's tracker (engine/unique_tracker.hpp), the grammar taking the members in
// any order. Semantics byte by byte on a 256-token byte vocabulary (every order accepted, a missing
// key refused at the '}', masks against the brute-force oracle), alternatives that share some of
// their required keys, rollback and fork, serialised grammars, schemas embedded in tool calls; then
// maskbench-dev schemas with an object of four or more required keys, with the real Llama-3
// tokenizer: their tests replay and the masks equal the oracle along them and on random walks.
#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "engine/cfg_backend.hpp"
#include "tollgate/compiler.hpp"
#include "tollgate/matcher.hpp"
#include "tollgate/tool_calls.hpp"

namespace {

using tollgate::CompiledGrammarPtr;
using tollgate::Compiler;
using tollgate::JsonSchemaOptions;
using tollgate::Matcher;

using tollgate::testing::accepts;
using tollgate::testing::schema;

JsonSchemaOptions any_order() {
  JsonSchemaOptions o;
  o.property_order = JsonSchemaOptions::PropertyOrder::kAny;
  return o;
}

std::string allowed_after(const CompiledGrammarPtr& g, const std::string& prefix) {
  return tollgate::testing::bytes_allowed_after(g, prefix);
}
int oracle_along(const CompiledGrammarPtr& g, const std::string& doc) { return tollgate::testing::oracle_along_bytes(g, doc); }

#define ACCEPTS(g, doc) CHECK(accepts(g, doc))
#define REFUSES(g, doc) CHECK_FALSE(accepts(g, doc))

// An object of n required integer keys k0..k(n-1) and an optional string "note"; the document
// with the keys in the order `order`.
std::string many_required(int n) {
  std::string props, req;
  for (int i = 0; i < n; ++i) {
    props += (i ? ", " : "") + std::string("\"k") + std::to_string(i) + "\": {\"type\": \"integer\"}";
    req += (i ? ", " : "") + std::string("\"k") + std::to_string(i) + "\"";
  }
  return R"({"type": "object", "properties": {)" + props + R"(, "note": {"type": "string"}}, "required": [)" + req +
         "]}";
}
std::string object_of(const std::vector<int>& order, const std::string& extra = "") {
  std::string out = "{";
  for (size_t i = 0; i < order.size(); ++i) out += (i ? ", " : "") + std::string("\"k") + std::to_string(order[i]) + "\": " + std::to_string(i);
  if (!extra.empty()) out += (order.empty() ? "" : ", ") + extra;
  return out + "}";
}

}  // namespace

TEST_CASE("required keys tracked: every order, a missing key refused at the brace", "[json-schema][keys]") {
  auto g = schema(many_required(5), any_order());
  ACCEPTS(g, object_of({0, 1, 2, 3, 4}));
  ACCEPTS(g, object_of({4, 3, 2, 1, 0}));
  ACCEPTS(g, object_of({2, 0, 4, 1, 3}, R"("note": "x")"));
  ACCEPTS(g, R"({"note": "x", "k3": 0, "k1": 1, "k0": 2, "k4": 3, "k2": 4})");
  ACCEPTS(g, R"({"k0": 0, "k1": 1, "k0": 5, "k2": 2, "k3": 3, "k4": 4})");  // a repeated key: the last counts
  REFUSES(g, "{}");
  REFUSES(g, object_of({0, 1, 2, 3}));
  REFUSES(g, object_of({4, 3, 2, 1}, R"("note": "x")"));
  REFUSES(g, R"({"k0": 0, "k1": 1, "k0": 5, "k2": 2, "k3": 3})");
  REFUSES(g, R"({"k0": 0, "k1": 1, "k2": 2, "k3": 3, "k4": "4"})");  // the grammar still checks values
  ACCEPTS(g, R"({"k0": 0, "k1": 1, "k2": 2, "k5": 5, "k3": 3, "k4": 4})");  // open to other keys
  // the '}' is what the mask leaves out until the last required key is written
  CHECK(allowed_after(g, R"({"k0": 0, "k2": 1, "k1": 2, "k3": 3)").find('}') == std::string::npos);
  CHECK(allowed_after(g, R"({"k0": 0, "k2": 1, "k1": 2, "k3": 3, "k4": 4)").find('}') != std::string::npos);
  CHECK(allowed_after(g, "{").find('}') == std::string::npos);
  CHECK(oracle_along(g, R"({"note": "}", "k3": 0, "k1": 1, "k0": 2, "k4": 3, "k2": 4})") == 0);
  // no dead ends: after '{' and the longest gap, a key (not a second gap that could only close)
  CHECK(allowed_after(g, "{" + std::string(20, ' ')) == "\"");
  CHECK(allowed_after(g, R"({"k0": 0)" + std::string(20, ' ')) == ",");
  CHECK(allowed_after(g, R"({"k0": 0, "k1": 0, "k2": 0, "k3": 0, "k4": 0)" + std::string(20, ' ')) == ",}");
  // where the layout commits to the '}' before writing it (pretty's newline after a member, a space
  // after a value beside a custom item separator), the tracker asks the grammar for a ',' after each
  // value of an object that lacks keys
  JsonSchemaOptions pretty = any_order();
  pretty.whitespace = JsonSchemaOptions::Whitespace::kPretty;
  auto p = schema(many_required(4), pretty);
  CHECK(accepts(p, "{\n  \"k3\": 0,\n  \"k1\": 1,\n  \"k2\": 2,\n  \"k0\": 3\n}"));
  CHECK(allowed_after(p, "{\n  \"k3\": 0").find('\n') == std::string::npos);
  CHECK(oracle_along(p, "{\n  \"k3\": 0,\n  \"k1\": 1,\n  \"note\": \"}\\n\",\n  \"k2\": 2,\n  \"k0\": 3\n}") == 0);
  auto p14 = schema(many_required(14), pretty);
  std::string laid = "{";
  for (int i = 13; i >= 0; --i) laid += "\n  \"k" + std::to_string(i) + "\": 0" + (i ? "," : "\n}");
  CHECK(accepts(p14, laid));
  JsonSchemaOptions sep = any_order();
  sep.item_separator = ",";
  sep.key_separator = ": ";
  auto q = schema(many_required(4), sep);
  CHECK(accepts(q, R"({"k3": 0,"k1": 1,"k2": 2,"k0": 3})"));
  CHECK(allowed_after(q, R"({"k3": 0)").find(' ') == std::string::npos);
  CHECK(oracle_along(g, object_of({4, 0, 3})) == 0);
}

TEST_CASE("required keys tracked: more than the grammar could count, in reverse order", "[json-schema][keys]") {
  // 14 required keys: the grammar alone tracks at most 10 as a set (2^10 rules) and keeps the
  // schema's order among more; the tracker takes them in any order
  auto g = schema(many_required(14), any_order());
  std::vector<int> order(14);
  for (int i = 0; i < 14; ++i) order[i] = 13 - i;
  ACCEPTS(g, object_of(order));
  std::shuffle(order.begin(), order.end(), std::mt19937(3));
  ACCEPTS(g, object_of(order, R"("note": "")"));
  order.pop_back();
  REFUSES(g, object_of(order));
  CHECK(oracle_along(g, object_of(order)) == 0);
}

TEST_CASE("required keys tracked: open and closed objects, nested, in arrays and through $ref", "[json-schema][keys]") {
  const std::string item = R"({"type": "object", "required": ["a", "b", "c", "d"],
      "properties": {"a": {}, "b": {}, "c": {}, "d": {"$ref": "#/$defs/inner"}}, "additionalProperties": false})";
  auto g = schema(R"({"$defs": {"inner": {"type": "object", "required": ["w", "x", "y", "z"]},
                               "item": )" + item + R"(},
                      "type": "array", "items": {"$ref": "#/$defs/item"}})",
                  any_order());
  const std::string inner = R"({"z": 1, "y": 2, "x": 3, "w": 4, "other": 5})";
  ACCEPTS(g, "[]");
  ACCEPTS(g, R"([{"d": )" + inner + R"(, "c": 1, "b": 2, "a": 3}, {"a": 1, "b": 2, "c": 3, "d": )" + inner + "}]");
  REFUSES(g, R"([{"d": )" + inner + R"(, "c": 1, "b": 2, "a": 3}, {"a": 1, "b": 2, "d": )" + inner + "}]");
  REFUSES(g, R"([{"d": {"z": 1, "y": 2, "x": 3}, "c": 1, "b": 2, "a": 3}])");
  REFUSES(g, R"([{"d": )" + inner + R"(, "c": 1, "b": 2, "a": 3, "e": 4}])");  // closed
  // the inner object's keys are its own: the outer ones do not count there
  REFUSES(g, R"([{"a": 1, "b": 2, "c": 3, "d": {"a": 1, "b": 2, "c": 3, "d": 4}}])");
  CHECK(oracle_along(g, R"([{"d": {"z": 1, "y": "}", "x": 3, "w": 4}, "c": 1, "b": 2, "a": 3}, {"a": 1, "b")") == 0);
}

TEST_CASE("required keys tracked: alternatives share some required keys, the grammar keeps the rest",
          "[json-schema][keys]") {
  // every branch requires a, b, c, d (tracked); x or y is the branch's own (the grammar's)
  auto g = schema(R"({"type": "object", "required": ["a", "b", "c", "d"],
                      "anyOf": [{"required": ["x"]}, {"required": ["y"]}]})",
                  any_order());
  ACCEPTS(g, R"({"x": 0, "d": 1, "c": 2, "b": 3, "a": 4})");
  ACCEPTS(g, R"({"d": 1, "c": 2, "b": 3, "a": 4, "y": 0})");
  REFUSES(g, R"({"d": 1, "c": 2, "b": 3, "a": 4})");
  REFUSES(g, R"({"x": 0, "y": 0, "c": 2, "b": 3, "a": 4})");
  CHECK(oracle_along(g, R"({"x": 0, "d": 1, "c": 2, "b": 3, "a": 4})") == 0);
  // alternatives whose required keys differ at one path: left to the grammar, still exact
  auto h = schema(R"({"anyOf": [{"type": "object", "required": ["a", "b", "c", "d"]},
                                {"type": "object", "required": ["a", "b", "c", "e"]}]})",
                  any_order());
  ACCEPTS(h, R"({"e": 0, "c": 1, "b": 2, "a": 3})");
  ACCEPTS(h, R"({"d": 0, "c": 1, "b": 2, "a": 3})");
  REFUSES(h, R"({"c": 1, "b": 2, "a": 3})");
  REFUSES(h, R"({"d": 0, "c": 1, "a": 3, "e": 4})");
  CHECK(oracle_along(h, R"({"e": 0, "c": 1, "b": 2, "a": 3})") == 0);
  // dependentRequired on top of tracked keys
  auto d = schema(R"({"type": "object", "required": ["a", "b", "c", "d"],
                      "dependentRequired": {"p": ["q"]}})",
                  any_order());
  ACCEPTS(d, R"({"d": 0, "c": 1, "b": 2, "a": 3})");
  ACCEPTS(d, R"({"q": 0, "p": 0, "d": 0, "c": 1, "b": 2, "a": 3})");
  REFUSES(d, R"({"p": 0, "d": 0, "c": 1, "b": 2, "a": 3})");
  REFUSES(d, R"({"p": 0, "d": 0, "c": 1, "b": 2, "q": 3})");
  // the schema's order, when asked for, is the grammar's as before
  auto s = schema(many_required(5));
  ACCEPTS(s, object_of({0, 1, 2, 3, 4}));
  REFUSES(s, object_of({1, 0, 2, 3, 4}));
}

TEST_CASE("required keys tracked: rollback, fork, serialised grammars, tool calls", "[json-schema][keys]") {
  auto g = schema(many_required(4), any_order());
  Matcher m(g);
  REQUIRE(m.accept_bytes(R"({"k3": 0, "k2": 0, "k1": 0)"));
  Matcher f = m.fork();
  REQUIRE(f.accept_bytes(R"(, "k0": 0)"));
  CHECK(f.accept_bytes("}"));
  CHECK(f.is_accepting());
  CHECK_FALSE(m.accept_bytes("}"));  // the original did not see k0
  REQUIRE(m.accept_bytes(R"(, "k0": 0)"));
  m.rollback(1);  // back before `, "k0": 0`
  CHECK_FALSE(m.accept_bytes("}"));
  REQUIRE(m.accept_bytes(R"(, "k0": 1})"));
  CHECK(m.is_accepting());
  // the cached-only fill never answers for a row the tracker filters
  Matcher n(g);
  REQUIRE(n.accept_bytes(R"({"k0": 1, "k1": 2)"));
  std::vector<int32_t> row(tollgate::bitmask_words(257), 0);
  if (n.try_fill_next_token_bitmask_cached(row.data())) CHECK(row == tollgate::testing::mask_of(n));
  // a serialised grammar keeps the plan's keys
  auto back = tollgate::CompiledGrammar::deserialize(g->serialize(), g->tokenizer_ptr());
  ACCEPTS(back, object_of({3, 1, 0, 2}));
  REFUSES(back, object_of({3, 1, 0}));
  // embedded in tool calls: no tracker follows the arguments; the grammar counts the keys itself
  tollgate::CompileOptions co;
  co.threads = 1;
  Compiler c(tollgate::TokenizerInfo::bytes_with_eos(), co);
  tollgate::ToolCallSpec spec;
  tollgate::ToolCallTag tag;
  tag.begin = "<call>";
  tag.end = "</call>";
  tag.schema = many_required(5);
  spec.tags.push_back(tag);
  spec.json = any_order();
  spec.triggers.push_back("<call>");
  auto t = c.compile_tool_calls(spec);
  CHECK(accepts(t, "hi <call>" + object_of({4, 2, 0, 1, 3}) + "</call>"));
  CHECK_FALSE(accepts(t, "hi <call>" + object_of({4, 2, 0, 1}) + "</call>"));
}

TEST_CASE("required keys tracked: maskbench-dev schemas with four or more required keys, replayed and against the oracle",
          "[json-schema][keys][oracle]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  using OJson = nlohmann::ordered_json;
  // the files with some `required` array of 4 or more keys, in name order; every 20th of them
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(mb))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<std::filesystem::path> picked;
  size_t seen = 0;
  const size_t stride = tollgate::testing::sample_stride();
  for (const auto& f : files) {
    std::string text = tollgate::testing::read_file(f);
    OJson doc = OJson::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.contains("schema")) continue;
    bool many = false;
    std::vector<const OJson*> stack{&doc["schema"]};
    while (!stack.empty() && !many) {
      const OJson* n = stack.back();
      stack.pop_back();
      if (n->is_object())
        if (auto r = n->find("required"); r != n->end() && r->is_array() && r->size() >= 4) many = true;
      if (n->is_structured())
        for (const auto& c : *n) stack.push_back(&c);
    }
    if (many && seen++ % (20 * stride) == 0) picked.push_back(f);
  }
  REQUIRE(picked.size() >= 16 / stride);
  auto tok = tollgate::testing::llama3();
  tollgate::CompileOptions co;
  co.threads = 1;
  Compiler compiler(tok, co);
  std::mt19937 rng(5);
  int compiled = 0, valid_ok = 0, invalid_ok = 0, tests = 0, states = 0, mismatches = 0;
  for (const auto& f : picked) {
    const std::string text = tollgate::testing::read_file(f);
    OJson doc = OJson::parse(text);
    INFO(f.filename().string());
    CompiledGrammarPtr g;
    try {
      g = compiler.compile_json_schema(doc["schema"].dump(), any_order());
    } catch (const tollgate::Error&) {
      continue;  // refused for another keyword (the runner's compile errors)
    }
    ++compiled;
    auto check = [&](const Matcher& m) {
      ++states;
      mismatches += tollgate::testing::mask_oracle_mismatches(m);
    };
    auto replay = tollgate::testing::replay_maskbench_tests(g, text, false, [&](const Matcher& m, size_t i) {
      if (i % (16 * stride) == 0) check(m);
    });
    tests += replay.tests;
    valid_ok += replay.valid_ok;
    invalid_ok += replay.invalid_ok;
    const auto& walks = replay.valid_ids;
    // random walks from prefixes of the valid tests, half the time taking a token with a '}'
    for (int w = 0; w < 4 && !walks.empty(); ++w) {
      Matcher m(g);
      const auto& ids = walks[rng() % walks.size()];
      size_t n = rng() % ids.size();
      for (size_t i = 0; i < n; ++i) REQUIRE(m.accept_token(ids[i]));
      for (int s = 0; s < 8; ++s) {
        std::vector<int32_t> mask = tollgate::testing::mask_of(m);
        std::vector<int32_t> all, closing;
        for (int32_t id = 0; id < tok->vocab_size(); ++id) {
          if (!tollgate::testing::mask_bit(mask, id) || tok->is_eos(id)) continue;
          all.push_back(id);
          if (tok->token_bytes(id).find('}') != std::string_view::npos) closing.push_back(id);
        }
        if (all.empty()) {
          CHECK(m.is_accepting());  // a dead end otherwise: the tracker refuses what the grammar left
          break;
        }
        const auto& from = !closing.empty() && rng() % 2 ? closing : all;
        const int32_t pick = from[rng() % from.size()];
        if (!m.accept_token(pick))
          FAIL("a token of the mask was refused: " << pick << " '" << tok->token_bytes(pick) << "' after "
                                                   << m.num_accepted() << " tokens");
        if (s % 4 == 3) check(m);
      }
    }
  }
  CHECK(compiled >= static_cast<int>(picked.size()) / 2);
  CHECK(mismatches == 0);
  WARN("required keys tracked on maskbench-dev: " << compiled << " of " << picked.size() << " schemas compile; "
                                                  << tests << " tests replayed (" << valid_ok << " valid accepted, "
                                                  << invalid_ok << " invalid refused); oracle at " << states
                                                  << " states, " << mismatches << " mismatches");
}

TEST_CASE("keys spelled whole: entries along the key's string agree with the brute-force oracle",
          "[json-schema][keys][oracle]") {
  // A key's lexeme spells one string ('"', the name as JSON writes it, '"'): its entries come from a
  // walk down the token trie along the rest of that string (CfgGrammar::spelled_entry). Names that
  // are prefixes of each other, with an escaped quote and backslash, multi-byte code points, a
  // control character, what looks like a separator, a common word, a long name; closed and open
  // objects (an open one has the extra-key lexeme beside them), nested; masks at every byte of the
  // document against the oracle.
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  auto tok = tollgate::testing::llama3();
  tollgate::CompileOptions co;
  co.threads = 1;
  Compiler compiler(tok, co);
  using OJson = nlohmann::ordered_json;
  const std::vector<std::string> names = {"a", "ab", "abc", "name", "na\"me", "back\\slash", "\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80",
                                          "\x07" "bell", "\": \"", "the", std::string(40, 'x') + "y", "{", " lead"};
  size_t spelled = 0;
  int states = 0, mismatches = 0;
  for (bool closed : {true, false}) {
    OJson props = OJson::object(), inner = OJson::object(), doc = OJson::object();
    for (size_t i = 0; i < names.size(); ++i) {
      props[names[i]] = i % 3 == 0 ? OJson{{"type", "integer"}} : OJson{{"type", "string"}};
      doc[names[i]] = i % 3 == 0 ? OJson(static_cast<int>(i)) : OJson(names[(i + 1) % names.size()]);
    }
    inner["type"] = "object";
    inner["properties"] = props;
    if (closed) inner["additionalProperties"] = false;
    OJson top = {{"type", "object"}, {"properties", {{"outer", inner}, {"b", {{"type", "boolean"}}}}}};
    if (closed) top["additionalProperties"] = false;
    CompiledGrammarPtr g = compiler.compile_json_schema(top.dump(), JsonSchemaOptions{});
    const std::string text = OJson{{"outer", doc}, {"b", true}}.dump(-1, ' ', false);
    INFO((closed ? "closed: " : "open: ") << text);
    mismatches += tollgate::testing::oracle_at_every_prefix(g, text, states);
    spelled += tollgate::testing::cfg_of(g).num_index_spelled();
  }
  CHECK(states > 400);
  CHECK(spelled > 100);
  CHECK(mismatches == 0);
}

TEST_CASE("literal runs: entries along one byte at a time agree with the brute-force oracle",
          "[json-schema][keys][oracle]") {
  // A state that reads one byte at a time along a run no token gets past (the rest of one of an
  // enum's values once the values part ways, a long name) takes its entry from a walk down the trie
  // along the run (CfgGrammar::literal_run_entry). Values that share long prefixes, values that
  // tokens run past (short ones), multi-byte and escaped ones; names as long; both orders, open and
  // closed objects, masks at every byte of the document against the oracle.
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  auto tok = tollgate::testing::llama3();
  tollgate::CompileOptions co;
  co.threads = 1;
  Compiler compiler(tok, co);
  using OJson = nlohmann::ordered_json;
  const std::vector<std::string> words = {"enterprisebandwidthavailable", "enterprisebandwidthtotal", "vpx100000savailable",
                                          "vpx100000stotal", "on", "off", "na\"me\\with escapes",
                                          "\xC3\xA9t\xC3\xA9_\xE4\xB8\xAD\xE6\x96\x87", "kubernetesApiVersionOverride",
                                          std::string(30, 'q') + "z"};
  const std::vector<std::string> names = {"id", "a", "enterprisebandwidthavailable", "mode", "\xC3\xA9t\xC3\xA9"};
  size_t runs = 0;
  int states = 0, mismatches = 0;
  for (auto order : {JsonSchemaOptions::PropertyOrder::kAny, JsonSchemaOptions::PropertyOrder::kSchema}) {
    for (bool closed : {true, false}) {
      OJson props = OJson::object(), doc = OJson::object();
      for (size_t i = 0; i < names.size(); ++i)
        props[names[i]] = i % 2 == 0 ? OJson{{"enum", words}} : OJson{{"type", "integer"}};
      // In any order, the document lists them backwards; each enum a different value.
      for (size_t j = 0; j < names.size(); ++j) {
        const size_t i = order == JsonSchemaOptions::PropertyOrder::kAny ? names.size() - 1 - j : j;
        doc[names[i]] = i % 2 == 0 ? OJson(words[(i * 3 + (closed ? 1 : 0)) % words.size()]) : OJson(static_cast<int>(i));
      }
      OJson top = {{"type", "object"}, {"properties", props}};
      if (closed) top["additionalProperties"] = false;
      JsonSchemaOptions jo;
      jo.property_order = order;
      CompiledGrammarPtr g = compiler.compile_json_schema(top.dump(), jo);
      for (const std::string& text : {doc.dump(), doc.dump(-1, ' ', false)}) {
        INFO((closed ? "closed: " : "open: ") << text);
        mismatches += tollgate::testing::oracle_at_every_prefix(g, text, states);
      }
      runs += tollgate::testing::cfg_of(g).num_index_literal_runs();
    }
  }
  CHECK(states > 1000);
  CHECK(runs > 40);
  CHECK(mismatches == 0);
  WARN("literal-run entries: " << runs << " at " << states << " oracle states");
}
