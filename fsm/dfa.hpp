// Dfa — a dense, minimal, byte-level deterministic automaton.
// Takes: a grammar::Regex. Gives: a table next(state, byte) over byte equivalence classes,
// with every state live (can reach a final state) and kDead for "no way on".
// Pipeline: Regex → Thompson NFA (nfa.cpp, UTF-8 ranges via utf8.cpp) → subset construction →
// Hopcroft minimisation → dead-state removal. JSON Schema's format regexes (pinned) are built once
// per process, or read from the DFAs computed at build time (prebuilt_dfas.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammar/regex_ast.hpp"

namespace tollgate::fsm {

inline constexpr uint32_t kDead = UINT32_MAX;
inline constexpr size_t kDefaultMaxDfaMemory = size_t{32} << 20;  // 32 MiB

class Dfa;
class SubDfaCache;

// Budgets for one automaton; exceeding either is a kLimit error (raised as soon as the next
// state would go over, so a regex whose DFA explodes fails after bounded time and memory).
struct DfaOptions {
  size_t max_states = 1'000'000;  // states of the subset construction
  // Bytes held while building: the NFA (states, edges, epsilon moves), and in the subset
  // construction every state's NFA-state set, the interning table and the transition table.
  size_t max_memory_bytes = kDefaultMaxDfaMemory;
  // Where sub-automata (every node but a concatenation and the leaves kEmpty, kNothing, kBytes)
  // are shared between the automata built with these options; none when null. Not owned.
  SubDfaCache* sub_dfas = nullptr;
};

class Dfa {
 public:
  Dfa() = default;

  uint32_t start() const { return start_; }
  size_t num_states() const { return finals_.size(); }
  size_t num_classes() const { return num_classes_; }
  uint32_t next(uint32_t state, uint8_t byte) const {
    return table_[static_cast<size_t>(state) * num_classes_ + classes_[byte]];
  }
  bool is_final(uint32_t state) const { return finals_[state] != 0; }
  // Walks `bytes` from `state`; kDead as soon as it dies.
  uint32_t walk(uint32_t state, std::string_view bytes) const {
    for (unsigned char b : bytes) {
      state = next(state, b);
      if (state == kDead) return kDead;
    }
    return state;
  }
  bool matches(std::string_view bytes) const {
    uint32_t s = walk(start_, bytes);
    return s != kDead && is_final(s);
  }
  // True when the language is empty (then the DFA is one non-final state with no way on).
  bool empty() const;
  const std::array<uint8_t, 256>& byte_classes() const { return classes_; }
  const std::vector<uint32_t>& table() const { return table_; }  // [state * num_classes() + class]
  const std::vector<uint8_t>& finals() const { return finals_; }  // per state, non-zero: final
  size_t memory_bytes() const { return table_.size() * 4 + finals_.size() + sizeof(*this); }
  // The table, moved out (the Dfa is left empty): for a caller that keeps it in another layout
  // without a copy (LexDfa::from). Builders leave a row of spare capacity where they can.
  std::vector<uint32_t> take_table() && { return std::move(table_); }

  // Construction (used by the builders in dfa.cpp).
  Dfa(uint32_t start, std::array<uint8_t, 256> classes, size_t num_classes,
      std::vector<uint32_t> table, std::vector<uint8_t> finals)
      : start_(start), classes_(classes), num_classes_(num_classes), table_(std::move(table)),
        finals_(std::move(finals)) {}

 private:
  uint32_t start_ = 0;
  std::array<uint8_t, 256> classes_{};
  size_t num_classes_ = 1;
  std::vector<uint32_t> table_;   // num_states × num_classes, kDead for no transition
  std::vector<uint8_t> finals_;
};

// The DFAs of sub-automaton nodes by their structure (grammar::RegexIdentity), shared by the
// automata of one grammar: a JSON string language that recurs in many lexemes (every property's
// `"key": value` lexeme of a large schema or of many tool schemas), a value's alternation, a
// string body or a counted character set, is built and minimised once instead of once per lexeme
// or per node. Concatenations are not kept here: they are joined from their pieces (piece(),
// cached by node), and a whole lexeme's DFA kept a second time cost more in copies than it saved
// (every 10th maskbench-dev schema, worker instructions: 18.56G with them, 18.49G without; only
// kIntersect, kComplement and kJsonString nodes: 18.63G). A node found here is not
// built again, so its construction budget is not checked again (the DFA found is the same; its
// size is still charged to the automaton that embeds it). Not thread-safe: one per build loop.
class SubDfaCache {
 public:
  // The DFA of `node` (not a concatenation), built with `options` (whose sub_dfas is this cache)
  // the first time a node of its structure is seen.
  const Dfa& get(const grammar::Regex& node, const DfaOptions& options);
  // The DFA of an item of a concatenation built piece by piece (compile_dfa's deterministic
  // concatenation), by node: the whitespace, separators and values that recur in the lexemes of
  // one grammar are one node each. Holds the node (its address stays its own).
  const Dfa& piece(const grammar::RegexPtr& node, const DfaOptions& options);
  size_t size() const { return count_; }
  size_t memory_bytes() const { return bytes_; }  // the DFAs held and their keys

 private:
  struct Entry {
    grammar::RegexPtr node;  // a copy of the node's fields (its children shared), to compare with
    std::unique_ptr<const Dfa> dfa;
  };
  size_t bytes_ = 0, count_ = 0;
  std::unordered_map<size_t, std::vector<Entry>> map_;  // by RegexIdentity::hash
  struct Piece {
    grammar::RegexPtr node;
    std::unique_ptr<const Dfa> own;  // null: `dfa` is kept by get() or is a process-wide node's
    const Dfa* dfa;
  };
  std::unordered_map<const grammar::Regex*, Piece> pieces_;
};

// Regex → DFA, minimal but for the two constructions below. Throws tollgate::Error(kLimit) when a
// budget of `options` is exceeded. With options.sub_dfas, a concatenation whose pieces join
// deterministically (no byte can both go on in one piece and start the next, as between JSON's
// whitespace, separators, keys and values) is joined from its pieces' DFAs (cached there) without
// an NFA and not minimised: the minimal DFA but in rare cases (19 of maskbench-dev's 84,000 joins
// keep a few equivalent states). JSON string escaping (json_escape) is likewise not minimised.
// A regex whose root is kIntersect, kComplement or kJsonString is built by the operations below
// without going through an NFA; such nodes deeper down are compiled the same way and embedded in
// the NFA (nfa.cpp). A finite set of literals (alternations and concatenations of single code
// points: an enum's values, a key set) is built as the trie of its bytes, minimised bottom-up; an
// open object's extra-key lexeme (quote, a JSON string body spelling none of a set of plain names,
// quote) in one pass over the names' trie and the JSON bodies' automaton. Each sub-automaton gets the same state budget and the memory left over.
// A node marked process_wide (Regex::pin: JSON Schema's format regexes) is built once per process
// and shared by every compile after (a copy is returned); a compile whose budgets the shared DFA
// exceeds gets kLimit as a build would. A node pinned under a name whose DFA was computed at build
// time and embedded in the library (fsm/prebuilt_dfas.hpp; the same DFA, checked against the
// node's identity hash and rendering) is read from there instead of built.
Dfa compile_dfa(const grammar::Regex& regex, const DfaOptions& options = {});
// Per state, a block number: two states share one when no byte string tells them apart by where
// the walk dies or by finality after each byte (whether a final state is still reachable does not
// count: the automaton a lexeme's index entry walks, its cut byte removed, reaches none inside a
// string and still tells tokens apart). Hopcroft's refinement, as minimise's but over every state.
std::vector<uint32_t> walk_equivalent_states(const Dfa& dfa);
// The DFA of a process-wide node as compile_dfa builds it when none is embedded: the node without
// its mark, with a SubDfaCache of its own, under `options`' budgets. What the build-time generator
// (fsm/prebuilt/) stores, and what the tests compare the embedded DFAs with.
Dfa build_process_wide_dfa(const grammar::Regex& regex, const DfaOptions& options = {});
// How many process-wide DFAs this process has built, how many it read from the embedded ones, and
// the bytes they hold (kept for the life of the process: one per pinned node, a fixed set).
size_t process_wide_dfa_builds();
size_t process_wide_dfa_loads();
size_t process_wide_dfa_bytes();

// DFA-level operations (the regex kinds kIntersect, kComplement and kJsonString compile through
// them; each child is compiled to its own DFA first). Every result has every state live; it is
// minimal but for json_escape's (below); a budget of `options` exceeded is a kLimit error.
//
// Takes: two DFAs. Gives: the minimal DFA of the strings both accept (product construction over
// the reachable pairs).
Dfa intersect(const Dfa& a, const Dfa& b, const DfaOptions& options = {});
// Takes: two DFAs. Gives: the minimal DFA of the strings `a` accepts and `b` refuses.
Dfa difference(const Dfa& a, const Dfa& b, const DfaOptions& options = {});
// Takes: a DFA. Gives: the minimal DFA of the valid UTF-8 strings (sequences of code points of
// CharSet::any()) that `a` refuses: difference(DFA of any*, a).
Dfa complement(const Dfa& a, const DfaOptions& options = {});
// Takes: a DFA over the UTF-8 bytes of strings. Gives: a DFA of those strings written
// as the body of a JSON string literal (Regex::Kind::kJsonString: '"' as \", a backslash as two,
// U+0008/0C/0A/0D/09 as \b \f \n \r \t, other bytes below 0x20 as \u00xx in either hex case,
// '/' raw or as \/, other bytes raw). Deterministic because the escapes form a prefix code: at
// most 7 states per state of `body` (the state itself and 6 states inside an escape). Not minimised:
// body states that the escaped bytes cannot tell apart are one state inside an escape, which leaves
// it minimal for almost every body (6,229 of maskbench-dev's 6,288); byte classes are merged.
Dfa json_escape(const Dfa& body, const DfaOptions& options = {});

// The match a backtracking engine (Python re, PCRE, RE2's default mode) returns for `regex`
// anchored at the start of a text, as an automaton: reading the text byte by byte, the state is
// final at position k when the match ending at k is the best one known so far (alternatives
// left to right, greedy repeats longest first, lazy ones shortest first). The preferred match
// ends at the last final state reached before the automaton dies or the text ends; the empty
// match is not counted. (A leftmost-first DFA over priority-ordered NFA state lists, minimised.)
// A regex with kIntersect, kComplement, kJsonString or kAutomaton nodes throws kUnsupported: they
// define a language, not an order among matches.
Dfa compile_leftmost_first_dfa(const grammar::Regex& regex, const DfaOptions& options = {});

}  // namespace tollgate::fsm
