// Placeholder (see json_schema_numbers.hpp).
#include "grammar/json_schema_numbers.hpp"

#include "tollgate/error.hpp"

namespace tollgate::grammar {

RegexPtr json_number_regex(const NumberConstraints&) {
  throw Error(ErrorKind::kUnsupported, "number constraints are not compiled yet");
}

}  // namespace tollgate::grammar
