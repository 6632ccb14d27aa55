// ThreadPool — a small fixed pool for the model kernels. Takes a range [0, n) and a function of a
// sub-range; gives the same result as calling the function on the whole range, split over the
// workers (the calling thread takes part too, and takes over parts no worker has started when its
// own is done, so a worker the OS has not scheduled yet does not hold the call up). Calls from
// inside a worker, or while another thread is using the pool, run inline, so kernels may call
// parallel_for without thinking about nesting.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tollgate::engine {

class ThreadPool {
 public:
  // threads = total parallelism including the caller; 1 = everything inline.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Splits [0, n) into at most size() contiguous parts of at least `grain` items and runs
  // fn(begin, end) on each; returns when all parts are done. Exceptions from fn are rethrown.
  void parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn);

 private:
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  std::mutex use_mutex_;  // one parallel_for at a time; others run inline
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(size_t, size_t)>* job_ = nullptr;
  std::vector<std::pair<size_t, size_t>> parts_;
  std::vector<char> started_;  // per part: a worker (or the caller) has taken it
  size_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

// The process-wide pool used by the model kernels. Size: env TOLLGATE_THREADS, else
// min(hardware_concurrency, 4).
ThreadPool& kernel_pool();

}  // namespace tollgate::engine
