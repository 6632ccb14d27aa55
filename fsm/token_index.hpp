// TokenIndex — the DFA crossed with the vocabulary, computed offline.
// Takes: a minimal Dfa and a TokenTrie. Gives: for every DFA state, the set of tokens whose
// bytes can be consumed from that state without dying, as a deduplicated bitset (int32 words,
// bit i%32 of word i/32 ⇔ token i) — a mask fill is then a lookup plus a copy.
// Built by walking the token trie from each state, pruning a subtree as soon as the DFA dies;
// states are spread over threads. The state a token leads to is found at accept time by walking
// its bytes through the DFA table (a few lookups), which costs no memory.
#pragma once

#include <cstdint>
#include <vector>

#include "fsm/dfa.hpp"
#include "fsm/token_trie.hpp"

namespace tollgate::fsm {

struct TokenIndexOptions {
  int threads = 0;  // 0 = all cores
  // Also compute the mask of the start state where the first token's leading space is
  // dropped (SentencePiece Prepend-▁ tokenizers, LeadingSpace::kStrip).
  bool strip_first_space = false;
};

class TokenIndex {
 public:
  TokenIndex() = default;
  TokenIndex(const Dfa& dfa, const TokenTrie& trie, int32_t vocab_size,
             const TokenIndexOptions& options = {});

  int32_t words() const { return words_; }
  // The mask of DFA state s: words() int32 words.
  const uint32_t* mask(uint32_t state) const {
    return masks_.data() + static_cast<size_t>(mask_of_state_[state]) * words_;
  }
  // The mask at the very first step with the leading space dropped (strip_first_space).
  const uint32_t* first_mask() const {
    return masks_.data() + static_cast<size_t>(first_mask_id_) * words_;
  }
  size_t num_distinct_masks() const { return masks_.size() / (words_ ? words_ : 1); }
  size_t memory_bytes() const {
    return masks_.size() * 4 + mask_of_state_.size() * 4 + sizeof(*this);
  }
  // How many tokens state s allows (popcount of its mask).
  size_t count(uint32_t state) const;

 private:
  int32_t words_ = 0;
  std::vector<uint32_t> masks_;          // distinct masks, words_ each
  std::vector<uint32_t> mask_of_state_;  // state → mask id
  uint32_t first_mask_id_ = 0;
};

// Walks the trie from `state`, setting bits in `mask` (words zeroed by the caller).
// strip_first_space: a depth-1 edge on ' ' does not move the DFA.
void walk_trie(const Dfa& dfa, const TokenTrie& trie, uint32_t state, uint32_t* mask,
               bool strip_first_space = false);

}  // namespace tollgate::fsm
