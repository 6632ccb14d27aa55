// Terminal output shared by the subcommands: colour decisions, compiler-style diagnostics (text
// with caret, or JSON for editors and CI), the stderr progress bar.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/cli/commands.hpp"

namespace tollgate::cli {

bool use_color(const std::string& mode, int fd) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  if (const char* v = std::getenv("NO_COLOR"); v && *v) return false;
  if (const char* t = std::getenv("TERM"); t && std::string(t) == "dumb") return false;
  return isatty(fd) != 0;
}

namespace {
const char* kBold = "\033[1m";
const char* kReset = "\033[0m";
const char* severity_color(grammar::Severity s) {
  switch (s) {
    case grammar::Severity::kError: return "\033[1;31m";
    case grammar::Severity::kWarning: return "\033[1;35m";
    case grammar::Severity::kNote: return "\033[1;36m";
  }
  return "";
}
}  // namespace

std::string render_diagnostic(const grammar::Diagnostic& d, bool color) {
  std::ostringstream os;
  std::ostringstream where;
  if (!d.pos.file.empty()) where << d.pos.file << ":";
  if (d.pos.line > 0) where << d.pos.line << ":" << d.pos.column << ":";
  if (where.tellp() > 0) os << (color ? kBold : "") << where.str() << (color ? kReset : "") << " ";
  os << (color ? severity_color(d.severity) : "") << grammar::to_string(d.severity) << ":" << (color ? kReset : "")
     << " " << (color ? kBold : "") << d.message << (color ? kReset : "");
  // (a message that lists its own pointers does not get the pointer again)
  if (!d.pos.pointer.empty() && d.message.find("(at " + d.pos.pointer + ")") == std::string::npos)
    os << " (at " << d.pos.pointer << ")";
  if (!d.code.empty()) os << " [" << d.code << "]";
  std::string caret = caret_display(d.pos);
  if (color && !caret.empty()) {
    size_t at = caret.rfind('^');  // the caret and its underline, in green
    caret = caret.substr(0, at) + "\033[1;32m" + caret.substr(at) + kReset;
  }
  os << caret;
  return os.str();
}

std::string diagnostics_json(const std::vector<grammar::Diagnostic>& ds) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const auto& d : ds) {
    nlohmann::ordered_json o;
    o["file"] = d.pos.file;
    o["line"] = d.pos.line;
    o["col"] = d.pos.column;
    // the span's end (exclusive); a position without one covers its one character
    const bool span = d.pos.end_line > 0 && d.pos.end_column > 0;
    o["end_line"] = span ? d.pos.end_line : d.pos.line;
    o["end_col"] = span ? d.pos.end_column : d.pos.column > 0 ? d.pos.column + 1 : 0;
    o["severity"] = grammar::to_string(d.severity);
    o["code"] = d.code;
    o["message"] = d.message;
    if (!d.pos.pointer.empty()) o["pointer"] = d.pos.pointer;
    arr.push_back(std::move(o));
  }
  return arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

ProgressBar::ProgressBar(size_t total, std::string unit, bool enabled)
    : total_(total), unit_(std::move(unit)), enabled_(enabled) {}

void ProgressBar::update(size_t done, const std::string& note) {
  if (!enabled_) return;
  constexpr size_t kWidth = 30;
  const size_t filled = total_ ? kWidth * std::min(done, total_) / total_ : kWidth;
  std::fprintf(stderr, "\r\033[K[%s%s] %zu/%zu %s%s%s", std::string(filled, '#').c_str(),
               std::string(kWidth - filled, '.').c_str(), done, total_, unit_.c_str(), note.empty() ? "" : "  ",
               note.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::clear() {
  if (!enabled_ || !drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

void ProgressBar::finish(const std::string& note) {
  if (!enabled_) return;
  update(total_, note);
  std::fprintf(stderr, "\n");
  std::fflush(stderr);
  drawn_ = false;
}

CompileProgressBar::CompileProgressBar(bool enabled, std::string label, double delay_ms)
    : enabled_(enabled), label_(std::move(label)), delay_ms_(delay_ms), start_(std::chrono::steady_clock::now()) {
  if (!enabled_) return;
  ticker_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_; }))
      if (!paused_ && !phase_.empty()) draw_locked();
  });
}

CompileProgressBar::~CompileProgressBar() {
  if (!enabled_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  ticker_.join();
  clear();
}

void CompileProgressBar::on_progress(std::string_view phase, size_t done, size_t total) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  const bool changed = phase != phase_;
  phase_ = phase;
  done_ = done;
  total_ = total;
  paused_ = false;
  if (changed || done == total) draw_locked();  // else the ticker shows it within 100 ms
}

void CompileProgressBar::draw_locked() {
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  if (ms < delay_ms_) return;
  constexpr size_t kWidth = 30;
  std::string bar, count;
  if (total_ > 0) {
    size_t filled = kWidth * std::min(done_, total_) / total_;
    bar = "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] ";
    count = "  " + std::to_string(done_) + "/" + std::to_string(total_);
  }
  std::fprintf(stderr, "\r\033[K%s%scompiling: %s%s  (%.1f s)", label_.empty() ? "" : (label_ + ": ").c_str(),
               bar.c_str(), phase_.c_str(), count.c_str(), ms / 1000.0);
  std::fflush(stderr);
  drawn_ = true;
}

void CompileProgressBar::clear() {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  paused_ = true;
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace tollgate::cli
