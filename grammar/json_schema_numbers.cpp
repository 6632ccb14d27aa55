// Number constraints of JSON Schema as regexes over the JSON number text.
// Takes: NumberConstraints (integer flag, bounds and multipleOf as decimal texts of any magnitude).
// Gives: a Regex over ASCII matching exactly the literals listed below whose value satisfies every
// constraint; Regex::nothing() when no value does. All comparisons use exact decimal arithmetic
// on digit strings (Decimal below), never doubles.
//
// Accepted literals (RFC 8259 syntax: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?):
//  * No constraint at all (type number, no bounds, no multipleOf): every RFC 8259 literal.
//  * Otherwise every *plain* literal -?(0|[1-9][0-9]*)(\.[0-9]+)? (no exponent; any number of
//    trailing fraction zeros; "-0", "-0.0" are the value 0) whose value satisfies the constraints.
//    type integer: a plain literal whose fraction is all zeros ("3", "3.0", "-0.00").
//  * type number without multipleOf: also every *normalised scientific* literal
//    -?[1-9](\.[0-9]+)?[eE][+-]?[0-9]+ (one nonzero digit before the point; the exponent may carry
//    a sign and leading zeros: "1e-05", "1.5e+20", "2.50E3") whose value satisfies the bounds.
//    This covers every float literal Python's json.dumps (repr) writes.
//  Refused although the value may satisfy the constraints (documented, never a wrong accept):
//    - exponent forms whose mantissa is not normalised: "12e3", "0.5e1", "0e0" (under constraints);
//    - any exponent form under type integer or multipleOf (json.dumps writes ints as plain digits).
//  Why: the literals whose value lies in a range are not a regular language once arbitrary
//  exponents meet arbitrary mantissas ("1000e-3" needs the exponent to count zeros); normalised
//  mantissas make the exponent alone decide the magnitude.
//
// Construction: bounds are split by sign into magnitude intervals; the integer part of a plain
// literal is a digit-range regex by length and common prefix (O(digits), no enumeration), the
// fraction a digit-by-digit comparison with the bound's fraction (trailing zeros allowed). A
// scientific literal's exponent is a signed digit range and its mantissa a plain range in [1, 10).
// multipleOf m = p / 10^k (p, k integers): a value v is a multiple iff v·10^k is an integer
// divisible by p, i.e. no nonzero fraction digit past place k and the digits (the '.' skipped,
// the fraction padded to k places) read as an integer are 0 mod p. When p divides 10^t with few
// residues (2, 5, 25, 0.5, 0.01, 10, ...) that is a regex on the last t digits; otherwise a
// grammar::ByteAutomaton with p·(k+3) states, at most kMaxMultipleStates (kUnsupported beyond),
// intersected with the range regex. type integer with multipleOf m uses lcm(1, m).
#include "grammar/json_schema_numbers.hpp"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tollgate/error.hpp"

namespace tollgate::grammar {

namespace {

constexpr size_t kMaxExpandedDigits = 4096;   // plain expansion of a bound (1e4000 is fine)
constexpr int64_t kMaxExponent = 1'000'000'000'000'000;  // |exponent| of a bound's text
constexpr size_t kMaxMultipleStates = 200'000;  // the modular automaton for multipleOf
constexpr size_t kMaxResidueWindows = 200;     // last-digit windows of the multipleOf regex

// ---------------------------------------------------------------------------------------------
// Decimal: sign, digits (no leading or trailing zeros; empty = zero), exponent: ±digits·10^exp.
struct Decimal {
  bool negative = false;
  std::string digits;
  int64_t exponent = 0;

  bool is_zero() const { return digits.empty(); }
  bool is_integer() const { return is_zero() || exponent >= 0; }
  // floor(log10 |x|) for x != 0.
  int64_t magnitude() const { return static_cast<int64_t>(digits.size()) - 1 + exponent; }
};

Decimal parse_decimal(std::string_view text, const char* keyword) {
  auto bad = [&]() -> Error {
    return Error(ErrorKind::kSchema,
                 std::string(keyword) + ": \"" + std::string(text) + "\" is not a number");
  };
  size_t i = 0;
  Decimal d;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) d.negative = text[i++] == '-';
  std::string mant;
  int64_t frac_len = 0;
  bool any = false;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') mant += text[i++], any = true;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') mant += text[i++], ++frac_len, any = true;
  }
  if (!any) throw bad();
  int64_t exp = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) eneg = text[i++] == '-';
    bool edig = false;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      exp = exp * 10 + (text[i++] - '0');
      edig = true;
      if (exp > kMaxExponent)
        throw Error(ErrorKind::kUnsupported,
                    std::string(keyword) + ": the exponent of \"" + std::string(text) + "\" is too large");
    }
    if (!edig) throw bad();
    if (eneg) exp = -exp;
  }
  if (i != text.size()) throw bad();
  size_t first = mant.find_first_not_of('0');
  if (first == std::string::npos) return Decimal{};  // zero (sign dropped)
  size_t last = mant.find_last_not_of('0');
  d.digits = mant.substr(first, last - first + 1);
  d.exponent = exp - frac_len + static_cast<int64_t>(mant.size() - 1 - last);
  return d;
}

// Compares |a| and |b|.
int compare_magnitude(const Decimal& a, const Decimal& b) {
  if (a.is_zero() || b.is_zero()) return a.is_zero() == b.is_zero() ? 0 : a.is_zero() ? -1 : 1;
  if (a.magnitude() != b.magnitude()) return a.magnitude() < b.magnitude() ? -1 : 1;
  size_t n = std::max(a.digits.size(), b.digits.size());
  for (size_t i = 0; i < n; ++i) {
    char x = i < a.digits.size() ? a.digits[i] : '0', y = i < b.digits.size() ? b.digits[i] : '0';
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

int compare(const Decimal& a, const Decimal& b) {
  bool an = a.negative && !a.is_zero(), bn = b.negative && !b.is_zero();
  if (an != bn) return an ? -1 : 1;
  int c = compare_magnitude(a, b);
  return an ? -c : c;
}

Decimal negated(Decimal d) {
  if (!d.is_zero()) d.negative = !d.negative;
  return d;
}

void check_expansion(int64_t len, const char* what) {
  if (len > static_cast<int64_t>(kMaxExpandedDigits))
    throw Error(ErrorKind::kUnsupported,
                std::string(what) + ": the bound has more than " + std::to_string(kMaxExpandedDigits) +
                    " digits written without exponent");
}

// Integer part of |d| as a canonical digit string ("0" for zero).
std::string integer_digits(const Decimal& d) {
  if (d.is_zero()) return "0";
  if (d.exponent >= 0) {
    check_expansion(static_cast<int64_t>(d.digits.size()) + d.exponent, "bound");
    return d.digits + std::string(static_cast<size_t>(d.exponent), '0');
  }
  int64_t keep = static_cast<int64_t>(d.digits.size()) + d.exponent;
  if (keep <= 0) return "0";
  return d.digits.substr(0, static_cast<size_t>(keep));
}

// Fraction digits of |d| without trailing zeros ("" when whole).
std::string fraction_digits(const Decimal& d) {
  if (d.is_integer()) return "";
  int64_t places = -d.exponent;
  check_expansion(places, "bound");
  int64_t n = static_cast<int64_t>(d.digits.size());
  if (places >= n) return std::string(static_cast<size_t>(places - n), '0') + d.digits;
  return d.digits.substr(static_cast<size_t>(n - places));
}

// Canonical non-negative integer strings ± 1.
std::string increment(std::string s) {
  int i = static_cast<int>(s.size()) - 1;
  while (i >= 0 && s[i] == '9') s[i--] = '0';
  if (i < 0) return "1" + s;
  ++s[i];
  return s;
}
std::string decrement(std::string s) {  // s > 0
  int i = static_cast<int>(s.size()) - 1;
  while (s[i] == '0') s[i--] = '9';
  --s[i];
  if (s.size() > 1 && s[0] == '0') s.erase(0, 1);
  return s;
}
int compare_int(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Regex helpers (ASCII).
RegexPtr lit(std::string_view s) { return Regex::literal(s); }
RegexPtr digit_range(int lo, int hi) {
  if (lo > hi) return Regex::nothing();
  return Regex::chars_of(CharSet::range(U'0' + lo, U'0' + hi));
}
RegexPtr any_digit() { return digit_range(0, 9); }
RegexPtr digits(uint32_t min, uint32_t max) { return Regex::repeat(any_digit(), min, max); }
RegexPtr canonical_integer() {  // 0|[1-9][0-9]*
  return Regex::alt({lit("0"), Regex::concat({digit_range(1, 9), digits(0, kUnbounded)})});
}
RegexPtr zeros(uint32_t min) { return Regex::repeat(lit("0"), min, kUnbounded); }
RegexPtr any_fraction() {  // (\.[0-9]+)?
  return Regex::repeat(Regex::concat({lit("."), digits(1, kUnbounded)}), 0, 1);
}

// Digit strings of length |a| (= |b|) between a and b inclusive (leading zeros as written).
RegexPtr fixed_range(const std::string& a, const std::string& b, size_t i, bool lt, bool ht) {
  size_t n = a.size();
  if (i == n) return Regex::empty();
  uint32_t rest = static_cast<uint32_t>(n - i - 1);
  if (!lt && !ht) return digits(rest + 1, rest + 1);
  int l = lt ? a[i] - '0' : 0, h = ht ? b[i] - '0' : 9;
  if (lt && ht && l == h) return Regex::concat({digit_range(l, l), fixed_range(a, b, i + 1, true, true)});
  std::vector<RegexPtr> alts;
  if (lt) alts.push_back(Regex::concat({digit_range(l, l), fixed_range(a, b, i + 1, true, false)}));
  int flo = lt ? l + 1 : 0, fhi = ht ? h - 1 : 9;
  if (flo <= fhi) alts.push_back(Regex::concat({digit_range(flo, fhi), digits(rest, rest)}));
  if (ht) alts.push_back(Regex::concat({digit_range(h, h), fixed_range(a, b, i + 1, false, true)}));
  return Regex::alt(std::move(alts));
}

// Canonical non-negative integers (0|[1-9][0-9]*) in [a, b]; b empty = no upper bound.
RegexPtr integer_range(const std::string& a, const std::string& b) {
  if (!b.empty() && compare_int(a, b) > 0) return Regex::nothing();
  size_t na = a.size();
  auto nines = [](size_t n) { return std::string(n, '9'); };
  auto power = [](size_t n) { return "1" + std::string(n - 1, '0'); };  // 10^(n-1)
  if (!b.empty() && b.size() == na) return fixed_range(a, b, 0, true, true);
  std::vector<RegexPtr> alts;
  alts.push_back(fixed_range(a, nines(na), 0, true, true));
  if (b.empty()) {
    alts.push_back(Regex::concat({digit_range(1, 9), digits(static_cast<uint32_t>(na), kUnbounded)}));
  } else {
    size_t nb = b.size();
    if (nb >= na + 2)
      alts.push_back(Regex::concat(
          {digit_range(1, 9), digits(static_cast<uint32_t>(na), static_cast<uint32_t>(nb - 2))}));
    alts.push_back(fixed_range(power(nb), b, 0, true, true));
  }
  return Regex::alt(std::move(alts));
}

// A bound on a non-negative quantity: value, exclusive?
struct Bound {
  Decimal value;
  bool exclusive = false;
};

// Fraction digit strings f (value 0.f) with lo ≤/< 0.f ≤/< hi, where lo/hi are fraction digit
// strings without trailing zeros; `lt`/`ht` = still equal to lo's / hi's prefix so far.
struct FractionRange {
  const std::string* lo = nullptr;
  bool lo_exclusive = false;
  const std::string* hi = nullptr;
  bool hi_exclusive = false;

  RegexPtr at(size_t i, bool lt, bool ht, bool nonempty) const {
    if (lt && i >= lo->size() && !lo_exclusive) lt = false;  // the rest is ≥ 0 = lo's rest
    if (ht && i >= hi->size()) {                           // hi's rest is 0: only zeros fit
      if (hi_exclusive || lt) return Regex::nothing();
      return zeros(nonempty ? 1 : 0);
    }
    if (!lt && !ht) return digits(nonempty ? 1 : 0, kUnbounded);
    if (lt && i >= lo->size())  // exclusive, nothing above: some nonzero digit must follow
      return Regex::concat({zeros(0), digit_range(1, 9), digits(0, kUnbounded)});
    int l = lt ? (i < lo->size() ? (*lo)[i] - '0' : 0) : 0;
    int h = ht ? (*hi)[i] - '0' : 9;
    std::vector<RegexPtr> alts;
    if (!nonempty && !lt) alts.push_back(Regex::empty());  // stopping here: below hi, lo satisfied
    if (lt && ht && l == h) {
      alts.push_back(Regex::concat({digit_range(l, l), at(i + 1, true, true, false)}));
    } else {
      if (lt) alts.push_back(Regex::concat({digit_range(l, l), at(i + 1, true, false, false)}));
      int flo = lt ? l + 1 : 0, fhi = ht ? h - 1 : 9;
      if (flo <= fhi) alts.push_back(Regex::concat({digit_range(flo, fhi), digits(0, kUnbounded)}));
      if (ht) alts.push_back(Regex::concat({digit_range(h, h), at(i + 1, false, true, false)}));
    }
    return Regex::alt(std::move(alts));
  }
  // "" or "." digits: the fraction part of a plain literal.
  RegexPtr literal_part() const {
    bool lt = lo != nullptr, ht = hi != nullptr;
    // An absent fraction is 0: fine unless lo's fraction is nonzero or lo is exclusive at 0.
    bool empty_ok = !lt || (lo->empty() && !lo_exclusive);
    if (ht && hi->empty() && hi_exclusive) empty_ok = false;
    return Regex::alt({empty_ok ? Regex::empty() : Regex::nothing(),
                       Regex::concat({lit("."), at(0, lt, ht, true)})});
  }
};

// Unsigned plain literals (0|[1-9][0-9]*)(\.[0-9]+)? with value in [lo, hi] (hi absent = ∞).
RegexPtr plain_magnitude(const Bound& lo, const std::optional<Bound>& hi) {
  if (hi) {
    int c = compare(lo.value, hi->value);
    if (c > 0 || (c == 0 && (lo.exclusive || hi->exclusive))) return Regex::nothing();
  }
  std::string li = integer_digits(lo.value), lf = fraction_digits(lo.value);
  std::vector<RegexPtr> alts;
  if (!hi) {
    FractionRange fr{&lf, lo.exclusive, nullptr, false};
    alts.push_back(Regex::concat({lit(li), fr.literal_part()}));
    alts.push_back(Regex::concat({integer_range(increment(li), ""), any_fraction()}));
    return Regex::alt(std::move(alts));
  }
  std::string hi_i = integer_digits(hi->value), hf = fraction_digits(hi->value);
  if (li == hi_i) {
    FractionRange fr{&lf, lo.exclusive, &hf, hi->exclusive};
    return Regex::concat({lit(li), fr.literal_part()});
  }
  FractionRange low{&lf, lo.exclusive, nullptr, false};
  FractionRange high{nullptr, false, &hf, hi->exclusive};
  alts.push_back(Regex::concat({lit(li), low.literal_part()}));
  std::string mid_lo = increment(li);
  if (compare_int(mid_lo, hi_i) < 0)
    alts.push_back(Regex::concat({integer_range(mid_lo, decrement(hi_i)), any_fraction()}));
  alts.push_back(Regex::concat({lit(hi_i), high.literal_part()}));
  return Regex::alt(std::move(alts));
}

// Unsigned plain literals with an all-zero fraction whose (integer) value is in [lo, hi].
RegexPtr integer_magnitude(const Bound& lo, const std::optional<Bound>& hi) {
  // Smallest admissible integer ≥ lo, largest ≤ hi.
  std::string a = integer_digits(lo.value);
  if (!lo.value.is_integer() || lo.exclusive) a = increment(a);
  std::string b;
  if (hi) {
    b = integer_digits(hi->value);
    if (hi->value.is_integer() && hi->exclusive) {
      if (b == "0") return Regex::nothing();
      b = decrement(b);
    }
  }
  RegexPtr ints = integer_range(a, b);
  return Regex::concat({ints, Regex::repeat(Regex::concat({lit("."), zeros(1)}), 0, 1)});
}

// Exponent text [+-]?[0-9]+ (leading zeros allowed, "-0" = 0) with value in [lo, hi].
RegexPtr exponent_range(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  if (lo && hi && *lo > *hi) return Regex::nothing();
  std::vector<RegexPtr> alts;
  // value = +x, x ≥ 0
  if (!hi || *hi >= 0) {
    std::string a = std::to_string(lo ? std::max<int64_t>(*lo, 0) : 0);
    std::string b = hi ? std::to_string(*hi) : "";
    alts.push_back(Regex::concat(
        {Regex::repeat(lit("+"), 0, 1), zeros(0), integer_range(a, b)}));
  }
  // value = -x, x ≥ 0
  if (!lo || *lo <= 0) {
    std::string a = std::to_string(hi ? std::max<int64_t>(-*hi, 0) : 0);
    std::string b = lo ? std::to_string(-*lo) : "";
    alts.push_back(Regex::concat({lit("-"), zeros(0), integer_range(a, b)}));
  }
  return Regex::alt(std::move(alts));
}

// The mantissa d.ddd of a nonzero decimal (value in [1, 10)).
Decimal mantissa_of(const Decimal& d) {
  Decimal m = d;
  m.negative = false;
  m.exponent = -static_cast<int64_t>(d.digits.size()) + 1;
  return m;
}

// Unsigned normalised scientific literals [1-9](\.[0-9]+)?[eE][+-]?[0-9]+ with value in [lo, hi].
RegexPtr scientific_magnitude(const Bound& lo, const std::optional<Bound>& hi) {
  if (hi && hi->value.is_zero()) return Regex::nothing();  // their value is > 0
  auto e = Regex::chars_of(CharSet({{U'e', U'e'}, {U'E', U'E'}}));
  auto mantissa = [&](std::optional<Bound> mlo, std::optional<Bound> mhi) {
    Bound l = mlo ? *mlo : Bound{parse_decimal("1", "mantissa"), false};
    Bound h = mhi ? *mhi : Bound{parse_decimal("10", "mantissa"), true};
    return plain_magnitude(l, h);
  };
  std::optional<int64_t> el, eh;
  if (!lo.value.is_zero()) el = lo.value.magnitude();
  if (hi) eh = hi->value.magnitude();
  std::optional<Bound> ml, mh;
  if (el) ml = Bound{mantissa_of(lo.value), lo.exclusive};
  if (eh) mh = Bound{mantissa_of(hi->value), hi->exclusive};
  std::vector<RegexPtr> alts;
  auto add = [&](RegexPtr m, std::optional<int64_t> a, std::optional<int64_t> b) {
    alts.push_back(Regex::concat({std::move(m), e, exponent_range(a, b)}));
  };
  if (el && eh && *el == *eh) {
    add(mantissa(ml, mh), el, eh);
    return Regex::alt(std::move(alts));
  }
  if (el) add(mantissa(ml, std::nullopt), el, el);
  std::optional<int64_t> mid_lo, mid_hi;
  if (el) mid_lo = *el + 1;
  if (eh) mid_hi = *eh - 1;
  if (!(mid_lo && mid_hi && *mid_lo > *mid_hi)) add(mantissa(std::nullopt, std::nullopt), mid_lo, mid_hi);
  if (eh) add(mantissa(std::nullopt, mh), eh, eh);
  return Regex::alt(std::move(alts));
}

// ---------------------------------------------------------------------------------------------
// multipleOf m = p / 10^k.

struct Multiple {
  std::string p;  // canonical integer digits
  uint64_t k = 0;
};


// Signed plain literals -?(0|[1-9][0-9]*)(\.[0-9]+)? whose value is a multiple of p/10^k, as a
// regex on the last digits when p = 2^a·5^b with at most kMaxResidueWindows residues; else null.
RegexPtr multiple_by_last_digits(uint64_t p, uint64_t k) {
  uint64_t q = p;
  int a = 0, b = 0;
  while (q % 2 == 0) q /= 2, ++a;
  while (q % 5 == 0) q /= 5, ++b;
  if (q != 1) return nullptr;
  uint64_t t = static_cast<uint64_t>(std::max(a, b));  // p divides 10^t
  if (t > 6 || k > kMaxExpandedDigits) return nullptr;
  uint64_t window = 1;
  for (uint64_t i = 0; i < t; ++i) window *= 10;
  if (window / p > kMaxResidueWindows) return nullptr;
  uint64_t ulen = t > k ? t - k : 0, vlen = std::min(t, k);
  std::vector<RegexPtr> alts;
  for (uint64_t w = 0; w < window; w += p) {
    std::string ws = t == 0 ? std::string() : std::to_string(w);
    ws = std::string(t - ws.size(), '0') + ws;
    std::string u = ws.substr(0, ulen), v = ws.substr(ulen);
    RegexPtr int_part;
    if (ulen == 0) {
      int_part = canonical_integer();
    } else {
      size_t nz = u.find_first_not_of('0');
      std::string canon = nz == std::string::npos ? "0" : u.substr(nz);
      int_part = Regex::alt({Regex::concat({digit_range(1, 9), digits(0, kUnbounded), lit(u)}), lit(canon)});
    }
    // Fraction padded with zeros must read X v 0 0 0..., X any k - vlen digits.
    std::vector<RegexPtr> pattern;
    std::vector<bool> zero_ok;
    for (uint64_t i = 0; i < k - vlen; ++i) pattern.push_back(any_digit()), zero_ok.push_back(true);
    for (char c : v) pattern.push_back(lit(std::string(1, c))), zero_ok.push_back(c == '0');
    size_t n = pattern.size();
    std::vector<bool> rest_zero(n + 1, true);  // pattern[i..] all admit 0
    for (size_t i = n; i-- > 0;) rest_zero[i] = rest_zero[i + 1] && zero_ok[i];
    RegexPtr tail = zeros(0);  // R_n
    for (size_t i = n; i-- > 1;)
      tail = Regex::alt({Regex::concat({pattern[i], tail}), rest_zero[i] ? Regex::empty() : Regex::nothing()});
    RegexPtr nonempty = n == 0 ? zeros(1) : Regex::concat({pattern[0], tail});
    RegexPtr frac = Regex::alt({rest_zero[0] ? Regex::empty() : Regex::nothing(),
                                Regex::concat({lit("."), nonempty})});
    alts.push_back(Regex::concat({int_part, frac}));
  }
  return Regex::concat({Regex::repeat(lit("-"), 0, 1), Regex::alt(std::move(alts))});
}

// The same language as a modular automaton over the digits (the '.' skipped).
std::shared_ptr<const ByteAutomaton> multiple_automaton(uint64_t p, uint64_t k) {
  uint64_t jmax = std::max<uint64_t>(k, 1);
  if (p > kMaxMultipleStates || jmax > kMaxMultipleStates)
    throw Error(ErrorKind::kUnsupported, "multipleOf: needs more than " +
                                             std::to_string(kMaxMultipleStates) + " automaton states");
  // States: 0 start, 1 after '-', 2 integer part "0", I(r) = 3 + r, D(r) = 3 + p + r (after '.'),
  // F(r, j) = 3 + 2p + (j - 1)·p + r (j fraction digits read, j capped at jmax).
  uint64_t total = 3 + 2 * p + jmax * p;
  if (total > kMaxMultipleStates)
    throw Error(ErrorKind::kUnsupported,
                "multipleOf: needs a " + std::to_string(total) + "-state automaton (limit " +
                    std::to_string(kMaxMultipleStates) + ")");
  auto a = std::make_shared<ByteAutomaton>();
  a->edges.resize(total);
  a->finals.assign(total, 0);
  auto I = [&](uint64_t r) { return static_cast<uint32_t>(3 + r); };
  auto D = [&](uint64_t r) { return static_cast<uint32_t>(3 + p + r); };
  auto F = [&](uint64_t r, uint64_t j) { return static_cast<uint32_t>(3 + 2 * p + (j - 1) * p + r); };
  // 10^e mod p for e ≤ k.
  std::vector<uint64_t> pow10(k + 1, 1 % p);
  for (uint64_t e = 1; e <= k; ++e) pow10[e] = pow10[e - 1] * 10 % p;
  auto digit = [](uint8_t d, uint32_t to) { return ByteAutomaton::Edge{uint8_t('0' + d), uint8_t('0' + d), to}; };
  for (uint32_t s : {0u, 1u}) {
    a->edges[s].push_back(digit(0, 2));
    for (uint8_t d = 1; d <= 9; ++d) a->edges[s].push_back(digit(d, I(d % p)));
  }
  a->edges[0].push_back({'-', '-', 1});
  a->edges[2].push_back({'.', '.', D(0)});
  a->finals[2] = 1;
  for (uint64_t r = 0; r < p; ++r) {
    for (uint8_t d = 0; d <= 9; ++d) a->edges[I(r)].push_back(digit(d, I((r * 10 + d) % p)));
    a->edges[I(r)].push_back({'.', '.', D(r)});
    a->finals[I(r)] = (r * pow10[k]) % p == 0;
    for (uint8_t d = 0; d <= 9; ++d) {
      if (k >= 1) a->edges[D(r)].push_back(digit(d, F((r * 10 + d) % p, 1)));
      else if (d == 0) a->edges[D(r)].push_back(digit(0, F(r, 1)));
    }
    for (uint64_t j = 1; j <= jmax; ++j) {
      uint32_t s = F(r, j);
      if (j < k) {
        for (uint8_t d = 0; d <= 9; ++d) a->edges[s].push_back(digit(d, F((r * 10 + d) % p, j + 1)));
        a->finals[s] = (r * pow10[k - j]) % p == 0;
      } else {
        a->edges[s].push_back(digit(0, s));  // past place k only zeros
        a->finals[s] = r == 0;
      }
    }
  }
  return a;
}

Multiple parse_multiple(const std::string& text) {
  Decimal m = parse_decimal(text, "multipleOf");
  if (m.is_zero() || m.negative)
    throw Error(ErrorKind::kSchema, "multipleOf: \"" + text + "\" must be greater than 0");
  Multiple out;
  if (m.exponent >= 0) {
    check_expansion(static_cast<int64_t>(m.digits.size()) + m.exponent, "multipleOf");
    out.p = m.digits + std::string(static_cast<size_t>(m.exponent), '0');
  } else {
    check_expansion(-m.exponent, "multipleOf");
    out.p = m.digits;
    out.k = static_cast<uint64_t>(-m.exponent);
  }
  return out;
}

RegexPtr multiple_regex(Multiple m, bool integer) {
  if (m.p.size() > 18)
    throw Error(ErrorKind::kUnsupported, "multipleOf: " + m.p + " has too many significant digits");
  uint64_t p = std::stoull(m.p), k = m.k;
  if (integer) {  // integer and multiple of p/10^k ⇔ multiple of p / gcd(p, 10^k)
    uint64_t twos = 0, fives = 0;
    while (p % 2 == 0 && twos < k) p /= 2, ++twos;
    while (p % 5 == 0 && fives < k) p /= 5, ++fives;
    k = 0;
  }
  if (RegexPtr r = multiple_by_last_digits(p, k)) return r;
  return Regex::automaton_of(multiple_automaton(p, k));
}

RegexPtr any_json_number() {
  auto frac = any_fraction();
  auto exp = Regex::repeat(
      Regex::concat({Regex::chars_of(CharSet({{U'e', U'e'}, {U'E', U'E'}})),
                     Regex::repeat(Regex::chars_of(CharSet({{U'+', U'+'}, {U'-', U'-'}})), 0, 1),
                     digits(1, kUnbounded)}),
      0, 1);
  return Regex::concat({Regex::repeat(lit("-"), 0, 1), canonical_integer(), frac, exp});
}

}  // namespace

RegexPtr json_number_regex(const NumberConstraints& c) {
  std::optional<Bound> lo, hi;
  if (c.minimum) lo = Bound{parse_decimal(*c.minimum, "minimum"), c.exclusive_minimum};
  if (c.maximum) hi = Bound{parse_decimal(*c.maximum, "maximum"), c.exclusive_maximum};
  std::optional<Multiple> mult;
  if (c.multiple_of) mult = parse_multiple(*c.multiple_of);
  if (!c.integer && !lo && !hi && !mult) return any_json_number();
  if (lo && hi) {
    int cmp = compare(lo->value, hi->value);
    if (cmp > 0 || (cmp == 0 && (lo->exclusive || hi->exclusive))) return Regex::nothing();
  }

  RegexPtr range;
  if (lo || hi) {
    bool scientific = !c.integer && !mult;
    auto branch = [&](const Bound& l, const std::optional<Bound>& h) {
      RegexPtr plain = c.integer ? integer_magnitude(l, h) : plain_magnitude(l, h);
      if (!scientific) return plain;
      return Regex::alt({plain, scientific_magnitude(l, h)});
    };
    const Bound zero{Decimal{}, false};
    std::vector<RegexPtr> alts;
    // value x ≥ 0: x in [max(lo, 0), hi]
    if (!hi || !hi->value.negative || hi->value.is_zero()) {
      Bound l = (lo && compare(lo->value, Decimal{}) >= 0) ? *lo : zero;
      alts.push_back(branch(l, hi));
    }
    // value -x, x ≥ 0: x in [max(-hi, 0), -lo]
    if (!lo || lo->value.negative || lo->value.is_zero()) {
      Bound l = (hi && compare(hi->value, Decimal{}) <= 0) ? Bound{negated(hi->value), hi->exclusive} : zero;
      std::optional<Bound> h;
      if (lo) h = Bound{negated(lo->value), lo->exclusive};
      alts.push_back(Regex::concat({lit("-"), branch(l, h)}));
    }
    range = Regex::alt(std::move(alts));
  } else if (c.integer && !mult) {
    range = integer_magnitude(Bound{Decimal{}, false}, std::nullopt);
    range = Regex::concat({Regex::repeat(lit("-"), 0, 1), range});
  }
  if (!mult) return range;
  RegexPtr multiple = multiple_regex(*mult, c.integer);
  if (!range) return multiple;
  if (range->kind == Regex::Kind::kNothing) return range;
  return Regex::intersect({range, multiple});
}

}  // namespace tollgate::grammar
