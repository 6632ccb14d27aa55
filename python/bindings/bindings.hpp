// Pieces of the pybind11 module tollgate._core, one function per source file.
#pragma once

#include <pybind11/pybind11.h>

namespace tollgate::python {

// RetNet, RetNetState, Encoder, generate (retnet.cpp).
void bind_retnet(pybind11::module_& m);

}  // namespace tollgate::python
