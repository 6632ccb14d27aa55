// Pieces of the pybind11 module tollgate._core, one function per source file.
#pragma once

#include <pybind11/pybind11.h>

#include <optional>
#include <string>

#include "tollgate/compiler.hpp"

namespace tollgate::python {

// RetNet, RetNetState, Encoder, generate (retnet.cpp).
void bind_retnet(pybind11::module_& m);

// CompiledGrammar.serialize/deserialize, Compiler.compile_async and the cache options (serving.cpp).
void bind_serving(pybind11::module_& m);

// compile_json_schema's arguments (module.cpp): the schema as JSON text (str, bytes, or a dict
// through json.dumps) and the options from keywords.
std::string schema_text(const pybind11::object& schema);
JsonSchemaOptions schema_options(const std::string& whitespace, int max_whitespace,
                                 const std::optional<std::string>& item_separator,
                                 const std::optional<std::string>& key_separator, const std::string& property_order,
                                 bool lenient);

}  // namespace tollgate::python
