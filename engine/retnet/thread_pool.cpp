// ThreadPool implementation: workers sleep on a condition variable and wake per parallel_for; the
// caller runs the parts no worker has started by the time its own part is done.
#include "engine/retnet/thread_pool.hpp"

#include <algorithm>
#include <cstdlib>
#include <exception>

namespace tollgate::engine {

namespace {
thread_local bool t_in_pool_worker = false;
}

ThreadPool::ThreadPool(int threads) {
  int extra = std::max(0, threads - 1);
  for (int i = 0; i < extra; ++i) workers_.emplace_back([this, i] { worker_loop(i + 1); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker_loop(int index) {
  t_in_pool_worker = true;
  size_t seen = 0;
  for (;;) {
    const std::function<void(size_t, size_t)>* job;
    std::pair<size_t, size_t> part;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (static_cast<size_t>(index) >= parts_.size() || started_[index]) continue;  // taken by the caller
      started_[index] = 1;
      job = job_;
      part = parts_[index];
    }
    std::exception_ptr err;
    try {
      (*job)(part.first, part.second);
    } catch (...) {
      err = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (err && !error_) error_ = err;
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  grain = std::max<size_t>(grain, 1);
  size_t parts = std::min<size_t>(static_cast<size_t>(size()), (n + grain - 1) / grain);
  if (parts <= 1 || t_in_pool_worker) {
    fn(0, n);
    return;
  }
  std::unique_lock<std::mutex> use(use_mutex_, std::try_to_lock);
  if (!use.owns_lock()) {
    fn(0, n);
    return;
  }
  std::vector<std::pair<size_t, size_t>> split(parts);
  for (size_t i = 0; i < parts; ++i) split[i] = {n * i / parts, n * (i + 1) / parts};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    parts_ = split;
    started_.assign(parts, 0);
    started_[0] = 1;
    job_ = &fn;
    pending_ = static_cast<int>(parts) - 1;
    error_ = nullptr;
    ++generation_;
  }
  wake_.notify_all();
  std::exception_ptr mine;
  t_in_pool_worker = true;
  try {
    fn(split[0].first, split[0].second);
  } catch (...) {
    mine = std::current_exception();
  }
  // Parts no worker has started yet (it was not scheduled in time) run here rather than being
  // waited for.
  for (;;) {
    std::pair<size_t, size_t> part;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      size_t i = 1;
      while (i < parts && started_[i]) ++i;
      if (i == parts) break;
      started_[i] = 1;
      --pending_;
      part = split[i];
    }
    try {
      fn(part.first, part.second);
    } catch (...) {
      if (!mine) mine = std::current_exception();
    }
  }
  t_in_pool_worker = false;
  std::exception_ptr theirs;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    theirs = error_;
    parts_.clear();
    job_ = nullptr;
  }
  if (mine) std::rethrow_exception(mine);
  if (theirs) std::rethrow_exception(theirs);
}

ThreadPool& kernel_pool() {
  static ThreadPool pool([] {
    if (const char* v = std::getenv("TOLLGATE_THREADS"); v && *v) {
      int n = std::atoi(v);
      if (n >= 1 && n <= 256) return n;
    }
    unsigned hw = std::thread::hardware_concurrency();
    return static_cast<int>(std::clamp(hw == 0 ? 1u : hw, 1u, 4u));
  }());
  return pool;
}

}  // namespace tollgate::engine
