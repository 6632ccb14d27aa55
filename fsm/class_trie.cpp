// ClassTrie — builds the class trie of a token trie.
// Takes: a TokenTrie and a byte partition. Gives: the trie of class strings (a TokenTrie over them,
// so the layout and the walks are the same), each class node's member byte nodes (and apart, in
// node order, those with children), and every byte node's class node.
// One pass over the byte trie maps every byte node to its class node (children found in a table),
// a depth-first pass numbers the class nodes as TokenTrie lays them out, and counting sorts group
// the tokens and the byte nodes by class node: linear in the byte trie, no sorting of strings.
#include "fsm/class_trie.hpp"

#include <algorithm>
#include <utility>

namespace tollgate::fsm {

ClassTrie::ClassTrie(const TokenTrie& bytes, const std::array<uint8_t, 256>& classes) : classes_(classes) {
  for (uint8_t c : classes) num_classes_ = std::max<uint32_t>(num_classes_, uint32_t{c} + 1);
  bytes_of_.assign(num_classes_, {});
  for (int b = 0; b < 256; ++b) bytes_of_[classes[b]].push_back(static_cast<uint8_t>(b));
  const std::vector<TrieNode>& bn = bytes.nodes();
  const uint32_t k = num_classes_;

  // Pass 1: the class node of every byte node, in a trie whose children are found in a table
  // (node * k + class; 0 = none), numbered in order of creation.
  std::vector<uint32_t> child{std::vector<uint32_t>(k, 0)};
  std::vector<uint8_t> cls_of{0};
  std::vector<uint16_t> depth_of{0};
  std::vector<uint32_t> of(bn.size(), 0);
  std::vector<uint32_t> stack(bytes.max_depth() + 2, 0);  // class node per depth
  for (uint32_t i = 1; i < bn.size(); ++i) {
    const uint32_t parent = stack[bn[i].depth - 1];
    const uint8_t c = classes[bn[i].byte];
    uint32_t x = child[static_cast<size_t>(parent) * k + c];
    if (x == 0) {
      x = static_cast<uint32_t>(cls_of.size());
      child[static_cast<size_t>(parent) * k + c] = x;
      child.resize(child.size() + k, 0);
      cls_of.push_back(c);
      depth_of.push_back(bn[i].depth);
    }
    of[i] = x;
    stack[bn[i].depth] = x;
  }
  const uint32_t n = static_cast<uint32_t>(cls_of.size());

  // Pass 2: depth-first order (children by class), subtree ends.
  std::vector<uint32_t> order;  // new number -> creation number
  std::vector<uint32_t> renum(n, 0);
  std::vector<uint32_t> end(n, 0);
  order.reserve(n);
  {
    std::vector<std::pair<uint32_t, uint32_t>> todo{{0, 0}};  // (node, next class to try)
    order.push_back(0);
    while (!todo.empty()) {
      auto& [x, c] = todo.back();
      while (c < k && child[static_cast<size_t>(x) * k + c] == 0) ++c;
      if (c == k) {
        end[x] = static_cast<uint32_t>(order.size());
        todo.pop_back();
        continue;
      }
      const uint32_t y = child[static_cast<size_t>(x) * k + c++];
      renum[y] = static_cast<uint32_t>(order.size());
      order.push_back(y);
      todo.emplace_back(y, 0);
    }
  }

  // Pass 3: tokens and member byte nodes grouped by class node (counting sorts); a node's tokens
  // come before its subtree's, as TokenTrie requires, since nodes are in depth-first order.
  std::vector<uint32_t> tok_begin(n + 1, 0);
  member_begin_.assign(n + 1, 0);
  for (uint32_t i = 1; i < bn.size(); ++i) {
    const uint32_t x = renum[of[i]];
    tok_begin[x + 1] += bn[i].tokens_end - bn[i].tokens_begin;
    ++member_begin_[x + 1];
  }
  for (uint32_t x = 1; x <= n; ++x) {
    tok_begin[x] += tok_begin[x - 1];
    member_begin_[x] += member_begin_[x - 1];
  }
  std::vector<int32_t> ids(tok_begin[n]);
  members_.resize(bn.size() - 1);
  std::vector<uint32_t> tok_fill(tok_begin.begin(), tok_begin.end() - 1);
  std::vector<uint32_t> mem_fill(member_begin_.begin(), member_begin_.end() - 1);
  for (uint32_t i = 1; i < bn.size(); ++i) {
    const uint32_t x = renum[of[i]];
    bytes.for_each_token(bn[i], [&](int32_t id) { ids[tok_fill[x]++] = id; });
  }
  // Members by last byte (a counting sort of the byte nodes, stable: by node within a byte), then
  // each class node's in that order.
  {
    std::vector<uint32_t> by_byte_start(257, 0);
    for (uint32_t i = 1; i < bn.size(); ++i) ++by_byte_start[bn[i].byte + 1];
    for (int b = 0; b < 256; ++b) by_byte_start[b + 1] += by_byte_start[b];
    std::vector<uint32_t> by_byte(bn.size() - 1);
    for (uint32_t i = 1; i < bn.size(); ++i) by_byte[by_byte_start[bn[i].byte]++] = i;
    for (uint32_t i : by_byte) members_[mem_fill[renum[of[i]]]++] = i;
  }
  // Runs of one last byte for the class nodes with many members.
  run_begin_.assign(n + 1, 0);
  for (uint32_t x = 0; x < n; ++x) {
    run_begin_[x] = static_cast<uint32_t>(runs_.size());
    const uint32_t mb = member_begin_[x], me = member_begin_[x + 1];
    if (me - mb < kRunMembers) continue;
    for (uint32_t m = mb; m < me; ++m) {
      const uint32_t b = members_[m];
      const uint32_t w = bn[b].subtree_end - b;
      if (m == mb || bn[b].byte != runs_.back().byte) runs_.push_back({m, 0, bn[b].byte});
      runs_.back().weight += w;
    }
  }
  run_begin_[n] = static_cast<uint32_t>(runs_.size());
  // Every byte node's class node, and the members with children per class node (a counting
  // sort in node order).
  node_of_.assign(bn.size(), 0);
  parent_begin_.assign(n + 1, 0);
  for (uint32_t i = 1; i < bn.size(); ++i) {
    const uint32_t x = renum[of[i]];
    node_of_[i] = x;
    parent_begin_[x + 1] += bn[i].subtree_end > i + 1;
  }
  for (uint32_t x = 1; x <= n; ++x) parent_begin_[x] += parent_begin_[x - 1];
  parents_.resize(parent_begin_[n]);
  {
    std::vector<uint32_t> fill(parent_begin_.begin(), parent_begin_.end() - 1);
    for (uint32_t i = 1; i < bn.size(); ++i)
      if (bn[i].subtree_end > i + 1) parents_[fill[node_of_[i]]++] = i;
  }
  std::vector<TrieNode> nodes(n);
  size_t max_depth = 0;
  for (uint32_t x = 0; x < n; ++x) {
    const uint32_t old = order[x];
    TrieNode& t = nodes[x];
    t.byte = cls_of[old];
    t.depth = depth_of[old];
    t.subtree_end = end[old];
    t.tokens_begin = tok_begin[x];
    t.tokens_end = tok_begin[x + 1];
    max_depth = std::max<size_t>(max_depth, t.depth);
  }
  trie_ = TokenTrie::from_parts(std::move(nodes), std::move(ids), max_depth);
}

size_t ClassTrie::memory_bytes() const {
  return sizeof(*this) + trie_.memory_bytes() + member_begin_.capacity() * 4 + members_.capacity() * 4 +
         run_begin_.capacity() * 4 + runs_.capacity() * sizeof(MemberRun) + node_of_.capacity() * 4 +
         parent_begin_.capacity() * 4 + parents_.capacity() * 4;
}

std::array<uint8_t, 256> ClassTrie::json_string_classes() {
  std::array<uint8_t, 256> c{};
  // UTF-8 lead bytes whose second byte is restricted (E0, ED, F0, F4) and the three ranges of
  // continuation bytes those restrictions use are classes of their own, so that a code-point
  // automaton treats every class alike at a state.
  for (int b = 0; b < 256; ++b) {
    if (b < 0x20) c[b] = 1;
    else if (b == '"') c[b] = 2;
    else if (b == '\\') c[b] = 3;
    else if (b < 0x80) c[b] = 0;
    else if (b < 0x90) c[b] = 4;
    else if (b < 0xA0) c[b] = 5;
    else if (b < 0xC0) c[b] = 6;
    else if (b < 0xC2) c[b] = 7;  // never in UTF-8 (overlong leads)
    else if (b < 0xE0) c[b] = 8;
    else if (b == 0xE0) c[b] = 9;
    else if (b == 0xED) c[b] = 10;
    else if (b < 0xF0) c[b] = 11;
    else if (b == 0xF0) c[b] = 12;
    else if (b < 0xF4) c[b] = 13;
    else if (b == 0xF4) c[b] = 14;
    else c[b] = 7;  // never in UTF-8
  }
  return c;
}

std::array<uint8_t, 256> ClassTrie::fine_string_classes() {
  std::array<uint8_t, 256> c = json_string_classes();
  uint8_t next = 18;
  for (int b = 0x21; b <= 0x7F; ++b) {
    if (c[b] != 0) continue;  // '"' and '\\'
    if (b >= 'a' && b <= 'z') c[b] = 15;
    else if (b >= 'A' && b <= 'Z') c[b] = 16;
    else if (b >= '0' && b <= '9') c[b] = 17;
    else c[b] = next++;
  }
  return c;  // class 0: the space alone
}

std::array<uint8_t, 256> ClassTrie::hex_string_classes() {
  std::array<uint8_t, 256> c = json_string_classes();
  for (int b = '0'; b <= '9'; ++b) c[b] = 15;
  for (int b = 'a'; b <= 'f'; ++b) c[b] = 16;
  for (int b = 'A'; b <= 'F'; ++b) c[b] = 17;
  return c;
}

std::array<uint8_t, 256> ClassTrie::string_partition(int which) {
  switch (which) {
    case kFineString: return fine_string_classes();
    case kHexString: return hex_string_classes();
    default: return json_string_classes();
  }
}

}  // namespace tollgate::fsm
