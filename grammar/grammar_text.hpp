// Helpers shared by the grammar front-ends: decoding of quoted literals and character classes
// (escapes \n \t \r \\ \" \xNN \uNNNN \UNNNNNNNN ...) into Regex AST leaves, with errors that
// point at the offending character. Also the ExprBuilder that the Spirit X3 semantic actions
// drive to build GExpr trees without attribute plumbing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "grammar/grammar_ir.hpp"

namespace tollgate::grammar::text {

// Decodes one UTF-8 code point at s[i] (advancing i). Invalid bytes → error at base+i.
char32_t decode_utf8(const Grammar& g, std::string_view s, size_t& i, size_t base);
// Decodes one escape after the backslash at s[i-1] (s[i] is the letter). `extra` lists the
// punctuation characters that may be escaped to stand for themselves.
char32_t decode_escape(const Grammar& g, std::string_view s, size_t& i, size_t base);
// "..." (quotes included in `raw`) → sequence of code points.
std::u32string decode_literal(const Grammar& g, std::string_view raw, size_t offset);
RegexPtr literal_regex(const std::u32string& cps, bool case_insensitive = false);
// [...] (brackets included) → one-code-point Regex.
RegexPtr class_regex(const Grammar& g, std::string_view raw, size_t offset);
// What the parser found at `p` for an "expected X, found Y" message: 'c', end of line,
// end of input, or byte 0xNN.
std::string describe_found(const char* p, const char* end);

// Stack machine for building expressions from parser events.
class ExprBuilder {
 public:
  void open(size_t offset);               // start of a rule body or a group
  void bar(size_t offset);                // '|': next alternative
  // End of a rule body or group → the expression. `end` (a group's, just past its ')'): the
  // expression then spans from the group's '(' to there, even when it is the group's one item.
  GExprPtr close(size_t end = 0);
  void push(GExprPtr e);                  // a new item in the current sequence
  GExprPtr pop_item();                    // the last item of the current sequence
  bool has_item() const;
  size_t depth() const { return frames_.size(); }

 private:
  struct Frame {
    size_t offset;
    std::vector<GExprPtr> alts;
    std::vector<GExprPtr> seq;
    size_t seq_offset;
  };
  std::vector<Frame> frames_;
};

}  // namespace tollgate::grammar::text
