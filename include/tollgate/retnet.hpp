// RetNet — the small Retentive Network that ships with tollgate as its reference generator.
// Takes a tollgate-retnet-v1 safetensors file (docs/retnet.md, /models/retnet) or a config and a
// seed (random weights); gives logits in three equivalent forms:
//   forward_parallel  — the whole sequence at once (O(T²) retention, for checking),
//   step              — recurrent, O(1) time and memory per token, state = dk×dv per head per layer,
//   prefill_chunkwise — chunks of B tokens, continuing from any state (prompt prefill, jump-forward).
// A RetNet is immutable after construction and may be shared between threads; every mutable bit of a
// sequence lives in its RetNetState, a plain copyable value (snapshot / rollback / branching = copy).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace tollgate {

struct RetNetConfig {
  int32_t vocab_size = 4096;
  int32_t d_model = 256;
  int32_t n_layers = 4;
  int32_t n_heads = 4;
  int32_t d_ffn = 688;
  float norm_eps = 1e-6f;
  bool tie_embeddings = true;
  int32_t bos_id = 0;
  int32_t eos_id = 0;

  int32_t head_dim() const { return n_heads > 0 ? d_model / n_heads : 0; }
  // Throws Error(kModel) when a size is out of range or d_model / n_heads is not an even integer.
  void validate() const;
};

class RetNet;

// The recurrent state of one sequence: per layer, per head a dk×dv matrix S, plus the position
// (number of tokens consumed). Copy it to snapshot, assign it back to roll back.
class RetNetState {
 public:
  RetNetState() = default;
  int64_t position() const { return position_; }
  // Bytes held by this state (independent of the position).
  size_t memory_bytes() const { return s_.size() * sizeof(float) + sizeof(*this); }
  RetNetState snapshot() const { return *this; }
  void restore(const RetNetState& other) { *this = other; }
  void reset();  // back to position 0, S = 0
  const std::vector<float>& data() const { return s_; }

 private:
  friend class RetNet;
  int64_t position_ = 0;
  std::vector<float> s_;  // [layer][head][dk][dv]
};

class RetNet {
 public:
  // `path`: a .safetensors file, or a directory holding model.safetensors. Throws Error(kIo) for a
  // missing file and Error(kModel) for a malformed one.
  static std::shared_ptr<const RetNet> load(const std::string& path);
  // Random weights (deterministic for a seed), for tests and benchmarks.
  RetNet(const RetNetConfig& config, uint64_t seed);
  ~RetNet();
  RetNet(RetNet&&) noexcept;
  RetNet& operator=(RetNet&&) noexcept;

  const RetNetConfig& config() const;
  size_t parameter_count() const;
  // Writes the weights as a tollgate-retnet-v1 safetensors file.
  void save(const std::string& path) const;

  RetNetState new_state() const;

  // Logits for every position, [T, V] row-major. Optional: bytes of the buffers this call allocated.
  std::vector<float> forward_parallel(std::span<const int32_t> ids, size_t* workspace_bytes = nullptr) const;

  // Consumes one token, returns the logits for the next one (V floats).
  std::vector<float> step(RetNetState& state, int32_t id) const;
  void step(RetNetState& state, int32_t id, float* logits, size_t* workspace_bytes = nullptr) const;

  // Consumes `ids` in chunks of `chunk` tokens starting from `state`; returns the logits after the
  // last token (V floats; empty when ids is empty).
  std::vector<float> prefill_chunkwise(RetNetState& state, std::span<const int32_t> ids, int chunk = 64,
                                       size_t* workspace_bytes = nullptr) const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit RetNet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

using RetNetPtr = std::shared_ptr<const RetNet>;

}  // namespace tollgate
