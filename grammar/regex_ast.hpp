// Regex AST — what every regular front-end (regex syntax, JSON Schema strings, grammar
// terminals) produces and what fsm/ compiles to automata.
// Characters are Unicode code points; fsm/ turns code point ranges into UTF-8 byte sequences.
// A Bytes node matches raw bytes (for grammars that need bytes that are not UTF-8).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::grammar {

struct CharRange {
  char32_t lo;
  char32_t hi;  // inclusive
  bool operator==(const CharRange&) const = default;
};

// Sorted, non-overlapping, non-adjacent ranges.
class CharSet {
 public:
  CharSet() = default;
  explicit CharSet(std::vector<CharRange> ranges);  // normalises
  static CharSet single(char32_t c) { return CharSet({{c, c}}); }
  static CharSet range(char32_t lo, char32_t hi) { return CharSet({{lo, hi}}); }
  static CharSet any();  // U+0000..U+10FFFF minus surrogates

  void add(char32_t lo, char32_t hi);
  void add(const CharSet& other);
  CharSet complement() const;  // within U+0000..U+10FFFF, surrogates excluded
  CharSet intersect(const CharSet& other) const;
  bool contains(char32_t c) const;
  bool empty() const { return ranges_.empty(); }
  const std::vector<CharRange>& ranges() const { return ranges_; }
  bool operator==(const CharSet&) const = default;

 private:
  void normalise();
  std::vector<CharRange> ranges_;
};

// An explicit automaton over bytes (may be nondeterministic: several edges may share bytes).
struct ByteAutomaton {
  struct Edge {
    uint8_t lo, hi;  // inclusive byte range
    uint32_t to;
    bool operator==(const Edge&) const = default;
  };
  std::vector<std::vector<Edge>> edges;  // per state
  std::vector<char> finals;              // per state
  uint32_t start = 0;
  size_t num_states() const { return edges.size(); }
  bool operator==(const ByteAutomaton&) const = default;
};

struct Regex;
using RegexPtr = std::shared_ptr<const Regex>;

inline constexpr uint32_t kUnbounded = UINT32_MAX;

struct Regex {
  enum class Kind {
    kEmpty,    // matches the empty string
    kNothing,  // matches nothing
    kChars,    // one code point from `chars`
    kBytes,    // one byte in [byte_lo, byte_hi]
    kConcat,   // items in sequence
    kAlt,      // one of items
    kRepeat,   // items[0] repeated min..max times (max = kUnbounded for no limit)
    // The kinds below come from JSON Schema (grammar/json_schema*.cpp); fsm/ compiles each child
    // to its own minimal DFA and embeds the result in the NFA. Not allowed under the leftmost-first
    // construction (Lark terminals), which throws kUnsupported for them.
    kIntersect,   // strings matched by every one of items (at least one item)
    kComplement,  // valid UTF-8 strings (code point sequences) not matched by items[0]
    // items[0]'s language over code points, each string written as the body of a JSON string
    // literal (no quotes): '"' as \", '\\' as \\\\, U+0008/0C/0A/0D/09 as \b \f \n \r \t, other
    // code points below U+0020 as \u00xx (either hex case); '/' raw or as \/; everything else raw
    // (the escaping Python's json.dumps(ensure_ascii=False) writes, plus the two spellings above).
    kJsonString,
    kAutomaton,   // an explicit byte automaton (`automaton`): e.g. a modular counter for multipleOf
  };
  Kind kind = Kind::kEmpty;
  CharSet chars;
  uint8_t byte_lo = 0, byte_hi = 0;
  std::vector<RegexPtr> items;
  uint32_t min = 0, max = 0;
  std::shared_ptr<const ByteAutomaton> automaton;  // kAutomaton
  // kRepeat: lazy (`*?`, `+?`, `??`, `{m,n}?`). The language is the same; only the leftmost-first
  // automaton (compile_leftmost_first_dfa), which models which match a backtracking engine
  // prefers, tells them apart: a lazy repeat prefers fewer iterations.
  bool lazy = false;
  // A node that lives for the whole process and recurs across compiles (JSON Schema's format
  // regexes): fsm/ builds its DFA once per process and shares it (compile_dfa). Made by pin().
  bool process_wide = false;
  // The name it was pinned under (pin(item, name): a format's name; static storage), which keys
  // the DFA computed at build time and embedded in the library (fsm/prebuilt_dfas.hpp); empty:
  // none is looked up.
  std::string_view pinned_name;
  // RegexIdentity's hash of this node, computed on first use (0: not yet); a copy starts without.
  struct CachedHash {
    mutable std::atomic<size_t> value{0};
    CachedHash() = default;
    CachedHash(const CachedHash&) {}
    CachedHash& operator=(const CachedHash&) {
      value.store(0, std::memory_order_relaxed);
      return *this;
    }
  } identity_hash;

  static RegexPtr empty();
  static RegexPtr nothing();
  static RegexPtr chars_of(CharSet set);
  static RegexPtr bytes(uint8_t lo, uint8_t hi);
  static RegexPtr literal(std::string_view utf8);  // sequence of code points
  static RegexPtr concat(std::vector<RegexPtr> items);
  static RegexPtr alt(std::vector<RegexPtr> items);
  static RegexPtr repeat(RegexPtr item, uint32_t min, uint32_t max, bool lazy = false);
  static RegexPtr intersect(std::vector<RegexPtr> items);
  static RegexPtr complement(RegexPtr item);
  static RegexPtr json_string(RegexPtr item);
  static RegexPtr automaton_of(std::shared_ptr<const ByteAutomaton> automaton);
  // `item` marked process_wide (a copy of the node; its children are shared), under `name` (a
  // string with static storage; empty: no embedded DFA is looked up for it). For nodes kept alive
  // for the whole process, as in a function-local static.
  static RegexPtr pin(RegexPtr item, std::string_view name = {});

  // A readable rendering (regex-like), for debugging and tests.
  std::string to_string() const;
};

// Regexes told apart by structure, as to_string() would tell them apart, without rendering them
// (fsm/cfg.cpp keys lexemes by it: rendering every lexeme, a JSON Schema's keys and values written
// out, was a quarter of a compile's instructions). The hash is kept in each node (nodes are
// immutable and shared, so a subtree met again costs one load). Equality stops at shared nodes.
struct RegexIdentity {
  static size_t hash(const Regex& r);
  static bool equal(const Regex& a, const Regex& b);
};

struct RegexOptions {
  bool dot_all = false;           // `.` matches \n too (also via (?s))
  bool case_insensitive = false;  // (also via (?i))
  // JSON Schema `pattern` semantics: unanchored search unless ^/$ are given. When true, a
  // pattern without ^ gets `.*` in front and one without $ gets `.*` behind.
  bool search = false;
  // ECMA-262 (JSON Schema `pattern`): `^` `$` (start/end of input, never of a line) and `\b` `\B`
  // anywhere, compiled exactly; `.` excludes \n \r U+2028 U+2029; `[]` matches nothing and
  // `[^]` any code point; (?m) is refused. See docs/regex.md, "ECMA patterns".
  bool ecma = false;
  // Under ecma, how \d \w \s and \D \W \S read (validators match `pattern` with ECMA-262, the spec, or
  // with Python's re, python-jsonschema's matcher, and the two read these escapes apart;
  // python_perl_class): as ECMA alone (kEcma: a pattern that picks the keys a patternProperties
  // schema applies to picks as ECMA does); as what both dialects match (kBoth: a pattern a string
  // must match, so that what it accepts is valid for either); as what either matches (kEither: a
  // pattern a string must not match, whose complement is taken; `$` also before a final \n there,
  // as Python's re reads it).
  enum class Dialects { kEcma, kBoth, kEither };
  Dialects dialects = Dialects::kEcma;
  // The reading of a part whose language is complemented (a negated class's items, a negative lookahead).
  static constexpr Dialects complemented(Dialects d) {
    return d == Dialects::kBoth ? Dialects::kEither : d == Dialects::kEither ? Dialects::kBoth : d;
  }
  size_t max_nodes = 1'000'000;   // limit on AST size after expanding counted repetitions
};

// Parses a regex (syntax: see docs/regex.md). Throws tollgate::Error with the column of the
// offending construct (kParse for malformed, kUnsupported for backreferences, lookaround, \b...).
RegexPtr parse_regex(std::string_view pattern, const RegexOptions& options = {});

}  // namespace tollgate::grammar
