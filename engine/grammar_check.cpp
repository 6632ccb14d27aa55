// check_source — `tollgate check` for one source (see grammar_check.hpp). Takes: text, dialect,
// Compiler. Gives: diagnostics with codes; the compiled grammar when clean of errors.
#include "engine/grammar_check.hpp"

#include "fsm/dfa.hpp"
#include "grammar/grammar_lint.hpp"
#include "grammar/json_schema.hpp"
#include "grammar/json_schema_lint.hpp"
#include "grammar/regex_ast.hpp"

namespace tollgate::engine {

namespace codes = grammar::codes;

size_t CheckResult::errors() const {
  size_t n = 0;
  for (auto& d : diagnostics) n += d.severity == Severity::kError;
  return n;
}
size_t CheckResult::warnings() const {
  size_t n = 0;
  for (auto& d : diagnostics) n += d.severity == Severity::kWarning;
  return n;
}

Diagnostic diagnostic_of(const Error& e) {
  const char* code = codes::kSyntax;
  switch (e.kind()) {
    case ErrorKind::kUnsupported: code = codes::kUnsupported; break;
    case ErrorKind::kLimit: code = codes::kLimit; break;
    case ErrorKind::kSchema: code = codes::kSchemaInvalid; break;
    default: break;
  }
  return {e.message(), e.pos(), e.code().empty() ? code : e.code(), Severity::kError};
}

std::string dialect_from_path(std::string_view path) {
  auto ends = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends(".lark")) return "lark";
  if (ends(".ebnf")) return "ebnf";
  if (ends(".regex") || ends(".re")) return "regex";
  if (ends(".json")) return "json-schema";
  return "gbnf";
}

namespace {

bool has_error(const std::vector<Diagnostic>& ds) {
  for (auto& d : ds)
    if (d.severity == Severity::kError) return true;
  return false;
}

void check_regex(const Compiler& compiler, std::string_view text, std::string_view file, CheckResult& r) {
  grammar::RegexOptions ro;
  ro.dot_all = compiler.options().dot_all;
  try {
    grammar::RegexPtr ast = grammar::parse_regex(text, ro);
    fsm::DfaOptions dopt;
    dopt.max_states = compiler.options().max_dfa_states;
    dopt.max_memory_bytes = compiler.options().max_dfa_memory;
    fsm::Dfa dfa = fsm::compile_dfa(*ast, dopt);
    SourcePos at = span_in(text, 0, text.size(), std::string(file));  // the whole regex
    if (dfa.empty()) {
      r.diagnostics.push_back({"the regex matches no string", at, codes::kRegexNothing, Severity::kError});
      return;
    }
    bool moves = false;
    for (int b = 0; b < 256 && !moves; ++b) moves = dfa.next(dfa.start(), static_cast<uint8_t>(b)) != fsm::kDead;
    if (!moves)
      r.diagnostics.push_back({"the regex matches only the empty string", at, codes::kRegexOnlyEmpty,
                               Severity::kWarning});
  } catch (const Error& e) {
    Diagnostic d = diagnostic_of(e);
    // the regex parser counts columns in code points on its one line
    size_t off = 0;
    for (int cp = 1; off < text.size() && cp < e.pos().column; ++off)
      if ((static_cast<unsigned char>(text[off]) & 0xC0) != 0x80) ++cp;
    while (off < text.size() && (static_cast<unsigned char>(text[off]) & 0xC0) == 0x80) ++off;
    d.pos = position_in(text, off, std::string(file));
    r.diagnostics.push_back(std::move(d));
  }
}

}  // namespace

CheckResult check_source(const Compiler& compiler, std::string_view text, std::string_view dialect,
                         std::string_view file, const JsonSchemaOptions& schema) {
  CheckResult r;
  auto compile = [&](auto&& f) {
    try {
      r.compiled = f();
    } catch (const Error& e) {
      Diagnostic d = diagnostic_of(e);
      if (dialect == "json-schema") d.pos = schema_position(text, d.pos);
      r.diagnostics.push_back(std::move(d));
    }
  };
  if (dialect == "regex") {
    check_regex(compiler, text, file, r);
    if (!has_error(r.diagnostics)) compile([&] { return compiler.compile_regex(text); });
    return r;
  }
  if (dialect == "json-schema") {
    for (auto& d : grammar::lint_json_schema(text, file)) {
      d.pos = schema_position(text, d.pos);
      r.diagnostics.push_back(std::move(d));
    }
    if (has_error(r.diagnostics)) return r;
    try {
      grammar::Grammar g = grammar::json_schema_to_grammar(text, schema, file);
      for (auto& w : g.warnings) {
        w.pos = schema_position(text, w.pos);
        r.diagnostics.push_back(std::move(w));
      }
    } catch (const Error& e) {
      Diagnostic d = diagnostic_of(e);
      d.pos = schema_position(text, d.pos);
      r.diagnostics.push_back(std::move(d));
      return r;
    }
    compile([&] { return compiler.compile_json_schema(text, schema, file); });
    return r;
  }
  // grammars
  grammar::Grammar g;
  grammar::GrammarOptions gopt;
  gopt.max_nesting = compiler.options().max_grammar_nesting;
  try {
    if (dialect == "gbnf") g = grammar::parse_gbnf(text, file, gopt);
    else if (dialect == "ebnf") g = grammar::parse_ebnf(text, file, gopt);
    else if (dialect == "lark") g = grammar::parse_lark(text, file, gopt);
    else
      throw Error(ErrorKind::kInvalidArgument,
                  "unknown dialect '" + std::string(dialect) + "' (gbnf, lark, ebnf, regex or json-schema)");
  } catch (const Error& e) {
    r.diagnostics.push_back(diagnostic_of(e));
    return r;
  }
  std::vector<Diagnostic> ds = g.warnings;  // the front-end's (ignored Lark features)
  for (auto& d : grammar::analyse_grammar(g)) ds.push_back(std::move(d));
  if (!has_error(ds))
    for (auto& d : grammar::lint_grammar(g, dialect)) ds.push_back(std::move(d));
  std::stable_sort(ds.begin(), ds.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if ((a.severity == Severity::kError) != (b.severity == Severity::kError)) return a.severity == Severity::kError;
    return std::make_pair(a.pos.line, a.pos.column) < std::make_pair(b.pos.line, b.pos.column);
  });
  r.diagnostics = std::move(ds);
  if (!has_error(r.diagnostics)) compile([&] { return compiler.compile_grammar(text, dialect, file); });
  return r;
}

}  // namespace tollgate::engine
