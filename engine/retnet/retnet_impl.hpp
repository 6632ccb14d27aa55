// RetNet::Impl — private to engine/retnet: the weights plus the per-head decay constants.
#pragma once

#include <vector>

#include "engine/retnet/weights.hpp"
#include "tollgate/retnet.hpp"

namespace tollgate {

struct RetNet::Impl {
  explicit Impl(engine::DecoderWeights weights);

  engine::DecoderWeights w;
  engine::Rotary rotary;
  int d, dk, H, f, V, L;
  float k_scale;                 // d_k^(-1/2)
  std::vector<double> log_gamma;  // per head, log(1 - 2^(-5-h))
  std::vector<double> gamma;

  size_t state_floats() const { return static_cast<size_t>(L) * H * dk * dk; }
  // 1 / sqrt((1 - γ^(n+1)) / (1 - γ)) for head h at position n.
  float inv_scale(int h, int64_t n) const;
};

}  // namespace tollgate
