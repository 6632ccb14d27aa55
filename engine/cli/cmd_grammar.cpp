// tollgate check | match | compile — for a --regex or a --grammar FILE (GBNF, Lark, EBNF).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

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

// Feeds `text` byte by byte; prints the verdict; returns true when accepted in full.
bool match_one(const CompiledGrammarPtr& g, const std::string& name, const std::string& text) {
  Matcher m(g, 0);
  for (size_t i = 0; i < text.size(); ++i) {
    if (!m.accept_bytes(std::string_view(text).substr(i, 1))) {
      SourcePos pos = position_in(text, i, name);
      std::ostringstream msg;
      msg << "rejected at byte " << i << ": " << show_byte(text[i]) << " is not allowed here";
      if (i + 1 == text.size() && text[i] == '\n' && m.is_accepting()) {
        msg << " (the input is complete without its trailing newline)";
      }
      Error e(ErrorKind::kParse, msg.str(), pos);
      std::cout << e.pretty() << "\n";
      return false;
    }
  }
  if (!m.is_accepting()) {
    std::string forced = m.jump_forward();
    std::cout << name << ": rejected: the input ends early (after " << text.size()
              << " bytes, more is required";
    if (!forced.empty()) std::cout << ", e.g. \"" << forced << "\"";
    std::cout << ")\n";
    return false;
  }
  std::cout << name << ": accepted (" << text.size() << " bytes)\n";
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
    cmd->add_option("files", *files, "files to match (their whole contents)");
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
      for (const auto& s : *strings) all = match_one(g, "<string>", s) && all;
      for (const auto& f : *files) {
        std::string text;
        try {
          text = read_file(f);
        } catch (const Error& e) {
          print_error(e);
          all = false;
          continue;
        }
        all = match_one(g, f, text) && all;
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
