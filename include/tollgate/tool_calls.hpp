// Tool calls inside free text (a "structural tag"): what Compiler::compile_tool_calls takes.
// The model writes free text; where a trigger appears (`<function=`, `<tool_call>`), one of the
// tags that begin with that trigger must follow: its begin string, JSON arguments that validate
// against its schema, its end string; then free text resumes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tollgate/compiler.hpp"

namespace tollgate {

struct ToolCallTag {
  std::string begin;   // e.g. "<function=get_weather>"; starts with one of the triggers
  std::string schema;  // JSON Schema of the arguments (JSON text)
  std::string end;     // e.g. "</function>" (may be empty)
};

struct ToolCallSpec {
  std::vector<ToolCallTag> tags;
  // Free text is any text (valid UTF-8) in which no trigger occurs; the first trigger that
  // completes starts a call. Empty: every tag's begin string is a trigger.
  std::vector<std::string> triggers;
  bool at_most_one = false;  // at most one call (the text after it contains no trigger)
  bool required = false;     // at least one call
  JsonSchemaOptions json;    // how the schemas are compiled (whitespace, property order, lenient)
};

// The request Compiler::compile / compile_async take for `spec` (kind kToolCalls; the spec is copied).
GrammarRequest tool_calls_request(const ToolCallSpec& spec, std::string_view source_name = {});
// What identifies `spec` in the compiled-grammar cache: tags, triggers and flags, each string
// length-prefixed (so any bytes, and no two specs share a text); its json options are keyed
// beside it as a JSON Schema request's are.
std::string tool_calls_key_text(const ToolCallSpec& spec);

}  // namespace tollgate
