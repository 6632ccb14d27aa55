// Robustness: long productions (Earley item keys), deep nesting and long rule chains in grammar
// text (no stack overflow: a positioned kLimit error or a compiled grammar), memory of long
// chains, and the Matcher's accept contract. Each case reproduces a defect found before.
#include "test_support.hpp"

#include <pthread.h>

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "fsm/cfg.hpp"
#include "fsm/cfg_runtime.hpp"
#include "grammar/grammar_ir.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;

namespace {

std::string repeat(std::string_view s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// The 256 single bytes (ids 0..255) and EOS (256): a mask shows exactly which bytes may follow.
TokenizerInfoPtr byte_vocab() { return TokenizerInfo::bytes_with_eos(); }

std::string allowed_bytes(const Matcher& m) {
  std::vector<int32_t> mask = testing::mask_of(m);
  std::string out;
  for (int b = 0; b < 256; ++b)
    if (testing::mask_bit(mask, b)) out.push_back(static_cast<char>(b));
  if (testing::mask_bit(mask, 256)) out += "<eos>";
  return out;
}

// root: a short alternative, then two long ones whose dots run 256 apart over the same input
// (the 257 a's of the third are one lexeme). With a key packing the dot into 8 bits, their
// items collided and one was dropped.
std::string long_productions(size_t n) {
  return "root ::= \"q\" x | " + repeat("x ", n) + "\"!\" | " + repeat("\"a\" ", 257) + repeat("x ", n) +
         "\"?\"\nx ::= \"a\" | \"(\" x \")\"\n";
}

// Runs `f` on a thread with a 1 MiB stack (what many thread pools give) and returns the
// tollgate::Error it threw, if any. A stack overflow crashes the test binary.
// 1 MiB: what the nesting limits are sized for in a release build. AddressSanitizer's frames are
// several times larger (redzones around every local), so its builds check the same shapes on 8 MiB.
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kSmallStack = size_t{8} << 20;
#else
constexpr size_t kSmallStack = size_t{1} << 20;
#endif
std::optional<Error> on_small_stack(const std::function<void()>& f) {
  struct Job {
    const std::function<void()>* f;
    std::optional<Error> error;
    std::exception_ptr other;
  } job{&f, std::nullopt, nullptr};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kSmallStack);
  pthread_t t;
  auto run = [](void* p) -> void* {
    auto* j = static_cast<Job*>(p);
    try {
      (*j->f)();
    } catch (const Error& e) {
      j->error = e;
    } catch (...) {
      j->other = std::current_exception();
    }
    return nullptr;
  };
  REQUIRE(pthread_create(&t, &attr, run, &job) == 0);
  pthread_join(t, nullptr);
  pthread_attr_destroy(&attr);
  if (job.other) std::rethrow_exception(job.other);
  return job.error;
}

// Parses (and checks) a grammar, then builds its lexemes and Earley graph, on a 1 MiB stack.
std::optional<Error> compile_small_stack(const std::string& text, const std::string& format) {
  return on_small_stack([&] {
    grammar::Grammar g = grammar::parse_grammar(text, format, "g." + format);
    fsm::CfgRuntime rt(fsm::build_cfg(g));
    REQUIRE(rt.is_prefix(""));
  });
}

}  // namespace

TEST_CASE("earley: items of productions longer than 256 symbols stay distinct", "[robust]") {
  fsm::CfgRuntime rt(fsm::build_cfg(grammar::parse_grammar(long_productions(300), "gbnf")));
  CHECK(rt.matches(repeat("a", 557) + "?"));
  CHECK(rt.matches(repeat("a", 300) + "!"));
  CHECK(rt.matches(repeat("a", 257) + "(a)" + repeat("a", 299) + "?"));
  CHECK_FALSE(rt.matches(repeat("a", 556) + "?"));
  CHECK_FALSE(rt.matches(repeat("a", 301) + "!"));

  // The mask after 300 a's: 'a' or '(' continues the third alternative, '!' ends the second.
  Compiler compiler(byte_vocab());
  Matcher m(compiler.compile_grammar(long_productions(300), "gbnf"));
  REQUIRE(m.accept_bytes(repeat("a", 300)));
  CHECK(allowed_bytes(m) == "!(a");
  CHECK(m.accept_bytes(repeat("a", 257) + "?"));
  CHECK(allowed_bytes(m) == "<eos>");
}

TEST_CASE("earley: a production of 5,000 symbols", "[robust]") {
  fsm::CfgRuntime rt(fsm::build_cfg(grammar::parse_grammar(long_productions(5000), "gbnf")));
  CHECK(rt.matches(repeat("a", 5257) + "?"));
  CHECK(rt.matches(repeat("a", 5000) + "!"));
  CHECK(rt.matches(repeat("a", 4000) + "(((a)))" + repeat("a", 1256) + "?"));
  CHECK_FALSE(rt.matches(repeat("a", 5256) + "?"));
  CHECK_FALSE(rt.matches(repeat("a", 5000) + "?"));
  fsm::ParserState s = rt.initial();
  REQUIRE(rt.feed(s, repeat("a", 5000)));
  CHECK(s.accepting == false);
}

TEST_CASE("grammars: nesting deeper than max_grammar_nesting is a positioned kLimit error", "[robust]") {
  const uint32_t limit = CompileOptions{}.max_grammar_nesting;
  REQUIRE(limit == grammar::kDefaultMaxNesting);
  // 20,000 groups in each dialect: refused at the group past the limit, not a stack overflow.
  struct Case {
    std::string text, format;
    int column;  // of the first group past the limit
    int line = 1;
  };
  std::vector<Case> cases = {
      {"root ::= " + repeat("(", 20000) + "\"a\"" + repeat(")", 20000) + "\n", "gbnf", 10 + int(limit)},
      {"root ::= " + repeat("(", 20000) + "\"a\"" + repeat(")", 20000) + "\n", "ebnf", 10 + int(limit)},
      {"start: " + repeat("(", 20000) + "\"a\"" + repeat(")", 20000) + "\n", "lark", 8 + int(limit)},
      {"start: " + repeat("[", 100000) + "\"a\"" + repeat("]", 100000) + "\n", "lark", 8 + int(limit)},
      {"root ::= \"x\"\n" + std::string("root2 ::= ") + repeat("(", 100000), "gbnf", 11 + int(limit), 2},
  };
  for (auto& c : cases) {
    INFO(c.format << " " << c.text.substr(0, 40));
    auto err = compile_small_stack(c.text, c.format);
    REQUIRE(err);
    CHECK(err->kind() == ErrorKind::kLimit);
    CHECK(err->line() == c.line);
    CHECK(err->column() == c.column);
    CHECK(err->message().find("max_grammar_nesting") != std::string::npos);
  }
  // The Compiler refuses the same through its option, and accepts it once the option allows it.
  Compiler compiler(byte_vocab());
  std::string deep = "root ::= " + repeat("(", limit + 1) + "\"a\"" + repeat(")", limit + 1) + "\n";
  CHECK_THROWS_AS(compiler.compile_grammar(deep, "gbnf"), Error);
  CompileOptions more;
  more.max_grammar_nesting = limit + 1;
  Matcher m(Compiler(byte_vocab(), more).compile_grammar(deep, "gbnf"));
  CHECK(m.accept_bytes("a"));
  CHECK(m.is_accepting());
}

TEST_CASE("grammars: nesting at the limit compiles on a 1 MiB stack", "[robust]") {
  const uint32_t n = grammar::kDefaultMaxNesting;
  // The deepest shapes each dialect accepts: n groups (the X3 recursion), and a sequence inside
  // an alternative inside a group, n/2 times (the expression depth the later passes recurse on).
  CHECK_FALSE(compile_small_stack("root ::= " + repeat("(", n) + "\"a\"" + repeat(")", n) + "\n", "gbnf"));
  CHECK_FALSE(compile_small_stack("start: " + repeat("(", n) + "\"a\"" + repeat(")", n) + "\n", "lark"));
  // Each [ ] is a group and an optional: n - 1 of them nest n levels deep.
  CHECK_FALSE(compile_small_stack("start: " + repeat("[", n - 1) + "\"a\"" + repeat("]", n - 1) + "\n", "lark"));
  size_t k = n / 2 - 1;
  CHECK_FALSE(compile_small_stack(
      "root ::= " + repeat("\"a\" ( \"b\" | ", k) + "root" + repeat(")", k) + " | \"c\"\n", "gbnf"));
  CHECK_FALSE(compile_small_stack(
      "start: " + repeat("\"a\" ( \"b\" | ", k) + "start" + repeat(")", k) + " | \"c\"\n", "lark"));
  CHECK_FALSE(compile_small_stack(
      "start: A\nA: " + repeat("\"a\" ( \"b\" | ", k) + "\"a\"" + repeat(")", k) + "\n", "lark"));
  // One level more than the limit in expression depth (groups alone stay under it).
  auto err = compile_small_stack(
      "root ::= " + repeat("\"a\" ( \"b\" | ", n / 2 + 1) + "\"a\"" + repeat(")", n / 2 + 1) + "\n", "gbnf");
  REQUIRE(err);
  CHECK(err->kind() == ErrorKind::kLimit);
}

TEST_CASE("grammars: 100,000 stacked repetitions are refused, not recursed into", "[robust]") {
  for (std::string format : {"gbnf", "lark"}) {
    std::string head = format == "lark" ? "start: " : "root ::= ";
    auto err = compile_small_stack(head + "\"a\"" + repeat("*", 100000) + "\n", format);
    REQUIRE(err);
    CHECK(err->kind() == ErrorKind::kLimit);
    CHECK(err->column() == int(head.size() + 3 + grammar::kDefaultMaxNesting));
  }
}

TEST_CASE("regex: 100,000 nested groups or brackets are an error, not a stack overflow", "[robust]") {
  for (std::string pattern : {repeat("(", 100000) + "a" + repeat(")", 100000), repeat("[", 100000) + "a" +
                                                                                     repeat("]", 100000),
                              repeat("(?:", 100000) + "a" + repeat(")", 100000), "a" + repeat("*", 100000),
                              repeat("[[:alpha:]", 100000)}) {
    INFO(pattern.substr(0, 12));
    auto err = on_small_stack([&] { grammar::parse_regex(pattern); });
    // An error (or, for a pattern that is valid, a result): never a crash.
    if (err) CHECK((err->kind() == ErrorKind::kLimit || err->kind() == ErrorKind::kParse));
  }
  // The same inside a Lark /regex/ terminal.
  auto err = compile_small_stack("start: /" + repeat("(", 100000) + "a" + repeat(")", 100000) + "/\n", "lark");
  REQUIRE(err);
}

TEST_CASE("json: 100,000 nested [ in the input do not overflow the stack", "[robust]") {
  Compiler compiler(byte_vocab());
  auto g = compiler.builtin_json();
  std::optional<Error> err = on_small_stack([&] {
    Matcher m(g, 0);
    REQUIRE(m.accept_bytes(repeat("[", 100000)));
    CHECK(allowed_bytes(m).find('[') != std::string::npos);
    REQUIRE(m.accept_bytes("1" + repeat("]", 100000)));
    CHECK(m.is_accepting());
  });
  CHECK_FALSE(err);
}

namespace {
// root ::= r0, r<i> ::= <body(i)> for i < n, r<n> ::= "a" (GBNF), or the same in Lark rules.
std::string chain(size_t n, const std::function<std::string(size_t)>& body, bool lark = false) {
  std::string out = lark ? "start: r0\n" : "root ::= r0\n";
  for (size_t i = 0; i < n; ++i) out += "r" + std::to_string(i) + (lark ? ": " : " ::= ") + body(i) + "\n";
  out += "r" + std::to_string(n) + (lark ? ": \"a\"\n" : " ::= \"a\"\n");
  return out;
}
std::string next_rule(size_t i) { return "r" + std::to_string(i + 1); }
}  // namespace

TEST_CASE("grammars: chains of 20,000 rules compile (no recursion per rule)", "[robust]") {
  // Unit rules, rules that prefix a literal (regular: inlined up to the depth limit, then
  // structural), and a chain that ends in recursion (nothing inlined), in GBNF and Lark.
  const size_t n = 20000;
  std::vector<std::pair<std::string, std::string>> grammars = {
      {chain(n, next_rule), "gbnf"},
      {chain(n, [](size_t i) { return "\"a\" " + next_rule(i); }), "gbnf"},
      {chain(n, [](size_t i) { return "\"a\" " + next_rule(i) + " | \"b\""; }), "gbnf"},
      {chain(n, [](size_t i) { return "\"a\" " + next_rule(i); }, true), "lark"},
  };
  for (auto& [text, format] : grammars) {
    INFO(format << ": " << text.substr(0, 40));
    std::optional<Error> err = on_small_stack([&, &text = text, &format = format] {
      fsm::CfgRuntime rt(fsm::build_cfg(grammar::parse_grammar(text, format)));
      bool prefixed = text.find("\"a\" r1") != std::string::npos;
      std::string sentence = prefixed ? repeat("a", n + 1) : "a";
      CHECK(rt.matches(sentence));
      CHECK_FALSE(rt.matches(sentence + "a"));
    });
    CHECK_FALSE(err);
  }
  // A rule chain that cycles back: every rule is structural.
  std::string cyc = chain(n, [](size_t i) { return "\"(\" " + next_rule(i) + " \")\" | \"a\""; });
  cyc += "r" + std::to_string(n + 1) + " ::= r0\n";
  std::optional<Error> err = on_small_stack([&] {
    fsm::CfgRuntime rt(fsm::build_cfg(grammar::parse_grammar(cyc, "gbnf")));
    CHECK(rt.matches("((a))"));
  });
  CHECK_FALSE(err);
}

TEST_CASE("grammars: a chain of 100,000 rules compiles, a chain of Lark terminals past the limit is kLimit", "[robust]") {
  std::optional<Error> err = on_small_stack([&] {
    fsm::CfgRuntime rt(fsm::build_cfg(grammar::parse_grammar(chain(100000, next_rule), "gbnf")));
    CHECK(rt.matches("a"));
  });
  CHECK_FALSE(err);
  // Terminals must stay one lexeme: a chain deeper than the nesting limit cannot be inlined.
  std::string terms = "start: T0\n";
  for (size_t i = 0; i < 20000; ++i) terms += "T" + std::to_string(i) + ": \"a\" T" + std::to_string(i + 1) + "?\n";
  terms += "T20000: \"a\"\n";
  err = compile_small_stack(terms, "lark");
  REQUIRE(err);
  CHECK(err->kind() == ErrorKind::kLimit);
  CHECK(err->message().find("max_grammar_nesting") != std::string::npos);
  CHECK(err->line() > 1);
}

TEST_CASE("matcher: every refusal is false with the state unchanged, internal errors have their own kind", "[robust]") {
  auto tok = TokenizerInfo::from_tokens({"a", "b", "(", ")", "<eos>", "<tool>"}, {4}, 40, {4, 5});
  Compiler compiler(tok);
  for (auto grammar : {compiler.compile_grammar("root ::= \"(\" root \")\" | \"a\"\n", "gbnf"),
                       compiler.compile_regex("\\(*a\\)*")}) {
    Matcher m(grammar);
    REQUIRE(m.accept_token(2));  // (
    std::vector<int32_t> before = testing::mask_of(m);
    for (int32_t id : {-1, 40, 1000, 39, 6, 5, 4, 1, 3}) {  // out of range, padding, special, EOS too early, b, )
      INFO("token " << id);
      bool accepted = true;
      CHECK_NOTHROW(accepted = m.accept_token(id));
      CHECK_FALSE(accepted);
      CHECK(m.num_accepted() == 1);
      CHECK(testing::mask_of(m) == before);
    }
    CHECK_FALSE(m.accept_bytes("ab"));
    CHECK_FALSE(m.accept_bytes(std::string("\xff", 1)));
    CHECK(m.num_accepted() == 1);
    REQUIRE(m.accept_bytes("a)"));
    REQUIRE(m.accept_token(4));
    CHECK_FALSE(m.accept_token(0));  // after termination
    CHECK(m.is_terminated());
  }
  CHECK(std::string(to_string(ErrorKind::kInternal)) == "internal error");
  CHECK(std::string(to_string(ErrorKind::kInternal)) != to_string(ErrorKind::kInvalidArgument));
}

// ---- One UTF-8 rule for every entry point (fsm::decode_utf8) ----

#include "engine/retnet/safetensors.hpp"
#include "fsm/utf8.hpp"
#include "grammar/json_schema_strings.hpp"

TEST_CASE("utf8: one decoder, RFC 3629 well-formed sequences only", "[robust]") {
  struct Case {
    std::string bytes;
    size_t len;  // 0 = malformed at 0
    char32_t cp;
  };
  const Case cases[] = {
      {"a", 1, U'a'},
      {"\xC2\x80", 2, 0x80},
      {"\xDF\xBF", 2, 0x7FF},
      {"\xE0\xA0\x80", 3, 0x800},
      {"\xED\x9F\xBF", 3, 0xD7FF},
      {"\xEE\x80\x80", 3, 0xE000},
      {"\xF0\x90\x80\x80", 4, 0x10000},
      {"\xF4\x8F\xBF\xBF", 4, 0x10FFFF},
      {"\xC0\x80", 0, 0},          // overlong NUL
      {"\xC1\xBF", 0, 0},          // overlong
      {"\xE0\x9F\xBF", 0, 0},      // overlong 3-byte
      {"\xF0\x8F\xBF\xBF", 0, 0},  // overlong 4-byte
      {"\xED\xA0\x80", 0, 0},      // surrogate D800
      {"\xED\xBF\xBF", 0, 0},      // surrogate DFFF
      {"\xF4\x90\x80\x80", 0, 0},  // above U+10FFFF
      {"\xF5\x80\x80\x80", 0, 0},
      {"\xFF", 0, 0},
      {"\x80", 0, 0},              // stray continuation
      {"\xE2\x82", 0, 0},          // truncated
      {"\xE2\x28\xA1", 0, 0},      // bad continuation
  };
  for (const auto& c : cases) {
    INFO("case of " << c.bytes.size() << " bytes, first " << static_cast<int>(static_cast<unsigned char>(c.bytes[0])));
    char32_t cp = 0;
    CHECK(fsm::decode_utf8(c.bytes, 0, cp) == c.len);
    if (c.len) CHECK(cp == c.cp);
    CHECK(fsm::invalid_utf8(c.bytes) == (c.len ? std::string_view::npos : 0));
  }
  // Round trip over every scalar value's encoding.
  for (char32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x1000 ? 1 : 97)) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string s = fsm::encode_utf8(cp);
    char32_t back = 0;
    REQUIRE(fsm::decode_utf8(s, 0, back) == s.size());
    REQUIRE(back == cp);
  }
}

TEST_CASE("utf8: the same malformed bytes are refused by every text entry point", "[robust]") {
  Compiler compiler(byte_vocab());
  for (std::string bad : {std::string("\xC0\x80"), std::string("\xED\xA0\x80"), std::string("\xF4\x90\x80\x80"),
                          std::string("\xE2\x82")}) {
    INFO("bad bytes of size " << bad.size());
    // regex pattern, GBNF literal and class, Lark literal, EBNF literal: kParse with a position
    auto expect_parse_error = [&](auto&& f) {
      try {
        f();
        FAIL("accepted malformed UTF-8");
      } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::kParse);
      }
    };
    expect_parse_error([&] { compiler.compile_regex("x" + bad); });
    expect_parse_error([&] { compiler.compile_grammar("root ::= \"x" + bad + "\"\n", "gbnf"); });
    expect_parse_error([&] { compiler.compile_grammar("root ::= [a" + bad + "]\n", "gbnf"); });
    expect_parse_error([&] { compiler.compile_grammar("start: \"x" + bad + "\"\n", "lark"); });
    // JSON Schema text is JSON: malformed UTF-8 in a string is a parse error too.
    expect_parse_error([&] { compiler.compile_json_schema("{\"const\": \"x" + bad + "\"}"); });
  }
}

TEST_CASE("utf8: tokens with malformed bytes are never allowed by a text grammar", "[robust]") {
  // ids: 0 a, 1 é, 2 overlong, 3 surrogate, 4 lone lead byte, 5 stray continuation, 6 EOS
  auto tok = TokenizerInfo::from_tokens({"a", "\xC3\xA9", "\xC0\x80", "\xED\xA0\x80", "\xE2", "\x80", "<eos>"}, {6}, 7, {6});
  Compiler compiler(tok);
  for (auto g : {compiler.compile_regex(".*"), compiler.compile_grammar("root ::= [^x]*\n", "gbnf"),
                 compiler.compile_grammar("start: /.*/\n", "lark")}) {
    Matcher m(g);
    auto mask = testing::mask_of(m);
    CHECK(testing::mask_bit(mask, 0));
    CHECK(testing::mask_bit(mask, 1));
    CHECK(testing::mask_bit(mask, 4));  // a prefix of a well-formed sequence (E2 82 AC)
    CHECK_FALSE(testing::mask_bit(mask, 2));
    CHECK_FALSE(testing::mask_bit(mask, 3));
    CHECK_FALSE(testing::mask_bit(mask, 5));
    CHECK_FALSE(m.accept_token(2));
    CHECK_FALSE(m.accept_token(5));
    REQUIRE(m.accept_token(4));  // E2, then only a continuation byte may follow
    auto after = testing::mask_of(m);
    CHECK_FALSE(testing::mask_bit(after, 0));
    CHECK(testing::mask_bit(after, 5));  // E2 80 is a prefix of E2 80 80 (U+2000)
  }
}

// ---- Limits: each a clear kLimit error ----

TEST_CASE("limits: a counted repetition above GrammarOptions::max_repeat is a positioned kLimit error", "[robust]") {
  Compiler compiler(byte_vocab());
  // (10 digits and more are a kParse error "expected a number": the counts are 32-bit.)
  for (auto [text, format] : {std::pair<std::string, std::string>{"root ::= \"x\"{999999999}\n", "gbnf"},
                              {"root ::= \"x\"{2,999999999}\n", "gbnf"},
                              {"root ::= (\"x\" root){0,100000}\n", "gbnf"},
                              {"start: \"x\"~999999999\n", "lark"},
                              {"start: \"x\"~3..20000\n", "lark"}}) {
    INFO(text);
    try {
      compiler.compile_grammar(text, format);
      FAIL("compiled");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kLimit);
      CHECK(e.message().find("max_repeat") != std::string::npos);
      CHECK(e.line() == 1);
      CHECK(e.column() > 1);
    }
  }
  // At the limit it compiles, and the count is exact.
  auto g = compiler.compile_grammar("root ::= \"x\"{10000}\n", "gbnf");
  Matcher m(g, 0);
  REQUIRE(m.accept_bytes(repeat("x", 9999)));
  CHECK_FALSE(m.is_accepting());
  REQUIRE(m.accept_bytes("x"));
  CHECK(m.is_accepting());
  CHECK_FALSE(m.accept_bytes("x"));
}

namespace {
// root ::= r0 | r1 | ... ; r<i> ::= "(" r<i> ")" | "k<i>" — every r<i> is self-embedding (not a
// lexeme), so the initial parser state predicts all n rules.
std::string wide_grammar(size_t n) {
  std::string out = "root ::= r0";
  for (size_t i = 1; i < n; ++i) out += " | r" + std::to_string(i);
  out += "\n";
  for (size_t i = 0; i < n; ++i) {
    std::string r = "r" + std::to_string(i);
    out += r + " ::= \"(\" " + r + " \")\" | \"k" + std::to_string(i) + "\"\n";
  }
  return out;
}
}  // namespace

TEST_CASE("limits: Earley items per parser state (CompileOptions::max_earley_items)", "[robust]") {
  const std::string text = wide_grammar(2000);
  {
    CompileOptions o;
    o.max_earley_items = 1000;  // the initial state needs over 4,000
    Compiler compiler(byte_vocab(), o);
    try {
      compiler.compile_grammar(text, "gbnf");
      FAIL("compiled");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kLimit);
      CHECK(e.message().find("max_earley_items") != std::string::npos);
    }
  }
  Compiler compiler(byte_vocab());  // the default (2^20) is far above it
  Matcher m(compiler.compile_grammar(text, "gbnf"));
  REQUIRE(m.accept_bytes("((k1999))"));
  CHECK(m.is_accepting());
}

TEST_CASE("grammars: a grammar of 10,000 rules compiles and matches", "[robust]") {
  std::string text = "root ::= r0";
  for (int i = 1; i < 10000; ++i) text += " | r" + std::to_string(i);
  text += "\n";
  for (int i = 0; i < 10000; ++i) text += "r" + std::to_string(i) + " ::= \"w" + std::to_string(i) + "\" [0-9]*\n";
  Compiler compiler(byte_vocab());
  Matcher m(compiler.compile_grammar(text, "gbnf"));
  REQUIRE(m.accept_bytes("w9999"));
  CHECK(m.is_accepting());
  CHECK_FALSE(m.accept_bytes("x"));
  REQUIRE(m.accept_bytes("42"));
  CHECK(m.is_accepting());
}

TEST_CASE("limits: compile time budget and cancellation (CompileOptions::max_compile_ms, ::cancel)", "[robust]") {
  // An automaton that takes far longer than the budget to build (a 2^14-state DFA per alternative:
  // ~0.5 s in a Release build). The budget leaves a small regex room to compile in a sanitizer
  // build on a loaded machine (with 1 ms, `[a-z]+` ran out of it under TSan).
  const std::string heavy = "((a|b)*a(a|b){13}|(c|d)*c(c|d){13}|(e|f)*e(e|f){13})x";
  {
    CompileOptions o;
    o.max_compile_ms = 25;
    Compiler compiler(byte_vocab(), o);
    try {
      compiler.compile_regex(heavy);
      FAIL("compiled within 25 ms");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kLimit);
      CHECK(e.message().find("max_compile_ms") != std::string::npos);
    }
    // A budget is per call: a small grammar still compiles with the same Compiler.
    CHECK_NOTHROW(compiler.compile_regex("[a-z]+"));
  }
  {
    std::atomic<bool> cancel{true};  // cancelled before it starts: stops at the first check
    CompileOptions o;
    o.cancel = &cancel;
    Compiler compiler(byte_vocab(), o);
    for (auto f : std::vector<std::function<void()>>{[&] { compiler.compile_regex(heavy); },
                                                     [&] { compiler.compile_grammar(wide_grammar(50), "gbnf"); }}) {
      try {
        f();
        FAIL("not cancelled");
      } catch (const Error& e) {
        // A cancellation, not a limit: kLimit is the time budget's, naming max_compile_ms.
        CHECK(e.kind() == ErrorKind::kCancelled);
        CHECK(e.message().find("CompileOptions::cancel") != std::string::npos);
      }
    }
    cancel = false;
    CHECK_NOTHROW(compiler.compile_regex("[a-z]+"));
  }
}

TEST_CASE("limits: 100,000 nested levels in a JSON Schema are a kSchema error, not a stack overflow", "[robust]") {
  Compiler compiler(byte_vocab());
  for (auto [open, close] : {std::pair<std::string, std::string>{"{\"items\":", "}"}, {"{\"anyOf\":[", "]}"}, {"[", "]"}}) {
    std::string schema = repeat(open, 100000) + "{}" + repeat(close, 100000);
    std::optional<Error> err = on_small_stack([&] { compiler.compile_json_schema(schema); });
    REQUIRE(err);
    CHECK((err->kind() == ErrorKind::kSchema || err->kind() == ErrorKind::kParse || err->kind() == ErrorKind::kLimit));
  }
}

// Found by fuzz_json_schema (a timeout on the seed {"format": "time"}): every schema with a "time"
// or "date-time" format parsed the format's regex again (some 3,000 alternatives of leap-second
// offsets, ~0.3 s in a Release build, over a minute under ASan on the loaded machine). Each format
// is now parsed once per process and shared.
TEST_CASE("json schema formats: each format's regex is parsed once and shared by every schema", "[robust]") {
  for (const char* f : {"date", "time", "date-time", "duration", "email", "hostname", "ipv4", "ipv6", "uri",
                        "uri-reference", "iri", "iri-reference", "uri-template", "uuid", "json-pointer",
                        "relative-json-pointer"}) {
    INFO(f);
    grammar::RegexPtr r = grammar::format_regex(f);
    REQUIRE(r);
    CHECK(grammar::format_regex(f) == r);
  }
  CHECK(grammar::format_regex("no-such-format") == nullptr);
  Compiler compiler(byte_vocab());
  for (int copy = 0; copy < 2; ++copy) {
    Matcher m(compiler.compile_json_schema(R"({"type": "string", "format": "date-time"})"));
    Matcher bad(m);
    CHECK(m.accept_bytes("\"1990-12-31T23:59:60Z\""));
    CHECK(m.is_accepting());
    CHECK_FALSE(bad.accept_bytes("\"1990-12-31T24:"));
  }
}

// fuzz_json_schema (2026-12-02) found {"format": {"$defs": 2e+308}}: nlohmann's parser throws a number
// outside the double range as out_of_range (406), not parse_error, and it escaped compile_json_schema
// as a non-tollgate exception. It is now a kParse error at the number, in strict and lenient mode.
TEST_CASE("json schema: a number outside the double range is a positioned kParse error", "[robust]") {
  Compiler compiler(byte_vocab());
  struct Case {
    std::string schema;
    int line, column;
  };
  const Case cases[] = {
      {R"({"$schema":"https://json-schema.org/draft/2020-12/schema","format":{"$defs":2e+308}})", 1, 77},
      {"{\"type\": \"number\",\n \"maximum\": -1e999}", 2, 13},
      {"[1e400]", 1, 2},
  };
  for (const Case& c : cases) {
    INFO(c.schema);
    for (bool lenient : {false, true}) {
      JsonSchemaOptions opt;
      opt.lenient = lenient;
      std::optional<Error> err;
      try {
        compiler.compile_json_schema(c.schema, opt);
      } catch (const Error& e) {
        err = e;
      }
      REQUIRE(err);
      CHECK(err->kind() == ErrorKind::kParse);
      CHECK_THAT(err->message(), Catch::Contains("number overflow"));
      CHECK(err->line() == c.line);
      CHECK(err->column() == c.column);
    }
  }
  // The largest finite doubles still parse.
  CHECK_NOTHROW(compiler.compile_json_schema(R"({"type": "number", "maximum": 1.7976931348623157e308})"));
}

// ---- Adversarial inputs ----

TEST_CASE("regex: catastrophic patterns compile to small automata and match in linear time", "[robust]") {
  Compiler compiler(byte_vocab());
  struct Case {
    std::string pattern, yes, no;
  };
  const Case cases[] = {
      {"(a*)*b", repeat("a", 5000) + "b", repeat("a", 5000)},
      {"(a|a)*c", repeat("a", 5000) + "c", repeat("a", 5000) + "b"},
      {"(a|aa)*c", repeat("a", 5000) + "c", repeat("a", 5000)},
      {"((a{1,10}){1,10}){1,10}", repeat("a", 1000), repeat("a", 1001)},
      {"(x+x+)+y", repeat("x", 3000) + "y", repeat("x", 3000)},
      {"\\p{L}{50}", repeat("\xC3\xA9", 50), repeat("\xC3\xA9", 49) + "1"},
  };
  for (const auto& c : cases) {
    INFO(c.pattern);
    auto g = compiler.compile_regex(c.pattern);
    Matcher yes(g, 0), no(g, 0);
    CHECK((yes.accept_bytes(c.yes) && yes.is_accepting()));
    CHECK_FALSE((no.accept_bytes(c.no) && no.is_accepting()));
  }
  // \p{L}{1000} needs over 32 MiB of NFA (a few hundred states per letter class): a kLimit error
  // naming the budget, found before the subset construction starts.
  try {
    compiler.compile_regex("\\p{L}{1000}");
    FAIL("compiled");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kLimit);
    CHECK(e.message().find("max_dfa_memory") != std::string::npos);
  }
  // A counted repetition past RE2's limit is a clear error.
  try {
    compiler.compile_regex("((a{1000}){1000}){1000}");
    FAIL("compiled");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kLimit);
  }
}

TEST_CASE("grammars: 400 nested alternations compile, the matcher walks them", "[robust]") {
  std::string text = "root ::= ";
  for (int i = 0; i < 400; ++i) text += "(\"a" + std::to_string(i) + "\" | ";
  text += "\"z\"" + repeat(")", 400) + "\n";
  Compiler compiler(byte_vocab());
  auto g = compiler.compile_grammar(text, "gbnf");
  for (std::string s : {"a0", "a399", "z"}) {
    Matcher m(g, 0);
    CHECK((m.accept_bytes(s) && m.is_accepting()));
  }
}

TEST_CASE("tokenizer.json: duplicate ids, missing merges, a 1,000,000-token vocabulary", "[robust]") {
  auto bpe = [](const std::string& vocab, const std::string& merges) {
    return "{\"model\":{\"type\":\"BPE\",\"vocab\":{" + vocab + "}" + merges +
           "},\"added_tokens\":[],\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"decoder\":{\"type\":\"ByteLevel\"}}";
  };
  // Two tokens with one id: a positioned error naming the id.
  try {
    TokenizerInfo::from_json(bpe("\"a\":0,\"b\":1,\"c\":1", ",\"merges\":[]"));
    FAIL("loaded");
  } catch (const Error& e) {
    CHECK(e.message().find("duplicate token id 1") != std::string::npos);
  }
  // No merges: the vocabulary still loads (masks need token bytes, not merges).
  auto tok = TokenizerInfo::from_json(bpe("\"a\":0,\"b\":1,\"ab\":2", ""));
  CHECK(tok->vocab_size() == 3);
  CHECK(tok->token_bytes(2) == "ab");
  // A million tokens: loads, and a regex compiles over it.
  std::string vocab;
  vocab.reserve(16 << 20);
  for (int i = 0; i < 1000000; ++i) {
    if (i) vocab += ',';
    vocab += "\"t" + std::to_string(i) + "\":" + std::to_string(i);
  }
  auto big = TokenizerInfo::from_json(bpe(vocab, ",\"merges\":[]"));
  REQUIRE(big->vocab_size() == 1000000);
  CHECK(big->token_bytes(999999) == "t999999");
  CompileOptions o;
  o.threads = 1;
  Compiler compiler(big, o);
  Matcher m(compiler.compile_regex("t12(3|4)"));
  auto mask = testing::mask_of(m);
  size_t allowed = 0;
  for (int32_t w : mask) allowed += __builtin_popcount(static_cast<uint32_t>(w));
  // t1, t12, t123, t124 (ids = their numbers)
  CHECK(allowed == 4);
  CHECK(testing::mask_bit(mask, 1));
  CHECK(testing::mask_bit(mask, 12));
  CHECK(testing::mask_bit(mask, 124));
  CHECK_FALSE(testing::mask_bit(mask, 125));
}

TEST_CASE("safetensors: every truncation of a real file is a kModel error naming the file", "[robust]") {
  const std::string bytes = testing::read_file(std::filesystem::path(TOLLGATE_SOURCE_DIR) / "tests/data/retnet/golden_io.safetensors");
  REQUIRE(bytes.size() > 1000);
  auto full = engine::SafeTensors::parse(bytes, "golden_io");
  REQUIRE(!full.tensors().empty());
  size_t errors = 0, cuts = 0;
  for (size_t cut = 0; cut < bytes.size(); cut += (cut < 600 ? 1 : 97)) {
    ++cuts;
    try {
      auto st = engine::SafeTensors::parse(bytes.substr(0, cut), "golden_io");
      for (auto& [name, info] : st.tensors()) (void)(info.dtype == "F32" ? st.f32(name).size() : st.i32(name).size());
    } catch (const Error& e) {
      ++errors;
      CHECK(e.kind() == ErrorKind::kModel);
      CHECK(e.message().find("golden_io") != std::string::npos);
    }
  }
  CHECK(errors == cuts);  // a strict prefix is never a whole file
}
