// Soak: N threads drive random matchers over shared compiled grammars for a while, with the
// invariants of tests/fuzz/matcher_walk.hpp checked at every step (mask ⇔ accept, rollback
// restores the mask, forks agree), while the main thread samples the process RSS every second.
// Takes: --threads N (8), --seconds S (600), --max-rss-mb M (bound checked at every sample),
// --schemas K (maskbench-dev schemas added to the grammar set, 40), --generation-mib G
// (CompileOptions::generation_bytes of every grammar; default CompileOptions'), TOLLGATE_DATA_DIR.
// Gives: one line per 10 s (walks, steps, RSS, bytes held by the grammars), a summary, exit 1 when the RSS bound is crossed
// (abort on a broken invariant). Built as tollgate_soak; run by hand (docs/reliability.md), and
// under -fsanitize=thread for the TSan soak.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/fuzz/matcher_walk.hpp"
#include "tollgate/matcher.hpp"

namespace fs = std::filesystem;
using namespace tollgate;

namespace {

double rss_mb() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

struct Rng {
  std::mt19937 gen;
  size_t left;
  bool empty() const { return left == 0; }
  uint32_t byte() {
    --left;
    return gen() & 0xFF;
  }
};

}  // namespace

int main(int argc, char** argv) {
  int threads = 8, seconds = 600, schemas = 40;
  double max_rss = 0, generation_mib = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--seconds") seconds = std::atoi(argv[i + 1]);
    else if (a == "--max-rss-mb") max_rss = std::atof(argv[i + 1]);
    else if (a == "--schemas") schemas = std::atoi(argv[i + 1]);
    else if (a == "--generation-mib") generation_mib = std::atof(argv[i + 1]);
    else {
      std::fprintf(stderr,
                   "usage: tollgate_soak [--threads N] [--seconds S] [--max-rss-mb M] [--schemas K] [--generation-mib G]\n");
      return 2;
    }
  }
  const char* dd = std::getenv("TOLLGATE_DATA_DIR");
  fs::path data = dd ? dd : fs::path(TOLLGATE_SOURCE_DIR) / "../shared";
  if (!fs::exists(data / "tokenizers/llama3")) {
    std::fprintf(stderr, "soak: needs the Llama-3 tokenizer under %s (TOLLGATE_DATA_DIR)\n", data.c_str());
    return 2;
  }
  auto tok = TokenizerInfo::from_file((data / "tokenizers/llama3").string());
  CompileOptions options;
  if (generation_mib >= 0) options.generation_bytes = static_cast<size_t>(generation_mib * (1 << 20));
  Compiler compiler(tok, options);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<CompiledGrammarPtr> grammars = fuzz::walk_grammars(compiler, data);
  std::vector<fs::path> files;
  if (fs::exists(data / "corpora/maskbench-dev")) {
    for (auto& e : fs::directory_iterator(data / "corpora/maskbench-dev"))
      if (e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  int added = 0, refused = 0;
  for (size_t i = 0; i < files.size() && added < schemas; i += std::max<size_t>(1, files.size() / std::max(schemas, 1))) {
    try {
      auto doc = nlohmann::json::parse(fuzz::slurp(files[i]));
      JsonSchemaOptions so;
      so.lenient = true;
      grammars.push_back(compiler.compile_json_schema(doc["schema"].dump(), so));
      ++added;
    } catch (const std::exception&) {
      ++refused;
    }
  }
  double compile_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("soak: %zu grammars (%d maskbench-dev schemas, %d refused) compiled in %.1f s; RSS %.0f MB; %d threads x %d s; "
              "generation budget %.0f MiB\n",
              grammars.size(), added, refused, compile_s, rss_mb(), threads, seconds,
              static_cast<double>(options.generation_bytes) / (1 << 20));
  std::fflush(stdout);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> walks{0}, steps{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937 seed(1234 + t);
      while (!stop.load(std::memory_order_relaxed)) {
        Rng in{std::mt19937(seed()), 1024};
        const auto& g = grammars[in.gen() % grammars.size()];
        fuzz::walk_matcher(g, in, 128);
        walks.fetch_add(1, std::memory_order_relaxed);
        steps.fetch_add((1024 - in.left) / 3, std::memory_order_relaxed);  // ~3 bytes a step
      }
    });
  }
  // What the grammars hold (CompiledGrammar::memory_bytes: automata, index, Earley graph and memo
  // maps, run-time caches), to tell their growth from anything else in the RSS.
  auto held_mb = [&] {
    size_t b = 0;
    for (const auto& g : grammars) b += g->memory_bytes();
    return static_cast<double>(b) / (1 << 20);
  };
  double peak = 0, first = rss_mb(), first_held = held_mb();
  bool over = false;
  for (int s = 1; s <= seconds; ++s) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    double r = rss_mb();
    peak = std::max(peak, r);
    if (max_rss > 0 && r > max_rss) {
      std::printf("soak: RSS %.0f MB over the bound of %.0f MB at %d s\n", r, max_rss, s);
      over = true;
      break;
    }
    if (s % 10 == 0) {
      std::printf("soak: %4d s  walks %llu  steps ~%llu  RSS %.0f MB (peak %.0f)  held by the grammars %.0f MB\n", s,
                  static_cast<unsigned long long>(walks.load()), static_cast<unsigned long long>(steps.load()), r, peak,
                  held_mb());
      std::fflush(stdout);
    }
  }
  stop = true;
  for (auto& th : pool) th.join();
  std::printf("soak: done: %llu walks, ~%llu steps, RSS at start of the walks %.0f MB, peak %.0f MB, at end %.0f MB; "
              "held by the grammars %.0f MB at start, %.0f MB at end%s\n",
              static_cast<unsigned long long>(walks.load()), static_cast<unsigned long long>(steps.load()), first, peak,
              rss_mb(), first_held, held_mb(), over ? " (OVER THE BOUND)" : "");
  return over ? 1 : 0;
}
