// retnet_bench — prefill of a 2,048-token prompt by the RetNet's three forms:
//   chunkwise (chunk 32/64/128/256), parallel (whole sequence, O(T²) retention), recurrent (token by
//   token). Counters: tokens/s, and the bytes of the buffers each form allocates (its peak working
//   memory; the parallel form's includes the [T, V] logits it returns) plus the recurrent state.
// Uses models/retnet/model.safetensors when present, else random weights of the same size.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>

#include "bench_util.hpp"
#include "tollgate/retnet.hpp"

using namespace tollgate;

namespace {

constexpr size_t kPromptTokens = 2048;

const RetNet& model() {
  static RetNetPtr m = [] {
    auto path = std::filesystem::path(TOLLGATE_SOURCE_DIR) / "models/retnet/model.safetensors";
    if (std::filesystem::exists(path)) return RetNet::load(path.string());
    return RetNetPtr(std::make_shared<RetNet>(RetNetConfig{}, 1));
  }();
  return *m;
}

const std::vector<int32_t>& prompt() {
  static std::vector<int32_t> ids = [] {
    std::mt19937_64 rng(2048);
    std::vector<int32_t> v(kPromptTokens);
    for (auto& x : v) x = static_cast<int32_t>(rng() % static_cast<uint64_t>(model().config().vocab_size));
    return v;
  }();
  return ids;
}

void set_counters(benchmark::State& st, size_t workspace, size_t state_bytes) {
  st.counters["tokens/s"] = benchmark::Counter(static_cast<double>(kPromptTokens) * st.iterations(),
                                               benchmark::Counter::kIsRate);
  st.counters["workspace_bytes"] = static_cast<double>(workspace);
  st.counters["state_bytes"] = static_cast<double>(state_bytes);
}

void BM_PrefillChunkwise(benchmark::State& st) {
  const int chunk = static_cast<int>(st.range(0));
  size_t ws = 0, sb = 0;
  for (auto _ : st) {
    RetNetState s = model().new_state();
    auto logits = model().prefill_chunkwise(s, prompt(), chunk, &ws);
    benchmark::DoNotOptimize(logits.data());
    sb = s.memory_bytes();
  }
  set_counters(st, ws, sb);
}

void BM_PrefillParallel(benchmark::State& st) {
  size_t ws = 0;
  for (auto _ : st) {
    auto logits = model().forward_parallel(prompt(), &ws);
    benchmark::DoNotOptimize(logits.data());
  }
  set_counters(st, ws, 0);
}

void BM_PrefillRecurrent(benchmark::State& st) {
  size_t ws = 0, sb = 0;
  std::vector<float> logits(model().config().vocab_size);
  for (auto _ : st) {
    RetNetState s = model().new_state();
    for (int32_t id : prompt()) model().step(s, id, logits.data(), &ws);
    benchmark::DoNotOptimize(logits.data());
    sb = s.memory_bytes();
  }
  set_counters(st, ws, sb);
}

}  // namespace

BENCHMARK(BM_PrefillChunkwise)->Arg(32)->Arg(64)->Arg(128)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime()
    ->Iterations(1)->Repetitions(3)->ReportAggregatesOnly(true);
BENCHMARK(BM_PrefillParallel)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(3)->ReportAggregatesOnly(true);
BENCHMARK(BM_PrefillRecurrent)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(3)->ReportAggregatesOnly(true);

BENCHMARK_MAIN();
