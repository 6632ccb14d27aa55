// tollgate check | match | compile — for a --regex or a --grammar FILE (GBNF, Lark, EBNF).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "engine/cli/commands.hpp"
#include "engine/grammar_check.hpp"

namespace tollgate::cli {

namespace {

// What to compile: a regex, or a grammar file in a dialect (from the extension by default).
struct Source {
  std::string regex;
  std::string grammar_file;
  std::string schema_file;
  std::string dialect;
  bool lenient = false;
  std::string property_order = "schema";
  std::string label() const {
    return !schema_file.empty() ? schema_file : grammar_file.empty() ? "regex" : grammar_file;
  }
  std::string format() const {
    return dialect.empty() ? engine::dialect_from_path(grammar_file) : dialect;
  }
};

void add_source_options(CLI::App* cmd, Source& src) {
  auto* re = cmd->add_option("--regex,-r", src.regex, "a regular expression (full-match semantics)");
  auto* gr = cmd->add_option("--grammar,-g", src.grammar_file, "a grammar file (GBNF, Lark or EBNF)");
  cmd->add_option("--dialect", src.dialect, "grammar dialect (default: from the file extension)")
      ->check(CLI::IsMember({"gbnf", "lark", "ebnf"}));
  auto* sc = cmd->add_option("--schema", src.schema_file, "a JSON Schema file");
  cmd->add_flag("--lenient", src.lenient,
                "JSON Schema: compile keywords that cannot be exact as an over-approximation (warned)");
  cmd->add_option("--property-order", src.property_order,
                  "JSON Schema: properties in the schema's order, or in any order")
      ->check(CLI::IsMember({"schema", "any"}))
      ->capture_default_str();
  re->excludes(gr);
  sc->excludes(re);
  sc->excludes(gr);
}

void require_source(const Source& src) {
  if (src.regex.empty() && src.grammar_file.empty() && src.schema_file.empty()) {
    throw CLI::ValidationError("source", "give --regex R, --grammar FILE or --schema FILE");
  }
}

// The DFA budgets of `check`, `match` and `compile` (--max-states, --max-memory in MiB).
struct Budgets {
  size_t max_states = CompileOptions{}.max_dfa_states;
  size_t max_memory_mib = CompileOptions{}.max_dfa_memory >> 20;
  bool eager_index = false;
};

void add_budget_options(CLI::App* cmd, Budgets& b) {
  cmd->add_option("--max-states", b.max_states, "DFA state budget (max_dfa_states)")->capture_default_str();
  cmd->add_option("--max-memory", b.max_memory_mib,
                  "memory budget per automaton while it is built, in MiB (max_dfa_memory)")
      ->capture_default_str();
  cmd->add_flag("--eager-index", b.eager_index,
                "grammars and schemas: compute the whole token index at compile time (eager_index)");
}

CompiledGrammarPtr compile_source(const Source& src, const TokenizerInfoPtr& tok, int threads,
                                  const Budgets& budgets = {}) {
  CompileOptions opt;
  opt.threads = threads;
  opt.max_dfa_states = budgets.max_states;
  opt.max_dfa_memory = budgets.max_memory_mib < (SIZE_MAX >> 20) ? budgets.max_memory_mib << 20 : SIZE_MAX;
  opt.eager_index = budgets.eager_index;
  Compiler compiler(tok, opt);
  if (!src.schema_file.empty()) {
    JsonSchemaOptions so;
    so.lenient = src.lenient;
    if (src.property_order == "any") so.property_order = JsonSchemaOptions::PropertyOrder::kAny;
    return compiler.compile_json_schema(read_file(src.schema_file), so, src.schema_file);
  }
  if (!src.grammar_file.empty()) {
    return compiler.compile_grammar(read_file(src.grammar_file), src.format(),
                                    src.grammar_file);
  }
  return compiler.compile_regex(src.regex);
}

std::string show_byte(unsigned char c) {
  char buf[16];
  if (c >= 0x20 && c < 0x7F) std::snprintf(buf, sizeof buf, "'%c'", c);
  else if (c == '\n') std::snprintf(buf, sizeof buf, "'\\n'");
  else if (c == '\t') std::snprintf(buf, sizeof buf, "'\\t'");
  else std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
  return buf;
}

// Reads `in` in 64 KiB chunks (a file or stdin is never held whole: only the current line, at most
// 1 MiB of it, is kept for the error message) and feeds the matcher a chunk at a time; on a
// refusal the chunk is fed byte by byte to find the refused byte. Prints the verdict; returns true
// when accepted in full.
bool match_one(const CompiledGrammarPtr& g, const std::string& name, std::istream& in) {
  constexpr size_t kChunk = size_t{1} << 16, kLineKept = size_t{1} << 20;
  Matcher m(g, 0);
  std::vector<char> buf(kChunk);
  std::string line;       // the current line (its last kLineKept bytes at most)
  int line_no = 1, column_dropped = 0;  // code points of the current line dropped from `line`
  size_t total = 0;
  auto keep = [&](std::string_view bytes) {  // appends accepted bytes to the line bookkeeping
    size_t nl = bytes.rfind('\n');
    if (nl != std::string_view::npos) {
      for (char c : bytes.substr(0, nl + 1)) line_no += c == '\n';
      line.clear();
      column_dropped = 0;
      bytes = bytes.substr(nl + 1);
    }
    line.append(bytes);
    if (line.size() > kLineKept) {
      size_t cut = line.size() - kLineKept / 2;
      while (cut < line.size() && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) ++cut;  // keep sequences whole
      column_dropped += position_in(line, cut).column - 1;
      line.erase(0, cut);
    }
  };
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::string_view chunk(buf.data(), static_cast<size_t>(in.gcount()));
    if (chunk.empty()) break;
    if (m.accept_bytes(chunk)) {
      keep(chunk);
      total += chunk.size();
      continue;
    }
    for (size_t i = 0; i < chunk.size(); ++i) {
      if (m.accept_bytes(chunk.substr(i, 1))) {
        keep(chunk.substr(i, 1));
        continue;
      }
      std::string_view rest = chunk.substr(i);
      std::string shown = line + std::string(rest.substr(0, rest.find('\n')));
      SourcePos pos = position_in(shown, line.size(), name);
      pos.line = line_no;
      pos.column += column_dropped;
      std::ostringstream msg;
      msg << "rejected at byte " << total + i << ": " << show_byte(chunk[i]) << " is not allowed here";
      if (i + 1 == chunk.size() && chunk[i] == '\n' && m.is_accepting() && in.peek() == std::char_traits<char>::eof()) {
        msg << " (the input is complete without its trailing newline)";
      }
      Error e(ErrorKind::kParse, msg.str(), pos);
      std::cout << e.pretty() << "\n";
      return false;
    }
    total += chunk.size();  // every byte was accepted one by one
  }
  if (!m.is_accepting()) {
    std::string forced = m.jump_forward();
    std::cout << name << ": rejected: the input ends early (after " << total
              << " bytes, more is required";
    if (!forced.empty()) std::cout << ", e.g. \"" << forced << "\"";
    std::cout << ")\n";
    return false;
  }
  std::cout << name << ": accepted (" << total << " bytes)\n";
  return true;
}

}  // namespace

void add_grammar_commands(CLI::App& app) {
  // check
  {
    auto src = std::make_shared<Source>();
    auto budgets = std::make_shared<Budgets>();
    CLI::App* cmd = app.add_subcommand("check", "check that a regex or grammar compiles (exit 0) or explain why not");
    add_source_options(cmd, *src);
    add_budget_options(cmd, *budgets);
    cmd->callback([src, budgets] {
      require_source(*src);
      try {
        if (!src->grammar_file.empty()) {
          auto warnings = engine::check_grammar(read_file(src->grammar_file), src->format(),
                                                src->grammar_file);
          for (const auto& w : warnings) std::cerr << w.pretty() << "\n";
        }
        auto g = compile_source(*src, byte_tokenizer(), 1, *budgets);
        if (!src->schema_file.empty())
          for (const auto& w : g->warnings())
            std::cerr << src->schema_file << ": warning: " << w.message << "\n";
        std::cout << "ok: " << src->label() << " compiles (" << g->stats().dfa_states
                  << " DFA states)\n";
      } catch (const Error& e) {
        print_error(e);
        throw CLI::RuntimeError(1);
      }
    });
  }
  // match
  {
    auto src = std::make_shared<Source>();
    auto strings = std::make_shared<std::vector<std::string>>();
    auto files = std::make_shared<std::vector<std::string>>();
    auto budgets = std::make_shared<Budgets>();
    CLI::App* cmd = app.add_subcommand("match", "match strings or files against a regex or grammar, in full");
    add_source_options(cmd, *src);
    cmd->add_option("--string,-s", *strings, "a string to match (repeatable)");
    cmd->add_option("files", *files, "files to match (their whole contents, streamed; - for stdin)");
    add_budget_options(cmd, *budgets);
    cmd->callback([src, strings, files, budgets] {
      require_source(*src);
      if (strings->empty() && files->empty()) {
        throw CLI::ValidationError("match", "give --string S or one or more FILEs");
      }
      CompiledGrammarPtr g;
      try {
        g = compile_source(*src, byte_tokenizer(), 1, *budgets);
      } catch (const Error& e) {
        print_error(e);
        throw CLI::RuntimeError(1);
      }
      bool all = true;
      for (const auto& s : *strings) {
        std::istringstream in(s);
        all = match_one(g, "<string>", in) && all;
      }
      for (const auto& f : *files) {  // streamed: a file of any size, or stdin as "-"
        if (f == "-") {
          all = match_one(g, "<stdin>", std::cin) && all;
          continue;
        }
        std::ifstream in(f, std::ios::binary);
        if (!in) {
          print_error(Error(ErrorKind::kIo, "cannot read '" + f + "'"));
          all = false;
          continue;
        }
        all = match_one(g, f, in) && all;
      }
      if (!all) throw CLI::RuntimeError(1);
    });
  }
  // compile
  {
    auto src = std::make_shared<Source>();
    auto tokenizer = std::make_shared<std::string>("llama3");
    auto threads = std::make_shared<int>(0);
    auto budgets = std::make_shared<Budgets>();
    CLI::App* cmd = app.add_subcommand("compile", "compile against a tokenizer; print sizes and timings");
    add_source_options(cmd, *src);
    cmd->add_option("--tokenizer,-t", *tokenizer,
                    "tokenizer.json, its folder, or a name under $TOLLGATE_DATA_DIR/tokenizers")
        ->capture_default_str();
    cmd->add_option("--threads", *threads, "threads for the token index (0 = all cores)")
        ->capture_default_str();
    add_budget_options(cmd, *budgets);
    cmd->callback([src, tokenizer, threads, budgets] {
      require_source(*src);
      try {
        auto t0 = std::chrono::steady_clock::now();
        TokenizerInfoPtr tok = load_tokenizer(*tokenizer);
        double load_ms = std::chrono::duration<double, std::milli>(
                             std::chrono::steady_clock::now() - t0).count();
        auto g = compile_source(*src, tok, *threads, *budgets);
        const CompileStats& s = g->stats();
        std::printf("tokenizer:       %s (%d ids, loaded in %.1f ms)\n", tokenizer->c_str(),
                    tok->vocab_size(), load_ms);
        std::printf("DFA states:      %zu\n", s.dfa_states);
        std::printf("distinct masks:  %zu\n", s.distinct_masks);
        std::printf("index memory:    %.1f KiB\n", s.index_bytes / 1024.0);
        std::printf("compile time:    %.3f ms (parse %.3f, DFA %.3f, index %.3f)\n", s.total_ms,
                    s.parse_ms, s.dfa_ms, s.index_ms);
      } catch (const Error& e) {
        print_error(e);
        throw CLI::RuntimeError(1);
      }
    });
  }
}

}  // namespace tollgate::cli
