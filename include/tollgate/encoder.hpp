// Encoder — text -> token ids for byte-level BPE tokenizer.json models (Llama-3, Qwen3, GPT-4o, the
// RetNet reference tokenizer), and ids -> bytes for any vocabulary.
// Pipeline: added tokens matched in the raw text, then normalizer (NFC/NFKC/...), pre-tokenizer
// (Split regex via ICU, ByteLevel), then BPE merges by rank on bytes (cached per pre-token).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/vocabulary.hpp"

namespace tollgate {

class Encoder {
 public:
  // From a TokenizerInfo loaded from a tokenizer.json. Throws tollgate::Error(kUnsupported) for
  // vocabularies that are not byte-level BPE (SentencePiece models, from_tokens vocabularies) and for
  // normalizers / pre-tokenizers it does not implement.
  explicit Encoder(TokenizerInfoPtr tokenizer);
  // From a tokenizer.json path (or its folder).
  explicit Encoder(const std::string& tokenizer_path);
  ~Encoder();
  Encoder(Encoder&&) noexcept;
  Encoder& operator=(Encoder&&) noexcept;

  // Token ids of `text`, without BOS/EOS. Added tokens marked special (e.g. "<|eot_id|>") are
  // recognised in the text only when `allow_special`; otherwise their text is encoded as plain text.
  // Non-special added tokens (Qwen's "<think>") are always recognised. Thread-safe.
  std::vector<int32_t> encode(std::string_view text, bool allow_special = false) const;
  // Concatenated bytes of the ids (special tokens give their content unless `skip_special`).
  // Throws kInvalidArgument for ids outside the vocabulary.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;

  const TokenizerInfo& tokenizer() const;
  const TokenizerInfoPtr& tokenizer_ptr() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tollgate
