// Grammar IR → Cfg: find the regular rules, turn regular sub-expressions into lexemes (deduplicated
// by their rendering) and everything else into productions; repetitions become left-recursive
// helper nonterminals (cheap for Earley).
#include "fsm/cfg.hpp"
#include "fsm/budget.hpp"
#include "fsm/hash.hpp"

#include "tollgate/error.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <sstream>
#include <utility>

namespace tollgate::fsm {

using grammar::GExpr;
using grammar::Regex;
using grammar::RegexPtr;
using grammar::RegexIdentity;

bool regex_nullable(const Regex& r) {
  switch (r.kind) {
    case Regex::Kind::kEmpty: return true;
    case Regex::Kind::kNothing:
    case Regex::Kind::kChars:
    case Regex::Kind::kBytes: return false;
    case Regex::Kind::kConcat:
      for (auto& i : r.items)
        if (!regex_nullable(*i)) return false;
      return true;
    case Regex::Kind::kAlt:
      for (auto& i : r.items)
        if (regex_nullable(*i)) return true;
      return false;
    case Regex::Kind::kRepeat: return r.min == 0 || regex_nullable(*r.items[0]);
    case Regex::Kind::kIntersect:
      for (auto& i : r.items)
        if (!regex_nullable(*i)) return false;
      return true;
    case Regex::Kind::kComplement: return !regex_nullable(*r.items[0]);
    case Regex::Kind::kJsonString: return regex_nullable(*r.items[0]);
    case Regex::Kind::kAutomaton:  // a malformed automaton is refused when it is compiled
      return r.automaton && r.automaton->start < r.automaton->finals.size() && r.automaton->finals[r.automaton->start];
  }
  return false;
}

// (not in the anonymous namespace: grammar/grammar_lint.cpp orders Lark alternatives with it too)

// (minimum, maximum) length in characters; UINT64_MAX for unbounded.
std::pair<uint64_t, uint64_t> regex_width(const grammar::Regex& r) {
  constexpr uint64_t kInf = UINT64_MAX;
  auto add = [](uint64_t a, uint64_t b) { return a > kInf - b ? kInf : a + b; };
  auto mul = [](uint64_t a, uint64_t n) { return a == 0 || n == 0 ? 0 : (a > kInf / n ? kInf : a * n); };
  switch (r.kind) {
    case Regex::Kind::kEmpty: return {0, 0};
    case Regex::Kind::kNothing: return {0, 0};
    case Regex::Kind::kChars:
    case Regex::Kind::kBytes: return {1, 1};
    case Regex::Kind::kConcat: {
      std::pair<uint64_t, uint64_t> w{0, 0};
      for (auto& i : r.items) {
        auto x = regex_width(*i);
        w = {add(w.first, x.first), add(w.second, x.second)};
      }
      return w;
    }
    case Regex::Kind::kAlt: {
      std::pair<uint64_t, uint64_t> w{kInf, 0};
      for (auto& i : r.items) {
        auto x = regex_width(*i);
        w = {std::min(w.first, x.first), std::max(w.second, x.second)};
      }
      return w;
    }
    case Regex::Kind::kRepeat: {
      auto x = regex_width(*r.items[0]);
      return {mul(x.first, r.min), r.max == grammar::kUnbounded ? (x.second ? kInf : 0) : mul(x.second, r.max)};
    }
    case Regex::Kind::kIntersect: {
      std::pair<uint64_t, uint64_t> w{0, kInf};
      for (auto& i : r.items) {
        auto x = regex_width(*i);
        w = {std::max(w.first, x.first), std::min(w.second, x.second)};
      }
      return w;
    }
    case Regex::Kind::kJsonString: {
      auto x = regex_width(*r.items[0]);
      return {x.first, mul(x.second, 6)};  // an escape is at most 6 bytes (\u00xx)
    }
    case Regex::Kind::kComplement:
    case Regex::Kind::kAutomaton: return {0, kInf};
  }
  return {0, 0};
}

namespace {

bool is_star(const Regex& r) { return r.kind == Regex::Kind::kRepeat && r.min == 0 && r.max == grammar::kUnbounded; }

// Repetition with the simplifications that keep nested counted repeats of stars small.
RegexPtr repeat_of(RegexPtr item, uint32_t min, uint32_t max) {
  if (is_star(*item) && max >= 1) return item;  // (x*){m,n} = x*
  if (item->kind == Regex::Kind::kRepeat && item->min == 0 && item->max == 1 && max == grammar::kUnbounded)
    return Regex::repeat(item->items[0], 0, grammar::kUnbounded);  // (x?)* = x*
  if (regex_nullable(*item) && min > 0) min = 0;
  return Regex::repeat(std::move(item), min, max);
}

size_t expr_size(const GExpr& e, const std::vector<size_t>& rule_size) {
  switch (e.kind) {
    case GExpr::Kind::kEmpty: return 1;
    case GExpr::Kind::kRegex: return 1;
    case GExpr::Kind::kRef: return rule_size[e.rule];
    case GExpr::Kind::kSeq:
    case GExpr::Kind::kAlt: {
      size_t s = 1;
      for (auto& i : e.items) s += expr_size(*i, rule_size);
      return s;
    }
    case GExpr::Kind::kRepeat: {
      size_t inner = expr_size(*e.items[0], rule_size);
      size_t copies = e.max == grammar::kUnbounded ? std::max<uint32_t>(e.min, 1) : e.max;
      return 1 + inner * std::min<size_t>(copies, 1000);
    }
  }
  return 1;
}

// AST nodes of a regex leaf with its counted repetitions expanded (a bounded one counts its item
// max times, an unbounded one min times, at least once), counted up to `cap`: at most about `cap`
// nodes are visited.
size_t regex_nodes(const Regex& r, size_t cap) {
  if (r.kind == Regex::Kind::kRepeat && !r.items.empty()) {
    const size_t copies = std::max<uint32_t>(r.max == grammar::kUnbounded ? r.min : r.max, 1);
    const size_t inner = regex_nodes(*r.items[0], cap);
    return inner >= cap / copies ? cap : std::min(cap, 1 + inner * copies);
  }
  size_t n = 1;
  for (auto& i : r.items) {
    if (n >= cap) break;
    n += regex_nodes(*i, cap - n);
  }
  return std::min(n, cap);
}

// Regex nodes that inlining `e` would build, counted up to max_copied + 1 (each leaf by its own
// nodes, a bounded repetition by its copies); `heavy` is set when a bounded repetition of two or
// more copies would copy more than `max_copied` nodes: that repetition stays in the grammar (one
// lexeme for the item, shared by every copy) rather than multiplying the item's automaton.
size_t expr_weight(const GExpr& e, const std::vector<size_t>& rule_weight, size_t max_copied, bool& heavy) {
  const size_t cap = max_copied == SIZE_MAX ? SIZE_MAX : max_copied + 1;
  auto add = [cap](size_t a, size_t b) { return b > cap - std::min(a, cap) ? cap : a + b; };
  switch (e.kind) {
    case GExpr::Kind::kEmpty: return 1;
    case GExpr::Kind::kRegex: return regex_nodes(*e.regex, cap);
    case GExpr::Kind::kRef: return std::min(rule_weight[e.rule], cap);
    case GExpr::Kind::kSeq:
    case GExpr::Kind::kAlt: {
      size_t s = 1;
      for (auto& i : e.items) s = add(s, expr_weight(*i, rule_weight, max_copied, heavy));
      return s;
    }
    case GExpr::Kind::kRepeat: {
      const size_t inner = expr_weight(*e.items[0], rule_weight, max_copied, heavy);
      const size_t copies = std::max<uint32_t>(e.max == grammar::kUnbounded ? e.min : e.max, 1);
      if (e.max != grammar::kUnbounded && copies >= 2 && inner > max_copied / copies) heavy = true;
      return inner > (cap - 1) / copies ? cap : add(1, inner * copies);
    }
  }
  return 1;
}

// Depth of the regex that inlining `e` would build (and of the to_regex recursion that builds
// it): a reference costs its rule's depth plus one.
size_t expr_depth(const GExpr& e, const std::vector<size_t>& rule_depth) {
  if (e.kind == GExpr::Kind::kRef) return rule_depth[e.rule] + 1;
  size_t d = 0;
  for (auto& i : e.items) d = std::max(d, expr_depth(*i, rule_depth));
  return d + 1;
}

void collect_refs(const GExpr& e, std::vector<int>& out) {
  if (e.kind == GExpr::Kind::kRef) out.push_back(e.rule);
  for (auto& i : e.items) collect_refs(*i, out);
}

class Builder {
 public:
  Builder(const grammar::Grammar& g, const CfgOptions& o) : g_(g), opt_(o) {}

  Cfg build() {
    classify_rules();
    cfg_.prods.push_back({0, {}});  // S' → start, filled below
    cfg_.nt_names.push_back("<start>");
    cfg_.nt_free.push_back(0);
    cfg_.prods_of.emplace_back();
    Sym start = rule_symbol(g_.start);
    cfg_.prods[0].rhs = {start};
    cfg_.prods_of[0].push_back(0);
    fixed_ = g_.fixed_lexemes;
    lf_ = g_.leftmost_first;
    for (auto& ig : g_.ignore) {
      RegexPtr r = to_regex(*ig);
      uint32_t l = lexeme_id(r, true);
      (void)l;
    }
    // Rule bodies are expanded from a worklist, not by recursion: a chain of 100,000 rules
    // must not nest 100,000 calls.
    while (!pending_.empty()) {
      check_budget();
      int r = pending_.back();
      pending_.pop_back();
      expand_rule(r);
    }
    compute_nullable();
    compute_last();
    cfg_.leftmost_first = std::find(cfg_.lexeme_lf.begin(), cfg_.lexeme_lf.end(), 1) != cfg_.lexeme_lf.end();
    return std::move(cfg_);
  }

 private:
  // Rule r is regular when no reference path from r comes back to r, when its inlined regex
  // stays within max_inline_nodes nodes and max_inline_depth levels and, under fixed lexemes
  // (Lark with %ignore), when it is a terminal. Depth-first with an explicit stack (rule chains
  // may be 100,000 long); a rule is classified after every rule it refers to.
  void classify_rules() {
    size_t n = g_.rules.size();
    regular_.assign(n, -1);
    size_.assign(n, 0);
    weight_.assign(n, 0);
    depth_.assign(n, 0);
    uses_.assign(n, 0);
    std::vector<char> state(n, 0);  // 0 new, 1 on the path, 2 done
    struct Frame {
      int rule;
      std::vector<int> refs;
      size_t next = 0;
      bool ok = true;
    };
    std::vector<Frame> stack;
    auto push = [&](int r) {
      state[r] = 1;
      Frame f{r, {}, 0, true};
      collect_refs(*g_.rules[r].body, f.refs);
      for (int q : f.refs) ++uses_[q];
      stack.push_back(std::move(f));
    };
    for (auto& ig : g_.ignore) {
      std::vector<int> refs;
      collect_refs(*ig, refs);
      for (int q : refs) ++uses_[q];
    }
    for (size_t root = 0; root < n; ++root) {
      if (state[root] != 0) continue;
      push(static_cast<int>(root));
      while (!stack.empty()) {
        Frame& f = stack.back();
        if (f.next < f.refs.size()) {
          int q = f.refs[f.next];
          if (state[q] == 0) {
            push(q);  // looked at again once q is done (f may have moved: not used below)
            continue;
          }
          ++f.next;
          if (state[q] == 1 || !regular_[q]) f.ok = false;  // a cycle, or a structural rule
          continue;
        }
        int r = f.rule;
        bool ok = f.ok;
        const grammar::GRule& rule = g_.rules[r];
        if (g_.fixed_lexemes && !rule.is_terminal && !rule.free_lexing) ok = false;
        if (rule.structural) ok = false;
        if (rule.is_terminal) ok = true;  // terminals were checked non-recursive
        if (ok) {
          size_[r] = expr_size(*rule.body, size_);
          depth_[r] = expr_depth(*rule.body, depth_);
          bool heavy = false;
          weight_[r] = expr_weight(*rule.body, weight_, opt_.max_copied_nodes, heavy);
          if (heavy && !rule.is_terminal) ok = false;
          if (rule.is_terminal && depth_[r] > max_depth())
            g_.fail(ErrorKind::kLimit,
                    "terminal " + rule.name + " nests " + std::to_string(depth_[r]) +
                        " levels deep through the terminals it refers to (more than " +
                        std::to_string(max_depth()) +
                        "); shorten the chain, or raise the limit (CompileOptions::max_grammar_nesting)",
                    rule.offset);
          if ((size_[r] > opt_.max_inline_nodes || depth_[r] > max_depth()) && !rule.is_terminal) ok = false;
        }
        regular_[r] = ok ? 1 : 0;
        state[r] = 2;
        // A rule's refs are all classified before it (stack order): its regex, when it is
        // inlined, never recurses into an unclassified rule.
        stack.pop_back();
      }
    }
  }

  size_t max_depth() const { return std::min<size_t>(opt_.max_inline_depth, g_.options.max_nesting); }

  bool regular(const GExpr& e) const {
    switch (e.kind) {
      case GExpr::Kind::kEmpty:
      case GExpr::Kind::kRegex: return true;
      // A rule lexed otherwise than the one referring to it (%json in Lark) is a nonterminal.
      case GExpr::Kind::kRef: return regular_[e.rule] != 0 && g_.rules[e.rule].free_lexing == free_;
      default:
        if (fixed_) return false;
        if (e.kind == GExpr::Kind::kRepeat && e.max != grammar::kUnbounded && e.max >= 2) {
          bool heavy = false;
          expr_weight(e, weight_, opt_.max_copied_nodes, heavy);
          if (heavy) return false;
        }
        for (auto& i : e.items)
          if (!regular(*i)) return false;
        return true;
    }
  }

  RegexPtr to_regex(const GExpr& e) {
    switch (e.kind) {
      case GExpr::Kind::kEmpty: return Regex::empty();
      case GExpr::Kind::kRegex: return e.regex;
      case GExpr::Kind::kRef: {
        // Memoised for rules used more than once; a rule used once (a link of a chain) is built
        // in place, so a chain does not keep every suffix of itself alive (quadratic memory).
        // The recursion is bounded: a regular rule's depth_ is at most max_depth().
        if (uses_[e.rule] <= 1) return to_regex(*g_.rules[e.rule].body);
        auto it = rule_regex_.find(e.rule);
        if (it != rule_regex_.end()) return it->second;
        RegexPtr r = to_regex(*g_.rules[e.rule].body);
        rule_regex_.emplace(e.rule, r);
        return r;
      }
      case GExpr::Kind::kSeq: {
        std::vector<RegexPtr> items;
        for (auto& i : e.items) items.push_back(to_regex(*i));
        return Regex::concat(std::move(items));
      }
      case GExpr::Kind::kAlt: {
        std::vector<RegexPtr> items;
        for (auto& i : e.items) items.push_back(to_regex(*i));
        if (lf_) {
          // Lark orders the alternatives of a terminal longest first (by maximum, then minimum
          // width) so that the regex engine prefers the longest; its last key, the length of
          // the pattern's text, is not kept here: ties stay in grammar order.
          std::stable_sort(items.begin(), items.end(), [](const RegexPtr& a, const RegexPtr& b) {
            auto wa = regex_width(*a), wb = regex_width(*b);
            if (wa.second != wb.second) return wa.second > wb.second;
            return wa.first > wb.first;
          });
        }
        return Regex::alt(std::move(items));
      }
      case GExpr::Kind::kRepeat: return repeat_of(to_regex(*e.items[0]), e.min, e.max);
    }
    return Regex::nothing();
  }

  // One lexeme per distinct regex and kind (ignored; leftmost-first; plain), told apart by structure.
  uint32_t lexeme_id(const RegexPtr& r, bool ignore) {
    auto kind_of = [&](bool ign, bool lf) { return ign ? 0 : lf ? 1 : 2; };
    const int kind = kind_of(ignore, lf_);
    size_t h = RegexIdentity::hash(*r);
    hash_mix(h, static_cast<uint64_t>(kind));
    std::vector<uint32_t>& same_hash = lexeme_ids_[h];
    for (uint32_t id : same_hash)
      if (kind_of(cfg_.is_ignore[id], cfg_.lexeme_lf[id]) == kind && RegexIdentity::equal(*cfg_.lexemes[id], *r))
        return id;
    uint32_t id = static_cast<uint32_t>(cfg_.lexemes.size());
    cfg_.lexemes.push_back(r);
    cfg_.is_ignore.push_back(ignore);
    cfg_.lexeme_lf.push_back(lf_);
    same_hash.push_back(id);
    return id;
  }

  int32_t new_nt(const std::string& name) { return new_nt(name, free_); }
  int32_t new_nt(const std::string& name, bool free) {
    cfg_.nt_names.push_back(name);
    cfg_.nt_free.push_back(free);
    cfg_.prods_of.emplace_back();
    return static_cast<int32_t>(cfg_.nt_names.size() - 1);
  }
  void add_prod(int32_t lhs, std::vector<Sym> rhs) {
    cfg_.prods_of[lhs].push_back(static_cast<uint32_t>(cfg_.prods.size()));
    cfg_.prods.push_back({lhs, std::move(rhs)});
  }

  // A regular part → lexeme symbol (or a nullable wrapper nonterminal); returns false when the
  // part only matches the empty string (contributes no symbol).
  bool regex_symbol(const RegexPtr& r, Sym& out) {
    if (r->kind == Regex::Kind::kEmpty) return false;
    bool nullable = regex_nullable(*r);
    Sym lex = lexeme_sym(lexeme_id(r, false));
    if (!nullable) {
      out = lex;
      return true;
    }
    auto it = opt_nt_.find(lex);
    if (it != opt_nt_.end()) {
      out = it->second;
      return true;
    }
    int32_t nt = new_nt("<opt " + std::to_string(lexeme_of(lex)) + ">");
    add_prod(nt, {lex});
    add_prod(nt, {});
    opt_nt_[lex] = nt;
    out = nt;
    return true;
  }

  Sym rule_symbol(int r) {
    auto it = rule_nt_.find(r);
    if (it != rule_nt_.end()) return it->second;
    int32_t nt = new_nt(g_.rules[r].name, g_.rules[r].free_lexing);
    rule_nt_[r] = nt;
    pending_.push_back(r);  // its productions: from build()'s worklist
    return nt;
  }

  void expand_rule(int r) {
    int32_t nt = rule_nt_.at(r);
    free_ = g_.rules[r].free_lexing;
    fixed_ = g_.fixed_lexemes && !free_;
    lf_ = g_.leftmost_first && !g_.rules[r].free_lexing;
    if (regular_[r]) {
      Sym s;
      if (regex_symbol(to_regex(*g_.rules[r].body), s)) add_prod(nt, {s});
      else add_prod(nt, {});
      return;
    }
    for (auto& alt : alternatives(*g_.rules[r].body)) add_prod(nt, std::move(alt));
  }

  // Appends the symbols of `e` to `out`.
  void append(const GExpr& e, std::vector<Sym>& out) {
    if (regular(e)) {
      Sym s;
      if (regex_symbol(to_regex(e), s)) out.push_back(s);
      return;
    }
    switch (e.kind) {
      case GExpr::Kind::kRef: out.push_back(rule_symbol(e.rule)); return;
      case GExpr::Kind::kSeq: {
        // Merge maximal runs of regular items into one lexeme (a reference to an own_lexeme rule
        // ends a run and is a lexeme of its own).
        std::vector<RegexPtr> run;
        auto flush = [&] {
          if (run.empty()) return;
          Sym s;
          if (regex_symbol(run.size() == 1 ? run[0] : Regex::concat(run), s)) out.push_back(s);
          run.clear();
        };
        for (auto& i : e.items) {
          if (regular(*i) && !fixed_ && !(i->kind == GExpr::Kind::kRef && g_.rules[i->rule].own_lexeme)) {
            run.push_back(to_regex(*i));
          } else {
            flush();
            append(*i, out);
          }
        }
        flush();
        return;
      }
      case GExpr::Kind::kAlt: {
        int32_t nt = new_nt("<alt>");
        for (auto& alt : alternatives(e)) add_prod(nt, std::move(alt));
        out.push_back(nt);
        return;
      }
      case GExpr::Kind::kRepeat: out.push_back(repeat_symbol(e)); return;
      default: return;
    }
  }

  std::vector<std::vector<Sym>> alternatives(const GExpr& e) {
    std::vector<std::vector<Sym>> alts;
    if (e.kind == GExpr::Kind::kAlt && !regular(e)) {
      for (auto& i : e.items) {
        auto sub = alternatives(*i);
        for (auto& a : sub) alts.push_back(std::move(a));
      }
      return alts;
    }
    alts.emplace_back();
    append(e, alts.back());
    return alts;
  }

  Sym repeat_symbol(const GExpr& e) {
    std::vector<Sym> item;
    append(*e.items[0], item);
    Sym x;
    if (item.size() == 1) {
      x = item[0];
    } else {
      x = new_nt("<group>");
      add_prod(x, item);
    }
    // star(x): S → ε | S x
    auto star = [&]() {
      int32_t s = new_nt("<star>");
      add_prod(s, {});
      add_prod(s, {s, x});
      return s;
    };
    int32_t nt = new_nt("<repeat>");
    std::vector<Sym> rhs(e.min, x);
    if (e.max == grammar::kUnbounded) {
      rhs.push_back(star());
    } else if (e.max > e.min) {
      // up to k more: O_k → ε | x O_{k-1}
      Sym tail = -0;
      int32_t prev = -1;
      for (uint32_t k = 1; k <= e.max - e.min; ++k) {
        int32_t o = new_nt("<upto>");
        add_prod(o, {});
        if (prev < 0) add_prod(o, {x});
        else add_prod(o, {x, prev});
        prev = o;
      }
      tail = prev;
      rhs.push_back(tail);
    }
    add_prod(nt, rhs);
    return nt;
  }

  // Nullable nonterminals: least fixed point by a worklist (a production is looked at again
  // when a nonterminal on its right side turns nullable), linear in the grammar's size.
  void compute_nullable() {
    size_t nnt = cfg_.num_nonterminals();
    cfg_.nullable.assign(nnt, 0);
    std::vector<std::vector<uint32_t>> users(nnt);  // nonterminal → productions that mention it
    std::vector<uint32_t> missing(cfg_.prods.size(), 0);  // right-side symbols not known nullable
    std::vector<int32_t> work;
    for (uint32_t p = 0; p < cfg_.prods.size(); ++p) {
      for (Sym s : cfg_.prods[p].rhs) {
        if (is_lexeme(s)) {
          missing[p] = UINT32_MAX;  // never nullable (a lexeme never matches the empty string)
          break;
        }
        ++missing[p];
        users[s].push_back(p);
      }
      if (missing[p] == 0 && !cfg_.nullable[cfg_.prods[p].lhs]) {
        cfg_.nullable[cfg_.prods[p].lhs] = 1;
        work.push_back(cfg_.prods[p].lhs);
      }
    }
    while (!work.empty()) {
      int32_t x = work.back();
      work.pop_back();
      for (uint32_t p : users[x]) {
        if (missing[p] == UINT32_MAX || --missing[p] != 0) continue;
        int32_t lhs = cfg_.prods[p].lhs;
        if (!cfg_.nullable[lhs]) {
          cfg_.nullable[lhs] = 1;
          work.push_back(lhs);
        }
      }
    }
  }

  // Cfg::lexeme_last: a symbol is "followed" when something comes after it in a production, or
  // it ends a production of a followed nonterminal; a worklist marks each nonterminal once.
  void compute_last() {
    cfg_.lexeme_last.assign(cfg_.lexemes.size(), 1);
    if (std::find(cfg_.is_ignore.begin(), cfg_.is_ignore.end(), 1) != cfg_.is_ignore.end()) {
      std::fill(cfg_.lexeme_last.begin(), cfg_.lexeme_last.end(), 0);
      return;
    }
    std::vector<char> followed(cfg_.num_nonterminals(), 0);
    std::vector<int32_t> work;
    auto mark = [&](Sym s) {
      if (is_lexeme(s)) cfg_.lexeme_last[lexeme_of(s)] = 0;
      else if (!followed[s]) followed[s] = 1, work.push_back(s);
    };
    for (const auto& p : cfg_.prods)
      for (size_t i = 0; i + 1 < p.rhs.size(); ++i) mark(p.rhs[i]);
    while (!work.empty()) {
      int32_t a = work.back();
      work.pop_back();
      for (uint32_t p : cfg_.prods_of[a])
        if (!cfg_.prods[p].rhs.empty()) mark(cfg_.prods[p].rhs.back());
    }
  }

  const grammar::Grammar& g_;
  CfgOptions opt_;
  // How the rule being expanded is lexed: Grammar::fixed_lexemes / leftmost_first, unless it is
  // a GRule::free_lexing rule (then neither).
  bool free_ = false, fixed_ = false, lf_ = false;
  Cfg cfg_;
  std::vector<int> regular_;
  std::vector<size_t> size_;
  std::vector<size_t> weight_;    // per regular rule: expr_weight of its body
  std::vector<size_t> depth_;     // per regular rule: expr_depth of its body (inlined)
  std::vector<uint32_t> uses_;    // references to each rule (rule bodies and %ignore)
  std::vector<int> pending_;      // rules with a nonterminal whose productions are not built yet
  std::map<int, RegexPtr> rule_regex_;
  std::map<int, int32_t> rule_nt_;
  std::unordered_map<size_t, std::vector<uint32_t>> lexeme_ids_;  // structural hash → lexemes
  std::map<Sym, int32_t> opt_nt_;
};

}  // namespace

Cfg build_cfg(const grammar::Grammar& grammar, const CfgOptions& options) {
  return Builder(grammar, options).build();
}

std::string Cfg::describe() const {
  std::ostringstream os;
  for (size_t l = 0; l < lexemes.size(); ++l)
    os << "L" << l << (is_ignore[l] ? " (ignore)" : "") << " = " << lexemes[l]->to_string() << "\n";
  for (auto& p : prods) {
    os << nt_names[p.lhs] << "#" << p.lhs << " ->";
    for (Sym s : p.rhs) {
      if (is_lexeme(s)) os << " L" << lexeme_of(s);
      else os << " " << nt_names[s] << "#" << s;
    }
    os << "\n";
  }
  return os.str();
}

}  // namespace tollgate::fsm
