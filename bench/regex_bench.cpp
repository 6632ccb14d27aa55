// regex_bench — the foundation's benchmarks on real vocabularies:
//  * compile (parse + DFA + minimisation + every state's mask) of the seven regexes of
//    corpora/bench-regexes.json, one thread, per tokenizer;
//  * mask fill along seeded random walks (p50/p99/max as counters, in ns);
//  * apply_token_bitmask on 128k float32 logits beside memcpy of the same buffer (GB/s).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "bench_util.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;

namespace {

TokenizerInfoPtr tokenizer(const std::string& name) {
  static std::map<std::string, TokenizerInfoPtr> cache;
  auto& t = cache[name];
  if (!t) t = TokenizerInfo::from_file((bench::data_dir() / "tokenizers" / name).string());
  return t;
}

std::string bench_regex(const std::string& name) {
  auto j = nlohmann::json::parse(bench::read_file(bench::data_dir() / "corpora/bench-regexes.json"));
  return j.at(name).get<std::string>();
}

void compile(benchmark::State& state, const std::string& tok_name, const std::string& regex_name) {
  auto tok = tokenizer(tok_name);
  std::string re = bench_regex(regex_name);
  CompileOptions opt;
  opt.threads = 1;
  // every iteration a cold compile: no compiled grammar, token index entry or lexeme automaton kept
  // from the one before (with the caches on, every iteration after the first is a cache hit)
  opt.grammar_cache_bytes = 0;
  opt.index_cache_bytes = 0;
  opt.lexeme_cache_bytes = 0;
  Compiler compiler(tok, opt);
  CompiledGrammarPtr g;
  for (auto _ : state) {
    g = compiler.compile_regex(re);
    benchmark::DoNotOptimize(g);
  }
  state.counters["dfa_states"] = static_cast<double>(g->stats().dfa_states);
  state.counters["masks"] = static_cast<double>(g->stats().distinct_masks);
  state.counters["index_KiB"] = static_cast<double>(g->stats().index_bytes) / 1024.0;
}

// Random walks: at each step pick a uniformly random allowed token (EOS ends the walk).
void mask_fill(benchmark::State& state, const std::string& regex_name) {
  auto tok = tokenizer("llama3");
  auto g = Compiler(tok).compile_regex(bench_regex(regex_name));
  const int32_t words = bitmask_words(tok->vocab_size());
  std::vector<int32_t> mask(words);
  std::vector<double> ns;
  std::mt19937 rng(42);
  for (auto _ : state) {
    Matcher m(g);
    for (int step = 0; step < 64; ++step) {
      auto t0 = std::chrono::steady_clock::now();
      m.fill_next_token_bitmask(mask.data());
      auto t1 = std::chrono::steady_clock::now();
      ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
      // A uniformly random allowed token: count, then find the k-th set bit (reads the row only).
      size_t total = 0;
      for (int32_t w = 0; w < words; ++w) total += __builtin_popcount(static_cast<uint32_t>(mask[w]));
      if (total == 0) break;
      size_t k = rng() % total;
      int32_t id = -1;
      for (int32_t w = 0; w < words && id < 0; ++w) {
        uint32_t bits = static_cast<uint32_t>(mask[w]);
        size_t c = __builtin_popcount(bits);
        if (k >= c) {
          k -= c;
          continue;
        }
        while (k--) bits &= bits - 1;
        id = w * 32 + __builtin_ctz(bits);
      }
      m.accept_token(id);
      if (m.is_terminated()) break;
    }
  }
  state.counters["fills"] = static_cast<double>(ns.size());
  state.counters["p50_ns"] = bench::percentile(ns, 0.50);
  state.counters["p99_ns"] = bench::percentile(ns, 0.99);
  state.counters["max_ns"] = bench::percentile(ns, 1.0);
}

void apply_bitmask(benchmark::State& state) {
  const int32_t vocab = 128256;
  std::vector<float> logits(vocab, 1.0f);
  std::vector<int32_t> mask(bitmask_words(vocab));
  std::mt19937 rng(1);
  for (auto& w : mask) w = static_cast<int32_t>(rng());
  for (auto _ : state) {
    apply_token_bitmask(logits.data(), mask.data(), vocab);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * (vocab * 4 + mask.size() * 4));
}

void memcpy_logits(benchmark::State& state) {
  const int32_t vocab = 128256;
  std::vector<float> a(vocab, 1.0f), b(vocab);
  for (auto _ : state) {
    std::memcpy(b.data(), a.data(), vocab * 4);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * vocab * 4);
}

const char* kRegexes[] = {"date-time", "email", "uuid", "ipv4", "phone", "words40", "json-object6"};

int register_all() {
  for (const char* tok : {"llama3", "llama2", "qwen3", "gpt4o", "gemma3"}) {
    for (const char* re : kRegexes) {
      benchmark::RegisterBenchmark((std::string("compile/") + tok + "/" + re).c_str(),
                                   [tok, re](benchmark::State& s) { compile(s, tok, re); })
          ->Unit(benchmark::kMillisecond);
    }
  }
  for (const char* re : kRegexes) {
    benchmark::RegisterBenchmark((std::string("mask_fill/llama3/") + re).c_str(),
                                 [re](benchmark::State& s) { mask_fill(s, re); })
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark("apply_token_bitmask/128256", apply_bitmask);
  benchmark::RegisterBenchmark("memcpy/128256", memcpy_logits);
  return 0;
}

const int kRegistered = register_all();

}  // namespace

BENCHMARK_MAIN();
