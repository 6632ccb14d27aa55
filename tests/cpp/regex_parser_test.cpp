// Unit tests of the regex front-end (grammar/regex_parser.cpp): each syntax feature, checked by
// the AST rendering, by CharSet membership or by the language of the compiled DFA; and a table
// of malformed / unsupported regexes with their error kind, message and column.
#include "test_support.hpp"

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fsm/dfa.hpp"
#include "grammar/regex_ast.hpp"
#include "grammar/unicode_classes.hpp"
#include "tollgate/error.hpp"

using namespace tollgate;
using grammar::CharSet;
using grammar::parse_regex;
using grammar::Regex;
using grammar::RegexOptions;

namespace {

std::string ast(std::string_view pattern, RegexOptions o = {}) { return parse_regex(pattern, o)->to_string(); }

// The set of a regex that must be exactly one character class.
CharSet set_of(std::string_view pattern, RegexOptions o = {}) {
  auto r = parse_regex(pattern, o);
  REQUIRE(r->kind == Regex::Kind::kChars);
  return r->chars;
}

struct Lang {
  fsm::Dfa dfa;
  explicit Lang(std::string_view pattern, RegexOptions o = {}) : dfa(fsm::compile_dfa(*parse_regex(pattern, o))) {}
  bool operator()(std::string_view s) const { return dfa.matches(s); }
};

RegexOptions search() {
  RegexOptions o;
  o.search = true;
  return o;
}

}  // namespace

TEST_CASE("regex literals and escapes", "[regex]") {
  CHECK(ast("abc") == "(?:[a][b][c])");
  CHECK(ast("\\.\\*\\\\\\/\\-") == "(?:[.][*][\\\\][/][\\-])");
  CHECK(ast("\\n\\t\\r\\f\\v\\0") == "(?:[\\u{A}][\\u{9}][\\u{D}][\\u{C}][\\u{B}][\\u{0}])");
  CHECK(ast("\\x41\\u0042\\u{43}\\x{44}") == "(?:[A][B][C][D])");
  CHECK(ast("\\uD83D\\uDE00") == "[\\u{1F600}]");  // surrogate pair → one code point
  CHECK(ast("\\cA\\cz") == "(?:[\\u{1}][\\u{1A}])");
  CHECK(ast("é日") == "(?:[\\u{E9}][\\u{65E5}])");  // UTF-8 → code points
  CHECK(ast("\\\"\\#\\ ") == "(?:[\"][#][ ])");
  // RE2: `{` that does not start a valid repetition is a literal, and so are `}` and `]`.
  CHECK(ast("a{") == "(?:[a][{])");
  CHECK(ast("a{,5}") == "(?:[a][{][,][5][}])");
  CHECK(ast("x}]") == "(?:[x][}][\\]])");
}

TEST_CASE("regex character classes", "[regex]") {
  CHECK(ast("[a-cx]") == "[a-cx]");
  CHECK(ast("[]a]") == "[\\]a]");  // `]` first is a literal (RE2)
  CHECK(ast("[a-]") == "[\\-a]");
  CHECK(ast("[-a]") == "[\\-a]");
  CHECK(ast("[\\]\\\\]") == "[\\\\-\\]]");  // { \\, ] } are adjacent code points
  CHECK(ast("[[:digit:][:upper:]]") == "[0-9A-Z]");
  CHECK(ast("[\\b]") == "[\\u{8}]");  // backspace inside a class
  CharSet neg = set_of("[^a-z]");
  CHECK_FALSE(neg.contains('m'));
  CHECK(neg.contains('A'));
  CHECK(neg.contains(0x10FFFF));
  CHECK(neg.contains('\n'));
  CharSet mix = set_of("[\\d\\s_]");
  CHECK(mix.contains('7'));
  CHECK(mix.contains(' '));
  CHECK(mix.contains(0x3000));  // ECMAScript white space
  CHECK(mix.contains('_'));
  CHECK_FALSE(mix.contains('a'));
  CharSet nw = set_of("[^\\W]");
  CHECK(nw == grammar::perl_class('w'));
  CharSet ucls = set_of("[\\u0400-\\u04FF\\x{1F600}]");
  CHECK(ucls.contains(0x416));
  CHECK(ucls.contains(0x1F600));
  CHECK_FALSE(ucls.contains(0x1F601));
}

TEST_CASE("regex perl classes and dot", "[regex]") {
  CHECK(ast("\\d") == "[0-9]");
  CHECK(ast("\\w") == "[0-9A-Z_a-z]");
  CharSet nd = set_of("\\D");
  CHECK_FALSE(nd.contains('5'));
  CHECK(nd.contains(0x663));  // ARABIC-INDIC DIGIT THREE is not \d
  CharSet s = set_of("\\s");
  for (char32_t c : {U'\t', U'\n', U'\v', U'\f', U'\r', U' ', U'\u00A0', U'\u2028', U'\uFEFF'}) CHECK(s.contains(c));
  CHECK_FALSE(set_of("\\S").contains(' '));
  CharSet dot = set_of(".");
  CHECK_FALSE(dot.contains('\n'));
  CHECK(dot.contains('\r'));
  CHECK(dot.contains(0x10FFFF));
  CHECK(set_of("(?s).").contains('\n'));
  RegexOptions da;
  da.dot_all = true;
  CHECK(set_of(".", da).contains('\n'));
}

TEST_CASE("regex Unicode properties and scripts", "[regex]") {
  CharSet lu = set_of("\\p{Lu}");
  CHECK(lu.contains('A'));
  CHECK(lu.contains(0x0394));  // Δ
  CHECK_FALSE(lu.contains('a'));
  CHECK(set_of("\\p{Uppercase_Letter}") == lu);
  CHECK(set_of("\\p{gc=Lu}") == lu);
  CharSet l = set_of("\\pL");
  CHECK(set_of("\\p{L}") == l);
  CHECK(set_of("\\p{Letter}") == l);
  CHECK(l.contains(0x65E5));
  CHECK(set_of("\\PL") == l.complement());
  CHECK(set_of("\\P{L}") == l.complement());
  CHECK(set_of("\\p{^L}") == l.complement());
  CHECK(set_of("\\p{Nd}").contains(0x663));
  CHECK(set_of("\\p{N}").contains(0x2167));   // ROMAN NUMERAL EIGHT (Nl)
  CHECK(set_of("\\p{P}").contains('!'));
  CHECK(set_of("\\p{S}").contains('+'));
  CHECK(set_of("\\p{Zs}").contains(0x3000));
  CHECK(set_of("\\p{Cc}").contains(0x07));
  CHECK(set_of("\\p{M}").contains(0x301));  // COMBINING ACUTE ACCENT
  CharSet greek = set_of("\\p{Greek}");
  CHECK(greek.contains(0x3B1));
  CHECK_FALSE(greek.contains('a'));
  CHECK(set_of("\\p{script=Greek}") == greek);
  CHECK(set_of("\\p{sc=Greek}") == greek);
  CHECK(set_of("\\p{Han}").contains(0x65E5));
  CHECK(set_of("\\p{Cyrillic}").contains(0x416));
  CHECK(set_of("\\p{Latin}").contains('z'));
  CHECK(set_of("\\p{Any}") == CharSet::any());
  CharSet cls = set_of("[\\p{Greek}\\d]");
  CHECK(cls.contains(0x3B1));
  CHECK(cls.contains('4'));
  CHECK_FALSE(set_of("[^\\p{L}]").contains('q'));
}

TEST_CASE("regex groups and alternation", "[regex]") {
  CHECK(ast("(a)") == "[a]");
  CHECK(ast("(?:a|b)c") == "(?:(?:[a]|[b])[c])");
  CHECK(ast("(?<name>a)(?P<w>b)") == "(?:[a][b])");
  CHECK(ast("a|") == "(?:[a]|())");
  CHECK(ast("|a") == "(?:()|[a])");
  CHECK(ast("()") == "()");
  Lang l("(foo|foobar)(bar)?");
  CHECK(l("foo"));
  CHECK(l("foobar"));
  CHECK(l("foobarbar"));
  CHECK_FALSE(l("fooba"));
  Lang n("x(?:y|z(?:w|v))*");
  CHECK(n("x"));
  CHECK(n("xyzwzvy"));
  CHECK_FALSE(n("xz"));
}

TEST_CASE("regex quantifiers", "[regex]") {
  CHECK(ast("a*") == "(?:[a]){0,}");
  CHECK(ast("a+") == "(?:[a]){1,}");
  CHECK(ast("a?") == "(?:[a]){0,1}");
  CHECK(ast("a{3}") == "(?:[a]){3,3}");
  CHECK(ast("a{2,}") == "(?:[a]){2,}");
  CHECK(ast("a{2,4}") == "(?:[a]){2,4}");
  CHECK(ast("a{0}") == "()");
  // lazy forms: marked (the language is the same; only the leftmost-first automaton differs)
  CHECK(ast("a*?") == "(?:[a]){0,}?");
  CHECK(ast("a{2,4}?") == "(?:[a]){2,4}?");
  CHECK(ast("a??") == "(?:[a]){0,1}?");
  CHECK(ast("a{3}?") == "(?:[a]){3,3}");  // a fixed count has no preference
  CHECK(ast("(?U)a*") == "(?:[a]){0,}?");
  CHECK(ast("(?U)a*?") == "(?:[a]){0,}");
  for (const char* re : {"a*?", "a{2,4}?", "a??", "(?U)a+", "x(ab)*?y"}) {
    std::string greedy = re;
    if (greedy.rfind("(?U)", 0) == 0) greedy = greedy.substr(4);
    else greedy.erase(greedy.find('?', 1), 1);
    INFO(re << " vs " << greedy);
    for (const char* s : {"", "a", "aa", "aaaa", "aaaaa", "xy", "xaby", "xababy", "xaby "}) {
      CHECK(fsm::compile_dfa(*parse_regex(re)).matches(s) == fsm::compile_dfa(*parse_regex(greedy)).matches(s));
    }
  }
  CHECK(ast("(ab){2}") == "(?:(?:[a][b])){2,2}");
  Lang ip("(?:[0-9]{1,3}\\.){3}[0-9]{1,3}");
  CHECK(ip("10.0.0.255"));
  CHECK_FALSE(ip("10.0.0"));
  CHECK_FALSE(ip("1000.0.0.1"));
  CHECK_NOTHROW(parse_regex("a{1000}"));
}

TEST_CASE("regex inline flags and case folding", "[regex]") {
  CHECK(ast("(?i)ab") == "(?:[Aa][Bb])");
  CHECK(ast("(?i:a)b") == "(?:[Aa][b])");
  CHECK(ast("a(?i)b") == "(?:[a][Bb])");
  CHECK(ast("(?i)k") == "[Kk\\u{212A}]");  // simple folding orbit includes KELVIN SIGN
  CHECK(ast("(?i)\\x{212A}") == "[Kk\\u{212A}]");
  CHECK(ast("(?i)s") == "[Ss\\u{17F}]");  // and LATIN SMALL LETTER LONG S
  CHECK(ast("((?i)a)b") == "(?:[Aa][b])");  // scoped to the group
  CHECK(ast("(?i)(?-i)a") == "[a]");
  RegexOptions ci;
  ci.case_insensitive = true;
  CHECK(ast("a", ci) == "[Aa]");
  CharSet up = set_of("(?i)[a-c]");
  for (char32_t c : {U'a', U'b', U'c', U'A', U'B', U'C'}) CHECK(up.contains(c));
  CharSet nega = set_of("(?i)[^a]");
  CHECK_FALSE(nega.contains('a'));
  CHECK_FALSE(nega.contains('A'));
  CHECK(nega.contains('b'));
  CHECK(set_of("(?i)\\p{Lu}").contains('q'));
  CHECK(set_of("(?i)δ").contains(0x394));
  CHECK(ast("(?s:.)") == ast("(?s).", {}));
  CHECK(ast("(?m)a") == "[a]");
}

TEST_CASE("regex anchors and search semantics", "[regex]") {
  // Full match: anchors at the ends are no-ops.
  CHECK(ast("^abc$") == ast("abc"));
  CHECK(ast("^a|b$") == ast("a|b"));
  Lang full("(a|^b)c");
  CHECK(full("ac"));
  CHECK(full("bc"));
  // Search (JSON Schema pattern): unanchored unless anchored.
  Lang s("ab", search());
  CHECK(s("ab"));
  CHECK(s("xxabyy"));
  CHECK(s("a\nab\n"));
  CHECK_FALSE(s("a b"));
  Lang st("^ab", search());
  CHECK(st("abzz"));
  CHECK_FALSE(st("zab"));
  Lang en("ab$", search());
  CHECK(en("zzab"));
  CHECK_FALSE(en("abz"));
  Lang both("^ab$", search());
  CHECK(both("ab"));
  CHECK_FALSE(both("abab"));
  Lang alt("^a|b$", search());
  CHECK(alt("axx"));
  CHECK(alt("xxb"));
  CHECK_FALSE(alt("xax"));
  CHECK_FALSE(alt("bx"));
  Lang grp("(^a|^b)c", search());
  CHECK(grp("bcx"));
  CHECK_FALSE(grp("xbc"));
  Lang opt("(^x)?y", search());
  CHECK(opt("zy"));  // the optional anchored group may be skipped
  CHECK(opt("xyz"));
  Lang empty("^$", search());
  CHECK(empty(""));
  CHECK_FALSE(empty("a"));
  Lang ml("(?m)^b$", search());
  CHECK(ml("a\nb\nc"));
  CHECK(ml("b"));
  CHECK_FALSE(ml("ab\nc"));
  Lang any(".", search());  // at least one char somewhere
  CHECK(any("\n\nx"));
  CHECK_FALSE(any(""));
}

TEST_CASE("regex max_nodes bounds the expanded AST", "[regex]") {
  CHECK_NOTHROW(parse_regex("(?:x{1000}){999}"));
  try {
    parse_regex("(?:x{1000}){1000}");
    FAIL("expected a kLimit error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kLimit);
    CHECK(e.message().find("max_nodes") != std::string::npos);
    CHECK(e.column() == 12);
  }
  RegexOptions small;
  small.max_nodes = 50;
  CHECK_THROWS_AS(parse_regex("[a-z]{60}", small), Error);
  CHECK_NOTHROW(parse_regex("[a-z]{40}", small));
}

TEST_CASE("regex errors name the construct and its column", "[regex]") {
  struct Bad {
    const char* pattern;
    ErrorKind kind;
    int column;
    const char* names;  // a substring of the message
  };
  const ErrorKind P = ErrorKind::kParse, U = ErrorKind::kUnsupported;
  const std::vector<Bad> cases = {
      {"(ab", P, 1, "missing ')'"},
      {"a(b(c)", P, 2, "missing ')'"},
      {"ab)", P, 3, "unmatched ')'"},
      {"a|b)c", P, 4, "unmatched ')'"},
      {"*a", P, 1, "nothing to repeat"},
      {"a|+b", P, 3, "nothing to repeat"},
      {"(?:{2})", P, 4, "nothing to repeat"},
      {"a**", P, 3, "stacked quantifier"},
      {"a{2}{3}", P, 5, "stacked quantifier"},
      {"a*+", U, 2, "possessive quantifier"},
      {"ab{2}+", U, 3, "possessive quantifier"},
      {"^*a", P, 2, "after an anchor"},
      {"[z-a]", P, 2, "bad character class range z-a"},
      {"x[9-0]", P, 3, "bad character class range 9-0"},
      {"[abc", P, 1, "missing ']'"},
      {"ab[^", P, 3, "missing ']'"},
      {"[]", P, 1, "missing ']'"},
      {"[a-\\d]", P, 4, "a class escape cannot end a range"},
      {"[\\w-z]", P, 4, "a class escape cannot start a range"},
      {"[[:foo:]]", P, 2, "unknown POSIX class [:foo:]"},
      {"\\q", P, 1, "invalid escape \\q"},
      {"ab\\y", P, 3, "invalid escape \\y"},
      {"[\\q]", P, 2, "invalid escape \\q"},
      {"\\é", P, 1, "invalid escape \\é"},
      {"abc\\", P, 4, "trailing backslash"},
      {"\\xZZ", P, 1, "invalid \\x escape"},
      {"\\x{110000}", P, 1, "beyond U+10FFFF"},
      {"\\u12", P, 1, "invalid \\u escape"},
      {"\\u{12", P, 1, "invalid \\u{...} escape"},
      {"a\\uD800", P, 2, "high surrogate"},
      {"\\uDC00", P, 1, "lone low surrogate"},
      {"\\c1", P, 1, "control escape"},
      {"a{3,2}", P, 2, "bad repetition {3,2}"},
      {"a{1001}", P, 3, "repetition count 1001"},
      {"(?:a){2,5000}", P, 9, "repetition count 5000"},
      {"\\p{Nope}", P, 1, "\\p{Nope}"},
      {"x\\p{Greek", P, 2, "unterminated \\p{"},
      {"\\p", P, 1, "\\p needs a property name"},
      {"[\\p{Bogus}]", P, 2, "\\p{Bogus}"},
      {"\\p{script=Nowhere}", P, 1, "\\p{script=Nowhere}"},
      {"(?<n>a)(?<n>b)", P, 8, "duplicate group name 'n'"},
      {"(?<>a)", P, 1, "invalid group name"},
      {"(?<1a>x)", P, 1, "starts with a digit"},
      {"(?q)", P, 3, "unknown inline flag 'q'"},
      {"(?i-)a", P, 4, "end with '-'"},
      {"(?)", P, 1, "empty inline flag group"},
      {"(?@a)", P, 1, "invalid group syntax"},
      {"ab\xFF", P, 3, "invalid UTF-8"},
      {"é\xC3", P, 2, "invalid UTF-8"},
      {"\xED\xA0\x80", P, 1, "invalid UTF-8"},  // an encoded surrogate
      {"(?x)a b", U, 3, "extended mode"},
      {"(a)\\1", U, 4, "backreference \\1"},
      {"\\k<name>", U, 1, "backreference \\k<name>"},
      {"(?P=name)", U, 1, "named backreference"},
      {"x(?=a)", U, 2, "lookahead"},
      {"(?!a)", U, 1, "negative lookahead"},
      {"ab(?<=a)", U, 3, "lookbehind"},
      {"(?<!a)b", U, 1, "negative lookbehind"},
      {"\\bword", U, 1, "word boundary \\b"},
      {"a\\B", U, 2, "non-word boundary \\B"},
      {"\\Aabc", U, 1, "\\A"},
      {"abc\\z", U, 4, "\\z"},
      {"abc\\Z", U, 4, "\\Z"},
      {"(?>a+)b", U, 1, "atomic group"},
      {"(?(1)a|b)", U, 1, "conditional"},
      {"(a(?R))", U, 3, "recursion (?R)"},
      {"(a(?1))", U, 3, "recursion (?N)"},
      {"(?#note)a", U, 1, "comment group"},
      {"\\Qa.b\\E", U, 1, "\\Q"},
      {"\\012", U, 1, "octal escape"},
      {"a^b", U, 2, "anchor '^' in the middle"},
      {"a$b", U, 2, "anchor '$' in the middle"},
      {"(a$|b)c", U, 3, "anchor '$' in the middle"},
      {"x(^a)*", U, 3, "anchor '^' in the middle"},
  };
  REQUIRE(cases.size() >= 40);
  for (const auto& c : cases) {
    INFO("pattern: " << c.pattern);
    for (bool search_mode : {false, true}) {
      RegexOptions o;
      o.search = search_mode;
      try {
        parse_regex(c.pattern, o);
        FAIL("accepted a bad regex: " << c.pattern);
      } catch (const Error& e) {
        CHECK(e.kind() == c.kind);
        CHECK(e.column() == c.column);
        CHECK(e.pos().source_line == c.pattern);
        INFO("message: " << e.message());
        CHECK(e.message().find(c.names) != std::string::npos);
      }
    }
  }
}

TEST_CASE("regex group nesting is bounded", "[regex]") {
  CHECK(ast(std::string(250, '(') + "a" + std::string(250, ')')) == "[a]");
  std::string deep = std::string(100000, '(') + "a" + std::string(100000, ')');
  try {
    parse_regex(deep);
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kLimit);
    CHECK(e.column() == 251);
    CHECK(e.message().find("nested deeper") != std::string::npos);
  }
}

TEST_CASE("regex errors: column counts code points", "[regex]") {
  try {
    parse_regex("日本語(");
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.column() == 4);
    CHECK(e.pretty().find('^') != std::string::npos);
  }
}

TEST_CASE("regex parser parses or rejects every corpus regex with tollgate::Error", "[regex]") {
  // The committed corpus (scripts/extract-regex-corpus.py); every entry either parses or throws
  // tollgate::Error — never anything else.
  std::string text = testing::read_file(std::filesystem::path(TOLLGATE_SOURCE_DIR) / "tests/data/regex_corpus.json");
  auto corpus = nlohmann::json::parse(text);
  REQUIRE(corpus.size() >= 300);
  size_t ok = 0, errors = 0;
  for (const auto& e : corpus) {
    std::string r = e["regex"];
    INFO("regex: " << r);
    try {
      RegexOptions o;
      o.search = e["source"] != "hand";
      parse_regex(r, o);
      ++ok;
    } catch (const Error& err) {
      ++errors;
      CHECK(err.column() >= 1);
    }
  }
  CHECK(ok >= 850);
  WARN("regex corpus: " << ok << " parsed, " << errors << " rejected");
}

TEST_CASE("regex parser never crashes on random input", "[regex]") {
  // Random patterns over the metacharacters and a few literals: each either parses or throws
  // tollgate::Error with a column inside the pattern.
  const std::string alphabet = "()[]{}|*+?.^$\\-,:<>=!#0123456789abdpPsSwWxuUcikRzAE ";
  std::mt19937 rng(99);
  size_t parsed = 0, rejected = 0;
  for (int k = 0; k < 20000; ++k) {
    std::string p;
    size_t len = rng() % 14;
    for (size_t i = 0; i < len; ++i) p.push_back(alphabet[rng() % alphabet.size()]);
    if (rng() % 10 == 0) p += "\xE9\xFF";  // sometimes invalid UTF-8
    INFO("pattern: " << p);
    try {
      RegexOptions o;
      o.search = k % 2 == 0;
      o.max_nodes = 5000;
      parse_regex(p, o);
      ++parsed;
    } catch (const Error& e) {
      ++rejected;
      CHECK(e.column() >= 1);
      CHECK(static_cast<size_t>(e.column()) <= p.size() + 1);
    }
  }
  CHECK(parsed > 1000);
  CHECK(rejected > 1000);
}
