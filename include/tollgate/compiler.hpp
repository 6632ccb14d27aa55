// Compiler — turns a grammar (regex; later JSON Schema, GBNF, Lark, EBNF) into an immutable
// CompiledGrammar bound to one vocabulary. CompiledGrammar is shared read-only between threads
// and matchers.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
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
    kPretty,    // newline + `indent` spaces per level, ": " after keys
  };
  Whitespace whitespace = Whitespace::kFlexible;
  int max_whitespace = 20;  // per gap, kFlexible only
  int indent = 2;           // kPretty only
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
  // Wall-clock budget of one compile call in milliseconds (0 = none), and a flag another thread
  // may set to cancel it (owned by the caller, must outlive the call). Either ends the compilation
  // with Error(kLimit) within milliseconds: the automaton construction, the CFG build and the
  // token index check them as they go.
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
  // Bytes of token index entries a Compiler (and its copies) keeps for reuse across the grammars
  // it compiles, keyed by the lexeme state's canonical future (JSON strings, numbers, formats
  // recur across schemas): each entry's token set, boundary roots and key. Over the bound the
  // cache is cleared whole; 0 disables it.
  size_t index_cache_bytes = size_t{64} << 20;  // 64 MiB
  // Grammars and JSON Schemas: the run-time caches of one compiled grammar, shared by its
  // matchers, each bounded in bytes and cleared whole when full (the memory a long-running
  // process holds per grammar beyond its automata and index is at most their sum).
  size_t mask_cache_bytes = size_t{256} << 20;      // whole masks of parser states with several threads
  size_t boundary_cache_bytes = size_t{512} << 20;  // boundary token lists, local walks, guard sets
  size_t walk_cache_bytes = size_t{32} << 20;       // the boundary walks' DFA over parser states
  // How JSON Schemas embedded in grammars are compiled: Lark's `%json { ... }` and the schemas of
  // tool calls (compile_tool_calls). Compiler::compile_json_schema takes its own.
  JsonSchemaOptions json_schema;
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
  size_t dfa_states = 0;
  size_t lexemes = 0;           // regular lexemes, one DFA each (1 for a regex)
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

 private:
  std::unique_ptr<Impl> impl_;
};

using CompiledGrammarPtr = std::shared_ptr<const CompiledGrammar>;

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
  // Tool calls inside free text (tollgate/tool_calls.hpp), one grammar. Throws tollgate::Error:
  // kInvalidArgument for a malformed spec, kSchema (message naming the tag) for a bad schema.
  CompiledGrammarPtr compile_tool_calls(const ToolCallSpec& spec, std::string_view source_name = {}) const;
  // The built-in JSON grammar (RFC 8259), compiled once per Compiler and cached.
  CompiledGrammarPtr builtin_json() const;

  const TokenizerInfoPtr& tokenizer() const { return tokenizer_; }
  const CompileOptions& options() const { return options_; }

 private:
  TokenizerInfoPtr tokenizer_;
  CompileOptions options_;
  struct Cache;  // compiled built-ins, shared by copies of this Compiler
  std::shared_ptr<Cache> cache_;
};

}  // namespace tollgate
