// Sampler — picks the next token from a row of logits. Greedy (temperature 0), or temperature
// sampling restricted by top-k and top-p (nucleus), driven by a seeded std::mt19937_64 so a seed
// reproduces a run. Masked tokens (logit -inf, also NaN) are never chosen.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace tollgate {

struct SamplerOptions {
  float temperature = 1.0f;  // <= 0: greedy (argmax, lowest id on ties)
  int top_k = 0;             // 0 = no limit
  float top_p = 1.0f;        // keep the smallest set of most likely tokens whose mass >= top_p
  uint64_t seed = 0;
};

class Sampler {
 public:
  // Throws Error(kInvalidArgument) for a negative top_k, top_p outside (0, 1] or a NaN temperature.
  explicit Sampler(SamplerOptions options = {});

  // Index of the chosen token. Throws Error(kInvalidArgument) when every logit is masked.
  int32_t sample(std::span<const float> logits);

  // The probabilities sample() draws from (after temperature, top-k, top-p); 0 for excluded
  // tokens. For tests and diagnostics.
  std::vector<double> distribution(std::span<const float> logits) const;

  const SamplerOptions& options() const { return options_; }
  void reseed(uint64_t seed) { rng_.seed(seed); }

 private:
  // Candidates (index, probability); sorted by descending probability when top_p < 1.
  void candidates(std::span<const float> logits, std::vector<std::pair<int32_t, double>>& out) const;
  SamplerOptions options_;
  std::mt19937_64 rng_;
  std::vector<std::pair<int32_t, double>> scratch_;
};

// Index of the largest finite logit (lowest index on ties), or -1 when all are masked.
int32_t argmax(std::span<const float> logits);

}  // namespace tollgate
