// KvDecoder — the comparison baseline for the RetNet: a decoder of the same shapes (same config,
// same q/k/v/g/o, FFN and norms, same rotation) whose token mixer is causal softmax attention over
// a growing KV cache instead of retention. Random weights only. Takes token ids; gives logits, and
// a per-sequence KvState whose memory grows linearly with the position.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/retnet/weights.hpp"
#include "tollgate/retnet.hpp"

namespace tollgate::engine {

struct KvState {
  int64_t position = 0;
  std::vector<std::vector<float>> k, v;  // [layer * H + head] → [position][dk]
  std::vector<float> scores;             // scratch, not part of the sequence's data
  // Bytes of keys and values held (what grows with the position).
  size_t memory_bytes() const;
};

class KvDecoder {
 public:
  KvDecoder(const RetNetConfig& config, uint64_t seed);
  const RetNetConfig& config() const { return w_.config; }

  KvState new_state() const;
  // Consumes one token; writes V logits.
  void step(KvState& state, int32_t id, float* logits) const;
  // Puts `positions` random keys/values in an empty cache, as if that many tokens had been seen
  // (for decode benchmarks at long positions without the quadratic prefill).
  void fill_cache(KvState& state, int64_t positions, uint64_t seed) const;
  // Logits for every position [T, V], attention computed directly over the whole sequence.
  std::vector<float> forward_parallel(std::span<const int32_t> ids) const;

 private:
  void attend(const float* q, const float* keys, const float* values, size_t n, float* scores, float* o) const;
  DecoderWeights w_;
  Rotary rotary_;
  int d_, dk_, H_, f_, V_, L_;
  float k_scale_;
};

}  // namespace tollgate::engine
