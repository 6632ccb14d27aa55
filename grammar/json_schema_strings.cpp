// Placeholder (see json_schema_strings.hpp).
#include "grammar/json_schema_strings.hpp"

#include "tollgate/error.hpp"

namespace tollgate::grammar {

RegexPtr ecma_pattern_regex(std::string_view) {
  throw Error(ErrorKind::kUnsupported, "pattern is not compiled yet");
}

RegexPtr format_regex(std::string_view) { return nullptr; }

}  // namespace tollgate::grammar
