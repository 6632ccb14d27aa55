// Context-free grammars, byte level: the GBNF/EBNF/Lark front-ends (errors with positions), the
// checks, the lexeme split, the Earley runtime on hand-made grammars, the external cfg-vectors and
// JSONTestSuite on the built-in JSON grammar.
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <random>
#include <set>

#include "fsm/cfg.hpp"
#include "fsm/cfg_runtime.hpp"
#include "grammar/grammar_ir.hpp"
#include "test_support.hpp"

using namespace tollgate;

namespace {

fsm::CfgRuntime runtime(std::string_view text, std::string_view format = "gbnf") {
  return fsm::CfgRuntime(fsm::build_cfg(grammar::parse_grammar(text, format, "test." + std::string(format))));
}

Error error_of(std::string_view text, std::string_view format = "gbnf") {
  try {
    grammar::Grammar g = grammar::parse_grammar(text, format, "g");
    fsm::CfgRuntime rt(fsm::build_cfg(g));
  } catch (const Error& e) {
    return e;
  }
  FAIL("expected an error for: " << text);
  return Error(ErrorKind::kParse, "");
}

}  // namespace

TEST_CASE("gbnf: basic grammars match exactly their language", "[cfg]") {
  auto rt = runtime(R"G(root ::= expr
expr ::= term ("+" term)*
term ::= [0-9]+)G");
  CHECK(rt.matches("1+22+333"));
  CHECK_FALSE(rt.matches("1+"));
  CHECK(rt.is_prefix("1+"));
  CHECK_FALSE(rt.is_prefix("1++"));
  CHECK_FALSE(rt.matches(""));
}

TEST_CASE("gbnf: lexing is not greedy (every cut of the input is followed)", "[cfg]") {
  auto rt = runtime(R"G(root ::= word "b"
word ::= [a-z]+ x
x ::= "-"? )G");
  // `word` could swallow the final b; the grammar still accepts "ab".
  CHECK(rt.matches("ab"));
  CHECK(rt.matches("abb"));
  CHECK_FALSE(rt.matches("a"));
}

TEST_CASE("gbnf: left recursion and ambiguity are handled by Earley", "[cfg]") {
  auto rt = runtime(R"G(root ::= e
e ::= e "+" e | e "*" e | "(" e ")" | n
n ::= [0-9])G");
  CHECK(rt.matches("1+2*3"));
  CHECK(rt.matches("(1+2)*3+(4)"));
  CHECK_FALSE(rt.matches("1+*2"));
  auto left = runtime("root ::= \"a\" | root \"a\"");
  CHECK(left.matches("aaaa"));
  CHECK_FALSE(left.matches(""));
}

TEST_CASE("gbnf: random grammars with nullable and recursive rules match their enumerated languages", "[cfg]") {
  // An oracle beside the Earley closure (its predictions through nullable prefixes, its
  // completions): each nonterminal's strings of up to 5 letters, computed as a fixpoint over the
  // rules, against rt.matches on every string over {a, b} of up to 5 letters.
  std::mt19937 rng(6122026);
  constexpr size_t kMax = 5;
  const char* names[] = {"root", "n1", "n2", "n3", "n4"};
  int compiled = 0;
  for (int round = 0; round < 300; ++round) {
    // rules[nt] = alternatives, each a list of symbols: 0 "a", 1 "b", 2 + k nonterminal k
    std::vector<std::vector<std::vector<int>>> rules(5);
    for (auto& alts : rules) {
      for (size_t n = 1 + rng() % 3; n > 0; --n) {
        std::vector<int> alt;
        for (size_t m = rng() % 4; m > 0; --m) alt.push_back(static_cast<int>(rng() % 7));
        alts.push_back(alt);
      }
    }
    std::string text;
    for (size_t nt = 0; nt < rules.size(); ++nt) {
      text += std::string(names[nt]) + " ::=";
      for (size_t a = 0; a < rules[nt].size(); ++a) {
        if (a) text += " |";
        for (int sym : rules[nt][a]) text += sym == 0 ? " \"a\"" : sym == 1 ? " \"b\"" : " " + std::string(names[sym - 2]);
      }
      text += "\n";
    }
    std::vector<std::set<std::string>> lang(rules.size());
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t nt = 0; nt < rules.size(); ++nt) {
        for (const auto& alt : rules[nt]) {
          std::set<std::string> cur{""};
          for (int sym : alt) {
            std::set<std::string> next;
            for (const std::string& prefix : cur) {
              if (sym < 2) {
                if (prefix.size() < kMax) next.insert(prefix + (sym == 0 ? "a" : "b"));
              } else {
                for (const std::string& w : lang[static_cast<size_t>(sym - 2)])
                  if (prefix.size() + w.size() <= kMax) next.insert(prefix + w);
              }
            }
            cur.swap(next);
          }
          for (const std::string& w : cur) changed |= lang[nt].insert(w).second;
        }
      }
    }
    std::unique_ptr<fsm::CfgRuntime> rt;
    try {
      rt = std::make_unique<fsm::CfgRuntime>(fsm::build_cfg(grammar::parse_grammar(text, "gbnf", "test.gbnf")));
    } catch (const Error&) {
      continue;  // a rule that derives nothing, or none reachable: refused by the checks
    }
    ++compiled;
    INFO("grammar:\n" << text);
    std::vector<std::string> all{""};
    for (size_t i = 0; i < all.size(); ++i)
      if (all[i].size() < kMax) all.push_back(all[i] + "a"), all.push_back(all[i] + "b");
    for (const std::string& w : all) {
      INFO("input: '" << w << "'");
      REQUIRE(rt->matches(w) == (lang[0].count(w) > 0));
    }
  }
  CHECK(compiled >= 100);
}

TEST_CASE("gbnf: nullable rules, empty alternatives, repetition bounds", "[cfg]") {
  auto rt = runtime(R"G(root ::= a b a "x" c{2,3}
a ::= | "a"
b ::= a a
c ::= "c" | )G");
  CHECK(rt.matches("x"));
  CHECK(rt.matches("aaaxcc"));
  CHECK(rt.matches("aaxc"));
  CHECK_FALSE(rt.matches("aaaaax"));
  auto rep = runtime("root ::= (\"ab\" | [0-9]){2,3} \"!\"");
  CHECK(rep.matches("ab1!"));
  CHECK(rep.matches("ab12!"));
  CHECK_FALSE(rep.matches("ab!"));
  CHECK_FALSE(rep.matches("ab123!"));
}

TEST_CASE("cfg: a bounded repetition of a large item stays in the grammar, a small one is inlined", "[cfg]") {
  auto occurrences = [](const fsm::Cfg& cfg, const std::string& needle) {
    size_t n = 0;
    for (const auto& l : cfg.lexemes) {
      const std::string s = l->to_string();
      for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
    }
    return n;
  };
  // Fifteen copies of a 12-name alternation would be one lexeme whose automaton holds the names
  // fifteen times over (an array of enum strings under maxItems 16): the repetition stays a chain of
  // nonterminals and the names are lexed by the lexemes "[" item and "," item.
  const std::string names =
      "item ::= \"alpha-centauri\" | \"barnard-star\" | \"wolf-359\" | \"lalande-21185\" | \"sirius\" | "
      "\"luyten-726-8\" | \"ross-154\" | \"ross-248\" | \"epsilon-eridani\" | \"lacaille-9352\" | "
      "\"ross-128\" | \"procyon\"\n";
  grammar::Grammar big = grammar::parse_grammar("root ::= \"[\" item (\",\" item){0,15} \"]\"\n" + names, "gbnf", "big");
  fsm::Cfg cfg = fsm::build_cfg(big);
  CHECK(occurrences(cfg, "{0,15}") == 0);
  CHECK(occurrences(cfg, "[b][a][r][n][a][r][d]") == 2);  // in "[" item and in "," item
  fsm::CfgOptions copies;
  copies.max_copied_nodes = SIZE_MAX;  // no bound: one lexeme holding the counted repetition
  fsm::Cfg one = fsm::build_cfg(big, copies);
  CHECK(one.lexemes.size() == 1);
  CHECK(occurrences(one, "{0,15}") == 1);
  fsm::CfgRuntime rt(fsm::build_cfg(big));
  CHECK(rt.matches("[sirius]"));
  std::string full = "[sirius";
  for (int i = 1; i < 16; ++i) full += i % 2 ? ",procyon" : ",ross-128";
  CHECK(rt.matches(full + "]"));
  CHECK_FALSE(rt.matches(full + ",wolf-359]"));
  CHECK_FALSE(rt.matches("[sirius,]"));
  // An item that is small as written but long once its counted repetition is expanded (a string
  // of up to 100 letters) is weighed expanded: fifteen copies of it stay in the grammar too.
  grammar::Grammar words = grammar::parse_grammar("root ::= \"[\" word (\",\" word){0,15} \"]\"\nword ::= [a-z]{0,100}\n", "gbnf", "words");
  CHECK(occurrences(fsm::build_cfg(words), "{0,15}") == 0);
  // A small item copied fifteen times stays one lexeme.
  grammar::Grammar small = grammar::parse_grammar("root ::= \"[\" [0-9] (\",\" [0-9]){0,15} \"]\"\n", "gbnf", "small");
  CHECK(fsm::build_cfg(small).lexemes.size() == 1);
  // An unbounded repetition of the large item is a star either way (no copies).
  grammar::Grammar star = grammar::parse_grammar("root ::= \"[\" item (\",\" item)* \"]\"\n" + names, "gbnf", "star");
  CHECK(fsm::build_cfg(star).lexemes.size() == 1);
  // No copies at all ({0,0}, {1}) is not a division by zero.
  fsm::CfgRuntime none(fsm::build_cfg(grammar::parse_grammar("root ::= \"a\" item{0,0} item{1} \"b\"\n" + names, "gbnf", "none")));
  CHECK(none.matches("asiriusb"));
  CHECK_FALSE(none.matches("asiriussiriusb"));
}

TEST_CASE("gbnf: recursive structure with nested groups", "[cfg]") {
  auto rt = runtime(R"G(root ::= list
list ::= "[" ( item ( "," item )* )? "]"
item ::= list | [a-z]+)G");
  CHECK(rt.matches("[]"));
  CHECK(rt.matches("[a,[b,[]],cd]"));
  CHECK_FALSE(rt.matches("[a,]"));
  CHECK_FALSE(rt.matches("[[a]"));
  CHECK(rt.forced_bytes(rt.initial()) == "[");
}

TEST_CASE("gbnf: errors point at line and column", "[cfg]") {
  Error e = error_of("root ::= \"a\"\nfoo ::= \"b\" bar\n");
  CHECK(e.kind() == ErrorKind::kGrammar);
  CHECK(e.line() == 2);
  CHECK(e.column() == 13);
  CHECK(e.message().find("bar") != std::string::npos);
  CHECK(e.pretty().find("^") != std::string::npos);

  Error u = error_of("root ::= \"abc\n");
  CHECK(u.kind() == ErrorKind::kParse);
  CHECK(u.line() == 1);

  Error c = error_of("root ::= [a-z\n");
  CHECK(c.kind() == ErrorKind::kParse);

  Error nr = error_of("rot ::= \"a\"");
  CHECK(nr.message().find("root") != std::string::npos);

  Error esc = error_of("root ::= \"\\q\"");
  CHECK(esc.column() == 11);

  Error rep = error_of("root ::= \"a\"{3,1}");
  CHECK(rep.kind() == ErrorKind::kParse);

  Error dup = error_of("root ::= a\na ::= \"x\"\na ::= \"y\"");
  CHECK(dup.line() == 3);

  Error nothing = error_of("root ::= a\na ::= a \"x\"");
  CHECK(nothing.message().find("derives no string") != std::string::npos);
}

TEST_CASE("gbnf: unused rules give warnings", "[cfg]") {
  auto g = grammar::parse_grammar("root ::= \"a\"\nspare ::= \"b\"", "gbnf", "f.gbnf");
  REQUIRE(g.warnings.size() == 1);
  CHECK(g.warnings[0].message.find("spare") != std::string::npos);
  CHECK(g.warnings[0].pos.line == 2);
  CHECK(g.warnings[0].pretty().find("f.gbnf:2:1: warning") == 0);
}

TEST_CASE("ebnf: XGrammar dialect parses, lookahead is refused clearly", "[cfg]") {
  auto rt = runtime("root ::= \"a\" b\nb ::= [0-9]*", "ebnf");
  CHECK(rt.matches("a123"));
  Error e = error_of("root ::= \"a\" b (= \"c\")\nb ::= \"b\"", "ebnf");
  CHECK(e.kind() == ErrorKind::kUnsupported);
  CHECK(e.message().find("lookahead") != std::string::npos);
  CHECK(e.column() == 16);
}

TEST_CASE("lark: terminals, imports, ignore, flags, ranges", "[cfg]") {
  auto rt = runtime(R"G(
start: pair ("," pair)*
pair: KEY "=" value
value: SIGNED_NUMBER | ESCAPED_STRING | "true"i
KEY: /[a-z_]+/
%import common.SIGNED_NUMBER
%import common (ESCAPED_STRING, WS)
%ignore WS
)G", "lark");
  CHECK(rt.matches("a=1,b=\"x\""));
  CHECK(rt.matches(" a = -1.5e3 ,  b=TRUE "));
  CHECK_FALSE(rt.matches("a=1,"));
  CHECK_FALSE(rt.matches("a==1"));
  auto r = runtime("start: (\"a\"..\"c\")~2..3 \"x\"~2", "lark");
  CHECK(r.matches("abxx"));
  CHECK(r.matches("cbaxx"));
  CHECK_FALSE(r.matches("axx"));
  auto w = grammar::parse_grammar("start.2: foo -> bar\nfoo: \"a\"", "lark", "w.lark");
  CHECK(w.warnings.size() == 2);
}

TEST_CASE("lark: terminals match as Lark's Earley parser matches them (leftmost-first)", "[cfg][lark]") {
  // A terminal takes its preferred match: /a+/ takes every a, so nothing is left for B.
  auto greedy = runtime("start: A B\nA: /a+/\nB: /a/", "lark");
  CHECK_FALSE(greedy.matches("aa"));
  CHECK(greedy.is_prefix("aa"));  // "aa" then more: A="aa..." is not final until the a's end
  auto ab = runtime("start: A B\nA: /a+/\nB: /b/", "lark");
  CHECK(ab.matches("aaab"));
  // The same grammar in GBNF follows every cut.
  CHECK(runtime("root ::= [a]+ [a]").matches("aa"));
  // Lazy: the string ends at the first quote, then the optional i is taken greedily.
  auto str = runtime("start: STRING (\" \" STRING)*\nSTRING: /\".*?\"/ \"i\"?", "lark");
  CHECK(str.matches("\"ab\" \"c\"i"));
  CHECK_FALSE(str.matches("\"a\"b\""));   // the first quote ends the string
  auto itail = runtime("start: STRING WORD\nSTRING: /\".*?\"/ \"i\"?\nWORD: /[a-z]+/", "lark");
  CHECK_FALSE(itail.matches("\"a\"i"));  // STRING takes the i: nothing is left for WORD
  CHECK(itail.matches("\"a\"ix"));
  // An ignored comment runs to the end of its line.
  auto cmt = runtime("start: WORD WORD\nWORD: /[a-z]+/\nCOMMENT: /#[^\\n]*/\n%ignore COMMENT\n%ignore /[ \\n]+/", "lark");
  CHECK(cmt.matches("ab # c\nd"));
  CHECK_FALSE(cmt.matches("ab #c d"));  // every cut would let the comment stop before "d"
  CHECK(cmt.matches("ab #c d\ne"));
  // Alternatives of a terminal are tried longest first, as Lark orders them.
  auto alt = runtime("start: T \"c\"\nT: \"a\" | \"ab\"", "lark");
  CHECK(alt.matches("abc"));
  CHECK(alt.matches("ac"));
  auto alt2 = runtime("start: T \"bc\"\nT: \"a\" | \"ab\"", "lark");
  CHECK_FALSE(alt2.matches("abc"));  // T takes "ab", leaving "c"
}

TEST_CASE("lark: a '?' that starts a line begins a rule, not a quantifier", "[cfg][lark]") {
  // `| value` followed by `?value:` made value optional before.
  auto rt = runtime("start: atom\n?atom: \"(\" atom \")\"\n     | value\n?value: \"x\"", "lark");
  CHECK(rt.matches("((x))"));
  CHECK_FALSE(rt.matches("()"));
  // A '?' at the end of a line is still a quantifier of its atom.
  auto q = runtime("start: nl TEXT\nnl: \"n\"?\nTEXT: /[a-z]/", "lark");
  CHECK(q.matches("x"));
  CHECK(q.matches("nx"));
}

TEST_CASE("lark: errors", "[cfg]") {
  CHECK(error_of("start: FOO\nFOO: \"a\" | BAR\nBAR: \"b\" FOO", "lark").message().find("circular") !=
        std::string::npos);
  CHECK(error_of("%import common.BLAH\nstart: BLAH", "lark").message().find("Unknown common") !=
        std::string::npos);
  CHECK(error_of("start: /[abc/", "lark").message().find("invalid regex") != std::string::npos);
  CHECK(error_of("start: /[abc]/l", "lark").message().find("l-flag") != std::string::npos);
  Error e = error_of("start: foo\n\nfoo: \"a\" \"b", "lark");
  CHECK(e.line() == 3);
}

namespace {

struct VectorStats {
  int cases = 0, accept = 0, reject = 0, reject_final = 0, error = 0, left_recursive = 0, dead_before_end = 0;
  std::map<std::string, int> skipped;
};

void run_vectors(const std::filesystem::path& file, std::string_view format, VectorStats& st) {
  auto doc = nlohmann::json::parse(tollgate::testing::read_file(file));
  for (auto& c : doc["cases"]) {
    std::string name = c["name"];
    std::vector<std::string> ext = c.value("extensions", std::vector<std::string>{});
    bool left_rec = !ext.empty() && ext[0] == "engine-limitation:left-recursion-rejected";
    if (!ext.empty() && !left_rec) {
      std::string reason;
      for (auto& e : ext) reason += (reason.empty() ? "" : "+") + e;
      st.skipped[reason]++;
      continue;
    }
    ++st.cases;
    std::string grammar_text = c["grammar"];
    INFO("case " << name << "\n" << grammar_text);
    if (c.contains("error") && !left_rec) {
      CHECK_THROWS_AS(fsm::CfgRuntime(fsm::build_cfg(grammar::parse_grammar(grammar_text, format))), Error);
      ++st.error;
      continue;
    }
    std::unique_ptr<fsm::CfgRuntime> rt;
    try {
      rt = std::make_unique<fsm::CfgRuntime>(fsm::build_cfg(grammar::parse_grammar(grammar_text, format)));
    } catch (const Error& e) {
      FAIL("compile failed: " << e.pretty());
      continue;
    }
    if (left_rec) {
      // llama.cpp refuses these; an Earley parser accepts them. Check the language instead.
      CHECK(rt->matches("a"));
      CHECK_FALSE(rt->matches("b"));
      ++st.left_recursive;
      if (grammar_text.find("foo") != std::string::npos) CHECK(rt->matches("adb"));
      else CHECK(rt->matches("aaa"));
    }
    bool prefix_mode = c.value("reject_mode", "") == "not_viable_prefix";
    for (std::string s : c["accept"]) {
      CHECK(rt->matches(s));
      ++st.accept;
    }
    for (std::string s : c["reject"]) {
      INFO("reject: " << s);
      CHECK_FALSE(rt->matches(s));
      if (prefix_mode && !rt->is_prefix(s)) ++st.dead_before_end;
      ++st.reject;
    }
    if (c.contains("reject_final"))
      for (std::string s : c["reject_final"]) {
        INFO("reject_final: " << s);
        CHECK(rt->is_prefix(s));
        CHECK_FALSE(rt->matches(s));
        ++st.reject_final;
      }
  }
}

void report(const char* what, const VectorStats& st) {
  std::string skipped;
  int n = 0;
  for (auto& [k, v] : st.skipped) {
    skipped += " " + k + "=" + std::to_string(v);
    n += v;
  }
  WARN(what << ": " << st.cases << " cases run (" << st.accept << " accept, " << st.reject << " reject, "
            << st.reject_final << " reject_final, " << st.error << " error, " << st.left_recursive
            << " left-recursive grammars accepted (llama.cpp refuses them), " << st.dead_before_end
            << " rejects dead before their end); " << n
            << " skipped for extensions:" << skipped);
}

}  // namespace

TEST_CASE("cfg-vectors: llama.cpp GBNF", "[cfg][vectors]") {
  TOLLGATE_DATA_OR_SKIP(path, "corpora/cfg-vectors/llamacpp-gbnf.json");
  VectorStats st;
  run_vectors(path, "gbnf", st);
  CHECK(st.cases >= 28);
  report("llamacpp-gbnf", st);
}

TEST_CASE("cfg-vectors: llguidance Lark", "[cfg][vectors]") {
  TOLLGATE_DATA_OR_SKIP(path, "corpora/cfg-vectors/llguidance-lark.json");
  VectorStats st;
  run_vectors(path, "lark", st);
  CHECK(st.cases >= 28);
  report("llguidance-lark", st);
}

TEST_CASE("corpora/gbnf: every grammar compiles", "[cfg]") {
  TOLLGATE_DATA_OR_SKIP(dir, "corpora/gbnf/json.gbnf");
  for (auto& entry : std::filesystem::directory_iterator(dir.parent_path())) {
    if (entry.path().extension() != ".gbnf") continue;
    INFO(entry.path());
    std::string text = tollgate::testing::read_file(entry.path());
    CHECK_NOTHROW(fsm::CfgRuntime(fsm::build_cfg(grammar::parse_grammar(text, "gbnf", entry.path().string()))));
  }
}

TEST_CASE("JSONTestSuite on the built-in JSON grammar", "[cfg][json]") {
  TOLLGATE_DATA_OR_SKIP(path, "corpora/json-test-suite/parsing.json");
  auto rt = runtime(grammar::builtin_json_gbnf());
  auto doc = nlohmann::json::parse(tollgate::testing::read_file(path));
  int y = 0, n = 0, skipped = 0;
  for (auto& c : doc) {
    std::string expect = c["expect"], input = c["input"], name = c["name"];
    INFO(name << ": " << input.substr(0, 200));
    if (expect == "y") {
      CHECK(rt.matches(input));
      ++y;
    } else if (expect == "n") {
      // Inputs carried as JS strings show invalid UTF-8 as U+FFFD, which is valid text.
      if (input.find("\xEF\xBF\xBD") != std::string::npos) {
        ++skipped;
        continue;
      }
      CHECK_FALSE(rt.matches(input));
      ++n;
    }
  }
  CHECK(y >= 90);
  WARN("JSONTestSuite: " << y << " y accepted-checked, " << n << " n refused-checked, " << skipped
                         << " n skipped (U+FFFD stands for lost invalid bytes)");
}

// Every prefix of real grammars (cut every few bytes): the front-ends either parse it or throw a
// tollgate::Error with a position and a message that names what was expected in words, never
// a parser's C++ type.
TEST_CASE("grammar front-ends: truncated grammars get readable, positioned errors", "[cfg]") {
  TOLLGATE_DATA_OR_SKIP(gdir, "corpora/gbnf/json.gbnf");
  TOLLGATE_DATA_OR_SKIP(ldir, "corpora/llguidance/sample_parser/data/lark.lark");
  std::vector<std::pair<std::filesystem::path, std::string>> files;
  for (auto& e : std::filesystem::directory_iterator(gdir.parent_path()))
    if (e.path().extension() == ".gbnf") files.push_back({e.path(), "gbnf"});
  files.push_back({ldir, "lark"});
  for (auto& e : std::filesystem::directory_iterator(std::filesystem::path(TOLLGATE_SOURCE_DIR) / "tests/data/lark"))
    files.push_back({e.path(), "lark"});
  size_t prefixes = 0, errors = 0;
  for (auto& [path, dialect] : files) {
    std::string text = tollgate::testing::read_file(path);
    for (size_t cut = 1; cut < text.size(); cut += 5) {
      std::string prefix = text.substr(0, cut);
      ++prefixes;
      try {
        grammar::parse_grammar(prefix, dialect, path.filename().string());
      } catch (const Error& e) {
        ++errors;
        INFO(path.filename() << " cut at " << cut << ": " << e.what());
        CHECK(e.line() >= 1);
        CHECK(e.message().find("boost") == std::string::npos);
        CHECK(e.message().find("spirit") == std::string::npos);
      }
    }
  }
  CHECK(errors > 100);
  WARN("truncated grammars: " << prefixes << " prefixes, " << errors << " errors, all positioned and readable");
}
