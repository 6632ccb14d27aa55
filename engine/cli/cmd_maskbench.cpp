// tollgate bench maskbench — the MaskBench replay (JSONSchemaBench, Geng et al. 2025).
// Takes: a directory of MaskBench files ({description, meta, schema, tests: [{description, valid,
// data, tokens_llama3}]}), a tokenizer, JSON Schema options.
// Gives: per schema, its compile time to the first mask (TTFM) and every mask fill time (TBM) while
// each test's tokens are replayed, as one JSON line (--out); a summary on stdout; a progress bar on
// stderr when it is a terminal. Each schema runs in a worker process (forked, or started with exec)
// under a timeout, so a crash or a hang is recorded for that schema and the run goes on.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/cli/commands.hpp"
#include "fsm/cfg_debug.hpp"
#include "grammar/json_ordered.hpp"

namespace tollgate::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using ojson = nlohmann::ordered_json;

struct MaskbenchArgs {
  std::string dir;
  std::string tokenizer = "llama3";
  std::string out;
  double timeout_s = 10;
  // any: MaskBench's valid documents list properties in any order (JSON Schema does not order them),
  // so exact acceptance is measured there; schema (the compile default, the order a model is guided
  // into) refuses the ~2.5% that are out of it.
  std::string property_order = "any";
  std::string whitespace = "flexible";  // MaskBench's documents are json.dumps output: flexible or exact separators
  int max_whitespace = JsonSchemaOptions{}.max_whitespace;
  int indent = JsonSchemaOptions{}.indent;
  bool lenient = false;
  int jobs = 1;
  int threads = 1;
  size_t eager_automata_states = CompileOptions{}.eager_automata_states;
  double eager_automata_ms = CompileOptions{}.eager_automata_ms;
  bool warm = false;
  // The Compiler does not warm its caches when it is made (CompileOptions::warm_up_json off): a
  // cold run then times a Compiler's very first compile.
  bool no_warm_up = false;
  bool cold = false;  // the default; the flag only says so
  // Cold, but a worker process compiles schema after schema (process-wide automata kept between
  // schemas). The default cold run forks a fresh worker per schema.
  bool reuse_workers = false;
  // Each worker a process started with exec (not a fork of this one): it loads the tokenizer itself
  // (untimed) before it takes a schema. Cold: a process per schema, the nearest to a new process.
  // Warm: a process for the run, as a server is, owning every page it reads. A forked worker reads
  // the tokenizer's pages from this process, and on some virtual machines a fork child's first
  // touch of each inherited page is slow (~4.6 µs a page measured here, in no fault count): masks
  // that walk parts of the trie no earlier mask walked paid it (docs/benchmarks.md, session 45).
  bool exec = false;
  // Set in such a process: the task and result pipes' descriptors, "R,W".
  std::string worker_fds;
  // The default cold run: a worker compiles one schema and exits.
  bool one_schema_per_worker() const { return !warm && !reuse_workers; }
  // The Compiler's cache of compiled grammars (CompileOptions::grammar_cache_bytes), in MiB. Off by
  // default: every schema of a run is compiled once, so the cache can never hit, and in a warm
  // worker what it keeps only costs memory (older grammars, cold in the processor's caches, whose
  // pages the next compiles reuse).
  size_t grammar_cache_mib = 0;
  std::string grammar = "schema";  // debug: "builtin-json" replays through the built-in JSON grammar
};

double us_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count() / 1000.0;
}

// True when `name` is in the comma-separated list of the environment variable `var` (test hooks).
bool listed_in_env(const char* var, const std::string& name) {
  const char* v = std::getenv(var);
  if (!v) return false;
  std::stringstream ss(v);
  for (std::string item; std::getline(ss, item, ',');)
    if (item == name) return true;
  return false;
}

// How the run builds lexeme automata, for its header.
std::string eager_description(const MaskbenchArgs& a) {
  if (a.eager_automata_states == SIZE_MAX) return "every lexeme automaton built in the compile";
  if (a.eager_automata_states == 0 && a.eager_automata_ms <= 0) return "lexeme automata built when first needed";
  std::string s = "lexeme automata built in the compile";
  if (a.eager_automata_states > 0) s += " up to " + std::to_string(a.eager_automata_states) + " states";
  if (a.eager_automata_ms > 0) {
    char ms[48];
    std::snprintf(ms, sizeof ms, "%s for %g ms", a.eager_automata_states > 0 ? ", then" : "", a.eager_automata_ms);
    s += ms;
  }
  return s + ", the rest when first needed";
}

std::string error_text(const Error& e) {
  std::string s = std::string(to_string(e.kind())) + ": " + e.message();
  if (!e.pos().pointer.empty()) s += " (at " + e.pos().pointer + ")";
  else if (e.line() > 0) s += " (line " + std::to_string(e.line()) + ", column " + std::to_string(e.column()) + ")";
  return s;
}

}  // namespace

std::vector<MaskBenchDoc> read_maskbench_docs(const std::string& dir, size_t* num_files) {
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<MaskBenchDoc> docs;
  for (const auto& f : files) {
    std::string schema;
    std::vector<TestCase> tests;
    try {
      read_maskbench_file(f, schema, tests);
    } catch (const std::exception&) {
      continue;
    }
    for (auto& t : tests)
      if (t.valid) docs.push_back({schema, std::move(t.tokens)});
  }
  if (docs.empty()) throw Error(ErrorKind::kInvalidArgument, "no valid MaskBench tests in " + dir);
  if (num_files) *num_files = files.size();
  return docs;
}

// Reads a MaskBench file. Throws std::runtime_error("bad file: ...") for anything not in the format.
void read_maskbench_file(const std::filesystem::path& path, std::string& schema, std::vector<TestCase>& tests) {
  std::string text;
  try {
    text = read_file(path.string());
  } catch (const Error& e) {
    throw std::runtime_error("bad file: " + e.message());
  }
  ojson doc;
  if (!grammar::try_parse_ordered_json(text, doc)) throw std::runtime_error("bad file: not valid JSON");
  if (!doc.is_object()) throw std::runtime_error("bad file: not a JSON object");
  if (!doc.contains("schema")) throw std::runtime_error("bad file: no \"schema\"");
  if (!doc.contains("tests") || !doc["tests"].is_array()) throw std::runtime_error("bad file: no \"tests\" array");
  schema = doc["schema"].dump();  // ordered: the schema's property order survives
  for (size_t i = 0; i < doc["tests"].size(); ++i) {
    const ojson& t = doc["tests"][i];
    const std::string where = "bad file: tests[" + std::to_string(i) + "]";
    if (!t.is_object() || !t.contains("valid") || !t["valid"].is_boolean())
      throw std::runtime_error(where + " has no boolean \"valid\"");
    if (!t.contains("tokens_llama3") || !t["tokens_llama3"].is_array())
      throw std::runtime_error(where + " has no \"tokens_llama3\" array");
    TestCase tc;
    tc.valid = t["valid"].get<bool>();
    for (const ojson& id : t["tokens_llama3"]) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
        throw std::runtime_error(where + ".tokens_llama3 holds a non-token " + id.dump());
      tc.tokens.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
    tests.push_back(std::move(tc));
  }
}

namespace {

// One JSON line; invalid UTF-8 (in a message or a file name) is replaced, never thrown.
std::string to_line(const ojson& j) { return j.dump(-1, ' ', false, ojson::error_handler_t::replace); }

bool eos_allowed(const TokenizerInfo& tok, const std::vector<int32_t>& mask) {
  for (int32_t id : tok.eos_ids())
    if ((mask[id >> 5] >> (id & 31)) & 1) return true;
  return false;
}

// Under TOLLGATE_CFG_DEBUG (fsm/cfg_debug.hpp): the schema and index of a slow mask, after the
// back-end's "fill" line that closes its events (the index is the line's in `mask_us`).
void debug_mask(const std::string& id, const std::vector<double>& mask_us) {
  if (fsm::cfg_debug_enabled() && mask_us.back() > fsm::cfg_debug_threshold_us(1000))
    fprintf(stderr, "mask %zu of %s: %.0f µs\n", mask_us.size() - 1, id.c_str(), mask_us.back());
}

// The worker's job for one file: compile, replay every test, and give the result line. Never throws.
std::string run_one(const Compiler& compiler, const fs::path& path, const MaskbenchArgs& a,
                    const JsonSchemaOptions& options) {
  const std::string id = path.filename().string();
  if (listed_in_env("TOLLGATE_BENCH_CRASH_ON", id)) raise(SIGSEGV);
  if (listed_in_env("TOLLGATE_BENCH_HANG_ON", id))
    for (;;) pause();
  ojson line;
  line["id"] = id;
  try {
    std::string schema;
    std::vector<TestCase> tests;
    read_maskbench_file(path, schema, tests);
    const TokenizerInfo& tok = *compiler.tokenizer();
    std::vector<int32_t> mask(bitmask_words(tok.vocab_size()));
    CompiledGrammarPtr g;
    const auto t0 = Clock::now();
    try {
      g = a.grammar == "builtin-json" ? compiler.builtin_json()
                                      : compiler.compile_json_schema(schema, options, id);
    } catch (const Error& e) {
      line["compile_error"] = error_text(e);
      return to_line(line);
    }
    {
      Matcher first(g, 0);
      first.fill_next_token_bitmask(mask.data());
    }
    line["ttfm_us"] = us_between(t0, Clock::now());
    ojson results = ojson::array();
    std::vector<double> mask_us;
    for (const TestCase& t : tests) {
      Matcher m(g, 0);
      bool tokens_ok = true, eos_ok = false;
      for (int32_t tid : t.tokens) {
        const auto f0 = Clock::now();
        m.fill_next_token_bitmask(mask.data());
        mask_us.push_back(us_between(f0, Clock::now()));
        debug_mask(id, mask_us);
        const bool allowed = tid < tok.vocab_size() && ((mask[tid >> 5] >> (tid & 31)) & 1);
        if (!allowed || !m.accept_token(tid)) {
          tokens_ok = false;
          break;
        }
      }
      if (tokens_ok) {
        const auto f0 = Clock::now();
        m.fill_next_token_bitmask(mask.data());
        mask_us.push_back(us_between(f0, Clock::now()));
        debug_mask(id, mask_us);
        eos_ok = eos_allowed(tok, mask);
      }
      results.push_back({{"valid", t.valid}, {"tokens_ok", tokens_ok}, {"eos_ok", eos_ok}});
    }
    line["tests"] = std::move(results);
    line["mask_us"] = mask_us;
  } catch (const Error& e) {
    line = {{"id", id}, {"compile_error", error_text(e)}};
  } catch (const std::exception& e) {
    line = {{"id", id}, {"compile_error", e.what()}};
  }
  return to_line(line);
}

// Writes all of `data` to `fd`; false when the other end is gone.
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The worker's loop: reads file indices (one per line) from `task_fd`, writes one result line
// each to `result_fd`, until the parent closes the task pipe. --cold (default): one schema, a fresh
// Compiler, then the worker exits (a fresh process per schema); --reuse-workers: a fresh Compiler per
// schema, the process kept; --warm: one Compiler for the worker's life, warmed up first.
[[noreturn]] void worker_main(int task_fd, int result_fd, const TokenizerInfoPtr& tok, const CompileOptions& copt,
                              const std::vector<fs::path>& files, const MaskbenchArgs& a,
                              const JsonSchemaOptions& options) {
  std::optional<Compiler> warm;
  if (a.warm) {
    warm.emplace(tok, copt);  // warmed up as every Compiler is (CompileOptions::warm_up_json)
    if (a.grammar == "builtin-json") warm->builtin_json();
  }
  std::string pending;
  for (;;) {
    size_t nl;
    while ((nl = pending.find('\n')) == std::string::npos) {
      char buf[256];
      ssize_t n = read(task_fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) _exit(0);  // no more work
      pending.append(buf, static_cast<size_t>(n));
    }
    const size_t index = std::stoul(pending.substr(0, nl));
    pending.erase(0, nl + 1);
    std::string line;
    if (warm) {
      line = run_one(*warm, files.at(index), a, options);
    } else {
      Compiler fresh(tok, copt);
      line = run_one(fresh, files.at(index), a, options);
    }
    if (!write_all(result_fd, line + "\n")) _exit(3);
    if (a.one_schema_per_worker()) _exit(0);  // a fresh process for the next schema
  }
}

// A worker process of the pool, and the file it is working on.
struct Worker {
  pid_t pid = -1;
  int task_fd = -1;    // write end: file indices to the worker
  int result_fd = -1;  // read end: result lines from the worker
  std::optional<size_t> index;
  Clock::time_point start;
  std::string buf;
};

// Replaces the calling (forked) process with this program run as an exec'd worker: the same
// command line and "--worker-fds R,W". Returns only when exec failed.
void exec_worker(int task_fd, int result_fd) {
  std::vector<std::string> args = command_line();
  args.push_back("--worker-fds");
  args.push_back(std::to_string(task_fd) + "," + std::to_string(result_fd));
  std::vector<char*> argv;
  for (auto& x : args) argv.push_back(x.data());
  argv.push_back(nullptr);
  execv("/proc/self/exe", argv.data());
  std::fprintf(stderr, "maskbench: exec of a worker failed: %s\n", std::strerror(errno));
}

// Forks a worker. The child closes the other workers' pipe ends, so each worker sees the end of
// its task pipe as soon as the parent closes it.
Worker spawn_worker(const std::vector<Worker>& others, const TokenizerInfoPtr& tok, const CompileOptions& copt,
                    const std::vector<fs::path>& files, const MaskbenchArgs& a, const JsonSchemaOptions& options) {
  int task[2], result[2];
  if (pipe(task) != 0) throw Error(ErrorKind::kIo, std::string("pipe: ") + std::strerror(errno));
  if (pipe(result) != 0) throw Error(ErrorKind::kIo, std::string("pipe: ") + std::strerror(errno));
  std::fflush(nullptr);
  // The parent's free pages go back to the kernel first: the child (in an arena of its own, below)
  // would not reuse them, and fork has fewer pages to map copy-on-write.
  if (a.one_schema_per_worker()) release_free_memory();
  pid_t pid = fork();
  if (pid < 0) throw Error(ErrorKind::kIo, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    for (const Worker& w : others) {
      close(w.task_fd);
      close(w.result_fd);
    }
    close(task[1]);
    close(result[0]);
    if (a.exec) {
      exec_worker(task[0], result[1]);
      _exit(127);
    }
    // A fresh worker's heap as a fresh process has it: its own (no copy-on-write faults on the
    // parent's slabs inside the timed compile; docs/benchmarks.md, session 30).
    if (a.one_schema_per_worker()) use_own_arena();
    worker_main(task[0], result[1], tok, copt, files, a, options);
  }
  close(task[0]);
  close(result[1]);
  Worker w;
  w.pid = pid;
  w.task_fd = task[1];
  w.result_fd = result[0];
  return w;
}

// Kills (when asked) and reaps a worker; closes its pipes. Gives the wait status.
int retire(Worker& w, bool kill_it) {
  if (kill_it) kill(w.pid, SIGKILL);
  close(w.task_fd);
  close(w.result_fd);
  int status = 0;
  while (waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t k = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, k == 0 ? 0 : k - 1)];
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

namespace {

struct Summary {
  size_t schemas = 0, passing = 0, compile_errors = 0, bad_files = 0, validation_errors = 0,
         invalidation_errors = 0, crashes = 0, timeouts = 0;
  size_t valid_tests = 0, valid_passed = 0, invalid_tests = 0, invalid_passed = 0;
  std::vector<double> tbm_us, ttfm_us;

  void add(const std::string& text) {
    ++schemas;
    ojson j = ojson::parse(text, nullptr, false);
    if (j.is_discarded()) {
      ++crashes;
      return;
    }
    if (j.contains("compile_error")) {
      ++compile_errors;
      if (j["compile_error"].get<std::string>().rfind("bad file", 0) == 0) ++bad_files;
      return;
    }
    if (j.contains("crash")) {
      ++(j["crash"] == "timeout" ? timeouts : crashes);
      return;
    }
    ttfm_us.push_back(j["ttfm_us"].get<double>());
    for (const auto& v : j["mask_us"]) tbm_us.push_back(v.get<double>());
    bool refused_valid = false, accepted_invalid = false;
    for (const auto& t : j["tests"]) {
      const bool accepted = t["tokens_ok"].get<bool>() && t["eos_ok"].get<bool>();
      if (t["valid"].get<bool>()) {
        ++valid_tests;
        valid_passed += accepted;
        refused_valid |= !accepted;
      } else {
        ++invalid_tests;
        invalid_passed += !accepted;
        accepted_invalid |= accepted;
      }
    }
    validation_errors += refused_valid;
    invalidation_errors += accepted_invalid;
    passing += !refused_valid && !accepted_invalid;
  }
};

int run_maskbench(const MaskbenchArgs& a) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(a.dir))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());

  int worker_task_fd = -1, worker_result_fd = -1;
  if (!a.worker_fds.empty()) {
    char comma = 0;
    std::istringstream in(a.worker_fds);
    if (!(in >> worker_task_fd >> comma >> worker_result_fd) || comma != ',')
      throw Error(ErrorKind::kInvalidArgument, "--worker-fds: expected R,W");
  }
  TokenizerInfoPtr tok = load_tokenizer(a.tokenizer);
  CompileOptions copt;
  copt.threads = a.threads;
  copt.eager_automata_states = a.eager_automata_states;
  copt.eager_automata_ms = a.eager_automata_ms;
  copt.grammar_cache_bytes = a.grammar_cache_mib << 20;
  copt.warm_up_json = !a.no_warm_up;
  JsonSchemaOptions options;
  options.property_order = a.property_order == "any" ? JsonSchemaOptions::PropertyOrder::kAny
                                                     : JsonSchemaOptions::PropertyOrder::kSchema;
  options.lenient = a.lenient;
  options.whitespace = whitespace_mode(a.whitespace);
  options.max_whitespace = a.max_whitespace;
  options.indent = a.indent;
  copt.json_schema = options;  // what the Compiler warms up with
  signal(SIGPIPE, SIG_IGN);  // a worker that died is seen on its result pipe
  if (worker_task_fd >= 0) worker_main(worker_task_fd, worker_result_fd, tok, copt, files, a, options);  // exec'd

  std::ofstream out;
  if (!a.out.empty()) {
    out.open(a.out, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(ErrorKind::kIo, "cannot write '" + a.out + "'");
  }
  ProgressBar bar(files.size(), "schemas", isatty(STDERR_FILENO));
  const auto run_start = Clock::now();
  const auto timeout = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.timeout_s));

  std::vector<std::optional<std::string>> lines(files.size());
  size_t next_start = 0, next_write = 0, done = 0;
  Summary sum;
  std::vector<Worker> pool;
  auto finish = [&](size_t index, const std::string& line) {
    lines[index] = line;
    ++done;
    for (; next_write < lines.size() && lines[next_write]; ++next_write) {
      sum.add(*lines[next_write]);
      if (out) out << *lines[next_write] << "\n" << std::flush;
      lines[next_write]->clear();
      lines[next_write]->shrink_to_fit();
    }
    char note[64];
    std::snprintf(note, sizeof note, "%zu not passing, %.0f s", sum.schemas - sum.passing,
                  us_between(run_start, Clock::now()) / 1e6);
    if (done == files.size()) bar.finish(note);
    else bar.update(done, note);
  };
  auto crash_line = [&](size_t index, const std::string& what) {
    return to_line(ojson{{"id", files[index].filename().string()}, {"crash", what}});
  };

  while (done < files.size()) {
    // Workers up to --jobs (one is replaced after a crash or a timeout), each given a file when idle.
    size_t busy = 0;
    for (const auto& w : pool) busy += w.index.has_value();
    const size_t want = std::min(static_cast<size_t>(a.jobs), busy + (files.size() - next_start));
    while (pool.size() < want) pool.push_back(spawn_worker(pool, tok, copt, files, a, options));
    for (auto& w : pool)
      if (!w.index && next_start < files.size()) {
        w.index = next_start++;
        w.start = Clock::now();
        write_all(w.task_fd, std::to_string(*w.index) + "\n");  // a dead worker shows on its result pipe
      }
    // Wait for a result or the nearest deadline.
    auto now = Clock::now();
    auto wait = timeout;
    for (const auto& w : pool)
      if (w.index) wait = std::min(wait, w.start + timeout - now);
    std::vector<pollfd> fds;
    for (const auto& w : pool) fds.push_back({w.result_fd, POLLIN, 0});
    int ms = static_cast<int>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(wait).count() + 1));
    int rc = poll(fds.data(), fds.size(), ms);
    if (rc < 0 && errno != EINTR) throw Error(ErrorKind::kIo, std::string("poll: ") + std::strerror(errno));
    now = Clock::now();
    std::vector<Worker> alive;
    for (size_t i = 0; i < pool.size(); ++i) {
      Worker& w = pool[i];
      bool gone = false;
      if (rc > 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        char buf[1 << 16];
        ssize_t n = read(w.result_fd, buf, sizeof buf);
        if (n > 0) w.buf.append(buf, static_cast<size_t>(n));
        else if (n == 0 || errno != EINTR) gone = true;
      }
      if (size_t nl = w.buf.find('\n'); nl != std::string::npos && w.index) {
        finish(*w.index, w.buf.substr(0, nl));
        w.buf.erase(0, nl + 1);
        w.index.reset();
        if (a.one_schema_per_worker()) {  // it exits after its line: reap it, a fresh one takes the next file
          retire(w, false);
          continue;
        }
      }
      if (gone) {
        const int status = retire(w, false);
        if (w.index) {
          if (WIFSIGNALED(status)) finish(*w.index, crash_line(*w.index, "signal " + std::to_string(WTERMSIG(status))));
          else finish(*w.index, crash_line(*w.index, "exit " + std::to_string(WEXITSTATUS(status))));
        }
      } else if (w.index && now - w.start >= timeout) {
        retire(w, true);
        finish(*w.index, crash_line(*w.index, "timeout"));
      } else {
        alive.push_back(std::move(w));
      }
    }
    pool = std::move(alive);
  }
  for (auto& w : pool) retire(w, false);  // idle: they exit at the end of their task pipe
  const double wall_s = us_between(run_start, Clock::now()) / 1e6;

  auto pct = [](size_t n, size_t of) { return of ? 100.0 * static_cast<double>(n) / static_cast<double>(of) : 0.0; };
  std::sort(sum.tbm_us.begin(), sum.tbm_us.end());
  std::sort(sum.ttfm_us.begin(), sum.ttfm_us.end());
  std::printf("maskbench: %zu schemas in %s, tokenizer %s\n", sum.schemas, a.dir.c_str(), a.tokenizer.c_str());
  const std::string ws = a.whitespace == "flexible" ? "flexible whitespace (at most " + std::to_string(a.max_whitespace) + " a gap)"
                         : a.whitespace == "pretty"  ? "pretty whitespace (indent " + std::to_string(a.indent) + ")"
                                                     : a.whitespace + " whitespace";
  std::printf("grammar: %s; %s; property order %s%s; %s%s; %d job(s), %d compile thread(s), timeout %g s; %s\n",
              a.grammar == "builtin-json" ? "built-in JSON grammar (debug: the schemas are not compiled)"
                                          : "JSON Schema",
              ws.c_str(), a.property_order.c_str(), a.lenient ? ", lenient" : "",
              a.warm ? ("warm (one Compiler per worker, warmed up before its first schema" +
                        std::string(a.exec ? ", the worker a process started (exec): it loads the tokenizer" : "") +
                        "; compiled-grammar cache " +
                        (a.grammar_cache_mib ? std::to_string(a.grammar_cache_mib) + " MiB)" : std::string("off)")))
                           .c_str()
              : a.reuse_workers ? "cold (a fresh Compiler per schema; workers reused)"
              : a.exec          ? "cold (a process started (exec) per schema: it loads the tokenizer, then compiles)"
                                : "cold (a fresh process and Compiler per schema)",
              a.no_warm_up ? "; the Compiler not warmed up when made" : "",
              a.jobs, a.threads, a.timeout_s,
              eager_description(a).c_str());
  std::printf("allocator: %s\n", allocator_name().c_str());
  std::printf("passing:             %6zu  (%.1f%%)\n", sum.passing, pct(sum.passing, sum.schemas));
  std::printf("compile errors:      %6zu  (%zu bad files)\n", sum.compile_errors, sum.bad_files);
  std::printf("validation errors:   %6zu  (a valid test refused)\n", sum.validation_errors);
  std::printf("invalidation errors: %6zu  (an invalid test accepted)\n", sum.invalidation_errors);
  std::printf("crashes:             %6zu\n", sum.crashes);
  std::printf("timeouts:            %6zu\n", sum.timeouts);
  std::printf("tests: %zu valid (%zu accepted), %zu invalid (%zu refused)\n", sum.valid_tests, sum.valid_passed,
              sum.invalid_tests, sum.invalid_passed);
  const auto& b = sum.tbm_us;
  std::printf("TBM  (us, %zu masks):   avg %.2f  p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", b.size(),
              mean(b), percentile(b, 0.5), percentile(b, 0.9), percentile(b, 0.99), percentile(b, 0.999),
              percentile(b, 1.0));
  const auto& t = sum.ttfm_us;
  std::printf("TTFM (us, %zu schemas): avg %.1f  p50 %.1f  p90 %.1f  p99 %.1f\n", t.size(), mean(t),
              percentile(t, 0.5), percentile(t, 0.9), percentile(t, 0.99));
  std::printf("wall time: %.1f s\n", wall_s);
  return 0;
}

}  // namespace

void add_bench_maskbench_command(CLI::App& bench) {
  auto a = std::make_shared<MaskbenchArgs>();
  CLI::App* cmd = bench.add_subcommand(
      "maskbench", "MaskBench replay: compile each schema, replay its tests' tokens; TTFM, per-mask time, pass rates");
  cmd->add_option("dir", a->dir, "directory of MaskBench *.json files")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--tokenizer,-t", a->tokenizer,
                  "tokenizer.json, its folder, or a name under $TOLLGATE_DATA_DIR/tokenizers (the tests' "
                  "tokens_llama3 are Llama-3 ids)")
      ->capture_default_str();
  cmd->add_option("--out,-o", a->out, "write one JSON line per schema to this file");
  cmd->add_option("--timeout", a->timeout_s, "seconds per schema (compile and replay) before its worker is killed")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--property-order", a->property_order,
                  "object properties in any order (MaskBench's valid documents do not keep the schema's), or in "
                  "the schema's order (the compile default, which refuses those out of it)")
      ->check(CLI::IsMember({"schema", "any"}))
      ->capture_default_str();
  cmd->add_flag("--lenient", a->lenient, "compile an over-approximation of keywords that cannot be compiled exactly");
  add_whitespace_options(cmd, a->whitespace, a->max_whitespace, a->indent);
  cmd->add_option("--jobs,-j", a->jobs, "workers in parallel (timings are comparable only with 1)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--threads", a->threads, "compile threads per worker (0 = all cores)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--eager-automata-states", a->eager_automata_states,
                  "lexeme automata built in the compile until this many DFA states are built; the rest when a mask "
                  "first needs them (0 = only what the first mask needs; 18446744073709551615 = all)")
      ->capture_default_str();
  cmd->add_option("--eager-automata-ms", a->eager_automata_ms,
                  "then lexeme automata go on being built in the compile for this many milliseconds (0 = no more)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--grammar-cache-mb", a->grammar_cache_mib,
                  "the Compiler's cache of compiled grammars, MiB (0 = off: each schema of a run is compiled once, "
                  "so it cannot hit)")
      ->capture_default_str();
  auto* warm = cmd->add_flag("--warm", a->warm, "one Compiler per worker, warmed up before its first schema");
  cmd->add_flag("--no-warm-up", a->no_warm_up,
                "the Compiler does not warm its caches when it is made (CompileOptions::warm_up_json off): "
                "a cold run times a Compiler's very first compile");
  auto* cold = cmd->add_flag("--cold", a->cold, "a fresh process and Compiler for each schema (default)");
  auto* reuse = cmd->add_flag("--reuse-workers", a->reuse_workers,
                              "cold, but a worker process compiles schema after schema: a fresh Compiler for each, "
                              "process-wide automata (formats) kept");
  auto* exec = cmd->add_flag("--exec", a->exec,
                             "each worker a process started with exec, not forked: it loads the tokenizer itself "
                             "(untimed, ~0.1 s). Cold: a process per schema; with --warm: one for the run, as a "
                             "server is (a forked worker's first reads of this process's pages can be slow on "
                             "virtual machines)");
  cmd->add_option("--worker-fds", a->worker_fds, "internal: the pipes of an exec'd worker")->group("");
  warm->excludes(cold);
  warm->excludes(reuse);
  exec->excludes(reuse);
  cmd->add_option("--grammar", a->grammar, "debug: builtin-json replays through the built-in JSON grammar")
      ->check(CLI::IsMember({"schema", "builtin-json"}))
      ->group("");
  cmd->callback([a] { run_maskbench(*a); });
}

}  // namespace tollgate::cli
