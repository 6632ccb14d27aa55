// TokenIndex — the DFA crossed with the vocabulary, computed offline.
// Takes: a minimal Dfa and a TokenTrie. Gives: for every DFA state, the set of tokens whose
// bytes can be consumed from that state without dying, as a deduplicated bitset (int32 words,
// bit i%32 of word i/32 ⇔ token i) — a mask fill is then a lookup plus a copy.
// Built by walking the token trie from each state, pruning a subtree as soon as the DFA dies;
// states are spread over threads. A mask with few non-zero words (a literal, a digit) is kept
// sparse — (word, bits) pairs — so filling it writes zeros and a handful of words instead of
// reading 16 KiB; a dense mask is copied. The state a token leads to is found at accept time by walking
// its bytes through the DFA table (a few lookups), which costs no memory.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "fsm/dfa.hpp"
#include "fsm/token_trie.hpp"

namespace tollgate::engine {
struct GrammarBlob;  // engine/grammar_blob.cpp: serialises a TokenIndex
}

namespace tollgate::fsm {

struct TokenIndexOptions {
  int threads = 0;  // 0 = all cores
  // Also compute the mask of the start state where the first token's leading space is
  // dropped (SentencePiece Prepend-▁ tokenizers, LeadingSpace::kStrip).
  bool strip_first_space = false;
  // Called once per state indexed, with the number of states to index (progress; from the worker
  // threads, one call at a time).
  std::function<void(size_t total)> on_state;
};

class TokenIndex {
 public:
  TokenIndex() = default;
  TokenIndex(const Dfa& dfa, const TokenTrie& trie, int32_t vocab_size,
             const TokenIndexOptions& options = {});

  int32_t words() const { return words_; }
  // Writes the mask of DFA state s into `out` (words() words).
  void fill(uint32_t state, uint32_t* out) const { fill_id(mask_of_state_[state], out); }
  // The mask at the very first step with the leading space dropped (strip_first_space).
  void fill_first(uint32_t* out) const { fill_id(first_mask_id_, out); }
  size_t num_distinct_masks() const { return refs_.size(); }
  size_t num_sparse_masks() const;
  size_t memory_bytes() const {
    return dense_.size() * 4 + sparse_.size() * 8 + refs_.size() * sizeof(MaskRef) +
           mask_of_state_.size() * 4 + sizeof(*this);
  }
  // How many tokens state s allows (popcount of its mask).
  size_t count(uint32_t state) const;

 private:
  friend struct engine::GrammarBlob;
  struct MaskRef {
    uint32_t offset;  // into dense_ (words) or sparse_ (pairs)
    uint32_t count;   // sparse: number of pairs; dense: UINT32_MAX
  };
  struct WordBits {
    uint32_t word, bits;
  };
  void fill_id(uint32_t id, uint32_t* out) const;

  int32_t words_ = 0;
  std::vector<MaskRef> refs_;            // distinct masks
  std::vector<uint32_t> dense_;          // dense masks, words_ each
  std::vector<WordBits> sparse_;         // sparse masks' non-zero words
  std::vector<uint32_t> mask_of_state_;  // state → mask id
  uint32_t first_mask_id_ = 0;
};

// Walks the trie from `state`, setting bits in `mask` (words zeroed by the caller).
// strip_first_space: a depth-1 edge on ' ' does not move the DFA. touched (room for
// touched_limit + 1 words): each word the walk makes non-zero is noted there, once, as long as at
// most touched_limit are (the caller needs them only while the mask is sparse). Gives how many
// were noted: > touched_limit when they ran past it (or touched is null).
size_t walk_trie(const Dfa& dfa, const TokenTrie& trie, uint32_t state, uint32_t* mask,
                 bool strip_first_space = false, uint32_t* touched = nullptr, size_t touched_limit = 0);

}  // namespace tollgate::fsm
