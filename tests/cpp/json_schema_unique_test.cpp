// JSON Schema uniqueItems: enforced exactly by the context-free back-end's tracker (engine/unique_tracker.hpp)
// over the paths the schema's plan marks unique (grammar/unique_items.hpp). Semantics byte by byte on a
// 256-token byte vocabulary (duplicates by JSON equality refused, dead ends refused in the mask), rollback
// and fork, what stays refused; then the 12 maskbench-dev schemas that were refused for uniqueItems with
// the real Llama-3 tokenizer: masks equal the brute-force oracle along their valid tests and random walks,
// and the tests replay (valid accepted, invalid refused).
#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

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

bool prefix_ok(const CompiledGrammarPtr& g, const std::string& doc) {
  Matcher m(g, 0);
  return m.accept_bytes(doc);
}
std::string allowed_after(const CompiledGrammarPtr& g, const std::string& prefix) {
  return tollgate::testing::bytes_allowed_after(g, prefix);
}
int oracle_along(const CompiledGrammarPtr& g, const std::string& doc) { return tollgate::testing::oracle_along_bytes(g, doc); }

#define ACCEPTS(g, doc) CHECK(accepts(g, doc))
#define REFUSES(g, doc) CHECK_FALSE(accepts(g, doc))

tollgate::Error schema_error(const std::string& text, JsonSchemaOptions opt = {}) {
  try {
    schema(text, opt);
  } catch (const tollgate::Error& e) {
    return e;
  }
  FAIL("expected an error for " << text);
  return tollgate::Error(tollgate::ErrorKind::kSchema, "");
}

}  // namespace

TEST_CASE("uniqueItems: strings by decoded content", "[json-schema][unique]") {
  auto g = schema(R"({"type": "array", "items": {"type": "string"}, "uniqueItems": true})");
  ACCEPTS(g, R"([])");
  ACCEPTS(g, R"(["a", "b", "ab", ""])");
  REFUSES(g, R"(["a", "b", "a"])");
  REFUSES(g, R"(["", ""])");
  REFUSES(g, R"(["a/", "a\/"])");      // the same string, spelled twice
  REFUSES(g, R"(["\n", "\u000a"])");
  REFUSES(g, R"(["x\"", "x\""])");
  ACCEPTS(g, R"(["x\"", "x\\"])");
  // the closing quote of a duplicate is what the mask refuses
  CHECK(allowed_after(g, R"(["ab", "ab)").find('"') == std::string::npos);
  CHECK(allowed_after(g, R"(["ab", "a)").find('"') != std::string::npos);
  CHECK(oracle_along(g, R"(["a", "b", "ab", "a\/"])") == 0);
}

TEST_CASE("uniqueItems: numbers, literals, objects and arrays by JSON equality", "[json-schema][unique]") {
  auto any = schema(R"({"type": "array", "uniqueItems": true})");
  ACCEPTS(any, R"([1, 2, "1", true, false, null, [1], {"a": 1}])");
  REFUSES(any, R"([1, 1.0])");
  REFUSES(any, R"([100, 1e2])");
  REFUSES(any, R"([0.5, 5e-1])");
  REFUSES(any, R"([0, -0])");
  REFUSES(any, R"([true, true])");
  REFUSES(any, R"([null, null])");
  REFUSES(any, R"([{"a": 1, "b": [1, 2]}, {"b": [1, 2.0], "a": 1.0}])");
  ACCEPTS(any, R"([{"a": 1, "b": [1, 2]}, {"b": [2, 1], "a": 1}])");
  REFUSES(any, R"([[1, "x"], [1.0, "x"]])");
  REFUSES(any, R"([{"a": "\u00e9"}, {"a": "é"}])");
  // a number ends at the byte after it: `1` may still become `12`
  CHECK(prefix_ok(any, "[1, 1"));
  CHECK(prefix_ok(any, "[1, 12"));
  CHECK_FALSE(prefix_ok(any, "[1, 1,"));
  CHECK_FALSE(prefix_ok(any, "[1, 1]"));
  CHECK_FALSE(prefix_ok(any, "[1, 1 "));
  // dead ends: a literal already written, a zero exponent under a zero seen
  CHECK_FALSE(prefix_ok(any, "[true, t"));
  CHECK(prefix_ok(any, "[true, f"));
  CHECK_FALSE(prefix_ok(any, "[0, 0e"));
  CHECK(prefix_ok(any, "[0, 0."));
  CHECK(prefix_ok(any, "[1, 0e"));
  CHECK(oracle_along(any, R"([1, 12, 1.5, true, {"a": [0, 0e1]}, "t"])") == 0);
  CHECK(oracle_along(any, R"([0, -0.5, 0e1)") == 0);
}

TEST_CASE("uniqueItems: a finite item set refuses dead ends in the mask", "[json-schema][unique]") {
  auto g = schema(R"({"type": "array", "items": {"enum": ["a", "ab", "b"]}, "uniqueItems": true})");
  ACCEPTS(g, R"(["a", "ab", "b"])");
  REFUSES(g, R"(["b", "b"])");
  // after "a": `"a` may still become "ab"; after "a" and "ab", `"a` is a dead end
  CHECK(allowed_after(g, R"(["a", ")").find('a') != std::string::npos);
  CHECK(allowed_after(g, R"(["a", "ab", ")") == "b");
  // every value used: no comma (no item could follow)
  CHECK(allowed_after(g, R"(["a", "ab", "b")").find(',') == std::string::npos);
  CHECK(allowed_after(g, R"(["a", "ab", "b")").find(']') != std::string::npos);
  CHECK(oracle_along(g, R"(["a", "ab", "b"])") == 0);
  auto bools = schema(R"({"type": "array", "items": {"type": "boolean"}, "uniqueItems": true})");
  ACCEPTS(bools, "[true, false]");
  REFUSES(bools, "[false, false]");
  CHECK_FALSE(prefix_ok(bools, "[true, false,"));
  CHECK(oracle_along(bools, "[true, false]") == 0);
  // an escaped spelling in an enum value
  auto esc = schema(R"({"type": "array", "items": {"enum": ["a/b", "a"]}, "uniqueItems": true})");
  ACCEPTS(esc, R"(["a\/b", "a"])");
  REFUSES(esc, R"(["a\/b", "a/b"])");
  CHECK_FALSE(prefix_ok(esc, R"(["a/b", "a\)"));
  CHECK(oracle_along(esc, R"(["a\/b", "a"])") == 0);
}

TEST_CASE("uniqueItems: objects in any key order, nested unique arrays", "[json-schema][unique]") {
  auto g = schema(R"({"type": "array", "uniqueItems": true, "items": {"type": "object", "required": ["name"],
      "properties": {"name": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}}}})");
  ACCEPTS(g, R"([{"name": "a"}, {"name": "b"}, {"name": "a", "x": 1}])");
  REFUSES(g, R"([{"name": "a", "x": 1}, {"name": "a", "x": 1.0}])");
  REFUSES(g, R"([{"name": "a", "tags": ["x", "x"]}])");
  ACCEPTS(g, R"([{"name": "a", "tags": ["x", "y"]}, {"name": "a", "tags": ["y", "x"]}])");
  REFUSES(g, R"([{"name": "a", "tags": ["x"]}, {"name": "a", "tags": ["x"]}])");
  CHECK(oracle_along(g, R"([{"name": "a", "tags": ["x", "y"]}, {"name": "a", "tags": ["y"]}])") == 0);
  JsonSchemaOptions any_order;
  any_order.property_order = JsonSchemaOptions::PropertyOrder::kAny;
  auto o = schema(R"({"type": "array", "uniqueItems": true, "items": {"type": "object",
      "properties": {"a": {"type": "string"}, "b": {"type": "boolean"}}}})", any_order);
  REFUSES(o, R"([{"a": "x", "b": true}, {"b": true, "a": "x"}])");
  ACCEPTS(o, R"([{"a": "x", "b": true}, {"b": false, "a": "x"}])");
}

TEST_CASE("uniqueItems: paths through $ref, allOf, patternProperties and alternatives", "[json-schema][unique]") {
  // one definition reached from two places: each array is unique on its own
  auto g = schema(R"({"$defs": {"set": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}},
      "properties": {"a": {"$ref": "#/$defs/set"}, "b": {"allOf": [{"$ref": "#/$defs/set"}]}, "c": {"type": "array"}}})");
  ACCEPTS(g, R"({"a": ["x"], "b": ["x"], "c": ["x", "x"]})");
  REFUSES(g, R"({"a": ["x", "x"]})");
  REFUSES(g, R"({"b": ["y", "y"]})");
  // a string or a unique array (the type decides which)
  auto alt = schema(R"({"patternProperties": {".": {"oneOf": [{"type": "string"},
      {"type": "array", "items": {"type": "string"}, "uniqueItems": true}]}}, "additionalProperties": false})");
  ACCEPTS(alt, R"({"k": "v", "l": ["v", "w"]})");
  REFUSES(alt, R"({"l": ["v", "v"]})");
  // recursion: a tree of unique children lists
  auto tree = schema(R"({"$defs": {"n": {"type": "object", "properties": {"kids": {"type": "array",
      "items": {"$ref": "#/$defs/n"}, "uniqueItems": true}}}}, "$ref": "#/$defs/n"})");
  ACCEPTS(tree, R"({"kids": [{"kids": []}, {"kids": [{}]}]})");
  REFUSES(tree, R"({"kids": [{"kids": [{}, {"kids": [{}, {}]}]}]})");
  REFUSES(tree, R"({"kids": [{}, {}]})");
  // maxItems <= 1 needs nothing
  auto one = schema(R"({"type": "array", "items": {"type": "integer", "maximum": 3}, "maxItems": 1, "uniqueItems": true})");
  ACCEPTS(one, "[3]");
}

TEST_CASE("uniqueItems: what stays refused, with the keyword's pointer", "[json-schema][unique]") {
  auto e = schema_error(R"({"type": "array", "items": {"type": "string", "maxLength": 3}, "uniqueItems": true})");
  CHECK(e.pos().pointer == "/uniqueItems");
  CHECK_THAT(e.message(), Catch::Contains("maxLength"));
  e = schema_error(R"({"type": "array", "items": {"type": "integer", "maximum": 5}, "uniqueItems": true})");
  CHECK_THAT(e.message(), Catch::Contains("bounds"));
  e = schema_error(R"({"type": "array", "items": {"type": "object", "additionalProperties": false}, "uniqueItems": true})");
  CHECK_THAT(e.message(), Catch::Contains("closed"));
  e = schema_error(R"({"type": "array", "prefixItems": [{"type": "boolean"}, {"const": true}], "minItems": 2, "uniqueItems": true})");
  CHECK_THAT(e.message(), Catch::Contains("minItems"));
  e = schema_error(R"({"anyOf": [{"type": "array", "uniqueItems": true}, {"type": "array", "items": {"type": "string"}}]})");
  CHECK(e.pos().pointer == "/anyOf/0/uniqueItems");
  CHECK_THAT(e.message(), Catch::Contains("alternatives"));
  e = schema_error(R"({"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 2, "uniqueItems": true})");
  CHECK_THAT(e.message(), Catch::Contains("minItems"));
  // lenient still relaxes what is refused, and no longer warns for what is exact
  JsonSchemaOptions lenient;
  lenient.lenient = true;
  auto r = schema(R"({"type": "array", "items": {"type": "string", "maxLength": 3}, "uniqueItems": true})", lenient);
  REQUIRE(r->warnings().size() == 1);
  ACCEPTS(r, R"(["a", "a"])");
  auto x = schema(R"({"type": "array", "items": {"type": "string"}, "uniqueItems": true})", lenient);
  CHECK(x->warnings().empty());
  REFUSES(x, R"(["a", "a"])");
}

TEST_CASE("uniqueItems: rollback and fork restore the items seen", "[json-schema][unique]") {
  auto g = schema(R"({"type": "array", "items": {"type": "string"}, "uniqueItems": true})");
  Matcher m(g);
  const std::string head = R"(["a", "b", )";
  for (unsigned char c : head) REQUIRE(m.accept_token(c));
  Matcher f = m.fork();
  for (unsigned char c : std::string(R"("c")")) REQUIRE(f.accept_token(c));
  CHECK_FALSE(f.accept_token('"'));  // not after "c" without a comma: grammar
  // the original did not see "c"
  for (unsigned char c : std::string(R"("c)")) REQUIRE(m.accept_token(c));
  CHECK(m.accept_token('"'));
  m.rollback(1);
  m.rollback(2);  // back to `["a", "b", `
  for (unsigned char c : std::string(R"("c")")) REQUIRE(m.accept_token(c));
  m.rollback(3 + 5);  // back to `["a", ` : "b" no longer seen
  for (unsigned char c : std::string(R"("a)")) REQUIRE(m.accept_token(c));
  CHECK_FALSE(m.accept_token('"'));
  m.rollback(2);
  for (unsigned char c : std::string(R"("b")")) REQUIRE(m.accept_token(c));
  CHECK(m.accept_bytes("]"));
  CHECK(m.is_accepting());
  // fill with a cached-only call stays truthful inside a unique array
  Matcher n(g);
  REQUIRE(n.accept_bytes(R"(["a", )"));
  std::vector<int32_t> row(tollgate::bitmask_words(257), 0);
  if (n.try_fill_next_token_bitmask_cached(row.data())) CHECK(row == tollgate::testing::mask_of(n));
}

TEST_CASE("uniqueItems: a schema embedded in tool calls stays refused", "[json-schema][unique]") {
  tollgate::CompileOptions co;
  co.threads = 1;
  Compiler c(tollgate::TokenizerInfo::bytes_with_eos(), co);
  tollgate::ToolCallSpec spec;
  tollgate::ToolCallTag tag;
  tag.begin = "<call>";
  tag.end = "</call>";
  tag.schema = R"({"type": "array", "items": {"type": "string"}, "uniqueItems": true})";
  spec.tags.push_back(tag);
  spec.triggers.push_back("<call>");
  CHECK_THROWS_WITH(c.compile_tool_calls(spec), Catch::Contains("uniqueItems"));
}

namespace {

const char* const kUniqueSchemas[] = {
    "asconfig-schema", "asmdef",  "drupal-migration",    "drupal-permissions", "esmrc",   "gradle-enterprise-config-schema-7",
    "lazygit",         "micro",   "project-1.0.0-beta4", "replit",             "secrethub", "vss-extension"};

// Documents to start walks from where a schema has no valid test (its unique arrays' paths).
std::vector<std::string> extra_prefixes(const std::string& name) {
  if (name == "replit") return {R"({"packager": {"ignoredPaths": ["a", "b", "a)", R"({"packager": {"ignoredPackages": [")"};
  return {};
}

}  // namespace

TEST_CASE("uniqueItems: the 12 maskbench-dev schemas refused for it before, replayed and against the oracle",
          "[json-schema][unique][oracle]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  using OJson = nlohmann::ordered_json;
  auto tok = tollgate::testing::llama3();
  tollgate::CompileOptions co;
  co.threads = 1;
  Compiler compiler(tok, co);
  JsonSchemaOptions opt;
  opt.property_order = JsonSchemaOptions::PropertyOrder::kAny;  // as MaskBench runs them
  std::mt19937 rng(11);
  const size_t stride = tollgate::testing::sample_stride();
  int compiled = 0, valid_ok = 0, invalid_ok = 0, tests = 0, states = 0, mismatches = 0;
  for (const char* name : kUniqueSchemas) {
    const std::string text = tollgate::testing::read_file(mb / ("JsonSchemaStore---" + std::string(name) + ".json"));
    OJson doc = OJson::parse(text);
    INFO(name);
    CompiledGrammarPtr g;
    try {
      g = compiler.compile_json_schema(doc["schema"].dump(), opt);
    } catch (const tollgate::Error& e) {
      // still refused: lazygit (closed object items, items with oneOf)
      CHECK(e.message().find("uniqueItems: item uniqueness is not enforced by the grammar") == std::string::npos);
      continue;
    }
    ++compiled;
    auto check = [&](const Matcher& m) {
      ++states;
      mismatches += tollgate::testing::mask_oracle_mismatches(m);
    };
    auto replay = tollgate::testing::replay_maskbench_tests(g, text, true);
    tests += replay.tests;
    valid_ok += replay.valid_ok;
    invalid_ok += replay.invalid_ok;
    const auto& walks = replay.valid_ids;
    // the oracle along the valid tests (every ninth state), then random walks from their prefixes
    for (const auto& ids : walks) {
      Matcher m(g);
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i % (9 * stride) == 0) check(m);
        if (!m.accept_token(ids[i])) break;
      }
      check(m);
    }
    const int want = 48 / static_cast<int>(stride);
    for (int w = 0; w < want; ++w) {
      Matcher m(g);
      auto prefixes = extra_prefixes(name);
      if (!walks.empty() && (prefixes.empty() || w % 2 == 0)) {
        const auto& ids = walks[rng() % walks.size()];
        size_t n = rng() % ids.size();
        for (size_t i = 0; i < n; ++i) REQUIRE(m.accept_token(ids[i]));
      } else if (!prefixes.empty()) {
        REQUIRE(m.accept_bytes(prefixes[rng() % prefixes.size()]));
      }
      for (int s = 0; s < 12; ++s) {
        std::vector<int32_t> mask = tollgate::testing::mask_of(m);
        std::vector<int32_t> ids, closing;
        for (int32_t id = 0; id < tok->vocab_size(); ++id) {
          if (!tollgate::testing::mask_bit(mask, id) || tok->is_eos(id)) continue;
          ids.push_back(id);
          std::string_view b = tok->token_bytes(id);
          if (b.find_first_of("\",]}") != std::string_view::npos) closing.push_back(id);
        }
        if (ids.empty()) break;
        // half the time a token that may end an item, so that walks meet their duplicates
        const auto& from = !closing.empty() && rng() % 2 ? closing : ids;
        if (!m.accept_token(from[rng() % from.size()])) {
          FAIL("a token of the mask was refused");
        }
        if (s % 3 == 2) check(m);
      }
    }
  }
  CHECK(compiled >= 10);
  CHECK(mismatches == 0);
  WARN("uniqueItems on maskbench-dev: " << compiled << " of 12 compile; " << tests << " tests replayed (" << valid_ok
                                        << " valid accepted, " << invalid_ok << " invalid refused); oracle at " << states
                                        << " states, " << mismatches << " mismatches");
}

TEST_CASE("uniqueItems: items with a complement or free arrays", "[json-schema][unique]") {
  // strings not matching ^a.+: after `"a` only `"` remains — not judged, refused
  auto e = schema_error(R"({"type": "array", "items": {"type": "string", "not": {"pattern": "^a.+"}}, "uniqueItems": true})");
  CHECK_THAT(e.message(), Catch::Contains("not"));
  // no type: free arrays and numbers beside non-empty strings
  auto g = schema(R"({"type": "array", "items": {"minLength": 1}, "uniqueItems": true})");
  ACCEPTS(g, R"(["a", [1], [1, 2], 1, {"x": []}])");
  REFUSES(g, R"([[1, 2], [1, 2.0]])");
  REFUSES(g, R"([""])");
  CHECK(oracle_along(g, R"(["a", [1], [1, 2], 1, {"x": []}])") == 0);
}

TEST_CASE("uniqueItems: a key pattern that decides, and a unique array at one index", "[json-schema][unique]") {
  // a key matching ^x is a free array, any other key a unique one: the key decides — refused
  auto e = schema_error(R"({"patternProperties": {"^x": {"type": "array"}},
      "additionalProperties": {"type": "array", "uniqueItems": true}})");
  CHECK_THAT(e.message(), Catch::Contains("patternProperties"));
  // index 1 of a tuple is a unique array
  auto g = schema(R"({"type": "array", "prefixItems": [{"type": "array"}, {"type": "array", "uniqueItems": true}]})");
  ACCEPTS(g, R"([[1, 1], [1, 2], [3, 3]])");
  REFUSES(g, R"([[1, 1], [2, 2]])");
  CHECK(oracle_along(g, R"([[1, 1], [1, 2], [3, 3]])") == 0);
}

TEST_CASE("uniqueItems: prefixItems, each index judged by its own items", "[json-schema][unique]") {
  auto g = schema(R"({"prefixItems": [{"type": "boolean"}, {"type": "boolean"}], "uniqueItems": true})");
  ACCEPTS(g, "[true, false, 1, \"x\"]");
  REFUSES(g, "[false, false]");
  REFUSES(g, "[true, false, true]");
  CHECK_FALSE(prefix_ok(g, "[true, t"));
  CHECK_FALSE(prefix_ok(g, "[true, false, t"));  // any value from index 2: `t` can only be a repeated true
  CHECK(prefix_ok(g, "[true, false, n"));
  CHECK(oracle_along(g, "[true, false, 1, \"x\"]") == 0);
  auto closed = schema(R"({"prefixItems": [{"type": "boolean"}, {"type": "boolean"}], "items": false, "uniqueItems": true})");
  ACCEPTS(closed, "[false, true]");
  REFUSES(closed, "[true, true]");
  CHECK(allowed_after(closed, "[true, ").find('t') == std::string::npos);
  CHECK(oracle_along(closed, "[false, true]") == 0);
  // index 0 from a list, index 1 free: the list runs out only for index 0
  auto mixed = schema(R"({"prefixItems": [{"enum": ["a", "b"]}, {"type": "string"}], "minItems": 2, "uniqueItems": true})");
  ACCEPTS(mixed, R"(["a", "b"])");
  REFUSES(mixed, R"(["a", "a"])");
  CHECK(oracle_along(mixed, R"(["a", "b"])") == 0);
}

TEST_CASE("uniqueItems: random arrays agree with JSON equality (nlohmann::json ==)", "[json-schema][unique]") {
  // values with several spellings of one JSON value (numbers, `\/`, key orders, nesting); only spellings
  // the grammar writes (no \u00e9 for é, no \u000a for \n: see docs/json_schema.md)
  const std::vector<std::string> pool = {
      "1", "1.0", "10e-1", "0.1e1", "2", "-0", "0", "0.0", "1e2", "100", "100.5", "1005e-1", "\"a\"", "\"b\"",
      "\"a\\/\"", "\"a/\"", "\"\\n\"", "\"\\t\"", "\"\"", "true", "false", "null", "[]", "[1]", "[1.0]",
      "[1, 2]", "[2, 1]", "{}", "{\"a\": 1}", "{\"a\": 1.0}", "{\"a\": 1, \"b\": 2}", "{\"b\": 2, \"a\": 1}",
      "{\"a\": [true]}", "{\"a\": {\"b\": null}}", "{\"a\": {\"b\": null}, \"c\": \"\"}", "\"é\"", "\"e\""};
  auto g = schema(R"({"uniqueItems": true})");
  std::mt19937 rng(5);
  int agree = 0;
  for (int n = 0; n < 400; ++n) {
    size_t len = rng() % 5;
    std::string doc = "[";
    std::vector<nlohmann::json> vals;
    for (size_t i = 0; i < len; ++i) {
      const std::string& v = pool[rng() % pool.size()];
      doc += (i ? ", " : "") + v;
      vals.push_back(nlohmann::json::parse(v));
    }
    doc += "]";
    bool distinct = true;
    for (size_t i = 0; i < vals.size(); ++i)
      for (size_t j = i + 1; j < vals.size(); ++j) distinct = distinct && !(vals[i] == vals[j]);
    INFO(doc);
    bool got = accepts(g, doc);
    CHECK(got == distinct);
    agree += got == distinct;
  }
  CHECK(agree == 400);
}

TEST_CASE("uniqueItems: a serialised grammar keeps its plan", "[json-schema][unique]") {
  auto g = schema(R"({"properties": {"t": {"type": "array", "items": {"enum": ["a", "b"]}, "uniqueItems": true}}})");
  auto back = tollgate::CompiledGrammar::deserialize(g->serialize(), tollgate::TokenizerInfo::bytes_with_eos());
  ACCEPTS(back, R"({"t": ["a", "b"]})");
  REFUSES(back, R"({"t": ["b", "b"]})");
  CHECK(allowed_after(back, R"({"t": ["a", ")") == "b");
  // a blob cut inside the plan is refused, not crashed on
  std::string blob = g->serialize();
  CHECK_THROWS_AS(tollgate::CompiledGrammar::deserialize(blob.substr(0, blob.size() - 3), tollgate::TokenizerInfo::bytes_with_eos()), tollgate::Error);
}

TEST_CASE("uniqueItems: under contains, reached elsewhere too", "[json-schema][unique]") {
  // the same definition is an exact unique array at /properties/a, but under contains only the matching
  // item must be unique: the path does not decide, so it is refused rather than enforced on every item
  auto e = schema_error(R"({"$defs": {"set": {"type": "array", "uniqueItems": true}},
      "properties": {"a": {"$ref": "#/$defs/set"}, "b": {"type": "array", "contains": {"$ref": "#/$defs/set"}}}})");
  CHECK(e.pos().pointer == "/$defs/set/uniqueItems");
  CHECK_THAT(e.message(), Catch::Contains("contains"));
}

TEST_CASE("uniqueItems: brought back by a double complement", "[json-schema][unique]") {
  // /properties/a is exact; ¬{properties: {x: ¬set}} makes x a unique array where the plan did not look
  auto e = schema_error(R"({"$defs": {"set": {"type": "array", "uniqueItems": true}},
      "properties": {"a": {"$ref": "#/$defs/set"}},
      "not": {"properties": {"x": {"not": {"$ref": "#/$defs/set"}}}, "required": ["x"]}})");
  CHECK(e.pos().pointer == "/$defs/set/uniqueItems");
}
