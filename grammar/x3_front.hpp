// What the two Spirit X3 grammar front-ends (gbnf_parser.cpp, lark_parser.cpp) share: the parse
// state every semantic action reaches through `state_tag`, the text an action matched without
// the blanks and comments the skipper passed over, the actions that only drive the ExprBuilder,
// and the driver that turns X3 expectation failures into positioned errors.
#pragma once

#include <boost/spirit/home/x3.hpp>

#include <cctype>
#include <string>
#include <string_view>

#include "grammar/grammar_ir.hpp"
#include "grammar/grammar_text.hpp"

namespace tollgate::grammar::front {

namespace x3 = boost::spirit::x3;

// The fields every front-end's parse state has (each derives its own).
struct StateBase {
  Grammar* g = nullptr;
  text::ExprBuilder b;
  const char* base = nullptr;
  std::string rule_name;
  size_t rule_offset = 0;
  bool (*comment_at)(const char* p, const char* end) = nullptr;  // a comment starts at p
};
struct state_tag;

template <class Ctx>
auto& st(Ctx& ctx) {
  return x3::get<state_tag>(ctx).get();
}
// The matched text of the current action, without the blanks and comments skipped before it.
template <class Ctx>
std::string_view matched(Ctx& ctx) {
  auto r = x3::_attr(ctx);  // every action sits on an x3::raw[...]
  const char* b = &*r.begin();
  const char* e = b + (r.end() - r.begin());
  auto comment_at = st(ctx).comment_at;
  while (b != e) {
    if (comment_at(b, e)) {
      while (b != e && *b != '\n') ++b;
    } else if (std::isspace(static_cast<unsigned char>(*b))) {
      ++b;
    } else {
      break;
    }
  }
  return std::string_view(b, static_cast<size_t>(e - b));
}
template <class Ctx>
size_t where(Ctx& ctx) {
  return static_cast<size_t>(matched(ctx).data() - st(ctx).base);
}
// Just past the matched text (the end of the span a diagnostic about it underlines).
template <class Ctx>
size_t where_end(Ctx& ctx) {
  std::string_view m = matched(ctx);
  return static_cast<size_t>(m.data() + m.size() - st(ctx).base);
}

inline const auto on_bar = [](auto& ctx) { st(ctx).b.bar(where(ctx) + 1); };
// A group opens: X3 recurses once per open group, so groups deeper than the limit are refused
// here, before the recursion goes on (the builder's depth counts the rule body as one frame).
inline const auto on_open = [](auto& ctx) {
  auto& s = st(ctx);
  size_t off = where(ctx);
  if (s.b.depth() > s.g->options.max_nesting)
    s.g->fail(ErrorKind::kLimit,
              "groups nested deeper than " + std::to_string(s.g->options.max_nesting) +
                  " levels; move inner groups into named rules, or raise the limit "
                  "(CompileOptions::max_grammar_nesting)",
              off);
  s.b.open(off);
};
// Pushes a finished group or rule body, checked against the nesting limit (a group of one
// sequence in another adds a level for each).
template <class Ctx>
void push_checked(Ctx& ctx, GExprPtr e) {
  auto& s = st(ctx);
  s.g->check_nesting(e->depth, e->offset);
  s.b.push(std::move(e));
}
// A group closes at its ')': the group (even one of a single item) spans from its '(' to here.
inline const auto on_close = [](auto& ctx) { push_checked(ctx, st(ctx).b.close(where_end(ctx))); };
inline const auto on_ref = [](auto& ctx) {
  auto r = x3::_attr(ctx);
  st(ctx).b.push(GExpr::ref(std::string(r.begin(), r.end()), static_cast<size_t>(r.begin() - st(ctx).base),
                            static_cast<size_t>(r.end() - st(ctx).base)));
};

// A quantifier's action: `*`, `+` and `?` are read here, any other (counted) form by
// `counted(text, min, max)`; the repetition then wraps the last item of the current sequence.
template <class Ctx, class Counted>
void apply_quantifier(Ctx& ctx, Counted counted) {
  auto& s = st(ctx);
  size_t off = where(ctx);
  std::string_view q = matched(ctx);
  uint32_t min = 0, max = kUnbounded;
  if (q == "+") min = 1;
  else if (q == "?") max = 1;
  else if (q != "*") counted(q, min, max);
  const uint32_t bound = max == kUnbounded ? min : max;
  if (bound > s.g->options.max_repeat)
    s.g->fail(ErrorKind::kLimit, "repetition count " + std::to_string(bound) + " exceeds the limit of " +
                                     std::to_string(s.g->options.max_repeat) + " (GrammarOptions::max_repeat)",
              off);
  if (!s.b.has_item()) s.g->fail(ErrorKind::kParse, "repetition without an expression before it", off);
  GExprPtr item = s.b.pop_item();
  s.g->check_nesting(item->depth + 1, off);  // x*** nests without recursing in X3
  s.b.push(GExpr::repeat(std::move(item), min, max, off, off + q.size()));
}

// Parses the whole grammar text with `parser` (the state bound to state_tag) and skips trailing
// blanks and comments. An X3 expectation failure becomes a kParse error "expected X, found Y" at
// its position. Returns where parsing stopped: the end of the text unless something is left.
template <class Parser, class Skipper, class State>
const char* parse_all(Grammar& g, State& state, const Parser& parser, const Skipper& skipper) {
  const char* first = g.text.data();
  const char* last = first + g.text.size();
  const char* it = first;
  try {
    x3::phrase_parse(it, last, x3::with<state_tag>(std::ref(state))[parser], skipper);
  } catch (const x3::expectation_failure<const char*>& e) {
    // Named rules and literals name themselves; any other parser would show its C++ type.
    std::string what = e.which();
    if (what.find("boost") != std::string::npos) what = "more of this construct";
    g.fail(ErrorKind::kParse, "expected " + what + ", found " + text::describe_found(e.where(), last),
           static_cast<size_t>(e.where() - first));
  }
  x3::phrase_parse(it, last, x3::eps, skipper);
  return it;
}

}  // namespace tollgate::grammar::front
