// Pieces of the pybind11 module tollgate._core, one function per source file.
#pragma once

#include <pybind11/pybind11.h>

#include <optional>
#include <string>

#include "tollgate/compiler.hpp"

namespace tollgate::python {

// RetNet, RetNetState, Encoder, generate (retnet.cpp).
void bind_retnet(pybind11::module_& m);
// Compiler.compile_tool_calls (tool_calls.cpp).
void bind_tool_calls(pybind11::module_& m);

// A schema argument (JSON text, or a dict/bool through json.dumps) and the JSON Schema keyword
// arguments of compile_json_schema, checked (module.cpp).
std::string schema_text(const pybind11::object& schema);
JsonSchemaOptions schema_options(const std::string& whitespace, int max_whitespace,
                                 const std::optional<std::string>& item_separator,
                                 const std::optional<std::string>& key_separator, const std::string& property_order,
                                 bool lenient);

}  // namespace tollgate::python
