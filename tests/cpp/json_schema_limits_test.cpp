// JSON Schema front-end at its limits: large enums and alternations compile, huge bounds and cyclic or
// very long $ref chains give a clear error (never a hang, a crash or a blow-up), long lines in an error
// are shown as a window around the column. Matching is byte by byte (a 256-token vocabulary).
#include "test_support.hpp"

#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "grammar/grammar_lint.hpp"
#include "grammar/json_schema.hpp"
#include "tollgate/compiler.hpp"
#include "tollgate/matcher.hpp"

namespace {

using tollgate::CompiledGrammarPtr;
using tollgate::Compiler;
using tollgate::JsonSchemaOptions;
using tollgate::Matcher;
using tollgate::TokenizerInfo;

using tollgate::testing::accepts;
using tollgate::testing::schema;

tollgate::Error schema_error(const std::string& text, JsonSchemaOptions opt = {}) {
  try {
    schema(text, opt);
  } catch (const tollgate::Error& e) {
    return e;
  }
  FAIL("expected an error for " << text.substr(0, 200));
  return tollgate::Error(tollgate::ErrorKind::kSchema, "");
}

std::string quoted_list(int n, const std::string& prefix) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? ",\"" : "\"") + prefix + std::to_string(i) + "\"";
  return s;
}

// "$defs": {"a0": BODY(1), "a1": BODY(2), ...}: BODY gets the index of the next definition.
std::string defs_chain(int n, const std::function<std::string(int)>& body, const std::string& extra = "") {
  std::string s = R"({"$ref": "#/$defs/a0", "$defs": {)";
  for (int i = 0; i < n; ++i) s += (i ? ",\"a" : "\"a") + std::to_string(i) + "\": " + body(i + 1);
  return s + "}" + extra + "}";
}

}  // namespace

TEST_CASE("json schema limits: the 40-word alternation and a 100,000-value enum compile", "[json-schema][limits]") {
  const std::string words =
      "alpha|bravo|charlie|delta|echo|foxtrot|golf|hotel|india|juliet|kilo|lima|mike|november|oscar|papa|quebec|"
      "romeo|sierra|tango|uniform|victor|whiskey|xray|yankee|zulu|apple|banana|cherry|grape|lemon|mango|orange|"
      "peach|pear|plum|berry|melon|kiwi|lime";
  auto w = schema(R"({"type": "string", "pattern": "^()" + words + R"()$"})");
  CHECK(accepts(w, R"("kiwi")"));
  CHECK(accepts(w, R"("november")"));
  CHECK_FALSE(accepts(w, R"("kiwis")"));
  CHECK_FALSE(accepts(w, R"("")"));

  auto e = schema(R"({"enum": [)" + quoted_list(100000, "v") + "]}");
  CHECK(accepts(e, R"("v0")"));
  CHECK(accepts(e, R"("v99999")"));
  CHECK(accepts(e, R"("v4711")"));
  CHECK_FALSE(accepts(e, R"("v100000")"));
  CHECK_FALSE(accepts(e, R"("v")"));
  // duplicates and JSON equality (1 == 1.0) in a large enum intersected with another
  std::string ints;
  for (int i = 0; i < 100000; ++i) ints += (i ? "," : "") + std::to_string(i % 50000);
  auto n = schema(R"({"enum": [)" + ints + R"(], "allOf": [{"enum": [7.0, 49999, 50000, "7"]}]})");
  CHECK(accepts(n, "7"));
  CHECK(accepts(n, "49999"));
  CHECK_FALSE(accepts(n, "50000"));
  CHECK_FALSE(accepts(n, R"("7")"));
}

// Length bounds above 256 code points compile as chunks of K code points counted by a chain of
// rules (grammar/json_schema.cpp, chunked_string): exact at every length around the chunk borders and
// the bounds, with multi-byte characters and escapes counted as one code point each.
TEST_CASE("json schema limits: large length bounds are exact", "[json-schema][limits]") {
  auto str = [](size_t n, const std::string& unit = "a") {
    std::string s = "\"";
    for (size_t i = 0; i < n; ++i) s += unit;
    return s + "\"";
  };
  auto g = schema(R"({"type": "string", "maxLength": 65535})");  // K = 64
  for (size_t n : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{128}, size_t{4095}, size_t{4096},
                   size_t{4097}, size_t{8191}, size_t{8192}, size_t{61439}, size_t{61440}, size_t{61441}, size_t{65407},
                   size_t{65408}, size_t{65534}, size_t{65535}})
    CHECK(accepts(g, str(n)));
  CHECK_FALSE(accepts(g, str(65536)));
  CHECK_FALSE(accepts(g, str(70000)));
  // code points, not bytes: é (2 bytes), 😀 (4 bytes), \n and \u001f (one code point each)
  for (const std::string unit : {"\xC3\xA9", "\xF0\x9F\x98\x80", "\\n", "\\u001f"}) {
    CHECK(accepts(g, str(65535, unit)));
    CHECK_FALSE(accepts(g, str(65536, unit)));
  }
  CHECK_FALSE(accepts(g, "\"" + std::string(200, 'a') + "\"a\""));  // a quote ends the string
  auto lo = schema(R"({"type": "string", "minLength": 20000, "maxLength": 20100})");
  for (size_t n : {size_t{19999}, size_t{20101}, size_t{30000}}) CHECK_FALSE(accepts(lo, str(n)));
  for (size_t n : {size_t{20000}, size_t{20050}, size_t{20100}}) CHECK(accepts(lo, str(n)));
  auto open = schema(R"({"type": "string", "minLength": 10001})");
  CHECK_FALSE(accepts(open, str(10000)));
  for (size_t n : {size_t{10001}, size_t{10240}, size_t{50000}}) CHECK(accepts(open, str(n)));
  // inside an object, next to other members
  auto obj = schema(R"({"type": "object", "properties": {"d": {"type": "string", "maxLength": 100000},
                       "n": {"type": "integer"}}, "required": ["d", "n"], "additionalProperties": false})");
  CHECK(accepts(obj, "{\"d\": " + str(100000) + ", \"n\": 1}"));
  CHECK_FALSE(accepts(obj, "{\"d\": " + str(100001) + ", \"n\": 1}"));
  // 1,000,000 compiles too (blocks of 64 chunks of 64: 244 block rules and the chunk chains)
  auto big = schema(R"({"type": "string", "maxLength": 1000000})");
  CHECK(accepts(big, str(1000000)));
  CHECK_FALSE(accepts(big, str(1000001)));
}

TEST_CASE("json schema limits: huge bounds give a clear error, or relax under lenient", "[json-schema][limits]") {
  for (const char* kw : {"maxLength", "minLength"}) {
    const std::string text = std::string(R"({"type": "string", ")") + kw + R"(": 1000000000})";
    auto err = schema_error(text);
    CHECK(err.kind() == tollgate::ErrorKind::kSchema);
    CHECK_THAT(err.message(), Catch::Contains(kw));
    JsonSchemaOptions lenient;
    lenient.lenient = true;
    auto g = schema(text, lenient);
    REQUIRE(g->warnings().size() == 1);
    CHECK_THAT(g->warnings()[0].message, Catch::Contains(kw));
  }
  for (const char* text : {R"({"type": "array", "minItems": 10000})",
                           R"({"type": "array", "items": {"type": "integer"}, "minItems": 10000, "maxItems": 20000})"}) {
    auto err = schema_error(text);
    CHECK(err.kind() == tollgate::ErrorKind::kSchema);
    CHECK_THAT(err.message(), Catch::Contains("minItems"));
  }
}

TEST_CASE("json schema limits: cyclic and very long $ref chains", "[json-schema][limits]") {
  // cycles that read no value: an error naming the cycle
  auto e = schema_error(R"({"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/c"},
                                                         "c": {"$ref": "#/$defs/a"}}})");
  CHECK_THAT(e.message(), Catch::Contains("cyclic"));
  CHECK(e.pos().pointer == "/$defs/a");
  constexpr int kLong = 20000;
  auto ref = [](int next) { return "{\"$ref\": \"#/$defs/a" + std::to_string(next % kLong) + "\"}"; };
  e = schema_error(defs_chain(kLong, ref));
  CHECK(e.kind() == tollgate::ErrorKind::kSchema);
  CHECK_THAT(e.message(), Catch::Contains("chain of more than"));
  e = schema_error(defs_chain(kLong, [&](int next) { return "{\"allOf\": [" + ref(next) + "]}"; }));
  CHECK_THAT(e.message(), Catch::Contains("chain of more than"));
  // through a combinator: each branch refers on, so no value is ever read
  e = schema_error(defs_chain(kLong, [&](int next) { return "{\"anyOf\": [" + ref(next) + ", {\"type\": \"null\"}]}"; }));
  CHECK_THAT(e.message(), Catch::Contains("nested more than"));
  e = schema_error(R"({"anyOf": [{"$ref": "#"}, {"type": "string"}]})");
  CHECK_THAT(e.message(), Catch::Contains("nested more than"));
  CHECK(schema_error(R"({"oneOf": [{"$ref": "#"}, {"type": "string"}]})").kind() == tollgate::ErrorKind::kSchema);
  // a long chain that ends: below the bound it compiles, above it is refused
  auto ends = [](int n) {
    return defs_chain(n, [n](int next) {
      return next == n ? std::string(R"({"type": "string"})") : "{\"$ref\": \"#/$defs/a" + std::to_string(next) + "\"}";
    });
  };
  CHECK(accepts(schema(ends(900)), R"("x")"));
  CHECK_THAT(schema_error(ends(kLong)).message(), Catch::Contains("chain of more than"));
  // a long cycle through properties reads a value at every link: a recursive grammar, compiled (rules
  // come from a work list; the generator used to recurse per level and stopped at 200)
  constexpr int kRing = 2000;
  auto g = schema(defs_chain(kRing, [](int next) {
    return R"({"type": "object", "additionalProperties": false, "properties": {"x": {"$ref": "#/$defs/a)" +
           std::to_string(next % kRing) + R"("}}})";
  }));
  CHECK(accepts(g, R"({"x": {"x": {"x": {}}}})"));
  CHECK_FALSE(accepts(g, R"({"x": {"y": {}}})"));
  // a "billion laughs" chain: every level's two branches refer to the next level, 2^levels ways down
  // one value. Refused with a clear error after a bounded count of distributions, not worked through
  // (with unevaluatedProperties on top, whose evaluation cases are worked out once per node first)
  auto laughs = [](int levels, const std::string& extra) {
    return defs_chain(levels, [levels](int next) {
      const std::string to = next == levels ? std::string(R"({"required": ["z"]})")
                                            : "{\"$ref\": \"#/$defs/a" + std::to_string(next) + "\"}";
      return "{\"anyOf\": [" + to + ", {\"allOf\": [" + to + "]}]}";
    }, extra);
  };
  for (const std::string extra : {"", R"(, "unevaluatedProperties": false)"}) {
    INFO("extra: " << extra);
    e = schema_error(laughs(18, extra));
    CHECK(e.kind() == tollgate::ErrorKind::kSchema);
    CHECK_THAT(e.message(), Catch::Contains("distributed more than"));
  }
  CHECK(accepts(schema(laughs(6, "")), R"({"z": 1})"));  // 2^6 ways: compiled
}

// FHIR's shape: n resources, each with its own properties and a `contained` array whose items refer back
// to the root list, a oneOf over every resource (disjoint by their resourceType const).
std::string resources_schema(int n) {
  std::string defs, list;
  for (int i = 0; i < n; ++i) {
    std::string name = "R" + std::to_string(i);
    list += (i ? "," : "") + std::string(R"({"$ref": "#/definitions/)") + name + "\"}";
    defs += R"(")" + name + R"(": {"type": "object", "additionalProperties": false, "required": ["resourceType"],
      "properties": {"resourceType": {"const": ")" + name + R"("}, "id": {"$ref": "#/definitions/id"},
        "note": {"type": "string", "description": "a note"}, "count": {"type": "integer", "minimum": 0},
        "flag": {"type": "boolean"}, "tags": {"type": "array", "items": {"$ref": "#/definitions/id"}},
        "contained": {"type": "array", "items": {"$ref": "#/definitions/ResourceList"}}}},)";
  }
  return R"({"$schema": "http://json-schema.org/draft-06/schema#", "$ref": "#/definitions/ResourceList",
    "definitions": {)" + defs + R"("id": {"type": "string", "pattern": "^[A-Za-z0-9.-]{1,64}$"},
    "ResourceList": {"oneOf": [)" + list + "]}}}";
}

TEST_CASE("json schema limits: $ref sites share their target's rules (FHIR-shaped, linear in size)",
          "[json-schema][limits]") {
  // Every `{"$ref": X}` site is X itself: the list's resources are emitted once, not once more under
  // each resource's `contained` (which made the grammar quadratic in the number of resources).
  auto rules = [](int n) { return tollgate::grammar::json_schema_to_grammar(resources_schema(n), {}, "r").rules.size(); };
  const size_t r20 = rules(20), r40 = rules(40);
  INFO("rules for 20 resources: " << r20 << ", for 40: " << r40);
  CHECK(r40 < r20 * 5 / 2);
  auto g = schema(resources_schema(40));
  CHECK(accepts(g, R"({"resourceType": "R3", "id": "a-1", "contained": [{"resourceType": "R39", "tags": ["x"], )"
                   R"("contained": [{"resourceType": "R0", "count": 2}]}]})"));
  CHECK_FALSE(accepts(g, R"({"resourceType": "R3", "contained": [{"resourceType": "R40"}]})"));
  CHECK_FALSE(accepts(g, R"({"resourceType": "R3", "contained": [{"resourceType": "R1", "id": "a b"}]})"));
  CHECK_FALSE(accepts(g, R"({"resourceType": "R3", "count": -1})"));
}

TEST_CASE("json schema limits: any property order with hundreds of required properties is linear",
          "[json-schema][limits]") {
  // Kubernetes' all-definitions schema requires 587 properties. Beyond the tracked few, required
  // properties keep the schema's order among themselves; optional ones go anywhere.
  auto text = [](int n) {
    std::string props = R"("opt": {"type": "integer"})", req;
    for (int i = 0; i < n; ++i) {
      props += ",\"p" + std::to_string(i) + "\": {\"type\": \"boolean\"}";
      req += (i ? ",\"p" : "\"p") + std::to_string(i) + "\"";
    }
    return R"({"type": "object", "properties": {)" + props + "}, \"required\": [" + req + "]}";
  };
  JsonSchemaOptions any;
  any.property_order = JsonSchemaOptions::PropertyOrder::kAny;
  any.whitespace = JsonSchemaOptions::Whitespace::kCompact;
  // the size of the grammar: expression nodes over all rule bodies (a shared node once per use)
  std::function<size_t(const tollgate::grammar::GExpr&)> nodes = [&](const tollgate::grammar::GExpr& e) {
    size_t k = 1;
    for (const auto& i : e.items) k += nodes(*i);
    return k;
  };
  auto rules = [&](int n) {
    size_t k = 0;
    for (const auto& r : tollgate::grammar::json_schema_to_grammar(text(n), any, "r").rules) k += nodes(*r.body);
    return k;
  };
  const size_t r300 = rules(300), r600 = rules(600);
  INFO("grammar nodes for 300 required: " << r300 << ", for 600: " << r600);
  CHECK(r600 < r300 * 5 / 2);
  auto g = schema(text(300), any);
  std::string doc = "{";
  for (int i = 0; i < 300; ++i) doc += (i ? ",\"p" : "\"p") + std::to_string(i) + "\":true" + (i == 150 ? ",\"opt\":3" : "");
  CHECK(accepts(g, doc + "}"));
  CHECK(accepts(g, "{\"opt\":1," + doc.substr(1) + "}"));
  CHECK_FALSE(accepts(g, doc.substr(0, doc.rfind(',')) + "}"));  // the last required one missing
}

TEST_CASE("json schema limits: an error in a long line shows a window around the column", "[json-schema][limits]") {
  std::string filler;
  for (int i = 0; i < 5000; ++i) filler += "\"p" + std::to_string(i) + "\": {}, ";
  auto e = schema_error(R"({"type": "object", "properties": {)" + filler + R"("bad": {"minLength": -1}}})");
  const std::string pretty = e.pretty();
  CHECK(pretty.size() < 600);
  CHECK_THAT(pretty, Catch::Contains("minLength"));
  CHECK_THAT(pretty, Catch::Contains("\n  ...\"p4997\": {}, \"p4998\": {}, \"p4999\": {}, \"bad\": {\"minLength\": -1}}}"));
  // the caret sits under the column: the window starts 60 code points before it, after "  ..."
  const auto lines = pretty.substr(pretty.find('\n') + 1);
  const auto caret_line = lines.substr(lines.find('\n') + 1);
  CHECK(caret_line.find('^') == 2 + 3 + 60);
}

// A sub-schema no finite JSON value satisfies (an object that requires itself) is pruned: the key
// that leads to it may not appear, the items that would hold it make an empty array only, and the
// rules the root no longer reaches stay in place (no index moves) but are neither shown nor counted.
TEST_CASE("json schema: unsatisfiable sub-schemas are pruned, what the root no longer reaches is not shown",
          "[json-schema]") {
  const std::string text = R"({"type": "object", "properties": {
      "r": {"$ref": "#/$defs/loop"}, "k": {"type": "array", "items": {"$ref": "#/$defs/loop"}},
      "s": {"type": "string"}},
    "$defs": {"loop": {"type": "object", "properties": {"n": {"$ref": "#/$defs/loop"}}, "required": ["n"]}}})";
  auto g = schema(text);
  CHECK(accepts(g, R"({"k": [], "s": "x"})"));
  CHECK(accepts(g, R"({})"));
  CHECK_FALSE(accepts(g, R"({"r": {}})"));
  CHECK_FALSE(accepts(g, R"({"k": [{}]})"));
  CHECK_FALSE(accepts(g, R"({"k": [{"n": {}}]})"));

  tollgate::grammar::Grammar ir = tollgate::grammar::json_schema_to_grammar(text, {}, "loop.json");
  size_t removed = 0;
  for (const auto& r : ir.rules) {
    if (!r.removed) continue;
    ++removed;
    CHECK(r.body->kind == tollgate::grammar::GExpr::Kind::kEmpty);
  }
  CHECK(removed > 0);  // the loop's rules
  CHECK(ir.rule_count() == ir.rules.size() - removed);
  std::set<std::string> shown;  // the rule each line of the text defines
  std::istringstream lines(tollgate::grammar::grammar_to_text(ir));
  for (std::string line; std::getline(lines, line);) shown.insert(line.substr(0, line.find(' ')));
  for (const auto& r : ir.rules) {
    INFO(r.name);
    CHECK(shown.count(r.name) == (r.removed ? 0u : 1u));
  }
}
