// TensorView (tensor.hpp): numpy arrays through the buffer protocol, torch CPU tensors through their
// data_ptr/shape/stride (about 1 µs, where torch's __dlpack__ costs twice that), anything else with
// __dlpack__ through DLPack (libdlpack-dev's dlpack.h). Nothing is copied.
#include "tensor.hpp"

#include <dlpack/dlpack.h>

#include <string>

#include "tollgate/error.hpp"

namespace py = pybind11;

namespace tollgate::python {

namespace {

[[noreturn]] void fail(const std::string& message) { throw Error(ErrorKind::kInvalidArgument, message); }

// torch's Tensor type and the dtypes we read, looked up once torch has been imported by the user (the
// module never imports torch itself).
struct Torch {
  py::object tensor_type, float32, float16, bfloat16, int32;
};

const Torch* torch_types() {
  static Torch* cached = nullptr;
  if (cached) return cached;
  PyObject* mod = PyImport_GetModule(py::str("torch").ptr());  // new reference or null, never imports
  if (!mod) {
    PyErr_Clear();
    return nullptr;
  }
  py::object torch = py::reinterpret_steal<py::object>(mod);
  if (!py::hasattr(torch, "Tensor") || !py::hasattr(torch, "bfloat16")) return nullptr;  // partly imported
  cached = new Torch{torch.attr("Tensor"), torch.attr("float32"), torch.attr("float16"), torch.attr("bfloat16"),
                     torch.attr("int32")};
  return cached;
}

int64_t as_int64(PyObject* o) {
  const long long v = PyLong_AsLongLong(o);
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  return v;
}

}  // namespace

TensorView::TensorView(py::handle obj, const char* what, bool writable) {
  if (PyObject_CheckBuffer(obj.ptr())) {
    from_buffer(obj, what, writable);
  } else if (from_torch(obj, what)) {
  } else if (py::hasattr(obj, "__dlpack__")) {
    from_dlpack(obj, what);
  } else {
    fail(std::string(what) + " must be a numpy array or a torch tensor, not " +
         std::string(py::str(obj.get_type().attr("__name__"))));
  }
}

TensorView::~TensorView() {
  if (has_buffer_) PyBuffer_Release(&buffer_);
  if (dlpack_ && dlpack_->deleter) dlpack_->deleter(dlpack_);
}

std::string TensorView::shape_string() const {
  std::string s = "(";
  for (int i = 0; i < ndim; ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (ndim == 1 ? ",)" : ")");
}

void TensorView::from_buffer(py::handle obj, const char* what, bool writable) {
  if (PyObject_GetBuffer(obj.ptr(), &buffer_, writable ? PyBUF_RECORDS : PyBUF_RECORDS_RO) != 0) {
    PyErr_Clear();
    if (writable && PyObject_GetBuffer(obj.ptr(), &buffer_, PyBUF_RECORDS_RO) == 0) {
      PyBuffer_Release(&buffer_);
      fail(std::string(what) + " is read-only; it is modified in place");
    }
    fail(std::string(what) + " does not export its memory (buffer protocol)");
  }
  has_buffer_ = true;
  if (buffer_.ndim > kMaxDims) fail(std::string(what) + " has too many dimensions");
  ndim = buffer_.ndim;
  data = buffer_.buf;
  std::string fmt = buffer_.format ? buffer_.format : "B";
  const bool native = fmt.empty() || (fmt[0] != '>' && fmt[0] != '!');
  if (!fmt.empty() && (fmt[0] == '@' || fmt[0] == '=' || fmt[0] == '<' || fmt[0] == '>' || fmt[0] == '!'))
    fmt.erase(0, 1);
  const Py_ssize_t item = buffer_.itemsize;
  if (native && fmt == "f" && item == 4) dtype = DType::kFloat32, dtype_name = "float32";
  else if (native && fmt == "e" && item == 2) dtype = DType::kFloat16, dtype_name = "float16";
  else if (native && (fmt == "i" || fmt == "l") && item == 4) dtype = DType::kInt32, dtype_name = "int32";
  else {
    dtype = DType::kOther;
    dtype_name = fmt == "d" ? "float64" : (fmt == "q" || fmt == "l") && item == 8 ? "int64" : "'" + fmt + "' (" +
                 std::to_string(item) + " bytes)";
    if (PyObject_HasAttrString(obj.ptr(), "dtype")) dtype_name = py::str(obj.attr("dtype"));
  }
  for (int i = 0; i < ndim; ++i) {
    shape[i] = buffer_.shape[i];
    if (buffer_.strides[i] % item != 0) fail(std::string(what) + " has strides that are not whole elements");
    strides[i] = buffer_.strides[i] / item;
  }
}

bool TensorView::from_torch(py::handle obj, const char* what) {
  const Torch* torch = torch_types();
  if (!torch || !PyObject_IsInstance(obj.ptr(), torch->tensor_type.ptr())) return false;
  static const py::str kIsCpu("is_cpu"), kDtype("dtype"), kShape("shape"), kStride("stride"), kDataPtr("data_ptr");
  if (!obj.attr(kIsCpu).cast<bool>()) {
    fail(std::string(what) + " must be on the CPU (got a tensor on " + std::string(py::str(obj.attr("device"))) +
         "); move it with .cpu()");
  }
  py::object dt = obj.attr(kDtype);
  if (dt.is(torch->float32)) dtype = DType::kFloat32, dtype_name = "float32";
  else if (dt.is(torch->float16)) dtype = DType::kFloat16, dtype_name = "float16";
  else if (dt.is(torch->bfloat16)) dtype = DType::kBFloat16, dtype_name = "bfloat16";
  else if (dt.is(torch->int32)) dtype = DType::kInt32, dtype_name = "int32";
  else dtype = DType::kOther, dtype_name = py::str(dt);
  py::object shp = obj.attr(kShape);
  py::object str = obj.attr(kStride)();
  const Py_ssize_t n = PyTuple_Size(shp.ptr());
  if (n < 0 || n != PyTuple_Size(str.ptr())) throw py::error_already_set();
  if (n > kMaxDims) fail(std::string(what) + " has too many dimensions");
  ndim = static_cast<int>(n);
  for (int i = 0; i < ndim; ++i) {
    shape[i] = as_int64(PyTuple_GET_ITEM(shp.ptr(), i));
    strides[i] = as_int64(PyTuple_GET_ITEM(str.ptr(), i));
  }
  data = reinterpret_cast<void*>(static_cast<uintptr_t>(as_int64(obj.attr(kDataPtr)().ptr())));
  return true;
}

void TensorView::from_dlpack(py::handle obj, const char* what) {
  py::object capsule = obj.attr("__dlpack__")();
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
  if (!managed) throw py::error_already_set();
  // The consumer owns it now: rename the capsule so that it does not free the tensor, free it ourselves.
  PyCapsule_SetName(capsule.ptr(), "used_dltensor");
  dlpack_ = managed;
  const DLTensor& t = managed->dl_tensor;
  if (t.device.device_type != kDLCPU && t.device.device_type != kDLCUDAHost) {
    fail(std::string(what) + " must be on the CPU (DLPack device type " + std::to_string(t.device.device_type) + ")");
  }
  if (t.ndim > kMaxDims) fail(std::string(what) + " has too many dimensions");
  ndim = t.ndim;
  const int bits = t.dtype.bits;
  if (t.dtype.lanes == 1 && t.dtype.code == kDLFloat && bits == 32) dtype = DType::kFloat32, dtype_name = "float32";
  else if (t.dtype.lanes == 1 && t.dtype.code == kDLFloat && bits == 16) dtype = DType::kFloat16, dtype_name = "float16";
  else if (t.dtype.lanes == 1 && t.dtype.code == kDLBfloat && bits == 16) dtype = DType::kBFloat16, dtype_name = "bfloat16";
  else if (t.dtype.lanes == 1 && t.dtype.code == kDLInt && bits == 32) dtype = DType::kInt32, dtype_name = "int32";
  else {
    dtype = DType::kOther;
    dtype_name = std::string(t.dtype.code == kDLFloat ? "float" : t.dtype.code == kDLInt ? "int" : "type") +
                 std::to_string(bits);
  }
  int64_t compact = 1;
  for (int i = ndim - 1; i >= 0; --i) {
    shape[i] = t.shape[i];
    strides[i] = t.strides ? t.strides[i] : compact;
    compact *= t.shape[i];
  }
  data = static_cast<char*>(t.data) + t.byte_offset;
}

}  // namespace tollgate::python
