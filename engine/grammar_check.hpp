// Checking regexes, grammars and JSON Schemas for `tollgate check` (and the other subcommands'
// diagnostics). Takes: the source text, its dialect (gbnf, lark, ebnf, regex, json-schema) and a
// Compiler (its tokenizer and budgets). Gives: every diagnostic found (errors and warnings, each
// with a stable code from grammar/diagnostic_codes.hpp, file:line:column and, for schemas, the
// JSON pointer), and the compiled grammar when there was no error. Never throws for bad input.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "grammar/grammar_ir.hpp"
#include "tollgate/compiler.hpp"

namespace tollgate::engine {

using grammar::Diagnostic;
using grammar::Severity;

struct CheckResult {
  std::vector<Diagnostic> diagnostics;  // in the order found: errors of a phase, then warnings
  CompiledGrammarPtr compiled;          // null when there was an error
  size_t errors() const;
  size_t warnings() const;
};

// schema: JsonSchemaOptions for dialect "json-schema". `file` names the source in positions.
CheckResult check_source(const Compiler& compiler, std::string_view text, std::string_view dialect,
                         std::string_view file, const JsonSchemaOptions& schema = {});

// The diagnostic for an Error: its code, or one by its kind (kParse TG001, kUnsupported TG002,
// kLimit TG003, kSchema TG313).
Diagnostic diagnostic_of(const Error& e);

// "lark" for *.lark, "ebnf" for *.ebnf, "regex" for *.regex / *.re, "json-schema" for *.json,
// else "gbnf".
std::string dialect_from_path(std::string_view path);

// A schema position with line:column in `text` as well as its JSON pointer (pos.pointer).
SourcePos schema_position(std::string_view text, const SourcePos& pos);

}  // namespace tollgate::engine
