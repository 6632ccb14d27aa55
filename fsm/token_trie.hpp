// TokenTrie — all token byte strings in one flat array in depth-first order.
// Takes: (token id, byte string) pairs. Gives: nodes that can be walked without recursion;
// skipping a subtree is a jump to `subtree_end`; child(), through an index at nodes of many
// children; walk_trie, the walk with a state per depth.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::fsm {

struct TrieNode {
  uint8_t byte = 0;        // byte on the edge from the parent (unused for the root)
  uint8_t wide = 0;        // TokenTrie's: its children are indexed (child() searches, not scans)
  uint16_t depth = 0;      // length of the byte string of this node (root = 0)
  uint32_t subtree_end = 0;  // index one past the last node of this node's subtree
  uint32_t tokens_begin = 0; // tokens whose bytes end exactly here: token_ids()[tokens_begin, tokens_end)
  uint32_t tokens_end = 0;
};

class TokenTrie {
 public:
  TokenTrie() = default;
  // tokens[i] = (id, bytes). Empty byte strings are ignored.
  explicit TokenTrie(const std::vector<std::pair<int32_t, std::string>>& tokens);
  // Same, over views (the bytes must outlive only the constructor call).
  explicit TokenTrie(const std::vector<std::pair<int32_t, std::string_view>>& tokens);

  // nodes()[0] is the root. Children of node i start at i + 1.
  const std::vector<TrieNode>& nodes() const { return nodes_; }
  // The child of `node` on `byte`, or 0. In a trie built from strings (not one laid out by a
  // caller) the children come in byte order, so the scan stops at the first past it.
  // A node of many children (a quote, a space: hundreds, each a subtree to skip) is looked up in
  // an index of its children by byte instead.
  uint32_t child(uint32_t node, uint8_t byte) const {
    if (nodes_[node].wide) return wide_child(node, byte);
    for (uint32_t c = node + 1, end = nodes_[node].subtree_end; c < end && nodes_[c].byte <= byte; c = nodes_[c].subtree_end)
      if (nodes_[c].byte == byte) return c;
    return 0;
  }
  const std::vector<int32_t>& token_ids() const { return token_ids_; }
  // Tokens of the nodes [from, to) — contiguous in token_ids() since a node's own tokens come
  // before its subtree's: token_ids()[tokens_from(from), tokens_from(to)). `to` may be nodes().size().
  uint32_t tokens_from(uint32_t node) const {
    return node < nodes_.size() ? nodes_[node].tokens_begin : static_cast<uint32_t>(token_ids_.size());
  }
  template <class F>
  void for_each_token(uint32_t from, uint32_t to, F&& f) const {
    for (uint32_t k = tokens_from(from), e = tokens_from(to); k < e; ++k) f(token_ids_[k]);
  }
  // Tokens whose bytes end exactly at `n`.
  template <class F>
  void for_each_token(const TrieNode& n, F&& f) const {
    for (uint32_t k = n.tokens_begin; k < n.tokens_end; ++k) f(token_ids_[k]);
  }
  size_t memory_bytes() const;
  size_t max_depth() const { return max_depth_; }
  // The byte length of the longest string in node i's subtree (its own depth at a leaf): no token
  // below i goes deeper than longest(i) - depth.
  uint32_t longest(uint32_t node) const { return longest_[node]; }
  // How many nodes lie on the way to a token at least `length` bytes long (longest(i) >= length):
  // what a walk that looks only below such nodes visits at most.
  size_t nodes_reaching(size_t length) const { return length < reaching_.size() ? reaching_[length] : 0; }
  // A trie laid out by the caller (nodes in depth-first order, each node's tokens then its
  // subtree's contiguous in `token_ids`), e.g. ClassTrie's.
  static TokenTrie from_parts(std::vector<TrieNode> nodes, std::vector<int32_t> token_ids, size_t max_depth);

 private:
  std::vector<TrieNode> nodes_;
  std::vector<int32_t> token_ids_;
  size_t max_depth_ = 0;
  // The wide nodes (sorted), and per wide node k its children's bytes and nodes at
  // [wide_begin_[k], wide_begin_[k + 1]), in byte order.
  std::vector<uint32_t> wide_ids_, wide_begin_, wide_nodes_;
  std::vector<uint8_t> wide_bytes_;
  std::vector<uint16_t> longest_;   // [node]
  std::vector<uint32_t> reaching_;  // [length]: nodes with longest >= length

  void build(std::vector<std::pair<std::string_view, int32_t>>& sorted);
  void index_wide_nodes();
  void index_lengths();
  uint32_t wide_child(uint32_t node, uint8_t byte) const;
};

// The part of a trie on the way to the tokens whose bytes contain one given byte (Llama-3: 1,345
// tokens with a '"', 2,110 nodes of 275k), so a walk that needs only those tokens visits only
// those nodes. Nodes in the full trie's depth-first order; per node, the full trie's node and
// whether the byte is on its path; a node's tokens are kept only past the byte (they contain it).
struct SubTrie {
  TokenTrie trie;
  std::vector<uint32_t> full_node;  // [node] → node of the full trie
  std::vector<uint8_t> past;        // [node] → the byte is on the path to it
  static SubTrie containing(const TokenTrie& full, uint8_t byte);
  size_t memory_bytes() const { return trie.memory_bytes() + full_node.capacity() * 4 + past.capacity(); }
};

// Walks the subtree below node `root` (the root itself excluded) in depth-first order with one
// state per depth: stack[nodes[root].depth] holds the root's state, and `step(i, node, parent,
// child)` computes node i's state into `child` (stack[node.depth]) from its parent's, visits what
// it needs and returns true to descend into node i's subtree, false to skip it. `stack` needs
// max_depth() + 2 entries; the step keeps whatever else it needs per depth in its State.
template <class State, class Step>
inline void walk_trie(const TokenTrie& trie, uint32_t root, State* stack, Step&& step) {
  const std::vector<TrieNode>& nodes = trie.nodes();
  for (uint32_t i = root + 1, end = nodes[root].subtree_end; i < end;) {
    const TrieNode& n = nodes[i];
    i = step(i, n, stack[n.depth - 1], stack[n.depth]) ? i + 1 : n.subtree_end;
  }
}

}  // namespace tollgate::fsm
