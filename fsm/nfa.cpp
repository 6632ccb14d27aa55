// Regex AST → Thompson NFA over bytes (see nfa.hpp), within a state and a memory budget.
#include "fsm/nfa.hpp"

#include <cstdio>
#include <map>
#include <string>

#include "fsm/utf8.hpp"
#include "tollgate/error.hpp"

namespace tollgate::fsm {

namespace {

using grammar::Regex;

struct Frag {
  uint32_t in, out;
};

class Builder {
 public:
  Builder(size_t max_states, size_t max_bytes) : max_states_(max_states), max_bytes_(max_bytes) {}

  uint32_t add_state() {
    if (nfa_.states.size() >= max_states_) {
      throw Error(ErrorKind::kLimit,
                  "regex too large: its automaton needs more than " + std::to_string(max_states_) +
                      " NFA states (raise max_dfa_states or simplify counted repetitions)");
    }
    charge(sizeof(NfaState));
    nfa_.states.emplace_back();
    return static_cast<uint32_t>(nfa_.states.size() - 1);
  }
  void eps(uint32_t from, uint32_t to) {
    auto& v = nfa_.states[from].eps;
    charge(v.empty() ? kAllocBytes + sizeof(uint32_t) : sizeof(uint32_t));
    v.push_back(to);
  }
  void edge(uint32_t from, uint8_t lo, uint8_t hi, uint32_t to) {
    auto& v = nfa_.states[from].edges;
    charge(v.empty() ? kAllocBytes + sizeof(NfaEdge) : sizeof(NfaEdge));
    v.push_back({lo, hi, to});
  }

  Frag build(const Regex& r) {
    switch (r.kind) {
      case Regex::Kind::kEmpty: {
        uint32_t s = add_state();
        return {s, s};
      }
      case Regex::Kind::kNothing: {
        uint32_t a = add_state(), b = add_state();
        return {a, b};  // no path from a to b
      }
      case Regex::Kind::kBytes: {
        uint32_t a = add_state(), b = add_state();
        edge(a, r.byte_lo, r.byte_hi, b);
        return {a, b};
      }
      case Regex::Kind::kChars: return build_chars(r.chars);
      case Regex::Kind::kConcat: {
        Frag f = build(*r.items[0]);
        for (size_t i = 1; i < r.items.size(); ++i) {
          Frag g = build(*r.items[i]);
          eps(f.out, g.in);
          f.out = g.out;
        }
        return f;
      }
      case Regex::Kind::kAlt: {
        uint32_t a = add_state();
        std::vector<uint32_t> outs;
        for (const auto& it : r.items) {
          Frag g = build(*it);
          eps(a, g.in);
          outs.push_back(g.out);
        }
        uint32_t b = add_state();
        for (uint32_t o : outs) eps(o, b);
        return {a, b};
      }
      case Regex::Kind::kRepeat: return build_repeat(*r.items[0], r.min, r.max, r.lazy);
      case Regex::Kind::kIntersect:
      case Regex::Kind::kComplement:
      case Regex::Kind::kJsonString:
      case Regex::Kind::kAutomaton:
        throw Error(ErrorKind::kUnsupported, "regex node " + r.to_string() + " is not compiled yet");
    }
    throw Error(ErrorKind::kInvalidArgument, "unknown regex node");
  }

  Nfa finish(Frag f) {
    nfa_.start = f.in;
    nfa_.accept = f.out;
    return std::move(nfa_);
  }

 private:
  // Epsilon moves are listed in priority order (what a backtracking engine tries first): a
  // greedy repeat tries one more iteration before leaving, a lazy one leaves first. The subset
  // construction ignores the order; the leftmost-first construction (dfa.cpp) follows it.
  Frag build_repeat(const Regex& item, uint32_t min, uint32_t max, bool lazy) {
    uint32_t start = add_state();
    uint32_t cur = start;
    for (uint32_t i = 0; i < min; ++i) {
      Frag g = build(item);
      eps(cur, g.in);
      cur = g.out;
    }
    if (max == grammar::kUnbounded) {
      // cur -> loop: item* (loop state with a back edge); the exit is a state of its own so
      // that its priority against the back edge is fixed here.
      uint32_t loop = add_state();
      eps(cur, loop);
      Frag g = build(item);
      uint32_t exit = add_state();
      if (lazy) eps(loop, exit);
      eps(loop, g.in);
      if (!lazy) eps(loop, exit);
      eps(g.out, loop);
      return {start, exit};
    }
    uint32_t end = add_state();
    for (uint32_t i = min; i < max; ++i) {
      Frag g = build(item);
      if (lazy) eps(cur, end);
      eps(cur, g.in);
      if (!lazy) eps(cur, end);
      cur = g.out;
    }
    eps(cur, end);
    return {start, end};
  }

  // A character set becomes a prefix trie of UTF-8 byte-range sequences ending in one state.
  Frag build_chars(const grammar::CharSet& set) {
    seqs_.clear();
    for (const auto& r : set.ranges()) utf8_sequences(r.lo, r.hi, seqs_);
    uint32_t in = add_state();
    uint32_t out = add_state();
    // trie children: (state, lo, hi) -> state
    std::map<std::tuple<uint32_t, uint8_t, uint8_t>, uint32_t> child;
    for (const auto& s : seqs_) {
      uint32_t cur = in;
      for (int i = 0; i < s.length; ++i) {
        const auto& br = s.ranges[i];
        if (i + 1 == s.length) {
          edge(cur, br.lo, br.hi, out);
          break;
        }
        auto key = std::make_tuple(cur, br.lo, br.hi);
        auto it = child.find(key);
        if (it == child.end()) {
          uint32_t nxt = add_state();
          edge(cur, br.lo, br.hi, nxt);
          it = child.emplace(key, nxt).first;
        }
        cur = it->second;
      }
    }
    return {in, out};
  }

  // What a first push_back costs beyond the element: the smallest heap block (glibc, 64-bit).
  static constexpr size_t kAllocBytes = 32;

  // Counts `bytes` against the memory budget (the same budget as the DFA construction's).
  void charge(size_t bytes) {
    bytes_ += bytes;
    if (bytes_ > max_bytes_) {
      char mib[32];
      std::snprintf(mib, sizeof mib, "%.1f MiB", static_cast<double>(max_bytes_) / (1024.0 * 1024.0));
      throw Error(ErrorKind::kLimit,
                  "regex too large: its automaton needs more than " + std::to_string(max_bytes_) + " bytes (" +
                      mib + ", the DFA memory budget) after " + std::to_string(nfa_.states.size()) +
                      " NFA states; raise max_dfa_memory or simplify counted repetitions");
    }
  }

  size_t max_states_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  Nfa nfa_;
  std::vector<Utf8Sequence> seqs_;
};

}  // namespace

Nfa build_nfa(const grammar::Regex& regex, size_t max_states, size_t max_bytes) {
  // The NFA state budget is generous relative to the DFA budget: NFA states are cheap.
  Builder b(max_states < (SIZE_MAX / 8) ? max_states * 8 : max_states, max_bytes);
  Frag f = b.build(regex);
  return b.finish(f);
}

}  // namespace tollgate::fsm
