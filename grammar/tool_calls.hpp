// Tool calls inside free text → Grammar IR.
// Takes: a ToolCallSpec (tags of begin string, JSON Schema, end string; triggers; at most one /
// required). Gives: a checked Grammar IR (every cut followed, as GBNF) whose language is
//   (FT_k  rest_of_begin_i  schema_i  end_i)*  NT
// where NT is free text in which no trigger occurs (valid UTF-8) and FT_k is free text that ends
// with trigger k, its first trigger occurrence: (Σ* T_k) ∩ ¬(Σ* (T_1|…|T_n) Σ⁺). Each tag's
// schema is compiled by the JSON Schema front-end and embedded (grammar/json_schema.hpp);
// identical schemas once. The repetition is ?, + or 1 under at_most_one / required.
#pragma once

#include <string_view>

#include "grammar/grammar_ir.hpp"
#include "tollgate/tool_calls.hpp"

namespace tollgate::grammar {

Grammar tool_calls_to_grammar(const ToolCallSpec& spec, std::string_view file = {});

}  // namespace tollgate::grammar
