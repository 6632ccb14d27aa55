// Encoder — byte-level BPE encoding of text with a tokenizer.json model.
// Takes: a TokenizerInfo loaded from tokenizer.json (its Impl keeps added tokens, the normalizer and
// pre-tokenizer JSON, and the raw merges). Gives: encode(text) -> ids following the Hugging Face
// pipeline: added-token split -> normalizer -> pre-tokenizer (Split regex with ICU, ByteLevel) ->
// BPE merges by rank (heap, leftmost first on ties) with a per-word cache; decode(ids) -> bytes.
#include "tollgate/encoder.hpp"

#include <unicode/normalizer2.h>
#include <unicode/regex.h>
#include <unicode/unistr.h>
#include <unicode/utf16.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>

#include "engine/json_scan.hpp"
#include "fsm/utf8.hpp"
#include "engine/vocabulary_impl.hpp"
#include "tollgate/error.hpp"

namespace tollgate {

namespace {

using Json = nlohmann::json;

// GPT-2's pre-tokenizer regex, used by ByteLevel(use_regex = true).
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

[[noreturn]] void unsupported(const std::string& what) {
  throw Error(ErrorKind::kUnsupported, "encoder: " + what);
}

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct PreTokenStep {
  enum Kind { kSplit, kByteLevel } kind = kSplit;
  std::unique_ptr<icu::RegexPattern> pattern;  // kSplit, and kByteLevel with use_regex
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  bool add_prefix_space = false;  // kByteLevel
};

// Text as UTF-16 for ICU plus the UTF-8 offset of every UTF-16 index. Invalid UTF-8 bytes become
// one U+FFFD each, so that offsets still map back to the original bytes.
struct Utf16Text {
  icu::UnicodeString text;
  std::vector<uint32_t> offset;  // [length + 1]
  explicit Utf16Text(std::string_view s) {
    offset.reserve(s.size() + 1);
    size_t i = 0;
    while (i < s.size()) {
      char32_t decoded = 0;
      size_t len = fsm::decode_utf8(s, i, decoded);
      int32_t cp = static_cast<int32_t>(decoded);
      if (len == 0) {  // a malformed byte reads as U+FFFD, one byte long
        cp = -1;
        len = 1;
      }
      if (cp < 0) cp = 0xFFFD;
      offset.push_back(static_cast<uint32_t>(i));
      if (cp >= 0x10000) offset.push_back(static_cast<uint32_t>(i));  // low surrogate
      text.append(static_cast<UChar32>(cp));
      i += len;
    }
    offset.push_back(static_cast<uint32_t>(s.size()));
  }
};

bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

}  // namespace

struct Encoder::Impl {
  TokenizerInfoPtr tokenizer;
  const TokenizerInfo::Impl* info = nullptr;

  std::vector<const icu::Normalizer2*> normalizers;
  std::vector<PreTokenStep> pre_steps;
  bool ignore_merges = false;

  int32_t byte_token[256];
  engine::StringIndex word_id;  // model vocabulary: bytes -> id
  struct Merge {
    int32_t rank;
    int32_t id;
  };
  std::unordered_map<uint64_t, Merge> merges;
  std::vector<std::vector<const AddedTokenInfo*>> added_by_first_byte =
      std::vector<std::vector<const AddedTokenInfo*>>(256);

  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;
  static constexpr size_t kMaxCache = 200000;

  void load_normalizer(const Json& j) {
    if (j.is_null()) return;
    std::string t = j.value("type", "");
    UErrorCode st = U_ZERO_ERROR;
    if (t == "Sequence") {
      for (const auto& m : j.value("normalizers", Json::array())) load_normalizer(m);
    } else if (t == "NFC") {
      normalizers.push_back(icu::Normalizer2::getNFCInstance(st));
    } else if (t == "NFKC") {
      normalizers.push_back(icu::Normalizer2::getNFKCInstance(st));
    } else if (t == "NFD") {
      normalizers.push_back(icu::Normalizer2::getNFDInstance(st));
    } else if (t == "NFKD") {
      normalizers.push_back(icu::Normalizer2::getNFKDInstance(st));
    } else {
      unsupported("normalizer '" + t + "' is not implemented");
    }
    if (U_FAILURE(st)) unsupported("ICU normalizer unavailable");
  }

  static std::unique_ptr<icu::RegexPattern> compile(const std::string& pattern, bool literal) {
    UErrorCode st = U_ZERO_ERROR;
    UParseError pe;
    std::unique_ptr<icu::RegexPattern> p(icu::RegexPattern::compile(
        icu::UnicodeString::fromUTF8(pattern), literal ? UREGEX_LITERAL : 0, pe, st));
    if (U_FAILURE(st) || !p) {
      unsupported("pre-tokenizer pattern does not compile with ICU: " + pattern + " (" +
                  u_errorName(st) + ")");
    }
    return p;
  }

  void load_pre_tokenizer(const Json& j) {
    if (j.is_null()) return;
    std::string t = j.value("type", "");
    if (t == "Sequence") {
      for (const auto& m : j.value("pretokenizers", Json::array())) load_pre_tokenizer(m);
    } else if (t == "Split") {
      PreTokenStep s;
      s.kind = PreTokenStep::kSplit;
      const Json& pat = j.at("pattern");
      if (pat.contains("Regex")) s.pattern = compile(pat["Regex"].get<std::string>(), false);
      else if (pat.contains("String")) s.pattern = compile(pat["String"].get<std::string>(), true);
      else unsupported("Split pattern must be Regex or String");
      std::string b = j.value("behavior", "Isolated");
      if (b == "Removed") s.behavior = SplitBehavior::kRemoved;
      else if (b == "Isolated") s.behavior = SplitBehavior::kIsolated;
      else if (b == "MergedWithPrevious") s.behavior = SplitBehavior::kMergedWithPrevious;
      else if (b == "MergedWithNext") s.behavior = SplitBehavior::kMergedWithNext;
      else if (b == "Contiguous") s.behavior = SplitBehavior::kContiguous;
      else unsupported("Split behavior '" + b + "'");
      s.invert = j.value("invert", false);
      pre_steps.push_back(std::move(s));
    } else if (t == "ByteLevel") {
      PreTokenStep s;
      s.kind = PreTokenStep::kByteLevel;
      s.add_prefix_space = j.value("add_prefix_space", false);
      if (j.value("use_regex", true)) s.pattern = compile(kGpt2Pattern, false);
      pre_steps.push_back(std::move(s));
    } else {
      unsupported("pre-tokenizer '" + t + "' is not implemented");
    }
  }

  void load_merges() {
    const std::string& raw = info->merges_json;
    if (raw.empty()) return;
    const auto& index = info->text_index();
    merges.reserve(static_cast<size_t>(info->num_tokens) * 3);
    engine::JsonScanner sc(raw, "model.merges");
    sc.begin_array();
    std::string a, b, pair, joined;
    int32_t rank = 0;
    while (sc.next_element()) {
      if (sc.peek() == '"') {
        sc.parse_string(pair);
        size_t sp = pair.find(' ', 1);  // a merge "a b"; the left part is never empty
        if (sp == std::string::npos) sc.fail("merge without a space");
        a.assign(pair, 0, sp);
        b.assign(pair, sp + 1);
      } else {
        bool first = sc.first_flag();
        sc.begin_array();
        if (!sc.next_element()) sc.fail("merge must be [left, right]");
        sc.parse_string(a);
        if (!sc.next_element()) sc.fail("merge must be [left, right]");
        sc.parse_string(b);
        if (sc.next_element()) sc.fail("merge must be [left, right]");
        sc.set_first_flag(first);
      }
      int32_t ia = index.find(a), ib = index.find(b);
      if (ia >= 0 && ib >= 0) {
        joined.assign(a).append(b);
        int32_t im = index.find(joined);
        uint64_t key = (static_cast<uint64_t>(ia) << 32) | static_cast<uint32_t>(ib);
        if (im >= 0) merges.emplace(key, Merge{rank, im});
      }
      ++rank;
    }
  }

  explicit Impl(TokenizerInfoPtr tok) : tokenizer(std::move(tok)) {
    if (!tokenizer) throw Error(ErrorKind::kInvalidArgument, "encoder: null tokenizer");
    info = &tokenizer->impl();
    if (!info->from_tokenizer_json || info->type != VocabType::kByteLevel || info->model_type != "BPE") {
      unsupported("only byte-level BPE tokenizer.json models can be encoded");
    }
    if (!info->continuing_subword_prefix.empty() || !info->end_of_word_suffix.empty()) {
      unsupported("BPE continuing_subword_prefix / end_of_word_suffix are not implemented");
    }
    ignore_merges = info->ignore_merges;
    try {
      load_normalizer(info->normalizer_json.empty() ? Json() : Json::parse(info->normalizer_json));
      load_pre_tokenizer(info->pre_tokenizer_json.empty() ? Json() : Json::parse(info->pre_tokenizer_json));
    } catch (const Json::exception& e) {
      unsupported(std::string("bad normalizer / pre-tokenizer section: ") + e.what());
    }

    // Model vocabulary by bytes (added tokens are matched separately, never by BPE).
    std::vector<uint8_t> added(info->num_tokens, 0);
    for (const auto& a : info->added_tokens) added[a.id] = 1;
    word_id.reserve(static_cast<size_t>(info->num_tokens));
    for (int32_t id = 0; id < info->num_tokens; ++id) {
      if (!added[id] && !info->bytes[id].empty()) word_id.insert(info->bytes[id], id);
    }
    for (int b = 0; b < 256; ++b) {
      char c = static_cast<char>(b);
      byte_token[b] = word_id.find(std::string_view(&c, 1));
    }
    load_merges();

    for (const auto& a : info->added_tokens) {
      if (!a.content.empty())
        added_by_first_byte[static_cast<unsigned char>(a.content[0])].push_back(&a);
    }
    for (auto& v : added_by_first_byte) {
      std::stable_sort(v.begin(), v.end(), [](const AddedTokenInfo* x, const AddedTokenInfo* y) {
        return x->content.size() > y->content.size();  // longest first
      });
    }
  }

  // ---- BPE on one pre-token ----
  void bpe(std::string_view word, std::vector<int32_t>& out) const {
    if (word.empty()) return;
    if (ignore_merges || word.size() == 1) {
      int32_t whole = word_id.find(word);
      if (whole >= 0) {
        out.push_back(whole);
        return;
      }
    }
    {
      std::lock_guard<std::mutex> lock(cache_mutex);
      auto it = cache.find(std::string(word));
      if (it != cache.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    size_t n = word.size();
    std::vector<int32_t> id(n), prev(n), next(n);
    std::vector<uint8_t> alive(n, 1);
    for (size_t i = 0; i < n; ++i) {
      id[i] = byte_token[static_cast<unsigned char>(word[i])];
      prev[i] = static_cast<int32_t>(i) - 1;
      next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
    }
    struct Cand {
      int32_t rank, pos, left, right;
      bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
    auto push = [&](int32_t l) {
      if (l < 0) return;
      int32_t r = next[l];
      if (r < 0 || id[l] < 0 || id[r] < 0) return;
      auto it = merges.find((static_cast<uint64_t>(id[l]) << 32) | static_cast<uint32_t>(id[r]));
      if (it != merges.end()) heap.push({it->second.rank, l, id[l], id[r]});
    };
    for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
    while (!heap.empty()) {
      Cand c = heap.top();
      heap.pop();
      int32_t l = c.pos;
      if (!alive[l] || id[l] != c.left) continue;
      int32_t r = next[l];
      if (r < 0 || id[r] != c.right) continue;
      id[l] = merges.at((static_cast<uint64_t>(c.left) << 32) | static_cast<uint32_t>(c.right)).id;
      alive[r] = 0;
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      push(prev[l]);
      push(l);
    }
    std::vector<int32_t> result;
    for (int32_t i = 0; i >= 0; i = next[i])
      if (id[i] >= 0) result.push_back(id[i]);  // bytes without a token are dropped (no unk)
    out.insert(out.end(), result.begin(), result.end());
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (cache.size() >= kMaxCache) cache.clear();
    cache.emplace(std::string(word), std::move(result));
  }

  // ---- pre-tokenization ----
  // Splits each piece by the step's regex according to its behavior.
  void split(const PreTokenStep& step, std::vector<std::string>& pieces) const {
    std::vector<std::string> out;
    UErrorCode st = U_ZERO_ERROR;
    std::unique_ptr<icu::RegexMatcher> m(step.pattern->matcher(st));
    if (U_FAILURE(st)) unsupported("ICU matcher failed");
    for (const std::string& piece : pieces) {
      Utf16Text u(piece);
      m->reset(u.text);
      // Segments (begin, end, is_match) covering the piece, in UTF-8 offsets.
      struct Seg {
        uint32_t b, e;
        bool match;
      };
      std::vector<Seg> segs;
      uint32_t last = 0;
      while (m->find(st) && U_SUCCESS(st)) {
        int32_t s16 = m->start(st), e16 = m->end(st);
        uint32_t s8 = u.offset[s16], e8 = u.offset[e16];
        if (e8 == s8) continue;
        if (s8 > last) segs.push_back({last, s8, false});
        segs.push_back({s8, e8, true});
        last = e8;
      }
      if (U_FAILURE(st)) unsupported("ICU regex search failed");
      if (last < piece.size()) segs.push_back({last, static_cast<uint32_t>(piece.size()), false});
      if (step.invert)
        for (auto& s : segs) s.match = !s.match;
      auto sub = [&](const Seg& s) { return piece.substr(s.b, s.e - s.b); };
      switch (step.behavior) {
        case SplitBehavior::kRemoved:
          for (const auto& s : segs)
            if (!s.match) out.push_back(sub(s));
          break;
        case SplitBehavior::kIsolated:
          for (const auto& s : segs) out.push_back(sub(s));
          break;
        case SplitBehavior::kMergedWithPrevious: {
          bool open = false;
          for (const auto& s : segs) {
            if (s.match && open) out.back() += sub(s);
            else out.push_back(sub(s));
            open = true;
          }
          break;
        }
        case SplitBehavior::kMergedWithNext: {
          bool pending = false;
          for (const auto& s : segs) {
            if (pending) out.back() += sub(s);
            else out.push_back(sub(s));
            pending = s.match;
          }
          break;
        }
        case SplitBehavior::kContiguous: {
          bool prev_match = false;
          for (size_t k = 0; k < segs.size(); ++k) {
            if (k > 0 && segs[k].match && prev_match) out.back() += sub(segs[k]);
            else out.push_back(sub(segs[k]));
            prev_match = segs[k].match;
          }
          break;
        }
      }
    }
    pieces.swap(out);
  }

  std::string normalize(std::string_view text) const {
    if (normalizers.empty() || is_ascii(text)) return std::string(text);
    Utf16Text u(text);
    icu::UnicodeString s = u.text;
    for (const auto* n : normalizers) {
      UErrorCode st = U_ZERO_ERROR;
      s = n->normalize(s, st);
      if (U_FAILURE(st)) unsupported("ICU normalization failed");
    }
    std::string out;
    s.toUTF8String(out);
    return out;
  }

  void encode_segment(std::string_view text, std::vector<int32_t>& out) const {
    if (text.empty()) return;
    std::vector<std::string> pieces{normalize(text)};
    for (const auto& step : pre_steps) {
      if (step.kind == PreTokenStep::kByteLevel) {
        if (step.add_prefix_space)
          for (auto& p : pieces)
            if (p.empty() || p[0] != ' ') p.insert(p.begin(), ' ');
        if (step.pattern) split(step, pieces);
      } else {
        split(step, pieces);
      }
    }
    for (const auto& p : pieces) bpe(p, out);
  }

  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
  static bool is_word_byte(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }

  std::vector<int32_t> encode(std::string_view text, bool allow_special) const {
    std::vector<int32_t> out;
    size_t seg_begin = 0, i = 0;
    while (i < text.size()) {
      const auto& cands = added_by_first_byte[static_cast<unsigned char>(text[i])];
      const AddedTokenInfo* hit = nullptr;
      for (const AddedTokenInfo* a : cands) {
        if (a->special && !allow_special) continue;
        if (text.compare(i, a->content.size(), a->content) != 0) continue;
        if (a->single_word) {
          size_t e = i + a->content.size();
          if ((i > 0 && is_word_byte(text[i - 1])) || (e < text.size() && is_word_byte(text[e]))) continue;
        }
        hit = a;
        break;
      }
      if (!hit) {
        ++i;
        continue;
      }
      size_t before_end = i, after_begin = i + hit->content.size();
      if (hit->lstrip)
        while (before_end > seg_begin && is_space(text[before_end - 1])) --before_end;
      if (hit->rstrip)
        while (after_begin < text.size() && is_space(text[after_begin])) ++after_begin;
      encode_segment(text.substr(seg_begin, before_end - seg_begin), out);
      out.push_back(hit->id);
      seg_begin = i = after_begin;
    }
    encode_segment(text.substr(seg_begin), out);
    return out;
  }
};

Encoder::Encoder(TokenizerInfoPtr tokenizer) : impl_(std::make_unique<Impl>(std::move(tokenizer))) {}
Encoder::Encoder(const std::string& tokenizer_path)
    : impl_(std::make_unique<Impl>(TokenizerInfo::from_file(tokenizer_path))) {}
Encoder::~Encoder() = default;
Encoder::Encoder(Encoder&&) noexcept = default;
Encoder& Encoder::operator=(Encoder&&) noexcept = default;

std::vector<int32_t> Encoder::encode(std::string_view text, bool allow_special) const {
  return impl_->encode(text, allow_special);
}

std::string Encoder::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  const TokenizerInfo& t = *impl_->tokenizer;
  std::string out;
  for (int32_t id : ids) {
    const std::string& b = t.token_bytes(id);  // throws for ids outside the vocabulary
    if (skip_special && t.is_special(id)) continue;
    out += b;
  }
  return out;
}

const TokenizerInfo& Encoder::tokenizer() const { return *impl_->tokenizer; }
const TokenizerInfoPtr& Encoder::tokenizer_ptr() const { return impl_->tokenizer; }

}  // namespace tollgate
