// The regular back-end: a CompiledGrammar that is one minimal DFA plus its TokenIndex, and the
// Matcher over it, whose state is a DFA state. A mask fill is a lookup plus a copy. The length
// budget reads the state's distance to acceptance (a reverse BFS at build time); a mask is
// filtered token by token only when the worst distance reachable from the state exceeds what the
// budget leaves.
#pragma once

#include <vector>

#include "engine/grammar_impl.hpp"
#include "fsm/dfa.hpp"
#include "fsm/distance.hpp"
#include "fsm/token_index.hpp"

namespace tollgate::engine {

struct RegexGrammar : CompiledGrammar::Impl {
  fsm::Dfa dfa;
  fsm::TokenIndex index;
  bool strip_first_space = false;
  // Per DFA state: bytes to acceptance and the worst such distance reachable (the length budget).
  fsm::DfaDistances dist;

  std::unique_ptr<Matcher::Impl> make_matcher(CompiledGrammarPtr self,
                                              int max_rollback) const override;
  size_t memory_bytes() const override {
    return dfa.memory_bytes() + index.memory_bytes() + dist.to_final.size() * 8;
  }
};

// Builds the regular back-end from a DFA (used by compile_regex and by JSON Schemas that are
// regular). `phases`, when given, is told of the token index's progress (one tick per state).
class PhaseRecorder;
std::unique_ptr<RegexGrammar> build_regex_grammar(fsm::Dfa dfa, const TokenizerInfoPtr& tokenizer,
                                                  int threads, PhaseRecorder* phases = nullptr);

// Bytes forced from `state`: follows states with exactly one live byte until a final state or a
// choice.
std::string forced_bytes(const fsm::Dfa& dfa, uint32_t state);

}  // namespace tollgate::engine
