// Tool calls inside free text: Compiler::compile_tool_calls (grammar/tool_calls.cpp) and JSON
// Schemas embedded in Lark with %json (grammar/lark_parser.cpp). The language on a byte
// vocabulary (free text, triggers split anywhere, at most one / required, errors with positions),
// then masks against the brute-force oracle on Llama-3 at states in free text, in a trigger, in
// the arguments and after the call, along documents as the Llama-3 encoder tokenizes them.
#include <random>

#include "test_support.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;

namespace {

using tollgate::testing::llama3;
using tollgate::testing::mask_of;

const char* kWeather =
    R"({"type": "object", "properties": {"city": {"type": "string", "maxLength": 20},)"
    R"( "unit": {"enum": ["celsius", "fahrenheit"]}}, "required": ["city"], "additionalProperties": false})";
const char* kSearch =
    R"({"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "integer",)"
    R"( "minimum": 1, "maximum": 50}}, "required": ["query", "limit"], "additionalProperties": false})";

ToolCallSpec function_spec() {
  ToolCallSpec spec;
  spec.tags = {{"<function=get_weather>", kWeather, "</function>"}, {"<function=search>", kSearch, "</function>"}};
  spec.triggers = {"<function="};
  return spec;
}

// Whether `text` is a complete match (fed byte by byte on the byte vocabulary), and how many
// bytes were accepted before a refusal.
std::pair<bool, size_t> run(const CompiledGrammarPtr& g, std::string_view text) {
  Matcher m(g, 0);
  for (size_t i = 0; i < text.size(); ++i)
    if (!m.accept_bytes(text.substr(i, 1))) return {false, i};
  return {m.is_accepting(), text.size()};
}
bool accepts(const CompiledGrammarPtr& g, std::string_view text) { return run(g, text).first; }

// Walks `doc` as the Llama-3 encoder tokenizes it: every token must be allowed, and at the
// states chosen by `check` the mask equals the oracle's. Returns the number of states checked.
int walk_with_oracle(const CompiledGrammarPtr& g, const std::string& doc, const std::vector<size_t>& check) {
  Encoder enc(llama3());
  std::vector<int32_t> ids = enc.encode(doc);
  Matcher m(g);
  int checked = 0;
  for (size_t i = 0; i <= ids.size(); ++i) {
    if (std::find(check.begin(), check.end(), i) != check.end() || i == ids.size()) {
      INFO("doc " << doc << " at token " << i);
      CHECK(tollgate::testing::mask_oracle_mismatches(m) == 0);
      ++checked;
    }
    if (i == ids.size()) break;
    std::vector<int32_t> mask = mask_of(m);
    INFO("doc " << doc << " token " << i << " '" << llama3()->token_bytes(ids[i]) << "'");
    REQUIRE(tollgate::testing::mask_bit(mask, ids[i]));
    REQUIRE(m.accept_token(ids[i]));
  }
  CHECK(m.is_accepting());
  return checked;
}

}  // namespace

TEST_CASE("tool calls: free text, triggers, arguments, at most one, required", "[toolcalls]") {
  Compiler c(TokenizerInfo::bytes_with_eos());
  auto g = c.compile_tool_calls(function_spec());
  CHECK(accepts(g, ""));
  CHECK(accepts(g, "Just text, with < and <func and <function but no call."));
  CHECK(accepts(g, "Let me look. <function=get_weather>{\"city\": \"Paris\"}</function>"));
  CHECK(accepts(g, "a<function=search>{\"query\":\"x\",\"limit\":50}</function> and then "
                   "<function=get_weather>{\"city\": \"Oslo\", \"unit\": \"celsius\"}</function> done"));
  // The trigger may follow a partial trigger: "<functio<function=" (the first one never completed).
  CHECK(accepts(g, "<functio<function=get_weather>{\"city\":\"x\"}</function>"));
  // Once the trigger completes, a call must follow.
  CHECK(run(g, "hi <function=").first == false);
  CHECK(run(g, "hi <function=nope>").second == std::string("hi <function=").size());
  CHECK(run(g, "<function=search>{\"query\": \"x\", \"limit\": 51}").second ==
        std::string("<function=search>{\"query\": \"x\", \"limit\": 5").size());
  CHECK(run(g, "<function=get_weather>{\"city\": \"Paris\", \"wind\": 1}").second ==
        std::string("<function=get_weather>{\"city\": \"Paris\", \"").size());
  CHECK_FALSE(accepts(g, "<function=get_weather>{\"unit\": \"celsius\"}</function>"));  // city is required
  // Free text is valid UTF-8.
  CHECK(accepts(g, "caf\xc3\xa9 \xe2\x9c\x93"));
  CHECK_FALSE(accepts(g, "\xc3"));

  ToolCallSpec one = function_spec();
  one.at_most_one = true;
  auto g1 = c.compile_tool_calls(one);
  std::string call = "<function=get_weather>{\"city\": \"Rome\"}</function>";
  CHECK(accepts(g1, "x" + call + " y"));
  CHECK_FALSE(accepts(g1, call + call));
  CHECK(accepts(g1, "no call"));

  ToolCallSpec req = function_spec();
  req.required = true;
  auto g2 = c.compile_tool_calls(req);
  CHECK_FALSE(accepts(g2, ""));
  CHECK_FALSE(accepts(g2, "no call"));
  CHECK(accepts(g2, call));
  CHECK(accepts(g2, call + " and " + call));

  // Default triggers: the begin strings. Compact JSON.
  ToolCallSpec hermes;
  hermes.tags = {{"<tool_call>{\"name\": \"get_weather\", \"arguments\": ", kWeather, "}</tool_call>"}};
  hermes.json.whitespace = JsonSchemaOptions::Whitespace::kCompact;
  auto g3 = c.compile_tool_calls(hermes);
  CHECK(accepts(g3, "ok <tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Lima\"}}</tool_call>"));
  CHECK_FALSE(accepts(g3, "ok <tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Lima\"}}</tool_call>"));
  CHECK(accepts(g3, "<tool_call>{\"name\": \"x\"} is free text: the trigger is the whole begin string"));
}

TEST_CASE("tool calls: a bad spec or schema is a clear error", "[toolcalls]") {
  Compiler c(TokenizerInfo::bytes_with_eos());
  ToolCallSpec spec = function_spec();
  spec.triggers = {"<tool>"};
  CHECK_THROWS_WITH(c.compile_tool_calls(spec), Catch::Contains("starts with no trigger"));
  spec = function_spec();
  spec.triggers = {"<function=", "func"};
  CHECK_THROWS_WITH(c.compile_tool_calls(spec), Catch::Contains("occurs inside trigger"));
  spec = ToolCallSpec{};
  CHECK_THROWS_WITH(c.compile_tool_calls(spec), Catch::Contains("no tags"));
  spec = function_spec();
  spec.tags[1].schema = "{\"type\": \"object\",\n \"properties\": {\"a\": {\"type\": \"strng\"}}}";
  try {
    c.compile_tool_calls(spec);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kSchema);
    CHECK_THAT(e.message(), Catch::Contains("tag 1 ('<function=search>')"));
    CHECK(e.pos().pointer == "/properties/a/type");
    CHECK(e.pos().line == 2);
  }
}

TEST_CASE("lark %json: an embedded schema, its options, %ignore outside it, errors at line:column",
          "[toolcalls][lark]") {
  Compiler c(TokenizerInfo::bytes_with_eos());
  const std::string lark = R"(start: TEXT? call TEXT?
call: "<tool_call>" %json {
  "type": "object",
  "properties": {"name": {"const": "add"}, "args": {"type": "array", "items": {"type": "integer"}, "maxItems": 3}},
  "required": ["name", "args"]
} "</tool_call>"
TEXT: /[^<]+/
)";
  auto g = c.compile_grammar(lark, "lark", "calls.lark");
  CHECK(accepts(g, "sum: <tool_call>{\"name\": \"add\", \"args\": [1, 2]}</tool_call>"));
  CHECK(accepts(g, "<tool_call> {\"name\":\"add\",\"args\":[]} </tool_call> ok"));
  CHECK_FALSE(accepts(g, "<tool_call>{\"name\": \"sub\", \"args\": [1]}</tool_call>"));
  CHECK_FALSE(accepts(g, "<tool_call>{\"name\": \"add\", \"args\": [1, 2, 3, 4]}</tool_call>"));
  CHECK_FALSE(accepts(g, "<tool_call>{\"name\": \"add\"}</tool_call>"));

  // %ignore applies between the grammar's terminals, not inside the schema; the schema's own
  // whitespace follows CompileOptions::json_schema.
  const std::string ig = "start: \"x\" %json {\"type\": \"array\", \"items\": {\"type\": \"integer\"}} \"y\"\n%ignore \" \"\n";
  CompileOptions compact;
  compact.json_schema.whitespace = JsonSchemaOptions::Whitespace::kCompact;
  Compiler cc(TokenizerInfo::bytes_with_eos(), compact);
  auto gi = cc.compile_grammar(ig, "lark");
  CHECK(accepts(gi, "x [1,2] y"));
  CHECK(accepts(gi, " x[1]y "));
  CHECK_FALSE(accepts(gi, "x [1, 2] y"));
  CHECK_FALSE(accepts(gi, "x [ 1] y"));
  auto gf = c.compile_grammar(ig, "lark");  // flexible (the default)
  CHECK(accepts(gf, "x [1, 2 ] y"));

  // The schema's warnings reach the Lark grammar's, at the %json in the Lark file.
  auto gw = c.compile_grammar("start: \"x\" %json {\"type\": \"string\", \"frobnicate\": 1}\n", "lark", "w.lark");
  REQUIRE(gw->warnings().size() == 1);
  CHECK_THAT(gw->warnings()[0].message, Catch::Contains("in %json: unknown keywords ignored: frobnicate"));
  CHECK(gw->warnings()[0].pos.file == "w.lark");

  // A schema error: at the keyword's value in the Lark text, pointer kept.
  try {
    c.compile_grammar("start: \"a\"\n  b\nb: %json {\"type\": \"object\",\n    \"properties\": {\"n\": {\"minimum\": \"x\"}}}\n",
                      "lark", "bad.lark");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kSchema);
    CHECK(e.pos().file == "bad.lark");
    CHECK(e.pos().pointer == "/properties/n/minimum");
    CHECK(e.pos().line == 4);
    CHECK(e.pos().column == 37);
  }
  // Malformed JSON: at the offending byte.
  try {
    c.compile_grammar("start: x\nx: \"a\" %json {\"type\": ]\n", "lark", "bad.lark");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kParse);
    CHECK(e.pos().line == 2);
    CHECK(e.pos().column == 23);
  }
  CHECK_THROWS_WITH(c.compile_grammar("start: \"a\" %json 12\n", "lark"), Catch::Contains("expected a JSON Schema"));
  CHECK_THROWS_WITH(c.compile_grammar("start: A\nA: %json {}\n", "lark"), Catch::Contains("%json in terminal A"));
}

TEST_CASE("tool calls: masks equal the oracle on Llama-3 in free text, triggers, arguments and after",
          "[toolcalls][oracle]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  Compiler c(llama3());
  auto g = c.compile_tool_calls(function_spec());
  std::vector<std::string> docs = {
      "Sure, let me check the weather.<function=get_weather>{\"city\": \"Paris\", \"unit\": \"celsius\"}</function>",
      "I'll search <func for it: <function=search>{\"query\": \"rust <function= tips\", \"limit\": 10}</function> "
      "and report back.",
      "No tools needed here; 1 < 2 and <functions> are fine.",
  };
  int checked = 0;
  for (const auto& doc : docs) {
    // Every third state, and the ones just before and inside the trigger.
    std::vector<size_t> at;
    for (size_t i = 0; i < 80; i += 3) at.push_back(i);
    checked += walk_with_oracle(g, doc, at);
  }
  CHECK(checked > 20);

  // Free text is genuinely free: after some text, every token that any UTF-8 text allows there
  // (the regex [\s\S]* after the same text) is allowed, unless it holds a '<'.
  Matcher m(g), any(c.compile_regex("[\\s\\S]*"));
  REQUIRE(m.accept_bytes("Hello there"));
  REQUIRE(any.accept_bytes("Hello there"));
  std::vector<int32_t> mask = mask_of(m), free_mask = mask_of(any);
  const TokenizerInfo& tok = *llama3();
  int refused_plain = 0, allowed = 0;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (!tollgate::testing::mask_bit(free_mask, id)) continue;
    ++allowed;
    if (tok.token_bytes(id).find('<') != std::string::npos) continue;
    if (!tollgate::testing::mask_bit(mask, id)) ++refused_plain;
  }
  CHECK(allowed > 120000);
  CHECK(refused_plain == 0);

  // A state where a token spans the end of free text, the trigger and the begin of the JSON.
  Matcher m2(g);
  REQUIRE(m2.accept_bytes("ok <function=get_weather>"));
  CHECK(tollgate::testing::mask_oracle_mismatches(m2) == 0);
}

TEST_CASE("lark %json: masks equal the oracle on Llama-3 through the embedded schema", "[toolcalls][lark][oracle]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  Compiler c(llama3());
  auto g = c.compile_grammar(R"(start: TEXT call
call: "<tool_call>" %json {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "boolean"}},
                           "required": ["x"], "additionalProperties": false} "</tool_call>"
TEXT: /[^<]*/
%ignore /[ \n]+/
)",
                             "lark");
  std::vector<size_t> at;
  for (size_t i = 0; i < 40; i += 2) at.push_back(i);
  CHECK(walk_with_oracle(g, "answer: <tool_call>{\"x\": -12, \"y\": true}</tool_call>\n", at) > 10);
}

// compile_tool_calls goes through the Compiler's compiled-grammar cache as the other kinds do: the
// same spec is a hit returning the same grammar, any change to tags, triggers, flags or schema
// options is another entry, compile_async(tool_calls_request(spec)) shares the entries, and the
// Redis key carries the tokenizer's fingerprint.
TEST_CASE("tool calls: compiled once per spec through the compiled-grammar cache, async too", "[toolcalls][gcache]") {
  Compiler c(TokenizerInfo::bytes_with_eos());
  const std::string call = "ok <function=get_weather>{\"city\": \"Oslo\"}</function>";
  CompiledGrammarPtr g = c.compile_tool_calls(function_spec());
  CHECK(c.cache_stats().compiles == 1);
  CHECK(c.compile_tool_calls(function_spec()) == g);  // a hit: the same object
  GrammarCacheStats s = c.cache_stats();
  CHECK(s.compiles == 1);
  CHECK(s.hits == 1);
  CHECK(s.entries == 1);
  CHECK(accepts(g, call));

  std::vector<ToolCallSpec> others(6, function_spec());
  others[0].at_most_one = true;
  others[1].required = true;
  others[2].triggers.clear();  // the begins: the same language, another spec
  others[3].json.whitespace = JsonSchemaOptions::Whitespace::kCompact;
  others[4].tags[0].end = "</fn>";
  std::swap(others[5].tags[0], others[5].tags[1]);
  std::vector<CompiledGrammarPtr> got;
  for (const ToolCallSpec& o : others) {
    got.push_back(c.compile_tool_calls(o));
    CHECK(got.back() != g);
  }
  for (size_t i = 0; i < got.size(); ++i)
    for (size_t j = i + 1; j < got.size(); ++j) CHECK(got[i] != got[j]);
  CHECK(c.cache_stats().entries == 1 + others.size());
  CHECK(c.cache_stats().compiles == 1 + others.size());
  CHECK_FALSE(accepts(got[3], call));  // compact: no space after ':'
  CHECK(accepts(got[3], "ok <function=get_weather>{\"city\":\"Oslo\"}</function>"));
  CHECK(c.compile_tool_calls(others[3]) == got[3]);

  // Length-prefixed key texts: moving bytes between fields is another key.
  ToolCallSpec a = function_spec(), b = function_spec();
  a.tags[0].end = "x</function>";
  b.tags[0].schema += "x";
  b.tags[0].end = "</function>";
  CHECK(tool_calls_key_text(a) != tool_calls_key_text(b));
  CHECK(tool_calls_key_text(function_spec()) == tool_calls_key_text(function_spec()));

  // The async path: a hit on an entry compile_tool_calls made, and an entry compile_tool_calls then hits.
  CHECK(c.compile_async(tool_calls_request(function_spec())).get() == g);
  ToolCallSpec fresh = function_spec();
  fresh.tags.pop_back();
  CompiledGrammarPtr async_g = c.compile_async(tool_calls_request(fresh)).get();
  REQUIRE(async_g);
  CHECK(c.compile_tool_calls(fresh) == async_g);
  CHECK(c.compile(tool_calls_request(fresh)) == async_g);
  CHECK_FALSE(accepts(async_g, "<function=search>{\"query\": \"a\", \"limit\": 2}</function>"));

  // Errors are not cached: the same bad spec fails again.
  ToolCallSpec bad = function_spec();
  bad.triggers = {"<tool>"};
  CHECK_THROWS_WITH(c.compile_tool_calls(bad), Catch::Contains("starts with no trigger"));
  CHECK_THROWS_WITH(c.compile_async(tool_calls_request(bad)).get(), Catch::Contains("starts with no trigger"));
  GrammarRequest empty;
  empty.kind = GrammarKind::kToolCalls;
  CHECK_THROWS_AS(c.compile(empty), Error);

  // The Redis key: the spec's and the tokenizer's.
  CHECK(c.cache_key(tool_calls_request(function_spec())) != c.cache_key(tool_calls_request(others[0])));
  CHECK(c.cache_key(tool_calls_request(function_spec())) == c.cache_key(tool_calls_request(function_spec())));
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  Compiler real(llama3());
  CHECK(real.cache_key(tool_calls_request(function_spec())) != c.cache_key(tool_calls_request(function_spec())));
}
