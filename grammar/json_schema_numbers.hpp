// Number constraints of JSON Schema as regexes over the JSON number text.
// Takes: type integer|number with minimum / maximum / exclusiveMinimum / exclusiveMaximum /
// multipleOf, each bound as the decimal text of the schema's number (any magnitude, may carry an
// exponent: "1e3", "-2.50"). Gives: a Regex (ASCII bytes) matching exactly the JSON number literals
// (RFC 8259 syntax: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?) whose value satisfies them.
// Integer bounds use digit-range automata (no enumeration), so bounds of any size stay small;
// multipleOf on integers uses a modular automaton (Regex::automaton_of).
#pragma once

#include <optional>
#include <string>

#include "grammar/regex_ast.hpp"

namespace tollgate::grammar {

struct NumberConstraints {
  bool integer = false;  // JSON Schema "integer": the value is a whole number (1.0 counts, 2020-12)
  std::optional<std::string> minimum, maximum;  // decimal texts
  bool exclusive_minimum = false, exclusive_maximum = false;
  std::optional<std::string> multiple_of;       // decimal text, > 0
};

// Throws tollgate::Error(kUnsupported) with a message naming the keyword when the constraint
// cannot be expressed exactly; kSchema when a value is malformed (multipleOf <= 0).
RegexPtr json_number_regex(const NumberConstraints& constraints);

}  // namespace tollgate::grammar
