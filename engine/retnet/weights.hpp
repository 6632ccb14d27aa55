// Decoder weights shared by the RetNet and the softmax-attention KV baseline: the tensors of the
// tollgate-retnet-v1 format (see include/tollgate/retnet.hpp), fused for the kernels (q|k|v|g as
// one [4d, d] matrix, w1|w3 as one [2·d_ffn, d] matrix), plus the rotation table.
// Takes a SafeTensors file or a config + seed; gives validated, contiguous float arrays.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/retnet/safetensors.hpp"
#include "tollgate/retnet.hpp"

namespace tollgate::engine {

struct LayerWeights {
  std::vector<float> norm1;  // [d]
  std::vector<float> qkvg;   // [4d, d]: rows [0,d) q, [d,2d) k, [2d,3d) v, [3d,4d) g
  std::vector<float> o;      // [d, d]
  std::vector<float> gn;     // [d]
  std::vector<float> norm2;  // [d]
  std::vector<float> w13;    // [2f, d]: rows [0,f) w1, [f,2f) w3
  std::vector<float> w2;     // [d, f]
};

struct DecoderWeights {
  RetNetConfig config;
  std::vector<float> embed;  // [V, d]
  std::vector<float> norm;   // [d]
  std::vector<float> head;   // [V, d]; empty when tied
  std::vector<LayerWeights> layers;

  const float* head_ptr() const { return config.tie_embeddings ? embed.data() : head.data(); }
  size_t parameter_count() const;

  static DecoderWeights random(const RetNetConfig& config, uint64_t seed);
  static DecoderWeights from_safetensors(const SafeTensors& st);
  std::map<std::string, std::string> metadata() const;
  std::map<std::string, TensorBlob> tensors() const;
};

RetNetConfig config_from_metadata(const SafeTensors& st);

// The part of a block after the token mixer, for one token (shared by the RetNet and the KV
// baseline, so that only the mixer differs): o ⊙= silu(g); x += Wo·o; x += FFN(RMSNorm(x; norm2)).
// nrm [d], tmp [d] and hid [2f] are scratch; o is overwritten.
void block_tail_step(const LayerWeights& lw, float eps, size_t d, size_t f, const float* g, float* o, float* x,
                     float* nrm, float* tmp, float* hid);

// cos/sin of n·θ_i for the interleaved-pair rotation, θ_i = 10000^(-i/(dk/2)). Positions below
// kCached come from a table; later ones are computed the same way (double angle), so both agree.
class Rotary {
 public:
  static constexpr int64_t kCached = 4096;
  explicit Rotary(int head_dim);
  // Rotates every head of a row of `d` floats (head_dim-sized slices) to position `pos`.
  void apply(float* row, int d, int64_t pos) const;
  // cos/sin rows for `pos`: pointers into the table, or into buf (2 × head_dim/2 floats) beyond it.
  void angles(int64_t pos, float* buf, const float** c, const float** s) const;
  // Rotates every head of `row` with angles from angles().
  void rotate(float* row, int d, const float* c, const float* s) const;
  int half() const { return half_; }

 private:
  int half_;
  std::vector<double> theta_;
  std::vector<float> cos_, sin_;  // [kCached][half]
};

}  // namespace tollgate::engine
