// Robustness: long productions (Earley item keys), deep nesting and long rule chains in grammar
// text (no stack overflow: a positioned kLimit error or a compiled grammar), memory of long
// chains, and the Matcher's accept contract. Each case reproduces a defect found before.
#include "test_support.hpp"

#include <pthread.h>

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
TokenizerInfoPtr byte_vocab() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  tokens.push_back("<eos>");
  return TokenizerInfo::from_tokens(std::move(tokens), {256}, 257, {256});
}

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
std::optional<Error> on_small_stack(const std::function<void()>& f) {
  struct Job {
    const std::function<void()>* f;
    std::optional<Error> error;
    std::exception_ptr other;
  } job{&f, std::nullopt, nullptr};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, size_t{1} << 20);
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

TEST_CASE("grammars: a chain of 100,000 rules compiles; a chain of Lark terminals past the limit is kLimit", "[robust]") {
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

TEST_CASE("matcher: every refusal is false with the state unchanged; internal errors have their own kind", "[robust]") {
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
