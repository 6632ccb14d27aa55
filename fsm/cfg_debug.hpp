// TOLLGATE_CFG_DEBUG — the context-free back-end's debug timings (slow boundary walks and index
// entries in engine/cfg_backend.cpp, slow lexeme automata in fsm/cfg_runtime.cpp, printed to stderr).
// Takes: the environment. Gives: whether it is set, and the calling thread's CPU time as a time
// point (a timing that a loaded machine does not inflate), free (a zero time point) unless it is set.
#pragma once

#include <chrono>
#include <cstdlib>
#include <ctime>

namespace tollgate::fsm {

inline bool cfg_debug_enabled() {
  static const bool debug = std::getenv("TOLLGATE_CFG_DEBUG") != nullptr;
  return debug;
}

inline std::chrono::steady_clock::time_point cfg_debug_now() {
  if (!cfg_debug_enabled()) return {};
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ts.tv_sec * 1000000000ll + ts.tv_nsec));
}

}  // namespace tollgate::fsm
