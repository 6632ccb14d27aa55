// Random strings of a language, for `tollgate sample`. Takes: a checked Grammar IR (GBNF, Lark, EBNF
// or a JSON Schema's) or a regex DFA, a seed and a byte budget. Gives: strings built by expanding the
// grammar at random — alternatives and repetition counts chosen under the budget (each rule's shortest
// derivation is known, so a string always closes), every regular leaf walked at random through its
// DFA toward a final state. In Lark, a sample of the shortest %ignore item goes between lexemes.
// The caller checks each string with a Matcher (leftmost-first lexing may cut it otherwise) and
// draws again when refused.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "fsm/dfa.hpp"
#include "grammar/grammar_ir.hpp"

namespace tollgate::engine {

// A random string of the DFA's language of at most max_bytes bytes (its shortest string when
// that is longer), or nullopt when the language is empty.
std::optional<std::string> sample_dfa(const fsm::Dfa& dfa, std::mt19937_64& rng, size_t max_bytes);

class GrammarSampler {
 public:
  // g: resolved by check_grammar_ir (kept). Throws tollgate::Error(kLimit) when a leaf's DFA is too large.
  explicit GrammarSampler(grammar::Grammar g);
  ~GrammarSampler();
  // One string (nullopt when the language is empty). Longer than max_bytes only when the shortest
  // string is.
  std::optional<std::string> sample(std::mt19937_64& rng, size_t max_bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tollgate::engine
