// TokenizerInfo — loading a Hugging Face tokenizer.json (+ tokenizer_config.json) or a list of byte strings.
// Takes: the JSON texts (or a path). Gives: token id -> exact bytes, display text, special/padding flags,
// EOS ids, leading-space policy, the token trie and its string class tries (fsm::ClassTrie). The big parts of tokenizer.json (model.vocab,
// model.merges) are read by a hand-written scanner; only the small sections go through nlohmann::json.
// The rules (which tokens are special, how bytes are derived) are written down in docs/vocabulary.md.
#include "tollgate/vocabulary.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/digest.hpp"
#include "engine/json_scan.hpp"
#include "fsm/utf8.hpp"
#include "engine/vocabulary_impl.hpp"
#include "tollgate/error.hpp"

namespace tollgate {

namespace {

using engine::JsonScanner;
using Json = nlohmann::json;

constexpr int64_t kMaxTokenId = (int64_t{1} << 26) - 1;  // 67M ids: far beyond any real vocabulary

std::string read_whole_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    SourcePos pos;
    pos.file = path;
    throw Error(ErrorKind::kIo, "cannot open tokenizer file", pos);
  }
  std::string data;
  if (std::fseek(f, 0, SEEK_END) == 0) {
    long size = std::ftell(f);
    if (size > 0) data.resize(static_cast<size_t>(size));
    std::fseek(f, 0, SEEK_SET);
  }
  size_t got = data.empty() ? 0 : std::fread(data.data(), 1, data.size(), f);
  data.resize(got);
  // Files whose size is unknown up front (pipes): read the rest in chunks.
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  bool bad = std::ferror(f) != 0;
  std::fclose(f);
  if (bad) {
    SourcePos pos;
    pos.file = path;
    throw Error(ErrorKind::kIo, "error while reading tokenizer file", pos);
  }
  return data;
}

// GPT-2 byte-level map, inverted: code point -> byte (or -1).
struct ByteLevelInverse {
  int16_t byte_of[324];
  ByteLevelInverse() {
    for (auto& b : byte_of) b = -1;
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      int cp = printable ? b : 256 + extra++;
      byte_of[cp] = static_cast<int16_t>(b);
    }
  }
};
const ByteLevelInverse& byte_level_inverse() {
  static const ByteLevelInverse inv;
  return inv;
}

std::string byte_level_bytes(std::string_view text) {
  const auto& inv = byte_level_inverse();
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 33 && c <= 126) {  // printable ASCII maps to itself
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    size_t start = i;
    char32_t cp = 0;
    size_t n = fsm::decode_utf8(text, i, cp);
    i += n == 0 ? 1 : n;
    if (n != 0 && cp < 324 && inv.byte_of[cp] >= 0) {
      out.push_back(static_cast<char>(inv.byte_of[cp]));
    } else {
      out.append(text.substr(start, i - start));  // not in the map: keep the character's UTF-8
    }
  }
  return out;
}

int hex_value(char h) {
  if (h >= '0' && h <= '9') return h - '0';
  if (h >= 'a' && h <= 'f') return h - 'a' + 10;
  if (h >= 'A' && h <= 'F') return h - 'A' + 10;
  return -1;
}

// SentencePiece style: "<0xNN>" is byte NN (when byte_fallback), "▁" is a space.
std::string sentencepiece_bytes(std::string_view text, bool byte_fallback) {
  if (byte_fallback && text.size() == 6 && text[0] == '<' && text[1] == '0' && text[2] == 'x' &&
      text[5] == '>') {
    int hi = hex_value(text[3]), lo = hex_value(text[4]);
    if (hi >= 0 && lo >= 0) return std::string(1, static_cast<char>(hi * 16 + lo));
  }
  constexpr std::string_view kMeta = "\xE2\x96\x81";
  size_t at = text.find(kMeta);
  if (at == std::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t from = 0;
  while (at != std::string_view::npos) {
    out.append(text.substr(from, at - from));
    out.push_back(' ');
    from = at + kMeta.size();
    at = text.find(kMeta, from);
  }
  out.append(text.substr(from));
  return out;
}

// Flattens a decoder / normalizer / pre-tokenizer section: Sequence members in order.
void flatten_section(const Json& j, const char* list_key, std::vector<const Json*>& out) {
  if (!j.is_object()) return;
  auto t = j.find("type");
  if (t != j.end() && t->is_string() && *t == "Sequence") {
    auto list = j.find(list_key);
    if (list != j.end() && list->is_array()) {
      for (const auto& m : *list) flatten_section(m, list_key, out);
    }
    return;
  }
  out.push_back(&j);
}

std::string type_of(const Json* j) {
  auto t = j->find("type");
  return (t != j->end() && t->is_string()) ? t->get<std::string>() : std::string();
}

Json parse_section(std::string_view raw, const JsonScanner& sc, const char* what) {
  if (raw.empty()) return Json();
  try {
    return Json::parse(raw.begin(), raw.end());
  } catch (const Json::exception& e) {
    size_t at = static_cast<size_t>(raw.data() - sc.text().data());
    sc.fail(std::string("bad '") + what + "' section: " + e.what(), at);
  }
}

struct VocabEntry {
  std::string text;
  int32_t id;
  uint32_t pos;  // byte offset in the JSON, for error messages
};

struct RawTokenizer {
  bool has_model = false;
  std::string model_type;
  size_t model_type_pos = 0;
  size_t model_pos = 0;
  std::vector<VocabEntry> vocab;
  bool has_vocab = false;
  Json model_fields = Json::object();  // the small fields of "model" (unk_token, byte_fallback, ...)
  std::string_view merges, added_tokens, normalizer, pre_tokenizer, decoder;
  size_t added_tokens_pos = 0;
};

void parse_vocab_object(JsonScanner& sc, std::vector<VocabEntry>& out) {
  sc.begin_object();
  std::string key;
  while (true) {
    size_t at = sc.pos();
    if (!sc.next_key(key)) break;
    size_t id_at = (sc.skip_ws(), sc.pos());
    int64_t id = sc.parse_int("token id");
    if (id < 0) sc.fail("negative token id " + std::to_string(id), id_at);
    if (id > kMaxTokenId) sc.fail("token id " + std::to_string(id) + " is too large", id_at);
    out.push_back({std::move(key), static_cast<int32_t>(id), static_cast<uint32_t>(at)});
    key = std::string();
  }
}

// Unigram: [["piece", score], ...]; the id is the index.
void parse_vocab_array(JsonScanner& sc, std::vector<VocabEntry>& out) {
  sc.begin_array();
  std::string piece;
  while (sc.next_element()) {
    size_t at = sc.pos();
    bool outer_first = sc.first_flag();
    sc.begin_array();
    if (!sc.next_element()) sc.fail("Unigram vocab entry must be [piece, score]", at);
    sc.parse_string(piece);
    while (sc.next_element()) sc.skip_value();
    sc.set_first_flag(outer_first);
    if (out.size() > static_cast<size_t>(kMaxTokenId)) sc.fail("too many tokens", at);
    out.push_back({std::move(piece), static_cast<int32_t>(out.size()), static_cast<uint32_t>(at)});
    piece = std::string();
  }
}

void parse_model(JsonScanner& sc, RawTokenizer& raw) {
  raw.has_model = true;
  raw.model_pos = (sc.skip_ws(), sc.pos());
  sc.begin_object();
  std::string key;
  while (sc.next_key(key)) {
    bool first = sc.first_flag();
    if (key == "vocab") {
      char c = sc.peek();
      if (c == '{') parse_vocab_object(sc, raw.vocab);
      else if (c == '[') parse_vocab_array(sc, raw.vocab);
      else sc.fail("'model.vocab' must be an object or an array");
      raw.has_vocab = true;
    } else if (key == "merges") {
      raw.merges = sc.skip_value();
    } else if (key == "type") {
      raw.model_type_pos = (sc.skip_ws(), sc.pos());
      if (sc.peek() != '"') sc.fail("'model.type' must be a string");
      sc.parse_string(raw.model_type);
    } else {
      std::string_view v = sc.skip_value();
      raw.model_fields[key] = parse_section(v, sc, "model");
    }
    sc.set_first_flag(first);
  }
}

RawTokenizer scan_tokenizer_json(std::string_view text, const std::string& file) {
  JsonScanner sc(text, file);
  RawTokenizer raw;
  sc.begin_object();
  std::string key;
  while (sc.next_key(key)) {
    bool first = sc.first_flag();
    if (key == "model") {
      if (sc.peek() != '{') sc.fail("'model' must be an object");
      parse_model(sc, raw);
    } else if (key == "added_tokens") {
      raw.added_tokens_pos = (sc.skip_ws(), sc.pos());
      raw.added_tokens = sc.skip_value();
    } else if (key == "normalizer") {
      raw.normalizer = sc.skip_value();
    } else if (key == "pre_tokenizer") {
      raw.pre_tokenizer = sc.skip_value();
    } else if (key == "decoder") {
      raw.decoder = sc.skip_value();
    } else {
      sc.skip_value();
    }
    sc.set_first_flag(first);
  }
  sc.expect_end();
  if (!raw.has_model) sc.fail("tokenizer.json has no 'model' section", 0);
  if (!raw.has_vocab) sc.fail("tokenizer.json has no 'model.vocab'", raw.model_pos);
  return raw;
}

// eos_token of tokenizer_config.json: a string or {"content": ...}; empty when absent.
std::string config_eos_token(std::string_view config, const std::string& file) {
  if (config.empty()) return {};
  JsonScanner sc(config, file);
  sc.begin_object();
  std::string key, result;
  while (sc.next_key(key)) {
    bool first = sc.first_flag();
    if (key == "eos_token") {
      std::string_view v = sc.skip_value();
      Json j = parse_section(v, sc, "eos_token");
      if (j.is_string()) result = j.get<std::string>();
      else if (j.is_object() && j.contains("content") && j["content"].is_string())
        result = j["content"].get<std::string>();
    } else {
      sc.skip_value();
    }
    sc.set_first_flag(first);
  }
  sc.expect_end();
  return result;
}

bool json_bool(const Json& j, const char* key, bool fallback = false) {
  auto it = j.find(key);
  return (it != j.end() && it->is_boolean()) ? it->get<bool>() : fallback;
}
std::string json_string(const Json& j, const char* key) {
  auto it = j.find(key);
  return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

void check_vocab_size(int32_t requested, int32_t num_tokens) {
  if (requested < 0) throw Error(ErrorKind::kInvalidArgument, "vocab_size must not be negative");
  if (requested != 0 && requested < num_tokens) {
    throw Error(ErrorKind::kInvalidArgument,
                "vocab_size " + std::to_string(requested) + " is smaller than the tokenizer's " +
                    std::to_string(num_tokens) + " tokens");
  }
}

void check_ids(const std::vector<int32_t>& ids, int32_t vocab_size, const char* what) {
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size) {
      throw Error(ErrorKind::kInvalidArgument, std::string(what) + " id " + std::to_string(id) +
                                                   " is outside the vocabulary [0, " +
                                                   std::to_string(vocab_size) + ")");
    }
  }
}

// Pads to vocab_size, marks EOS special, builds the trie.
void finish(TokenizerInfo::Impl& im, int32_t vocab_size) {
  im.vocab_size = std::max(vocab_size, im.num_tokens);
  im.bytes.resize(im.vocab_size);
  im.text.resize(im.vocab_size);
  im.special.resize(im.vocab_size, 1);
  std::sort(im.eos_ids.begin(), im.eos_ids.end());
  im.eos_ids.erase(std::unique(im.eos_ids.begin(), im.eos_ids.end()), im.eos_ids.end());
  for (int32_t id : im.eos_ids) im.special[id] = 1;
  std::vector<std::pair<int32_t, std::string_view>> entries;
  entries.reserve(im.num_tokens);
  for (int32_t id = 0; id < im.num_tokens; ++id) {
    if (!im.special[id] && !im.bytes[id].empty()) entries.emplace_back(id, im.bytes[id]);
  }
  im.trie = fsm::TokenTrie(entries);
  for (int w = 0; w < fsm::ClassTrie::kStringPartitions; ++w)
    im.string_class_tries[w] = fsm::ClassTrie(im.trie, fsm::ClassTrie::string_partition(w));
  im.quote_trie = fsm::SubTrie::containing(im.trie, '"');
  // The tokens by the JSON structure they hold, which the uniqueItems and required-key filters read:
  // listed here (15 M instructions on Llama-3, ~3 ms) rather than inside the first mask that needs
  // them (asconfig's: 2.5-3.7 ms), and before the MaskBench runner forks its workers.
  (void)im.json_ids(0);
  im.trie_bits.assign(static_cast<size_t>(im.vocab_size + 31) / 32, 0);
  for (const auto& [id, bytes] : entries) im.trie_bits[id >> 5] |= 1u << (id & 31);
  // The fingerprint (TokenizerInfo::fingerprint): SHA-256 of a canonical text of the vocabulary.
  engine::Sha256 sha;
  std::string head = "tollgate-vocabulary-v1;" + std::to_string(im.vocab_size) + ";" +
                     std::to_string(static_cast<int>(im.type)) + ";" + std::to_string(static_cast<int>(im.leading_space)) +
                     ";" + (im.prepends_space ? "1" : "0") + ";";
  for (int32_t e : im.eos_ids) head += std::to_string(e) + ",";
  sha.update(head + ";");
  for (int32_t id = 0; id < im.vocab_size; ++id) {
    const std::string item = std::string(im.special[id] ? "S" : "N") + std::to_string(im.bytes[id].size()) + ":";
    sha.update(item).update(im.bytes[id]);
  }
  im.fingerprint = engine::hex(sha.digest());
}

}  // namespace

TokenizerInfo::TokenizerInfo() : impl_(std::make_unique<Impl>()) {}
TokenizerInfo::~TokenizerInfo() = default;

std::shared_ptr<const TokenizerInfo> TokenizerInfo::from_file(const std::string& path,
                                                              const TokenizerOptions& options) {
  namespace fs = std::filesystem;
  fs::path p(path);
  std::error_code ec;
  if (fs::is_directory(p, ec)) p /= "tokenizer.json";
  if (!fs::is_regular_file(p, ec)) {
    SourcePos pos;
    pos.file = p.string();
    throw Error(ErrorKind::kIo, fs::exists(p, ec) ? "not a regular file" : "tokenizer file not found",
                pos);
  }
  std::string json = read_whole_file(p.string());
  std::string config;
  fs::path cp = p.parent_path() / "tokenizer_config.json";
  if (fs::is_regular_file(cp, ec)) config = read_whole_file(cp.string());
  return from_json_impl(json, config, options, p.string(), cp.string());
}

std::shared_ptr<const TokenizerInfo> TokenizerInfo::from_json(std::string_view tokenizer_json,
                                                              std::string_view tokenizer_config_json,
                                                              const TokenizerOptions& options) {
  return from_json_impl(tokenizer_json, tokenizer_config_json, options, {}, {});
}

std::shared_ptr<const TokenizerInfo> TokenizerInfo::from_json_impl(
    std::string_view tokenizer_json, std::string_view tokenizer_config_json,
    const TokenizerOptions& options, const std::string& file, const std::string& config_file) {
  RawTokenizer raw = scan_tokenizer_json(tokenizer_json, file);
  JsonScanner sc(tokenizer_json, file);  // for positions in error messages

  const std::string& mt = raw.model_type;
  if (mt != "BPE" && mt != "Unigram" && mt != "WordLevel") {
    sc.fail(mt.empty() ? "tokenizer model has no 'type'"
                       : "unsupported tokenizer model type '" + mt + "' (BPE, Unigram, WordLevel)",
            mt.empty() ? raw.model_pos : raw.model_type_pos);
  }

  auto info = std::shared_ptr<TokenizerInfo>(new TokenizerInfo());
  Impl& im = *info->impl_;
  im.from_tokenizer_json = true;
  im.model_type = mt;

  // ---- added tokens ----
  if (!raw.added_tokens.empty()) {
    Json at = parse_section(raw.added_tokens, sc, "added_tokens");
    if (!at.is_null() && !at.is_array()) sc.fail("'added_tokens' must be an array", raw.added_tokens_pos);
    if (at.is_array()) {
      im.added_tokens.reserve(at.size());
      for (size_t k = 0; k < at.size(); ++k) {
        const Json& a = at[k];
        auto bad = [&](const std::string& why) {
          sc.fail("added_tokens[" + std::to_string(k) + "]: " + why, raw.added_tokens_pos);
        };
        if (!a.is_object()) bad("must be an object");
        auto id = a.find("id");
        auto content = a.find("content");
        if (id == a.end() || !id->is_number_integer()) bad("'id' must be an integer");
        if (content == a.end() || !content->is_string()) bad("'content' must be a string");
        int64_t v = id->get<int64_t>();
        if (v < 0 || v > kMaxTokenId) bad("token id " + std::to_string(v) + " is out of range");
        AddedTokenInfo t;
        t.id = static_cast<int32_t>(v);
        t.content = content->get<std::string>();
        t.special = json_bool(a, "special");
        t.lstrip = json_bool(a, "lstrip");
        t.rstrip = json_bool(a, "rstrip");
        t.single_word = json_bool(a, "single_word");
        t.normalized = json_bool(a, "normalized");
        im.added_tokens.push_back(std::move(t));
      }
    }
  }

  // ---- the vocabulary proper ----
  int64_t max_id = -1;
  for (const auto& e : raw.vocab) max_id = std::max<int64_t>(max_id, e.id);
  for (const auto& a : im.added_tokens) max_id = std::max<int64_t>(max_id, a.id);
  if (max_id < 0) sc.fail("the tokenizer defines no tokens", raw.model_pos);
  im.num_tokens = static_cast<int32_t>(max_id + 1);
  check_vocab_size(options.vocab_size, im.num_tokens);
  int32_t vocab_size = std::max(options.vocab_size, im.num_tokens);

  im.text.resize(vocab_size);
  im.bytes.resize(vocab_size);
  im.special.assign(vocab_size, 1);  // every id is padding until something defines it
  std::vector<uint8_t> defined(im.num_tokens, 0);
  for (auto& e : raw.vocab) {
    if (defined[e.id]) sc.fail("duplicate token id " + std::to_string(e.id) + " in 'model.vocab'", e.pos);
    defined[e.id] = 1;
    im.special[e.id] = 0;
    im.text[e.id] = std::move(e.text);
  }
  raw.vocab = {};

  // ---- sections deciding how a token string becomes bytes ----
  Json normalizer = parse_section(raw.normalizer, sc, "normalizer");
  Json pre_tokenizer = parse_section(raw.pre_tokenizer, sc, "pre_tokenizer");
  Json decoder = parse_section(raw.decoder, sc, "decoder");
  std::vector<const Json*> norms, pres, decs;
  flatten_section(normalizer, "normalizers", norms);
  flatten_section(pre_tokenizer, "pretokenizers", pres);
  flatten_section(decoder, "decoders", decs);

  bool byte_level = false, sentencepiece = false;
  bool byte_fallback = json_bool(raw.model_fields, "byte_fallback");
  for (const Json* d : decs) {
    std::string t = type_of(d);
    if (t == "ByteLevel") byte_level = true;
    if (t == "ByteFallback") {
      sentencepiece = true;
      byte_fallback = true;
    }
    if (t == "Metaspace") sentencepiece = true;
    if (t == "Replace" && d->contains("pattern") && (*d)["pattern"].is_object() &&
        json_string((*d)["pattern"], "String") == "\xE2\x96\x81")
      sentencepiece = true;
  }
  if (!byte_level && !sentencepiece) {
    for (const Json* p : pres) {
      std::string t = type_of(p);
      if (t == "ByteLevel") byte_level = true;
      if (t == "Metaspace") sentencepiece = true;
    }
    if (byte_fallback || mt == "Unigram") sentencepiece = !byte_level;
  }
  im.type = byte_level ? VocabType::kByteLevel
            : sentencepiece ? VocabType::kByteFallback
                            : VocabType::kRaw;

  for (const Json* n : norms) {
    if (type_of(n) == "Prepend" && json_string(*n, "prepend") == "\xE2\x96\x81") im.prepends_space = true;
  }
  for (const Json* p : pres) {
    if (type_of(p) != "Metaspace") continue;
    std::string scheme = json_string(*p, "prepend_scheme");
    if (json_bool(*p, "add_prefix_space") || scheme == "always" || scheme == "first")
      im.prepends_space = true;
    if (scheme == "never") im.prepends_space = false;
  }
  im.leading_space = options.leading_space.value_or(im.prepends_space ? LeadingSpace::kStrip
                                                                      : LeadingSpace::kKeep);

  // ---- bytes of every defined token ----
  for (int32_t id = 0; id < im.num_tokens; ++id) {
    if (!defined[id]) continue;
    const std::string& t = im.text[id];
    switch (im.type) {
      case VocabType::kByteLevel: im.bytes[id] = byte_level_bytes(t); break;
      case VocabType::kByteFallback: im.bytes[id] = sentencepiece_bytes(t, byte_fallback); break;
      case VocabType::kRaw: im.bytes[id] = t; break;
    }
  }
  // Added tokens: their bytes are their content, special or not; only special ones are masked.
  for (const auto& a : im.added_tokens) {
    im.text[a.id] = a.content;
    im.bytes[a.id] = a.content;
    im.special[a.id] = a.special ? 1 : 0;
  }
  // The unknown token stands for no bytes at all: never produced by a grammar.
  std::string unk = json_string(raw.model_fields, "unk_token");
  if (!unk.empty()) {
    for (int32_t id = 0; id < im.num_tokens; ++id) {
      if (defined[id] && im.text[id] == unk) {
        im.special[id] = 1;
        break;
      }
    }
  }

  // ---- EOS ----
  if (!options.eos_ids.empty()) {
    check_ids(options.eos_ids, vocab_size, "EOS");
    im.eos_ids = options.eos_ids;
  } else {
    std::string eos = config_eos_token(tokenizer_config_json, config_file);
    auto lookup = [&](const std::string& s) -> int32_t {
      for (const auto& a : im.added_tokens)
        if (a.content == s) return a.id;
      for (int32_t id = 0; id < im.num_tokens; ++id)
        if (im.text[id] == s) return id;
      return -1;
    };
    int32_t id = eos.empty() ? -1 : lookup(eos);
    if (id < 0) {
      for (const char* name : {"</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>", "<|im_end|>"}) {
        if ((id = lookup(name)) >= 0) break;
      }
    }
    if (id >= 0) im.eos_ids.push_back(id);
  }

  // Merges and pre-tokenizer material for the encoder (byte-level BPE only).
  if (im.type == VocabType::kByteLevel && mt == "BPE") {
    im.merges_json.assign(raw.merges.begin(), raw.merges.end());
    im.ignore_merges = json_bool(raw.model_fields, "ignore_merges");
    im.continuing_subword_prefix = json_string(raw.model_fields, "continuing_subword_prefix");
    im.end_of_word_suffix = json_string(raw.model_fields, "end_of_word_suffix");
  }
  im.normalizer_json.assign(raw.normalizer.begin(), raw.normalizer.end());
  im.pre_tokenizer_json.assign(raw.pre_tokenizer.begin(), raw.pre_tokenizer.end());
  im.decoder_json.assign(raw.decoder.begin(), raw.decoder.end());

  finish(im, vocab_size);
  return info;
}

std::shared_ptr<const TokenizerInfo> TokenizerInfo::bytes_with_eos() {
  static const std::shared_ptr<const TokenizerInfo> tok = [] {
    std::vector<std::string> bytes(257);
    for (int b = 0; b < 256; ++b) bytes[b] = std::string(1, static_cast<char>(b));
    bytes[256] = "<eos>";
    return from_tokens(std::move(bytes), {256}, 257, {256});
  }();
  return tok;
}

std::shared_ptr<const TokenizerInfo> TokenizerInfo::from_tokens(std::vector<std::string> tokens,
                                                                std::vector<int32_t> eos_ids,
                                                                int32_t vocab_size,
                                                                std::vector<int32_t> special_ids,
                                                                VocabType type,
                                                                LeadingSpace leading_space) {
  if (tokens.size() > static_cast<size_t>(kMaxTokenId)) {
    throw Error(ErrorKind::kInvalidArgument, "too many tokens");
  }
  int32_t n = static_cast<int32_t>(tokens.size());
  check_vocab_size(vocab_size, n);
  int32_t size = std::max(vocab_size, n);
  check_ids(eos_ids, size, "EOS");
  check_ids(special_ids, size, "special token");

  auto info = std::shared_ptr<TokenizerInfo>(new TokenizerInfo());
  Impl& im = *info->impl_;
  im.type = type;
  im.leading_space = leading_space;
  im.prepends_space = leading_space == LeadingSpace::kStrip;
  im.num_tokens = n;
  im.special.assign(size, 0);
  for (int32_t id = n; id < size; ++id) im.special[id] = 1;
  for (int32_t id : special_ids) im.special[id] = 1;
  im.text = tokens;
  im.bytes = std::move(tokens);
  im.eos_ids = std::move(eos_ids);
  finish(im, size);
  return info;
}

int32_t TokenizerInfo::vocab_size() const { return impl_->vocab_size; }
int32_t TokenizerInfo::num_tokens() const { return impl_->num_tokens; }

const std::string& TokenizerInfo::token_bytes(int32_t id) const {
  if (id < 0 || id >= impl_->vocab_size) {
    throw Error(ErrorKind::kInvalidArgument, "token id " + std::to_string(id) +
                                                 " is outside the vocabulary [0, " +
                                                 std::to_string(impl_->vocab_size) + ")");
  }
  return impl_->bytes[id];
}

const std::string& TokenizerInfo::token_text(int32_t id) const {
  if (id < 0 || id >= impl_->vocab_size) {
    throw Error(ErrorKind::kInvalidArgument, "token id " + std::to_string(id) +
                                                 " is outside the vocabulary [0, " +
                                                 std::to_string(impl_->vocab_size) + ")");
  }
  return impl_->text[id];
}

bool TokenizerInfo::is_special(int32_t id) const {
  return id < 0 || id >= impl_->vocab_size || impl_->special[id] != 0;
}
const std::vector<int32_t>& TokenizerInfo::eos_ids() const { return impl_->eos_ids; }
bool TokenizerInfo::is_eos(int32_t id) const {
  return std::binary_search(impl_->eos_ids.begin(), impl_->eos_ids.end(), id);
}
VocabType TokenizerInfo::type() const { return impl_->type; }
LeadingSpace TokenizerInfo::leading_space() const { return impl_->leading_space; }
bool TokenizerInfo::prepends_space() const { return impl_->prepends_space; }

int32_t TokenizerInfo::find_token(std::string_view text) const {
  return impl_->text_index().find(text);
}

const fsm::TokenTrie& TokenizerInfo::trie() const { return impl_->trie; }
const fsm::ClassTrie& TokenizerInfo::json_class_trie() const { return impl_->string_class_tries[0]; }
const fsm::ClassTrie& TokenizerInfo::string_class_trie(int which) const { return impl_->string_class_tries.at(which); }
const fsm::SubTrie& TokenizerInfo::quote_trie() const { return impl_->quote_trie; }
const std::vector<uint32_t>& TokenizerInfo::trie_token_bits() const { return impl_->trie_bits; }
const std::vector<int32_t>& TokenizerInfo::json_token_ids(JsonTokens which) const {
  return impl_->json_ids(static_cast<int>(which));
}
const std::string& TokenizerInfo::fingerprint() const { return impl_->fingerprint; }

}  // namespace tollgate
