// JSON Schema front-end: semantics by example (accepted ⇔ valid), errors and warnings.
// Matching is byte by byte against a 256-token byte vocabulary, so the language itself is tested;
// the conformance runners (JSON Schema Test Suite, MaskBench) test it at scale.
#include "test_support.hpp"

#include <string>
#include <vector>

#include "tollgate/compiler.hpp"
#include "tollgate/matcher.hpp"

namespace {

using tollgate::CompiledGrammarPtr;
using tollgate::Compiler;
using tollgate::JsonSchemaOptions;
using tollgate::Matcher;

using tollgate::testing::accepts;
using tollgate::testing::schema;

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

TEST_CASE("json schema: scalars, true, false, {}", "[json-schema]") {
  auto s = schema(R"({"type": "string"})");
  ACCEPTS(s, R"("abc")");
  ACCEPTS(s, R"("a\"b\\c\n")");
  REFUSES(s, R"("a"b")");
  REFUSES(s, "12");
  auto any = schema("{}");
  ACCEPTS(any, R"({"a": [1, 2.5e3, null, true, {"b": "c"}]})");
  ACCEPTS(any, "-0.5");
  REFUSES(any, "{");
  auto t = schema("true");
  ACCEPTS(t, "[]");
  // false (or any contradiction) at the top: an empty language, which is a clear error
  CHECK_THAT(schema_error("false").message(), Catch::Contains("accepts no JSON value"));
  CHECK_THAT(schema_error(R"({"type": "string", "enum": [1, 2]})").message(), Catch::Contains("accepts no JSON value"));
  auto inner_false = schema(R"({"properties": {"a": false}})");
  ACCEPTS(inner_false, R"({"b": 1})");
  REFUSES(inner_false, R"({"a": 1})");
  auto n = schema(R"({"type": ["null", "boolean"]})");
  ACCEPTS(n, "null");
  ACCEPTS(n, "false");
  REFUSES(n, "0");
  auto i = schema(R"({"type": "integer"})");
  ACCEPTS(i, "12");
  ACCEPTS(i, "-3");
  ACCEPTS(i, "1.0");  // an integer in 2020-12
  REFUSES(i, "1.5");
  REFUSES(i, "01");
  auto nullable = schema(R"({"type": "string", "nullable": true})");
  ACCEPTS(nullable, "null");
  ACCEPTS(nullable, R"("x")");
}

TEST_CASE("json schema: objects in schema order, required, additionalProperties", "[json-schema]") {
  auto s = schema(R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
                      "required": ["b"]})");
  ACCEPTS(s, R"({"a": 1, "b": "x"})");
  ACCEPTS(s, R"({"b": "x"})");
  ACCEPTS(s, R"({"b":"x","extra":[1,2]})");       // additionalProperties defaults to true
  ACCEPTS(s, R"({"zz": null, "a": 1, "b": "x"})");
  REFUSES(s, R"({"a": 1})");                        // b is required
  REFUSES(s, R"({"a": "no", "b": "x"})");
  REFUSES(s, R"({"b": "x", "a": 1})");              // schema order
  REFUSES(s, R"({"b": "x", "b": "y"})");            // a named key is not an extra key
  auto closed = schema(R"({"properties": {"a": {"const": 1}}, "additionalProperties": false})");
  ACCEPTS(closed, "{}");
  ACCEPTS(closed, R"({"a": 1.0})");  // 1 == 1.0
  REFUSES(closed, R"({"a": 2})");
  REFUSES(closed, R"({"b": 1})");
  ACCEPTS(closed, "[1]");  // no type: arrays are fine
  auto typed = schema(R"({"type": "object", "additionalProperties": {"type": "integer"}})");
  ACCEPTS(typed, R"({"x": 1, "y": 2})");
  REFUSES(typed, R"({"x": "1"})");
  auto pat = schema(R"({"type": "object", "properties": {"id": {"type": "string"}},
                        "patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": false})");
  ACCEPTS(pat, R"({"id": "a", "x-b": 2})");
  REFUSES(pat, R"({"id": "a", "x-b": "2"})");
  REFUSES(pat, R"({"y": 1})");
  // Keys are classed by the patterns they match; patterns that cannot start alike are told apart
  // without their product automaton, but two that both match the empty key still meet there.
  auto tagged = schema(R"({"type": "object", "patternProperties": {"^(title_[a-z]{2})$": {"type": "string"},
                           "^(description_[a-z]{2})$": {"type": "integer"}, "^x": {"type": "boolean"},
                           "_[a-z]{2}$": {"maxLength": 3}}, "additionalProperties": false})");
  ACCEPTS(tagged, R"({"title_en": "abc", "description_fr": 4, "xy": true})");
  REFUSES(tagged, R"({"title_en": "abcd"})");  // both "^(title_…)$" and "_[a-z]{2}$"
  REFUSES(tagged, R"({"description_fr": "a"})");
  ACCEPTS(tagged, R"({"x_en": true})");    // "^x" and "_[a-z]{2}$" (maxLength is for strings)
  REFUSES(tagged, R"({"x_en": "abcd"})");  // "^x" wants a boolean
  REFUSES(tagged, R"({"y": 1})");
  auto empty_key = schema(R"({"type": "object", "patternProperties": {"^(a)?$": {"type": "integer"},
                              "^(b)?$": {"minimum": 5}}, "additionalProperties": false})");
  ACCEPTS(empty_key, R"({"": 7, "a": 3, "b": "x"})");
  REFUSES(empty_key, R"({"": 3})");  // the empty key matches both patterns
  REFUSES(empty_key, R"({"a": "x"})");
  REFUSES(empty_key, R"({"b": 3})");
  REFUSES(empty_key, R"({"c": 3})");
  // A named key is never an extra one, whether patterns match it or not: an extra class's keys
  // leave out the names its patterns all match ("title_en" in the class of both patterns, "tag" in
  // that of "^t" alone), and the names no pattern matches ("id", "name") only where no pattern is.
  auto named = schema(R"({"type": "object", "properties": {"id": {"type": "string"}, "title_en": {"type": "string"},
                          "tag": {"type": "string"}, "name": {"type": "null"}},
                          "patternProperties": {"^(title_[a-z]{2})$": {"maxLength": 3}, "^t": {"type": "string"}}})");
  ACCEPTS(named, R"({"id": "a", "title_en": "abc", "tag": "t", "name": null, "title_fr": "xyz", "tx": "q", "z": 1})");
  ACCEPTS(named, R"({"titleX": "long enough", "tags": "x", "names": 2, "ids": [1]})");
  REFUSES(named, R"({"id": "a", "title_en": "abcd"})");  // named, and the pattern's maxLength too
  REFUSES(named, R"({"title_en": "a", "title_en": "b"})");
  REFUSES(named, R"({"tag": "a", "tag": "b"})");
  REFUSES(named, R"({"id": "a", "id": "b"})");
  REFUSES(named, R"({"name": null, "name": null})");
  REFUSES(named, R"({"title_de": "abcd"})");
  REFUSES(named, R"({"tx": 1})");
  // OCDS's language-tagged fields: patterns that end in one long language tag, whose union (the
  // complement every class takes) is built with the tag joined once (alt_joining_suffixes); keys
  // outside every pattern and every name: one complement of both.
  const std::string tag =
      R"((([A-Za-z]{2,3}(-([A-Za-z]{3}(-[A-Za-z]{3}){0,2}))?)|[A-Za-z]{4}|[A-Za-z]{5,8})(-([A-Za-z]{4}))?(-([A-Za-z]{2}|[0-9]{3}))?)";
  auto ocds = schema(R"({"type": "object", "properties": {"title": {"type": "string"}, "title_x": {"type": "null"}},
                         "patternProperties": {"^(title_()" + tag + R"())$": {"type": "string", "maxLength": 3},
                         "^(description_()" + tag + R"())$": {"type": "boolean"}, "^(name_()" + tag + R"())$": {"type": "null"},
                         "^t": {"minLength": 1}}, "additionalProperties": {"type": "integer"}})");
  ACCEPTS(ocds, R"({"title": "T", "title_en": "abc", "title_zh-Hant-TW": "x", "description_fr": true, "name_de-CH": null})");
  ACCEPTS(ocds, R"({"title_x": null, "titleX": 1, "description_": 2, "name_e": 3, "name_toolongtag": 4, "z": 5})");
  REFUSES(ocds, R"({"title_en": "abcd"})");        // the tag's pattern: at most 3
  REFUSES(ocds, R"({"title_en": ""})");            // and "^t": at least 1
  REFUSES(ocds, R"({"description_fr": 1})");       // a boolean
  REFUSES(ocds, R"({"name_de-CH": "x"})");         // null
  REFUSES(ocds, R"({"name_e": "x"})");             // no tag: an extra key, an integer
  REFUSES(ocds, R"({"zz": "x"})");
  REFUSES(ocds, R"({"title_x": null, "title_x": null})");  // named: never an extra key
  REFUSES(ocds, R"({"title": "a", "title": "b"})");
}

TEST_CASE("json schema: property counts", "[json-schema]") {
  auto s = schema(R"({"type": "object", "minProperties": 1, "maxProperties": 2})");
  REFUSES(s, "{}");
  ACCEPTS(s, R"({"a": 1})");
  ACCEPTS(s, R"({"a": 1, "b": 2})");
  REFUSES(s, R"({"a": 1, "b": 2, "c": 3})");
}

TEST_CASE("json schema: arrays", "[json-schema]") {
  auto s = schema(R"({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3})");
  REFUSES(s, "[]");
  ACCEPTS(s, "[1]");
  ACCEPTS(s, "[1, 2, 3]");
  REFUSES(s, "[1, 2, 3, 4]");
  REFUSES(s, R"([1, "2"])");
  auto tuple = schema(R"({"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false})");
  ACCEPTS(tuple, R"(["a", 1])");
  ACCEPTS(tuple, R"(["a"])");
  ACCEPTS(tuple, "[]");
  REFUSES(tuple, R"(["a", 1, 2])");
  REFUSES(tuple, R"([1])");
  auto d7 = schema(R"({"$schema": "http://json-schema.org/draft-07/schema#",
                       "items": [{"type": "string"}], "additionalItems": {"type": "integer"}})");
  ACCEPTS(d7, R"(["a", 1, 2])");
  REFUSES(d7, R"(["a", "b"])");
  auto contains = schema(R"({"type": "array", "contains": {"const": 5}})");
  ACCEPTS(contains, "[1, 5, 2]");
  REFUSES(contains, "[1, 2]");
  REFUSES(contains, "[]");
}

TEST_CASE("json schema: enum, const, combinators", "[json-schema]") {
  auto e = schema(R"({"enum": ["red", "green", 3, null, {"a": [1]}]})");
  ACCEPTS(e, R"("red")");
  ACCEPTS(e, "3.0");
  ACCEPTS(e, "null");
  ACCEPTS(e, R"({"a": [1]})");
  REFUSES(e, R"("blue")");
  REFUSES(e, "4");
  auto te = schema(R"({"type": "string", "enum": ["a", 1, "b"]})");
  ACCEPTS(te, R"("a")");
  REFUSES(te, "1");
  auto any = schema(R"({"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 0}]})");
  ACCEPTS(any, R"("x")");
  ACCEPTS(any, "0");
  REFUSES(any, "null");
  auto one = schema(R"({"oneOf": [{"type": "string"}, {"type": "null"}]})");
  ACCEPTS(one, "null");
  REFUSES(one, "1");
  auto disc = schema(R"({"oneOf": [
      {"type": "object", "properties": {"kind": {"const": "a"}, "x": {"type": "integer"}}, "required": ["kind"]},
      {"type": "object", "properties": {"kind": {"const": "b"}}, "required": ["kind"]}]})");
  ACCEPTS(disc, R"({"kind": "a", "x": 1})");
  ACCEPTS(disc, R"({"kind": "b", "x": "any"})");
  REFUSES(disc, R"({"kind": "c"})");
  auto xor_req = schema(R"({"oneOf": [{"required": ["a"]}, {"required": ["b"]}]})");
  ACCEPTS(xor_req, R"({"a": 1})");
  ACCEPTS(xor_req, R"({"b": 1})");
  REFUSES(xor_req, R"({"a": 1, "b": 2})");  // both branches match
  REFUSES(xor_req, "{}");
  REFUSES(xor_req, "1");  // both branches hold for a non-object
  auto xor_pat = schema(R"({"oneOf": [{"pattern": "^[0-9a-f]+$"}, {"pattern": "^[0-9A-F]+$"}]})");
  ACCEPTS(xor_pat, R"("ab")");
  ACCEPTS(xor_pat, R"("AB")");
  REFUSES(xor_pat, R"("12")");
  REFUSES(xor_pat, R"("aB")");
  auto all = schema(R"({"allOf": [{"properties": {"a": {"type": "integer"}}}, {"required": ["a"]}]})");
  ACCEPTS(all, R"({"a": 1})");
  REFUSES(all, "{}");
  auto notnull = schema(R"({"not": {"type": "null"}})");
  ACCEPTS(notnull, "1");
  REFUSES(notnull, "null");
  auto notenum = schema(R"({"type": "string", "not": {"enum": ["a", "b"]}})");
  ACCEPTS(notenum, R"("c")");
  ACCEPTS(notenum, R"("ab")");
  REFUSES(notenum, R"("a")");
  auto ite = schema(R"({"if": {"properties": {"t": {"const": 1}}, "required": ["t"]},
                        "then": {"required": ["x"]}, "else": {"required": ["y"]}})");
  ACCEPTS(ite, R"({"t": 1, "x": 0})");
  REFUSES(ite, R"({"t": 1, "y": 0})");
  ACCEPTS(ite, R"({"t": 2, "y": 0})");
  REFUSES(ite, R"({"t": 2, "x": 0})");
  ACCEPTS(ite, R"({"y": 0})");
}

TEST_CASE("json schema: enum objects and arrays are checked against the other keywords", "[json-schema]") {
  // Each enum value is written only when it is valid: its items and members are checked against items,
  // properties, patternProperties and additionalProperties (an invalid one was written unchecked).
  auto items = schema(R"({"enum": [[1, 2], ["a"], []], "items": {"type": "string"}})");
  ACCEPTS(items, R"(["a"])");
  ACCEPTS(items, "[]");
  REFUSES(items, "[1, 2]");
  auto prefix = schema(R"({"enum": [[1, "x"], ["x", 1]], "prefixItems": [{"type": "integer"}]})");
  ACCEPTS(prefix, R"([1, "x"])");
  REFUSES(prefix, R"(["x", 1])");
  auto extra = schema(R"({"enum": [{"a": 1}, {"a": "x"}, {"n": 1}], "properties": {"n": {"type": "number"}},
                          "additionalProperties": {"type": "string"}})");
  ACCEPTS(extra, R"({"a": "x"})");
  ACCEPTS(extra, R"({"n": 1})");
  REFUSES(extra, R"({"a": 1})");
  auto pattern = schema(R"({"enum": [{"x1": true}, {"x2": null}], "patternProperties": {"^x": {"type": "boolean"}}})");
  ACCEPTS(pattern, R"({"x1": true})");
  REFUSES(pattern, R"({"x2": null})");
  // members and items against number, string and nested keywords: decided on the grammar's automata
  auto finer = schema(R"({"enum": [{"a": 5}, {"a": 50}, {"a": 1e2}, {"a": 5.5}],
                          "properties": {"a": {"type": "integer", "minimum": 10}}})");
  ACCEPTS(finer, R"({"a": 50})");
  ACCEPTS(finer, R"({"a": 100.0})");
  REFUSES(finer, R"({"a": 5})");
  REFUSES(finer, R"({"a": 5.5})");
  auto strings = schema(R"({"enum": [["ab", "abc"], ["x"], [{"k": "no"}], [{"k": "yes"}]],
                            "items": {"anyOf": [{"type": "string", "maxLength": 2}, {"type": "object"}]}})",
                        [] { JsonSchemaOptions o; o.lenient = true; return o; }());
  ACCEPTS(strings, R"(["x"])");
  auto nested = schema(R"({"enum": [[{"k": "no"}], [{"k": "yes"}], [{"k": "y"}]],
                           "items": {"properties": {"k": {"pattern": "^y", "minLength": 2}}}})");
  ACCEPTS(nested, R"([{"k": "yes"}])");
  REFUSES(nested, R"([{"k": "no"}])");
  REFUSES(nested, R"([{"k": "y"}])");
  auto names = schema(R"({"enum": [{"ok": 1}, {"NO": 1}], "propertyNames": {"pattern": "^[a-z]+$"}})");
  ACCEPTS(names, R"({"ok": 1})");
  REFUSES(names, R"({"NO": 1})");
  // what is not evaluated (a combinator inside a member's schema): refused by name, or relaxed under lenient
  const std::string combinator = R"({"enum": [["abc"]], "items": {"anyOf": [{"maxLength": 2}, {"pattern": "c$"}]}})";
  CHECK_THAT(schema_error(combinator).message(), Catch::Contains("keyword 'enum'"));
}

TEST_CASE("json schema: references", "[json-schema]") {
  auto tree = schema(R"({"$defs": {"node": {"type": "object", "properties": {
      "v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
      "required": ["v"], "additionalProperties": false}}, "$ref": "#/$defs/node"})");
  ACCEPTS(tree, R"({"v": 1, "kids": [{"v": 2}, {"v": 3, "kids": [{"v": 4, "kids": []}]}]})");
  REFUSES(tree, R"({"v": 1, "kids": [{"w": 2}]})");
  auto root = schema(R"({"type": ["integer", "array"], "items": {"$ref": "#"}})");
  ACCEPTS(root, "[1, [2, [3]], []]");
  REFUSES(root, R"([1, "a"])");
  auto esc = schema(R"({"$defs": {"a/b": {"type": "integer"}, "c~d": {"type": "string"}, "e f": {"type": "null"}},
                       "properties": {"x": {"$ref": "#/$defs/a~1b"}, "y": {"$ref": "#/$defs/c~0d"},
                                      "z": {"$ref": "#/$defs/e%20f"}}})");
  ACCEPTS(esc, R"({"x": 1, "y": "s", "z": null})");
  REFUSES(esc, R"({"x": "1"})");
  auto anchor = schema(R"({"$defs": {"a": {"$anchor": "num", "type": "number"}}, "$ref": "#num"})");
  ACCEPTS(anchor, "2.5");
  REFUSES(anchor, "true");
  auto ids = schema(R"({"$id": "http://example.com/root.json", "$defs": {
      "b": {"$id": "other.json", "type": "string"}}, "$ref": "other.json"})");
  ACCEPTS(ids, R"("s")");
  REFUSES(ids, "1");
  auto d7 = schema(R"({"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"i": {"type": "integer"}},
                      "$ref": "#/definitions/i", "type": "string"})");
  ACCEPTS(d7, "3");  // draft-07: $ref overrides its siblings
}

TEST_CASE("json schema: property_order any", "[json-schema]") {
  JsonSchemaOptions any;
  any.property_order = JsonSchemaOptions::PropertyOrder::kAny;
  auto s = schema(R"({"properties": {"a": {"type": "integer"}, "b": {}, "c": {}}, "required": ["c", "a"],
                      "additionalProperties": false})", any);
  ACCEPTS(s, R"({"c": 1, "a": 2})");
  ACCEPTS(s, R"({"a": 1, "b": 2, "c": 3})");
  ACCEPTS(s, R"({"b": 2, "c": 3, "a": 4})");
  REFUSES(s, R"({"b": 2, "c": 3})");      // a is required
  REFUSES(s, R"({"a": "x", "c": 1})");
  REFUSES(s, R"({"d": 1, "a": 1, "c": 1})");
  // more required properties than tracked as a set (10): they keep the schema's order among themselves
  std::string many = R"({"required": ["r1","r2","r3","r4","r5","r6","r7","r8","r9","r10","r11"]})";
  auto m = schema(many, any);
  ACCEPTS(m, R"({"x": 0, "r1": 1, "r2": 2, "r3": 3, "r4": 4, "r5": 5, "r6": 6, "r7": 7, "r8": 8, "r9": 9, "r10": 0, "r11": 1})");
  REFUSES(m, R"({"r1": 1, "r2": 2, "r3": 3, "r4": 4, "r5": 5, "r6": 6, "r7": 7, "r8": 8, "r9": 9, "r10": 0})");
  // ten are tracked as a set: any order
  auto ten = schema(R"({"required": ["a","b","c","d","e","f","g","h","i","j"]})", any);
  ACCEPTS(ten, R"({"j": 0, "i": 0, "h": 0, "g": 0, "f": 0, "e": 0, "d": 0, "c": 0, "b": 0, "a": 0})");
  REFUSES(ten, R"({"j": 0, "i": 0, "h": 0, "g": 0, "f": 0, "e": 0, "d": 0, "c": 0, "b": 0})");
}

TEST_CASE("json schema: formatting options", "[json-schema]") {
  std::string text = R"({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "integer"}}}})";
  JsonSchemaOptions compact;
  compact.whitespace = JsonSchemaOptions::Whitespace::kCompact;
  auto c = schema(text, compact);
  ACCEPTS(c, R"({"a":[1,2]})");
  REFUSES(c, R"({"a": [1,2]})");
  JsonSchemaOptions py;
  py.item_separator = ", ";
  py.key_separator = ": ";
  auto p = schema(text, py);
  ACCEPTS(p, R"({"a": [1, 2]})");
  REFUSES(p, R"({"a":[1,2]})");
  auto flex = schema(text);
  ACCEPTS(flex, " {\n  \"a\" : [ 1 ,\n 2 ]\n}\n");
  JsonSchemaOptions narrow;
  narrow.max_whitespace = 2;
  auto n = schema(text, narrow);
  ACCEPTS(n, R"({  "a": [1]})");
  REFUSES(n, R"({   "a": [1]})");
}

TEST_CASE("json schema: errors are clear and positioned", "[json-schema]") {
  auto e = schema_error("{\"type\": \"object\",\n \"properties\": }");
  CHECK(e.kind() == tollgate::ErrorKind::kParse);
  CHECK(e.line() == 2);
  e = schema_error("[1, 2]");
  CHECK(e.kind() == tollgate::ErrorKind::kSchema);
  CHECK_THAT(e.message(), Catch::Contains("object or a boolean"));
  e = schema_error(R"({"properties": {"a": {"$ref": "#/$defs/missing"}}})");
  CHECK(e.kind() == tollgate::ErrorKind::kSchema);
  CHECK(e.pos().pointer == "/properties/a/$ref");
  // the pointer's place in the file too
  e = schema_error("{\n  \"properties\": {\n    \"a\": {\"$ref\": \"#/nowhere\"}\n  }\n}");
  CHECK(e.pos().pointer == "/properties/a/$ref");
  CHECK(e.line() == 3);
  CHECK(e.column() == 19);
  e = schema_error(R"({"$ref": "#"})");
  CHECK_THAT(e.message(), Catch::Contains("cyclic"));
  e = schema_error(R"({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"})");
  CHECK_THAT(e.message(), Catch::Contains("cyclic"));
  e = schema_error(R"({"$ref": "http://example.com/remote.json"})");
  CHECK_THAT(e.message(), Catch::Contains("remote"));
  e = schema_error(R"({"type": "array", "items": {"type": "string", "maxLength": 3}, "uniqueItems": true})");
  CHECK(e.pos().pointer == "/uniqueItems");
  CHECK_THAT(e.message(), Catch::Contains("uniqueItems"));
  e = schema_error(R"({"type": "strin"})");
  CHECK(e.pos().pointer == "/type");
  // a keyword that takes a schema, given something else: named at its pointer
  for (const char* kw :
       {"additionalProperties", "unevaluatedProperties", "unevaluatedItems", "not", "items", "contains"}) {
    INFO(kw);
    e = schema_error(std::string(R"({"anyOf": [{"required": ["a"]}, {"properties": {"b": {}}}], ")") + kw + R"(": 5})");
    CHECK(e.pos().pointer == std::string("/") + kw);
    CHECK_THAT(e.message(), Catch::Contains("a schema must be an object or a boolean, not number"));
  }
}

TEST_CASE("json schema: warnings for unknown and relaxed keywords", "[json-schema]") {
  auto g = schema(R"({"type": "string", "frobnicate": 1, "title": "quiet", "x-vendor": 2})");
  REQUIRE(g->warnings().size() == 1);
  CHECK_THAT(g->warnings()[0].message, Catch::Contains("frobnicate"));
  JsonSchemaOptions lenient;
  lenient.lenient = true;
  auto u = schema(R"({"type": "array", "items": {"type": "integer", "maximum": 9}, "uniqueItems": true})", lenient);
  REQUIRE(u->warnings().size() == 1);
  CHECK(u->warnings()[0].pos.pointer == "/uniqueItems");
  ACCEPTS(u, "[1, 1]");  // relaxed: an over-approximation
}

TEST_CASE("json schema: keywords a $schema's draft does not have are ignored, with TG316", "[json-schema]") {
  // One body under each dialect: what each draft's validators make of it.
  const std::string body = R"("type": "object",
      "properties": {"k": {"const": 1}, "l": {"contains": {"const": 2}}, "m": {"propertyNames": {"maxLength": 1}},
                     "t": {"prefixItems": [{"type": "string"}]}},
      "if": {"required": ["a"]}, "then": {"required": ["b"]},
      "dependentRequired": {"c": ["d"]})";
  auto under = [&](const std::string& dialect) {
    return schema("{" + (dialect.empty() ? "" : R"("$schema": ")" + dialect + R"(", )") + body + "}");
  };
  auto dialect_warning = [](const CompiledGrammarPtr& g) -> std::string {
    for (const auto& w : g->warnings())
      if (w.message.find("(the schema's $schema), ignored as") != std::string::npos) return w.message;
    return "";
  };
  auto d4 = under("http://json-schema.org/draft-04/schema#");
  ACCEPTS(d4, R"({"k": 5, "l": [1], "m": {"long": 0}, "a": 0, "c": 0, "t": [3]})");  // none of them applies
  CHECK_THAT(dialect_warning(d4), Catch::Contains("draft-04") && Catch::Contains("const (at /properties/k)") &&
                                      Catch::Contains("if (at /") && Catch::Contains("dependentRequired"));
  // draft-04: a number in exclusiveMinimum only makes minimum exclusive; from draft-06 it is a bound
  auto x4 = schema(R"({"$schema": "http://json-schema.org/draft-04/schema#", "minimum": 2, "exclusiveMinimum": 5})");
  REFUSES(x4, "2");
  ACCEPTS(x4, "3");
  auto x6 = schema(R"({"$schema": "http://json-schema.org/draft-06/schema#", "minimum": 2, "exclusiveMinimum": 5})");
  REFUSES(x6, "3");
  ACCEPTS(x6, "6");
  auto b4 = schema(R"({"$schema": "http://json-schema.org/draft-04/schema#", "maximum": 2, "exclusiveMaximum": true})");
  REFUSES(b4, "2");
  ACCEPTS(b4, "1.5");
  // draft-04: an integer has no fraction or exponent part (1.0 is a number, not an integer); from
  // draft-06 any whole number is one
  auto i4 = schema(R"({"$schema": "http://json-schema.org/draft-04/schema#",
                       "properties": {"n": {"type": "integer"}, "m": {"type": "integer", "minimum": 3}}})");
  ACCEPTS(i4, R"({"n": -12, "m": 4})");
  REFUSES(i4, R"({"n": 1.0})");
  REFUSES(i4, R"({"m": 4.0})");
  auto i6 = schema(R"({"$schema": "http://json-schema.org/draft-06/schema#", "type": "integer"})");
  ACCEPTS(i6, "1.0");
  // an enum value 1.0 under draft-04's integer: written 1, not 1.0
  auto e4 = schema(R"({"$schema": "http://json-schema.org/draft-04/schema#", "type": ["integer", "string"],
                       "enum": [1.0, "a"]})");
  ACCEPTS(e4, "1");
  REFUSES(e4, "1.0");
  ACCEPTS(e4, R"("a")");
  auto d6 = under("http://json-schema.org/draft-06/schema");
  REFUSES(d6, R"({"k": 5})");      // const is draft-06
  REFUSES(d6, R"({"l": [1]})");    // contains too
  REFUSES(d6, R"({"m": {"long": 0}})");  // and propertyNames
  ACCEPTS(d6, R"({"k": 1, "a": 0, "c": 0, "t": [3]})");  // if/then, dependentRequired, prefixItems are not
  CHECK_THAT(dialect_warning(d6), Catch::Contains("if (at /)") && !Catch::Contains("const"));
  auto d7 = under("http://json-schema.org/draft-07/schema#");
  REFUSES(d7, R"({"a": 0})");      // if/then is draft-07
  ACCEPTS(d7, R"({"t": [3], "a": 0, "b": 0, "c": 0})");  // dependentRequired, prefixItems are not
  CHECK_THAT(dialect_warning(d7), Catch::Contains("dependentRequired") && !Catch::Contains("if ("));
  auto d2019 = under("https://json-schema.org/draft/2019-09/schema");
  REFUSES(d2019, R"({"c": 0})");   // dependentRequired is 2019-09
  ACCEPTS(d2019, R"({"t": [3]})"); // prefixItems is 2020-12
  CHECK_THAT(dialect_warning(d2019), Catch::Contains("prefixItems") && Catch::Contains("2019-09"));
  for (const std::string& d : {std::string(), std::string("https://json-schema.org/draft/2020-12/schema")}) {
    auto g = under(d);
    REFUSES(g, R"({"k": 5})");
    REFUSES(g, R"({"a": 0})");
    REFUSES(g, R"({"c": 0})");
    REFUSES(g, R"({"t": [3]})");
    ACCEPTS(g, R"({"k": 1, "l": [2], "m": {"s": 0}, "t": ["x", 3], "a": 0, "b": 0, "c": 0, "d": 0})");
    CHECK(dialect_warning(g).empty());
  }
}

TEST_CASE("json schema: oneOf over closed objects and arrays uses their complements", "[json-schema]") {
  // branches closed by names overlap in {} only
  auto names = schema(R"({"oneOf": [
      {"properties": {"value": {"type": "string"}, "unit": {"type": "string"}}, "additionalProperties": false},
      {"properties": {"text": {"type": "string"}}, "additionalProperties": false}]})");
  ACCEPTS(names, R"({"value": "1"})");
  ACCEPTS(names, R"({"text": "one"})");
  REFUSES(names, "{}");  // both branches match
  REFUSES(names, R"({"value": "1", "text": "one"})");
  // a recursive closed object: its complement recurses through the $ref and must stop
  auto tree = schema(R"({"$defs": {"t": {"type": "object", "properties": {"c": {"$ref": "#/$defs/t"}},
                                           "additionalProperties": false}},
                          "oneOf": [{"$ref": "#/$defs/t"},
                                    {"type": "object", "properties": {"d": {}}, "additionalProperties": false}]})");
  REFUSES(tree, "{}");
  ACCEPTS(tree, R"({"c": {}})");
  ACCEPTS(tree, R"({"c": {"c": {}}})");
  REFUSES(tree, R"({"c": {"d": 1}})");
  ACCEPTS(tree, R"({"d": [1]})");
  // arrays: [] matches both
  auto coords = schema(R"({"oneOf": [{"type": "array", "items": {"type": "number"}},
                                     {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}]})");
  REFUSES(coords, "[]");
  ACCEPTS(coords, "[1, 2.5]");
  ACCEPTS(coords, "[[1], []]");
  REFUSES(coords, "[1, [2]]");
  // a one-branch oneOf is allOf: disjoint from null by type
  auto one = schema(R"({"oneOf": [{"oneOf": [{"type": "string", "pattern": "^a"}]}, {"type": "null"}]})");
  ACCEPTS(one, R"("ab")");
  ACCEPTS(one, "null");
  REFUSES(one, R"("b")");
}

TEST_CASE("json schema: oneOf branches proven disjoint by keys every branch of theirs requires, and by enum values",
          "[json-schema]") {
  // A closed object against one whose inner oneOf requires a key it forbids in every branch (the
  // complements of these closed objects are not expressible: before, a compile error).
  auto filters = schema(R"({"oneOf": [
      {"type": "object", "properties": {"k": {"type": "string"}, "field": {"type": "string"}, "value": {}, "range": {}},
       "oneOf": [{"required": ["field", "value", "k"]}, {"required": ["field", "range", "k"]}], "additionalProperties": false},
      {"type": "object", "properties": {"k": {"type": "string"}, "field": {"type": "string"}}, "required": ["field", "k"],
       "additionalProperties": false},
      {"type": "object", "properties": {"k": {"type": "string"}, "must": {"type": "array"}}, "additionalProperties": false}]})");
  // expectations from python3-jsonschema (Draft 2020-12)
  ACCEPTS(filters, R"({"k": "a", "field": "f", "value": 1})");
  ACCEPTS(filters, R"({"k": "a", "field": "f"})");
  ACCEPTS(filters, R"({"k": "a"})");
  ACCEPTS(filters, "{}");
  ACCEPTS(filters, R"({"must": []})");
  REFUSES(filters, R"({"k": "a", "field": "f", "value": 1, "range": 2})");
  REFUSES(filters, R"({"field": "f", "value": 1})");
  REFUSES(filters, R"({"k": "a", "field": "f", "must": []})");
  // A discriminator inside each branch of an inner oneOf, against values that must be false.
  auto repos = schema(R"({"oneOf": [
      {"type": "object", "oneOf": [{"properties": {"type": {"enum": ["a"]}}, "required": ["type"]},
                                   {"properties": {"type": {"enum": ["b"]}, "x": {"type": "integer"}}, "required": ["type", "x"]}]},
      {"type": "object", "additionalProperties": {"enum": [false]}, "minProperties": 1, "maxProperties": 1}]})");
  ACCEPTS(repos, R"({"type": "a"})");
  ACCEPTS(repos, R"({"type": "b", "x": 1})");
  REFUSES(repos, R"({"type": "b"})");
  ACCEPTS(repos, R"({"k": false})");
  ACCEPTS(repos, R"({"type": false})");
  REFUSES(repos, "{}");
  REFUSES(repos, R"({"k": true})");
  REFUSES(repos, R"({"type": "c"})");
  // An enum overlaps another branch in its values only: each decided against both, those in both
  // (1) are excluded from both; the other branch's complement is not needed.
  auto values = schema(R"({"oneOf": [{"enum": [1, "s", {"t": "v"}]},
      {"type": ["integer", "object"], "properties": {"a": {"type": "integer"}}, "additionalProperties": false, "minimum": 0}]})");
  ACCEPTS(values, R"("s")");
  ACCEPTS(values, "2");
  ACCEPTS(values, R"({"a": 1})");
  ACCEPTS(values, R"({"t": "v"})");
  REFUSES(values, "1");
  REFUSES(values, R"("t")");
  REFUSES(values, "-1");
  REFUSES(values, R"({"b": 1})");
}

TEST_CASE("json schema: an object or array value excluded, and dependencies on objects only",
          "[json-schema]") {
  // Swagger 1.2's data type: {"type": "void"} is in both branches, so it is excluded from the
  // object branch (before, "excluding an object or array value" refused the schema). Expectations
  // from python3-jsonschema (Draft 2020-12; the dependencies cases Draft 7).
  auto swagger = schema(R"({"oneOf": [{"enum": [{"type": "void"}]},
      {"required": ["type"], "properties": {"type": {"type": "string", "not": {"enum": ["boolean", "integer"]}}},
       "additionalProperties": false}]})");
  REFUSES(swagger, R"({"type": "void"})");
  ACCEPTS(swagger, R"({"type": "model"})");
  REFUSES(swagger, R"({"type": "integer"})");
  REFUSES(swagger, "{}");
  REFUSES(swagger, R"({"type": "void", "x": 1})");
  ACCEPTS(swagger, R"("void")");
  REFUSES(swagger, R"({"type": 1})");
  // Nested: equal by JSON equality (key order, 1 = 1.0), different in a key, a nested key, a value.
  auto nested = schema(R"({"oneOf": [{"const": {"a": {"b": 1, "e": "x"}, "c": null}},
      {"type": "object", "properties": {"a": {"type": "object"}, "c": {}}, "additionalProperties": false}]})");
  REFUSES(nested, R"({"a": {"b": 1, "e": "x"}, "c": null})");
  REFUSES(nested, R"({"c": null, "a": {"e": "x", "b": 1.0}})");
  ACCEPTS(nested, R"({"a": {"b": 2, "e": "x"}, "c": null})");
  ACCEPTS(nested, R"({"a": {"b": 1}, "c": null})");
  ACCEPTS(nested, R"({"a": {"b": 1, "e": "x", "f": 0}, "c": null})");
  ACCEPTS(nested, R"({"a": {"b": 1, "e": "x"}})");
  ACCEPTS(nested, R"({"c": 1})");
  REFUSES(nested, "[]");
  // The empty object, and values excluded from an object open to other keys.
  auto empty = schema(R"({"oneOf": [{"const": {}}, {"type": "object", "maxProperties": 1}]})");
  REFUSES(empty, "{}");
  ACCEPTS(empty, R"({"a": 1})");
  REFUSES(empty, R"({"a": 1, "b": 2})");
  auto open = schema(R"({"oneOf": [{"enum": [{"k": 1}, {"k": 2}]}, {"type": "object", "properties": {"k": {"type": "integer"}}}]})");
  REFUSES(open, R"({"k": 1})");
  REFUSES(open, R"({"k": 2})");
  ACCEPTS(open, R"({"k": 3})");
  ACCEPTS(open, R"({"k": 1, "z": 0})");
  ACCEPTS(open, "{}");
  // Arrays: fewer or more items, or item i with another value; nested arrays and objects recurse.
  auto arrays = schema(R"({"oneOf": [{"const": [1, {"a": [true]}, "s"]}, {"type": "array", "maxItems": 3}]})");
  REFUSES(arrays, R"([1, {"a": [true]}, "s"])");
  REFUSES(arrays, R"([1.0, {"a": [true]}, "s"])");
  ACCEPTS(arrays, R"([1, {"a": [false]}, "s"])");
  ACCEPTS(arrays, R"([1, {"a": [true, true]}, "s"])");
  ACCEPTS(arrays, R"([1, {"a": [true], "b": 0}, "s"])");
  ACCEPTS(arrays, R"([1, {"a": [true]}])");
  ACCEPTS(arrays, R"([2, {"a": [true]}, "s"])");
  ACCEPTS(arrays, "[]");
  REFUSES(arrays, R"([1, {"a": [true]}, "s", 2])");
  REFUSES(arrays, "{}");
  auto inner = schema(R"({"oneOf": [{"const": {"a": [1, 2]}}, {"type": "object", "properties": {"a": {}},
      "additionalProperties": false}]})");
  REFUSES(inner, R"({"a": [1, 2]})");
  ACCEPTS(inner, R"({"a": [2, 1]})");
  ACCEPTS(inner, R"({"a": [1, 2, 3]})");
  ACCEPTS(inner, "{}");
  // dependencies apply to objects only: other values are free of the dependent schema (before, its
  // oneOf was applied to them and refused them all), and an object branch with a dependency is
  // disjoint from another closed one by their keys.
  JsonSchemaOptions any;
  any.property_order = JsonSchemaOptions::PropertyOrder::kAny;
  auto deps = schema(R"({"$schema": "http://json-schema.org/draft-07/schema#",
      "dependencies": {"a": {"oneOf": [{"properties": {"b": {"const": 1}}}, {"properties": {"b": {"const": 2}}}]}}})", any);
  ACCEPTS(deps, R"("x")");
  ACCEPTS(deps, "1");
  ACCEPTS(deps, "[]");
  ACCEPTS(deps, "null");
  ACCEPTS(deps, "{}");
  REFUSES(deps, R"({"a": 0})");
  ACCEPTS(deps, R"({"a": 0, "b": 1})");
  REFUSES(deps, R"({"a": 0, "b": 3})");
  ACCEPTS(deps, R"({"b": 3})");
  auto types = schema(R"({"$schema": "http://json-schema.org/draft-07/schema#", "oneOf": [
      {"required": ["$ref"], "properties": {"$ref": {"type": "string"}}, "additionalProperties": false},
      {"required": ["type"], "properties": {"type": {"enum": ["integer", "number"]}, "format": {"type": "string"}},
       "additionalProperties": false,
       "dependencies": {"format": {"oneOf": [{"properties": {"type": {"enum": ["integer"]}, "format": {"enum": ["int32"]}}},
                                             {"properties": {"type": {"enum": ["number"]}, "format": {"enum": ["float"]}}}]}}}]})");
  ACCEPTS(types, R"({"$ref": "x"})");
  ACCEPTS(types, R"({"type": "integer"})");
  ACCEPTS(types, R"({"type": "integer", "format": "int32"})");
  REFUSES(types, R"({"type": "integer", "format": "float"})");
  ACCEPTS(types, R"({"type": "number", "format": "float"})");
  REFUSES(types, R"("s")");
  REFUSES(types, R"({"$ref": "x", "type": "integer"})");
  REFUSES(types, "{}");
}

TEST_CASE("json schema: an enum beside not leaves out the values the not accepts", "[json-schema]") {
  // These accepted the excluded value before (the enum was written whole).
  auto ints = schema(R"({"enum": [1, 2, "a"], "not": {"const": 1}})");
  REFUSES(ints, "1");
  ACCEPTS(ints, "2");
  ACCEPTS(ints, R"("a")");
  auto strs = schema(R"({"enum": ["a", "b"], "not": {"enum": ["a"]}})");
  REFUSES(strs, R"("a")");
  ACCEPTS(strs, R"("b")");
  auto mixed = schema(R"({"enum": [{"x": 1}, "a"], "not": {"const": "a"}})");
  REFUSES(mixed, R"("a")");
  ACCEPTS(mixed, R"({"x": 1})");
  // A not whose complement is not expressible (an open object's additionalProperties): each enum
  // value decided against it instead (before, a compile error); expectations from python3-jsonschema.
  auto decided = schema(R"({"allOf": [{"enum": [{"bar": 2, "foo": 1, "quux": 12}, {"foo": 1}, {"foo": 1, "x": true}, 3]},
      {"not": {"additionalProperties": {"type": "boolean"}, "properties": {"bar": {}, "foo": {}}}}]})");
  ACCEPTS(decided, R"({"bar": 2, "foo": 1, "quux": 12})");
  REFUSES(decided, R"({"foo": 1})");
  REFUSES(decided, R"({"foo": 1, "x": true})");
  REFUSES(decided, "3");
}

TEST_CASE("json schema: complements on one key are all kept", "[json-schema]") {
  // Two `if`s on one discriminator: in the branch where both fail, the key must differ from both
  // values (before, the second complement replaced the first, and {"t": "b"} passed without "y").
  auto ifs = schema(R"({"type": "object", "allOf": [
      {"if": {"properties": {"t": {"const": "a"}}}, "then": {"required": ["x"]}},
      {"if": {"properties": {"t": {"const": "b"}}}, "then": {"required": ["y"]}}]})");
  REFUSES(ifs, R"({"t": "a"})");
  REFUSES(ifs, R"({"t": "b"})");
  ACCEPTS(ifs, R"({"t": "c"})");
  // a key given as a property and as a complement is written once (before: "t" twice in a row)
  ACCEPTS(ifs, R"({"t": "a", "x": 1})");
  ACCEPTS(ifs, R"({"t": "b", "y": 1})");
  ACCEPTS(ifs, R"({"x": 1, "y": 2})");
  REFUSES(ifs, R"({"x": 1})");
  // the complement of a pattern, on a key with no schema of its own, is a constraint
  auto neg = schema(R"({"not": {"properties": {"t": {"pattern": "^a"}}, "required": ["t"]}})");
  REFUSES(neg, R"({"t": "abc"})");
  ACCEPTS(neg, R"({"t": "bc"})");
  ACCEPTS(neg, "{}");
  REFUSES(neg, R"({"t": 1})");
}

TEST_CASE("json schema: an if per value of one discriminator compiles past eight of them", "[json-schema]") {
  // jfrog-pipelines' shape: fourteen `if type = X then …`. 2^14 combinations, of which 15 are
  // not empty (type absent: every if holds; type = X: only X's does); refused before (more than 8).
  std::string all = R"({"type": "object", "properties": {"type": {"enum": [)";
  std::string ifs;
  for (int i = 0; i < 14; ++i) {
    all += (i ? ", " : "") + std::string("\"t") + std::to_string(i) + "\"";
    ifs += (i ? ", " : "") + std::string(R"({"if": {"properties": {"type": {"const": "t)") + std::to_string(i) +
           R"("}}}, "then": {"required": ["k)" + std::to_string(i) + R"("]}})";
  }
  auto g = schema(all + "]}}, \"allOf\": [" + ifs + "]}");
  ACCEPTS(g, R"({"type": "t3", "k3": 1})");
  ACCEPTS(g, R"({"type": "t13", "k13": 1})");
  REFUSES(g, R"({"type": "t3"})");
  REFUSES(g, R"({"type": "t3", "k4": 1})");
  REFUSES(g, R"({"type": "t14", "k3": 1})");
  // no type: every if holds, so every then applies
  REFUSES(g, R"({"k0": 1})");
  std::string every = "{";
  for (int i = 0; i < 14; ++i) every += (i ? ", " : "") + std::string("\"k") + std::to_string(i) + "\": 1";
  ACCEPTS(g, every + "}");
}

TEST_CASE("json schema: property counts above 16 are counted exactly", "[json-schema]") {
  // vercel's env: at most 100 entries matching a pattern (refused before: counts above 16)
  auto env = schema(R"({"type": "object", "additionalProperties": false, "maxProperties": 100,
                        "patternProperties": {".+": {"type": "string", "maxLength": 65536}}})");
  auto object_of = [](int n, int first = 0) {
    std::string o = "{";
    for (int i = first; i < first + n; ++i) o += (i > first ? ", " : "") + std::string("\"k") + std::to_string(i) + "\": \"v\"";
    return o + "}";
  };
  ACCEPTS(env, object_of(100));
  REFUSES(env, object_of(101));
  REFUSES(env, R"({"": "v"})");
  // with named members, in both property orders; minProperties too
  for (auto order : {JsonSchemaOptions::PropertyOrder::kSchema, JsonSchemaOptions::PropertyOrder::kAny}) {
    JsonSchemaOptions opt;
    opt.property_order = order;
    auto g = schema(R"({"properties": {"a": {"type": "integer"}, "b": {}}, "required": ["a"],
                        "minProperties": 30, "maxProperties": 40})", opt);
    ACCEPTS(g, R"({"a": 1, )" + object_of(29).substr(1));
    REFUSES(g, R"({"a": 1, )" + object_of(28).substr(1));
    ACCEPTS(g, R"({"a": 1, )" + object_of(39).substr(1));
    REFUSES(g, R"({"a": 1, )" + object_of(40).substr(1));
    REFUSES(g, object_of(35));  // "a" is required
  }
  // past the rule budget: an error that names the keyword, and an over-approximation when lenient
  const auto e = schema_error(R"({"maxProperties": 5000})");
  CHECK_THAT(e.message(), Catch::Matchers::Contains("maxProperties"));
}

TEST_CASE("json schema: a long length bound beside a prefix-then-class pattern is chunked exactly", "[json-schema]") {
  auto q = [](const std::string& body) { return "\"" + body + "\""; };
  // the prefix has three lengths (22, 23, 26 code points): each starts its own chain
  auto icon = schema(R"({"type": "string", "maxLength": 300, "minLength": 260,
                         "pattern": "^data:image/(jpg|jpeg|png|svg\\+xml);base64,[0-9a-zA-Z+/=]*$"})");
  ACCEPTS(icon, q("data:image/png;base64," + std::string(278, 'A')));
  REFUSES(icon, q("data:image/png;base64," + std::string(279, 'A')));
  ACCEPTS(icon, q("data:image/jpeg;base64," + std::string(277, '=')));
  REFUSES(icon, q("data:image/jpeg;base64," + std::string(278, '=')));
  ACCEPTS(icon, q("data:image/svg+xml;base64," + std::string(234, '/')));
  REFUSES(icon, q("data:image/svg+xml;base64," + std::string(233, '/')));
  REFUSES(icon, q("data:image/png;base64," + std::string(270, 'A') + "-"));
  REFUSES(icon, q("data:image/gif;base64," + std::string(270, 'A')));
  // 32,767 (o9907's bound, refused before: above 10,000)
  auto big = schema(R"({"type": "string", "maxLength": 32767,
                        "pattern": "^data:image/(jpg|jpeg|png|svg\\+xml);base64,[0-9a-zA-Z+/=]*$"})");
  ACCEPTS(big, q("data:image/png;base64," + std::string(32745, 'z')));
  REFUSES(big, q("data:image/png;base64," + std::string(32746, 'z')));
  ACCEPTS(big, q("data:image/png;base64,"));
  // not anchored at the end: any code point follows, escapes count as one
  auto open = schema(R"({"type": "string", "maxLength": 1000, "pattern": "^ab"})");
  ACCEPTS(open, q("ab" + std::string(998, 'x')));
  REFUSES(open, q("ab" + std::string(999, 'x')));
  std::string escaped = "ab";
  for (int i = 0; i < 998; ++i) escaped += "\\\"";
  ACCEPTS(open, q(escaped));
  REFUSES(open, q(escaped + "\\n"));
  REFUSES(open, q("ac" + std::string(10, 'x')));
  // a minimum only, with a class that repeats from the start
  auto ident = schema(R"({"type": "string", "minLength": 400, "pattern": "^[a-z][a-z0-9_]*$"})");
  ACCEPTS(ident, q("a" + std::string(399, '_')));
  ACCEPTS(ident, q("a" + std::string(5000, '9')));
  REFUSES(ident, q("a" + std::string(398, '_')));
  REFUSES(ident, q("_" + std::string(399, 'a')));
}

TEST_CASE("json schema: a long count of a Unicode class is chunked exactly", "[json-schema]") {
  auto q = [](const std::string& body) { return "\"" + body + "\""; };
  auto str = [](const std::string& unit, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += unit;
    return s;
  };
  // a letter class of hundreds of ranges: some 170 automaton states per code point, so {1,200} is
  // counted in rules of a few code points each (34,000 states as one automaton)
  auto name = schema(R"({"type": "string", "pattern": "^[\\p{L}\\p{N}_./-]{1,200}$"})");
  ACCEPTS(name, q("a"));
  ACCEPTS(name, q(str("Ωmega", 40)));
  REFUSES(name, q(str("Ωmega", 40) + "x"));
  ACCEPTS(name, q(str("日本", 99) + "a\\/"));
  REFUSES(name, q(str("日本", 99) + "a\\/b"));
  REFUSES(name, q(""));
  REFUSES(name, q("a b"));
  // with length bounds of its own: the tighter of the two wins, at both ends
  auto both = schema(R"({"type": "string", "minLength": 30, "maxLength": 150, "pattern": "^x[\\p{L}]{10,180}$"})");
  ACCEPTS(both, q("x" + str("é", 29)));
  REFUSES(both, q("x" + str("é", 28)));
  ACCEPTS(both, q("x" + str("é", 149)));
  REFUSES(both, q("x" + str("é", 150)));
  REFUSES(both, q("y" + str("é", 40)));
}

TEST_CASE("json schema: a format under a long length bound counts only where the bound can bite", "[json-schema]") {
  auto q = [](const std::string& body) { return "\"" + body + "\""; };
  // email under maxLength 1024: the parts before a cycle (an IPv6 literal) are counted only near the
  // bound; every length is still exact, the literal's included
  auto email = schema(R"({"type": "string", "format": "email", "minLength": 12, "maxLength": 1024})");
  ACCEPTS(email, q(std::string(1018, 'a') + "@b.com"));
  REFUSES(email, q(std::string(1019, 'a') + "@b.com"));
  ACCEPTS(email, q("a@b.cd.ef.gh"));
  REFUSES(email, q("a@b.cd.ef.g"));
  const std::string v6 = "@[IPv6:2001:db8:0:0:0:0:0:1]";  // 28 code points
  ACCEPTS(email, q(std::string(996, 'x') + v6));
  REFUSES(email, q(std::string(997, 'x') + v6));
  ACCEPTS(email, q("x" + v6));
  REFUSES(email, q("x@[IPv6:2001:db8::1"));
  auto shortest = schema(R"({"type": "string", "format": "email", "minLength": 40})");
  ACCEPTS(shortest, q(std::string(12, 'x') + v6));
  REFUSES(shortest, q(std::string(11, 'x') + v6));
}

TEST_CASE("json schema: complements of what an object says of all its keys, checked on enum values too", "[json-schema]") {
  // a const beside an if over patternProperties: {"a": "x"} makes the if hold, so the then (false)
  // refuses it (accepted before: the witness's value was not checked on the const's member)
  CHECK_THAT(schema_error(R"({"allOf": [{"const": {"a": "x"}},
      {"if": {"patternProperties": {"^(a|c)$": {"pattern": "^x"}}}, "then": false}]})").message(),
             Catch::Contains("accepts no JSON value"));
  auto two = schema(R"({"allOf": [{"enum": [{"a": "x"}, {"a": "y"}]},
      {"if": {"patternProperties": {"^(a|c)$": {"pattern": "^x"}}}, "then": false}]})");
  REFUSES(two, R"({"a": "x"})");
  ACCEPTS(two, R"({"a": "y"})");
  // a key given by a complement only, in a oneOf's disjointness test: no out_of_range escaping as
  // "map::at" (it was a compile error at a position; since the object value {"a": "x"} can be
  // excluded, it compiles, and 354 documents around it agree with python3-jsonschema)
  JsonSchemaOptions any;
  any.property_order = JsonSchemaOptions::PropertyOrder::kAny;
  auto keyed = schema(R"({"allOf": [{"not": {"properties": {"a": {"type": "object",
      "properties": {"c": {}, "a": {"const": {"a": "x"}}}, "required": ["b"]}}, "required": ["b"]}},
      {"required": ["c", "a"], "patternProperties": {"^a": {"oneOf": [{}, {"type": "object",
      "properties": {"c": {}, "b": {"pattern": "^x+$"}, "a": {"type": "boolean"}}, "required": ["a", "b"]}]}}}]})",
                      any);
  ACCEPTS(keyed, R"({"c": 0, "a": {"a": {"a": "x"}, "b": "xx"}})");
  REFUSES(keyed, R"({"b": 0, "c": 0, "a": {"a": {"a": "x"}, "b": "xx"}})");
  ACCEPTS(keyed, R"({"b": 0, "c": 0, "a": {"a": {"a": "y"}, "b": "xx"}})");
  ACCEPTS(keyed, R"({"b": 0, "c": 0, "a": {"a": {"a": "x"}}})");
  ACCEPTS(keyed, R"({"b": 0, "c": 0, "a": 1})");
}

// unevaluatedProperties sees the properties of the in-place subschemas an instance matches: anyOf's
// matching branches (every subset), oneOf's one branch, if's then or else (and the if itself), a
// triggered dependentSchemas. A branch's names count only where the branch holds.
TEST_CASE("json schema: unevaluatedProperties beside anyOf, oneOf, if and dependentSchemas", "[json-schema]") {
  for (auto order : {JsonSchemaOptions::PropertyOrder::kSchema, JsonSchemaOptions::PropertyOrder::kAny}) {
    JsonSchemaOptions opt;
    opt.property_order = order;
    INFO("property order " << (order == JsonSchemaOptions::PropertyOrder::kAny ? "any" : "schema"));
    auto any = schema(R"({"properties": {"id": {"type": "integer"}},
        "anyOf": [{"properties": {"a": {"type": "string"}}, "required": ["a"]},
                  {"properties": {"b": {"type": "string"}}, "required": ["b"]}],
        "unevaluatedProperties": false})", opt);
    ACCEPTS(any, R"({"id": 1, "a": "x"})");
    ACCEPTS(any, R"({"a": "x", "b": "y"})");
    ACCEPTS(any, R"({"b": "y"})");
    REFUSES(any, R"({"a": "x", "c": 1})");
    REFUSES(any, R"({"a": "x", "b": 1})");  // the second branch fails: b is not evaluated
    REFUSES(any, R"({"id": 1})");           // no branch holds
    ACCEPTS(any, R"("text")");              // anyOf's branches say nothing of strings
    auto one = schema(R"({"oneOf": [
        {"properties": {"kind": {"const": "x"}, "x": {}}, "required": ["kind"]},
        {"properties": {"kind": {"const": "y"}, "y": {}}, "required": ["kind"]}],
        "unevaluatedProperties": false})", opt);
    ACCEPTS(one, R"({"kind": "x", "x": 1})");
    ACCEPTS(one, R"({"kind": "y", "y": [2]})");
    REFUSES(one, R"({"kind": "x", "y": 1})");
    REFUSES(one, R"({"kind": "y", "x": 1, "y": 2})");
    auto cond = schema(R"({"if": {"properties": {"t": {"const": 1}}, "required": ["t"]},
        "then": {"properties": {"a": {}}}, "else": {"properties": {"b": {}}},
        "unevaluatedProperties": false})", opt);
    ACCEPTS(cond, R"({"t": 1, "a": 0})");
    REFUSES(cond, R"({"t": 1, "b": 0})");
    REFUSES(cond, R"({"t": 2, "a": 0})");  // the if fails, so its t is not evaluated either
    ACCEPTS(cond, R"({"b": 0})");
    REFUSES(cond, R"({"b": 0, "t": 2})");
    auto alone = schema(R"({"if": {"patternProperties": {"^x": {"type": "string"}}},
        "unevaluatedProperties": false})", opt);
    ACCEPTS(alone, R"({"xa": "s", "xb": "t"})");  // the if holds: its pattern evaluates both
    REFUSES(alone, R"({"xa": "s", "xb": 1})");    // the if fails: nothing is evaluated
    ACCEPTS(alone, "{}");
    auto dep = schema(R"({"properties": {"p": {}}, "dependentSchemas": {"p": {"properties": {"q": {}}}},
        "unevaluatedProperties": false})", opt);
    ACCEPTS(dep, R"({"p": 1, "q": 2})");
    REFUSES(dep, R"({"q": 2})");
    ACCEPTS(dep, R"({"p": 1})");
    // unevaluatedProperties as a schema: the keys no matching branch evaluates take it
    auto typed = schema(R"({"anyOf": [{"properties": {"a": {}}, "required": ["a"]}, {"required": ["z"]}],
        "unevaluatedProperties": {"type": "integer"}})", opt);
    ACCEPTS(typed, R"({"a": "s", "k": 1})");
    REFUSES(typed, R"({"a": "s", "k": "s"})");
    ACCEPTS(typed, R"({"z": 1})");
    REFUSES(typed, R"({"z": "s"})");
  }
  // past 64 combinations of branches: a clear error naming the keyword (it was once read as a
  // cycle under property_order any, after a probe gave up inside the schema)
  JsonSchemaOptions any;
  any.property_order = JsonSchemaOptions::PropertyOrder::kAny;
  std::string branches;
  for (int i = 0; i < 7; ++i)
    branches += std::string(i ? "," : "") + R"({"properties": {"k)" + std::to_string(i) + R"(": {}}, "required": ["r"]})";
  for (const auto& opt : {JsonSchemaOptions{}, any}) {
    const auto e = schema_error(R"({"anyOf": [)" + branches + R"(], "unevaluatedProperties": false})", opt);
    CHECK_THAT(e.message(), Catch::Contains("'unevaluatedProperties' cannot be compiled exactly"));
    CHECK(e.pos().pointer == "/unevaluatedProperties");
  }
}

// unevaluatedItems: the items prefixItems, items, contains (2020-12) and a nested unevaluatedItems
// evaluate, in the cases of which in-place branches hold (validity as python-jsonschema's
// Draft202012Validator decides it).
TEST_CASE("json schema: unevaluatedItems beside prefixItems, contains, anyOf and if", "[json-schema]") {
  auto tuple = schema(R"({"prefixItems": [{"type": "string"}],
      "anyOf": [{"prefixItems": [true, {"type": "integer"}]}, {"prefixItems": [true, true, {"type": "boolean"}]}],
      "unevaluatedItems": false})");
  ACCEPTS(tuple, R"(["a", 1])");
  ACCEPTS(tuple, R"(["a", 1, true])");
  ACCEPTS(tuple, R"(["a", "b", true])");
  ACCEPTS(tuple, R"(["a", "b"])");  // the second branch holds: three items evaluated
  REFUSES(tuple, R"(["a", 1, 2])");   // neither branch evaluates the third item
  REFUSES(tuple, R"(["a", 1, true, null])");
  ACCEPTS(tuple, "[]");
  ACCEPTS(tuple, R"("text")");
  auto contains = schema(R"({"prefixItems": [{"const": "head"}],
      "allOf": [{"contains": {"type": "integer"}, "minContains": 0}], "unevaluatedItems": {"type": "boolean"}})");
  ACCEPTS(contains, R"(["head", 1, 2, true])");
  ACCEPTS(contains, R"(["head", 3, false, 4])");
  REFUSES(contains, R"(["head", "x"])");
  REFUSES(contains, R"(["head", null])");
  ACCEPTS(contains, R"(["head"])");
  auto cond = schema(R"({"if": {"maxItems": 1}, "then": {"prefixItems": [{"type": "string"}]},
      "else": {"prefixItems": [true, {"type": "integer"}]}, "unevaluatedItems": false})");
  ACCEPTS(cond, R"(["a"])");
  REFUSES(cond, "[1]");
  ACCEPTS(cond, "[1, 2]");
  REFUSES(cond, R"(["a", "b"])");
  REFUSES(cond, "[1, 2, 3]");  // else evaluates two items
  ACCEPTS(cond, "[]");
  // items evaluates every item: the keyword has nothing left to say
  auto open = schema(R"({"items": {"type": "integer"}, "unevaluatedItems": false})");
  ACCEPTS(open, "[1, 2, 3]");
  REFUSES(open, R"([1, "a"])");
  // 2019-09: items as an array evaluates its indices; contains evaluates nothing there
  auto d19 = schema(R"({"$schema": "https://json-schema.org/draft/2019-09/schema", "items": [{"type": "string"}],
      "anyOf": [{"items": [true, {"type": "integer"}]}, {"required": ["x"]}], "unevaluatedItems": false})");
  ACCEPTS(d19, R"(["a", 1])");
  REFUSES(d19, R"(["a", 1, 2])");
  ACCEPTS(d19, R"(["a"])");
}

// maxContains: the items contains matches are counted between minContains and maxContains, the
// others written as items that fail contains (its complement)
TEST_CASE("json schema: maxContains counts the items contains matches", "[json-schema]") {
  auto one = schema(R"({"contains": {"const": 1}, "maxContains": 1})");
  ACCEPTS(one, "[1]");
  ACCEPTS(one, "[2, 1, 3]");
  REFUSES(one, "[1, 1]");
  REFUSES(one, "[2, 3]");  // minContains 1 by default
  REFUSES(one, "[]");
  ACCEPTS(one, R"("not an array")");
  auto range = schema(R"({"type": "array", "items": {"type": "integer"}, "contains": {"minimum": 10},
                          "minContains": 2, "maxContains": 3})");
  REFUSES(range, "[10]");
  ACCEPTS(range, "[10, 1, 11]");
  ACCEPTS(range, "[10, 11, 12, 3]");
  REFUSES(range, "[10, 11, 12, 13]");
  REFUSES(range, "[10, 1.5, 11]");  // items still apply to every item
  auto none = schema(R"({"contains": {"type": "string"}, "minContains": 0, "maxContains": 0})");
  ACCEPTS(none, "[]");
  ACCEPTS(none, "[1, null]");
  REFUSES(none, R"([1, "a"])");
  auto impossible = schema(R"({"type": ["array", "null"], "contains": true, "minContains": 2, "maxContains": 1})");
  REFUSES(impossible, "[1, 2]");
  REFUSES(impossible, "[]");
  ACCEPTS(impossible, "null");
}
