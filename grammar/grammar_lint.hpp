// Grammar lint — the checks `tollgate check` runs beyond what compiling needs (compiles never pay for
// them). Takes: a Grammar that analyse_grammar()/check_grammar_ir() resolved without errors, or a
// parsed Regex. Gives: warnings with stable codes (grammar/diagnostic_codes.hpp): left recursion
// (GBNF, which llama.cpp refuses), a language that is only the empty string, terminals and regex
// leaves that match only "", Lark terminal alternatives that leftmost-first matching never picks
// (built with fsm/dfa.hpp's automata), duplicate alternatives and repetitions of nullable items
// (cheap ambiguity). Also a readable rendering of the IR (GBNF-like) for `tollgate explain`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "grammar/grammar_ir.hpp"

namespace tollgate::grammar {

// format: "gbnf", "lark" or "ebnf" (left recursion is reported for GBNF only).
std::vector<Diagnostic> lint_grammar(const Grammar& g, std::string_view format);

// Rules that derive the empty string (least fixed point).
std::vector<char> nullable_rules(const Grammar& g);

// A rule body or leaf in GBNF-like notation: "literal", [class], name, ( a | b ), x*, /regex/.
std::string expr_to_text(const Grammar& g, const GExpr& e);
std::string regex_to_text(const Regex& r);
// Every rule as `name ::= body` (Lark terminals marked), then the %ignore items.
std::string grammar_to_text(const Grammar& g);

}  // namespace tollgate::grammar
