// Grammar lint (see grammar_lint.hpp). Takes: a resolved Grammar or a Regex. Gives: warnings with
// codes; GBNF-like text of the IR.
#include "grammar/grammar_lint.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <sstream>

#include "fsm/cfg.hpp"
#include "fsm/dfa.hpp"

namespace tollgate::fsm {
// fsm/cfg.cpp: (minimum, maximum) width in characters, UINT64_MAX for unbounded.
std::pair<uint64_t, uint64_t> regex_width(const grammar::Regex& r);
}  // namespace tollgate::fsm

namespace tollgate::grammar {

namespace {

bool nullable_expr(const GExpr& e, const std::vector<char>& n) {
  switch (e.kind) {
    case GExpr::Kind::kEmpty: return true;
    case GExpr::Kind::kRegex: return fsm::regex_nullable(*e.regex);
    case GExpr::Kind::kRef: return e.rule >= 0 && n[e.rule];
    case GExpr::Kind::kSeq:
      return std::all_of(e.items.begin(), e.items.end(), [&](auto& i) { return nullable_expr(*i, n); });
    case GExpr::Kind::kAlt:
      return std::any_of(e.items.begin(), e.items.end(), [&](auto& i) { return nullable_expr(*i, n); });
    case GExpr::Kind::kRepeat: return e.min == 0 || nullable_expr(*e.items[0], n);
  }
  return false;
}

// {the language is not empty, it has a non-empty string}, in one pass (structural; automata and set
// operations count as yes for both).
std::pair<bool, bool> regex_strings(const Regex& r) {
  switch (r.kind) {
    case Regex::Kind::kEmpty: return {true, false};
    case Regex::Kind::kNothing: return {false, false};
    case Regex::Kind::kChars: return {!r.chars.empty(), !r.chars.empty()};
    case Regex::Kind::kBytes: return {r.byte_lo <= r.byte_hi, r.byte_lo <= r.byte_hi};
    case Regex::Kind::kConcat: {
      bool all = true, some = false;
      for (auto& i : r.items) {
        auto [ne, has] = regex_strings(*i);
        all = all && ne;
        some = some || has;
      }
      return {all, all && some};
    }
    case Regex::Kind::kAlt: {
      bool any = false, some = false;
      for (auto& i : r.items) {
        auto [ne, has] = regex_strings(*i);
        any = any || ne;
        some = some || has;
      }
      return {any, some};
    }
    case Regex::Kind::kRepeat: {
      auto [ne, has] = regex_strings(*r.items[0]);
      return {r.min == 0 || ne, r.max > 0 && has};
    }
    case Regex::Kind::kJsonString: return regex_strings(*r.items[0]);
    case Regex::Kind::kIntersect:
    case Regex::Kind::kComplement:
    case Regex::Kind::kAutomaton: return {true, true};
  }
  return {true, true};
}

bool regex_has_nonempty(const Regex& r) { return regex_strings(r).second; }

bool has_nonempty(const GExpr& e, const std::vector<char>& ne, const std::vector<char>& prod) {
  auto productive = [&](const GExpr& x) {
    // productive iff not (derives nothing); approximated through the rule values and leaves
    std::function<bool(const GExpr&)> p = [&](const GExpr& y) -> bool {
      switch (y.kind) {
        case GExpr::Kind::kEmpty: return true;
        case GExpr::Kind::kRegex: return regex_nonempty(*y.regex);
        case GExpr::Kind::kRef: return prod[y.rule] != 0;
        case GExpr::Kind::kSeq: return std::all_of(y.items.begin(), y.items.end(), [&](auto& i) { return p(*i); });
        case GExpr::Kind::kAlt: return std::any_of(y.items.begin(), y.items.end(), [&](auto& i) { return p(*i); });
        case GExpr::Kind::kRepeat: return y.min == 0 || p(*y.items[0]);
      }
      return false;
    };
    return p(x);
  };
  switch (e.kind) {
    case GExpr::Kind::kEmpty: return false;
    case GExpr::Kind::kRegex: return regex_has_nonempty(*e.regex);
    case GExpr::Kind::kRef: return ne[e.rule] != 0;
    case GExpr::Kind::kSeq:
      if (!productive(e)) return false;
      return std::any_of(e.items.begin(), e.items.end(), [&](auto& i) { return has_nonempty(*i, ne, prod); });
    case GExpr::Kind::kAlt:
      return std::any_of(e.items.begin(), e.items.end(),
                         [&](auto& i) { return productive(*i) && has_nonempty(*i, ne, prod); });
    case GExpr::Kind::kRepeat: return e.max > 0 && has_nonempty(*e.items[0], ne, prod);
  }
  return false;
}

// Rules that can appear first (after nullable items) in e.
void left_refs(const GExpr& e, const std::vector<char>& nullable, std::vector<int>& out) {
  switch (e.kind) {
    case GExpr::Kind::kRef: out.push_back(e.rule); break;
    case GExpr::Kind::kSeq:
      for (auto& i : e.items) {
        left_refs(*i, nullable, out);
        if (!nullable_expr(*i, nullable)) break;
      }
      break;
    case GExpr::Kind::kAlt:
      for (auto& i : e.items) left_refs(*i, nullable, out);
      break;
    case GExpr::Kind::kRepeat:
      if (e.max > 0) left_refs(*e.items[0], nullable, out);
      break;
    default: break;
  }
}

// Strongly connected components (Tarjan, iterative). comp[v] = component id.
std::vector<int> sccs(const std::vector<std::vector<int>>& adj) {
  const int n = static_cast<int>(adj.size());
  std::vector<int> index(n, -1), low(n, 0), comp(n, -1), stack;
  std::vector<char> on(n, 0);
  int counter = 0, ncomp = 0;
  struct Frame {
    int v;
    size_t next;
  };
  for (int s = 0; s < n; ++s) {
    if (index[s] >= 0) continue;
    std::vector<Frame> call{{s, 0}};
    index[s] = low[s] = counter++;
    stack.push_back(s);
    on[s] = 1;
    while (!call.empty()) {
      Frame& f = call.back();
      if (f.next < adj[f.v].size()) {
        int w = adj[f.v][f.next++];
        if (index[w] < 0) {
          index[w] = low[w] = counter++;
          stack.push_back(w);
          on[w] = 1;
          call.push_back({w, 0});
        } else if (on[w]) {
          low[f.v] = std::min(low[f.v], index[w]);
        }
        continue;
      }
      int v = f.v;
      call.pop_back();
      if (!call.empty()) low[call.back().v] = std::min(low[call.back().v], low[v]);
      if (low[v] == index[v]) {
        int w;
        do {
          w = stack.back();
          stack.pop_back();
          on[w] = 0;
          comp[w] = ncomp;
        } while (w != v);
        ++ncomp;
      }
    }
  }
  return comp;
}

// Lark terminals' bodies as one regex each (terminal references are acyclic: check_grammar_ir),
// memoised per rule, so a chain of terminals is built once. A chain deeper than the nesting limit
// is a kLimit error (the caller skips the check; the compile reports it).
class TerminalRegexes {
 public:
  explicit TerminalRegexes(const Grammar& g) : g_(g), memo_(g.rules.size()), failed_(g.rules.size(), 0) {}
  RegexPtr of(const GExpr& e, uint32_t depth = 0) {
    if (depth > g_.options.max_nesting) throw Error(ErrorKind::kLimit, "terminal nested too deeply");
    switch (e.kind) {
      case GExpr::Kind::kEmpty: return Regex::empty();
      case GExpr::Kind::kRegex: return e.regex;
      case GExpr::Kind::kRef: {
        if (failed_[e.rule]) throw Error(ErrorKind::kLimit, "terminal nested too deeply");
        if (!memo_[e.rule]) {
          try {
            memo_[e.rule] = of(*g_.rules[e.rule].body, depth + 1);
          } catch (const Error&) {
            failed_[e.rule] = 1;
            throw;
          }
        }
        return memo_[e.rule];
      }
      case GExpr::Kind::kSeq:
      case GExpr::Kind::kAlt: {
        std::vector<RegexPtr> items;
        for (auto& i : e.items) items.push_back(of(*i, depth));
        return e.kind == GExpr::Kind::kSeq ? Regex::concat(std::move(items)) : Regex::alt(std::move(items));
      }
      case GExpr::Kind::kRepeat: return Regex::repeat(of(*e.items[0], depth), e.min, e.max);
    }
    return Regex::empty();
  }
  // The whole terminal rule r.
  RegexPtr rule(int r) {
    GExpr ref;
    ref.kind = GExpr::Kind::kRef;
    ref.rule = r;
    return of(ref);
  }

 private:
  const Grammar& g_;
  std::vector<RegexPtr> memo_;
  std::vector<char> failed_;
};

bool set_operations_free(const Regex& r) {
  if (r.kind == Regex::Kind::kIntersect || r.kind == Regex::Kind::kComplement ||
      r.kind == Regex::Kind::kJsonString || r.kind == Regex::Kind::kAutomaton)
    return false;
  return std::all_of(r.items.begin(), r.items.end(), [](auto& i) { return set_operations_free(*i); });
}

// Alternatives of `whole` (a kAlt) that the leftmost-first automaton never ends a match in. Each
// index j >= 1 returned: L(alternative j) ∩ L(leftmost-first(whole)) = ∅, i.e. whenever alternative j
// could match, an earlier alternative's match is the one a backtracking engine returns.
std::vector<size_t> shadowed_alternatives(const std::vector<RegexPtr>& alts) {
  std::vector<size_t> out;
  if (alts.size() < 2) return out;
  RegexPtr whole = Regex::alt(alts);
  if (!set_operations_free(*whole)) return out;
  fsm::DfaOptions small;
  small.max_states = 20000;
  small.max_memory_bytes = size_t{8} << 20;
  try {
    fsm::Dfa lf = fsm::compile_leftmost_first_dfa(*whole, small);
    for (size_t j = 1; j < alts.size(); ++j) {
      fsm::Dfa dj = fsm::compile_dfa(*alts[j], small);
      if (dj.empty()) continue;  // a branch matching nothing is another problem
      if (!fsm::regex_nullable(*alts[j]) || regex_has_nonempty(*alts[j]))
        if (fsm::intersect(lf, dj, small).empty()) out.push_back(j);
    }
  } catch (const Error&) {
    // over the small budget: not a cheap check here
  }
  return out;
}

void walk(const GExpr& e, const std::function<void(const GExpr&)>& f) {
  f(e);
  for (auto& i : e.items) walk(*i, f);
}

std::string quote_cp(char32_t c, bool in_class) {
  std::string out;
  switch (c) {
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    case '\\': return "\\\\";
    case '"': return in_class ? "\"" : "\\\"";
    case ']': return in_class ? "\\]" : "]";
    case '-': return in_class ? "\\-" : "-";
    case '^': return in_class ? "\\^" : "^";
    default: break;
  }
  char buf[16];
  if (c < 0x20 || c == 0x7F) {
    std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(c));
    return buf;
  }
  if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
    std::snprintf(buf, sizeof buf, "\\U%08X", static_cast<unsigned>(c));
    return buf;
  }
  // UTF-8
  if (c < 0x80) out += static_cast<char>(c);
  else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
  return out;
}

bool single_cp(const Regex& r) {
  return r.kind == Regex::Kind::kChars && r.chars.ranges().size() == 1 && r.chars.ranges()[0].lo == r.chars.ranges()[0].hi;
}

std::string repeat_suffix(uint32_t min, uint32_t max) {
  if (min == 0 && max == kUnbounded) return "*";
  if (min == 1 && max == kUnbounded) return "+";
  if (min == 0 && max == 1) return "?";
  if (max == kUnbounded) return "{" + std::to_string(min) + ",}";
  if (min == max) return "{" + std::to_string(min) + "}";
  return "{" + std::to_string(min) + "," + std::to_string(max) + "}";
}

bool is_atom_text(const std::string& s) {
  return !s.empty() && s.find(' ') == std::string::npos;
}

}  // namespace

std::vector<char> nullable_rules(const Grammar& g) { return rule_fixpoint(g, nullable_expr); }

std::string regex_to_text(const Regex& r) {
  switch (r.kind) {
    case Regex::Kind::kEmpty: return "\"\"";
    case Regex::Kind::kChars: {
      if (single_cp(r)) return "\"" + quote_cp(r.chars.ranges()[0].lo, false) + "\"";
      if (r.chars == CharSet::any()) return "[^]";
      std::string s = "[";
      for (auto& cr : r.chars.ranges()) {
        s += quote_cp(cr.lo, true);
        if (cr.hi != cr.lo) s += "-" + quote_cp(cr.hi, true);
      }
      return s + "]";
    }
    case Regex::Kind::kConcat: {
      if (std::all_of(r.items.begin(), r.items.end(), [](auto& i) { return single_cp(*i); })) {
        std::string s = "\"";
        for (auto& i : r.items) s += quote_cp(i->chars.ranges()[0].lo, false);
        return s + "\"";
      }
      std::string s = "(";
      for (size_t i = 0; i < r.items.size(); ++i) s += (i ? " " : "") + regex_to_text(*r.items[i]);
      return s + ")";
    }
    case Regex::Kind::kAlt: {
      std::string s = "(";
      for (size_t i = 0; i < r.items.size(); ++i) s += (i ? " | " : "") + regex_to_text(*r.items[i]);
      return s + ")";
    }
    case Regex::Kind::kRepeat: {
      std::string inner = regex_to_text(*r.items[0]);
      if (!is_atom_text(inner) || inner[0] == '/') inner = "(" + inner + ")";
      return inner + repeat_suffix(r.min, r.max) + (r.lazy ? "?" : "");
    }
    default: return "/" + r.to_string() + "/";
  }
}

std::string expr_to_text(const Grammar& g, const GExpr& e) {
  switch (e.kind) {
    case GExpr::Kind::kEmpty: return "\"\"";
    case GExpr::Kind::kRegex: return regex_to_text(*e.regex);
    case GExpr::Kind::kRef: return e.rule >= 0 ? g.rules[e.rule].name : e.name;
    case GExpr::Kind::kSeq: {
      std::string s;
      for (size_t i = 0; i < e.items.size(); ++i) {
        std::string t = expr_to_text(g, *e.items[i]);
        if (e.items[i]->kind == GExpr::Kind::kAlt) t = "( " + t + " )";
        s += (i ? " " : "") + t;
      }
      return s;
    }
    case GExpr::Kind::kAlt: {
      std::string s;
      for (size_t i = 0; i < e.items.size(); ++i) s += (i ? " | " : "") + expr_to_text(g, *e.items[i]);
      return s;
    }
    case GExpr::Kind::kRepeat: {
      std::string t = expr_to_text(g, *e.items[0]);
      auto k = e.items[0]->kind;
      if (k == GExpr::Kind::kSeq || k == GExpr::Kind::kAlt || k == GExpr::Kind::kRepeat) t = "( " + t + " )";
      return t + repeat_suffix(e.min, e.max);
    }
  }
  return "";
}

std::string grammar_to_text(const Grammar& g) {
  std::ostringstream os;
  size_t width = 0;
  for (auto& r : g.rules) width = std::max(width, r.name.size());
  for (size_t i = 0; i < g.rules.size(); ++i) {
    const GRule& r = g.rules[i];
    if (r.removed) continue;
    os << r.name << std::string(width - r.name.size(), ' ') << " ::= " << expr_to_text(g, *r.body);
    if (static_cast<int>(i) == g.start) os << "    # start";
    else if (r.is_terminal) os << "    # terminal";
    os << "\n";
  }
  for (auto& i : g.ignore) os << "%ignore " << expr_to_text(g, *i) << "\n";
  return os.str();
}

std::vector<Diagnostic> lint_grammar(const Grammar& g, std::string_view format) {
  std::vector<Diagnostic> out;
  if (g.start < 0) return out;
  auto warn = [&](const std::string& msg, SourcePos where, const char* code) {
    out.push_back({msg, std::move(where), code, Severity::kWarning});
  };
  const std::vector<char> nullable = nullable_rules(g);
  const std::vector<char> prod = productive_rules(g);

  // The language is {""}.
  std::vector<char> ne = rule_fixpoint(g, [&](const GExpr& e, const std::vector<char>& v) {
    return has_nonempty(e, v, prod);
  });
  if (prod[g.start] && !ne[g.start])
    warn("the language of '" + g.rules[g.start].name + "' is only the empty string", g.name_span(g.rules[g.start]),
         codes::kOnlyEmptyString);

  // Left recursion: GBNF's own implementation (llama.cpp) refuses it.
  if (format == "gbnf") {
    std::vector<std::vector<int>> adj(g.rules.size());
    for (size_t r = 0; r < g.rules.size(); ++r) left_refs(*g.rules[r].body, nullable, adj[r]);
    std::vector<int> comp = sccs(adj);
    std::vector<int> size(g.rules.size(), 0);
    for (int c : comp) ++size[c];
    std::vector<char> reported(g.rules.size(), 0);
    for (size_t r = 0; r < g.rules.size(); ++r) {
      int c = comp[r];
      bool self = std::find(adj[r].begin(), adj[r].end(), static_cast<int>(r)) != adj[r].end();
      if (reported[c] || (size[c] < 2 && !self)) continue;
      reported[c] = 1;
      std::string via;
      if (size[c] > 1) {
        int shown = 0;
        for (size_t q = 0; q < g.rules.size(); ++q)
          if (comp[q] == c && q != r && shown++ < 3) via += (shown > 1 ? ", '" : "'") + g.rules[q].name + "'";
        if (shown > 3) via += ", ...";
        via = " (through " + via + ")";
      }
      warn("rule '" + g.rules[r].name + "' is left-recursive" + via +
               ": tollgate parses it, but llama.cpp's GBNF refuses left recursion",
           g.name_span(g.rules[r]), codes::kLeftRecursion);
    }
  }

  // Per expression: terminals/leaves matching only "", duplicate alternatives, nullable repeats.
  auto check_expr = [&](const GExpr& body) {
    walk(body, [&](const GExpr& e) {
      // ("" is how GBNF writes the empty string on purpose; a Lark regex or literal is never empty there)
      if (e.kind == GExpr::Kind::kRegex && (e.regex->kind != Regex::Kind::kEmpty || g.leftmost_first) &&
          regex_nonempty(*e.regex) && !regex_has_nonempty(*e.regex))
        warn("this terminal matches only the empty string", g.span(e), codes::kEmptyTerminal);
      if (e.kind == GExpr::Kind::kRepeat && e.max == 0)
        warn("repeated zero times: this matches only the empty string", g.span(e), codes::kEmptyTerminal);
      if (e.kind == GExpr::Kind::kAlt) {
        std::vector<std::string> seen;
        for (auto& i : e.items) {
          std::string t = expr_to_text(g, *i);
          if (std::find(seen.begin(), seen.end(), t) != seen.end())
            warn("alternative " + t + " is listed twice: the grammar is ambiguous", g.span(*i),
                 codes::kDuplicateAlternative);
          seen.push_back(std::move(t));
        }
      }
      if (e.kind == GExpr::Kind::kRepeat && e.max > 1 && nullable_expr(*e.items[0], nullable))
        warn("repetition of something that matches the empty string: ambiguous (write the inner part "
             "without '?' / '*', or drop the outer repetition)",
             g.span(e), codes::kNullableRepeat);
    });
  };
  for (auto& r : g.rules) check_expr(*r.body);

  // Lark terminals (leftmost-first): alternatives an earlier one always beats.
  if (g.leftmost_first) {
    TerminalRegexes terminals(g);
    // last first: a chain of terminals written top-down is then built bottom-up, without recursion
    for (size_t ri = g.rules.size(); ri-- > 0;) try {
      const GRule& r = g.rules[ri];
      if (r.is_terminal && r.body->kind == GExpr::Kind::kAlt) {
        // in the order Lark tries them (fsm/cfg.cpp does the same): longest maximum width first, then
        // longest minimum width, ties in grammar order
        std::vector<size_t> order(r.body->items.size());
        std::vector<RegexPtr> by_index;
        for (size_t k = 0; k < order.size(); ++k) order[k] = k, by_index.push_back(terminals.of(*r.body->items[k]));
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
          auto wa = fsm::regex_width(*by_index[a]), wb = fsm::regex_width(*by_index[b]);
          if (wa.second != wb.second) return wa.second > wb.second;
          return wa.first > wb.first;
        });
        std::vector<RegexPtr> alts;
        for (size_t k : order) alts.push_back(by_index[k]);
        for (size_t j : shadowed_alternatives(alts))
          warn("alternative " + expr_to_text(g, *r.body->items[order[j]]) + " of terminal " + r.name +
                   " never matches: an alternative Lark tries before it (longest first, then in order) always "
                   "matches first",
               g.span(*r.body->items[order[j]]), codes::kShadowedAlternative);
      }
      bool refers = false;
      walk(*r.body, [&](const GExpr& e) { refers = refers || e.kind == GExpr::Kind::kRef; });
      // (terminals made of other terminals are not rebuilt here: long chains would make it quadratic)
      if (r.is_terminal && !refers) {
        RegexPtr re = terminals.rule(static_cast<int>(ri));
        if (re->kind != Regex::Kind::kEmpty && regex_nonempty(*re) && !regex_has_nonempty(*re))
          warn("terminal " + r.name + " matches only the empty string", g.name_span(r), codes::kEmptyTerminal);
      }
      walk(*r.body, [&](const GExpr& e) {
        if (e.kind != GExpr::Kind::kRegex || e.regex->kind != Regex::Kind::kAlt) return;
        for (size_t j : shadowed_alternatives(e.regex->items))
          warn("alternative " + std::to_string(j + 1) + " (" + regex_to_text(*e.regex->items[j]) +
                   ") of this regex never matches: an earlier alternative matches first",
               g.span(e), codes::kShadowedAlternative);
      });
    } catch (const Error&) {
      // a terminal chain past the nesting limit: the compile reports it
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::make_pair(a.pos.line, a.pos.column) < std::make_pair(b.pos.line, b.pos.column);
  });
  return out;
}

}  // namespace tollgate::grammar
