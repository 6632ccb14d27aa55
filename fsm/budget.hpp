// Compile budget: a wall-clock limit and a cancellation flag for one compilation.
// Takes: the budget a Compiler call was given (CompileOptions::max_compile_ms, ::cancel), installed
// for the calling thread by a BudgetScope (parallel_for hands it to its workers). Gives:
// check_budget(), called by the long loops of compilation (subset construction, minimisation, the
// CFG build, the token index), which throws Error(kLimit) once the budget is spent or the flag is
// set — so a compilation that would take too long stops within a few milliseconds of its budget.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tollgate::fsm {

struct CompileBudget {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  double ms = 0;                              // for the message; 0 = no time limit
  const std::atomic<bool>* cancel = nullptr;  // set by another thread to stop the compilation
  bool active() const { return ms > 0 || cancel != nullptr; }
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

void check_budget_slow(const CompileBudget& b);

// Throws Error(kLimit) when the calling thread's budget is spent or cancelled. Cheap: the clock is
// read on every 256th call.
inline void check_budget() {
  extern thread_local const CompileBudget* tl_budget;
  extern thread_local uint32_t tl_budget_calls;
  if (tl_budget == nullptr) return;
  if (tl_budget->cancel != nullptr && tl_budget->cancel->load(std::memory_order_relaxed)) check_budget_slow(*tl_budget);
  if ((++tl_budget_calls & 255) == 0) check_budget_slow(*tl_budget);
}

}  // namespace tollgate::fsm
