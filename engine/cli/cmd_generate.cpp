// tollgate generate — constrained text generation with the reference RetNet; and
// tollgate bench decode — per-token decode time and memory per sequence at growing positions,
// RetNet (recurrent state) against a same-size softmax-attention decoder with a KV cache.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <ctime>
#include <random>
#include <sstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/cli/commands.hpp"
#include "engine/retnet/kv_baseline.hpp"
#include "tollgate/encoder.hpp"
#include "tollgate/generate.hpp"
#include "tollgate/retnet.hpp"

namespace tollgate::cli {

namespace {

namespace fs = std::filesystem;

struct GenerateArgs {
  std::string schema_file, regex, grammar_file, prompt, model_dir;
  std::string whitespace = "flexible";  // --schema only: flexible | compact | pretty
  int max_whitespace = JsonSchemaOptions{}.max_whitespace;
  int indent = JsonSchemaOptions{}.indent;
  std::string item_separator, key_separator;  // --schema only; empty = the whitespace mode's own
  std::string property_order = "schema";      // --schema only: schema | any
  bool lenient = false;                 // --schema only
  GenerateOptions options;
  bool stats = false;
  bool no_jump_forward = false;
  bool no_length_budget = false;
};

void run_generate(const GenerateArgs& a) {
  const std::string dir = a.model_dir.empty() ? default_model_dir() : a.model_dir;
  const fs::path weights = fs::path(dir) / "model.safetensors";
  if (!fs::exists(weights))
    throw Error(ErrorKind::kIo, "no model at " + weights.string() +
                                    " (train one with models/retnet/train.py, or pass --model DIR / set TOLLGATE_MODEL_DIR)");
  auto model = RetNet::load(weights.string());
  TokenizerOptions topt;
  topt.vocab_size = model->config().vocab_size;
  auto tok = TokenizerInfo::from_file((fs::path(dir) / "tokenizer.json").string(), topt);
  Encoder encoder(tok);
  CompiledGrammarPtr grammar;
  Compiler compiler(tok);
  if (!a.schema_file.empty()) {
    JsonSchemaOptions so;
    so.whitespace = whitespace_mode(a.whitespace);
    so.max_whitespace = a.max_whitespace;
    so.indent = a.indent;
    so.item_separator = a.item_separator;
    so.key_separator = a.key_separator;
    so.property_order = a.property_order == "any" ? JsonSchemaOptions::PropertyOrder::kAny
                                                  : JsonSchemaOptions::PropertyOrder::kSchema;
    so.lenient = a.lenient;
    grammar = compiler.compile_json_schema(read_file(a.schema_file), so, a.schema_file);
    for (const auto& w : grammar->warnings())
      std::cerr << a.schema_file << ": " << w.pos.pointer << ": warning: " << w.message << "\n";
  } else if (!a.grammar_file.empty()) {
    const std::string text = read_file(a.grammar_file);
    std::string ext = fs::path(a.grammar_file).extension().string();
    std::string format = ext.empty() ? "" : ext.substr(1);
    if (format != "gbnf" && format != "lark" && format != "ebnf")
      throw Error(ErrorKind::kInvalidArgument, "--grammar " + a.grammar_file +
                                                   ": cannot tell the format; name the file *.gbnf, *.lark or *.ebnf");
    grammar = compiler.compile_grammar(text, format, a.grammar_file);
  } else if (!a.regex.empty()) {
    grammar = compiler.compile_regex(a.regex);
  }
  GenerateOptions opt = a.options;
  opt.jump_forward = !a.no_jump_forward;
  opt.length_budget = !a.no_length_budget;
  GenerateResult r = generate(*model, encoder, grammar, a.prompt, opt);
  if (r.stop_reason == "budget_too_small") {
    std::fprintf(stderr, "error: %s; raise --max-tokens (or --no-length-budget)\n",
                 r.shortest_bytes < 0 ? "the grammar matches no string"
                                      : ("the grammar's shortest match is " + std::to_string(r.shortest_bytes) +
                                         " bytes, longer than --max-tokens " + std::to_string(opt.max_tokens))
                                            .c_str());
    throw CLI::RuntimeError(1);
  }
  std::cout << r.text;
  if (isatty(STDOUT_FILENO)) std::cout << "\n";
  std::cout.flush();
  if (a.stats) {
    const auto& s = r.stats;
    const double decode = std::max(1e-12, s.seconds - s.prefill_seconds);
    std::fprintf(stderr, "tokens: %d (%d forced by jump-forward = %.1f%%), prompt %d tokens, stop: %s\n", s.tokens,
                 s.forced_tokens, s.tokens ? 100.0 * s.forced_tokens / s.tokens : 0.0, s.prompt_tokens,
                 r.stop_reason.c_str());
    std::fprintf(stderr, "time: %.1f ms total, prefill %.1f ms, decode %.1f ms = %.1f tokens/s (model %.1f ms)\n",
                 1e3 * s.seconds, 1e3 * s.prefill_seconds, 1e3 * decode, s.tokens / decode, 1e3 * s.model_seconds);
    if (grammar)
      std::fprintf(stderr, "mask: %.3f ms = %.2f%% of decode time%s; output %s the grammar\n", 1e3 * s.mask_seconds,
                   100.0 * s.mask_seconds / decode, opt.overlap_mask ? " (overlapped with the model step)" : "",
                   r.grammar_accepting ? "matches" : "does not (yet) match");
  }
  // Constrained output is a complete match or a prefix of one: say which, and fail on a prefix so
  // that scripts do not take an unfinished JSON document for a valid one.
  if (grammar && !r.grammar_accepting) {
    std::fprintf(stderr, "error: the output is incomplete (stop: %s after %d tokens); raise --max-tokens\n",
                 r.stop_reason.c_str(), r.stats.tokens);
    throw CLI::RuntimeError(1);
  }
}

struct DecodeRow {
  int64_t position;
  double ms_per_token;
  size_t bytes;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Milliseconds on the wall clock, or of CPU time used by the whole process (all threads): the
// latter does not count time spent waiting for a core, so it is steadier on a loaded machine.
double now_ms(bool cpu) {
  if (cpu) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct BenchArgs {
  std::vector<int64_t> positions{64, 1024, 4096, 16384};
  int steps = 128;
  int chunk = 128;
  bool json = false;
  bool cpu_clock = false;  // process CPU time instead of wall time
  std::string model_dir;
};

void run_bench_decode(const BenchArgs& a) {
  using Clock = std::chrono::steady_clock;
  const std::string dir = a.model_dir.empty() ? default_model_dir() : a.model_dir;
  const fs::path weights = fs::path(dir) / "model.safetensors";
  RetNetPtr model;
  if (fs::exists(weights)) model = RetNet::load(weights.string());
  else model = std::make_shared<RetNet>(RetNetConfig{}, 1);
  const RetNetConfig& cfg = model->config();
  engine::KvDecoder kv(cfg, 2);
  std::mt19937_64 rng(7);
  auto random_ids = [&](size_t n) {
    std::vector<int32_t> ids(n);
    for (auto& x : ids) x = static_cast<int32_t>(rng() % static_cast<uint64_t>(cfg.vocab_size));
    return ids;
  };
  std::vector<float> logits(cfg.vocab_size);
  const int warmup = 3;
  const size_t np = a.positions.size();
  // Steps run in blocks of kBlock consecutive tokens of one sequence (as in real decoding, where the
  // weights stay warm in cache between steps); a block's time / kBlock is one sample.
  constexpr int kBlock = 4;
  const int rounds = warmup + (a.steps + kBlock - 1) / kBlock;
  // Every position gets its own sequence: the RetNet reaches P with one chunkwise prefill, the
  // KV baseline gets P cached positions. Then the timed steps are interleaved across positions
  // (round r steps every sequence a few tokens), so load from other processes hits all alike.
  std::vector<RetNetState> ret_states(np);
  std::vector<engine::KvState> kv_states(np);
  std::vector<std::vector<int32_t>> ids(np);
  std::vector<DecodeRow> ret_rows(np), kv_rows(np);
  for (size_t i = 0; i < np; ++i) {
    const int64_t P = a.positions[i];
    ids[i] = random_ids(static_cast<size_t>(P) + kBlock * static_cast<size_t>(rounds));
    ret_states[i] = model->new_state();
    auto t0 = Clock::now();
    model->prefill_chunkwise(ret_states[i], std::span(ids[i]).subspan(0, P), a.chunk);
    double prefill_s = std::chrono::duration<double>(Clock::now() - t0).count();
    kv.fill_cache(kv_states[i], P, 11 + i);
    ret_rows[i] = {P, 0, ret_states[i].memory_bytes()};
    kv_rows[i] = {P, 0, kv_states[i].memory_bytes()};
    if (!a.json)
      std::fprintf(stderr, "position %lld: retnet chunkwise prefill %.2f s (%.0f tokens/s)\n",
                   static_cast<long long>(P), prefill_s, P / prefill_s);
  }
  // The RetNet is measured first, interleaved across positions (its states are small, so they do not
  // evict each other's weights). Then the KV baseline, one position after another: a KV step streams
  // its whole cache through the CPU caches and would slow whatever sequence runs after it.
  std::vector<std::vector<double>> ret_ms(np), kv_ms(np);
  for (int r = 0; r < rounds; ++r) {
    for (size_t i = 0; i < np; ++i) {
      const int32_t* next = &ids[i][a.positions[i] + static_cast<size_t>(r) * kBlock];
      const double s0 = now_ms(a.cpu_clock);
      for (int k = 0; k < kBlock; ++k) model->step(ret_states[i], next[k], logits.data());
      if (r >= warmup) ret_ms[i].push_back((now_ms(a.cpu_clock) - s0) / kBlock);
    }
  }
  for (size_t i = 0; i < np; ++i) {
    for (int r = 0; r < rounds; ++r) {
      const int32_t* next = &ids[i][a.positions[i] + static_cast<size_t>(r) * kBlock];
      const double s0 = now_ms(a.cpu_clock);
      for (int k = 0; k < kBlock; ++k) kv.step(kv_states[i], next[k], logits.data());
      if (r >= warmup) kv_ms[i].push_back((now_ms(a.cpu_clock) - s0) / kBlock);
    }
  }
  for (size_t i = 0; i < np; ++i) {
    ret_rows[i].ms_per_token = median(ret_ms[i]);
    kv_rows[i].ms_per_token = median(kv_ms[i]);
  }
  if (a.json) {
    nlohmann::ordered_json j;
    auto rows = [](const std::vector<DecodeRow>& v) {
      nlohmann::ordered_json arr = nlohmann::ordered_json::array();
      for (const auto& r : v)
        arr.push_back({{"position", r.position}, {"ms_per_token", r.ms_per_token}, {"bytes_per_sequence", r.bytes}});
      return arr;
    };
    j["retnet"] = rows(ret_rows);
    j["kv_cache"] = rows(kv_rows);
    std::cout << j.dump() << "\n";
    return;
  }
  std::printf("%-10s %12s %14s %20s %14s %20s\n", "position", "retnet ms/tok", "kv ms/tok", "retnet bytes/seq",
              "kv bytes/seq", "kv/retnet time");
  for (size_t i = 0; i < ret_rows.size(); ++i)
    std::printf("%-10lld %12.3f %14.3f %20zu %14zu %19.2fx\n", static_cast<long long>(ret_rows[i].position),
                ret_rows[i].ms_per_token, kv_rows[i].ms_per_token, ret_rows[i].bytes, kv_rows[i].bytes,
                kv_rows[i].ms_per_token / ret_rows[i].ms_per_token);
  if (ret_rows.size() >= 2)
    std::printf("retnet decode time ratio %lld/%lld: %.3f (memory per sequence %s)\n",
                static_cast<long long>(ret_rows.back().position), static_cast<long long>(ret_rows.front().position),
                ret_rows.back().ms_per_token / ret_rows.front().ms_per_token,
                ret_rows.back().bytes == ret_rows.front().bytes ? "constant" : "NOT constant");
}

}  // namespace

void add_generate_commands(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "generate text with the reference RetNet, optionally constrained");
  auto* schema = cmd->add_option("--schema", args->schema_file, "JSON Schema file the output must validate against");
  auto* regex = cmd->add_option("--regex,-r", args->regex, "regular expression the output must match in full");
  auto* grammar = cmd->add_option("--grammar", args->grammar_file, "grammar file: *.gbnf, *.lark or *.ebnf");
  schema->excludes(regex)->excludes(grammar);
  regex->excludes(grammar);
  for (CLI::Option* o : add_whitespace_options(cmd, args->whitespace, args->max_whitespace, args->indent))
    o->needs(schema);
  cmd->add_option("--item-separator", args->item_separator,
                  "--schema: exact separator between items and members, e.g. \", \" (as Python's json.dumps)")
      ->needs(schema);
  cmd->add_option("--key-separator", args->key_separator, "--schema: exact separator after keys, e.g. \": \"")
      ->needs(schema);
  cmd->add_option("--property-order", args->property_order,
                  "--schema: properties in the schema's order, or in any order")
      ->check(CLI::IsMember({"schema", "any"}))
      ->capture_default_str()
      ->needs(schema);
  cmd->add_flag("--lenient", args->lenient,
                "--schema: compile keywords that cannot be exact as an over-approximation (warned)")
      ->needs(schema);
  cmd->add_option("--prompt,-p", args->prompt, "prompt text");
  cmd->add_option("--max-tokens,-n", args->options.max_tokens, "maximum number of generated tokens")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--temperature,-t", args->options.temperature, "sampling temperature (0 = greedy)");
  cmd->add_option("--top-p", args->options.top_p, "nucleus sampling mass")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--top-k", args->options.top_k, "keep the k most likely tokens (0 = all)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed,-s", args->options.seed, "random seed");
  cmd->add_option("--model,-m", args->model_dir,
                  "model folder with model.safetensors and tokenizer.json (default: $TOLLGATE_MODEL_DIR or models/retnet)");
  cmd->add_flag("--stats", args->stats, "print tokens/s, mask time share and jump-forward share to stderr");
  cmd->add_flag("--no-jump-forward", args->no_jump_forward, "sample forced tokens one by one");
  cmd->add_flag("--no-length-budget", args->no_length_budget,
                "do not steer the output to end in a complete match within --max-tokens");
  cmd->callback([args] { run_generate(*args); });
}

void add_bench_decode_command(CLI::App& bench) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = bench.add_subcommand(
      "decode", "per-token decode time and memory per sequence at growing positions: RetNet vs a KV-cache decoder");
  cmd->add_option("--positions", args->positions, "positions to measure at")->delimiter(',')->check(CLI::PositiveNumber);
  cmd->add_option("--steps", args->steps, "timed decode steps per position, in blocks of 4 (median of the blocks reported)")->check(CLI::PositiveNumber);
  cmd->add_option("--chunk", args->chunk, "chunk size of the RetNet prefill")->check(CLI::PositiveNumber);
  cmd->add_option("--model,-m", args->model_dir, "model folder (default: models/retnet; random weights when absent)");
  cmd->add_flag("--cpu-time", args->cpu_clock,
                "time steps by process CPU time (all threads) instead of wall time; steadier on a busy machine");
  cmd->add_flag("--json", args->json, "print {\"retnet\": [...], \"kv_cache\": [...]} to stdout");
  cmd->callback([args] { run_bench_decode(*args); });
}

}  // namespace tollgate::cli
