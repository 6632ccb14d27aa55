// KvDecoder: softmax attention with a KV cache over the RetNet's shapes and kernels (see kv_baseline.hpp).
#include "engine/retnet/kv_baseline.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "engine/retnet/kernels.hpp"
#include "engine/retnet/thread_pool.hpp"
#include "tollgate/error.hpp"

namespace tollgate::engine {

size_t KvState::memory_bytes() const {
  size_t n = 0;
  for (const auto& x : k) n += x.size();
  for (const auto& x : v) n += x.size();
  return n * sizeof(float);
}

KvDecoder::KvDecoder(const RetNetConfig& config, uint64_t seed)
    : w_(DecoderWeights::random(config, seed)), rotary_(config.head_dim()) {
  d_ = config.d_model;
  H_ = config.n_heads;
  dk_ = config.head_dim();
  f_ = config.d_ffn;
  V_ = config.vocab_size;
  L_ = config.n_layers;
  k_scale_ = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dk_)));
}

KvState KvDecoder::new_state() const {
  KvState s;
  s.k.resize(static_cast<size_t>(L_) * H_);
  s.v.resize(static_cast<size_t>(L_) * H_);
  return s;
}

void KvDecoder::fill_cache(KvState& state, int64_t positions, uint64_t seed) const {
  state = new_state();
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (size_t i = 0; i < state.k.size(); ++i) {
    state.k[i].resize(static_cast<size_t>(positions) * dk_);
    state.v[i].resize(static_cast<size_t>(positions) * dk_);
    for (auto& x : state.k[i]) x = normal(rng) * k_scale_;
    for (auto& x : state.v[i]) x = normal(rng);
  }
  state.position = positions;
}

// o = softmax(keys · q) · values over n cached positions (keys already carry d_k^(-1/2)).
void KvDecoder::attend(const float* q, const float* keys, const float* values, size_t n, float* scores,
                       float* o) const {
  const size_t dk = dk_;
  matvec_serial(keys, n, dk, dk, q, scores);
  float mx = -INFINITY;
  for (size_t m = 0; m < n; ++m) mx = std::max(mx, scores[m]);
  float sum = 0;
  for (size_t m = 0; m < n; ++m) {
    scores[m] = std::exp(scores[m] - mx);
    sum += scores[m];
  }
  const float inv = 1.0f / sum;
  std::fill(o, o + dk, 0.0f);
  size_t m = 0;
  for (; m + 4 <= n; m += 4) {
    const float p0 = scores[m], p1 = scores[m + 1], p2 = scores[m + 2], p3 = scores[m + 3];
    const float* v0 = values + m * dk;
    for (size_t b = 0; b < dk; ++b)
      o[b] += p0 * v0[b] + p1 * v0[dk + b] + p2 * v0[2 * dk + b] + p3 * v0[3 * dk + b];
  }
  for (; m < n; ++m) axpy(scores[m], values + m * dk, o, dk);
  for (size_t b = 0; b < dk; ++b) o[b] *= inv;
}

void KvDecoder::step(KvState& state, int32_t id, float* logits) const {
  if (id < 0 || id >= V_) throw Error(ErrorKind::kInvalidArgument, "token id out of range");
  if (state.k.size() != static_cast<size_t>(L_) * H_) state = new_state();
  const size_t d = d_, dk = dk_, f = f_;
  const float eps = w_.config.norm_eps;
  const int64_t pos = state.position;
  const size_t n = static_cast<size_t>(pos) + 1;
  std::vector<float> buf(8 * d + 2 * f);
  float* x = buf.data();
  float* nrm = x + d;
  float* qkvg = nrm + d;
  float* o = qkvg + 4 * d;
  float* tmp = o + d;
  float* hid = tmp + d;
  state.scores.resize(static_cast<size_t>(H_) * n);
  std::memcpy(x, &w_.embed[static_cast<size_t>(id) * d], d * sizeof(float));
  std::vector<float> angle_buf(2 * rotary_.half());
  const float* cos_n;
  const float* sin_n;
  rotary_.angles(pos, angle_buf.data(), &cos_n, &sin_n);
  for (int l = 0; l < L_; ++l) {
    const auto& lw = w_.layers[l];
    rmsnorm(x, lw.norm1.data(), eps, d, nrm);
    matvec(lw.qkvg.data(), 4 * d, d, d, nrm, qkvg);
    float* q = qkvg;
    float* k = qkvg + d;
    const float* v = qkvg + 2 * d;
    const float* g = qkvg + 3 * d;
    for (size_t i = 0; i < d; ++i) k[i] *= k_scale_;
    rotary_.rotate(q, d_, cos_n, sin_n);
    rotary_.rotate(k, d_, cos_n, sin_n);
    for (int h = 0; h < H_; ++h) {
      auto& K = state.k[l * H_ + h];
      auto& Vc = state.v[l * H_ + h];
      K.insert(K.end(), k + h * dk, k + (h + 1) * dk);
      Vc.insert(Vc.end(), v + h * dk, v + (h + 1) * dk);
    }
    auto heads = [&](size_t h0, size_t h1) {
      for (size_t h = h0; h < h1; ++h)
        attend(q + h * dk, state.k[l * H_ + h].data(), state.v[l * H_ + h].data(), n,
               state.scores.data() + h * n, o + h * dk);
    };
    if (n * dk >= 16384) kernel_pool().parallel_for(H_, 1, heads);
    else heads(0, H_);
    block_tail_step(lw, eps, d, f, g, o, x, nrm, tmp, hid);
  }
  rmsnorm(x, w_.norm.data(), eps, d, nrm);
  matvec(w_.head_ptr(), V_, d, d, nrm, logits);
  state.position = pos + 1;
}

std::vector<float> KvDecoder::forward_parallel(std::span<const int32_t> ids) const {
  for (int32_t id : ids)
    if (id < 0 || id >= V_) throw Error(ErrorKind::kInvalidArgument, "token id out of range");
  const size_t T = ids.size(), d = d_, dk = dk_, f = f_;
  const float eps = w_.config.norm_eps;
  std::vector<float> X(T * d), N(T * d), QKVG(T * 4 * d), O(T * d), Hd(T * 2 * f);
  std::vector<float> kh(T * dk), vh(T * dk), qh(dk), scores(T);
  for (size_t t = 0; t < T; ++t) std::memcpy(&X[t * d], &w_.embed[ids[t] * d], d * sizeof(float));
  for (int l = 0; l < L_; ++l) {
    const auto& lw = w_.layers[l];
    for (size_t t = 0; t < T; ++t) rmsnorm(&X[t * d], lw.norm1.data(), eps, d, &N[t * d]);
    matmul_nt(N.data(), T, d, lw.qkvg.data(), 4 * d, d, d, QKVG.data(), 4 * d);
    for (size_t t = 0; t < T; ++t) {
      float* row = &QKVG[t * 4 * d];
      for (size_t i = 0; i < d; ++i) row[d + i] *= k_scale_;
      rotary_.apply(row, d_, static_cast<int64_t>(t));
      rotary_.apply(row + d, d_, static_cast<int64_t>(t));
    }
    for (int h = 0; h < H_; ++h) {
      for (size_t t = 0; t < T; ++t) {
        std::memcpy(&kh[t * dk], &QKVG[t * 4 * d + d + h * dk], dk * sizeof(float));
        std::memcpy(&vh[t * dk], &QKVG[t * 4 * d + 2 * d + h * dk], dk * sizeof(float));
      }
      for (size_t t = 0; t < T; ++t) attend(&QKVG[t * 4 * d + h * dk], kh.data(), vh.data(), t + 1, scores.data(), &O[t * d + h * dk]);
    }
    for (size_t t = 0; t < T; ++t)
      for (size_t i = 0; i < d; ++i) O[t * d + i] *= silu(QKVG[t * 4 * d + 3 * d + i]);
    matmul_nt(O.data(), T, d, lw.o.data(), d, d, d, X.data(), d, true);
    for (size_t t = 0; t < T; ++t) rmsnorm(&X[t * d], lw.norm2.data(), eps, d, &N[t * d]);
    matmul_nt(N.data(), T, d, lw.w13.data(), 2 * f, d, d, Hd.data(), 2 * f);
    for (size_t t = 0; t < T; ++t)
      for (size_t i = 0; i < f; ++i) Hd[t * 2 * f + i] = silu(Hd[t * 2 * f + i]) * Hd[t * 2 * f + f + i];
    matmul_nt(Hd.data(), T, 2 * f, lw.w2.data(), d, f, f, X.data(), d, true);
  }
  for (size_t t = 0; t < T; ++t) rmsnorm(&X[t * d], w_.norm.data(), eps, d, &X[t * d]);
  std::vector<float> logits(T * V_);
  matmul_nt(X.data(), T, d, w_.head_ptr(), V_, d, d, logits.data(), V_);
  return logits;
}

}  // namespace tollgate::engine
