// String constraints of JSON Schema as code-point regexes (see json_schema_strings.hpp).
//
// Patterns: the one regex parser (regex_parser.cpp) under RegexOptions{search, ecma}. ECMA mode
// compiles ^ $ \b \B exactly wherever they stand (inside alternation branches, groups, repeats):
// each sub-pattern lowers to parts (L, R, regex) where L/R say which left/right contexts
// (start of input / after a word character / after another one; end / before word / before
// other) the part's assertions accept; concatenation splits a neighbour by the class of its
// first/last character (an exact rewrite of the regex) where a context is restricted, and
// Kleene's algorithm closes unbounded repeats of parts that carry assertions. The full argument
// is at "ECMA lowering" in regex_parser.cpp. No intersection or complement is needed, but for a
// lookahead right after a leading '^' (ecma_pattern_regex), the one lookaround compiled.
//
// Formats: exact regexes of the RFC grammars, written as regex text (readable) and parsed by the
// same parser in whole-input mode; the leap seconds of `time` are built as nodes (full_time).
#include "grammar/json_schema_strings.hpp"

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tollgate/error.hpp"

namespace tollgate::grammar {

namespace {
// The index of the ')' that closes the group opened at `open`, skipping escapes and character
// classes (ECMA: a class ends at its first unescaped ']'); npos when it is not closed.
size_t group_end(std::string_view p, size_t open) {
  int depth = 0;
  bool in_class = false;
  for (size_t i = open; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      ++i;
    } else if (in_class) {
      in_class = c != ']';
    } else if (c == '[') {
      in_class = true;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')' && --depth == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

RegexPtr ecma_pattern_regex_uncached(std::string_view pattern, RegexOptions::Dialects dialects) {
  RegexOptions options;
  options.search = true;
  options.ecma = true;
  options.dialects = dialects;
  // A lookahead right after a leading '^' reads the input from its start: "^(?=A)R" is the
  // strings that "^(?:A)" matches (A then anything, unless A ends the input itself) and "^R"
  // matches; "^(?!A)R" those that "^(?:A)" does not match and "^R" does. Several in a row are
  // taken one at a time. A lookahead anywhere else stays refused (the parser's error).
  if (pattern.substr(0, 4) == "^(?=" || pattern.substr(0, 4) == "^(?!") {
    const size_t end = group_end(pattern, 1);
    if (end != std::string_view::npos) {
      try {
        // a negative lookahead's language is complemented: its escapes read the other way
        RegexOptions ahead_options = options;
        if (pattern[3] == '!') ahead_options.dialects = RegexOptions::complemented(dialects);
        RegexPtr ahead = parse_regex("^(?:" + std::string(pattern.substr(4, end - 4)) + ")", ahead_options);
        RegexPtr rest = ecma_pattern_regex_uncached("^" + std::string(pattern.substr(end + 1)), dialects);
        if (pattern[3] == '!') ahead = Regex::complement(ahead);
        return Regex::intersect({ahead, rest});
      } catch (const Error&) {
        // the whole pattern's own error below, at its own column
      }
    }
  }
  return parse_regex(pattern, options);
}
}  // namespace

// Patterns recur: within a schema (the same pattern on many properties; patternProperties read
// again for each member) and across the schemas of a process (id and date patterns). A parse costs
// tens of µs to ms (the ECMA lowering), a lookup well under one: parsed patterns are kept,
// process-wide, up to kMaxPatternCacheBytes, then the table starts over (a Regex is immutable and
// shared: what a caller holds stays valid). Patterns that do not parse are not kept (their error is
// raised again, at its own column). On 152 maskbench-dev schemas (the 45 slowest to compile and
// every 20th file), JSON Schema to grammar went 4.13 → 3.59 G instructions.
namespace {
struct PatternCache {
  std::mutex mu;
  std::unordered_map<std::string, RegexPtr> table;  // under mu
  size_t bytes = 0;                                 // under mu
};
// Never destroyed: a compile thread may still read it while the process exits.
PatternCache& pattern_cache() {
  static PatternCache* cache = new PatternCache;
  return *cache;
}
}  // namespace

RegexPtr ecma_pattern_regex(std::string_view pattern, RegexOptions::Dialects dialects) {
  PatternCache& c = pattern_cache();
  std::string key = std::to_string(static_cast<int>(dialects)) + std::string(pattern);  // the reading, then the pattern
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.table.find(key);
    if (it != c.table.end()) return it->second;
  }
  RegexPtr r = ecma_pattern_regex_uncached(pattern, dialects);
  const size_t bytes = key.size() + 64;
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.bytes + bytes > kMaxPatternCacheBytes) {
    c.table.clear();
    c.bytes = 0;
  }
  if (c.table.emplace(std::move(key), r).second) c.bytes += bytes;
  return r;
}

size_t ecma_pattern_cache_bytes() {
  PatternCache& c = pattern_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.bytes;
}

namespace {

// Regex text → Regex, whole-input (the texts below are ours: an error is a bug, not user input).
RegexPtr re(const std::string& text) { return parse_regex(text); }

std::string two(int v) {
  char b[3] = {static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10), 0};
  return b;
}

// --- RFC 3339 (section 5.6 and Appendix A)
const std::string kDateMonth31 = "(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])";
const std::string kDateMonth30 = "(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)";
const std::string kDateFeb = "02-(?:0[1-9]|1[0-9]|2[0-8])";
// Leap years among 0000..9999 (proleptic Gregorian): divisible by 4, centuries only when the
// century is divisible by 4. Two digits divisible by 4: 0[48] | [2468][048] | [13579][26]
// (00 handled apart).
const std::string kDiv4 = "(?:0[48]|[2468][048]|[13579][26])";
const std::string kLeapYear = "(?:[0-9]{2}" + kDiv4 + "|(?:" + kDiv4 + "|00)00)";
const std::string kFullDate = "(?:[0-9]{4}-(?:" + kDateMonth31 + "|" + kDateMonth30 + "|" + kDateFeb + ")|" + kLeapYear + "-02-29)";

const std::string kHour = "(?:[01][0-9]|2[0-3])";
const std::string kMinute = "[0-5][0-9]";
const std::string kSecFrac = "(?:\\.[0-9]+)?";

// full-time = partial-time time-offset. A leap second (second 60) is valid only where the time
// is 23:59:60 in UTC: local hh:mm − offset = 23:59, so each offset allows one local hh:mm:
// "+HH:00" → (HH−1 mod 24):59, "+HH:MM" (MM ≥ 1) → HH:(MM−1), "−HH:MM" → (23−HH):(59−MM).
// The 2,881 leap-second forms are built as nodes (literal, fraction, literal), not as regex text:
// parsed, their 86 KB of text took 70–80 ms of every process's first date-time schema.
RegexPtr full_time() {
  const RegexPtr frac = re(kSecFrac);
  auto form = [&](const std::string& local, const std::string& offset) {
    return Regex::concat({Regex::literal(local + ":60"), frac, Regex::literal(offset)});
  };
  std::vector<RegexPtr> leap{Regex::concat({Regex::literal("23:59:60"), frac, re("[Zz]")})};
  for (int hh = 0; hh < 24; ++hh) {
    // local hh: "+" offsets with MM = 00 and HH = hh+1 (mod 24), local minute 59
    leap.push_back(form(two(hh) + ":59", "+" + two((hh + 1) % 24) + ":00"));
    // "+hh:MM", MM = mm+1 ≥ 1, local minute mm
    std::vector<RegexPtr> plus, minus;
    for (int mm = 0; mm < 59; ++mm) plus.push_back(form(two(mm), "+" + two(hh) + ":" + two(mm + 1)));
    leap.push_back(Regex::concat({Regex::literal(two(hh) + ":"), Regex::alt(std::move(plus))}));
    // "-HH:MM" with HH = 23−hh, MM = 59−mm
    for (int mm = 0; mm < 60; ++mm) minus.push_back(form(two(mm), "-" + two(23 - hh) + ":" + two(59 - mm)));
    leap.push_back(Regex::concat({Regex::literal(two(hh) + ":"), Regex::alt(std::move(minus))}));
  }
  const RegexPtr normal =
      re(kHour + ":" + kMinute + ":[0-5][0-9]" + kSecFrac + "(?:[Zz]|[+-]" + kHour + ":" + kMinute + ")");
  return Regex::alt({normal, Regex::alt(std::move(leap))});
}

// RFC 3339 Appendix A (ISO 8601 durations), as JSON Schema's format appendix cites it.
const std::string kDuration = [] {
  std::string sec = "[0-9]+S", min = "[0-9]+M(?:" + sec + ")?", hour = "[0-9]+H(?:" + min + ")?";
  std::string time = "T(?:" + hour + "|" + min + "|" + sec + ")";
  std::string day = "[0-9]+D", month = "[0-9]+M(?:" + day + ")?", year = "[0-9]+Y(?:" + month + ")?";
  std::string date = "(?:" + day + "|" + month + "|" + year + ")(?:" + time + ")?";
  return "P(?:" + date + "|" + time + "|[0-9]+W)";
}();

// --- RFC 3986 (URI), RFC 4291 / 3986 (IPv6), RFC 3987 (IRI). ABNF quoted strings are
// case-insensitive ("v" of IPvFuture, "IPv6:" of RFC 5321 address literals).
const std::string kDecOctet = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])";
const std::string kIpv4 = kDecOctet + "(?:\\." + kDecOctet + "){3}";
const std::string kIpv6 = [] {
  std::string h16 = "[0-9A-Fa-f]{1,4}", ls32 = "(?:" + h16 + ":" + h16 + "|" + kIpv4 + ")";
  auto rep = [&](int n) { return n == 0 ? std::string() : "(?:" + h16 + ":){" + std::to_string(n) + "}"; };
  auto upto = [&](int n) {  // [ *n( h16 ":" ) h16 ]
    return "(?:" + (n ? "(?:" + h16 + ":){0," + std::to_string(n) + "}" : std::string()) + h16 + ")?";
  };
  std::vector<std::string> forms = {
      rep(6) + ls32,
      "::" + rep(5) + ls32,
      upto(0) + "::" + rep(4) + ls32,
      upto(1) + "::" + rep(3) + ls32,
      upto(2) + "::" + rep(2) + ls32,
      upto(3) + "::" + h16 + ":" + ls32,
      upto(4) + "::" + ls32,
      upto(5) + "::" + h16,
      upto(6) + "::",
  };
  std::string out = "(?:";
  for (size_t i = 0; i < forms.size(); ++i) out += (i ? "|" : "") + forms[i];
  return out + ")";
}();

// The URI grammar, or the IRI grammar (RFC 3987: iunreserved adds ucschar, iquery iprivate).
std::string uri_grammar(bool iri, bool allow_relative) {
  const std::string ucschar =
      "\\x{A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}\\x{10000}-\\x{1FFFD}\\x{20000}-\\x{2FFFD}"
      "\\x{30000}-\\x{3FFFD}\\x{40000}-\\x{4FFFD}\\x{50000}-\\x{5FFFD}\\x{60000}-\\x{6FFFD}\\x{70000}-\\x{7FFFD}"
      "\\x{80000}-\\x{8FFFD}\\x{90000}-\\x{9FFFD}\\x{A0000}-\\x{AFFFD}\\x{B0000}-\\x{BFFFD}\\x{C0000}-\\x{CFFFD}"
      "\\x{D0000}-\\x{DFFFD}\\x{E1000}-\\x{EFFFD}";
  const std::string iprivate = "\\x{E000}-\\x{F8FF}\\x{F0000}-\\x{FFFFD}\\x{100000}-\\x{10FFFD}";
  std::string unreserved = "A-Za-z0-9\\-._~" + (iri ? ucschar : std::string());
  std::string subdelims = "!$&'()*+,;=";
  std::string pct = "%[0-9A-Fa-f]{2}";
  std::string pchar = "(?:[" + unreserved + subdelims + ":@]|" + pct + ")";
  std::string seg = pchar + "*", seg_nz = pchar + "+";
  std::string seg_nz_nc = "(?:[" + unreserved + subdelims + "@]|" + pct + ")+";
  std::string query = "(?:[" + unreserved + subdelims + ":@/?" + (iri ? iprivate : std::string()) + "]|" + pct + ")*";
  std::string fragment = "(?:[" + unreserved + subdelims + ":@/?]|" + pct + ")*";
  std::string scheme = "[A-Za-z][A-Za-z0-9+\\-.]*";
  std::string userinfo = "(?:[" + unreserved + subdelims + ":]|" + pct + ")*";
  std::string ipvfuture = "[vV][0-9A-Fa-f]+\\.[" + unreserved + subdelims + ":]+";
  std::string host = "(?:\\[(?:" + kIpv6 + "|" + ipvfuture + ")\\]|" + kIpv4 + "|(?:[" + unreserved + subdelims + "]|" + pct + ")*)";
  std::string authority = "(?:" + userinfo + "@)?" + host + "(?::[0-9]*)?";
  std::string abempty = "(?:/" + seg + ")*";
  std::string absolute = "/(?:" + seg_nz + "(?:/" + seg + ")*)?";
  std::string rootless = seg_nz + "(?:/" + seg + ")*";
  std::string noscheme = seg_nz_nc + "(?:/" + seg + ")*";
  std::string tail = "(?:\\?" + query + ")?(?:#" + fragment + ")?";
  std::string absolute_uri = scheme + ":(?://" + authority + abempty + "|" + absolute + "|" + rootless + "|)" + tail;
  std::string relative = "(?://" + authority + abempty + "|" + absolute + "|" + noscheme + "|)" + tail;
  return allow_relative ? "(?:" + absolute_uri + "|" + relative + ")" : absolute_uri;
}

// --- RFC 1123 host names: LDH labels of 1..63 characters, 253 characters in all. A label with
// "--" in its 3rd and 4th positions is reserved (RFC 5890) unless it is an A-label ("xn--").
// A-labels are refused: whether one is valid needs Punycode decoding and the IDNA rules, which a
// regex cannot check, and accepting them all would accept invalid ones (a false positive).
const std::string kLabel = [] {
  std::string a = "[A-Za-z0-9]", l = "[A-Za-z0-9\\-]";
  return "(?:" + a + "|" + a + l + "?" + a + "|" + a + l + l + a + "|(?:" + a + l + "(?:" + a + l + "|-" + a + "))" +
         l + "{0,58}" + a + ")";
}();

RegexPtr hostname() {
  RegexPtr labels = re(kLabel + "(?:\\." + kLabel + ")*");
  RegexPtr length = Regex::repeat(Regex::chars_of(CharSet::any()), 1, 253);
  return Regex::intersect({labels, length});
}

// --- RFC 5321 Mailbox: Local-part "@" ( Domain / address-literal ). The General-address-literal
// (a tag registered with IANA) is left out: IPv6 is the only registered tag.
std::string email() {
  std::string atext = "[A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~]";
  std::string dot_string = atext + "+(?:\\." + atext + "+)*";
  std::string quoted = "\"(?:[\\x20\\x21\\x23-\\x5B\\x5D-\\x7E]|\\\\[\\x20-\\x7E])*\"";
  std::string let_dig = "[A-Za-z0-9]";
  std::string sub_domain = let_dig + "(?:[A-Za-z0-9\\-]*" + let_dig + ")?";
  std::string domain = sub_domain + "(?:\\." + sub_domain + ")*";
  std::string literal = "\\[(?:" + kIpv4 + "|[Ii][Pp][Vv]6:" + kIpv6 + ")\\]";
  return "(?:" + dot_string + "|" + quoted + ")@(?:" + domain + "|" + literal + ")";
}

// --- RFC 6570 URI Template (level 4), with erratum 6937 (the apostrophe is a literal).
std::string uri_template() {
  std::string ucschar =
      "\\x{A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}\\x{10000}-\\x{1FFFD}\\x{20000}-\\x{2FFFD}"
      "\\x{30000}-\\x{3FFFD}\\x{40000}-\\x{4FFFD}\\x{50000}-\\x{5FFFD}\\x{60000}-\\x{6FFFD}\\x{70000}-\\x{7FFFD}"
      "\\x{80000}-\\x{8FFFD}\\x{90000}-\\x{9FFFD}\\x{A0000}-\\x{AFFFD}\\x{B0000}-\\x{BFFFD}\\x{C0000}-\\x{CFFFD}"
      "\\x{D0000}-\\x{DFFFD}\\x{E1000}-\\x{EFFFD}";
  std::string iprivate = "\\x{E000}-\\x{F8FF}\\x{F0000}-\\x{FFFFD}\\x{100000}-\\x{10FFFD}";
  std::string pct = "%[0-9A-Fa-f]{2}";
  std::string literals = "(?:[\\x21\\x23\\x24\\x26-\\x3B\\x3D\\x3F-\\x5B\\x5D\\x5F\\x61-\\x7A\\x7E" + ucschar + iprivate + "]|" + pct + ")";
  std::string varchar = "(?:[A-Za-z0-9_]|" + pct + ")";
  std::string varname = varchar + "(?:\\.?" + varchar + ")*";
  std::string varspec = varname + "(?::[1-9][0-9]{0,3}|\\*)?";
  std::string expression = "\\{[+#./;?&=,!@|]?" + varspec + "(?:," + varspec + ")*\\}";
  return "(?:" + literals + "|" + expression + ")*";
}

// --- RFC 6901 JSON Pointer; relative JSON Pointer (draft-handrews-relative-json-pointer-01, the
// version JSON Schema 2020-12 cites: no index manipulation).
const std::string kJsonPointer = "(?:/(?:[^/~]|~[01])*)*";

// The formats format_regex knows, each with how its regex is made: parsed from its text, or for
// "time" and "date-time" built as nodes (full_time).
struct KnownFormat {
  std::string_view name;
  RegexPtr (*make)();
};
constexpr KnownFormat kFormats[] = {
    {"date", [] { return re(kFullDate); }},
    {"time", [] { return full_time(); }},
    {"date-time", [] { return Regex::concat({re(kFullDate), re("[Tt]"), full_time()}); }},
    {"duration", [] { return re(kDuration); }},
    {"email", [] { return re(email()); }},
    {"hostname", [] { return hostname(); }},
    {"ipv4", [] { return re(kIpv4); }},
    {"ipv6", [] { return re(kIpv6); }},
    {"uri", [] { return re(uri_grammar(false, false)); }},
    {"uri-reference", [] { return re(uri_grammar(false, true)); }},
    {"iri", [] { return re(uri_grammar(true, false)); }},
    {"iri-reference", [] { return re(uri_grammar(true, true)); }},
    {"uri-template", [] { return re(uri_template()); }},
    {"uuid", [] { return re("[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"); }},
    {"json-pointer", [] { return re(kJsonPointer); }},
    {"relative-json-pointer", [] { return re("(?:0|[1-9][0-9]*)(?:#|" + kJsonPointer + ")"); }},
};
constexpr size_t kNumFormats = sizeof kFormats / sizeof kFormats[0];
}  // namespace

RegexPtr format_regex(std::string_view format) {
  // Each format's regex is made once per process (on first use, under its own once_flag; a Regex
  // is immutable) and pinned under the format's name: fsm/ builds each one's DFA once per process
  // too (date-time: 11,862 states in its lexeme, some 55 ms), or reads the one computed at build
  // time (fsm/prebuilt_dfas.hpp), which that name keys.
  static std::once_flag once[kNumFormats];
  static RegexPtr made[kNumFormats];
  for (size_t i = 0; i < kNumFormats; ++i) {
    if (kFormats[i].name != format) continue;
    std::call_once(once[i], [i] { made[i] = Regex::pin(kFormats[i].make(), kFormats[i].name); });
    return made[i];
  }
  // "regex" (ECMA-262 syntax is not regular: nested groups), "idn-hostname" / "idn-email" (IDNA
  // 2008 rules) and unknown names: nullptr, the caller treats them as annotations.
  return nullptr;
}

const std::vector<std::string_view>& format_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (const KnownFormat& f : kFormats) out.push_back(f.name);
    return out;
  }();
  return names;
}

}  // namespace tollgate::grammar
