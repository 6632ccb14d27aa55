// Grammar checking for the CLI (`tollgate check --grammar FILE [--dialect …]`).
// check_grammar parses and checks a GBNF/Lark/EBNF grammar without a vocabulary: throws
// tollgate::Error (file:line:column, Error::pretty() shows the source line and a caret) and
// returns the warnings (unused rules, ignored priorities/aliases); Diagnostic::pretty() prints one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "grammar/grammar_ir.hpp"

namespace tollgate::engine {

using grammar::Diagnostic;

std::vector<Diagnostic> check_grammar(std::string_view text, std::string_view format, std::string_view file = {});
// "lark" for *.lark, "ebnf" for *.ebnf, else "gbnf".
std::string dialect_from_path(std::string_view path);

}  // namespace tollgate::engine
