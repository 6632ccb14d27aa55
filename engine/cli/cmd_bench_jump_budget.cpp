// tollgate bench jump-forward / bench length-budget — replays of MaskBench valid instances.
// Takes: a directory of MaskBench files (each schema and its valid tests' tokens_llama3) and the
// Llama-3 tokenizer.
// Gives:
//  - jump-forward: each schema compiled with compact and with default (flexible) whitespace; each
//    valid instance written to fit (compact: re-serialised without whitespace, in its own key
//    order; default: the instance's own text) and tokenized canonically; the walk takes the
//    instance's tokens and, at each step, asks Matcher::jump_forward_tokens (with rollback 0 and
//    with --rollback) how many of the instance's next tokens it would supply (its tokens that
//    equal the instance's, after the rollback). Reported: the share of the instances' tokens
//    jump-forward supplies, and how often its tokens differ from the canonical ones.
//  - length-budget: the per-step mask cost (thread CPU time of fill_next_token_bitmask) along the
//    same instances with the budget off, large (the instance's bytes + 10,000), fits (the
//    instance's bytes: it just fits, since a byte bounds a token) and tight (set at every step to
//    the shortest completion + 2, so most steps filter), the four filled in turn at every step,
//    the first one rotating (a new configuration's lazy index work falls on each alike): median,
//    p99, mean, and the ratio to "off" measured in the same run.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/cli/commands.hpp"
#include "tollgate/encoder.hpp"

namespace tollgate::cli {

namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

struct Args {
  std::string dir;
  int rollback = 4;
  int max_files = 0;  // 0: all
  int stride = 1;
};

struct BenchFile {
  fs::path path;
  std::string schema;
  std::vector<TestCase> tests;
};

// Every stride-th MaskBench file of the directory (sorted), at most max_files, read (bad files skipped).
std::vector<BenchFile> maskbench_files(const Args& a) {
  std::string dir = a.dir.empty() ? data_dir() + "/corpora/maskbench-dev" : a.dir;
  std::vector<fs::path> paths;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".json") paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  std::vector<BenchFile> picked;
  for (size_t i = 0; i < paths.size(); i += static_cast<size_t>(std::max(1, a.stride))) {
    BenchFile f{paths[i], {}, {}};
    try {
      read_maskbench_file(f.path, f.schema, f.tests);
    } catch (const std::exception&) {
      continue;
    }
    picked.push_back(std::move(f));
    if (a.max_files > 0 && static_cast<int>(picked.size()) >= a.max_files) break;
  }
  return picked;
}

double thread_cpu_us() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

struct JumpCounts {
  long docs = 0, skipped = 0, tokens = 0, supplied = 0, calls = 0, noncanonical = 0, rolled_back = 0;
};

// Walks `toks` (the instance's canonical tokens) through a matcher of g, counting what
// jump_forward_tokens(max_rollback) supplies. False when the grammar refuses the instance.
bool walk_jump(const CompiledGrammarPtr& g, const Encoder& enc, const std::vector<int32_t>& toks, int max_rollback,
               JumpCounts& c) {
  Matcher m(g, std::max(64, max_rollback + 1));
  long supplied = 0, calls = 0, noncanon = 0, rolled = 0;
  size_t i = 0;
  while (i < toks.size()) {
    JumpForwardTokens jf = m.jump_forward_tokens(enc, max_rollback);
    size_t take = 0;
    if (!jf.tokens.empty()) {
      ++calls;
      const size_t start = i - static_cast<size_t>(jf.rollback);
      size_t same = 0;
      while (same < jf.tokens.size() && start + same < toks.size() && jf.tokens[same] == toks[start + same]) ++same;
      if (same < jf.tokens.size()) ++noncanon;
      if (start + same > i) take = start + same - i;
      if (jf.rollback > 0 && take > 0) ++rolled;
    }
    if (take == 0) take = 1;  // sampled
    else supplied += static_cast<long>(take);
    for (size_t k = 0; k < take; ++k)
      if (!m.accept_token(toks[i + k])) return false;
    i += take;
  }
  if (!m.is_accepting()) return false;
  c.docs++;
  c.tokens += static_cast<long>(toks.size());
  c.supplied += supplied;
  c.calls += calls;
  c.noncanonical += noncanon;
  c.rolled_back += rolled;
  return true;
}

void run_jump(const Args& a) {
  TokenizerInfoPtr tok = load_tokenizer("llama3");
  Encoder enc(tok);
  CompileOptions co;
  co.threads = 1;
  Compiler compiler(tok, co);
  const std::vector<BenchFile> files = maskbench_files(a);
  struct Mode {
    const char* name;
    JsonSchemaOptions::Whitespace ws;
    JumpCounts plain, rb;
  };
  Mode modes[2] = {{"compact", JsonSchemaOptions::Whitespace::kCompact, {}, {}},
                   {"default", JsonSchemaOptions::Whitespace::kFlexible, {}, {}}};
  long refused_schemas = 0;
  for (const BenchFile& bf : files) {
    const std::string& schema = bf.schema;
    const std::vector<TestCase>& tests = bf.tests;
    const fs::path& f = bf.path;
    for (Mode& mode : modes) {
      JsonSchemaOptions so;
      so.whitespace = mode.ws;
      CompiledGrammarPtr g;
      try {
        g = compiler.compile_json_schema(schema, so, f.filename().string());
      } catch (const Error&) {
        ++refused_schemas;
        continue;
      }
      for (const TestCase& t : tests) {
        if (!t.valid) continue;
        std::string text = enc.decode(t.tokens);
        if (mode.ws == JsonSchemaOptions::Whitespace::kCompact) {
          ojson doc = ojson::parse(text, nullptr, false);
          if (doc.is_discarded()) {
            ++mode.plain.skipped;
            continue;
          }
          text = doc.dump();
        }
        const std::vector<int32_t> toks = enc.encode(text);
        if (!walk_jump(g, enc, toks, 0, mode.plain)) {
          ++mode.plain.skipped;
          continue;
        }
        walk_jump(g, enc, toks, a.rollback, mode.rb);
      }
    }
  }
  std::printf("jump-forward on %zu MaskBench files (%ld schema compilations refused), Llama-3\n", files.size(),
              refused_schemas);
  std::printf("%-8s %-10s %6s %8s %9s %7s %12s %12s\n", "ws", "rollback", "docs", "tokens", "supplied", "share",
              "noncanonical", "rolled back");
  for (const Mode& mode : modes) {
    for (int r = 0; r < 2; ++r) {
      const JumpCounts& c = r ? mode.rb : mode.plain;
      std::printf("%-8s %-10d %6ld %8ld %9ld %6.1f%% %12ld %12ld\n", mode.name, r ? a.rollback : 0, c.docs, c.tokens,
                  c.supplied, c.tokens ? 100.0 * c.supplied / c.tokens : 0.0, c.noncanonical, c.rolled_back);
    }
    std::printf("%-8s (instances the grammar refused or that did not parse: %ld)\n", mode.name, mode.plain.skipped);
  }
}

void run_budget(const Args& a) {
  TokenizerInfoPtr tok = load_tokenizer("llama3");
  CompileOptions co;
  co.threads = 1;
  Compiler compiler(tok, co);
  const std::vector<BenchFile> files = maskbench_files(a);
  std::vector<int32_t> mask(bitmask_words(tok->vocab_size()));
  constexpr int kModes = 4;
  const char* names[kModes] = {"off", "large", "fits", "tight"};
  std::vector<double> us[kModes];
  long docs = 0, filtered = 0;
  for (const BenchFile& bf : files) {
    const std::string& schema = bf.schema;
    const std::vector<TestCase>& tests = bf.tests;
    const fs::path& f = bf.path;
    CompiledGrammarPtr g;
    try {
      g = compiler.compile_json_schema(schema, {}, f.filename().string());
    } catch (const Error&) {
      continue;
    }
    for (const TestCase& t : tests) {
      if (!t.valid || t.tokens.empty()) continue;
      Matcher m[kModes] = {Matcher(g), Matcher(g), Matcher(g), Matcher(g)};
      const int n = static_cast<int>(t.tokens.size());
      size_t bytes = 0;
      for (int32_t id : t.tokens) bytes += tok->token_bytes(id).size();
      m[1].set_token_budget(static_cast<int>(bytes) + 10000);
      m[2].set_token_budget(static_cast<int>(bytes));  // the instance just fits (a byte bounds a token)
      bool ok = true;
      for (int i = 0; i < n && ok; ++i) {
        // tight: two tokens more than the shortest completion, set again at every step.
        m[3].set_token_budget(static_cast<int>(m[3].shortest_completion_bytes()) + 2);
        long before = 0, after = 0;
        for (int j = 0; j < kModes; ++j) {  // in turn, the first rotating: fair cache warmth
          const int k = (i + j) % kModes;
          const double t0 = thread_cpu_us();
          m[k].fill_next_token_bitmask(mask.data());
          us[k].push_back(thread_cpu_us() - t0);
          long cnt = 0;
          for (int32_t w : mask) cnt += __builtin_popcount(static_cast<uint32_t>(w));
          if (k == 0) before = cnt;
          if (k == 3) after = cnt;
        }
        filtered += after < before;
        for (int k = 0; k < kModes; ++k) ok = ok && m[k].accept_token(t.tokens[i]);
      }
      if (ok) ++docs;
      break;  // the first valid instance of each file
    }
  }
  std::printf("length budget: mask cost per step (thread CPU time) on %ld MaskBench instances, %zu steps, Llama-3\n",
              docs, us[0].size());
  std::printf("steps where the tight budget removed tokens: %ld\n", filtered);
  std::printf("%-6s %10s %10s %10s %14s\n", "budget", "p50 us", "p99 us", "mean us", "mean / off");
  for (int k = 0; k < kModes; ++k) {
    std::vector<double> sorted = us[k];
    std::sort(sorted.begin(), sorted.end());
    std::printf("%-6s %10.2f %10.2f %10.2f %14.2f\n", names[k], percentile(sorted, 0.5), percentile(sorted, 0.99),
                mean(us[k]), mean(us[k]) / std::max(1e-9, mean(us[0])));
  }
}

}  // namespace

void add_bench_jump_budget_commands(CLI::App& bench) {
  auto a = std::make_shared<Args>();
  CLI::App* jf = bench.add_subcommand("jump-forward", "share of tokens jump-forward supplies on MaskBench valid instances");
  jf->add_option("dir", a->dir, "directory of MaskBench *.json files (default: $TOLLGATE_DATA_DIR/corpora/maskbench-dev)");
  jf->add_option("--rollback", a->rollback, "max tokens re-encoded at the boundary")->capture_default_str();
  jf->add_option("--files", a->max_files, "at most this many files (0: all)")->capture_default_str();
  jf->add_option("--stride", a->stride, "every n-th file")->capture_default_str();
  jf->callback([a] { run_jump(*a); });
  auto b = std::make_shared<Args>();
  CLI::App* lb = bench.add_subcommand("length-budget", "per-step mask cost with the length budget off, large and tight");
  lb->add_option("dir", b->dir, "directory of MaskBench *.json files (default: $TOLLGATE_DATA_DIR/corpora/maskbench-dev)");
  lb->add_option("--files", b->max_files, "at most this many files (0: all)")->capture_default_str();
  lb->add_option("--stride", b->stride, "every n-th file")->capture_default_str();
  lb->callback([b] { run_budget(*b); });
}

}  // namespace tollgate::cli
