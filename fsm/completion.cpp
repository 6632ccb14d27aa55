// CfgCompletion: lexeme distances, minimum yields (a fixpoint), and the per-node completion costs K
// (see fsm/completion.hpp).
#include "fsm/completion.hpp"

#include <algorithm>

namespace tollgate::fsm {

CfgCompletion::CfgCompletion(const CfgRuntime& rt)
    : rt_(rt), num_nt_(static_cast<uint32_t>(rt.cfg().num_nonterminals())) {
  const Cfg& cfg = rt.cfg();
  lex_.reserve(rt.num_lexemes());
  for (uint32_t l = 0; l < rt.num_lexemes(); ++l) {
    const LexDfa& d = rt.dfa(l);
    lex_.push_back(dfa_distances(
        d.num_states(), d.num_classes, [&](uint32_t s, uint32_t c) { return d.table[size_t{s} * d.num_classes + c]; },
        [&](uint32_t s) { return d.is_final(s); }));
  }
  auto sym_yield = [&](Sym s) {
    if (is_lexeme(s)) {
      uint32_t l = lexeme_of(s);
      return lex_[l].to_final[rt.dfa(l).start];
    }
    return nt_yield_[static_cast<uint32_t>(s)];
  };
  // Minimum yields: relax every production until nothing changes (each round fixes at least the
  // nonterminals whose minimal derivation is one level taller, so at most num_nt + 1 rounds).
  nt_yield_.assign(num_nt_, kUnreachable);
  for (bool changed = true; changed;) {
    changed = false;
    for (const Production& p : cfg.prods) {
      uint32_t y = 0;
      for (Sym s : p.rhs) y = add(y, sym_yield(s));
      if (y < nt_yield_[static_cast<uint32_t>(p.lhs)]) {
        nt_yield_[static_cast<uint32_t>(p.lhs)] = y;
        changed = true;
      }
    }
  }
  for (const Production& p : cfg.prods) {
    suffix_offset_.push_back(static_cast<uint32_t>(suffix_.size()));
    size_t base = suffix_.size();
    suffix_.resize(base + p.rhs.size() + 1);
    suffix_[base + p.rhs.size()] = 0;
    for (size_t i = p.rhs.size(); i-- > 0;) suffix_[base + i] = add(suffix_[base + i + 1], sym_yield(p.rhs[i]));
  }
}

uint32_t CfgCompletion::key_cost(uint32_t node, uint32_t key) const {
  const uint64_t k = (uint64_t{node} << 32) | key;
  uint64_t v = memo_.find(k);
  if (v != AtomicMemo::kMissing) return static_cast<uint32_t>(v);
  if (!known(node)) {
    std::lock_guard<std::mutex> lock(mu_);
    compute_locked(node);
    v = memo_.find(k);
    if (v != AtomicMemo::kMissing) return static_cast<uint32_t>(v);
  }
  return kUnreachable;  // nothing at `node` waits for `key`
}

void CfgCompletion::compute_locked(uint32_t node) const {
  // Origins are older nodes (an item's origin existed before the item), so this terminates; an
  // explicit stack keeps deep nesting off the call stack.
  std::vector<uint32_t> stack{node};
  while (!stack.empty()) {
    uint32_t m = stack.back();
    if (known(m)) {
      stack.pop_back();
      continue;
    }
    bool waiting = false;
    for (const EarleyGraph::Item& it : rt_.graph().node(m).items)
      if (it.origin != EarleyGraph::kSelf && it.origin != EarleyGraph::kWild && !known(it.origin)) {
        stack.push_back(it.origin);
        waiting = true;
      }
    if (waiting) continue;
    compute_one_locked(m);
    stack.pop_back();
  }
}

void CfgCompletion::compute_one_locked(uint32_t m) const {
  const EarleyGraph::Node& n = rt_.graph().node(m);
  const Cfg& cfg = rt_.cfg();
  // Distinct keys (n.keys is sorted) and their costs.
  std::vector<uint32_t> keys(n.keys.begin(), n.keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::vector<uint32_t> cost(keys.size(), kUnreachable);
  auto slot = [&](uint32_t key) -> uint32_t* {
    auto it = std::lower_bound(keys.begin(), keys.end(), key);
    return it != keys.end() && *it == key ? &cost[it - keys.begin()] : nullptr;
  };
  // Bellman–Ford inside the node: an item predicted here returns into this node's own costs.
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < n.items.size(); ++i) {
      const EarleyGraph::Item& it = n.items[i];
      const Production& p = cfg.prods[it.prod];
      uint32_t ret;
      if (it.prod == 0) ret = 0;
      else if (it.origin == EarleyGraph::kWild) ret = kUnreachable;
      else if (it.origin == EarleyGraph::kSelf) {
        const uint32_t* s = slot(static_cast<uint32_t>(p.lhs));
        ret = s ? *s : kUnreachable;
      } else {
        uint64_t v = memo_.find((uint64_t{it.origin} << 32) | static_cast<uint32_t>(p.lhs));
        ret = v == AtomicMemo::kMissing ? kUnreachable : static_cast<uint32_t>(v);
      }
      if (ret == kUnreachable) continue;
      uint32_t c = add(suffix_[suffix_offset_[it.prod] + it.dot + 1], ret);
      uint32_t* s = slot(n.keys[i]);
      if (c < *s) {
        *s = c;
        changed = true;
      }
    }
  }
  for (size_t i = 0; i < keys.size(); ++i) memo_.insert((uint64_t{m} << 32) | keys[i], cost[i]);
  memo_.insert(marker(m), 0);
}

uint32_t CfgCompletion::node_cost(uint32_t node) const {
  const EarleyGraph::Node& n = rt_.graph().node(node);
  if (n.accepting) return 0;
  uint32_t best = kUnreachable;
  uint32_t prev = UINT32_MAX;
  for (uint32_t key : n.keys) {
    if (key == prev) continue;
    prev = key;
    uint32_t y = key < num_nt_ ? nt_yield_[key] : lex_[key - num_nt_].to_final[rt_.dfa(key - num_nt_).start];
    best = std::min(best, add(y, key_cost(node, key)));
  }
  return best;
}

uint32_t CfgCompletion::after_lexeme(const Thread& t) const {
  if (rt_.cfg().is_ignore[t.lexeme]) return node_cost(t.node);
  return key_cost(t.node, num_nt_ + t.lexeme);
}

uint32_t CfgCompletion::of_state(const ParserState& state) const {
  if (state.accepting) return 0;
  uint32_t best = kUnreachable;
  for (const Thread& t : state.threads) best = std::min(best, of_thread(t));
  return best;
}

}  // namespace tollgate::fsm
