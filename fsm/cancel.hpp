// Cooperative cancellation of a compilation.
// Takes: a predicate "should this compilation stop?" installed for the current thread by a
// CancelScope (Compiler::compile with a CancelToken). Gives: check_cancelled(), called at phase
// boundaries, and poll_cancelled(), called in the compiler's long loops (subset construction,
// minimisation, product constructions, token index walks) and asking the predicate every 64th
// call; either throws Error(kCancelled) once the predicate says so. With no scope they do nothing.
// Loops on worker threads (parallel_for) take the caller's check with current_cancel().
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <utility>

#include "tollgate/error.hpp"

namespace tollgate::fsm {

class CancelCheck {
 public:
  explicit CancelCheck(std::function<bool()> cancelled) : cancelled_(std::move(cancelled)) {}
  void check() const {
    if (cancelled_ && cancelled_()) throw Error(ErrorKind::kCancelled, "compilation cancelled");
  }
  void poll() const {
    if ((calls_.fetch_add(1, std::memory_order_relaxed) & 63) == 0) check();
  }

 private:
  std::function<bool()> cancelled_;
  mutable std::atomic<uint32_t> calls_{0};
};

inline const CancelCheck*& current_cancel() {
  thread_local const CancelCheck* check = nullptr;
  return check;
}

// Installs `check` for this thread for the scope's lifetime (nests: the previous one comes back).
class CancelScope {
 public:
  explicit CancelScope(const CancelCheck* check) : prev_(current_cancel()) { current_cancel() = check; }
  ~CancelScope() { current_cancel() = prev_; }
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

 private:
  const CancelCheck* prev_;
};

inline void check_cancelled() {
  if (const CancelCheck* c = current_cancel()) c->check();
}
inline void poll_cancelled() {
  if (const CancelCheck* c = current_cancel()) c->poll();
}

}  // namespace tollgate::fsm
