// Grammar IR — what the GBNF, EBNF and Lark front-ends produce: named rules whose bodies are
// expressions over regular leaves (literals, character classes, /regex/ terminals as Regex AST)
// and references to other rules. check_grammar_ir() resolves references and runs the semantic
// checks (undefined rules, unused rules, rules that derive no string). fsm/cfg.cpp turns it into
// lexemes + productions.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/regex_ast.hpp"
#include "tollgate/error.hpp"

namespace tollgate::grammar {

struct GExpr;
using GExprPtr = std::shared_ptr<const GExpr>;

struct GExpr {
  enum class Kind {
    kEmpty,   // ""
    kRegex,   // a regular leaf: literal, class, any char, /regex/
    kRef,     // reference to another rule, by name (resolved to `rule`)
    kSeq,     // items in order
    kAlt,     // one of items
    kRepeat,  // items[0] min..max times (max = kUnbounded)
  };
  Kind kind = Kind::kEmpty;
  RegexPtr regex;
  std::string name;
  int rule = -1;
  std::vector<GExprPtr> items;
  uint32_t min = 0, max = 0;
  size_t offset = 0;  // byte offset in the grammar text (for messages)

  static GExprPtr empty(size_t offset = 0);
  static GExprPtr leaf(RegexPtr regex, size_t offset = 0);
  static GExprPtr ref(std::string name, size_t offset = 0);
  static GExprPtr seq(std::vector<GExprPtr> items, size_t offset = 0);
  static GExprPtr alt(std::vector<GExprPtr> items, size_t offset = 0);
  static GExprPtr repeat(GExprPtr item, uint32_t min, uint32_t max, size_t offset = 0);
  // The same node with references resolved.
  static GExprPtr with_rule(const GExpr& ref, int rule);
};

struct GRule {
  std::string name;
  GExprPtr body;
  size_t offset = 0;
  bool is_terminal = false;  // Lark UPPERCASE terminal: always one lexeme
  bool is_builtin = false;   // imported (Lark common.X): never reported as unused
};

// A warning (or, inside tollgate::Error, an error) with its place in the grammar text.
struct Diagnostic {
  std::string message;
  SourcePos pos;
  std::string pretty() const;  // "file:line:col: warning: message" + source line + caret
};

struct Grammar {
  std::vector<GRule> rules;
  int start = -1;
  // Lark %ignore: lexemes skipped between any two lexemes (and at both ends).
  std::vector<GExprPtr> ignore;
  // True (Lark): every terminal/literal is its own lexeme, so that %ignore can occur between
  // them. False (GBNF/EBNF): adjacent regular parts may be merged into one lexeme.
  bool fixed_lexemes = false;
  // True (Lark): a lexeme matches, at each position, only the text a backtracking regex engine
  // would return there (fsm::compile_leftmost_first_dfa), as Lark's Earley parser does with
  // Python's re.match. False (GBNF/EBNF): every way to cut the text into lexemes is followed.
  bool leftmost_first = false;
  std::vector<Diagnostic> warnings;
  std::string text;  // source text, for positions
  std::string file;

  int find(std::string_view name) const;
  SourcePos pos(size_t offset) const { return position_in(text, offset, file); }
  [[noreturn]] void fail(ErrorKind kind, const std::string& message, size_t offset) const;
  void warn(const std::string& message, size_t offset);
};

// Resolves references and checks the grammar: missing start rule, undefined rules (error),
// unused rules (warning), rules that derive no string (error). Throws tollgate::Error.
void check_grammar_ir(Grammar& grammar);

// Front-ends. Throw tollgate::Error (kParse with file:line:column) on malformed text.
Grammar parse_gbnf(std::string_view text, std::string_view file = {});
Grammar parse_ebnf(std::string_view text, std::string_view file = {});
Grammar parse_lark(std::string_view text, std::string_view file = {});
// format: "gbnf", "ebnf" or "lark". Parses and checks.
Grammar parse_grammar(std::string_view text, std::string_view format, std::string_view file = {});

// The built-in JSON grammar (RFC 8259) in GBNF.
std::string_view builtin_json_gbnf();

}  // namespace tollgate::grammar
