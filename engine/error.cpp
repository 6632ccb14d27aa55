#include "tollgate/error.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string_view>

#include "fsm/utf8.hpp"

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

Error::Error(ErrorKind kind, std::string message, SourcePos pos, std::string code)
    : std::runtime_error(what_text(message, pos)), kind_(kind), message_(std::move(message)),
      pos_(std::move(pos)), code_(std::move(code)) {}

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

namespace {
// Columns count code points; a byte that starts no well-formed UTF-8 sequence is one column.
size_t utf8_step(std::string_view s, size_t i) {
  char32_t cp;
  size_t n = fsm::decode_utf8(s, i, cp);
  return n == 0 ? 1 : n;
}

// Lines longer than this are kept as an excerpt (SourcePos::source_line), this many bytes of it
// before the position.
constexpr size_t kMaxSourceLine = 1024, kSourceBefore = 256;

// Code points in text[begin, end) (a byte that does not decode counts as one). ASCII bytes are
// stepped over without decoding: a minified schema is one line of megabytes, and every warning's
// position counts its columns.
int code_points(std::string_view text, size_t begin, size_t end) {
  // ASCII first, a byte at a time without a branch (vectorised): a minified schema is one line, and
  // a span over all of it counted code point by code point was 3 % of a 160 KB schema's compile.
  unsigned char high = 0;
  for (size_t i = begin; i < end; ++i) high |= static_cast<unsigned char>(text[i]);
  if (high < 0x80) return static_cast<int>(end - begin);
  int n = 0;
  for (size_t i = begin; i < end; ++n) i += static_cast<unsigned char>(text[i]) < 0x80 ? 1 : utf8_step(text, i);
  return n;
}

// Counts the newlines in text[begin, end) into `line`; `line_start` becomes the offset after the last.
void count_lines(std::string_view text, size_t begin, size_t end, int& line, size_t& line_start) {
  const char* p = text.data() + begin;
  const char* stop = text.data() + end;
  while (p < stop) {
    const void* nl = std::memchr(p, '\n', static_cast<size_t>(stop - p));
    if (!nl) break;
    p = static_cast<const char*>(nl) + 1;
    ++line;
    line_start = static_cast<size_t>(p - text.data());
  }
}
}  // namespace

std::string caret_display(const SourcePos& pos) {
  if (pos.column <= 0 || pos.source_line.empty()) return {};
  // Columns within source_line (an excerpt of a long line starts at source_column).
  const int base = std::max(pos.source_column, 1) - 1;
  const int column = pos.column - base;
  if (column <= 0) return {};
  // A long line (a minified schema is one line of megabytes) is shown as a window of code points
  // around the column, elided with "...".
  constexpr int kBefore = 60, kAfter = 60;
  const std::string& line = pos.source_line;
  int first = 1;                        // first code point shown
  if (column > kBefore + 1) first = column - kBefore;
  size_t begin = 0, end = line.size();
  int cp = 0;
  for (size_t i = 0; i < line.size(); i += utf8_step(line, i)) {
    ++cp;
    if (cp == first) begin = i;
    if (cp == column + kAfter + 1) {
      end = i;
      break;
    }
  }
  const bool cut = begin > 0 || base > 0;
  std::ostringstream os;
  os << "\n  " << (cut ? "..." : "") << std::string_view(line).substr(begin, end - begin)
     << (end < line.size() ? "..." : "") << "\n  " << (cut ? "   " : "");
  // The caret goes under code point `column`; a tab in the source is kept as a tab.
  cp = first;
  for (size_t i = begin; i < end && cp < column; i += utf8_step(line, i)) {
    os << (line[i] == '	' ? '	' : ' ');
    ++cp;
  }
  for (; cp < column; ++cp) os << ' ';
  os << '^';
  // A span is underlined to its end (to the end of the line when it goes on to later lines), as
  // far as the line is shown.
  if (pos.end_line >= pos.line && pos.end_column > 0) {
    int last = pos.end_line == pos.line ? pos.end_column - base - 1 : INT32_MAX;  // last code point underlined
    int shown_last = first - 1;  // the last code point shown
    for (size_t i = begin; i < end; i += utf8_step(line, i)) ++shown_last;
    int to = std::min(last, shown_last);
    for (int k = column; k < to; ++k) os << '~';
  }
  return os.str();
}

SourcePos span_in(std::string_view text, size_t begin, size_t end, std::string file) {
  SourcePos pos = position_in(text, begin, std::move(file));
  if (end > text.size()) end = text.size();
  if (end <= begin) return pos;
  // the end: line and column of the last byte's code point, plus one
  int line = pos.line;
  size_t line_start = begin;
  while (line_start > 0 && text[line_start - 1] != '\n') --line_start;
  size_t last = end - 1;
  while (last > begin && (static_cast<unsigned char>(text[last]) & 0xC0) == 0x80) --last;  // its first byte
  count_lines(text, begin, last, line, line_start);
  const int column = 1 + code_points(text, line_start, last);
  pos.end_line = line;
  pos.end_column = column + 1;
  return pos;
}

SourcePos position_in(std::string_view text, size_t offset, std::string file) {
  SourcePos pos;
  pos.file = std::move(file);
  if (offset > text.size()) offset = text.size();
  size_t line_start = 0;
  int line = 1;
  count_lines(text, 0, offset, line, line_start);
  const int column = 1 + code_points(text, line_start, offset);
  size_t line_end = text.find('\n', line_start);
  if (line_end == std::string_view::npos) line_end = text.size();
  pos.line = line;
  pos.column = column;
  // A long line is kept as an excerpt around the offset, cut between code points: every warning
  // about a minified schema held (and a grammar blob stored) the whole schema text once more.
  size_t from = line_start, to = line_end;
  if (to - from > kMaxSourceLine) {
    auto lead = [&](size_t i) { return i >= line_end || (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80; };
    from = offset > line_start + kSourceBefore ? offset - kSourceBefore : line_start;
    while (!lead(from)) ++from;
    to = std::min(line_end, offset + (kMaxSourceLine - kSourceBefore));
    while (!lead(to)) --to;
    pos.source_column = column - code_points(text, from, offset);
  }
  pos.source_line = std::string(text.substr(from, to - from));
  if (to == line_end && !pos.source_line.empty() && pos.source_line.back() == '\r') pos.source_line.pop_back();
  return pos;
}

}  // namespace tollgate
