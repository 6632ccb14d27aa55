// tollgate check | match | compile | explain | sample — the grammar writer's commands.
// Takes: regexes, grammar files (GBNF, Lark, EBNF, by extension or --dialect) and JSON Schemas,
// given as FILE arguments or by --regex / --grammar / --schema. Gives: compiler-style diagnostics
// with stable codes (text with a caret, or --format json), match verdicts with the expected
// continuations, compile statistics per phase, the normalised grammar, random strings of the
// language. Exit codes: 0 clean, 1 an error in the input (or a refused match), 2 usage or I/O.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>

#include "engine/cli/commands.hpp"
#include "engine/grammar_check.hpp"
#include "engine/sample_strings.hpp"
#include "fsm/cfg.hpp"
#include "fsm/dfa.hpp"
#include "grammar/grammar_lint.hpp"
#include "grammar/json_schema.hpp"
#include "grammar/regex_ast.hpp"

namespace tollgate::cli {

namespace {

namespace codes = grammar::codes;
using grammar::Diagnostic;
using grammar::Severity;

// Exit code 2: a file that cannot be read.
struct IoFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One source to compile: its text, dialect and name in messages.
struct Input {
  std::string name;
  std::string text;
  std::string dialect;  // gbnf, lark, ebnf, regex, json-schema
};

std::string read_stdin() {
  std::string s((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  return s;
}

// A file argument's text ("-" is stdin). Throws IoFailure.
std::string read_input(const std::string& path) {
  if (path == "-") return read_stdin();
  try {
    return read_file(path);
  } catch (const Error& e) {
    throw IoFailure(e.message());
  }
}

// Options every grammar command shares.
struct Source {
  std::string regex;
  bool regex_given = false;
  std::string grammar_file;
  std::string schema_file;
  std::string dialect;
  bool lenient = false;
  std::string property_order = "schema";
  std::string whitespace = "flexible";
  int max_whitespace = JsonSchemaOptions{}.max_whitespace;
  int indent = JsonSchemaOptions{}.indent;
  std::string format = "text";
  std::string color = "auto";
  size_t max_states = CompileOptions{}.max_dfa_states;
  size_t max_memory_mib = CompileOptions{}.max_dfa_memory >> 20;
  bool eager_index = false;
  size_t eager_automata_states = CompileOptions{}.eager_automata_states;
  double eager_automata_ms = CompileOptions{}.eager_automata_ms;
  bool no_progress = false;

  // A compile's progress on stderr, when stderr is a terminal and --no-progress is not given.
  bool progress() const { return !no_progress && isatty(STDERR_FILENO); }

  bool has_option_source() const { return regex_given || !grammar_file.empty() || !schema_file.empty(); }

  // The source named by --regex / --grammar / --schema, or by a FILE argument.
  Input load(const std::string& file = {}) const {
    if (regex_given) return {"<regex>", regex, "regex"};
    if (!schema_file.empty()) return {schema_file, read_input(schema_file), "json-schema"};
    const std::string& path = grammar_file.empty() ? file : grammar_file;
    Input in{path == "-" ? "<stdin>" : path, read_input(path), dialect};
    if (in.dialect.empty()) in.dialect = engine::dialect_from_path(path);
    if (in.dialect == "regex") {
      // a .regex file holds one pattern; its final newline is not part of it
      if (!in.text.empty() && in.text.back() == '\n') in.text.pop_back();
      if (!in.text.empty() && in.text.back() == '\r') in.text.pop_back();
    }
    return in;
  }

  CompileOptions options(int threads) const {
    CompileOptions opt;
    opt.threads = threads;
    opt.max_dfa_states = max_states;
    opt.max_dfa_memory = max_memory_mib < (SIZE_MAX >> 20) ? max_memory_mib << 20 : SIZE_MAX;
    opt.eager_index = eager_index;
    opt.eager_automata_states = eager_automata_states;
    opt.eager_automata_ms = eager_automata_ms;
    return opt;
  }
  JsonSchemaOptions schema_options() const {
    JsonSchemaOptions so;
    so.lenient = lenient;
    if (property_order == "any") so.property_order = JsonSchemaOptions::PropertyOrder::kAny;
    so.whitespace = whitespace_mode(whitespace);
    so.max_whitespace = max_whitespace;
    so.indent = indent;
    return so;
  }
};

void add_source_options(CLI::App* cmd, Source& src, bool budgets = true) {
  auto* re = cmd->add_option_function<std::string>(
      "--regex,-r",
      [&src](const std::string& r) {
        src.regex = r;
        src.regex_given = true;
      },
      "a regular expression (full-match semantics; '' is the empty regex)");
  auto* gr = cmd->add_option("--grammar,-g", src.grammar_file, "a grammar file (GBNF, Lark or EBNF)");
  cmd->add_option("--dialect", src.dialect,
                  "how to read FILE arguments (default: from the extension: .gbnf .lark .ebnf .regex .json)")
      ->check(CLI::IsMember({"gbnf", "lark", "ebnf", "regex", "json-schema"}));
  auto* sc = cmd->add_option("--schema", src.schema_file, "a JSON Schema file");
  cmd->add_flag("--lenient", src.lenient,
                "JSON Schema: compile keywords that cannot be exact as an over-approximation (warned)");
  cmd->add_option("--property-order", src.property_order,
                  "JSON Schema: properties in the schema's order, or in any order")
      ->check(CLI::IsMember({"schema", "any"}))
      ->capture_default_str();
  add_whitespace_options(cmd, src.whitespace, src.max_whitespace, src.indent);
  cmd->add_option("--format", src.format, "diagnostics as text, or as a JSON array (for editors and CI)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--color,--colour", src.color,
                  "colour: auto (when writing to a terminal and NO_COLOR is not set), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  cmd->add_flag("--no-progress", src.no_progress,
                "no progress bar on stderr (drawn only when stderr is a terminal: files checked, compile phases)");
  re->excludes(gr);
  sc->excludes(re);
  sc->excludes(gr);
  if (!budgets) return;
  cmd->add_option("--max-states", src.max_states, "DFA state budget (max_dfa_states)")->capture_default_str();
  cmd->add_option("--max-memory", src.max_memory_mib,
                  "memory budget per automaton while it is built, in MiB (max_dfa_memory)")
      ->capture_default_str();
  cmd->add_flag("--eager-index", src.eager_index,
                "grammars and schemas: compute the whole token index at compile time (eager_index)");
  cmd->add_option("--eager-automata-states", src.eager_automata_states,
                  "grammars and schemas: lexeme automata built at compile time until this many DFA states are built, "
                  "the rest when a mask first needs them (eager_automata_states; 18446744073709551615 = all)")
      ->capture_default_str();
  cmd->add_option("--eager-automata-ms", src.eager_automata_ms,
                  "grammars and schemas: then lexeme automata go on being built at compile time for this many "
                  "milliseconds (eager_automata_ms; 0 = no more)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

Diagnostic io_diagnostic(const std::string& file, const std::string& message) {
  Diagnostic d;
  d.message = message;
  d.pos.file = file;
  d.code = codes::kIo;
  d.severity = Severity::kError;
  return d;
}

// Compiles `in` with `tok` (its phases drawn on stderr when it takes a while on a terminal); on
// failure prints the diagnostics (text or JSON) and exits 1.
// `shown`: a bar already drawing (the compile command's, started before the tokenizer load).
CompiledGrammarPtr compile_or_report(const Source& src, const Input& in, const TokenizerInfoPtr& tok, int threads,
                                     CompileProgressBar* shown = nullptr) {
  std::optional<CompileProgressBar> own;
  if (!shown) own.emplace(src.progress(), in.name);
  CompileProgressBar& bar = shown ? *shown : *own;
  CompileOptions opt = src.options(threads);
  opt.progress = &bar;
  Compiler compiler(tok, opt);
  try {
    if (in.dialect == "regex") return compiler.compile_regex(in.text);
    if (in.dialect == "json-schema") return compiler.compile_json_schema(in.text, src.schema_options(), in.name);
    return compiler.compile_grammar(in.text, in.dialect, in.name);
  } catch (const Error& e) {
    bar.clear();
    Diagnostic d = engine::diagnostic_of(e);
    if (in.dialect == "json-schema") d.pos = engine::schema_position(in.text, d.pos);
    if (in.dialect == "regex" && d.pos.file.empty()) d.pos.file = in.name;
    if (src.format == "json") std::cout << diagnostics_json({d}) << "\n";
    else std::cerr << render_diagnostic(d, use_color(src.color, STDERR_FILENO)) << "\n";
    throw CLI::RuntimeError(1);
  }
}

// The grammar a command works on: --regex/--grammar/--schema, else the first FILE argument.
Input take_grammar(const Source& src, std::vector<std::string>& args, const char* cmd) {
  if (src.has_option_source()) return src.load();
  if (args.empty())
    throw CLI::ValidationError(cmd, "give a GRAMMAR file (or --regex R, --grammar FILE, --schema FILE)");
  std::string file = args.front();
  args.erase(args.begin());
  return src.load(file);
}

// ------------------------------------------------------------------------------------- check

int run_check(const Source& src, const std::vector<std::string>& files, bool werror) {
  const bool progress = src.progress();
  std::vector<std::string> names = files;
  if (src.has_option_source()) names.insert(names.begin(), "");
  if (names.empty()) throw CLI::ValidationError("check", "give FILE… (or --regex R, --grammar FILE, --schema FILE)");
  const bool json = src.format == "json";
  const bool color = use_color(src.color, STDERR_FILENO);
  ProgressBar bar(names.size(), "files", progress && names.size() > 1);
  std::vector<Diagnostic> all;
  size_t errors = 0, warnings = 0;
  bool io_error = false;
  // one file: its compile's phases are drawn when it takes a while (several: the bar of files)
  const std::string& first = names[0].empty() ? (src.regex_given ? "<regex>" : src.schema_file + src.grammar_file) : names[0];
  CompileProgressBar compile_bar(progress && names.size() == 1, first == "-" ? "<stdin>" : first);
  CompileOptions opt = src.options(1);
  opt.eager_automata_states = SIZE_MAX;  // a check builds every lexeme: an automaton over budget is its diagnostic
  opt.progress = &compile_bar;
  Compiler compiler(TokenizerInfo::bytes_with_eos(), opt);
  for (size_t i = 0; i < names.size(); ++i) {
    bar.update(i, names[i].empty() ? src.load().name : names[i]);
    Input in;
    try {
      in = names[i].empty() ? src.load() : src.load(names[i]);
    } catch (const IoFailure& e) {
      io_error = true;
      Diagnostic d = io_diagnostic(names[i], e.what());
      bar.clear();
      if (json) all.push_back(d);
      else std::cerr << render_diagnostic(d, color) << "\n";
      continue;
    }
    engine::CheckResult r = engine::check_source(compiler, in.text, in.dialect, in.name, src.schema_options());
    if (werror)
      for (auto& d : r.diagnostics)
        if (d.severity == Severity::kWarning) d.severity = Severity::kError;
    size_t file_errors = 0;
    for (auto& d : r.diagnostics) {
      file_errors += d.severity == Severity::kError;
      warnings += d.severity == Severity::kWarning;
    }
    errors += file_errors;
    bar.clear();
    compile_bar.clear();
    if (json) {
      all.insert(all.end(), r.diagnostics.begin(), r.diagnostics.end());
    } else {
      for (auto& d : r.diagnostics) std::cerr << render_diagnostic(d, color) << "\n";
      if (file_errors == 0 && r.compiled)
        std::cout << "ok: " << in.name << " compiles (" << r.compiled->stats().dfa_states << " DFA states)\n"
                  << std::flush;
    }
  }
  bar.finish("checked");
  if (json) std::cout << diagnostics_json(all) << "\n";
  else if (names.size() > 1 || errors + warnings > 0)
    std::cerr << names.size() << (names.size() == 1 ? " file" : " files") << " checked: " << errors
              << (errors == 1 ? " error, " : " errors, ") << warnings << (warnings == 1 ? " warning" : " warnings")
              << "\n";
  if (io_error) return 2;
  return errors > 0 ? 1 : 0;
}

// ------------------------------------------------------------------------------------- match

std::string show_byte(unsigned char c) {
  char buf[16];
  if (c >= 0x20 && c < 0x7F) std::snprintf(buf, sizeof buf, "'%c'", c);
  else if (c == '\n') std::snprintf(buf, sizeof buf, "'\\n'");
  else if (c == '\t') std::snprintf(buf, sizeof buf, "'\\t'");
  else std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
  return buf;
}

std::string json_quoted(const std::string& s) {
  nlohmann::json j = s;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Bytes allowed next by a matcher over TokenizerInfo::bytes_with_eos(), and whether the input may end here.
std::vector<uint8_t> allowed_bytes(const Matcher& m, bool& may_end) {
  std::vector<int32_t> mask(bitmask_words(257));
  m.fill_next_token_bitmask(mask.data());
  std::vector<uint8_t> out;
  for (int b = 0; b < 256; ++b)
    if (mask[b / 32] >> (b % 32) & 1) out.push_back(static_cast<uint8_t>(b));
  may_end = mask[256 / 32] >> (256 % 32) & 1;
  return out;
}

// "expected one of: "," "}" [0-9] …" — each allowed first byte, extended while the grammar forces the
// next byte; runs of single bytes shown as a class; at most `limit` items.
std::string expected_here(const Matcher& m, size_t limit = 10) {
  bool may_end = false;
  std::vector<uint8_t> first = allowed_bytes(m, may_end);
  std::vector<std::string> items;
  size_t non_ascii = 0;
  for (size_t i = 0; i < first.size();) {
    uint8_t b = first[i];
    if (b >= 0x80) {
      ++non_ascii;
      ++i;
      continue;
    }
    // a run of consecutive allowed bytes of length >= 3 whose continuations are not forced
    size_t j = i;
    while (j + 1 < first.size() && first[j + 1] == first[j] + 1 && first[j + 1] < 0x80) ++j;
    if (j - i >= 2 && b >= 0x20 && first[j] < 0x7F) {
      std::string cls = "[";
      cls += static_cast<char>(b);
      cls += '-';
      cls += static_cast<char>(first[j]);
      items.push_back(cls + "]");
      i = j + 1;
      continue;
    }
    Matcher f(m);
    std::string s(1, static_cast<char>(b));
    f.accept_bytes(s);
    for (int k = 0; k < 16 && !f.is_accepting(); ++k) {
      bool end = false;
      std::vector<uint8_t> next = allowed_bytes(f, end);
      if (next.size() != 1 || next[0] >= 0x80) break;
      s += static_cast<char>(next[0]);
      f.accept_bytes(s.substr(s.size() - 1));
    }
    items.push_back(json_quoted(s));
    ++i;
  }
  if (non_ascii) items.push_back("a non-ASCII character");
  if (may_end) items.push_back("end of input");
  if (items.empty()) return "nothing can follow here";
  std::string out = items.size() == 1 ? "expected " : "expected one of:";
  for (size_t k = 0; k < items.size() && k < limit; ++k) out += (items.size() == 1 ? "" : " ") + items[k];
  if (items.size() > limit) out += " … (" + std::to_string(items.size() - limit) + " more)";
  return out;
}

struct MatchOutcome {
  bool accepted = false;
  std::vector<Diagnostic> diags;
};

// Streams `in` through a matcher over TokenizerInfo::bytes_with_eos() in 64 KiB chunks: the input
// (a file of any size, or stdin) is never held whole. Only the current line is kept for the caret
// (its last 1 MiB at most; the line and column count on across chunks). A chunk is fed at once; a
// refused chunk (the matcher is left unchanged) is fed again byte by byte to find the refused byte.
// `total` gets the number of bytes read.
MatchOutcome match_stream(const CompiledGrammarPtr& g, const std::string& name, std::istream& in, size_t& total) {
  constexpr size_t kChunk = size_t{1} << 16, kLineKept = size_t{1} << 20;
  MatchOutcome out;
  Matcher m(g, 0);
  std::vector<char> buf(kChunk);
  std::string line;            // the current line (its last kLineKept bytes at most)
  int line_no = 1;
  int column_dropped = 0;      // code points of the current line no longer in `line`
  total = 0;
  auto keep = [&](std::string_view bytes) {  // the line bookkeeping for accepted bytes
    size_t nl = bytes.rfind('\n');
    if (nl != std::string_view::npos) {
      line_no += static_cast<int>(std::count(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(nl) + 1, '\n'));
      line.clear();
      column_dropped = 0;
      bytes = bytes.substr(nl + 1);
    }
    line.append(bytes);
    if (line.size() > kLineKept) {
      size_t cut = line.size() - kLineKept / 2;
      while (cut < line.size() && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) ++cut;  // whole sequences
      column_dropped += position_in(line, cut).column - 1;
      line.erase(0, cut);
    }
  };
  // The position after the kept bytes of the current line (`rest`: the line's text after it).
  auto here = [&](std::string_view rest) {
    std::string shown = line + std::string(rest.substr(0, rest.find('\n')));
    SourcePos pos = position_in(shown, line.size(), name);
    pos.line = line_no;
    if (column_dropped > 0) {  // the caret could not be placed in what is kept
      pos.column += column_dropped;
      pos.source_line.clear();
    }
    return pos;
  };
  auto note = [&](SourcePos pos) {
    pos.source_line.clear();
    out.diags.push_back({expected_here(m), pos, "", Severity::kNote});
  };
  // A step that cannot be decided (a lexeme automaton built on first use over the DFA budgets:
  // kLimit) stops the match at its byte; the chunk is retried byte by byte to find it.
  std::optional<std::string> limit;  // the kLimit message of the last step, if it threw one
  auto step = [&](std::string_view bytes) {
    limit.reset();
    try {
      return m.accept_bytes(bytes);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kLimit) throw;
      limit = e.message();
      return false;
    }
  };
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::string_view chunk(buf.data(), static_cast<size_t>(in.gcount()));
    if (chunk.empty()) break;
    if (step(chunk)) {
      keep(chunk);
      total += chunk.size();
      continue;
    }
    for (size_t i = 0; i < chunk.size(); ++i) {  // found again at its byte
      if (step(chunk.substr(i, 1))) {
        keep(chunk.substr(i, 1));
        continue;
      }
      if (limit) {
        out.diags.push_back({"stopped at byte " + std::to_string(total + i) + ": " + *limit,
                             here(std::string(chunk.substr(i))), codes::kLimit, Severity::kError});
        total += i;
        return out;
      }
      std::string rest(chunk.substr(i));
      if (rest.find('\n') == std::string::npos && in) {  // the line goes on into the next chunk: show some of it
        char more[256];
        in.read(more, sizeof more);
        rest.append(more, static_cast<size_t>(in.gcount()));
      }
      const bool last_byte = i + 1 == chunk.size() && in.peek() == std::char_traits<char>::eof();
      std::string msg = "rejected at byte " + std::to_string(total + i) + ": " + show_byte(chunk[i]) + " is not allowed here";
      if (last_byte && chunk[i] == '\n' && m.is_accepting()) msg += " (the input is complete without its trailing newline)";
      SourcePos pos = here(rest);
      if (column_dropped > 0) msg += " (in a line longer than 1 MiB: not shown)";
      out.diags.push_back({msg, pos, codes::kMatchRefused, Severity::kError});
      total += i;
      note(pos);
      return out;
    }
    total += chunk.size();  // every byte was accepted one by one
  }
  if (!m.is_accepting()) {
    SourcePos pos = here({});
    std::string forced = m.jump_forward();
    std::string msg = "the input ends early (after " + std::to_string(total) + " bytes, more is required";
    if (!forced.empty()) msg += ", e.g. " + json_quoted(forced);
    out.diags.push_back({msg + ")", pos, codes::kMatchIncomplete, Severity::kError});
    note(pos);
    return out;
  }
  out.accepted = true;
  return out;
}

// Tokenizes `text` with the tokenizer's encoder and replays the ids through a Matcher.
MatchOutcome match_tokens(const CompiledGrammarPtr& g, const Encoder& enc, const std::string& name,
                          const std::string& text) {
  MatchOutcome out;
  const TokenizerInfo& tok = enc.tokenizer();
  std::vector<int32_t> ids = enc.encode(text);
  Matcher m(g, 0);
  std::vector<int32_t> mask(bitmask_words(tok.vocab_size()));
  size_t offset = 0;
  auto count_allowed = [&] {
    size_t n = 0;
    for (int32_t w : mask) n += __builtin_popcount(static_cast<uint32_t>(w));
    return n;
  };
  for (size_t k = 0; k <= ids.size(); ++k) {
    m.fill_next_token_bitmask(mask.data());
    if (k == ids.size()) {
      bool eos_ok = false;
      for (int32_t e : tok.eos_ids()) eos_ok = eos_ok || (mask[e / 32] >> (e % 32) & 1);
      if (eos_ok) break;
      out.diags.push_back({"after all " + std::to_string(ids.size()) + " tokens the input is not complete: EOS is refused (" +
                               std::to_string(count_allowed()) + " tokens are allowed there)",
                           position_in(text, text.size(), name), codes::kMatchIncomplete, Severity::kError});
      return out;
    }
    int32_t id = ids[k];
    bool allowed = id >= 0 && id < tok.vocab_size() && (mask[id / 32] >> (id % 32) & 1);
    const std::string& bytes = tok.token_bytes(id);
    if (!allowed || !m.accept_token(id)) {
      out.diags.push_back({"token #" + std::to_string(k) + " (id " + std::to_string(id) + ", " + json_quoted(bytes) +
                               ") is refused at byte " + std::to_string(offset) + "; " +
                               std::to_string(count_allowed()) + " of " + std::to_string(tok.vocab_size()) +
                               " tokens are allowed there",
                           position_in(text, offset, name), codes::kTokenRefused, Severity::kError});
      return out;
    }
    offset += bytes.size();
  }
  out.accepted = true;
  return out;
}

// ------------------------------------------------------------------------------------- explain

std::string rule_name(const fsm::Cfg& cfg, fsm::Sym s) {
  return fsm::is_lexeme(s) ? "L" + std::to_string(fsm::lexeme_of(s)) : cfg.nt_names[s];
}

void explain_grammar(const grammar::Grammar& g, CompileProgressBar& bar) {
  std::cout << "# " << g.rule_count() << " rules, start '" << g.rules[g.start].name
            << "' (checked, references resolved)\n"
            << grammar::grammar_to_text(g);
  std::cout << std::flush;
  bar.on_progress("cfg", 0, 0);
  fsm::Cfg cfg = fsm::build_cfg(g);
  bar.clear();
  std::cout << "\n# after inlining regular rules and merging regular runs: " << cfg.lexemes.size() << " lexemes, "
            << cfg.num_nonterminals() << " nonterminals, " << cfg.prods.size() << " productions\n";
  for (size_t l = 0; l < cfg.lexemes.size(); ++l)
    std::cout << "L" << l << (cfg.is_ignore[l] ? " (ignored)" : "") << " = " << grammar::regex_to_text(*cfg.lexemes[l])
              << "\n";
  for (size_t p = 1; p < cfg.prods.size(); ++p) {
    const auto& pr = cfg.prods[p];
    std::cout << cfg.nt_names[pr.lhs] << " ->";
    if (pr.rhs.empty()) std::cout << " \"\"";
    for (fsm::Sym s : pr.rhs) std::cout << " " << rule_name(cfg, s);
    std::cout << "\n";
  }
}

std::string byte_set_text(const std::vector<uint8_t>& bytes) {
  std::string out = "[";
  for (size_t i = 0; i < bytes.size();) {
    size_t j = i;
    while (j + 1 < bytes.size() && bytes[j + 1] == bytes[j] + 1) ++j;
    auto one = [](uint8_t b) {
      char buf[8];
      if (b >= 0x21 && b < 0x7F && b != '\\' && b != ']' && b != '-') return std::string(1, static_cast<char>(b));
      std::snprintf(buf, sizeof buf, "\\x%02X", b);
      return std::string(buf);
    };
    out += one(bytes[i]);
    if (j > i) out += (j > i + 1 ? "-" : "") + one(bytes[j]);
    i = j + 1;
  }
  return out + "]";
}

void explain_regex(const std::string& pattern, const CompileOptions& opt, CompileProgressBar& bar) {
  grammar::RegexOptions ro;
  ro.dot_all = opt.dot_all;
  grammar::RegexPtr ast = grammar::parse_regex(pattern, ro);
  fsm::DfaOptions dopt;
  dopt.max_states = opt.max_dfa_states;
  dopt.max_memory_bytes = opt.max_dfa_memory;
  bar.on_progress("automaton", 0, 0);
  fsm::Dfa dfa = fsm::compile_dfa(*ast, dopt);
  bar.clear();
  std::cout << "regex:        " << json_quoted(pattern) << "\n"
            << "normalised:   " << grammar::regex_to_text(*ast) << "\n"
            << "DFA:          " << dfa.num_states() << " states, " << dfa.num_classes() << " byte classes, "
            << dfa.memory_bytes() << " bytes\n";
  if (dfa.empty()) {
    std::cout << "the regex matches no string\n";
    return;
  }
  std::cout << "start state:  " << (dfa.is_final(dfa.start()) ? "final (the empty string matches)" : "not final")
            << "\n";
  // Transitions out of the start state, grouped by target, each with an example string.
  std::vector<std::pair<uint32_t, std::vector<uint8_t>>> groups;
  for (int b = 0; b < 256; ++b) {
    uint32_t t = dfa.next(dfa.start(), static_cast<uint8_t>(b));
    if (t == fsm::kDead) continue;
    auto it = std::find_if(groups.begin(), groups.end(), [&](auto& g) { return g.first == t; });
    if (it == groups.end()) groups.push_back({t, {static_cast<uint8_t>(b)}});
    else it->second.push_back(static_cast<uint8_t>(b));
  }
  std::cout << "transition classes out of the start state: " << groups.size() << "\n";
  std::mt19937_64 rng(1);
  for (auto& [target, bytes] : groups) {
    // the first printable byte of the class, then the shortest way to a final state
    uint8_t b = bytes[0];
    for (uint8_t c : bytes)
      if (c >= 0x20 && c < 0x7F) {
        b = c;
        break;
      }
    std::string example(1, static_cast<char>(b));
    uint32_t s = target;
    // breadth-first shortest completion
    std::vector<std::pair<uint32_t, std::string>> frontier{{s, ""}};
    std::vector<char> seen(dfa.num_states(), 0);
    seen[s] = 1;
    std::string tail;
    for (size_t k = 0; k < frontier.size(); ++k) {
      auto [q, path] = frontier[k];
      if (dfa.is_final(q)) {
        tail = path;
        break;
      }
      for (int c = 0; c < 256; ++c) {
        uint32_t t = dfa.next(q, static_cast<uint8_t>(c));
        if (t == fsm::kDead || seen[t]) continue;
        seen[t] = 1;
        frontier.push_back({t, path + static_cast<char>(c)});
      }
    }
    std::cout << "  " << byte_set_text(bytes) << " -> state " << target << ", e.g. " << json_quoted(example + tail) << "\n";
  }
}

// ------------------------------------------------------------------------------------- sample

// A parsed, checked grammar for a source (grammars and schemas). Throws tollgate::Error.
grammar::Grammar ir_of(const Source& src, const Input& in) {
  if (in.dialect == "json-schema") return grammar::json_schema_to_grammar(in.text, src.schema_options(), in.name);
  return grammar::parse_grammar(in.text, in.dialect, in.name);
}

}  // namespace

void add_grammar_commands(CLI::App& app) {
  // check
  {
    auto src = std::make_shared<Source>();
    auto files = std::make_shared<std::vector<std::string>>();
    auto werror = std::make_shared<bool>(false);
    CLI::App* cmd = app.add_subcommand(
        "check", "check regexes, grammars and JSON Schemas: errors and warnings with codes (docs/diagnostics.md)");
    add_source_options(cmd, *src);
    cmd->add_option("files", *files, "files to check (- reads stdin; the dialect comes from the extension)");
    cmd->add_flag("--werror", *werror, "treat warnings as errors (exit 1)");
    cmd->footer(R"(
Examples:
  tollgate check grammar.gbnf                 # exit 0 clean (warnings allowed), 1 errors, 2 usage / I/O
  tollgate check a.lark b.gbnf schema.json    # several files, each reported
  tollgate check --werror --format json *.gbnf
  tollgate check --regex '[a-z]+@[a-z]+\.com'
  cat g.txt | tollgate check --dialect lark -)");
    cmd->callback([src, files, werror] {
      try {
        int rc = run_check(*src, *files, *werror);
        if (rc) throw CLI::RuntimeError(rc);
      } catch (const IoFailure& e) {
        std::cerr << "error: " << e.what() << "\n";
        throw CLI::RuntimeError(2);
      }
    });
  }
  // match
  {
    auto src = std::make_shared<Source>();
    auto strings = std::make_shared<std::vector<std::string>>();
    auto args = std::make_shared<std::vector<std::string>>();
    auto tokenizer = std::make_shared<std::string>();
    CLI::App* cmd = app.add_subcommand("match", "match strings or files against a grammar, in full");
    add_source_options(cmd, *src);
    // one value per -s, taken as it is (CLI11 would split "[1,2]" into a list otherwise)
    cmd->add_option("--string,-s", *strings, "a string to match (repeatable)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->allow_extra_args(false);
    cmd->add_option("args", *args, "GRAMMAR (unless --regex/--grammar/--schema), then FILEs to match (- is stdin)");
    cmd->add_option("--tokenizer,-t", *tokenizer,
                    "tokenize each input with this tokenizer and replay it token by token (a tokenizer.json, "
                    "its folder, or a name under $TOLLGATE_DATA_DIR/tokenizers)");
    cmd->footer(R"(
Examples:
  tollgate match json.lark -s '{"a": [1, 2]}'
  tollgate match --regex '[0-9]+' -s 123 -s 12a
  tollgate match schema.json data.json
  zcat dump.json.gz | tollgate match json.gbnf -     # streamed: any size, bounded memory
  echo -n '{"a": 1}' | tollgate match schema.json - --tokenizer llama3)");
    cmd->callback([src, strings, args, tokenizer] {
      std::vector<std::string> inputs = *args;
      Input gin;
      try {
        gin = take_grammar(*src, inputs, "match");
      } catch (const IoFailure& e) {
        std::cerr << "error: " << e.what() << "\n";
        throw CLI::RuntimeError(2);
      }
      if (strings->empty() && inputs.empty())
        throw CLI::ValidationError("match", "give --string S or one or more FILEs (- for stdin)");
      TokenizerInfoPtr tok;
      try {
        tok = tokenizer->empty() ? TokenizerInfo::bytes_with_eos() : load_tokenizer(*tokenizer);
      } catch (const Error& e) {
        print_error(e);
        throw CLI::RuntimeError(2);
      }
      CompiledGrammarPtr g = compile_or_report(*src, gin, tok, tokenizer->empty() ? 1 : 0);
      std::unique_ptr<Encoder> enc;
      if (!tokenizer->empty()) enc = std::make_unique<Encoder>(tok);
      const bool json = src->format == "json";
      const bool color = use_color(src->color, STDOUT_FILENO);
      std::vector<Diagnostic> all;
      bool all_ok = true, io_error = false;
      // Without --tokenizer an input is streamed (a file or stdin of any size); the token replay
      // encodes the whole text first.
      auto one = [&](const std::string& name, std::istream& in) {
        MatchOutcome r;
        size_t size = 0;
        if (enc) {
          std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
          size = text.size();
          r = match_tokens(g, *enc, name, text);
        } else {
          r = match_stream(g, name, in, size);
        }
        all_ok = all_ok && r.accepted;
        if (json) {
          all.insert(all.end(), r.diags.begin(), r.diags.end());
          return;
        }
        if (r.accepted) std::cout << name << ": accepted (" << size << " bytes)\n";
        for (auto& d : r.diags) std::cout << render_diagnostic(d, color) << "\n";
      };
      for (const auto& s : *strings) {
        std::istringstream in(s);
        one("<string>", in);
      }
      for (const auto& f : inputs) {
        if (f == "-") {
          one("<stdin>", std::cin);
          continue;
        }
        std::ifstream in(f, std::ios::binary);
        if (!in) {
          io_error = true;
          std::string msg = "cannot read '" + f + "'";
          if (json) all.push_back(io_diagnostic(f, msg));
          else std::cerr << "error: " << msg << "\n";
          continue;
        }
        one(f, in);
      }
      if (json) std::cout << diagnostics_json(all) << "\n";
      if (io_error) throw CLI::RuntimeError(2);
      if (!all_ok) throw CLI::RuntimeError(1);
    });
  }
  // compile
  {
    auto src = std::make_shared<Source>();
    auto args = std::make_shared<std::vector<std::string>>();
    auto tokenizer = std::make_shared<std::string>("llama3");
    auto threads = std::make_shared<int>(0);
    CLI::App* cmd = app.add_subcommand("compile", "compile against a tokenizer; print sizes and timings per phase");
    add_source_options(cmd, *src);
    cmd->add_option("args", *args, "GRAMMAR (unless --regex/--grammar/--schema)");
    cmd->add_option("--tokenizer,-t", *tokenizer,
                    "tokenizer.json, its folder, or a name under $TOLLGATE_DATA_DIR/tokenizers")
        ->capture_default_str();
    cmd->add_option("--threads", *threads, "threads for the token index (0 = all cores)")->capture_default_str();
    cmd->footer(R"(
Examples:
  tollgate compile grammar.gbnf --tokenizer llama3       # each phase's time and size
  tollgate compile schema.json --tokenizer /path/to/tokenizer.json --eager-index --threads 2
  tollgate compile grammar.lark --format json | jq '.phases[] | [.name, .ms]')");
    cmd->callback([src, args, tokenizer, threads] {
      std::vector<std::string> rest = *args;
      Input in;
      try {
        in = take_grammar(*src, rest, "compile");
      } catch (const IoFailure& e) {
        std::cerr << "error: " << e.what() << "\n";
        throw CLI::RuntimeError(2);
      }
      auto t0 = std::chrono::steady_clock::now();
      CompileProgressBar bar(src->progress(), in.name);
      bar.on_progress("tokenizer load", 0, 0);
      TokenizerInfoPtr tok;
      try {
        tok = load_tokenizer(*tokenizer);
      } catch (const Error& e) {
        bar.clear();
        print_error(e);
        throw CLI::RuntimeError(2);
      }
      double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      CompiledGrammarPtr g = compile_or_report(*src, in, tok, *threads, &bar);
      bar.clear();
      const CompileStats& s = g->stats();
      std::vector<Diagnostic> warnings;
      for (const auto& w : g->warnings()) warnings.push_back({w.message, w.pos, "", Severity::kWarning});
      if (src->format != "json")
        for (const auto& d : warnings) std::cerr << render_diagnostic(d, use_color(src->color, STDERR_FILENO)) << "\n";
      if (src->format == "json") {
        nlohmann::ordered_json phases = nlohmann::ordered_json::array();
        phases.push_back({{"name", "tokenizer load"}, {"ms", load_ms}, {"size", tok->vocab_size()}, {"unit", "tokens"}});
        for (const auto& ph : s.phases)
          phases.push_back({{"name", ph.name}, {"ms", ph.ms}, {"size", ph.size}, {"unit", ph.unit}});
        nlohmann::ordered_json o{{"source", in.name},           {"dialect", in.dialect},
                                 {"tokenizer", *tokenizer},     {"vocab_size", tok->vocab_size()},
                                 {"tokenizer_load_ms", load_ms}, {"phases", phases},
                                 {"dfa_states", s.dfa_states},
                                 {"lexemes", s.lexemes}, {"lexemes_built", s.lexemes_built},
                                 {"lexemes_shared", s.lexemes_shared}, {"distinct_masks", s.distinct_masks},
                                 {"index_bytes", s.index_bytes}, {"memory_bytes", g->memory_bytes()},
                                 {"parse_ms", s.parse_ms},      {"dfa_ms", s.dfa_ms},
                                 {"index_ms", s.index_ms},      {"total_ms", s.total_ms}};
        o["diagnostics"] = nlohmann::ordered_json::parse(diagnostics_json(warnings));
        std::cout << o.dump(2) << "\n";
        return;
      }
      std::printf("source:          %s (%s)\n", in.name.c_str(), in.dialect.c_str());
      std::printf("tokenizer:       %s (%d ids)\n", tokenizer->c_str(), tok->vocab_size());
      std::printf("phases:\n");
      std::printf("  %-22s %10.3f ms   %d tokens\n", "tokenizer load", load_ms, tok->vocab_size());
      for (const auto& ph : s.phases)
        std::printf("  %-22s %10.3f ms   %zu %s\n", ph.name.c_str(), ph.ms, ph.size, ph.unit.c_str());
      std::printf("compile total:   %10.3f ms (without the tokenizer load)\n", s.total_ms);
      std::printf("DFA states:      %zu\n", s.dfa_states);
      if (s.lexemes_built < s.lexemes)
        std::printf("lexemes:         %zu (%zu built so far: the others when a mask first needs them)\n", s.lexemes,
                    s.lexemes_built);
      else
        std::printf("lexemes:         %zu\n", s.lexemes);
      std::printf("distinct masks:  %zu%s\n", s.distinct_masks,
                  in.dialect != "regex" && !src->eager_index ? " (so far: the index is filled as masks need it)" : "");
      std::printf("index memory:    %.1f KiB (all: %.1f KiB)\n", s.index_bytes / 1024.0, g->memory_bytes() / 1024.0);
    });
  }
  // explain
  {
    auto src = std::make_shared<Source>();
    auto args = std::make_shared<std::vector<std::string>>();
    CLI::App* cmd = app.add_subcommand(
        "explain", "show the normalised grammar (rules, lexemes, productions); a regex's DFA; a schema's grammar");
    add_source_options(cmd, *src);
    cmd->add_option("args", *args, "GRAMMAR (unless --regex/--grammar/--schema)");
    cmd->footer(R"(
Examples:
  tollgate explain grammar.lark
  tollgate explain --regex '(ab|cd)+e?'
  tollgate explain schema.json)");
    cmd->callback([src, args] {
      std::vector<std::string> rest = *args;
      Input in;
      try {
        in = take_grammar(*src, rest, "explain");
        CompileProgressBar bar(src->progress(), in.name);  // the long steps of a large input
        if (in.dialect == "regex") {
          explain_regex(in.text, src->options(1), bar);
        } else {
          bar.on_progress(in.dialect == "json-schema" ? "schema to grammar" : "parse", 0, 0);
          grammar::Grammar g = ir_of(*src, in);
          bar.clear();
          explain_grammar(g, bar);
        }
      } catch (const IoFailure& e) {
        std::cerr << "error: " << e.what() << "\n";
        throw CLI::RuntimeError(2);
      } catch (const Error& e) {
        Diagnostic d = engine::diagnostic_of(e);
        if (in.dialect == "json-schema") d.pos = engine::schema_position(in.text, d.pos);
        if (d.pos.file.empty()) d.pos.file = in.name;
        if (src->format == "json") std::cout << diagnostics_json({d}) << "\n";
        else std::cerr << render_diagnostic(d, use_color(src->color, STDERR_FILENO)) << "\n";
        throw CLI::RuntimeError(1);
      }
    });
  }
  // sample
  {
    auto src = std::make_shared<Source>();
    auto args = std::make_shared<std::vector<std::string>>();
    auto n = std::make_shared<int>(10);
    auto seed = std::make_shared<uint64_t>(0);
    auto max_bytes = std::make_shared<size_t>(200);
    auto raw = std::make_shared<bool>(false);
    CLI::App* cmd = app.add_subcommand("sample", "random strings of the language, each checked with match");
    add_source_options(cmd, *src);
    cmd->add_option("args", *args, "GRAMMAR (unless --regex/--grammar/--schema)");
    cmd->add_option("-n", *n, "how many strings")->capture_default_str()->check(CLI::Range(0, 1000000));
    cmd->add_option("--seed", *seed, "random seed (the same seed gives the same strings)")->capture_default_str();
    cmd->add_option("--max-bytes", *max_bytes, "longest string wanted (a longer one only when the shortest is)")
        ->capture_default_str();
    cmd->add_flag("--raw", *raw, "print the strings as they are, one per line (default: as JSON string literals)");
    cmd->footer(R"(
Examples:
  tollgate sample json.gbnf -n 5 --seed 7
  tollgate sample --regex '[a-z]{3}-[0-9]{2}' --raw
  tollgate sample schema.json --max-bytes 80 --format json)");
    cmd->callback([src, args, n, seed, max_bytes, raw] {
      std::vector<std::string> rest = *args;
      Input in;
      try {
        in = take_grammar(*src, rest, "sample");
      } catch (const IoFailure& e) {
        std::cerr << "error: " << e.what() << "\n";
        throw CLI::RuntimeError(2);
      }
      CompiledGrammarPtr g = compile_or_report(*src, in, TokenizerInfo::bytes_with_eos(), 1);
      std::mt19937_64 rng(*seed);
      std::unique_ptr<engine::GrammarSampler> sampler;
      std::unique_ptr<fsm::Dfa> dfa;
      try {
        if (in.dialect == "regex") {
          grammar::RegexOptions ro;
          dfa = std::make_unique<fsm::Dfa>(fsm::compile_dfa(*grammar::parse_regex(in.text, ro)));
        } else {
          sampler = std::make_unique<engine::GrammarSampler>(ir_of(*src, in));
        }
      } catch (const Error& e) {
        print_error(e);
        throw CLI::RuntimeError(1);
      }
      std::vector<std::string> out;
      size_t failures = 0;
      for (int k = 0; k < *n; ++k) {
        std::optional<std::string> got;
        for (int attempt = 0; attempt < 50 && !got; ++attempt) {
          // later attempts aim shorter: a leftmost-first lexer or a length bound refuses long ones more often
          size_t budget = attempt < 10 ? *max_bytes : std::max<size_t>(1, *max_bytes >> std::min(attempt / 10, 4));
          std::optional<std::string> s;
          try {
            s = dfa ? engine::sample_dfa(*dfa, rng, budget) : sampler->sample(rng, budget);
          } catch (const Error& e) {
            print_error(e);
            throw CLI::RuntimeError(1);
          }
          if (!s) break;  // empty language
          Matcher m(g, 0);
          if (m.accept_bytes(*s) && m.is_accepting() && (s->size() <= *max_bytes || attempt >= 40)) got = s;
        }
        if (!got) {
          ++failures;
          continue;
        }
        out.push_back(*got);
      }
      if (src->format == "json") {
        std::cout << nlohmann::json(out).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      } else {
        for (auto& s : out) std::cout << (*raw ? s : json_quoted(s)) << "\n";
      }
      if (failures) {
        std::cerr << "warning: " << failures << " of " << *n
                  << " strings could not be drawn (no string the matcher accepts was found in 50 attempts; "
                     "try a larger --max-bytes)\n";
        throw CLI::RuntimeError(1);
      }
    });
  }
}

}  // namespace tollgate::cli
