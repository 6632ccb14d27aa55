// tollgate::Error — the one exception type that user input can produce.
// Every bad regex, grammar, schema, token id or file ends up here with a kind,
// a message and, where it applies, a position in the user's text.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace tollgate {

enum class ErrorKind {
  kParse,            // malformed text (regex, grammar, JSON)
  kUnsupported,      // well-formed but not supported (backreference, lookahead, ...)
  kLimit,            // a named limit was hit (DFA states, grammar size, ...)
  kInvalidArgument,  // bad token id, bad option value, ...
  kIo,               // file missing / unreadable
  kSchema,           // JSON Schema problem (position is a JSON pointer)
  kGrammar,          // semantic grammar problem (undefined rule, left recursion, ...)
  kModel,            // model weights / configuration problem
  kInternal,         // an internal invariant failed (a bug in tollgate, not bad input): please report
  kCancelled,        // a compilation was cancelled through its CancelToken
};

const char* to_string(ErrorKind kind);

// Position inside the user's text. line and column are 1-based; 0 = unknown.
// column counts code points, so a caret can be printed under it.
struct SourcePos {
  std::string file;     // file name, empty for inline text
  int line = 0;
  int column = 0;
  // The text of that line, for the caret display. A line over 1,024 bytes (a minified schema is
  // one line of megabytes) is kept as the part of it around the column, whole code points:
  // source_column is the column of its first code point (1: the line from its start).
  std::string source_line;
  int source_column = 1;
  std::string pointer;      // JSON pointer (schemas), empty otherwise
  // Where the thing the position is about ends: the line and the column just past its last code
  // point (exclusive, as LSP ranges). 0 = unknown: the position is one character.
  int end_line = 0;
  int end_column = 0;
};

class Error : public std::runtime_error {
 public:
  // code: a stable diagnostic code (docs/diagnostics.md, e.g. "TG101"), empty when none applies.
  Error(ErrorKind kind, std::string message, SourcePos pos = {}, std::string code = {});

  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  const SourcePos& pos() const { return pos_; }
  int line() const { return pos_.line; }
  int column() const { return pos_.column; }
  const std::string& code() const { return code_; }

  // "file:line:col: error: message\n  source line\n  ^" (parts omitted when unknown).
  std::string pretty() const;

 private:
  ErrorKind kind_;
  std::string message_;
  SourcePos pos_;
  std::string code_;
};

// "\n  <source line>\n  <spaces>^" for a position with a column and a source line, else "".
// Errors and warnings use it to point at the column.
std::string caret_display(const SourcePos& pos);

// Helper: position of byte offset `offset` in `text` (1-based line and code-point column),
// with the source line filled in.
SourcePos position_in(std::string_view text, size_t offset, std::string file = {});
// The same for the bytes [begin, end) of `text`: the position of `begin` with end_line/end_column
// just past the byte before `end` (a span over several lines ends on its last line).
SourcePos span_in(std::string_view text, size_t begin, size_t end, std::string file = {});

}  // namespace tollgate
