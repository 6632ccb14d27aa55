// Compile budget (fsm/budget.hpp): the thread-local current budget and the check that throws.
#include "fsm/budget.hpp"

#include <string>

#include "tollgate/error.hpp"

namespace tollgate::fsm {

thread_local const CompileBudget* tl_budget = nullptr;
thread_local uint32_t tl_budget_calls = 0;

const CompileBudget* current_budget() { return tl_budget; }

BudgetScope::BudgetScope(const CompileBudget* budget) : saved_(tl_budget) {
  tl_budget = budget != nullptr && budget->active() ? budget : nullptr;
}

BudgetScope::~BudgetScope() { tl_budget = saved_; }

void check_budget_slow(const CompileBudget& b) {
  if (b.cancel != nullptr && b.cancel->load(std::memory_order_relaxed)) {
    throw Error(ErrorKind::kCancelled, "compilation cancelled (CompileOptions::cancel was set)");
  }
  if (b.abandoned != nullptr && b.abandoned->load(std::memory_order_relaxed)) {
    throw Error(ErrorKind::kCancelled, "compilation cancelled (every CancelToken waiting on it was cancelled)");
  }
  if (b.ms > 0 && std::chrono::steady_clock::now() > b.deadline) {
    std::string ms = std::to_string(static_cast<long long>(b.ms));
    throw Error(ErrorKind::kLimit, "compile time budget of " + ms +
                                       " ms exceeded (CompileOptions::max_compile_ms); simplify the grammar or raise the budget");
  }
}

}  // namespace tollgate::fsm
