// CfgRuntime — byte-level recognition of a Cfg: lexeme DFAs under the Earley graph.
// Takes: a Cfg. Gives: a parser configuration as a small sorted set of lexeme threads
// (lexeme, DFA state, Earley node the lexeme started in) and step(byte) on it. Lexing is
// nondeterministic (every way to cut the input into lexemes is followed), so the language is
// exactly the grammar's; when a thread reaches a final DFA state its lexeme is scanned into its
// Earley node and the next lexemes are spawned from the resulting node. %ignore lexemes re-spawn
// from the node they started in. A lexeme's DFA may be built when a thread of it is first spawned
// (LexemeAutomata below).
// Leftmost-first lexing (Cfg::leftmost_first, Lark): lexeme DFAs come from
// compile_leftmost_first_dfa, and a lexeme completing in a final state from which it could still
// reach a final state completes only on condition that it does not: the threads spawned from
// that completion carry a guard, the set of such pending (lexeme, state) pairs. A byte that takes
// a pending pair to a final state (a longer preferred match exists) kills the thread; pairs that
// die are dropped. Guard sets are interned lazily (thread-safe; a memoised guard step is read
// without a lock); guard 0 is the empty set.
// Generations: next_generation() gives a runtime over the same Cfg and lexeme automata (shared,
// immutable) with a fresh Earley graph and guard tables — the parts that only grow as new inputs
// are seen, and whose node and guard ids every parser configuration holds. A configuration is
// only meaningful in the runtime that made it.
// A Lark grammar with an embedded JSON Schema (%json) mixes the two: the schema's lexemes
// (Cfg::lexeme_lf false) follow every cut, and the grammar's %ignore does not apply inside them.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "fsm/atomic_memo.hpp"
#include "fsm/cfg.hpp"
#include "fsm/dfa.hpp"
#include "fsm/earley.hpp"

namespace tollgate::fsm {

// A lexeme's DFA with a fresh start state that is neither final nor re-entered, so a lexeme
// always spans at least one byte.
struct LexDfa {
  uint32_t start = 0;
  uint32_t num_classes = 1;
  std::array<uint8_t, 256> classes{};
  std::vector<uint32_t> table;
  std::vector<uint8_t> finals;
  std::vector<uint8_t> live;  // the state has a transition (leftmost-first: a final state may still be overtaken)
  uint32_t num_states() const { return static_cast<uint32_t>(finals.size()); }
  uint32_t next(uint32_t s, uint8_t b) const { return table[static_cast<size_t>(s) * num_classes + classes[b]]; }
  bool is_final(uint32_t s) const { return finals[s] != 0; }
  static LexDfa from(Dfa dfa);  // takes the table over
};

// Lexeme automata shared by the grammars one Compiler (and its copies) compiles: keys with the
// separators around them, strings, numbers and formats recur across schemas (on maskbench-dev
// with one Compiler, over half of the lexeme automata a schema needs were built for an earlier
// one). Keyed by the lexeme's regex (grammar::RegexIdentity; the entry keeps the regex alive) and
// its lexing mode. Bounded in bytes (each automaton and its regex's distinct nodes): over the
// bound the least recently used go; grammars keep the automata they use (shared_ptr). Thread-safe.
class LexemeDfaCache {
 public:
  explicit LexemeDfaCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  std::shared_ptr<const LexDfa> find(const grammar::Regex& regex, bool leftmost_first);
  void put(const grammar::RegexPtr& regex, bool leftmost_first, std::shared_ptr<const LexDfa> dfa);
  size_t bytes() const;
  size_t size() const;
  size_t max_bytes() const { return max_bytes_; }

 private:
  struct Entry {
    size_t hash;
    grammar::RegexPtr regex;
    bool leftmost_first;
    std::shared_ptr<const LexDfa> dfa;
    size_t bytes;
  };
  using List = std::list<Entry>;
  List::iterator find_locked(size_t hash, const grammar::Regex& regex, bool leftmost_first);

  size_t max_bytes_;
  mutable std::mutex mu_;
  List lru_;                                                      // most recently used first; under mu_
  std::unordered_map<size_t, std::vector<List::iterator>> by_hash_;  // under mu_
  size_t bytes_ = 0;                                              // under mu_
};

// The lexeme automata of one Cfg, shared by its runtime's generations. Built all at once (eager),
// or each when first asked for (lazy: a lexeme's DFA is first needed when a parser configuration
// spawns its thread, so a compile builds only what its first steps reach). get() is lock-free once
// a lexeme is built; building takes a mutex, so concurrent matchers build each lexeme once.
// Lazy builds keep the DFA budgets (DfaOptions) but run outside the compile call: a lexeme over
// budget is a kLimit error from the step that first needs it (Matcher: fill or accept).
class LexemeAutomata {
 public:
  // Nothing built yet; each lexeme of `cfg` built with `options` (budgets) when first asked for.
  // shared (may be null): where automata are looked up before they are built, and put after.
  // Before any walk starts, the caller calls partition_unbuilt() once.
  LexemeAutomata(std::shared_ptr<const Cfg> cfg, const DfaOptions& options,
                 std::shared_ptr<LexemeDfaCache> shared = nullptr);
  // Built before: lexeme l's automaton is dfas[l].
  explicit LexemeAutomata(std::vector<LexDfa> dfas);
  ~LexemeAutomata();

  size_t size() const { return size_; }
  const LexDfa& get(uint32_t lexeme) const {
    const LexDfa* d = ptr_[lexeme].load(std::memory_order_acquire);
    return d ? *d : build(lexeme);
  }
  bool built(uint32_t lexeme) const { return ptr_[lexeme].load(std::memory_order_acquire) != nullptr; }
  // Lexeme l's automaton (built now if it was not), owned: the grammars of one Compiler that
  // spell a lexeme alike get one automaton from the shared cache, so results computed on it can be
  // kept under its address while the pointer is held. Null without a shared cache.
  std::shared_ptr<const LexDfa> shared_dfa(uint32_t lexeme) const;
  size_t num_built() const { return built_.load(std::memory_order_acquire); }
  size_t num_built_states() const { return states_.load(std::memory_order_relaxed); }  // of those built
  size_t num_shared() const { return shared_hits_.load(std::memory_order_relaxed); }  // of those built: from the shared cache
  // The automata built, and the sub-automata kept for those still to build (SubDfaCache).
  size_t memory_bytes() const {
    return bytes_.load(std::memory_order_relaxed) + sub_dfa_bytes_.load(std::memory_order_relaxed);
  }
  // Lazy: a partition of the bytes that every lexeme's DFA respects (bytes in one class step
  // every lexeme alike), read from the regexes before any DFA exists: the byte sets an automaton
  // may test a byte against (the UTF-8 ranges of its code point sets at each position, byte
  // ranges, automata edges, the escape bytes of what a JSON string may hold, every code point
  // for a complement), refined into classes. Each DFA is checked against it when built. Null
  // when everything was built before partition_unbuilt() (read the DFAs instead).
  const std::array<uint8_t, 256>* byte_partition() const { return partition_ ? &*partition_ : nullptr; }
  uint32_t byte_partition_classes() const { return partition_classes_; }
  // When some lexemes are still to build: reads the partition from the regexes and checks the
  // automata built so far against it. Called once, before any walk (not thread-safe with get()).
  void partition_unbuilt();

 private:
  const LexDfa& build(uint32_t lexeme) const;
  void check_partition(uint32_t lexeme, const LexDfa& d) const;  // throws kInternal
  const LexDfa& publish_locked(uint32_t lexeme, LexDfa d) const;
  const LexDfa& publish_locked(uint32_t lexeme, std::shared_ptr<const LexDfa> d) const;

  std::shared_ptr<const Cfg> cfg_;
  mutable DfaOptions options_;  // under mu_ (its sub_dfas goes with sub_dfas_)
  size_t size_ = 0;
  std::unique_ptr<std::atomic<const LexDfa*>[]> ptr_;
  std::optional<std::array<uint8_t, 256>> partition_;
  uint32_t partition_classes_ = 0;
  mutable std::mutex mu_;
  std::shared_ptr<LexemeDfaCache> shared_;                     // may be null
  // [lexeme]: sized once; an element is written (under mu_) before ptr_ publishes it, then read freely
  mutable std::vector<std::shared_ptr<const LexDfa>> owned_;
  mutable std::unique_ptr<SubDfaCache> sub_dfas_;              // under mu_; freed once all are built
  mutable std::atomic<size_t> built_{0}, states_{0}, bytes_{0}, sub_dfa_bytes_{0}, shared_hits_{0};
};

struct Thread {
  uint32_t lexeme, state, node;
  uint32_t guard = 0;  // leftmost-first: the pending matches this thread's existence depends on
  bool operator==(const Thread&) const = default;
  bool operator<(const Thread& o) const {
    if (node != o.node) return node < o.node;
    if (lexeme != o.lexeme) return lexeme < o.lexeme;
    if (state != o.state) return state < o.state;
    return guard < o.guard;
  }
};
using Threads = std::vector<Thread>;

struct ParserState {
  Threads threads;
  bool accepting = false;
  bool operator==(const ParserState&) const = default;
};

class CfgRuntime {
 public:
  // max_earley_items: see EarleyGraph (CompileOptions::max_earley_items).
  // on_lexeme (progress; may be empty): called after each lexeme's DFA is built, with (done, total).
  // eager_states: lexeme DFAs are built here, in lexeme order, until this many states are built;
  // eager_ms (> 0): then on, in order, until that many milliseconds have passed (a lexeme over the
  // DFA budgets skipped, its error left to the mask that needs it); each of the others when a
  // configuration first spawns it (LexemeAutomata), except those the initial configuration spawns
  // (built here too). Ignored (everything built here) under leftmost-first lexing, whose guard
  // tables number every state up front.
  CfgRuntime(Cfg cfg, const DfaOptions& options = {}, size_t max_earley_items = EarleyGraph::kDefaultMaxItems,
             const std::function<void(size_t, size_t)>& on_lexeme = {}, size_t eager_states = SIZE_MAX,
             std::shared_ptr<LexemeDfaCache> shared_lexemes = nullptr, double eager_ms = 0);
  // From lexeme automata built before (a loaded compiled grammar: engine/grammar_blob.cpp);
  // dfas[l] is lexeme l's LexDfa, cfg.lexemes may hold placeholders.
  CfgRuntime(Cfg cfg, std::vector<LexDfa> dfas, size_t max_earley_items = EarleyGraph::kDefaultMaxItems);

  // A runtime sharing this one's Cfg and lexeme automata, with a fresh Earley graph (same item
  // limit) and guard tables.
  std::unique_ptr<CfgRuntime> next_generation() const;

  ParserState initial() const;
  // Advances `in` by one byte into `out` (cleared first). Returns false when no thread survives.
  // `popped` (if given) is set when a lexeme ending at this byte completes an item into a
  // truncated node's wildcard context (EarleyGraph::truncate).
  bool step(const ParserState& in, uint8_t byte, ParserState& out, bool* popped = nullptr) const;
  bool feed(ParserState& state, std::string_view bytes) const;  // false: dead (state undefined)
  bool matches(std::string_view bytes) const;                  // whole string is a sentence
  bool is_prefix(std::string_view bytes) const;                 // live prefix
  // The lexeme threads that start in Earley node `node` (expected + %ignore lexemes), under guard.
  void spawn(uint32_t node, Threads& out, uint32_t guard = 0) const;
  // Sorts threads and drops duplicates, and guarded copies of a thread that is also unguarded.
  static void normalise(Threads& threads);
  // Bytes forced from `state` (stops at an accepting state or a choice), at most max_bytes.
  std::string forced_bytes(const ParserState& state, size_t max_bytes = 4096) const;

  const Cfg& cfg() const { return *cfg_; }
  EarleyGraph& graph() const { return *graph_; }
  // Lexeme l's DFA (built now if it was not: see LexemeAutomata).
  const LexDfa& dfa(uint32_t lexeme) const { return dfas_->get(lexeme); }
  const LexemeAutomata& automata() const { return *dfas_; }
  size_t num_lexemes() const { return dfas_->size(); }
  size_t memory_bytes() const;  // generation_bytes() and the lexeme automata
  // Bytes of what only grows: the Earley graph with its memo tables, and the guard tables.
  // Lock-free.
  size_t generation_bytes() const { return graph_->memory_bytes() + guard_bytes_.load(std::memory_order_relaxed); }

  // Guards (leftmost-first lexing).
  static constexpr uint32_t kFired = UINT32_MAX;
  bool leftmost_first() const { return cfg_->leftmost_first; }
  bool leftmost_first(uint32_t lexeme) const { return cfg_->lexeme_lf[lexeme] != 0; }
  // The guard after `byte`: kFired when a pending match reaches a final state.
  uint32_t guard_step(uint32_t guard, uint8_t byte) const;
  // The guard a completion of `lexeme` in final `state` by an unguarded thread puts on what it
  // spawns: 0 unless lexing is leftmost-first and the match may still grow (lock-free).
  uint32_t completion_guard(uint32_t lexeme, uint32_t state) const {
    return single_guard_.empty() ? 0 : single_guard_[state_offset_[lexeme] + state];
  }

 private:
  CfgRuntime(std::shared_ptr<const Cfg> cfg, std::shared_ptr<const LexemeAutomata> dfas, size_t max_earley_items);
  void init(size_t max_earley_items);  // the Earley graph, %ignore lexemes, state offsets, guards (after dfas_)
  uint32_t guard_step_locked(uint32_t guard, uint8_t byte) const;
  uint32_t guard_add(uint32_t guard, uint32_t lexeme, uint32_t state) const;
  uint32_t guard_add_locked(uint32_t guard, uint32_t lexeme, uint32_t state) const;
  uint32_t guard_intern_locked(std::vector<uint64_t> members) const;

  std::shared_ptr<const Cfg> cfg_;  // shared by the generations
  std::unique_ptr<EarleyGraph> graph_;
  std::shared_ptr<const LexemeAutomata> dfas_;  // shared by the generations
  std::vector<uint32_t> ignore_lexemes_;
  // Some lexemes are Lark's and some an embedded JSON Schema's, and there are %ignore lexemes:
  // those start only from a node that expects a Lark lexeme, holds an item of a Lark rule, or is
  // accepting.
  bool mixed_ignore_ = false;
  std::vector<uint32_t> state_offset_;  // leftmost-first: lexeme → index of its first state among all lexemes' states
  std::vector<uint32_t> single_guard_;  // leftmost-first: guard {(lexeme, state)} by state index
  struct KeyHash {
    size_t operator()(const std::vector<uint64_t>& v) const;
  };
  mutable std::mutex guard_mu_;
  mutable std::vector<std::vector<uint64_t>> guard_sets_;  // sorted (lexeme << 32 | state)
  mutable std::unordered_map<std::vector<uint64_t>, uint32_t, KeyHash> guard_ids_;
  mutable AtomicMemo guard_step_memo_, guard_add_memo_;  // lock-free reads, inserts under guard_mu_
  mutable size_t guard_set_bytes_ = 0;                   // the sets and their ids (under guard_mu_)
  mutable std::atomic<size_t> guard_bytes_{0};            // all guard tables
  void account_guards_locked() const;
};

}  // namespace tollgate::fsm
