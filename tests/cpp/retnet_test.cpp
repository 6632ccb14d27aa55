// RetNet tests: the parallel, recurrent and chunkwise forms agree on random weights; the model
// matches the Python reference's golden vectors; snapshot/restore; malformed safetensors files.
#include "test_support.hpp"

#include <cmath>
#include <cstring>
#include <fstream>
#include <filesystem>
#include <random>
#include <thread>
#include <tuple>

#include "engine/retnet/kernels.hpp"
#include "engine/retnet/kv_baseline.hpp"
#include "engine/retnet/safetensors.hpp"
#include "engine/retnet/weights.hpp"
#include "tollgate/error.hpp"
#include "tollgate/retnet.hpp"

using tollgate::Error;
using tollgate::ErrorKind;
using tollgate::RetNet;
using tollgate::RetNetConfig;
using tollgate::RetNetState;

namespace {

// ||a - b|| / ||b|| over n floats.
double rel_err(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    double diff = static_cast<double>(a[i]) - b[i];
    num += diff * diff;
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

std::vector<int32_t> random_ids(size_t n, int32_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids(n);
  for (auto& x : ids) x = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
  return ids;
}

RetNetConfig small_config(int heads, bool tied) {
  RetNetConfig c;
  c.vocab_size = 97;
  c.d_model = 32;
  c.n_layers = 2;
  c.n_heads = heads;
  c.d_ffn = 48;
  c.tie_embeddings = tied;
  c.bos_id = 0;
  c.eos_id = 1;
  return c;
}

std::filesystem::path repo_path(const std::string& rel) { return std::filesystem::path(TOLLGATE_SOURCE_DIR) / rel; }

std::filesystem::path temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / "tollgate_retnet_test";
  std::filesystem::create_directories(dir);
  return dir / name;
}

void expect_model_error(const std::string& bytes, const std::string& needle) {
  try {
    tollgate::engine::SafeTensors::parse(bytes, "bad.safetensors");
    FAIL("no error for a file that should give: " << needle);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kModel);
    INFO(e.what());
    CHECK(std::string(e.what()).find(needle) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("RetNet parallel, recurrent and chunkwise forms agree", "[retnet]") {
  for (auto [heads, tied] : {std::pair{2, false}, std::pair{4, true}}) {
    RetNetConfig cfg = small_config(heads, tied);
    RetNet model(cfg, 1234 + heads);
    const size_t T = 150, V = cfg.vocab_size;
    auto ids = random_ids(T, cfg.vocab_size, 7);
    auto par = model.forward_parallel(ids);
    REQUIRE(par.size() == T * V);

    // Recurrent, token by token: every row.
    RetNetState rec = model.new_state();
    double worst = 0;
    for (size_t t = 0; t < T; ++t) {
      auto logits = model.step(rec, ids[t]);
      worst = std::max(worst, rel_err(logits.data(), &par[t * V], V));
    }
    INFO("heads " << heads << " worst recurrent row error " << worst);
    CHECK(worst < 1e-5);
    CHECK(rec.position() == static_cast<int64_t>(T));

    // Chunkwise, whole sequence, several chunk sizes (dividing and not): last logits and state.
    for (int chunk : {1, 3, 5, 16, 64, 150, 400}) {
      RetNetState st = model.new_state();
      auto last = model.prefill_chunkwise(st, ids, chunk);
      INFO("chunk " << chunk);
      CHECK(st.position() == static_cast<int64_t>(T));
      CHECK(rel_err(last.data(), &par[(T - 1) * V], V) < 1e-5);
      CHECK(rel_err(st.data().data(), rec.data().data(), st.data().size()) < 1e-5);
    }

    // Chunkwise continues from any state: split the prompt over calls and forms.
    RetNetState mixed = model.new_state();
    model.prefill_chunkwise(mixed, std::span(ids).subspan(0, 37), 5);
    for (size_t t = 37; t < 40; ++t) model.step(mixed, ids[t]);
    auto mid = model.prefill_chunkwise(mixed, std::span(ids).subspan(40, 61), 16);
    CHECK(rel_err(mid.data(), &par[100 * V], V) < 1e-5);
    auto end = model.prefill_chunkwise(mixed, std::span(ids).subspan(101), 3);
    CHECK(rel_err(end.data(), &par[(T - 1) * V], V) < 1e-5);
  }
}

TEST_CASE("RetNet forms differ when the weights differ (the comparison can fail)", "[retnet]") {
  RetNetConfig cfg = small_config(2, false);
  RetNet a(cfg, 1), b(cfg, 2);
  auto ids = random_ids(20, cfg.vocab_size, 3);
  auto la = a.forward_parallel(ids);
  auto lb = b.forward_parallel(ids);
  CHECK(rel_err(la.data(), lb.data(), la.size()) > 0.1);
  // The state carries context: token 9 after token 5 differs from token 9 at the start.
  RetNetState s = a.new_state();
  a.step(s, 5);
  auto after = a.step(s, 9);
  RetNetState fresh = a.new_state();
  auto alone = a.step(fresh, 9);
  CHECK(rel_err(after.data(), alone.data(), after.size()) > 1e-3);
}

TEST_CASE("RetNet matches the Python reference golden vectors", "[retnet]") {
  auto model_path = repo_path("tests/data/retnet/golden_model.safetensors");
  auto io_path = repo_path("tests/data/retnet/golden_io.safetensors");
  if (!std::filesystem::exists(model_path) || !std::filesystem::exists(io_path)) {
    tollgate::testing::note_skipped("needs tests/data/retnet/golden_*.safetensors");
    WARN("skipped: golden vectors not generated yet");
    return;
  }
  auto model = RetNet::load(model_path.string());
  const auto& cfg = model->config();
  CHECK(cfg.vocab_size == 64);
  CHECK(cfg.d_model == 32);
  CHECK(cfg.n_layers == 2);
  CHECK(cfg.n_heads == 2);
  CHECK(cfg.d_ffn == 48);
  CHECK_FALSE(cfg.tie_embeddings);
  auto io = tollgate::engine::SafeTensors::load(io_path.string());
  auto ids = io.i32("input_ids");
  REQUIRE(ids.size() == 37);
  const size_t T = ids.size(), V = cfg.vocab_size;
  auto want = io.f32("logits", {static_cast<int64_t>(T), static_cast<int64_t>(V)});
  auto got = model->forward_parallel(ids);
  auto max_diff = [&](const float* a, const float* b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; ++i) m = std::max(m, std::abs(static_cast<double>(a[i]) - b[i]));
    return m;
  };
  CHECK(max_diff(got.data(), want.data(), T * V) < 1e-4);
  RetNetState st = model->new_state();
  for (size_t t = 0; t < T; ++t) {
    auto row = model->step(st, ids[t]);
    INFO("position " << t);
    CHECK(max_diff(row.data(), &want[t * V], V) < 1e-4);
  }
  RetNetState ch = model->new_state();
  auto last = model->prefill_chunkwise(ch, ids, 5);
  CHECK(max_diff(last.data(), &want[(T - 1) * V], V) < 1e-4);
}

TEST_CASE("RetNet state snapshot and restore give identical continuations", "[retnet]") {
  RetNetConfig cfg = small_config(4, true);
  RetNet model(cfg, 99);
  auto ids = random_ids(60, cfg.vocab_size, 11);
  RetNetState st = model.new_state();
  model.prefill_chunkwise(st, std::span(ids).subspan(0, 30), 8);
  RetNetState snap = st.snapshot();
  CHECK(snap.memory_bytes() == st.memory_bytes());

  std::vector<std::vector<float>> first;
  for (size_t t = 30; t < 60; ++t) first.push_back(model.step(st, ids[t]));
  CHECK(st.position() == 60);
  st.restore(snap);
  CHECK(st.position() == 30);
  for (size_t t = 30; t < 60; ++t) CHECK(model.step(st, ids[t]) == first[t - 30]);

  // Branching: a copy goes its own way, the original is untouched.
  RetNetState branch = snap;
  model.step(branch, 3);
  model.step(branch, 4);
  RetNetState again = snap;
  CHECK(model.step(again, ids[30]) == first[0]);
  // Memory does not grow with the position.
  CHECK(st.memory_bytes() == model.new_state().memory_bytes());
}

TEST_CASE("RetNet save and load round-trip", "[retnet]") {
  for (bool tied : {false, true}) {
    RetNetConfig cfg = small_config(2, tied);
    RetNet model(cfg, 5);
    auto path = temp_path(tied ? "tied.safetensors" : "untied.safetensors");
    model.save(path.string());
    auto loaded = RetNet::load(path.string());
    CHECK(loaded->config().tie_embeddings == tied);
    CHECK(loaded->parameter_count() == model.parameter_count());
    auto ids = random_ids(12, cfg.vocab_size, 1);
    CHECK(loaded->forward_parallel(ids) == model.forward_parallel(ids));
    std::filesystem::remove(path);
  }
}

TEST_CASE("RetNet rejects bad token ids and foreign states", "[retnet]") {
  RetNet model(small_config(2, false), 1);
  RetNetState st = model.new_state();
  CHECK_THROWS_AS(model.step(st, 97), Error);
  CHECK_THROWS_AS(model.step(st, -1), Error);
  std::vector<int32_t> bad = {1, 2, 500};
  CHECK_THROWS_AS(model.forward_parallel(bad), Error);
  CHECK_THROWS_AS(model.prefill_chunkwise(st, bad, 2), Error);
  CHECK_THROWS_AS(model.prefill_chunkwise(st, std::vector<int32_t>{1}, 0), Error);
  RetNet other(small_config(4, false), 1);  // same config except heads: state size differs
  RetNetConfig big = small_config(2, false);
  big.d_model = 64;
  RetNet bigger(big, 1);
  RetNetState foreign = bigger.new_state();
  CHECK_THROWS_AS(model.step(foreign, 1), Error);
  RetNetConfig odd = small_config(2, false);
  odd.d_model = 30;  // head dim 15 is odd
  CHECK_THROWS_AS(RetNet(odd, 1), Error);
}

TEST_CASE("Malformed safetensors files give model errors", "[retnet]") {
  using namespace tollgate::engine;
  auto good = serialize_safetensors({{"format", "x"}}, {{"a", make_f32({2, 3}, {1, 2, 3, 4, 5, 6})},
                                                        {"ids", make_i32({2}, {7, 8})}});
  // The well-formed file reads back.
  auto st = SafeTensors::parse(good);
  CHECK(st.f32("a", {2, 3}) == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(st.i32("ids") == std::vector<int32_t>{7, 8});
  CHECK(st.meta("format") == "x");

  expect_model_error("", "truncated");
  expect_model_error(std::string("\x05\x00\x00", 3), "truncated");
  {
    std::string b = good;
    uint64_t huge = 1ull << 40;
    std::memcpy(b.data(), &huge, 8);
    expect_model_error(b, "header length too large");
    uint64_t past = b.size();  // more than what follows the 8 length bytes
    std::memcpy(b.data(), &past, 8);
    expect_model_error(b, "header length too large");
  }
  {
    std::string json = "{\"a\": [1, 2";
    std::string b(8, '\0');
    uint64_t len = json.size();
    std::memcpy(b.data(), &len, 8);
    expect_model_error(b + json, "bad JSON");
  }
  auto with_header = [](const std::string& json, size_t data_bytes) {
    std::string b(8, '\0');
    uint64_t len = json.size();
    std::memcpy(b.data(), &len, 8);
    return b + json + std::string(data_bytes, '\0');
  };
  expect_model_error(with_header("[1,2]", 0), "not an object");
  expect_model_error(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8), "truncated");
  expect_model_error(with_header(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "does not match shape");
  expect_model_error(with_header(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "non-negative");
  expect_model_error(with_header(R"({"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", 8), "unknown dtype");
  expect_model_error(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "begin > end");
  expect_model_error(with_header(R"({"a":{"dtype":"F32","shape":[2]}})", 8), "data_offsets");
  expect_model_error(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12), "overlap");
  expect_model_error(with_header(R"({"__metadata__":{"k":3}})", 0), "not a string");

  // Missing tensor, wrong shape, wrong dtype.
  auto check_access = [&](auto fn, const std::string& needle) {
    try {
      fn();
      FAIL("no error, expected: " << needle);
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kModel);
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  check_access([&] { st.f32("nope"); }, "missing tensor 'nope'");
  check_access([&] { st.f32("a", {3, 2}); }, "has shape [2, 3], expected [3, 2]");
  check_access([&] { st.f32("ids"); }, "has dtype I32");
  check_access([&] { st.meta("vocab_size"); }, "missing metadata key");
}

TEST_CASE("Damaged model files give errors, never crashes", "[retnet]") {
  RetNet model(small_config(2, false), 3);
  auto path = temp_path("model.safetensors");
  model.save(path.string());
  std::string bytes = tollgate::testing::read_file(path);
  auto bad_path = temp_path("damaged.safetensors");
  auto write = [&](const std::string& b) {
    std::ofstream out(bad_path, std::ios::binary);
    out.write(b.data(), static_cast<std::streamsize>(b.size()));
  };
  // Truncated anywhere: always a model error.
  int errors = 0;
  for (size_t len = 0; len < bytes.size(); len += 97) {
    write(bytes.substr(0, len));
    try {
      RetNet::load(bad_path.string());
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kModel);
      ++errors;
    }
  }
  CHECK(errors == static_cast<int>((bytes.size() + 96) / 97));
  // Damaged header: flip header bytes one at a time; either a clean load or a tollgate::Error.
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  for (size_t i = 8; i < 8 + header_len; i += 13) {
    std::string b = bytes;
    b[i] = static_cast<char>(b[i] ^ 0x5A);
    write(b);
    try {
      RetNet::load(bad_path.string());
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kModel);
    }
  }
  // Wrong shape in the config: the file says d_ffn 49 but the tensors are [48, 32].
  {
    auto st = tollgate::engine::SafeTensors::parse(bytes);
    auto meta = st.metadata();
    meta["d_ffn"] = "49";
    std::map<std::string, tollgate::engine::TensorBlob> blobs;
    for (const auto& [name, info] : st.tensors()) blobs[name] = tollgate::engine::make_f32(info.shape, st.f32(name));
    write(tollgate::engine::serialize_safetensors(meta, blobs));
    try {
      RetNet::load(bad_path.string());
      FAIL("loaded a model with inconsistent shapes");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kModel);
      CHECK(std::string(e.what()).find("expected [49, 32]") != std::string::npos);
    }
    meta["d_ffn"] = "48";
    meta["format"] = "something-else";
    write(tollgate::engine::serialize_safetensors(meta, blobs));
    CHECK_THROWS_AS(RetNet::load(bad_path.string()), Error);
    meta["format"] = "tollgate-retnet-v1";
    blobs.erase("layers.1.ffn.w2.weight");
    write(tollgate::engine::serialize_safetensors(meta, blobs));
    try {
      RetNet::load(bad_path.string());
      FAIL("loaded a model with a missing tensor");
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find("missing tensor 'layers.1.ffn.w2.weight'") != std::string::npos);
    }
  }
  try {
    RetNet::load(temp_path("does-not-exist.safetensors").string());
    FAIL("loaded a missing file");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kIo);
  }
  std::filesystem::remove(path);
  std::filesystem::remove(bad_path);
}

TEST_CASE("KV-cache baseline: cached steps match direct attention, memory grows", "[retnet]") {
  RetNetConfig cfg = small_config(2, false);
  tollgate::engine::KvDecoder kv(cfg, 17);
  auto ids = random_ids(40, cfg.vocab_size, 5);
  auto par = kv.forward_parallel(ids);
  auto st = kv.new_state();
  std::vector<float> row(cfg.vocab_size);
  double worst = 0;
  size_t bytes_at_10 = 0;
  for (size_t t = 0; t < ids.size(); ++t) {
    kv.step(st, ids[t], row.data());
    worst = std::max(worst, rel_err(row.data(), &par[t * cfg.vocab_size], cfg.vocab_size));
    if (t == 9) bytes_at_10 = st.memory_bytes();
  }
  CHECK(worst < 1e-5);
  CHECK(bytes_at_10 == 10u * 2 * cfg.n_layers * cfg.d_model * sizeof(float));
  CHECK(st.memory_bytes() == 4 * bytes_at_10);
  kv.fill_cache(st, 100, 1);
  CHECK(st.position == 100);
  kv.step(st, 3, row.data());
  CHECK(st.memory_bytes() == 101u * 2 * cfg.n_layers * cfg.d_model * sizeof(float));
  for (float x : row) CHECK(std::isfinite(x));
}

TEST_CASE("Kernels match a naive double-precision product, odd sizes included", "[retnet]") {
  using namespace tollgate::engine;
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto [T, rows, cols] : {std::tuple<size_t, size_t, size_t>{1, 1, 1}, {2, 5, 7}, {4, 9, 17}, {7, 13, 33},
                               {3, 4, 8}, {10, 66, 100}, {65, 130, 64}, {1, 4096, 32}}) {
    const size_t ldx = cols + 3, ldw = cols + 1, ldy = rows + 2;
    std::vector<float> x(T * ldx), w(rows * ldw), y(T * ldy, 0.5f);
    for (auto& v : x) v = normal(rng);
    for (auto& v : w) v = normal(rng);
    auto naive = [&](size_t t, size_t r) {
      double s = 0;
      for (size_t i = 0; i < cols; ++i) s += static_cast<double>(x[t * ldx + i]) * w[r * ldw + i];
      return s;
    };
    const double tol = 1e-5 * std::sqrt(static_cast<double>(cols)) * 4;
    matmul_nt(x.data(), T, ldx, w.data(), rows, ldw, cols, y.data(), ldy, /*accumulate=*/true);
    for (size_t t = 0; t < T; ++t)
      for (size_t r = 0; r < rows; ++r) CHECK(std::abs(y[t * ldy + r] - (0.5 + naive(t, r))) < tol);
    std::vector<float> yv(rows);
    matvec(w.data(), rows, cols, ldw, x.data(), yv.data());
    for (size_t r = 0; r < rows; ++r) CHECK(std::abs(yv[r] - naive(0, r)) < tol);
    CHECK(std::abs(dot(x.data(), w.data(), cols) - naive(0, 0)) < tol);
  }
}

TEST_CASE("Rotation table and on-the-fly rotation agree with the formula", "[retnet]") {
  const int dk = 16, half = dk / 2, d = 2 * dk;  // two heads
  tollgate::engine::Rotary rot(dk);
  for (int64_t pos : {int64_t{0}, int64_t{1}, int64_t{4095}, tollgate::engine::Rotary::kCached, int64_t{16383}, int64_t{100000}}) {
    std::vector<float> row(d);
    for (int i = 0; i < d; ++i) row[i] = static_cast<float>(std::sin(0.7 * i + 0.1));
    std::vector<float> got = row;
    rot.apply(got.data(), d, pos);
    for (int h = 0; h < 2; ++h)
      for (int i = 0; i < half; ++i) {
        double theta = 1.0 / std::pow(10000.0, static_cast<double>(i) / half);
        double c = std::cos(pos * theta), s = std::sin(pos * theta);
        double a = row[h * dk + 2 * i], b = row[h * dk + 2 * i + 1];
        INFO("pos " << pos << " pair " << i);
        CHECK(got[h * dk + 2 * i] == Approx(a * c - b * s).margin(1e-6));
        CHECK(got[h * dk + 2 * i + 1] == Approx(a * s + b * c).margin(1e-6));
      }
  }
}

TEST_CASE("One RetNet serves several threads at once", "[retnet]") {
  RetNetConfig cfg = small_config(2, true);
  cfg.d_model = 64;  // large enough for the kernels to use the pool
  cfg.vocab_size = 5000;
  RetNet model(cfg, 8);
  std::vector<std::vector<int32_t>> prompts;
  for (uint64_t s = 0; s < 4; ++s) prompts.push_back(random_ids(80, cfg.vocab_size, 100 + s));
  std::vector<std::vector<float>> serial;
  for (const auto& p : prompts) {
    RetNetState st = model.new_state();
    serial.push_back(model.prefill_chunkwise(st, p, 16));
  }
  std::vector<std::vector<float>> parallel(prompts.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < prompts.size(); ++i)
    threads.emplace_back([&, i] {
      RetNetState st = model.new_state();
      parallel[i] = model.prefill_chunkwise(st, prompts[i], 16);
    });
  for (auto& t : threads) t.join();
  CHECK(parallel == serial);
}
