// Tool calls inside free text (issue 8), Llama-3, one thread:
//  - cold_compile/128x10: a fresh Compiler (no shared caches) compiles 128 generated tools of 10
//    mixed properties each (strings with lengths and patterns, integers with ranges, enums,
//    nested objects, arrays, booleans) and fills the first mask. Target ≤ 500 ms.
//  - mask/free_text: one mask fill per step along free text (a few hundred bytes of English as
//    Llama-3 encodes it, with '<' and partial triggers), the 128-tool grammar;
//    mask/unconstrained: the all-allowed fill of the same bitmask (std::fill) — the baseline.
// Run with --benchmark_repetitions=N --benchmark_report_aggregates_only=true to get medians.
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>
#include <random>

#include "bench_util.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;

namespace {

TokenizerInfoPtr llama3() {
  static TokenizerInfoPtr t = TokenizerInfo::from_file((bench::data_dir() / "tokenizers/llama3").string());
  return t;
}

// 128 tools × 10 properties, the same every run (seeded generator).
ToolCallSpec generated_tools(int tools = 128, int props = 10) {
  std::mt19937 rng(20261201);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const char* words[] = {"alpha", "bravo", "delta", "echo", "gamma", "kilo", "lima", "omega", "sigma", "tango"};
  ToolCallSpec spec;
  spec.triggers = {"<function="};
  for (int t = 0; t < tools; ++t) {
    nlohmann::ordered_json props_j = nlohmann::ordered_json::object();
    std::vector<std::string> required;
    for (int p = 0; p < props; ++p) {
      std::string name = std::string(words[pick(10)]) + "_" + std::to_string(p);
      nlohmann::ordered_json s;
      switch (p % 7) {
        case 0: s = {{"type", "string"}, {"minLength", 1}, {"maxLength", 16 + pick(48)}}; break;
        case 1: s = {{"type", "integer"}, {"minimum", -pick(100)}, {"maximum", 10 + pick(100000)}}; break;
        case 2: {
          std::vector<std::string> e;
          for (int k = 0, n = 2 + pick(6); k < n; ++k) e.push_back(std::string(words[pick(10)]) + std::to_string(k));
          s = {{"enum", e}};
          break;
        }
        case 3:
          s = {{"type", "object"},
               {"properties", {{"id", {{"type", "integer"}, {"minimum", 0}}}, {"label", {{"type", "string"}}}}},
               {"required", {"id"}},
               {"additionalProperties", false}};
          break;
        case 4: s = {{"type", "array"}, {"items", {{"type", "string"}}}, {"maxItems", 1 + pick(8)}}; break;
        case 5: s = {{"type", "boolean"}}; break;
        default: s = {{"type", "string"}, {"pattern", "^[a-z]{2,8}-[0-9]{1,4}$"}}; break;
      }
      props_j[name] = s;
      if (pick(2) == 0) required.push_back(name);
    }
    nlohmann::ordered_json schema = {
        {"type", "object"}, {"properties", props_j}, {"required", required}, {"additionalProperties", false}};
    spec.tags.push_back({"<function=tool_" + std::to_string(t) + ">", schema.dump(), "</function>"});
  }
  return spec;
}

const ToolCallSpec& spec() {
  static ToolCallSpec s = generated_tools();
  return s;
}

CompileOptions one_thread() {
  CompileOptions o;
  o.threads = 1;
  return o;
}

void BM_ColdCompile(benchmark::State& state) {
  auto tok = llama3();
  std::vector<int32_t> mask(bitmask_words(tok->vocab_size()));
  for (auto _ : state) {
    Compiler c(tok, one_thread());
    auto g = c.compile_tool_calls(spec());
    Matcher m(g);
    m.fill_next_token_bitmask(mask.data());
    benchmark::DoNotOptimize(mask.data());
  }
}
BENCHMARK(BM_ColdCompile)->Name("cold_compile/128x10")->Unit(benchmark::kMillisecond)->Iterations(3);

const char* kFreeText =
    "Sure! I can help with that. First, note that 3 < 4 and that <b>bold</b> text is fine here; "
    "tags like <func or <function are only a problem when the trigger completes. Let me think about "
    "the weather in Paris, the schedule for tomorrow, and the best way to answer your question in full. "
    "Here is a short list: apples, pears, 12 plums (about 1.5 kg), and some caf\xc3\xa9 au lait.";

struct Walk {
  CompiledGrammarPtr g;
  std::vector<int32_t> ids;
};

const Walk& free_walk() {
  static Walk w = [] {
    Compiler c(llama3(), one_thread());
    Walk w{c.compile_tool_calls(spec()), Encoder(llama3()).encode(kFreeText)};
    return w;
  }();
  return w;
}

// One fill per step along `ids` (accepting each token; reset at the end). Matchers are made
// outside the timing; the walk itself is untimed.
void fill_along(benchmark::State& state, const CompiledGrammarPtr& g, const std::string& prefix,
                const std::vector<int32_t>& ids) {
  std::vector<int32_t> mask(bitmask_words(llama3()->vocab_size()));
  Matcher m(g, 0);
  if (!prefix.empty() && !m.accept_bytes(prefix)) state.SkipWithError("prefix refused");
  Matcher start = m;
  size_t i = 0;
  for (auto _ : state) {
    m.fill_next_token_bitmask(mask.data());
    benchmark::DoNotOptimize(mask.data());
    state.PauseTiming();
    if (i == ids.size() || !m.accept_token(ids[i])) {
      m = Matcher(start);
      i = 0;
    } else {
      ++i;
    }
    state.ResumeTiming();
  }
}

void BM_FreeText(benchmark::State& state) {
  const Walk& w = free_walk();
  fill_along(state, w.g, "", w.ids);
}
BENCHMARK(BM_FreeText)->Name("mask/free_text")->Unit(benchmark::kMicrosecond);

void BM_Unconstrained(benchmark::State& state) {
  std::vector<int32_t> mask(bitmask_words(llama3()->vocab_size()));
  for (auto _ : state) {
    std::fill(mask.begin(), mask.end(), -1);
    benchmark::DoNotOptimize(mask.data());
    benchmark::ClobberMemory();
    state.PauseTiming();  // the same harness as mask/free_text (whose walk is untimed)
    state.ResumeTiming();
  }
}
BENCHMARK(BM_Unconstrained)->Name("mask/unconstrained")->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
