// JSON Schema → Grammar IR (see json_schema.hpp). Placeholder until the front-end lands.
#include "grammar/json_schema.hpp"

namespace tollgate::grammar {

Grammar json_schema_to_grammar(std::string_view, const JsonSchemaOptions&, std::string_view) {
  throw Error(ErrorKind::kUnsupported, "JSON Schema is not compiled yet");
}

}  // namespace tollgate::grammar
