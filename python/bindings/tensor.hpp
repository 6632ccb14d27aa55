// Borrowed, copy-free views of array-like Python objects — takes a numpy array (or any buffer-protocol
// object), a torch CPU tensor, or any object with __dlpack__; gives its data pointer, element type, shape
// and strides (in elements). The view holds the export (buffer or DLPack capsule) until it is destroyed,
// so the data stays alive while the GIL is released.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

struct DLManagedTensor;

namespace tollgate::python {

enum class DType { kFloat32, kFloat16, kBFloat16, kInt32, kOther };

class TensorView {
 public:
  static constexpr int kMaxDims = 8;
  // `what` names the argument in error messages ("logits", "bitmask"). writable: the caller will write
  // through data (a read-only array is a ValueError). Raises ValueError for objects that are not arrays, are
  // not on the CPU or have more than kMaxDims dimensions.
  TensorView(pybind11::handle obj, const char* what, bool writable);
  ~TensorView();
  TensorView(const TensorView&) = delete;
  TensorView& operator=(const TensorView&) = delete;

  void* data = nullptr;
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};  // in elements
  DType dtype = DType::kOther;
  std::string dtype_name;  // for messages: "float32", "int64", ...

  // "(2, 4008)", for messages.
  std::string shape_string() const;

 private:
  void from_buffer(pybind11::handle obj, const char* what, bool writable);
  bool from_torch(pybind11::handle obj, const char* what);
  void from_dlpack(pybind11::handle obj, const char* what);

  Py_buffer buffer_{};
  bool has_buffer_ = false;
  DLManagedTensor* dlpack_ = nullptr;
};

}  // namespace tollgate::python
