// Safetensors reader and writer. Takes the bytes of a .safetensors file (8-byte little-endian
// header length, JSON header, raw tensor data); gives the metadata strings and typed, shape-checked
// copies of F32 / I32 tensors. Every malformed file gives tollgate::Error(kModel) naming the file
// and the problem (truncated file, header too long, bad JSON, bad offsets, missing tensor, wrong
// dtype or shape); a missing or unreadable file gives kIo.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tollgate::engine {

struct TensorInfo {
  std::string dtype;            // "F32", "I32", ... as written in the header
  std::vector<int64_t> shape;
  size_t begin = 0, end = 0;    // byte range inside the data section
};

class SafeTensors {
 public:
  static SafeTensors load(const std::string& path);
  // `name` is used in error messages.
  static SafeTensors parse(std::string bytes, std::string name = "<memory>");

  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Metadata value, or Error(kModel) "missing metadata key".
  const std::string& meta(const std::string& key) const;
  bool has(const std::string& tensor) const { return tensors_.count(tensor) != 0; }
  const TensorInfo& info(const std::string& tensor) const;
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }

  // Copies of a tensor's data. Error(kModel) when missing, of another dtype, or when
  // `expected_shape` is non-empty and differs.
  std::vector<float> f32(const std::string& tensor, const std::vector<int64_t>& expected_shape = {}) const;
  std::vector<int32_t> i32(const std::string& tensor, const std::vector<int64_t>& expected_shape = {}) const;

 private:
  const TensorInfo& checked(const std::string& tensor, const char* dtype,
                            const std::vector<int64_t>& expected_shape) const;
  std::string name_;
  std::string bytes_;
  size_t data_start_ = 0;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, TensorInfo> tensors_;
};

// A tensor to write: dtype "F32" or "I32", data as raw little-endian bytes.
struct TensorBlob {
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};
TensorBlob make_f32(std::vector<int64_t> shape, const std::vector<float>& data);
TensorBlob make_i32(std::vector<int64_t> shape, const std::vector<int32_t>& data);

// The bytes of a safetensors file (tensors in name order). Throws kInvalidArgument when a
// blob's byte size does not match its shape.
std::string serialize_safetensors(const std::map<std::string, std::string>& metadata,
                                  const std::map<std::string, TensorBlob>& tensors);
void save_safetensors(const std::string& path, const std::map<std::string, std::string>& metadata,
                      const std::map<std::string, TensorBlob>& tensors);

}  // namespace tollgate::engine
