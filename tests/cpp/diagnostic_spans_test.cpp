// Diagnostics' spans (what `tollgate check` underlines and reports as end_line/end_col) and the
// compile phases with their progress calls (CompileStats::phases, CompileOptions::progress). Small
// hand-made grammars and schemas: these are unit tests of positions.
#include <algorithm>
#include <filesystem>
#include <mutex>
#include <random>
#include <tuple>

#include "engine/grammar_check.hpp"
#include "engine/json_scan.hpp"
#include "fsm/utf8.hpp"
#include "grammar/grammar_ir.hpp"
#include "test_support.hpp"

using namespace tollgate;

namespace {

std::vector<grammar::Diagnostic> check(std::string_view text, std::string_view dialect) {
  Compiler c(TokenizerInfo::bytes_with_eos());
  return engine::check_source(c, text, dialect, "g").diagnostics;
}

const grammar::Diagnostic& with_code(const std::vector<grammar::Diagnostic>& ds, const std::string& code) {
  for (auto& d : ds)
    if (d.code == code) return d;
  FAIL("no diagnostic " << code);
  return ds.front();
}

}  // namespace

TEST_CASE("spans: span_in counts code points and lines, the caret underlines the span", "[spans]") {
  const std::string text = "ab\ncd\xC3\xA9\nx";  // é is two bytes
  SourcePos p = span_in(text, 1, 7);                // "b\ncdé"
  CHECK((p.line == 1 && p.column == 2 && p.end_line == 2 && p.end_column == 4));
  p = span_in(text, 3, 7);  // "cdé": three code points
  CHECK((p.line == 2 && p.column == 1 && p.end_line == 2 && p.end_column == 4));
  CHECK(caret_display(p) == "\n  cd\xC3\xA9\n  ^~~");
  p = span_in(text, 0, 7);  // over two lines: underlined to the end of the first
  CHECK(caret_display(p) == "\n  ab\n  ^~");
  p = span_in(text, 4, 4);  // empty: a point
  CHECK((p.column == 2 && p.end_line == 0 && caret_display(p) == "\n  cd\xC3\xA9\n   ^"));
}

TEST_CASE("spans: position_in and span_in agree with a byte-by-byte count on mixed text", "[spans]") {
  // ASCII, two- to four-byte code points, stray continuation bytes, truncated sequences, newlines.
  const std::string pieces[] = {"a", "{\"k\": 1}", "\n", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\x80", "\xC3", "\xE2\x82", " "};
  std::mt19937 rng(3);
  for (int round = 0; round < 200; ++round) {
    std::string text;
    const int n = std::uniform_int_distribution<int>(0, 300)(rng);
    for (int i = 0; i < n; ++i) text += pieces[std::uniform_int_distribution<int>(0, 9)(rng)];
    // The reference: lines by '\n', columns by decode_utf8 steps (an undecodable byte is one).
    auto where = [&](size_t offset) {
      int line = 1;
      size_t start = 0;
      for (size_t i = 0; i < offset; ++i)
        if (text[i] == '\n') ++line, start = i + 1;
      int column = 1;
      for (size_t i = start; i < offset; ++column) {
        char32_t cp;
        const size_t k = fsm::decode_utf8(text, i, cp);
        i += k == 0 ? 1 : k;
      }
      return std::make_pair(line, column);
    };
    for (int k = 0; k < 5; ++k) {
      size_t a = std::uniform_int_distribution<size_t>(0, text.size())(rng);
      size_t b = std::uniform_int_distribution<size_t>(0, text.size())(rng);
      if (a > b) std::swap(a, b);
      const SourcePos p = position_in(text, a);
      CHECK(std::make_pair(p.line, p.column) == where(a));
      const SourcePos s = span_in(text, a, b);
      CHECK(std::make_pair(s.line, s.column) == where(a));
      if (b > a) {
        size_t last = b - 1;  // the last byte's code point: its first byte
        while (last > a && (static_cast<unsigned char>(text[last]) & 0xC0) == 0x80) --last;
        const auto e = where(last);
        CHECK(std::make_pair(s.end_line, s.end_column) == std::make_pair(e.first, e.second + 1));
      }
    }
  }
}

TEST_CASE("spans: a long line is kept as an excerpt whose caret display is the whole line's", "[spans]") {
  // Lines of up to ~40 KB (a minified schema is one line): position_in keeps at most 1,024 bytes
  // of the line around the position; shown with its caret and underline, the excerpt must read
  // exactly as the whole line would.
  const std::string pieces[] = {"a", "{\"k\": 1}", "\n", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\x80", "\xC3", "\xE2\x82", " "};
  std::mt19937 rng(5);
  int excerpts = 0;
  for (int round = 0; round < 60; ++round) {
    std::string text;
    const int n = std::uniform_int_distribution<int>(0, 12000)(rng);
    const bool lines = round % 3 == 0;  // otherwise one long line
    for (int i = 0; i < n; ++i) {
      const int k = std::uniform_int_distribution<int>(0, 9)(rng);
      if (k == 2 && !lines) continue;
      text += pieces[k];
    }
    for (int k = 0; k < 8; ++k) {
      size_t a = std::uniform_int_distribution<size_t>(0, text.size())(rng);
      size_t b = std::uniform_int_distribution<size_t>(a, std::min(text.size(), a + 400))(rng);
      const SourcePos s = span_in(text, a, b);
      CHECK(s.source_line.size() <= 1024);
      CHECK(s.source_column >= 1);
      // the whole line, as the position would have kept it without the cut
      size_t start = a;
      while (start > 0 && text[start - 1] != '\n') --start;
      size_t end = text.find('\n', a);
      if (end == std::string::npos) end = text.size();
      SourcePos whole = s;
      whole.source_line = text.substr(start, end - start);
      whole.source_column = 1;
      if (s.source_column > 1 || s.source_line.size() < whole.source_line.size()) ++excerpts;
      else CHECK(s.source_line == whole.source_line);
      CHECK(whole.source_line.find(s.source_line) != std::string::npos);
      CHECK(caret_display(s) == caret_display(whole));
    }
  }
  CHECK(excerpts > 100);  // the long lines were cut
}

TEST_CASE("spans: grammar diagnostics span the rule name, the literal, the alternative, the repetition", "[spans]") {
  auto ds = check("root ::= \"a\" | itme | (\"b\"?)* | \"a\"\nspare ::= \"c\"\n", "gbnf");
  const auto& undefined = with_code(ds, "TG101");
  CHECK((undefined.pos.line == 1 && undefined.pos.column == 16 && undefined.pos.end_column == 20));
  ds = check("root ::= \"a\" | (\"b\"?)* | \"a\"\nspare ::= \"c\"\n", "gbnf");
  const auto& unused = with_code(ds, "TG102");
  CHECK((unused.pos.line == 2 && unused.pos.column == 1 && unused.pos.end_column == 6));  // spare
  const auto& dup = with_code(ds, "TG114");
  CHECK((dup.pos.column == 26 && dup.pos.end_column == 29));  // the second "a", quotes included
  const auto& nullable = with_code(ds, "TG115");
  CHECK((nullable.pos.column == 16 && nullable.pos.end_column == 23));  // ("b"?)*
  // Lark: a /regex/ with its flags, a shadowed alternative of a terminal
  ds = check("start: A\nA: \"a\" | \"ab\" | /a+/i\n", "lark");
  const auto& shadowed = with_code(ds, "TG112");
  REQUIRE((shadowed.pos.line == 2 && shadowed.pos.end_line == 2 && shadowed.pos.end_column > shadowed.pos.column));
  const std::string under = shadowed.pos.source_line.substr(shadowed.pos.column - 1, shadowed.pos.end_column - shadowed.pos.column);
  CHECK((under == "\"a\"" || under == "\"ab\""));  // one alternative, whole
}

TEST_CASE("spans: a schema diagnostic spans the keyword's value, over several lines when it does", "[spans]") {
  auto ds = check("{\"type\": \"integer\", \"minimum\": 10, \"maximum\": 5}", "json-schema");
  const auto& minmax = with_code(ds, "TG305");
  CHECK((minmax.pos.pointer == "/minimum" && minmax.pos.column == 32 && minmax.pos.end_column == 34));
  SourcePos p;
  p.pointer = "/properties/a";
  p = engine::schema_position("{\"properties\": {\"a\": {\n  \"type\": \"string\"\n}}}", p);
  CHECK((p.line == 1 && p.column == 22 && p.end_line == 3 && p.end_column == 2));
}

namespace {
struct Recorder : CompileProgress {
  std::mutex mu;
  std::vector<std::tuple<std::string, size_t, size_t>> calls;
  void on_progress(std::string_view phase, size_t done, size_t total) override {
    std::lock_guard<std::mutex> lock(mu);
    calls.emplace_back(std::string(phase), done, total);
  }
};
}  // namespace

TEST_CASE("phases: every compile reports its phases with sizes, and tells the progress callback", "[spans][phases]") {
  Recorder rec;
  CompileOptions opt;
  opt.eager_index = true;
  opt.threads = 2;
  opt.progress = &rec;
  Compiler c(TokenizerInfo::bytes_with_eos(), opt);
  auto g = c.compile_grammar(grammar::builtin_json_gbnf(), "gbnf");
  const auto& ph = g->stats().phases;
  std::vector<std::string> names;
  for (auto& p : ph) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"parse", "check", "cfg", "lexeme automata", "token index"});
  CHECK((ph[0].unit == "rules" && ph[0].size == 8));
  CHECK((ph[3].unit == "states" && ph[3].size == g->stats().dfa_states));
  double sum = 0;
  for (auto& p : ph) sum += p.ms;
  CHECK(sum <= g->stats().total_ms + 0.01);
  // each phase announced, the lexemes counted up to their number, the index up to its states
  auto seen = [&](const std::string& phase, size_t done, size_t total) {
    return std::find(rec.calls.begin(), rec.calls.end(), std::make_tuple(phase, done, total)) != rec.calls.end();
  };
  for (auto& n : names) CHECK(seen(n, 0, 0));
  CHECK(seen("lexeme automata", g->stats().lexemes, g->stats().lexemes));
  CHECK(seen("token index", g->stats().dfa_states, g->stats().dfa_states));
  // a regex: parse, automaton, token index (distinct masks)
  auto r = c.compile_regex("[a-z]+@[a-z]+");
  names.clear();
  for (auto& p : r->stats().phases) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"parse", "automaton", "token index"});
  CHECK(r->stats().phases[1].size == r->stats().dfa_states);
  CHECK(r->stats().phases[2].size == r->stats().distinct_masks);
}

namespace {
// Every value of `text` (valid JSON) from offset `at` down: where it starts, found by the checking
// scanner (one scanner per container: a scanner's comma state is its own).
void value_starts(const std::string& text, size_t at, std::vector<size_t>& out, int depth = 0) {
  engine::JsonScanner sc(text);
  sc.seek(at);
  sc.skip_ws();
  out.push_back(sc.pos());
  const char c = sc.peek();
  if (depth >= 64 || (c != '{' && c != '[')) return;
  auto child = [&] {
    const size_t from = sc.pos();
    value_starts(text, from, out, depth + 1);
    engine::JsonScanner past(text);
    past.seek(from);
    past.skip_value();
    sc.seek(past.pos());
  };
  std::string key;
  if (c == '{') {
    sc.begin_object();
    while (sc.next_key(key)) child();
  } else {
    sc.begin_array();
    while (sc.next_element()) child();
  }
}
}  // namespace

TEST_CASE("spans: the unchecked skip that places schema warnings ends where the checking one does",
          "[spans][json-scan]") {
  // locate_json_pointer skips the siblings before each key of a pointer without checking them again
  // (the schema was read before): the same end on every value of every maskbench-dev file, and on
  // strings with escaped quotes and backslashes; on malformed text it stays within the text.
  std::vector<std::string> texts = {R"({"a\"b": "x\\", "c": ["\"", {"d": -1.5e3}], "e": true, "f": null})",
                                    R"(["\\\"", "\\\\", "", 0, {}, []])"};
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  const std::vector<std::filesystem::path> files = tollgate::testing::maskbench_files(mb);
  REQUIRE(files.size() > 1000);
  for (size_t i = 0; i < files.size(); i += 3) texts.push_back(tollgate::testing::read_file(files[i]));
  size_t values = 0;
  for (const std::string& text : texts) {
    std::vector<size_t> starts;
    value_starts(text, 0, starts);
    for (size_t at : starts) {
      engine::JsonScanner checked(text), unchecked(text);
      checked.seek(at);
      unchecked.seek(at);
      checked.skip_value();
      unchecked.skip_value_unchecked();
      INFO("offset " << at << " of " << text.substr(0, 80));
      REQUIRE(unchecked.pos() == checked.pos());
      ++values;
    }
    // malformed: cut short, or a quote dropped; the skip ends inside the text
    for (size_t cut : {text.size() / 2, text.size() / 3}) {
      std::string bad = text.substr(0, cut);
      engine::JsonScanner u(bad);
      u.skip_value_unchecked();
      CHECK(u.pos() <= bad.size());
    }
  }
  CHECK(values > 100000);
}
