// parse_ordered_json (see json_ordered.hpp): a strict reader (Reader) calling a SAX-style builder
// (Builder) that makes the ordered_json DOM, gathering each object's members (found again by key
// hash) until the object closes; the same builder serves nlohmann's sax_parse for the text the
// reader refuses.
#include "grammar/json_ordered.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fsm/utf8.hpp"

namespace tollgate::grammar {
namespace {

using Json = nlohmann::ordered_json;

class Builder {
 public:
  explicit Builder(Json& root) : root_(root) {}

  bool null() { return value(Json(nullptr)); }
  bool boolean(bool v) { return value(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return value(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return value(Json(v)); }
  bool number_float(Json::number_float_t v, const Json::string_t&) { return value(Json(v)); }
  bool string(Json::string_t& v) { return value(Json(std::move(v))); }
  bool binary(Json::binary_t& v) { return value(Json::binary(std::move(v))); }

  bool start_object(std::size_t) { return open(Json::object()); }
  bool key(Json::string_t& k) {
    Frame& f = frames_[depth_ - 1];
    const size_t h = std::hash<std::string_view>{}(k);
    // A repeated key takes the first one's place (ordered_map::operator[]); the value is replaced.
    if (f.by_hash.empty() && f.members.size() < kLinear) {
      for (size_t i = 0; i < f.members.size(); ++i)
        if (f.hashes[i] == h && f.members[i].first == k) return reuse(f.members[i].second);
    } else {
      if (f.by_hash.empty())
        for (size_t i = 0; i < f.members.size(); ++i) f.by_hash.emplace(f.hashes[i], i);
      auto [lo, hi] = f.by_hash.equal_range(h);
      for (auto it = lo; it != hi; ++it)
        if (f.members[it->second].first == k) return reuse(f.members[it->second].second);
      f.by_hash.emplace(h, f.members.size());
    }
    f.hashes.push_back(h);
    f.members.emplace_back(std::move(k), Json());
    slot_ = &f.members.back().second;
    return true;
  }
  bool end_object() {
    // The members move into the object at once: ordered_map's keys are const, so a vector of them
    // copies every key each time it grows.
    Frame& f = frames_[--depth_];
    Json::object_t& o = *f.v->get_ptr<Json::object_t*>();
    o.reserve(f.members.size());
    for (auto& [k, v] : f.members) o.Json::object_t::Container::emplace_back(std::move(k), std::move(v));
    f.members.clear();
    f.hashes.clear();
    f.by_hash.clear();
    return true;
  }
  bool start_array(std::size_t) { return open(Json::array()); }
  bool end_array() {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

 private:
  static constexpr size_t kLinear = 32;  // objects with more keys find duplicates through a hash map
  // An open container. Objects gather their members here until they close; the frames (and their
  // vectors' capacity) are reused by the containers opened later at the same depth.
  struct Frame {
    Json* v = nullptr;
    std::vector<std::pair<std::string, Json>> members;
    std::vector<size_t> hashes;                       // each member's key hash, in order
    std::unordered_multimap<size_t, size_t> by_hash;  // over kLinear members: hash → member
  };

  bool reuse(Json& member) {
    member = Json();
    slot_ = &member;
    return true;
  }
  bool value(Json&& v) {
    place(std::move(v));
    return true;
  }
  bool open(Json&& container) {
    Json* v = place(std::move(container));
    if (depth_ == frames_.size()) frames_.emplace_back();
    frames_[depth_++].v = v;
    return true;
  }
  // Puts `v` where the document's next value goes; returns it there. The address stays valid while
  // the value is an open container: its parent's vector grows only after it closes.
  Json* place(Json&& v) {
    if (depth_ == 0) {
      root_ = std::move(v);
      return &root_;
    }
    Json* top = frames_[depth_ - 1].v;
    if (top->is_array()) {
      Json::array_t& a = *top->get_ptr<Json::array_t*>();
      a.push_back(std::move(v));
      return &a.back();
    }
    *slot_ = std::move(v);
    return slot_;
  }

  Json& root_;
  std::deque<Frame> frames_;  // a deque: a frame's address stays put as deeper ones are added
  size_t depth_ = 0;
  Json* slot_ = nullptr;  // the value of the object member whose key came last
};

// A strict RFC 8259 reader feeding the Builder: ASCII runs of strings are copied whole, other bytes
// go through fsm::decode_utf8 (RFC 3629, as nlohmann's lexer checks them), numbers are converted as
// nlohmann converts them (strtoll / strtoull when integral and in range, else strtod). It refuses
// what nlohmann refuses; whatever it refuses is then handed to nlohmann, so a case it gets wrong
// costs time, never a wrong answer (the test compares both on every maskbench-dev file).
class Reader {
 public:
  Reader(std::string_view text, Builder& b) : t_(text), b_(b) {}

  bool run() {
    // The containers open, innermost last: whether each is an object (else an array).
    std::vector<char> open;
    ws();
    for (;;) {
      // A value.
      if (p_ >= t_.size()) return false;
      const char c = t_[p_];
      if (c == '{' || c == '[') {
        ++p_;
        ws();
        const bool obj = c == '{';
        if (obj ? !b_.start_object(0) : !b_.start_array(0)) return false;
        if (p_ < t_.size() && t_[p_] == (obj ? '}' : ']')) {
          ++p_;
          if (obj ? !b_.end_object() : !b_.end_array()) return false;
        } else {
          open.push_back(obj);
          if (obj && !key()) return false;
          continue;
        }
      } else if (!scalar()) {
        return false;
      }
      // After a value: close what ends here, then a separator.
      for (;;) {
        ws();
        if (open.empty()) return p_ == t_.size();
        if (p_ >= t_.size()) return false;
        const bool obj = open.back();
        const char d = t_[p_++];
        if (d == ',') {
          ws();
          if (obj && !key()) return false;
          break;
        }
        if (d != (obj ? '}' : ']')) return false;
        if (obj ? !b_.end_object() : !b_.end_array()) return false;
        open.pop_back();
      }
    }
  }

 private:
  void ws() {
    while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\n' || t_[p_] == '\r' || t_[p_] == '\t')) ++p_;
  }
  // A member's key, the colon and the space before its value.
  bool key() {
    if (p_ >= t_.size() || t_[p_] != '"' || !string()) return false;
    if (!b_.key(s_)) return false;
    ws();
    if (p_ >= t_.size() || t_[p_] != ':') return false;
    ++p_;
    ws();
    return true;
  }
  bool scalar() {
    const char c = t_[p_];
    if (c == '"') return string() && b_.string(s_);
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    for (std::string_view w : {std::string_view("true"), std::string_view("false"), std::string_view("null")})
      if (t_.substr(p_, w.size()) == w) {
        p_ += w.size();
        return w[0] == 'n' ? b_.null() : b_.boolean(w[0] == 't');
      }
    return false;
  }
  // The string at p_ (its opening quote) decoded into s_.
  bool string() {
    s_.clear();
    ++p_;
    const char* d = t_.data();
    const size_t n = t_.size();
    for (;;) {
      size_t run = p_;
      // Eight bytes at a time while none is a control character, non-ASCII, '"' or '\\' (most of a
      // schema's text is descriptions): each test tells whether some byte of the word is one.
      constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
      while (run + 8 <= n) {
        uint64_t v;
        std::memcpy(&v, d + run, 8);
        const uint64_t quote = v ^ (kOnes * '"'), backslash = v ^ (kOnes * '\\');
        const uint64_t special = ((v - kOnes * 0x20) & ~v) | v | ((quote - kOnes) & ~quote) |
                                 ((backslash - kOnes) & ~backslash);
        if (special & kHigh) break;
        run += 8;
      }
      while (run < n) {
        const auto u = static_cast<unsigned char>(d[run]);
        if (u < 0x20 || u >= 0x80 || u == '"' || u == '\\') break;
        ++run;
      }
      s_.append(d + p_, run - p_);
      p_ = run;
      if (p_ >= n) return false;
      const auto u = static_cast<unsigned char>(d[p_]);
      if (u == '"') {
        ++p_;
        return true;
      }
      if (u < 0x20) return false;
      if (u >= 0x80) {
        char32_t cp;
        const size_t k = fsm::decode_utf8(t_, p_, cp);
        if (k == 0) return false;
        s_.append(d + p_, k);
        p_ += k;
        continue;
      }
      // An escape.
      if (p_ + 1 >= n) return false;
      const char e = d[p_ + 1];
      p_ += 2;
      switch (e) {
        case '"': s_ += '"'; break;
        case '\\': s_ += '\\'; break;
        case '/': s_ += '/'; break;
        case 'b': s_ += '\b'; break;
        case 'f': s_ += '\f'; break;
        case 'n': s_ += '\n'; break;
        case 'r': s_ += '\r'; break;
        case 't': s_ += '\t'; break;
        case 'u': {
          uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate first
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo;
            if (p_ + 2 > n || d[p_] != '\\' || d[p_ + 1] != 'u') return false;
            p_ += 2;
            if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          fsm::append_utf8(s_, cp);
          break;
        }
        default: return false;
      }
    }
  }
  bool hex4(uint32_t& v) {
    if (p_ + 4 > t_.size()) return false;
    v = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = t_[p_ + k];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<uint32_t>(h - 'A' + 10);
      else return false;
    }
    p_ += 4;
    return true;
  }
  bool number() {
    const size_t start = p_;
    auto digits = [&] {
      const size_t from = p_;
      while (p_ < t_.size() && t_[p_] >= '0' && t_[p_] <= '9') ++p_;
      return p_ > from;
    };
    bool integral = true;
    if (t_[p_] == '-') ++p_;
    if (p_ < t_.size() && t_[p_] == '0') ++p_;
    else if (!digits()) return false;
    if (p_ < t_.size() && t_[p_] == '.') {
      ++p_;
      integral = false;
      if (!digits()) return false;
    }
    if (p_ < t_.size() && (t_[p_] == 'e' || t_[p_] == 'E')) {
      ++p_;
      integral = false;
      if (p_ < t_.size() && (t_[p_] == '+' || t_[p_] == '-')) ++p_;
      if (!digits()) return false;
    }
    num_.assign(t_.data() + start, p_ - start);
    char* end = nullptr;
    if (integral) {
      errno = 0;
      if (num_[0] == '-') {
        const long long v = std::strtoll(num_.c_str(), &end, 10);
        if (errno == 0 && end == num_.c_str() + num_.size()) return b_.number_integer(v);
      } else {
        const unsigned long long v = std::strtoull(num_.c_str(), &end, 10);
        if (errno == 0 && end == num_.c_str() + num_.size()) return b_.number_unsigned(v);
      }
    }
    const double v = std::strtod(num_.c_str(), &end);
    if (end != num_.c_str() + num_.size() || !std::isfinite(v)) return false;  // nlohmann: out_of_range.406
    return b_.number_float(v, num_);
  }

  std::string_view t_;
  Builder& b_;
  size_t p_ = 0;
  std::string s_, num_;
};

}  // namespace

bool read_ordered_json(std::string_view text, Json& out) {
  out = Json();
  Builder b(out);
  return Reader(text, b).run();
}

bool try_parse_ordered_json(std::string_view text, Json& out) {
  if (read_ordered_json(text, out)) return true;
  // Refused (or not JSON): nlohmann's own lexer decides, into the same builder.
  out = Json();
  Builder b(out);
  try {
    return Json::sax_parse(text.begin(), text.end(), &b, nlohmann::detail::input_format_t::json, true, false);
  } catch (const nlohmann::detail::exception&) {
    return false;
  }
}

Json parse_ordered_json(std::string_view text) {
  Json out;
  if (try_parse_ordered_json(text, out)) return out;
  return Json::parse(text.begin(), text.end());  // throws nlohmann's own error, as before
}

}  // namespace tollgate::grammar
