// Thompson NFA over bytes.
// Takes: a grammar::Regex (code points). Gives: an NFA whose edges are byte ranges and whose
// epsilon moves are explicit; character sets are compiled to UTF-8 byte sequences (utf8.hpp),
// shared through a prefix trie so a large class such as \p{L} stays small.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

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

// Throws tollgate::Error(kLimit) when the NFA would exceed 8 × max_states states or about
// max_bytes bytes (states, edges and epsilon moves, with their allocations).
Nfa build_nfa(const grammar::Regex& regex, size_t max_states, size_t max_bytes = SIZE_MAX);

}  // namespace tollgate::fsm
