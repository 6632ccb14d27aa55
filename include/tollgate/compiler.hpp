// Compiler — turns a grammar (regex; later JSON Schema, GBNF, Lark, EBNF) into an immutable
// CompiledGrammar bound to one vocabulary. CompiledGrammar is shared read-only between threads
// and matchers.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/error.hpp"
#include "tollgate/vocabulary.hpp"

namespace tollgate {

// How a JSON Schema is turned into a grammar (Compiler::compile_json_schema).
struct JsonSchemaOptions {
  enum class Whitespace {
    kFlexible,  // JSON whitespace wherever RFC 8259 allows it, at most max_whitespace bytes a gap
    kCompact,   // none: {"a":1,"b":[1,2]}
    // Python's json.dumps(indent=indent): each member and item on a line of its own (a newline and
    // `indent` spaces per level), the closing bracket on the container's own line, "," and ": "
    // separators, `{}` and `[]` when empty. Rules are kept per depth; values nested deeper than
    // 32 levels are refused.
    kPretty,
  };
  Whitespace whitespace = Whitespace::kFlexible;
  int max_whitespace = 20;  // per gap, kFlexible only
  int indent = 2;           // kPretty only (spaces per level)
  // Separators between items / after keys; empty = the whitespace mode's own. When given, they
  // are used exactly (e.g. ", " and ": " for Python's json.dumps).
  std::string item_separator;
  std::string key_separator;
  enum class PropertyOrder {
    kSchema,  // properties appear in the order the schema lists them
    kAny,     // any order
  };
  PropertyOrder property_order = PropertyOrder::kSchema;
  // false: a keyword that cannot be compiled exactly is an error (kSchema, with its JSON pointer).
  // true: an over-approximation is compiled instead, and each relaxed keyword is a warning.
  bool lenient = false;
};

// Progress of a compile call, for a progress bar (CompileOptions::progress).
class CompileProgress {
 public:
  virtual ~CompileProgress() = default;
  // `phase` (the names of CompileStats::phases) has begun (done = 0) or has done `done` of `total`
  // units (total 0: not known). Called from the compiling thread and from the token index's worker
  // threads, never two calls at once; rate-limited by the caller (about every 1% or 4,096 units).
  virtual void on_progress(std::string_view phase, size_t done, size_t total) = 0;
};

struct CompileOptions {
  size_t max_dfa_states = 1'000'000;  // per automaton; kLimit error beyond
  // Bytes one automaton may hold while it is built (NFA, subset construction's state sets and
  // transition table); kLimit error beyond. Bounds the time and memory of a regex whose DFA
  // explodes, e.g. (a|b)*a(a|b){30}.
  size_t max_dfa_memory = size_t{32} << 20;  // 32 MiB, as fsm::kDefaultMaxDfaMemory
  // Grammars (GBNF, Lark, EBNF): groups or expressions nested deeper than this are a kLimit error
  // at their position. The parsers recurse once per level: 500 levels take under 700 KiB of
  // stack, safe on a 1 MiB thread stack; raise it only where threads have larger stacks.
  uint32_t max_grammar_nesting = 500;
  // Wall-clock budget of one compile call in milliseconds (0 = none): Error(kLimit) naming
  // max_compile_ms once it is spent. `cancel`: a flag another thread may set to cancel every
  // compilation of this Compiler (owned by the caller, must outlive the calls): Error(kCancelled).
  // Both are the one stop mechanism of fsm/budget.hpp, with the CancelToken of Compiler::compile
  // (a deadline is a cancellation that fires at a time): the automaton construction, the CFG
  // build and the token index check it as they go and stop within milliseconds.
  double max_compile_ms = 0;
  const std::atomic<bool>* cancel = nullptr;
  // Context-free grammars: items in one Earley parser state (a closure); a grammar or an input
  // needing more is a kLimit error instead of unbounded memory and time per step.
  size_t max_earley_items = size_t{1} << 20;
  int threads = 0;                    // 0 = all cores (std::thread::hardware_concurrency)
  bool dot_all = false;               // regex `.` matches newline
  // Grammars and JSON Schemas (context-free back-end): the token index entry of a lexeme state
  // is computed when a mask first needs it; true computes all of them at compile time (on
  // `threads` threads).
  bool eager_index = false;
  // Grammars and JSON Schemas: lexeme automata built in the compile call, in lexeme order, until
  // this many DFA states are built, then on for eager_automata_ms; each of the others when a
  // parser configuration first needs it (the first mask that reaches it builds it, once for every
  // matcher of the grammar), and what the first mask needs is built in the compile in any case.
  // The budgets (max_dfa_states, max_dfa_memory) hold either way, but a lexeme over them built
  // later is a kLimit error from the Matcher call that first needs it instead of from the compile.
  // SIZE_MAX: all in the compile (so do eager_index, serialisation, Lark grammars with
  // leftmost-first lexing and `tollgate check`).
  size_t eager_automata_states = 0;
  // Then lexemes go on being built in the compile, in order, until this many milliseconds have
  // passed (the one being built then is finished; one over the DFA budgets is skipped, left to
  // the mask that needs it, so the compile's result does not depend on the clock). 0: none.
  // Built in the compile, an automaton costs a mask nothing: on maskbench-dev (warm) TBM avg
  // 4.71 -> 4.33 us, p99 55 -> 49 us, max 12 -> 7 ms, for TTFM p50 0.20 -> 0.24 ms, p99 5.2 -> 8.1 ms
  // (docs/benchmarks.md, "Session 37"); all lazy (0 and 0) gives the first mask soonest.
  double eager_automata_ms = 2.0;
  // The Compiler warms its shared caches when it is made: it compiles a small JSON Schema (an
  // object of a string, a number, an integer, a boolean, an array of anything and strings of the
  // formats date-time, date, uri and email, with `json_schema`'s options) and fills the masks along
  // one document of it, so that the lexeme automata and token index entries every JSON Schema
  // shares, and the process-wide format automata, are there before the first real compile. The
  // same schema's other values, which the document does not reach, put only their lexeme automata
  // in the cache (all built in the warm-up's compile): an array of strings, a nullable string, a
  // string with minLength 1, a string or an array of strings, a nonempty array of strings, a
  // nullable array of strings, an object of strings, a long string's chunks; a second schema
  // gives draft-04's integer. About 7 ms per Compiler (5.5-6 ms before the last group; on
  // maskbench-dev a fresh process's median time to first mask 0.72-0.79 -> 0.38-0.44 ms for the
  // first five kinds: docs/benchmarks.md, "session 31"; the formats: "session 48"; the last group
  // 0.51 -> 0.46 ms: "session 50"). Needs index_cache_bytes or lexeme_cache_bytes; a warm-up over
  // the budgets below is given up quietly.
  bool warm_up_json = true;
  // Bytes of token index entries a Compiler (and its copies) keeps for reuse across the grammars
  // it compiles, keyed by the lexeme state's canonical future (JSON strings, numbers, formats
  // recur across schemas): each entry's token set, boundary roots and key, an entry or a token set
  // that several keys share counted once. Two generations of half the bound each: when the young
  // one is full the old one is dropped, and an entry used from the old one moves to the young one
  // (what keeps being used survives); 0 disables it.
  size_t index_cache_bytes = size_t{64} << 20;  // 64 MiB
  // Bytes of lexeme automata (grammars and JSON Schemas) a Compiler (and its copies) keeps for
  // reuse across the grammars it compiles, keyed by the lexeme's regex: a key with the separators
  // around it, a string or a format recurs across schemas, and a grammar that meets one again
  // (in its compile or in its first masks) takes the automaton instead of building it. Each
  // automaton and its regex counted; over the bound the least recently used go; 0 disables it.
  size_t lexeme_cache_bytes = size_t{64} << 20;  // 64 MiB
  // Grammars and JSON Schemas: the run-time caches of one compiled grammar, shared by its
  // matchers, each bounded in bytes and cleared whole when full (the memory a long-running
  // process holds per grammar beyond its automata and index is at most their sum).
  size_t mask_cache_bytes = size_t{256} << 20;      // whole masks of parser states with several threads
  size_t boundary_cache_bytes = size_t{512} << 20;  // boundary token lists, local walks, guard sets
  size_t walk_cache_bytes = size_t{32} << 20;       // the boundary walks' DFA over parser states
  // The Earley graph and guard tables only grow with new parse contexts; they and the caches
  // above (keyed by their ids) form a generation that a matcher leases at reset and keeps through
  // rollback and fork. Once the current generation passes this many bytes (graph, guard tables,
  // caches), new sequences start in a fresh generation and the old one is freed with its last
  // matcher (0: one generation for ever). A single long sequence may grow its generation past it
  // (it is never stopped for it). Masks are the same whatever the budget.
  size_t generation_bytes = size_t{64} << 20;
  // How JSON Schemas embedded in grammars are compiled: Lark's `%json { ... }` and the schemas of
  // tool calls (compile_tool_calls). Compiler::compile_json_schema takes its own.
  JsonSchemaOptions json_schema;

  // --- serving (engine/grammar_cache.cpp, docs/serving.md) ---
  // Compiled grammars a Compiler (and its copies) keeps, keyed by (grammar text, kind, options,
  // tokenizer fingerprint); the least recently used are evicted over the bound. A grammar counts
  // its memory_bytes(), read when it is inserted and again as it grows in use (hits, and the most
  // recently used and a sweep of the rest at each insert). 0 disables the cache (concurrent
  // requests for one grammar still share one compilation).
  size_t grammar_cache_bytes = size_t{256} << 20;  // 256 MiB
  // Second-level cache shared by processes: "redis://host:port" or "host:port"; empty: none. A
  // local miss looks the compiled grammar up there, and on a miss compiles it under a lock and
  // publishes it, so a fleet compiles each grammar once. Redis unreachable: compile locally
  // (logged). Needs a build with hiredis (Error kUnsupported otherwise).
  std::string redis_url;
  int redis_timeout_ms = 500;     // connecting and each command (a blob transfer: 20x this)
  int redis_lock_ms = 600'000;    // a compile lock's expiry, should its holder die
  int redis_poll_ms = 20;         // how often a process waiting on another's compile polls
  // Told of each phase and of the token index's progress (owned by the caller, must outlive the
  // call); nullptr: none.
  CompileProgress* progress = nullptr;
};

// A warning the compiler gave (unknown keyword, relaxed keyword, unused rule, ...).
struct CompileWarning {
  std::string message;
  SourcePos pos;  // line:column in grammar text, or a JSON pointer (pos.pointer) in a schema
};

struct CompileStats {
  size_t dfa_states = 0;        // of the automata built at compile time
  size_t lexemes = 0;           // regular lexemes, one DFA each (1 for a regex)
  size_t lexemes_built = 0;     // lexemes whose DFA the compile built (eager_automata_states: the rest later)
  size_t lexemes_shared = 0;    // of those, taken from the Compiler's lexeme cache (lexeme_cache_bytes)
  size_t distinct_masks = 0;    // deduplicated bitsets (CFG: of the index entries computed so far)
  size_t index_bytes = 0;       // memory of the token index (bitsets + tables)
  double parse_ms = 0, dfa_ms = 0, index_ms = 0, total_ms = 0;
  // The pipeline's phases in order, each with its time and the size of what it built
  // (`size` counted in `unit`: "rules", "states", "productions", "entries", ...).
  struct Phase {
    std::string name;
    double ms = 0;
    size_t size = 0;
    std::string unit;
  };
  std::vector<Phase> phases;
};

struct ToolCallSpec;  // tollgate/tool_calls.hpp

class CompiledGrammar {
 public:
  struct Impl;
  explicit CompiledGrammar(std::unique_ptr<Impl> impl);
  ~CompiledGrammar();

  const TokenizerInfo& tokenizer() const;
  TokenizerInfoPtr tokenizer_ptr() const;
  const CompileStats& stats() const;
  // Bytes of memory held by this compiled grammar (automata + index).
  size_t memory_bytes() const;
  // Warnings from compilation (unknown or relaxed schema keywords, unused rules, ...).
  const std::vector<CompileWarning>& warnings() const;
  const Impl& impl() const { return *impl_; }

  // The compiled grammar as bytes (engine/grammar_blob.cpp): automata, the token index computed
  // so far, statistics and warnings, under a format version, the tokenizer's fingerprint and a
  // checksum.
  std::string serialize() const;
  // Loads what serialize() wrote, for `tokenizer`. Throws Error(kInvalidArgument) naming the
  // reason for a blob of another format version or another tokenizer, or a truncated or
  // corrupted one.
  static std::shared_ptr<const CompiledGrammar> deserialize(std::string_view blob, std::shared_ptr<const TokenizerInfo> tokenizer);

 private:
  std::unique_ptr<Impl> impl_;
};

using CompiledGrammarPtr = std::shared_ptr<const CompiledGrammar>;

// Cancels the compilations it is given to (Compiler::compile, compile_async): the compiler checks
// it between phases and in its long loops, and a waiting caller returns at once with
// Error(kCancelled). A compilation shared by several callers stops only when all of them have
// cancelled. Copies share one flag; thread-safe.
class CancelToken {
 public:
  CancelToken() : flag_(std::make_shared<std::atomic<bool>>(false)) {}
  void cancel() const { flag_->store(true); }
  bool cancelled() const { return flag_->load(); }

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
};

enum class GrammarKind { kRegex, kGrammar, kJsonSchema, kToolCalls };

struct ToolCallSpec;  // tollgate/tool_calls.hpp

// One grammar to compile (Compiler::compile): its kind, text and the kind's options.
struct GrammarRequest {
  GrammarRequest() = default;
  GrammarRequest(GrammarKind kind, std::string text, std::string format = "gbnf")
      : kind(kind), text(std::move(text)), format(std::move(format)) {}
  GrammarKind kind = GrammarKind::kRegex;
  std::string text;
  std::string format = "gbnf";  // kGrammar: "gbnf", "lark" or "ebnf"
  JsonSchemaOptions schema;     // kJsonSchema
  std::string source_name;      // file name in error and warning positions
  // kToolCalls: the spec (text is not used; tool_calls_request in tollgate/tool_calls.hpp builds such a request).
  std::shared_ptr<const ToolCallSpec> tool_calls;
};

// Counters of a Compiler's compiled-grammar cache (shared by its copies).
struct GrammarCacheStats {
  size_t hits = 0;          // found in the local cache
  size_t misses = 0;        // not found: compiled, loaded from Redis, or joined a compilation
  size_t joined = 0;        // ... of which waited on a compilation another caller started
  size_t compiles = 0;      // compilations this process ran
  size_t cancelled = 0;     // callers that gave up through their CancelToken
  size_t evictions = 0;     // grammars evicted to stay within grammar_cache_bytes
  size_t entries = 0, bytes = 0, max_bytes = 0;
  size_t redis_hits = 0;    // loaded from Redis
  size_t redis_published = 0;
  size_t redis_waits = 0;   // waited on another process's compilation
  size_t redis_errors = 0;  // Redis unreachable or failing: compiled locally
};

class Compiler {
 public:
  explicit Compiler(TokenizerInfoPtr tokenizer, CompileOptions options = {});
  ~Compiler();

  // Full-match semantics: the whole output must match `pattern`. Throws tollgate::Error.
  CompiledGrammarPtr compile_regex(std::string_view pattern) const;

  // Context-free grammar in `format` ("gbnf", "lark" or "ebnf"). `source_name` is used in
  // error positions (file:line:column). Throws tollgate::Error.
  CompiledGrammarPtr compile_grammar(std::string_view text, std::string_view format,
                                     std::string_view source_name = {}) const;
  // JSON Schema (draft 2020-12 by default, draft-07 by $schema) as JSON text. Throws
  // tollgate::Error: kParse with line:column for malformed JSON, kSchema with the JSON pointer
  // (pos().pointer) for a schema that cannot be compiled.
  CompiledGrammarPtr compile_json_schema(std::string_view schema_json,
                                         const JsonSchemaOptions& options = {},
                                         std::string_view source_name = {}) const;
  // Tool calls inside free text (tollgate/tool_calls.hpp), one grammar, through the
  // compiled-grammar cache as the others (keyed by the spec's canonical text,
  // tool_calls_key_text). Throws tollgate::Error: kInvalidArgument for a malformed spec, kSchema
  // (message naming the tag) for a bad schema.
  CompiledGrammarPtr compile_tool_calls(const ToolCallSpec& spec, std::string_view source_name = {}) const;
  // The built-in JSON grammar (RFC 8259), compiled once per Compiler and cached.
  CompiledGrammarPtr builtin_json() const;

  // Any of the above, through the compiled-grammar cache (compile_regex, compile_grammar,
  // compile_json_schema and compile_tool_calls go through it too): a hit returns the cached grammar; concurrent
  // requests for one grammar share one compilation; with CompileOptions::redis_url, Redis is
  // asked before compiling. Throws tollgate::Error (kCancelled once `cancel` is cancelled).
  CompiledGrammarPtr compile(const GrammarRequest& request, const CancelToken& cancel = {}) const;
  // compile() on another thread: the caller prefills while the grammar compiles. The future
  // holds the grammar or the Error.
  std::shared_future<CompiledGrammarPtr> compile_async(GrammarRequest request, CancelToken cancel = {}) const;
  GrammarCacheStats cache_stats() const;
  // The key of `request` in Redis: "tollgate:cg:v<format version>:<tokenizer fingerprint>:<SHA-256
  // of kind, options and text>" (hex).
  std::string cache_key(const GrammarRequest& request) const;

  const TokenizerInfoPtr& tokenizer() const { return tokenizer_; }
  const CompileOptions& options() const { return options_; }

 private:
  // The compilations themselves (no cache).
  CompiledGrammarPtr compile_now(const GrammarRequest& request) const;
  CompiledGrammarPtr compile_regex_now(std::string_view pattern) const;
  CompiledGrammarPtr compile_grammar_now(std::string_view text, std::string_view format,
                                         std::string_view source_name) const;
  CompiledGrammarPtr compile_json_schema_now(std::string_view schema_json, const JsonSchemaOptions& options,
                                             std::string_view source_name) const;
  CompiledGrammarPtr compile_tool_calls_now(const ToolCallSpec& spec, std::string_view source_name) const;
  // CompileOptions::warm_up_json: what the constructor compiles and walks.
  void warm_up_json() const;
  // Through Redis when configured, under cache_key(request); compile_now otherwise (no key: its
  // SHA-256 was a tenth of a small schema's compile in a fresh process, OpenSSL's first use).
  CompiledGrammarPtr compile_shared(const GrammarRequest& request) const;
  // compile() of a request already held: the compile's closure shares it (a schema's text is not
  // copied again for it). `cancel` null: nothing can cancel it (the calls without a token).
  CompiledGrammarPtr compile_held(std::shared_ptr<const GrammarRequest> request, const CancelToken* cancel) const;

  TokenizerInfoPtr tokenizer_;
  CompileOptions options_;
  struct Cache;  // compiled built-ins, shared by copies of this Compiler
  std::shared_ptr<Cache> cache_;
};

}  // namespace tollgate
