// TOLLGATE_CFG_DEBUG — the context-free back-end's debug timings (slow boundary walks and index
// entries in engine/cfg_backend.cpp, slow lexeme automata in fsm/cfg_runtime.cpp, printed to stderr).
// TOLLGATE_CFG_DEBUG_US=N prints every such event and every mask fill (a "fill" line closing the
// events of that mask) over N µs instead of each one's own threshold, timed by the monotonic clock:
// scripts/cfg-debug-breakdown.py sums the events of the slow fills by kind. `bench maskbench` adds
// "mask K of FILE: X µs" after the fill line of such a mask (K: its index in the file's mask_us).
// Takes: the environment. Gives: whether it is set, the threshold for a kind of event, the
// calling thread's CPU time as a time point (a timing that a loaded machine does not inflate; the
// monotonic clock under TOLLGATE_CFG_DEBUG_US), free (a zero time point) unless it is set, and the
// µs elapsed since such a point.
#pragma once

#include <chrono>
#include <cstdlib>
#include <ctime>

namespace tollgate::fsm {

inline bool cfg_debug_enabled() {
  static const bool debug = std::getenv("TOLLGATE_CFG_DEBUG") != nullptr;
  return debug;
}

// The threshold in µs above which an event is printed: TOLLGATE_CFG_DEBUG_US when set, else `own`.
inline double cfg_debug_threshold_us(double own) {
  static const double all = [] {
    const char* v = std::getenv("TOLLGATE_CFG_DEBUG_US");
    return v ? std::atof(v) : -1.0;
  }();
  return all >= 0 ? all : own;
}

inline std::chrono::steady_clock::time_point cfg_debug_now() {
  if (!cfg_debug_enabled()) return {};
  // With TOLLGATE_CFG_DEBUG_US (every event timed), the monotonic clock: the thread's CPU clock is
  // a system call on some VMs (2.1 µs a read on ours, against 55 ns), which made a debug run 6×
  // slower and its breakdown mostly the clock.
  static const bool wall = cfg_debug_threshold_us(-1) >= 0;
  timespec ts;
  clock_gettime(wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ts.tv_sec * 1000000000ll + ts.tv_nsec));
}

// µs from `t0` (a cfg_debug_now()) to now.
inline double cfg_debug_elapsed_us(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(cfg_debug_now() - t0).count();
}

}  // namespace tollgate::fsm
