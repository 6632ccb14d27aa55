// tollgate bench memory — the memory one compiled grammar holds over a long run of sequences.
// Takes: a directory of MaskBench files (their valid tests' tokens_llama3), a grammar (the built-in
// JSON grammar, or a GBNF/Lark file), a number of sequences, cache budgets. Gives: every `every`
// sequences a line of the curve — CompiledGrammar::memory_bytes() and its parts (Earley graph with
// its memo tables, token index, whole-mask cache, boundary/local-walk/guard caches, walk DFA),
// the process RSS, and the thread CPU time per mask (mean, p50, p99) of that window. Sequences run
// one after another through one grammar: the valid documents replayed round-robin, and, for a
// share of them (--walk-share), a seeded random walk choosing uniformly among the allowed tokens
// (up to --walk-tokens tokens, then EOS when allowed), so the run is not all cached repeats.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "engine/cfg_backend.hpp"
#include "engine/cli/commands.hpp"

namespace tollgate::cli {

namespace {

namespace fs = std::filesystem;

struct MemoryArgs {
  std::string dir;
  std::string tokenizer = "llama3";
  std::string grammar = "builtin-json";
  size_t sequences = 100000;
  size_t every = 1000;
  double walk_share = 0.5;
  int walk_tokens = 200;
  uint64_t seed = 1;
  std::string budgets;  // mask,boundary,walk cache budgets in MiB (empty: CompileOptions' defaults)
};

double thread_cpu_us() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

double rss_mib() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

void run_bench_memory(const MemoryArgs& a) {
  TokenizerInfoPtr tok = load_tokenizer(a.tokenizer);
  std::string dir = a.dir.empty() ? data_dir() + "/corpora/maskbench-dev" : a.dir;
  size_t num_files = 0;
  const std::vector<MaskBenchDoc> docs = read_maskbench_docs(dir, &num_files);
  CompileOptions copt;
  copt.threads = 1;
  if (!a.budgets.empty()) {
    std::vector<size_t> b;
    std::stringstream ss(a.budgets);
    for (std::string item; std::getline(ss, item, ',');) b.push_back(std::stoull(item));
    if (b.size() != 3) throw Error(ErrorKind::kInvalidArgument, "--budgets takes three numbers: mask,boundary,walk");
    copt.mask_cache_bytes = b[0] << 20;
    copt.boundary_cache_bytes = b[1] << 20;
    copt.walk_cache_bytes = b[2] << 20;
  }
  const double rss0 = rss_mib();
  Compiler compiler(tok, copt);
  CompiledGrammarPtr g;
  if (a.grammar == "builtin-json") {
    g = compiler.builtin_json();
  } else {
    std::string ext = fs::path(a.grammar).extension().string();
    std::string format = ext == ".lark" ? "lark" : ext == ".ebnf" ? "ebnf" : "gbnf";
    g = compiler.compile_grammar(read_file(a.grammar), format, a.grammar);
  }
  const auto* cfg = dynamic_cast<const engine::CfgGrammar*>(&g->impl());
  if (!cfg) throw Error(ErrorKind::kInvalidArgument, "bench memory measures context-free grammars");
  std::printf("%zu documents from %zu files; grammar %s; %zu sequences, %.0f%% random walks of up to %d tokens\n",
              docs.size(), num_files, a.grammar.c_str(), a.sequences, 100 * a.walk_share, a.walk_tokens);
  std::printf("%9s %8s %8s %8s %8s %8s %8s %8s %9s %9s %9s %8s\n", "sequences", "MiB", "earley", "index", "masks",
              "boundary", "walk", "RSS+", "mean µs", "p50 µs", "p99 µs", "refused");
  std::mt19937_64 rng(a.seed);
  std::uniform_real_distribution<double> coin(0, 1);
  std::vector<int32_t> mask(bitmask_words(tok->vocab_size())), allowed;
  std::vector<double> window, all;
  size_t next_doc = 0, refused = 0;
  const double M = 1048576.0;
  auto is_set = [&](int32_t id) { return (mask[id >> 5] >> (id & 31)) & 1; };
  auto timed_fill = [&](const Matcher& m) {
    double c0 = thread_cpu_us();
    m.fill_next_token_bitmask(mask.data());
    window.push_back(thread_cpu_us() - c0);
  };
  for (size_t seq = 1; seq <= a.sequences; ++seq) {
    Matcher m(g);
    if (coin(rng) < a.walk_share) {
      // A random walk inside the mask; a sampled EOS ends it.
      for (int step = 0; step < a.walk_tokens && !m.is_terminated(); ++step) {
        timed_fill(m);
        allowed.clear();
        for (int32_t w = 0; w < static_cast<int32_t>(mask.size()); ++w)
          for (uint32_t bits = static_cast<uint32_t>(mask[w]); bits; bits &= bits - 1)
            allowed.push_back(w * 32 + __builtin_ctz(bits));
        if (allowed.empty()) break;
        int32_t id = allowed[rng() % allowed.size()];
        if (!m.accept_token(id)) ++refused;  // a token of the mask must be accepted
      }
    } else {
      const std::vector<int32_t>& doc = docs[next_doc++ % docs.size()].tokens;
      for (int32_t id : doc) {
        timed_fill(m);
        if (!is_set(id) || !m.accept_token(id)) {
          ++refused;
          break;
        }
      }
    }
    if (seq % a.every == 0 || seq == a.sequences) {
      std::vector<double> sorted = window;
      std::sort(sorted.begin(), sorted.end());
      all.insert(all.end(), window.begin(), window.end());
      window.clear();
      const double earley = cfg->rt->graph().memory_bytes() / M;
      std::printf("%9zu %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %8.1f %9.2f %9.2f %9.1f %8zu\n", seq, g->memory_bytes() / M,
                  earley, cfg->index_bytes() / M, cfg->mask_cache_bytes() / M, cfg->cache_bytes() / M,
                  cfg->walk_bytes() / M, rss_mib() - rss0, sorted.empty() ? 0 : mean(sorted),
                  sorted.empty() ? 0 : percentile(sorted, 0.5), sorted.empty() ? 0 : percentile(sorted, 0.99), refused);
      std::fflush(stdout);
    }
  }
  std::sort(all.begin(), all.end());
  if (!all.empty())
    std::printf("all %zu masks (thread CPU time): mean %.2f µs, p50 %.2f µs, p99 %.1f µs, max %.0f µs\n", all.size(),
                mean(all), percentile(all, 0.5), percentile(all, 0.99), all.back());
}

}  // namespace

void add_bench_memory_command(CLI::App& bench) {
  auto a = std::make_shared<MemoryArgs>();
  CLI::App* cmd = bench.add_subcommand(
      "memory", "memory of one compiled grammar over many sequences in turn (MaskBench replays and random walks)");
  cmd->add_option("dir", a->dir, "directory of MaskBench *.json files (default: $TOLLGATE_DATA_DIR/corpora/maskbench-dev)");
  cmd->add_option("--tokenizer,-t", a->tokenizer, "tokenizer (the tests' tokens are Llama-3 ids)")->capture_default_str();
  cmd->add_option("--grammar", a->grammar, "builtin-json, or a .gbnf/.lark/.ebnf file")->capture_default_str();
  cmd->add_option("--sequences,-n", a->sequences, "sequences in turn")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--every", a->every, "a line of the curve every this many sequences")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--walk-share", a->walk_share, "share of the sequences that are random walks inside the mask")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--walk-tokens", a->walk_tokens, "tokens per random walk at most")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "random walk seed")->capture_default_str();
  cmd->add_option("--budgets", a->budgets, "cache budgets in MiB: mask,boundary,walk (default: CompileOptions')");
  cmd->callback([a] { run_bench_memory(*a); });
}

}  // namespace tollgate::cli
