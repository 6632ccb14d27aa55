// TokenizerInfo::Impl — the private state behind TokenizerInfo.
// Takes: nothing (filled by vocabulary.cpp). Gives: per-id bytes/text/flags, EOS ids, the token trie (and its string class tries),
// and the raw tokenizer.json material the encoder needs (added tokens, normalizer, pre-tokenizer,
// merges) kept as JSON text so that loading a vocabulary does not pay for parsing them.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/string_index.hpp"
#include "fsm/class_trie.hpp"
#include "fsm/token_trie.hpp"
#include "tollgate/vocabulary.hpp"

namespace tollgate {

struct AddedTokenInfo {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

struct TokenizerInfo::Impl {
  VocabType type = VocabType::kRaw;
  LeadingSpace leading_space = LeadingSpace::kKeep;
  bool prepends_space = false;
  int32_t vocab_size = 0;
  int32_t num_tokens = 0;

  std::vector<std::string> bytes;  // [vocab_size]; empty for padding ids
  std::vector<std::string> text;   // [vocab_size]; as written in tokenizer.json
  std::vector<uint8_t> special;    // [vocab_size]; 1 = special / padding
  std::vector<int32_t> eos_ids;
  fsm::TokenTrie trie;
  // Tries under the string partitions (fsm::ClassTrie::string_partition), the JSON-string one first.
  std::array<fsm::ClassTrie, fsm::ClassTrie::kStringPartitions> string_class_tries;
  fsm::SubTrie quote_trie;         // the part of `trie` leading to tokens with a '"'
  std::vector<uint32_t> trie_bits;  // the tokens of `trie` as a bitmask row
  std::string fingerprint;  // TokenizerInfo::fingerprint, computed by finish()

  // --- tokenizer.json material for the encoder (empty when built from byte strings) ---
  std::string model_type;                // "BPE", "Unigram", ...
  bool from_tokenizer_json = false;
  bool ignore_merges = false;
  std::string continuing_subword_prefix;
  std::string end_of_word_suffix;
  std::vector<AddedTokenInfo> added_tokens;
  std::string normalizer_json;     // raw JSON ("null" when absent)
  std::string pre_tokenizer_json;  // raw JSON
  std::string decoder_json;        // raw JSON
  std::string merges_json;         // raw JSON of model.merges (only for byte-level BPE models)

  // text -> id, built on first use (find_token, encoder).
  // The first id wins when two ids share a string.
  const engine::StringIndex& text_index() const {
    std::call_once(text_index_once_, [this] {
      text_index_.reserve(static_cast<size_t>(num_tokens));
      for (int32_t id = 0; id < num_tokens; ++id) {
        if (!text[id].empty()) text_index_.insert(text[id], id);
      }
    });
    return text_index_;
  }

  // Tokens by the JSON structure they hold (sorted ids, no special ones), listed when the vocabulary
  // is built (vocabulary.cpp), else on first use:
  // [0] with a '"', [1] with a '}', [2] with a '"' before a '}', [3] with a '{' before a '}',
  // [4] with a '{' (TokenizerInfo::json_token_ids).
  const std::vector<int32_t>& json_ids(int kind) const {
    std::call_once(json_ids_once_, [this] {
      for (int32_t id = 0; id < num_tokens; ++id) {
        if (special[id] || bytes[id].empty()) continue;
        const std::string& b = bytes[id];
        size_t quote = b.find('"'), brace = b.rfind('}');
        if (quote != std::string::npos) json_ids_[0].push_back(id);
        if (brace != std::string::npos) json_ids_[1].push_back(id);
        if (brace != std::string::npos && quote < brace) json_ids_[2].push_back(id);
        if (brace != std::string::npos && b.find('{') < brace) json_ids_[3].push_back(id);
        if (b.find('{') != std::string::npos) json_ids_[4].push_back(id);
      }
    });
    return json_ids_[kind];
  }

 private:
  mutable std::once_flag json_ids_once_;
  mutable std::vector<int32_t> json_ids_[5];
  mutable std::once_flag text_index_once_;
  mutable engine::StringIndex text_index_;
};

}  // namespace tollgate
