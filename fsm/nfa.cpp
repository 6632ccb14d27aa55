// Regex AST → Thompson NFA over bytes (see nfa.hpp), within a state and a memory budget.
#include "fsm/nfa.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

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
  // `options` are the budgets of the DFA this NFA is for (also given to sub-DFAs); the NFA itself
  // may have 8 × options.max_states states: NFA states are cheap.
  Builder(const DfaOptions& options, bool leftmost_first)
      : options_(options),
        max_states_(options.max_states < (SIZE_MAX / 8) ? options.max_states * 8 : options.max_states),
        max_bytes_(options.max_memory_bytes), leftmost_first_(leftmost_first) {}

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
    if (r.process_wide && !leftmost_first_) return embed(sub_dfa(r));  // its DFA is built once per process
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
      case Regex::Kind::kJsonString: {
        if (leftmost_first_) unsupported(r);
        // A body with no character that JSON escapes ('"', '\\', '/', controls) is written as it
        // is (every object key and enum word of a schema): the same language, without a sub-DFA.
        if (r.kind == Regex::Kind::kJsonString && json_plain(*r.items[0])) return build(*r.items[0]);
        return embed(sub_dfa(r));
      }
      case Regex::Kind::kAutomaton:
        if (leftmost_first_) unsupported(r);
        return embed(r.automaton.get());
    }
    throw Error(ErrorKind::kInvalidArgument, "unknown regex node");
  }

  // The DFA embedded for `r`, compiled once per node (a counted repetition embeds the same node
  // several times); it may use the memory this NFA has not used yet, and what it keeps is charged.
  // With options_.sub_dfas, once per grammar (the lexemes that share the node's text share its
  // DFA); a process-wide node's comes from compile_dfa's process-wide cache, copied.
  const Dfa& sub_dfa(const Regex& r) {
    auto it = sub_dfas_.find(&r);
    if (it == sub_dfas_.end()) {
      DfaOptions sub = options_;
      sub.max_memory_bytes = max_bytes_ - std::min(bytes_, max_bytes_);
      const Dfa* d = nullptr;
      if (options_.sub_dfas && !r.process_wide) {
        d = &options_.sub_dfas->get(r, sub);
      } else {
        owned_.push_back(std::make_unique<const Dfa>(compile_dfa(r, sub)));
        d = owned_.back().get();
      }
      charge(d->memory_bytes());
      it = sub_dfas_.emplace(&r, d).first;
    }
    return *it->second;
  }

  // True when no string of `r` contains a byte JSON would escape: its JSON string body is itself.
  static bool json_plain(const Regex& r) {
    auto escaped = [](uint32_t lo, uint32_t hi) {
      auto in = [&](uint32_t x) { return lo <= x && x <= hi; };
      return lo < 0x20 || in('"') || in('/') || in('\\');
    };
    switch (r.kind) {
      case Regex::Kind::kEmpty:
      case Regex::Kind::kNothing: return true;
      case Regex::Kind::kChars:
        for (const auto& range : r.chars.ranges())
          if (escaped(range.lo, range.hi)) return false;
        return true;
      case Regex::Kind::kBytes: return !escaped(r.byte_lo, r.byte_hi);
      case Regex::Kind::kConcat:
      case Regex::Kind::kAlt:
      case Regex::Kind::kRepeat:
        for (const auto& it : r.items)
          if (!json_plain(*it)) return false;
        return true;
      default: return false;  // (sub-automata: not looked into)
    }
  }

  // A DFA as states of this NFA (see nfa.hpp).
  Frag embed(const Dfa& d) {
    const uint32_t base = static_cast<uint32_t>(nfa_.states.size());
    for (size_t q = 0; q < d.num_states(); ++q) add_state();
    const uint32_t out = add_state();
    for (uint32_t q = 0; q < d.num_states(); ++q) {
      int b = 0;
      while (b < 256) {
        const uint32_t t = d.next(q, static_cast<uint8_t>(b));
        int e = b;
        while (e + 1 < 256 && d.next(q, static_cast<uint8_t>(e + 1)) == t) ++e;
        if (t != kDead) edge(base + q, static_cast<uint8_t>(b), static_cast<uint8_t>(e), base + t);
        b = e + 1;
      }
      if (d.is_final(q)) eps(base + q, out);
    }
    return {base + d.start(), out};
  }

  // An explicit byte automaton as states of this NFA, after checking that it is well formed.
  Frag embed(const grammar::ByteAutomaton* a) {
    if (a == nullptr) throw Error(ErrorKind::kInvalidArgument, "regex automaton node without an automaton");
    const size_t n = a->num_states();
    if (n == 0 || a->start >= n || a->finals.size() != n)
      throw Error(ErrorKind::kInvalidArgument,
                  "regex automaton: " + std::to_string(n) + " states, start " + std::to_string(a->start) + ", " +
                      std::to_string(a->finals.size()) + " final flags (want start < states = flags > 0)");
    for (size_t q = 0; q < n; ++q)
      for (const auto& e : a->edges[q])
        if (e.lo > e.hi || e.to >= n)
          throw Error(ErrorKind::kInvalidArgument, "regex automaton: state " + std::to_string(q) +
                                                       " has an edge with an empty byte range or a target out of range");
    const uint32_t base = static_cast<uint32_t>(nfa_.states.size());
    for (size_t q = 0; q < n; ++q) add_state();
    const uint32_t out = add_state();
    for (uint32_t q = 0; q < n; ++q) {
      for (const auto& e : a->edges[q]) edge(base + q, e.lo, e.hi, base + e.to);
      if (a->finals[q]) eps(base + q, out);
    }
    return {base + a->start, out};
  }

  [[noreturn]] static void unsupported(const Regex& r) {
    std::string what = r.to_string();
    if (what.size() > 80) what = what.substr(0, 77) + "...";
    throw Error(ErrorKind::kUnsupported,
                "intersection, complement, JSON string escaping and explicit automata are not supported where the "
                "preferred (leftmost-first) match is needed, as in Lark terminals: " + what);
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

  DfaOptions options_;
  size_t max_states_;
  size_t max_bytes_;
  bool leftmost_first_ = false;
  size_t bytes_ = 0;
  Nfa nfa_;
  std::vector<Utf8Sequence> seqs_;
  std::unordered_map<const Regex*, const Dfa*> sub_dfas_;  // kIntersect / kComplement / kJsonString nodes
  std::vector<std::unique_ptr<const Dfa>> owned_;          // their DFAs when options_.sub_dfas is null
};

}  // namespace

Nfa build_nfa(const grammar::Regex& regex, const DfaOptions& options, bool leftmost_first) {
  Builder b(options, leftmost_first);
  Frag f = b.build(regex);
  return b.finish(f);
}

Nfa build_nfa(const grammar::Regex& regex, size_t max_states, size_t max_bytes) {
  DfaOptions options;
  options.max_states = max_states;
  options.max_memory_bytes = max_bytes;
  return build_nfa(regex, options);
}

}  // namespace tollgate::fsm
