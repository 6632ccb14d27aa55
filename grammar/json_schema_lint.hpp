// JSON Schema lint — contradictions `tollgate check` reports before any compile. Takes: schema JSON
// text. Gives: errors with codes (grammar/diagnostic_codes.hpp) and the JSON pointer of the keyword
// at fault (pos.pointer; the caller adds line:column): minimum > maximum (exclusive bounds
// included), minLength > maxLength, minItems > maxItems, minProperties > maxProperties, more
// required properties than maxProperties, a required property that additionalProperties: false
// forbids, enum / const values that violate `type`, a pattern that matches no string.
// Malformed JSON gives nothing here (the compiler reports it with its position).
#pragma once

#include <string_view>
#include <vector>

#include "grammar/grammar_ir.hpp"

namespace tollgate::grammar {

std::vector<Diagnostic> lint_json_schema(std::string_view schema_json, std::string_view file = {});

}  // namespace tollgate::grammar
