// tollgate bench memory — the memory one compiled grammar holds over a long run of sequences.
// Takes: a directory of MaskBench files (their valid tests' tokens_llama3), a grammar (the built-in
// JSON grammar, or a GBNF/Lark file), a number of sequences, cache budgets. Gives: every `every`
// sequences a line of the curve — CompiledGrammar::memory_bytes() and its parts (Earley graph with
// its memo tables, token index, whole-mask cache, boundary/local-walk/guard caches, walk DFA),
// the process RSS, and the thread CPU time per mask (mean, p50, p99) of that window. Sequences run
// one after another through one grammar: the valid documents replayed round-robin, and, for a
// share of them (--walk-share), a seeded random walk choosing uniformly among the allowed tokens
// (up to --walk-tokens tokens, then EOS when allowed), so the run is not all cached repeats.
// --generation-mib sets CompileOptions::generation_bytes (the curve shows the generations started
// and live); --compare also drives a second compile of the grammar without a generation budget
// (one generation for ever, the behaviour before generations) in lock step with the first, the
// two masks of a step filled in alternating order, and prints its Earley bytes and mask times side
// by side (and counts masks that differ: there must be none). Whole-run percentiles come from a
// histogram (0.01 µs bins up to 1 ms), so the bench's own memory stays flat.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <memory>
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
  double generation_mib = -1;  // CompileOptions::generation_bytes in MiB (negative: the default)
  bool compare = false;
};

// Mask times of a whole run: 0.01 µs bins up to 1 ms, the rare longer ones kept as they are.
struct TimeHistogram {
  static constexpr size_t kBins = 100000;
  std::vector<uint64_t> bins = std::vector<uint64_t>(kBins, 0);
  std::vector<double> over;
  double sum = 0;
  size_t n = 0;
  void add(double us) {
    sum += us;
    ++n;
    size_t b = static_cast<size_t>(std::max(0.0, us) * 100);
    if (b < kBins) ++bins[b];
    else over.push_back(us);
  }
  double quantile(double q) {  // nearest rank
    size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
    rank = std::max<size_t>(rank, 1);
    size_t seen = 0;
    for (size_t b = 0; b < kBins; ++b)
      if ((seen += bins[b]) >= rank) return (static_cast<double>(b) + 0.5) / 100;
    std::sort(over.begin(), over.end());
    return over.empty() ? 0 : over[std::min(over.size() - 1, rank - seen - 1)];
  }
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
  if (a.generation_mib >= 0) copt.generation_bytes = static_cast<size_t>(a.generation_mib * 1048576.0);
  const double rss0 = rss_mib();
  auto compile = [&](const CompileOptions& o) {
    Compiler compiler(tok, o);
    if (a.grammar == "builtin-json") return compiler.builtin_json();
    std::string ext = fs::path(a.grammar).extension().string();
    std::string format = ext == ".lark" ? "lark" : ext == ".ebnf" ? "ebnf" : "gbnf";
    return compiler.compile_grammar(read_file(a.grammar), format, a.grammar);
  };
  CompiledGrammarPtr g = compile(copt), base;
  if (a.compare) {
    CompileOptions one = copt;
    one.generation_bytes = 0;
    base = compile(one);
  }
  const auto* cfg = dynamic_cast<const engine::CfgGrammar*>(&g->impl());
  if (!cfg) throw Error(ErrorKind::kInvalidArgument, "bench memory measures context-free grammars");
  const auto* cfg_base = base ? dynamic_cast<const engine::CfgGrammar*>(&base->impl()) : nullptr;
  std::printf("%zu documents from %zu files; grammar %s; %zu sequences, %.0f%% random walks of up to %d tokens; "
              "generation budget %.1f MiB%s\n",
              docs.size(), num_files, a.grammar.c_str(), a.sequences, 100 * a.walk_share, a.walk_tokens,
              copt.generation_bytes / 1048576.0, a.compare ? "; compared with one generation (budget 0)" : "");
  std::printf("%9s %8s %8s %5s %5s %8s %8s %8s %8s %8s %9s %9s %9s %8s", "sequences", "MiB", "earley", "gens", "live",
              "index", "masks", "boundary", "walk", "RSS+", "mean µs", "p50 µs", "p99 µs", "refused");
  if (base) std::printf(" | %8s %8s %9s %9s %9s %6s", "MiB(1g)", "earl(1g)", "mean(1g)", "p50(1g)", "p99(1g)", "differ");
  std::printf("\n");
  std::mt19937_64 rng(a.seed);
  std::uniform_real_distribution<double> coin(0, 1);
  std::vector<int32_t> mask(bitmask_words(tok->vocab_size())), mask_base(mask.size());
  std::vector<double> window, window_base;
  TimeHistogram all, all_base;
  size_t next_doc = 0, refused = 0, differ = 0;
  const double M = 1048576.0;
  auto is_set = [&](int32_t id) { return (mask[id >> 5] >> (id & 31)) & 1; };
  auto timed_fill = [&](const Matcher& m, std::vector<int32_t>& out, std::vector<double>& times, TimeHistogram& h) {
    double c0 = thread_cpu_us();
    m.fill_next_token_bitmask(out.data());
    double us = thread_cpu_us() - c0;
    times.push_back(us);
    h.add(us);
  };
  for (size_t seq = 1; seq <= a.sequences; ++seq) {
    Matcher m(g);
    std::unique_ptr<Matcher> mb = base ? std::make_unique<Matcher>(base) : nullptr;
    // Both masks of a step, in alternating order (the second finds the first's data in the CPU caches).
    auto fill = [&] {
      if (mb && seq % 2 == 0) timed_fill(*mb, mask_base, window_base, all_base);
      timed_fill(m, mask, window, all);
      if (mb && seq % 2 == 1) timed_fill(*mb, mask_base, window_base, all_base);
      if (mb && mask != mask_base) ++differ;
    };
    auto accept = [&](int32_t id) {
      bool ok = m.accept_token(id);
      if (mb && mb->accept_token(id) != ok) ++differ;
      return ok;
    };
    if (coin(rng) < a.walk_share) {
      // A random walk inside the mask; a sampled EOS ends it.
      for (int step = 0; step < a.walk_tokens && !m.is_terminated(); ++step) {
        fill();
        // The k-th allowed token (uniform), found by popcounts rather than listing them all.
        size_t count = 0;
        for (int32_t w : mask) count += static_cast<size_t>(__builtin_popcount(static_cast<uint32_t>(w)));
        if (count == 0) break;
        size_t k = rng() % count;
        int32_t id = -1;
        for (int32_t w = 0; id < 0; ++w) {
          uint32_t bits = static_cast<uint32_t>(mask[w]);
          size_t c = static_cast<size_t>(__builtin_popcount(bits));
          if (k >= c) {
            k -= c;
            continue;
          }
          for (; k > 0; --k) bits &= bits - 1;
          id = w * 32 + __builtin_ctz(bits);
        }
        if (!accept(id)) ++refused;  // a token of the mask must be accepted
      }
    } else {
      const std::vector<int32_t>& doc = docs[next_doc++ % docs.size()].tokens;
      for (int32_t id : doc) {
        fill();
        if (!is_set(id) || !accept(id)) {
          ++refused;
          break;
        }
      }
    }
    if (seq % a.every == 0 || seq == a.sequences) {
      auto stats = [](std::vector<double>& w, double& mu, double& p50, double& p99) {
        std::sort(w.begin(), w.end());
        mu = w.empty() ? 0 : mean(w);
        p50 = w.empty() ? 0 : percentile(w, 0.5);
        p99 = w.empty() ? 0 : percentile(w, 0.99);
        w.clear();
      };
      double mu, p50, p99;
      stats(window, mu, p50, p99);
      std::printf("%9zu %8.2f %8.2f %5zu %5zu %8.2f %8.2f %8.2f %8.2f %8.1f %9.2f %9.2f %9.1f %8zu", seq,
                  g->memory_bytes() / M, cfg->earley_bytes() / M, cfg->num_generations(), cfg->num_live_generations(),
                  cfg->index_bytes() / M, cfg->mask_cache_bytes() / M, cfg->cache_bytes() / M, cfg->walk_bytes() / M,
                  rss_mib() - rss0, mu, p50, p99, refused);
      if (cfg_base) {
        stats(window_base, mu, p50, p99);
        std::printf(" | %8.2f %8.2f %9.2f %9.2f %9.1f %6zu", base->memory_bytes() / M, cfg_base->earley_bytes() / M, mu,
                    p50, p99, differ);
      }
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  auto summary = [](const char* what, TimeHistogram& h) {
    if (h.n == 0) return;
    std::printf("%s: all %zu masks (thread CPU time): mean %.2f µs, p50 %.2f µs, p99 %.1f µs\n", what, h.n,
                h.sum / static_cast<double>(h.n), h.quantile(0.5), h.quantile(0.99));
  };
  summary("generation budget", all);
  if (base) summary("one generation", all_base);
  if (base) std::printf("masks or accepts that differ between the two: %zu\n", differ);
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
  cmd->add_option("--generation-mib", a->generation_mib,
                  "CompileOptions::generation_bytes in MiB (default: CompileOptions'; 0: one generation)");
  cmd->add_flag("--compare", a->compare,
                "also drive the grammar compiled with one generation for ever (budget 0) in lock step: its memory "
                "and mask times side by side, and masks that differ");
  cmd->callback([a] { run_bench_memory(*a); });
}

}  // namespace tollgate::cli
