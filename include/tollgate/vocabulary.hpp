// TokenizerInfo — a model's vocabulary as exact byte strings.
// Loaded from a Hugging Face tokenizer.json (+ tokenizer_config.json), or built from a
// list of byte strings. Immutable once built; share it as std::shared_ptr<const TokenizerInfo>.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate {

namespace fsm {
class TokenTrie;
class ClassTrie;
struct SubTrie;
}

enum class VocabType {
  kRaw,        // token strings are the bytes themselves
  kByteLevel,  // GPT-2 byte<->unicode map (Llama-3, Qwen, GPT-4o)
  kByteFallback,  // SentencePiece style: "▁" is a space, <0xNN> is byte NN (Llama-2, Gemma)
};

// What to do with the space that a SentencePiece Prepend-▁ normalizer puts in front of the
// first token ("▁Hello" for "Hello" at the start of a text).
enum class LeadingSpace {
  kKeep,   // the first token's bytes are taken as they are: " Hello" (the grammar sees the space)
  kStrip,  // one leading space of the first token is dropped, as the tokenizer's decoder does
};

struct TokenizerOptions {
  // EOS ids override; empty = from tokenizer_config.json (eos_token), else model defaults.
  std::vector<int32_t> eos_ids;
  // Model vocabulary size (logits width) when larger than the tokenizer's; 0 = tokenizer's size.
  int32_t vocab_size = 0;
  // Default: kStrip for tokenizers whose normalizer prepends "▁", irrelevant for others.
  std::optional<LeadingSpace> leading_space;
};

class TokenizerInfo {
 public:
  // Path to a tokenizer.json or to a directory holding one. Throws tollgate::Error.
  static std::shared_ptr<const TokenizerInfo> from_file(const std::string& path,
                                                        const TokenizerOptions& options = {});
  // From the JSON text of tokenizer.json (and optionally tokenizer_config.json).
  static std::shared_ptr<const TokenizerInfo> from_json(std::string_view tokenizer_json,
                                                        std::string_view tokenizer_config_json = {},
                                                        const TokenizerOptions& options = {});
  // From byte strings. ids in `special_ids` are never allowed by a grammar unless named.
  // vocab_size >= tokens.size(); ids beyond tokens.size() are padding (always masked).
  static std::shared_ptr<const TokenizerInfo> from_tokens(std::vector<std::string> tokens,
                                                          std::vector<int32_t> eos_ids,
                                                          int32_t vocab_size = 0,
                                                          std::vector<int32_t> special_ids = {},
                                                          VocabType type = VocabType::kRaw,
                                                          LeadingSpace leading_space = LeadingSpace::kKeep);
  // One token per byte value (ids 0..255) and EOS "<eos>" (256), built once and shared: for matching
  // bytes without a model vocabulary (the CLI's match/check/sample, tests, fuzzers).
  static std::shared_ptr<const TokenizerInfo> bytes_with_eos();

  TokenizerInfo();
  ~TokenizerInfo();
  TokenizerInfo(const TokenizerInfo&) = delete;
  TokenizerInfo& operator=(const TokenizerInfo&) = delete;

  // Width of the logits / bitmask rows.
  int32_t vocab_size() const;
  // Number of ids the tokenizer itself defines (<= vocab_size()).
  int32_t num_tokens() const;
  // Exact bytes of a token (empty for padding ids). Throws kInvalidArgument when out of range.
  const std::string& token_bytes(int32_t id) const;
  // The token's string as written in tokenizer.json (for display).
  const std::string& token_text(int32_t id) const;
  bool is_special(int32_t id) const;  // added/special tokens and padding ids
  const std::vector<int32_t>& eos_ids() const;
  bool is_eos(int32_t id) const;
  VocabType type() const;
  LeadingSpace leading_space() const;
  // True when the tokenizer's normalizer prepends "▁" (SentencePiece Prepend-▁).
  bool prepends_space() const;
  // Id of a token whose tokenizer.json string is exactly `text`, or -1.
  int32_t find_token(std::string_view text) const;
  // Trie over the byte strings of all non-special tokens.
  const fsm::TokenTrie& trie() const;
  // The trie under the JSON-string byte classes (fsm::ClassTrie::json_string_classes()).
  const fsm::ClassTrie& json_class_trie() const;
  // The trie under string partition `which` (fsm::ClassTrie::string_partition: the JSON-string
  // classes, or finer ones for where a pattern's class parts those); 0 is json_class_trie().
  const fsm::ClassTrie& string_class_trie(int which) const;
  // The part of trie() on the way to the tokens that contain a '"' (fsm::SubTrie).
  const fsm::SubTrie& quote_trie() const;
  // The non-special tokens (sorted ids) that hold a '"' (kQuote), a '}' (kBrace), a '"' somewhere
  // before a '}' (kQuoteBrace), a '{' somewhere before a '}' (kOpenClose) or a '{' (kOpen): what can
  // end a JSON string, close an object, open and close one, or open one; listed on first use.
  enum class JsonTokens : int { kQuote = 0, kBrace = 1, kQuoteBrace = 2, kOpenClose = 3, kOpen = 4 };
  const std::vector<int32_t>& json_token_ids(JsonTokens which) const;
  // Every token of trie() as a bitmask row (bitmask_words(vocab_size()) words).
  const std::vector<uint32_t>& trie_token_bits() const;
  // Identifies the vocabulary a compiled grammar depends on: 64 lower-case hex digits of the
  // SHA-256 of "tollgate-vocabulary-v1;<vocab_size>;<type>;<leading_space>;<prepends_space 0/1>;
  // <EOS ids, each followed by ','>;" and then, per id, "S" (special or padding) or "N", the
  // byte length, ':' and the token's bytes. Stable across runs, builds and machines; two
  // tokenizers with the same fingerprint give the same masks for every grammar (Python:
  // TokenizerInfo.fingerprint; compiled-grammar blobs and cache keys carry it).
  const std::string& fingerprint() const;
  // The raw decoding maps (for the encoder).
  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  static std::shared_ptr<const TokenizerInfo> from_json_impl(std::string_view tokenizer_json,
                                                             std::string_view tokenizer_config_json,
                                                             const TokenizerOptions& options,
                                                             const std::string& file,
                                                             const std::string& config_file);
  std::unique_ptr<Impl> impl_;
};

using TokenizerInfoPtr = std::shared_ptr<const TokenizerInfo>;

}  // namespace tollgate
