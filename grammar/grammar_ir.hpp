// Grammar IR — what the GBNF, EBNF and Lark front-ends produce: named rules whose bodies are
// expressions over regular leaves (literals, character classes, /regex/ terminals as Regex AST)
// and references to other rules. check_grammar_ir() resolves references and runs the semantic
// checks (undefined rules, unused rules, rules that derive no string). fsm/cfg.cpp turns it into
// lexemes + productions.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammar/diagnostic_codes.hpp"
#include "grammar/regex_ast.hpp"
#include "grammar/unique_items.hpp"
#include "tollgate/compiler.hpp"
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
  // Byte offset just past the expression's text (0: not known). Leaves and references get it from
  // the front-end; sequences and alternatives take their last item's, a repetition its quantifier's.
  size_t end = 0;
  // Nesting depth of this expression: 1 for a leaf, reference or empty; 1 + the deepest item
  // otherwise (set by the constructors below). Bounded by GrammarOptions::max_nesting.
  uint32_t depth = 1;

  static GExprPtr empty(size_t offset = 0);
  static GExprPtr leaf(RegexPtr regex, size_t offset = 0, size_t end = 0);
  // `rule`: the rule's index when the caller already knows it (analyse_grammar checks it by name).
  static GExprPtr ref(std::string name, size_t offset = 0, size_t end = 0, int rule = -1);
  static GExprPtr seq(std::vector<GExprPtr> items, size_t offset = 0);
  static GExprPtr alt(std::vector<GExprPtr> items, size_t offset = 0);
  static GExprPtr repeat(GExprPtr item, uint32_t min, uint32_t max, size_t offset = 0, size_t end = 0);
  // The same node with references resolved.
  static GExprPtr with_rule(const GExpr& ref, int rule);
};

// Default of GrammarOptions::max_nesting (and CompileOptions::max_grammar_nesting). The front-ends
// (Spirit X3) and the passes after them (checks, fsm/cfg.cpp, the NFA) recurse once per level.
// Measured (docs/benchmarks.md): the Lark parser takes ~1.4 KiB of stack per nested group, GBNF
// ~0.7 KiB, the CFG builder ~0.5 KiB per expression level; 500 levels stay under 700 KiB, so a
// 1 MiB thread stack (and the 8 MiB main stack) is safe with room for the caller.
inline constexpr uint32_t kDefaultMaxNesting = 500;
inline constexpr uint32_t kDefaultMaxRepeat = 10000;

// Limits of the grammar front-ends.
struct GrammarOptions {
  // Groups `( )` / `[ ]` nested deeper than this, or an expression nested deeper than this
  // (groups, repetitions of repetitions `x**`, sequences inside alternatives), is a kLimit error
  // at its position: deeper nesting would overflow the stack of the recursive passes.
  uint32_t max_nesting = kDefaultMaxNesting;
  // A counted repetition ({m,n} in GBNF/EBNF, ~ n..m in Lark) with a bound above this is a kLimit
  // error at its position: x{1000000000} would otherwise expand until memory runs out.
  uint32_t max_repeat = kDefaultMaxRepeat;
  // Lark `%json { schema }`: how the embedded schema is compiled.
  JsonSchemaOptions json_schema;
};

struct GRule {
  std::string name;
  GExprPtr body;
  size_t offset = 0;
  bool is_terminal = false;  // Lark UPPERCASE terminal: always one lexeme
  bool is_builtin = false;   // imported (Lark common.X): never reported as unused
  // Never inlined into a lexeme, even when regular (JSON Schema object member chains: inlined,
  // their alternatives multiply into large lexeme DFAs).
  bool structural = false;
  // Regular, and a reference to it in a sequence is a lexeme of its own rather than part of the
  // run of regular items around it (JSON Schema values: the number, string or enum after a key's
  // colon is the same regex on many properties and in many schemas, so its automaton and index
  // entries are shared; merged, every property's separator, key and value made one automaton of
  // its own, built when a mask first reached it).
  bool own_lexeme = false;
  // Lexed as GBNF is (every cut followed, regular runs merged into one lexeme) inside a grammar
  // whose other rules are Lark's fixed leftmost-first terminals: the rules of a JSON Schema
  // embedded with %json. A reference between the two kinds is never inlined.
  bool free_lexing = false;
  // Emptied by the front-end's pruning (the start does not reach it): kept in place so that every
  // later rule keeps its index, not shown (grammar_to_text) and not counted (Grammar::rule_count).
  bool removed = false;
};

enum class Severity { kError, kWarning, kNote };
const char* to_string(Severity s);  // "error", "warning", "note"

// A warning (or, inside tollgate::Error, an error) with its place in the grammar text and its
// stable code (grammar/diagnostic_codes.hpp; empty when none applies).
struct Diagnostic {
  std::string message;
  SourcePos pos;
  std::string code;
  Severity severity = Severity::kWarning;
  // "file:line:col: warning: message [CODE]" + source line + caret
  std::string pretty() const;
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
  GrammarOptions options;  // the limits the front-end was given (checks read them too)
  // JSON Schema: the arrays whose items must be distinct (uniqueItems), tracked at run time over
  // the emitted bytes by the context-free back-end; null when there are none. A grammar that
  // embeds a schema (tool calls, Lark %json) refuses a schema that has one.
  std::shared_ptr<const UniquePlan> unique_items;

  // The rules that are not GRule::removed.
  size_t rule_count() const;
  // Index of the first rule named `name`, or -1. Hashed (rules appended since the last call are
  // indexed on the way), so grammars of 100,000 rules stay linear.
  int find(std::string_view name) const;
  SourcePos pos(size_t offset) const { return position_in(text, offset, file); }
  // The span of an expression's text (from its first item to its end; one character when the end
  // is not known) and of a rule's name, for diagnostics that underline what they are about.
  SourcePos span(const GExpr& e) const;
  SourcePos name_span(const GRule& r) const;
  [[noreturn]] void fail(ErrorKind kind, const std::string& message, size_t offset,
                         const char* code = "") const;
  void warn(const std::string& message, size_t offset, const char* code = "");
  // Fails (kLimit at `offset`) when an expression of `depth` exceeds options.max_nesting.
  void check_nesting(uint32_t depth, size_t offset) const;

 private:
  mutable std::unordered_map<std::string, int> name_index_;
  mutable size_t indexed_ = 0;  // rules[0, indexed_) are in name_index_
};

// Appends the rules of `guest` (a grammar of its own, e.g. a compiled JSON Schema) to `host`,
// each renamed `prefix` + its name and placed at `offset` in the host's text; with
// `free_lexing` they are marked GRule::free_lexing (a schema inside Lark). Returns the name, in
// the host, of the guest's start rule. Guest warnings are not copied (the caller places them).
std::string embed_grammar(Grammar& host, Grammar guest, const std::string& prefix, size_t offset, bool free_lexing);

// Resolves references and checks the grammar: missing start rule, undefined rules (error),
// unused and unreachable rules (warning), rules that derive no string (error when the start rule
// reaches them), an empty language. Throws the first error as tollgate::Error (with its code);
// the warnings go to grammar.warnings.
void check_grammar_ir(Grammar& grammar);
// The first of those checks only (start rule, nesting depth, references resolved, terminals), for
// a front-end that has already removed every rule that derives no string (by productive_rules'
// meaning), left none it does not reach but with an empty body, and refuses an empty language
// itself (the JSON Schema compiler): the second phase would find nothing to say.
void check_pruned_grammar_ir(Grammar& grammar);
// The same checks, collecting instead of throwing: every error of the first phase that has any
// (nesting depth; undefined rules; terminals that refer to rules or to themselves; then
// productivity), then the warnings. References that resolve are resolved in `grammar`.
std::vector<Diagnostic> analyse_grammar(Grammar& grammar);

// True when the regex's language is not empty (structural; kIntersect, kComplement and kAutomaton
// count as not empty: their DFA tells).
bool regex_nonempty(const Regex& r);
// Calls f for every resolved reference in e (depth-first, left to right).
template <class F>
void for_each_ref(const GExpr& e, F&& f) {
  if (e.kind == GExpr::Kind::kRef && e.rule >= 0) f(e);
  for (auto& i : e.items) for_each_ref(*i, f);
}
// Least fixed point of a monotone property of rules over a resolved grammar: value[r] is 1 when
// holds(body of r, value) once the rules it refers to have their final values.
std::vector<char> rule_fixpoint(const Grammar& g,
                                const std::function<bool(const GExpr&, const std::vector<char>&)>& holds);
// Rules that derive at least one string.
std::vector<char> productive_rules(const Grammar& g);

// Front-ends. Throw tollgate::Error (kParse with file:line:column) on malformed text, kLimit
// beyond options.max_nesting.
Grammar parse_gbnf(std::string_view text, std::string_view file = {}, const GrammarOptions& options = {});
Grammar parse_ebnf(std::string_view text, std::string_view file = {}, const GrammarOptions& options = {});
Grammar parse_lark(std::string_view text, std::string_view file = {}, const GrammarOptions& options = {});
// format: "gbnf", "ebnf" or "lark". Parses and checks.
Grammar parse_grammar(std::string_view text, std::string_view format, std::string_view file = {},
                      const GrammarOptions& options = {});

// The built-in JSON grammar (RFC 8259) in GBNF.
std::string_view builtin_json_gbnf();

}  // namespace tollgate::grammar
