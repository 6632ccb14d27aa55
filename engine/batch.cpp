// BatchMatcher: matchers handed out one at a time from an atomic counter to the workers of an
// engine::ThreadPool (each worker takes the next matcher when it is done with one, so a slow mask
// does not hold up a fixed share of the batch).
#include "tollgate/batch.hpp"

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>

#include "engine/retnet/thread_pool.hpp"
#include "tollgate/error.hpp"

namespace tollgate {

struct BatchMatcher::Impl {
  explicit Impl(int threads) : pool(threads) {}
  engine::ThreadPool pool;
  // Runs body(i) for i in [0, n) on the pool, one index at a time.
  template <class Body>
  void run(size_t n, Body&& body) {
    if (n == 0) return;
    std::atomic<size_t> next{0};
    const size_t workers = std::min<size_t>(static_cast<size_t>(pool.size()), n);
    pool.parallel_for(workers, 1, [&](size_t, size_t) {
      for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) body(i);
    });
  }
};

BatchMatcher::BatchMatcher(int threads) {
  if (threads <= 0) {
    unsigned hc = std::thread::hardware_concurrency();
    threads = hc == 0 ? 1 : static_cast<int>(hc);
  }
  impl_ = std::make_unique<Impl>(threads);
}
BatchMatcher::~BatchMatcher() = default;

int BatchMatcher::threads() const { return impl_->pool.size(); }

void BatchMatcher::fill_next_token_bitmask(std::span<const Matcher* const> matchers, int32_t* bitmask,
                                           std::span<const int64_t> rows) {
  if (!rows.empty() && rows.size() != matchers.size())
    throw Error(ErrorKind::kInvalidArgument, "fill_next_token_bitmask: " + std::to_string(matchers.size()) +
                                                 " matchers but " + std::to_string(rows.size()) + " rows");
  int32_t vocab = -1;
  for (const Matcher* m : matchers) {
    if (!m) continue;
    int32_t v = m->grammar().tokenizer().vocab_size();
    if (vocab >= 0 && v != vocab)
      throw Error(ErrorKind::kInvalidArgument, "fill_next_token_bitmask: matchers of different vocabulary sizes (" +
                                                   std::to_string(vocab) + " and " + std::to_string(v) + ")");
    vocab = v;
  }
  impl_->run(matchers.size(), [&](size_t i) {
    if (matchers[i]) matchers[i]->fill_next_token_bitmask(bitmask, rows.empty() ? static_cast<int64_t>(i) : rows[i]);
  });
}

void BatchMatcher::accept_tokens(std::span<Matcher* const> matchers, std::span<const int32_t> tokens,
                                 std::span<uint8_t> accepted) {
  if (tokens.size() != matchers.size() || (!accepted.empty() && accepted.size() != matchers.size()))
    throw Error(ErrorKind::kInvalidArgument, "accept_tokens: " + std::to_string(matchers.size()) + " matchers, " +
                                                 std::to_string(tokens.size()) + " tokens");
  impl_->run(matchers.size(), [&](size_t i) {
    bool ok = matchers[i] && matchers[i]->accept_token(tokens[i]);
    if (!accepted.empty()) accepted[i] = ok;
  });
}

BatchMatcher& BatchMatcher::shared() {
  static BatchMatcher pool([] {
    unsigned hc = std::thread::hardware_concurrency();
    return static_cast<int>(std::clamp(hc == 0 ? 1u : hc, 1u, 8u));
  }());
  return pool;
}

}  // namespace tollgate
