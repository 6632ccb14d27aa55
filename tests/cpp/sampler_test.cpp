// Sampler tests: greedy, temperature, top-k, top-p, masked (-inf) logits, seeding.
#include "test_support.hpp"

#include <cmath>
#include <map>

#include "tollgate/error.hpp"
#include "tollgate/sampler.hpp"

using tollgate::Sampler;
using tollgate::SamplerOptions;

namespace {
constexpr float kNegInf = -INFINITY;
}

TEST_CASE("Greedy picks the largest unmasked logit", "[sampler]") {
  Sampler s({.temperature = 0.0f});
  std::vector<float> logits = {1.0f, 5.0f, kNegInf, 3.0f, 5.0f};
  CHECK(s.sample(logits) == 1);  // tie: lowest id
  logits[1] = kNegInf;
  CHECK(s.sample(logits) == 4);
  std::vector<float> masked_max = {kNegInf, -100.0f, kNegInf};
  CHECK(s.sample(masked_max) == 1);
  std::vector<float> with_nan = {NAN, 0.5f, 0.25f};
  CHECK(s.sample(with_nan) == 1);
  CHECK(tollgate::argmax(std::vector<float>{kNegInf, kNegInf}) == -1);
}

TEST_CASE("All-masked logits are an error, not a crash", "[sampler]") {
  std::vector<float> logits(10, kNegInf);
  Sampler greedy({.temperature = 0.0f});
  CHECK_THROWS_AS(greedy.sample(logits), tollgate::Error);
  Sampler hot({.temperature = 1.0f, .top_k = 3, .top_p = 0.5f, .seed = 1});
  CHECK_THROWS_AS(hot.sample(logits), tollgate::Error);
}

TEST_CASE("Sampler options are validated", "[sampler]") {
  CHECK_THROWS_AS(Sampler({.top_k = -1}), tollgate::Error);
  CHECK_THROWS_AS(Sampler({.top_p = 0.0f}), tollgate::Error);
  CHECK_THROWS_AS(Sampler({.top_p = 1.5f}), tollgate::Error);
  CHECK_THROWS_AS(Sampler({.temperature = NAN}), tollgate::Error);
}

TEST_CASE("Temperature sampling follows the softmax and never picks masked tokens", "[sampler]") {
  std::vector<float> logits = {0.0f, std::log(2.0f), kNegInf, std::log(5.0f)};  // p = 1/8, 2/8, 0, 5/8
  Sampler s({.temperature = 1.0f, .seed = 42});
  auto dist = s.distribution(logits);
  CHECK(dist[0] == Approx(0.125));
  CHECK(dist[1] == Approx(0.25));
  CHECK(dist[2] == 0.0);
  CHECK(dist[3] == Approx(0.625));
  std::map<int, int> counts;
  const int n = 40000;
  for (int i = 0; i < n; ++i) ++counts[s.sample(logits)];
  CHECK(counts[2] == 0);
  CHECK(counts[0] / double(n) == Approx(0.125).margin(0.01));
  CHECK(counts[1] / double(n) == Approx(0.25).margin(0.01));
  CHECK(counts[3] / double(n) == Approx(0.625).margin(0.01));

  // Temperature 0.5 squares the odds: 1 : 4 : 25.
  Sampler cold({.temperature = 0.5f});
  auto d2 = cold.distribution(logits);
  CHECK(d2[0] == Approx(1.0 / 30));
  CHECK(d2[3] == Approx(25.0 / 30));
}

TEST_CASE("Top-k and top-p restrict the candidates", "[sampler]") {
  std::vector<float> logits = {std::log(0.1f), std::log(0.4f), std::log(0.2f), std::log(0.3f)};
  Sampler k2({.temperature = 1.0f, .top_k = 2, .seed = 3});
  auto d = k2.distribution(logits);
  CHECK(d[0] == 0.0);
  CHECK(d[2] == 0.0);
  CHECK(d[1] == Approx(0.4 / 0.7));
  CHECK(d[3] == Approx(0.3 / 0.7));
  for (int i = 0; i < 2000; ++i) {
    int32_t t = k2.sample(logits);
    CHECK((t == 1 || t == 3));
  }
  // top_p 0.65: 0.4 + 0.3 >= 0.65 → {1, 3}; top_p 0.75 adds token 2.
  Sampler p65({.temperature = 1.0f, .top_p = 0.65f});
  auto d65 = p65.distribution(logits);
  CHECK(d65[1] > 0);
  CHECK(d65[3] > 0);
  CHECK(d65[2] == 0.0);
  Sampler p75({.temperature = 1.0f, .top_p = 0.75f});
  auto d75 = p75.distribution(logits);
  CHECK(d75[2] == Approx(0.2 / 0.9));
  CHECK(d75[0] == 0.0);
  // top_p with masked tokens: mass is over unmasked tokens only.
  std::vector<float> masked = {kNegInf, 0.0f, kNegInf, 0.0f};
  Sampler ph({.temperature = 1.0f, .top_p = 0.5f});
  auto dm = ph.distribution(masked);
  CHECK(dm[1] == 1.0);  // ties: lower id first, 0.5 reached by it alone
  CHECK(dm[3] == 0.0);
}

TEST_CASE("A seed reproduces the sample sequence", "[sampler]") {
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(static_cast<float>(i));
  auto run = [&](uint64_t seed) {
    Sampler s({.temperature = 1.3f, .top_k = 20, .top_p = 0.9f, .seed = seed});
    std::vector<int32_t> out;
    for (int i = 0; i < 200; ++i) out.push_back(s.sample(logits));
    return out;
  };
  CHECK(run(7) == run(7));
  CHECK(run(7) != run(8));
}
