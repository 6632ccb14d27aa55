// whitespace: pretty (JsonSchemaOptions::Whitespace::kPretty): exactly the layout of Python's
// json.dumps(obj, indent=n) — every member and item on a line of its own, the closing bracket on its
// container's line, "," and ": ", `{}` and `[]` when empty — at any nesting the schema reaches (rules
// kept per depth, values deeper than 32 levels refused).
//
// The corpus check: on maskbench-dev schemas (every 5th file), each test's document (as its Llama-3
// tokens spell it) laid out by `reindent` below is accepted by the pretty grammar exactly when the
// document itself is accepted by the flexible one, for valid and invalid tests alike; its compact
// form is refused wherever it has a non-empty container. Then the Llama-3 masks of pretty grammars
// equal the brute-force oracle along such documents (every 8th schema's first).
#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>

#include "tollgate/compiler.hpp"
#include "tollgate/matcher.hpp"

namespace {

using tollgate::Compiler;
using tollgate::JsonSchemaOptions;
using tollgate::Matcher;
using tollgate::testing::accepts;
using tollgate::testing::schema;
using Json = nlohmann::json;

JsonSchemaOptions pretty(int indent = 2) {
  JsonSchemaOptions o;
  o.whitespace = JsonSchemaOptions::Whitespace::kPretty;
  o.indent = indent;
  return o;
}

// JSON text laid out as json.dumps(indent=indent) lays it out (indent < 0: no whitespace at all),
// keeping every string and number token byte for byte. The text must be JSON.
std::string reindent(const std::string& text, int indent) {
  std::string out;
  int depth = 0;
  auto newline = [&](int d) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent * d), ' ');
  };
  auto next_significant = [&](size_t i) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
    return i;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      const size_t start = i;
      for (++i; text[i] != '"'; ++i)
        if (text[i] == '\\') ++i;
      out.append(text, start, i - start + 1);
    } else if (c == '{' || c == '[') {
      const size_t j = next_significant(i + 1);
      if (text[j] == (c == '{' ? '}' : ']')) {
        out += c;
        out += text[j];
        i = j;
      } else {
        out += c;
        newline(++depth);
      }
    } else if (c == '}' || c == ']') {
      newline(--depth);
      out += c;
    } else if (c == ',') {
      out += ',';
      newline(depth);
    } else if (c == ':') {
      out += indent < 0 ? ":" : ": ";
    } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      out += c;
    }
  }
  return out;
}

std::string nested_arrays(int levels, const std::string& inner) {
  std::string s = inner;
  for (int i = 0; i < levels; ++i) s = "[" + s + "]";
  return s;
}

}  // namespace

TEST_CASE("json schema pretty: the layout of json.dumps(indent=n)", "[json-schema][pretty]") {
  const std::string text = R"({"type": "object", "properties": {
      "name": {"type": "string"},
      "tags": {"type": "array", "items": {"type": "string"}},
      "meta": {"type": "object", "properties": {"a": {"type": "integer"}}},
      "e": {"const": {"x": [1, {"y": null}], "z": {}}}},
    "required": ["name"]})";
  auto g = schema(text, pretty());
  const std::string doc = "{\n  \"name\": \"x\",\n  \"tags\": [\n    \"a\",\n    \"b\"\n  ],\n  \"meta\": {\n"
                          "    \"a\": 1\n  },\n  \"e\": {\n    \"x\": [\n      1,\n      {\n        \"y\": null\n"
                          "      }\n    ],\n    \"z\": {}\n  }\n}";
  CHECK(accepts(g, doc));
  CHECK(doc == reindent(doc, 2));
  CHECK(accepts(g, "{\n  \"name\": \"x\",\n  \"tags\": [],\n  \"meta\": {}\n}"));
  CHECK_FALSE(accepts(g, "{\"name\": \"x\"}"));                     // not on lines of their own
  CHECK_FALSE(accepts(g, "{\n  \"name\": \"x\"\n  }"));             // closing bracket indented
  CHECK_FALSE(accepts(g, "{\n   \"name\": \"x\"\n}"));              // three spaces
  CHECK_FALSE(accepts(g, "{\n  \"name\": \"x\",\n  \"tags\": [\n  ]\n}"));  // an empty array is []
  CHECK_FALSE(accepts(g, "{\n  \"name\": \"x\"\n}\n"));             // nothing after the document
  CHECK_FALSE(accepts(g, "{\n  \"name\":\"x\"\n}"));                // ": " after keys
  CHECK_FALSE(accepts(g, "{\n  \"meta\": {}\n}"));                  // the schema still holds: name required

  auto four = schema(text, pretty(4));
  CHECK(accepts(four, reindent(doc, 4)));
  CHECK_FALSE(accepts(four, doc));
  auto zero = schema(text, pretty(0));
  CHECK(accepts(zero, reindent(doc, 0)));
  CHECK(reindent(doc, 0).find("\n\"tags\": [\n\"a\",\n\"b\"\n],") != std::string::npos);

  // json.dumps(indent=2, separators=(" ,", ": ")): the item separator before the newline
  JsonSchemaOptions sep = pretty();
  sep.item_separator = " ,";
  auto s = schema(text, sep);
  CHECK(accepts(s, "{\n  \"name\": \"x\" ,\n  \"tags\": [\n    \"a\" ,\n    \"b\"\n  ]\n}"));
  CHECK_FALSE(accepts(s, "{\n  \"name\": \"x\",\n  \"tags\": []\n}"));

  // scalars at the top, any value below
  CHECK(accepts(schema(R"({"type": "integer"})", pretty()), "12"));
  auto any = schema("true", pretty());
  CHECK(accepts(any, "{\n  \"a\": [\n    1,\n    {\n      \"b\": []\n    }\n  ]\n}"));
  CHECK(accepts(any, "[]"));
  CHECK_FALSE(accepts(any, "[ ]"));
  CHECK_FALSE(accepts(any, " 1"));
}

TEST_CASE("json schema pretty: every depth its own indentation, 32 levels at most", "[json-schema][pretty]") {
  // recursion: a tree of any depth, the rules copied per depth
  auto tree = schema(R"({"$ref": "#/$defs/node", "$defs": {"node": {"type": "object",
      "properties": {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
      "additionalProperties": false}}})",
                     pretty());
  std::string doc = R"({"v": 1})";
  for (int i = 0; i < 7; ++i) doc = R"({"v": )" + std::to_string(i) + R"(, "kids": [)" + doc + R"(, {}]})";
  CHECK(accepts(tree, reindent(doc, 2)));
  CHECK_FALSE(accepts(tree, reindent(doc, 3)));
  std::string swapped = reindent(doc, 2);  // one level's indentation given to another
  const std::string at14 = "\n" + std::string(14, ' ') + "\"v\"", at10 = "\n" + std::string(10, ' ') + "\"v\"";
  REQUIRE(swapped.find(at14) != std::string::npos);
  swapped.replace(swapped.find(at14), at14.size(), at10);
  CHECK_FALSE(accepts(tree, swapped));

  // the bound: a value at depth 32 is written, one at depth 33 is refused
  auto any = schema("{}", pretty());
  CHECK(accepts(any, reindent(nested_arrays(32, "1"), 2)));
  CHECK(accepts(any, reindent(nested_arrays(33, ""), 2)));  // [] at depth 32
  CHECK_FALSE(accepts(any, reindent(nested_arrays(33, "1"), 2)));
  auto items = schema(R"({"$ref": "#/$defs/a", "$defs": {"a": {"type": "array", "items": {"$ref": "#/$defs/a"}}}})",
                      pretty());
  CHECK(accepts(items, reindent(nested_arrays(33, ""), 2)));
  CHECK_FALSE(accepts(items, reindent(nested_arrays(34, ""), 2)));
}

TEST_CASE("json schema pretty: run-time checks read through the layout", "[json-schema][pretty]") {
  // uniqueItems: items compared by value, whatever their lines
  auto u = schema(R"({"type": "array", "uniqueItems": true, "items": {"type": "object"}})", pretty());
  CHECK(accepts(u, "[\n  {\n    \"a\": 1\n  },\n  {\n    \"a\": 2\n  }\n]"));
  CHECK_FALSE(accepts(u, "[\n  {\n    \"a\": 1\n  },\n  {\n    \"a\": 1\n  }\n]"));
  // property_order any with required members
  JsonSchemaOptions any = pretty();
  any.property_order = JsonSchemaOptions::PropertyOrder::kAny;
  auto o = schema(R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
                      "required": ["a", "b"], "additionalProperties": false})",
                  any);
  CHECK(accepts(o, "{\n  \"b\": \"x\",\n  \"a\": 1\n}"));
  CHECK_FALSE(accepts(o, "{\n  \"b\": \"x\"\n}"));
  CHECK_FALSE(accepts(o, "{}"));
}

TEST_CASE("json schema pretty: maskbench-dev documents laid out by json.dumps(indent=2)",
          "[json-schema][pretty][maskbench]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  auto tok = tollgate::testing::llama3();
  const auto files = tollgate::testing::maskbench_files(mb);
  const size_t stride = 5 * tollgate::testing::sample_stride();
  JsonSchemaOptions flex, pty = pretty();
  flex.property_order = pty.property_order = JsonSchemaOptions::PropertyOrder::kAny;
  size_t schemas = 0, tests = 0, over_budget = 0, accepted = 0, refused_compact = 0, oracle_states = 0, oracle_bad = 0;
  tollgate::CompileOptions co;
  co.threads = 1;
  Compiler compiler(tok, co);
  for (size_t f = 0; f < files.size(); f += stride) {
    Json file = Json::parse(tollgate::testing::read_file(files[f]));
    const std::string text = file["schema"].dump();
    tollgate::CompiledGrammarPtr gf, gp;
    try {
      gf = schema(text, flex);
    } catch (const tollgate::Error&) {
      continue;  // refused in every layout (the maskbench runner counts these)
    }
    gp = schema(text, pty);  // compiles wherever the flexible layout does
    ++schemas;
    INFO(files[f].filename().string());
    int walked = 0;
    for (auto& t : file["tests"]) {
      if (!t.contains("tokens_llama3")) continue;
      std::string doc;
      for (int32_t id : t["tokens_llama3"].get<std::vector<int32_t>>()) doc += tok->token_bytes(id);
      if (Json::parse(doc, nullptr, false).is_discarded()) continue;  // not JSON: no layout to give
      ++tests;
      const std::string laid = reindent(doc, 2);
      INFO(laid);
      bool ok;
      try {
        ok = accepts(gf, doc);
      } catch (const tollgate::Error& e) {  // a lexeme over a DFA budget, met in any layout
        ++over_budget;
        continue;
      }
      CHECK(accepts(gp, laid) == ok);
      accepted += ok;
      const std::string compact = reindent(doc, -1);
      if (ok && compact != laid) {
        CHECK_FALSE(accepts(gp, compact));
        ++refused_compact;
      }
      // Llama-3 masks of the pretty grammar against the oracle, along the first accepted document of
      // every 8th schema (every 4th step)
      if (ok && walked < 1 && schemas % 8 == 1) {
        ++walked;
        auto g = compiler.compile_json_schema(text, pty);
        Matcher m(g);
        size_t pos = 0;
        for (int step = 0; pos < laid.size(); ++step) {
          auto mask = tollgate::testing::mask_of(m);
          if (step % 4 == 0) {
            const int bad = tollgate::testing::mask_oracle_mismatches(m);
            CHECK(bad == 0);
            oracle_bad += bad;
            ++oracle_states;
          }
          const int32_t id = tollgate::testing::longest_allowed(*tok, mask, laid, pos);
          REQUIRE(id >= 0);
          REQUIRE(m.accept_token(id));
          pos += tok->token_bytes(id).size();
        }
        CHECK(m.is_accepting());
        CHECK(tollgate::testing::mask_oracle_mismatches(m) == 0);
      }
    }
  }
  CHECK(schemas >= 400 / tollgate::testing::sample_stride());
  CHECK(accepted >= 400 / tollgate::testing::sample_stride());
  CHECK(oracle_bad == 0);
  WARN("pretty: " << schemas << " schemas, " << tests << " documents (" << accepted << " accepted, " << over_budget
                  << " over a DFA budget in the flexible layout), "
                  << refused_compact << " compact forms refused, " << oracle_states << " oracle states");
}
