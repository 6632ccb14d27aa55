// The `tollgate` command line: each file in engine/cli/ adds its subcommands to the app.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "grammar/grammar_ir.hpp"
#include "tollgate/tollgate.hpp"

namespace tollgate::cli {

// check / match / compile for --regex (and --grammar once context-free grammars compile).
void add_grammar_commands(CLI::App& app);
// demo: the README's `make demo` job.
void add_demo_command(CLI::App& app);
// generate: text from the reference RetNet, constrained by --regex (engine/cli/cmd_generate.cpp).
void add_generate_commands(CLI::App& app);
// `bench decode`, added under the given `bench` subcommand (engine/cli/cmd_generate.cpp).
void add_bench_decode_command(CLI::App& bench);
// `bench maskbench`: the MaskBench replay over a directory of schemas (engine/cli/cmd_maskbench.cpp).
void add_bench_maskbench_command(CLI::App& bench);

// `bench batch`: BatchMatcher wall time over lock-step MaskBench replays (engine/cli/cmd_bench_batch.cpp).
void add_bench_batch_command(CLI::App& bench);
// `bench jump-forward` and `bench length-budget` (engine/cli/cmd_bench_jump_budget.cpp).
void add_bench_jump_budget_commands(CLI::App& bench);
// `bench memory`: one grammar's memory over many sequences in turn (engine/cli/cmd_bench_memory.cpp).
void add_bench_memory_command(CLI::App& bench);

// One test of a MaskBench file: whether it is valid, and its Llama-3 tokens.
struct TestCase {
  bool valid = false;
  std::vector<int32_t> tokens;
};
// Reads a MaskBench file (cmd_maskbench.cpp). Throws std::runtime_error("bad file: ...").
void read_maskbench_file(const std::filesystem::path& path, std::string& schema, std::vector<TestCase>& tests);
// The valid tests of every readable MaskBench *.json file of `dir` (sorted by file name), each
// with its file's schema; `files` (if given) gets the number of files. Throws when there are none.
struct MaskBenchDoc {
  std::string schema;
  std::vector<int32_t> tokens;
};
std::vector<MaskBenchDoc> read_maskbench_docs(const std::string& dir, size_t* files = nullptr);
// Nearest-rank percentile of sorted values (q in [0, 1]), and the mean.
double percentile(const std::vector<double>& sorted, double q);
double mean(const std::vector<double>& v);

// Where the data beside the project lives: $TOLLGATE_DATA_DIR, else ../shared (as configured),
// else the user cache (engine/data_dir.hpp).
std::string data_dir();
// A tokenizer given as a directory or a tokenizer.json, or a short name (llama3, …) looked up in
// <data_dir>/tokenizers/. Throws tollgate::Error.
TokenizerInfoPtr load_tokenizer(const std::string& spec);
// The program's command line as main() received it (set_command_line), for a process that runs
// this program again (bench maskbench --exec).
void set_command_line(int argc, char** argv);
const std::vector<std::string>& command_line();
// Gives the allocator's unused pages back to the kernel (jemalloc; nothing with glibc's malloc).
void release_free_memory();
// For a forked child: the calling thread allocates from now on in a heap arena of its own, as a
// process of its own would, not in the slabs it shares copy-on-write with its parent (jemalloc;
// nothing with glibc's malloc). False when the allocator could not make one (it goes on as before).
bool use_own_arena();
// The allocator the command line runs on, with its huge-page setting (jemalloc).
std::string allocator_name();

// The reference model's folder: $TOLLGATE_MODEL_DIR, else <source>/models/retnet.
std::string default_model_dir();
// A whole file's bytes. Throws tollgate::Error(kIo).
std::string read_file(const std::string& path);

// Prints an error the way every subcommand does (error: ... with caret) to stderr.
void print_error(const Error& e);

// JSON Schema whitespace: --whitespace flexible|compact|pretty, --max-whitespace N (flexible),
// --indent N (pretty). Gives the three options, for `needs`.
std::vector<CLI::Option*> add_whitespace_options(CLI::App* cmd, std::string& mode, int& max_whitespace, int& indent);
// "flexible" | "compact" | "pretty" → the mode (the option's check has refused anything else).
JsonSchemaOptions::Whitespace whitespace_mode(const std::string& mode);

// ---- terminal output (engine/cli/terminal.cpp)
// --color auto|always|never: auto is colour when `fd` is a terminal, NO_COLOR is unset or empty
// and TERM is not "dumb".
bool use_color(const std::string& mode, int fd);
// "file:line:col: severity: message (at /pointer) [CODE]", then the source line and a caret.
std::string render_diagnostic(const grammar::Diagnostic& d, bool color);
// The diagnostics as a JSON array of {file, line, col, end_line, end_col, severity, code,
// message[, pointer]}: the span of what the diagnostic is about, end_col just past its last
// code point (a diagnostic without a span covers one character).
std::string diagnostics_json(const std::vector<grammar::Diagnostic>& ds);
// A one-line progress bar on stderr, drawn only when `enabled` (stderr is a terminal).
class ProgressBar {
 public:
  ProgressBar(size_t total, std::string unit, bool enabled);
  void update(size_t done, const std::string& note = {});
  void clear();   // erases the line (before other output on stderr); the next update redraws it
  void finish(const std::string& note = {});  // the full bar and a newline
  bool enabled() const { return enabled_; }

 private:
  size_t total_;
  std::string unit_;
  bool enabled_;
  bool drawn_ = false;
};

// The phases of one compile on stderr (CompileOptions::progress): `[#####.....] compiling: lexeme
// automata  120/480  (1.2 s)`, or the phase and the time alone when its size is not known. Drawn only
// when `enabled` (stderr is a terminal), once the work has run for `delay_ms` (small grammars compile
// without a flicker), and redrawn by a ticker thread every 100 ms so that a long phase shows its time;
// erased by clear() (until the next call) and at the end.
class CompileProgressBar : public CompileProgress {
 public:
  explicit CompileProgressBar(bool enabled, std::string label = {}, double delay_ms = 150);
  ~CompileProgressBar() override;
  void on_progress(std::string_view phase, size_t done, size_t total) override;
  void clear();

 private:
  void draw_locked();
  bool enabled_;
  std::string label_;
  double delay_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, paused_ = false, drawn_ = false;
  std::string phase_;
  size_t done_ = 0, total_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::thread ticker_;
};

}  // namespace tollgate::cli
