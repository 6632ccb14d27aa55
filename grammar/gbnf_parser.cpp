// GBNF (llama.cpp) and EBNF (XGrammar's dialect) front-end, written with Boost.Spirit X3.
// Takes: grammar text (`name ::= alternatives`, `|`, `( )`, `* + ?`, `{m}`, `{m,}`, `{m,n}`,
// "literals", [classes], `.`, `#` comments, rules over several lines). Gives: a Grammar IR whose
// start rule is `root`. The X3 semantic actions drive an ExprBuilder; a rule ends where the next
// `name ::=` begins. Errors carry file:line:column. EBNF lookahead `(= …)` is refused.
#include "grammar/grammar_ir.hpp"
#include "grammar/grammar_text.hpp"
#include "grammar/x3_front.hpp"

namespace tollgate::grammar {

namespace x3 = boost::spirit::x3;

namespace {

struct ParseState : front::StateBase {
  bool ebnf = false;
};
using namespace front;  // st, matched, where, where_end, on_bar, on_open, on_close, on_ref

bool hash_comment(const char* p, const char*) { return *p == '#'; }

auto on_rule_begin = [](auto& ctx) {
  auto& s = st(ctx);
  auto r = x3::_attr(ctx);
  s.rule_name.assign(r.begin(), r.end());
  s.rule_offset = static_cast<size_t>(r.begin() - s.base);
  s.b.open(where(ctx));
};
auto on_rule_end = [](auto& ctx) {
  auto& s = st(ctx);
  GExprPtr body = s.b.close();
  s.g->check_nesting(body->depth, s.rule_offset);
  if (s.g->find(s.rule_name) >= 0)
    throw Error(ErrorKind::kGrammar, "rule '" + s.rule_name + "' is defined twice",
                span_in(s.g->text, s.rule_offset, s.rule_offset + s.rule_name.size(), s.g->file), codes::kDuplicateRule);
  s.g->rules.push_back({s.rule_name, body, s.rule_offset, false, false});
};
auto on_literal = [](auto& ctx) {
  auto& s = st(ctx);
  size_t off = where(ctx);
  s.b.push(GExpr::leaf(text::literal_regex(text::decode_literal(*s.g, matched(ctx), off)), off, where_end(ctx)));
};
auto on_class = [](auto& ctx) {
  auto& s = st(ctx);
  size_t off = where(ctx);
  s.b.push(GExpr::leaf(text::class_regex(*s.g, matched(ctx), off), off, where_end(ctx)));
};
auto on_any = [](auto& ctx) {
  st(ctx).b.push(GExpr::leaf(Regex::chars_of(CharSet::any()), where(ctx), where_end(ctx)));
};
auto on_lookahead = [](auto& ctx) {
  st(ctx).g->fail(ErrorKind::kUnsupported,
                  "lookahead assertions '(= ...)' are not supported; remove the assertion",
                  where(ctx));
};
auto on_quant = [](auto& ctx) {
  auto& s = st(ctx);
  size_t off = where(ctx);
  front::apply_quantifier(ctx, [&](std::string_view q, uint32_t& min, uint32_t& max) {
    // {m} {m,} {m,n} {,n}
    std::string body(q.substr(1, q.size() - 2));
    auto num = [&](std::string_view t, size_t at) -> uint32_t {
      size_t k = 0;
      while (k < t.size() && t[k] == ' ') ++k;
      size_t e = t.size();
      while (e > k && t[e - 1] == ' ') --e;
      t = t.substr(k, e - k);
      if (t.empty() || t.size() > 9 || t.find_first_not_of("0123456789") != std::string_view::npos)
        s.g->fail(ErrorKind::kParse, "expected a number in the repetition {m,n} [" + std::string(q) + "]", off + 1 + at);
      return static_cast<uint32_t>(std::stoul(std::string(t)));
    };
    size_t comma = body.find(',');
    if (comma == std::string::npos) {
      min = max = num(body, 0);
    } else {
      std::string_view a = std::string_view(body).substr(0, comma);
      std::string_view b = std::string_view(body).substr(comma + 1);
      min = a.find_first_not_of(' ') == std::string_view::npos ? 0 : num(a, 0);
      max = b.find_first_not_of(' ') == std::string_view::npos ? kUnbounded : num(b, comma + 1);
      if (max < min) s.g->fail(ErrorKind::kParse, "repetition {m,n} has n < m", off);
    }
  });
};

const auto skipper = x3::space | x3::lexeme['#' >> *(x3::char_ - x3::eol)];
const auto name = x3::lexeme[(x3::alnum | x3::char_('_')) >> *(x3::alnum | x3::char_('_') | x3::char_('-'))];

x3::rule<class alternatives_r> const alternatives = "alternatives";
x3::rule<class sequence_r> const sequence = "sequence";
x3::rule<class primary_r> const primary = "expression";
x3::rule<class literal_r> const literal = "string literal";
x3::rule<class cclass_r> const cclass = "character class";
x3::rule<class quant_r> const quant = "repetition";
x3::rule<class rule_r> const rule_def = "rule";
// Named so that an expectation failure names it ("expected ')'"), not the action's type.
x3::rule<class close_paren_r> const close_paren = "')'";

const auto literal_def =
    x3::lexeme['"' > *(('\\' >> (x3::char_ - x3::eol)) | (x3::char_ - '"' - '\\' - x3::eol)) > '"'];
const auto cclass_def = x3::lexeme['[' > *(('\\' >> (x3::char_ - x3::eol)) | (x3::char_ - ']' - '\\' - x3::eol)) > ']'];
const auto quant_def = x3::lit('*') | x3::lit('+') | x3::lit('?') |
                       x3::lexeme['{' > *(x3::char_(" 0-9,")) > '}'];
const auto primary_def = x3::raw[x3::lit("(=")][on_lookahead] | x3::raw[literal][on_literal] | x3::raw[cclass][on_class] |
                         x3::raw[x3::lit('.')][on_any] | (x3::raw[name] >> !x3::lit("::="))[on_ref] |
                         (x3::raw[x3::lit('(')][on_open] > alternatives > close_paren);
const auto close_paren_def = x3::raw[x3::lit(')')][on_close];
const auto sequence_def = *(primary >> *x3::raw[quant][on_quant]);
const auto alternatives_def = sequence % x3::raw[x3::lit('|')][on_bar];
const auto rule_def_def = (x3::raw[name] >> x3::lit("::="))[on_rule_begin] > alternatives > x3::raw[x3::eps][on_rule_end];

BOOST_SPIRIT_DEFINE(alternatives, sequence, primary, literal, cclass, quant, rule_def, close_paren)

Grammar parse_bnf(std::string_view text, std::string_view file, bool ebnf, const GrammarOptions& options) {
  Grammar g;
  g.text = std::string(text);
  g.file = std::string(file);
  g.options = options;
  ParseState state;
  state.g = &g;
  state.base = g.text.data();
  state.comment_at = hash_comment;
  state.ebnf = ebnf;
  const char* last = g.text.data() + g.text.size();
  const char* it = front::parse_all(g, state, *rule_def, skipper);
  if (it != last) {
    size_t off = static_cast<size_t>(it - g.text.data());
    std::string msg = "unexpected '" + std::string(1, *it) + "': expected a rule (name ::= ...)";
    if (g.rules.empty() && x3::parse(it, last, name)) msg = "expected '::=' after the rule name";
    g.fail(ErrorKind::kParse, msg, off);
  }
  if (g.rules.empty()) g.fail(ErrorKind::kGrammar, "grammar has no rules", 0, codes::kNoStartRule);
  g.start = g.find("root");
  if (g.start < 0) g.fail(ErrorKind::kGrammar, "grammar has no 'root' rule", 0, codes::kNoStartRule);
  return g;
}

}  // namespace

Grammar parse_gbnf(std::string_view text, std::string_view file, const GrammarOptions& options) {
  return parse_bnf(text, file, false, options);
}
Grammar parse_ebnf(std::string_view text, std::string_view file, const GrammarOptions& options) {
  return parse_bnf(text, file, true, options);
}

}  // namespace tollgate::grammar
