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
}

TokenTrie TokenTrie::from_parts(std::vector<TrieNode> nodes, std::vector<int32_t> token_ids, size_t max_depth) {
  TokenTrie t;
  t.nodes_ = std::move(nodes);
  t.token_ids_ = std::move(token_ids);
  t.max_depth_ = max_depth;
  return t;
}

size_t TokenTrie::memory_bytes() const {
  return sizeof(*this) + nodes_.capacity() * sizeof(TrieNode) + token_ids_.capacity() * sizeof(int32_t);
}

}  // namespace tollgate::fsm
