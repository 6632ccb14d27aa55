// PhaseRecorder — the phases of one compile call. Takes: CompileOptions::progress (may be null).
// Gives: CompileStats::phases (name, time, size of what the phase built, in order) and the
// progress calls a progress bar is drawn from: one when a phase begins, then at most about every
// 1% of a phase's units (step(), safe from several threads at once).
#pragma once

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "tollgate/compiler.hpp"

namespace tollgate::engine {

class PhaseRecorder {
 public:
  explicit PhaseRecorder(CompileProgress* progress = nullptr) : progress_(progress) {}

  // A phase begins (the previous one must have ended).
  void begin(const char* name) {
    current_ = name;
    t0_ = std::chrono::steady_clock::now();
    next_report_ = 0;
    ticks_ = 0;
    if (progress_) {
      std::lock_guard<std::mutex> lock(mu_);
      progress_->on_progress(current_, 0, 0);
    }
  }
  // The current phase ends, having built `size` `unit`s. Returns its time in ms.
  double end(size_t size, const char* unit) {
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count();
    phases_.push_back({current_, ms, size, unit});
    return ms;
  }
  // `done` of `total` units of the current phase (from any thread).
  void step(size_t done, size_t total) {
    if (!progress_) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (done < next_report_ && done != total) return;
    size_t every = total / 100;
    next_report_ = done + (every ? std::min<size_t>(every, 4096) : 1);
    progress_->on_progress(current_, done, total);
  }
  // One more unit of `total` done (from any thread).
  void tick(size_t total) {
    if (!progress_) return;
    std::lock_guard<std::mutex> lock(mu_);
    size_t done = ++ticks_;
    if (done < next_report_ && done != total) return;
    size_t every = total / 100;
    next_report_ = done + (every ? std::min<size_t>(every, 4096) : 1);
    progress_->on_progress(current_, done, total);
  }
  bool reporting() const { return progress_ != nullptr; }
  std::vector<CompileStats::Phase>& phases() { return phases_; }

 private:
  CompileProgress* progress_;
  std::mutex mu_;
  std::string current_;
  size_t next_report_ = 0;
  size_t ticks_ = 0;
  std::chrono::steady_clock::time_point t0_;
  std::vector<CompileStats::Phase> phases_;
};

}  // namespace tollgate::engine
