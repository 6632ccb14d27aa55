// Pieces of the pybind11 module tollgate._core, one function per source file.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>

namespace tollgate::python {

// RetNet, RetNetState, Encoder, generate (retnet.cpp).
void bind_retnet(pybind11::module_& m);
// BatchMatcher; Matcher.validate_tokens and draft masks (batch.cpp; after Matcher is bound).
void bind_batch(pybind11::module_& m);

// Checks that `arr` is a C-contiguous int32 bitmask of rows of bitmask_words(vocab_size) words
// (1-D: one row) holding row `row`; gives the words per row. Throws tollgate::Error.
void check_bitmask_row(const pybind11::array& arr, int64_t row, int32_t vocab_size, int64_t* words_out);

}  // namespace tollgate::python
