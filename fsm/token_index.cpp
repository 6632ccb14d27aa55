#include "fsm/token_index.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string_view>
#include <mutex>
#include <unordered_map>

#include "fsm/budget.hpp"
#include "fsm/hash.hpp"
#include "fsm/parallel.hpp"

namespace tollgate::fsm {

namespace {

// The walk from trie node i on (states[d]: the DFA state after the first d bytes of the path).
// kNote: each word made non-zero is noted in touched[nt++] until nt passes limit; then the walk
// stops there (the node done) and gives the next node, for the walk without notes to go on.
template <bool kNote>
size_t walk_from(const Dfa& dfa, const TokenTrie& trie, size_t i, uint32_t* states, uint32_t* mask,
                 bool strip_first_space, uint32_t* touched, size_t& nt, size_t limit) {
  const auto& nodes = trie.nodes();
  const auto& ids = trie.token_ids();
  const size_t n = nodes.size();
  while (i < n) {
    const TrieNode& node = nodes[i];
    uint32_t from = states[node.depth - 1];
    uint32_t to = (strip_first_space && node.depth == 1 && node.byte == ' ') ? from : dfa.next(from, node.byte);
    if (to == kDead) {
      i = node.subtree_end;
      continue;
    }
    states[node.depth] = to;
    bool stop = false;
    for (uint32_t t = node.tokens_begin; t < node.tokens_end; ++t) {
      uint32_t id = static_cast<uint32_t>(ids[t]);
      uint32_t& word = mask[id >> 5];
      if constexpr (kNote) {
        if (word == 0 && nt <= limit) {  // one node can hold several tokens: never past touched[limit]
          touched[nt++] = id >> 5;
          stop = nt > limit;
        }
      }
      word |= 1u << (id & 31);
    }
    ++i;
    if (kNote && stop) return i;
  }
  return i;
}

}  // namespace

size_t walk_trie(const Dfa& dfa, const TokenTrie& trie, uint32_t state, uint32_t* mask, bool strip_first_space,
                 uint32_t* touched, size_t touched_limit) {
  std::vector<uint32_t> states(trie.max_depth() + 2);
  states[0] = state;
  size_t nt = 0, i = 1;
  if (touched) i = walk_from<true>(dfa, trie, i, states.data(), mask, strip_first_space, touched, nt, touched_limit);
  if (!touched || nt > touched_limit) {
    nt = touched_limit + 1;
    walk_from<false>(dfa, trie, i, states.data(), mask, strip_first_space, nullptr, nt, touched_limit);
  }
  return nt;
}

TokenIndex::TokenIndex(const Dfa& dfa, const TokenTrie& trie, int32_t vocab_size,
                       const TokenIndexOptions& options)
    : words_((vocab_size + 31) / 32) {
  const size_t n = dfa.num_states();
  const size_t extra = options.strip_first_space ? 1 : 0;
  const size_t w = static_cast<size_t>(words_);
  std::vector<uint32_t> ids(n + extra);
  // Each worker walks into its own buffer and notes the words it makes non-zero: a mask with at
  // most 1/16 of its words non-zero (a literal's, a digit's: most states of an alternation of
  // words) is hashed, compared, stored and cleared by those words alone, never by all 16 KiB
  // (which was most of the index time of such regexes). Distinct masks are appended, in their
  // final form (sparse or dense), under a lock.
  std::mutex mutex;
  std::unordered_map<uint64_t, std::vector<uint32_t>> by_hash;  // content hash → mask ids
  const int threads = n + extra < 4 ? 1 : resolve_threads(options.threads);
  struct Scratch {
    std::vector<uint32_t> buf, touched;
    std::vector<WordBits> pairs;
  };
  const size_t limit = w / 16;  // sparse: at most this many non-zero words
  std::vector<Scratch> scratch(threads);
  for (auto& sc : scratch) {
    sc.buf.assign(w, 0);
    sc.touched.resize(limit + 1);
  }
  parallel_for(n + extra, threads, [&](size_t s, int worker) {
    check_budget();
    Scratch& sc = scratch[worker];
    uint32_t* buf = sc.buf.data();
    const size_t nt = s < n ? walk_trie(dfa, trie, static_cast<uint32_t>(s), buf, false, sc.touched.data(), limit)
                            : walk_trie(dfa, trie, dfa.start(), buf, /*strip_first_space=*/true, sc.touched.data(), limit);
    const bool sparse = nt <= limit;
    const auto touched = sc.touched.begin(), touched_end = sparse ? touched + static_cast<ptrdiff_t>(nt) : touched;
    uint64_t h;
    sc.pairs.clear();
    if (sparse) {
      std::sort(touched, touched_end);
      for (auto it = touched; it != touched_end; ++it) sc.pairs.push_back({*it, buf[*it]});
      h = hash_words(reinterpret_cast<const uint32_t*>(sc.pairs.data()), sc.pairs.size() * 2);
    } else {
      h = hash_words(buf, w);
    }
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (options.on_state) options.on_state(n + extra);
      auto& bucket = by_hash[h];
      uint32_t found = UINT32_MAX;
      const uint32_t k = static_cast<uint32_t>(sc.pairs.size());
      for (uint32_t m : bucket) {
        const MaskRef& r = refs_[m];
        if (sparse ? r.count == k && std::memcmp(sparse_.data() + r.offset, sc.pairs.data(), k * sizeof(WordBits)) == 0
                   : r.count == UINT32_MAX && std::memcmp(dense_.data() + r.offset, buf, w * 4) == 0) {
          found = m;
          break;
        }
      }
      if (found == UINT32_MAX) {
        found = static_cast<uint32_t>(refs_.size());
        if (sparse) {
          refs_.push_back({static_cast<uint32_t>(sparse_.size()), k});
          sparse_.insert(sparse_.end(), sc.pairs.begin(), sc.pairs.end());
        } else {
          refs_.push_back({static_cast<uint32_t>(dense_.size()), UINT32_MAX});
          dense_.insert(dense_.end(), buf, buf + w);
        }
        bucket.push_back(found);
      }
      ids[s] = found;
    }
    if (sparse) {
      for (auto it = touched; it != touched_end; ++it) buf[*it] = 0;
    } else {
      std::memset(buf, 0, w * 4);
    }
  });
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
