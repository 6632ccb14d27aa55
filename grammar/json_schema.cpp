// JSON Schema → Grammar IR (see json_schema.hpp).
//
// Takes: schema text. Gives: a checked Grammar whose language is the JSON texts that validate —
// apart from uniqueItems, which a grammar cannot express: for it the Grammar carries a plan
// (grammar/unique_items.hpp, built by build_unique_plan) that the context-free back-end's tracker
// enforces at run time.
//
// How: the document is indexed once ($id, $anchor, every node's JSON pointer). A schema is compiled
// as a *conjunction* of schema nodes (its own keywords, the targets of its $refs, its allOf
// branches): `flatten` merges the keywords of a conjunction into one `Shape` (type set, string,
// number, array and object constraints, enum candidates), resolving non-recursive $refs and allOf on
// the way; anyOf / oneOf / not / if-then-else stay as lists and are distributed over at generation.
// Sub-schemas (property values, items) are compiled lazily into rules memoised by their conjunction,
// so a recursive $ref becomes a recursive rule and shared $defs are compiled once. Regular parts —
// strings (Regex::json_string over pattern ∩ length ∩ format), numbers (json_number_regex), keys —
// are Regex leaves that fsm/cfg.cpp merges into lexemes.
//
// Exactness: a keyword that cannot be compiled exactly throws Error(kSchema) naming it and its JSON
// pointer; with options.lenient the keyword is dropped (an over-approximation) and reported as a
// warning. Strings are written with the escapes Python's json.dumps(ensure_ascii=False) writes (plus
// "\/"); other escapes (\u0041 for "A") are not generated. Duplicate keys among additional
// properties are not detected.
#include "grammar/json_schema.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "grammar/json_ordered.hpp"
#include "grammar/json_schema_numbers.hpp"
#include "fsm/dfa.hpp"
#include "fsm/hash.hpp"
#include "fsm/utf8.hpp"
#include "grammar/json_schema_strings.hpp"

namespace tollgate::grammar {

namespace {

using Json = nlohmann::ordered_json;

// Where nlohmann's parser stopped: it throws a number outside the double range ("2e+308",
// out_of_range 406) without the position a parse_error carries; this SAX pass over the same text
// records it (the offset of the offending token).
struct ErrorOffset final : nlohmann::json_sax<Json> {
  size_t at = 0;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(size_t position, const std::string& token, const nlohmann::detail::exception&) override {
    at = position >= token.size() ? position - token.size() : 0;
    return false;
  }
};

// The alternation of `items`, alternatives that end alike (a run of sub-regexes that render the
// same, at least kLongSuffix characters) joined ahead of that ending: "title_(T)|description_(T)|…"
// as "(title_|description_|…)(T)". The automaton of the alternation otherwise holds a copy of T's
// per alternative until it is minimised (OCDS's 20 language-tagged patterns: 20 copies of a BCP 47
// tag's, 4-5 ms of a mask to build and minimise).
RegexPtr alt_joining_suffixes(std::vector<RegexPtr> items) {
  constexpr size_t kLongSuffix = 32;
  std::vector<std::vector<std::string>> rendered(items.size());
  std::unordered_map<std::string, std::vector<size_t>> by_last;
  for (size_t i = 0; i < items.size(); ++i) {
    const Regex& r = *items[i];
    if (r.kind != Regex::Kind::kConcat || r.items.size() < 2) continue;
    for (const auto& it : r.items) rendered[i].push_back(it->to_string());
    by_last[rendered[i].back()].push_back(i);
  }
  std::vector<RegexPtr> out;
  std::vector<char> taken(items.size(), 0);
  for (size_t i = 0; i < items.size(); ++i) {
    if (taken[i]) continue;
    auto it = rendered[i].empty() ? by_last.end() : by_last.find(rendered[i].back());
    if (it == by_last.end() || it->second.size() < 2) {
      out.push_back(items[i]);
      continue;
    }
    const std::vector<size_t>& group = it->second;
    // The ending they all share: k items, `chars` rendered.
    size_t k = 0, chars = 0;
    for (bool same = true; same;) {
      for (size_t j : group)
        same = same && k < rendered[j].size() && rendered[j][rendered[j].size() - 1 - k] == rendered[i][rendered[i].size() - 1 - k];
      if (same) chars += rendered[i][rendered[i].size() - 1 - k++].size();
    }
    if (chars < kLongSuffix) {
      out.push_back(items[i]);
      continue;
    }
    std::vector<RegexPtr> heads;
    for (size_t j : group) {
      taken[j] = 1;
      const auto& parts = items[j]->items;
      heads.push_back(Regex::concat(std::vector<RegexPtr>(parts.begin(), parts.end() - static_cast<ptrdiff_t>(k))));
    }
    std::vector<RegexPtr> joined{Regex::alt(std::move(heads))};
    joined.insert(joined.end(), items[i]->items.end() - static_cast<ptrdiff_t>(k), items[i]->items.end());
    out.push_back(Regex::concat(std::move(joined)));
  }
  return out.size() == 1 ? out[0] : Regex::alt(std::move(out));
}

enum TypeBit : unsigned {
  kNullT = 1,
  kBoolT = 2,
  kIntT = 4,   // whole numbers
  kFracT = 8,  // numbers that are not whole
  kStrT = 16,
  kArrT = 32,
  kObjT = 64,
  kAllT = 127,
};

unsigned type_bits(std::string_view t) {
  if (t == "null") return kNullT;
  if (t == "boolean") return kBoolT;
  if (t == "integer") return kIntT;
  if (t == "number") return kIntT | kFracT;
  if (t == "string") return kStrT;
  if (t == "array") return kArrT;
  if (t == "object") return kObjT;
  return 0;
}

unsigned value_type(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return kNullT;
    case Json::value_t::boolean: return kBoolT;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return kIntT;
    case Json::value_t::number_float: {
      double d = v.get<double>();
      return std::isfinite(d) && d == std::floor(d) ? kIntT : kFracT;
    }
    case Json::value_t::string: return kStrT;
    case Json::value_t::array: return kArrT;
    case Json::value_t::object: return kObjT;
    default: return 0;
  }
}

// JSON equality as JSON Schema defines it: numbers by value (1 == 1.0), objects regardless of key order.
bool json_equal(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_number_float() || b.is_number_float()) return a.get<double>() == b.get<double>();
    if (a.is_number_unsigned() && b.is_number_unsigned()) return a.get<uint64_t>() == b.get<uint64_t>();
    if (a.is_number_integer() && b.is_number_integer() && !a.is_number_unsigned() && !b.is_number_unsigned())
      return a.get<int64_t>() == b.get<int64_t>();
    return a.dump() == b.dump();
  }
  if (a.type() != b.type()) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!json_equal(a[i], b[i])) return false;
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      auto jt = b.find(it.key());
      if (jt == b.end() || !json_equal(it.value(), *jt)) return false;
    }
    return true;
  }
  return a == b;
}

// A set of JSON values under json_equal, hashed by a key that equal values share (strings by their
// text, numbers by their double value, arrays and objects by their size) so that a 100,000-value enum
// is deduplicated and intersected in linear time.
class JsonValueSet {
 public:
  // Adds v unless an equal value is in; returns whether it was added.
  bool insert(const Json& v) {
    auto& bucket = buckets_[key(v)];
    for (const Json* x : bucket)
      if (json_equal(*x, v)) return false;
    bucket.push_back(&v);
    return true;
  }
  bool contains(const Json& v) const {
    auto it = buckets_.find(key(v));
    if (it == buckets_.end()) return false;
    for (const Json* x : it->second)
      if (json_equal(*x, v)) return true;
    return false;
  }

 private:
  static std::string key(const Json& v) {
    if (v.is_string()) return "s" + v.get<std::string>();
    if (v.is_number()) {
      double d = v.get<double>();
      if (d == 0) d = 0;  // -0.0 == 0.0
      uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      return "n" + std::to_string(bits);
    }
    if (v.is_array()) return "a" + std::to_string(v.size());
    if (v.is_object()) return "o" + std::to_string(v.size());
    return v.dump();
  }
  std::unordered_map<std::string, std::vector<const Json*>> buckets_;  // the values are not owned
};

// An alternation of literals (UTF-8 texts) factored by common prefixes into a trie, so that a
// 100,000-value enum makes one automaton state per trie node rather than one per byte of every value.
RegexPtr literal_trie(const std::vector<std::string>& w, size_t lo, size_t hi, size_t depth) {
  // w[lo, hi) is sorted, distinct, and shares its first `depth` bytes
  std::vector<RegexPtr> alts;
  size_t i = lo;
  if (w[i].size() == depth) alts.push_back(Regex::empty()), ++i;
  while (i < hi) {
    const unsigned char lead = static_cast<unsigned char>(w[i][depth]);
    const size_t n = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;  // one code point
    size_t j = i + 1;
    while (j < hi && w[j].compare(depth, n, w[i], depth, n) == 0) ++j;
    if (j == i + 1) {
      alts.push_back(Regex::literal(std::string_view(w[i]).substr(depth)));
    } else {
      // the range's longest common prefix (first and last share it: sorted), cut at a code point
      size_t end = depth + n;
      while (end < w[i].size() && end < w[j - 1].size() && w[i][end] == w[j - 1][end]) ++end;
      while (end < w[i].size() && (static_cast<unsigned char>(w[i][end]) & 0xC0) == 0x80) --end;
      alts.push_back(Regex::concat({Regex::literal(std::string_view(w[i]).substr(depth, end - depth)),
                                    literal_trie(w, i, j, end)}));
    }
    i = j;
  }
  return Regex::alt(std::move(alts));
}

RegexPtr literal_alternation(std::vector<std::string> words) {
  if (words.empty()) return Regex::nothing();
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  return literal_trie(words, 0, words.size(), 0);
}

std::string escape_pointer_token(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() + 0 && i + 2 <= s.size() - 1 + 0 && isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The decimal text of a schema number: the shortest text that reads back as the same double
// (nlohmann's dump), so 1.1 stays "1.1".
std::string number_text(const Json& v) { return v.dump(); }

// A conjunction of schema nodes, the unit that is compiled into one rule.
using Conj = std::vector<const Json*>;

Conj normalise(Conj c) {
  std::sort(c.begin(), c.end());
  c.erase(std::unique(c.begin(), c.end()), c.end());
  return c;
}

Conj join(const Conj& a, const Conj& b) {
  Conj c = a;
  c.insert(c.end(), b.begin(), b.end());
  return normalise(std::move(c));
}

// A member of Shape shared by its copies and cloned on its first write (mut()): a oneOf's
// complements copy the shape of the object around it once per alternative they make (hundreds),
// and most of those copies never change its property map or order, the largest part of the copy.
template <class T>
class Cow {
 public:
  const T& get() const { return p_ ? *p_ : none(); }
  T& mut() {
    if (!p_) p_ = std::make_shared<T>();
    else if (p_.use_count() > 1) p_ = std::make_shared<T>(*p_);
    return *p_;
  }
  // the const interface of the container held
  auto begin() const { return get().begin(); }
  auto end() const { return get().end(); }
  bool empty() const { return get().empty(); }
  size_t size() const { return get().size(); }
  template <class K>
  auto find(const K& k) const { return get().find(k); }
  template <class K>
  size_t count(const K& k) const { return get().count(k); }
  template <class K>
  decltype(auto) at(const K& k) const { return get().at(k); }
  decltype(auto) operator[](size_t i) const { return get()[i]; }
  operator const T&() const { return get(); }  // NOLINT: read as the container it holds

 private:
  static const T& none() {
    static const T e;
    return e;
  }
  std::shared_ptr<T> p_;
};

// The merged keywords of a conjunction.
struct Shape {
  bool never = false;
  std::string never_why;
  unsigned types = kAllT;
  // enum/const: the candidate values (intersection of every enum/const met).
  bool has_enum = false;
  std::vector<Json> enum_values;
  // strings
  uint64_t min_length = 0, max_length = UINT64_MAX;
  std::vector<std::pair<std::string, std::string>> patterns;  // (pattern, pointer)
  std::vector<std::pair<std::string, std::string>> formats;
  // numbers
  std::vector<std::pair<std::string, bool>> minimums, maximums;  // (text, exclusive)
  std::vector<std::string> multiple_ofs;
  // arrays
  std::vector<Conj> prefix;      // prefixItems (2020-12) / items array (draft-07)
  bool prefix_given = false;
  Conj items;                    // applies after prefix; empty conj = anything
  bool items_false = false;   // summary: some `items: false` (see items_false_from)
  // Each items / additionalItems keyword applies from the index where its own schema object's
  // prefixItems (draft-07: items array) end — not the merged prefix ("does not look in applicators").
  std::vector<std::pair<size_t, Conj>> items_from;
  size_t items_false_from = SIZE_MAX;
  uint64_t min_items = 0, max_items = UINT64_MAX;
  std::vector<std::pair<Conj, std::string>> contains;  // (schema, pointer)
  uint64_t min_contains = 1;
  uint64_t max_contains = UINT64_MAX;  // maxContains (counted with the complement of contains)
  std::string max_contains_ptr;
  bool unique_items = false;
  std::string unique_ptr;
  // objects
  Cow<std::vector<std::string>> prop_order;
  Cow<std::map<std::string, Conj>> props;
  Cow<std::set<std::string>> required;
  std::vector<std::string> required_order;  // as the `required` arrays list them
  // The `required` arrays flattened in (their nodes, in the order met): the object's identity for
  // the run-time key tracking of property_order 'any' (see build_unique_plan).
  std::vector<const Json*> required_srcs;
  std::vector<std::pair<std::string, Conj>> pattern_props;  // (pattern, schema)
  Conj additional;   // applies to keys neither in props nor matching a pattern
  bool additional_false = false;  // summary (see closeds)
  // additionalProperties / unevaluatedProperties, each with the names and patterns of its own
  // schema object (unevaluatedProperties: of its in-place subtree): a key outside them takes the schema.
  struct Closed {
    Conj schema;
    bool is_false = false;
    std::set<std::string> names;
    std::vector<std::string> patterns;
    std::string ptr;
  };
  Cow<std::vector<Closed>> closeds;
  Conj property_names;
  uint64_t min_props = 0, max_props = UINT64_MAX;
  std::string min_props_ptr, max_props_ptr;
  // combinators left for generation
  std::vector<std::pair<std::vector<Conj>, std::string>> any_of;  // each: branches, pointer
  std::vector<std::pair<std::vector<Conj>, std::string>> one_of;
  std::vector<std::pair<Conj, std::string>> nots;
  struct IfThenElse {
    Conj cond, then_, else_;
    std::string ptr;
  };
  std::vector<IfThenElse> conditionals;
  // What negation (not, the else of if) adds: values excluded, string / number languages
  // complemented, properties that must be absent, property values given as shapes.
  std::vector<Json> excluded_values;
  std::shared_ptr<Shape> string_negated, number_negated;  // set on a negated shape
  std::vector<std::shared_ptr<Shape>> string_negs, number_negs;
  Cow<std::set<std::string>> forbidden;
  std::map<std::string, std::shared_ptr<Shape>> prop_shapes;
  // From the complement of a closed object: the object holds some key outside each name set.
  std::vector<std::pair<std::set<std::string>, std::string>> key_outside;  // (names, pointer)
  // From the complement of what an object says of all its keys (additionalProperties with
  // patterns or a schema, patternProperties, propertyNames, and a key_outside on an object open to
  // other keys): some entry has a key in `keys` and a value in `value` (nullptr: any value).
  struct Witness {
    RegexPtr keys;
    std::shared_ptr<Shape> value;
    std::string ptr;
  };
  std::vector<Witness> witnesses;
  // From the complement of `items`: some item satisfies each shape.
  std::vector<std::pair<std::shared_ptr<Shape>, std::string>> contains_shapes;  // (shape, pointer)
  // A disjunct of a complement that cannot be written (a property value or an item outside a schema
  // whose complement is not expressible): relaxed if it survives to generation, where most are
  // found empty first (a required key the other branch forbids).
  std::vector<std::pair<std::string, std::string>> unexpressible;  // (what, pointer)
};

struct Resource {
  const Json* root;
  std::string base;  // absolute URI without fragment
};

class SchemaCompiler {
 public:
  SchemaCompiler(std::string_view text, const JsonSchemaOptions& opt, std::string_view file)
      : opt_(opt) {
    g_.text = std::string(text);
    g_.file = std::string(file);
    g_.fixed_lexemes = false;
    g_.leftmost_first = false;
    try {
      doc_ = parse_ordered_json(text);
    } catch (const Json::parse_error& e) {
      std::string msg = e.what();
      auto p = msg.find("parse error");
      if (p != std::string::npos) msg = msg.substr(p);
      size_t off = e.byte > 0 ? e.byte - 1 : 0;
      throw Error(ErrorKind::kParse, "malformed JSON schema: " + msg, position_in(text, std::min(off, text.size()), std::string(file)));
    } catch (const Json::exception& e) {  // a number outside the double range
      ErrorOffset where;
      Json::sax_parse(text, &where);
      std::string msg = e.what();  // "[json.exception.out_of_range.406] number overflow parsing '2e+308'"
      if (auto p = msg.find("] "); p != std::string::npos) msg = msg.substr(p + 2);
      throw Error(ErrorKind::kParse, "malformed JSON schema: " + msg,
                  position_in(text, std::min(where.at, text.size()), std::string(file)));
    }
    if (!doc_.is_object() && !doc_.is_boolean())
      fail("", "a schema must be an object or a boolean, not " + std::string(doc_.type_name()));
    if (doc_.is_object()) {
      auto it = doc_.find("$schema");
      if (it != doc_.end() && it->is_string()) {
        const std::string& s = it->get_ref<const std::string&>();
        auto says = [&](const char* d) { return s.find(d) != std::string::npos; };
        if (says("draft-03") || says("draft-04")) dialect_ = 4;
        else if (says("draft-06")) dialect_ = 6;
        else if (says("draft-07")) dialect_ = 7;
        else if (says("2019-09")) dialect_ = 2019;
      }
    }
    check_json_depth();
    index(&doc_, "", "tollgate:/root.json", true);
  }

  // The passes over the document recurse once per JSON level: a document nested deeper than
  // kMaxJsonDepth levels is refused first, without recursion (schema levels are bounded at 200
  // later; one schema level is at most a few JSON levels).
  static constexpr size_t kMaxJsonDepth = 1000;
  void check_json_depth() const {
    std::vector<std::pair<const Json*, size_t>> stack{{&doc_, 0}};
    while (!stack.empty()) {
      auto [n, d] = stack.back();
      stack.pop_back();
      if (d > kMaxJsonDepth)
        fail("", "schema document nested deeper than " + std::to_string(kMaxJsonDepth) + " JSON levels");
      if (n->is_structured())
        for (const auto& c : *n) stack.push_back({&c, d + 1});
    }
  }

  // The schema is part of a larger grammar (json_schema_to_grammar's `embedded`).
  void embedded() { embedded_ = true; }

  Grammar run() {
    ws_ = ws_regex();
    track_keys_ = !embedded_ && opt_.property_order == JsonSchemaOptions::PropertyOrder::kAny;
    for (bool again = true; again;) {
      again = false;
      try {
        if (!embedded_) build_unique_plan();
      } catch (const Error& e) {
        g_.unique_items.reset();
        tracked_keys_.clear();
        if (track_keys_) {
          // past a plan limit with keys tracked: the plan again for uniqueItems alone, the keys left
          // to the grammar
          again = true;
          track_keys_ = false;
          plan_work_ = 0;
          unique_exact_.clear();
          unique_refused_.clear();
          unique_hot_.clear();
          unique_known_.clear();
          key_hot_.clear();
          continue;
        }
        // the generation below meets the same schema error first, or refuses every uniqueItems
        unique_all_refused_ = e.message().empty() ? std::string("uniqueItems paths not followed") : e.message();
      }
    }
    int root = rule_for({&doc_});
    while (!pending_.empty()) {
      auto [r, c, depth] = std::move(pending_.front());
      pending_.pop_front();
      depth_ = depth;
      g_.rules[r].body = value_of(c);
    }
    depth_ = 0;
    // root rule: ws value ws
    GRule top;
    top.name = "root";
    top.body = GExpr::seq({leaf(ws_), ref(root), leaf(ws_)});
    g_.rules.push_back(top);
    g_.start = static_cast<int>(g_.rules.size()) - 1;
    auto listed = [](const KeywordsMet& kws) {
      std::string list;
      size_t n = 0;
      for (const auto& [kw, ptr] : kws.list) {
        if (n++ == 12) {
          list += ", …";
          break;
        }
        if (!list.empty()) list += ", ";
        list += kw + " (at " + (ptr.empty() ? "/" : ptr) + ")";
      }
      return list;
    };
    if (!unknown_.list.empty()) warn("", "unknown keywords ignored: " + listed(unknown_), codes::kSchemaUnknownKeyword);
    if (!not_in_dialect_.list.empty()) {
      // At the first of them (the message lists them all).
      const auto& [kw, at] = not_in_dialect_.list.front();
      const std::string dialect = dialect_name();
      warn(at + "/" + escape_pointer_token(kw),
           "keywords not in " + dialect + " (the schema's $schema), ignored as " + dialect +
               " validators ignore them: " + listed(not_in_dialect_),
           codes::kSchemaNotInDialect);
    }
    prune();
    check_pruned_grammar_ir(g_);
    return std::move(g_);
  }

  // Drops what derives no string (a `false` sub-schema, a contradiction) and empties the rules the
  // root cannot reach; an empty language at the root is an error.
  void prune() {
    const size_t n = g_.rules.size();
    // Every reference here was made by ref() with its rule's index, and rules are only appended
    // until now: the index is the rule.
    auto rule_of = [&](const GExpr& e) -> size_t {
      if (e.rule < 0 || static_cast<size_t>(e.rule) >= n)
        throw Error(ErrorKind::kInternal, "JSON Schema compiler: a reference to rule '" + e.name + "' without its index");
      return static_cast<size_t>(e.rule);
    };
    // One walk of every body: the rules each refers to (each once, rule i's at
    // out[out_start[i] .. out_start[i + 1])), and whether a leaf is `nothing` (which the
    // simplification below would remove).
    std::vector<uint32_t> out_start(n + 1), out, stamp(n);
    std::vector<char> has_nothing(n, 0);
    uint32_t tag = 0;  // the rule walked
    auto edges = [&](auto& self, const GExpr& e, std::vector<uint32_t>& to) -> void {
      if (e.kind == GExpr::Kind::kRef) {
        size_t j = rule_of(e);
        if (stamp[j] != tag) {
          stamp[j] = tag;
          to.push_back(static_cast<uint32_t>(j));
        }
      } else if (e.kind == GExpr::Kind::kRegex && e.regex->kind == Regex::Kind::kNothing) {
        has_nothing[tag < n ? tag : tag - n] = 1;
      }
      for (const auto& i : e.items) self(self, *i, to);
    };
    std::fill(stamp.begin(), stamp.end(), UINT32_MAX);
    for (size_t i = 0; i < n; ++i) {
      out_start[i] = static_cast<uint32_t>(out.size());
      tag = static_cast<uint32_t>(i);
      edges(edges, *g_.rules[i].body, out);
    }
    out_start[n] = static_cast<uint32_t>(out.size());
    // The rules referring to each: rule j's at in[in_start[j] .. in_start[j + 1]).
    std::vector<uint32_t> in_start(n + 1, 0), in(out.size());
    for (uint32_t j : out) ++in_start[j + 1];
    for (size_t j = 0; j < n; ++j) in_start[j + 1] += in_start[j];
    {
      std::vector<uint32_t> next(in_start.begin(), in_start.end() - 1);
      for (size_t i = 0; i < n; ++i)
        for (uint32_t k = out_start[i]; k < out_start[i + 1]; ++k) in[next[out[k]]++] = static_cast<uint32_t>(i);
    }

    // Productive rules, by a worklist: a rule is looked at again only when a rule it refers to became
    // productive (sweeping all rules until nothing changes took one sweep per level of the reference
    // chains: quadratic on the 2^r-state rules of any-order objects with r required properties).
    std::vector<char> prod(n, 0);
    // Bodies share sub-expressions (a member's value in every state of an any-order object): a shared
    // node once productive stays so, and within one evaluation an unproductive one is not walked
    // twice. A node held once is reached only through its one parent: it needs no memo.
    std::unordered_set<const GExpr*> known;
    std::unordered_map<const GExpr*, size_t> failed;  // node → the evaluation that found it unproductive
    size_t evaluation = 0;
    auto productive_node = [&](auto& self, const GExprPtr& p) -> bool {
      const GExpr& e = *p;
      switch (e.kind) {
        case GExpr::Kind::kEmpty: return true;
        case GExpr::Kind::kRegex: return regex_nonempty(*e.regex);  // productive_rules' meaning
        case GExpr::Kind::kRef: return prod[rule_of(e)] != 0;
        default: break;
      }
      const bool shared = p.use_count() > 1;
      if (shared) {
        if (known.count(&e)) return true;
        auto f = failed.find(&e);
        if (f != failed.end() && f->second == evaluation) return false;
      }
      bool yes = false;
      switch (e.kind) {
        case GExpr::Kind::kSeq:
          yes = true;
          for (const auto& i : e.items)
            if (!self(self, i)) {
              yes = false;
              break;
            }
          break;
        case GExpr::Kind::kAlt:
          for (const auto& i : e.items)
            if (self(self, i)) {
              yes = true;
              break;
            }
          break;
        case GExpr::Kind::kRepeat: yes = e.min == 0 || self(self, e.items[0]); break;
        default: break;
      }
      if (shared) {
        if (yes) known.insert(&e);
        else failed[&e] = evaluation;
      }
      return yes;
    };
    // Looked at first: the rules a rule refers to before it (a depth-first post-order over the
    // references), so that only a reference back along a cycle can make an evaluation fail.
    std::vector<size_t> pending;
    pending.reserve(n);
    {
      std::vector<char> visited(n, 0);
      std::vector<std::pair<size_t, uint32_t>> stack;  // (rule, its next reference)
      auto visit_from = [&](size_t root) {
        if (visited[root]) return;
        visited[root] = 1;
        stack.push_back({root, out_start[root]});
        while (!stack.empty()) {
          auto& [r, k] = stack.back();
          if (k < out_start[r + 1]) {
            size_t j = out[k++];
            if (!visited[j]) {
              visited[j] = 1;
              stack.push_back({j, out_start[j]});
            }
            continue;
          }
          pending.push_back(r);
          stack.pop_back();
        }
      };
      visit_from(static_cast<size_t>(g_.start));
      for (size_t i = 0; i < n; ++i) visit_from(i);
      std::reverse(pending.begin(), pending.end());  // popped from the back: the post-order's first first
    }
    std::vector<char> queued(n, 1);
    while (!pending.empty()) {
      size_t i = pending.back();
      pending.pop_back();
      queued[i] = 0;
      if (prod[i]) continue;
      ++evaluation;
      if (!productive_node(productive_node, g_.rules[i].body)) continue;
      prod[i] = 1;
      for (uint32_t k = in_start[i]; k < in_start[i + 1]; ++k)
        if (size_t u = in[k]; !prod[u] && !queued[u]) {
          queued[u] = 1;
          pending.push_back(u);
        }
    }
    if (!prod[g_.start]) fail("", "the schema accepts no JSON value: its constraints contradict each other");
    // Unproductive references become nothing, and what they leave empty goes; a node is rebuilt
    // only when something below it changed. Only the bodies with a `nothing` leaf or a reference to
    // an unproductive rule can change: the others are not walked.
    std::unordered_map<size_t, std::vector<uint32_t>> new_out;  // what a changed body refers to
    {
      auto nothing = [](const GExprPtr& x) {
        return x->kind == GExpr::Kind::kRegex && x->regex->kind == Regex::Kind::kNothing;
      };
      auto simplify = [&](auto& self, const GExprPtr& e) -> GExprPtr {
        switch (e->kind) {
          case GExpr::Kind::kEmpty:
          case GExpr::Kind::kRegex: return e;
          case GExpr::Kind::kRef: return prod[rule_of(*e)] ? e : GExpr::leaf(Regex::nothing());
          // The new items are gathered only from the first that changed (most bodies do not change).
          case GExpr::Kind::kSeq: {
            std::vector<GExprPtr> items;
            bool changed = false;
            for (size_t k = 0; k < e->items.size(); ++k) {
              auto x = self(self, e->items[k]);
              if (nothing(x)) return x;
              if (!changed && x != e->items[k]) {
                changed = true;
                items.assign(e->items.begin(), e->items.begin() + static_cast<std::ptrdiff_t>(k));
              }
              if (changed) items.push_back(std::move(x));
            }
            return changed ? GExpr::seq(std::move(items)) : e;
          }
          case GExpr::Kind::kAlt: {
            std::vector<GExprPtr> items;
            bool changed = false;
            for (size_t k = 0; k < e->items.size(); ++k) {
              auto x = self(self, e->items[k]);
              if (!changed && x != e->items[k]) {
                changed = true;
                for (size_t j = 0; j < k; ++j)
                  if (!nothing(e->items[j])) items.push_back(e->items[j]);
              }
              if (changed && !nothing(x)) items.push_back(std::move(x));
            }
            if (!changed) {  // as it was, unless every item is nothing (or there is none)
              for (const auto& i : e->items)
                if (!nothing(i)) return e;
              return GExpr::leaf(Regex::nothing());
            }
            if (items.empty()) return GExpr::leaf(Regex::nothing());
            if (items.size() == 1) return items[0];
            return GExpr::alt(std::move(items));
          }
          case GExpr::Kind::kRepeat: {
            auto x = self(self, e->items[0]);
            if (nothing(x)) return e->min == 0 ? GExpr::empty() : x;
            return x == e->items[0] ? e : GExpr::repeat(x, e->min, e->max);
          }
        }
        return e;
      };
      for (size_t i = 0; i < n; ++i) {
        if (!prod[i]) continue;
        bool may_change = has_nothing[i] != 0;
        for (uint32_t k = out_start[i]; k < out_start[i + 1] && !may_change; ++k) may_change = !prod[out[k]];
        if (!may_change) continue;
        GExprPtr b = simplify(simplify, g_.rules[i].body);
        if (b == g_.rules[i].body) continue;
        g_.rules[i].body = std::move(b);
        tag = static_cast<uint32_t>(n + i);  // the first walk's marks are below n
        edges(edges, *g_.rules[i].body, new_out[i]);
      }
    }
    // What the root does not reach is emptied in place: removed, every later rule would move and
    // every reference to one of them be copied with its new index (and the paths above it).
    std::vector<char> seen(n, 0);
    std::vector<size_t> work{static_cast<size_t>(g_.start)};
    seen[g_.start] = 1;
    auto reach = [&](uint32_t j) {
      if (!seen[j]) {
        seen[j] = 1;
        work.push_back(j);
      }
    };
    while (!work.empty()) {
      size_t i = work.back();
      work.pop_back();
      if (auto changed = new_out.find(i); changed != new_out.end()) {
        for (uint32_t j : changed->second) reach(j);
      } else {
        for (uint32_t k = out_start[i]; k < out_start[i + 1]; ++k) reach(out[k]);
      }
    }
    for (size_t i = 0; i < n; ++i)
      if (!seen[i]) {
        g_.rules[i].body = GExpr::empty();
        g_.rules[i].removed = true;
      }
  }

 private:
  // ---------------------------------------------------------------- errors and warnings
  [[noreturn]] void fail(const std::string& ptr, const std::string& msg,
                         const char* code = codes::kSchemaInvalid) const {
    SourcePos pos;
    pos.file = g_.file;
    pos.pointer = ptr.empty() ? "/" : ptr;
    throw Error(ErrorKind::kSchema, msg, pos, code);  // pretty() and what() show the pointer
  }
  void warn(const std::string& ptr, const std::string& msg, const char* code) {
    Diagnostic d;
    d.message = msg;
    d.code = code;
    d.pos.file = g_.file;
    d.pos.pointer = ptr.empty() ? "/" : ptr;
    for (const auto& w : g_.warnings)
      if (w.message == d.message && w.pos.pointer == d.pos.pointer) return;
    g_.warnings.push_back(std::move(d));
  }
  // Thrown by relax() while a decision only probes whether a value fits (fits(), excludes(),
  // needs_excluded_key()): a keyword that cannot be checked there leaves the question open, it
  // relaxes nothing. probing_ counts the probes under way (and bounds their depth).
  struct Undecided {};
  int probing_ = 0;

  // A keyword that cannot be compiled exactly: an error, or with `lenient` a warning (dropped).
  void relax(const std::string& ptr, const std::string& keyword, const std::string& why) {
    if (probing_) throw Undecided{};
    if (!opt_.lenient)
      fail(ptr, "keyword '" + keyword + "' cannot be compiled exactly: " + why +
                    " (the option 'lenient' compiles an over-approximation instead)",
           codes::kSchemaUnsupported);
    warn(ptr, "keyword '" + keyword + "' relaxed: " + why, codes::kSchemaRelaxed);
  }

  std::string ptr_of(const Json* n) const {
    auto it = ptr_.find(n);
    return it == ptr_.end() ? std::string("?") : it->second;
  }

  // ---------------------------------------------------------------- indexing and $ref
  static std::string strip_fragment(const std::string& uri) {
    auto p = uri.find('#');
    return p == std::string::npos ? uri : uri.substr(0, p);
  }
  static bool has_scheme(const std::string& u) {
    auto c = u.find(':');
    if (c == std::string::npos || c == 0) return false;
    for (size_t i = 0; i < c; ++i)
      if (!isalnum(static_cast<unsigned char>(u[i])) && u[i] != '+' && u[i] != '-' && u[i] != '.') return false;
    return true;
  }
  // RFC 3986 reference resolution (enough of it for schema ids: scheme, authority, path merge).
  static std::string resolve_uri(const std::string& base, const std::string& ref) {
    if (ref.empty()) return base;
    if (has_scheme(ref)) return ref;
    std::string b = strip_fragment(base);
    if (ref[0] == '#') return b + ref;
    auto scheme_end = b.find(':');
    std::string scheme = b.substr(0, scheme_end + 1);
    std::string rest = b.substr(scheme_end + 1);
    std::string authority;
    if (rest.rfind("//", 0) == 0) {
      auto slash = rest.find('/', 2);
      authority = rest.substr(0, slash);
      rest = slash == std::string::npos ? "" : rest.substr(slash);
    }
    if (ref.rfind("//", 0) == 0) return scheme + ref;
    std::string path;
    std::string frag;
    std::string r = ref;
    auto h = r.find('#');
    if (h != std::string::npos) {
      frag = r.substr(h);
      r = r.substr(0, h);
    }
    if (!r.empty() && r[0] == '/') {
      path = r;
    } else {
      auto slash = rest.rfind('/');
      path = (slash == std::string::npos ? std::string("/") : rest.substr(0, slash + 1)) + r;
    }
    // remove dot segments
    std::vector<std::string> segs;
    std::stringstream ss(path);
    std::string seg;
    bool trailing = !path.empty() && path.back() == '/';
    while (std::getline(ss, seg, '/')) {
      if (seg.empty() || seg == ".") continue;
      if (seg == "..") {
        if (!segs.empty()) segs.pop_back();
        continue;
      }
      segs.push_back(seg);
    }
    std::string out;
    for (auto& s : segs) out += "/" + s;
    if (trailing || out.empty()) out += "/";
    return scheme + authority + out + frag;
  }

  // Schema-aware walk: records pointers, $id resources and $anchors.
  void index(const Json* n, const std::string& ptr, const std::string& outer_base, bool is_schema) {
    ptr_[n] = ptr;
    if (!is_schema || !n->is_object()) return;
    // The keywords read here, in one pass over the keys (ordered_map's find is a linear scan each).
    const Json *dollar_id = nullptr, *plain_id = nullptr, *ref = nullptr, *anchor = nullptr, *dynamic_anchor = nullptr,
               *recursive_anchor = nullptr;
    for (auto it = n->begin(); it != n->end(); ++it) {
      const std::string& k = it.key();
      const std::string_view kv = k;
      if (k.empty() || (k[0] != '$' && kv != "id")) continue;
      if (kv == "$id") dollar_id = &it.value();
      else if (kv == "id") plain_id = &it.value();
      else if (kv == "$ref") ref = &it.value();
      else if (kv == "$anchor") anchor = &it.value();
      else if (kv == "$dynamicAnchor") dynamic_anchor = &it.value();
      else if (kv == "$recursiveAnchor") recursive_anchor = &it.value();
    }
    const Json* id = draft7() && !dollar_id ? plain_id : dollar_id;
    std::string own_base;  // when this schema's $id starts a new resource
    bool own = false;
    // draft-07: $ref overrides its siblings, $id included
    if (id && id->is_string() && !(draft7() && ref)) {
      std::string idv = id->get<std::string>();
      // draft-07: an $id that is only a fragment is an anchor
      if (!idv.empty() && idv[0] == '#') {
        anchors_[strip_fragment(outer_base) + idv] = n;
      } else {
        own_base = strip_fragment(resolve_uri(outer_base, idv));
        own = true;
        resources_[own_base] = n;
      }
    }
    const std::string& base = own ? own_base : outer_base;
    if (ptr.empty()) resources_[strip_fragment(base)] = n;
    base_[n] = base_of(base);
    if (dynamic_anchor && dynamic_anchor->is_string()) dynamic_anchors_[dynamic_anchor->get<std::string>()].push_back(n);
    if (recursive_anchor && recursive_anchor->is_boolean() && recursive_anchor->get<bool>())
      dynamic_anchors_["\x01recursive"].push_back(n);
    for (const Json* an : {anchor, dynamic_anchor})
      if (an && an->is_string()) anchors_[strip_fragment(base) + "#" + an->get<std::string>()] = n;
    for (auto it = n->begin(); it != n->end(); ++it) {
      const std::string& k = it.key();
      const std::string_view kv = k;
      const Json& v = it.value();
      const bool values = kv == "enum" || kv == "const" || kv == "examples" || kv == "default";
      const bool one_schema = kv == "additionalProperties" || kv == "additionalItems" || kv == "not" || kv == "if" ||
                              kv == "then" || kv == "else" || kv == "contains" || kv == "propertyNames" ||
                              kv == "unevaluatedProperties" || kv == "unevaluatedItems";
      // (the key's pointer is spent only on keys that hold schemas or values a $ref may name; a
      // scalar where a schema belongs keeps its pointer for the error that says it is none)
      if ((v.is_string() || v.is_number() || v.is_null()) && !values && !one_schema && kv != "items") continue;
      std::string p = ptr + "/" + escape_pointer_token(k);
      if (kv == "properties" || kv == "patternProperties" || kv == "$defs" || kv == "definitions" ||
          kv == "dependentSchemas" || kv == "dependencies") {
        ptr_[&v] = p;
        if (v.is_object())
          for (auto jt = v.begin(); jt != v.end(); ++jt)
            index(&jt.value(), p + "/" + escape_pointer_token(jt.key()), base, !jt.value().is_array());
      } else if (kv == "items" || kv == "prefixItems" || kv == "allOf" || kv == "anyOf" || kv == "oneOf") {
        if (v.is_array()) {
          ptr_[&v] = p;
          for (size_t i = 0; i < v.size(); ++i) index(&v[i], p + "/" + std::to_string(i), base, true);
        } else {
          index(&v, p, base, true);
        }
      } else if (one_schema) {
        index(&v, p, base, true);
      } else if (values) {
        ptr_[&v] = p;
      } else if (v.is_object() || v.is_array()) {
        // unknown container: $ref may still point into it by JSON pointer
        index_plain(&v, p, base);
      }
    }
  }
  void index_plain(const Json* n, const std::string& ptr, const std::string& base) {
    ptr_[n] = ptr;
    if (n->is_object()) {
      base_[n] = base_of(base);
      for (auto it = n->begin(); it != n->end(); ++it) {
        const Json& v = it.value();
        std::string p = ptr + "/" + escape_pointer_token(it.key());
        if (v.is_object()) index(&v, p, base, true);
        else if (v.is_array()) index_plain(&v, p, base);
        else ptr_[&v] = p;
      }
    } else if (n->is_array()) {
      for (size_t i = 0; i < n->size(); ++i) {
        const Json& v = (*n)[i];
        std::string p = ptr + "/" + std::to_string(i);
        if (v.is_object()) index(&v, p, base, true);
        else index_plain(&v, p, base);
      }
    }
  }

  const Json* resolve_ref(const Json* from, const std::string& ref, const std::string& ptr) {
    auto bt = base_.find(from);
    std::string base = bt == base_.end() ? "tollgate:/root.json" : *bt->second;
    // A reference is resolved once per base: the same $ref is met again each time its schema is
    // flattened (every branch of a oneOf product, every plan of uniqueItems).
    std::string memo_key = base;
    memo_key.push_back('\0');
    memo_key += ref;
    if (auto m = ref_memo_.find(memo_key); m != ref_memo_.end()) return m->second;
    const Json* found = resolve_ref_uncached(base, ref, ptr);
    ref_memo_.emplace(std::move(memo_key), found);
    return found;
  }
  const Json* resolve_ref_uncached(const std::string& base, const std::string& ref, const std::string& ptr) {
    std::string target = resolve_uri(base, ref);
    std::string res = strip_fragment(target);
    std::string frag;
    auto h = target.find('#');
    if (h != std::string::npos) frag = target.substr(h + 1);
    auto rt = resources_.find(res);
    if (rt == resources_.end()) {
      // a trailing-slash variant or a known id with a different spelling
      fail(ptr + "/$ref", "$ref '" + ref + "' resolves to '" + target +
                              "', which is not in this document (remote references are not fetched)");
    }
    const Json* node = rt->second;
    frag = percent_decode(frag);
    if (frag.empty()) return node;
    if (frag[0] != '/') {
      auto at = anchors_.find(res + "#" + frag);
      if (at == anchors_.end()) fail(ptr + "/$ref", "$ref '" + ref + "': no $anchor '" + frag + "' in the document");
      return at->second;
    }
    size_t pos = 1;
    while (pos <= frag.size()) {
      size_t e = frag.find('/', pos);
      if (e == std::string::npos) e = frag.size();
      std::string tok = frag.substr(pos, e - pos);
      std::string unesc;
      for (size_t i = 0; i < tok.size(); ++i) {
        if (tok[i] == '~' && i + 1 < tok.size() && (tok[i + 1] == '0' || tok[i + 1] == '1')) {
          unesc += tok[i + 1] == '0' ? '~' : '/';
          ++i;
        } else {
          unesc += tok[i];
        }
      }
      if (node->is_object()) {
        auto it = node->find(unesc);
        if (it == node->end()) fail(ptr + "/$ref", "$ref '" + ref + "' resolves nowhere: no '" + unesc + "' in the document");
        node = &*it;
      } else if (node->is_array()) {
        char* endp = nullptr;
        unsigned long i = std::strtoul(unesc.c_str(), &endp, 10);
        if (unesc.empty() || *endp || i >= node->size())
          fail(ptr + "/$ref", "$ref '" + ref + "' resolves nowhere: no index '" + unesc + "'");
        node = &(*node)[i];
      } else {
        fail(ptr + "/$ref", "$ref '" + ref + "' resolves nowhere");
      }
      pos = e + 1;
    }
    if (!ptr_.count(node)) index_plain(node, frag, res);
    return node;
  }

  // ---------------------------------------------------------------- flatten: keywords → Shape
  // Annotations that only describe (no $id, $anchor or $defs: those change what a $ref beside them means).
  static bool is_description(const std::string& k) {
    return k == "title" || k == "description" || k == "markdownDescription" || k == "examples" || k == "example" ||
           k == "default" || k == "$comment" || k == "deprecated";
  }
  // Whether the schema's dialect ($schema) has keyword `k`. Drafts before 2020-12 lack the
  // keywords later drafts added (python-jsonschema's Draft4/6/7/201909Validator, which labelled
  // MaskBench's tests, ignore them): draft-04 has no const, contains, propertyNames, if/then/else;
  // draft-06 no if/then/else; drafts up to 07 none of 2019-09's (dependentRequired,
  // dependentSchemas, unevaluated*, minContains/maxContains, $recursiveRef) nor 2020-12's
  // prefixItems and $dynamicRef. Only the keywords a dialect lacks are listed: the rest are
  // compiled as before (draft-04's boolean exclusiveMinimum, `dependencies` in every draft).
  // Before 2019-09: $ref overrides its siblings, `id` names a resource, `items` may be an array.
  bool draft7() const { return dialect_ <= 7; }
  std::string dialect_name() const {
    if (dialect_ <= 7) return "draft-0" + std::to_string(dialect_);
    return dialect_ == 2019 ? "draft 2019-09" : "draft 2020-12";
  }
  bool in_dialect(std::string_view k) const {
    if (dialect_ >= 2020) return true;
    if (k == "prefixItems" || k == "$dynamicRef") return false;
    if (dialect_ == 2019) return true;
    if (k == "dependentRequired" || k == "dependentSchemas" || k == "unevaluatedProperties" ||
        k == "unevaluatedItems" || k == "minContains" || k == "maxContains" || k == "$recursiveRef")
      return false;
    if (dialect_ == 7) return true;
    if (k == "if" || k == "then" || k == "else") return false;
    if (dialect_ == 6) return true;
    return !(k == "const" || k == "contains" || k == "propertyNames");
  }
  static bool is_annotation(std::string_view k) {
    static const std::unordered_set<std::string_view> kAnn = {
        "title", "description", "examples", "default", "$comment", "deprecated", "readOnly", "writeOnly",
        "contentMediaType", "contentEncoding", "contentSchema", "$schema", "$id", "id", "$anchor",
        "$dynamicAnchor", "$defs", "definitions", "$vocabulary", "discriminator", "example", "xml",
        "externalDocs", "markdownDescription", "enumDescriptions", "markdownEnumDescriptions",
        "errorMessage", "$recursiveAnchor", "deprecationMessage", "defaultSnippets", "doNotSuggest",
        "additionalKeywords", "x-intellij-html-description", "patternErrorMessage", "allowTrailingCommas",
        "suggestSortText", "options", "format_maximum", "format_minimum", "tsType", "$async"};
    return kAnn.count(k) > 0 || k.rfind("x-", 0) == 0;
  }

  void flatten_into(Shape& s, const Json* n) {
    if (n->is_boolean()) {
      if (!n->get<bool>()) {
        s.never = true;
        s.never_why = "false schema at " + ptr_of(n);
      }
      return;
    }
    if (!n->is_object()) fail(ptr_of(n), "a schema must be an object or a boolean, not " + std::string(n->type_name()));
    if (std::find(stack_.begin(), stack_.end(), n) != stack_.end())
      fail(ptr_of(n), "cyclic $ref / allOf with no progress: the schema refers to itself before any value is read");
    constexpr size_t kMaxChain = 1000;  // each link is a C++ stack frame
    if (stack_.size() >= kMaxChain)
      fail(ptr_of(n), "a chain of more than " + std::to_string(kMaxChain) + " $ref / allOf links on one value");
    // Popped however this returns: a probe's Undecided (relax() while probing) unwinds through
    // here, and a node left on the stack read as a cycle at its next flatten.
    stack_.push_back(n);
    struct Pop {
      std::vector<const Json*>& st;
      ~Pop() { st.pop_back(); }
    } pop{stack_};
    const std::string ptr = ptr_of(n);
    const Json& o = *n;
    bool ref_only = draft7() && o.contains("$ref");  // draft-07: $ref overrides its siblings
    for (auto it = o.begin(); it != o.end(); ++it) {
      const std::string& k = it.key();
      const std::string_view kv = k;
      if (ref_only && kv != "$ref") continue;
      // Annotations (the most common keys: title, description) are ignored quietly, before the
      // keyword chain below and the key's pointer are spent on them.
      if (is_annotation(k)) continue;
      if (!in_dialect(kv)) {
        not_in_dialect_.add(k, ptr);
        continue;
      }
      const Json& v = it.value();
      std::string p = ptr + "/" + escape_pointer_token(k);
      if (kv == "$ref") {
        if (!v.is_string()) fail(p, "$ref must be a string");
        const Json* t = resolve_ref(n, v.get<std::string>(), ptr);
        flatten_into(s, t);
      } else if (kv == "$dynamicRef" || kv == "$recursiveRef") {
        if (!v.is_string()) fail(p, k + " must be a string");
        std::string r = v.get<std::string>();
        if (kv == "$recursiveRef") r = "#";
        // Without a dynamic scope change this is a plain $ref to the anchor in this resource.
        std::string plain = r;
        auto h = r.find('#');
        if (h != std::string::npos && h + 1 < r.size() && r[h + 1] != '/') {
          auto bt = base_.find(n);
          std::string base = bt == base_.end() ? "tollgate:/root.json" : *bt->second;
          if (!anchors_.count(strip_fragment(resolve_uri(base, r)) + "#" + r.substr(h + 1)))
            fail(p, k + " '" + r + "' resolves nowhere");
        }
        // Exact as a static reference only when the dynamic scope cannot pick another target: one
        // $dynamicAnchor of that name (one $recursiveAnchor) in the document.
        std::string name = kv == "$recursiveRef" ? std::string("\x01recursive")
                           : h != std::string::npos ? r.substr(h + 1) : std::string();
        auto dyn = dynamic_anchors_.find(name);
        if (dyn != dynamic_anchors_.end() && dyn->second.size() > 1) {
          relax(p, k, "the dynamic scope may resolve it to any of " + std::to_string(dyn->second.size()) + " anchors");
          // over-approximation: any of them
          std::vector<Conj> branches;
          for (const Json* t : dyn->second) branches.push_back(Conj{t});
          s.any_of.push_back({branches, p});
          continue;
        }
        flatten_into(s, resolve_ref(n, plain, ptr));
      } else if (kv == "type") {
        unsigned t = 0;
        if (v.is_string()) {
          t = type_bits(v.get<std::string>());
          if (!t) fail(p, "unknown type '" + v.get<std::string>() + "'");
        } else if (v.is_array()) {
          for (const auto& x : v) {
            if (!x.is_string() || !type_bits(x.get<std::string>())) fail(p, "unknown type " + x.dump());
            t |= type_bits(x.get<std::string>());
          }
        } else {
          fail(p, "type must be a string or an array of strings");
        }
        if (o.value("nullable", false) == true) t |= kNullT;
        s.types &= t;
      } else if (kv == "nullable") {
        if (!v.is_boolean()) fail(p, "nullable must be a boolean");
      } else if (kv == "enum" || kv == "const") {
        std::vector<Json> vals;
        if (kv == "const") {
          vals.push_back(v);
        } else {
          if (!v.is_array()) fail(p, "enum must be an array");
          for (const auto& x : v) vals.push_back(x);
        }
        if (o.value("nullable", false) == true && kv == "enum") vals.push_back(nullptr);
        JsonValueSet seen;
        if (!s.has_enum) {
          s.has_enum = true;
          for (auto& x : vals)
            if (seen.insert(x)) s.enum_values.push_back(x);
        } else {
          for (auto& y : vals) seen.insert(y);
          std::vector<Json> keep;
          for (auto& x : s.enum_values)
            if (seen.contains(x)) keep.push_back(x);
          s.enum_values = std::move(keep);
        }
      } else if (kv == "minLength" || kv == "maxLength" || kv == "minItems" || kv == "maxItems" ||
                 kv == "minProperties" || kv == "maxProperties" || kv == "minContains" || kv == "maxContains") {
        uint64_t x = count_value(v, p, k);
        if (kv == "minLength") s.min_length = std::max(s.min_length, x);
        else if (kv == "maxLength") s.max_length = std::min(s.max_length, x);
        else if (kv == "minItems") s.min_items = std::max(s.min_items, x);
        else if (kv == "maxItems") s.max_items = std::min(s.max_items, x);
        else if (kv == "minProperties") {
          if (x > s.min_props) {
            s.min_props = x;
            s.min_props_ptr = p;
          }
        } else if (kv == "maxProperties") {
          if (x < s.max_props) {
            s.max_props = x;
            s.max_props_ptr = p;
          }
        } else if (kv == "minContains") {
          if (o.contains("contains")) s.min_contains = x;
        } else if (o.contains("contains") && x < s.max_contains) {  // maxContains
          s.max_contains = x;
          s.max_contains_ptr = p;
        }
      } else if (kv == "pattern") {
        if (!v.is_string()) fail(p, "pattern must be a string");
        s.patterns.push_back({v.get<std::string>(), p});
      } else if (kv == "format") {
        if (!v.is_string()) fail(p, "format must be a string");
        s.formats.push_back({v.get<std::string>(), p});
      } else if (kv == "minimum" || kv == "maximum" || kv == "exclusiveMinimum" || kv == "exclusiveMaximum") {
        if (v.is_boolean()) {
          // draft-04: exclusiveMinimum/Maximum are booleans that modify minimum/maximum
          continue;
        }
        if (!v.is_number()) fail(p, k + " must be a number");
        bool lower = kv == "minimum" || kv == "exclusiveMinimum";
        bool excl = k.rfind("exclusive", 0) == 0;
        // draft-04 has no bound of its own in exclusiveMinimum/Maximum: any true value (a number but
        // 0 too, as its validators read it) makes minimum/maximum exclusive.
        if (excl && dialect_ == 4) continue;
        if (!excl) {
          auto flag = o.find(lower ? "exclusiveMinimum" : "exclusiveMaximum");
          if (flag != o.end() && flag->is_boolean() && flag->get<bool>()) excl = true;
          if (dialect_ == 4 && flag != o.end() && flag->is_number() && flag->get<double>() != 0) excl = true;
        }
        (lower ? s.minimums : s.maximums).push_back({number_text(v), excl});
      } else if (kv == "multipleOf") {
        if (!v.is_number() || v.get<double>() <= 0) fail(p, "multipleOf must be a number > 0");
        s.multiple_ofs.push_back(number_text(v));
      } else if (kv == "items") {
        if (v.is_array()) {
          // draft-07 tuple form
          add_prefix(s, v);
          auto ai = o.find("additionalItems");
          if (ai != o.end()) apply_items(s, &*ai, v.size());
        } else {
          auto pi = o.find("prefixItems");
          size_t start = !draft7() && pi != o.end() && pi->is_array() ? pi->size() : 0;
          apply_items(s, &v, start);
        }
      } else if (kv == "prefixItems") {
        if (!v.is_array()) fail(p, "prefixItems must be an array");
        add_prefix(s, v);
      } else if (kv == "additionalItems") {
        // handled with the array form of items; alone it has no effect
      } else if (kv == "contains") {
        s.contains.push_back({Conj{&v}, p});
      } else if (kv == "uniqueItems") {
        if (!v.is_boolean()) fail(p, "uniqueItems must be a boolean");
        if (v.get<bool>()) {
          s.unique_items = true;
          s.unique_ptr = p;
        }
      } else if (kv == "properties") {
        if (!v.is_object()) fail(p, "properties must be an object");
        for (auto jt = v.begin(); jt != v.end(); ++jt) {
          auto f = s.props.find(jt.key());
          if (f == s.props.end()) {
            // a key a complement gave as a shape (prop_shapes) is already in the order
            if (!s.prop_shapes.count(jt.key())) s.prop_order.mut().push_back(jt.key());
            s.props.mut()[jt.key()] = Conj{&jt.value()};
          } else {
            Conj joined = join(f->second, Conj{&jt.value()});
            s.props.mut()[jt.key()] = std::move(joined);
          }
        }
      } else if (kv == "required") {
        if (!v.is_array()) fail(p, "required must be an array");
        s.required_srcs.push_back(&v);
        for (const auto& x : v) {
          if (!x.is_string()) fail(p, "required must list strings");
          if (s.required.mut().insert(x.get<std::string>()).second) s.required_order.push_back(x.get<std::string>());
        }
      } else if (kv == "patternProperties") {
        if (!v.is_object()) fail(p, "patternProperties must be an object");
        for (auto jt = v.begin(); jt != v.end(); ++jt) s.pattern_props.push_back({jt.key(), Conj{&jt.value()}});
      } else if (kv == "additionalProperties" || kv == "unevaluatedProperties") {
        if (v.is_boolean() && v.get<bool>()) continue;
        Shape::Closed c;
        c.ptr = p;
        if (kv == "additionalProperties") {
          local_names(o, c.names, c.patterns);
        } else {
          EvalCases cases;
          if (!eval_cases(n, cases, 0, false)) {
            relax(p, k, unknown_cases("properties"));
            continue;
          }
          if (cases.size() > 1 || !cases[0].guards.empty()) {
            unevaluated_cases(s, v, p, cases, false);
            continue;
          }
          c.names = std::move(cases[0].names);
          c.patterns = std::move(cases[0].patterns);
        }
        if (v.is_boolean()) {
          c.is_false = true;
          s.additional_false = true;
        } else {
          c.schema = Conj{&v};
          s.additional = join(s.additional, Conj{&v});
        }
        s.closeds.mut().push_back(std::move(c));
      } else if (kv == "propertyNames") {
        s.property_names = join(s.property_names, Conj{&v});
      } else if (kv == "dependentRequired") {
        if (!v.is_object()) fail(p, "dependentRequired must be an object");
        for (auto jt = v.begin(); jt != v.end(); ++jt) {
          std::vector<std::string> names;
          for (const auto& x : jt.value())
            if (x.is_string()) names.push_back(x.get<std::string>());
          add_dependent_required(s, jt.key(), names, p + "/" + escape_pointer_token(jt.key()));
        }
      } else if (kv == "dependencies") {
        if (!v.is_object()) fail(p, "dependencies must be an object");
        for (auto jt = v.begin(); jt != v.end(); ++jt) {
          if (jt.value().is_array()) {
            std::vector<std::string> names;
            for (const auto& x : jt.value())
              if (x.is_string()) names.push_back(x.get<std::string>());
            add_dependent_required(s, jt.key(), names, p + "/" + escape_pointer_token(jt.key()));
          } else {
            add_dependent_schema(s, jt.key(), &jt.value(), p + "/" + escape_pointer_token(jt.key()));
          }
        }
      } else if (kv == "dependentSchemas") {
        if (!v.is_object()) fail(p, "dependentSchemas must be an object");
        for (auto jt = v.begin(); jt != v.end(); ++jt)
          add_dependent_schema(s, jt.key(), &jt.value(), p + "/" + escape_pointer_token(jt.key()));
      } else if (kv == "allOf") {
        if (!v.is_array() || v.empty()) fail(p, "allOf must be a non-empty array");
        for (const auto& x : v) flatten_into(s, &x);
      } else if (kv == "anyOf" || kv == "oneOf") {
        if (!v.is_array() || v.empty()) fail(p, k + " must be a non-empty array");
        if (v.size() == 1) {  // one branch: the same as allOf
          flatten_into(s, &v[0]);
        } else {
          std::vector<Conj> branches;
          for (const auto& x : v) branches.push_back(Conj{&x});
          (kv == "anyOf" ? s.any_of : s.one_of).push_back({branches, p});
        }
      } else if (kv == "not") {
        s.nots.push_back({Conj{&v}, p});
      } else if (kv == "if") {
        auto th = o.find("then");
        auto el = o.find("else");
        Shape::IfThenElse c;
        c.cond = Conj{&v};
        if (th != o.end()) c.then_ = Conj{&*th};
        if (el != o.end()) c.else_ = Conj{&*el};
        c.ptr = p;
        if (th != o.end() || el != o.end()) s.conditionals.push_back(c);
      } else if (kv == "then" || kv == "else") {
        // with if
      } else if (kv == "unevaluatedItems") {
        if (v.is_boolean() && v.get<bool>()) continue;
        EvalCases cases;
        if (!eval_cases(n, cases, 0, true)) {
          relax(p, k, unknown_cases("items"));
          continue;
        }
        unevaluated_cases(s, v, p, cases, true);
      } else {
        unknown_.add(k, ptr);
      }
    }
  }

  uint64_t count_value(const Json& v, const std::string& p, const std::string& k) {
    if (v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0)) return v.get<uint64_t>();
    if (v.is_number_float() && v.get<double>() >= 0 && v.get<double>() == std::floor(v.get<double>()))
      return v.get<double>() > 1.8e19 ? UINT64_MAX : static_cast<uint64_t>(v.get<double>());
    fail(p, k + " must be a non-negative integer");
  }

  void add_prefix(Shape& s, const Json& arr) {
    if (s.prefix_given) {
      for (size_t i = 0; i < arr.size(); ++i) {
        if (i < s.prefix.size()) s.prefix[i] = join(s.prefix[i], Conj{&arr[i]});
        else s.prefix.push_back(join(s.items, Conj{&arr[i]}));
      }
      return;
    }
    s.prefix_given = true;
    for (const auto& x : arr) s.prefix.push_back(Conj{&x});
  }
  void apply_items(Shape& s, const Json* v, size_t start) {
    if (v->is_boolean() && !v->get<bool>()) {
      s.items_false = true;
      s.items_false_from = std::min(s.items_false_from, start);
      return;
    }
    if (v->is_boolean()) return;
    s.items = join(s.items, Conj{v});
    s.items_from.push_back({start, Conj{v}});
  }
  // A schema object's own property names and patterns (what its additionalProperties skips).
  static void local_names(const Json& o, std::set<std::string>& names, std::vector<std::string>& patterns) {
    auto pr = o.find("properties");
    if (pr != o.end() && pr->is_object())
      for (auto it = pr->begin(); it != pr->end(); ++it) names.insert(it.key());
    auto pp = o.find("patternProperties");
    if (pp != o.end() && pp->is_object())
      for (auto it = pp->begin(); it != pp->end(); ++it) patterns.push_back(it.key());
  }
  // What unevaluatedProperties (unevaluatedItems) sees depends on which in-place subschemas an
  // instance matches (a property or an item is evaluated by anyOf's matching branches, oneOf's
  // one, if's then or else, a triggered dependentSchemas). Each EvalCase is one such situation:
  // the subschemas it assumes to hold or to fail (`guards`) and what is then evaluated — the
  // names and patterns ("" evaluates every key); or the first `prefix` items, every item
  // (`all_items`), and the items matching a `contains` schema. The cases of a schema cover every
  // instance, and a case whose guards hold evaluates no more than the instance's real evaluation
  // does: anyOf takes every subset of its branches (the evaluation only grows with more matching
  // branches, so a case needs only its own to match), oneOf one branch, if both ways (the failing
  // way unguarded when it evaluates nothing).
  struct EvalCase {
    std::vector<std::pair<const Json*, bool>> guards;  // (schema, true: it holds / false: it fails)
    std::set<std::string> names;
    std::vector<std::string> patterns;
    size_t prefix = 0;
    bool all_items = false;
    std::vector<const Json*> contains;
    bool evaluates_nothing() const {
      return names.empty() && patterns.empty() && prefix == 0 && !all_items && contains.empty();
    }
  };
  using EvalCases = std::vector<EvalCase>;
  static constexpr size_t kMaxEvalCases = 64;
  static bool evaluate_nothing(const EvalCases& cases) {
    return std::all_of(cases.begin(), cases.end(), [](const EvalCase& c) { return c.evaluates_nothing(); });
  }
  static std::string unknown_cases(const std::string& what) {
    return "the " + what + " it sees depend on a $dynamicRef's target, on more than " + std::to_string(kMaxEvalCases) +
           " combinations of matching anyOf / oneOf / if branches, or on a cycle of in-place references";
  }
  // Every case of a with every case of b; false past kMaxEvalCases.
  static bool eval_product(EvalCases& a, const EvalCases& b) {
    if (a.size() * b.size() > kMaxEvalCases) return false;
    EvalCases out;
    for (const auto& x : a)
      for (const auto& y : b) {
        EvalCase c = x;
        c.guards.insert(c.guards.end(), y.guards.begin(), y.guards.end());
        c.names.insert(y.names.begin(), y.names.end());
        c.patterns.insert(c.patterns.end(), y.patterns.begin(), y.patterns.end());
        c.prefix = std::max(c.prefix, y.prefix);
        c.all_items = c.all_items || y.all_items;
        c.contains.insert(c.contains.end(), y.contains.begin(), y.contains.end());
        out.push_back(std::move(c));
      }
    a = std::move(out);
    return true;
  }
  // The cases of `sub` assumed to hold (or to fail), each with that guard added.
  bool guarded_cases(const Json* sub, bool holds, EvalCases& out, int depth, bool items) {
    if (!eval_cases(sub, out, depth, items)) return false;
    for (auto& c : out) c.guards.insert(c.guards.begin(), {sub, holds});
    return true;
  }
  // The evaluation cases of schema n, of its properties or (`items`) of its items (n's own
  // unevaluated keyword is not looked at at depth 0; deeper, it evaluates everything). false where
  // they are unknown ($dynamicRef, whose target the dynamic scope picks) or past kMaxEvalCases.
  bool eval_cases(const Json* n, EvalCases& out, int depth, bool items) {
    // Memoised per node: a subschema met along many paths (a $ref under every branch of nested
    // anyOfs) is worked out once, not once per path; a node met again inside its own cases is an
    // in-place cycle (unknown).
    const auto key = std::make_tuple(n, items, depth == 0);
    if (auto it = eval_memo_.find(key); it != eval_memo_.end()) {
      if (!it->second) return false;
      out = *it->second;
      return true;
    }
    if (!eval_busy_.insert(key).second) return false;
    const bool ok = eval_cases_of(n, out, depth, items);
    eval_busy_.erase(key);
    eval_memo_[key] = ok ? std::optional<EvalCases>(out) : std::nullopt;
    return ok;
  }
  bool eval_cases_of(const Json* n, EvalCases& out, int depth, bool items) {
    out.assign(1, EvalCase{});
    if (!n->is_object()) return true;
    if (depth > 64) return false;
    const Json& o = *n;
    EvalCase& base = out[0];
    if (!items) {
      local_names(o, base.names, base.patterns);
      if (o.contains("additionalProperties") || (depth > 0 && o.contains("unevaluatedProperties"))) {
        base.names.clear();
        base.patterns.assign(1, "");  // every key evaluated: nothing below can add to it
        return true;
      }
    } else {
      // prefixItems (2019-09: items as an array) the first items, items (additionalItems) the rest
      auto it = o.find("items");
      const bool tuple = it != o.end() && it->is_array();
      if (auto pi = o.find("prefixItems"); pi != o.end() && pi->is_array() && in_dialect("prefixItems"))
        base.prefix = pi->size();
      else if (tuple)
        base.prefix = it->size();
      // (contains evaluates the items it matches from 2020-12 on)
      if (auto c = o.find("contains"); c != o.end() && dialect_ >= 2020) base.contains.push_back(&*c);
      if ((it != o.end() && !tuple) || (tuple && o.contains("additionalItems")) ||
          (depth > 0 && o.contains("unevaluatedItems"))) {
        base = EvalCase{};
        base.all_items = true;  // every item evaluated: nothing below can add to it
        return true;
      }
    }
    if (o.contains("$dynamicRef") || o.contains("$recursiveRef")) return false;
    EvalCases sub;
    if (auto all = o.find("allOf"); all != o.end() && all->is_array())
      for (const auto& x : *all)
        if (!eval_cases(&x, sub, depth + 1, items) || !eval_product(out, sub)) return false;
    if (auto r = o.find("$ref"); r != o.end() && r->is_string()) {
      const Json* t = resolve_ref(n, r->get<std::string>(), ptr_of(n));
      if (!eval_cases(t, sub, depth + 1, items) || !eval_product(out, sub)) return false;
    }
    for (const char* k : {"anyOf", "oneOf"}) {
      auto it = o.find(k);
      if (it == o.end() || !it->is_array()) continue;
      const bool any = k[0] == 'a';
      EvalCases alts(1, EvalCase{});  // no branch assumed: evaluates nothing, always sound
      for (const auto& b : *it) {
        if (!guarded_cases(&b, true, sub, depth + 1, items)) return false;
        if (evaluate_nothing(sub)) continue;
        if (any) {  // every subset of the branches: with this one and without it
          EvalCases with = alts;
          if (!eval_product(with, sub)) return false;
          alts.insert(alts.end(), with.begin(), with.end());
        } else {  // one branch
          alts.insert(alts.end(), sub.begin(), sub.end());
        }
        if (alts.size() > kMaxEvalCases) return false;
      }
      if (!eval_product(out, alts)) return false;
    }
    if (auto cond = o.find("if"); cond != o.end() && in_dialect("if")) {  // alone too: what it evaluates counts
      EvalCases alts, other;
      if (!guarded_cases(&*cond, true, alts, depth + 1, items)) return false;
      if (auto th = o.find("then"); th != o.end())
        if (!eval_cases(&*th, sub, depth + 1, items) || !eval_product(alts, sub)) return false;
      if (auto el = o.find("else"); el != o.end()) {
        if (!eval_cases(&*el, other, depth + 1, items)) return false;
      } else {
        other.assign(1, EvalCase{});
      }
      // the failing way: guarded only where it evaluates something (an unguarded empty case is sound)
      if (!evaluate_nothing(other))
        for (auto& c : other) c.guards.insert(c.guards.begin(), {&*cond, false});
      alts.insert(alts.end(), other.begin(), other.end());
      if (!eval_product(out, alts)) return false;
    }
    for (const char* k : {"dependentSchemas", "dependencies"}) {
      auto it = o.find(k);
      if (it == o.end() || !it->is_object() || !in_dialect(k)) continue;
      for (auto jt = it->begin(); jt != it->end(); ++jt) {
        if (jt.value().is_array()) continue;  // dependencies' required form evaluates nothing
        if (!eval_cases(&jt.value(), sub, depth + 1, items)) return false;
        if (evaluate_nothing(sub)) continue;
        const std::string at = ptr_of(&jt.value());
        const Json* present = dep_node("q" + at, Json{{"type", "object"}, {"required", Json::array({jt.key()})}}, at);
        for (auto& c : sub) c.guards.insert(c.guards.begin(), {present, true});
        EvalCases alts(1, EvalCase{});
        alts.insert(alts.end(), sub.begin(), sub.end());
        if (!eval_product(out, alts)) return false;
      }
    }
    return true;
  }
  // A URI naming node t (of the document or one the compiler made), for the schemas the compiler
  // writes to refer to it without copying it.
  std::string node_uri(const Json* t) {
    auto [it, fresh] = node_uris_.emplace(t, std::string());
    if (fresh) {
      it->second = "tollgate-internal:node/" + std::to_string(node_uris_.size());
      resources_[it->second] = t;
    }
    return it->second;
  }
  // unevaluatedProperties (`items`: unevaluatedItems) `v` (at pointer p) whose evaluation has
  // several cases: an anyOf over them, each the schema {"allOf": [its guards], "properties": {its
  // names: true}, "patternProperties": {its patterns: true}, "additionalProperties": v} — or
  // {"allOf": [its guards], "prefixItems": [true × its prefix], "items": v, or {"anyOf": [its
  // contains schemas, v]}}. The applicators stay as they are beside it. One case is taken in place.
  void unevaluated_cases(Shape& s, const Json& v, const std::string& p, const EvalCases& cases, bool items) {
    const Json rest = v.is_boolean() ? Json(v.get<bool>()) : Json{{"$ref", node_uri(&v)}};
    std::vector<Conj> branches;
    for (size_t i = 0; i < cases.size(); ++i) {
      const EvalCase& c = cases[i];
      Json alt = Json::object();
      Json guards = Json::array();
      for (const auto& [g, holds] : c.guards) {
        Json ref = Json{{"$ref", node_uri(g)}};
        guards.push_back(holds ? ref : Json{{"not", ref}});
      }
      if (!guards.empty()) alt["allOf"] = std::move(guards);
      if (items) {
        if (!c.all_items) {
          Json item = rest;
          if (!c.contains.empty()) {  // an item a contains schema matches is evaluated
            Json either = Json::array();
            for (const Json* x : c.contains) either.push_back(Json{{"$ref", node_uri(x)}});
            if (!(v.is_boolean() && !v.get<bool>())) either.push_back(rest);
            item = either.size() == 1 ? either[0] : Json{{"anyOf", std::move(either)}};
          }
          Json prefix = Json::array();
          for (size_t k = 0; k < c.prefix; ++k) prefix.push_back(true);
          if (dialect_ >= 2020) {  // 2019-09: items as an array, then additionalItems
            if (c.prefix) alt["prefixItems"] = std::move(prefix);
            alt["items"] = std::move(item);
          } else {
            alt["items"] = std::move(prefix);
            alt["additionalItems"] = std::move(item);
          }
        }
      } else if (std::find(c.patterns.begin(), c.patterns.end(), "") == c.patterns.end()) {
        if (!c.names.empty()) {
          Json props = Json::object();
          for (const auto& name : c.names) props[name] = true;
          alt["properties"] = std::move(props);
        }
        if (!c.patterns.empty()) {
          Json pats = Json::object();
          for (const auto& pat : c.patterns) pats[pat] = true;
          alt["patternProperties"] = std::move(pats);
        }
        alt["additionalProperties"] = rest;
      }
      branches.push_back(Conj{dep_node("u" + p + "/" + std::to_string(i), std::move(alt), p)});
    }
    if (branches.size() == 1) {
      flatten_into(s, branches[0][0]);
    } else {
      s.any_of.push_back({std::move(branches), p});
    }
  }
  void add_dependent_schema(Shape& s, const std::string& name, const Json* v, const std::string& p) {
    // if the value is an object with the property then v: a conditional on presence. Only objects:
    // the keyword says nothing of other values (`required` alone would hold for them, vacuously,
    // and bring v's other keywords on them).
    if (v->is_boolean() && v->get<bool>()) return;
    Shape::IfThenElse c;
    c.ptr = p;
    c.cond = Conj{dep_node("c" + p, Json{{"type", "object"}, {"required", Json::array({name})}}, p)};
    c.then_ = Conj{v};
    s.conditionals.push_back(c);
  }

  // dependentRequired: if the property is present, so are `names` — a conditional like
  // dependentSchemas with {"required": names} as its `then`.
  void add_dependent_required(Shape& s, const std::string& name, const std::vector<std::string>& names,
                              const std::string& p) {
    if (names.empty()) return;
    add_dependent_schema(s, name, dep_node("r" + p, Json{{"required", names}}, p), p);
  }
  // The node made for a dependency (its kind and pointer: `key`), made once: every flatten of the
  // same schema meets the same nodes (rules are memoised by node; the key tracking plan knows an
  // object by its `required` nodes).
  const Json* dep_node(const std::string& key, Json node, const std::string& p) {
    auto [it, fresh] = dep_nodes_.emplace(key, nullptr);
    if (fresh) {
      dep_schemas_.push_back(std::make_unique<Json>(std::move(node)));
      ptr_[dep_schemas_.back().get()] = p;
      it->second = dep_schemas_.back().get();
    }
    return it->second;
  }

  Shape flatten(const Conj& c) {
    Shape s;
    for (const Json* n : c) flatten_into(s, n);
    return s;
  }

  // The code points a non-empty string of r's language may start with (a superset) and whether r may
  // match the empty string, added to `first` / set in `nullable`; false when r holds a node this does
  // not look into (bytes, intersection, complement, automata, JSON escaping): then nothing is known.
  static bool first_code_points(const Regex& r, CharSet& first, bool& nullable) {
    switch (r.kind) {
      case Regex::Kind::kEmpty: nullable = true; return true;
      case Regex::Kind::kNothing: nullable = false; return true;
      case Regex::Kind::kChars:
        first.add(r.chars);
        nullable = false;
        return true;
      case Regex::Kind::kConcat:
        nullable = true;
        for (const auto& i : r.items) {
          bool n = false;
          if (!first_code_points(*i, first, n)) return false;
          if (!n) {
            nullable = false;
            break;
          }
        }
        return true;
      case Regex::Kind::kAlt:
        nullable = false;
        for (const auto& i : r.items) {
          bool n = false;
          if (!first_code_points(*i, first, n)) return false;
          nullable = nullable || n;
        }
        return true;
      case Regex::Kind::kRepeat: {
        bool n = false;
        if (r.max == 0) {
          nullable = true;
          return true;
        }
        if (!first_code_points(*r.items[0], first, n)) return false;
        nullable = n || r.min == 0;
        return true;
      }
      default: return false;
    }
  }

  // ---------------------------------------------------------------- rules
  static GExprPtr leaf(RegexPtr r) { return GExpr::leaf(std::move(r)); }
  static GExprPtr lit(std::string_view s) { return GExpr::leaf(Regex::literal(s)); }

  int new_rule(const std::string& base) {
    GRule r;
    r.structural = base == "obj" || base == "any";
    r.own_lexeme = true;  // a value is its own lexeme, shared across properties and schemas
    r.name = base + "_" + std::to_string(g_.rules.size());
    r.body = GExpr::empty();
    g_.rules.push_back(r);
    return static_cast<int>(g_.rules.size()) - 1;
  }
  // Resolved here: analyse_grammar keeps the index (and copies no tree above it).
  GExprPtr ref(int rule) { return GExpr::ref(g_.rules[rule].name, 0, 0, rule); }

  // A node that is only a $ref (beside annotations; in draft-07 beside anything) stands for its
  // target, so that every `{"$ref": "#/definitions/X"}` site shares X's rule: conjunctions are
  // memoised by the nodes they hold. Without it each site had a rule of its own, and a definition
  // reached through another's sites was emitted again under each (FHIR-shaped schemas: every
  // resource's `contained` refers to the root list of all resources — R² resource objects).
  // What does not resolve is kept: flatten() reports it with its pointer.
  const Json* through_refs(const Json* n) {
    constexpr int kMaxLinks = 64;  // longer chains are followed by flatten(), which bounds them
    for (int i = 0; i < kMaxLinks && n->is_object(); ++i) {
      auto r = n->find("$ref");
      if (r == n->end() || !r->is_string()) break;
      bool only = true;
      if (!draft7())
        for (auto it = n->begin(); it != n->end() && only; ++it) only = it.key() == "$ref" || is_annotation(it.key());
      if (!only) break;
      const Json* t = nullptr;
      try {
        t = resolve_ref(n, r->get<std::string>(), ptr_of(n));
      } catch (const Error&) {
        break;
      }
      if (t == n) break;
      n = t;
    }
    return n;
  }

  // The rule of a conjunction at a nesting depth (memoised: recursion and sharing). The depth is
  // always 0 but with pretty whitespace, whose indentation makes one copy per depth.
  int rule_for(const Conj& c0, int depth = 0) {
    Conj c = c0;
    for (auto& n : c) n = through_refs(n);
    c = normalise(std::move(c));
    auto key = std::make_pair(std::move(c), depth);
    auto it = memo_.lower_bound(std::make_pair(key.first, 0));
    // a copy for a deeper level of a value met above (recursion in the schema): the copies make a
    // chain that ends at kMaxPrettyDepth, regular but never to be inlined into one lexeme
    const bool deeper_copy = it != memo_.end() && it->first.first == key.first && it->first.second < depth;
    it = memo_.find(key);
    if (it != memo_.end()) return it->second;
    int r = new_rule("s");
    if (deeper_copy) g_.rules[r].structural = true;
    memo_[key] = r;
    pending_.push_back({r, std::move(key.first), depth});  // generated by run(): no recursion per nesting level
    return r;
  }
  // A member's or an item's value (one level below the value being generated).
  GExprPtr value_ref(const Conj& c) {
    const int d = child_depth();
    if (d > kMaxPrettyDepth) return GExpr::leaf(Regex::nothing());
    if (c.empty()) return ref(any_value_rule(d));
    return ref(rule_for(c, d));
  }

  GExprPtr value_of(const Conj& c) {
    Shape s = flatten(c);
    std::string ptr = c.empty() ? "" : ptr_of(c[0]);
    return generate(s, ptr);
  }

  // Distributes anyOf / oneOf / not / if-then-else, then emits the type alternatives.
  size_t negate_calls_ = 0;  // calls within the current top-level negate()
  size_t possible_types_calls_ = 0;  // calls within the current top-level possible_types()

  GExprPtr generate(Shape s, const std::string& ptr) {
    // Each level distributes one combinator; a $ref cycle through anyOf / oneOf / if / not that reads
    // no value on the way ({"anyOf": [{"$ref": "#"}, …]}) would never end.
    constexpr int kMaxDistribution = 200;
    if (distribution_depth_ >= kMaxDistribution)
      fail(ptr, "anyOf / oneOf / not / if nested more than " + std::to_string(kMaxDistribution) +
                    " deep on one value (a cyclic $ref through a combinator, with no value read on the way?)");
    // Nor would a $ref that several branches use at every level ({"anyOf": [{"$ref": "#/$defs/l2"},
    // {"allOf": [{"$ref": "#/$defs/l2"}]}]} down a chain of such definitions: 2^levels alternatives)
    // end in time: the distributions of one value are counted (at most 1,121 on maskbench-dev).
    constexpr size_t kMaxDistributions = 50000;
    if (distribution_depth_ == 0) distribution_steps_ = 0;
    if (++distribution_steps_ > kMaxDistributions)
      fail(ptr, "anyOf / oneOf / not / if distributed more than " + std::to_string(kMaxDistributions) +
                    " times on one value (a $ref under several branches at every level of a chain?)");
    ++distribution_depth_;
    struct Leave {
      int& depth;
      ~Leave() { --depth; }
    } leave{distribution_depth_};
    return distribute(std::move(s), ptr);
  }
  GExprPtr distribute(Shape s, const std::string& ptr) {
    if (s.never) return GExpr::leaf(Regex::nothing());
    if (!s.unexpressible.empty()) {
      const auto& [what, p] = s.unexpressible.front();
      std::string keyword = p.substr(p.rfind('/') + 1);
      if (keyword != "oneOf" && keyword != "if" && keyword != "else") keyword = "not";
      relax(p, keyword, what + " is not expressible");
      s.unexpressible.clear();  // over-approximation: the property or item that should fail is left free
    }
    if (!s.any_of.empty() || !s.one_of.empty()) {
      bool one = s.any_of.empty();
      // the first one met first: the keys its branches add come before those of later ones (an allOf
      // of anyOfs or ifs lists its properties in the document's order)
      auto& list = one ? s.one_of : s.any_of;
      auto [branches, p] = list.front();
      list.erase(list.begin());
      if (one && branches.size() > 1) return one_of(std::move(s), branches, p);
      std::vector<GExprPtr> alts;
      for (const auto& b : branches) {
        Shape sb = s;
        for (const Json* n : b) flatten_into(sb, n);
        alts.push_back(generate(std::move(sb), p));
      }
      return GExpr::alt(std::move(alts));
    }
    // Each condition doubles the alternatives, but most of them are empty and pruned as they appear
    // (an `if` per value of one discriminator: two ifs that hold need two values of one key, so the
    // key is absent, and a later else needs it present): what is bounded is the alternatives that
    // survive, counted across the conditions distributed on one value.
    constexpr size_t kMaxConditionalAlts = 1024;
    if (!s.conditionals.empty() && conditional_alts_ > kMaxConditionalAlts) {
      relax(s.conditionals.front().ptr, "if",
            "the conditions (if, dependentRequired, dependentSchemas) on one value make more than " +
                std::to_string(kMaxConditionalAlts) + " alternatives");
      // over-approximation: the remaining conditions' then ∨ else are dropped
      s.conditionals.clear();
    }
    if (!s.conditionals.empty()) {
      auto c = s.conditionals.front();
      s.conditionals.erase(s.conditionals.begin());
      // the count restarts for each value that is not itself an alternative of a condition
      const bool outermost = conditional_depth_ == 0;
      if (outermost) conditional_alts_ = 0;
      ++conditional_depth_;
      struct Leave {
        int& depth;
        ~Leave() { --depth; }
      } leave{conditional_depth_};
      auto alternative = [&](Shape&& x, std::vector<GExprPtr>& alts) {
        if (!keys_satisfiable(x)) return;
        ++conditional_alts_;
        alts.push_back(generate(std::move(x), c.ptr));
      };
      // (if ∧ then) ∨ (¬if ∧ else)
      Shape cond = flatten(c.cond);
      auto neg = negate_top(cond, c.ptr);
      if (!neg) {
        relax(c.ptr, "if", "the complement of this 'if' schema is not expressible");
        // over-approximation: then ∨ else
        std::vector<GExprPtr> alts;
        Shape a = s;
        for (const Json* n : c.then_) flatten_into(a, n);
        alts.push_back(generate(std::move(a), c.ptr));
        Shape b = s;
        for (const Json* n : c.else_) flatten_into(b, n);
        alts.push_back(generate(std::move(b), c.ptr));
        return GExpr::alt(std::move(alts));
      }
      Shape a = s;
      for (const Json* n : c.cond) flatten_into(a, n);
      for (const Json* n : c.then_) flatten_into(a, n);
      std::vector<GExprPtr> alts;
      alternative(std::move(a), alts);
      for (auto& nb : *neg) {
        Shape b = s;
        merge_shape(b, nb);
        for (const Json* n : c.else_) flatten_into(b, n);
        alternative(std::move(b), alts);
      }
      if (alts.empty()) return GExpr::leaf(Regex::nothing());
      return GExpr::alt(std::move(alts));
    }
    if (!s.nots.empty()) {
      auto [nc, p] = s.nots.back();
      s.nots.pop_back();
      Shape ns = flatten(nc);
      if (s.has_enum) {
        // an enum beside a not: each value decided against the not's schema, the complement unneeded
        if (std::optional<std::vector<Json>> out = values_of(s.enum_values, ns)) {
          s.excluded_values.insert(s.excluded_values.end(), out->begin(), out->end());
          return generate(std::move(s), ptr);
        }
      }
      auto neg = negate_top(ns, p);
      if (!neg) {
        relax(p, "not", "the complement of this schema is not expressible");
        return generate(std::move(s), ptr);
      }
      std::vector<GExprPtr> alts;
      for (auto& nb : *neg) {
        Shape b = s;
        merge_shape(b, nb);
        alts.push_back(generate(std::move(b), p));
      }
      return GExpr::alt(std::move(alts));
    }
    if (!s.has_enum) {
      // An object or array value excluded (a oneOf branch's enum value that another branch also
      // holds, a `not` of a const beside an enum): ¬(v = C) as a union. An object: not an object, a
      // key outside C's, one of C's keys missing, or one of them with another value. An array: not
      // an array, fewer or more items, or item i with another value (a prefix of i free items and
      // one that is not C[i]). The other value is excluded in turn, so nested values recurse here.
      // JSON equality ignores key order and compares numbers by value, as excluded_values does.
      auto it = std::find_if(s.excluded_values.begin(), s.excluded_values.end(), [&](const Json& v) {
        return (v.is_object() && (s.types & kObjT)) || (v.is_array() && (s.types & kArrT));
      });
      if (it != s.excluded_values.end()) {
        const Json c = *it;
        s.excluded_values.erase(it);
        const unsigned own = c.is_object() ? kObjT : kArrT;
        std::vector<Shape> neg;
        Shape other;
        other.types = kAllT & ~own;
        neg.push_back(std::move(other));
        if (c.is_object() && c.empty()) {
          Shape t;
          t.types = kObjT;
          t.min_props = 1;
          t.min_props_ptr = ptr;
          neg.push_back(std::move(t));
        } else if (c.is_object()) {
          std::set<std::string> keys;
          for (auto k = c.begin(); k != c.end(); ++k) keys.insert(k.key());
          Shape outside;
          outside.types = kObjT;
          outside.key_outside.push_back({keys, ptr});
          neg.push_back(std::move(outside));
          for (auto k = c.begin(); k != c.end(); ++k) {
            Shape missing;
            missing.types = kObjT;
            missing.forbidden.mut().insert(k.key());
            neg.push_back(std::move(missing));
            Shape differs;
            differs.types = kObjT;
            differs.required.mut().insert(k.key());
            differs.required_order.push_back(k.key());
            differs.prop_order.mut().push_back(k.key());
            auto value = std::make_shared<Shape>();
            value->excluded_values.push_back(k.value());
            differs.prop_shapes[k.key()] = std::move(value);
            neg.push_back(std::move(differs));
          }
        } else {
          const size_t n = c.size();
          if (n > 0) {
            Shape shorter;
            shorter.types = kArrT;
            shorter.max_items = n - 1;
            neg.push_back(std::move(shorter));
          }
          Shape longer;
          longer.types = kArrT;
          longer.min_items = n + 1;
          neg.push_back(std::move(longer));
          for (size_t i = 0; i < n; ++i) {
            Shape differs;
            differs.types = kArrT;
            differs.min_items = i + 1;
            differs.prefix_given = true;
            differs.prefix.assign(i, Conj{});
            // a schema node of its own for "not C[i]", made once per (pointer, index, value)
            differs.prefix.push_back(Conj{dep_node("x" + ptr + "/" + std::to_string(i) + ":" + c[i].dump(),
                                                   Json{{"not", Json{{"const", c[i]}}}}, ptr)});
            neg.push_back(std::move(differs));
          }
        }
        // Each excluded value multiplies the alternatives: bounded as a oneOf's complements are.
        excluded_value_alts_ += neg.size();
        if (excluded_value_alts_ > kMaxCombinations) {
          relax(ptr, "not", "excluding object or array values needs more than " + std::to_string(kMaxCombinations) +
                                " alternatives");
          return generate(std::move(s), ptr);
        }
        std::vector<GExprPtr> alts;
        for (auto& nb : neg) {
          Shape b = s;
          merge_shape(b, nb);
          if (!plainly_empty(b)) alts.push_back(generate(std::move(b), ptr));
        }
        if (alts.empty()) return GExpr::leaf(Regex::nothing());
        return GExpr::alt(std::move(alts));
      }
    }
    if (!s.key_outside.empty()) {
      // some key outside `outside`: in an object closed by names, one of its other names is present
      auto [outside, p] = s.key_outside.back();
      s.key_outside.pop_back();
      const auto names = simple_closed_names(s);
      if (!names) {
        // An object open to other keys (or closed by patterns): some entry, a member of its own or
        // an additional one, has a key outside the set (object_value counts the witnesses).
        std::vector<RegexPtr> lits;
        for (const auto& k : outside) lits.push_back(key_regex(k));
        s.witnesses.push_back({lits.empty() ? any_string_core() : Regex::complement(Regex::alt(std::move(lits))),
                               nullptr, p});
        return generate(std::move(s), ptr);
      }
      std::vector<GExprPtr> alts;
      for (const auto& k : *names) {
        if (outside.count(k) || s.forbidden.count(k)) continue;
        Shape x = s;
        if (x.required.mut().insert(k).second) x.required_order.push_back(k);
        alts.push_back(generate(std::move(x), p));
      }
      if (alts.empty()) return GExpr::leaf(Regex::nothing());
      return GExpr::alt(std::move(alts));
    }
    return emit(s, ptr);
  }

  // negate() at the top (not, if, oneOf). A uniqueItems that a complement brings back (¬¬A, a property
  // value of ¬{properties: {x: {not: A}}}) sits where the uniqueItems plan did not look: refused there.
  std::optional<std::vector<Shape>> negate_top(const Shape& n, const std::string& ptr) {
    auto neg = negate(n, ptr);
    if (neg) {
      std::vector<const Shape*> stack;
      for (const auto& x : *neg) stack.push_back(&x);
      while (!stack.empty()) {
        const Shape* x = stack.back();
        stack.pop_back();
        if (x->unique_items)
          unique_refused_.emplace(x->unique_ptr, "uniqueItems brought back by a complement (not / if / oneOf) is not enforced");
        for (const auto& [k, v] : x->prop_shapes) stack.push_back(v.get());
        for (const auto& [v, q] : x->contains_shapes) stack.push_back(v.get());
      }
    }
    return neg;
  }

  // ¬S as a union of shapes, for the simple cases: type sets, enum/const of scalars, a required
  // list, a number bound, a string pattern. nullopt when not expressible.
  std::optional<std::vector<Shape>> negate(const Shape& n, const std::string& ptr, int depth = 0) {
    if (n.never) return std::vector<Shape>{Shape{}};
    // property values and items recurse: a recursive $ref (a tree) would never end, and each level
    // multiplies the disjuncts; bounded in depth and in calls per complement
    constexpr int kMaxNegationDepth = 8;
    constexpr size_t kMaxNegationCalls = 512;
    if (depth == 0) negate_calls_ = 0;
    if (depth > kMaxNegationDepth || ++negate_calls_ > kMaxNegationCalls) return std::nullopt;
    if (!n.key_outside.empty() || !n.witnesses.empty() || !n.contains_shapes.empty() || !n.unexpressible.empty())
      return std::nullopt;
    if (!n.any_of.empty() || !n.one_of.empty() || !n.nots.empty() || !n.conditionals.empty()) {
      if (!n.one_of.empty() || !n.conditionals.empty() || depth > 6) return std::nullopt;
      // De Morgan: ¬(base ∧ ¬X ∧ (A ∨ B)) = ¬base ∨ X ∨ (¬A ∧ ¬B)
      std::vector<Shape> out;
      Shape base = n;
      base.any_of.clear();
      base.nots.clear();
      if (!is_trivial(base)) {
        auto nb = negate(base, ptr, depth + 1);
        if (!nb) return std::nullopt;
        out.insert(out.end(), nb->begin(), nb->end());
      }
      for (const auto& [c, p] : n.nots) out.push_back(flatten(c));
      constexpr size_t kMaxProduct = 64;
      for (const auto& [branches, p] : n.any_of) {
        std::vector<Shape> prod{Shape{}};
        for (const auto& b : branches) {
          auto nb = negate(flatten(b), ptr, depth + 1);
          if (!nb) return std::nullopt;
          std::vector<Shape> next;
          for (const auto& x : prod)
            for (const auto& y : *nb) {
              Shape z = x;
              merge_shape(z, y);
              next.push_back(std::move(z));
            }
          prod = std::move(next);
          if (prod.size() > kMaxProduct) return std::nullopt;
        }
        out.insert(out.end(), prod.begin(), prod.end());
      }
      return out;
    }
    std::vector<Shape> out;
    // types outside n.types fail n
    unsigned other = kAllT & ~n.types;
    if (other) {
      Shape t;
      t.types = other;
      out.push_back(t);
    }
    unsigned in = n.types;
    // within n.types, which constraints are present?
    bool str_c = n.min_length > 0 || n.max_length != UINT64_MAX || !n.patterns.empty() || !n.formats.empty() ||
                 !n.string_negs.empty();
    bool num_c = !n.minimums.empty() || !n.maximums.empty() || !n.multiple_ofs.empty() || !n.number_negs.empty();
    bool arr_c = n.prefix_given || !n.items.empty() || n.items_false || n.min_items > 0 || n.max_items != UINT64_MAX ||
                 !n.contains.empty() || n.unique_items;
    bool obj_c = !n.props.empty() || !n.required.empty() || !n.pattern_props.empty() || !n.additional.empty() ||
                 n.additional_false || !n.property_names.empty() || n.min_props > 0 || n.max_props != UINT64_MAX ||
                 !n.closeds.empty();
    if (n.has_enum) {
      if (str_c || num_c || arr_c || obj_c) return std::nullopt;
      // values of types in `in` that are not among the enum values
      Shape t;
      t.types = in;
      t.has_enum = false;
      for (const auto& v : n.enum_values) t.excluded_values.push_back(v);
      out.push_back(t);
      return out;
    }
    // untouched types inside `in` satisfy n: each constrained type adds the values that violate it
    if (str_c && (in & kStrT)) {
      if (!string_core_exact(n)) return std::nullopt;
      Shape t;
      t.types = kStrT;
      t.string_negated = std::make_shared<Shape>(n);
      out.push_back(t);
    }
    if (num_c && (in & (kIntT | kFracT))) {
      if (!number_exact(n)) return std::nullopt;
      Shape t;
      t.types = in & (kIntT | kFracT);
      t.number_negated = std::make_shared<Shape>(n);
      out.push_back(t);
    }
    if (obj_c && (in & kObjT)) {
      bool closed = !n.additional.empty() || n.additional_false || !n.pattern_props.empty() ||
                    !n.property_names.empty() || !n.closeds.empty();
      // A closed object with named keys only (additionalProperties: false, no patterns): a key
      // outside the names is one more way to fail it.
      const auto names = simple_closed_names(n);
      if (names) {
        Shape t;
        t.types = kObjT;
        t.key_outside.push_back({*names, ptr});
        out.push_back(t);
      } else if (closed) {
        // what the object says of all its keys, each failed by some entry (a witness)
        auto witness = [&](RegexPtr keys, std::shared_ptr<Shape> value) {
          Shape t;
          t.types = kObjT;
          if (value) {
            // merged into a fresh shape: a complement's string_negated / number_negated becomes a
            // constraint (string_negs / number_negs) that value_fits and generation both read
            auto merged = std::make_shared<Shape>();
            merge_shape(*merged, *value);
            value = std::move(merged);
          }
          t.witnesses.push_back({std::move(keys), std::move(value), ptr});
          out.push_back(std::move(t));
        };
        auto pattern_of = [&](const std::string& pat) -> RegexPtr {
          try {
            return ecma_pattern_regex(pat);
          } catch (const Error&) {
            return nullptr;
          }
        };
        // additionalProperties (and unevaluatedProperties): a key outside its object's names and
        // patterns, with a value outside its schema (any value for false)
        for (const auto& c : n.closeds) {
          std::vector<RegexPtr> covered;
          for (const auto& k : c.names) covered.push_back(key_regex(k));
          for (const auto& pat : c.patterns) {
            RegexPtr r = pattern_of(pat);
            if (!r) return std::nullopt;
            covered.push_back(std::move(r));
          }
          RegexPtr keys = covered.empty() ? any_string_core() : Regex::complement(Regex::alt(std::move(covered)));
          if (c.is_false) {
            witness(keys, nullptr);
            continue;
          }
          auto nb = negate(flatten(c.schema), ptr, depth + 1);
          if (!nb) return std::nullopt;
          for (auto& x : *nb) witness(keys, std::make_shared<Shape>(std::move(x)));
        }
        // patternProperties: a key matching the pattern, with a value outside its schema
        for (const auto& [pat, conj] : n.pattern_props) {
          RegexPtr r = pattern_of(pat);
          if (!r) return std::nullopt;
          auto nb = negate(flatten(conj), ptr, depth + 1);
          if (!nb) return std::nullopt;
          for (auto& x : *nb) witness(r, std::make_shared<Shape>(std::move(x)));
        }
        // propertyNames: a key outside its language
        if (!n.property_names.empty()) {
          const Shape pn = flatten(n.property_names);
          if (!key_language_exact(pn)) return std::nullopt;
          if (RegexPtr names_rx = key_language(pn, ptr)) witness(Regex::complement(names_rx), nullptr);
        }
      }
      // ¬(required R ∧ ∀p∈P: v_p ⊨ S_p ∧ count bounds) = some r missing ∨ some p present with a value
      // violating S_p ∨ a count outside the bounds
      for (const auto& r : n.required) {
        Shape t;
        t.types = kObjT;
        t.forbidden.mut().insert(r);
        out.push_back(t);
      }
      for (const auto& name : n.prop_order) {
        if (!n.props.count(name)) return std::nullopt;
        auto nb = negate(flatten(n.props.at(name)), ptr, depth + 1);
        if (!nb) {
          Shape t;
          t.types = kObjT;
          t.required.mut().insert(name);
          t.required_order.push_back(name);
          t.unexpressible.push_back({"the complement of property '" + name + "'", ptr});
          out.push_back(t);
          continue;
        }
        for (auto& x : *nb) {
          Shape t;
          t.types = kObjT;
          t.required.mut().insert(name);
          t.required_order.push_back(name);
          t.prop_order.mut().push_back(name);
          t.prop_shapes[name] = std::make_shared<Shape>(x);
          out.push_back(t);
        }
      }
      if (n.min_props > 0) {
        Shape t;
        t.types = kObjT;
        t.max_props = n.min_props - 1;
        t.max_props_ptr = n.min_props_ptr;
        out.push_back(t);
      }
      if (n.max_props != UINT64_MAX) {
        Shape t;
        t.types = kObjT;
        t.min_props = n.max_props + 1;
        t.min_props_ptr = n.max_props_ptr;
        out.push_back(t);
      }
    }
    if (arr_c && (in & kArrT)) {
      bool only_counts = !n.prefix_given && n.items.empty() && !n.items_false && n.contains.empty() && !n.unique_items;
      // items from index 0 (no prefix): an item that fails them is one more way to fail
      bool items_only = !n.prefix_given && !n.items.empty() && !n.items_false && n.contains.empty() && !n.unique_items;
      for (const auto& [st, c] : n.items_from) items_only = items_only && st == 0;
      if (!only_counts && !items_only) return std::nullopt;
      if (items_only) {
        auto nb = negate(flatten(n.items), ptr, depth + 1);
        if (!nb) {
          Shape t;
          t.types = kArrT;
          t.min_items = 1;
          t.unexpressible.push_back({"the complement of 'items'", ptr});
          out.push_back(t);
          nb.emplace();
        }
        for (auto& x : *nb) {
          Shape t;
          t.types = kArrT;
          t.contains_shapes.push_back({std::make_shared<Shape>(std::move(x)), ptr});
          out.push_back(t);
        }
      }
      if (n.min_items > 0) {
        Shape t;
        t.types = kArrT;
        t.max_items = n.min_items - 1;
        out.push_back(t);
      }
      if (n.max_items != UINT64_MAX) {
        Shape t;
        t.types = kArrT;
        t.min_items = n.max_items + 1;
        out.push_back(t);
      }
    }
    return out;
  }

  static bool is_trivial(const Shape& n) {
    return n.types == kAllT && !n.has_enum && n.min_length == 0 && n.max_length == UINT64_MAX && n.patterns.empty() &&
           n.formats.empty() && n.minimums.empty() && n.maximums.empty() && n.multiple_ofs.empty() &&
           !n.prefix_given && n.items.empty() && !n.items_false && n.min_items == 0 && n.max_items == UINT64_MAX &&
           n.contains.empty() && !n.unique_items && n.props.empty() && n.required.empty() && n.pattern_props.empty() &&
           n.key_outside.empty() && n.witnesses.empty() && n.contains_shapes.empty() && n.unexpressible.empty() &&
           n.additional.empty() && !n.additional_false && n.property_names.empty() && n.min_props == 0 &&
           n.max_props == UINT64_MAX;
  }

  // Conjunction of two shapes (b's lists appended to a's).
  void merge_shape(Shape& a, const Shape& b) {
    if (b.never) {
      a.never = true;
      a.never_why = b.never_why;
    }
    a.types &= b.types;
    if (b.has_enum) {
      if (!a.has_enum) {
        a.has_enum = true;
        a.enum_values = b.enum_values;
      } else {
        std::vector<Json> keep;
        for (auto& x : a.enum_values)
          for (auto& y : b.enum_values)
            if (json_equal(x, y)) {
              keep.push_back(x);
              break;
            }
        a.enum_values = std::move(keep);
      }
    }
    for (auto& v : b.excluded_values) a.excluded_values.push_back(v);
    a.min_length = std::max(a.min_length, b.min_length);
    a.max_length = std::min(a.max_length, b.max_length);
    a.patterns.insert(a.patterns.end(), b.patterns.begin(), b.patterns.end());
    a.formats.insert(a.formats.end(), b.formats.begin(), b.formats.end());
    a.minimums.insert(a.minimums.end(), b.minimums.begin(), b.minimums.end());
    a.maximums.insert(a.maximums.end(), b.maximums.begin(), b.maximums.end());
    a.multiple_ofs.insert(a.multiple_ofs.end(), b.multiple_ofs.begin(), b.multiple_ofs.end());
    if (b.string_negated) a.string_negs.push_back(b.string_negated);
    for (auto& x : b.string_negs) a.string_negs.push_back(x);
    if (b.number_negated) a.number_negs.push_back(b.number_negated);
    for (auto& x : b.number_negs) a.number_negs.push_back(x);
    a.min_items = std::max(a.min_items, b.min_items);
    a.max_items = std::min(a.max_items, b.max_items);
    if (b.prefix_given) {
      if (!a.prefix_given) {
        a.prefix_given = true;
        a.prefix = b.prefix;
      } else {
        for (size_t i = 0; i < b.prefix.size(); ++i) {
          if (i < a.prefix.size()) a.prefix[i] = join(a.prefix[i], b.prefix[i]);
          else a.prefix.push_back(join(a.items, b.prefix[i]));
        }
      }
    }
    a.items = join(a.items, b.items);
    a.items_false = a.items_false || b.items_false;
    a.items_from.insert(a.items_from.end(), b.items_from.begin(), b.items_from.end());
    a.items_false_from = std::min(a.items_false_from, b.items_false_from);
    if (a.contains.empty() && !b.contains.empty()) {  // (two contains are refused where they count)
      a.min_contains = b.min_contains;
      a.max_contains = b.max_contains;
      a.max_contains_ptr = b.max_contains_ptr;
    }
    a.contains.insert(a.contains.end(), b.contains.begin(), b.contains.end());
    if (b.unique_items) {
      a.unique_items = true;
      a.unique_ptr = b.unique_ptr;
    }
    for (const auto& name : b.prop_order) {
      if (!b.props.count(name)) continue;  // given as a shape (below)
      auto f = a.props.find(name);
      Conj value = f == a.props.end() ? b.props.at(name) : join(f->second, b.props.at(name));
      if (f == a.props.end() && !a.prop_shapes.count(name)) a.prop_order.mut().push_back(name);
      a.props.mut()[name] = std::move(value);
    }
    for (const auto& [name, sh] : b.prop_shapes) {
      if (!a.props.count(name) && !a.prop_shapes.count(name)) a.prop_order.mut().push_back(name);
      std::shared_ptr<Shape>& mine = a.prop_shapes[name];
      if (!mine) {
        mine = sh;
      } else {
        // two complements on one key (¬if_a, ¬if_b on "type"): the value must satisfy both
        auto both = std::make_shared<Shape>(*mine);
        merge_shape(*both, *sh);
        mine = std::move(both);
      }
    }
    // (asked first, so that a set already holding them stays shared)
    for (const auto& r : b.required_order)
      if (!a.required.count(r) && a.required.mut().insert(r).second) a.required_order.push_back(r);
    for (const auto& r : b.required)
      if (!a.required.count(r) && a.required.mut().insert(r).second) a.required_order.push_back(r);
    if (!b.forbidden.empty()) a.forbidden.mut().insert(b.forbidden.begin(), b.forbidden.end());
    a.key_outside.insert(a.key_outside.end(), b.key_outside.begin(), b.key_outside.end());
    a.witnesses.insert(a.witnesses.end(), b.witnesses.begin(), b.witnesses.end());
    a.contains_shapes.insert(a.contains_shapes.end(), b.contains_shapes.begin(), b.contains_shapes.end());
    a.unexpressible.insert(a.unexpressible.end(), b.unexpressible.begin(), b.unexpressible.end());
    a.pattern_props.insert(a.pattern_props.end(), b.pattern_props.begin(), b.pattern_props.end());
    a.additional = join(a.additional, b.additional);
    a.additional_false = a.additional_false || b.additional_false;
    if (!b.closeds.empty()) a.closeds.mut().insert(a.closeds.mut().end(), b.closeds.begin(), b.closeds.end());
    a.property_names = join(a.property_names, b.property_names);
    if (b.min_props > a.min_props) {
      a.min_props = b.min_props;
      a.min_props_ptr = b.min_props_ptr;
    }
    if (b.max_props < a.max_props) {
      a.max_props = b.max_props;
      a.max_props_ptr = b.max_props_ptr;
    }
    a.any_of.insert(a.any_of.end(), b.any_of.begin(), b.any_of.end());
    a.one_of.insert(a.one_of.end(), b.one_of.begin(), b.one_of.end());
    a.nots.insert(a.nots.end(), b.nots.begin(), b.nots.end());
    a.conditionals.insert(a.conditionals.end(), b.conditionals.begin(), b.conditionals.end());
  }

  // oneOf is compiled as anyOf when its branches are provably pairwise disjoint.
  // oneOf: exactly one branch holds. Branches proven disjoint from each other are alternatives as
  // they are; a branch that may overlap others becomes B_i ∧ ¬B_j for each such B_j, when the
  // complements are expressible (negate). Otherwise the keyword is relaxed to anyOf.
  GExprPtr one_of(Shape s, const std::vector<Conj>& branches, const std::string& p) {
    size_t n = branches.size();
    std::vector<Shape> shapes;
    for (const auto& b : branches) {
      Shape x = s;
      x.any_of.clear();
      x.one_of.clear();
      x.nots.clear();
      x.conditionals.clear();
      for (const Json* node : b) flatten_into(x, node);
      shapes.push_back(std::move(x));
    }
    // A type all of whose values two branches accept is outside the oneOf (each of its values matches
    // both): FHIR's resources are object-only schemas without "type", so any string matches all of them.
    unsigned once = 0, twice = 0;
    for (const auto& b : branches) {
      const unsigned t = unconstrained_types(flatten(b));
      twice |= once & t;
      once |= t;
    }
    if (twice) {
      s.types &= ~twice;
      for (auto& x : shapes) x.types &= ~twice;
    }
    std::vector<std::vector<char>> overlap(n, std::vector<char>(n, 0));
    bool any_overlap = false;
    std::vector<std::set<std::string>> keys(n);  // the keys each branch's objects must have
    for (size_t i = 0; i < n; ++i) keys[i] = implied_required(shapes[i]);
    for (size_t i = 0; i < n; ++i)
      for (size_t j = i + 1; j < n; ++j)
        if (!disjoint(shapes[i], shapes[j], &keys[i], &keys[j])) overlap[i][j] = overlap[j][i] = 1, any_overlap = true;
    // A branch with an enum overlaps another only in its values: where each value is decided
    // against both branches, those in both are excluded from both (they match twice), and the
    // pair needs no complement ({"enum": [{"type": "void"}]} beside an object whose "type" is
    // any other string).
    std::vector<std::vector<Json>> excluded(n);
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j) {
        if (i == j || !overlap[i][j] || !shapes[i].has_enum) continue;
        const std::optional<std::vector<Json>> in_i = values_of(shapes[i].enum_values, shapes[i]);
        const std::optional<std::vector<Json>> in_j = values_of(shapes[i].enum_values, shapes[j]);
        if (!in_i || !in_j) continue;
        for (const Json& v : *in_i)
          if (std::any_of(in_j->begin(), in_j->end(), [&](const Json& w) { return json_equal(v, w); })) {
            excluded[i].push_back(v);
            excluded[j].push_back(v);
          }
        overlap[i][j] = overlap[j][i] = 0;
      }
    any_overlap = false;
    for (const auto& row : overlap) any_overlap = any_overlap || std::find(row.begin(), row.end(), 1) != row.end();
    std::vector<std::optional<std::vector<Shape>>> negs(n);
    std::vector<char> negated(n, 0);
    if (any_overlap) {
      for (size_t j = 0; j < n; ++j) {
        bool needed = false;
        for (size_t i = 0; i < n; ++i) needed = needed || overlap[i][j];
        if (!needed) continue;
        negs[j] = negate_top(flatten(branches[j]), p);
        negated[j] = 1;
        if (!negs[j]) {
          if (GExprPtr by_keys = one_of_by_keys(s, shapes, p)) return by_keys;
          relax(p, "oneOf", "branch " + std::to_string(j) +
                                " may overlap another (exactly one must match), and its complement is not expressible");
          negs.assign(n, std::nullopt);
          std::fill(overlap.begin(), overlap.end(), std::vector<char>(n, 0));
          break;
        }
      }
    }
    std::vector<std::vector<Shape>> all_combos(n);
    for (size_t i = 0; i < n; ++i) {
      // branch i and the product of the complements of the branches that overlap it; merges that
      // plainly accept nothing (a required key the branch forbids) are dropped as they appear
      Shape base = s;
      for (const Json* node : branches[i]) flatten_into(base, node);
      base.excluded_values.insert(base.excluded_values.end(), excluded[i].begin(), excluded[i].end());
      std::vector<Shape> combos{base};
      for (size_t j = 0; j < n; ++j) {
        if (j == i || !overlap[i][j]) continue;
        std::vector<Shape> next;
        for (const auto& c : combos)
          for (const auto& ng : *negs[j]) {
            Shape x = c;
            merge_shape(x, ng);
            if (!plainly_empty(x)) next.push_back(std::move(x));
          }
        combos = std::move(next);
        if (combos.size() > kMaxCombinations) {
          if (GExprPtr by_keys = one_of_by_keys(s, shapes, p)) return by_keys;
          relax(p, "oneOf", "excluding the overlapping branches needs more than " + std::to_string(kMaxCombinations) +
                                " alternatives");
          combos = {base};
          break;
        }
      }
      all_combos[i] = std::move(combos);
    }
    // a complement left unexpressible (a property or item whose complement cannot be written, a key
    // outside a closed object's names where patterns or an open object leave keys free) is refused
    // when generated: the branches read key by key may not need it
    const bool refused = std::any_of(all_combos.begin(), all_combos.end(), [](const std::vector<Shape>& combos) {
      return std::any_of(combos.begin(), combos.end(), [](const Shape& c) { return has_unexpressible(c) && !plainly_empty(c); });
    });
    if (refused)
      if (GExprPtr by_keys = one_of_by_keys(s, shapes, p)) return by_keys;
    std::vector<GExprPtr> alts;
    for (auto& combos : all_combos)
      for (auto& c : combos) alts.push_back(generate(std::move(c), p));
    return GExpr::alt(std::move(alts));
  }

  // The alternatives a oneOf's products of complements may make (per branch, per key region).
  static constexpr size_t kMaxCombinations = 256;

  // oneOf over objects whose branches each say what they say key by key (properties, required,
  // additionalProperties: false, nothing across keys), when the complements of whole branches
  // would take too many alternatives (an address per country: ten branches, each with its own
  // "country" and "state" enums and none required). Whether a branch holds is the conjunction over
  // the keys of what each key's presence and value allow, so the object is read key by key, in one
  // order (below), carrying the set of branches still possible; it is
  // accepted when exactly one remains. A key's values split into regions by the set of branches
  // whose schema for the key they satisfy: the branches' schemas met, the others' complemented (only
  // for the regions some state needs, and not where the region is already disjoint from the
  // schema). Schema property order only; nullptr where it does not apply or a needed complement is
  // not expressible (the caller then refuses as before).
  GExprPtr one_of_by_keys(const Shape& s, const std::vector<Shape>& shapes, const std::string& p) {
    if (opt_.property_order != JsonSchemaOptions::PropertyOrder::kSchema) return nullptr;
    if (!s.any_of.empty() || !s.one_of.empty() || !s.nots.empty() || !s.conditionals.empty()) return nullptr;
    const size_t n = shapes.size();
    if (n < 2 || n > 64) return nullptr;
    for (const Shape& x : shapes) {
      if (x.types & ~kObjT) return nullptr;  // a branch that admits other values
      if (x.never || x.has_enum || !x.any_of.empty() || !x.one_of.empty() || !x.nots.empty() ||
          !x.conditionals.empty() || !x.key_outside.empty() || !x.witnesses.empty() || !x.unexpressible.empty() ||
          !x.pattern_props.empty() || !x.property_names.empty() || x.min_props > 0 || x.max_props != UINT64_MAX ||
          !x.excluded_values.empty())
        return nullptr;
      for (const auto& c : x.closeds)
        if (!c.is_false || !c.patterns.empty()) return nullptr;
    }
    // The keys in one order: each branch's keys (properties, then required names) in its own order,
    // a key new to the list placed after the branch's previous key. Where two branches order two
    // keys differently, the list follows the first: documents are read in this one order, which
    // is the schema order of every branch whose keys it keeps in order (a document in another
    // branch's order is refused, never accepted wrongly: a branch never fails for its order).
    std::vector<std::string> keys;
    for (size_t i = 0; i < n; ++i) {
      std::vector<std::string> own;
      for (const auto& k : shapes[i].prop_order) own.push_back(k);
      for (const auto& k : shapes[i].required_order)
        if (!shapes[i].props.count(k) && !shapes[i].prop_shapes.count(k)) own.push_back(k);
      size_t at = 0;  // where the branch's next new key goes: after its previous key
      for (const auto& k : own) {
        auto it = std::find(keys.begin(), keys.end(), k);
        if (it == keys.end()) it = keys.insert(keys.begin() + static_cast<std::ptrdiff_t>(at), k);
        at = static_cast<size_t>(it - keys.begin()) + 1;
      }
      for (const auto& k : shapes[i].forbidden)
        if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    }
    constexpr size_t kMaxKeys = 256;
    if (keys.size() > kMaxKeys) return nullptr;
    // per key: the branches it may be absent from, the branches that take any value, and classes of
    // equal schemas (with the branches holding each)
    struct Class {
      Shape v;
      uint64_t branches = 0;
      std::string text;
    };
    struct Key {
      uint64_t absent = 0, any = 0;
      std::vector<Class> classes;
      std::vector<std::vector<char>> apart;  // classes proven disjoint
      std::vector<std::pair<uint64_t, uint64_t>> regions;  // (classes met, branches that hold)
      std::map<uint64_t, GExprPtr> values;                   // by classes met, built when needed
    };
    std::vector<Key> ks(keys.size());
    uint64_t open = 0, alive = 0;
    for (size_t i = 0; i < n; ++i) {
      if (shapes[i].closeds.empty()) open |= uint64_t{1} << i;
      if (!plainly_empty(shapes[i])) alive |= uint64_t{1} << i;
    }
    constexpr size_t kMaxClasses = 16, kMaxRegions = 256;
    for (size_t ki = 0; ki < keys.size(); ++ki) {
      const std::string& k = keys[ki];
      Key& key = ks[ki];
      for (size_t i = 0; i < n; ++i) {
        const uint64_t bit = uint64_t{1} << i;
        const Shape& x = shapes[i];
        if (!x.required.count(k)) key.absent |= bit;
        if (x.forbidden.count(k) || key_forbidden(x, k)) continue;
        auto pr = x.props.find(k);
        auto ps = x.prop_shapes.find(k);
        Shape v = member_shape(x, k);
        if (v.never) continue;
        // not named, or named with a schema every value meets: any value (closed branches that do
        // not name the key were left out just above)
        if (unconstrained_types(v) == kAllT && v.unexpressible.empty()) {
          key.any |= bit;
          continue;
        }
        std::string text = "#" + std::to_string(i);  // a complement's shape: a class of its own
        if (ps == x.prop_shapes.end()) {
          text.clear();
          for (const Json* node : pr->second) {
            // equal schemas are one class: annotations aside (the same "bindings" described twice)
            if (!node->is_object()) {
              text += node->dump() + "\n";
              continue;
            }
            Json bare = Json::object();
            for (auto it = node->begin(); it != node->end(); ++it)
              if (!is_description(it.key())) bare[it.key()] = it.value();
            text += bare.dump() + "\n";
          }
        }
        auto same = std::find_if(key.classes.begin(), key.classes.end(), [&](const Class& c) { return c.text == text; });
        if (same != key.classes.end()) {
          same->branches |= bit;
        } else {
          key.classes.push_back({std::move(v), bit, std::move(text)});
          if (key.classes.size() > kMaxClasses) return nullptr;
        }
      }
      const size_t m = key.classes.size();
      key.apart.assign(m, std::vector<char>(m, 0));
      for (size_t a = 0; a < m; ++a)
        for (size_t b = a + 1; b < m; ++b)
          key.apart[a][b] = key.apart[b][a] = disjoint(key.classes[a].v, key.classes[b].v);
      // the sets of classes one value may meet: no two of them disjoint
      std::function<void(size_t, uint64_t, uint64_t)> grow = [&](size_t from, uint64_t met, uint64_t holds) {
        key.regions.push_back({met, holds});
        for (size_t c = from; c < m && key.regions.size() <= kMaxRegions; ++c) {
          bool ok = true;
          for (size_t d = 0; d < c && ok; ++d) ok = !((met >> d) & 1) || !key.apart[c][d];
          if (ok) grow(c + 1, met | (uint64_t{1} << c), holds | key.classes[c].branches);
        }
      };
      grow(0, 0, key.any);
      if (key.regions.size() > kMaxRegions) return nullptr;
    }
    // the value of a region: its classes' schemas met, the other classes' complemented
    bool failed = false;
    auto region_value = [&](Key& key, uint64_t met) -> GExprPtr {
      auto it = key.values.find(met);
      if (it != key.values.end()) return it->second;
      Shape base;
      for (size_t c = 0; c < key.classes.size(); ++c)
        if ((met >> c) & 1) merge_shape(base, key.classes[c].v);
      std::vector<Shape> combos{base};
      for (size_t c = 0; c < key.classes.size() && !failed; ++c) {
        if ((met >> c) & 1) continue;
        bool apart = false;  // a class disjoint from one met needs no complement
        for (size_t d = 0; d < key.classes.size(); ++d)
          if (((met >> d) & 1) && key.apart[c][d]) apart = true;
        if (apart) continue;
        auto neg = negate_top(key.classes[c].v, p);
        if (!neg) {
          failed = true;
          break;
        }
        std::vector<Shape> next;
        for (const auto& x : combos)
          for (const auto& y : *neg) {
            Shape z = x;
            merge_shape(z, y);
            if (!keys_satisfiable(z)) continue;
            if (has_unexpressible(z)) failed = true;  // refused where it is generated, else
            next.push_back(std::move(z));
          }
        combos = std::move(next);
        if (combos.size() > kMaxCombinations) failed = true;
      }
      GExprPtr v;
      if (!failed) {
        std::vector<GExprPtr> alts;
        Deeper member_value(*this);
        for (auto& c : combos) alts.push_back(generate(std::move(c), p));
        v = alts.empty() ? GExpr::leaf(Regex::nothing()) : alts.size() == 1 ? alts[0] : GExpr::alt(std::move(alts));
      }
      key.values[met] = v;
      return v;
    };
    RegexPtr extra_key;
    {
      std::vector<RegexPtr> named;
      for (const auto& k : keys) named.push_back(key_regex(k));
      extra_key = Regex::complement(Regex::alt(std::move(named)));
    }
    // R(ki, st, c): keys from ki on, st = the branches still possible, c = a separator is due
    constexpr size_t kMaxRules = 4096;
    std::map<std::tuple<size_t, uint64_t, int>, int> rules;
    std::function<GExprPtr(size_t, uint64_t, int)> R = [&](size_t ki, uint64_t st, int c) -> GExprPtr {
      auto memo = std::make_tuple(ki, st, c);
      if (auto it = rules.find(memo); it != rules.end()) return ref(it->second);
      const int r = new_rule("obj");
      rules[memo] = r;
      if (rules.size() > kMaxRules) failed = true;
      std::vector<GExprPtr> alts;
      if (!failed && ki == keys.size()) {
        if (__builtin_popcountll(st) == 1) alts.push_back(body_end(c));
      } else if (!failed) {
        Key& key = ks[ki];
        if (st & key.absent) alts.push_back(R(ki + 1, st & key.absent, c));
        for (const auto& [met, holds] : key.regions) {
          if (!(st & holds) || failed) continue;
          GExprPtr v = region_value(key, met);
          if (!v) break;
          std::vector<GExprPtr> seq;
          if (GExprPtr l = lead(c)) seq.push_back(l);
          seq.push_back(key_literal(keys[ki]));
          seq.push_back(key_sep());
          seq.push_back(v);
          seq.push_back(R(ki + 1, st & holds, 1));
          alts.push_back(GExpr::seq(std::move(seq)));
        }
      }
      if (!failed && (st & open)) {  // a key none of the branches names, anywhere among the others
        std::vector<GExprPtr> seq;
        if (GExprPtr l = lead(c)) seq.push_back(l);
        seq.push_back(GExpr::seq({lit("\""), leaf(Regex::json_string(extra_key)), lit("\"")}));
        seq.push_back(key_sep());
        seq.push_back(value_ref({}));
        seq.push_back(R(ki, st & open, 1));
        alts.push_back(GExpr::seq(std::move(seq)));
      }
      g_.rules[r].body = alts.empty() ? GExpr::leaf(Regex::nothing()) : GExpr::alt(std::move(alts));
      return ref(r);
    };
    GExprPtr body = R(0, alive, 0);
    if (failed) return nullptr;  // the rules made so far stay unreferenced: pruned with the unused
    return GExpr::seq({lit("{"), leaf(ws_), body, leaf(ws_), lit("}")});
  }

  static constexpr size_t kMaxWitnesses = 4;  // per object: each doubles its rules
  // Whether a complement left something the generation refuses in the shape, its property values
  // or items: what it could not write, or a key outside a closed object's names where patterns or
  // an open object leave keys free.
  static bool has_unexpressible(const Shape& s) {
    if (!s.unexpressible.empty()) return true;
    if (s.witnesses.size() + (simple_closed_names(s) ? 0 : s.key_outside.size()) > kMaxWitnesses) return true;
    for (const auto& [k, v] : s.prop_shapes)
      if (has_unexpressible(*v)) return true;
    for (const auto& [v, q] : s.contains_shapes)
      if (has_unexpressible(*v)) return true;
    return false;
  }

  // The types every value of which the shape accepts: no keyword of the shape applies to them.
  unsigned unconstrained_types(const Shape& x) {
    if (x.never || x.has_enum || !x.any_of.empty() || !x.one_of.empty() || !x.nots.empty() ||
        !x.excluded_values.empty() || x.string_negated || x.number_negated || !x.string_negs.empty() ||
        !x.number_negs.empty())
      return 0;
    // A condition only objects can meet, with no else (a dependency), leaves the other types free.
    for (const auto& c : x.conditionals)
      if (!c.else_.empty() || (effective_types(flatten(c.cond)) & ~kObjT)) return 0;
    unsigned t = x.types & (kNullT | kBoolT);
    if (x.min_length == 0 && x.max_length == UINT64_MAX && x.patterns.empty() && x.formats.empty()) t |= x.types & kStrT;
    if (x.minimums.empty() && x.maximums.empty() && x.multiple_ofs.empty()) t |= x.types & (kIntT | kFracT);
    if (!has_array_constraints(x)) t |= x.types & kArrT;
    if (!has_object_constraints(x) && x.closeds.empty() && x.forbidden.empty() && x.prop_shapes.empty() &&
        x.conditionals.empty())
      t |= x.types & kObjT;
    return t;
  }

  // The keys every object of the shape has: its required ones, and those that every branch of one
  // of its anyOf / oneOf requires (a oneOf of "required" lists, each naming the same key). Bounded
  // in depth: branches may be recursive references.
  std::set<std::string> implied_required(const Shape& s, int depth = 0) {
    std::set<std::string> keys = s.required;
    if (depth >= 3) return keys;
    for (const auto* groups : {&s.any_of, &s.one_of})
      for (const auto& [branches, p] : *groups) {
        std::optional<std::set<std::string>> common;  // over the branches that accept something
        for (const auto& b : branches) {
          const Shape x = flatten(b);
          if (x.never) continue;
          std::set<std::string> k = implied_required(x, depth + 1);
          if (!common) {
            common = std::move(k);
          } else {
            std::erase_if(*common, [&](const std::string& key) { return !k.count(key); });
          }
          if (common->empty()) break;
        }
        if (common) keys.insert(common->begin(), common->end());
      }
    return keys;
  }

  // Whether `v` is a value of `s`, when that is decided without relaxing anything: refused by
  // excludes(), else the shape's own keywords (part_fits), then its not / anyOf / oneOf / if in
  // turn. Nothing when some part cannot be decided (a keyword part_fits would relax, deep
  // references).
  struct Probe {
    int& depth;
    explicit Probe(int& d) : depth(d) { ++depth; }
    ~Probe() { --depth; }
  };
  std::optional<bool> fits(const Json& v, const Shape& s) {
    if (excludes(s, v)) return false;
    if (probing_ > 8) return std::nullopt;
    Probe probe(probing_);
    Shape own = s;
    own.any_of.clear();
    own.one_of.clear();
    own.nots.clear();
    own.conditionals.clear();
    try {
      if (!part_fits(v, own, "", "value")) return false;
    } catch (const Undecided&) {
      return std::nullopt;
    }
    bool open = false;
    for (const auto& [conj, p] : s.nots) {
      const std::optional<bool> r = fits(v, flatten(conj));
      if (r && *r) return false;
      open = open || !r;
    }
    for (const auto* groups : {&s.any_of, &s.one_of}) {
      const bool exactly_one = groups == &s.one_of;
      for (const auto& [branches, p] : *groups) {
        size_t yes = 0;
        bool undecided = false;
        for (const auto& b : branches) {
          const std::optional<bool> r = fits(v, flatten(b));
          undecided = undecided || !r;
          yes += r && *r;
        }
        if (exactly_one && yes > 1) return false;
        if (!undecided && yes == 0) return false;
        open = open || undecided;
      }
    }
    for (const auto& c : s.conditionals) {
      const std::optional<bool> cond = fits(v, flatten(c.cond));
      if (!cond) {
        open = true;
        continue;
      }
      const Conj& then = *cond ? c.then_ : c.else_;
      if (then.empty()) continue;
      const std::optional<bool> r = fits(v, flatten(then));
      if (r && !*r) return false;
      open = open || !r;
    }
    if (open) return std::nullopt;
    return true;
  }

  // The values of `values` that are values of `s`, when fits() decides every one of them.
  std::optional<std::vector<Json>> values_of(const std::vector<Json>& values, const Shape& s) {
    std::vector<Json> in;
    for (const Json& v : values) {
      const std::optional<bool> r = fits(v, s);
      if (!r) return std::nullopt;
      if (*r) in.push_back(v);
    }
    return in;
  }

  // Whether `s` plainly refuses `v`: by its types or an excluded value; an object or array by the
  // shape's own keywords; a scalar by a `not` whose schema is an enum / const alone that holds v.
  bool excludes(const Shape& s, const Json& v) {
    const unsigned t = value_type(v);
    if (!(t & effective_types(s))) return true;
    for (const auto& e : s.excluded_values)
      if (json_equal(v, e)) return true;
    if (v.is_object() || v.is_array()) {
      // refused by the shape's own keywords (value_fits: its combinators only restrict further);
      // what value_fits cannot evaluate leaves it undecided, never a relaxation from here
      Probe probe(probing_);
      try {
        return !value_fits(v, s, "");
      } catch (const Undecided&) {
        return false;
      }
    }
    for (const auto& [conj, p] : s.nots) {
      const Shape n = flatten(conj);
      if (!n.has_enum || !(t & n.types) || !n.any_of.empty() || !n.one_of.empty() || !n.nots.empty() ||
          !n.conditionals.empty() || n.min_length > 0 || n.max_length != UINT64_MAX || !n.patterns.empty() ||
          !n.formats.empty() || !n.minimums.empty() || !n.maximums.empty() || !n.multiple_ofs.empty())
        continue;
      for (const auto& e : n.enum_values)
        if (json_equal(v, e)) return true;
    }
    return false;
  }

  // Some key of `keys` (that every object of `a` has) is one `other` forbids, or whose value
  // under `a` is disjoint from its value under `other` (a discriminator such as "type": {"enum":
  // ["composer"]} against an object whose values must be false).
  bool needs_excluded_key(const Shape& a, const std::set<std::string>& keys, const Shape& other) {
    for (const auto& k : keys) {
      if (key_forbidden(other, k) || other.forbidden.count(k)) return true;
      if (probing_ > 8) continue;
      Probe probe(probing_);
      try {
        Conj ca, cb;
        if (!member_schemas(other, k, "", cb)) return true;
        if (!member_schemas(a, k, "", ca) || ca.empty() || cb.empty()) continue;
        const Shape x = flatten(ca), y = flatten(cb);
        if (x.any_of.empty() && y.any_of.empty() && x.one_of.empty() && y.one_of.empty() && disjoint(x, y)) return true;
      } catch (const Undecided&) {
      }
    }
    return false;
  }
  // Some anyOf / oneOf of `a` each of whose branches requires a key that `other` forbids or
  // holds a disjoint value for (needs_excluded_key: a closed object against a oneOf of "required"
  // lists naming keys it does not have). Bounded in depth.
  bool branches_need_excluded_key(const Shape& a, const Shape& other, int depth = 0) {
    if (depth >= 3) return false;
    for (const auto* groups : {&a.any_of, &a.one_of})
      for (const auto& [branches, p] : *groups) {
        bool all = true;
        for (size_t i = 0; i < branches.size() && all; ++i) {
          const Shape x = flatten(branches[i]);
          all = x.never || needs_excluded_key(x, implied_required(x), other) ||
                branches_need_excluded_key(x, other, depth + 1);
        }
        if (all) return true;
      }
    return false;
  }

  // `a_keys` / `b_keys`: the keys their objects must have when known beyond `required`
  // (implied_required).
  bool disjoint(const Shape& a, const Shape& b, const std::set<std::string>* a_keys = nullptr,
                const std::set<std::string>* b_keys = nullptr) {
    if (a.never || b.never) return true;
    unsigned common = possible_types(a) & possible_types(b);
    if (!common) return true;
    if (a.has_enum && b.has_enum) {
      for (auto& x : a.enum_values)
        for (auto& y : b.enum_values)
          if (json_equal(x, y)) return false;
      return true;
    }
    // an enum each of whose values the other excludes (by type, or by a `not` of an enum)
    for (const auto& [e, o] : {std::pair{&a, &b}, std::pair{&b, &a}})
      if (e->has_enum && !o->has_enum &&
          std::all_of(e->enum_values.begin(), e->enum_values.end(), [&, o = o](const Json& v) { return excludes(*o, v); }))
        return true;
    // objects: a required property whose values are disjoint (a discriminator)
    if (common == kObjT) {
      for (const auto& name : a.prop_order) {
        if (!a.required.count(name) || !b.required.count(name)) continue;
        if (!b.props.count(name) && !b.prop_shapes.count(name)) continue;
        // a key may be given by its schemas, by a complement (prop_shapes), or both
        Shape x = member_shape(a, name), y = member_shape(b, name);
        if (x.any_of.empty() && y.any_of.empty() && x.one_of.empty() && y.one_of.empty() && disjoint(x, y)) return true;
      }
      // a required property the other forbids, or one in each branch of an anyOf / oneOf
      if (needs_excluded_key(a, a_keys ? *a_keys : a.required, b) || needs_excluded_key(b, b_keys ? *b_keys : b.required, a))
        return true;
      return branches_need_excluded_key(a, b) || branches_need_excluded_key(b, a);
    }
    if ((common & ~(kIntT | kFracT)) == 0 && a.multiple_ofs.empty() && b.multiple_ofs.empty()) {
      // disjoint number ranges (doubles are enough to decide clear cases; ties → not proven)
      auto lo = [](const Shape& s) {
        double m = -HUGE_VAL;
        for (auto& [t, e] : s.minimums) m = std::max(m, std::stod(t));
        return m;
      };
      auto hi = [](const Shape& s) {
        double m = HUGE_VAL;
        for (auto& [t, e] : s.maximums) m = std::min(m, std::stod(t));
        return m;
      };
      if (hi(a) < lo(b) || hi(b) < lo(a)) return true;
      if (common == kFracT) return false;
      if ((effective_types(a) & (kIntT | kFracT)) == kIntT && (effective_types(b) & kFracT) && !(effective_types(b) & kIntT))
        return true;
    }
    return false;
  }
  // The JSON types a shape's values can have: its own (an enum's: its values' types), narrowed by
  // each anyOf / oneOf to the types its branches allow together ({"oneOf": [{"type": "string"},
  // {"type": "integer"}]} cannot be null). Bounded in depth: branches may be recursive references.
  unsigned possible_types(const Shape& s, int depth = 0) {
    if (s.never) return 0;
    unsigned t = effective_types(s);
    if (depth == 0) possible_types_calls_ = 0;
    // bounded in calls too (wide anyOf of anyOf): past it a shape keeps its own types (never narrower
    // than the truth, so "disjoint" stays proven)
    if (depth >= 4 || ++possible_types_calls_ > 256) return t;
    for (const auto* groups : {&s.any_of, &s.one_of})
      for (const auto& [branches, p] : *groups) {
        unsigned u = 0;
        for (const auto& b : branches) {
          u |= possible_types(flatten(b), depth + 1);
          if ((u & t) == t) break;
        }
        t &= u;
      }
    return t;
  }
  static unsigned effective_types(const Shape& s) {
    if (!s.has_enum) return s.types;
    unsigned t = 0;
    for (auto& v : s.enum_values) t |= value_type(v);
    return t & s.types;
  }

  // ---------------------------------------------------------------- emit: one Shape (no combinators)
  GExprPtr emit(const Shape& s, const std::string& ptr) {
    if (s.never) return GExpr::leaf(Regex::nothing());
    if (s.has_enum) return emit_enum(s, ptr);
    std::vector<GExprPtr> alts;
    if (s.types & kNullT) alts.push_back(lit("null"));
    if (s.types & kBoolT) alts.push_back(lit("true")), alts.push_back(lit("false"));
    if (s.types & (kIntT | kFracT)) alts.push_back(leaf(number_regex(s, s.types, ptr)));
    if (s.types & kStrT) alts.push_back(string_value(s, ptr));
    if (s.types & kArrT) alts.push_back(array_value(s, ptr));
    if (s.types & kObjT) alts.push_back(object_value(s, ptr));
    if (!s.excluded_values.empty()) return exclude_values(s, std::move(alts), ptr);
    if (alts.empty()) return GExpr::leaf(Regex::nothing());
    return GExpr::alt(std::move(alts));
  }

  // enum/const: each candidate that satisfies the other keywords, written as JSON.
  GExprPtr emit_enum(const Shape& s, const std::string& ptr) {
    std::vector<GExprPtr> alts;
    std::vector<std::string> strings;
    for (const auto& v : s.enum_values) {
      unsigned t = value_type(v);
      if (!(t & s.types)) continue;
      if (std::any_of(s.excluded_values.begin(), s.excluded_values.end(), [&](const Json& e) { return json_equal(v, e); }))
        continue;
      if (v.is_string()) {
        strings.push_back(v.get<std::string>());
        continue;
      }
      if (v.is_number()) {
        // the value must satisfy the number keywords too
        RegexPtr num = exact_number(v);
        // (draft-04 integers: a whole value's spellings without a fraction or exponent)
        if (!s.minimums.empty() || !s.maximums.empty() || !s.multiple_ofs.empty() || !s.number_negs.empty() ||
            (dialect_ <= 4 && !(s.types & kFracT)))
          num = Regex::intersect({num, number_regex(s, t, ptr)});
        alts.push_back(leaf(num));
        continue;
      }
      if ((v.is_object() || v.is_array()) && !value_fits(v, s, ptr)) continue;
      alts.push_back(const_value(v));
    }
    if (!strings.empty()) {
      RegexPtr body = literal_alternation(std::move(strings));
      RegexPtr c = string_core(s, ptr, /*for_enum=*/true);
      if (c) body = Regex::intersect({body, c});
      alts.push_back(GExpr::seq({lit("\""), leaf(Regex::json_string(body)), lit("\"")}));
    }
    if (alts.empty()) return GExpr::leaf(Regex::nothing());
    return GExpr::alt(std::move(alts));
  }

  // A key that a closed schema object (additionalProperties: false) with no patterns forbids.
  static bool key_forbidden(const Shape& s, const std::string& key) {
    for (const auto& c : s.closeds)
      if (c.is_false && c.patterns.empty() && !c.names.count(key)) return true;
    return false;
  }

  static bool has_object_constraints(const Shape& s) {
    return !s.props.empty() || !s.required.empty() || !s.pattern_props.empty() || !s.additional.empty() ||
           s.additional_false || !s.property_names.empty() || s.min_props > 0 || s.max_props != UINT64_MAX ||
           !s.key_outside.empty() || !s.witnesses.empty();
  }
  static bool has_array_constraints(const Shape& s) {
    return s.prefix_given || !s.items.empty() || s.items_false || s.min_items > 0 || s.max_items != UINT64_MAX ||
           !s.contains.empty() || s.unique_items || !s.contains_shapes.empty();
  }

  // The names a closed object may hold when every closing keyword is `additionalProperties: false`
  // with no patterns beside it (the intersection of their names); nullopt for any other object.
  static std::optional<std::set<std::string>> simple_closed_names(const Shape& s) {
    if (s.closeds.empty() || !s.pattern_props.empty() || !s.property_names.empty()) return std::nullopt;
    for (const auto& c : s.closeds)
      if (!c.is_false || !c.patterns.empty()) return std::nullopt;
    std::set<std::string> common = s.closeds[0].names;
    for (size_t i = 1; i < s.closeds.size(); ++i)
      std::erase_if(common, [&](const std::string& k) { return !s.closeds[i].names.count(k); });
    return common;
  }

  // A merge that plainly accepts nothing: a required key forbidden or outside a closed object, or
  // empty count ranges. Used to prune the alternatives of oneOf before they are generated.
  static bool plainly_empty(const Shape& s) {
    if (s.never || s.types == 0) return true;
    if (s.types == kObjT) {
      if (s.min_props > s.max_props) return true;
      for (const auto& r : s.required)
        if (s.forbidden.count(r) || key_forbidden(s, r)) return true;
    }
    if (s.types == kArrT && s.min_items > s.max_items) return true;
    return false;
  }

  // What an object of the shape says of key k's value: its schemas (props) and what complements
  // added (prop_shapes), merged; no constraint when neither names k.
  Shape member_shape(const Shape& s, const std::string& k) {
    Shape v;
    if (auto p = s.props.find(k); p != s.props.end()) v = flatten(p->second);
    if (auto q = s.prop_shapes.find(k); q != s.prop_shapes.end()) merge_shape(v, *q->second);
    return v;
  }

  // plainly_empty, and a key whose value no JSON value satisfies (its enum values all excluded or
  // of other types, or no type left): required, the shape is empty; else the key is absent, which
  // is written into the shape (forbidden). Two ifs on one discriminator ("type": "a", "type": "b")
  // leave the key absent; a complement that then needs it present is found empty here.
  bool keys_satisfiable(Shape& s) {
    if (plainly_empty(s)) return false;
    if (!(s.types & kObjT)) return true;
    auto impossible = [&](const std::string& k) {
      const Shape v = member_shape(s, k);
      if (v.never || v.types == 0) return true;
      if (!v.has_enum) return false;
      for (const Json& x : v.enum_values) {
        if (!(value_type(x) & v.types)) continue;
        if (std::none_of(v.excluded_values.begin(), v.excluded_values.end(),
                         [&](const Json& e) { return json_equal(x, e); }))
          return false;
      }
      return true;
    };
    std::vector<std::string> keys;
    for (const auto& [k, c] : s.props) keys.push_back(k);
    for (const auto& [k, c] : s.prop_shapes)
      if (!s.props.count(k)) keys.push_back(k);
    for (const auto& k : keys) {
      if (s.forbidden.count(k) || !impossible(k)) continue;
      if (s.required.count(k)) {
        if (s.types == kObjT) return false;
        s.types &= ~kObjT;  // no object of the shape: its other types remain
        return true;
      }
      s.forbidden.mut().insert(k);
    }
    return true;
  }

  // Whether an enum's object or array v satisfies the shape's other keywords, its members and items
  // checked against their schemas (types, enum/const, string and number keywords through the same
  // automata the grammar uses, nested objects and arrays in turn). What this does not evaluate
  // (anyOf/oneOf/not/if inside a member's schema) is relaxed by name: an enum value is never written
  // unchecked.
  bool part_fits(const Json& x, const Shape& sub, const std::string& ptr, const std::string& what) {
    if (sub.never) return false;
    if (sub.string_negated || sub.number_negated) {
      // a complement's shape as it stands: its negated language becomes a constraint when merged
      Shape merged;
      merge_shape(merged, sub);
      return part_fits(x, merged, ptr, what);
    }
    const unsigned t = value_type(x);
    if (!(t & effective_types(sub))) return false;
    if (t & unconstrained_types(sub)) return true;
    if (sub.has_enum && std::none_of(sub.enum_values.begin(), sub.enum_values.end(),
                                     [&](const Json& e) { return json_equal(x, e); }))
      return false;
    for (const auto& e : sub.excluded_values)
      if (json_equal(x, e)) return false;
    if (!sub.any_of.empty() || !sub.one_of.empty() || !sub.nots.empty() || !sub.conditionals.empty()) {
      if (probing_) {  // fits() decides the combinators, or leaves the question open
        const std::optional<bool> r = fits(x, sub);
        if (!r) throw Undecided{};
        return *r;
      }
      relax(ptr, "enum", "the " + what + " of an enum value is checked against anyOf / oneOf / not / if");
      return true;
    }
    // a literal in a regular language, decided on its automaton
    auto in_language = [&](RegexPtr literal, RegexPtr language) {
      try {
        return !fsm::compile_dfa(*Regex::intersect({std::move(literal), std::move(language)})).empty();
      } catch (const Error&) {
        relax(ptr, "enum", "the " + what + " of an enum value: its language is too large to decide");
        return true;
      }
    };
    if (x.is_string()) {
      RegexPtr core = string_core(sub, ptr, /*for_enum=*/true);
      return !core || in_language(Regex::literal(x.get<std::string>()), core);
    }
    if (x.is_number()) {
      const unsigned nt = effective_types(sub) & (kIntT | kFracT);
      return in_language(exact_number(x), number_regex(sub, nt ? nt : (kIntT | kFracT), ptr));
    }
    if (x.is_object() || x.is_array()) return value_fits(x, sub, ptr);
    return true;  // null and booleans: their type decides
  }
  bool part_fits(const Json& x, const Conj& c, const std::string& ptr, const std::string& what) {
    return c.empty() || part_fits(x, flatten(c), ptr, what);
  }

  bool value_fits(const Json& v, const Shape& s, const std::string& ptr) {
    if (v.is_object()) {
      if (v.size() < s.min_props || v.size() > s.max_props) return false;
      for (const auto& r : s.required)
        if (!v.contains(r)) return false;
      for (auto it = v.begin(); it != v.end(); ++it)
        if (key_forbidden(s, it.key()) || s.forbidden.count(it.key())) return false;
      for (const auto& [names, p] : s.key_outside) {
        bool outside = false;
        for (auto it = v.begin(); it != v.end(); ++it) outside = outside || !names.count(it.key());
        if (!outside) return false;
      }
      for (const auto& w : s.witnesses) {
        bool seen = false;
        for (auto it = v.begin(); it != v.end() && !seen; ++it)
          seen = literal_in(w.keys, it.key()) &&
                 (!w.value || part_fits(it.value(), *w.value, ptr, "property '" + it.key() + "'"));
        if (!seen) return false;
      }
      if (!s.property_names.empty()) {
        const Shape names = flatten(s.property_names);
        for (auto it = v.begin(); it != v.end(); ++it)
          if (!part_fits(Json(it.key()), names, ptr, "key '" + it.key() + "'")) return false;
      }
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (auto ps = s.prop_shapes.find(it.key()); ps != s.prop_shapes.end())
          if (!part_fits(it.value(), *ps->second, ptr, "property '" + it.key() + "'")) return false;
      }
      for (auto it = v.begin(); it != v.end(); ++it) {
        Conj c;
        if (!member_schemas(s, it.key(), ptr, c) || !part_fits(it.value(), c, ptr, "property '" + it.key() + "'"))
          return false;
      }
      return true;
    }
    if (v.is_array()) {
      if (v.size() < s.min_items || v.size() > s.max_items) return false;
      if (s.items_false_from != SIZE_MAX && v.size() > s.items_false_from) return false;
      if (!s.contains_shapes.empty())
        relax(s.contains_shapes[0].second, "items", "an enum of arrays checked against the complement of 'items'");
      if (!s.contains.empty() || (s.unique_items && v.size() > 1))
        relax(ptr, "enum", "an enum of arrays checked against contains or uniqueItems");
      for (size_t i = 0; i < v.size(); ++i) {
        Conj c = i < s.prefix.size() ? s.prefix[i] : Conj{};
        for (const auto& [st, ic] : s.items_from)
          if (st <= i) c = join(c, ic);
        if (!part_fits(v[i], c, ptr, "item " + std::to_string(i))) return false;
      }
      return true;
    }
    return true;
  }

  // A JSON value written exactly (const/enum of objects and arrays: keys in the given order).
  GExprPtr const_value(const Json& v) {
    switch (v.type()) {
      case Json::value_t::null: return lit("null");
      case Json::value_t::boolean: return lit(v.get<bool>() ? "true" : "false");
      case Json::value_t::number_integer:
      case Json::value_t::number_unsigned:
      case Json::value_t::number_float: return leaf(exact_number(v));
      case Json::value_t::string:
        return GExpr::seq({lit("\""), leaf(Regex::json_string(Regex::literal(v.get<std::string>()))), lit("\"")});
      case Json::value_t::array: {
        if (v.empty()) return GExpr::seq({lit("["), leaf(ws_), lit("]")});
        std::vector<GExprPtr> items{lit("["), leaf(ws_)};
        if (pretty()) items.push_back(newline(depth_ + 1));
        for (size_t i = 0; i < v.size(); ++i) {
          if (i) items.push_back(item_sep());
          Deeper item_value(*this);
          items.push_back(const_value(v[i]));
        }
        if (pretty()) items.push_back(newline(depth_));
        items.push_back(leaf(ws_));
        items.push_back(lit("]"));
        return GExpr::seq(std::move(items));
      }
      case Json::value_t::object: {
        if (v.empty()) return GExpr::seq({lit("{"), leaf(ws_), lit("}")});
        if (opt_.property_order == JsonSchemaOptions::PropertyOrder::kAny && v.size() <= 8) {
          // JSON equality ignores key order: every key required, each with its const value
          Shape sh;
          sh.types = kObjT;
          Shape::Closed closed;
          closed.is_false = true;
          for (auto it = v.begin(); it != v.end(); ++it) {
            auto sub = std::make_shared<Shape>();
            sub->has_enum = true;
            sub->enum_values.push_back(it.value());
            sh.prop_order.mut().push_back(it.key());
            sh.prop_shapes[it.key()] = sub;
            sh.required.mut().insert(it.key());
            sh.required_order.push_back(it.key());
            closed.names.insert(it.key());
          }
          sh.closeds.mut().push_back(closed);
          sh.additional_false = true;
          return object_value(sh, "");
        }
        std::vector<GExprPtr> items{lit("{"), leaf(ws_)};
        if (pretty()) items.push_back(newline(depth_ + 1));
        bool first = true;
        for (auto it = v.begin(); it != v.end(); ++it) {
          if (!first) items.push_back(item_sep());
          first = false;
          items.push_back(key_literal(it.key()));
          items.push_back(key_sep());
          Deeper member_value(*this);
          items.push_back(const_value(it.value()));
        }
        if (pretty()) items.push_back(newline(depth_));
        items.push_back(leaf(ws_));
        items.push_back(lit("}"));
        return GExpr::seq(std::move(items));
      }
      default: return GExpr::leaf(Regex::nothing());
    }
  }

  RegexPtr exact_number(const Json& v) {
    NumberConstraints nc;
    nc.minimum = nc.maximum = number_text(v);
    return json_number_regex(nc);
  }

  // ¬enum within the allowed types: scalars excluded at the regex level.
  GExprPtr exclude_values(const Shape& s, std::vector<GExprPtr> alts, const std::string& ptr) {
    // rebuild scalar alternatives without the excluded values
    std::vector<GExprPtr> out;
    std::vector<RegexPtr> ex_str, ex_num;
    bool ex_null = false, ex_true = false, ex_false = false;
    for (const auto& v : s.excluded_values) {
      if (v.is_null()) ex_null = true;
      else if (v.is_boolean()) (v.get<bool>() ? ex_true : ex_false) = true;
      else if (v.is_string()) ex_str.push_back(Regex::literal(v.get<std::string>()));
      else if (v.is_number()) ex_num.push_back(exact_number(v));
      else if (s.types & value_type(v)) relax(ptr, "not", "excluding an object or array value");
      // (else a value of a type the shape has not: nothing to exclude; distribute() writes the
      // exclusion of those it has)
    }
    if ((s.types & kNullT) && !ex_null) out.push_back(lit("null"));
    if ((s.types & kBoolT) && !ex_true) out.push_back(lit("true"));
    if ((s.types & kBoolT) && !ex_false) out.push_back(lit("false"));
    if (s.types & (kIntT | kFracT)) {
      RegexPtr n = number_regex(s, s.types, ptr);
      if (!ex_num.empty()) n = Regex::intersect({n, Regex::complement(Regex::alt(ex_num))});
      out.push_back(leaf(n));
    }
    if (s.types & kStrT) {
      RegexPtr core = string_core(s, ptr, false);
      RegexPtr body = core ? core : any_string_core();
      if (!ex_str.empty()) body = Regex::intersect({body, Regex::complement(Regex::alt(ex_str))});
      out.push_back(GExpr::seq({lit("\""), leaf(Regex::json_string(body)), lit("\"")}));
    }
    if (s.types & kArrT) out.push_back(array_value(s, ptr));
    if (s.types & kObjT) out.push_back(object_value(s, ptr));
    (void)alts;
    if (out.empty()) return GExpr::leaf(Regex::nothing());
    return GExpr::alt(std::move(out));
  }

  // ---------------------------------------------------------------- numbers and strings
  // One NumberConstraints per bound and multipleOf of s (the tightest bounds are found by the number
  // module: one regex per bound, intersected), or the plain number when there are none.
  static std::vector<NumberConstraints> number_constraints(const Shape& s, unsigned types) {
    NumberConstraints base;
    base.integer = !(types & kFracT);
    std::vector<NumberConstraints> ncs;
    for (auto& [t, e] : s.minimums) {
      ncs.push_back(base);
      ncs.back().minimum = t;
      ncs.back().exclusive_minimum = e;
    }
    for (auto& [t, e] : s.maximums) {
      ncs.push_back(base);
      ncs.back().maximum = t;
      ncs.back().exclusive_maximum = e;
    }
    for (auto& m : s.multiple_ofs) {
      ncs.push_back(base);
      ncs.back().multiple_of = m;
    }
    if (ncs.empty()) ncs.push_back(base);
    return ncs;
  }
  RegexPtr number_regex(const Shape& s, unsigned types, const std::string& ptr) {
    std::vector<RegexPtr> parts;
    for (const NumberConstraints& nc : number_constraints(s, types)) parts.push_back(number_or_relax(nc, ptr));
    if (dialect_ <= 4 && (types & kIntT) && !(types & kFracT)) {
      // draft-04's integer is "a JSON number without a fraction or exponent part": 1.0 and 1e2 are
      // numbers there, not integers (draft-06 on: any whole number)
      RegexPtr digits = Regex::repeat(Regex::chars_of(CharSet::range('0', '9')), 0, kUnbounded);
      parts.push_back(Regex::concat(
          {Regex::repeat(Regex::literal("-"), 0, 1),
           Regex::alt({Regex::literal("0"), Regex::concat({Regex::chars_of(CharSet::range('1', '9')), digits})})}));
    }
    if ((types & kFracT) && !(types & kIntT)) {
      // numbers that are not whole: a plain decimal with a non-zero fraction digit (exponent
      // spellings of such values are refused, never accepted wrongly)
      RegexPtr d = Regex::chars_of(CharSet::range('0', '9'));
      parts.push_back(Regex::concat(
          {Regex::repeat(Regex::literal("-"), 0, 1),
           Regex::alt({Regex::literal("0"), Regex::concat({Regex::chars_of(CharSet::range('1', '9')), Regex::repeat(d, 0, kUnbounded)})}),
           Regex::literal("."), Regex::repeat(d, 0, kUnbounded), Regex::chars_of(CharSet::range('1', '9')),
           Regex::repeat(d, 0, kUnbounded)}));
    }
    RegexPtr r = Regex::intersect(std::move(parts));
    for (const auto& neg : s.number_negs) {
      Shape n = *neg;
      r = Regex::intersect({r, Regex::complement(number_regex(n, n.types & (kIntT | kFracT) ? n.types : (kIntT | kFracT), ptr))});
    }
    return r;
  }
  RegexPtr number_or_relax(const NumberConstraints& nc, const std::string& ptr) {
    try {
      return json_number_regex(nc);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kUnsupported) fail(ptr, e.message());
      relax(ptr, nc.multiple_of ? "multipleOf" : "minimum/maximum", e.message());
      NumberConstraints plain;
      plain.integer = nc.integer;
      return json_number_regex(plain);
    }
  }

  // Whether string_core(s) is the exact language, with nothing relaxed: its patterns parse, its
  // formats are regular or annotations (an unknown name), its length bounds are compiled. A
  // relaxed part is an over-approximation, so its complement (a string_negated shape) would be an
  // under-approximation, which not even 'lenient' may give.
  bool string_core_exact(const Shape& s) {
    if (s.min_length > kMaxCountedLength || (s.max_length != UINT64_MAX && s.max_length > kMaxCountedLength))
      return false;
    for (const auto& [pat, pp] : s.patterns) {
      try {
        ecma_pattern_regex(pat);
      } catch (const Error&) {
        return false;
      }
    }
    for (const auto& [f, fp] : s.formats)
      if (!format_regex(f) && format_relaxed(f)) return false;
    for (const auto& neg : s.string_negs)
      if (!string_core_exact(*neg)) return false;
    return true;
  }
  // Whether number_regex(s) is exact, with nothing relaxed (as string_core_exact, for the complement
  // of a number_negated shape): every bound and multipleOf has an exact automaton.
  bool number_exact(const Shape& s) {
    for (const NumberConstraints& nc : number_constraints(s, s.types & (kIntT | kFracT) ? s.types : (kIntT | kFracT))) {
      try {
        json_number_regex(nc);
      } catch (const Error&) {
        return false;
      }
    }
    for (const auto& neg : s.number_negs)
      if (!number_exact(*neg)) return false;
    return true;
  }
  // Formats the specification defines but no regex expresses exactly (any other unknown name is an
  // annotation).
  static bool format_relaxed(const std::string& f) { return f == "regex" || f == "idn-email" || f == "idn-hostname"; }

  RegexPtr any_string_core() { return Regex::repeat(Regex::chars_of(CharSet::any()), 0, kUnbounded); }

  // The code-point language of a string value (length ∩ patterns ∩ formats), nullptr for any string.
  // negated: the shape's complement is taken (under `not`): its patterns read as what either dialect
  // matches (RegexOptions::Dialects).
  RegexPtr string_core(const Shape& s, const std::string& ptr, bool for_enum, bool negated = false) {
    std::vector<RegexPtr> parts;
    if (s.min_length > 0 || s.max_length != UINT64_MAX) {
      if (s.min_length > s.max_length) return Regex::nothing();
      uint64_t lo = s.min_length, hi = s.max_length;
      // lenient: a bound too large is dropped (a bounded .{10000,} alone is too large an automaton)
      if (!for_enum && lo > kMaxCountedLength) {
        relax(ptr, "minLength", "a length bound above " + std::to_string(kMaxCountedLength) + " code points is not compiled");
        lo = 0;
      }
      if (!for_enum && hi != UINT64_MAX && hi > kMaxCountedLength) {
        relax(ptr, "maxLength", "a length bound above " + std::to_string(kMaxCountedLength) + " code points is not compiled");
        hi = UINT64_MAX;
      }
      parts.push_back(Regex::repeat(Regex::chars_of(CharSet::any()), static_cast<uint32_t>(lo),
                                    hi == UINT64_MAX ? kUnbounded : static_cast<uint32_t>(hi)));
    }
    for (const auto& [p, pp] : s.patterns) {
      try {
        parts.push_back(ecma_pattern_regex(p, negated ? RegexOptions::Dialects::kEither : RegexOptions::Dialects::kBoth));
      } catch (const Error& e) {
        relax(pp, "pattern", "'" + p + "': " + e.message());
      }
    }
    for (const auto& [f, fp] : s.formats) {
      RegexPtr r = format_regex(f);
      if (!r) {
        // Formats the specification defines but no regex expresses exactly: relaxed (an error unless
        // lenient); any other name is an annotation, as the specification says.
        if (format_relaxed(f))
          relax(fp, "format", "'" + f + "' is not expressible as a regular language");
        else
          warn(fp, "format '" + f + "' is not known: treated as an annotation", codes::kSchemaUnknownFormat);
        continue;
      }
      parts.push_back(r);
    }
    for (const auto& neg : s.string_negs) {
      // nullptr: the negated shape accepts every string (an unknown format is an annotation), so
      // its complement accepts none
      RegexPtr inner = string_core(*neg, ptr, for_enum, !negated);
      parts.push_back(inner ? Regex::complement(inner) : Regex::nothing());
    }
    if (parts.empty()) return nullptr;
    return Regex::intersect(std::move(parts));
  }

  // A string whose only constraints are length bounds above kChunkedAbove code points (maxLength 1024,
  // 4096 and 65535 are common): one automaton would need about fifteen states per code point, so the
  // body is cut into chunks of exactly K code points, one lexeme shared by every chunk, and a tail of
  // fewer than K code points that ends with the closing quote. A chain of rules counts the chunks:
  // c_j (j chunks read) := tail with the lengths still allowed | chunk c_{j+1}. Exact, unambiguous (a
  // chunk cannot hold the closing quote, a tail cannot reach K code points), and rules that the lexer
  // never inlines (structural); past 64 chunks the chain counts blocks of chunks (chunk_chain). Bounds
  // above kMaxChunkedLength are refused.
  static constexpr uint64_t kMaxCountedLength = 10000;
  static constexpr uint64_t kChunkedAbove = 256;  // plain strings with a larger bound are chunked
  static constexpr uint64_t kChunkLength = 64;
  static constexpr uint64_t kMaxChunkedLength = uint64_t{1} << 22;
  static constexpr uint64_t kChunkStates = 2048;
  // The automaton states one code point of `cs` takes in a counted repetition (1 for ASCII).
  size_t class_states(const CharSet& cs) {
    RegexPtr one = Regex::chars_of(cs);
    const StringKey key{StringKey::kClass, one};
    auto it = class_states_.find(key);
    if (it != class_states_.end()) return it->second;
    const size_t n = std::max<size_t>(1, fsm::compile_dfa(*one).num_states() - 1);
    class_states_.emplace(key, n);
    return n;
  }
  // Whether a pattern ends in a counted class whose automaton would pass kChunkStates × 2 states
  // ("^[\\p{L}…]{1,200}$": 34,000), so that chunked_pattern should count it in rules instead.
  bool heavy_count(const Regex& core) {
    const Regex& last = core.kind == Regex::Kind::kConcat && !core.items.empty() ? *core.items.back() : core;
    if (last.kind != Regex::Kind::kRepeat || last.items[0]->kind != Regex::Kind::kChars) return false;
    const uint64_t count = last.max != kUnbounded ? last.max : last.min;
    return count > 16 && count * class_states(last.items[0]->chars) > 2 * kChunkStates;
  }
  GExprPtr chunked_string(uint64_t lo, uint64_t hi) {
    return GExpr::seq({lit("\""), ref(chunk_chain(CharSet::any(), lo, hi))});
  }
  // The chain of rules for lo..hi code points of `cs` and the closing quote (see above). Past
  // kChunksPerBlock chunks the chain goes on counting blocks of kChunksPerBlock chunks (one rule: the
  // chunk lexeme that many times), and the lengths left below a block are a chain of chunks as above:
  // b_J (J blocks read, J ≥ 1) := chunks(the lengths still allowed below a block) | block b_{J+1}, and
  // c_j of the first block goes on with b_1 after its last chunk. Still exact and unambiguous (a
  // block holds no quote; the chunk chain ends with it and stays below a block); a string shorter
  // than a block is parsed as before, a longer one follows both the chunk chain and the next block
  // until the quote or the block's end. span/(K·kChunksPerBlock) + about 3·kChunksPerBlock rules
  // instead of span/K: maxLength 131,072 was 2,048 rules of 64 code points (12 ms of a 16-property
  // schema's compile: 4.6 µs a rule through every pass), 164 in all for that schema now; the chunk
  // chain below a block is one rule set for every block (memoised by its bounds).
  static constexpr uint64_t kChunksPerBlock = 64;
  int chunk_chain(const CharSet& cs, uint64_t lo, uint64_t hi) {
    const StringKey key{StringKey::kChunkChain, Regex::chars_of(cs), lo, hi};
    auto it = string_rules_.find(key);
    if (it != string_rules_.end()) return it->second;
    const bool unbounded = hi == UINT64_MAX;
    const uint64_t span = unbounded ? lo : hi;
    // A chunk holds about kChunkStates automaton states: 64 code points of an ASCII class or of any
    // code point, fewer of a class whose UTF-8 needs many states per code point (a Unicode letter
    // class: some 170).
    const uint64_t k = std::clamp<uint64_t>(kChunkStates / class_states(cs), 1, kChunkLength);
    RegexPtr any = Regex::chars_of(cs);
    GExprPtr chunk = leaf(Regex::json_string(Regex::repeat(any, static_cast<uint32_t>(k), static_cast<uint32_t>(k))));
    auto tail = [&](uint64_t a, uint64_t b) {
      return GExpr::seq({leaf(Regex::json_string(Regex::repeat(any, static_cast<uint32_t>(a), static_cast<uint32_t>(b)))), lit("\"")});
    };
    auto chain_rule = [&] {
      int r = new_rule("strlen");
      g_.rules[r].structural = true;  // regular, but inlined it would be one automaton of every length
      return r;
    };
    // (a block grows past kChunksPerBlock chunks only where the chain would pass 4,096 rules)
    const uint64_t per_block = std::max<uint64_t>(kChunksPerBlock, (span + 4096 * k - 1) / (4096 * k));
    const bool blocks = span > k * kChunksPerBlock;
    const uint64_t unit = k * per_block;
    int after_first_block = -1;  // b_1
    if (blocks) {
      auto block = [&] {  // made when first needed
        const StringKey bkey{StringKey::kChunkBlock, any, k, per_block};
        auto bt = string_rules_.find(bkey);
        if (bt != string_rules_.end()) return bt->second;
        // The block's chunks by reference to a structural rule: as leaves they were one run of
        // regular items, one lexeme of k·per_block code points (57,346 states for 4,096 of any code
        // point, 3-18 ms to build in a fresh process) where the chunk's own lexeme serves.
        const int c = chain_rule();
        g_.rules[c].body = chunk;
        const int b = chain_rule();
        g_.rules[b].body = GExpr::seq(std::vector<GExprPtr>(per_block, ref(c)));
        string_rules_[bkey] = b;
        return b;
      };
      after_first_block = chain_rule();
      for (uint64_t j = 1, r = static_cast<uint64_t>(after_first_block);; ++j) {
        const uint64_t done = j * unit;
        const uint64_t rest_lo = lo > done ? lo - done : 0;
        const uint64_t rest_hi = unbounded ? unit - 1 : std::min<uint64_t>(unit - 1, hi - done);
        std::vector<GExprPtr> alts;
        if (rest_lo <= rest_hi) alts.push_back(ref(chunk_chain(cs, rest_lo, rest_hi)));
        const bool loops = unbounded && done >= lo;  // every further count allowed: b_J loops on itself
        const bool more = unbounded || done + unit <= hi;
        const int next = loops ? static_cast<int>(r) : more ? chain_rule() : -1;
        if (more) alts.push_back(GExpr::seq({ref(block()), ref(next)}));
        g_.rules[r].body = alts.size() == 1 ? alts[0] : GExpr::alt(std::move(alts));
        if (!more || loops) break;
        r = static_cast<uint64_t>(next);
      }
    }
    // c_j for j = 0, 1, ...: the tail lengths still allowed, and whether a whole chunk still fits.
    const int first = chain_rule();
    for (uint64_t j = 0, r = first;; ++j) {
      const uint64_t done = j * k;
      const uint64_t tail_lo = lo > done ? lo - done : 0;
      const uint64_t tail_hi = unbounded ? k - 1 : std::min<uint64_t>(k - 1, hi - done);
      std::vector<GExprPtr> alts;
      if (tail_lo <= tail_hi) alts.push_back(tail(tail_lo, tail_hi));
      const bool last = blocks && j + 1 == per_block;  // the next chunk completes the first block
      const bool loops = !blocks && unbounded && done >= lo;  // every further count allowed: c_j loops on itself
      const bool more = unbounded || done + k <= hi;
      const int next = loops ? static_cast<int>(r) : !more ? -1 : last ? after_first_block : chain_rule();
      if (more) alts.push_back(GExpr::seq({chunk, ref(next)}));
      g_.rules[r].body = alts.size() == 1 ? alts[0] : GExpr::alt(std::move(alts));
      if (!more || loops || last) break;
      r = static_cast<uint64_t>(next);
    }
    string_rules_[key] = first;
    return first;
  }

  // The code-point lengths of a finite language's strings; nullopt when some string may be longer
  // than any bound, or when there are more than `cap` lengths.
  static std::optional<std::set<uint64_t>> finite_lengths(const Regex& r, size_t cap = 16) {
    using Lengths = std::optional<std::set<uint64_t>>;
    auto sums = [&](const std::set<uint64_t>& a, const std::set<uint64_t>& b) -> Lengths {
      std::set<uint64_t> out;
      for (uint64_t x : a)
        for (uint64_t y : b) {
          out.insert(x + y);
          if (out.size() > cap) return std::nullopt;
        }
      return out;
    };
    switch (r.kind) {
      case Regex::Kind::kEmpty: return std::set<uint64_t>{0};
      case Regex::Kind::kNothing: return std::set<uint64_t>{};
      case Regex::Kind::kChars: return std::set<uint64_t>{1};
      case Regex::Kind::kConcat: {
        Lengths acc = std::set<uint64_t>{0};
        for (const auto& it : r.items) {
          Lengths l = finite_lengths(*it, cap);
          if (!l) return std::nullopt;
          acc = sums(*acc, *l);
          if (!acc) return std::nullopt;
        }
        return acc;
      }
      case Regex::Kind::kAlt: {
        std::set<uint64_t> out;
        for (const auto& it : r.items) {
          Lengths l = finite_lengths(*it, cap);
          if (!l) return std::nullopt;
          out.insert(l->begin(), l->end());
          if (out.size() > cap) return std::nullopt;
        }
        return out;
      }
      case Regex::Kind::kRepeat: {
        if (r.max == kUnbounded || r.max > 64) return std::nullopt;
        Lengths one = finite_lengths(*r.items[0], cap);
        if (!one) return std::nullopt;
        Lengths acc = std::set<uint64_t>{0}, out = std::set<uint64_t>{};
        for (uint32_t n = 0; n <= r.max; ++n) {
          if (n >= r.min) out->insert(acc->begin(), acc->end());
          if (out->size() > cap) return std::nullopt;
          if (n < r.max && !(acc = sums(*acc, *one))) return std::nullopt;
        }
        return out;
      }
      default: return std::nullopt;  // bytes, intersections, complements: not read here
    }
  }

  // A pattern whose strings are a finite prefix and then any number of one class of code points
  // ("^data:image/(png|jpeg);base64,[0-9a-zA-Z+/=]*$", "^[a-z][a-z0-9_]*$", "^ab" which ends in
  // any code point), with a length bound beyond kChunkedAbove: for each length ℓ of the prefix, the
  // prefix's strings of that length, then a chunk chain of the class for the lengths still allowed.
  // Exact (the prefix's length fixes where the chain starts), and the automata stay the size of
  // the prefix and one chunk instead of the pattern's states × the bound. nullptr for other patterns.
  GExprPtr chunked_pattern(const RegexPtr& core, uint64_t lo, uint64_t hi) {
    const std::vector<RegexPtr> whole{core};
    const std::vector<RegexPtr>& items = core->kind == Regex::Kind::kConcat ? core->items : whole;
    const Regex& last = *items.back();
    if (last.kind != Regex::Kind::kRepeat || last.items[0]->kind != Regex::Kind::kChars) return nullptr;
    RegexPtr prefix = Regex::concat(std::vector<RegexPtr>(items.begin(), items.end() - 1));
    const std::optional<std::set<uint64_t>> lengths = finite_lengths(*prefix);
    if (!lengths) return nullptr;
    std::vector<GExprPtr> alts;
    for (uint64_t l : *lengths) {
      if (hi != UINT64_MAX && l > hi) continue;
      const uint64_t a = std::max<uint64_t>(last.min, lo > l ? lo - l : 0);
      uint64_t b = hi == UINT64_MAX ? UINT64_MAX : hi - l;
      if (last.max != kUnbounded) b = std::min<uint64_t>(b, last.max);
      if (a > b || a > kMaxChunkedLength) continue;
      RegexPtr head = lengths->size() == 1 ? prefix
                                            : Regex::intersect({prefix, Regex::repeat(Regex::chars_of(CharSet::any()),
                                                                                      static_cast<uint32_t>(l),
                                                                                      static_cast<uint32_t>(l))});
      alts.push_back(GExpr::seq({lit("\""), leaf(Regex::json_string(head)), ref(chunk_chain(last.items[0]->chars, a, b))}));
    }
    if (alts.empty()) return GExpr::leaf(Regex::nothing());
    return alts.size() == 1 ? alts[0] : GExpr::alt(std::move(alts));
  }

  GExprPtr string_value(const Shape& s, const std::string& ptr) {
    if (regex_format_only(s)) {
      warn_regex_subset(s.formats[0].second);
      return ref(regex_format_rule());
    }
    // length bounds that a chunk chain counts: one beyond kChunkedAbove, none beyond kMaxChunkedLength
    // (or a single pattern that ends in a long count of a class with a large automaton)
    const bool chunkable = s.formats.empty() && s.string_negs.empty() && s.min_length <= s.max_length &&
                           s.min_length <= kMaxChunkedLength &&
                           (s.max_length == UINT64_MAX || s.max_length <= kMaxChunkedLength);
    const bool long_bound =
        s.min_length > kChunkedAbove || (s.max_length != UINT64_MAX && s.max_length > kChunkedAbove);
    if (chunkable && long_bound && s.patterns.empty()) return chunked_string(s.min_length, s.max_length);
    if (chunkable && s.patterns.size() == 1) {
      RegexPtr pattern;
      try {
        pattern = ecma_pattern_regex(s.patterns[0].first, RegexOptions::Dialects::kBoth);
      } catch (const Error&) {
      }
      if (pattern && (long_bound || heavy_count(*pattern))) {
        const StringKey key{StringKey::kChunkedPattern, pattern, s.min_length, s.max_length};
        if (auto it = string_rules_.find(key); it != string_rules_.end()) return ref(it->second);
        if (GExprPtr value = chunked_pattern(pattern, s.min_length, s.max_length)) {
          int r = new_rule("str");
          g_.rules[r].structural = true;
          g_.rules[r].body = value;
          string_rules_[key] = r;
          return ref(r);
        }
      }
    }
    RegexPtr core = string_core(s, ptr, false);
    if (!core) return ref(any_string_rule());
    GExprPtr value = GExpr::seq({lit("\""), leaf(Regex::json_string(core)), lit("\"")});
    // A string whose automaton is large (a long length bound, a pattern, a format) is a lexeme of its
    // own, one per distinct language: merged into each property's key lexeme, every property would
    // build (and index) its own copy of the automaton.
    bool large = s.max_length > 64 && s.max_length != UINT64_MAX;
    if (!large && s.patterns.empty() && s.formats.empty()) return value;
    const StringKey key{StringKey::kCore, core};
    auto it = string_rules_.find(key);
    if (it != string_rules_.end()) return ref(it->second);
    int r = new_rule("str");
    g_.rules[r].structural = true;
    g_.rules[r].body = value;
    string_rules_[key] = r;
    return ref(r);
  }

  // Keys recur across objects (FHIR's "id", "extension", "text" in every resource): one expression each,
  // and one regex each (the key sets that additionalProperties and propertyNames exclude are then made of
  // the same nodes, so the CFG build tells equal lexemes apart by pointer, not by walking them).
  RegexPtr key_regex(const std::string& name) {
    RegexPtr& r = key_regexes_[name];
    if (!r) r = Regex::literal(name);
    return r;
  }
  GExprPtr key_literal(const std::string& name) {
    GExprPtr& k = key_literals_[name];
    if (!k) k = GExpr::seq({lit("\""), leaf(Regex::json_string(key_regex(name))), lit("\"")});
    return k;
  }

  // ---------------------------------------------------------------- uniqueItems plan
  // Which arrays must hold distinct items is decided by their path from the root (property names,
  // other keys, array indexes): the plan (grammar/unique_items.hpp) is an automaton over those steps
  // whose states are the alternatives a value there may satisfy (its conjunction with anyOf / oneOf /
  // if-then-else distributed, as generate() does), explored only where some alternative still reaches
  // a uniqueItems. A uniqueItems is exact (enforced by the back-end's tracker) when at every state where
  // it is met it belongs to the only alternative there that admits arrays, without prefixItems or
  // contains, over items whose partial values the tracker can judge (see UniquePlan::Items); it is
  // refused (relaxed under lenient) with the reason otherwise.
  static constexpr size_t kMaxUniqueAlts = 64;
  static constexpr size_t kMaxUniqueStates = 4096;
  std::set<std::string> unique_exact_;                     // uniqueItems pointers the plan enforces
  std::map<std::string, std::string> unique_refused_;      // pointer → why not
  std::string unique_all_refused_;                         // set when the plan gave up as a whole
  bool embedded_ = false;
  std::unordered_set<const Json*> unique_hot_, unique_known_;
  // Run-time key tracking (property_order 'any', a schema compiled on its own): where every object
  // a path may hold requires the same kMinTrackedKeys or more keys, the plan lists them and the
  // back-end's tracker refuses the '}' that would close the object without them; the grammar of
  // such an object then takes its members in any order and counts only the required keys the
  // tracker does not enforce (its rules double with each one counted). An object's shape is known
  // by the `required` arrays it was flattened from; tracked_keys_ gives, for each, the keys the
  // tracker enforces at every path where the plan met it (an intersection; a key enforced at one
  // path and not another is left to the grammar).
  static constexpr size_t kMinTrackedKeys = 4;
  // The alternatives the plan may weigh when it tracks keys (the largest plan of maskbench-dev's
  // schemas weighs 3,483; one that fails may weigh a million before it meets a limit).
  static constexpr size_t kMaxKeyPlanWork = 4096;
  size_t plan_work_ = 0;
  bool track_keys_ = false;
  std::unordered_set<const Json*> key_hot_;
  std::map<std::vector<const Json*>, std::set<std::string>> tracked_keys_;
  static void intersect_into(std::set<std::string>& a, const std::set<std::string>& b) {
    std::set<std::string> both;
    std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::inserter(both, both.end()));
    a = std::move(both);
  }
  static std::vector<const Json*> required_id(const Shape& s) {
    std::vector<const Json*> id = s.required_srcs;
    std::sort(id.begin(), id.end());
    id.erase(std::unique(id.begin(), id.end()), id.end());
    return id;
  }
  // The required keys of object shape `s` that the tracker enforces wherever the grammar writes it.
  // Not beside an item separator that does not begin with ',' (the tracker's check that a ',' can still
  // come, where the layout commits to the '}' early, reads JSON's ',').
  std::set<std::string> tracked_keys(const Shape& s) const {
    if (!track_keys_ || s.required.size() < kMinTrackedKeys) return {};
    if (!opt_.item_separator.empty() && opt_.item_separator[0] != ',') return {};
    auto it = tracked_keys_.find(required_id(s));
    if (it == tracked_keys_.end()) return {};
    if (!std::includes(s.required.begin(), s.required.end(), it->second.begin(), it->second.end())) return {};
    return it->second;
  }

  struct UAlt {
    Shape s;
    std::vector<std::string> key;  // the nodes and branches it was built from
    std::vector<const Json*> nodes;
  };

  // Whether some object can be required to hold `n` or more keys. Flattening joins the schemas of
  // one value only through in-place applicators (allOf, anyOf, oneOf, not, if / then / else,
  // dependentSchemas, the schemas of `dependencies`) and references; properties, items and the
  // other child keywords describe other values. So the schema nodes fall into groups that may
  // describe one value together (a union-find over those links), and no object alternative requires
  // more names than its group's `required` lists, dependentRequired and array `dependencies` (each
  // trigger and the keys it asks for) hold. True where unsure: a dynamic reference, a reference that
  // does not resolve, an object inside a const or enum (its complement requires its keys).
  // 73 % of maskbench-dev's schemas require fewer than kMinTrackedKeys names in every group: their
  // key plan, a walk of every alternative that ends with nothing to track, is not made.
  bool some_object_may_require(size_t n) {
    std::unordered_map<const Json*, const Json*> up;  // union-find: a node to its parent
    auto root = [&up](const Json* x) {
      for (auto it = up.find(x); it != up.end() && it->second != x; it = up.find(x)) {
        auto jt = up.find(it->second);
        if (jt != up.end()) it->second = jt->second;  // path halving
        x = it->second;
      }
      return x;
    };
    auto link = [&](const Json* a, const Json* b) {
      a = root(a);
      b = root(b);
      if (a != b) up[a] = b;
    };
    auto holds_object = [](const Json& v) {
      std::vector<const Json*> st{&v};
      while (!st.empty()) {
        const Json* x = st.back();
        st.pop_back();
        if (x->is_object()) return true;
        if (x->is_array())
          for (const auto& c : *x) st.push_back(&c);
      }
      return false;
    };
    std::vector<std::pair<const Json*, const std::string*>> names;  // (node, a key it may require)
    std::unordered_set<const Json*> seen;
    std::vector<const Json*> stack{&doc_};
    auto other_value = [&](const Json& v) {  // a schema of another value
      if (v.is_structured()) stack.push_back(&v);
    };
    auto same_value = [&](const Json& v, const Json* x) {  // a schema of the same value as x
      if (!v.is_structured()) return;
      stack.push_back(&v);
      link(&v, x);
    };
    while (!stack.empty()) {
      const Json* x = stack.back();
      stack.pop_back();
      if (!x->is_object() || !seen.insert(x).second) continue;
      for (auto it = x->begin(); it != x->end(); ++it) {
        const std::string& kw = it.key();
        const Json& v = it.value();
        if (kw == "properties" || kw == "patternProperties" || kw == "$defs" || kw == "definitions") {
          if (v.is_object())
            for (const auto& c : v) other_value(c);
        } else if (kw == "additionalProperties" || kw == "unevaluatedProperties" || kw == "items" ||
                   kw == "prefixItems" || kw == "additionalItems" || kw == "unevaluatedItems" || kw == "contains" ||
                   kw == "propertyNames") {
          if (v.is_array())
            for (const auto& c : v) other_value(c);
          else other_value(v);
        } else if (kw == "required") {
          if (v.is_array())
            for (const auto& s : v)
              if (s.is_string()) names.emplace_back(x, &s.get_ref<const std::string&>());
        } else if (kw == "dependentRequired" || kw == "dependentSchemas" || kw == "dependencies") {
          if (!v.is_object()) continue;
          for (auto d = v.begin(); d != v.end(); ++d) {
            if (d.value().is_array()) {
              names.emplace_back(x, &d.key());
              for (const auto& s : d.value())
                if (s.is_string()) names.emplace_back(x, &s.get_ref<const std::string&>());
            } else {
              same_value(d.value(), x);
            }
          }
        } else if (kw == "const" || kw == "enum") {
          if (holds_object(v)) return true;
        } else if (kw == "$ref") {
          if (!v.is_string()) continue;
          try {
            const Json* target = resolve_ref(x, v.get<std::string>(), ptr_of(x));
            if (!target) return true;
            stack.push_back(target);
            link(target, x);
          } catch (const Error&) {
            return true;
          }
        } else if (kw == "$dynamicRef" || kw == "$recursiveRef") {
          return true;
        } else if (kw == "examples" || kw == "default") {
          continue;  // values, not schemas
        } else if (v.is_array()) {  // allOf, anyOf, oneOf; unknown keywords alike (linking more is safe)
          for (const auto& c : v) same_value(c, x);
        } else {  // not, if, then, else
          same_value(v, x);
        }
      }
    }
    std::unordered_map<const Json*, std::unordered_set<std::string_view>> group_names;
    for (const auto& [node, name] : names) {
      auto& g = group_names[root(node)];
      g.insert(*name);
      if (g.size() >= n) return true;
    }
    return false;
  }

  // Nodes from which a uniqueItems: true (and, when keys are tracked, a `required`) is reachable
  // (through sub-schemas and $refs): reverse searches from those nodes. False when the document has
  // neither.
  bool unique_seed_hot() {
    // The seeds first: a uniqueItems (in any order, a required list), or a dynamic reference,
    // counted as reaching one.
    std::vector<const Json*> seeds, key_seeds, stack{&doc_};
    while (!stack.empty()) {
      const Json* n = stack.back();
      stack.pop_back();
      if (n->is_object()) {
        if (auto u = n->find("uniqueItems"); u != n->end() && u->is_boolean() && u->get<bool>()) seeds.push_back(n);
        if (track_keys_)
          if (auto r = n->find("required"); r != n->end() && r->is_array() && !r->empty()) key_seeds.push_back(n);
        for (const char* k : {"$dynamicRef", "$recursiveRef"})
          if (auto r = n->find(k); r != n->end() && r->is_string()) {
            seeds.push_back(n);  // dynamic: any anchor
            key_seeds.push_back(n);
          }
      }
      if (n->is_structured())
        for (const auto& c : *n) stack.push_back(&c);
    }
    auto real = [](const std::vector<const Json*>& from, const char* keyword) {
      return std::any_of(from.begin(), from.end(), [&](const Json* s) { return s->contains(keyword); });
    };
    const bool u = real(seeds, "uniqueItems"),
               k = track_keys_ && real(key_seeds, "required") && some_object_may_require(kMinTrackedKeys);
    // Most schemas have neither: the reverse edges below (a vector per node) are then not built,
    // which were 5 % of a 160 KB Kubernetes schema's compile for nothing.
    if (!u && !k) return false;
    // The reverse edges: each node to its parent and to the nodes whose $ref names it.
    std::unordered_map<const Json*, std::vector<const Json*>> rev;
    stack.assign(1, &doc_);
    while (!stack.empty()) {
      const Json* n = stack.back();
      stack.pop_back();
      unique_known_.insert(n);
      if (n->is_object())
        if (auto r = n->find("$ref"); r != n->end() && r->is_string()) {
          try {
            rev[resolve_ref(n, r->get<std::string>(), ptr_of(n))].push_back(n);
          } catch (const Error&) {
          }
        }
      if (n->is_structured())
        for (const auto& c : *n) {
          rev[&c].push_back(n);
          stack.push_back(&c);
        }
    }
    auto spread = [&](std::vector<const Json*> from, std::unordered_set<const Json*>& hot) {
      while (!from.empty()) {
        const Json* n = from.back();
        from.pop_back();
        if (!hot.insert(n).second) continue;
        if (auto it = rev.find(n); it != rev.end())
          for (const Json* p : it->second) from.push_back(p);
      }
    };
    if (u) spread(std::move(seeds), unique_hot_);
    if (k) spread(std::move(key_seeds), key_hot_);
    return true;
  }
  bool unique_hot(const Json* n) { return hot_in(unique_hot_, "uniqueItems", n); }
  bool key_hot(const Json* n) { return track_keys_ && hot_in(key_hot_, "required", n); }
  bool hot_in(const std::unordered_set<const Json*>& hot, const char* keyword, const Json* n) {
    if (hot.count(n)) return true;
    if (unique_known_.count(n)) return false;
    // a node made while flattening (dependencies): its subtree
    std::vector<const Json*> stack{n};
    while (!stack.empty()) {
      const Json* x = stack.back();
      stack.pop_back();
      if (hot.count(x)) return true;
      if (x->is_object()) {
        if (x->contains(keyword)) return true;
        if (auto r = x->find("$ref"); r != x->end() && r->is_string()) {
          try {
            if (hot.count(resolve_ref(x, r->get<std::string>(), ptr_of(x)))) return true;
          } catch (const Error&) {
          }
        }
      }
      if (x->is_structured())
        for (const auto& c : *x) stack.push_back(&c);
    }
    return false;
  }
  bool unique_hot(const std::vector<UAlt>& alts) {
    for (const auto& a : alts)
      for (const Json* n : a.nodes)
        if (unique_hot(n)) return true;
    return false;
  }
  // Some alternative reaches a uniqueItems or a tracked `required`: the plan follows the path.
  bool plan_hot(const std::vector<UAlt>& alts) {
    for (const auto& a : alts)
      for (const Json* n : a.nodes)
        if (unique_hot(n) || key_hot(n)) return true;
    return false;
  }
  static std::string node_key(const Json* n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "n:%llx", static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(n)));
    return buf;
  }

  // The alternatives of a conjunction; false when there are more than kMaxUniqueAlts.
  bool unique_alts(const Conj& c0, std::vector<UAlt>& out) {
    Conj c = c0;
    for (auto& n : c) n = through_refs(n);
    c = normalise(std::move(c));
    std::vector<UAlt> work(1);
    work[0].s = flatten(c);
    for (const Json* n : c) work[0].key.push_back(node_key(n));
    work[0].nodes = c;
    while (!work.empty()) {
      UAlt x = std::move(work.back());
      work.pop_back();
      if (x.s.never) continue;
      auto add = [&](const Conj& b, const std::string& tag) {
        UAlt y = x;
        for (const Json* n : b) {
          flatten_into(y.s, n);
          y.key.push_back(node_key(n));
          y.nodes.push_back(n);
        }
        y.key.push_back(tag);
        work.push_back(std::move(y));
      };
      if (!x.s.any_of.empty() || !x.s.one_of.empty()) {
        bool one = x.s.any_of.empty();
        auto& list = one ? x.s.one_of : x.s.any_of;  // in generate()'s order
        auto [branches, p] = list.front();
        list.erase(list.begin());
        for (size_t i = 0; i < branches.size(); ++i) add(branches[i], "b:" + p + "/" + std::to_string(i));
      } else if (!x.s.conditionals.empty()) {
        auto cnd = x.s.conditionals.front();
        x.s.conditionals.erase(x.s.conditionals.begin());
        add(join(cnd.cond, cnd.then_), "t:" + cnd.ptr);
        add(cnd.else_, "e:" + cnd.ptr);
      } else {
        std::sort(x.key.begin(), x.key.end());
        x.key.erase(std::unique(x.key.begin(), x.key.end()), x.key.end());
        out.push_back(std::move(x));
      }
      if (out.size() + work.size() > kMaxUniqueAlts) return false;
      // with keys tracked the plan follows most of the schema: bounded, as it only saves rules
      if (++plan_work_ > kMaxKeyPlanWork && track_keys_)
        throw Error(ErrorKind::kLimit, "key tracking plan past " + std::to_string(kMaxKeyPlanWork) + " alternatives");
    }
    return true;
  }

  static bool admits(const Shape& s, unsigned type) {
    if (s.never || !(s.types & type)) return false;
    if (!s.has_enum) return true;
    for (const auto& v : s.enum_values)
      if (value_type(v) & type) return true;
    return false;
  }

  // How the tracker can judge the items of unique array `u` (per prefix index, then the rest);
  // "" when it can, else why not.
  std::string unique_items_shape(const Shape& u, grammar::UniquePlan::State& st) {
    using Items = grammar::UniquePlan::Items;
    if (!u.contains.empty() || !u.contains_shapes.empty()) return "uniqueItems together with contains is not enforced";
    size_t np = u.prefix.size();
    for (const auto& [start, c] : u.items_from) np = std::max(np, start);
    for (size_t i = 0; i <= np; ++i) {
      Conj c;
      if (i < u.prefix.size()) c = u.prefix[i];
      for (const auto& [start, ic] : u.items_from)
        if (start <= i) c = join(c, ic);
      grammar::UniquePlan::ItemShape shape;
      if (u.items_false_from == SIZE_MAX || i < u.items_false_from) {  // (else no item there)
        std::string why = item_shape(c, shape);
        if (!why.empty()) return why;
      }
      if (i < np) st.shapes.push_back(std::move(shape));
      else st.tail = std::move(shape);
    }
    // only the item being written may run out of values: no later item is required where values are finite
    const uint64_t lo = u.min_items;
    for (uint64_t i = 0; i < lo && i <= np; ++i)
      for (uint64_t j = i + 1; j < lo && st.shape(i).items == Items::kListed; ++j)
        if (st.shape(j).items == Items::kListed)
          return "unique items from a finite set that minItems requires more of are not enforced";
    return "";
  }
  // The shape of an item of conjunction `c` (see UniquePlan::Items); "" when the tracker can judge it.
  std::string item_shape(const Conj& c, grammar::UniquePlan::ItemShape& shape) {
    using Items = grammar::UniquePlan::Items;
    std::vector<UAlt> ia;
    if (!unique_alts(c, ia) || ia.size() > 1)
      return "unique items under anyOf / oneOf / if are not enforced";
    shape.items = Items::kOpen;
    if (ia.empty()) return "";  // no item is possible
    const Shape& t = ia[0].s;
    if (t.has_enum) {
      for (const auto& v : t.enum_values) {
        if (!(value_type(v) & t.types)) continue;
        if (v.is_string()) shape.listed_strings.push_back(v.get<std::string>());
        else if (v.is_boolean()) (v.get<bool>() ? shape.listed_true : shape.listed_false) = true;
        else if (v.is_null()) shape.listed_null = true;
        else return "unique items from an enum of numbers, objects or arrays are not enforced";
      }
      std::sort(shape.listed_strings.begin(), shape.listed_strings.end());
      shape.items = Items::kListed;
      return "";
    }
    if (is_trivial(t)) return "";  // any JSON value: free strings, objects and arrays, numbers, literals
    // a complement can leave a partial item finitely many completions ("a" only, of strings not
    // matching ^a.+): not judged
    if (!t.nots.empty() || !t.unexpressible.empty() || !t.excluded_values.empty() || !t.string_negs.empty() ||
        !t.number_negs.empty() || t.string_negated || t.number_negated || !t.prop_shapes.empty())
      return "unique items under not (or the else of an if) are not enforced";
    unsigned ty = t.types;
    if ((ty & (kIntT | kFracT)) && (!t.minimums.empty() || !t.maximums.empty() || !t.multiple_ofs.empty()))
      return "unique number items with bounds or multipleOf are not enforced (only free numbers)";
    if ((ty & kArrT) && (has_array_constraints(t) || !t.items_from.empty()))
      return "unique items that may be arrays with a schema are not enforced";
    if ((ty & kStrT) && (!t.patterns.empty() || !t.formats.empty() || t.max_length != UINT64_MAX))
      return "unique string items with a pattern, format or maxLength are not enforced (only free strings)";
    if ((ty & kObjT) && (!t.closeds.empty() || !t.additional.empty() || t.additional_false || !t.pattern_props.empty() ||
                         !t.property_names.empty() || t.max_props != UINT64_MAX || !t.forbidden.empty() ||
                         !t.key_outside.empty() || !t.witnesses.empty()))
      return "unique object items that may be closed (additionalProperties, patternProperties, maxProperties, "
             "propertyNames) are not enforced (only objects open to any other key)";
    if (!(ty & (kStrT | kObjT | kIntT | kFracT | kArrT))) {
      // booleans and null only: a finite set
      shape.items = Items::kListed;
      shape.listed_true = shape.listed_false = (ty & kBoolT) != 0;
      shape.listed_null = (ty & kNullT) != 0;
    }
    return "";
  }

  void build_unique_plan() {
    if (!unique_seed_hot()) return;
    auto plan = std::make_shared<grammar::UniquePlan>();
    plan->states.resize(1);  // 0: free
    std::map<std::vector<std::string>, uint32_t> ids;
    std::deque<std::pair<uint32_t, std::vector<UAlt>>> work;
    auto state_of = [&](std::vector<UAlt> alts) -> uint32_t {
      if (!plan_hot(alts)) return 0;
      std::vector<std::string> key;
      for (const auto& a : alts) {
        std::string k;
        for (const auto& p : a.key) k += p + ";";
        key.push_back(std::move(k));
      }
      std::sort(key.begin(), key.end());
      auto [it, fresh] = ids.emplace(std::move(key), static_cast<uint32_t>(plan->states.size()));
      if (fresh) {
        if (plan->states.size() >= kMaxUniqueStates)
          throw Error(ErrorKind::kLimit, "more than " + std::to_string(kMaxUniqueStates) + " paths to uniqueItems");
        plan->states.emplace_back();
        work.emplace_back(it->second, std::move(alts));
      }
      return it->second;
    };
    auto gather = [&](std::vector<UAlt>& into, const Conj& c) {
      if (!unique_alts(c, into)) throw Error(ErrorKind::kLimit, "more than " + std::to_string(kMaxUniqueAlts) + " alternatives on one value");
    };
    std::vector<UAlt> root;
    gather(root, {&doc_});
    state_of(std::move(root));
    while (!work.empty()) {
      auto [id, alts] = std::move(work.front());
      work.pop_front();
      grammar::UniquePlan::State st;
      // the array here
      std::vector<const Shape*> arrays, uniques;
      for (const auto& a : alts)
        if (admits(a.s, kArrT)) {
          arrays.push_back(&a.s);
          if (a.s.unique_items && a.s.max_items > 1) uniques.push_back(&a.s);
        }
      if (!uniques.empty()) {
        // every alternative that admits arrays must be unique too (or hold at most one item), with
        // items of one shape (the tracker judges them alike)
        std::string why;
        auto same = [](const grammar::UniquePlan::State& a, const grammar::UniquePlan::State& b) {
          return a.shapes == b.shapes && a.tail == b.tail;
        };
        auto listed = [](const grammar::UniquePlan::State& a) {
          bool any = a.tail.items == grammar::UniquePlan::Items::kListed;
          for (const auto& sh : a.shapes) any = any || sh.items == grammar::UniquePlan::Items::kListed;
          return any;
        };
        why = unique_items_shape(*uniques[0], st);
        for (const Shape* a : arrays) {
          if (!why.empty()) break;
          bool u = a->unique_items && a->max_items > 1;
          if (!u && a->max_items > 1) {
            why = "whether an array here must hold distinct items depends on which of several alternatives (anyOf / "
                  "oneOf / if, or whether a contains matches it) it matches";
            break;
          }
          grammar::UniquePlan::State other;
          std::string w = unique_items_shape(*a, other);
          if (u && !w.empty()) why = w;
          else if ((u || listed(st)) && (!w.empty() || !same(st, other)))
            why = "unique arrays here under alternatives (anyOf / oneOf / if) whose items differ are not enforced";
        }
        for (const Shape* u : uniques) {
          if (why.empty()) unique_exact_.insert(u->unique_ptr);
          else unique_refused_.emplace(u->unique_ptr, why);
        }
        st.unique = why.empty();
      }
      // members
      std::set<std::string> names;
      bool objects = false;
      for (const auto& a : alts)
        if (admits(a.s, kObjT)) {
          objects = true;
          for (const auto& [k, c] : a.s.props) names.insert(k);
        }
      if (objects && track_keys_) {
        // the keys every object here requires; each object alternative's tracked keys narrowed to them
        std::optional<std::set<std::string>> common;
        for (const auto& a : alts) {
          if (!admits(a.s, kObjT)) continue;
          if (!common) {
            common = a.s.required;
            continue;
          }
          intersect_into(*common, a.s.required);
        }
        if (common->size() < kMinTrackedKeys) common->clear();
        st.required.assign(common->begin(), common->end());
        for (const auto& a : alts) {
          if (!admits(a.s, kObjT)) continue;
          auto [it, fresh] = tracked_keys_.emplace(required_id(a.s), *common);
          if (!fresh) intersect_into(it->second, *common);
        }
      }
      if (objects) {
        for (const auto& k : names) {
          std::vector<UAlt> child;
          for (const auto& a : alts) {
            if (!admits(a.s, kObjT)) continue;
            Conj c;
            if (member_schemas(a.s, k, ptr_of(&doc_), c)) gather(child, c);
          }
          st.keys[k] = state_of(std::move(child));
        }
        // any other key: its schemas must not depend on the key where they reach a uniqueItems
        std::vector<UAlt> other;
        bool keyed = false;  // some alternative's patternProperties decide by the key
        for (const auto& a : alts) {
          if (!admits(a.s, kObjT)) continue;
          Conj c;
          bool allowed = apply_closeds(a.s, nullptr, {}, c);
          if (a.s.pattern_props.empty()) {
            if (allowed) gather(other, c);
            continue;
          }
          // one pattern and no other key allowed: every other key matches it
          bool closed = false;
          for (const auto& cl : a.s.closeds) closed = closed || cl.is_false;
          std::set<std::string> matched{a.s.pattern_props[0].first};
          Conj only;
          if (a.s.pattern_props.size() == 1 && closed && !allowed && apply_closeds(a.s, nullptr, matched, only)) {
            gather(other, join(only, a.s.pattern_props[0].second));
            continue;
          }
          keyed = true;
          if (allowed) gather(other, c);
          for (const auto& [pat, pc] : a.s.pattern_props) gather(other, pc);
        }
        if (keyed && unique_hot(other))
          throw Error(ErrorKind::kUnsupported, "a uniqueItems under patternProperties whose key decides it");
        st.other_keys = state_of(std::move(other));
      }
      // items
      size_t np = 0;
      for (const auto& a : alts)
        if (admits(a.s, kArrT)) {
          np = std::max(np, a.s.prefix.size());
          for (const auto& [start, c] : a.s.items_from) np = std::max(np, start);
        }
      for (size_t i = 0; i <= np; ++i) {
        std::vector<UAlt> child;
        for (const auto& a : alts) {
          if (!admits(a.s, kArrT)) continue;
          if (a.s.items_false_from != SIZE_MAX && i >= a.s.items_false_from) continue;
          Conj c;
          if (i < a.s.prefix.size()) c = a.s.prefix[i];
          for (const auto& [start, ic] : a.s.items_from)
            if (start <= i) c = join(c, ic);
          gather(child, c);
          // an item may also be the one a `contains` matches (generated as items ∧ contains)
          for (const auto& [cc, cp] : a.s.contains) gather(child, join(c, cc));
        }
        uint32_t s = state_of(std::move(child));
        if (i < np) st.index.push_back(s);
        else st.items_state = s;
      }
      plan->states[id] = std::move(st);
    }
    bool keys = false;
    for (const auto& st : plan->states) keys = keys || !st.required.empty();
    if (!keys) tracked_keys_.clear();
    plan->keys = keys;
    plan->layout_commits = pretty() || !opt_.item_separator.empty();
    if (unique_exact_.empty() && !keys) return;
    g_.unique_items = std::move(plan);
  }
  std::string unique_refusal(const std::string& ptr) const {
    if (embedded_) return "item uniqueness is not enforced in a schema embedded in a larger grammar";
    if (!unique_all_refused_.empty()) return unique_all_refused_;
    auto it = unique_refused_.find(ptr);
    if (it != unique_refused_.end()) return it->second;
    return "item uniqueness is not enforced here (under not, if, contains or a complement)";
  }

  // ---------------------------------------------------------------- arrays
  GExprPtr array_value(const Shape& s, const std::string& ptr) {
    if (s.unique_items) {
      bool trivial = s.max_items <= 1;
      if (!trivial && (!unique_all_refused_.empty() || !unique_exact_.count(s.unique_ptr) ||
                       unique_refused_.count(s.unique_ptr)))
        relax(s.unique_ptr, "uniqueItems", unique_refusal(s.unique_ptr));
    }
    uint64_t lo = s.min_items, hi = s.max_items;
    // positions with their own constraints: the prefix, and the indexes before the last start of
    // an items keyword; `tail` applies to every later index
    size_t np = s.prefix.size();
    for (const auto& [st, c] : s.items_from) np = std::max(np, st);
    if (s.items_false_from != SIZE_MAX) {
      np = std::max(np, s.items_false_from);
      hi = std::min<uint64_t>(hi, s.items_false_from);
    }
    std::vector<Conj> positions(np);
    for (size_t i = 0; i < np; ++i) {
      if (i < s.prefix.size()) positions[i] = s.prefix[i];
      for (const auto& [st, c] : s.items_from)
        if (st <= i) positions[i] = join(positions[i], c);
    }
    Conj tail;
    for (const auto& [st, c] : s.items_from) tail = join(tail, c);
    if (lo > hi) return GExpr::leaf(Regex::nothing());
    constexpr uint64_t kMaxCounted = 2000;
    if (lo > kMaxCounted + np) fail(ptr, "minItems " + std::to_string(lo) + " is above the supported " + std::to_string(kMaxCounted));
    if (hi != UINT64_MAX && hi > kMaxCounted + np) {
      relax(ptr, "maxItems", "an item count above " + std::to_string(kMaxCounted) + " is not compiled");
      hi = UINT64_MAX;
    }
    // contains: at least min_contains items satisfy (items ∧ contains)
    Conj contains;
    // minContains 0 without maxContains: the one contains always holds
    const bool has_contains = !s.contains.empty() && !(s.contains.size() == 1 && s.min_contains == 0 &&
                                                       s.max_contains == UINT64_MAX);
    if (has_contains) {
      if (s.contains.size() > 1) relax(s.contains[1].second, "contains", "two 'contains' keywords");
      contains = s.contains[0].first;
      if (np > 0) relax(s.contains[0].second, "contains", "'contains' together with prefixItems");
    }
    if (has_contains && s.min_contains > 0) lo = std::max<uint64_t>(lo, 1);
    constexpr uint64_t kMaxContainsCounted = 256;
    if (has_contains && s.max_contains != UINT64_MAX && s.max_contains > kMaxContainsCounted)
      relax(s.max_contains_ptr, "maxContains",
            "a bound above " + std::to_string(kMaxContainsCounted) + " is not compiled");
    const bool counts_max = has_contains && s.max_contains <= kMaxContainsCounted;
    // the complement of `items` (from not / oneOf / if): some item fails them
    GExprPtr failing;
    if (!s.contains_shapes.empty()) {
      const auto& [cs, cp] = s.contains_shapes[0];
      if (s.contains_shapes.size() > 1 || has_contains || np > 0 || lo > 1 || hi != UINT64_MAX) {
        relax(cp, "items",
              "the complement of 'items' together with contains, prefixItems, item counts or another complement");
      } else {
        Shape x = flatten(tail);
        merge_shape(x, *cs);
        Deeper item_value(*this);
        failing = generate(std::move(x), cp);
        lo = std::max<uint64_t>(lo, 1);
      }
    }
    GExprPtr item = value_ref(tail);
    std::vector<GExprPtr> prefix;
    for (size_t i = 0; i < np; ++i) prefix.push_back(value_ref(positions[i]));
    // Sequences of n items for n in [lo, hi]: prefix items first, then `item`.
    std::vector<GExprPtr> alts;
    if (lo == 0) alts.push_back(GExpr::seq({lit("["), leaf(ws_), lit("]")}));
    if (hi == 0) return alts.empty() ? GExpr::leaf(Regex::nothing()) : alts[0];
    GExprPtr body;
    if (failing) {
      // item* failing item*, with separators
      body = GExpr::seq({GExpr::repeat(GExpr::seq({item, item_sep()}), 0, kUnbounded), failing,
                         GExpr::repeat(GExpr::seq({item_sep(), item}), 0, kUnbounded)});
    } else if (!contains.empty() && np == 0 && counts_max) {
      // between minContains and maxContains items c (tail ∧ contains), the others n (tail ∧ ¬contains):
      // n* (c n*){min,max}, with separators
      const uint64_t a = s.min_contains, b = s.max_contains;
      if (lo > std::max<uint64_t>(a, 1) || hi != UINT64_MAX)
        relax(s.contains[0].second, "contains", "'contains' together with item counts");
      if (b < a) return alts.empty() ? GExpr::leaf(Regex::nothing()) : alts[0];
      GExprPtr c = value_ref(join(tail, contains));
      Shape others = flatten(tail);
      others.nots.push_back({contains, s.contains[0].second});
      Deeper item_value(*this);
      GExprPtr n = generate(std::move(others), s.contains[0].second);
      GExprPtr only_n = GExpr::seq({n, GExpr::repeat(GExpr::seq({item_sep(), n}), 0, kUnbounded)});
      if (b == 0) {
        body = only_n;
      } else {
        GExprPtr block = GExpr::seq({c, GExpr::repeat(GExpr::seq({item_sep(), n}), 0, kUnbounded)});
        const auto more_lo = static_cast<uint32_t>(a > 0 ? a - 1 : 0), more_hi = static_cast<uint32_t>(b - 1);
        GExprPtr with_c = GExpr::seq({GExpr::repeat(GExpr::seq({n, item_sep()}), 0, kUnbounded), block,
                                      GExpr::repeat(GExpr::seq({item_sep(), block}), more_lo, more_hi)});
        body = a == 0 ? GExpr::alt({only_n, with_c}) : with_c;
      }
    } else if (!contains.empty() && np == 0) {
      GExprPtr c = value_ref(join(tail, contains));
      uint64_t k = std::max<uint64_t>(s.min_contains, 1);
      if (s.min_contains == 0) {
        // minContains 0: contains is always satisfied
        body = counted_list(item, std::max<uint64_t>(lo, 1), hi);
      } else {
        if (lo > k || hi != UINT64_MAX) relax(s.contains[0].second, "contains", "'contains' together with item counts");
        // item* c (item* c){k-1} item*, with separators
        GExprPtr star = GExpr::repeat(GExpr::seq({item, item_sep()}), 0, kUnbounded);
        std::vector<GExprPtr> seq{star, c};
        for (uint64_t i = 1; i < k; ++i) {
          seq.push_back(item_sep());
          seq.push_back(star);
          seq.push_back(c);
        }
        seq.push_back(GExpr::repeat(GExpr::seq({item_sep(), item}), 0, kUnbounded));
        body = GExpr::seq(std::move(seq));
      }
    } else {
      // prefix part: items 1..np, each optional from position max(lo,1) on
      uint64_t first_min = std::max<uint64_t>(lo, 1);
      if (np == 0) {
        body = counted_list(item, first_min, hi);
      } else {
        // p0 (sep p1 (sep p2 ( ... (sep item)* )?)?)?
        uint64_t rest_hi = hi == UINT64_MAX ? UINT64_MAX : (hi > np ? hi - np : 0);
        uint64_t rest_lo = lo > np ? lo - np : 0;
        GExprPtr tail;
        if (rest_hi == 0) {
          tail = GExpr::empty();
        } else {
          GExprPtr more = GExpr::seq({item_sep(), item});
          tail = GExpr::repeat(more, static_cast<uint32_t>(rest_lo),
                               rest_hi == UINT64_MAX ? kUnbounded : static_cast<uint32_t>(rest_hi));
        }
        GExprPtr cur = tail;
        size_t last = static_cast<size_t>(std::min<uint64_t>(np, hi));
        for (size_t i = last; i-- > 0;) {
          GExprPtr withp = i == 0 ? GExpr::seq({prefix[0], cur}) : GExpr::seq({item_sep(), prefix[i], cur});
          bool optional = i + 1 > first_min && i != 0;  // items beyond the minimum may stop here
          if (i + 1 > lo && i != 0) optional = true;
          else optional = false;
          cur = optional ? GExpr::alt({GExpr::empty(), withp}) : withp;
        }
        body = cur;
      }
    }
    alts.push_back(GExpr::seq({lit("["), leaf(ws_), enclosed(body), leaf(ws_), lit("]")}));
    return GExpr::alt(std::move(alts));
  }

  // item (sep item){lo-1, hi-1}, lo >= 1
  GExprPtr counted_list(GExprPtr item, uint64_t lo, uint64_t hi) {
    GExprPtr more = GExpr::seq({item_sep(), item});
    uint32_t mlo = static_cast<uint32_t>(lo - 1);
    uint32_t mhi = hi == UINT64_MAX ? kUnbounded : static_cast<uint32_t>(hi - 1);
    return GExpr::seq({item, GExpr::repeat(more, mlo, mhi)});
  }

  // ---------------------------------------------------------------- objects
  // The closed-object keywords (additionalProperties / unevaluatedProperties) that apply to a key matching
  // exactly the patterns in `matched` (by their text), named (`name`) or not, joined into c; false when
  // one of them forbids the key.
  static bool apply_closeds(const Shape& s, const std::string* name, const std::set<std::string>& matched, Conj& c) {
    for (const auto& cl : s.closeds) {
      bool local = name && cl.names.count(*name);
      for (const auto& pt : cl.patterns) local = local || pt.empty() || matched.count(pt);
      if (local) continue;
      if (cl.is_false) return false;
      c = join(c, cl.schema);
    }
    return true;
  }
  // The schemas of a member named `key`: its property, the patternProperties its name matches and the
  // closed-object keywords that apply to it, joined into c; false when the key is forbidden.
  bool member_schemas(const Shape& s, const std::string& key, const std::string& ptr, Conj& c) {
    if (auto p = s.props.find(key); p != s.props.end()) c = p->second;
    std::set<std::string> matched;
    for (const auto& [pat, pc] : s.pattern_props)
      if (pattern_matches_name(pat, key, ptr)) {
        c = join(c, pc);
        matched.insert(pat);
      }
    return apply_closeds(s, &key, matched, c);
  }

  GExprPtr object_value(const Shape& s, const std::string& ptr) {
    // properties that may appear, in order
    std::vector<std::string> names;
    for (const auto& n : s.prop_order)
      if (!s.forbidden.count(n)) names.push_back(n);
    for (const auto& r : s.required_order)
      if (!s.props.count(r) && !s.prop_shapes.count(r) && !s.forbidden.count(r)) names.push_back(r);
    for (const auto& r : s.required)
      if (s.forbidden.count(r)) return GExpr::leaf(Regex::nothing());
    // property name constraint (propertyNames)
    RegexPtr name_rx;
    bool names_are_patterns = false;
    if (!s.property_names.empty()) {
      Shape pn = flatten(s.property_names);
      if (regex_format_only(pn) && pn.any_of.empty() && pn.one_of.empty() && pn.nots.empty() &&
          pn.conditionals.empty()) {
        names_are_patterns = true;  // a context-free key (regex_format_rule), only where it is alone
        warn_regex_subset(pn.formats[0].second);
      } else {
        name_rx = key_language(pn, ptr_of(s.property_names[0]));
      }
    }
    // value of each named property; a property whose value is impossible or whose name fails
    // propertyNames cannot appear
    // witnesses (some entry with a key in a language and a value in a shape): at most kMaxWitnesses,
    // counted in the rules as a bit set; an entry may witness several at once
    const size_t nw = s.witnesses.size();
    if (nw > kMaxWitnesses) {
      relax(s.witnesses[kMaxWitnesses].ptr, "not",
            "more than " + std::to_string(kMaxWitnesses) + " entries that must fail what an object says of all its keys");
    }
    const unsigned all_witnessed = nw > kMaxWitnesses ? 0 : (1u << nw) - 1;
    // the value of an entry that witnesses the set `bits`: its own schema and each witness's value
    auto witnessed_value = [&](const Conj& c, const std::shared_ptr<Shape>& own, unsigned bits) -> GExprPtr {
      Shape sh = flatten(c);
      if (own) merge_shape(sh, *own);
      for (size_t w = 0; w < nw; ++w)
        if (((bits >> w) & 1) && s.witnesses[w].value) merge_shape(sh, *s.witnesses[w].value);
      Deeper member_value(*this);
      return generate(std::move(sh), ptr);
    };
    struct Member {
      std::string name;
      bool required;
      GExprPtr value;
      std::vector<std::pair<unsigned, GExprPtr>> witnessing;  // (witnesses it reads, its value then)
    };
    std::vector<Member> members;
    for (const auto& n : names) {
      bool req = s.required.count(n) > 0;
      Conj c;
      bool allowed = member_schemas(s, n, ptr, c);
      if (allowed && name_rx && !literal_in(name_rx, n)) allowed = false;
      if (allowed && names_are_patterns)
        relax(ptr + "/propertyNames", "format", "'regex' as propertyNames beside named properties");
      if (!allowed) {
        if (req) return GExpr::leaf(Regex::nothing());
        continue;
      }
      GExprPtr v;
      if (s.prop_shapes.count(n)) {
        // merged into the key's schemas even when there are none: a complement's string_negated /
        // number_negated becomes a constraint (string_negs / number_negs) only through merge_shape
        Shape sh = flatten(c);
        merge_shape(sh, *s.prop_shapes.at(n));
        Deeper member_value(*this);
        v = generate(std::move(sh), ptr);
        // A lexeme of its own, as value_ref's rules are (GRule::own_lexeme): merged into the key's,
        // a large value (an array of ten strings of at most 32: 4,963 states) made every member
        // lexeme an automaton that a boundary walk reaching the key's quote had to build whole.
        if (v->kind != GExpr::Kind::kRef) {
          const int r = new_rule("v");
          g_.rules[r].body = std::move(v);
          v = ref(r);
        }
      } else {
        v = value_ref(c);
      }
      members.push_back({n, req, v, {}});
      unsigned named = 0;  // the witnesses whose keys hold this name
      for (size_t w = 0; w < nw && all_witnessed; ++w)
        if (literal_in(s.witnesses[w].keys, n)) named |= 1u << w;
      for (unsigned bits = named; bits; bits = (bits - 1) & named) {
        auto own = s.prop_shapes.count(n) ? s.prop_shapes.at(n) : nullptr;
        members.back().witnessing.push_back({bits, witnessed_value(c, own, bits)});
      }
    }
    // additional entries: keys not named, in classes by the patterns they match (each class: the
    // parts of its keys' language, and the schemas of its values)
    std::vector<const std::string*> named_texts;
    for (const auto& n : s.prop_order) named_texts.push_back(&n);
    for (const auto& n : names) named_texts.push_back(&n);
    for (const auto& n : s.forbidden) named_texts.push_back(&n);
    std::vector<RegexPtr> named;
    for (const std::string* n : named_texts) named.push_back(key_regex(*n));
    const RegexPtr not_named = named.empty() ? nullptr : Regex::complement(Regex::alt(named));
    // Per class: its key language's parts, its values' schema, and the named keys it must leave out
    // (null: none can be its keys).
    struct ExtraClass {
      std::vector<RegexPtr> parts;
      Conj c;
      RegexPtr not_named;
    };
    std::vector<ExtraClass> extra_classes;
    {
      std::vector<RegexPtr> pats;
      for (const auto& [pat, pc] : s.pattern_props) {
        try {
          pats.push_back(ecma_pattern_regex(pat));
        } catch (const Error& e) {
          relax(ptr + "/patternProperties", "patternProperties", "'" + pat + "': " + e.message());
          pats.push_back(nullptr);
        }
      }
      // Keys fall in classes by the exact set of patterns they match. Only the sets whose patterns
      // can all match one key are classes: patterns that cannot overlap (decided on their DFAs)
      // never share one, so n literal-prefixed patterns make n + 1 classes, not 2^n.
      size_t np = s.pattern_props.size();
      // Two patterns whose keys cannot start alike (first code points disjoint, not both matching the
      // empty key) never meet: most pairs in practice ("^(title_…)$", "^(description_…)$"), decided
      // without their product DFA. Otherwise decided on the DFA, once per compile for a set of pattern
      // texts (the same sets recur: OCDS's language-tagged fields in a dozen definitions).
      std::vector<std::optional<std::pair<CharSet, bool>>> firsts(np);
      for (size_t i = 0; i < np; ++i) {
        CharSet first;
        bool nullable = false;
        if (pats[i] && first_code_points(*pats[i], first, nullable)) firsts[i] = std::make_pair(first, nullable);
      }
      // Whether pattern i may match the key `name`: false only where decided (its first code
      // points, then the membership test over its AST).
      std::vector<char> decidable(np, 0);
      for (size_t i = 0; i < np; ++i) decidable[i] = pats[i] && literal_decidable(*pats[i]);
      auto may_hold_literal = [&](size_t i, const std::string& name) {
        if (!decidable[i]) return true;
        if (firsts[i]) {
          if (name.empty()) return firsts[i]->second;
          char32_t cp = 0;
          if (fsm::decode_utf8(name, 0, cp) != 0 && !firsts[i]->first.contains(cp)) return false;
        }
        return literal_in(pats[i], name);
      };
      auto may_meet = [&](const std::vector<size_t>& which) {
        for (size_t a = 0; a < which.size(); ++a)
          for (size_t b = a + 1; b < which.size(); ++b) {
            const auto& x = firsts[which[a]];
            const auto& y = firsts[which[b]];
            if (x && y && !(x->second && y->second) && x->first.intersect(y->first).empty()) return false;
          }
        std::vector<std::string_view> texts;
        for (size_t j : which) texts.push_back(s.pattern_props[j].first);
        std::sort(texts.begin(), texts.end());
        std::string key;
        for (std::string_view t : texts) (key += t) += '\0';
        auto known = pattern_meets_.find(key);
        if (known != pattern_meets_.end()) return known->second;
        std::vector<RegexPtr> parts;
        for (size_t j : which) parts.push_back(pats[j]);
        bool meets = true;  // too big to decide: assume they overlap
        try {
          meets = !fsm::compile_dfa(*Regex::intersect(std::move(parts))).empty();
        } catch (const Error&) {
        }
        pattern_meets_.emplace(std::move(key), meets);
        return meets;
      };
      constexpr size_t kMaxPatterns = 32, kMaxPatternSets = 64;
      std::vector<std::vector<size_t>> sets{{}};
      bool too_many = np > kMaxPatterns;
      std::vector<std::vector<char>> meet(too_many ? 0 : np, std::vector<char>(np, 0));
      if (!too_many) {
        for (size_t i = 0; i < np; ++i)
          for (size_t j = i + 1; j < np; ++j)
            if (pats[i] && pats[j]) meet[i][j] = meet[j][i] = may_meet({i, j});
        std::vector<size_t> cur;
        std::function<void(size_t)> grow = [&](size_t from) {
          for (size_t i = from; i < np && !too_many; ++i) {
            if (!pats[i]) continue;  // relaxed above: matches no key here
            bool ok = true;
            for (size_t j : cur) ok = ok && meet[i][j];
            if (!ok) continue;
            cur.push_back(i);
            if (cur.size() <= 2 || may_meet(cur)) {
              sets.push_back(cur);
              too_many = sets.size() > kMaxPatternSets;
              grow(i + 1);
            }
            cur.pop_back();
          }
        };
        grow(0);
      }
      if (too_many) {
        relax(ptr + "/patternProperties", "patternProperties",
              np > kMaxPatterns ? "more than " + std::to_string(kMaxPatterns) + " patterns"
                                : "more than " + std::to_string(kMaxPatternSets) + " sets of patterns whose keys overlap");
        Conj c;
        if (apply_closeds(s, nullptr, {}, c)) extra_classes.push_back({{}, c, not_named});
      } else {
        for (const auto& set : sets) {
          std::vector<RegexPtr> parts;
          std::set<std::string> matched;
          Conj c;
          for (size_t i : set) {
            parts.push_back(pats[i]);
            matched.insert(s.pattern_props[i].first);
            c = join(c, s.pattern_props[i].second);
          }
          // and none of the other patterns (those that cannot meet the set need no complement)
          std::vector<RegexPtr> others;
          for (size_t j = 0; j < np; ++j) {
            if (!pats[j] || std::find(set.begin(), set.end(), j) != set.end()) continue;
            bool meets = set.empty();
            for (size_t i : set) meets = meets || meet[i][j];
            if (meets) others.push_back(pats[j]);
          }
          if (!others.empty()) parts.push_back(Regex::complement(alt_joining_suffixes(others)));
          if (!apply_closeds(s, nullptr, matched, c)) continue;
          // Of the named keys, only those every pattern of the class matches can be its keys: the
          // others are outside its language, left out or not. A complement of all of them made
          // each class's automaton a product with the names' (OCDS's language-tagged fields,
          // "^(title_(BCP 47 tag))$" beside a hundred named keys: 130-270 states, 0.5-3.4 ms a
          // lexeme). Names the test cannot decide on a pattern (kinds it does not read) stay.
          std::vector<RegexPtr> inside;
          for (size_t k = 0; k < named_texts.size(); ++k) {
            bool in = true;
            for (size_t i : set) in = in && may_hold_literal(i, *named_texts[k]);
            if (in) inside.push_back(named[k]);
          }
          RegexPtr class_not_named = inside.empty() ? nullptr
                                     : inside.size() == named.size() ? not_named
                                                                     : Regex::complement(Regex::alt(std::move(inside)));
          extra_classes.push_back({std::move(parts), c, std::move(class_not_named)});
        }
      }
    }
    // The entries of those classes, their keys also in `restrict` and their values also in the
    // shapes of the witnesses `bits` (none: the plain entries).
    auto entries = [&](const RegexPtr& restrict, unsigned bits) -> GExprPtr {
      std::vector<GExprPtr> alts;
      for (auto [parts, c, class_not_named] : extra_classes) {
        GExprPtr key;
        if (names_are_patterns && parts.empty() && !class_not_named && !restrict) {
          key = ref(regex_format_rule());
        } else {
          if (names_are_patterns)
            relax(ptr + "/propertyNames", "format", "'regex' as propertyNames beside patternProperties or named keys");
          if (class_not_named) parts.push_back(class_not_named);
          if (restrict) parts.push_back(restrict);
          if (name_rx) parts.push_back(name_rx);
          // The complements as one (De Morgan): keys outside the other patterns and outside the
          // names are keys outside both, and a JSON string over one complement is built by
          // escaping what it leaves out (the keys matching none of OCDS's 20 language-tagged
          // patterns: one automaton, not a product of two).
          std::vector<RegexPtr> outside, kept;
          for (auto& part : parts)
            (part->kind == Regex::Kind::kComplement ? outside : kept).push_back(part);
          if (outside.size() > 1) {
            std::vector<RegexPtr> left_out;
            for (const auto& o : outside) left_out.push_back(o->items[0]);
            kept.push_back(Regex::complement(alt_joining_suffixes(std::move(left_out))));
            parts = std::move(kept);
          }
          RegexPtr body = parts.empty() ? any_string_core() : Regex::intersect(std::move(parts));
          key = GExpr::seq({lit("\""), leaf(Regex::json_string(body)), lit("\"")});
        }
        alts.push_back(GExpr::seq({key, key_sep(), bits ? witnessed_value(c, nullptr, bits) : value_ref(c)}));
      }
      return alts.empty() ? nullptr : alts.size() == 1 ? alts[0] : GExpr::alt(std::move(alts));
    };
    GExprPtr extra = entries(nullptr, 0);
    // the entries that read witnesses, for each set of them: keys in all their languages, values in
    // all their shapes
    std::vector<std::pair<unsigned, GExprPtr>> witnessing;
    for (unsigned bits = all_witnessed; bits; bits = (bits - 1) & all_witnessed) {
      std::vector<RegexPtr> keys;
      for (size_t w = 0; w < nw; ++w)
        if ((bits >> w) & 1) keys.push_back(s.witnesses[w].keys);
      if (GExprPtr e = entries(keys.size() == 1 ? keys[0] : Regex::intersect(std::move(keys)), bits))
        witnessing.push_back({bits, e});
    }
    if (opt_.property_order == JsonSchemaOptions::PropertyOrder::kAny)
      return object_any_order(s, members, extra, witnessing, all_witnessed, ptr);
    // counts: minProperties / maxProperties, exact with a counter in the rule chain when small
    uint64_t min_p = s.min_props, max_p = s.max_props;
    size_t nreq = 0;
    for (auto& m : members) nreq += m.required;
    if (min_p <= nreq) min_p = 0;
    if (!extra && witnessing.empty() && max_p >= members.size()) max_p = UINT64_MAX;
    bool counting = min_p > 0 || max_p != UINT64_MAX;
    // the rules are (members + 1) × 2 × (count + 1): bounded in number, not in the count alone
    // ("maxProperties": 100 over patternProperties alone is 202 rules)
    if (counting && !count_fits(s, min_p, max_p, members.size() + 1)) counting = false;
    uint64_t cap = counting ? (max_p == UINT64_MAX ? min_p : max_p) : 0;
    // T(i, c, k, f): the members from i on; c = a comma is needed before the next one; k = members so
    // far (capped at `cap` when counting); f = the witnesses read so far (a bit set).
    std::map<std::tuple<size_t, int, uint64_t, unsigned>, int> rules;
    std::function<GExprPtr(size_t, int, uint64_t, unsigned)> T = [&](size_t i, int c, uint64_t k, unsigned f) -> GExprPtr {
      auto key = std::make_tuple(i, c, k, f);
      auto it = rules.find(key);
      if (it != rules.end()) return ref(it->second);
      int r = new_rule("obj");
      rules[key] = r;
      std::vector<GExprPtr> alts;
      uint64_t k1 = counting ? std::min(k + 1, cap + 1) : 0;
      bool can_add = !counting || max_p == UINT64_MAX || k < max_p;
      if (i == members.size()) {
        if ((!counting || k >= min_p) && f == all_witnessed) alts.push_back(body_end(c));
      } else {
        const Member& m = members[i];
        if (!m.required) alts.push_back(T(i + 1, c, k, f));
        if (can_add) {
          std::vector<GExprPtr> seq;
          if (GExprPtr l = lead(c)) seq.push_back(l);
          seq.push_back(key_literal(m.name));
          seq.push_back(key_sep());
          seq.push_back(m.value);
          seq.push_back(T(i + 1, 1, k1, f));
          alts.push_back(GExpr::seq(std::move(seq)));
          for (const auto& [bits, value] : m.witnessing) {
            if ((f | bits) == f) continue;  // reads no witness not read already: the plain entry
            std::vector<GExprPtr> w;
            if (GExprPtr l = lead(c)) w.push_back(l);
            w.push_back(key_literal(m.name));
            w.push_back(key_sep());
            w.push_back(value);
            w.push_back(T(i + 1, 1, k1, f | bits));
            alts.push_back(GExpr::seq(std::move(w)));
          }
        }
      }
      std::vector<std::pair<unsigned, GExprPtr>> entries;
      if (extra) entries.push_back({0, extra});
      for (const auto& [bits, e] : witnessing)
        if ((f | bits) != f) entries.push_back({bits, e});
      for (const auto& [bits, e] : entries) {
        if (!can_add) continue;
        std::vector<GExprPtr> seq;
        if (GExprPtr l = lead(c)) seq.push_back(l);
        seq.push_back(e);
        seq.push_back(T(i, 1, k1, f | bits));
        alts.push_back(GExpr::seq(std::move(seq)));
      }
      g_.rules[r].body = alts.empty() ? GExpr::leaf(Regex::nothing()) : GExpr::alt(std::move(alts));
      return ref(r);
    };
    GExprPtr body = T(0, 0, 0, 0);
    // `{ ws body ws }`; the empty object is `{ ws }`
    bool can_be_empty = true;
    for (auto& m : members) can_be_empty = can_be_empty && !m.required;
    if (min_p > 0) can_be_empty = false;
    std::vector<GExprPtr> alts;
    alts.push_back(GExpr::seq({lit("{"), leaf(ws_), body, leaf(ws_), lit("}")}));
    (void)can_be_empty;
    return GExpr::alt(std::move(alts));
  }

  // minProperties / maxProperties counted in the rules of an object: `states` rules per count, each
  // twice (a separator due or not). Relaxed (an error unless lenient) past kMaxCountRules.
  bool count_fits(const Shape& s, uint64_t min_p, uint64_t max_p, uint64_t states) {
    constexpr uint64_t kMaxCountRules = 4096;
    const uint64_t count = max_p == UINT64_MAX ? min_p : max_p;
    if (count < kMaxCountRules && states * 2 * (count + 2) <= kMaxCountRules) return true;
    const bool by_min = max_p == UINT64_MAX;
    relax(by_min ? s.min_props_ptr : s.max_props_ptr, by_min ? "minProperties" : "maxProperties",
          "counting " + std::to_string(count) + " properties over " + std::to_string(states) +
              " member states needs more than " + std::to_string(kMaxCountRules) + " rules");
    return false;
  }

  // property_order 'any': members in any order. Required members are tracked exactly (the set of
  // those seen, up to kMaxTracked of them; beyond, they keep the schema's order among themselves,
  // which refuses some valid orders but never accepts an invalid object). A key may repeat: a JSON
  // parser keeps its last value, which is valid too — except an untracked required key, whose
  // repeats would make the rules quadratic in the number of required members (Kubernetes'
  // all-definitions schema requires 587: 345k alternatives, a compile of minutes). The required
  // keys the run-time tracker enforces (tracked_keys) are members like the optional ones here.
  template <class M>
  GExprPtr object_any_order(const Shape& s, const std::vector<M>& members, GExprPtr extra,
                            const std::vector<std::pair<unsigned, GExprPtr>>& witnessing, unsigned all_witnessed,
                            const std::string& ptr) {
    // (not under maxProperties: the grammar, counting members, must know that the required ones are
    // still to come, or it would let the object fill up with others and reach a dead end)
    const std::set<std::string> by_tracker = s.max_props == UINT64_MAX ? tracked_keys(s) : std::set<std::string>{};
    auto counted = [&](const M& m) { return m.required && !by_tracker.count(m.name); };
    uint64_t nreq = 0, nreq_all = 0;
    for (auto& m : members) {
      nreq += counted(m);
      nreq_all += m.required;
    }
    // minProperties / maxProperties: the members so far are counted in the rule state (capped)
    uint64_t min_p = s.min_props <= nreq_all ? 0 : s.min_props, max_p = s.max_props;
    bool counting = min_p > 0 || max_p != UINT64_MAX;
    constexpr size_t kMaxTracked = 10;
    const uint64_t states = nreq <= kMaxTracked ? uint64_t{1} << nreq : nreq + 1;
    if (counting && !count_fits(s, min_p, max_p, states)) counting = false;
    uint64_t cap = counting ? (max_p == UINT64_MAX ? min_p : max_p + 1) : 0;
    std::vector<GExprPtr> optional;
    std::vector<GExprPtr> required;
    std::vector<const M*> required_members;
    for (auto& m : members)
      if (!counted(m)) optional.push_back(GExpr::seq({key_literal(m.name), key_sep(), m.value}));
    // required members in schema order (the order `members` lists them)
    for (auto& m : members)
      if (counted(m)) {
        required.push_back(GExpr::seq({key_literal(m.name), key_sep(), m.value}));
        required_members.push_back(&m);
      }
    if (extra) optional.push_back(extra);
    bool tracked = required.size() <= kMaxTracked;
    std::map<std::tuple<uint64_t, int, uint64_t, unsigned>, int> rules;
    uint64_t full = tracked ? (uint64_t{1} << required.size()) - 1 : required.size();
    // A(state, c, k, f): state = set of required seen (tracked) or how many in order (untracked);
    // c = a separator is due; k = members so far (capped at `cap`) when counting; f = the witnesses
    // read so far (a bit set)
    std::function<GExprPtr(uint64_t, int, uint64_t, unsigned)> A = [&](uint64_t st, int c, uint64_t k, unsigned f) -> GExprPtr {
      auto key = std::make_tuple(st, c, k, f);
      auto it = rules.find(key);
      if (it != rules.end()) return ref(it->second);
      int r = new_rule("any");
      rules[key] = r;
      std::vector<GExprPtr> alts;
      bool count_ok = !counting || (k >= min_p && (max_p == UINT64_MAX || k <= max_p));
      // (an object whose keys the tracker requires is never empty: `{ ws ws }` would leave a long gap
      // after '{' no way on but the '}')
      if (st == full && count_ok && f == all_witnessed && (c || by_tracker.empty())) alts.push_back(body_end(c));
      uint64_t k1 = counting ? std::min(k + 1, cap) : 0;
      bool can_add = !counting || max_p == UINT64_MAX || k < max_p;
      // One sequence (a member's own items spliced in): as a nested sequence the member was regular
      // as a whole, one lexeme with its value, where the value's rule is a lexeme of its own
      // (GRule::own_lexeme) as in schema order.
      auto with_sep = [&](GExprPtr e, GExprPtr rest) {
        std::vector<GExprPtr> items;
        if (GExprPtr l = lead(c)) items.push_back(std::move(l));
        if (e->kind == GExpr::Kind::kSeq) items.insert(items.end(), e->items.begin(), e->items.end());
        else items.push_back(std::move(e));
        items.push_back(std::move(rest));
        return GExpr::seq(std::move(items));
      };
      if (can_add) {
        for (auto& e : optional) alts.push_back(with_sep(e, A(st, 1, k1, f)));
        for (const auto& [bits, e] : witnessing)
          if ((f | bits) != f) alts.push_back(with_sep(e, A(st, 1, k1, f | bits)));
        for (const auto& m : members)
          for (const auto& [bits, value] : m.witnessing) {
            if ((f | bits) == f) continue;
            GExprPtr e = GExpr::seq({key_literal(m.name), key_sep(), value});
            if (!counted(m)) alts.push_back(with_sep(e, A(st, 1, k1, f | bits)));
          }
        for (size_t i = 0; i < required.size(); ++i) {
          if (!tracked && i != st) continue;
          const uint64_t next = tracked ? st | (uint64_t{1} << i) : st + 1;
          alts.push_back(with_sep(required[i], A(next, 1, k1, f)));
          for (const auto& [bits, value] : required_members[i]->witnessing)
            if ((f | bits) != f)
              alts.push_back(with_sep(GExpr::seq({key_literal(required_members[i]->name), key_sep(), value}),
                                      A(next, 1, k1, f | bits)));
        }
      }
      g_.rules[r].body = alts.empty() ? GExpr::leaf(Regex::nothing()) : GExpr::alt(std::move(alts));
      return ref(r);
    };
    return GExpr::seq({lit("{"), leaf(ws_), A(0, 0, 0, 0), leaf(ws_), lit("}")});
  }

  bool pattern_matches_name(const std::string& pat, const std::string& name, const std::string& ptr) {
    // decided by compiling: a literal belongs to the pattern's language
    try {
      RegexPtr r = ecma_pattern_regex(pat);
      return literal_in(r, name);
    } catch (const Error&) {
      return false;
    }
  }
  // Whether `name` is in the language of r: decided structurally for plain regexes.
  bool literal_in(const RegexPtr& r, const std::string& name) {
    std::vector<char32_t> cps;
    for (size_t i = 0; i < name.size();) {
      char32_t cp = 0;
      size_t n = fsm::decode_utf8(name, i, cp);
      if (n == 0) return false;  // not text: in no character-level language
      cps.push_back(cp);
      i += n;
    }
    return matches(*r, cps);
  }
  // Whether `matches` decides membership in r: no node of a kind it does not read (bytes, a JSON
  // string's spelling, an embedded automaton).
  static bool literal_decidable(const Regex& r) {
    if (r.kind == Regex::Kind::kBytes || r.kind == Regex::Kind::kJsonString || r.kind == Regex::Kind::kAutomaton)
      return false;
    for (const auto& it : r.items)
      if (!it || !literal_decidable(*it)) return false;
    return true;
  }
  // Backtracking membership test over the AST (positions sets), used on short property names.
  static std::set<size_t> step(const Regex& r, const std::vector<char32_t>& s, std::set<size_t> in) {
    switch (r.kind) {
      case Regex::Kind::kEmpty: return in;
      case Regex::Kind::kNothing: return {};
      case Regex::Kind::kChars: {
        std::set<size_t> out;
        for (size_t p : in)
          if (p < s.size() && r.chars.contains(s[p])) out.insert(p + 1);
        return out;
      }
      case Regex::Kind::kBytes: return {};
      case Regex::Kind::kConcat:
        for (const auto& it : r.items) {
          if (in.empty()) break;
          in = step(*it, s, in);
        }
        return in;
      case Regex::Kind::kAlt: {
        std::set<size_t> out;
        for (const auto& it : r.items) {
          auto o = step(*it, s, in);
          out.insert(o.begin(), o.end());
        }
        return out;
      }
      case Regex::Kind::kRepeat: {
        std::set<size_t> cur = in, out;
        if (r.min == 0) out = in;
        for (uint32_t i = 1; !cur.empty() && i <= std::min<uint64_t>(r.max, s.size() + r.min + 1); ++i) {
          auto nxt = step(*r.items[0], s, cur);
          if (nxt == cur && i > r.min) break;
          cur = nxt;
          if (i >= r.min) out.insert(cur.begin(), cur.end());
        }
        return out;
      }
      case Regex::Kind::kIntersect:
      case Regex::Kind::kComplement: {
        // whole-string languages: the spans from each start position that the node matches in full
        std::set<size_t> out;
        for (size_t p : in)
          for (size_t e = p; e <= s.size(); ++e) {
            std::vector<char32_t> sub(s.begin() + p, s.begin() + e);
            bool all = true;
            for (const auto& it : r.items) all = all && matches(*it, sub);
            if (r.kind == Regex::Kind::kIntersect ? all : !all) out.insert(e);
          }
        return out;
      }
      case Regex::Kind::kJsonString:
      case Regex::Kind::kAutomaton: return {};
    }
    return {};
  }
  static bool matches(const Regex& r, const std::vector<char32_t>& s) { return step(r, s, {0}).count(s.size()) > 0; }

  // ---------------------------------------------------------------- whitespace, separators, any value
  RegexPtr ws_regex() const {
    if (opt_.whitespace != JsonSchemaOptions::Whitespace::kFlexible || !opt_.item_separator.empty()) return Regex::empty();
    CharSet ws({{' ', ' '}, {'\t', '\t'}, {'\n', '\n'}, {'\r', '\r'}});
    return Regex::repeat(Regex::chars_of(ws), 0, static_cast<uint32_t>(std::max(0, opt_.max_whitespace)));
  }
  // The separators: built once (shared by every object and array of the grammar).
  GExprPtr item_sep() {
    if (pretty()) {  // "," (or the item separator), then the next member's line and indentation
      const size_t d = static_cast<size_t>(depth_);
      if (pretty_item_seps_.size() <= d) pretty_item_seps_.resize(d + 1);
      if (!pretty_item_seps_[d])
        pretty_item_seps_[d] = GExpr::seq({lit(opt_.item_separator.empty() ? std::string(",") : opt_.item_separator),
                                           newline(depth_ + 1)});
      return pretty_item_seps_[d];
    }
    if (item_sep_) return item_sep_;
    // A rule of its own, so a lexeme of its own (GRule::own_lexeme): the key after it is the same
    // lexeme whether its member comes first or not, and one automaton serves every separator.
    const int r = new_rule("sep");
    g_.rules[r].body = !opt_.item_separator.empty() ? lit(opt_.item_separator) : GExpr::seq({leaf(ws_), lit(","), leaf(ws_)});
    item_sep_ = ref(r);
    return item_sep_;
  }
  // ---------------------------------------------------------------- pretty whitespace
  // json.dumps(indent=n): a newline and the member's indentation before each member or item, a
  // newline and the container's own indentation before its closing bracket, `{}` and `[]` when
  // empty. Indentation depends on the depth (depth_, the value being generated), so rules are
  // kept per depth (rule_for, any_value_rule) and values deeper than kMaxPrettyDepth are refused.
  static constexpr int kMaxPrettyDepth = 32;
  bool pretty() const { return opt_.whitespace == JsonSchemaOptions::Whitespace::kPretty; }
  int child_depth() const { return pretty() ? depth_ + 1 : 0; }
  GExprPtr newline(int depth) {
    const size_t d = static_cast<size_t>(depth);
    if (newlines_.size() <= d) newlines_.resize(d + 1);
    if (!newlines_[d]) newlines_[d] = lit("\n" + std::string(static_cast<size_t>(std::max(0, opt_.indent)) * d, ' '));
    return newlines_[d];
  }
  // Inside a container's brackets: flexible whitespace (none when compact or pretty).
  GExprPtr open_gap() { return leaf(ws_); }
  // A non-empty run of members or items: pretty puts it on lines of its own.
  GExprPtr enclosed(GExprPtr body) {
    if (!pretty()) return body;
    return GExpr::seq({newline(depth_ + 1), std::move(body), newline(depth_)});
  }
  // Before a member of an object body built member by member (c: one came before): the separator,
  // or pretty's first line; nullptr when nothing goes there.
  GExprPtr lead(int c) { return c ? item_sep() : pretty() ? newline(depth_ + 1) : nullptr; }
  // The end of such a body: pretty's last line when some member was written.
  GExprPtr body_end(int c) { return pretty() && c ? newline(depth_) : GExpr::empty(); }
  // A child value generated in place (not through value_ref): one level deeper while it is.
  struct Deeper {
    SchemaCompiler& sc;
    explicit Deeper(SchemaCompiler& s) : sc(s) {
      if (sc.pretty()) ++sc.depth_;
    }
    ~Deeper() {
      if (sc.pretty()) --sc.depth_;
    }
    Deeper(const Deeper&) = delete;
    Deeper& operator=(const Deeper&) = delete;
  };
  GExprPtr key_sep() {
    if (key_sep_) return key_sep_;
    const int r = new_rule("colon");
    if (!opt_.key_separator.empty()) g_.rules[r].body = lit(opt_.key_separator);
    else if (opt_.whitespace == JsonSchemaOptions::Whitespace::kPretty) g_.rules[r].body = lit(": ");
    else g_.rules[r].body = GExpr::seq({leaf(ws_), lit(":"), leaf(ws_)});
    key_sep_ = ref(r);
    return key_sep_;
  }
  // The language of the keys a propertyNames schema accepts (over code points; nullptr: every
  // string): its string keywords, its enum's strings, and its anyOf / oneOf / not / if-then-else
  // in turn on the same keys. Keys are strings: a schema's other types do not matter.
  RegexPtr key_language(const Shape& pn, const std::string& ptr, int depth = 0) {
    constexpr int kMaxDepth = 8;
    if (depth > kMaxDepth) {
      relax(ptr, "propertyNames", "combinators nested more than " + std::to_string(kMaxDepth) + " deep");
      return nullptr;
    }
    if (pn.never || !(pn.types & kStrT)) return Regex::nothing();
    std::vector<RegexPtr> parts;
    if (pn.has_enum) {
      std::vector<RegexPtr> v;
      for (const auto& x : pn.enum_values)
        if (x.is_string()) v.push_back(Regex::literal(x.get<std::string>()));
      if (v.empty()) return Regex::nothing();
      parts.push_back(Regex::alt(std::move(v)));
    }
    if (RegexPtr core = string_core(pn, ptr, pn.has_enum)) parts.push_back(core);
    std::vector<RegexPtr> excluded;
    for (const auto& x : pn.excluded_values)
      if (x.is_string()) excluded.push_back(Regex::literal(x.get<std::string>()));
    if (!excluded.empty()) parts.push_back(Regex::complement(Regex::alt(std::move(excluded))));
    auto language = [&](const Conj& c) {
      RegexPtr r = key_language(flatten(c), ptr, depth + 1);
      return r ? r : any_string_core();
    };
    for (const auto& [c, p] : pn.nots) parts.push_back(Regex::complement(language(c)));
    for (const auto& [branches, p] : pn.any_of) {
      std::vector<RegexPtr> v;
      for (const auto& b : branches) v.push_back(language(b));
      parts.push_back(Regex::alt(std::move(v)));
    }
    for (const auto& [branches, p] : pn.one_of) {
      std::vector<RegexPtr> each, v;
      for (const auto& b : branches) each.push_back(language(b));
      for (size_t i = 0; i < each.size(); ++i) {
        std::vector<RegexPtr> only{each[i]};
        for (size_t j = 0; j < each.size(); ++j)
          if (j != i) only.push_back(Regex::complement(each[j]));
        v.push_back(Regex::intersect(std::move(only)));
      }
      parts.push_back(Regex::alt(std::move(v)));
    }
    for (const auto& c : pn.conditionals) {
      RegexPtr cond = language(c.cond);
      parts.push_back(Regex::alt({Regex::intersect({cond, language(c.then_)}),
                                  Regex::intersect({Regex::complement(cond), language(c.else_)})}));
    }
    if (parts.empty()) return nullptr;
    return parts.size() == 1 ? parts[0] : Regex::intersect(std::move(parts));
  }
  // Whether key_language relaxes nothing (for a complement, which must not be taken of an
  // over-approximation).
  bool key_language_exact(const Shape& pn, int depth = 0) {
    if (depth > 8 || !string_core_exact(pn)) return false;
    for (const auto& [c, p] : pn.nots)
      if (!key_language_exact(flatten(c), depth + 1)) return false;
    for (const auto* groups : {&pn.any_of, &pn.one_of})
      for (const auto& [branches, p] : *groups)
        for (const auto& b : branches)
          if (!key_language_exact(flatten(b), depth + 1)) return false;
    for (const auto& c : pn.conditionals)
      for (const Conj* part : {&c.cond, &c.then_, &c.else_})
        if (!key_language_exact(flatten(*part), depth + 1)) return false;
    return true;
  }

  // A string shape whose only string keyword is format: regex.
  static bool regex_format_only(const Shape& s) {
    return !s.never && (s.types & kStrT) && !s.has_enum && s.formats.size() == 1 && s.formats[0].first == "regex" &&
           s.patterns.empty() && s.string_negs.empty() && !s.string_negated && s.min_length == 0 &&
           s.max_length == UINT64_MAX && s.excluded_values.empty();
  }
  void warn_regex_subset(const std::string& ptr) {
    warn(ptr,
         "format 'regex': compiled as the patterns that ECMA-262 (with and without the u flag) and Python's "
         "re all accept, less backreferences, named groups, lookbehind, ranges between escapes and "
         "{n,m} bounds compared beyond two digits: those valid patterns are refused, no invalid one is accepted",
         codes::kSchemaRegexSubset);
  }
  // format "regex": a context-free grammar of regular-expression syntax (groups nest without bound)
  // over the code points of the string, each piece written as JSON string content. The language is
  // the patterns that ECMA-262 accepts with and without the u flag and that Python's re accepts
  // (validators check this format with either): atoms are literal code points other than the
  // syntax characters, `.`, the escapes of classes (\d \w \s and their negations), of control
  // characters (\n \r \t \f \v, \xHH, \uHHHH) and of syntax characters and `/`; classes hold such
  // atoms and ranges between two digits or two letters of one case in order, with `-` only first
  // or last; groups are plain, non-capturing or lookahead; a quantifier (*, +, ?, {n}, {n,},
  // {n,m} with n ≤ m when both have up to two digits or m has more, lazy or not) follows an atom or
  // a group, never an assertion (^ $ \b \B lookahead). Backreferences, named groups and lookbehind
  // are left out: they need the pattern's other groups (what is valid depends on them) or differ
  // between the dialects. A subset of the valid patterns, then, and said so (TG315): 631 of the 650
  // patterns in maskbench-dev's schemas are in it; every pattern in it is valid in all three.
  int regex_format_rule() {
    if (regex_format_ >= 0) return regex_format_;
    // each piece: a regex (docs/regex.md) over the pattern's code points
    auto piece = [](const std::string& p) { return leaf(Regex::json_string(parse_regex(p))); };
    const std::string hex = R"(\\x[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4})";
    const std::string escape = R"(\\[dDwWsSnrtfv^$\\.*+?()\[\]{}|/]|)" + hex;
    std::string ranges;
    for (const auto& [lo, hi] : {std::pair{'0', '9'}, std::pair{'A', 'Z'}, std::pair{'a', 'z'}})
      for (char c = lo; c <= hi; ++c)
        ranges += std::string(ranges.empty() ? "" : "|") + c + "-[" + c + "-" + hi + "]";
    const std::string item = R"([^\\\]\[\-^]|\\[dDwWsSbnrtfv^$\\.*+?()\[\]{}|/\-]|)" + hex + "|" + ranges;
    std::string bounds =
        "(?:0|[1-9][0-9]{0,4}),?|[0-9],(?:[1-9][0-9]{1,4})|[1-9][0-9],(?:[1-9][0-9]{2,4})|"
        "[1-9][0-9]{2},(?:[1-9][0-9]{3,4})|[1-9][0-9]{3},[1-9][0-9]{4}|"
        "0,[0-9]|1,[1-9]|2,[2-9]|3,[3-9]|4,[4-9]|5,[5-9]|6,[6-9]|7,[7-9]|8,[89]|9,9";
    // two digits each ({12,15}): a larger tens digit, or the same and a units digit as large
    for (char t = '1'; t <= '9'; ++t) {
      if (t < '9') bounds += std::string("|") + t + "[0-9],[" + static_cast<char>(t + 1) + "-9][0-9]";
      for (char u = '0'; u <= '9'; ++u) bounds += std::string("|") + t + u + "," + t + "[" + u + "-9]";
    }
    const int unit_r = new_rule("rx_unit"), alt_r = new_rule("rx_alt");
    regex_format_ = new_rule("regex");
    // The atoms that are one code point (a literal or an escape) come in runs, and each run is one
    // lexeme with what must follow it: a quantifier (which binds the run's last code point: the
    // language is the same), the opening of another term (an assertion, a class, a group), a `|`,
    // or the end of the group or the pattern. A pattern's words are a token's bytes: one lexeme per
    // code point made every such token a boundary walk through one lexeme per byte (2.6-4.1 ms a
    // mask in accelerator's patterns), and a run that could end anywhere would make every trie
    // node of its tokens a boundary. Runs never meet, so a pattern is cut into lexemes one way.
    GExprPtr run = piece(R"((?:[^^$\\*+?()\[\]{}|]|)" + escape + ")+");
    GExprPtr quantifier = piece(R"((?:[*+?]|\{(?:)" + bounds + R"()\})\??)");
    GExprPtr assertion = piece(R"(\^|\$|\\[bB])");
    GExprPtr lookahead = piece(R"(\(\?[=!])");
    GExprPtr cls = piece(R"(\[\^?(?:-|-?(?:)" + item + R"()+-?)\])");
    GExprPtr group = piece(R"(\((?:\?:)?)");
    GExprPtr bar = piece(R"(\|)");
    // One term, after a run or not: every alternative begins with a regular piece, so a run before
    // it joins that piece's lexeme.
    std::vector<GExprPtr> units;
    for (bool after_run : {false, true}) {
      auto with = [&](std::vector<GExprPtr> items) {
        if (after_run) items.insert(items.begin(), run);
        return GExpr::seq(std::move(items));
      };
      units.push_back(with({assertion}));
      units.push_back(with({lookahead, ref(alt_r)}));
      units.push_back(with({cls, GExpr::repeat(quantifier, 0, 1)}));
      units.push_back(with({group, ref(alt_r), GExpr::repeat(quantifier, 0, 1)}));
      if (after_run) units.push_back(with({quantifier}));
    }
    g_.rules[unit_r].body = GExpr::alt(std::move(units));
    // Alternatives up to and with `end`: (terms, then a run or not, and `|`)*, terms, a run or not, `end`.
    auto alternatives = [&](GExprPtr end) {
      GExprPtr terms = GExpr::repeat(ref(unit_r), 0, kUnbounded);
      GExprPtr branch = GExpr::seq({terms, GExpr::alt({GExpr::seq({run, bar}), bar})});
      return GExpr::seq({GExpr::repeat(branch, 0, kUnbounded), terms,
                         GExpr::alt({GExpr::seq({run, end}), end})});
    };
    g_.rules[alt_r].body = alternatives(piece(R"(\))"));  // a group's, with its `)`
    g_.rules[regex_format_].body = GExpr::seq({lit("\""), alternatives(lit("\""))});
    return regex_format_;
  }

  int any_string_rule() {
    if (any_string_ >= 0) return any_string_;
    any_string_ = new_rule("string");
    g_.rules[any_string_].body = GExpr::seq({lit("\""), leaf(Regex::json_string(any_string_core())), lit("\"")});
    return any_string_;
  }
  // Any JSON value (at `depth`: pretty whitespace keeps a copy per depth, up to kMaxPrettyDepth).
  int any_value_rule(int depth = 0) {
    if (static_cast<size_t>(depth) < any_values_.size() && any_values_[depth] >= 0) return any_values_[depth];
    if (any_values_.size() <= static_cast<size_t>(depth)) any_values_.resize(depth + 1, -1);
    const int v = any_values_[depth] = new_rule("value");
    int obj = new_rule("object"), arr = new_rule("array");
    // pretty: a chain of copies ending at kMaxPrettyDepth, regular but never to be inlined
    if (pretty()) g_.rules[obj].structural = g_.rules[arr].structural = true;
    NumberConstraints plain;
    GExprPtr num = leaf(json_number_regex(plain));
    g_.rules[v].body = GExpr::alt({ref(obj), ref(arr), ref(any_string_rule()), num, lit("true"),
                                   lit("false"), lit("null")});
    const int saved = depth_;
    depth_ = depth;  // the members and items below are one level deeper
    GExprPtr child = value_ref({});
    GExprPtr member = GExpr::seq({ref(any_string_rule()), key_sep(), child});
    g_.rules[obj].body = GExpr::seq(
        {lit("{"), open_gap(),
         GExpr::alt({GExpr::empty(), enclosed(GExpr::seq({member, GExpr::repeat(GExpr::seq({item_sep(), member}), 0, kUnbounded)}))}),
         open_gap(), lit("}")});
    g_.rules[arr].body = GExpr::seq(
        {lit("["), open_gap(),
         GExpr::alt({GExpr::empty(),
                     enclosed(GExpr::seq({child, GExpr::repeat(GExpr::seq({item_sep(), child}), 0, kUnbounded)}))}),
         open_gap(), lit("]")});
    depth_ = saved;
    return v;
  }

  const JsonSchemaOptions& opt_;
  Grammar g_;
  Json doc_;
  int dialect_ = 2020;  // from $schema: 4 (draft-03 and 04), 6, 7, 2019 (2019-09), 2020 (2020-12, the default)
  // Keywords met and ignored, each (keyword, pointer) once in the order met (a node may be
  // flattened more than once): unknown ones, and the ones the dialect lacks.
  struct KeywordsMet {
    std::vector<std::pair<std::string, std::string>> list;
    std::set<std::pair<std::string, std::string>> seen;
    void add(const std::string& k, const std::string& ptr) {
      if (seen.insert({k, ptr}).second) list.push_back({k, ptr});
    }
  };
  KeywordsMet unknown_, not_in_dialect_;
  RegexPtr ws_;
  std::unordered_map<const Json*, std::string> ptr_;
  // Each schema object's base URI, held once per distinct URI (nearly every node has the document's).
  std::unordered_map<const Json*, const std::string*> base_;
  std::unordered_set<std::string> base_names_;  // (a node-based set: the addresses stay)
  const std::string* base_of(const std::string& uri) { return &*base_names_.insert(uri).first; }
  std::unordered_map<std::string, const Json*> ref_memo_;  // base \0 $ref → its target (resolve_ref)
  std::unordered_map<std::string, bool> pattern_meets_;  // pattern texts (sorted, \0-ended) → may a key match all
  std::map<std::string, const Json*> resources_, anchors_;
  std::map<std::string, std::vector<const Json*>> dynamic_anchors_;  // $dynamicAnchor name → nodes
  std::vector<const Json*> stack_;
  std::map<std::pair<Conj, int>, int> memo_;  // (conjunction, depth) → its rule
  std::vector<std::unique_ptr<Json>> dep_schemas_;
  std::unordered_map<std::string, const Json*> dep_nodes_;
  std::unordered_map<const Json*, std::string> node_uris_;  // node_uri
  std::map<std::tuple<const Json*, bool, bool>, std::optional<EvalCases>> eval_memo_;  // eval_cases
  std::set<std::tuple<const Json*, bool, bool>> eval_busy_;
  std::vector<int> any_values_;  // any_value_rule by depth (-1: not built)
  int any_string_ = -1, regex_format_ = -1;
  GExprPtr item_sep_, key_sep_;  // built on first use, after ws_
  std::vector<GExprPtr> pretty_item_seps_, newlines_;  // pretty: by depth
  int depth_ = 0;  // nesting depth of the value being generated (pretty whitespace only, else 0)
  std::unordered_map<std::string, GExprPtr> key_literals_;
  std::unordered_map<std::string, RegexPtr> key_regexes_;  // key_regex
  // Large string languages by structure (grammar::RegexIdentity, not their regex text: rendering a
  // format's regex was 7 % of a compile): a string's core, a chunked pattern or a chunk chain of a
  // class with their bounds; and a code-point class.
  struct StringKey {
    enum Kind { kCore, kChunkedPattern, kChunkChain, kChunkBlock, kClass } kind;
    RegexPtr re;
    uint64_t lo = 0, hi = 0;
    bool operator==(const StringKey& o) const {
      return kind == o.kind && lo == o.lo && hi == o.hi && RegexIdentity::equal(*re, *o.re);
    }
  };
  struct StringKeyHash {
    size_t operator()(const StringKey& k) const {
      size_t h = RegexIdentity::hash(*k.re);
      fsm::hash_mix(h, k.kind);
      fsm::hash_mix(h, k.lo);
      fsm::hash_mix(h, k.hi);
      return h;
    }
  };
  std::unordered_map<StringKey, int, StringKeyHash> string_rules_;  // → their rule
  std::unordered_map<StringKey, size_t, StringKeyHash> class_states_;  // a code-point class → class_states()
  int distribution_depth_ = 0;
  size_t distribution_steps_ = 0;   // generate() calls since the outermost on the current value
  int conditional_depth_ = 0;       // conditions being distributed, nested
  size_t conditional_alts_ = 0;     // alternatives they made, since the outermost began
  std::deque<std::tuple<int, Conj, int>> pending_;  // rules (and their depth) whose body is still to generate
  size_t excluded_value_alts_ = 0;  // alternatives made so far for excluded object and array values (bounded)
};

}  // namespace

Grammar json_schema_to_grammar(std::string_view schema_json, const JsonSchemaOptions& options, std::string_view file,
                               bool embedded) {
  SchemaCompiler c(schema_json, options, file);
  if (embedded) c.embedded();
  return c.run();
}

}  // namespace tollgate::grammar
