// parallel_for: runs body(i) for i in [0, n) on up to `threads` threads (0 = all cores),
// handing out indices one at a time from an atomic counter. Exceptions are re-thrown. Workers run
// under the caller's compile budget (fsm/budget.hpp).
#pragma once

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "fsm/budget.hpp"

namespace tollgate::fsm {

inline int resolve_threads(int threads) {
  if (threads > 0) return threads;
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

template <class Body>
void parallel_for(size_t n, int threads, Body&& body) {
  int t = std::min<int>(resolve_threads(threads), static_cast<int>(n));
  if (t <= 1) {
    for (size_t i = 0; i < n; ++i) body(i, 0);
    return;
  }
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  const CompileBudget* budget = current_budget();
  auto worker = [&](int worker_id) {
    BudgetScope scope(budget);
    try {
      for (size_t i; (i = next.fetch_add(1)) < n;) body(i, worker_id);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next = n;
    }
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < t; ++w) pool.emplace_back(worker, w);
  worker(0);
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace tollgate::fsm
