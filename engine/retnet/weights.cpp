// Decoder weights: config parsing, validation, random init, loading and saving (see weights.hpp).
#include "engine/retnet/weights.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "engine/retnet/kernels.hpp"
#include "tollgate/error.hpp"

namespace tollgate {

void RetNetConfig::validate() const {
  auto bad = [](const std::string& what) { throw Error(ErrorKind::kModel, "bad RetNet config: " + what); };
  if (vocab_size < 1 || vocab_size > (1 << 24)) bad("vocab_size out of range");
  if (d_model < 2 || d_model > 16384) bad("d_model out of range");
  if (n_layers < 1 || n_layers > 1024) bad("n_layers out of range");
  if (n_heads < 1 || n_heads > d_model) bad("n_heads out of range");
  if (d_model % n_heads != 0) bad("d_model must be a multiple of n_heads");
  if (head_dim() % 2 != 0) bad("head dimension d_model / n_heads must be even");
  if (d_ffn < 1 || d_ffn > 65536) bad("d_ffn out of range");
  if (!(norm_eps > 0) || !std::isfinite(norm_eps)) bad("norm_eps must be positive");
  if (bos_id < 0 || bos_id >= vocab_size) bad("bos_id out of range");
  if (eos_id < 0 || eos_id >= vocab_size) bad("eos_id out of range");
}

}  // namespace tollgate

namespace tollgate::engine {

namespace {

int32_t meta_int(const SafeTensors& st, const std::string& key) {
  const std::string& s = st.meta(key);
  int32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size())
    throw Error(ErrorKind::kModel, "metadata '" + key + "' is not an integer: '" + s + "'");
  return v;
}

std::string layer_name(int i, const char* rest) { return "layers." + std::to_string(i) + "." + rest; }

}  // namespace

RetNetConfig config_from_metadata(const SafeTensors& st) {
  if (st.meta("format") != "tollgate-retnet-v1")
    throw Error(ErrorKind::kModel, "unknown model format '" + st.meta("format") + "' (want tollgate-retnet-v1)");
  RetNetConfig c;
  c.vocab_size = meta_int(st, "vocab_size");
  c.d_model = meta_int(st, "d_model");
  c.n_layers = meta_int(st, "n_layers");
  c.n_heads = meta_int(st, "n_heads");
  c.d_ffn = meta_int(st, "d_ffn");
  {
    const std::string& s = st.meta("norm_eps");
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size())
      throw Error(ErrorKind::kModel, "metadata 'norm_eps' is not a number: '" + s + "'");
    c.norm_eps = static_cast<float>(v);
  }
  const std::string& tie = st.meta("tie_embeddings");
  if (tie != "0" && tie != "1") throw Error(ErrorKind::kModel, "metadata 'tie_embeddings' must be \"0\" or \"1\"");
  c.tie_embeddings = tie == "1";
  c.bos_id = meta_int(st, "bos_id");
  c.eos_id = meta_int(st, "eos_id");
  c.validate();
  return c;
}

size_t DecoderWeights::parameter_count() const {
  size_t n = embed.size() + norm.size() + head.size();
  for (const auto& l : layers)
    n += l.norm1.size() + l.qkvg.size() + l.o.size() + l.gn.size() + l.norm2.size() + l.w13.size() + l.w2.size();
  return n;
}

DecoderWeights DecoderWeights::random(const RetNetConfig& config, uint64_t seed) {
  config.validate();
  DecoderWeights w;
  w.config = config;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const size_t d = config.d_model, f = config.d_ffn, V = config.vocab_size;
  auto gauss = [&](size_t n, float std) {
    std::vector<float> v(n);
    for (auto& x : v) x = normal(rng) * std;
    return v;
  };
  auto norm_w = [&](size_t n) {
    std::vector<float> v(n);
    for (auto& x : v) x = 1.0f + 0.1f * normal(rng);
    return v;
  };
  const float lin_d = 1.0f / std::sqrt(static_cast<float>(d));
  const float lin_f = 1.0f / std::sqrt(static_cast<float>(f));
  w.embed = gauss(V * d, 1.0f / std::sqrt(std::sqrt(static_cast<float>(d))));
  for (int i = 0; i < config.n_layers; ++i) {
    LayerWeights l;
    l.norm1 = norm_w(d);
    l.qkvg = gauss(4 * d * d, lin_d);
    l.o = gauss(d * d, lin_d);
    l.gn = norm_w(d);
    l.norm2 = norm_w(d);
    l.w13 = gauss(2 * f * d, lin_d);
    l.w2 = gauss(d * f, lin_f);
    w.layers.push_back(std::move(l));
  }
  w.norm = norm_w(d);
  if (!config.tie_embeddings) w.head = gauss(V * d, lin_d);
  return w;
}

DecoderWeights DecoderWeights::from_safetensors(const SafeTensors& st) {
  DecoderWeights w;
  w.config = config_from_metadata(st);
  const RetNetConfig& c = w.config;
  const int64_t d = c.d_model, f = c.d_ffn, V = c.vocab_size;
  w.embed = st.f32("embed.weight", {V, d});
  w.norm = st.f32("norm.weight", {d});
  if (!c.tie_embeddings) w.head = st.f32("head.weight", {V, d});
  for (int i = 0; i < c.n_layers; ++i) {
    LayerWeights l;
    l.norm1 = st.f32(layer_name(i, "norm1.weight"), {d});
    l.qkvg.reserve(4 * d * d);
    for (const char* p : {"retention.q.weight", "retention.k.weight", "retention.v.weight", "retention.g.weight"}) {
      auto part = st.f32(layer_name(i, p), {d, d});
      l.qkvg.insert(l.qkvg.end(), part.begin(), part.end());
    }
    l.o = st.f32(layer_name(i, "retention.o.weight"), {d, d});
    l.gn = st.f32(layer_name(i, "retention.gn.weight"), {d});
    l.norm2 = st.f32(layer_name(i, "norm2.weight"), {d});
    l.w13 = st.f32(layer_name(i, "ffn.w1.weight"), {f, d});
    auto w3 = st.f32(layer_name(i, "ffn.w3.weight"), {f, d});
    l.w13.insert(l.w13.end(), w3.begin(), w3.end());
    l.w2 = st.f32(layer_name(i, "ffn.w2.weight"), {d, f});
    w.layers.push_back(std::move(l));
  }
  auto finite = [&](const std::vector<float>& v, const std::string& what) {
    for (float x : v)
      if (!std::isfinite(x)) throw Error(ErrorKind::kModel, "non-finite value in " + what);
  };
  finite(w.embed, "embed.weight");
  finite(w.head, "head.weight");
  for (const auto& l : w.layers)
    for (const auto* v : {&l.norm1, &l.qkvg, &l.o, &l.gn, &l.norm2, &l.w13, &l.w2}) finite(*v, "layer weights");
  return w;
}

std::map<std::string, std::string> DecoderWeights::metadata() const {
  const RetNetConfig& c = config;
  char eps[32];
  std::snprintf(eps, sizeof eps, "%g", static_cast<double>(c.norm_eps));
  return {{"format", "tollgate-retnet-v1"},
          {"vocab_size", std::to_string(c.vocab_size)},
          {"d_model", std::to_string(c.d_model)},
          {"n_layers", std::to_string(c.n_layers)},
          {"n_heads", std::to_string(c.n_heads)},
          {"d_ffn", std::to_string(c.d_ffn)},
          {"norm_eps", eps},
          {"tie_embeddings", c.tie_embeddings ? "1" : "0"},
          {"bos_id", std::to_string(c.bos_id)},
          {"eos_id", std::to_string(c.eos_id)}};
}

std::map<std::string, TensorBlob> DecoderWeights::tensors() const {
  const RetNetConfig& c = config;
  const int64_t d = c.d_model, f = c.d_ffn, V = c.vocab_size;
  std::map<std::string, TensorBlob> t;
  t["embed.weight"] = make_f32({V, d}, embed);
  t["norm.weight"] = make_f32({d}, norm);
  if (!c.tie_embeddings) t["head.weight"] = make_f32({V, d}, head);
  auto slice = [](const std::vector<float>& v, size_t begin, size_t n) {
    return std::vector<float>(v.begin() + static_cast<std::ptrdiff_t>(begin),
                              v.begin() + static_cast<std::ptrdiff_t>(begin + n));
  };
  for (int i = 0; i < c.n_layers; ++i) {
    const LayerWeights& l = layers[i];
    t[layer_name(i, "norm1.weight")] = make_f32({d}, l.norm1);
    const char* names[4] = {"retention.q.weight", "retention.k.weight", "retention.v.weight", "retention.g.weight"};
    for (int k = 0; k < 4; ++k) t[layer_name(i, names[k])] = make_f32({d, d}, slice(l.qkvg, k * d * d, d * d));
    t[layer_name(i, "retention.o.weight")] = make_f32({d, d}, l.o);
    t[layer_name(i, "retention.gn.weight")] = make_f32({d}, l.gn);
    t[layer_name(i, "norm2.weight")] = make_f32({d}, l.norm2);
    t[layer_name(i, "ffn.w1.weight")] = make_f32({f, d}, slice(l.w13, 0, f * d));
    t[layer_name(i, "ffn.w3.weight")] = make_f32({f, d}, slice(l.w13, f * d, f * d));
    t[layer_name(i, "ffn.w2.weight")] = make_f32({d, f}, l.w2);
  }
  return t;
}

Rotary::Rotary(int head_dim) : half_(head_dim / 2) {
  theta_.resize(half_);
  for (int i = 0; i < half_; ++i) theta_[i] = 1.0 / std::pow(10000.0, static_cast<double>(i) / half_);
  cos_.resize(static_cast<size_t>(kCached) * half_);
  sin_.resize(cos_.size());
  for (int64_t p = 0; p < kCached; ++p)
    for (int i = 0; i < half_; ++i) {
      double a = static_cast<double>(p) * theta_[i];
      cos_[p * half_ + i] = static_cast<float>(std::cos(a));
      sin_[p * half_ + i] = static_cast<float>(std::sin(a));
    }
}

void Rotary::angles(int64_t pos, float* buf, const float** c, const float** s) const {
  if (pos < kCached) {
    *c = &cos_[pos * half_];
    *s = &sin_[pos * half_];
    return;
  }
  for (int i = 0; i < half_; ++i) {
    double a = static_cast<double>(pos) * theta_[i];
    buf[i] = static_cast<float>(std::cos(a));
    buf[half_ + i] = static_cast<float>(std::sin(a));
  }
  *c = buf;
  *s = buf + half_;
}

void Rotary::rotate(float* row, int d, const float* c, const float* s) const {
  const int dk = 2 * half_;
  for (int h = 0; h + dk <= d; h += dk) {
    float* v = row + h;
    for (int i = 0; i < half_; ++i) {
      float a = v[2 * i], b = v[2 * i + 1];
      v[2 * i] = a * c[i] - b * s[i];
      v[2 * i + 1] = a * s[i] + b * c[i];
    }
  }
}

void Rotary::apply(float* row, int d, int64_t pos) const {
  std::vector<float> buf;
  if (pos >= kCached) buf.resize(2 * static_cast<size_t>(half_));
  const float* c;
  const float* s;
  angles(pos, buf.data(), &c, &s);
  rotate(row, d, c, s);
}

void block_tail_step(const LayerWeights& lw, float eps, size_t d, size_t f, const float* g, float* o, float* x,
                     float* nrm, float* tmp, float* hid) {
  for (size_t i = 0; i < d; ++i) o[i] *= silu(g[i]);
  matvec(lw.o.data(), d, d, d, o, tmp);
  for (size_t i = 0; i < d; ++i) x[i] += tmp[i];
  rmsnorm(x, lw.norm2.data(), eps, d, nrm);
  matvec(lw.w13.data(), 2 * f, d, d, nrm, hid);
  for (size_t i = 0; i < f; ++i) hid[i] = silu(hid[i]) * hid[f + i];
  matvec(lw.w2.data(), d, f, f, hid, tmp);
  for (size_t i = 0; i < d; ++i) x[i] += tmp[i];
}

}  // namespace tollgate::engine
