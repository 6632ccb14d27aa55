// Safetensors reader/writer (see safetensors.hpp). Little-endian hosts only (checked at compile time).
#include "engine/retnet/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tollgate/error.hpp"

static_assert(std::endian::native == std::endian::little, "safetensors reader assumes little-endian");

namespace tollgate::engine {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the format's own limit is 100 MB

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw Error(ErrorKind::kModel, file + ": " + what);
}

size_t dtype_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2") return 1;
  return 0;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

}  // namespace

SafeTensors SafeTensors::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::kIo, "cannot open model file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(ErrorKind::kIo, "cannot read model file " + path);
  return parse(std::move(ss).str(), path);
}

SafeTensors SafeTensors::parse(std::string bytes, std::string name) {
  SafeTensors st;
  st.name_ = std::move(name);
  st.bytes_ = std::move(bytes);
  const std::string& b = st.bytes_;
  if (b.size() < 8)
    fail(st.name_, "truncated file: " + std::to_string(b.size()) + " bytes, need at least 8 for the header length");
  uint64_t header_len = 0;
  std::memcpy(&header_len, b.data(), 8);
  if (header_len > kMaxHeaderBytes)
    fail(st.name_, "header length too large: " + std::to_string(header_len) + " bytes (limit 100 MB)");
  if (header_len > b.size() - 8)
    fail(st.name_, "header length too large: header says " + std::to_string(header_len) +
                       " bytes but only " + std::to_string(b.size() - 8) + " follow (truncated file?)");
  st.data_start_ = 8 + header_len;
  const size_t data_size = b.size() - st.data_start_;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(b.begin() + 8, b.begin() + static_cast<std::ptrdiff_t>(st.data_start_));
  } catch (const nlohmann::json::exception& e) {
    fail(st.name_, std::string("bad JSON header: ") + e.what());
  }
  if (!header.is_object()) fail(st.name_, "bad JSON header: not an object");

  std::vector<std::pair<size_t, size_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& key = it.key();
    const auto& v = it.value();
    if (key == "__metadata__") {
      if (!v.is_object()) fail(st.name_, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail(st.name_, "__metadata__ value of '" + m.key() + "' is not a string");
        st.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + key + "': ";
    if (!v.is_object()) fail(st.name_, where + "entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) fail(st.name_, where + "missing dtype");
    if (!v.contains("shape") || !v["shape"].is_array()) fail(st.name_, where + "missing shape");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      fail(st.name_, where + "data_offsets must be [begin, end]");
    TensorInfo info;
    info.dtype = v["dtype"].get<std::string>();
    size_t elem = dtype_size(info.dtype);
    if (elem == 0) fail(st.name_, where + "unknown dtype " + info.dtype);
    uint64_t count = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
        fail(st.name_, where + "shape entries must be non-negative integers");
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && count > std::numeric_limits<uint64_t>::max() / 8 / dim)
        fail(st.name_, where + "shape too large");
      count *= dim;
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    for (const auto& o : v["data_offsets"])
      if (!o.is_number_unsigned() && !(o.is_number_integer() && o.get<int64_t>() >= 0))
        fail(st.name_, where + "data_offsets must be non-negative integers");
    uint64_t begin = v["data_offsets"][0].get<uint64_t>();
    uint64_t end = v["data_offsets"][1].get<uint64_t>();
    if (begin > end) fail(st.name_, where + "data_offsets begin > end");
    if (end > data_size)
      fail(st.name_, where + "data ends at byte " + std::to_string(end) + " but the data section has only " +
                         std::to_string(data_size) + " bytes (truncated file?)");
    if (end - begin != count * elem)
      fail(st.name_, where + "byte size " + std::to_string(end - begin) + " does not match shape " +
                         shape_text(info.shape) + " of " + info.dtype);
    info.begin = begin;
    info.end = end;
    if (end > begin) ranges.emplace_back(begin, end);
    st.tensors_.emplace(key, std::move(info));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) fail(st.name_, "tensor data ranges overlap");
  return st;
}

const std::string& SafeTensors::meta(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) fail(name_, "missing metadata key '" + key + "'");
  return it->second;
}

const TensorInfo& SafeTensors::info(const std::string& tensor) const {
  auto it = tensors_.find(tensor);
  if (it == tensors_.end()) fail(name_, "missing tensor '" + tensor + "'");
  return it->second;
}

const TensorInfo& SafeTensors::checked(const std::string& tensor, const char* dtype,
                                       const std::vector<int64_t>& expected_shape) const {
  const TensorInfo& ti = info(tensor);
  if (ti.dtype != dtype) fail(name_, "tensor '" + tensor + "' has dtype " + ti.dtype + ", expected " + dtype);
  if (!expected_shape.empty() && ti.shape != expected_shape)
    fail(name_, "tensor '" + tensor + "' has shape " + shape_text(ti.shape) + ", expected " +
                    shape_text(expected_shape));
  return ti;
}

std::vector<float> SafeTensors::f32(const std::string& tensor, const std::vector<int64_t>& expected_shape) const {
  const TensorInfo& ti = checked(tensor, "F32", expected_shape);
  std::vector<float> out((ti.end - ti.begin) / 4);
  if (!out.empty()) std::memcpy(out.data(), bytes_.data() + data_start_ + ti.begin, ti.end - ti.begin);
  return out;
}

std::vector<int32_t> SafeTensors::i32(const std::string& tensor, const std::vector<int64_t>& expected_shape) const {
  const TensorInfo& ti = checked(tensor, "I32", expected_shape);
  std::vector<int32_t> out((ti.end - ti.begin) / 4);
  if (!out.empty()) std::memcpy(out.data(), bytes_.data() + data_start_ + ti.begin, ti.end - ti.begin);
  return out;
}

TensorBlob make_f32(std::vector<int64_t> shape, const std::vector<float>& data) {
  TensorBlob b{"F32", std::move(shape), std::string(data.size() * 4, '\0')};
  if (!data.empty()) std::memcpy(b.bytes.data(), data.data(), b.bytes.size());
  return b;
}

TensorBlob make_i32(std::vector<int64_t> shape, const std::vector<int32_t>& data) {
  TensorBlob b{"I32", std::move(shape), std::string(data.size() * 4, '\0')};
  if (!data.empty()) std::memcpy(b.bytes.data(), data.data(), b.bytes.size());
  return b;
}

std::string serialize_safetensors(const std::map<std::string, std::string>& metadata,
                                  const std::map<std::string, TensorBlob>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (const auto& [name, blob] : tensors) {
    uint64_t count = 1;
    for (int64_t d : blob.shape) count *= static_cast<uint64_t>(d);
    if (count * dtype_size(blob.dtype) != blob.bytes.size())
      throw Error(ErrorKind::kInvalidArgument, "tensor '" + name + "': byte size does not match its shape");
    header[name] = {{"dtype", blob.dtype}, {"shape", blob.shape}, {"data_offsets", {offset, offset + blob.bytes.size()}}};
    offset += blob.bytes.size();
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');  // keep the data 8-byte aligned
  uint64_t len = text.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &len, 8);
  out += text;
  for (const auto& [name, blob] : tensors) out += blob.bytes;
  return out;
}

void save_safetensors(const std::string& path, const std::map<std::string, std::string>& metadata,
                      const std::map<std::string, TensorBlob>& tensors) {
  std::string bytes = serialize_safetensors(metadata, tensors);
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error(ErrorKind::kIo, "cannot write " + path);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw Error(ErrorKind::kIo, "cannot write " + path);
}

}  // namespace tollgate::engine
