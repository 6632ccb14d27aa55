// RetNet model: the parallel, recurrent and chunkwise forms of multi-scale retention over the
// tollgate-retnet-v1 weights (contract: docs/retnet.md). Takes token ids and a RetNetState; gives
// logits. All three forms share the weights, the rotation table and the decay constants, and use
// exp(k·log γ) for every power of γ, so they agree to float rounding.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "engine/retnet/kernels.hpp"
#include "engine/retnet/retnet_impl.hpp"
#include "engine/retnet/thread_pool.hpp"
#include "tollgate/error.hpp"

namespace tollgate {

using engine::axpy;
using engine::matmul_nt;
using engine::matvec;
using engine::matvec_serial;
using engine::rmsnorm;
using engine::silu;

void RetNetState::reset() {
  position_ = 0;
  std::fill(s_.begin(), s_.end(), 0.0f);
}

RetNet::Impl::Impl(engine::DecoderWeights weights)
    : w(std::move(weights)), rotary(w.config.head_dim()) {
  const RetNetConfig& c = w.config;
  d = c.d_model;
  H = c.n_heads;
  dk = c.head_dim();
  f = c.d_ffn;
  V = c.vocab_size;
  L = c.n_layers;
  k_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dk)));
  for (int h = 0; h < H; ++h) {
    double g = 1.0 - std::pow(2.0, -5.0 - h);
    gamma.push_back(g);
    log_gamma.push_back(std::log(g));
  }
}

float RetNet::Impl::inv_scale(int h, int64_t n) const {
  double gn1 = std::exp(static_cast<double>(n + 1) * log_gamma[h]);
  return static_cast<float>(1.0 / std::sqrt((1.0 - gn1) / (1.0 - gamma[h])));
}

namespace {

using Impl = RetNet::Impl;

// Buffers for a block of B tokens pushed through the layers together.
struct BlockWork {
  size_t B;
  std::vector<float> nrm, qkvg, o, hid, heads, pw;
  BlockWork(const Impl& m, size_t b)
      : B(b),
        nrm(b * m.d),
        qkvg(b * 4 * m.d),
        o(b * m.d),
        hid(b * 2 * m.f),
        heads(static_cast<size_t>(m.H) * (2 * m.dk * b + b)),
        pw(static_cast<size_t>(m.H) * (b + 1)) {}
  size_t bytes() const {
    return (nrm.size() + qkvg.size() + o.size() + hid.size() + heads.size() + pw.size()) * sizeof(float);
  }
};

// γ_h^k for k in [0, B] (row h of w.pw, B+1 floats each).
void fill_decay_powers(const Impl& m, BlockWork& w, size_t B) {
  for (int h = 0; h < m.H; ++h)
    for (size_t k = 0; k <= B; ++k)
      w.pw[h * (B + 1) + k] = static_cast<float>(std::exp(static_cast<double>(k) * m.log_gamma[h]));
}

// Multi-scale retention for one head over a block of B rows at positions pos0..pos0+B-1:
// intra-block with the decay mask, plus (when S != null) the contribution of the state before the
// block, then S ← γ^B S + Σ_j γ^(B-1-j) k_jᵀ v_j. Writes scaled and group-normed o rows.
void retention_head(const Impl& m, const engine::LayerWeights& lw, BlockWork& w, size_t B, int h,
                    int64_t pos0, float* S) {
  const size_t ld = 4 * m.d;
  const size_t dk = m.dk;
  const float* Q = w.qkvg.data() + h * dk;
  const float* K = Q + m.d;
  const float* Vm = Q + 2 * m.d;
  float* scratch = w.heads.data() + h * (2 * dk * B + B);
  float* vt = scratch;           // [dk, B]
  float* kt = vt + dk * B;       // [dk, B]
  float* srow = kt + dk * B;     // [B]
  const float* pw = w.pw.data() + h * (B + 1);
  for (size_t j = 0; j < B; ++j)
    for (size_t b = 0; b < dk; ++b) vt[b * B + j] = Vm[j * ld + b];
  for (size_t j = 0; j < B; ++j) {
    const float* q = Q + j * ld;
    matvec_serial(K, j + 1, dk, ld, q, srow);
    for (size_t mm = 0; mm <= j; ++mm) srow[mm] *= pw[j - mm];
    float* oj = w.o.data() + j * m.d + h * dk;
    matvec_serial(vt, dk, j + 1, B, srow, oj);
    if (S) {
      const float c = pw[j + 1];
      for (size_t a = 0; a < dk; ++a) axpy(c * q[a], S + a * dk, oj, dk);
    }
    const float inv = m.inv_scale(h, pos0 + static_cast<int64_t>(j));
    for (size_t b = 0; b < dk; ++b) oj[b] *= inv;
    rmsnorm(oj, lw.gn.data() + h * dk, m.w.config.norm_eps, dk, oj);
  }
  if (S) {
    for (size_t j = 0; j < B; ++j) {
      const float c = pw[B - 1 - j];
      for (size_t a = 0; a < dk; ++a) kt[a * B + j] = c * K[j * ld + a];
    }
    const float gB = pw[B];
    for (size_t i = 0; i < dk * dk; ++i) S[i] *= gB;
    matmul_nt(kt, dk, B, vt, dk, B, B, S, dk, /*accumulate=*/true);
  }
}

// One layer over a block: X [B, d] is the residual stream, updated in place. S_layer = this
// layer's state (H × dk × dk) or null for the stateless parallel form.
void layer_block(const Impl& m, int l, float* X, BlockWork& w, size_t B, int64_t pos0, float* S_layer) {
  const auto& lw = m.w.layers[l];
  const size_t d = m.d;
  const float eps = m.w.config.norm_eps;
  for (size_t j = 0; j < B; ++j) rmsnorm(X + j * d, lw.norm1.data(), eps, d, w.nrm.data() + j * d);
  matmul_nt(w.nrm.data(), B, d, lw.qkvg.data(), 4 * d, d, d, w.qkvg.data(), 4 * d);
  for (size_t j = 0; j < B; ++j) {
    float* row = w.qkvg.data() + j * 4 * d;
    for (size_t i = 0; i < d; ++i) row[d + i] *= m.k_scale;
    m.rotary.apply(row, m.d, pos0 + static_cast<int64_t>(j));
    m.rotary.apply(row + d, m.d, pos0 + static_cast<int64_t>(j));
  }
  auto heads = [&](size_t h0, size_t h1) {
    for (size_t h = h0; h < h1; ++h)
      retention_head(m, lw, w, B, static_cast<int>(h), pos0,
                     S_layer ? S_layer + h * m.dk * m.dk : nullptr);
  };
  if (B >= 8) engine::kernel_pool().parallel_for(m.H, 1, heads);
  else heads(0, m.H);
  for (size_t j = 0; j < B; ++j) {
    const float* g = w.qkvg.data() + j * 4 * d + 3 * d;
    float* o = w.o.data() + j * d;
    for (size_t i = 0; i < d; ++i) o[i] *= silu(g[i]);
  }
  matmul_nt(w.o.data(), B, d, lw.o.data(), d, d, d, X, d, /*accumulate=*/true);
  // FFN
  for (size_t j = 0; j < B; ++j) rmsnorm(X + j * d, lw.norm2.data(), eps, d, w.nrm.data() + j * d);
  const size_t f = m.f;
  matmul_nt(w.nrm.data(), B, d, lw.w13.data(), 2 * f, d, d, w.hid.data(), 2 * f);
  for (size_t j = 0; j < B; ++j) {
    float* h1 = w.hid.data() + j * 2 * f;
    const float* h3 = h1 + f;
    for (size_t i = 0; i < f; ++i) h1[i] = silu(h1[i]) * h3[i];
  }
  matmul_nt(w.hid.data(), B, 2 * f, lw.w2.data(), d, f, f, X, d, /*accumulate=*/true);
}

void check_ids(const Impl& m, std::span<const int32_t> ids) {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= m.V)
      throw Error(ErrorKind::kInvalidArgument, "token id " + std::to_string(ids[i]) + " at index " +
                                                   std::to_string(i) + " is outside the vocabulary [0, " +
                                                   std::to_string(m.V) + ")");
}

void check_state(const Impl& m, RetNetState& state, std::vector<float>& s, int64_t position) {
  if (s.empty() && position == 0) s.assign(m.state_floats(), 0.0f);
  if (s.size() != m.state_floats())
    throw Error(ErrorKind::kInvalidArgument, "RetNetState does not belong to this model (wrong size)");
}

}  // namespace

RetNet::RetNet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RetNet::RetNet(const RetNetConfig& config, uint64_t seed)
    : impl_(std::make_unique<Impl>(engine::DecoderWeights::random(config, seed))) {}
RetNet::~RetNet() = default;
RetNet::RetNet(RetNet&&) noexcept = default;
RetNet& RetNet::operator=(RetNet&&) noexcept = default;

std::shared_ptr<const RetNet> RetNet::load(const std::string& path) {
  std::string file = path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) file = (std::filesystem::path(path) / "model.safetensors").string();
  if (!std::filesystem::exists(file, ec)) throw Error(ErrorKind::kIo, "model file not found: " + file);
  auto st = engine::SafeTensors::load(file);
  auto w = engine::DecoderWeights::from_safetensors(st);
  return std::shared_ptr<const RetNet>(new RetNet(std::make_unique<Impl>(std::move(w))));
}

const RetNetConfig& RetNet::config() const { return impl_->w.config; }
size_t RetNet::parameter_count() const { return impl_->w.parameter_count(); }

void RetNet::save(const std::string& path) const {
  engine::save_safetensors(path, impl_->w.metadata(), impl_->w.tensors());
}

RetNetState RetNet::new_state() const {
  RetNetState s;
  s.s_.assign(impl_->state_floats(), 0.0f);
  return s;
}

std::vector<float> RetNet::forward_parallel(std::span<const int32_t> ids, size_t* workspace_bytes) const {
  const Impl& m = *impl_;
  check_ids(m, ids);
  const size_t T = ids.size(), d = m.d;
  if (T == 0) {
    if (workspace_bytes) *workspace_bytes = 0;
    return {};
  }
  std::vector<float> X(T * d);
  for (size_t t = 0; t < T; ++t) std::memcpy(&X[t * d], &m.w.embed[ids[t] * d], d * sizeof(float));
  BlockWork w(m, T);
  fill_decay_powers(m, w, T);
  for (int l = 0; l < m.L; ++l) layer_block(m, l, X.data(), w, T, 0, nullptr);
  for (size_t t = 0; t < T; ++t) rmsnorm(&X[t * d], m.w.norm.data(), m.w.config.norm_eps, d, &X[t * d]);
  std::vector<float> logits(T * m.V);
  matmul_nt(X.data(), T, d, m.w.head_ptr(), m.V, d, d, logits.data(), m.V);
  if (workspace_bytes) *workspace_bytes = w.bytes() + (X.size() + logits.size()) * sizeof(float);
  return logits;
}

std::vector<float> RetNet::step(RetNetState& state, int32_t id) const {
  std::vector<float> logits(impl_->V);
  step(state, id, logits.data());
  return logits;
}

void RetNet::step(RetNetState& state, int32_t id, float* logits, size_t* workspace_bytes) const {
  const Impl& m = *impl_;
  check_ids(m, std::span<const int32_t>(&id, 1));
  check_state(m, state, state.s_, state.position_);
  const size_t d = m.d, dk = m.dk, f = m.f;
  const float eps = m.w.config.norm_eps;
  const int64_t n = state.position_;
  // One buffer: x, nrm, qkvg (4d), o, tmp (d), hid (2f).
  std::vector<float> buf(8 * d + 2 * f);
  float* x = buf.data();
  float* nrm = x + d;
  float* qkvg = nrm + d;
  float* o = qkvg + 4 * d;
  float* tmp = o + d;
  float* hid = tmp + d;
  std::memcpy(x, &m.w.embed[static_cast<size_t>(id) * d], d * sizeof(float));
  std::vector<float> angle_buf(2 * m.rotary.half());
  const float* cos_n;
  const float* sin_n;
  m.rotary.angles(n, angle_buf.data(), &cos_n, &sin_n);  // once per token, for every layer
  for (int l = 0; l < m.L; ++l) {
    const auto& lw = m.w.layers[l];
    rmsnorm(x, lw.norm1.data(), eps, d, nrm);
    matvec(lw.qkvg.data(), 4 * d, d, d, nrm, qkvg);
    float* q = qkvg;
    float* k = qkvg + d;
    const float* v = qkvg + 2 * d;
    const float* g = qkvg + 3 * d;
    for (size_t i = 0; i < d; ++i) k[i] *= m.k_scale;
    m.rotary.rotate(q, m.d, cos_n, sin_n);
    m.rotary.rotate(k, m.d, cos_n, sin_n);
    for (int h = 0; h < m.H; ++h) {
      float* S = state.s_.data() + (static_cast<size_t>(l) * m.H + h) * dk * dk;
      const float gm = static_cast<float>(m.gamma[h]);
      const float* qh = q + h * dk;
      const float* kh = k + h * dk;
      const float* vh = v + h * dk;
      float* oh = o + h * dk;
      std::fill(oh, oh + dk, 0.0f);
      for (size_t a = 0; a < dk; ++a) {
        float* Sa = S + a * dk;
        const float ka = kh[a], qa = qh[a];
        for (size_t b = 0; b < dk; ++b) {
          Sa[b] = gm * Sa[b] + ka * vh[b];
          oh[b] += qa * Sa[b];
        }
      }
      const float inv = m.inv_scale(h, n);
      for (size_t b = 0; b < dk; ++b) oh[b] *= inv;
      rmsnorm(oh, lw.gn.data() + h * dk, eps, dk, oh);
    }
    block_tail_step(lw, eps, d, f, g, o, x, nrm, tmp, hid);
  }
  rmsnorm(x, m.w.norm.data(), eps, d, nrm);
  matvec(m.w.head_ptr(), m.V, d, d, nrm, logits);
  state.position_ = n + 1;
  if (workspace_bytes) *workspace_bytes = buf.size() * sizeof(float) + m.V * sizeof(float);
}

std::vector<float> RetNet::prefill_chunkwise(RetNetState& state, std::span<const int32_t> ids, int chunk,
                                             size_t* workspace_bytes) const {
  const Impl& m = *impl_;
  if (chunk < 1) throw Error(ErrorKind::kInvalidArgument, "chunk size must be at least 1");
  check_ids(m, ids);
  check_state(m, state, state.s_, state.position_);
  if (ids.empty()) {
    if (workspace_bytes) *workspace_bytes = 0;
    return {};
  }
  const size_t d = m.d;
  const size_t B = std::min<size_t>(static_cast<size_t>(chunk), ids.size());
  std::vector<float> X(B * d);
  BlockWork w(m, B);
  size_t filled_for = 0;  // decay powers are refilled for a shorter last chunk
  const size_t layer_floats = static_cast<size_t>(m.H) * m.dk * m.dk;
  for (size_t start = 0; start < ids.size(); start += B) {
    const size_t b = std::min(B, ids.size() - start);
    if (b != filled_for) {
      fill_decay_powers(m, w, b);
      filled_for = b;
    }
    for (size_t t = 0; t < b; ++t) std::memcpy(&X[t * d], &m.w.embed[ids[start + t] * d], d * sizeof(float));
    for (int l = 0; l < m.L; ++l)
      layer_block(m, l, X.data(), w, b, state.position_, state.s_.data() + l * layer_floats);
    state.position_ += static_cast<int64_t>(b);
  }
  const size_t last = (ids.size() - 1) % B;
  std::vector<float> logits(m.V);
  rmsnorm(&X[last * d], m.w.norm.data(), m.w.config.norm_eps, d, &X[last * d]);
  matvec(m.w.head_ptr(), m.V, d, d, &X[last * d], logits.data());
  if (workspace_bytes) *workspace_bytes = w.bytes() + (X.size() + logits.size()) * sizeof(float);
  return logits;
}

}  // namespace tollgate
