// CfgRuntime — byte-level recognition of a Cfg: lexeme DFAs under the Earley graph.
// Takes: a Cfg. Gives: a parser configuration as a small sorted set of lexeme threads
// (lexeme, DFA state, Earley node the lexeme started in) and step(byte) on it. Lexing is
// nondeterministic (every way to cut the input into lexemes is followed), so the language is
// exactly the grammar's; when a thread reaches a final DFA state its lexeme is scanned into its
// Earley node and the next lexemes are spawned from the resulting node. %ignore lexemes re-spawn
// from the node they started in.
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
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
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
  static LexDfa from(const Dfa& dfa);
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
  CfgRuntime(Cfg cfg, const DfaOptions& options = {}, size_t max_earley_items = EarleyGraph::kDefaultMaxItems,
             const std::function<void(size_t, size_t)>& on_lexeme = {});
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
  const LexDfa& dfa(uint32_t lexeme) const { return dfa_[lexeme]; }
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
  CfgRuntime(std::shared_ptr<const Cfg> cfg, std::shared_ptr<const std::vector<LexDfa>> dfas, size_t max_earley_items);
  void init(size_t max_earley_items);  // the Earley graph, %ignore lexemes, state offsets, guards (after dfas_)
  uint32_t guard_step_locked(uint32_t guard, uint8_t byte) const;
  uint32_t guard_add(uint32_t guard, uint32_t lexeme, uint32_t state) const;
  uint32_t guard_add_locked(uint32_t guard, uint32_t lexeme, uint32_t state) const;
  uint32_t guard_intern_locked(std::vector<uint64_t> members) const;

  std::shared_ptr<const Cfg> cfg_;  // shared by the generations
  std::unique_ptr<EarleyGraph> graph_;
  std::shared_ptr<const std::vector<LexDfa>> dfas_;  // shared by the generations
  const LexDfa* dfa_ = nullptr;                      // dfas_->data()
  std::vector<uint32_t> ignore_lexemes_;
  // Some lexemes are Lark's and some an embedded JSON Schema's, and there are %ignore lexemes:
  // those start only from a node that expects a Lark lexeme, holds an item of a Lark rule, or is
  // accepting.
  bool mixed_ignore_ = false;
  std::vector<uint32_t> state_offset_;  // lexeme → index of its first state among all lexemes' states
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
