// ClassTrie — the token trie with its bytes replaced by byte classes.
// Takes: a TokenTrie and a partition of the 256 bytes into classes. Gives: the trie of the tokens'
// class strings (same flat depth-first layout as TokenTrie: a node's `byte` is its class), and for
// every class node the byte-trie nodes it stands for (`members`). Many tokens share one class
// string — under the JSON-string partition (specials, quote, backslash, UTF-8 lead and continuation
// bytes, everything else) Llama-3's 128k tokens make about 7,000 class nodes
// against 275k byte nodes (the finer string partitions, for patterns that part its ASCII class:
// 21,000 and 23,000) — so an automaton that treats a class's bytes alike at a state can
// walk the class trie instead of the byte trie; where it does not (the class's bytes lead to
// different states: after a backslash, hex digits differ from other letters), the walk goes down
// the member byte nodes instead. A class node's members are in order of their last byte, and a
// node with many of them has them in runs by that byte (with their subtrees' weight), so that a
// walk finds where a class parts ways per byte rather than per member. Also the other way: each
// byte node's class node, and each class node's members with children in node order (the roots
// a class walk lists, and the test that some roots make up whole class nodes).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "fsm/token_trie.hpp"

namespace tollgate::fsm {

class ClassTrie {
 public:
  ClassTrie() = default;
  ClassTrie(const TokenTrie& bytes, const std::array<uint8_t, 256>& classes);

  bool empty() const { return trie_.nodes().size() <= 1; }
  // The class trie itself: TrieNode::byte is the class; tokens ending at a node are its tokens
  // (token_ids()).
  const TokenTrie& trie() const { return trie_; }
  const std::array<uint8_t, 256>& classes() const { return classes_; }
  uint32_t num_classes() const { return num_classes_; }
  // The bytes of class c.
  const std::vector<uint8_t>& bytes_of(uint32_t c) const { return bytes_of_[c]; }
  // Byte-trie nodes that class node i stands for: members()[member_begin(i), member_begin(i + 1)),
  // by their last byte, then by node.
  uint32_t member_begin(uint32_t i) const { return member_begin_[i]; }
  const std::vector<uint32_t>& members() const { return members_; }
  // The members of a class node with kRunMembers or more of them, in runs of one last byte:
  // runs()[run_begin(i), run_begin(i + 1)), each run's members from its `begin` to the next run's
  // (or member_begin(i + 1)); `weight` is the byte-trie nodes in their subtrees. Other class nodes
  // have no runs (run_begin(i) == run_begin(i + 1)).
  struct MemberRun {
    uint32_t begin;
    uint32_t weight;
    uint8_t byte;
  };
  static constexpr uint32_t kRunMembers = 32;
  // The class node byte node b is a member of (every byte node is a member of one).
  uint32_t class_node_of(uint32_t b) const { return node_of_[b]; }
  // Class node i's members that have children (byte nodes below them), in node order:
  // parents()[parent_begin(i), parent_begin(i + 1)).
  uint32_t parent_begin(uint32_t i) const { return parent_begin_[i]; }
  const std::vector<uint32_t>& parents() const { return parents_; }
  uint32_t members_with_children(uint32_t i) const { return parent_begin_[i + 1] - parent_begin_[i]; }
  uint32_t run_begin(uint32_t i) const { return run_begin_[i]; }
  const std::vector<MemberRun>& runs() const { return runs_; }
  size_t memory_bytes() const;

  // The JSON-string partition: control bytes, '"', '\\', every other ASCII byte, UTF-8
  // continuation bytes (three ranges), lead bytes (by length, E0/ED/F0/F4 apart), bytes never in UTF-8.
  static std::array<uint8_t, 256> json_string_classes();
  // The JSON-string partition with its class of other ASCII split: lower-case letters, upper-case
  // letters, digits, and every other byte alone (space, each punctuation mark, DEL), so that
  // a pattern's class such as [^<>*#.%&:\\+?/] or [A-Za-z0-9_-] is a union of classes. Classes
  // 1-14 are the JSON-string partition's; Llama-3's tokens make about 21,000 class nodes.
  static std::array<uint8_t, 256> fine_string_classes();
  // The JSON-string partition with the hex digits apart from the rest of ASCII: 0-9, a-f, A-F
  // (a run of [0-9a-f], where the fine classes' letters part ways). Llama-3: about 23,000 class nodes.
  static std::array<uint8_t, 256> hex_string_classes();
  // The string partitions a tokenizer keeps a class trie for (TokenizerInfo::string_class_trie),
  // coarsest first: a walk takes the first whose classes its automaton steps alike.
  enum StringPartition : int { kJsonString = 0, kFineString = 1, kHexString = 2 };
  static constexpr int kStringPartitions = 3;
  // Classes 1-14 are the same in every string partition: control bytes, '"', '\\', and (4-14) the
  // UTF-8 lead and continuation bytes, which a pattern's class of code points parts alike in all
  // of them; the others are ASCII.
  static constexpr bool multibyte_class(uint32_t c) { return c >= 4 && c <= 14; }
  static std::array<uint8_t, 256> string_partition(int which);

 private:
  TokenTrie trie_;
  std::array<uint8_t, 256> classes_{};
  uint32_t num_classes_ = 0;
  std::vector<std::vector<uint8_t>> bytes_of_;
  std::vector<uint32_t> member_begin_;  // [class nodes + 1]
  std::vector<uint32_t> members_;
  std::vector<uint32_t> run_begin_;  // [class nodes + 1]
  std::vector<MemberRun> runs_;
  std::vector<uint32_t> node_of_;       // [byte nodes]
  std::vector<uint32_t> parent_begin_;  // [class nodes + 1]
  std::vector<uint32_t> parents_;
};

}  // namespace tollgate::fsm
