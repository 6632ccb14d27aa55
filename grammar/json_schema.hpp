// JSON Schema front-end.
// Takes: a JSON Schema document (draft 2020-12 by default; draft-07 when $schema says so; draft-04/06
// spellings of the same keywords accepted) as JSON text. Gives: a checked Grammar IR whose language is
// the JSON texts (formatted per JsonSchemaOptions) that validate against the schema, for the
// context-free back-end (fsm/cfg.cpp). Regular parts (strings, numbers, keys) are Regex leaves built
// with json_schema_numbers.hpp and json_schema_strings.hpp; recursive $refs become recursive rules.
// What cannot be compiled exactly is an Error(kSchema) naming the keyword and its JSON pointer, or,
// with options.lenient, an over-approximation plus a warning. Unknown keywords: one warning listing them.
#pragma once

#include <string_view>

#include "grammar/grammar_ir.hpp"
#include "tollgate/compiler.hpp"

namespace tollgate::grammar {

// embedded: the schema is part of a larger grammar (tool calls, Lark %json), whose bytes the
// uniqueItems tracker cannot follow: uniqueItems stays refused (relaxed under lenient) there.
Grammar json_schema_to_grammar(std::string_view schema_json, const JsonSchemaOptions& options,
                               std::string_view file = {}, bool embedded = false);

}  // namespace tollgate::grammar
