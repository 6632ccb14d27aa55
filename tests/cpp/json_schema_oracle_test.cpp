// Correctness runner 2 (issue 8): on 20 maskbench-dev schemas of different shapes, the fast token mask
// equals the brute-force oracle (every token of Llama-3 tried on a copy of the matcher) at 200+ states
// per schema.
//
// Which schemas: ten shapes, each a predicate on the schema JSON (below, `Shapes`); for each shape in
// turn, the first two schema files in name order that have it, are not already picked, compile, and
// have a valid test with tokens_llama3. Which states: every valid test's tokens_llama3 is replayed and
// the states before every `kWalkStride`-th token and after the last one (or before the first one the grammar
// refuses) are checked; then random walks —
// from a random prefix of a valid test, up to `kRandomSteps` random tokens inside the mask — add checked
// states until the schema has at least `kStates`.
#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>
#include <set>

#include "engine/cfg_backend.hpp"
#include "tollgate/compiler.hpp"
#include "tollgate/matcher.hpp"

namespace {

using tollgate::Compiler;
using tollgate::Matcher;
using Json = nlohmann::json;

constexpr int kPerShape = 2;
constexpr int kStates = 200;
constexpr size_t kWalkStride = 3;
constexpr int kRandomSteps = 12;

// The shapes, by what the schema JSON contains anywhere.
struct Shapes {
  bool deep = false;        // properties/items nested 5 deep
  bool big_enum = false;    // an enum of 20+ values
  bool pattern = false;     // a "pattern" string
  bool format = false;      // a "format" string
  bool range = false;       // minimum/maximum/exclusiveMinimum/exclusiveMaximum
  bool array_bounds = false;  // minItems/maxItems
  bool any_of = false;      // anyOf/oneOf
  bool recursion = false;   // a $ref to "#" or to a definition that contains it
  bool add_props = false;   // additionalProperties as a non-empty schema
  bool many_props = false;  // an object with 20+ properties
};

void walk(const Json& n, int depth, const std::string& path, Shapes& s) {
  if (n.is_array()) {
    for (size_t i = 0; i < n.size(); ++i) walk(n[i], depth, path + "/" + std::to_string(i), s);
    return;
  }
  if (!n.is_object()) return;
  if (depth >= 5) s.deep = true;
  for (auto& [k, v] : n.items()) {
    if (k == "pattern" && v.is_string()) s.pattern = true;
    if (k == "format" && v.is_string()) s.format = true;
    if (k == "minimum" || k == "maximum" || k == "exclusiveMinimum" || k == "exclusiveMaximum") s.range = true;
    if (k == "minItems" || k == "maxItems") s.array_bounds = true;
    if (k == "anyOf" || k == "oneOf") s.any_of = true;
    if (k == "enum" && v.is_array() && v.size() >= 20) s.big_enum = true;
    if (k == "additionalProperties" && v.is_object() && !v.empty()) s.add_props = true;
    if (k == "properties" && v.is_object() && v.size() >= 20) s.many_props = true;
    if (k == "$ref" && v.is_string()) {
      const std::string r = v.get<std::string>();
      if (r == "#" || (r.rfind("#/", 0) == 0 && path.rfind(r.substr(1) + "/", 0) == 0)) s.recursion = true;
    }
    if (k == "properties" && v.is_object()) {
      for (auto& [pk, pv] : v.items()) walk(pv, depth + 1, path + "/properties/" + pk, s);
    } else {
      walk(v, k == "items" ? depth + 1 : depth, path + "/" + k, s);
    }
  }
}

const std::vector<std::pair<const char*, bool Shapes::*>> kShapes = {
    {"deep nesting", &Shapes::deep},       {"big enum", &Shapes::big_enum},
    {"pattern", &Shapes::pattern},         {"format", &Shapes::format},
    {"number range", &Shapes::range},      {"array bounds", &Shapes::array_bounds},
    {"anyOf/oneOf", &Shapes::any_of},      {"$ref recursion", &Shapes::recursion},
    {"additionalProperties", &Shapes::add_props}, {"many properties", &Shapes::many_props},
};

std::vector<int32_t> allowed_ids(const tollgate::TokenizerInfo& tok, const std::vector<int32_t>& mask) {
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < tok.vocab_size(); ++id)
    if (tollgate::testing::mask_bit(mask, id) && !tok.is_eos(id)) ids.push_back(id);
  return ids;
}

// Writes `doc` through the matcher, the longest allowed token at each step, with the mask checked
// against the oracle before every token and at the end; returns the number of states checked.
int walk_with_oracle(Matcher& m, const tollgate::CompiledGrammar& g, const std::string& doc) {
  size_t pos = 0;
  int states = 0;
  while (pos < doc.size()) {
    INFO("at byte " << pos << " of " << doc);
    REQUIRE(tollgate::testing::mask_oracle_mismatches(m) == 0);
    ++states;
    int32_t id = tollgate::testing::longest_allowed(g.tokenizer(), tollgate::testing::mask_of(m), doc, pos);
    REQUIRE(id >= 0);
    REQUIRE(m.accept_token(id));
    pos += g.tokenizer().token_bytes(id).size();
  }
  REQUIRE(tollgate::testing::mask_oracle_mismatches(m) == 0);
  return states + 1;
}

}  // namespace

TEST_CASE("json schema masks: brute-force oracle on 20 maskbench-dev schemas of different shapes",
          "[json-schema][oracle]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  auto tok = tollgate::testing::llama3();
  tollgate::CompileOptions co;
  co.threads = 1;
  Compiler compiler(tok, co);

  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(mb))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<Shapes> shapes(files.size());
  std::vector<Json> docs(files.size());
  for (size_t f = 0; f < files.size(); ++f) {
    docs[f] = Json::parse(tollgate::testing::read_file(files[f]));
    walk(docs[f]["schema"], 0, "", shapes[f]);
  }

  // TOLLGATE_TEST_SAMPLE=n: a state in n of the valid walks' steps, and kStates / n random states.
  const size_t stride = tollgate::testing::sample_stride();
  const int want = kStates / static_cast<int>(stride);
  std::mt19937 rng(8);
  std::set<size_t> picked;
  int total_states = 0, total_mismatches = 0;
  for (auto [shape_name, member] : kShapes) {
    int taken = 0;
    for (size_t f = 0; f < files.size() && taken < kPerShape; ++f) {
      if (picked.count(f) || !(shapes[f].*member)) continue;
      std::vector<std::vector<int32_t>> walks;
      for (auto& t : docs[f]["tests"])
        if (t.value("valid", false) && t.contains("tokens_llama3") && !t["tokens_llama3"].empty())
          walks.push_back(t["tokens_llama3"].get<std::vector<int32_t>>());
      if (walks.empty()) continue;
      tollgate::CompiledGrammarPtr g;
      try {
        g = compiler.compile_json_schema(docs[f]["schema"].dump());
      } catch (const tollgate::Error&) {
        continue;
      }
      picked.insert(f);
      ++taken;
      INFO(shape_name << ": " << files[f].filename().string());
      int states = 0, mismatches = 0;
      auto check = [&](const Matcher& m) {
        int bad = tollgate::testing::mask_oracle_mismatches(m);
        mismatches += bad;
        ++states;
        CHECK(bad == 0);
      };
      // 1. the valid tests' tokens (as far as the grammar accepts them: a valid test refused is a
      // validation error that MaskBench counts, not a mask error; the state before it is checked)
      for (auto& w : walks) {
        Matcher m(g);
        size_t i = 0;
        for (; i < w.size(); ++i) {
          if (i % (kWalkStride * stride) == 0) check(m);
          if (!m.accept_token(w[i])) break;
        }
        check(m);
      }
      // 2. random tokens inside the mask, from random prefixes of the valid tests
      while (states < want) {
        const auto& w = walks[rng() % walks.size()];
        Matcher m(g);
        const size_t prefix = rng() % (w.size() + 1);
        for (size_t i = 0; i < prefix && m.accept_token(w[i]); ++i) {
        }
        for (int s = 0; s < kRandomSteps && states < want; ++s) {
          check(m);
          auto ids = allowed_ids(*tok, tollgate::testing::mask_of(m));
          if (ids.empty()) break;
          REQUIRE(m.accept_token(ids[rng() % ids.size()]));
        }
      }
      total_states += states;
      total_mismatches += mismatches;
    }
    CHECK(taken == kPerShape);
  }
  CHECK(picked.size() == kShapes.size() * kPerShape);
  CHECK(total_mismatches == 0);
  WARN("JSON Schema oracle: " << picked.size() << " schemas, " << total_states << " states, " << total_mismatches
                              << " mismatches");
}

// Strings with a length bound above 256 code points are chunks of 64 code points counted by a chain of
// rules (grammar/json_schema.cpp, chunked_string). The masks must equal the oracle where tokens cross
// chunk borders, at the bounds (a token that would pass maxLength, a closing quote before minLength),
// with multi-byte characters and escapes on the border; and every length near the bound is decided
// exactly. Past 64 chunks the chain counts blocks of chunks: the same across a block border.
TEST_CASE("json schema masks: chunked length bounds equal the brute-force walk", "[json-schema][oracle][limits]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  Compiler c(tollgate::testing::llama3());
  auto g = c.compile_json_schema(R"({"type":"object","properties":{
      "a":{"type":"string","minLength":130,"maxLength":300},
      "b":{"type":"array","items":{"type":"string","maxLength":70000}}},"required":["a"]})");
  auto str = [](const std::string& unit, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += unit;
    return s;
  };
  // a: 300 code points exactly (ASCII words, é, 日, \n, 😀 around the borders at 64, 128, 192, 256)
  std::string a = str("word ", 12) + "ab日\\né😀" + str("x", 58) + "\\t\\\"" + str("日本", 30) + str("é", 112) + "zz";
  const std::string doc = "{\"a\": \"" + a + "\", \"b\": [\"" + str("lorem ipsum ", 12) + "\", \"\"]}";
  Matcher m(g);
  const int states = walk_with_oracle(m, *g, doc);
  CHECK(m.is_accepting());
  CHECK(states > 60);
  // lengths around both bounds, and one code point too many written as one long token run
  auto doc_with = [&](size_t n) { return "{\"a\": \"" + str("é", n) + "\"}"; };
  for (size_t n : {size_t{129}, size_t{130}, size_t{192}, size_t{256}, size_t{299}, size_t{300}, size_t{301}}) {
    INFO("a of " << n << " code points");
    Matcher k(g);
    const bool ok = k.accept_bytes(doc_with(n)) && k.is_accepting();
    CHECK(ok == (n >= 130 && n <= 300));
  }
  // b's strings count blocks of 64 chunks (4,096 code points): the masks at every step across the
  // first block border (é, \n and 日 on it), and the string closing on either side of it
  const std::string head = "{\"a\": \"" + str("x", 130) + "\", \"b\": [\"";
  Matcher n(g);
  REQUIRE(n.accept_bytes(head + str("ab", 2040)));  // 4,080 code points
  int mismatches = 0, steps = 0;
  for (const std::string unit : {"\xC3\xA9", "\\n", "\xE6\x97\xA5"}) {
    for (int i = 0; i < 7; ++i) {
      REQUIRE(n.accept_bytes(unit));
      mismatches += tollgate::testing::mask_oracle_mismatches(n);
      ++steps;
    }
  }
  CHECK(steps == 21);  // 4,081 .. 4,101 code points
  CHECK(mismatches == 0);
  for (size_t len : {size_t{4095}, size_t{4096}, size_t{4097}, size_t{8192}, size_t{69999}, size_t{70000}, size_t{70001}}) {
    INFO("b[0] of " << len << " code points");
    Matcher k(g);
    const bool ok = k.accept_bytes(head + str("\xC3\xA9", len) + "\"]}") && k.is_accepting();
    CHECK(ok == (len <= 70000));
  }
}

// A long count of a class whose UTF-8 automaton is large ("^[\\p{L}…]{1,200}$") is chunked in rules of
// a few code points (grammar/json_schema.cpp, heavy_count): tokens cross many chunk borders, so the
// masks are checked against the oracle at every step of a long document.
TEST_CASE("json schema masks: a chunked Unicode class count equals the brute-force walk", "[json-schema][oracle][limits]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  Compiler c(tollgate::testing::llama3());
  auto g = c.compile_json_schema(R"({"type":"object","properties":{
      "name":{"type":"string","pattern":"^[\\p{L}\\p{N}_./-]{1,40}$"},
      "n":{"type":"integer"}},"required":["name","n"]})");
  // 40 code points exactly: words, digits, é, 日本, an escaped slash around the chunk borders
  const std::string name = "Straße_日本語.v2\\/release-candidate123456789";
  const std::string doc = "{\"name\": \"" + name + "\", \"n\": 7}";
  Matcher m(g);
  const int states = walk_with_oracle(m, *g, doc);
  CHECK(m.is_accepting());
  CHECK(states > 10);
  Matcher over(g);
  CHECK_FALSE(over.accept_bytes("{\"name\": \"" + name + "x\""));
  // With the space in the class (o79409's name), most first bytes live at every count, but near a
  // chunk's end most tokens die past it: those class walks set their live tokens rather than
  // subtract the dead ones from every token (the oracle checks the masks either way).
  auto spaced = c.compile_json_schema(R"({"type":"object","properties":{
      "name":{"type":"string","pattern":"^[\\p{L}\\p{N} _./-]{1,40}$"}},"required":["name"]})");
  const size_t unsubtracted_before = tollgate::engine::class_walks_unsubtracted();
  Matcher ms(spaced);
  CHECK(walk_with_oracle(ms, *spaced, "{\"name\": \"Straße 日本語 v2 release candidate 12345678\"}") > 10);
  CHECK(ms.is_accepting());
  CHECK(tollgate::engine::class_walks_unsubtracted() > unsubtracted_before);
}

// unevaluatedProperties / unevaluatedItems beside anyOf / if compile to an anyOf over the cases of
// which branches hold (grammar/json_schema.cpp, eval_cases): the masks along documents of each case,
// and after a key only some cases allow, equal the brute-force walk, in both property orders.
TEST_CASE("json schema masks: unevaluatedProperties and unevaluatedItems cases equal the brute-force walk",
          "[json-schema][oracle]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  using Order = tollgate::JsonSchemaOptions::PropertyOrder;
  for (auto order : {Order::kSchema, Order::kAny}) {
    Compiler c(tollgate::testing::llama3());
    tollgate::JsonSchemaOptions opt;
    opt.property_order = order;
    auto g = c.compile_json_schema(R"({"type": "object", "properties": {"id": {"type": "integer"}},
        "anyOf": [{"properties": {"name": {"type": "string"}}, "required": ["name"]},
                  {"properties": {"tags": {"type": "array", "items": {"type": "string"}}}, "required": ["tags"]}],
        "if": {"properties": {"kind": {"const": "file"}}, "required": ["kind"]},
        "then": {"properties": {"path": {"type": "string"}}},
        "else": {"properties": {"url": {"type": "string"}}},
        "unevaluatedProperties": false})", opt);
    int states = 0;
    for (const std::string doc : {R"({"id": 7, "name": "a b", "kind": "file", "path": "/tmp/x"})",
                                  R"({"name": "n", "tags": ["x", "y"], "url": "http://e.org"})",
                                  R"({"tags": [], "url": "u"})"}) {
      Matcher m(g);
      states += walk_with_oracle(m, *g, doc);
      CHECK(m.is_accepting());
    }
    CHECK(states > 40);
    Matcher bad(g);
    CHECK_FALSE(bad.accept_bytes(R"({"name": "n", "kind": "dir", "path": "p"})"));
    Matcher failed_if(g);  // the if fails: its kind is not evaluated
    CHECK_FALSE(failed_if.accept_bytes(R"({"tags": [], "kind": "dir", "url": "u"})"));
  }
  // unevaluatedItems: a tuple whose length depends on the anyOf branch that holds, the rest the
  // items contains matches
  Compiler c(tollgate::testing::llama3());
  auto g = c.compile_json_schema(R"({"type": "array", "prefixItems": [{"type": "string"}],
      "anyOf": [{"prefixItems": [true, {"type": "integer"}]}, {"prefixItems": [true, true, {"type": "boolean"}]}],
      "allOf": [{"contains": {"type": "number", "minimum": 100}, "minContains": 0}],
      "unevaluatedItems": false})");
  int states = 0;
  for (const std::string doc : {R"(["alpha", 12, true, 100, 250.5])", R"(["x", "y", false])", R"(["z", -1])"}) {
    Matcher m(g);
    states += walk_with_oracle(m, *g, doc);
    CHECK(m.is_accepting());
  }
  CHECK(states > 20);
  Matcher bad(g);
  CHECK_FALSE(bad.accept_bytes(R"(["alpha", 12, true, 99])"));
  // maxContains: items counted with contains' complement
  auto counted = c.compile_json_schema(R"({"type": "array", "items": {"type": ["integer", "string"]},
      "contains": {"type": "string", "pattern": "^id-"}, "minContains": 1, "maxContains": 2})");
  for (const std::string doc : {R"([1, "id-7", "x", 20])", R"(["id-1", "id-22", "idle"])"}) {
    Matcher m(counted);
    states += walk_with_oracle(m, *counted, doc);
    CHECK(m.is_accepting());
  }
  Matcher three(counted);
  CHECK_FALSE(three.accept_bytes(R"(["id-1", "id-2", "id-3"])"));
}
