// Grammar IR helpers and the semantic checks shared by all grammar front-ends.
// Takes: a Grammar straight from a front-end (references by name). Gives: references resolved
// to rule indices, warnings for unused rules, tollgate::Error for undefined rules, a missing
// start rule, recursive terminals and rules that derive no string.
#include "grammar/grammar_ir.hpp"

#include "grammar/diagnostic_codes.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <sstream>

namespace tollgate::grammar {

namespace {
uint32_t depth_over(const std::vector<GExprPtr>& items) {
  uint32_t d = 0;
  for (auto& i : items) d = std::max(d, i->depth);
  return d + 1;
}
size_t end_over(const std::vector<GExprPtr>& items) {
  size_t end = 0;
  for (auto& i : items) end = std::max(end, i->end);
  return end;
}
// Where an expression's text begins: a sequence at its first item (its offset may be the blank after
// a '|', or the rule's name for a rule's first alternative), a repetition at its item (its offset is
// the quantifier's), a group at its '(' or '['.
size_t begin_of(const GExpr& e, std::string_view text) {
  // a group, from its '(' or '[' to its ')' or ']' (ExprBuilder::close)
  auto is = [&](size_t at, const char* chars) { return at < text.size() && std::strchr(chars, text[at]) && text[at]; };
  if (is(e.offset, "([") && e.end > e.offset && is(e.end - 1, ")]")) return e.offset;
  switch (e.kind) {
    case GExpr::Kind::kSeq: return e.items.empty() ? e.offset : begin_of(*e.items.front(), text);
    case GExpr::Kind::kRepeat: return std::min(e.offset, begin_of(*e.items.front(), text));
    case GExpr::Kind::kAlt: return e.items.empty() ? e.offset : begin_of(*e.items.front(), text);
    default: return e.offset;
  }
}
}  // namespace

SourcePos Grammar::span(const GExpr& e) const {
  size_t b = begin_of(e, text), end = e.end;
  if (end <= b || end > text.size()) return pos(b);
  if (text[b] == '(' || text[b] == '[') {  // a group: its closing bracket too
    size_t k = end;
    while (k < text.size() && (text[k] == ' ' || text[k] == '\t')) ++k;
    if (k < text.size() && (text[k] == ')' || text[k] == ']')) end = k + 1;
  }
  return span_in(text, b, end, file);
}

SourcePos Grammar::name_span(const GRule& r) const {
  if (r.offset + r.name.size() <= text.size() && std::string_view(text).substr(r.offset, r.name.size()) == r.name)
    return span_in(text, r.offset, r.offset + r.name.size(), file);
  return pos(r.offset);
}

GExprPtr GExpr::empty(size_t offset) {
  auto e = std::make_shared<GExpr>();
  e->kind = Kind::kEmpty;
  e->offset = offset;
  return e;
}
GExprPtr GExpr::leaf(RegexPtr regex, size_t offset, size_t end) {
  auto e = std::make_shared<GExpr>();
  e->kind = Kind::kRegex;
  e->regex = std::move(regex);
  e->offset = offset;
  e->end = end;
  return e;
}
GExprPtr GExpr::ref(std::string name, size_t offset, size_t end, int rule) {
  auto e = std::make_shared<GExpr>();
  e->kind = Kind::kRef;
  e->end = end ? end : offset + name.size();
  e->name = std::move(name);
  e->offset = offset;
  e->rule = rule;
  return e;
}
GExprPtr GExpr::seq(std::vector<GExprPtr> items, size_t offset) {
  if (items.size() == 1) return items[0];
  if (items.empty()) return empty(offset);
  auto e = std::make_shared<GExpr>();
  e->kind = Kind::kSeq;
  e->items = std::move(items);
  e->offset = offset;
  e->end = end_over(e->items);
  e->depth = depth_over(e->items);
  return e;
}
GExprPtr GExpr::alt(std::vector<GExprPtr> items, size_t offset) {
  if (items.size() == 1) return items[0];
  auto e = std::make_shared<GExpr>();
  e->kind = Kind::kAlt;
  e->items = std::move(items);
  e->offset = offset;
  e->end = end_over(e->items);
  e->depth = depth_over(e->items);
  return e;
}
GExprPtr GExpr::repeat(GExprPtr item, uint32_t min, uint32_t max, size_t offset, size_t end) {
  auto e = std::make_shared<GExpr>();
  e->kind = Kind::kRepeat;
  e->items = {std::move(item)};
  e->min = min;
  e->max = max;
  e->offset = offset;
  e->end = std::max(end, end_over(e->items));
  e->depth = depth_over(e->items);
  return e;
}
GExprPtr GExpr::with_rule(const GExpr& ref, int rule) {
  auto e = std::make_shared<GExpr>(ref);
  e->rule = rule;
  return e;
}

const char* to_string(Severity s) {
  switch (s) {
    case Severity::kError: return "error";
    case Severity::kWarning: return "warning";
    case Severity::kNote: return "note";
  }
  return "warning";
}

std::string Diagnostic::pretty() const {
  std::ostringstream os;
  if (!pos.file.empty()) os << pos.file << ":";
  if (pos.line > 0) os << pos.line << ":" << pos.column << ":";
  if (os.tellp() > 0) os << " ";
  os << to_string(severity) << ": " << message;
  if (!code.empty()) os << " [" << code << "]";
  os << caret_display(pos);
  return os.str();
}

size_t Grammar::rule_count() const {
  return static_cast<size_t>(std::count_if(rules.begin(), rules.end(), [](const GRule& r) { return !r.removed; }));
}

int Grammar::find(std::string_view name) const {
  // Rules are appended and not renamed; an index that no longer fits (rules removed or renamed)
  // is rebuilt.
  auto lookup = [&]() -> int {
    for (; indexed_ < rules.size(); ++indexed_) name_index_.emplace(rules[indexed_].name, static_cast<int>(indexed_));
    auto it = name_index_.find(std::string(name));
    if (it == name_index_.end()) return -1;
    if (static_cast<size_t>(it->second) >= rules.size() || rules[it->second].name != name) return -2;
    return it->second;
  };
  if (indexed_ > rules.size()) indexed_ = rules.size() + 1;  // forces the rebuild below
  int r = indexed_ > rules.size() ? -2 : lookup();
  if (r == -2) {
    name_index_.clear();
    indexed_ = 0;
    r = lookup();
  }
  return r < 0 ? -1 : r;
}

void Grammar::check_nesting(uint32_t depth, size_t offset) const {
  if (depth <= options.max_nesting) return;
  fail(ErrorKind::kLimit,
       "expression nested deeper than " + std::to_string(options.max_nesting) +
           " levels (groups, [ ] and repetitions of repetitions); move inner parts into named rules, "
           "or raise the limit (CompileOptions::max_grammar_nesting)",
       offset);
}

void Grammar::fail(ErrorKind kind, const std::string& message, size_t offset, const char* code) const {
  throw Error(kind, message, pos(offset), code);
}

void Grammar::warn(const std::string& message, size_t offset, const char* code) {
  warnings.push_back({message, pos(offset), code});
}

namespace {


// Resolves references; an undefined one is recorded in `errors` and left unresolved (rule -1).
// Gives the resolved copy, or null when nothing below `e` changes (most bodies: no copy, and no
// count of a shared pointer moved per node).
GExprPtr resolved(const Grammar& g, const GExpr& e, std::vector<Diagnostic>& errors) {
  switch (e.kind) {
    case GExpr::Kind::kRef: {
      // Already resolved (the JSON Schema front-end sets the index): rule names are unique (the
      // front-ends refuse a second definition), so an index whose rule has the name is the one.
      if (e.rule >= 0 && static_cast<size_t>(e.rule) < g.rules.size() && g.rules[e.rule].name == e.name)
        return nullptr;
      int r = g.find(e.name);
      if (r < 0) {
        errors.push_back({"undefined rule '" + e.name + "'", g.span(e), codes::kUndefinedRule, Severity::kError});
        return nullptr;
      }
      if (e.rule == r) return nullptr;
      return GExpr::with_rule(e, r);
    }
    case GExpr::Kind::kSeq:
    case GExpr::Kind::kAlt:
    case GExpr::Kind::kRepeat: {
      // copied only where a reference below changes (shared subtrees stay shared)
      std::shared_ptr<GExpr> copy;
      for (size_t k = 0; k < e.items.size(); ++k) {
        GExprPtr item = resolved(g, *e.items[k], errors);
        if (!item) continue;
        if (!copy) copy = std::make_shared<GExpr>(e);
        copy->items[k] = std::move(item);
      }
      return copy;
    }
    default: return nullptr;
  }
}
void resolve(const Grammar& g, GExprPtr& e, std::vector<Diagnostic>& errors) {
  if (GExprPtr r = resolved(g, *e, errors)) e = std::move(r);
}

bool productive(const GExpr& e, const std::vector<char>& prod) {
  switch (e.kind) {
    case GExpr::Kind::kEmpty: return true;
    case GExpr::Kind::kRegex: return regex_nonempty(*e.regex);
    case GExpr::Kind::kRef: return prod[e.rule] != 0;
    case GExpr::Kind::kSeq:
      for (auto& i : e.items)
        if (!productive(*i, prod)) return false;
      return true;
    case GExpr::Kind::kAlt:
      for (auto& i : e.items)
        if (productive(*i, prod)) return true;
      return false;
    case GExpr::Kind::kRepeat: return e.min == 0 || productive(*e.items[0], prod);
  }
  return false;
}

// Past max_nesting: the construct at level max_nesting + 1 on the deepest path.
void check_depth(const Grammar& g, const GExprPtr& body) {
  if (body->depth <= g.options.max_nesting) return;
  const GExpr* e = body.get();
  for (uint32_t level = 1; level <= g.options.max_nesting && !e->items.empty(); ++level) {
    const GExpr* deepest = e->items[0].get();
    for (auto& i : e->items)
      if (i->depth > deepest->depth) deepest = i.get();
    e = deepest;
  }
  g.check_nesting(body->depth, e->offset);
}

Diagnostic error_diag(const Error& e) {
  return {e.message(), e.pos(), e.code().empty() ? codes::kLimit : e.code(), Severity::kError};
}

// Terminals (Lark) may reference only terminals, and not recursively. Depth-first with an explicit
// stack: a chain of 100,000 terminals must not recurse 100,000 deep. Errors go to `errors`.
void check_terminals(const Grammar& g, std::vector<Diagnostic>& errors) {
  std::vector<char> state(g.rules.size(), 0);  // 0 new, 1 on the path, 2 done
  struct Frame {
    int rule;
    std::vector<const GExpr*> refs;
    size_t next = 0;
  };
  std::vector<Frame> stack;
  auto push = [&](int r) {
    state[r] = 1;
    Frame f{r, {}, 0};
    for_each_ref(*g.rules[r].body, [&](const GExpr& ref) { f.refs.push_back(&ref); });
    stack.push_back(std::move(f));
  };
  for (size_t t = 0; t < g.rules.size(); ++t) {
    if (!g.rules[t].is_terminal || state[t] != 0) continue;
    push(static_cast<int>(t));
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next == f.refs.size()) {
        state[f.rule] = 2;
        stack.pop_back();
        continue;
      }
      const GExpr& ref = *f.refs[f.next++];
      if (!g.rules[ref.rule].is_terminal) {
        errors.push_back({"terminal " + g.rules[f.rule].name + " refers to rule '" + ref.name + "'",
                          g.span(ref), codes::kTerminalRefersToRule, Severity::kError});
        continue;
      }
      if (state[ref.rule] == 1) {
        errors.push_back({"circular reference in terminal " + g.rules[stack.front().rule].name + " (through " +
                              ref.name + "): a terminal is one regular expression and cannot recurse",
                          g.span(ref), codes::kRecursiveTerminal, Severity::kError});
        continue;
      }
      if (state[ref.rule] == 0) push(ref.rule);
    }
  }
}

}  // namespace

bool regex_nonempty(const Regex& r) {
  switch (r.kind) {
    case Regex::Kind::kEmpty: return true;
    case Regex::Kind::kNothing: return false;
    case Regex::Kind::kChars: return !r.chars.empty();
    case Regex::Kind::kBytes: return r.byte_lo <= r.byte_hi;
    case Regex::Kind::kConcat:
      for (auto& i : r.items)
        if (!regex_nonempty(*i)) return false;
      return true;
    case Regex::Kind::kAlt:
      for (auto& i : r.items)
        if (regex_nonempty(*i)) return true;
      return false;
    case Regex::Kind::kRepeat: return r.min == 0 || regex_nonempty(*r.items[0]);
    // Not decided structurally: the lexeme's DFA tells (an empty one is refused there).
    case Regex::Kind::kIntersect:
    case Regex::Kind::kComplement:
    case Regex::Kind::kAutomaton: return true;
    case Regex::Kind::kJsonString: return regex_nonempty(*r.items[0]);
  }
  return false;
}

std::vector<char> rule_fixpoint(const Grammar& g,
                                const std::function<bool(const GExpr&, const std::vector<char>&)>& holds) {
  // A worklist (a rule is looked at again when a rule it refers to turns true), so long chains of
  // rules stay linear.
  std::vector<char> value(g.rules.size(), 0);
  std::vector<std::vector<int>> referrers(g.rules.size());
  for (size_t r = 0; r < g.rules.size(); ++r)
    for_each_ref(*g.rules[r].body, [&](const GExpr& ref) {
      auto& v = referrers[ref.rule];
      if (v.empty() || v.back() != static_cast<int>(r)) v.push_back(static_cast<int>(r));
    });
  // The last rules first: front-ends define (GBNF, Lark) or make (JSON Schema) a rule after the
  // rules that refer to it, so what it refers to is mostly decided when it is looked at.
  // A rule is in the list at most once.
  std::vector<int> work;
  for (size_t r = 0; r < g.rules.size(); ++r) work.push_back(static_cast<int>(r));
  std::vector<char> queued(g.rules.size(), 1);
  while (!work.empty()) {
    int r = work.back();
    work.pop_back();
    queued[r] = 0;
    if (value[r] || !holds(*g.rules[r].body, value)) continue;
    value[r] = 1;
    for (int q : referrers[r])
      if (!value[q] && !queued[q]) {
        queued[q] = 1;
        work.push_back(q);
      }
  }
  return value;
}

std::vector<char> productive_rules(const Grammar& g) { return rule_fixpoint(g, productive); }

namespace {
// The first phase of analyse_grammar: start rule, nesting depth, references, terminals.
void check_structure(Grammar& g, std::vector<Diagnostic>& errors) {
  if (g.start < 0) {
    errors.push_back({"grammar has no start rule", g.pos(0), codes::kNoStartRule, Severity::kError});
    return;
  }
  // First: every pass below recurses once per nesting level.
  try {
    for (auto& r : g.rules) check_depth(g, r.body);
    for (auto& i : g.ignore) check_depth(g, i);
  } catch (const Error& e) {
    errors.push_back(error_diag(e));
    return;
  }
  for (auto& r : g.rules) resolve(g, r.body, errors);
  for (auto& i : g.ignore) resolve(g, i, errors);
  if (!errors.empty()) return;
  check_terminals(g, errors);
}

void throw_first_error(const std::vector<Diagnostic>& ds) {
  for (auto& d : ds) {
    if (d.severity != Severity::kError) continue;
    ErrorKind kind = d.code == codes::kLimit ? ErrorKind::kLimit : ErrorKind::kGrammar;
    throw Error(kind, d.message, d.pos, d.code);
  }
}
}  // namespace

std::vector<Diagnostic> analyse_grammar(Grammar& g) {
  std::vector<Diagnostic> errors;
  check_structure(g, errors);
  if (!errors.empty()) return errors;

  // Reachability from the start rule and %ignore; `referenced`: by some other rule at all.
  std::vector<char> used(g.rules.size(), 0), referenced(g.rules.size(), 0);
  for (size_t r = 0; r < g.rules.size(); ++r)
    for_each_ref(*g.rules[r].body, [&](const GExpr& ref) {
      if (ref.rule != static_cast<int>(r)) referenced[ref.rule] = 1;
    });
  std::vector<int> work{g.start};
  used[g.start] = 1;
  auto mark = [&](const GExpr& e) {
    for_each_ref(e, [&](const GExpr& ref) {
      if (!used[ref.rule]) {
        used[ref.rule] = 1;
        work.push_back(ref.rule);
      }
    });
  };
  for (auto& i : g.ignore) mark(*i);
  while (!work.empty()) {
    int r = work.back();
    work.pop_back();
    mark(*g.rules[r].body);
  }
  std::vector<Diagnostic> warnings;
  const std::string& start = g.rules[g.start].name;
  for (size_t r = 0; r < g.rules.size(); ++r) {
    if (used[r] || g.rules[r].is_builtin) continue;
    if (!referenced[r])
      warnings.push_back({"rule '" + g.rules[r].name + "' is never used", g.name_span(g.rules[r]),
                          codes::kUnusedRule, Severity::kWarning});
    else
      warnings.push_back({"rule '" + g.rules[r].name + "' is unreachable: only rules that '" + start +
                              "' never reaches refer to it",
                          g.name_span(g.rules[r]), codes::kUnreachableRule, Severity::kWarning});
  }

  std::vector<char> prod = productive_rules(g);
  if (!prod[g.start])
    errors.push_back({"rule '" + start + "' derives no string: the language is empty", g.name_span(g.rules[g.start]),
                      codes::kEmptyLanguage, Severity::kError});
  for (size_t r = 0; r < g.rules.size(); ++r) {
    if (prod[r] || static_cast<int>(r) == g.start) continue;
    std::string msg = "rule '" + g.rules[r].name + "' derives no string";
    if (used[r])
      errors.push_back({msg + " (every alternative needs itself or another such rule)", g.name_span(g.rules[r]),
                        codes::kUnproductiveRule, Severity::kError});
    else
      warnings.push_back({msg, g.name_span(g.rules[r]), codes::kUnproductiveRule, Severity::kWarning});
  }
  errors.insert(errors.end(), warnings.begin(), warnings.end());
  return errors;
}

namespace {
// `e` with every reference renamed prefix + name (nodes without references are shared).
GExprPtr prefix_refs(const GExprPtr& e, const std::string& prefix) {
  if (e->kind == GExpr::Kind::kRef) {
    auto r = std::make_shared<GExpr>(*e);
    r->name = prefix + e->name;
    r->rule = -1;
    return r;
  }
  if (e->items.empty()) return e;
  std::shared_ptr<GExpr> out;
  for (size_t i = 0; i < e->items.size(); ++i) {
    GExprPtr x = prefix_refs(e->items[i], prefix);
    if (x == e->items[i]) continue;
    if (!out) out = std::make_shared<GExpr>(*e);
    out->items[i] = std::move(x);
  }
  return out ? GExprPtr(out) : e;
}
}  // namespace

std::string embed_grammar(Grammar& host, Grammar guest, const std::string& prefix, size_t offset, bool free_lexing) {
  if (guest.start < 0) host.fail(ErrorKind::kGrammar, "embedded grammar has no start rule", offset);
  std::string start = prefix + guest.rules[guest.start].name;
  for (auto& r : guest.rules) {
    r.name = prefix + r.name;
    r.body = prefix_refs(r.body, prefix);
    r.offset = offset;
    r.free_lexing = free_lexing;
    host.rules.push_back(std::move(r));
  }
  return start;
}

void check_grammar_ir(Grammar& g) {
  std::vector<Diagnostic> ds = analyse_grammar(g);
  throw_first_error(ds);
  for (auto& d : ds) g.warnings.push_back(std::move(d));
}

void check_pruned_grammar_ir(Grammar& g) {
  std::vector<Diagnostic> errors;
  check_structure(g, errors);
  throw_first_error(errors);
}

Grammar parse_grammar(std::string_view text, std::string_view format, std::string_view file,
                      const GrammarOptions& options) {
  Grammar g;
  if (format == "gbnf") g = parse_gbnf(text, file, options);
  else if (format == "ebnf") g = parse_ebnf(text, file, options);
  else if (format == "lark") g = parse_lark(text, file, options);
  else
    throw Error(ErrorKind::kInvalidArgument,
                "unknown grammar format '" + std::string(format) + "' (gbnf, lark or ebnf)");
  check_grammar_ir(g);
  return g;
}

std::string_view builtin_json_gbnf() {
  // RFC 8259: JSON-text = ws value ws. Written so that regular runs merge into few lexemes
  // (an object key with its colon is one lexeme; a string value is one lexeme).
  static const char* kText = R"(# Built-in JSON grammar (RFC 8259)
root   ::= ws value ws
value  ::= object | array | string | number | "true" | "false" | "null"
object ::= "{" ws "}" | "{" ws member ( ws "," ws member )* ws "}"
member ::= string ws ":" ws value
array  ::= "[" ws "]" | "[" ws value ( ws "," ws value )* ws "]"
string ::= "\"" ( [^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\""
number ::= "-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?
ws     ::= [ \t\n\r]*
)";
  return kText;
}

}  // namespace tollgate::grammar
