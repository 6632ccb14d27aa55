// Context-free grammar benchmarks (issue 3):
//  - maskbench_replay/{builtin_json,json.gbnf}: the valid MaskBench-dev instances (tokens_llama3)
//    replayed through a freshly compiled JSON grammar on Llama-3, one thread; per-token mask time
//    mean/p50/p99/max (µs), compile time (ms), documents accepted.
//  - random_walk/{c,english}.gbnf: seeded 50 × 200-step walks choosing uniformly among allowed tokens;
//    random_walk/{lark,sql,json}.lark: the same through Lark grammars (leftmost-first lexing).
//  - compile/<grammar>.gbnf: compile time of every grammar in corpora/gbnf on Llama-3.
//  - construct/{warm_up_json,no_warm_up}: making a Compiler on Llama-3, with its JSON warm-up and without.
#include <benchmark/benchmark.h>

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>

#include "bench_util.hpp"
#include "engine/cfg_backend.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;

namespace {

TokenizerInfoPtr llama3() {
  static TokenizerInfoPtr t = TokenizerInfo::from_file((bench::data_dir() / "tokenizers/llama3").string());
  return t;
}

const std::vector<std::vector<int32_t>>& maskbench_docs() {
  static std::vector<std::vector<int32_t>> docs = [] {
    std::vector<std::vector<int32_t>> out;
    std::vector<std::filesystem::path> files;
    for (auto& e : std::filesystem::directory_iterator(bench::data_dir() / "corpora/maskbench-dev"))
      if (e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      auto j = nlohmann::json::parse(bench::read_file(f));
      for (auto& t : j["tests"])
        if (t.value("valid", false) && t.contains("tokens_llama3"))
          out.push_back(t["tokens_llama3"].get<std::vector<int32_t>>());
    }
    return out;
  }();
  return docs;
}

// Thread CPU time (µs): tells per-mask cost apart from preemption on a loaded machine.
double thread_cpu_us() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

double us_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

void report(benchmark::State& state, std::vector<double>& us) {
  double sum = 0;
  for (double v : us) sum += v;
  state.counters["masks"] = static_cast<double>(us.size());
  state.counters["mean_us"] = us.empty() ? 0 : sum / us.size();
  state.counters["p50_us"] = bench::percentile(us, 0.50);
  state.counters["p99_us"] = bench::percentile(us, 0.99);
  state.counters["max_us"] = bench::percentile(us, 1.0);
}

void replay(benchmark::State& state, bool builtin) {
  auto tok = llama3();
  const auto& docs = maskbench_docs();
  std::string gbnf = builtin ? "" : bench::read_file(bench::data_dir() / "corpora/gbnf/json.gbnf");
  std::vector<int32_t> mask(bitmask_words(tok->vocab_size()));
  std::vector<double> us, cpu_us;
  double compile_ms = 0, worst_cpu = 0, worst_doc = 0, worst_step = 0;
  int accepted = 0, refused = 0;
  auto cpu0 = std::clock();
  for (auto _ : state) {
    CompileOptions opt;
    opt.threads = 1;
    Compiler compiler(tok, opt);
    auto t0 = std::chrono::steady_clock::now();
    auto g = builtin ? compiler.builtin_json() : compiler.compile_grammar(gbnf, "gbnf", "json.gbnf");
    compile_ms = us_since(t0) / 1000.0;
    us.clear();
    us.reserve(410000);
    cpu_us.clear();
    cpu_us.reserve(410000);
    accepted = refused = 0;
    for (const auto& doc : docs) {
      Matcher m(g);
      bool ok = true;
      for (int32_t id : doc) {
        double c1 = thread_cpu_us();
        auto t1 = std::chrono::steady_clock::now();
        m.fill_next_token_bitmask(mask.data());
        us.push_back(us_since(t1));
        cpu_us.push_back(thread_cpu_us() - c1);
        if (cpu_us.back() > worst_cpu) {
          worst_cpu = cpu_us.back();
          worst_doc = static_cast<double>(&doc - docs.data());
          worst_step = static_cast<double>(m.num_accepted());
        }
        if (!((mask[id >> 5] >> (id & 31)) & 1) || !m.accept_token(id)) {
          ok = false;
          break;
        }
      }
      if (ok && m.is_accepting()) ++accepted;
      else ++refused;
    }
    auto& impl = static_cast<const engine::CfgGrammar&>(g->impl());
    state.counters["cached_masks"] = static_cast<double>(impl.num_cached_masks());
    state.counters["memory_MiB"] = static_cast<double>(g->memory_bytes()) / (1 << 20);
  }
  report(state, us);
  // Per-mask thread CPU time (includes ~0.1–0.3 µs of clock overhead per mask).
  double cpu_sum = 0;
  for (double v : cpu_us) cpu_sum += v;
  state.counters["cpu_mean_us"] = cpu_us.empty() ? 0 : cpu_sum / cpu_us.size();
  state.counters["cpu_p99_us"] = bench::percentile(cpu_us, 0.99);
  state.counters["cpu_max_us"] = bench::percentile(cpu_us, 1.0);
  state.counters["cpu_max_at_doc"] = worst_doc;
  state.counters["cpu_max_at_step"] = worst_step;
  state.counters["cpu_s_total"] = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
  state.counters["compile_ms"] = compile_ms;
  state.counters["docs_accepted"] = accepted;
  state.counters["docs_refused"] = refused;
}

void random_walk(benchmark::State& state, const std::filesystem::path& path, const std::string& dialect) {
  auto tok = llama3();
  std::string file = path.filename().string();
  std::string text = bench::read_file(path);
  std::vector<int32_t> mask(bitmask_words(tok->vocab_size()));
  std::vector<double> us;
  std::vector<int32_t> allowed;
  for (auto _ : state) {
    CompileOptions opt;
    opt.threads = 1;
    Compiler compiler(tok, opt);
    auto g = compiler.compile_grammar(text, dialect, file);
    std::mt19937 rng(1234);
    us.clear();
    for (int walk = 0; walk < 50; ++walk) {
      Matcher m(g);
      for (int step = 0; step < 200; ++step) {
        auto t0 = std::chrono::steady_clock::now();
        m.fill_next_token_bitmask(mask.data());
        us.push_back(us_since(t0));
        allowed.clear();
        for (size_t w = 0; w < mask.size(); ++w) {
          uint32_t bits = static_cast<uint32_t>(mask[w]);
          while (bits) {
            allowed.push_back(static_cast<int32_t>(w * 32 + __builtin_ctz(bits)));
            bits &= bits - 1;
          }
        }
        if (allowed.empty()) break;
        int32_t id = allowed[rng() % allowed.size()];
        if (!m.accept_token(id)) state.SkipWithError("allowed token refused");
        if (m.is_terminated()) break;
      }
    }
  }
  report(state, us);
}

void compile(benchmark::State& state, const std::string& file) {
  auto tok = llama3();
  std::string text = bench::read_file(bench::data_dir() / "corpora/gbnf" / file);
  CompileOptions opt;
  opt.threads = 1;
  Compiler compiler(tok, opt);
  CompiledGrammarPtr g;
  for (auto _ : state) {
    g = compiler.compile_grammar(text, "gbnf", file);
    benchmark::DoNotOptimize(g);
  }
  state.counters["lexeme_states"] = static_cast<double>(g->stats().dfa_states);
  state.counters["masks"] = static_cast<double>(g->stats().distinct_masks);
}

int register_all() {
  benchmark::RegisterBenchmark("maskbench_replay/builtin_json", [](benchmark::State& s) { replay(s, true); })
      ->Iterations(1)->Unit(benchmark::kSecond);
  benchmark::RegisterBenchmark("maskbench_replay/json.gbnf", [](benchmark::State& s) { replay(s, false); })
      ->Iterations(1)->Unit(benchmark::kSecond);
  for (const char* f : {"c.gbnf", "english.gbnf"})
    benchmark::RegisterBenchmark((std::string("random_walk/") + f).c_str(),
                                 [f](benchmark::State& s) { random_walk(s, bench::data_dir() / "corpora/gbnf" / f, "gbnf"); })
        ->Iterations(1)->Unit(benchmark::kMillisecond);
  // Lark grammars (leftmost-first lexing, guarded completions).
  for (std::filesystem::path p : {bench::data_dir() / "corpora/llguidance/sample_parser/data/lark.lark",
                                  std::filesystem::path(TOLLGATE_SOURCE_DIR) / "tests/data/lark/sql.lark",
                                  std::filesystem::path(TOLLGATE_SOURCE_DIR) / "tests/data/lark/json.lark"})
    benchmark::RegisterBenchmark(("random_walk/" + p.filename().string()).c_str(),
                                 [p](benchmark::State& s) { random_walk(s, p, "lark"); })
        ->Iterations(1)->Unit(benchmark::kMillisecond);
  for (const char* f : {"arithmetic.gbnf", "c.gbnf", "chess.gbnf", "english.gbnf", "japanese.gbnf", "json.gbnf",
                        "json_arr.gbnf", "list.gbnf", "vllm-sql.gbnf"})
    benchmark::RegisterBenchmark((std::string("compile/") + f).c_str(), [f](benchmark::State& s) { compile(s, f); })
        ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("compile/builtin_json", [](benchmark::State& s) {
    CompileOptions opt;
    opt.threads = 1;
    for (auto _ : s) {
      Compiler c(llama3(), opt);
      benchmark::DoNotOptimize(c.builtin_json());
    }
  })->Unit(benchmark::kMillisecond);
  // What a Compiler costs to make, with its JSON warm-up (CompileOptions::warm_up_json) and without.
  for (bool warm : {true, false})
    benchmark::RegisterBenchmark(warm ? "construct/warm_up_json" : "construct/no_warm_up", [warm](benchmark::State& s) {
      CompileOptions opt;
      opt.threads = 1;
      opt.warm_up_json = warm;
      for (auto _ : s) {
        Compiler c(llama3(), opt);
        benchmark::DoNotOptimize(&c);
      }
    })->Unit(benchmark::kMillisecond);
  return 0;
}

const int kRegistered = register_all();

}  // namespace

BENCHMARK_MAIN();
