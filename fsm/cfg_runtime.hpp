// CfgRuntime — byte-level recognition of a Cfg: lexeme DFAs under the Earley graph.
// Takes: a Cfg. Gives: a parser configuration as a small sorted set of lexeme threads
// (lexeme, DFA state, Earley node the lexeme started in) and step(byte) on it. Lexing is
// nondeterministic (every way to cut the input into lexemes is followed), so the language is
// exactly the grammar's; when a thread reaches a final DFA state its lexeme is scanned into its
// Earley node and the next lexemes are spawned from the resulting node. %ignore lexemes re-spawn
// from the node they started in.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

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
  uint32_t num_states() const { return static_cast<uint32_t>(finals.size()); }
  uint32_t next(uint32_t s, uint8_t b) const { return table[static_cast<size_t>(s) * num_classes + classes[b]]; }
  bool is_final(uint32_t s) const { return finals[s] != 0; }
  static LexDfa from(const Dfa& dfa);
};

struct Thread {
  uint32_t lexeme, state, node;
  bool operator==(const Thread&) const = default;
  bool operator<(const Thread& o) const {
    if (node != o.node) return node < o.node;
    if (lexeme != o.lexeme) return lexeme < o.lexeme;
    return state < o.state;
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
  CfgRuntime(Cfg cfg, const DfaOptions& options = {});

  ParserState initial() const;
  // Advances `in` by one byte into `out` (cleared first). Returns false when no thread survives.
  // `popped` (if given) is set when a lexeme ending at this byte completes an item into a
  // truncated node's wildcard context (EarleyGraph::truncate).
  bool step(const ParserState& in, uint8_t byte, ParserState& out, bool* popped = nullptr) const;
  bool feed(ParserState& state, std::string_view bytes) const;  // false: dead (state undefined)
  bool matches(std::string_view bytes) const;                  // whole string is a sentence
  bool is_prefix(std::string_view bytes) const;                 // live prefix
  // The lexeme threads that start in Earley node `node` (expected + %ignore lexemes).
  void spawn(uint32_t node, Threads& out) const;
  // Bytes forced from `state` (stops at an accepting state or a choice), at most max_bytes.
  std::string forced_bytes(const ParserState& state, size_t max_bytes = 4096) const;

  const Cfg& cfg() const { return *cfg_; }
  EarleyGraph& graph() const { return *graph_; }
  const LexDfa& dfa(uint32_t lexeme) const { return dfas_[lexeme]; }
  size_t num_lexemes() const { return dfas_.size(); }
  size_t memory_bytes() const;

 private:
  std::unique_ptr<Cfg> cfg_;
  std::unique_ptr<EarleyGraph> graph_;
  std::vector<LexDfa> dfas_;
  std::vector<uint32_t> ignore_lexemes_;
};

}  // namespace tollgate::fsm
