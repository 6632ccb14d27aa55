// Cfg — a grammar split into lexemes (regular parts) and structure (context-free productions).
// Takes: a checked grammar::Grammar. Gives: productions over nonterminals and lexemes, where
// every lexeme is a regex that the runtime matches with a DFA. In GBNF/EBNF, regular rules are
// inlined and runs of regular items in a sequence merge into one lexeme (fewer lexeme
// boundaries → more of the mask precomputed); in Lark every terminal stays its own lexeme, so
// that ignored text can come between them and each matches as Lark matches it
// (Grammar::leftmost_first). A lexeme never matches the empty string: a nullable regular part
// becomes `N → L | ε`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "grammar/grammar_ir.hpp"

namespace tollgate::fsm {

// Symbol: >= 0 nonterminal, < 0 lexeme (-1 - lexeme id).
using Sym = int32_t;
inline bool is_lexeme(Sym s) { return s < 0; }
inline uint32_t lexeme_of(Sym s) { return static_cast<uint32_t>(-1 - s); }
inline Sym lexeme_sym(uint32_t l) { return -1 - static_cast<Sym>(l); }

struct Production {
  int32_t lhs;
  std::vector<Sym> rhs;
};

struct Cfg {
  std::vector<Production> prods;  // prods[0] is S' → start
  std::vector<std::string> nt_names;
  std::vector<std::vector<uint32_t>> prods_of;  // nonterminal → its productions
  std::vector<char> nullable;                   // per nonterminal
  std::vector<grammar::RegexPtr> lexemes;       // their empty string is ignored
  std::vector<char> is_ignore;                  // per lexeme: a %ignore lexeme
  // Per lexeme: matched leftmost-first (a Lark terminal). A JSON Schema embedded in Lark (%json,
  // GRule::free_lexing) gives lexemes that are not: every cut is followed, as in GBNF.
  std::vector<char> lexeme_lf;
  std::vector<char> nt_free;
  // Per lexeme: only the end of the input can follow it (it is last in every production that
  // holds it, up to the start symbol, and there are no %ignore lexemes). Such a lexeme ending
  // inside a token leaves nothing the rest of the token could match: the back-end records no
  // boundary roots for it (free text at the end of a tool-call grammar is final almost everywhere).
  std::vector<char> lexeme_last;  // per nonterminal: from a GRule::free_lexing rule (an embedded schema)
  bool leftmost_first = false;                  // some lexeme is leftmost-first (Lark)
  size_t num_nonterminals() const { return nt_names.size(); }
  std::string describe() const;  // readable dump (tests, debugging)
};

struct CfgOptions {
  // A regular rule whose inlined regex would exceed this many AST nodes stays structural.
  size_t max_inline_nodes = 20000;
  // ... or that holds a bounded repetition (two or more copies) copying more regex nodes than
  // this (the item's own counted repetitions expanded): its item's automaton would be built once
  // per copy.
  size_t max_copied_nodes = 1000;
  // ... or whose inlined regex would nest deeper than this (counting each reference as a level;
  // the smaller of this and the grammar's GrammarOptions::max_nesting applies). Keeps the
  // recursion over lexeme regexes (NFA, widths) bounded; a Lark terminal deeper than this is a
  // kLimit error, since it must stay one lexeme.
  size_t max_inline_depth = grammar::kDefaultMaxNesting;
};

Cfg build_cfg(const grammar::Grammar& grammar, const CfgOptions& options = {});

bool regex_nullable(const grammar::Regex& r);

}  // namespace tollgate::fsm
