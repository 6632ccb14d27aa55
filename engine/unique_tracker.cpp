#include "engine/unique_tracker.hpp"

#include "engine/json_scan.hpp"

#include <algorithm>
#include <map>

namespace tollgate::engine {

namespace {

bool is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The decoded content of one JSON string's text (with its quotes); false when it is not one.
bool decode_string(std::string_view text, std::string& out) {
  try {
    JsonScanner sc(text);
    sc.parse_string(out);
    return sc.pos() == text.size();
  } catch (const Error&) {
    return false;
  }
}

// The canonical form of a number's text: sign, significant digits and decimal exponent
// (d1d2d3... × 10^(e - digits)), "n0" for every zero: 1 = 1.0 = 10e-1 = "n1e1".
std::string canonical_number(std::string_view t) {
  size_t i = 0;
  bool neg = i < t.size() && t[i] == '-';
  if (neg) ++i;
  std::string digits;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') digits += t[i++];
  const int64_t point = static_cast<int64_t>(digits.size());  // digits before the decimal point
  if (i < t.size() && t[i] == '.')
    for (++i; i < t.size() && t[i] >= '0' && t[i] <= '9';) digits += t[i++];
  int64_t exp = 0;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    bool eneg = i < t.size() && t[i] == '-';
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i)
      if (exp < (int64_t{1} << 50)) exp = exp * 10 + (t[i] - '0');  // beyond: saturated
    if (eneg) exp = -exp;
  }
  size_t lead = 0;
  while (lead < digits.size() && digits[lead] == '0') ++lead;
  if (lead == digits.size()) return "n0";
  size_t end = digits.size();
  while (end > lead && digits[end - 1] == '0') --end;
  std::string out = neg ? "n-" : "n";
  out.append(digits, lead, end - lead);
  out += 'e' + std::to_string(exp + point - static_cast<int64_t>(lead));
  return out;
}

// One JSON value read with a JsonScanner (which validates it) into its canonical form: strings
// "s<len>:<decoded>", objects with their members sorted by decoded key (the last of a repeated
// key), arrays element-wise, numbers as canonical_number. Nesting deeper than kMaxDepth throws.
void canonical_value(JsonScanner& sc, std::string& out, int depth) {
  constexpr int kMaxDepth = 256;
  if (depth > kMaxDepth) sc.fail("nested too deep to compare");
  char c = sc.peek();
  if (c == '"') {
    std::string s;
    sc.parse_string(s);
    out += 's' + std::to_string(s.size()) + ':' + s;
  } else if (c == '[') {
    sc.begin_array();
    out += '[';
    bool first = true;
    while (sc.next_element()) {
      bool saved = sc.first_flag();
      if (!first) out += ',';
      first = false;
      canonical_value(sc, out, depth + 1);
      sc.set_first_flag(saved);
    }
    out += ']';
  } else if (c == '{') {
    sc.begin_object();
    std::map<std::string, std::string> members;
    std::string k;
    while (sc.next_key(k)) {
      bool saved = sc.first_flag();
      std::string v;
      canonical_value(sc, v, depth + 1);
      members[k] = std::move(v);
      sc.set_first_flag(saved);
      k.clear();
    }
    out += '{';
    for (const auto& [key, v] : members) out += std::to_string(key.size()) + ':' + key + v + ',';
    out += '}';
  } else {
    std::string_view v = sc.skip_value();
    if (v == "true") out += 't';
    else if (v == "false") out += 'f';
    else if (v == "null") out += 'z';
    else out += canonical_number(v);
  }
}

// The bytes json.dumps(ensure_ascii=False) writes for the content of a string.
std::string spell(std::string_view s) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

// The ways a JSON string may spell byte c (ASCII) beside spell(): `\/`, upper-case \u00XX.
std::vector<std::string> spellings(unsigned char c) {
  std::vector<std::string> v{spell(std::string(1, static_cast<char>(c)))};
  if (c == '/') v.push_back("\\/");
  if (c < 0x20) {
    static const char* kHex = "0123456789ABCDEF";
    v.push_back(std::string("\\u00") + kHex[c >> 4] + kHex[c & 15]);
    if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') {
      static const char* kLow = "0123456789abcdef";
      v.push_back(std::string("\\u00") + kLow[c >> 4] + kLow[c & 15]);
    }
  }
  return v;
}

}  // namespace

std::string canonical_json(std::string_view text) {
  try {
    JsonScanner sc(text);
    std::string out;
    canonical_value(sc, out, 0);
    sc.expect_end();
    return out;
  } catch (const Error&) {
    return {};
  }
}

uint32_t UniqueTracker::next_path() const {
  if (stack_.empty()) return done_ ? 0 : (plan_->states.size() > 1 ? 1 : 0);
  return stack_.back().child;
}

void UniqueTracker::value_start(uint8_t c) {
  if (!stack_.empty()) {
    Frame& f = stack_.back();
    if (!f.object) f.want_item = false;
    if (unique(f)) {
      f.item_start = raw_.size();
      ++items_open_;
    }
  }
  if (items_open_ > 0) raw_ += static_cast<char>(c);
}

// The value that just ended is an item of the top frame (when an array): checked and recorded.
bool UniqueTracker::value_done() {
  if (stack_.empty()) {
    done_ = true;
    return true;
  }
  Frame& f = stack_.back();
  if (f.object) f.after_value = true;
  if (!unique(f) || f.item_start == std::string::npos) return true;
  std::string canon = canonical_json(std::string_view(raw_).substr(f.item_start));
  if (canon.empty() || (f.seen && f.seen->count(canon))) return false;
  auto seen = f.seen ? std::make_shared<std::set<std::string>>(*f.seen) : std::make_shared<std::set<std::string>>();
  seen->insert(std::move(canon));
  f.seen = std::move(seen);
  f.item_start = std::string::npos;  // (the text stays: an enclosing unique item holds it)
  if (--items_open_ == 0) raw_.clear();
  return true;
}

bool UniqueTracker::feed(uint8_t c) {
  switch (mode_) {
    case Mode::kString:
      if (items_open_ > 0) raw_ += static_cast<char>(c);
      if (key_) key_raw_ += static_cast<char>(c);
      if (esc_ == 1) {
        esc_ = c == 'u' ? 2 : 0;
      } else if (esc_ >= 2) {
        esc_ = esc_ == 5 ? 0 : esc_ + 1;
      } else if (c == '\\') {
        esc_ = 1;
      } else if (c == '"') {
        mode_ = Mode::kValue;
        if (key_) {
          key_ = false;
          Frame& f = stack_.back();
          f.expect_key = false;
          f.child = 0;
          if (f.path != 0) {
            std::string k;
            if (!decode_string(key_raw_, k)) return false;
            const auto& s = st(f.path);
            auto it = s.keys.find(k);
            f.child = it != s.keys.end() ? it->second : s.other_keys;
            if (f.req_left > 0) {
              auto r = std::lower_bound(s.required.begin(), s.required.end(), k);
              if (r != s.required.end() && *r == k) {
                const size_t i = static_cast<size_t>(r - s.required.begin());
                if (!((*f.req_met)[i >> 6] >> (i & 63) & 1)) {
                  auto met = std::make_shared<std::vector<uint64_t>>(*f.req_met);
                  (*met)[i >> 6] |= uint64_t{1} << (i & 63);
                  f.req_met = std::move(met);
                  if (--f.req_left == 0) --keys_open_;
                }
              }
            }
          }
          key_raw_.clear();
          return true;
        }
        return value_done();
      }
      return true;
    case Mode::kLiteral:
      if (items_open_ > 0) raw_ += static_cast<char>(c);
      if (--lit_left_ == 0) {
        mode_ = Mode::kValue;
        return value_done();
      }
      return true;
    case Mode::kNumber:
      if ((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
        if (items_open_ > 0) raw_ += static_cast<char>(c);
        return true;
      }
      mode_ = Mode::kValue;
      if (!value_done()) return false;
      break;  // c is read below
    case Mode::kValue:
      break;
  }
  if (is_ws(c)) {
    if (items_open_ > 0) raw_ += static_cast<char>(c);
    return true;
  }
  Frame* top = stack_.empty() ? nullptr : &stack_.back();
  switch (c) {
    case '{':
    case '[': {
      uint32_t path = next_path();
      value_start(c);
      Frame f;
      f.object = c == '{';
      f.expect_key = f.object;
      f.path = path;
      const auto& s = st(path);
      if (!f.object) {
        f.child = s.index.empty() ? s.items_state : s.index[0];
        if (s.unique) ++unique_open_;
      } else if (!s.required.empty()) {
        f.req_left = static_cast<uint32_t>(s.required.size());
        f.req_met = std::make_shared<const std::vector<uint64_t>>((s.required.size() + 63) / 64, 0);
        ++keys_open_;
      }
      stack_.push_back(std::move(f));
      return true;
    }
    case '}':
    case ']': {
      if (!top) return false;
      if (top->req_left > 0) return false;  // an object without a key it requires
      if (unique(*top)) --unique_open_;
      stack_.pop_back();
      if (items_open_ > 0) raw_ += static_cast<char>(c);
      return value_done();
    }
    case ',':
      if (!top) return false;
      if (items_open_ > 0) raw_ += static_cast<char>(c);
      if (top->object) {
        top->expect_key = true;
        top->after_value = false;
      } else {
        top->want_item = true;
        ++top->index;
        const auto& s = st(top->path);
        top->child = top->index < s.index.size() ? s.index[top->index] : s.items_state;
      }
      return true;
    case ':':
      if (items_open_ > 0) raw_ += static_cast<char>(c);
      return top != nullptr;
    case '"':
      if (top && top->object && top->expect_key) {
        key_ = true;
        key_raw_ = "\"";
        if (items_open_ > 0) raw_ += static_cast<char>(c);
      } else {
        value_start(c);
      }
      mode_ = Mode::kString;
      esc_ = 0;
      return true;
    case 't':
    case 'f':
    case 'n':
      value_start(c);
      mode_ = Mode::kLiteral;
      lit_left_ = c == 'f' ? 4 : 3;
      return true;
    default:
      if (c == '-' || (c >= '0' && c <= '9')) {
        value_start(c);
        mode_ = Mode::kNumber;
        return true;
      }
      return false;
  }
}

const UniqueTracker::Frame* UniqueTracker::innermost_unique() const {
  for (size_t i = stack_.size(); i-- > 0;)
    if (unique(stack_[i])) return &stack_[i];
  return nullptr;
}

bool UniqueTracker::quote_tokens_suffice() const {
  if (mode_ != Mode::kString) return false;
  const Frame* u = innermost_unique();
  return !u || st(u->path).shape(u->index).items != grammar::UniquePlan::Items::kListed;
}

bool UniqueTracker::may_close_lacking(std::string_view bytes) const {
  // closes needed to reach the innermost object that lacks keys (none: only one the bytes open)
  size_t need = 0;
  for (size_t i = stack_.size(); i-- > 0;)
    if (stack_[i].req_left > 0) {
      need = stack_.size() - i;
      break;
    }
  bool in_string = mode_ == Mode::kString, escaped = esc_ == 1;
  size_t opened = 0;
  for (unsigned char c : bytes) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++opened;
    } else if (c == '}' || c == ']') {
      if (opened > 0) {
        if (c == '}') return true;  // an object the bytes opened (it may require keys)
        --opened;
      } else if (need > 0 && --need == 0) {
        return true;
      }
    }
  }
  return false;
}

bool UniqueTracker::comma_due() const {
  if (!plan_->layout_commits || stack_.empty() || mode_ != Mode::kValue) return false;
  const Frame& f = stack_.back();
  return f.object && f.req_left > 0 && f.after_value;
}

bool UniqueTracker::may_be_dead() const { return comma_due() || unique_may_be_dead(); }

bool UniqueTracker::unique_may_be_dead() const {
  if (stack_.empty() || !unique(stack_.back())) return false;
  const Frame& u = stack_.back();
  if (st(u.path).shape(u.index).items == grammar::UniquePlan::Items::kListed) return true;
  return (mode_ == Mode::kLiteral || mode_ == Mode::kNumber) && u.item_start != std::string::npos;
}

bool UniqueTracker::alive(const std::function<bool(std::string_view)>& accepts) const {
  // an object that lacks keys must not be left only its '}' (comma_due: the innermost frame is
  // that object, not a unique array)
  if (comma_due()) return accepts(",");
  if (!unique_may_be_dead()) return true;
  const Frame& u = stack_.back();
  const auto& s = st(u.path).shape(u.index);
  auto fresh = [&](const std::string& canon) { return !u.seen || !u.seen->count(canon); };
  if (u.item_start != std::string::npos) {
    std::string_view p = std::string_view(raw_).substr(u.item_start);
    if (mode_ == Mode::kLiteral) {
      const char* word = p[0] == 't' ? "true" : p[0] == 'f' ? "false" : "null";
      return fresh(canonical_json(word));
    }
    if (mode_ == Mode::kNumber) {
      // Digits that change the value give infinitely many: a mantissa that can still grow, or an
      // exponent under a mantissa that is not zero. Otherwise the only value left is the number
      // as it stands (or zero, under a zero mantissa).
      bool in_exp = p.find_first_of("eE") != std::string_view::npos;
      bool zero = p.substr(0, p.find_first_of("eE")).find_first_of("123456789") == std::string_view::npos;
      // Without asking the grammar: its free numbers are JSON's (the plan holds no bounded number
      // items), where a digit may follow a digit of the fraction, of an exponent, or of an integer
      // part that does not start with 0 — each a new value (under a zero mantissa, not in the exponent).
      if (p.back() >= '0' && p.back() <= '9') {
        size_t digits = p[0] == '-' ? 1 : 0;
        bool in_frac = p.find('.') != std::string_view::npos;
        if (in_exp ? !zero : (in_frac || p[digits] != '0')) return true;
      }
      if (!in_exp && (accepts("1") || accepts(".1") || (!zero && accepts("e1")))) return true;
      if (in_exp && !zero && accepts("1")) return true;
      std::string value = in_exp && zero ? std::string("0") : std::string(p);
      std::string canon = canonical_json(value);
      if (canon.empty() || !fresh(canon)) return false;
      if (in_exp && zero) return true;  // some exponent digits end it
      for (const char* d : {",", "]", " ", "\n"})
        if (accepts(d)) return true;
      return false;
    }
    if (mode_ != Mode::kString) return true;
    // the decoded prefix, and an escape not finished yet
    std::string done, pending;
    {
      size_t i = 1;
      while (i < p.size()) {
        if (p[i] != '\\') {
          done += p[i++];
          continue;
        }
        size_t len = i + 1 < p.size() && p[i + 1] == 'u' ? 6 : 2;
        if (i + len > p.size()) {
          pending = std::string(p.substr(i));
          break;
        }
        std::string dec;
        if (!decode_string("\"" + std::string(p.substr(i, len)) + "\"", dec)) return false;
        done += dec;
        i += len;
      }
    }
    for (const auto& v : s.listed_strings) {
      if (v.compare(0, done.size(), done) != 0 || done.size() > v.size()) continue;
      if (!fresh(canonical_json("\"" + spell(v) + "\""))) continue;
      std::string_view rest = std::string_view(v).substr(done.size());
      if (pending.empty()) {
        if (accepts(spell(rest) + "\"")) return true;
        continue;
      }
      if (rest.empty()) continue;
      for (const auto& sp : spellings(static_cast<unsigned char>(rest[0])))
        if (sp.compare(0, pending.size(), pending) == 0 &&
            accepts(sp.substr(pending.size()) + spell(rest.substr(1)) + "\""))
          return true;
    }
    return false;
  }
  // between items: after '[' the array may close; otherwise an item must come
  if (!u.want_item) return true;
  if (u.index == 0 && accepts("]")) return true;
  for (const auto& v : s.listed_strings) {
    std::string text = "\"" + spell(v) + "\"";
    if (fresh(canonical_json(text)) && accepts(text)) return true;
  }
  for (const char* w : {"true", "false", "null"}) {
    bool listed = w[0] == 't' ? s.listed_true : w[0] == 'f' ? s.listed_false : s.listed_null;
    if (listed && fresh(canonical_json(w)) && accepts(w)) return true;
  }
  return false;
}

}  // namespace tollgate::engine
