// BatchMatcher — next-token masks for many matchers at once, on a fixed thread pool.
// Takes: matchers (each of any grammar over one vocabulary size) and a bitmask of at least as many
// rows. Gives: row i (or rows[i]) = matchers[i]'s mask, computed on the pool's threads (the
// caller takes part); the pool is created once, with the BatchMatcher, and reused by every call.
// Matchers of one shared CompiledGrammar run in parallel without serialising (memo hits in the
// shared parser tables are lock-free; the caches are sharded). The result does not depend on the
// number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "tollgate/matcher.hpp"

namespace tollgate {

class BatchMatcher {
 public:
  // threads: total parallelism including the calling thread (0 = all cores, 1 = all inline).
  explicit BatchMatcher(int threads = 0);
  ~BatchMatcher();
  BatchMatcher(const BatchMatcher&) = delete;
  BatchMatcher& operator=(const BatchMatcher&) = delete;

  int threads() const;

  // Row rows[i] (row i when `rows` is empty) of `bitmask` (bitmask_words(vocab_size) int32 words a
  // row) gets matchers[i]'s next-token mask. Null matchers leave their row alone. The matchers
  // must have one vocabulary size; each is read by one thread only. Throws kInvalidArgument for
  // mismatched sizes; an error in one matcher is re-thrown after the others finished.
  void fill_next_token_bitmask(std::span<const Matcher* const> matchers, int32_t* bitmask,
                               std::span<const int64_t> rows = {});
  // Advances matchers[i] by tokens[i] for every i, in parallel; accepted[i] (if given, size n)
  // says which were accepted.
  void accept_tokens(std::span<Matcher* const> matchers, std::span<const int32_t> tokens,
                     std::span<uint8_t> accepted = {});

  // A process-wide BatchMatcher (min(cores, 8) threads), created on first use.
  static BatchMatcher& shared();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tollgate
