#include "tollgate/error.hpp"

#include <sstream>

namespace tollgate {

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kParse: return "parse error";
    case ErrorKind::kUnsupported: return "unsupported";
    case ErrorKind::kLimit: return "limit exceeded";
    case ErrorKind::kInvalidArgument: return "invalid argument";
    case ErrorKind::kIo: return "i/o error";
    case ErrorKind::kSchema: return "schema error";
    case ErrorKind::kGrammar: return "grammar error";
    case ErrorKind::kModel: return "model error";
    case ErrorKind::kInternal: return "internal error";
    case ErrorKind::kCancelled: return "cancelled";
  }
  return "error";
}

namespace {
std::string what_text(const std::string& message, const SourcePos& pos) {
  std::ostringstream os;
  if (!pos.file.empty()) os << pos.file << ":";
  if (pos.line > 0) os << pos.line << ":" << pos.column << ": ";
  else if (!pos.file.empty()) os << " ";
  if (!pos.pointer.empty()) os << pos.pointer << ": ";
  os << message;
  return os.str();
}
}  // namespace

Error::Error(ErrorKind kind, std::string message, SourcePos pos)
    : std::runtime_error(what_text(message, pos)), kind_(kind), message_(std::move(message)),
      pos_(std::move(pos)) {}

std::string Error::pretty() const {
  std::ostringstream os;
  if (!pos_.file.empty()) os << pos_.file << ":";
  if (pos_.line > 0 && !pos_.file.empty()) os << pos_.line << ":" << pos_.column << ": ";
  else if (!pos_.file.empty()) os << " ";
  os << "error: " << message_;
  if (pos_.line > 0 && pos_.column == 0 && pos_.file.empty()) os << " (line " << pos_.line << ")";
  if (pos_.line > 0 && pos_.column > 0 && pos_.file.empty() &&
      (pos_.line > 1 || pos_.source_line.empty()))
    os << " (line " << pos_.line << ", column " << pos_.column << ")";
  if (!pos_.pointer.empty()) os << " (at " << pos_.pointer << ")";
  os << caret_display(pos_);
  return os.str();
}

std::string caret_display(const SourcePos& pos) {
  if (pos.column <= 0 || pos.source_line.empty()) return {};
  std::ostringstream os;
  os << "\n  " << pos.source_line << "\n  ";
  // The caret goes under code point `column`; a tab in the source is kept as a tab.
  int cp = 1;
  for (size_t i = 0; i < pos.source_line.size() && cp < pos.column; ++i) {
    unsigned char c = pos.source_line[i];
    if ((c & 0xC0) == 0x80) continue;
    os << (c == '\t' ? '\t' : ' ');
    ++cp;
  }
  for (; cp < pos.column; ++cp) os << ' ';
  os << '^';
  return os.str();
}

SourcePos position_in(std::string_view text, size_t offset, std::string file) {
  SourcePos pos;
  pos.file = std::move(file);
  if (offset > text.size()) offset = text.size();
  size_t line_start = 0;
  int line = 1;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  int column = 1;
  for (size_t i = line_start; i < offset; ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++column;
  }
  size_t line_end = text.find('\n', line_start);
  if (line_end == std::string_view::npos) line_end = text.size();
  pos.line = line;
  pos.column = column;
  pos.source_line = std::string(text.substr(line_start, line_end - line_start));
  if (!pos.source_line.empty() && pos.source_line.back() == '\r') pos.source_line.pop_back();
  return pos;
}

}  // namespace tollgate
