// EarleyGraph — an Earley recognizer over lexemes whose item sets are hash-consed.
// Takes: a Cfg. Gives: nodes (closed Earley item sets) and the transitions scan(node, lexeme)
// and merge(node, node), built lazily and memoised. An item's origin is the id of the node it
// was predicted in (or kSelf for "this node"), so a node fully describes its future: two parser
// configurations with the same node id accept the same continuations, and a matcher's parser
// state is a node id (no chart, O(1) copy and rollback). Left recursion and ambiguity are fine
// (nullable rules use the Aycock–Horspool prediction rule). Thread-safe: transitions are
// created under a mutex; nodes are immutable once published, and a memoised transition is read
// without a lock (fsm/atomic_memo.hpp), so matchers of one grammar on many threads do not
// serialise once the graph has been explored. A graph only grows; a CompiledGrammar bounds it by
// starting a fresh one (a generation, engine/cfg_backend.hpp) once it passes a budget. Node ids
// span the whole 32-bit space (below the kWild/kSelf markers): no node count cap that a live
// sequence could reach before the process runs out of memory (4 billion nodes).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "fsm/atomic_memo.hpp"
#include "fsm/cfg.hpp"

namespace tollgate::fsm {

inline constexpr uint32_t kNoNode = UINT32_MAX;

class EarleyGraph {
 public:
  struct Item {
    uint32_t prod, dot, origin;  // origin: node id, or kSelf
    bool operator==(const Item&) const = default;
  };
  // Hash of all three full-width fields (items are compared whole: no packed key).
  struct ItemHash {
    size_t operator()(const Item& it) const;
  };
  static constexpr uint32_t kSelf = UINT32_MAX;
  // Wildcard origin of a truncated node (see truncate): "some context outside this node".
  static constexpr uint32_t kWild = UINT32_MAX - 1;

  struct Node {
    std::vector<Item> items;          // sorted by (next symbol key, prod, dot, origin); no completed items
    std::vector<uint32_t> keys;       // next-symbol key per item (for equal_range)
    std::vector<uint32_t> expected;   // lexemes an item expects next (no %ignore lexemes)
    bool accepting = false;
    bool pops = false;  // holds a completed item whose origin is kWild (the parse left the known context)
  };

  // max_items: items one closure may hold (CompileOptions::max_earley_items); more is a kLimit error.
  static constexpr size_t kDefaultMaxItems = size_t{1} << 20;
  explicit EarleyGraph(const Cfg& cfg, size_t max_items = kDefaultMaxItems);
  size_t max_items() const { return max_items_; }

  uint32_t initial() const { return initial_; }
  // Items of `node` expecting lexeme `l`, advanced and closed; kNoNode when none expects it.
  uint32_t scan(uint32_t node, uint32_t lexeme);
  // scan() when it is memoised already, without computing or locking: AtomicMemo::kMissing when not.
  uint64_t scanned(uint32_t node, uint32_t lexeme) const {
    return scan_memo_.find((static_cast<uint64_t>(node) << 32) | lexeme);
  }
  // Union of two nodes at the same position.
  uint32_t merge(uint32_t a, uint32_t b);
  // `node` with its context cut `depth` origin levels down: every origin reached through more
  // than `depth` origin links is replaced by kWild. Many parse contexts (e.g. the same JSON
  // construct at different nesting depths) share one truncated node, and a parse from it is a
  // sound under-approximation of the parse from `node` until it completes an item into kWild
  // (the node's `pops` flag), where the real context decides. Depth 0: `node` itself. The loop
  // item of a repetition (S → S • x) where the cut falls keeps its origin cut at depth 1
  // instead, up to kLoopLevels times along a chain, so that a local parse goes on from one
  // item of a list to the next.
  uint32_t truncate(uint32_t node, uint32_t depth);
  static constexpr uint32_t kLoopLevels = 2;
  const Node& node(uint32_t id) const {
    const uint32_t c = chunk_of(id);
    return chunks_[c][id - chunk_start(c)];
  }
  size_t size() const;
  void reserve(size_t nodes);  // pre-sizes the index and memo tables
  // Bytes held: node storage, each node's vectors, the index, the memo tables. Lock-free (a
  // counter kept up to date as the graph grows), so it may be read on every matcher reset.
  size_t memory_bytes() const { return bytes_.load(std::memory_order_relaxed); }
  const Cfg& cfg() const { return cfg_; }

 private:
  uint32_t key_of(const Item& it) const;
  uint32_t intern(std::vector<Item> kernel);  // closes, sorts, interns (lock held)
  // The nonterminals predicting `nt` predicts (itself first), through the nullable prefixes of
  // productions; computed on first use and kept (lock held).
  const std::vector<uint32_t>& prediction_closure(uint32_t nt);
  // Interns a closed item set. Completed items are dropped (their completions are already in
  // the set and nothing reads them again), so nodes that differ only in how their past was
  // parsed are one node; what they told — accepting, pops — is kept as flags (`accepting`,
  // `pops`: OR-ed into those computed from `items`).
  uint32_t intern_closed(std::vector<Item> items, bool accepting = false, bool pops = false);
  // `loops`: how many more times a repetition's loop item may keep its origin past the cut.
  uint32_t truncate_locked(uint32_t node, uint32_t depth, uint32_t loops);

  const Cfg& cfg_;
  uint32_t num_nt_;
  size_t max_items_;
  // Nodes live in chunks that double: chunk c holds ids [64·(2^c − 1), 64·(2^(c+1) − 1)), made
  // when its first node is interned. A published node never moves and lookups need no lock (one
  // load of the chunk's pointer); a small grammar's graph holds one 64-node chunk, not a fixed
  // directory and 1,024-node chunk (in a fresh process every page first touched costs a fault:
  // docs/benchmarks.md, session 16). 27 chunks cover every id below the markers.
  static constexpr uint32_t kFirstChunkBits = 6, kChunks = 27;
  static constexpr uint32_t kMaxNodes = kWild - 1;  // ids stay below the markers
  static uint32_t chunk_of(uint32_t id) {
    return 63 - static_cast<uint32_t>(__builtin_clzll((uint64_t{id} >> kFirstChunkBits) + 1));
  }
  static uint64_t chunk_start(uint32_t c) { return ((uint64_t{1} << c) - 1) << kFirstChunkBits; }
  static uint64_t chunk_size(uint32_t c) { return uint64_t{1} << (c + kFirstChunkBits); }
  std::unique_ptr<Node[]> chunks_[kChunks];
  uint32_t num_nodes_ = 0;
  Node& mut_node(uint32_t id) {
    const uint32_t c = chunk_of(id);
    return chunks_[c][id - chunk_start(c)];
  }
  void account_locked();  // recomputes bytes_ after the graph or a memo grew
  size_t node_bytes_ = 0;  // node storage and vectors, the index's keys (under mu_)
  std::atomic<size_t> bytes_{0};
  struct VecHash {
    size_t operator()(const std::vector<Item>& v) const;
  };
  std::unordered_map<std::vector<Item>, uint32_t, VecHash> index_;
  std::vector<std::vector<uint32_t>> closures_;  // prediction_closure, per nonterminal (empty: not yet)
  std::vector<uint32_t> mark_;                   // prediction_closure's visited marks, by stamp
  uint32_t stamp_ = 0;
  static constexpr size_t kMaxClosureEntries = size_t{1} << 20;
  size_t closure_entries_ = 0;               // nonterminals held in closures_
  std::vector<uint32_t> closure_scratch_;    // a closure past that bound
  AtomicMemo scan_memo_, merge_memo_, truncate_memo_;  // lock-free reads, inserts under mu_
  mutable std::mutex mu_;
  uint32_t initial_ = 0;
};

}  // namespace tollgate::fsm
