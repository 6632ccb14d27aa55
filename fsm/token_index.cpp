#include "fsm/token_index.hpp"

#include <bit>
#include <cstring>
#include <string_view>
#include <mutex>
#include <unordered_map>

#include "fsm/budget.hpp"
#include "fsm/hash.hpp"
#include "fsm/parallel.hpp"

namespace tollgate::fsm {

void walk_trie(const Dfa& dfa, const TokenTrie& trie, uint32_t state, uint32_t* mask,
               bool strip_first_space) {
  const auto& nodes = trie.nodes();
  const auto& ids = trie.token_ids();
  const size_t n = nodes.size();
  // states[d] = DFA state after the first d bytes of the current path.
  std::vector<uint32_t> states(trie.max_depth() + 2);
  states[0] = state;
  size_t i = 1;
  while (i < n) {
    const TrieNode& node = nodes[i];
    uint32_t from = states[node.depth - 1];
    uint32_t to = (strip_first_space && node.depth == 1 && node.byte == ' ')
                      ? from
                      : dfa.next(from, node.byte);
    if (to == kDead) {
      i = node.subtree_end;
      continue;
    }
    states[node.depth] = to;
    for (uint32_t t = node.tokens_begin; t < node.tokens_end; ++t) {
      uint32_t id = static_cast<uint32_t>(ids[t]);
      mask[id >> 5] |= 1u << (id & 31);
    }
    ++i;
  }
}

TokenIndex::TokenIndex(const Dfa& dfa, const TokenTrie& trie, int32_t vocab_size,
                       const TokenIndexOptions& options)
    : words_((vocab_size + 31) / 32) {
  const size_t n = dfa.num_states();
  const size_t extra = options.strip_first_space ? 1 : 0;
  const size_t w = static_cast<size_t>(words_);
  std::vector<uint32_t> ids(n + extra);
  // Distinct masks are appended under a lock; each worker walks into its own buffer, so the
  // memory is O(distinct masks), not O(states).
  std::vector<uint32_t> all_masks;  // distinct masks, dense, words each (compacted below)
  std::mutex mutex;
  std::unordered_map<uint64_t, std::vector<uint32_t>> by_hash;
  const int threads = n + extra < 4 ? 1 : resolve_threads(options.threads);
  std::vector<std::vector<uint32_t>> buffers(threads, std::vector<uint32_t>(w));
  parallel_for(n + extra, threads, [&](size_t s, int worker) {
    check_budget();
    uint32_t* buf = buffers[worker].data();
    std::memset(buf, 0, w * 4);
    if (s < n) {
      walk_trie(dfa, trie, static_cast<uint32_t>(s), buf);
    } else {
      walk_trie(dfa, trie, dfa.start(), buf, /*strip_first_space=*/true);
    }
    uint64_t h = hash_words(buf, w);
    std::lock_guard<std::mutex> lock(mutex);
    if (options.on_state) options.on_state(n + extra);
    auto& bucket = by_hash[h];
    for (uint32_t m : bucket) {
      if (std::memcmp(all_masks.data() + static_cast<size_t>(m) * w, buf, w * 4) == 0) {
        ids[s] = m;
        return;
      }
    }
    uint32_t m = static_cast<uint32_t>(all_masks.size() / (w ? w : 1));
    all_masks.insert(all_masks.end(), buf, buf + w);
    bucket.push_back(m);
    ids[s] = m;
  });
  // Compact: sparse where at most 1/16 of the words are non-zero.
  const size_t distinct = w ? all_masks.size() / w : 0;
  for (size_t m = 0; m < distinct; ++m) {
    const uint32_t* src = all_masks.data() + m * w;
    size_t nonzero = 0;
    for (size_t i = 0; i < w; ++i) nonzero += src[i] != 0;
    if (nonzero * 16 <= w) {
      refs_.push_back({static_cast<uint32_t>(sparse_.size()), static_cast<uint32_t>(nonzero)});
      for (size_t i = 0; i < w; ++i)
        if (src[i]) sparse_.push_back({static_cast<uint32_t>(i), src[i]});
    } else {
      refs_.push_back({static_cast<uint32_t>(dense_.size()), UINT32_MAX});
      dense_.insert(dense_.end(), src, src + w);
    }
  }
  mask_of_state_.assign(ids.begin(), ids.begin() + n);
  first_mask_id_ = extra ? ids[n] : (n ? ids[dfa.start()] : 0);
}
void TokenIndex::fill_id(uint32_t id, uint32_t* out) const {
  const MaskRef& r = refs_[id];
  const size_t w = static_cast<size_t>(words_);
  if (r.count == UINT32_MAX) {
    std::memcpy(out, dense_.data() + r.offset, w * 4);
    return;
  }
  std::memset(out, 0, w * 4);
  const WordBits* p = sparse_.data() + r.offset;
  for (uint32_t i = 0; i < r.count; ++i) out[p[i].word] = p[i].bits;
}

size_t TokenIndex::num_sparse_masks() const {
  size_t c = 0;
  for (const auto& r : refs_) c += r.count != UINT32_MAX;
  return c;
}

size_t TokenIndex::count(uint32_t state) const {
  std::vector<uint32_t> m(static_cast<size_t>(words_));
  fill(state, m.data());
  size_t c = 0;
  for (uint32_t x : m) c += std::popcount(x);
  return c;
}

}  // namespace tollgate::fsm
