// JSON Schema number constraints (grammar/json_schema_numbers.cpp) against an exact oracle.
// The oracle parses each candidate literal into an exact decimal (digit string + exponent) and
// decides the constraints with string arithmetic. The regex is checked two ways: by a small
// evaluator of the Regex AST written here (it understands kIntersect and simulates kAutomaton's
// ByteAutomaton directly, so multipleOf is tested before fsm/ compiles those kinds), and by
// fsm::compile_dfa wherever the regex uses only the plain kinds. The test that compiles the
// multipleOf automata with fsm is tagged [!mayfail] until fsm supports kAutomaton/kIntersect.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bitset>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "fsm/dfa.hpp"
#include "grammar/json_schema_numbers.hpp"
#include "tollgate/error.hpp"

using namespace tollgate;
using grammar::NumberConstraints;
using grammar::Regex;
using grammar::RegexPtr;

namespace {

// ---- exact decimals for the oracle -----------------------------------------------------------
struct Exact {
  bool neg = false;
  std::string digits;  // no leading/trailing zeros, empty = 0
  long long exp = 0;   // value = digits * 10^exp
};

enum class Form { kPlain, kScientific, kOtherExponent };

struct Literal {
  Exact value;
  Form form;
};

// RFC 8259 number literal, or nullopt.
std::optional<Literal> parse_literal(const std::string& s) {
  size_t i = 0, n = s.size();
  Exact v;
  if (i < n && s[i] == '-') v.neg = true, ++i;
  if (i >= n || !isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
  std::string intd, fracd;
  if (s[i] == '0') {
    intd = "0", ++i;
  } else {
    while (i < n && isdigit(static_cast<unsigned char>(s[i]))) intd += s[i++];
  }
  if (i < n && s[i] == '.') {
    ++i;
    while (i < n && isdigit(static_cast<unsigned char>(s[i]))) fracd += s[i++];
    if (fracd.empty()) return std::nullopt;
  }
  Form form = Form::kPlain;
  long long e = 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    std::string ed;
    while (i < n && isdigit(static_cast<unsigned char>(s[i]))) ed += s[i++];
    if (ed.empty() || ed.size() > 15) return std::nullopt;
    e = std::stoll(ed) * (eneg ? -1 : 1);
    form = (intd.size() == 1 && intd != "0") ? Form::kScientific : Form::kOtherExponent;
  }
  if (i != n) return std::nullopt;
  std::string all = intd + fracd;
  long long exp = e - static_cast<long long>(fracd.size());
  size_t a = all.find_first_not_of('0');
  if (a == std::string::npos) {
    v.digits.clear(), v.exp = 0, v.neg = false;
  } else {
    size_t b = all.find_last_not_of('0');
    v.digits = all.substr(a, b - a + 1);
    v.exp = exp + static_cast<long long>(all.size() - 1 - b);
  }
  return Literal{v, form};
}

// Bound texts in the tests are literals too, except that they may have leading zeros: parse
// them through the same code after forcing the syntax.
Exact exact_of(const std::string& text) {
  auto lit = parse_literal(text);
  REQUIRE(lit);
  return lit->value;
}

int cmp_mag(const Exact& a, const Exact& b) {
  if (a.digits.empty() || b.digits.empty())
    return a.digits.empty() == b.digits.empty() ? 0 : a.digits.empty() ? -1 : 1;
  long long ma = static_cast<long long>(a.digits.size()) + a.exp;
  long long mb = static_cast<long long>(b.digits.size()) + b.exp;
  if (ma != mb) return ma < mb ? -1 : 1;
  std::string x = a.digits, y = b.digits;
  size_t n = std::max(x.size(), y.size());
  x.resize(n, '0'), y.resize(n, '0');
  return x < y ? -1 : x > y ? 1 : 0;
}
int cmp(const Exact& a, const Exact& b) {
  bool an = a.neg && !a.digits.empty(), bn = b.neg && !b.digits.empty();
  if (an != bn) return an ? -1 : 1;
  return an ? -cmp_mag(a, b) : cmp_mag(a, b);
}

bool is_multiple(const Exact& v, const Exact& m) {
  if (v.digits.empty()) return true;
  long long s = v.exp - m.exp;
  if (s < 0) return false;  // v's digits end in a nonzero digit: 10^-s cannot divide them
  unsigned __int128 p = 0;
  for (char c : m.digits) p = p * 10 + static_cast<unsigned>(c - '0');
  unsigned __int128 r = 0;
  for (char c : v.digits) r = (r * 10 + static_cast<unsigned>(c - '0')) % p;
  for (long long i = 0; i < s && r != 0; ++i) r = r * 10 % p;
  return r == 0;
}

struct Case {
  NumberConstraints c;
  bool expect(const std::string& text) const {
    auto lit = parse_literal(text);
    if (!lit) return false;
    bool constrained = c.integer || c.minimum || c.maximum || c.multiple_of;
    if (constrained && lit->form == Form::kOtherExponent) return false;
    if ((c.integer || c.multiple_of) && lit->form != Form::kPlain) return false;
    const Exact& v = lit->value;
    if (c.integer && !(v.digits.empty() || v.exp >= 0)) return false;
    if (c.minimum) {
      int r = cmp(v, exact_of(*c.minimum));
      if (r < 0 || (r == 0 && c.exclusive_minimum)) return false;
    }
    if (c.maximum) {
      int r = cmp(v, exact_of(*c.maximum));
      if (r > 0 || (r == 0 && c.exclusive_maximum)) return false;
    }
    if (c.multiple_of && !is_multiple(v, exact_of(*c.multiple_of))) return false;
    return true;
  }
  std::string describe() const {
    std::string s = c.integer ? "integer" : "number";
    if (c.minimum) s += std::string(c.exclusive_minimum ? " >" : " >=") + *c.minimum;
    if (c.maximum) s += std::string(c.exclusive_maximum ? " <" : " <=") + *c.maximum;
    if (c.multiple_of) s += " multipleOf " + *c.multiple_of;
    return s;
  }
};

// ---- a Regex AST evaluator (ASCII text, short) -----------------------------------------------
using Ends = std::bitset<128>;

class Evaluator {
 public:
  explicit Evaluator(const std::string& text) : s_(text) {}
  bool matches(const Regex& r) { return ends(r, 0)[s_.size()]; }

 private:
  Ends ends(const Regex& r, size_t pos) {
    auto key = std::make_pair(&r, pos);
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    Ends out;
    switch (r.kind) {
      case Regex::Kind::kEmpty: out[pos] = true; break;
      case Regex::Kind::kNothing: break;
      case Regex::Kind::kChars:
        if (pos < s_.size() && r.chars.contains(static_cast<unsigned char>(s_[pos]))) out[pos + 1] = true;
        break;
      case Regex::Kind::kBytes:
        if (pos < s_.size() && static_cast<uint8_t>(s_[pos]) >= r.byte_lo &&
            static_cast<uint8_t>(s_[pos]) <= r.byte_hi)
          out[pos + 1] = true;
        break;
      case Regex::Kind::kConcat: {
        Ends cur;
        cur[pos] = true;
        for (const auto& it : r.items) cur = step(*it, cur);
        out = cur;
        break;
      }
      case Regex::Kind::kAlt:
        for (const auto& it : r.items) out |= ends(*it, pos);
        break;
      case Regex::Kind::kRepeat: {
        Ends cur;
        cur[pos] = true;
        uint32_t count = 0;
        if (r.min == 0) out |= cur;
        while (cur.any() && (r.max == grammar::kUnbounded || count < r.max)) {
          Ends next = step(*r.items[0], cur);
          ++count;
          if (count >= r.min) {
            Ends fresh = next & ~out;
            out |= next;
            if (r.max == grammar::kUnbounded && count > r.min && fresh.none()) break;
          }
          if (next == cur && count >= r.min) break;
          cur = next;
          if (count > s_.size() + 2 + r.min) break;
        }
        break;
      }
      case Regex::Kind::kIntersect: {
        out.set();
        for (const auto& it : r.items) out &= ends(*it, pos);
        break;
      }
      case Regex::Kind::kAutomaton: {
        const auto& a = *r.automaton;
        std::vector<char> cur(a.num_states(), 0);
        cur[a.start] = 1;
        for (size_t i = pos;; ++i) {
          for (size_t q = 0; q < cur.size(); ++q)
            if (cur[q] && a.finals[q]) out[i] = true;
          if (i == s_.size()) break;
          std::vector<char> next(a.num_states(), 0);
          bool any = false;
          uint8_t b = static_cast<uint8_t>(s_[i]);
          for (size_t q = 0; q < cur.size(); ++q)
            if (cur[q])
              for (const auto& e : a.edges[q])
                if (b >= e.lo && b <= e.hi) next[e.to] = 1, any = true;
          if (!any) break;
          cur.swap(next);
        }
        break;
      }
      default:
        FAIL("evaluator: unexpected regex kind");
    }
    memo_[key] = out;
    return out;
  }
  Ends step(const Regex& r, const Ends& from) {
    Ends out;
    for (size_t p = 0; p <= s_.size(); ++p)
      if (from[p]) out |= ends(r, p);
    return out;
  }
  const std::string& s_;
  std::map<std::pair<const Regex*, size_t>, Ends> memo_;
};

bool uses_new_kinds(const Regex& r) {
  if (r.kind == Regex::Kind::kIntersect || r.kind == Regex::Kind::kAutomaton ||
      r.kind == Regex::Kind::kComplement || r.kind == Regex::Kind::kJsonString)
    return true;
  for (const auto& it : r.items)
    if (uses_new_kinds(*it)) return true;
  return false;
}

// ---- candidate literals ---------------------------------------------------------------------
std::string random_digits(std::mt19937& rng, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += static_cast<char>('0' + rng() % 10);
  return s;
}

// A canonical plain rendering of an exact decimal (for mutation).
std::string plain_text(const Exact& v) {
  if (v.digits.empty()) return "0";
  std::string s;
  if (v.exp >= 0) {
    s = v.digits + std::string(static_cast<size_t>(v.exp), '0');
  } else {
    long long places = -v.exp, n = static_cast<long long>(v.digits.size());
    std::string d = places >= n ? std::string(static_cast<size_t>(places - n + 1), '0') + v.digits : v.digits;
    s = d.substr(0, d.size() - static_cast<size_t>(places)) + "." + d.substr(d.size() - static_cast<size_t>(places));
  }
  return (v.neg ? "-" : "") + s;
}

std::string sci_text(const Exact& v, std::mt19937& rng) {
  if (v.digits.empty()) return "0e0";
  long long e = static_cast<long long>(v.digits.size()) - 1 + v.exp;
  std::string m = v.digits.substr(0, 1);
  if (v.digits.size() > 1) m += "." + v.digits.substr(1);
  if (rng() % 3 == 0) m += (v.digits.size() > 1 ? "" : ".") + std::string(rng() % 3 + 1, '0');
  std::string es = std::to_string(std::llabs(e));
  if (rng() % 3 == 0) es = "0" + es;
  const char* sign = e < 0 ? "-" : (rng() % 2 ? "+" : "");
  return (v.neg ? "-" : "") + m + (rng() % 2 ? "e" : "E") + sign + es;
}

std::string mutate(std::string s, std::mt19937& rng) {
  switch (rng() % 9) {
    case 0: {  // change one digit
      std::vector<size_t> pos;
      for (size_t i = 0; i < s.size(); ++i)
        if (isdigit(static_cast<unsigned char>(s[i]))) pos.push_back(i);
      if (!pos.empty()) s[pos[rng() % pos.size()]] = static_cast<char>('0' + rng() % 10);
      return s;
    }
    case 1:  // append a fraction digit or more
      return s + (s.find('.') == std::string::npos ? "." : "") + random_digits(rng, rng() % 3 + 1);
    case 2:  // trailing zeros
      return s + (s.find('.') == std::string::npos ? ".0" : "0");
    case 3:  // drop the last character
      return s.size() > 1 ? s.substr(0, s.size() - 1) : s;
    case 4:  // flip the sign
      return s[0] == '-' ? s.substr(1) : "-" + s;
    case 5: {  // add/remove a digit in the integer part
      size_t dot = s.find('.');
      size_t at = dot == std::string::npos ? s.size() : dot;
      return s.substr(0, at) + static_cast<char>('0' + rng() % 10) + s.substr(at);
    }
    case 6: {  // almost the bound: ...999 or ...0001 appended
      return s + (s.find('.') == std::string::npos ? "." : "") + (rng() % 2 ? "9999" : "0001");
    }
    case 7:
      return s;
    default: {  // scientific spelling of the same text
      auto lit = parse_literal(s);
      return lit ? sci_text(lit->value, rng) : s;
    }
  }
}

std::string random_literal(std::mt19937& rng) {
  std::string s = rng() % 3 == 0 ? "-" : "";
  switch (rng() % 6) {
    case 0: s += std::to_string(rng() % 20); break;
    case 1: s += std::to_string(rng() % 1000); break;
    case 2: s += std::to_string(1 + rng() % 9) + random_digits(rng, rng() % 30); break;
    case 3: s += std::to_string(rng() % 100) + "." + random_digits(rng, 1 + rng() % 5); break;
    case 4: s += "0.0" + random_digits(rng, 1 + rng() % 4); break;
    default: {
      s += std::to_string(1 + rng() % 9);
      if (rng() % 2) s += "." + random_digits(rng, 1 + rng() % 4);
      s += rng() % 2 ? "e" : "E";
      int e = static_cast<int>(rng() % 60) - 30;
      s += e < 0 ? "-" : (rng() % 2 ? "+" : "");
      s += std::to_string(std::abs(e));
      break;
    }
  }
  return s;
}

const std::vector<std::string> kGarbage = {
    "",     "-",     "01",    "-01",  "00",    "1.",   ".5",   "+1",    "1e",    "1e+",  "--1",
    "0x10", "1.2.3", "-00.5", "1 ",   " 1",    "1_0",  "NaN",  "Infinity", "-0",  "-0.0", "0",
    "0.0",  "1e5",   "1E-5",  "0e0",  "12e3",  "0.5e1", "1.0", "1.50e1", "1e-05", "1.5e+20", "-0e0",
    "10e-1", "1e400", "-1e400", "1e-400", "100000000000000000000", "5", "0.5", "0.25", "0.01", "7"};

std::string random_bound(std::mt19937& rng) {
  std::string sign = rng() % 2 ? "-" : "";
  switch (rng() % 7) {
    case 0: return sign + std::to_string(rng() % 100);
    case 1: return sign + std::to_string(1 + rng() % 9) + random_digits(rng, 19 + rng() % 12);
    case 2: return sign + std::to_string(rng() % 100) + "." + random_digits(rng, 1 + rng() % 6);
    case 3: return sign + "0.0" + random_digits(rng, 1 + rng() % 3);
    case 4: return sign + std::to_string(1 + rng() % 9) + "e" + std::to_string(rng() % 25);
    case 5: return sign + std::to_string(1 + rng() % 9) + "." + random_digits(rng, 1 + rng() % 3) + "e-" +
                   std::to_string(rng() % 8);
    default: return sign + std::to_string(rng() % 1000) + ".5";
  }
}

// What Python's json.dumps writes for a float (repr): shortest round-trip digits, scientific with
// a signed two-digit-minimum exponent when |x| < 1e-4 or |x| >= 1e16, else fixed with ".0".
std::string python_repr(double x) {
  char buf[64];
  double ax = std::fabs(x);
  if (ax != 0 && (ax < 1e-4 || ax >= 1e16)) {
    auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
    return std::string(buf, r.ptr);
  }
  auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed);
  std::string s(buf, r.ptr);
  if (s.find('.') == std::string::npos) s += ".0";
  return s;
}

size_t g_positives = 0;

void check_case(const Case& cs, const std::vector<std::string>& literals, bool with_dfa, size_t& checked) {
  INFO("constraints: " << cs.describe());
  RegexPtr re = grammar::json_number_regex(cs.c);
  std::optional<fsm::Dfa> dfa;
  if (with_dfa && !uses_new_kinds(*re)) dfa = fsm::compile_dfa(*re);
  for (const auto& lit : literals) {
    if (lit.size() > 120) continue;
    INFO("literal: \"" << lit << "\"");
    bool want = cs.expect(lit);
    g_positives += want;
    Evaluator ev(lit);
    CHECK(ev.matches(*re) == want);
    if (dfa) CHECK(dfa->matches(lit) == want);
    ++checked;
  }
}

std::vector<std::string> candidates_for(const Case& cs, std::mt19937& rng, size_t count) {
  std::vector<std::string> out = kGarbage;
  std::vector<std::string> seeds;
  for (const auto* b : {&cs.c.minimum, &cs.c.maximum})
    if (*b) {
      seeds.push_back(**b);
      seeds.push_back(plain_text(exact_of(**b)));
    }
  for (size_t i = 0; i < count; ++i) {
    std::string s;
    if (!seeds.empty() && rng() % 3 != 0) {
      s = seeds[rng() % seeds.size()];
      for (int k = 0, n = 1 + static_cast<int>(rng() % 3); k < n; ++k) s = mutate(s, rng);
    } else {
      s = random_literal(rng);
      if (rng() % 4 == 0) s = mutate(s, rng);
    }
    out.push_back(s);
  }
  return out;
}

NumberConstraints random_constraints(std::mt19937& rng, bool allow_multiple) {
  static const std::vector<std::string> kMultiples = {"1",    "2",    "3",   "5",   "7",   "10",
                                                      "0.5",  "0.25", "0.01", "0.1", "1.5", "12"};
  NumberConstraints c;
  c.integer = rng() % 3 == 0;
  if (rng() % 4 != 0) c.minimum = random_bound(rng), c.exclusive_minimum = rng() % 2;
  if (rng() % 4 != 0) c.maximum = random_bound(rng), c.exclusive_maximum = rng() % 2;
  if (c.minimum && c.maximum && rng() % 3 != 0 && cmp(exact_of(*c.minimum), exact_of(*c.maximum)) > 0)
    std::swap(c.minimum, c.maximum);  // mostly non-empty ranges
  if (allow_multiple && rng() % 2) c.multiple_of = kMultiples[rng() % kMultiples.size()];
  return c;
}

}  // namespace

TEST_CASE("json numbers: examples", "[json-numbers]") {
  auto check = [](NumberConstraints c, std::vector<std::string> yes, std::vector<std::string> no) {
    RegexPtr re = grammar::json_number_regex(c);
    Case cs{c};
    INFO(cs.describe());
    for (const auto& s : yes) {
      INFO("should match " << s);
      CHECK(Evaluator(s).matches(*re));
      CHECK(cs.expect(s));
    }
    for (const auto& s : no) {
      INFO("should not match " << s);
      CHECK_FALSE(Evaluator(s).matches(*re));
    }
  };
  NumberConstraints any;
  check(any, {"0", "-0", "12e3", "0.5E-2", "1.0", "-0.0e+0"}, {"01", "1.", ".5", "+1", "1e", "--1"});
  NumberConstraints integer;
  integer.integer = true;
  check(integer, {"0", "-0", "1.0", "-12.000", "123456789012345678901234567890"},
        {"1.5", "0.01", "1e5", "01"});
  NumberConstraints range;
  range.minimum = "-12.5";
  range.maximum = "1e3";
  check(range, {"-12.5", "-12.50", "-12.49", "0", "-0", "1000", "1000.000", "1e3", "1E+3", "1e-05", "9.99e2",
                "1.25e1", "-1.25e1", "-1.2e-30"},
        {"-12.51", "-12.5000001", "1000.0001", "1.0001e3", "1e4", "-1.3e1", "10e2"});
  NumberConstraints big;
  big.integer = true;
  big.minimum = "18446744073709551617";
  big.exclusive_minimum = true;
  check(big, {"18446744073709551618", "18446744073709551618.0", "1000000000000000000000"},
        {"18446744073709551617", "18446744073709551616", "9999999999999999999"});
  NumberConstraints mult;
  mult.multiple_of = "0.01";
  check(mult, {"0", "1.5", "0.01", "-3.140", "100", "12.3400000"}, {"0.001", "1.005", "1e-2"});
  mult.multiple_of = "7";
  check(mult, {"0", "7", "-14", "700.000", "123456789012345678901234567890"}, {"1", "7.5", "7e0", "123456789012345678901234567891"});
  mult.multiple_of = "1.5";
  mult.integer = true;
  check(mult, {"0", "3", "-3", "6.0"}, {"1.5", "4"});
  NumberConstraints empty;
  empty.minimum = "5";
  empty.maximum = "5";
  empty.exclusive_maximum = true;
  CHECK(grammar::json_number_regex(empty)->kind == Regex::Kind::kNothing);
  empty.exclusive_maximum = false;
  check(empty, {"5", "5.000", "5e0", "5.0E+0"}, {"5.0001", "4.9999"});
  NumberConstraints no_int;
  no_int.integer = true;
  no_int.minimum = "0.2";
  no_int.maximum = "0.8";
  check(no_int, {}, {"0", "1", "0.5"});
}

TEST_CASE("json numbers: malformed and unsupported values", "[json-numbers]") {
  auto kind_of = [](NumberConstraints c) -> std::optional<ErrorKind> {
    try {
      grammar::json_number_regex(c);
    } catch (const Error& e) {
      return e.kind();
    }
    return std::nullopt;
  };
  NumberConstraints c;
  c.multiple_of = "0";
  CHECK(kind_of(c) == ErrorKind::kSchema);
  c.multiple_of = "-2";
  CHECK(kind_of(c) == ErrorKind::kSchema);
  c.multiple_of = "two";
  CHECK(kind_of(c) == ErrorKind::kSchema);
  c.multiple_of = "999983";  // prime: the automaton would need ~3M states
  CHECK(kind_of(c) == ErrorKind::kUnsupported);
  c.multiple_of.reset();
  c.minimum = "1.2.3";
  CHECK(kind_of(c) == ErrorKind::kSchema);
  c.minimum = "";
  CHECK(kind_of(c) == ErrorKind::kSchema);
  c.minimum = "1e99999";
  CHECK(kind_of(c) == ErrorKind::kUnsupported);
  c.minimum = "1e300";
  CHECK_FALSE(kind_of(c));
}

TEST_CASE("json numbers: oracle on random bounds (no multipleOf)", "[json-numbers]") {
  std::mt19937 rng(20240611);
  size_t checked = 0;
  for (int round = 0; round < 300; ++round) {
    Case cs{random_constraints(rng, false)};
    check_case(cs, candidates_for(cs, rng, 200), true, checked);
  }
  WARN("literals checked: " << checked << ", accepted by the oracle: " << g_positives);
  CHECK(checked > 50000);
  CHECK(g_positives > checked / 5);
}

TEST_CASE("json numbers: oracle with multipleOf (AST evaluator)", "[json-numbers]") {
  std::mt19937 rng(777);
  size_t checked = 0;
  for (int round = 0; round < 200; ++round) {
    NumberConstraints c = random_constraints(rng, true);
    if (!c.multiple_of) c.multiple_of = "3";
    Case cs{c};
    auto lits = candidates_for(cs, rng, 150);
    // Multiples near the bounds and elsewhere.
    Exact m = exact_of(*c.multiple_of);
    for (int i = 0; i < 60; ++i) {
      Exact v = m;
      std::string k = std::to_string(rng() % 2000);
      v.digits = std::to_string(std::stoll(m.digits) * std::stoll(k));
      lits.push_back((rng() % 2 ? "-" : "") + plain_text(exact_of(v.digits + "e" + std::to_string(m.exp))));
    }
    check_case(cs, lits, true, checked);
  }
  CHECK(checked > 30000);
}

TEST_CASE("json numbers: multipleOf by last digits compiles in fsm", "[json-numbers]") {
  std::mt19937 rng(5);
  size_t checked = 0;
  for (const char* m : {"1", "2", "5", "10", "0.5", "0.25", "0.01", "0.1", "20", "0.04", "1e-3", "125"}) {
    for (bool integer : {false, true}) {
      NumberConstraints c;
      c.multiple_of = m;
      c.integer = integer;
      Case cs{c};
      RegexPtr re = grammar::json_number_regex(c);
      INFO(cs.describe());
      REQUIRE_FALSE(uses_new_kinds(*re));
      auto lits = candidates_for(cs, rng, 400);
      for (int i = 0; i < 100; ++i) lits.push_back(plain_text(exact_of(std::to_string(rng() % 100000) + "e-" + std::to_string(rng() % 5))));
      check_case(cs, lits, true, checked);
    }
  }
  CHECK(checked > 10000);
}

TEST_CASE("json numbers: every float json.dumps writes inside the bounds is accepted", "[json-numbers]") {
  std::mt19937 rng(31337);
  size_t checked = 0, inside = 0;
  for (int round = 0; round < 300; ++round) {
    NumberConstraints c = random_constraints(rng, false);
    c.integer = false;
    if (round % 5 == 0) c.multiple_of = std::vector<std::string>{"0.5", "0.25", "0.01", "3", "0.1"}[round / 5 % 5];
    Case cs{c};
    INFO(cs.describe());
    RegexPtr re = grammar::json_number_regex(c);
    std::optional<fsm::Dfa> dfa;
    if (!uses_new_kinds(*re)) dfa = fsm::compile_dfa(*re);
    std::vector<double> values = {0.0, -0.0, 1e-5, 1.5e20, -2.5e-7, 1e16, 9999999999999998.0, 0.1, 1e300};
    for (const auto* b : {&c.minimum, &c.maximum})
      if (*b) {
        double v = std::strtod((*b)->c_str(), nullptr);
        values.push_back(v);
        values.push_back(std::nextafter(v, 1e308));
        values.push_back(std::nextafter(v, -1e308));
        for (int i = 0; i < 20; ++i) values.push_back(v * (1 + (static_cast<double>(rng() % 2001) - 1000) * 1e-6));
      }
    for (int i = 0; i < 100; ++i) {
      double mant = static_cast<double>(rng() % 1000000) / 1000.0 * (rng() % 2 ? -1 : 1);
      values.push_back(mant * std::pow(10.0, static_cast<int>(rng() % 50) - 25));
      values.push_back(static_cast<double>(static_cast<int64_t>(rng() % 4000) - 2000) * 0.25);
    }
    for (double v : values) {
      if (!std::isfinite(v)) continue;
      std::string lit = python_repr(v);
      INFO("json.dumps: " << lit);
      bool want = cs.expect(lit);
      if (!want) continue;  // (expect() refuses exponent forms under multipleOf: checked below)
      ++inside;
      CHECK(Evaluator(lit).matches(*re));
      if (dfa) CHECK(dfa->matches(lit));
      ++checked;
    }
  }
  WARN("json.dumps literals inside their bounds: " << inside);
  CHECK(checked > 3000);
}

TEST_CASE("json numbers: multipleOf automata compile in fsm", "[json-numbers][!mayfail]") {
  std::mt19937 rng(99);
  size_t checked = 0;
  for (const char* m : {"3", "7", "1.5", "12", "0.3", "0.07"}) {
    for (bool integer : {false, true}) {
      NumberConstraints c;
      c.multiple_of = m;
      c.integer = integer;
      c.minimum = "-1000";
      c.maximum = "1e4";
      Case cs{c};
      RegexPtr re = grammar::json_number_regex(c);
      fsm::Dfa dfa = fsm::compile_dfa(*re);
      for (const auto& lit : candidates_for(cs, rng, 300)) {
        INFO(cs.describe() << " literal " << lit);
        CHECK(dfa.matches(lit) == cs.expect(lit));
        ++checked;
      }
    }
  }
  CHECK(checked > 3000);
}

TEST_CASE("json numbers: big bounds stay small", "[json-numbers]") {
  NumberConstraints c;
  c.minimum = "-123456789012345678901234567890";
  c.maximum = "987654321098765432109876543210.123456789";
  fsm::Dfa number = fsm::compile_dfa(*grammar::json_number_regex(c));
  c.integer = true;
  fsm::Dfa integer = fsm::compile_dfa(*grammar::json_number_regex(c));
  c.integer = false;
  c.minimum = "100000000000000000000000000000.5";
  c.exclusive_minimum = true;
  fsm::Dfa narrow = fsm::compile_dfa(*grammar::json_number_regex(c));
  WARN("DFA states for 30-digit bounds: number " << number.num_states() << ", integer "
                                                 << integer.num_states() << ", narrow " << narrow.num_states());
  CHECK(number.num_states() <= 400);
  CHECK(integer.num_states() <= 400);
  CHECK(narrow.num_states() <= 400);
  CHECK(integer.matches("-123456789012345678901234567890"));
  CHECK_FALSE(integer.matches("-123456789012345678901234567891"));
  CHECK(number.matches("987654321098765432109876543210.1234567889999"));
  CHECK_FALSE(number.matches("987654321098765432109876543210.12345678900001"));
}
