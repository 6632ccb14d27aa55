// Sampler: greedy / temperature / top-k / top-p over a logits row with -inf entries (see sampler.hpp).
#include "tollgate/sampler.hpp"

#include <algorithm>
#include <cmath>

#include "tollgate/error.hpp"

namespace tollgate {

int32_t argmax(std::span<const float> logits) {
  int32_t best = -1;
  float best_v = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    float v = logits[i];
    if (!(v > -INFINITY)) continue;  // -inf and NaN
    if (best < 0 || v > best_v) {
      best = static_cast<int32_t>(i);
      best_v = v;
    }
  }
  return best;
}

Sampler::Sampler(SamplerOptions options) : options_(options), rng_(options.seed) {
  if (options.top_k < 0) throw Error(ErrorKind::kInvalidArgument, "top_k must be >= 0");
  if (!(options.top_p > 0.0f && options.top_p <= 1.0f))
    throw Error(ErrorKind::kInvalidArgument, "top_p must be in (0, 1]");
  if (std::isnan(options.temperature)) throw Error(ErrorKind::kInvalidArgument, "temperature is NaN");
}

void Sampler::candidates(std::span<const float> logits, std::vector<std::pair<int32_t, double>>& out) const {
  out.clear();
  float max_v = -INFINITY;
  for (size_t i = 0; i < logits.size(); ++i) {
    float v = logits[i];
    if (!(v > -INFINITY)) continue;
    if (v == INFINITY) {  // +inf: that token (the first such) takes all the mass
      out.assign(1, {static_cast<int32_t>(i), 1.0});
      return;
    }
    out.emplace_back(static_cast<int32_t>(i), static_cast<double>(v));
    max_v = std::max(max_v, v);
  }
  if (out.empty()) throw Error(ErrorKind::kInvalidArgument, "every token is masked: nothing to sample");
  auto by_logit = [](const auto& a, const auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); };
  if (options_.top_k > 0 && static_cast<size_t>(options_.top_k) < out.size()) {
    std::nth_element(out.begin(), out.begin() + options_.top_k - 1, out.end(), by_logit);
    out.resize(options_.top_k);
  }
  // Only top-p needs the candidates in order of probability; plain sampling keeps index order.
  if (options_.top_p < 1.0f) std::sort(out.begin(), out.end(), by_logit);
  const double inv_t = 1.0 / static_cast<double>(options_.temperature);
  double sum = 0;
  for (auto& c : out) {
    c.second = std::exp((c.second - max_v) * inv_t);
    sum += c.second;
  }
  for (auto& c : out) c.second /= sum;
  if (options_.top_p < 1.0f) {
    double cum = 0;
    size_t keep = 0;
    while (keep < out.size()) {
      cum += out[keep].second;
      ++keep;
      if (cum >= static_cast<double>(options_.top_p)) break;
    }
    out.resize(keep);
    for (auto& c : out) c.second /= cum;
  }
}

std::vector<double> Sampler::distribution(std::span<const float> logits) const {
  std::vector<double> p(logits.size(), 0.0);
  if (options_.temperature <= 0.0f) {
    int32_t best = argmax(logits);
    if (best < 0) throw Error(ErrorKind::kInvalidArgument, "every token is masked: nothing to sample");
    p[best] = 1.0;
    return p;
  }
  std::vector<std::pair<int32_t, double>> cands;
  candidates(logits, cands);
  for (const auto& [i, prob] : cands) p[i] = prob;
  return p;
}

int32_t Sampler::sample(std::span<const float> logits) {
  if (options_.temperature <= 0.0f) {
    int32_t best = argmax(logits);
    if (best < 0) throw Error(ErrorKind::kInvalidArgument, "every token is masked: nothing to sample");
    return best;
  }
  candidates(logits, scratch_);
  // 53 random bits → u in [0, 1); the same on every platform for a seed.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  double cum = 0;
  for (const auto& [i, prob] : scratch_) {
    cum += prob;
    if (u < cum) return i;
  }
  return scratch_.back().first;  // rounding: u beyond the summed mass
}

}  // namespace tollgate
