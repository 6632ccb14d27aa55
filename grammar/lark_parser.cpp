// Lark front-end (the subset Outlines and llguidance users write), written with Boost.Spirit X3.
// Takes: rules `name: …` and terminals `NAME: …` with `|`, `( )`, `[ ]`, `? * +`, `~ n`,
// `~ n..m`, "literals" with the `i` flag, "a".."z" ranges, /regex/flags terminals,
// `%import common.X [-> Y]`, `%import common (X, Y)`, `%ignore …`, `//` comments.
// Priorities (`name.2:`) and aliases (`-> alias`) are accepted with a warning and ignored.
// `%json { schema }` inside a rule (llguidance's spelling) embeds a JSON Schema, compiled by the
// JSON Schema front-end (GrammarOptions::json_schema) into rules of this grammar that are lexed
// as a schema is (GRule::free_lexing); errors in it are reported at line:column of this text.
// Gives: a Grammar IR whose start rule is `start`. Every terminal stays its own lexeme
// (Grammar::fixed_lexemes), and terminals match as in Lark's Earley parser (its default
// `dynamic` lexer): at each position a terminal matches only the text Python's re.match returns
// there (Grammar::leftmost_first), and the parser follows every terminal that matches.
#include <map>

#include "engine/json_scan.hpp"
#include "grammar/grammar_ir.hpp"
#include "grammar/grammar_text.hpp"
#include "grammar/json_schema.hpp"
#include "grammar/x3_front.hpp"

namespace tollgate::grammar {

namespace x3 = boost::spirit::x3;

namespace {

// Lark's common.lark terminals as regexes (same languages).
const std::map<std::string, std::string>& common_terminals() {
  static const std::map<std::string, std::string> k = {
      {"DIGIT", "[0-9]"},
      {"HEXDIGIT", "[a-fA-F0-9]"},
      {"INT", "[0-9]+"},
      {"SIGNED_INT", "[+-]?[0-9]+"},
      {"DECIMAL", "[0-9]+\\.[0-9]*|\\.[0-9]+"},
      {"FLOAT", "[0-9]+[eE][+-]?[0-9]+|([0-9]+\\.[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?"},
      {"SIGNED_FLOAT", "[+-]?([0-9]+[eE][+-]?[0-9]+|([0-9]+\\.[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?)"},
      {"NUMBER", "[0-9]+[eE][+-]?[0-9]+|([0-9]+\\.[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?|[0-9]+"},
      {"SIGNED_NUMBER",
       "[+-]?([0-9]+[eE][+-]?[0-9]+|([0-9]+\\.[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?|[0-9]+)"},
      {"ESCAPED_STRING", "\"([^\"\\\\\\n]|\\\\[^\\n])*\""},
      {"LCASE_LETTER", "[a-z]"},
      {"UCASE_LETTER", "[A-Z]"},
      {"LETTER", "[a-zA-Z]"},
      {"WORD", "[a-zA-Z]+"},
      {"CNAME", "[_a-zA-Z][_a-zA-Z0-9]*"},
      {"WS_INLINE", "[ \\t]+"},
      {"WS", "[ \\t\\f\\r\\n]+"},
      {"CR", "\\r"},
      {"LF", "\\n"},
      {"NEWLINE", "(\\r?\\n)+"},
      {"SH_COMMENT", "#[^\\n]*"},
      {"CPP_COMMENT", "//[^\\n]*"},
      {"C_COMMENT", "/\\*([^*]|\\*+[^*/])*\\*+/"},
      {"SQL_COMMENT", "--[^\\n]*"},
  };
  return k;
}

struct ParseState : front::StateBase {
  bool ignore_stmt = false;
  size_t json_begin = 0, json_end = 0;  // the schema of the last %json (byte offsets)
  std::string pending_literal;  // first literal of a "a".."z" range
};
using namespace front;  // st, matched, where, where_end, on_bar, on_open, on_close, on_ref

bool lark_comment(const char* p, const char* end) { return (*p == '/' && p + 1 != end && p[1] == '/') || *p == '#'; }

bool is_terminal_name(std::string_view n) {
  size_t i = 0;
  while (i < n.size() && n[i] == '_') ++i;
  return i < n.size() && isupper(static_cast<unsigned char>(n[i]));
}

void add_rule(ParseState& s, const std::string& name, GExprPtr body, size_t offset, bool builtin) {
  bool term = is_terminal_name(name);
  if (s.g->find(name) >= 0)
    throw Error(ErrorKind::kGrammar, std::string(term ? "duplicate token" : "duplicate rule") + " '" + name + "'",
                span_in(s.g->text, offset, offset + name.size(), s.g->file), codes::kDuplicateRule);
  s.g->rules.push_back({name, std::move(body), offset, term, builtin});
}

auto on_rule_begin = [](auto& ctx) {
  auto& s = st(ctx);
  std::string_view head = matched(ctx);  // [?!]name[.prio] ... up to ':'
  size_t off = where(ctx);
  size_t i = 0;
  while (i < head.size() && (head[i] == '?' || head[i] == '!')) ++i;
  size_t j = i;
  while (j < head.size() && (isalnum(static_cast<unsigned char>(head[j])) || head[j] == '_')) ++j;
  s.rule_name = std::string(head.substr(i, j - i));
  s.rule_offset = off + i;
  size_t k = j;
  while (k < head.size() && isspace(static_cast<unsigned char>(head[k]))) ++k;
  if (k < head.size() && head[k] == '{')
    s.g->fail(ErrorKind::kUnsupported, "rule templates (name{...}) are not supported", off + k);
  if (k < head.size() && head[k] == '.')
    s.g->warn("priority of '" + s.rule_name + "' is ignored", off + k, codes::kIgnoredFeature);
  s.b.open(off);
};
auto on_rule_end = [](auto& ctx) {
  auto& s = st(ctx);
  GExprPtr body = s.b.close();
  s.g->check_nesting(body->depth, s.rule_offset);
  add_rule(s, s.rule_name, std::move(body), s.rule_offset, false);
};
auto on_ignore_begin = [](auto& ctx) {
  st(ctx).ignore_stmt = true;
  st(ctx).b.open(where(ctx));
};
auto on_ignore_end = [](auto& ctx) {
  auto& s = st(ctx);
  s.ignore_stmt = false;
  GExprPtr body = s.b.close();
  s.g->check_nesting(body->depth, body->offset);
  s.g->ignore.push_back(std::move(body));
};
auto on_alias = [](auto& ctx) {
  auto& g = *st(ctx).g;
  g.warnings.push_back({"alias ignored", span_in(g.text, where(ctx), where_end(ctx), g.file), codes::kIgnoredFeature});
};
auto on_literal = [](auto& ctx) {
  auto& s = st(ctx);
  size_t off = where(ctx);
  std::string_view raw = matched(ctx);
  bool ci = raw.back() == 'i';
  if (ci) raw.remove_suffix(1);
  s.b.push(GExpr::leaf(text::literal_regex(text::decode_literal(*s.g, raw, off), ci), off, where_end(ctx)));
};
auto on_range = [](auto& ctx) {
  auto& s = st(ctx);
  size_t off = where(ctx);
  std::string_view raw = matched(ctx);
  size_t mid = raw.find("\"..");
  // raw = "a".."z" (no spaces inside a lexeme)
  std::string_view a = raw.substr(0, mid + 1);
  size_t bstart = raw.find('"', mid + 3);
  std::string_view b = raw.substr(bstart);
  auto ca = text::decode_literal(*s.g, a, off);
  auto cb = text::decode_literal(*s.g, b, off + bstart);
  if (ca.size() != 1) s.g->fail(ErrorKind::kParse, "range start must be a single character", off);
  if (cb.size() != 1) s.g->fail(ErrorKind::kParse, "range end must be a single character", off + bstart);
  if (cb[0] < ca[0]) s.g->fail(ErrorKind::kParse, "invalid range order", off);
  s.b.push(GExpr::leaf(Regex::chars_of(CharSet::range(ca[0], cb[0])), off, where_end(ctx)));
};
auto on_regex = [](auto& ctx) {
  auto& s = st(ctx);
  size_t off = where(ctx);
  std::string_view raw = matched(ctx);
  size_t close = raw.rfind('/');
  std::string_view body = raw.substr(1, close - 1);
  std::string_view flags = raw.substr(close + 1);
  RegexOptions opts;
  for (size_t i = 0; i < flags.size(); ++i) {
    char f = flags[i];
    if (f == 'i') opts.case_insensitive = true;
    else if (f == 's') opts.dot_all = true;
    else if (f == 'm' || f == 'u') {
    } else {
      s.g->fail(ErrorKind::kUnsupported, std::string(1, f) + "-flag is not supported", off + close + 1 + i);
    }
  }
  // Lark writes a literal '/' inside the regex as '\/'.
  std::string pattern;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\\' && i + 1 < body.size() && body[i + 1] == '/') {
      pattern.push_back('/');
      ++i;
    } else {
      pattern.push_back(body[i]);
    }
  }
  RegexPtr r;
  try {
    r = parse_regex(pattern, opts);
  } catch (const Error& e) {
    size_t col = e.column() > 0 ? static_cast<size_t>(e.column() - 1) : 0;
    s.g->fail(e.kind(), "invalid regex: " + e.message(), off + 1 + std::min(col, body.size()));
  }
  s.b.push(GExpr::leaf(r, off, where_end(ctx)));
};
// %json { schema }: the schema is compiled and its rules join this grammar; the reference to its
// root rule is the item.
auto on_json = [](auto& ctx) {
  auto& s = st(ctx);
  size_t off = where(ctx);
  if (s.ignore_stmt) s.g->fail(ErrorKind::kGrammar, "%json cannot be ignored (%ignore)", off);
  if (is_terminal_name(s.rule_name))
    s.g->fail(ErrorKind::kGrammar,
              "%json in terminal " + s.rule_name + ": a schema is not one token; use it in a rule (lowercase name)", off);
  std::string_view schema = std::string_view(s.g->text).substr(s.json_begin, s.json_end - s.json_begin);
  // A position in the schema (JSON pointer) → this grammar's text, pointer kept.
  auto here = [&](const SourcePos& p) {
    size_t at = p.pointer.empty() ? std::string::npos : engine::locate_json_pointer(schema, p.pointer);
    SourcePos out = s.g->pos(s.json_begin + (at == std::string::npos ? 0 : at));
    out.pointer = p.pointer;
    return out;
  };
  Grammar sub;
  try {
    sub = json_schema_to_grammar(schema, s.g->options.json_schema, s.g->file, /*embedded=*/true);
  } catch (const Error& e) {
    throw Error(e.kind(), "in %json: " + e.message(), here(e.pos()));
  }
  for (auto& w : sub.warnings) s.g->warnings.push_back({"in %json: " + w.message, here(w.pos), w.code, w.severity});
  std::string prefix = "%json@" + std::to_string(s.g->pos(off).line) + ":" + std::to_string(s.g->pos(off).column) + "/";
  std::string root = embed_grammar(*s.g, std::move(sub), prefix, off, true);
  s.b.push(GExpr::ref(root, off));
};
// The JSON value after %json: its extent (validated; a malformed one is an error at its place).
struct json_value_parser : x3::parser<json_value_parser> {
  using attribute_type = x3::unused_type;
  static bool const has_attribute = false;
  template <class It, class Ctx, class RCtx, class Attr>
  bool parse(It& first, It const& last, Ctx const& ctx, RCtx&, Attr&) const {
    x3::skip_over(first, last, ctx);
    auto& s = x3::get<state_tag>(ctx).get();
    size_t at = static_cast<size_t>(first - s.base);
    if (first == last || (*first != '{' && *first != 't' && *first != 'f'))
      s.g->fail(ErrorKind::kParse,
                "expected a JSON Schema (an object, true or false) after %json, found " +
                    text::describe_found(&*first, &*first + (last - first)),
                at);
    engine::JsonScanner sc(s.g->text, s.g->file);
    sc.seek(at);
    sc.skip_value();
    s.json_begin = at;
    s.json_end = sc.pos();
    first += static_cast<std::ptrdiff_t>(s.json_end - at);
    return true;
  }
};
const json_value_parser json_value{};

auto on_close_opt = [](auto& ctx) {
  auto& s = st(ctx);
  GExprPtr group = s.b.close(where_end(ctx));
  s.g->check_nesting(group->depth + 1, group->offset);
  s.b.push(GExpr::repeat(std::move(group), 0, 1, where(ctx), where_end(ctx)));
};
auto on_quant = [](auto& ctx) {
  auto& s = st(ctx);
  size_t off = where(ctx);
  // As in Lark, an operator sits on its atom's line: a '?' that starts a line begins the next
  // rule (`?name: ...`), it does not repeat the last atom of this one.
  size_t i = off;
  while (i > 0 && (s.base[i - 1] == ' ' || s.base[i - 1] == '\t' || s.base[i - 1] == '\r')) --i;
  if (i > 0 && s.base[i - 1] == '\n') {
    x3::_pass(ctx) = false;
    return;
  }
  front::apply_quantifier(ctx, [&](std::string_view q, uint32_t& min, uint32_t& max) {
    // ~ n  or  ~ n..m
    std::string t;
    for (char c : q)
      if (c != '~' && !isspace(static_cast<unsigned char>(c))) t.push_back(c);
    size_t dots = t.find("..");
    auto num = [&](const std::string& d) -> uint32_t {
      if (d.empty() || d.size() > 9) s.g->fail(ErrorKind::kParse, "expected a number after '~'", off);
      return static_cast<uint32_t>(std::stoul(d));
    };
    if (dots == std::string::npos) {
      min = max = num(t);
    } else {
      min = num(t.substr(0, dots));
      max = num(t.substr(dots + 2));
      if (max < min) s.g->fail(ErrorKind::kParse, "repetition ~ n..m has m < n", off);
    }
  });
};
auto on_import = [](auto& ctx) {
  auto& s = st(ctx);
  size_t off = where(ctx);
  std::string_view t = matched(ctx);  // %import common.X [-> Y] | %import common (X, Y)
  std::string body(t.substr(7));
  std::string clean;
  for (char c : body)
    if (!isspace(static_cast<unsigned char>(c))) clean.push_back(c);
  auto import_one = [&](const std::string& name, const std::string& alias) {
    auto& table = common_terminals();
    auto it = table.find(name);
    if (it == table.end()) s.g->fail(ErrorKind::kGrammar, "Unknown common terminal '" + name + "'", off, codes::kUndefinedRule);
    if (s.g->find(alias) >= 0) return;  // importing twice is harmless
    s.g->rules.push_back({alias, GExpr::leaf(parse_regex(it->second), off), off, true, true});
  };
  if (clean.rfind("common.", 0) == 0) {
    std::string rest = clean.substr(7);
    size_t arrow = rest.find("->");
    if (arrow == std::string::npos) import_one(rest, rest);
    else import_one(rest.substr(0, arrow), rest.substr(arrow + 2));
  } else if (clean.rfind("common(", 0) == 0 && clean.back() == ')') {
    std::string list = clean.substr(7, clean.size() - 8);
    size_t p = 0;
    while (p <= list.size()) {
      size_t c = list.find(',', p);
      if (c == std::string::npos) c = list.size();
      std::string n = list.substr(p, c - p);
      if (!n.empty()) import_one(n, n);
      p = c + 1;
    }
  } else {
    s.g->fail(ErrorKind::kUnsupported, "only %import common.X is supported", off);
  }
};
auto on_bad_statement = [](auto& ctx) {
  st(ctx).g->fail(ErrorKind::kUnsupported, "statement " + std::string(matched(ctx)) + " is not supported",
                  where(ctx));
};

const auto skipper = x3::space | x3::lexeme[(x3::lit("//") | '#') >> *(x3::char_ - x3::eol)];
const auto ident = x3::lexeme[(x3::alpha | x3::char_('_')) >> *(x3::alnum | x3::char_('_'))];
const auto rule_head = x3::lexeme[*x3::char_("?!") >> ident] >> -(x3::lit('.') >> -x3::lit('-') >> x3::uint_) >> ':';

x3::rule<class expansions_r> const expansions = "alternatives";
x3::rule<class expansion_r> const expansion = "sequence";
x3::rule<class atom_r> const atom = "expression";
x3::rule<class literal_r> const literal = "string literal";
x3::rule<class regexp_r> const regexp = "regular expression";
x3::rule<class quant_r> const quant = "repetition";
x3::rule<class statement_r> const statement = "definition";
// Named so that an expectation failure names them ("expected ')'"), not the actions' types.
x3::rule<class close_paren_r> const close_paren = "')'";
x3::rule<class close_bracket_r> const close_bracket = "']'";
x3::rule<class alias_name_r> const alias_name = "an alias name";
x3::rule<class regex_body_r> const regex_body = "the regular expression";
x3::rule<class import_body_r> const import_body = "a module to import";

const auto string_tok = x3::lexeme['"' > *(('\\' >> (x3::char_ - x3::eol)) | (x3::char_ - '"' - '\\' - x3::eol)) > '"'];
const auto literal_def = x3::lexeme[string_tok >> -(x3::lit('i') >> !(x3::alnum | '_'))];
const auto range_tok = x3::lexeme[string_tok >> ".." >> string_tok];
const auto regex_body_def = +(('\\' >> (x3::char_ - x3::eol)) | (x3::char_ - '/' - '\\' - x3::eol));
const auto regexp_def = x3::lexeme[('/' >> !x3::lit('/') > regex_body > '/') >> *x3::alpha];
const auto quant_def = x3::lit('*') | x3::lit('+') | x3::lit('?') |
                       x3::lexeme['~' >> *x3::blank >> x3::uint_ >> -(*x3::blank >> ".." >> *x3::blank >> x3::uint_)];
const auto atom_def = x3::raw[x3::lexeme[x3::lit("%json") >> !(x3::alnum | '_')] >> json_value][on_json] |
                      x3::raw[range_tok][on_range] | x3::raw[literal][on_literal] | x3::raw[regexp][on_regex] |
                      (x3::raw[ident] >> !(-(x3::lit('.') >> -x3::lit('-') >> x3::uint_) >> ':') >> !x3::lit('{'))[on_ref] |
                      (x3::raw[x3::lit('(')][on_open] > expansions > close_paren) |
                      (x3::raw[x3::lit('[')][on_open] > expansions > close_bracket);
const auto close_paren_def = x3::raw[x3::lit(')')][on_close];
const auto close_bracket_def = x3::raw[x3::lit(']')][on_close_opt];
const auto alias_name_def = ident;
const auto import_body_def = +(x3::char_ - x3::eol);
const auto expansion_def = *(atom >> *x3::raw[quant][on_quant]) >> -x3::raw[x3::lit("->") > alias_name][on_alias];
const auto expansions_def = expansion % x3::raw[x3::lit('|')][on_bar];
const auto statement_def =
    x3::raw[x3::lexeme[x3::lit("%import") > import_body]][on_import] |
    (x3::raw[x3::lit("%ignore")][on_ignore_begin] > expansions > x3::raw[x3::eps][on_ignore_end]) |
    x3::raw[x3::lexeme['%' >> +x3::alpha]][on_bad_statement] |
    (x3::raw[rule_head][on_rule_begin] > expansions > x3::raw[x3::eps][on_rule_end]);

BOOST_SPIRIT_DEFINE(expansions, expansion, atom, literal, regexp, quant, statement, close_paren, close_bracket,
                    alias_name, regex_body, import_body)

}  // namespace

Grammar parse_lark(std::string_view text, std::string_view file, const GrammarOptions& options) {
  Grammar g;
  g.text = std::string(text);
  g.file = std::string(file);
  g.options = options;
  ParseState state;
  state.g = &g;
  state.rule_name.clear();
  state.base = g.text.data();
  state.comment_at = lark_comment;
  const char* it = front::parse_all(g, state, *statement, skipper);
  const char* last = g.text.data() + g.text.size();
  if (it != last) {
    size_t off = static_cast<size_t>(it - g.text.data());
    g.fail(ErrorKind::kParse, "unexpected '" + std::string(1, *it) + "': expected a rule (name: ...) or a statement",
           off);
  }
  g.start = g.find("start");
  if (g.start < 0) g.fail(ErrorKind::kGrammar, "grammar has no 'start' rule", 0, codes::kNoStartRule);
  g.fixed_lexemes = true;
  g.leftmost_first = true;
  return g;
}

}  // namespace tollgate::grammar
