// Regex parser (Boost.Spirit X3): pattern text (UTF-8) → grammar::Regex AST.
// Takes: a regex in the syntax of docs/regex.md (RE2/ECMAScript/PCRE common ground) and
// RegexOptions. Gives: a RegexPtr, or a tollgate::Error naming the construct and its column.
// The X3 grammar recognises the syntax and its semantic actions build an intermediate tree
// (with anchors as nodes); a lowering pass then places ^/$ (start/end of the match, or lines
// under (?m)), applies JSON-Schema search semantics and checks the size limit. Under
// RegexOptions::ecma another lowering (namespace ecma below) compiles ^ $ \b \B anywhere.
#include <boost/spirit/home/x3.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "grammar/regex_ast.hpp"
#include "fsm/utf8.hpp"
#include "grammar/unicode_classes.hpp"
#include "tollgate/error.hpp"

namespace tollgate::grammar {

namespace {

namespace x3 = boost::spirit::x3;
using It = const char*;

constexpr uint32_t kMaxRepeatCount = 1000;  // as RE2
constexpr size_t kMaxGroupDepth = 250;      // keeps the recursive descent within any thread's stack

// ---------------------------------------------------------------------------------------------
// Intermediate tree

struct Node {
  enum class K { kSet, kEmpty, kConcat, kAlt, kRepeat, kBol, kEol, kWordB, kNotWordB };
  K k = K::kEmpty;
  CharSet set;
  std::vector<Node> kids;
  uint32_t min = 0, max = 0;
  bool lazy = false;       // kRepeat followed by '?'
  size_t pos = 0;          // byte offset of the construct (for errors)
  bool multiline = false;  // for kBol / kEol
};

struct Flags {
  bool i = false, s = false, m = false;
  bool U = false;  // ungreedy: quantifiers lazy unless followed by '?'
};

struct Frame {
  std::vector<Node> branches;
  std::vector<Node> seq;
  Flags saved;
  size_t open = 0;
};

struct State {
  std::string_view pattern;
  Flags flags;
  bool ecma = false;           // RegexOptions::ecma
  RegexOptions::Dialects dialects = RegexOptions::Dialects::kEcma;  // under ecma
  std::vector<Frame> frames;
  std::set<std::string> names;
  // scratch written by the actions (harmless when X3 backtracks)
  char32_t cp = 0, lo = 0, hi = 0;
  char32_t high_surrogate = 0;
  size_t start = 0;      // start of the current atom / class item / escape error (set by S)
  size_t mark = 0;       // start of the current escape / group
  size_t group_pos = 0;  // start of the current '('
  It flags_b = nullptr, flags_e = nullptr;  // flag letters of a scoped (?flags:...) group
  uint32_t qmin = 0, qmax = 0;
  bool qlazy = false;
  size_t qpos = 0;
  bool cls_neg = false;
  CharSet cls_py;  // the class being built as Python's re reads it (RegexOptions::dialects other than kEcma)
  size_t cls_pos = 0;
  CharSet cls;

  size_t off(It p) const { return static_cast<size_t>(p - pattern.data()); }

  [[noreturn]] void fail(ErrorKind kind, size_t offset, const std::string& what) const {
    SourcePos pos = position_in(pattern, offset);
    throw Error(kind, "regex: " + what + " at column " + std::to_string(pos.column), pos);
  }
};

struct state_tag;

template <class Ctx>
State& st_of(Ctx const& ctx) {
  return x3::get<state_tag>(ctx).get();
}

// ---------------------------------------------------------------------------------------------
// Helpers used by the actions

std::string cp_text(char32_t c) {
  char buf[16];
  if (c >= 0x20 && c < 0x7F) {
    buf[0] = static_cast<char>(c);
    buf[1] = 0;
  } else {
    std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(c));
  }
  return buf;
}

CharSet fold_if(const State& st, CharSet s) { return st.flags.i ? case_fold_closure(s) : s; }

// A set that is the negation of `positive` (\W, \P{..}, [:^x:]); under (?i) the positive set
// is folded first, as RE2 does.
CharSet negated_set(const State& st, const CharSet& positive) {
  return fold_if(st, positive).complement();
}

// \d \w \s and their negations as ECMA-262 reads them (the regex engine's sets, docs/regex.md) and
// as Python's re does (python_perl_class; the same under RegexOptions::Dialects::kEcma).
std::pair<CharSet, CharSet> perl_sets(const State& st, char c) {
  const bool upper = std::isupper(static_cast<unsigned char>(c));
  const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  CharSet e = upper ? negated_set(st, perl_class(lower)) : fold_if(st, perl_class(lower));
  if (st.dialects == RegexOptions::Dialects::kEcma) return {e, e};
  const CharSet p = python_perl_class(lower);
  return {std::move(e), upper ? negated_set(st, p) : fold_if(st, p)};
}

// One set from its two readings: what both accept (kBoth: a pattern a string must match), what either
// does (kEither: one it must not match), or ECMA's.
CharSet dialects_set(RegexOptions::Dialects dialects, const CharSet& ecma, const CharSet& python) {
  using D = RegexOptions::Dialects;
  if (dialects == D::kBoth) return ecma.intersect(python);
  if (dialects == D::kEither) {
    CharSet u = ecma;
    u.add(python);
    return u;
  }
  return ecma;
}

void push_node(State& st, Node n) { st.frames.back().seq.push_back(std::move(n)); }

// A class item both dialects read alike (Python's reading is kept only where it is read).
void cls_add(State& st, const CharSet& s) {
  st.cls.add(s);
  if (st.dialects != RegexOptions::Dialects::kEcma) st.cls_py.add(s);
}

void push_set(State& st, CharSet s, size_t pos) {
  Node n;
  n.k = Node::K::kSet;
  n.set = std::move(s);
  n.pos = pos;
  push_node(st, std::move(n));
}

Node finish_frame(Frame& f) {
  auto seq_node = [](std::vector<Node>& seq) {
    Node n;
    if (seq.size() == 1) return std::move(seq[0]);
    n.k = seq.empty() ? Node::K::kEmpty : Node::K::kConcat;
    n.kids = std::move(seq);
    return n;
  };
  f.branches.push_back(seq_node(f.seq));
  f.seq.clear();
  if (f.branches.size() == 1) return std::move(f.branches[0]);
  Node n;
  n.k = Node::K::kAlt;
  n.kids = std::move(f.branches);
  n.pos = f.open;
  return n;
}

uint32_t parse_count(State& st, It b, It e) {
  uint64_t v = 0;
  for (It p = b; p != e; ++p) {
    v = v * 10 + static_cast<unsigned>(*p - '0');
    if (v > kMaxRepeatCount) {
      st.fail(ErrorKind::kParse,
              st.off(b),
              "repetition count " + std::string(b, e) + " exceeds the limit of " +
                  std::to_string(kMaxRepeatCount));
    }
  }
  return static_cast<uint32_t>(v);
}

CharSet property_set(State& st, std::string_view name, bool negated, size_t pos) {
  bool neg = negated;
  if (!name.empty() && name[0] == '^') {  // \p{^Greek}
    neg = !neg;
    name.remove_prefix(1);
  }
  auto s = unicode_property(name);
  if (!s) {
    st.fail(ErrorKind::kParse, pos, "unknown Unicode property or script \\p{" + std::string(name) + "}");
  }
  return neg ? negated_set(st, *s) : fold_if(st, *s);
}

// Decodes one UTF-8 code point (the pattern was validated up front by fsm::invalid_utf8).
size_t decode(It p, It end, char32_t& cp) {
  size_t n = fsm::decode_utf8(std::string_view(p, static_cast<size_t>(end - p)), 0, cp);
  return n == 0 ? 1 : n;
}

// ---------------------------------------------------------------------------------------------
// A primitive parser: one code point that is not one of the ASCII characters in `excluded`.

struct Utf8Char : x3::parser<Utf8Char> {
  using attribute_type = char32_t;
  static bool const has_attribute = true;
  const char* excluded;
  constexpr explicit Utf8Char(const char* ex) : excluded(ex) {}

  template <class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const&, RCtx&, Attr& attr) const {
    if (first == last) return false;
    unsigned char c = *first;
    if (c < 0x80 && c != 0 && std::strchr(excluded, c) != nullptr) return false;
    char32_t cp = 0;
    first += decode(first, last, cp);
    x3::traits::move_to(cp, attr);
    return true;
  }
};

// ---------------------------------------------------------------------------------------------
// Semantic actions

auto const set_cp = [](auto& ctx) { st_of(ctx).cp = x3::_attr(ctx); };
// Note: in Boost 1.74, _where(ctx) is [position after the match, end of input), so start
// positions are recorded by S (= eps[set_start]) in front of the parsers that need them.
template <class Ctx>
size_t here(Ctx const& ctx) {
  return st_of(ctx).off(x3::_where(ctx).begin());
}
template <class Ctx>
std::string matched_text(Ctx const& ctx) {
  auto& st = st_of(ctx);
  return std::string(st.pattern.substr(st.start, here(ctx) - st.start));
}
auto const set_start = [](auto& ctx) { st_of(ctx).start = here(ctx); };
auto const mark = [](auto& ctx) { st_of(ctx).mark = here(ctx) - 1; };  // after lit('\\')

template <char32_t C>
struct SetCp {
  template <class Ctx>
  void operator()(Ctx& ctx) const { st_of(ctx).cp = C; }
};

auto const set_cp_attr_char = [](auto& ctx) { st_of(ctx).cp = static_cast<unsigned char>(x3::_attr(ctx)); };

auto const set_cp_hex = [](auto& ctx) {
  auto& st = st_of(ctx);
  uint32_t v = x3::_attr(ctx);
  if (v > 0x10FFFF) st.fail(ErrorKind::kParse, st.mark, "code point escape beyond U+10FFFF");
  if (v >= 0xD800 && v <= 0xDFFF) {
    st.fail(ErrorKind::kParse, st.mark, "escape of a lone surrogate " + cp_text(v));
  }
  st.cp = v;
};

auto const set_control = [](auto& ctx) {
  st_of(ctx).cp = static_cast<char32_t>(static_cast<unsigned char>(x3::_attr(ctx)) % 32);
};

// \uHHHH: a high surrogate must be followed by \uHHHH with a low surrogate.
auto const u4_first = [](auto& ctx) {
  auto& st = st_of(ctx);
  uint32_t v = x3::_attr(ctx);
  st.high_surrogate = 0;
  if (v >= 0xDC00 && v <= 0xDFFF) {
    st.fail(ErrorKind::kParse, st.mark, "\\u escape of a lone low surrogate " + cp_text(v));
  }
  if (v >= 0xD800 && v <= 0xDBFF) st.high_surrogate = v;
  st.cp = v;
};
auto const u4_second = [](auto& ctx) {
  auto& st = st_of(ctx);
  uint32_t v = x3::_attr(ctx);
  if (st.high_surrogate == 0 || v < 0xDC00 || v > 0xDFFF) {
    x3::_pass(ctx) = false;
    return;
  }
  st.cp = 0x10000 + ((st.high_surrogate - 0xD800) << 10) + (v - 0xDC00);
  st.high_surrogate = 0;
};
auto const u4_finish = [](auto& ctx) {
  auto& st = st_of(ctx);
  if (st.high_surrogate != 0) {
    st.fail(ErrorKind::kParse, st.mark,
            "\\u escape of a high surrogate " + cp_text(st.high_surrogate) +
                " not followed by a \\u low surrogate");
  }
};

// Errors raised at st.start (the start of the matched construct).
template <ErrorKind Kind>
struct Fail {
  const char* what;
  template <class Ctx>
  void operator()(Ctx& ctx) const {
    auto& st = st_of(ctx);
    st.fail(Kind, st.start, what);
  }
};
using Unsup = Fail<ErrorKind::kUnsupported>;
using Bad = Fail<ErrorKind::kParse>;

// Errors raised at the current position (for zero-width subjects: eps, &p).
template <ErrorKind Kind>
struct FailHere {
  const char* what;
  template <class Ctx>
  void operator()(Ctx& ctx) const {
    st_of(ctx).fail(Kind, here(ctx), what);
  }
};

// Errors raised at the start of the current quantifier.
template <ErrorKind Kind>
struct FailAtQuant {
  const char* what;
  template <class Ctx>
  void operator()(Ctx& ctx) const {
    auto& st = st_of(ctx);
    st.fail(Kind, st.qpos, what);
  }
};

// Errors raised at the position remembered by `mark`.
template <ErrorKind Kind>
struct FailAtMark {
  const char* what;
  template <class Ctx>
  void operator()(Ctx& ctx) const {
    auto& st = st_of(ctx);
    st.fail(Kind, st.mark, what);
  }
};

auto const bad_escape = [](auto& ctx) {
  auto& st = st_of(ctx);
  st.fail(ErrorKind::kParse, st.start, "invalid escape " + matched_text(ctx));
};
auto const backref = [](auto& ctx) {
  auto& st = st_of(ctx);
  st.fail(ErrorKind::kUnsupported, st.start, "backreference " + matched_text(ctx) + " is not supported");
};

// --- atoms
auto const push_literal = [](auto& ctx) {
  auto& st = st_of(ctx);
  push_set(st, fold_if(st, CharSet::single(st.cp)), st.mark);
};
auto const push_char_attr = [](auto& ctx) {
  auto& st = st_of(ctx);
  char32_t c = x3::_attr(ctx);
  push_set(st, fold_if(st, CharSet::single(c)), st.start);
};
auto const push_brace = [](auto& ctx) {
  auto& st = st_of(ctx);
  push_set(st, CharSet::single('{'), st.start);
};
auto const push_dot = [](auto& ctx) {
  auto& st = st_of(ctx);
  CharSet s = CharSet::any();
  if (!st.flags.s) {
    // ECMA-262: `.` excludes every LineTerminator; otherwise (RE2) only \n
    // (Python's re excludes only \n: what either dialect matches, RegexOptions::Dialects::kEither)
    CharSet excluded = st.ecma && st.dialects != RegexOptions::Dialects::kEither
                           ? CharSet({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}})
                           : CharSet::single('\n');
    s = s.intersect(excluded.complement());
  }
  push_set(st, std::move(s), st.start);
};
auto const push_perl = [](auto& ctx) {
  auto& st = st_of(ctx);
  const auto [e, p] = perl_sets(st, x3::_attr(ctx));
  push_set(st, dialects_set(st.dialects, e, p), st.start);
};
auto const push_bol = [](auto& ctx) {
  auto& st = st_of(ctx);
  Node n;
  n.k = Node::K::kBol;
  n.pos = st.start;
  n.multiline = st.flags.m;
  push_node(st, std::move(n));
};
// \b and \B: assertions in ECMA mode (compiled by EcmaLowerer), refused otherwise.
template <Node::K Kind>
struct PushWordAssertion {
  template <class Ctx>
  void operator()(Ctx& ctx) const {
    auto& st = st_of(ctx);
    if (!st.ecma) {
      st.fail(ErrorKind::kUnsupported, st.start,
              Kind == Node::K::kWordB ? "word boundary \\b is not supported"
                                      : "non-word boundary \\B is not supported");
    }
    Node n;
    n.k = Kind;
    n.pos = st.start;
    push_node(st, std::move(n));
  }
};
auto const push_eol = [](auto& ctx) {
  auto& st = st_of(ctx);
  Node n;
  n.k = Node::K::kEol;
  n.pos = st.start;
  n.multiline = st.flags.m;
  push_node(st, std::move(n));
};

// \p{Name} \PL ... : the attribute of the whole is (char, range).
template <bool InClass>
struct PropAction {
  template <class Ctx>
  void operator()(Ctx& ctx) const {
    auto& st = st_of(ctx);
    // the matched text is \pL or \p{Name}
    std::string text_s = matched_text(ctx);
    std::string_view text = text_s;
    char which = text[1];
    std::string_view name = text.substr(2);
    if (name.size() >= 2 && name.front() == '{') name = name.substr(1, name.size() - 2);
    CharSet s = property_set(st, name, which == 'P', st.start);
    if constexpr (InClass) {
      cls_add(st, s);
    } else {
      push_set(st, std::move(s), st.start);
    }
  }
};

// --- classes
auto const cls_open = [](auto& ctx) {
  auto& st = st_of(ctx);
  st.cls = CharSet();
  st.cls_py = CharSet();
  st.cls_neg = false;
  st.cls_pos = st.start;
};
auto const cls_negate = [](auto& ctx) { st_of(ctx).cls_neg = true; };
auto const cls_add_cp = [](auto& ctx) {
  auto& st = st_of(ctx);
  cls_add(st, fold_if(st, CharSet::single(st.cp)));
};
auto const set_lo = [](auto& ctx) { auto& st = st_of(ctx); st.lo = st.cp; };
auto const set_hi = [](auto& ctx) { auto& st = st_of(ctx); st.hi = st.cp; };
auto const cls_add_range = [](auto& ctx) {
  auto& st = st_of(ctx);
  if (st.lo > st.hi) {
    st.fail(ErrorKind::kParse, st.start,
            "bad character class range " + cp_text(st.lo) + "-" + cp_text(st.hi) +
                " (start after end)");
  }
  cls_add(st, fold_if(st, CharSet::range(st.lo, st.hi)));
};
auto const cls_perl = [](auto& ctx) {
  auto& st = st_of(ctx);
  const auto [e, p] = perl_sets(st, x3::_attr(ctx));
  st.cls.add(e);
  if (st.dialects != RegexOptions::Dialects::kEcma) st.cls_py.add(p);
};
auto const cls_posix = [](auto& ctx) {
  auto& st = st_of(ctx);
  std::string text_s = matched_text(ctx);  // [:name:] / [:^name:]
  std::string_view text = text_s;
  std::string_view name = text.substr(2, text.size() - 4);
  bool neg = !name.empty() && name[0] == '^';
  if (neg) name.remove_prefix(1);
  auto s = posix_class(name);
  if (!s) st.fail(ErrorKind::kParse, st.start, "unknown POSIX class " + std::string(text));
  cls_add(st, neg ? negated_set(st, *s) : fold_if(st, *s));
};
auto const cls_close = [](auto& ctx) {
  auto& st = st_of(ctx);
  // [^…] is the complement of the class's items: under kBoth of what either reading holds (so that
  // neither dialect matches what is left out), under kEither of what both hold
  CharSet s = dialects_set(st.cls_neg ? RegexOptions::complemented(st.dialects) : st.dialects, st.cls, st.cls_py);
  if (st.cls_neg) s = s.complement();
  push_set(st, std::move(s), st.cls_pos);
};

// --- groups and flags
auto const open_group = [](auto& ctx) {
  auto& st = st_of(ctx);
  if (st.frames.size() > kMaxGroupDepth) {
    st.fail(ErrorKind::kLimit, st.start,
            "groups nested deeper than " + std::to_string(kMaxGroupDepth) + " levels");
  }
  Frame f;
  f.saved = st.flags;
  f.open = st.start;
  st.group_pos = f.open;
  st.mark = f.open;
  st.frames.push_back(std::move(f));
};
auto const close_group = [](auto& ctx) {
  auto& st = st_of(ctx);
  Frame f = std::move(st.frames.back());
  st.frames.pop_back();
  st.flags = f.saved;
  Node n = finish_frame(f);
  if (n.k == Node::K::kSet || n.k == Node::K::kEmpty) n.pos = f.open;
  Node g;  // wrap so that a quantifier applies to the group as a whole
  g.k = Node::K::kConcat;
  g.pos = f.open;
  g.kids.push_back(std::move(n));
  push_node(st, std::move(g));
};
auto const unclosed_group = [](auto& ctx) {
  auto& st = st_of(ctx);
  st.fail(ErrorKind::kParse, st.frames.back().open, "missing ')' for the group opened");
};
auto const next_branch = [](auto& ctx) {
  auto& st = st_of(ctx);
  Frame& f = st.frames.back();
  std::vector<Node> seq = std::move(f.seq);
  f.seq.clear();
  Node n;
  if (seq.size() == 1) {
    n = std::move(seq[0]);
  } else {
    n.k = seq.empty() ? Node::K::kEmpty : Node::K::kConcat;
    n.kids = std::move(seq);
  }
  f.branches.push_back(std::move(n));
};
auto const group_name = [](auto& ctx) {
  auto& st = st_of(ctx);
  auto r = x3::_attr(ctx);
  std::string name(r.begin(), r.end());
  if (std::isdigit(static_cast<unsigned char>(name[0]))) {
    st.fail(ErrorKind::kParse, st.group_pos, "invalid group name '" + name + "' (starts with a digit)");
  }
  if (!st.names.insert(name).second) {
    st.fail(ErrorKind::kParse, st.group_pos, "duplicate group name '" + name + "'");
  }
};

// Applies a flag string like "i", "is", "-s", "i-s" to st.flags.
template <class Ctx>
void apply_flags(Ctx& ctx, It b, It e) {
  auto& st = st_of(ctx);
  bool neg = false, any = false;
  for (It p = b; p != e; ++p) {
    char c = *p;
    if (c == '-') {
      if (neg) st.fail(ErrorKind::kParse, st.off(p), "second '-' in the inline flags");
      neg = true;
      any = false;
      continue;
    }
    any = true;
    switch (c) {
      case 'i': st.flags.i = !neg; break;
      case 's': st.flags.s = !neg; break;
      case 'm':
        if (st.ecma) {
          st.fail(ErrorKind::kUnsupported, st.off(p),
                  "inline flag 'm' is not supported in ECMA patterns (JSON Schema patterns are not multiline)");
        }
        st.flags.m = !neg;
        break;
      case 'U': st.flags.U = !neg; break;  // ungreedy: same language, other preference
      case 'x':
        st.fail(ErrorKind::kUnsupported, st.off(p), "inline flag 'x' (extended mode) is not supported");
      default:
        st.fail(ErrorKind::kParse, st.off(p), std::string("unknown inline flag '") + c + "'");
    }
  }
  if (b == e) st.fail(ErrorKind::kParse, st.group_pos, "empty inline flag group '(?)'");
  if (!any) st.fail(ErrorKind::kParse, st.off(e - 1), "inline flags end with '-'");
}

auto const flags_only = [](auto& ctx) {
  auto& st = st_of(ctx);
  st.group_pos = st.start;
  auto r = x3::_attr(ctx);
  apply_flags(ctx, r.begin(), r.end());
};
auto const flags_save = [](auto& ctx) {
  auto& st = st_of(ctx);
  auto r = x3::_attr(ctx);
  st.flags_b = r.begin();
  st.flags_e = r.end();
};
auto const flags_scoped = [](auto& ctx) {
  auto& st = st_of(ctx);
  apply_flags(ctx, st.flags_b, st.flags_e);
};

// --- quantifiers
auto const q_star = [](auto& ctx) { auto& st = st_of(ctx); st.qmin = 0; st.qmax = kUnbounded; };
auto const q_plus = [](auto& ctx) { auto& st = st_of(ctx); st.qmin = 1; st.qmax = kUnbounded; };
auto const q_opt = [](auto& ctx) { auto& st = st_of(ctx); st.qmin = 0; st.qmax = 1; };
auto const q_min = [](auto& ctx) {
  auto& st = st_of(ctx);
  auto r = x3::_attr(ctx);
  st.qmin = parse_count(st, r.begin(), r.end());
  st.qmax = st.qmin;
};
auto const q_max = [](auto& ctx) {
  auto& st = st_of(ctx);
  auto r = x3::_attr(ctx);
  st.qmax = parse_count(st, r.begin(), r.end());
};
auto const q_unbounded = [](auto& ctx) { st_of(ctx).qmax = kUnbounded; };
auto const q_mark = [](auto& ctx) {
  auto& st = st_of(ctx);
  st.qpos = here(ctx);
  st.qlazy = false;
};
auto const q_lazy = [](auto& ctx) { st_of(ctx).qlazy = true; };
auto const q_apply = [](auto& ctx) {
  auto& st = st_of(ctx);
  auto& seq = st.frames.back().seq;
  if (st.qmax != kUnbounded && st.qmin > st.qmax) {
    st.fail(ErrorKind::kParse, st.qpos,
            "bad repetition {" + std::to_string(st.qmin) + "," + std::to_string(st.qmax) +
                "} (minimum above maximum)");
  }
  Node& last = seq.back();
  if (last.k == Node::K::kBol || last.k == Node::K::kEol || last.k == Node::K::kWordB ||
      last.k == Node::K::kNotWordB) {
    st.fail(ErrorKind::kParse, st.qpos, "quantifier after an anchor has nothing to repeat");
  }
  Node r;
  r.k = Node::K::kRepeat;
  r.min = st.qmin;
  r.max = st.qmax;
  r.lazy = st.qlazy != st.flags.U;
  r.pos = st.qpos;
  r.kids.push_back(std::move(last));
  last = std::move(r);
};

// ---------------------------------------------------------------------------------------------
// The grammar

using x3::lit;
using x3::char_;
using x3::eps;
using x3::eoi;
using x3::raw;

auto const digit = char_("0-9");
auto const word_char = char_("0-9a-zA-Z_");
x3::uint_parser<uint32_t, 16, 2, 2> const hex2;
x3::uint_parser<uint32_t, 16, 4, 4> const hex4;
x3::uint_parser<uint32_t, 16, 1, 8> const hex_n;

Utf8Char const atom_char("\\[()|*+?.^${");
Utf8Char const class_char_raw("\\]");

// An escape that stands for one code point (shared by atoms and classes). Sets st.cp.
auto const escape_single_body =
    lit('n')[SetCp<'\n'>{}] | lit('t')[SetCp<'\t'>{}] | lit('r')[SetCp<'\r'>{}] |
    lit('f')[SetCp<'\f'>{}] | lit('v')[SetCp<'\v'>{}] | lit('a')[SetCp<7>{}] |
    (lit('0') >> !digit)[SetCp<0>{}] |
    (lit("x{") >> ((hex_n[set_cp_hex] >> lit('}')) |
                   eps[FailAtMark<ErrorKind::kParse>{"invalid \\x{...} escape (expected hex digits and '}')"}])) |
    (lit('x') >> hex2[set_cp_hex]) |
    (lit("u{") >> ((hex_n[set_cp_hex] >> lit('}')) |
                   eps[FailAtMark<ErrorKind::kParse>{"invalid \\u{...} escape (expected hex digits and '}')"}])) |
    (lit('u') >> hex4[u4_first] >> -(lit("\\u") >> hex4[u4_second]) >> eps[u4_finish]) |
    (lit('c') >> char_("a-zA-Z")[set_control]) |
    // escaped ASCII punctuation and space are literals
    char_("!-/:-@[-`{-~ ")[set_cp_attr_char];

// Escapes that are errors (tried after the valid ones). The position is the backslash.
auto const S = eps[set_start];

auto const escape_error = S >> (
    (lit('\\') >> lit('0') >> digit)[Unsup{"octal escape \\0NN is not supported"}] |
    (lit('\\') >> char_('1', '9') >> *digit)[backref] |
    (lit('\\') >> lit('k') >> -(lit('<') >> *word_char >> lit('>')))[backref] |
    (lit('\\') >> lit('b'))[PushWordAssertion<Node::K::kWordB>{}] |
    (lit('\\') >> lit('B'))[PushWordAssertion<Node::K::kNotWordB>{}] |
    (lit('\\') >> lit('A'))[Unsup{"start-of-text anchor \\A is not supported (use ^)"}] |
    (lit('\\') >> lit('z'))[Unsup{"end-of-text anchor \\z is not supported (use $)"}] |
    (lit('\\') >> lit('Z'))[Unsup{"end-of-text anchor \\Z is not supported (use $)"}] |
    (lit('\\') >> lit('G'))[Unsup{"match-continuation anchor \\G is not supported"}] |
    (lit('\\') >> lit('Q'))[Unsup{"literal quoting \\Q...\\E is not supported"}] |
    (lit('\\') >> lit('X'))[Unsup{"extended grapheme cluster \\X is not supported"}] |
    (lit('\\') >> lit('R'))[Unsup{"line break \\R is not supported"}] |
    (lit('\\') >> lit('K'))[Unsup{"match reset \\K is not supported"}] |
    (lit('\\') >> lit('C'))[Unsup{"single byte \\C is not supported"}] |
    (lit('\\') >> lit('x'))[Bad{"invalid \\x escape (expected \\xHH or \\x{H...})"}] |
    (lit('\\') >> lit('u'))[Bad{"invalid \\u escape (expected \\uHHHH or \\u{H...})"}] |
    (lit('\\') >> lit('c'))[Bad{"invalid control escape \\c (expected \\cA..\\cZ)"}] |
    (lit('\\') >> (lit('p') | lit('P')) >> lit('{'))[Bad{"unterminated \\p{...} property"}] |
    (lit('\\') >> (lit('p') | lit('P')))[Bad{"\\p needs a property name (\\pL or \\p{Name})"}] |
    (lit('\\') >> eoi)[Bad{"trailing backslash at the end of the pattern"}] |
    (lit('\\') >> atom_char)[bad_escape]);

auto const perl_letter = char_("dDwWsS");
auto const prop_body = char_("pP") >> raw[(lit('{') >> +(char_ - '}') >> lit('}')) | char_("A-Z")];

auto const escape_atom = (lit('\\') >> perl_letter)[push_perl] |
                         x3::omit[lit('\\') >> prop_body][PropAction<false>{}] |
                         x3::omit[lit('\\')[mark] >> escape_single_body][push_literal] | escape_error;

// Character classes
auto const class_single = x3::omit[lit('\\')[mark] >> escape_single_body] |
                          (lit('\\') >> lit('b'))[SetCp<8>{}] |  // [\b] is backspace
                          x3::omit[class_char_raw[set_cp]];
auto const class_set_escape = lit('\\') >> (perl_letter | char_("pP"));
auto const class_range =
    x3::omit[class_single[set_lo] >> lit('-') >>
             (class_single[set_hi] |
              (&class_set_escape)[FailHere<ErrorKind::kParse>{"bad character class range (a class escape cannot end a range)"}])]
        [cls_add_range];
auto const posix_name = lit("[:") >> -lit('^') >> +(char_('a', 'z')) >> lit(":]");
auto const class_item = S >> (
    raw[posix_name][cls_posix] |
    ((lit('\\') >> perl_letter)[cls_perl] | x3::omit[lit('\\') >> prop_body][PropAction<true>{}]) >>
        -(&(lit('-') >> !lit(']')))[FailHere<ErrorKind::kParse>{
            "bad character class range (a class escape cannot start a range)"}] |
    class_range |
    class_single[cls_add_cp] |
    (lit('\\') >> lit('B'))[Bad{"\\B inside a character class"}] |
    escape_error);
auto const cls_add_bracket = [](auto& ctx) { cls_add(st_of(ctx), CharSet::single(']')); };
auto const unterminated_class = [](auto& ctx) {
  auto& st = st_of(ctx);
  st.fail(ErrorKind::kParse, st.cls_pos, "missing ']' for the character class opened");
};
// ECMA-262: `]` right after `[` or `[^` closes the class (`[]` matches nothing, `[^]` anything);
// elsewhere (RE2, PCRE) it is a literal.
auto const not_ecma = [](auto& ctx) { x3::_pass(ctx) = !st_of(ctx).ecma; };
auto const char_class = lit('[')[cls_open] >> -lit('^')[cls_negate] >> -(eps[not_ecma] >> lit(']'))[cls_add_bracket] >>
                        *class_item >> (lit(']')[cls_close] | eps[unterminated_class]);

// Quantifiers
auto const count = raw[+digit];
auto const brace_quant =
    lit('{') >> count[q_min] >> -(lit(',') >> (count[q_max] | eps[q_unbounded])) >> lit('}');
auto const quant_body = lit('*')[q_star] | lit('+')[q_plus] | lit('?')[q_opt] | brace_quant;
auto const quantifier =
    x3::omit[eps[q_mark] >> quant_body >>
     -(lit('?')[q_lazy] | lit('+')[FailAtQuant<ErrorKind::kUnsupported>{"possessive quantifier (a quantifier followed by '+') is not supported"}])]
        [q_apply] >>
    -(&quant_body)[FailHere<ErrorKind::kParse>{"stacked quantifier: a quantifier cannot follow another (use a group)"}];

// Groups
x3::rule<class alternation_rule> const alternation = "alternation";

auto const group_kind =
    lit("?:") |
    lit("?=")[FailAtMark<ErrorKind::kUnsupported>{"lookahead (?=...) is not supported"}] |
    lit("?!")[FailAtMark<ErrorKind::kUnsupported>{"negative lookahead (?!...) is not supported"}] |
    lit("?<=")[FailAtMark<ErrorKind::kUnsupported>{"lookbehind (?<=...) is not supported"}] |
    lit("?<!")[FailAtMark<ErrorKind::kUnsupported>{"negative lookbehind (?<!...) is not supported"}] |
    lit("?>")[FailAtMark<ErrorKind::kUnsupported>{"atomic group (?>...) is not supported"}] |
    lit("?(")[FailAtMark<ErrorKind::kUnsupported>{"conditional group (?(...)...) is not supported"}] |
    lit("?P=")[FailAtMark<ErrorKind::kUnsupported>{"named backreference (?P=name) is not supported"}] |
    lit("?P>")[FailAtMark<ErrorKind::kUnsupported>{"recursion (?P>name) is not supported"}] |
    lit("?&")[FailAtMark<ErrorKind::kUnsupported>{"recursion (?&name) is not supported"}] |
    lit("?R")[FailAtMark<ErrorKind::kUnsupported>{"recursion (?R) is not supported"}] |
    (lit('?') >> (char_('0', '9') | char_("+-") >> char_('0', '9')))[FailAtMark<ErrorKind::kUnsupported>{"recursion (?N) is not supported"}] |
    lit("?#")[FailAtMark<ErrorKind::kUnsupported>{"comment group (?#...) is not supported"}] |
    lit("?|")[FailAtMark<ErrorKind::kUnsupported>{"branch reset group (?|...) is not supported"}] |
    ((lit("?P<") | lit("?<")) >>
     ((raw[+word_char][group_name] >> lit('>')) |
      eps[FailAtMark<ErrorKind::kParse>{"invalid group name (expected word characters and '>')"}])) |
    (lit("?'") >>
     ((raw[+word_char][group_name] >> lit('\'')) |
      eps[FailAtMark<ErrorKind::kParse>{"invalid group name (expected word characters and a closing quote)"}])) |
    x3::omit[lit('?') >> raw[*(char_('a', 'z') | char_('A', 'Z') | char_('-'))][flags_save] >> lit(':')]
        [flags_scoped] |
    lit('?')[FailAtMark<ErrorKind::kParse>{"invalid group syntax after '(?'"}] |
    eps;

auto const group = lit('(')[open_group] >> group_kind >> alternation >>
                   (lit(')')[close_group] | eps[unclosed_group]);
// (?R), (?P..., (?1) ... are left to group_kind, which names them.
auto const flag_group = (lit("(?") >> !char_("RP0-9+&") >> raw[*(char_('a', 'z') | char_('A', 'Z') | char_('-'))] >> lit(')'))[flags_only];

auto const atom = S >> (
    flag_group | group | char_class | escape_atom |
    lit('.')[push_dot] | lit('^')[push_bol] | lit('$')[push_eol] |
    x3::omit[char_("*+?") | raw[brace_quant]][Bad{"quantifier has nothing to repeat"}] |
    lit('{')[push_brace] |
    atom_char[push_char_attr]);

auto const quantified = atom >> -quantifier;
auto const sequence = *quantified;
auto const alternation_def = sequence >> *(lit('|')[next_branch] >> sequence);
BOOST_SPIRIT_DEFINE(alternation);

auto const pattern_rule =
    alternation >> (eoi | (&lit(')'))[FailHere<ErrorKind::kParse>{"unmatched ')'"}] |
                    eps[FailHere<ErrorKind::kParse>{"unexpected character"}]);

// ---------------------------------------------------------------------------------------------
// Lowering: intermediate tree → Regex, placing anchors.

// A part of the language: s/e say whether the part is anchored at the start/end of the input
// (1) or of a line (2, under (?m)); 0 = not anchored.
struct Part {
  int s = 0, e = 0;
  RegexPtr r;
};
using Parts = std::vector<Part>;

int combine_anchor(int a, int b) {
  if (a == 0) return b;
  if (b == 0) return a;
  return std::min(a, b);
}

// Joins the parts with the same anchoring (in order of first appearance).
Parts merge(Parts in) {
  Parts out;
  std::vector<bool> used(in.size(), false);
  for (size_t i = 0; i < in.size(); ++i) {
    if (used[i]) continue;
    std::vector<RegexPtr> rs;
    for (size_t j = i; j < in.size(); ++j) {
      if (!used[j] && in[j].s == in[i].s && in[j].e == in[i].e) {
        used[j] = true;
        rs.push_back(in[j].r);
      }
    }
    out.push_back({in[i].s, in[i].e, Regex::alt(std::move(rs))});
  }
  return out;
}

struct Lowerer {
  const State& st;

  Parts lower(const Node& n, bool left, bool right) {
    switch (n.k) {
      case Node::K::kSet: return {{0, 0, Regex::chars_of(n.set)}};
      case Node::K::kEmpty: return {{0, 0, Regex::empty()}};
      case Node::K::kBol:
        if (!left) {
          st.fail(ErrorKind::kUnsupported, n.pos,
                  "anchor '^' in the middle of the pattern is not supported (only at the start)");
        }
        return {{n.multiline ? 2 : 1, 0, Regex::empty()}};
      case Node::K::kEol:
        if (!right) {
          st.fail(ErrorKind::kUnsupported, n.pos,
                  "anchor '$' in the middle of the pattern is not supported (only at the end)");
        }
        return {{0, n.multiline ? 2 : 1, Regex::empty()}};
      case Node::K::kWordB:
      case Node::K::kNotWordB:  // only parsed under RegexOptions::ecma (EcmaLowerer)
        st.fail(ErrorKind::kUnsupported, n.pos, "word boundary assertions are not supported");
      case Node::K::kAlt: {
        Parts out;
        for (const auto& k : n.kids) {
          Parts p = lower(k, left, right);
          out.insert(out.end(), p.begin(), p.end());
        }
        return merge(std::move(out));
      }
      case Node::K::kRepeat: {
        if (n.max <= 1) {
          Parts p = lower(n.kids[0], left, right);
          if (p.size() == 1 && p[0].s == 0 && p[0].e == 0) return {{0, 0, Regex::repeat(p[0].r, n.min, n.max, n.lazy)}};
          if (n.min == 0) p.push_back({0, 0, Regex::empty()});
          return merge(std::move(p));
        }
        Parts p = lower(n.kids[0], false, false);
        return {{0, 0, Regex::repeat(p[0].r, n.min, n.max, n.lazy)}};
      }
      case Node::K::kConcat: {
        auto transparent_left = [](const Node& k) { return k.k == Node::K::kBol || k.k == Node::K::kEmpty; };
        auto transparent_right = [](const Node& k) { return k.k == Node::K::kEol || k.k == Node::K::kEmpty; };
        size_t m = n.kids.size();
        std::vector<bool> lefts(m), rights(m);
        bool l = left;
        for (size_t i = 0; i < m; ++i) {
          lefts[i] = l;
          l = l && transparent_left(n.kids[i]);
        }
        bool r = right;
        for (size_t i = m; i-- > 0;) {
          rights[i] = r;
          r = r && transparent_right(n.kids[i]);
        }
        // With one part on each side (no anchors to tell apart: the common case) the kids are
        // collected in `run` and concatenated once; concatenating pairwise left to right copied
        // the growing list at every kid (quadratic: 100,000 literal ']' took 17 s).
        Parts acc{{0, 0, Regex::empty()}};
        std::vector<RegexPtr> run;
        auto flush = [&] {
          if (run.empty()) return;
          run.insert(run.begin(), acc[0].r);
          acc[0].r = Regex::concat(std::move(run));
          run.clear();
        };
        for (size_t i = 0; i < m; ++i) {
          Parts q = lower(n.kids[i], lefts[i], rights[i]);
          if (acc.size() == 1 && q.size() == 1) {
            acc[0].s = combine_anchor(acc[0].s, q[0].s);
            acc[0].e = combine_anchor(acc[0].e, q[0].e);
            run.push_back(std::move(q[0].r));
            continue;
          }
          flush();
          Parts next;
          for (const auto& a : acc) {
            for (const auto& b : q) {
              next.push_back({combine_anchor(a.s, b.s), combine_anchor(a.e, b.e), Regex::concat({a.r, b.r})});
            }
          }
          acc = merge(std::move(next));
        }
        flush();
        return acc;
      }
    }
    return {};
  }
};

// ---------------------------------------------------------------------------------------------
// ECMA lowering (RegexOptions::ecma): ^ $ \b \B anywhere, compiled exactly.
//
// Whether an assertion holds at a position depends only on the position's context: its left
// side l ∈ {S = start of input, W = after a word character [0-9A-Za-z_], O = after another
// character} and its right side r ∈ {E = end of input, W = before a word character, O = before
// another character}:  ^ : l = S,  $ : r = E,  \b : w(l) ≠ w(r),  \B : w(l) = w(r)  (S, E count
// as non-word). Each node lowers to a list of parts (L, R, r): the node matches x at a place
// with context (l, r), all its assertions holding, iff x ∈ r for some part with l ∈ L, r ∈ R.
// A part also notes whether r is ε only / nonempty only / either, and the class (W or O) of the
// first and last character of its nonempty strings when it is known.
//  - assertions are ε parts: \b = ({S,O},{W}) ∪ ({W},{E,O}); a char set is (all, all, set).
//  - alternation: the union of the part lists (parts with equal (L, R) merged).
//  - concatenation A·B, parts a and b: B's left context is the last character of x_a (l when
//    x_a = ε), A's right context the first character of x_b (r when x_b = ε). When b.L restricts,
//    a is split into its ε piece and its nonempty pieces ending in a word / another character
//    (restrict_end, an exact rewrite of the regex); likewise b by its first character when a.R
//    restricts. Each pair of pieces then satisfies the junction or is dropped, and an ε side
//    passes its restriction on to the outer context.
//  - repetition A{m,n}: when no part restricts, the plain repeat. Otherwise A^m (m concatenations)
//    then at most n−m nonempty iterations (ECMA's RepeatMatcher rejects an empty iteration past
//    the minimum, and dropping one, a zero-width test, changes no language either). Unbounded:
//    the nonempty pieces, split by first and last class, label the edges of an automaton whose
//    states are (last class, R) of the iteration just read (piece j may follow when its first
//    class is in R and the last class in j.L); Kleene's algorithm gives the regex of its runs.
// Search: a match x of part (L, R) sits in s = u x v, u = ε (S ∈ L) or ending in a word (W ∈ L)
// or other (O ∈ L) character, v likewise; the language is ⋃ prefix(L) · r · suffix(R). Every
// step is an equality of languages, so the result is exact.

namespace ecma {

constexpr uint8_t kEdge = 1, kWord = 2, kOther = 4, kAll = 7;  // context bits: S/E, W, O
enum class Emp : uint8_t { kEps, kNonEmpty, kMaybe };
enum class Cls : uint8_t { kUnknown, kWord, kOther };

struct Part {
  uint8_t L = kAll, R = kAll;
  RegexPtr r;
  Emp emp = Emp::kMaybe;
  Cls first = Cls::kUnknown, last = Cls::kUnknown;  // of the nonempty strings of r
};
using Parts = std::vector<Part>;

Part eps(uint8_t L, uint8_t R) { return {L, R, Regex::empty(), Emp::kEps, Cls::kUnknown, Cls::kUnknown}; }

const CharSet& word_set() {
  static const CharSet s = perl_class('w');
  return s;
}
const CharSet& other_set() {
  static const CharSet s = perl_class('w').complement();
  return s;
}
uint8_t bit(Cls c) { return c == Cls::kWord ? kWord : kOther; }

Cls class_of(const CharSet& s) {
  if (s.intersect(word_set()).empty()) return Cls::kOther;
  if (s.intersect(other_set()).empty()) return Cls::kWord;
  return Cls::kUnknown;
}

bool nullable(const Regex& r) {
  switch (r.kind) {
    case Regex::Kind::kEmpty: return true;
    case Regex::Kind::kConcat:
      return std::all_of(r.items.begin(), r.items.end(), [](const RegexPtr& i) { return nullable(*i); });
    case Regex::Kind::kAlt:
      return std::any_of(r.items.begin(), r.items.end(), [](const RegexPtr& i) { return nullable(*i); });
    case Regex::Kind::kRepeat: return r.min == 0 || nullable(*r.items[0]);
    default: return false;
  }
}

// The nonempty strings of r whose first (first = true) or last character is of class c.
RegexPtr restrict_end(const RegexPtr& r, Cls c, bool first) {
  switch (r->kind) {
    case Regex::Kind::kEmpty:
    case Regex::Kind::kNothing: return Regex::nothing();
    case Regex::Kind::kChars: return Regex::chars_of(r->chars.intersect(c == Cls::kWord ? word_set() : other_set()));
    case Regex::Kind::kAlt: {
      std::vector<RegexPtr> alts;
      for (const auto& i : r->items) alts.push_back(restrict_end(i, c, first));
      return Regex::alt(std::move(alts));
    }
    case Regex::Kind::kConcat: {
      // the end character comes from item i when the items beyond it (towards that end) are ε
      const auto& it = r->items;
      size_t n = it.size();
      std::vector<RegexPtr> alts;
      for (size_t k = 0; k < n; ++k) {
        size_t i = first ? k : n - 1 - k;
        RegexPtr ri = restrict_end(it[i], c, first);
        if (first) {
          std::vector<RegexPtr> seq{ri};
          seq.insert(seq.end(), it.begin() + static_cast<ptrdiff_t>(i) + 1, it.end());
          alts.push_back(Regex::concat(std::move(seq)));
        } else {
          std::vector<RegexPtr> seq(it.begin(), it.begin() + static_cast<ptrdiff_t>(i));
          seq.push_back(ri);
          alts.push_back(Regex::concat(std::move(seq)));
        }
        if (!nullable(*it[i])) break;
      }
      return Regex::alt(std::move(alts));
    }
    case Regex::Kind::kRepeat: {
      // x{m,n}: the end character comes from the outermost nonempty iteration; when x is
      // nullable the other iterations are x{0,n-1} (ε pads up to m), else x{max(m,1)-1, n-1}
      const RegexPtr& x = r->items[0];
      if (r->max == 0) return Regex::nothing();
      uint32_t rest_min = nullable(*x) || r->min == 0 ? 0 : r->min - 1;
      uint32_t rest_max = r->max == kUnbounded ? kUnbounded : r->max - 1;
      RegexPtr rest = Regex::repeat(x, rest_min, rest_max, r->lazy);
      RegexPtr rx = restrict_end(x, c, first);
      return first ? Regex::concat({rx, rest}) : Regex::concat({rest, rx});
    }
    default:
      throw Error(ErrorKind::kUnsupported, "regex: internal: unexpected node kind in an ECMA pattern");
  }
}

// Parts with equal (L, R) (and, with `exact`, equal emptiness and end classes) become one.
Parts merge(const Parts& in, bool exact = false) {
  Parts out;
  for (const auto& p : in) {
    if (p.r->kind == Regex::Kind::kNothing || p.L == 0 || p.R == 0) continue;
    auto same = [&](const Part& q) {
      return q.L == p.L && q.R == p.R &&
             (!exact || (q.emp == p.emp && q.first == p.first && q.last == p.last));
    };
    auto it = std::find_if(out.begin(), out.end(), same);
    if (it == out.end()) {
      out.push_back(p);
      continue;
    }
    Part& q = *it;
    bool q_ne = q.emp != Emp::kEps, p_ne = p.emp != Emp::kEps;
    if (q_ne && p_ne) {
      if (q.first != p.first) q.first = Cls::kUnknown;
      if (q.last != p.last) q.last = Cls::kUnknown;
    } else if (p_ne) {
      q.first = p.first;
      q.last = p.last;
    }
    q.emp = q.emp == p.emp ? q.emp : Emp::kMaybe;
    q.r = Regex::alt({q.r, p.r});
  }
  return out;
}

// p as pieces whose first (first = true) or last class is known: its ε piece (if any) and its
// nonempty pieces per class.
Parts split(const Part& p, bool first) {
  if (p.emp == Emp::kEps) return {p};
  Cls known = first ? p.first : p.last;
  if (p.emp == Emp::kNonEmpty && known != Cls::kUnknown) return {p};
  Parts out;
  if (p.emp == Emp::kMaybe && nullable(*p.r)) out.push_back(eps(p.L, p.R));
  for (Cls c : {Cls::kWord, Cls::kOther}) {
    if (known != Cls::kUnknown && known != c) continue;
    RegexPtr rr = restrict_end(p.r, c, first);
    if (rr->kind == Regex::Kind::kNothing) continue;
    Part q = p;
    q.r = rr;
    q.emp = Emp::kNonEmpty;
    (first ? q.first : q.last) = c;
    out.push_back(q);
  }
  return out;
}

Parts concat(const Parts& A, const Parts& B) {
  Parts out;
  for (const auto& a : A) {
    for (const auto& b : B) {
      Parts as = b.L != kAll ? split(a, false) : Parts{a};
      Parts bs = a.R != kAll ? split(b, true) : Parts{b};
      for (const auto& pa : as) {
        for (const auto& pb : bs) {
          uint8_t L, R;
          if (pa.emp == Emp::kEps) {
            L = pa.L & pb.L;
          } else {  // nonempty, or maybe-ε with pb.L = all
            L = pa.L;
            if (pb.L != kAll && !(pb.L & bit(pa.last))) continue;
          }
          if (pb.emp == Emp::kEps) {
            R = pa.R & pb.R;
          } else {
            R = pb.R;
            if (pa.R != kAll && !(pa.R & bit(pb.first))) continue;
          }
          if (L == 0 || R == 0) continue;
          Part q;
          q.L = L;
          q.R = R;
          q.r = Regex::concat({pa.r, pb.r});
          q.emp = pa.emp == Emp::kEps && pb.emp == Emp::kEps                   ? Emp::kEps
                  : pa.emp == Emp::kNonEmpty || pb.emp == Emp::kNonEmpty ? Emp::kNonEmpty
                                                                           : Emp::kMaybe;
          auto pick = [](const Part& near, const Part& far, bool first) {
            Cls cn = first ? near.first : near.last, cf = first ? far.first : far.last;
            if (near.emp == Emp::kEps) return cf;
            if (near.emp == Emp::kNonEmpty || far.emp == Emp::kEps) return cn;
            return cn == cf ? cn : Cls::kUnknown;
          };
          q.first = pick(pa, pb, true);
          q.last = pick(pb, pa, false);
          out.push_back(std::move(q));
        }
      }
    }
  }
  return merge(out);
}

// One or more nonempty iterations of the pieces `ne` (each nonempty). Split by first and last
// class, a piece j may follow an iteration that ended in class g with right restriction R when
// j's first class is in R and g is in j.L; so the iterations form an automaton whose states are
// (last class, R) of the iteration just read (at most 2 × 7), and Kleene's algorithm over those
// states gives the regex of every run.
Parts plus(const Parts& ne) {
  Parts pieces;
  for (const auto& p : ne) {
    for (const auto& q : split(p, true)) {
      for (const auto& s : split(q, false)) {
        if (s.emp == Emp::kNonEmpty) pieces.push_back(s);
      }
    }
  }
  pieces = merge(pieces, true);
  std::vector<std::pair<Cls, uint8_t>> states;
  auto state_of = [&](const Part& p) {
    std::pair<Cls, uint8_t> key{p.last, p.R};
    auto it = std::find(states.begin(), states.end(), key);
    if (it != states.end()) return static_cast<size_t>(it - states.begin());
    states.push_back(key);
    return states.size() - 1;
  };
  for (const auto& p : pieces) state_of(p);
  size_t k = states.size();
  std::vector<std::vector<RegexPtr>> a(k, std::vector<RegexPtr>(k, Regex::nothing()));
  for (size_t s = 0; s < k; ++s) {
    for (const auto& j : pieces) {
      if ((states[s].second & bit(j.first)) && (j.L & bit(states[s].first))) {
        size_t t = state_of(j);
        a[s][t] = Regex::alt({a[s][t], j.r});
      }
    }
  }
  auto none = [](const RegexPtr& r) { return r->kind == Regex::Kind::kNothing; };
  for (size_t m = 0; m < k; ++m) {  // a becomes the runs of one or more edges
    RegexPtr loop = Regex::repeat(a[m][m], 0, kUnbounded);
    for (size_t i = 0; i < k; ++i) {
      if (none(a[i][m])) continue;
      for (size_t j = 0; j < k; ++j) {
        if (none(a[m][j])) continue;
        a[i][j] = Regex::alt({a[i][j], Regex::concat({a[i][m], loop, a[m][j]})});
      }
    }
  }
  Parts out;
  for (const auto& p : pieces) {  // the first iteration, then any run
    size_t s = state_of(p);
    for (size_t t = 0; t < k; ++t) {
      RegexPtr run = s == t ? Regex::alt({Regex::empty(), a[s][t]}) : a[s][t];
      RegexPtr r = Regex::concat({p.r, run});
      if (none(r)) continue;
      out.push_back({p.L, states[t].second, r, Emp::kNonEmpty, p.first, states[t].first});
    }
  }
  return merge(out);
}

struct Lowerer {
  const State& st;

  Parts lower(const Node& n) {
    switch (n.k) {
      case Node::K::kSet: {
        Cls c = class_of(n.set);
        return {{kAll, kAll, Regex::chars_of(n.set), Emp::kNonEmpty, c, c}};
      }
      case Node::K::kEmpty: return {eps(kAll, kAll)};
      case Node::K::kBol: return {eps(kEdge, kAll)};
      case Node::K::kEol: return {eps(kAll, kEdge)};
      case Node::K::kWordB: return {eps(kEdge | kOther, kWord), eps(kWord, kEdge | kOther)};
      case Node::K::kNotWordB: return {eps(kEdge | kOther, kEdge | kOther), eps(kWord, kWord)};
      case Node::K::kAlt: {
        Parts out;
        for (const auto& k : n.kids) {
          Parts p = lower(k);
          out.insert(out.end(), p.begin(), p.end());
        }
        return merge(out);
      }
      case Node::K::kConcat: {
        Parts acc{eps(kAll, kAll)};
        for (const auto& k : n.kids) acc = concat(acc, lower(k));
        return acc;
      }
      case Node::K::kRepeat: return repeat(n);
    }
    return {};
  }

  Parts repeat(const Node& n) {
    Parts x = lower(n.kids[0]);
    if (x.empty()) return n.min == 0 ? Parts{eps(kAll, kAll)} : Parts{};
    if (n.max == 0) return {eps(kAll, kAll)};
    if (x.size() == 1 && x[0].L == kAll && x[0].R == kAll) {  // no assertion restricts: plain repeat
      const Part& p = x[0];
      Emp emp = p.emp == Emp::kEps ? Emp::kEps : n.min > 0 && p.emp == Emp::kNonEmpty ? Emp::kNonEmpty : Emp::kMaybe;
      return {{kAll, kAll, Regex::repeat(p.r, n.min, n.max, n.lazy), emp, p.first, p.last}};
    }
    Parts acc{eps(kAll, kAll)};
    for (uint32_t i = 0; i < n.min; ++i) acc = concat(acc, x);
    if (n.max == n.min) return acc;
    Parts ne;
    for (const auto& p : x) {
      if (p.emp == Emp::kEps) continue;
      for (const auto& q : split(p, true)) {
        if (q.emp == Emp::kNonEmpty) ne.push_back(q);
      }
    }
    if (ne.empty()) return acc;
    Parts tail;
    if (n.max == kUnbounded) {
      tail = plus(ne);
      tail.push_back(eps(kAll, kAll));
      tail = merge(tail);
    } else {
      tail = {eps(kAll, kAll)};
      for (uint32_t i = n.min; i < n.max; ++i) {
        tail = concat(ne, tail);
        tail.push_back(eps(kAll, kAll));
        tail = merge(tail);
      }
    }
    return concat(acc, tail);
  }
};

// The language of the whole pattern: search (s = u x v around a match) or whole-input.
// final_newline: the end of input may also be before a final \n (Python's `$`), for
// RegexOptions::Dialects::kEither, whose language must hold what either dialect matches.
RegexPtr assemble(const Parts& parts, bool search, bool final_newline) {
  RegexPtr any = Regex::chars_of(CharSet::any());
  RegexPtr any_star = Regex::repeat(any, 0, kUnbounded);
  auto side = [&](uint8_t mask, bool before) {
    if (mask == kAll) return any_star;
    std::vector<RegexPtr> alts;
    if (mask & kEdge) alts.push_back(Regex::empty());
    if ((mask & kEdge) && !before && final_newline) alts.push_back(Regex::chars_of(CharSet::single('\n')));
    uint8_t cls = mask & (kWord | kOther);
    RegexPtr c = cls == (kWord | kOther) ? any
                 : cls == kWord         ? Regex::chars_of(word_set())
                 : cls == kOther        ? Regex::chars_of(other_set())
                                        : Regex::nothing();
    alts.push_back(before ? Regex::concat({any_star, c}) : Regex::concat({c, any_star}));
    return Regex::alt(std::move(alts));
  };
  std::vector<RegexPtr> alts;
  for (const auto& p : parts) {
    if (!search) {
      if ((p.L & kEdge) && (p.R & kEdge)) alts.push_back(p.r);
      continue;
    }
    alts.push_back(Regex::concat({side(p.L, true), p.r, side(p.R, false)}));
  }
  return Regex::alt(std::move(alts));
}

}  // namespace ecma

// Size of the tree once counted repetitions are expanded (saturating).
uint64_t expanded_size(const Node& n, const State& st, size_t limit) {
  // a group wrapper (a concat of one) is not a node of its own
  uint64_t total = n.k == Node::K::kConcat && n.kids.size() == 1 ? 0 : 1;
  switch (n.k) {
    case Node::K::kRepeat: {
      uint64_t copies = n.max == kUnbounded ? std::max<uint64_t>(n.min, 1) : std::max<uint64_t>(n.max, 1);
      total += expanded_size(n.kids[0], st, limit) * copies;
      break;
    }
    default:
      for (const auto& k : n.kids) total += expanded_size(k, st, limit);
  }
  if (total > limit) {
    st.fail(ErrorKind::kLimit, n.pos,
            "regex too large: more than " + std::to_string(limit) +
                " nodes after expanding counted repetitions (RegexOptions::max_nodes)");
  }
  return total;
}

}  // namespace

RegexPtr parse_regex(std::string_view pattern, const RegexOptions& options) {
  State st;
  st.pattern = pattern;
  st.flags.i = options.case_insensitive;
  st.flags.s = options.dot_all;
  st.ecma = options.ecma;
  st.dialects = options.ecma ? options.dialects : RegexOptions::Dialects::kEcma;
  if (size_t bad = fsm::invalid_utf8(pattern); bad != std::string_view::npos) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned char>(pattern[bad]));
    st.fail(ErrorKind::kParse, bad, std::string("invalid UTF-8 byte ") + buf + " in the pattern");
  }
  st.frames.emplace_back();
  It first = pattern.data();
  It last = pattern.data() + pattern.size();
  try {
    bool ok = x3::parse(first, last, x3::with<state_tag>(std::ref(st))[pattern_rule]);
    if (!ok || first != last) st.fail(ErrorKind::kParse, st.off(first), "unexpected character");
  } catch (const x3::expectation_failure<It>& e) {
    st.fail(ErrorKind::kParse, st.mark, "malformed escape (expected " + e.which() + ")");
  }
  Node root = finish_frame(st.frames.back());
  expanded_size(root, st, options.max_nodes);
  if (options.ecma) {
    ecma::Lowerer el{st};
    return ecma::assemble(el.lower(root), options.search, st.dialects == RegexOptions::Dialects::kEither);
  }
  Lowerer lw{st};
  Parts parts = lw.lower(root, true, true);
  std::vector<RegexPtr> alts;
  RegexPtr any_star = Regex::repeat(Regex::chars_of(CharSet::any()), 0, kUnbounded);
  RegexPtr nl = Regex::chars_of(CharSet::single('\n'));
  for (const auto& p : parts) {
    if (!options.search) {
      alts.push_back(p.r);
      continue;
    }
    RegexPtr pre = p.s == 0   ? any_star
                   : p.s == 1 ? Regex::empty()
                              : Regex::alt({Regex::empty(), Regex::concat({any_star, nl})});
    RegexPtr post = p.e == 0   ? any_star
                    : p.e == 1 ? Regex::empty()
                               : Regex::alt({Regex::empty(), Regex::concat({nl, any_star})});
    alts.push_back(Regex::concat({pre, p.r, post}));
  }
  return Regex::alt(std::move(alts));
}

}  // namespace tollgate::grammar
