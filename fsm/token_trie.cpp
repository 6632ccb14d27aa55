// TokenTrie — builds the flat depth-first token trie.
// Takes: (token id, byte string) pairs. Gives: nodes in DFS order (children in increasing byte order),
// each with subtree_end and the range of token ids whose bytes end at that node.
// Built linearly from the byte strings sorted lexicographically: consecutive strings share their
// longest common prefix, so each string only opens the nodes below that prefix.
#include "fsm/token_trie.hpp"

#include <algorithm>
#include <stdexcept>

#include "tollgate/error.hpp"

namespace tollgate::fsm {

TokenTrie::TokenTrie(const std::vector<std::pair<int32_t, std::string>>& tokens) {
  std::vector<std::pair<std::string_view, int32_t>> sorted;
  sorted.reserve(tokens.size());
  for (const auto& [id, bytes] : tokens)
    if (!bytes.empty()) sorted.emplace_back(bytes, id);
  build(sorted);
}

TokenTrie::TokenTrie(const std::vector<std::pair<int32_t, std::string_view>>& tokens) {
  std::vector<std::pair<std::string_view, int32_t>> sorted;
  sorted.reserve(tokens.size());
  for (const auto& [id, bytes] : tokens)
    if (!bytes.empty()) sorted.emplace_back(bytes, id);
  build(sorted);
}

void TokenTrie::build(std::vector<std::pair<std::string_view, int32_t>>& sorted) {
  // Lexicographic order of unsigned bytes (string_view's order), then id. Sorting keys carry the first
  // 8 bytes packed big-endian, so most comparisons are one integer compare instead of a memcmp call.
  struct Key {
    uint64_t prefix;
    std::string_view bytes;
    int32_t id;
  };
  std::vector<Key> keys;
  keys.reserve(sorted.size());
  for (const auto& [bytes, id] : sorted) {
    uint64_t p = 0;
    size_t n = std::min<size_t>(bytes.size(), 8);
    for (size_t k = 0; k < 8; ++k) p = (p << 8) | (k < n ? static_cast<unsigned char>(bytes[k]) : 0u);
    keys.push_back({p, bytes, id});
  }
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    int c = a.bytes.compare(b.bytes);
    return c != 0 ? c < 0 : a.id < b.id;
  });
  for (size_t k = 0; k < keys.size(); ++k) sorted[k] = {keys[k].bytes, keys[k].id};
  keys = {};
  nodes_.clear();
  token_ids_.clear();
  token_ids_.reserve(sorted.size());
  nodes_.reserve(sorted.size() * 2 + 1);
  nodes_.push_back(TrieNode{});
  max_depth_ = 0;
  // stack[d] = index of the open node at depth d (stack[0] = root).
  std::vector<uint32_t> stack{0};
  std::string_view prev;
  for (const auto& [bytes, id] : sorted) {
    if (bytes.size() > 0xFFFF) {
      throw Error(ErrorKind::kLimit, "token of " + std::to_string(bytes.size()) +
                                         " bytes is longer than the trie supports (65535)");
    }
    size_t common = 0;
    size_t limit = std::min(prev.size(), bytes.size());
    while (common < limit && prev[common] == bytes[common]) ++common;
    // Close the nodes deeper than the common prefix.
    while (stack.size() > common + 1) {
      nodes_[stack.back()].subtree_end = static_cast<uint32_t>(nodes_.size());
      stack.pop_back();
    }
    // Open the rest of this string.
    for (size_t d = common; d < bytes.size(); ++d) {
      TrieNode node;
      node.byte = static_cast<uint8_t>(bytes[d]);
      node.depth = static_cast<uint16_t>(d + 1);
      node.tokens_begin = node.tokens_end = static_cast<uint32_t>(token_ids_.size());
      stack.push_back(static_cast<uint32_t>(nodes_.size()));
      nodes_.push_back(node);
    }
    // The string ends at the top node; equal strings are adjacent, so its id range stays contiguous.
    TrieNode& last = nodes_[stack.back()];
    if (last.tokens_begin == last.tokens_end) last.tokens_begin = static_cast<uint32_t>(token_ids_.size());
    token_ids_.push_back(id);
    last.tokens_end = static_cast<uint32_t>(token_ids_.size());
    max_depth_ = std::max(max_depth_, bytes.size());
    prev = bytes;
  }
  while (!stack.empty()) {
    nodes_[stack.back()].subtree_end = static_cast<uint32_t>(nodes_.size());
    stack.pop_back();
  }
  nodes_.shrink_to_fit();
  index_wide_nodes();
  index_lengths();
}

void TokenTrie::index_lengths() {
  // Backward: a node's children follow it in depth-first order.
  longest_.assign(nodes_.size(), 0);
  for (size_t i = nodes_.size(); i-- > 0;) {
    uint32_t m = nodes_[i].depth;
    for (uint32_t c = static_cast<uint32_t>(i) + 1; c < nodes_[i].subtree_end; c = nodes_[c].subtree_end)
      m = std::max<uint32_t>(m, longest_[c]);
    longest_[i] = static_cast<uint16_t>(std::min<uint32_t>(m, UINT16_MAX));
  }
  reaching_.assign(max_depth_ + 2, 0);
  for (uint16_t m : longest_) ++reaching_[std::min<size_t>(m, max_depth_ + 1)];
  for (size_t l = reaching_.size() - 1; l-- > 0;) reaching_[l] += reaching_[l + 1];
}

void TokenTrie::index_wide_nodes() {
  // Nodes with at least this many children: Llama-3 623 of 275k nodes (16,308 children, 85 KB).
  constexpr uint32_t kWide = 16;
  wide_ids_.clear(), wide_begin_.assign(1, 0), wide_nodes_.clear(), wide_bytes_.clear();
  for (uint32_t i = 0; i < nodes_.size(); ++i) {
    nodes_[i].wide = 0;
    uint32_t n = 0;
    bool ordered = true;  // children in byte order (a caller's layout may not be)
    int last = -1;
    for (uint32_t c = i + 1; c < nodes_[i].subtree_end; c = nodes_[c].subtree_end, ++n) {
      ordered = ordered && nodes_[c].byte > last;
      last = nodes_[c].byte;
    }
    if (n < kWide || !ordered) continue;
    nodes_[i].wide = 1;
    wide_ids_.push_back(i);
    for (uint32_t c = i + 1; c < nodes_[i].subtree_end; c = nodes_[c].subtree_end) {
      wide_bytes_.push_back(nodes_[c].byte);
      wide_nodes_.push_back(c);
    }
    wide_begin_.push_back(static_cast<uint32_t>(wide_nodes_.size()));
  }
}

uint32_t TokenTrie::wide_child(uint32_t node, uint8_t byte) const {
  const size_t k = static_cast<size_t>(std::lower_bound(wide_ids_.begin(), wide_ids_.end(), node) - wide_ids_.begin());
  const uint8_t* b = wide_bytes_.data() + wide_begin_[k];
  const uint8_t* e = wide_bytes_.data() + wide_begin_[k + 1];
  const uint8_t* p = std::lower_bound(b, e, byte);
  return p != e && *p == byte ? wide_nodes_[static_cast<size_t>(p - wide_bytes_.data())] : 0;
}

TokenTrie TokenTrie::from_parts(std::vector<TrieNode> nodes, std::vector<int32_t> token_ids, size_t max_depth) {
  TokenTrie t;
  t.nodes_ = std::move(nodes);
  t.token_ids_ = std::move(token_ids);
  t.max_depth_ = max_depth;
  t.index_wide_nodes();
  t.index_lengths();
  return t;
}

SubTrie SubTrie::containing(const TokenTrie& full, uint8_t byte) {
  // Per node: the byte on its path (forward, from the parent), then kept when past it or when a
  // kept node is below (backward: a node's descendants follow it in depth-first order).
  const std::vector<TrieNode>& nodes = full.nodes();
  const size_t n = nodes.size();
  std::vector<uint8_t> past(n, 0), keep(n, 0);
  std::vector<uint32_t> parent(n, 0);
  std::vector<uint32_t> open{0};  // open[d]: the node at depth d on the current path
  for (uint32_t i = 1; i < n; ++i) {
    const TrieNode& x = nodes[i];
    open.resize(x.depth);
    parent[i] = open.back();
    past[i] = past[parent[i]] || x.byte == byte;
    open.push_back(i);
  }
  for (uint32_t i = static_cast<uint32_t>(n); i-- > 1;) {
    if (past[i]) keep[i] = 1;
    if (keep[i]) keep[parent[i]] = 1;
  }
  keep[0] = 1;
  SubTrie s;
  std::vector<TrieNode> out;
  std::vector<int32_t> ids;
  std::vector<uint32_t> new_of(n, 0);
  std::vector<uint32_t> stack;  // kept nodes whose subtree is open
  size_t max_depth = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (!keep[i]) continue;
    while (!stack.empty() && nodes[stack.back()].subtree_end <= i) {
      out[new_of[stack.back()]].subtree_end = static_cast<uint32_t>(out.size());
      stack.pop_back();
    }
    TrieNode x = nodes[i];
    x.tokens_begin = x.tokens_end = static_cast<uint32_t>(ids.size());
    if (past[i]) {
      full.for_each_token(nodes[i], [&](int32_t id) { ids.push_back(id); });
      x.tokens_end = static_cast<uint32_t>(ids.size());
    }
    new_of[i] = static_cast<uint32_t>(out.size());
    out.push_back(x);
    s.full_node.push_back(i);
    s.past.push_back(past[i]);
    max_depth = std::max<size_t>(max_depth, x.depth);
    stack.push_back(i);
  }
  while (!stack.empty()) {
    out[new_of[stack.back()]].subtree_end = static_cast<uint32_t>(out.size());
    stack.pop_back();
  }
  s.trie = TokenTrie::from_parts(std::move(out), std::move(ids), max_depth);
  return s;
}

size_t TokenTrie::memory_bytes() const {
  return sizeof(*this) + nodes_.capacity() * sizeof(TrieNode) + token_ids_.capacity() * sizeof(int32_t) +
         (wide_ids_.capacity() + wide_begin_.capacity() + wide_nodes_.capacity()) * sizeof(uint32_t) +
         wide_bytes_.capacity() + longest_.capacity() * sizeof(uint16_t) + reaching_.capacity() * sizeof(uint32_t);
}

}  // namespace tollgate::fsm
