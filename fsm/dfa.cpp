// Regex → NFA (nfa.cpp) → DFA by subset construction over byte equivalence classes →
// minimal DFA by Hopcroft's partition refinement → dead states removed. A pinned format regex's DFA
// is read once per process from those embedded at build time when there is one (prebuilt_dfas.hpp).
#include "fsm/dfa.hpp"

#include <algorithm>
#include <atomic>
#include <bitset>
#include <cstdio>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "fsm/budget.hpp"
#include "fsm/hash.hpp"
#include "fsm/nfa.hpp"
#include "fsm/prebuilt_dfas.hpp"
#include "fsm/utf8.hpp"
#include "tollgate/error.hpp"

namespace tollgate::fsm {

namespace {

// Byte equivalence classes: bytes that no edge tells apart share a class.
size_t byte_classes(const Nfa& nfa, std::array<uint8_t, 256>& classes) {
  std::bitset<257> bounds;
  for (const auto& s : nfa.states) {
    for (const auto& e : s.edges) {
      bounds.set(e.lo);
      bounds.set(static_cast<size_t>(e.hi) + 1);
    }
  }
  size_t c = 0;
  for (int b = 0; b < 256; ++b) {
    if (b > 0 && bounds.test(b)) ++c;
    classes[b] = static_cast<uint8_t>(c);
  }
  return c + 1;
}

std::string mib(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

// Subset construction. Every DFA state's NFA-state set (or, leftmost-first, priority-ordered
// list) is stored once, in one flat arena; an open-addressing table of state ids interns them.
// Two budgets bound the work: the number of states (max_states) and the bytes stored for the
// sets, the interning table and the transition table (max_memory_bytes). Both are checked
// before a state is added, so an exploding regex fails after at most that much work.
class SubsetBuilder {
 public:
  SubsetBuilder(const Nfa& nfa, const DfaOptions& options, bool leftmost_first = false)
      : nfa_(nfa), max_states_(options.max_states), max_bytes_(options.max_memory_bytes),
        leftmost_first_(leftmost_first) {
    num_classes_ = byte_classes(nfa, classes_);
    mark_.assign(nfa.states.size(), 0);
    set_end_.push_back(0);
    slots_.assign(64, kEmptySlot);
    // Per DFA state: its arena end offset, its hash, its row of the transition table, its
    // final flag, and (at load ≤ 1/2) two interning slots.
    per_state_bytes_ = sizeof(size_t) + sizeof(uint32_t) + num_classes_ * sizeof(uint32_t) + 1 +
                       2 * sizeof(uint32_t);
  }

  // Epsilon closure of `seeds`, keeping only states that matter (edges or accept), sorted.
  void closure(const std::vector<uint32_t>& seeds, std::vector<uint32_t>& out) {
    next_gen();
    out.clear();
    stack_.clear();
    for (uint32_t s : seeds) {
      if (mark_[s] != gen_) {
        mark_[s] = gen_;
        stack_.push_back(s);
      }
    }
    while (!stack_.empty()) {
      uint32_t s = stack_.back();
      stack_.pop_back();
      const auto& st = nfa_.states[s];
      if (!st.edges.empty() || s == nfa_.accept) out.push_back(s);
      for (uint32_t t : st.eps) {
        if (mark_[t] != gen_) {
          mark_[t] = gen_;
          stack_.push_back(t);
        }
      }
    }
    std::sort(out.begin(), out.end());
  }

  // Leftmost-first closure: the states reached from `seeds` (in their order) in priority order,
  // each listed once at its first (highest-priority) occurrence, as a backtracking engine would
  // try them. Reaching the accepting state ends the list: every thread after it has lower
  // priority than that match and can never be preferred to it. With `skip_accept` the
  // accepting state is left out and does not cut (the empty match is not a lexeme).
  void ordered_closure(const std::vector<uint32_t>& seeds, std::vector<uint32_t>& out, bool skip_accept) {
    next_gen();
    out.clear();
    for (uint32_t seed : seeds) {
      stack_.clear();
      stack_.push_back(seed);
      while (!stack_.empty()) {
        uint32_t s = stack_.back();
        stack_.pop_back();
        if (mark_[s] == gen_) continue;
        mark_[s] = gen_;
        const auto& st = nfa_.states[s];
        if (s == nfa_.accept) {
          if (skip_accept) continue;
          out.push_back(s);
          return;
        }
        if (!st.edges.empty()) out.push_back(s);
        for (size_t k = st.eps.size(); k-- > 0;)
          if (mark_[st.eps[k]] != gen_) stack_.push_back(st.eps[k]);
      }
    }
  }

  uint32_t intern(const std::vector<uint32_t>& set) {
    const uint32_t h = hash(set);
    size_t mask = slots_.size() - 1;
    size_t i = h & mask;
    for (;; i = (i + 1) & mask) {
      uint32_t id = slots_[i];
      if (id == kEmptySlot) break;
      if (hashes_[id] == h && same(id, set)) return id;
    }
    const size_t n = hashes_.size();
    if (n >= max_states_) {
      throw Error(ErrorKind::kLimit,
                  "regex too complex: its DFA needs more than " + std::to_string(max_states_) +
                      " states (the state budget; raise max_dfa_states or simplify the regex)");
    }
    const size_t bytes = stored_bytes() + per_state_bytes_ + set.size() * sizeof(uint32_t);
    if (bytes > max_bytes_) {
      throw Error(ErrorKind::kLimit,
                  "regex too complex: building its DFA needs more than " + std::to_string(max_bytes_) +
                      " bytes (" + mib(max_bytes_) + ", the DFA memory budget) after " + std::to_string(n) +
                      " states (limit " + std::to_string(max_states_) +
                      "); raise max_dfa_memory or simplify the regex");
    }
    const uint32_t id = static_cast<uint32_t>(n);
    arena_.insert(arena_.end(), set.begin(), set.end());
    set_end_.push_back(arena_.size());
    hashes_.push_back(h);
    slots_[i] = id;
    if (2 * (n + 1) > slots_.size()) grow_slots();
    return id;
  }

  Dfa run() {
    std::vector<uint32_t> seeds{nfa_.start}, set;
    if (leftmost_first_) ordered_closure(seeds, set, true);
    else closure(seeds, set);
    uint32_t start = intern(set);
    std::vector<std::vector<uint32_t>> buckets(num_classes_);
    for (size_t d = 0; d < hashes_.size(); ++d) {
      check_budget();
      for (auto& b : buckets) b.clear();
      bool final = false;
      // Not a reference into the arena: intern() below appends to it.
      for (size_t p = set_end_[d]; p < set_end_[d + 1]; ++p) {
        uint32_t s = arena_[p];
        if (s == nfa_.accept) final = true;
        for (const auto& e : nfa_.states[s].edges) {
          for (size_t c = classes_[e.lo]; c <= classes_[e.hi]; ++c) buckets[c].push_back(e.to);
        }
      }
      finals_.push_back(final ? 1 : 0);
      size_t row = table_.size();
      table_.resize(row + num_classes_, kDead);
      for (size_t c = 0; c < num_classes_; ++c) {
        if (buckets[c].empty()) continue;
        if (leftmost_first_) ordered_closure(buckets[c], set, false);
        else closure(buckets[c], set);
        if (set.empty()) continue;
        uint32_t t = intern(set);
        table_[row + c] = t;
      }
    }
    // The sets are not needed past here; free them before minimisation allocates.
    std::vector<uint32_t>().swap(arena_);
    std::vector<size_t>().swap(set_end_);
    std::vector<uint32_t>().swap(hashes_);
    std::vector<uint32_t>().swap(slots_);
    return Dfa(start, classes_, num_classes_, std::move(table_), std::move(finals_));
  }

 private:
  static constexpr uint32_t kEmptySlot = UINT32_MAX;

  void next_gen() {
    ++gen_;
    if (gen_ == 0) {
      std::fill(mark_.begin(), mark_.end(), 0);
      gen_ = 1;
    }
  }

  static uint32_t hash(const std::vector<uint32_t>& v) {
    uint64_t h = hash_words(v);
    return static_cast<uint32_t>(h ^ (h >> 32));
  }

  bool same(uint32_t id, const std::vector<uint32_t>& set) const {
    size_t b = set_end_[id], e = set_end_[id + 1];
    return e - b == set.size() && std::equal(set.begin(), set.end(), arena_.begin() + b);
  }

  void grow_slots() {
    std::vector<uint32_t> bigger(slots_.size() * 2, kEmptySlot);
    size_t mask = bigger.size() - 1;
    for (uint32_t id = 0; id < hashes_.size(); ++id) {
      size_t i = hashes_[id] & mask;
      while (bigger[i] != kEmptySlot) i = (i + 1) & mask;
      bigger[i] = id;
    }
    slots_.swap(bigger);
  }

  // Bytes the construction holds for the states interned so far (sizes, not capacities).
  size_t stored_bytes() const { return arena_.size() * sizeof(uint32_t) + hashes_.size() * per_state_bytes_; }

  const Nfa& nfa_;
  size_t max_states_;
  size_t max_bytes_;
  bool leftmost_first_ = false;
  std::array<uint8_t, 256> classes_{};
  size_t num_classes_ = 0;
  size_t per_state_bytes_ = 0;
  std::vector<uint32_t> mark_;
  uint32_t gen_ = 0;
  std::vector<uint32_t> stack_;
  std::vector<uint32_t> arena_;    // every state's set, one after another
  std::vector<size_t> set_end_;    // state d's set is arena_[set_end_[d], set_end_[d + 1])
  std::vector<uint32_t> hashes_;   // per state
  std::vector<uint32_t> slots_;    // open addressing over state ids, power-of-two size
  std::vector<uint32_t> table_;    // state × class, kDead for no transition
  std::vector<uint8_t> finals_;
};

// Byte classes whose columns are equal, over a table stored column by column (`m` entries per
// column, `k` columns): map[c] becomes c's merged class; returns one column per merged class.
std::vector<uint32_t> merge_equal_columns(const std::vector<uint32_t>& cols, size_t k, size_t m,
                                          std::vector<uint32_t>& map) {
  std::vector<uint32_t> kept;
  std::vector<size_t> kept_hash;
  map.assign(k, 0);
  for (size_t c = 0; c < k; ++c) {
    const uint32_t* col = cols.data() + c * m;
    const size_t h = hash_words(col, m);
    uint32_t found = kDead;
    for (uint32_t j = 0; j < kept.size() && found == kDead; ++j)
      if (kept_hash[j] == h && std::equal(col, col + m, cols.data() + static_cast<size_t>(kept[j]) * m)) found = j;
    if (found == kDead) {
      found = static_cast<uint32_t>(kept.size());
      kept.push_back(static_cast<uint32_t>(c));
      kept_hash.push_back(h);
    }
    map[c] = found;
  }
  return kept;
}

// A DFA (start 0) from its table stored column by column (`cols`: k columns of m states;
// `column[b]`: byte b's column), byte classes whose columns are equal merged into one (numbered in
// column order: by first byte when the columns are).
Dfa from_columns(const std::vector<uint32_t>& cols, size_t k, size_t m, const std::array<uint8_t, 256>& column,
                 std::vector<uint8_t> finals) {
  std::vector<uint32_t> class_map;
  const std::vector<uint32_t> kept = merge_equal_columns(cols, k, m, class_map);
  const size_t k2 = kept.size();
  std::array<uint8_t, 256> classes{};
  for (int b = 0; b < 256; ++b) classes[b] = static_cast<uint8_t>(class_map[column[b]]);
  std::vector<uint32_t> table(m * k2);
  for (size_t q = 0; q < m; ++q)
    for (size_t c2 = 0; c2 < k2; ++c2) table[q * k2 + c2] = cols[kept[c2] * m + q];
  return Dfa(0, classes, k2, std::move(table), std::move(finals));
}

// The same DFA (start 0) with byte classes whose columns are equal merged, as minimise merges them.
Dfa merge_classes(const Dfa& in) {
  const size_t n = in.num_states(), k = in.num_classes();
  std::vector<uint32_t> cols(k * n);
  for (size_t q = 0; q < n; ++q)
    for (size_t c = 0; c < k; ++c) cols[c * n + q] = in.table()[q * k + c];
  std::vector<uint8_t> finals(n);
  for (size_t q = 0; q < n; ++q) finals[q] = in.is_final(static_cast<uint32_t>(q)) ? 1 : 0;
  return from_columns(cols, k, n, in.byte_classes(), std::move(finals));
}

// merge_classes when two byte classes of `in` may have equal columns, else `in` itself (the same
// DFA): a hash per column, one pass over the table, shows which could, and merge_classes (a
// transposed copy, a hash per column, a rebuilt table: a third of a join's instructions) runs only
// when two hashes meet.
Dfa merge_classes_if_any(Dfa in) {
  std::vector<uint64_t> column_hash = column_hashes(in.table().data(), in.num_states(), in.num_classes());
  std::sort(column_hash.begin(), column_hash.end());
  if (std::adjacent_find(column_hash.begin(), column_hash.end()) == column_hash.end()) return in;
  return merge_classes(in);
}

// `in` with its states numbered breadth first from the start, by class within a state (as minimise
// numbers them); states not reachable from the start are dropped.
Dfa numbered_breadth_first(const Dfa& in) {
  const size_t n = in.num_states(), k = in.num_classes();
  std::vector<uint32_t> id(n, kDead), order{in.start()};
  id[in.start()] = 0;
  for (size_t i = 0; i < order.size(); ++i)
    for (size_t c = 0; c < k; ++c)
      if (const uint32_t t = in.table()[size_t{order[i]} * k + c]; t != kDead && id[t] == kDead) {
        id[t] = static_cast<uint32_t>(order.size());
        order.push_back(t);
      }
  std::vector<uint32_t> table(order.size() * k);
  std::vector<uint8_t> finals(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    for (size_t c = 0; c < k; ++c) {
      const uint32_t t = in.table()[size_t{order[i]} * k + c];
      table[i * k + c] = t == kDead ? kDead : id[t];
    }
    finals[i] = in.is_final(order[i]) ? 1 : 0;
  }
  return Dfa(0, in.byte_classes(), k, std::move(table), std::move(finals));
}

// States merged bottom-up (Revuz): in an automaton whose states can be offered children first (a
// trie, or the counted part of a length bound), a state is equivalent to an earlier one exactly
// when they agree on finality and on their rows of representatives, so one hash lookup per state
// decides it — linear in the table, where Hopcroft's refinement sorts and splits blocks. The
// representatives are numbered in the order they come; their rows and finals are the result's.
class RowRegister {
 public:
  explicit RowRegister(size_t k) : k_(k), row_(k) {}
  // The row to fill before `intern` or `add` (the representatives of the state's children).
  uint32_t* row() { return row_.data(); }
  // An earlier representative with this row and finality, else a new one.
  uint32_t intern(uint8_t final) {
    std::vector<uint32_t>& same = by_hash_[hash_words(row_.data(), k_) ^ final];
    for (uint32_t r : same)
      if (finals_[r] == final && std::equal(row_.begin(), row_.end(), rows_.begin() + static_cast<ptrdiff_t>(r * k_)))
        return r;
    same.push_back(append(final));
    return same.back();
  }
  // A new representative whatever came before (a state known to be unlike every other), still
  // found by later `intern`s.
  uint32_t add(uint8_t final) {
    const uint32_t r = append(final);
    by_hash_[hash_words(row_.data(), k_) ^ final].push_back(r);
    return r;
  }
  size_t size() const { return finals_.size(); }
  std::vector<uint32_t>& rows() { return rows_; }
  std::vector<uint8_t>& finals() { return finals_; }

 private:
  uint32_t append(uint8_t final) {
    rows_.insert(rows_.end(), row_.begin(), row_.end());
    finals_.push_back(final);
    return static_cast<uint32_t>(finals_.size() - 1);
  }
  size_t k_;
  std::vector<uint32_t> row_, rows_;
  std::vector<uint8_t> finals_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> by_hash_;
};

// Hopcroft's refinement of a DFA's states completed with an explicit dead state (numbered n0):
// states end in one block when no byte string tells them apart. live_is_coaccessible: every state
// but the dead one counts as able to reach a final state, so what tells states apart is finality
// and where a walk dies, not whether a final state is still reachable (walk_equivalent_states).
struct Refinement {
  size_t k = 0;                   // byte classes after merging equal columns
  std::vector<uint32_t> pre;      // input class → class here
  std::vector<uint32_t> delta;    // (n0 + 1) × k, dead-completed
  std::vector<uint32_t> elems, first, blk;
  uint32_t dead = 0;
};

Refinement refine_states(const Dfa& in, bool live_is_coaccessible) {
  const size_t n0 = in.num_states();
  const size_t n = n0 + 1;  // + dead state
  const uint32_t dead = static_cast<uint32_t>(n0);
  // Input classes whose columns are identical are one class from the start (exact: equal columns
  // stay equal in the minimal DFA): a subset construction's classes split bytes wherever some NFA
  // edge does, often twice as many as its DFA tells apart, and the refinement below is linear in
  // the number of classes.
  std::vector<uint32_t> pre;  // input class → class here
  std::vector<uint32_t> pre_rep;  // class here → an input class
  {
    const auto& table = in.table();
    const size_t kin = in.num_classes();
    std::vector<uint32_t> cols(kin * n0);
    for (size_t s = 0; s < n0; ++s)
      for (size_t c = 0; c < kin; ++c) cols[c * n0 + s] = table[s * kin + c];
    pre_rep = merge_equal_columns(cols, kin, n0, pre);
  }
  const size_t k = pre_rep.size();
  // Full transition table by class, dead-completed.
  std::vector<uint32_t> delta(n * k, dead);
  {
    const auto& table = in.table();
    for (uint32_t s = 0; s < n0; ++s) {
      for (size_t c = 0; c < k; ++c) {
        uint32_t t = table[static_cast<size_t>(s) * in.num_classes() + pre_rep[c]];
        delta[s * k + c] = t == kDead ? dead : t;
      }
    }
  }
  // Inverse transitions, CSR per target: its (class, source) pairs, by class then source. A
  // splitter gathers its states' pairs, so the work is their in-degree, not states × classes.
  // Only the live transitions: those into the dead state (most of a JSON lexeme's table) are
  // never gathered, since the block of the dead state never splits nor splits another (below).
  std::vector<uint32_t> in_start(n + 1, 0);
  std::vector<uint64_t> in_pairs;
  {
    for (size_t i = 0; i < n * k; ++i)
      if (delta[i] != dead) ++in_start[delta[i] + 1];
    for (size_t t = 0; t < n; ++t) in_start[t + 1] += in_start[t];
    in_pairs.resize(in_start[n]);
    std::vector<uint32_t> fill(in_start.begin(), in_start.end() - 1);
    for (size_t c = 0; c < k; ++c)
      for (uint32_t s = 0; s < n; ++s)
        if (const uint32_t t = delta[s * k + c]; t != dead) in_pairs[fill[t]++] = (static_cast<uint64_t>(c) << 32) | s;
  }
  // The states that can reach a final state (a reverse search over the live transitions).
  std::vector<uint8_t> coacc(n, 0);
  if (live_is_coaccessible) {
    std::fill(coacc.begin(), coacc.begin() + static_cast<ptrdiff_t>(n0), 1);
  } else {
    std::vector<uint32_t> stack;
    for (uint32_t s = 0; s < n0; ++s)
      if (in.is_final(s)) coacc[s] = 1, stack.push_back(s);
    while (!stack.empty()) {
      const uint32_t t = stack.back();
      stack.pop_back();
      for (uint32_t p = in_start[t]; p < in_start[t + 1]; ++p) {
        const uint32_t src = static_cast<uint32_t>(in_pairs[p]);
        if (!coacc[src]) coacc[src] = 1, stack.push_back(src);
      }
    }
  }

  // Partition refinement structure. Three blocks to start: final states, the other states that
  // can reach one, and those that cannot (the dead state among them: all one state of the minimal
  // DFA). The last is closed under transitions, so it never splits, and it never has to split
  // another: the partition is stable under the whole set of states, so every block but one may go
  // in the worklist (Hopcroft), and that one is it.
  std::vector<uint32_t> elems(n), loc(n), blk(n);
  std::vector<uint32_t> first, end, mid;
  std::vector<uint32_t> worklist;
  std::vector<uint8_t> in_work;
  {
    uint32_t i = 0;
    auto block = [&](auto&& member, bool work) {
      const uint32_t from = i;
      for (uint32_t s = 0; s < n; ++s)
        if (member(s)) elems[i++] = s;
      if (i == from) return;
      const uint32_t b = static_cast<uint32_t>(first.size());
      first.push_back(from), end.push_back(i), mid.push_back(from);
      in_work.push_back(work);
      if (work) worklist.push_back(b);
      for (uint32_t j = from; j < i; ++j) blk[elems[j]] = b;
    };
    block([&](uint32_t s) { return s != dead && in.is_final(s); }, true);
    block([&](uint32_t s) { return s != dead && !in.is_final(s) && coacc[s]; }, true);
    block([&](uint32_t s) { return s == dead || !coacc[s]; }, false);
    for (uint32_t j = 0; j < n; ++j) loc[elems[j]] = j;
  }
  std::vector<uint32_t> touched;
  std::vector<uint64_t> pairs, sorted;  // the splitter's inverse transitions, by class
  std::vector<uint32_t> bucket;
  while (!worklist.empty()) {
    check_budget();
    uint32_t a = worklist.back();
    worklist.pop_back();
    in_work[a] = 0;
    pairs.clear();
    for (uint32_t j = first[a]; j < end[a]; ++j) {
      const uint32_t t = elems[j];
      pairs.insert(pairs.end(), in_pairs.begin() + in_start[t], in_pairs.begin() + in_start[t + 1]);
    }
    if (end[a] - first[a] > 1) {
      if (pairs.size() < 4 * k) {
        std::sort(pairs.begin(), pairs.end());
      } else {  // by class, in linear time
        bucket.assign(k + 1, 0);
        for (uint64_t p : pairs) ++bucket[(p >> 32) + 1];
        for (size_t c = 0; c < k; ++c) bucket[c + 1] += bucket[c];
        sorted.resize(pairs.size());
        for (uint64_t p : pairs) sorted[bucket[p >> 32]++] = p;
        pairs.swap(sorted);
      }
    }
    for (size_t g = 0; g < pairs.size();) {
      const uint64_t c = pairs[g] >> 32;
      touched.clear();
      for (; g < pairs.size() && (pairs[g] >> 32) == c; ++g) {
        uint32_t s = static_cast<uint32_t>(pairs[g]);
        uint32_t b = blk[s];
        uint32_t i = loc[s];
        if (i < mid[b]) continue;  // already marked
        if (mid[b] == first[b]) touched.push_back(b);
        uint32_t j = mid[b];
        uint32_t other = elems[j];
        elems[j] = s, loc[s] = j;
        elems[i] = other, loc[other] = i;
        ++mid[b];
      }
      for (uint32_t b : touched) {
        if (mid[b] == end[b]) {
          mid[b] = first[b];
          continue;
        }
        // Marked part [first, mid) becomes a new block.
        uint32_t nb = static_cast<uint32_t>(first.size());
        first.push_back(first[b]);
        end.push_back(mid[b]);
        mid.push_back(first[b]);
        first[b] = mid[b];
        mid[b] = first[b];
        for (uint32_t j = first[nb]; j < end[nb]; ++j) blk[elems[j]] = nb;
        in_work.push_back(0);
        if (in_work[b]) {
          worklist.push_back(nb);
          in_work[nb] = 1;
        } else {
          uint32_t smaller = (end[nb] - first[nb]) <= (end[b] - first[b]) ? nb : b;
          worklist.push_back(smaller);
          in_work[smaller] = 1;
        }
      }
    }
  }

  Refinement r;
  r.k = k;
  r.pre = std::move(pre);
  r.delta = std::move(delta);
  r.elems = std::move(elems);
  r.first = std::move(first);
  r.blk = std::move(blk);
  r.dead = dead;
  return r;
}

// Hopcroft minimisation of a DFA completed with an explicit dead state.
Dfa minimise(const Dfa& in) {
  Refinement r = refine_states(in, false);
  const size_t k = r.k;
  const std::vector<uint32_t>& pre = r.pre;
  const std::vector<uint32_t>& delta = r.delta;
  const std::vector<uint32_t>& elems = r.elems;
  const std::vector<uint32_t>& first = r.first;
  const std::vector<uint32_t>& blk = r.blk;
  const uint32_t dead = r.dead;
  // Build the minimal DFA without the dead block; number states in BFS order from the start.
  const uint32_t dead_block = blk[dead];
  std::vector<uint32_t> block_id(first.size(), kDead);
  std::vector<uint32_t> order;
  uint32_t start_block = blk[in.start()];
  if (start_block == dead_block) {
    // Empty language: one non-final state with no way on.
    std::array<uint8_t, 256> cls{};
    return Dfa(0, cls, 1, std::vector<uint32_t>{kDead}, std::vector<uint8_t>{0});
  }
  block_id[start_block] = 0;
  order.push_back(start_block);
  for (size_t qi = 0; qi < order.size(); ++qi) {
    uint32_t b = order[qi];
    uint32_t s = elems[first[b]];
    for (size_t c = 0; c < k; ++c) {
      uint32_t t = blk[delta[s * k + c]];
      if (t == dead_block || block_id[t] != kDead) continue;
      block_id[t] = static_cast<uint32_t>(order.size());
      order.push_back(t);
    }
  }
  // Merge byte classes whose columns are identical in the minimal DFA (columns stored one after
  // another; each compared with the kept ones of the same hash).
  const size_t m = order.size();
  std::vector<uint32_t> cols(k * m);
  for (size_t q = 0; q < m; ++q) {
    uint32_t s = elems[first[order[q]]];
    for (size_t c = 0; c < k; ++c) {
      uint32_t t = blk[delta[s * k + c]];
      cols[c * m + q] = t == dead_block ? kDead : block_id[t];
    }
  }
  std::vector<uint8_t> finals(m);
  for (size_t q = 0; q < m; ++q) {
    uint32_t s = elems[first[order[q]]];
    finals[q] = (s != dead && in.is_final(s)) ? 1 : 0;
  }
  std::array<uint8_t, 256> column{};
  for (int b = 0; b < 256; ++b) column[b] = static_cast<uint8_t>(pre[in.byte_classes()[b]]);
  return from_columns(cols, k, m, column, std::move(finals));
}

// What a product or escape construction holds per state beyond its row of the table: the pair
// or (state, phase) it stands for, its final flag and its interning entry.
constexpr size_t kPairStateBytes = 2 * sizeof(uint32_t) + 1 + 48;

[[noreturn]] void too_complex(const char* what, size_t states, size_t bytes, const DfaOptions& options) {
  if (states >= options.max_states) {
    throw Error(ErrorKind::kLimit, std::string("regex too complex: its ") + what + " needs more than " +
                                       std::to_string(options.max_states) +
                                       " DFA states (the state budget; raise max_dfa_states or simplify the regex)");
  }
  throw Error(ErrorKind::kLimit, std::string("regex too complex: building its ") + what + " needs more than " +
                                     std::to_string(options.max_memory_bytes) + " bytes (" +
                                     mib(options.max_memory_bytes) + ", the DFA memory budget) after " +
                                     std::to_string(states) + " states; raise max_dfa_memory or simplify the regex");
}

// The coarsest byte classes that refine both `a`'s and `b`'s; rep[c] is a byte of class c.
size_t joint_classes(const Dfa& a, const Dfa& b, std::array<uint8_t, 256>& classes, std::vector<uint8_t>& rep) {
  std::vector<int> id(a.num_classes() * b.num_classes(), -1);
  rep.clear();
  for (int x = 0; x < 256; ++x) {
    int& c = id[a.byte_classes()[x] * b.num_classes() + b.byte_classes()[x]];
    if (c < 0) {
      c = static_cast<int>(rep.size());
      rep.push_back(static_cast<uint8_t>(x));
    }
    classes[x] = static_cast<uint8_t>(c);
  }
  return rep.size();
}

// Whether `a` has a cycle among its states. Without one its language is finite; with one it is
// infinite when the cycle's states live (in a minimal automaton they all do).
bool has_cycle(const Dfa& a) {
  const size_t n = a.num_states(), k = a.num_classes();
  std::vector<uint8_t> color(n, 0);  // 0 new, 1 on the stack, 2 done
  std::vector<std::pair<uint32_t, uint32_t>> stack;  // (state, next class)
  for (uint32_t root = 0; root < n; ++root) {
    if (color[root]) continue;
    stack.emplace_back(root, 0);
    color[root] = 1;
    while (!stack.empty()) {
      auto& [q, c] = stack.back();
      if (c == k) {
        color[q] = 2;
        stack.pop_back();
        continue;
      }
      const uint32_t t = a.table()[size_t{q} * k + c++];
      if (t == kDead || color[t] == 2) continue;
      if (color[t] == 1) return true;
      color[t] = 1;
      stack.emplace_back(t, 0);
    }
  }
  return false;
}

// Product construction over the pairs reachable from (a.start, b.start), then minimised unless
// `minimal` is false (the pairs numbered breadth-first). With `b_negated` a pair is final when
// a's state is final and b's is not, and b dying leaves b in its (non-final) dead state while a
// goes on; otherwise both must be final and either dying kills the pair.
Dfa product(const Dfa& a, const Dfa& b, bool b_negated, const DfaOptions& options, bool minimal = true) {
  std::array<uint8_t, 256> classes{};
  std::vector<uint8_t> rep;
  const size_t k = joint_classes(a, b, classes, rep);
  const uint64_t nb = b.num_states() + 1;  // b's dead state is number b.num_states()
  const uint32_t b_dead = static_cast<uint32_t>(b.num_states());
  // Pair numbers: a flat table over every pair when there are few (a complement is a product with
  // the 8-state UTF-8 automaton: a hash-map insertion per transition was a third of building an
  // extra-key lexeme), a hash map otherwise. Up to 2^19 pairs (2 MiB): a pattern `.*P.*` (35 states)
  // against the date-time format (11,046) reaches 23,433 of its 386,645 pairs, 13 ms built this way
  // against 19 through the map (2^16 was the bound before).
  constexpr uint64_t kMaxFlatPairs = uint64_t{1} << 19;
  const uint64_t all_pairs = uint64_t{a.num_states()} * nb;
  std::vector<uint32_t> flat(all_pairs <= kMaxFlatPairs ? all_pairs : 0, kDead);
  std::unordered_map<uint64_t, uint32_t> ids;
  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  std::vector<uint32_t> table;
  std::vector<uint8_t> finals;
  const size_t per_state = k * sizeof(uint32_t) + kPairStateBytes;
  auto id_of = [&](uint32_t p, uint32_t q) -> uint32_t {
    const uint64_t key = p * nb + q;
    const auto id = static_cast<uint32_t>(pairs.size());  // the number a new pair gets
    if (!flat.empty()) {
      uint32_t& slot = flat[key];
      if (slot != kDead) return slot;
      slot = id;
    } else if (auto [it, inserted] = ids.emplace(key, id); !inserted) {  // one lookup: found, or entered
      return it->second;
    }
    if (pairs.size() >= options.max_states || (pairs.size() + 1) * per_state > options.max_memory_bytes)
      too_complex(b_negated ? "complement" : "intersection", pairs.size(), (pairs.size() + 1) * per_state, options);
    pairs.emplace_back(p, q);
    return id;
  };
  id_of(a.start(), b.start());
  for (size_t d = 0; d < pairs.size(); ++d) {
    check_budget();
    const auto [p, q] = pairs[d];
    const bool bf = q != b_dead && b.is_final(q);
    finals.push_back(a.is_final(p) && (b_negated ? !bf : bf) ? 1 : 0);
    const size_t row = table.size();
    table.resize(row + k, kDead);
    for (size_t c = 0; c < k; ++c) {
      const uint32_t tp = a.next(p, rep[c]);
      if (tp == kDead) continue;
      uint32_t tq = q == b_dead ? kDead : b.next(q, rep[c]);
      if (tq == kDead) {
        if (!b_negated) continue;
        tq = b_dead;
      }
      const uint32_t t = id_of(tp, tq);
      table[row + c] = t;
    }
  }
  Dfa out(0, classes, k, std::move(table), std::move(finals));
  return minimal ? minimise(out) : out;
}

// The minimal DFA of CharSet::any()*: every valid UTF-8 string. Built once.
const Dfa& utf8_strings() {
  static const Dfa dfa = [] {
    auto any = grammar::Regex::repeat(grammar::Regex::chars_of(grammar::CharSet::any()), 0, grammar::kUnbounded);
    return compile_dfa(*any);
  }();
  return dfa;
}

// The minimal DFA of every JSON string body (every valid UTF-8 string, as json_escape spells it).
// Built once.
const Dfa& json_bodies() {
  static const Dfa dfa = minimise(json_escape(utf8_strings(), DfaOptions{}));
  return dfa;
}

DfaOptions with_less_memory(const DfaOptions& options, size_t held) {
  DfaOptions o = options;
  o.max_memory_bytes = options.max_memory_bytes - std::min(held, options.max_memory_bytes);
  return o;
}

}  // namespace

std::vector<uint32_t> walk_equivalent_states(const Dfa& dfa) {
  const Refinement r = refine_states(dfa, true);
  return std::vector<uint32_t>(r.blk.begin(), r.blk.begin() + static_cast<ptrdiff_t>(dfa.num_states()));
}

Dfa intersect(const Dfa& a, const Dfa& b, const DfaOptions& options) { return product(a, b, false, options); }

Dfa difference(const Dfa& a, const Dfa& b, const DfaOptions& options) { return product(a, b, true, options); }

Dfa complement(const Dfa& a, const DfaOptions& options) { return difference(utf8_strings(), a, options); }

namespace {
// Whether a JSON string may write code point (or byte) `c` with an escape: a control character,
// '"', '\\' (only so), '/' (raw too).
constexpr bool json_escapes(uint32_t c) { return c < 0x20 || c == '"' || c == '\\' || c == '/'; }

// Whether `body` reads a byte that JSON writes with an escape; a body that does not is written raw
// only: its own DFA (a key, most enum values, a format).
bool reads_escaped_bytes(const Dfa& body) {
  std::array<bool, 256> escaped_class{};
  for (int x = 0; x < 256; ++x)
    if (json_escapes(x)) escaped_class[body.byte_classes()[x]] = true;
  const size_t kb = body.num_classes();
  std::vector<uint32_t> escaped;
  for (size_t c = 0; c < kb; ++c)
    if (escaped_class[c]) escaped.push_back(static_cast<uint32_t>(c));
  // Row by row, the escaped classes only (an index modulo the classes per entry was most of it).
  const uint32_t* row = body.table().data();
  for (uint32_t q = 0; q < body.num_states(); ++q, row += kb)
    for (uint32_t c : escaped)
      if (row[c] != kDead) return true;
  return false;
}

// json_escape of a body that reads an escaped byte (reads_escaped_bytes).
Dfa spell_escapes(const Dfa& body, const DfaOptions& options) {
  // A state is (body state, phase): phase 0 outside an escape; inside one, 1 after '\', 2 after
  // "\u", 3 after "\u0", 4 after "\u00", 5 after "\u000", 6 after "\u001".
  constexpr uint32_t kPhases = 7;
  auto hex = [](uint8_t x) -> int {
    if (x >= '0' && x <= '9') return x - '0';
    if (x >= 'a' && x <= 'f') return x - 'a' + 10;
    if (x >= 'A' && x <= 'F') return x - 'A' + 10;
    return -1;
  };
  auto short_escape = [](uint8_t x) { return x == 0x08 || x == 0x09 || x == 0x0A || x == 0x0C || x == 0x0D; };
  // Byte classes: bytes that do the same in every phase — the same body class read raw (or none:
  // a control byte, '"'; or the start of an escape: '\\'), the same body class spelled after '\\'
  // ('n' reads the body's class of 0x0A), the same part in "\u00XX", the same body classes for
  // XX = 0X and 1X. Coarser than the body's classes with every spelled byte apart (as many as 40
  // classes, most with equal columns: the table was built over all of them, then merged), and as
  // fine as the result needs: merge_classes_if_any below finds nothing to merge, as a rule.
  std::array<uint8_t, 256> classes{};
  std::vector<uint8_t> rep;
  {
    constexpr uint64_t kNone = 0x1FF, kEscape = 0x1FE;
    // A body class no state reads (bytes never in UTF-8, say) is none, as a control byte read raw.
    const size_t kb = body.num_classes();
    std::vector<uint8_t> read(kb, 0);
    const uint32_t* row = body.table().data();
    for (uint32_t q = 0; q < body.num_states(); ++q, row += kb)
      for (size_t c = 0; c < kb; ++c) read[c] |= row[c] != kDead ? 1 : 0;
    std::array<uint64_t, 256> bc;
    for (int x = 0; x < 256; ++x) bc[x] = read[body.byte_classes()[x]] ? body.byte_classes()[x] : kNone;
    // Whether a "\u00XX" escape can be read at all: when no state reads a control byte written
    // that way, 'u' and the hex digits tell nothing apart (a key pattern that reads '/', spelled
    // "\/": its classes split by digit were merged again afterwards, half of its build).
    bool u_escapes = false;
    for (int x = 0; x < 0x20; ++x) u_escapes |= !short_escape(static_cast<uint8_t>(x)) && bc[x] != kNone;
    std::vector<std::pair<uint64_t, uint8_t>> seen;  // signature, class
    for (int x = 0; x < 256; ++x) {
      const auto b = static_cast<uint8_t>(x);
      uint64_t raw = b < 0x20 || b == '"' ? kNone : b == '\\' ? kEscape : bc[b];
      uint64_t spelled = kNone;
      switch (b) {
        case '"': case '\\': case '/': spelled = bc[b]; break;
        case 'b': spelled = bc[0x08]; break;
        case 'f': spelled = bc[0x0C]; break;
        case 'n': spelled = bc[0x0A]; break;
        case 'r': spelled = bc[0x0D]; break;
        case 't': spelled = bc[0x09]; break;
        case 'u': spelled = u_escapes ? kEscape : kNone; break;
        default: break;
      }
      const int h = u_escapes ? hex(b) : -1;
      const uint64_t digit = !u_escapes ? 0 : b == '0' ? 1 : b == '1' ? 2 : 0;
      const uint64_t low = h < 0 || short_escape(static_cast<uint8_t>(h)) ? kNone : bc[h];
      const uint64_t high = h < 0 ? kNone : bc[0x10 + h];
      const uint64_t sig = raw | spelled << 9 | digit << 18 | low << 20 | high << 29;
      auto it = std::find_if(seen.begin(), seen.end(), [&](const auto& e) { return e.first == sig; });
      if (it == seen.end()) {
        seen.emplace_back(sig, static_cast<uint8_t>(rep.size()));
        rep.push_back(b);
        it = seen.end() - 1;
      }
      classes[x] = it->second;
    }
  }
  const size_t k = rep.size();
  // Whether body state s can read one of the control bytes in [lo, hi] that are written \u00xx.
  auto reads_u_escape = [&](uint32_t s, uint8_t lo, uint8_t hi) {
    for (int x = lo; x <= hi; ++x)
      if (!short_escape(static_cast<uint8_t>(x)) && body.next(s, static_cast<uint8_t>(x)) != kDead) return true;
    return false;
  };
  auto useful = [&](uint32_t s, uint32_t phase) {
    switch (phase) {
      case 0: return true;  // every body state is live
      case 1:
        for (uint8_t x : {uint8_t{'"'}, uint8_t{'\\'}, uint8_t{'/'}, uint8_t{0x08}, uint8_t{0x09}, uint8_t{0x0A},
                          uint8_t{0x0C}, uint8_t{0x0D}})
          if (body.next(s, x) != kDead) return true;
        return reads_u_escape(s, 0x00, 0x1F);
      case 2:
      case 3:
      case 4: return reads_u_escape(s, 0x00, 0x1F);
      case 5: return reads_u_escape(s, 0x00, 0x0F);
      default: return reads_u_escape(s, 0x10, 0x1F);
    }
  };
  const size_t per_state = k * sizeof(uint32_t) + kPairStateBytes;
  const size_t fixed = body.num_states() * kPhases * sizeof(uint32_t);  // `ids`
  if (fixed > options.max_memory_bytes) too_complex("JSON string escaping", 0, fixed, options);
  std::vector<uint32_t> ids(body.num_states() * kPhases, kDead);
  // Inside an escape, a body state matters only through where the escaped bytes take it: states that
  // agree on every control byte and on '"', '\\' and '/' are one state there (the same escapes
  // lead to the same body states), which is most of what minimising the product merged.
  const size_t kb = body.num_classes();
  std::vector<uint32_t> in_escape(body.num_states());
  {
    // The body classes of the escaped bytes (a few: they share classes), each read once.
    std::vector<uint32_t> escaped;
    for (int x = 0; x < 0x60; ++x)
      if (json_escapes(x)) escaped.push_back(body.byte_classes()[x]);
    std::sort(escaped.begin(), escaped.end());
    escaped.erase(std::unique(escaped.begin(), escaped.end()), escaped.end());
    std::unordered_map<std::string, uint32_t> by_moves;
    std::string moves;
    for (uint32_t q = 0; q < body.num_states(); ++q) {
      moves.clear();
      for (uint32_t c : escaped) {
        const uint32_t t = body.table()[size_t{q} * kb + c];
        moves.append(reinterpret_cast<const char*>(&t), sizeof t);
      }
      in_escape[q] = by_moves.emplace(moves, q).first->second;
    }
  }
  std::vector<std::pair<uint32_t, uint32_t>> states;
  std::vector<uint32_t> table;
  std::vector<uint8_t> finals;
  auto id_of = [&](uint32_t s, uint32_t phase) -> uint32_t {
    if (s == kDead || !useful(s, phase)) return kDead;
    if (phase > 0) s = in_escape[s];
    uint32_t& id = ids[s * kPhases + phase];
    if (id == kDead) {
      if (states.size() >= options.max_states || fixed + (states.size() + 1) * per_state > options.max_memory_bytes)
        too_complex("JSON string escaping", states.size(), fixed + (states.size() + 1) * per_state, options);
      id = static_cast<uint32_t>(states.size());
      states.emplace_back(s, phase);
    }
    return id;
  };
  // Outside an escape (most states), each class reads its body class raw, starts an escape ('\\'),
  // or reads nothing (a control byte, '"'): a row of the body's table looked up per class.
  constexpr uint32_t kNoRaw = UINT32_MAX, kEscapeStart = UINT32_MAX - 1;
  std::vector<uint32_t> raw_class(k);
  for (size_t c = 0; c < k; ++c) {
    const uint8_t x = rep[c];
    raw_class[c] = x == '\\' ? kEscapeStart : x < 0x20 || x == '"' ? kNoRaw : body.byte_classes()[x];
  }
  id_of(body.start(), 0);
  for (size_t d = 0; d < states.size(); ++d) {
    check_budget();
    const auto [s, phase] = states[d];
    finals.push_back(phase == 0 && body.is_final(s) ? 1 : 0);
    const size_t row = table.size();
    table.resize(row + k, kDead);
    if (phase == 0) {
      const uint32_t* body_row = body.table().data() + size_t{s} * kb;
      for (size_t c = 0; c < k; ++c) {
        const uint32_t r = raw_class[c];
        if (r == kEscapeStart) {
          table[row + c] = id_of(s, 1);
        } else if (r != kNoRaw && body_row[r] != kDead) {
          uint32_t& id = ids[body_row[r] * kPhases];  // (every body state is live outside an escape)
          if (id == kDead) id = id_of(body_row[r], 0);
          table[row + c] = id;
        }
      }
      continue;
    }
    for (size_t c = 0; c < k; ++c) {
      const uint8_t x = rep[c];
      uint32_t t = kDead;
      switch (phase) {
        case 1:
          switch (x) {
            case '"':
            case '\\':
            case '/': t = id_of(body.next(s, x), 0); break;
            case 'b': t = id_of(body.next(s, 0x08), 0); break;
            case 'f': t = id_of(body.next(s, 0x0C), 0); break;
            case 'n': t = id_of(body.next(s, 0x0A), 0); break;
            case 'r': t = id_of(body.next(s, 0x0D), 0); break;
            case 't': t = id_of(body.next(s, 0x09), 0); break;
            case 'u': t = id_of(s, 2); break;
            default: break;
          }
          break;
        case 2:
        case 3:
          if (x == '0') t = id_of(s, phase + 1);
          break;
        case 4:
          if (x == '0') t = id_of(s, 5);
          else if (x == '1') t = id_of(s, 6);
          break;
        default: {
          const int h = hex(x);
          if (h < 0) break;
          const uint8_t cp = static_cast<uint8_t>((phase == 6 ? 0x10 : 0) + h);
          if (!short_escape(cp)) t = id_of(body.next(s, cp), 0);
          break;
        }
      }
      table[row + c] = t;
    }
  }
  // Not minimised (as concat_deterministic): with `in_escape`, 6,229 of maskbench-dev's 6,288
  // escaped bodies come out minimal and the others within a few states of it; same language.
  return merge_classes_if_any(Dfa(0, classes, k, std::move(table), std::move(finals)));
}
}  // namespace

Dfa json_escape(const Dfa& body, const DfaOptions& options) {
  return reads_escaped_bytes(body) ? spell_escapes(body, options) : body;
}

bool Dfa::empty() const {
  if (finals_.empty()) return true;
  if (finals_.size() != 1 || finals_[0]) return false;
  for (uint32_t t : table_)
    if (t != kDead) return false;
  return true;
}

namespace {
Dfa compile_sub_dfa(const grammar::Regex& regex, const DfaOptions& options);
const Dfa& process_wide_dfa(const grammar::Regex& regex, const DfaOptions& options);

// Kinds compile_dfa keeps in a SubDfaCache (SubDfaCache::get).
bool kept_by_kind(grammar::Regex::Kind kind) {
  using Kind = grammar::Regex::Kind;
  return kind != Kind::kConcat && kind != Kind::kEmpty && kind != Kind::kNothing && kind != Kind::kBytes;
}

// compile_dfa's DFA of `node` by reference where one is kept (a process-wide node's, or the
// SubDfaCache's), else built into `own`: a caller that only reads it, or reads it and makes a new
// one, copies nothing (a prebuilt date-time, 11,000 states, was copied four times on its way into
// a string lexeme: in a fresh process, a page fault for every page of each copy).
const Dfa& dfa_of(const grammar::Regex& node, const DfaOptions& options, std::optional<Dfa>& own) {
  if (node.process_wide) return process_wide_dfa(node, options);
  if (options.sub_dfas && kept_by_kind(node.kind)) return options.sub_dfas->get(node, options);
  return own.emplace(compile_sub_dfa(node, options));
}
}  // namespace

const Dfa& SubDfaCache::get(const grammar::Regex& node, const DfaOptions& options) {
  const size_t h = grammar::RegexIdentity::hash(node);
  if (auto it = map_.find(h); it != map_.end())
    for (const Entry& e : it->second)
      if (grammar::RegexIdentity::equal(*e.node, node)) return *e.dfa;
  auto dfa = std::make_unique<const Dfa>(compile_sub_dfa(node, options));  // may add entries
  bytes_ += dfa->memory_bytes() + sizeof(grammar::Regex) + 64;
  ++count_;
  std::vector<Entry>& same = map_[h];
  same.push_back(Entry{std::make_shared<const grammar::Regex>(node), std::move(dfa)});
  return *same.back().dfa;
}

const Dfa& SubDfaCache::piece(const grammar::RegexPtr& node, const DfaOptions& options) {
  auto it = pieces_.find(node.get());
  if (it != pieces_.end()) return *it->second.dfa;
  std::optional<Dfa> own;
  const Dfa& d = dfa_of(*node, options, own);
  Piece p{node, nullptr, &d};
  if (own) {
    p.own = std::make_unique<const Dfa>(std::move(*own));
    p.dfa = p.own.get();
    bytes_ += p.dfa->memory_bytes();
  }
  bytes_ += 64;
  return *pieces_.emplace(node.get(), std::move(p)).first->second.dfa;
}

namespace {
// The DFA of one code point from an ASCII set: two states, two classes. Null for other sets.
std::optional<Dfa> ascii_chars_dfa(const grammar::CharSet& set) {
  if (set.empty() || set.ranges().back().hi >= 0x80) return std::nullopt;
  std::array<uint8_t, 256> classes{};
  for (const auto& r : set.ranges())
    for (char32_t c = r.lo; c <= r.hi; ++c) classes[c] = 1;
  return Dfa(0, classes, 2, std::vector<uint32_t>{kDead, 1, kDead, kDead}, std::vector<uint8_t>{0, 1});
}

// The pieces one after another, when that is deterministic: at every junction, what can come
// next (the following piece's first bytes, and past a piece that may be empty the next one's
// too) is disjoint from what goes on in the piece that may end there, and from each other.
// States: every piece's reachable ones; a final state of a piece also takes the moves that start
// what can follow, and is final when every later piece may be empty; a piece's final state with
// no move on is the next piece's start. Numbered from the start, breadth first; not minimised (see
// the end). Every state is live (each piece's reach its final states, which go on into
// the next piece, nonempty). Nothing when not deterministic or when a piece is empty.
std::optional<Dfa> concat_deterministic(const std::vector<const Dfa*>& pieces, const DfaOptions& options) {
  const size_t m = pieces.size();
  for (const Dfa* p : pieces)
    if (p->empty()) return std::nullopt;
  // Joint byte classes: refined by each piece's classes.
  std::array<uint8_t, 256> classes{};
  size_t k = 1;
  {
    std::vector<int> split;
    for (const Dfa* p : pieces) {
      split.assign(k * p->num_classes(), -1);
      int n = 0;
      for (int x = 0; x < 256; ++x) {
        int& c = split[classes[x] * p->num_classes() + p->byte_classes()[x]];
        if (c < 0) c = n++;
        classes[x] = static_cast<uint8_t>(c);
      }
      k = static_cast<size_t>(n);
    }
  }
  std::vector<uint8_t> rep(k);
  for (int x = 255; x >= 0; --x) rep[classes[x]] = static_cast<uint8_t>(x);
  // Where a junction after piece i leads on class c: (piece j, its state), or j = m: nowhere.
  std::vector<uint32_t> base(m + 1, 0);
  for (size_t i = 0; i < m; ++i) base[i + 1] = base[i] + static_cast<uint32_t>(pieces[i]->num_states());
  std::vector<uint32_t> onward((m + 1) * k, kDead);  // row i: after piece i-1 (row m: after the last)
  std::vector<uint8_t> empty_after(m + 1, 1);         // every piece from i on may be empty
  for (size_t i = m; i-- > 0;) {
    const Dfa& p = *pieces[i];
    const bool nullable = p.is_final(p.start());
    empty_after[i] = nullable && empty_after[i + 1];
    for (size_t c = 0; c < k; ++c) {
      const uint32_t t = p.next(p.start(), rep[c]);
      const uint32_t later = nullable ? onward[(i + 1) * k + c] : kDead;
      if (t != kDead && later != kDead) return std::nullopt;  // enter piece i, or skip it
      onward[i * k + c] = t != kDead ? base[i] + t : later;
    }
  }
  for (size_t i = 0; i < m; ++i) {
    const Dfa& p = *pieces[i];
    for (uint32_t f = 0; f < p.num_states(); ++f) {
      if (!p.is_final(f)) continue;
      for (size_t c = 0; c < k; ++c)
        if (onward[(i + 1) * k + c] != kDead && p.next(f, rep[c]) != kDead) return std::nullopt;
    }
  }
  const size_t n = base[m];
  if (n > options.max_states || n * (k * sizeof(uint32_t) + 8) > options.max_memory_bytes)
    too_complex("concatenation", n, n * (k * sizeof(uint32_t) + 8), options);
  // Each piece's class of each joint class.
  std::vector<uint32_t> piece_class(m * k);
  for (size_t i = 0; i < m; ++i)
    for (size_t c = 0; c < k; ++c) piece_class[i * k + c] = pieces[i]->byte_classes()[rep[c]];
  // Breadth first from the start; rows in the joint numbering first, renumbered after.
  // A piece's final state with no move on in its piece (its language is the empty string) does
  // what the next piece's start does in the join: it is that state (a quote before a string body
  // that loops on its start, a separator before a repeated item).
  std::vector<uint32_t> same(n);
  for (size_t i = m; i-- > 0;) {
    const Dfa& p = *pieces[i];
    const size_t pk = p.num_classes();
    for (uint32_t q = 0; q < p.num_states(); ++q) {
      const uint32_t g = base[i] + q;
      same[g] = g;
      if (i + 1 < m && p.is_final(q) &&
          std::all_of(p.table().begin() + size_t{q} * pk, p.table().begin() + size_t{q + 1} * pk,
                      [](uint32_t t) { return t == kDead; }))
        same[g] = same[base[i + 1] + pieces[i + 1]->start()];
    }
  }
  std::vector<uint32_t> id(n, kDead), order{same[pieces[0]->start()]};
  // In the final numbering (a target's number is known when met); a spare row of capacity, kept
  // by the resize below, for the start's clone LexDfa::from adds (no copy of the table there).
  std::vector<uint32_t> rows((n + 1) * k);
  std::vector<uint8_t> finals;
  order.reserve(n);
  finals.reserve(n);
  id[order[0]] = 0;
  for (size_t q = 0; q < order.size(); ++q) {
    const uint32_t s = order[q];
    const uint32_t i = static_cast<uint32_t>(std::upper_bound(base.begin(), base.end(), s) - base.begin() - 1);
    const Dfa& p = *pieces[i];
    const uint32_t local = s - base[i];
    const bool final = p.is_final(local);
    finals.push_back(final && empty_after[i + 1]);
    const uint32_t* row = p.table().data() + size_t{local} * p.num_classes();
    const uint32_t* on = onward.data() + (i + 1) * k;
    const uint32_t* pc = piece_class.data() + i * k;
    uint32_t* out = rows.data() + q * k;
    for (size_t c = 0; c < k; ++c) {
      uint32_t t = row[pc[c]];
      t = t != kDead ? same[base[i] + t] : final && on[c] != kDead ? same[on[c]] : kDead;
      if (t != kDead && id[t] == kDead) {
        id[t] = static_cast<uint32_t>(order.size());
        order.push_back(t);
      }
      out[c] = t != kDead ? id[t] : kDead;
    }
  }
  rows.resize(order.size() * k);  // keeps the capacity
  check_budget();
  // Not minimised: joined minimal pieces are minimal but for rare cases once a piece's empty-string
  // final state is the next piece's start (`same`, above). Measured on maskbench-dev's 84,000 joins,
  // 19 were not minimal (a letter loop before "(-[a-z]+)*" does what that piece's loop does), against
  // 13,977 before `same`; Hopcroft on every join was a fifth of the first-use time of masks. Only
  // byte classes with equal columns are merged. A non-minimal DFA accepts the same language; its
  // equivalent states just do not share an index entry.
  // Joined classes almost never have equal columns (none in a warm maskbench-dev run's 42,000
  // joins): merge_classes_if_any.
  return merge_classes_if_any(Dfa(0, classes, k, std::move(rows), std::move(finals)));
}

// item{min,max} from the item's DFA when the item is prefix-free and never empty (its final
// states have no move on: a code point set, a literal), so that the string splits into items
// one way only: a copy of the item's non-final states per number of items read (up to min for an
// unbounded repetition, whose last copy loops), an item's end leading to the next copy's start,
// and a state for max items read. Linear in the result, where the NFA route's subset construction
// walked every copy for each state (a 300-range Unicode class {1,200}: 790 ms for 34,000 states).
// Nothing when the item is not of that kind.
std::optional<Dfa> repeat_prefix_free(const Dfa& a, uint32_t min, uint32_t max, const DfaOptions& options) {
  const size_t n = a.num_states(), k = a.num_classes();
  if (a.is_final(a.start())) return std::nullopt;
  std::vector<uint32_t> idx(n, kDead);  // non-final state → its place in a copy
  uint32_t per_copy = 0;
  for (uint32_t q = 0; q < n; ++q) {
    if (!a.is_final(q)) {
      idx[q] = per_copy++;
      continue;
    }
    const uint32_t* row = a.table().data() + size_t{q} * k;
    if (!std::all_of(row, row + k, [](uint32_t t) { return t == kDead; })) return std::nullopt;
  }
  const bool bounded = max != grammar::kUnbounded;
  const size_t copies = bounded ? max : size_t{min} + 1;
  const size_t total = copies * per_copy + (bounded ? 1 : 0);
  if (total > options.max_states || total * (k * sizeof(uint32_t) + 1) > options.max_memory_bytes)
    too_complex("repetition", total, total * (k * sizeof(uint32_t) + 1), options);
  const uint32_t done = static_cast<uint32_t>(copies * per_copy);  // bounded: max items read
  std::vector<uint32_t> table(total * k, kDead);
  std::vector<uint8_t> finals(total, 0);
  if (bounded) finals[done] = 1;
  for (size_t c = 0; c < copies; ++c) {
    // after an item ends in copy c: c + 1 items read
    const uint32_t next = bounded ? (c + 1 == max ? done : static_cast<uint32_t>((c + 1) * per_copy + idx[a.start()]))
                                  : static_cast<uint32_t>(std::min<size_t>(c + 1, min) * per_copy + idx[a.start()]);
    for (uint32_t q = 0; q < n; ++q) {
      if (a.is_final(q)) continue;
      const size_t at = c * per_copy + idx[q];
      if (q == a.start() && c >= min) finals[at] = 1;
      for (size_t x = 0; x < k; ++x) {
        const uint32_t t = a.table()[size_t{q} * k + x];
        if (t == kDead) continue;
        table[at * k + x] = a.is_final(t) ? next : static_cast<uint32_t>(c * per_copy + idx[t]);
      }
    }
    check_budget();
  }
  Dfa out(idx[a.start()], a.byte_classes(), k, std::move(table), std::move(finals));
  // Bounded, the copies are told apart by how many items can still be read, and within a copy the
  // item's states by the item (minimal): of the 316 repetitions maskbench-dev builds, no bounded one
  // came out smaller minimised, so it is not minimised (every state is reachable and live either
  // way: a copy's states lead on to the next copy's start or to `done`), only numbered as minimise
  // numbers its states. Unbounded, the last copy's loop can repeat the copy before it (item of 8
  // states, min 32: 264 states, 257 minimised).
  return bounded ? merge_classes_if_any(numbered_breadth_first(out)) : minimise(out);
}

// bound_length's automaton minimised bottom-up (RowRegister) instead of by Hopcroft's refinement
// (most of its build: 8.4 of 16 ms for an email under maxLength 1024). Its states are `order`'s:
// (count << 32) | state of `a`. A free state (count kFree) reads on as `a` does: those of `a`'s
// states are distinct when `a` is minimal (when it is not, the result is as minimal as `a`), so
// each is its own representative. A counted state's moves go to free states, to the next count,
// or, inside a code point, to a state with fewer continuation bytes left: taken by count, highest
// first, and within a count by the bytes left, 1, 2, 3, then 0, each state's children have their
// representatives before it does — a state with none (dead) is dropped.
Dfa minimal_length_bound(const Dfa& a, const std::vector<uint64_t>& order, uint64_t free_count,
                         const std::vector<uint8_t>& left, const std::vector<uint32_t>& table,
                         const std::vector<uint8_t>& finals) {
  const size_t m = order.size(), k = a.num_classes();
  std::vector<uint32_t> rep(m, kDead), counted;
  std::vector<uint8_t> done(m, 0);
  RowRegister reg(k);
  bool out_of_order = false;  // a child not decided before its parent: not the shape above
  auto row_of = [&](size_t i) {
    uint32_t* row = reg.row();
    bool live = finals[i] != 0;
    for (size_t c = 0; c < k; ++c) {
      const uint32_t t = table[i * k + c];
      if (t != kDead && !done[t]) out_of_order = true;
      row[c] = t == kDead ? kDead : rep[t];
      live |= row[c] != kDead;
    }
    done[i] = 1;
    return live;
  };
  // Free states first, numbered before their rows are known (their moves stay among them).
  uint32_t next_free = 0;
  for (size_t i = 0; i < m; ++i) {
    if ((order[i] >> 32) == free_count) rep[i] = next_free++, done[i] = 1;
    else counted.push_back(static_cast<uint32_t>(i));
  }
  for (size_t i = 0; i < m; ++i) {
    if ((order[i] >> 32) != free_count) continue;
    row_of(i);
    reg.add(finals[i]);  // numbered rep[i]: both count the free states in order
  }
  auto rank = [&](uint32_t i) {
    const uint8_t l = left[static_cast<uint32_t>(order[i])];
    return (order[i] >> 32) << 2 | static_cast<uint64_t>(3 - (l == 0 ? 3 : l - 1));
  };
  std::sort(counted.begin(), counted.end(), [&](uint32_t x, uint32_t y) { return rank(x) > rank(y); });
  for (size_t j = 0; j < counted.size(); ++j) {
    if ((j & 1023) == 0) check_budget();
    const uint32_t i = counted[j];
    if (row_of(i)) rep[i] = reg.intern(finals[i]);
  }
  if (out_of_order) return minimise(Dfa(0, a.byte_classes(), k, table, finals));
  if (rep[0] == kDead) {
    std::array<uint8_t, 256> cls{};
    return Dfa(0, cls, 1, std::vector<uint32_t>{kDead}, std::vector<uint8_t>{0});  // empty, as minimise gives it
  }
  return merge_classes_if_any(
      numbered_breadth_first(Dfa(rep[0], a.byte_classes(), k, std::move(reg.rows()), std::move(reg.finals()))));
}

// `a` intersected with "min to max code points" (max kUnbounded: at least min), counted on a's own
// states: each state of a UTF-8 automaton is either between code points or inside one (how many
// continuation bytes are left), so a code point ends on a move into a state between code points.
// The states are (state of a, code points read, saturating at min when unbounded), those
// reachable only: a format of 15 states under maxLength 1024 is 15,000 of them, where the product
// with the length automaton (its own states inside code points times a's) built ten times as
// many. Nothing when a state of `a` is reached both between and inside code points.
std::optional<Dfa> bound_length(const Dfa& a, uint32_t min, uint32_t max, const DfaOptions& options) {
  const size_t n = a.num_states(), k = a.num_classes();
  // Each class's kind of byte: 0 ASCII, 1 continuation, 2..4 the lead of a 2..4-byte sequence,
  // 5 never in UTF-8, 6 a class that mixes kinds.
  auto kind_of = [](int x) -> uint8_t {
    return x < 0x80 ? 0 : x < 0xC0 ? 1 : x < 0xE0 ? 2 : x < 0xF0 ? 3 : x < 0xF8 ? 4 : 5;
  };
  std::vector<uint8_t> kind(k, 255);
  for (int x = 0; x < 256; ++x) {
    uint8_t& kc = kind[a.byte_classes()[x]];
    kc = kc == 255 || kc == kind_of(x) ? kind_of(x) : 6;
  }
  // continuation bytes left in each state (0: between code points); 255: not reached yet
  std::vector<uint8_t> left(n, 255);
  std::vector<uint32_t> stack{a.start()};
  left[a.start()] = 0;
  while (!stack.empty()) {
    const uint32_t q = stack.back();
    stack.pop_back();
    for (size_t c = 0; c < k; ++c) {
      const uint32_t t = a.table()[size_t{q} * k + c];
      if (t == kDead) continue;
      uint8_t l;
      if (left[q] > 0) {
        if (kind[c] != 1) return std::nullopt;
        l = left[q] - 1;
      } else {
        if (kind[c] == 1 || kind[c] >= 5) return std::nullopt;  // not a UTF-8 automaton, or a mixed class
        l = kind[c] == 0 ? 0 : kind[c] - 1;
      }
      if (left[t] == 255) {
        left[t] = l;
        stack.push_back(t);
      } else if (left[t] != l) {
        return std::nullopt;
      }
    }
  }
  const bool bounded = max != grammar::kUnbounded;
  const uint64_t top = bounded ? max : min;  // counts kept: 0..top
  // A state whose every way to a final state fits the bounds whatever is read next needs no count:
  // one copy of it (count `kFree`) stands for all. That holds when count + shortest ≥ min and
  // count + longest ≤ max, code points to a final state from it; once it holds, it holds for every
  // state after (each step spends what it reads from both). A format under maxLength 1024 has few
  // states on a cycle (those keep a count each) and many in bounded parts (an IPv6 literal): the
  // latter are counted only near the bound: 13,000 states built instead of 173,000 (email under
  // maxLength 1024).
  const uint64_t kFree = top + 2;  // top + 1 is a count over the bound
  constexpr uint32_t kInf = std::numeric_limits<uint32_t>::max();
  std::vector<uint32_t> shortest(n, kInf), longest(n, 0);
  {
    // Reverse edges, each weighted 1 when it ends a code point.
    std::vector<uint32_t> rstart(n + 1, 0), redge;
    for (uint32_t q = 0; q < n; ++q)
      for (size_t c = 0; c < k; ++c)
        if (const uint32_t t = a.table()[size_t{q} * k + c]; t != kDead && left[q] != 255) ++rstart[t + 1];
    for (size_t t = 0; t < n; ++t) rstart[t + 1] += rstart[t];
    redge.resize(rstart[n]);
    std::vector<uint32_t> fill(rstart.begin(), rstart.end() - 1);
    for (uint32_t q = 0; q < n; ++q)
      for (size_t c = 0; c < k; ++c)
        if (const uint32_t t = a.table()[size_t{q} * k + c]; t != kDead && left[q] != 255) redge[fill[t]++] = q;
    // shortest: a 0-1 breadth-first search back from the final states between code points.
    std::deque<uint32_t> dq;
    for (uint32_t q = 0; q < n; ++q)
      if (left[q] == 0 && a.is_final(q)) shortest[q] = 0, dq.push_back(q);
    while (!dq.empty()) {
      const uint32_t t = dq.front();
      dq.pop_front();
      const uint32_t w = left[t] == 0 ? 1 : 0;
      for (uint32_t e = rstart[t]; e < rstart[t + 1]; ++e) {
        const uint32_t q = redge[e];
        if (shortest[t] + w < shortest[q]) {
          shortest[q] = shortest[t] + w;
          w ? dq.push_back(q) : dq.push_front(q);
        }
      }
    }
    // longest: over the states that reach a final one, in reverse topological order (Kahn's
    // algorithm on their out-degrees); a state left over is on or before a cycle: unbounded.
    std::vector<uint32_t> outdeg(n, 0);
    for (uint32_t q = 0; q < n; ++q)
      if (shortest[q] != kInf)
        for (size_t c = 0; c < k; ++c)
          if (const uint32_t t = a.table()[size_t{q} * k + c]; t != kDead && shortest[t] != kInf) ++outdeg[q];
    std::vector<uint32_t> ready;
    std::vector<uint8_t> done(n, 0);
    for (uint32_t q = 0; q < n; ++q)
      if (shortest[q] != kInf && outdeg[q] == 0) ready.push_back(q);
    while (!ready.empty()) {
      const uint32_t t = ready.back();
      ready.pop_back();
      done[t] = 1;
      const uint32_t w = left[t] == 0 ? 1 : 0;
      for (uint32_t e = rstart[t]; e < rstart[t + 1]; ++e) {
        const uint32_t q = redge[e];
        if (shortest[q] == kInf) continue;
        longest[q] = std::max(longest[q], longest[t] + w);
        if (--outdeg[q] == 0) ready.push_back(q);
      }
    }
    for (uint32_t q = 0; q < n; ++q)
      if (!done[q]) longest[q] = kInf;
  }
  auto free_at = [&](uint32_t q, uint64_t count) {
    if (shortest[q] == kInf) return true;  // nothing final ahead: any copy is dead
    if (count + shortest[q] < min) return false;
    return !bounded || (longest[q] != kInf && count + longest[q] <= max);
  };
  // State numbers by (count, state of a): a flat table when there are few pairs (a hash-map
  // insertion per transition was most of the construction), a hash map otherwise.
  constexpr uint64_t kMaxFlatPairs = uint64_t{1} << 18;
  const uint64_t counts = kFree + 1;
  std::vector<uint32_t> flat(counts * n <= kMaxFlatPairs ? counts * n : 0, kDead);
  std::unordered_map<uint64_t, uint32_t> id;
  std::vector<uint64_t> order;  // (count << 32) | state
  std::vector<uint32_t> table;
  std::vector<uint8_t> finals;
  auto visit = [&](uint64_t key) -> uint32_t {
    const auto fresh_id = static_cast<uint32_t>(order.size());
    if (!flat.empty()) {
      uint32_t& slot = flat[(key >> 32) * n + static_cast<uint32_t>(key)];
      if (slot != kDead) return slot;
      slot = fresh_id;
    } else if (auto [it, fresh] = id.emplace(key, fresh_id); !fresh) {
      return it->second;
    }
    order.push_back(key);
    if (order.size() > options.max_states || order.size() * (k * sizeof(uint32_t) + 40) > options.max_memory_bytes)
      too_complex("length bound", order.size(), order.size() * (k * sizeof(uint32_t) + 40), options);
    return fresh_id;
  };
  visit(free_at(a.start(), 0) ? (kFree << 32) | a.start() : a.start());
  for (size_t i = 0; i < order.size(); ++i) {
    const uint32_t q = static_cast<uint32_t>(order[i]);
    const uint64_t count = order[i] >> 32;
    finals.push_back(a.is_final(q) && left[q] == 0 && (count == kFree || count >= min));
    const size_t row = table.size();
    table.resize(row + k, kDead);  // (visit may grow `order`, never this row)
    for (size_t c = 0; c < k; ++c) {
      const uint32_t t = a.table()[size_t{q} * k + c];
      if (t == kDead) continue;
      uint64_t next = count == kFree ? kFree : count + (left[t] == 0 ? 1 : 0);
      if (next != kFree && free_at(t, next)) next = kFree;
      if (!bounded && next > top && next != kFree) next = top;
      if (next <= top || next == kFree) table[row + c] = visit((next << 32) | t);
    }
    if ((i & 1023) == 0) check_budget();
  }
  return minimal_length_bound(a, order, kFree, left, table, finals);
}

// A pure length bound: any code points, min to max of them (what JSON Schema's minLength and
// maxLength write).
bool is_length_bound(const grammar::Regex& r) {
  return r.kind == grammar::Regex::Kind::kRepeat && r.items.size() == 1 &&
         r.items[0]->kind == grammar::Regex::Kind::kChars && r.items[0]->chars == grammar::CharSet::any();
}

// A concatenation of at most 64 ASCII character sets (a key, an enum value, a literal): a chain of
// states, set i leading from state i to i + 1, the last final. Byte classes by which sets hold the
// byte, numbered by first byte, states from the start: the DFA concat_deterministic gives for the
// same pieces, without its per-piece refinement of 256 bytes (a 20-letter key: 5,000 steps) and
// its joins. Nothing when an item is anything else.
std::optional<Dfa> ascii_chain(const std::vector<const grammar::Regex*>& items) {
  if (items.empty() || items.size() > 64) return std::nullopt;
  std::array<uint64_t, 256> holds{};  // bit i: set i holds the byte
  for (size_t i = 0; i < items.size(); ++i) {
    const grammar::Regex& it = *items[i];
    if (it.kind != grammar::Regex::Kind::kChars || it.chars.empty() || it.chars.ranges().back().hi >= 0x80)
      return std::nullopt;
    for (const auto& r : it.chars.ranges())
      for (char32_t c = r.lo; c <= r.hi; ++c) holds[c] |= uint64_t{1} << i;
  }
  std::array<uint8_t, 256> classes{};
  std::vector<uint64_t> class_holds;  // per class: which sets hold its bytes
  for (int x = 0; x < 256; ++x) {
    auto at = std::find(class_holds.begin(), class_holds.end(), holds[x]);
    classes[x] = static_cast<uint8_t>(at - class_holds.begin());
    if (at == class_holds.end()) class_holds.push_back(holds[x]);
  }
  const size_t k = class_holds.size(), n = items.size() + 1;
  std::vector<uint32_t> table(n * k, kDead);
  for (size_t i = 0; i + 1 < n; ++i)
    for (size_t c = 0; c < k; ++c)
      if (class_holds[c] >> i & 1) table[i * k + c] = static_cast<uint32_t>(i + 1);
  std::vector<uint8_t> finals(n, 0);
  finals[n - 1] = 1;
  return Dfa(0, classes, k, std::move(table), std::move(finals));
}

// Whether `set` holds only ASCII code points a JSON string body writes raw and only so (kJsonString).
bool plain_json_ascii(const grammar::CharSet& set) {
  if (set.empty()) return false;
  for (const auto& r : set.ranges()) {
    if (r.hi >= 0x7F) return false;
    for (char32_t c = r.lo; c <= r.hi; ++c)
      if (json_escapes(c)) return false;
  }
  return true;
}

// A concatenation's items as ASCII character sets for ascii_chain, a JSON string of plain ASCII
// sets among them taken as those sets (its only spelling: a key with its quotes, `"name"`, is a
// chain of its bytes); false when an item is anything else.
bool chain_items(const grammar::Regex& regex, std::vector<const grammar::Regex*>& out) {
  using Kind = grammar::Regex::Kind;
  for (const auto& item : regex.items) {
    if (item->kind == Kind::kChars) {
      out.push_back(item.get());
      continue;
    }
    if (item->kind != Kind::kJsonString || item->items.size() != 1 || !item->items[0]) return false;
    const grammar::Regex& body = *item->items[0];
    if (body.kind == Kind::kChars) {
      if (!plain_json_ascii(body.chars)) return false;
      out.push_back(&body);
    } else if (body.kind == Kind::kConcat) {
      for (const auto& c : body.items) {
        if (c->kind != Kind::kChars || !plain_json_ascii(c->chars)) return false;
        out.push_back(c.get());
      }
    } else if (body.kind != Kind::kEmpty) {
      return false;
    }
  }
  return true;
}

// A concatenation joined from its pieces (each piece's DFA from options.sub_dfas); nothing when
// the pieces do not join deterministically (the caller builds it through an NFA instead).
std::optional<Dfa> concat_of_pieces(const grammar::Regex& regex, const DfaOptions& options) {
  std::vector<const grammar::Regex*> chain;
  if (chain_items(regex, chain))
    if (std::optional<Dfa> dfa = ascii_chain(chain)) return dfa;
  std::vector<Dfa> own;  // ASCII character sets: built here, cheaper than a lookup
  own.reserve(regex.items.size());
  std::vector<const Dfa*> pieces;
  for (const auto& item : regex.items) {
    std::optional<Dfa> chars;
    if (item->kind == grammar::Regex::Kind::kChars) chars = ascii_chars_dfa(item->chars);
    if (chars) {
      own.push_back(std::move(*chars));
      pieces.push_back(&own.back());
    } else {
      pieces.push_back(&options.sub_dfas->piece(item, options));
    }
  }
  return concat_deterministic(pieces, options);
}
}  // namespace

namespace {
// The DFAs of process-wide regex nodes (Regex::pin: JSON Schema's formats), built once per
// process: a fixed set of nodes, so the cache is bounded by their number (some 2 MB in all).
// Each entry is made under its own lock: read from the DFAs embedded at build time when there is
// one for the node (prebuilt_dfas.hpp: by its pinned name, checked against its identity hash and
// structure), else built with a SubDfaCache of its own so that the compile that builds it is not
// charged for its pieces; a build that fails (a budget, a cancelled compile) leaves nothing
// behind. A compile whose budgets the DFA exceeds gets the error a build would give.
std::atomic<size_t> g_process_wide_builds{0}, g_process_wide_loads{0}, g_process_wide_bytes{0};

const Dfa& process_wide_dfa(const grammar::Regex& regex, const DfaOptions& options) {
  struct Entry {
    std::mutex mu;
    std::unique_ptr<const Dfa> dfa;  // under mu
  };
  static std::mutex map_mu;
  static std::unordered_map<const grammar::Regex*, std::unique_ptr<Entry>> map;
  Entry* entry;
  {
    std::lock_guard<std::mutex> lock(map_mu);
    auto& e = map[&regex];
    if (!e) e = std::make_unique<Entry>();
    entry = e.get();
  }
  std::lock_guard<std::mutex> lock(entry->mu);
  if (!entry->dfa) {
    if (std::optional<Dfa> embedded = find_prebuilt_dfa(embedded_prebuilt_dfas(), regex)) {
      entry->dfa = std::make_unique<const Dfa>(std::move(*embedded));
      g_process_wide_loads.fetch_add(1, std::memory_order_relaxed);
    } else {
      entry->dfa = std::make_unique<const Dfa>(build_process_wide_dfa(regex, options));
      g_process_wide_builds.fetch_add(1, std::memory_order_relaxed);
    }
    g_process_wide_bytes.fetch_add(entry->dfa->memory_bytes(), std::memory_order_relaxed);
  }
  const Dfa& d = *entry->dfa;
  if (d.num_states() > options.max_states || d.memory_bytes() > options.max_memory_bytes)
    too_complex("format", d.num_states(), d.memory_bytes(), options);
  return d;
}
}  // namespace

Dfa build_process_wide_dfa(const grammar::Regex& regex, const DfaOptions& options) {
  SubDfaCache own;
  DfaOptions build = options;
  build.sub_dfas = &own;
  grammar::Regex copy = regex;  // the same language, built the ordinary way
  copy.process_wide = false;
  return compile_dfa(copy, build);
}

size_t process_wide_dfa_builds() { return g_process_wide_builds.load(std::memory_order_relaxed); }
size_t process_wide_dfa_loads() { return g_process_wide_loads.load(std::memory_order_relaxed); }
size_t process_wide_dfa_bytes() { return g_process_wide_bytes.load(std::memory_order_relaxed); }

Dfa compile_dfa(const grammar::Regex& regex, const DfaOptions& options) {
  std::optional<Dfa> own;
  const Dfa& d = dfa_of(regex, options, own);
  if (own) return std::move(*own);
  return d;
}

namespace {
// A finite set of literal strings — alternations and concatenations of single code points,
// single bytes and empty strings, as grammar::literal_alternation writes an enum's values or the
// names an open object's extra keys must avoid (a trie of alternations) — built as the trie of
// the strings' bytes and minimised: no NFA and no subset construction (which were most of an
// extra-key lexeme's build). The same language, so the same minimal DFA. Nothing for any other
// regex, a lone surrogate, or a trie past the state or memory budget (the NFA route then says
// which budget).
class LiteralSetBuilder {
 public:
  explicit LiteralSetBuilder(const DfaOptions& options) : options_(options) {}

  std::optional<Dfa> build(const grammar::Regex& regex) {
    if (!build_trie(regex)) return std::nullopt;
    return minimal();
  }

  // Only code points a JSON string writes raw and only so: none below U+0020, no '"', '\', '/'
  // (extra_key_lexeme's names, each with one spelling).
  void plain_json_only() { plain_json_ = true; }
  // The trie alone: node 0 the root, a child's number above its parent's; child(node, byte).
  bool build_trie(const grammar::Regex& regex) {
    if (!collect(regex, 0)) return false;
    // Classes: each byte a literal uses its own (numbered by byte), the others one class that
    // leads nowhere.
    k_ = 0;
    int rest = -1;
    for (int b = 0; b < 256; ++b) {
      if (used_[b]) {
        classes_[b] = static_cast<uint8_t>(k_++);
      } else {
        if (rest < 0) rest = static_cast<int>(k_++);
        classes_[b] = static_cast<uint8_t>(rest);
      }
    }
    if (k_ > 256) return false;  // every byte used and a rest class: cannot happen, kept safe
    if (!add_node()) return false;
    std::vector<uint32_t> ends{0};
    if (!extend(regex, ends, 0)) return false;
    for (uint32_t e : ends) finals_[e] = 1;
    return true;
  }
  size_t size() const { return finals_.size(); }
  bool used(uint8_t byte) const { return used_[byte]; }
  size_t num_classes() const { return k_; }
  uint8_t class_of(uint8_t byte) const { return classes_[byte]; }
  uint32_t child(uint32_t node, uint8_t byte) const { return table_[size_t{node} * k_ + classes_[byte]]; }
  bool is_end(uint32_t node) const { return finals_[node] != 0; }

 private:
  static constexpr uint32_t kMaxDepth = 4096;  // deeper regexes go the NFA route (which recurses too)

  // The code point's UTF-8 bytes, or 0 for a set of more than one code point or a surrogate.
  static int bytes_of(const grammar::Regex& r, uint8_t out[4]) {
    if (r.kind == grammar::Regex::Kind::kBytes) {
      if (r.byte_lo != r.byte_hi) return 0;
      out[0] = r.byte_lo;
      return 1;
    }
    const auto& ranges = r.chars.ranges();
    if (ranges.size() != 1 || ranges[0].lo != ranges[0].hi) return 0;
    const char32_t cp = ranges[0].lo;
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
    return encode_utf8(cp, out);
  }
  bool plain(const grammar::Regex& r) const {
    if (!plain_json_) return true;
    if (r.kind == grammar::Regex::Kind::kBytes) return false;
    return !json_escapes(r.chars.ranges()[0].lo);
  }

  // Whether the regex is a literal set; marks the bytes it uses.
  bool collect(const grammar::Regex& r, uint32_t depth) {
    using Kind = grammar::Regex::Kind;
    if (depth > kMaxDepth) return false;
    switch (r.kind) {
      case Kind::kEmpty:
      case Kind::kNothing: return true;
      case Kind::kChars:
      case Kind::kBytes: {
        uint8_t b[4];
        const int n = bytes_of(r, b);
        for (int i = 0; i < n; ++i) used_[b[i]] = true;
        literal_bytes_ += static_cast<size_t>(n);
        return n > 0 && plain(r);
      }
      case Kind::kConcat:
      case Kind::kAlt:
        for (const auto& it : r.items)
          if (!it || !collect(*it, depth + 1)) return false;
        return true;
      default: return false;
    }
  }

  // The trie minimised bottom-up (Revuz: an acyclic automaton's states are equivalent when they
  // agree on finality and on the classes of their children, decided children first — a child's
  // number is above its parent's), then numbered breadth first and its byte classes merged as
  // minimise leaves them. Linear in the table, where Hopcroft's refinement was a quarter of an
  // extra-key lexeme's build. Branches that end in nothing (kNothing) are dropped.
  Dfa minimal() {
    const size_t n = finals_.size(), k = k_;
    std::vector<uint32_t> rep(n, kDead);
    RowRegister reg(k);
    for (size_t q = n; q-- > 0;) {
      if ((q & 1023) == 0) check_budget();
      bool live = finals_[q] != 0;
      uint32_t* row = reg.row();
      for (size_t c = 0; c < k; ++c) {
        const uint32_t t = table_[q * k + c];
        row[c] = t == kDead ? kDead : rep[t];
        live |= row[c] != kDead;
      }
      if (live) rep[q] = reg.intern(finals_[q]);
    }
    if (rep[0] == kDead) return minimise(Dfa(0, classes_, k, std::move(table_), std::move(finals_)));  // empty
    return merge_classes_if_any(
        numbered_breadth_first(Dfa(rep[0], classes_, k, std::move(reg.rows()), std::move(reg.finals()))));
  }

  bool add_node() {
    const size_t n = finals_.size() + 1;
    // A trie is at most as large as the bytes its regex writes, but concatenated alternations
    // multiply (`(a|b)(a|b)…` twenty times is a million strings and a 21-state DFA): past a few
    // times the regex's size, the NFA route is cheaper.
    if (n > 8 * literal_bytes_ + 1024) return false;
    if (n > options_.max_states || n * (k_ * sizeof(uint32_t) + 1) > options_.max_memory_bytes) return false;
    table_.resize(table_.size() + k_, kDead);
    finals_.push_back(0);
    return true;
  }

  // The trie nodes where `r` ends when it starts at each of `nodes` (replaced by them).
  bool extend(const grammar::Regex& r, std::vector<uint32_t>& nodes, uint32_t depth) {
    using Kind = grammar::Regex::Kind;
    if ((++steps_ & 1023) == 0) check_budget();
    switch (r.kind) {
      case Kind::kEmpty: return true;
      case Kind::kNothing: nodes.clear(); return true;
      case Kind::kChars:
      case Kind::kBytes: {
        uint8_t b[4];
        const int n = bytes_of(r, b);
        for (uint32_t& node : nodes) {
          for (int i = 0; i < n; ++i) {
            const size_t at = size_t{node} * k_ + classes_[b[i]];
            if (table_[at] == kDead) {
              const auto child = static_cast<uint32_t>(finals_.size());
              if (!add_node()) return false;
              table_[at] = child;  // (add_node may have moved the table)
            }
            node = table_[at];
          }
        }
        return true;
      }
      case Kind::kConcat:
        for (const auto& it : r.items) {
          if (nodes.empty()) return true;
          if (!extend(*it, nodes, depth + 1)) return false;
        }
        return true;
      case Kind::kAlt: {
        std::vector<uint32_t> out, branch;
        for (const auto& it : r.items) {
          branch = nodes;
          if (!extend(*it, branch, depth + 1)) return false;
          out.insert(out.end(), branch.begin(), branch.end());
        }
        std::sort(out.begin(), out.end());
        out.erase(std::unique(out.begin(), out.end()), out.end());
        nodes.swap(out);
        return true;
      }
      default: return false;
    }
  }

  const DfaOptions& options_;
  std::array<bool, 256> used_{};
  std::array<uint8_t, 256> classes_{};
  size_t k_ = 0;
  std::vector<uint32_t> table_;
  std::vector<uint8_t> finals_;
  size_t steps_ = 0, literal_bytes_ = 0;
  bool plain_json_ = false;
};

// `"`, a JSON string body that spells none of a finite set of names, `"`: an open object's extra-key
// lexeme, built in one pass when every name is plain (LiteralSetBuilder::plain_json_only: then a
// name's one spelling is its raw bytes). States: the start, the names' trie — each node knowing the
// state of the JSON string bodies' automaton (json_bodies) its prefix reaches, which a byte no name
// goes on with leads to —, json_bodies' own states, and the state after the closing quote, which a
// trie node allows where its prefix may end a body and is no name. The trie is minimised bottom-up
// (RowRegister, as LiteralSetBuilder::minimal; a trie node never does what a body state does: it refuses
// a name's rest). The language of the quote, product(json_bodies, json_escape(names), negated) and the quote
// joined, which it replaces: the product and the join were most of the build. Nothing when the
// regex is not of that form or a name is not plain.
std::optional<Dfa> extra_key_lexeme(const grammar::Regex& regex, const DfaOptions& options) {
  using Kind = grammar::Regex::Kind;
  auto is_quote = [](const grammar::RegexPtr& r) {
    return r && r->kind == Kind::kChars && r->chars.ranges().size() == 1 && r->chars.ranges()[0].lo == '"' &&
           r->chars.ranges()[0].hi == '"';
  };
  const auto& items = regex.items;
  if (regex.kind != Kind::kConcat || items.size() != 3 || !is_quote(items[0]) || !is_quote(items[2]) || !items[1])
    return std::nullopt;
  const grammar::Regex& js = *items[1];
  if (js.kind != Kind::kJsonString || js.items.size() != 1 || !js.items[0]) return std::nullopt;
  const grammar::Regex& comp = *js.items[0];
  if (comp.kind != Kind::kComplement || comp.items.size() != 1 || !comp.items[0]) return std::nullopt;
  LiteralSetBuilder trie(options);
  trie.plain_json_only();
  if (!trie.build_trie(*comp.items[0])) return std::nullopt;
  const Dfa& body = json_bodies();
  const size_t n = trie.size(), nb = body.num_states();
  // The body automaton's state at each trie node (parents are numbered before their children).
  std::vector<uint8_t> used;
  for (int x = 0; x < 256; ++x)
    if (trie.used(static_cast<uint8_t>(x))) used.push_back(static_cast<uint8_t>(x));
  std::vector<uint32_t> at(n, kDead);
  at[0] = body.start();
  for (uint32_t t = 0; t < n; ++t)
    for (uint8_t x : used) {
      const uint32_t c = trie.child(t, x);
      if (c == kDead) continue;
      at[c] = body.next(at[t], x);
      if (at[c] == kDead) return std::nullopt;  // not a body (cannot happen for plain names)
    }
  // Classes: a byte's trie class, its body class, and the quote apart; numbered by first byte.
  std::array<uint8_t, 256> classes{};
  std::vector<uint8_t> rep;  // a byte of each class
  {
    const size_t bk = body.num_classes();
    std::vector<int> id(trie.num_classes() * bk * 2, -1);
    for (int x = 0; x < 256; ++x) {
      const auto b = static_cast<uint8_t>(x);
      const size_t key = (trie.class_of(b) * bk + body.byte_classes()[x]) * 2 + (x == '"');
      if (id[key] < 0) {
        id[key] = static_cast<int>(rep.size());
        rep.push_back(b);
      }
      classes[x] = static_cast<uint8_t>(id[key]);
    }
  }
  const size_t k = rep.size();
  // States: 0 the start, 1 after the closing quote, 2 + s the body's state s, then the trie's
  // classes of equivalent nodes (2 + nb + r).
  const size_t fixed = 2 + nb;
  if (fixed + n > options.max_states || (fixed + n) * (k * sizeof(uint32_t) + 1) > options.max_memory_bytes)
    return std::nullopt;  // the product route says which budget
  std::vector<uint32_t> table(fixed * k, kDead);
  for (size_t c = 0; c < k; ++c) {
    const uint8_t x = rep[c];
    // (the start's quote is set once the root's class is known). A quote goes on inside an escape
    // (`\"`), and closes the string where a body may end.
    for (uint32_t s = 0; s < nb; ++s) {
      if (const uint32_t t = body.next(s, x); t != kDead) table[(2 + s) * k + c] = static_cast<uint32_t>(2 + t);
      else if (x == '"' && body.is_final(s)) table[(2 + s) * k + c] = 1;
    }
  }
  // The trie bottom-up: a node's row (its children by their classes), hashed and compared. A node
  // below which no name ends (the empty set's root, a branch that ends in nothing) refuses nothing:
  // it is the body's state there.
  std::vector<uint32_t> id(n, kDead);
  std::vector<uint8_t> ends_below(n, 0);
  RowRegister reg(k);
  for (size_t t = n; t-- > 0;) {
    if ((t & 1023) == 0) check_budget();
    uint32_t* row = reg.row();
    for (size_t c = 0; c < k; ++c) {
      const uint8_t x = rep[c];
      uint32_t to = kDead;
      if (const uint32_t child = trie.used(x) ? trie.child(static_cast<uint32_t>(t), x) : kDead; child != kDead) {
        to = id[child];  // (a plain name has no quote)
        ends_below[t] |= ends_below[child];
      } else if (const uint32_t s = body.next(at[t], x); s != kDead) {
        to = static_cast<uint32_t>(2 + s);
      } else if (x == '"' && body.is_final(at[t]) && !trie.is_end(static_cast<uint32_t>(t))) {
        to = 1;
      }
      row[c] = to;
    }
    ends_below[t] |= trie.is_end(static_cast<uint32_t>(t)) ? 1 : 0;
    if (!ends_below[t]) {
      id[t] = static_cast<uint32_t>(2 + at[t]);
      continue;
    }
    id[t] = static_cast<uint32_t>(fixed + reg.intern(0));
  }
  // The start leads to the root's state.
  table[classes['"']] = id[0];
  table.insert(table.end(), reg.rows().begin(), reg.rows().end());
  std::vector<uint8_t> finals(fixed + reg.size(), 0);
  finals[1] = 1;
  // Every state is reachable (the body's, from the root by a byte no name goes on with) and live:
  // not renumbered.
  return merge_classes_if_any(Dfa(0, classes, k, std::move(table), std::move(finals)));
}
}  // namespace

namespace {
// compile_dfa without the shared cache at the root (its children still use it).
Dfa compile_sub_dfa(const grammar::Regex& regex, const DfaOptions& options) {
  using Kind = grammar::Regex::Kind;
  const auto& items = regex.items;
  switch (regex.kind) {
    case Kind::kIntersect: {
      if (items.empty()) throw Error(ErrorKind::kInvalidArgument, "regex intersection without items");
      // Length bounds (minLength / maxLength) last, each counted on the automaton of what comes
      // before it (bound_length); the other items, and a bound bound_length declines, as products.
      std::vector<const grammar::Regex*> order;
      for (const auto& it : items) order.push_back(it.get());
      std::stable_partition(order.begin(), order.end(), [](const grammar::Regex* r) { return !is_length_bound(*r); });
      Dfa acc = compile_dfa(*order[0], options);
      for (size_t i = 1; i < order.size() && !acc.empty(); ++i) {
        const grammar::Regex& r = *order[i];
        const DfaOptions rest = with_less_memory(options, acc.memory_bytes());
        std::optional<Dfa> bounded;
        if (is_length_bound(r)) bounded = bound_length(acc, r.min, r.max, rest);
        if (bounded) {
          acc = std::move(*bounded);
          continue;
        }
        Dfa next = compile_dfa(r, rest);
        acc = intersect(acc, next, with_less_memory(options, acc.memory_bytes() + next.memory_bytes()));
      }
      return acc;
    }
    case Kind::kComplement:
    case Kind::kJsonString: {
      if (items.size() != 1)
        throw Error(ErrorKind::kInvalidArgument, "regex complement or JSON string node without exactly one item");
      if (regex.kind == Kind::kJsonString && items[0]->kind == Kind::kComplement && items[0]->items.size() == 1) {
        // The JSON spellings of the strings outside X: every JSON string body but X's spellings
        // (a string's spellings decode to it alone, so escaping keeps the difference). Escaping
        // X — an open object's named keys: raw literals, most of them — instead of the complement
        // (which reads every byte, escapes included) was most of building an extra-key lexeme.
        // When X is finite (named keys: no cycle in its automaton) the product is not minimised:
        // every pair reachable lives (a body can always go on past X's finitely many spellings),
        // and of maskbench-dev's 2,400 such lexemes 2,387 came out minimal already (131,126
        // states against 130,936 minimised): Hopcroft was 40 % of their build, and a non-minimal
        // automaton only loses some sharing of index entries. An infinite X (a pattern) can
        // leave pairs that reach no final state: minimised, which drops them. (A whole extra-key
        // lexeme over plain names, quotes included, is built in one pass: extra_key_lexeme.)
        std::optional<Dfa> own;
        const Dfa& named = dfa_of(*items[0]->items[0], options, own);
        DfaOptions rest = with_less_memory(options, named.memory_bytes());
        Dfa spelt = json_escape(named, rest);
        return product(json_bodies(), spelt, true, with_less_memory(options, named.memory_bytes() + spelt.memory_bytes()),
                       has_cycle(named));
      }
      std::optional<Dfa> own;
      const Dfa& child = dfa_of(*items[0], options, own);
      DfaOptions rest = with_less_memory(options, child.memory_bytes());
      if (regex.kind == Kind::kComplement) return complement(child, rest);
      if (!reads_escaped_bytes(child)) return own ? std::move(*own) : child;  // written raw: the same DFA
      return spell_escapes(child, rest);
    }
    case Kind::kConcat:
      if (std::optional<Dfa> key = extra_key_lexeme(regex, options)) return std::move(*key);
      if (options.sub_dfas && items.size() > 1)
        if (std::optional<Dfa> joined = concat_of_pieces(regex, options)) return std::move(*joined);
      break;
    case Kind::kRepeat: {
      // Long counts of a code point set or a literal (a name of up to 200 letters), and short
      // ones of a large item (a Unicode letter class: ~170 states, in chunks of 11 or 12 code
      // points: 6-9 ms each through the NFA, built inside masks), counted on the item's DFA.
      // Short counts of small items are cheap through the NFA.
      constexpr uint32_t kLong = 16, kLargeItem = 64;
      const auto ik = items[0]->kind;
      const bool simple = ik == Kind::kChars || ik == Kind::kBytes || ik == Kind::kConcat || ik == Kind::kAlt;
      const bool long_count = (regex.max != grammar::kUnbounded && regex.max >= kLong) || regex.min >= kLong;
      // (A set of ASCII code points is a two-state automaton: not compiled here only to be let go.)
      const bool may_be_large = ik == Kind::kChars && regex.max >= 2 && !items[0]->chars.empty() &&
                                items[0]->chars.ranges().back().hi >= 0x80;
      if (simple && (long_count || may_be_large)) {
        const Dfa item = compile_dfa(*items[0], options);
        if (long_count || item.num_states() >= kLargeItem)
          if (std::optional<Dfa> r = repeat_prefix_free(item, regex.min, regex.max, options)) return std::move(*r);
      }
      break;
    }
    default: break;
  }
  if (regex.kind == Kind::kAlt || regex.kind == Kind::kConcat)
    if (std::optional<Dfa> set = LiteralSetBuilder(options).build(regex)) return std::move(*set);
  Nfa nfa = build_nfa(regex, options);
  Dfa raw = SubsetBuilder(nfa, options).run();
  return minimise(raw);
}
}  // namespace

Dfa compile_leftmost_first_dfa(const grammar::Regex& regex, const DfaOptions& options) {
  Nfa nfa = build_nfa(regex, options, true);
  Dfa raw = SubsetBuilder(nfa, options, true).run();
  return minimise(raw);
}

}  // namespace tollgate::fsm
