// Terminal output shared by the subcommands: colour decisions, compiler-style diagnostics (text
// with caret, or JSON for editors and CI), the stderr progress bar.
#include <unistd.h>

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
  if (color && !caret.empty()) caret = caret.substr(0, caret.size() - 1) + "\033[1;32m^" + kReset;
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
    o["end_line"] = d.pos.line;
    o["end_col"] = d.pos.column > 0 ? d.pos.column + 1 : 0;
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

}  // namespace tollgate::cli
