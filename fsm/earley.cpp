// Earley item sets as hash-consed nodes: closure (predict, complete, nullable rule), scan and
// merge with memo tables.
#include "fsm/earley.hpp"

#include <algorithm>
#include <string>

#include "tollgate/error.hpp"

namespace tollgate::fsm {

namespace {
// A 64-bit finaliser (every input bit reaches every output bit).
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}
inline uint64_t item_hash(const EarleyGraph::Item& it) {
  return mix64(((static_cast<uint64_t>(it.prod) << 32) | it.dot) ^ mix64(it.origin + 0x9E3779B97F4A7C15ull));
}
}  // namespace

size_t EarleyGraph::ItemHash::operator()(const Item& it) const { return static_cast<size_t>(item_hash(it)); }

size_t EarleyGraph::VecHash::operator()(const std::vector<Item>& v) const {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ v.size();
  for (auto& it : v) h = (h ^ item_hash(it)) * 0x100000001B3ull + (h >> 29);
  return static_cast<size_t>(mix64(h));
}

EarleyGraph::EarleyGraph(const Cfg& cfg, size_t max_items)
    : cfg_(cfg), num_nt_(static_cast<uint32_t>(cfg.num_nonterminals())), max_items_(max_items) {
  std::lock_guard<std::mutex> lock(mu_);
  initial_ = intern({{0, 0, kSelf}});
  account_locked();
}

uint32_t EarleyGraph::key_of(const Item& it) const {
  const auto& rhs = cfg_.prods[it.prod].rhs;
  if (it.dot >= rhs.size()) return UINT32_MAX;
  Sym s = rhs[it.dot];
  return is_lexeme(s) ? num_nt_ + lexeme_of(s) : static_cast<uint32_t>(s);
}

const std::vector<uint32_t>& EarleyGraph::prediction_closure(uint32_t nt) {
  if (closures_.empty()) {
    closures_.resize(num_nt_);
    node_bytes_ += num_nt_ * sizeof(closures_[0]);
  }
  if (!closures_[nt].empty()) return closures_[nt];
  // Kept while the closures kept hold at most kMaxClosureEntries nonterminals in all (a chain of
  // 100,000 rules, each predicting the next, would hold 100,000 closures of up to 100,000 each):
  // past that, computed again each time into a scratch list, as the closure did before.
  const bool keep = closure_entries_ < kMaxClosureEntries;
  std::vector<uint32_t>& out = keep ? closures_[nt] : closure_scratch_;
  out.clear();
  // Breadth first over "predicting A predicts B": B stands at a dot that a production of A reaches
  // through nullable nonterminals only (the Aycock–Horspool rule advances over those).
  if (mark_.size() < num_nt_) {
    mark_.resize(num_nt_, 0);
    node_bytes_ += num_nt_ * sizeof(mark_[0]);
  }
  if (++stamp_ == 0) {
    std::fill(mark_.begin(), mark_.end(), 0);
    stamp_ = 1;
  }
  out.push_back(nt);
  mark_[nt] = stamp_;
  for (size_t i = 0; i < out.size(); ++i) {
    for (uint32_t q : cfg_.prods_of[out[i]]) {
      const auto& rhs = cfg_.prods[q].rhs;
      for (size_t d = 0; d < rhs.size(); ++d) {
        const Sym s = rhs[d];
        if (is_lexeme(s)) break;
        if (mark_[s] != stamp_) {
          mark_[s] = stamp_;
          out.push_back(static_cast<uint32_t>(s));
        }
        if (!cfg_.nullable[s]) break;
      }
    }
  }
  if (keep) {
    out.shrink_to_fit();
    closure_entries_ += out.size();
    node_bytes_ += out.size() * 4;
  }
  return out;
}

uint32_t EarleyGraph::intern(std::vector<Item> kernel) {
  // Closure. The items whose origin is another node (the kernel, what completing its items adds
  // from their origins, and their advances over nullable nonterminals) are closed one by one,
  // deduplicated whole (all three fields at full width: a key packing the fields into 64 bits
  // dropped items once a dot passed 255, productions of hundreds of symbols) in an
  // open-addressing table of indices into `items`. The predicted items (origin kSelf) depend on
  // the predicted nonterminals alone: the nonterminals each prediction leads to are computed once
  // per grammar (prediction_closure), and their items — each production at dot 0 and past its
  // nullable prefix — are written out after, without a lookup each (they were most of a
  // closure's items, and of its cost, in a JSON Schema's grammar). The two sets cannot meet but
  // in the initial node (a kSelf kernel); intern_closed removes duplicates anyway.
  std::vector<Item> items;
  thread_local std::vector<uint32_t> slots;
  thread_local std::vector<char> predicted;
  thread_local std::vector<uint32_t> predicted_list;
  constexpr uint32_t kEmpty = UINT32_MAX;
  size_t mask = 63;
  slots.assign(mask + 1, kEmpty);
  if (predicted.size() < num_nt_) predicted.resize(num_nt_, 0);
  predicted_list.clear();
  struct ClearPredicted {  // also when the item budget throws
    ~ClearPredicted() {
      for (uint32_t nt : predicted_list) predicted[nt] = 0;
    }
  } clear_predicted;
  auto over_budget = [&] {
    throw Error(ErrorKind::kLimit, "Earley parser: a parser state needs more than " + std::to_string(max_items_) +
                                       " items (CompileOptions::max_earley_items); the grammar is too large or "
                                       "too ambiguous here");
  };
  auto place = [&](uint32_t index) {
    size_t i = item_hash(items[index]) & mask;
    while (slots[i] != kEmpty) i = (i + 1) & mask;
    slots[i] = index;
  };
  auto add = [&](const Item& it) {
    for (size_t i = item_hash(it) & mask; slots[i] != kEmpty; i = (i + 1) & mask)
      if (items[slots[i]] == it) return;
    if (items.size() >= max_items_) over_budget();
    items.push_back(it);
    if (items.size() * 2 > mask + 1) {  // at most half full
      mask = mask * 2 + 1;
      slots.assign(mask + 1, kEmpty);
      for (uint32_t j = 0; j < items.size(); ++j) place(j);
    } else {
      place(static_cast<uint32_t>(items.size() - 1));
    }
  };
  for (auto& it : kernel) add(it);
  for (size_t i = 0; i < items.size(); ++i) {
    Item it = items[i];
    const auto& p = cfg_.prods[it.prod];
    if (it.dot < p.rhs.size()) {
      Sym s = p.rhs[it.dot];
      if (is_lexeme(s)) continue;
      if (!predicted[s]) {
        for (uint32_t nt : prediction_closure(static_cast<uint32_t>(s))) {
          if (predicted[nt]) continue;
          predicted[nt] = 1;
          predicted_list.push_back(nt);
        }
      }
      if (cfg_.nullable[s]) add({it.prod, it.dot + 1, it.origin});
    } else if (it.origin != kSelf && it.origin != kWild) {
      const Node& o = node(it.origin);
      uint32_t key = static_cast<uint32_t>(p.lhs);
      auto range = std::equal_range(o.keys.begin(), o.keys.end(), key);
      for (auto k = range.first; k != range.second; ++k) {
        const Item& parent = o.items[k - o.keys.begin()];
        add({parent.prod, parent.dot + 1, parent.origin == kSelf ? it.origin : parent.origin});
      }
    }
  }
  // The predicted items: each production of a predicted nonterminal at dot 0, and advanced over
  // its leading nullable nonterminals (to its end when all are).
  for (uint32_t nt : predicted_list) {
    for (uint32_t q : cfg_.prods_of[nt]) {
      const auto& rhs = cfg_.prods[q].rhs;
      for (uint32_t d = 0;; ++d) {
        if (items.size() >= max_items_) over_budget();
        items.push_back({q, d, kSelf});
        if (d == rhs.size() || is_lexeme(rhs[d]) || !cfg_.nullable[rhs[d]]) break;
      }
    }
  }
  return intern_closed(std::move(items));
}

uint32_t EarleyGraph::intern_closed(std::vector<Item> items, bool accepting, bool pops) {
  thread_local std::vector<std::pair<uint32_t, Item>> keyed;  // intern_closed is never re-entered
  keyed.clear();
  for (auto& it : items) {
    uint32_t k = key_of(it);
    if (k == UINT32_MAX) {  // completed: only its flags matter from now on
      if (it.prod == 0) accepting = true;
      if (it.origin == kWild) pops = true;
      continue;
    }
    keyed.push_back({k, it});
  }
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    if (a.second.prod != b.second.prod) return a.second.prod < b.second.prod;
    if (a.second.dot != b.second.dot) return a.second.dot < b.second.dot;
    return a.second.origin < b.second.origin;
  });
  keyed.erase(std::unique(keyed.begin(), keyed.end(),
                          [](const auto& a, const auto& b) { return a.second == b.second; }),
              keyed.end());
  std::vector<Item> sorted;
  sorted.reserve(keyed.size() + 1);
  for (auto& k : keyed) sorted.push_back(k.second);
  // The flags are part of the identity: a sentinel item that no real item equals.
  sorted.push_back({UINT32_MAX, (accepting ? 1u : 0u) | (pops ? 2u : 0u), UINT32_MAX});
  auto found = index_.find(sorted);
  if (found != index_.end()) return found->second;
  Node n;
  n.items.assign(sorted.begin(), sorted.end() - 1);
  for (auto& k : keyed) {
    n.keys.push_back(k.first);
    if (k.first >= num_nt_) {
      uint32_t l = k.first - num_nt_;
      if (n.expected.empty() || n.expected.back() != l) n.expected.push_back(l);
    }
  }
  n.accepting = accepting;
  n.pops = pops;
  uint32_t id = num_nodes_;
  if (id >= kMaxNodes)  // 4 billion nodes: memory runs out long before
    throw Error(ErrorKind::kLimit, "Earley parser: more than " + std::to_string(kMaxNodes) +
                                       " distinct parser states in one generation of the Earley graph");
  if (const uint32_t c = chunk_of(id); !chunks_[c]) {
    chunks_[c] = std::make_unique<Node[]>(chunk_size(c));
    node_bytes_ += chunk_size(c) * sizeof(Node);
  }
  node_bytes_ += n.items.capacity() * sizeof(Item) + n.keys.capacity() * 4 + n.expected.capacity() * 4 +
                 sorted.size() * sizeof(Item) + 64;
  mut_node(id) = std::move(n);
  ++num_nodes_;
  index_.emplace(std::move(sorted), id);
  return id;
}

uint32_t EarleyGraph::scan(uint32_t node, uint32_t lexeme) {
  uint64_t mk = (static_cast<uint64_t>(node) << 32) | lexeme;
  if (uint64_t m = scanned(node, lexeme); m != AtomicMemo::kMissing) return static_cast<uint32_t>(m);
  std::lock_guard<std::mutex> lock(mu_);
  if (uint64_t m = scan_memo_.find(mk); m != AtomicMemo::kMissing) return static_cast<uint32_t>(m);
  const Node& n = this->node(node);
  uint32_t key = num_nt_ + lexeme;
  auto range = std::equal_range(n.keys.begin(), n.keys.end(), key);
  uint32_t result = kNoNode;
  if (range.first != range.second) {
    std::vector<Item> kernel;
    for (auto k = range.first; k != range.second; ++k) {
      const Item& it = n.items[k - n.keys.begin()];
      kernel.push_back({it.prod, it.dot + 1, it.origin == kSelf ? node : it.origin});
    }
    result = intern(std::move(kernel));
  }
  scan_memo_.insert(mk, result);
  account_locked();
  return result;
}

uint32_t EarleyGraph::merge(uint32_t a, uint32_t b) {
  if (a == b || b == kNoNode) return a;
  if (a == kNoNode) return b;
  if (a > b) std::swap(a, b);
  uint64_t mk = (static_cast<uint64_t>(a) << 32) | b;
  if (uint64_t m = merge_memo_.find(mk); m != AtomicMemo::kMissing) return static_cast<uint32_t>(m);
  std::lock_guard<std::mutex> lock(mu_);
  if (uint64_t m = merge_memo_.find(mk); m != AtomicMemo::kMissing) return static_cast<uint32_t>(m);
  std::vector<Item> items = node(a).items;
  items.insert(items.end(), node(b).items.begin(), node(b).items.end());
  uint32_t result = intern_closed(std::move(items), node(a).accepting || node(b).accepting, node(a).pops || node(b).pops);
  merge_memo_.insert(mk, result);
  account_locked();
  return result;
}

// The memo key of a truncation: the node, the depth (below 2^30) and the loops left (below 4).
static_assert(EarleyGraph::kLoopLevels < 4);
static uint64_t truncate_key(uint32_t node, uint32_t depth, uint32_t loops) {
  return (static_cast<uint64_t>(node) << 32) | (static_cast<uint64_t>(depth) << 2) | loops;
}

uint32_t EarleyGraph::truncate(uint32_t node, uint32_t depth) {
  if (depth == 0) return node;
  // No chain of origins is 2^30 nodes long (the graph would not fit in memory): a deeper cut is
  // the same node.
  depth = std::min<uint32_t>(depth, (1u << 30) - 1);
  uint64_t mk = truncate_key(node, depth, kLoopLevels);
  if (uint64_t m = truncate_memo_.find(mk); m != AtomicMemo::kMissing) return static_cast<uint32_t>(m);
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t result = truncate_locked(node, depth, kLoopLevels);
  account_locked();
  return result;
}

uint32_t EarleyGraph::truncate_locked(uint32_t node, uint32_t depth, uint32_t loops) {
  if (depth == 0) return kWild;
  uint64_t mk = truncate_key(node, depth, loops);
  if (uint64_t m = truncate_memo_.find(mk); m != AtomicMemo::kMissing) return static_cast<uint32_t>(m);
  std::vector<Item> items = this->node(node).items;
  for (auto& it : items) {
    if (it.origin == kSelf || it.origin == kWild) continue;
    // A repetition's loop item (S → S • x, from S → ε | S x) keeps its origin one level more
    // where the cut would fall on it, a bounded number of times: cut there, the next item of the
    // repetition would complete S into the wildcard and the local parse would stop at every
    // item after the first (a token spanning two items of a list, or two characters of a
    // pattern under format "regex", would be decided by the real context token by token).
    const Production& pr = cfg_.prods[it.prod];
    const bool loop = it.dot >= 1 && !pr.rhs.empty() && pr.rhs[0] == pr.lhs;
    if (depth == 1 && loop && loops > 0) it.origin = truncate_locked(it.origin, 1, loops - 1);
    else it.origin = truncate_locked(it.origin, depth - 1, loops);
  }
  uint32_t result = intern_closed(std::move(items), this->node(node).accepting, false);
  truncate_memo_.insert(mk, result);
  return result;
}

void EarleyGraph::reserve(size_t nodes) {
  std::lock_guard<std::mutex> lock(mu_);
  index_.reserve(nodes);
  scan_memo_.reserve(nodes);
  merge_memo_.reserve(nodes);
  truncate_memo_.reserve(nodes);
  account_locked();
}

size_t EarleyGraph::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return num_nodes_;
}

void EarleyGraph::account_locked() {
  // The chunk pointers, the nodes (counted as chunks are made and nodes interned), the index's
  // buckets and the memo tables.
  size_t b = sizeof(chunks_) + node_bytes_ + index_.bucket_count() * sizeof(void*) + scan_memo_.memory_bytes() +
             merge_memo_.memory_bytes() + truncate_memo_.memory_bytes();
  bytes_.store(b, std::memory_order_relaxed);
}

}  // namespace tollgate::fsm
