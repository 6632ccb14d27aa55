// The length budget of the context-free back-end (Matcher::set_token_budget).
// Takes: a CfgGrammar (its lazy token index) and a generation's runtime (engine/cfg_backend.hpp). Gives: the shortest completion of a
// parser configuration (fsm/completion.hpp) and the budget's mask filter. The filter of a
// configuration with mask M and budget "at most max_after bytes after the token":
//  - tokens that stay inside a thread's lexeme (the thread's index entry): their completion
//    through that thread is at most the lexeme's worst reachable distance plus what follows the
//    lexeme (CfgCompletion::inside_bound); when that fits, the whole set is kept without a
//    look at its tokens, otherwise each of its tokens in M is walked through the lexeme DFA
//    (a few table lookups) and kept when dist + what follows fits;
//  - the other tokens of M (they cross a lexeme boundary) are stepped through the parser from
//    the full configuration and kept when the result's shortest completion fits.
// The largest completion found for a configuration (its worst token) is cached per
// configuration (bounded; cleared whole when full), so a configuration seen again with a budget
// that covers it costs one lookup. EOS bits are left as they are.
#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "engine/cfg_backend.hpp"
#include "fsm/completion.hpp"

namespace tollgate::engine {

class CfgLengthBudget {
 public:
  // Over the configurations of `rt` (a generation's runtime; the grammar gives the index).
  CfgLengthBudget(const CfgGrammar& g, const fsm::CfgRuntime& rt) : g_(g), rt_(rt), completion_(rt) {}
  uint32_t shortest(const fsm::ParserState& state) const { return completion_.of_state(state); }
  // Clears the tokens of `row` (the whole filled mask of `state`, never a part of it: the worst
  // completion cached for the configuration is taken over the row) after which more than
  // max_after bytes are needed. at_start_strip: the first token's leading space is dropped (as the mask did).
  void filter(const fsm::ParserState& state, bool at_start_strip, uint32_t* row, uint32_t max_after) const;
  const fsm::CfgCompletion& completion() const { return completion_; }

 private:
  const CfgGrammar& g_;
  const fsm::CfgRuntime& rt_;
  fsm::CfgCompletion completion_;
  static constexpr size_t kMaxCached = size_t{1} << 16;
  mutable std::mutex mu_;
  mutable std::unordered_map<fsm::Threads, uint32_t, CfgGrammar::KeyHash> worst_;  // configuration → worst token's completion
};

}  // namespace tollgate::engine
