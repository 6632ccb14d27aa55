// Distances to acceptance in a byte automaton (the length budget, include/tollgate/matcher.hpp).
// Takes: a deterministic automaton given by its size, its number of byte classes, next(state,
// class) (kDead for no way on) and is_final(state). Gives, per state: to_final, the fewest bytes
// that reach a final state (a reverse BFS from the final states; kUnreachable when none), and
// max_reach, the largest to_final over the states reachable from it, itself included (the worst
// distance any continuation can lead to: the length budget's cheap test that no token needs
// checking). Both are computed once, in O(states × classes).
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "fsm/dfa.hpp"

namespace tollgate::fsm {

inline constexpr uint32_t kUnreachable = UINT32_MAX;

struct DfaDistances {
  std::vector<uint32_t> to_final;
  std::vector<uint32_t> max_reach;
};

template <class Next, class IsFinal>
DfaDistances dfa_distances(uint32_t num_states, uint32_t num_classes, Next next, IsFinal is_final) {
  // Reverse edges (deduplicated per source state) in CSR form.
  std::vector<uint32_t> count(num_states + 1, 0);
  std::vector<std::pair<uint32_t, uint32_t>> edges;  // (target, source)
  std::vector<uint32_t> seen;
  for (uint32_t s = 0; s < num_states; ++s) {
    seen.clear();
    for (uint32_t c = 0; c < num_classes; ++c) {
      uint32_t t = next(s, c);
      if (t == kDead || t >= num_states) continue;
      if (std::find(seen.begin(), seen.end(), t) != seen.end()) continue;
      seen.push_back(t);
      edges.push_back({t, s});
    }
  }
  for (auto& e : edges) ++count[e.first + 1];
  std::partial_sum(count.begin(), count.end(), count.begin());
  std::vector<uint32_t> preds(edges.size());
  {
    std::vector<uint32_t> fill(count.begin(), count.end() - 1);
    for (auto& e : edges) preds[fill[e.first]++] = e.second;
  }
  DfaDistances d;
  d.to_final.assign(num_states, kUnreachable);
  std::vector<uint32_t> queue;
  for (uint32_t s = 0; s < num_states; ++s)
    if (is_final(s)) {
      d.to_final[s] = 0;
      queue.push_back(s);
    }
  for (size_t i = 0; i < queue.size(); ++i) {
    uint32_t t = queue[i];
    for (uint32_t k = count[t]; k < count[t + 1]; ++k)
      if (d.to_final[preds[k]] == kUnreachable) {
        d.to_final[preds[k]] = d.to_final[t] + 1;
        queue.push_back(preds[k]);
      }
  }
  // max_reach: states in decreasing to_final; each marks, backwards, every state that reaches it
  // and has no value yet (the first value to reach a state is its largest).
  std::vector<uint32_t> order(num_states);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return d.to_final[a] > d.to_final[b]; });
  d.max_reach.assign(num_states, 0);
  std::vector<char> done(num_states, 0);
  for (uint32_t s : order) {
    if (done[s]) continue;
    done[s] = 1;
    d.max_reach[s] = d.to_final[s];
    queue.assign(1, s);
    for (size_t i = 0; i < queue.size(); ++i) {
      uint32_t t = queue[i];
      for (uint32_t k = count[t]; k < count[t + 1]; ++k)
        if (!done[preds[k]]) {
          done[preds[k]] = 1;
          d.max_reach[preds[k]] = d.to_final[s];
          queue.push_back(preds[k]);
        }
    }
  }
  return d;
}

}  // namespace tollgate::fsm
