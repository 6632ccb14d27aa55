// Compile budget: the one way a compilation is stopped early — a deadline (a cancellation that
// fires at a time) and cancellation flags.
// Takes: the budget a Compiler call was given (CompileOptions::max_compile_ms and ::cancel, and the
// flag the compiled-grammar cache sets once every caller waiting on a compilation has cancelled its
// CancelToken), installed for the calling thread by a BudgetScope (parallel_for hands it to its
// workers). Gives: check_budget(), called by the long loops of compilation (subset construction,
// minimisation, products, the CFG build, the token index), and check_budget_now() at phase
// boundaries; they throw Error(kLimit) naming max_compile_ms once the deadline has passed, and
// Error(kCancelled) once a flag is set — so a compilation stops within milliseconds of either.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tollgate::fsm {

struct CompileBudget {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  double ms = 0;                              // for the message; 0 = no time limit
  const std::atomic<bool>* cancel = nullptr;  // CompileOptions::cancel: set by another thread
  const std::atomic<bool>* abandoned = nullptr;  // every CancelToken waiting on this compilation cancelled
  bool active() const { return ms > 0 || cancel != nullptr || abandoned != nullptr; }
  bool cancelled() const {
    return (cancel != nullptr && cancel->load(std::memory_order_relaxed)) ||
           (abandoned != nullptr && abandoned->load(std::memory_order_relaxed));
  }
};

// The budget of the calling thread (nullptr when none).
const CompileBudget* current_budget();

// Installs `budget` for the calling thread for the scope's lifetime (nullptr or inactive: none).
class BudgetScope {
 public:
  explicit BudgetScope(const CompileBudget* budget);
  ~BudgetScope();
  BudgetScope(const BudgetScope&) = delete;
  BudgetScope& operator=(const BudgetScope&) = delete;

 private:
  const CompileBudget* saved_;
};

// Throws when `b` is spent (kLimit) or cancelled (kCancelled); returns otherwise.
void check_budget_slow(const CompileBudget& b);

// Throws Error(kLimit) when the calling thread's budget is spent, Error(kCancelled) when it is
// cancelled. Cheap: the flags are read on every call, the clock on every 256th.
inline void check_budget() {
  extern thread_local const CompileBudget* tl_budget;
  extern thread_local uint32_t tl_budget_calls;
  if (tl_budget == nullptr) return;
  if (tl_budget->cancelled()) check_budget_slow(*tl_budget);
  if ((++tl_budget_calls & 255) == 0) check_budget_slow(*tl_budget);
}

// The same, reading the clock now (between phases of a compilation).
inline void check_budget_now() {
  if (const CompileBudget* b = current_budget()) check_budget_slow(*b);
}

}  // namespace tollgate::fsm
