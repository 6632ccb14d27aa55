// Thompson NFA over bytes.
// Takes: a grammar::Regex (code points). Gives: an NFA whose edges are byte ranges and whose
// epsilon moves are explicit; character sets are compiled to UTF-8 byte sequences (utf8.hpp),
// shared through a prefix trie so a large class such as \p{L} stays small.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fsm/dfa.hpp"
#include "grammar/regex_ast.hpp"

namespace tollgate::fsm {

struct NfaEdge {
  uint8_t lo, hi;
  uint32_t to;
};

struct NfaState {
  std::vector<NfaEdge> edges;
  std::vector<uint32_t> eps;
};

struct Nfa {
  std::vector<NfaState> states;
  uint32_t start = 0;
  uint32_t accept = 0;  // the single accepting state (no outgoing edges)
};

// Throws tollgate::Error(kLimit) when the NFA would exceed 8 × options.max_states states or about
// options.max_memory_bytes bytes (states, edges and epsilon moves, with their allocations).
// kIntersect, kComplement and kJsonString nodes are compiled to their minimal DFA (compile_dfa,
// with the same state budget and the memory left) and embedded: one NFA state per DFA state, an
// edge per run of bytes with the same target, an epsilon move from each final state to the
// fragment's exit. kAutomaton nodes are embedded as they are (validated: kInvalidArgument).
// With `leftmost_first` (compile_leftmost_first_dfa) these four kinds throw kUnsupported.
Nfa build_nfa(const grammar::Regex& regex, const DfaOptions& options, bool leftmost_first = false);
Nfa build_nfa(const grammar::Regex& regex, size_t max_states, size_t max_bytes = SIZE_MAX);

}  // namespace tollgate::fsm
