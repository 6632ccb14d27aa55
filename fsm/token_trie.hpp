// TokenTrie — all token byte strings in one flat array in depth-first order.
// Takes: (token id, byte string) pairs. Gives: nodes that can be walked without recursion;
// skipping a subtree is a jump to `subtree_end`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::fsm {

struct TrieNode {
  uint8_t byte = 0;        // byte on the edge from the parent (unused for the root)
  uint8_t pad_ = 0;
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
  const std::vector<int32_t>& token_ids() const { return token_ids_; }
  size_t memory_bytes() const;
  size_t max_depth() const { return max_depth_; }

 private:
  std::vector<TrieNode> nodes_;
  std::vector<int32_t> token_ids_;
  size_t max_depth_ = 0;

  void build(std::vector<std::pair<std::string_view, int32_t>>& sorted);
};

}  // namespace tollgate::fsm
