// CfgCompletion — the shortest completion, in bytes, of a context-free parser configuration (the
// length budget, include/tollgate/matcher.hpp).
// Takes: a CfgRuntime. Gives: of_state(state), the fewest bytes that turn the input so far into a
// sentence (0 when accepting; kUnreachable when none), and per thread the same through that thread.
// Computed from:
//  - per lexeme, its DFA's distance to a final state from every state (fsm/distance.hpp);
//  - the minimum yield (bytes) of every nonterminal: a fixpoint over the productions, once per
//    grammar, and from it the minimum yield of every production suffix rhs[dot..];
//  - per Earley node N and next-symbol key X (a nonterminal, or a lexeme), K(N, X): the fewest bytes
//    that finish the parse once X has been matched at N — min over N's items waiting for X of the
//    yield of the rest of the item plus the same for the item it completes into (its origin node,
//    or N itself for an item predicted at N: a shortest path inside N, relaxed to a fixpoint, over
//    origins that are older nodes). The item of S' → start ends it (0). Computed once per node on
//    first use (older origins first, with an explicit stack), memoised in a lock-free table.
// A thread (lexeme l in DFA state s, started at node N) costs dist_l(s) + K(N, l); a %ignore thread
// dist_l(s) + the cost of N itself. The bound ignores leftmost-first guards (Lark): a completion a
// guard would forbid is still counted, so for Lark grammars it is a lower bound.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "fsm/atomic_memo.hpp"
#include "fsm/cfg_runtime.hpp"
#include "fsm/distance.hpp"

namespace tollgate::fsm {

class CfgCompletion {
 public:
  explicit CfgCompletion(const CfgRuntime& rt);

  // Fewest bytes that complete `state` (0 when it is accepting; kUnreachable when none does).
  uint32_t of_state(const ParserState& state) const;
  // Fewest bytes that complete the parse through thread t.
  uint32_t of_thread(const Thread& t) const { return add(lexeme_dist(t.lexeme, t.state), after_lexeme(t)); }
  // An upper bound on of_thread after any bytes that keep t inside its lexeme.
  uint32_t inside_bound(const Thread& t) const { return add(lex_[t.lexeme].max_reach[t.state], after_lexeme(t)); }
  // Fewest bytes after t's lexeme has ended.
  uint32_t after_lexeme(const Thread& t) const;
  // Fewest bytes that complete the parse from the start of a lexeme at `node`.
  uint32_t node_cost(uint32_t node) const;
  uint32_t lexeme_dist(uint32_t lexeme, uint32_t state) const { return lex_[lexeme].to_final[state]; }
  // The grammar's shortest sentence (bytes).
  uint32_t shortest_sentence() const { return of_state(rt_.initial()); }
  const DfaDistances& lexeme_distances(uint32_t lexeme) const { return lex_[lexeme]; }

  static uint32_t add(uint32_t a, uint32_t b) {
    uint64_t s = uint64_t{a} + b;
    return s >= kUnreachable ? kUnreachable : static_cast<uint32_t>(s);
  }

 private:
  uint32_t key_cost(uint32_t node, uint32_t key) const;  // K(node, key)
  void compute_locked(uint32_t node) const;               // K(node, ·) for node and its unknown origins
  void compute_one_locked(uint32_t node) const;
  bool known(uint32_t node) const { return memo_.find(marker(node)) != AtomicMemo::kMissing; }
  static uint64_t marker(uint32_t node) { return (uint64_t{node} << 32) | 0xFFFFFFF0u; }

  const CfgRuntime& rt_;
  uint32_t num_nt_;
  std::vector<DfaDistances> lex_;
  std::vector<uint32_t> nt_yield_;       // per nonterminal
  std::vector<uint32_t> suffix_offset_;  // production → index of its rhs[0..] yield in suffix_
  std::vector<uint32_t> suffix_;         // per production, the yield of rhs[dot..] for dot = 0..size
  mutable std::mutex mu_;                // serialises computations (lookups take no lock)
  mutable AtomicMemo memo_;              // (node << 32 | key) → K; marker(node) once node is done
};

}  // namespace tollgate::fsm
