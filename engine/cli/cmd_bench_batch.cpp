// tollgate bench batch — BatchMatcher wall time on lock-step MaskBench replays.
// Takes: a directory of MaskBench files (their valid tests' tokens_llama3), batch sizes, thread
// counts, a step count. Gives: per (batch, threads), the wall time of each batch mask fill over
// `steps` steps in which every sequence advances one token (a sequence that ends — its tokens and
// EOS accepted — is replaced by the next document: requests finish and arrive); p50, p99, max and
// mean, and the per-sequence cost. Every configuration starts from a fresh Compiler (cold caches),
// and the configurations run one after another in the same process, so their ratios are fair.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>

#include "engine/cli/commands.hpp"
#include "tollgate/batch.hpp"

namespace tollgate::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct BatchArgs {
  std::string dir;
  std::string tokenizer = "llama3";
  std::string batches = "64,256";
  std::string threads = "1,2";
  int steps = 300;
  std::string grammar = "builtin-json";
  std::string budgets;  // mask,boundary,walk cache budgets in MiB (empty: CompileOptions' defaults)
};

std::vector<int> int_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    int v = std::stoi(item);
    if (v <= 0) throw Error(ErrorKind::kInvalidArgument, "not a positive number: " + item);
    out.push_back(v);
  }
  return out;
}

using Doc = MaskBenchDoc;

void run_bench_batch(const BatchArgs& a) {
  TokenizerInfoPtr tok = load_tokenizer(a.tokenizer);
  std::string dir = a.dir.empty() ? data_dir() + "/corpora/maskbench-dev" : a.dir;
  size_t num_files = 0;
  const std::vector<MaskBenchDoc> docs = read_maskbench_docs(dir, &num_files);
  std::printf("%zu documents from %zu files; grammar %s; %d steps per configuration\n", docs.size(), num_files,
              a.grammar.c_str(), a.steps);
  std::printf("%6s %7s %10s %10s %10s %10s %12s %8s %8s %6s\n", "batch", "threads", "p50 ms", "p99 ms", "max ms",
              "mean ms", "µs/sequence", "swaps", "refused", "MiB");
  const int32_t words = bitmask_words(tok->vocab_size());
  for (int batch : int_list(a.batches)) {
    for (int threads : int_list(a.threads)) {
      CompileOptions copt;
      if (!a.budgets.empty()) {
        std::vector<int> b = int_list(a.budgets);
        if (b.size() != 3) throw Error(ErrorKind::kInvalidArgument, "--budgets takes three numbers: mask,boundary,walk");
        copt.mask_cache_bytes = size_t(b[0]) << 20;
        copt.boundary_cache_bytes = size_t(b[1]) << 20;
        copt.walk_cache_bytes = size_t(b[2]) << 20;
      }
      Compiler compiler(tok, copt);
      std::map<std::string, CompiledGrammarPtr> by_schema;
      auto grammar_of = [&](const Doc& d) -> CompiledGrammarPtr {
        if (a.grammar == "builtin-json") return compiler.builtin_json();
        auto it = by_schema.find(d.schema);
        if (it != by_schema.end()) return it->second;
        CompiledGrammarPtr g;
        try {
          g = compiler.compile_json_schema(d.schema);
        } catch (const Error&) {
        }
        return by_schema[d.schema] = g;
      };
      BatchMatcher pool(threads);
      size_t next_doc = 0, swaps = 0, refused = 0;
      std::vector<std::optional<Matcher>> ms(batch);
      std::vector<const Doc*> doc_of(batch);
      std::vector<size_t> pos(batch, 0);
      auto start_next = [&](int i) {
        for (;;) {
          const Doc& d = docs[next_doc++ % docs.size()];
          if (CompiledGrammarPtr g = grammar_of(d)) {
            ms[i].emplace(g);
            doc_of[i] = &d;
            pos[i] = 0;
            return;
          }
        }
      };
      for (int i = 0; i < batch; ++i) start_next(i);
      std::vector<int32_t> bitmask(static_cast<size_t>(batch) * words);
      std::vector<double> ms_per_step;
      std::vector<const Matcher*> ptrs(batch);
      for (int step = 0; step < a.steps; ++step) {
        for (int i = 0; i < batch; ++i) ptrs[i] = &*ms[i];
        auto t0 = Clock::now();
        pool.fill_next_token_bitmask(ptrs, bitmask.data());
        ms_per_step.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        for (int i = 0; i < batch; ++i) {
          Matcher& m = *ms[i];
          const Doc& d = *doc_of[i];
          int32_t t = pos[i] < d.tokens.size() ? d.tokens[pos[i]] : tok->eos_ids()[0];
          ++pos[i];
          const bool ok = m.accept_token(t);
          refused += !ok;
          if (!ok || m.is_terminated()) {
            start_next(i);
            ++swaps;
          }
        }
      }
      std::vector<double> sorted = ms_per_step;
      std::sort(sorted.begin(), sorted.end());
      // Memory the grammars hold at the end (automata, index, the caches of every matcher's steps).
      double mib = 0;
      if (a.grammar == "builtin-json") mib = compiler.builtin_json()->memory_bytes() / 1048576.0;
      else
        for (auto& [k, g] : by_schema)
          if (g) mib += g->memory_bytes() / 1048576.0;
      std::printf("%6d %7d %10.3f %10.3f %10.3f %10.3f %12.2f %8zu %8zu %6.1f\n", batch, pool.threads(),
                  percentile(sorted, 0.5), percentile(sorted, 0.99), sorted.back(), mean(sorted),
                  1000 * percentile(sorted, 0.5) / batch, swaps, refused, mib);
      std::fflush(stdout);
    }
  }
  // fork(): a matcher well into a document (a full history of 64 steps) copied 100,000 times.
  Compiler compiler(tok);
  const Doc* longest = &docs[0];
  for (const Doc& d : docs)
    if (d.tokens.size() > longest->tokens.size()) longest = &d;
  Matcher m(compiler.builtin_json(), 64);
  size_t n = std::min<size_t>(longest->tokens.size(), 200);
  for (size_t i = 0; i < n; ++i) m.accept_token(longest->tokens[i]);
  const int forks = 100000;
  auto t0 = Clock::now();
  size_t sink = 0;
  for (int i = 0; i < forks; ++i) {
    Matcher f = m.fork();
    sink += f.num_accepted();
  }
  double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / forks;
  std::printf("fork: %.0f ns per fork (after %zu tokens, %d steps of history; checksum %zu)\n", ns, n,
              m.num_accepted(), sink / forks);
}

}  // namespace

void add_bench_batch_command(CLI::App& bench) {
  auto a = std::make_shared<BatchArgs>();
  CLI::App* cmd = bench.add_subcommand(
      "batch", "BatchMatcher: wall time of one batch mask fill on lock-step MaskBench replays (p50/p99)");
  cmd->add_option("dir", a->dir, "directory of MaskBench *.json files (default: $TOLLGATE_DATA_DIR/corpora/maskbench-dev)");
  cmd->add_option("--tokenizer,-t", a->tokenizer, "tokenizer (the tests' tokens are Llama-3 ids)")->capture_default_str();
  cmd->add_option("--batch", a->batches, "batch sizes, comma-separated")->capture_default_str();
  cmd->add_option("--threads", a->threads, "BatchMatcher thread counts, comma-separated")->capture_default_str();
  cmd->add_option("--steps", a->steps, "steps per configuration")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--budgets", a->budgets, "cache budgets in MiB: mask,boundary,walk (default: CompileOptions')");
  cmd->add_option("--grammar", a->grammar, "the built-in JSON grammar for every sequence, or each test's schema")
      ->check(CLI::IsMember({"builtin-json", "schema"}))
      ->capture_default_str();
  cmd->callback([a] { run_bench_batch(*a); });
}

}  // namespace tollgate::cli
