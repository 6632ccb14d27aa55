// vocab_load_bench — time to load each real tokenizer (tokenizer.json + tokenizer_config.json) into a
// TokenizerInfo, trie included. Takes: TOLLGATE_DATA_DIR (default ../shared). Gives: one benchmark per
// tokenizer; tokenizers that are missing are reported as skipped.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "fsm/token_trie.hpp"
#include "bench_util.hpp"
#include "tollgate/vocabulary.hpp"

namespace {

using tollgate::bench::data_dir;

void load(benchmark::State& state, const std::string& name) {
  auto path = data_dir() / "tokenizers" / name / "tokenizer.json";
  if (!std::filesystem::exists(path)) {
    state.SkipWithError(("missing " + path.string()).c_str());
    return;
  }
  int32_t n = 0;
  size_t nodes = 0;
  for (auto _ : state) {
    auto info = tollgate::TokenizerInfo::from_file(path.string());
    n = info->vocab_size();
    nodes = info->trie().nodes().size();
    benchmark::DoNotOptimize(info);
  }
  state.counters["tokens"] = n;
  state.counters["trie_nodes"] = static_cast<double>(nodes);
}

}  // namespace

BENCHMARK_CAPTURE(load, llama2, std::string("llama2"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(load, llama3, std::string("llama3"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(load, qwen3, std::string("qwen3"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(load, gpt4o, std::string("gpt4o"))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(load, gemma3, std::string("gemma3"))->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
