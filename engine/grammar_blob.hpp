// Loading a compiled grammar from its bytes (CompiledGrammar::serialize / deserialize; the format
// is described in grammar_blob.cpp).
// Takes: a blob and the tokenizer it must have been compiled for (and optionally the Compiler's
// index cache, for the entries a loaded context-free grammar computes later). Gives: the
// CompiledGrammar, or Error(kInvalidArgument) naming why the blob is refused.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/digest.hpp"
#include "tollgate/compiler.hpp"

namespace tollgate::engine {

class IndexCache;

// Bumped whenever the layout of a blob changes: blobs of other versions are refused.
inline constexpr uint32_t kBlobVersion = 6;  // 4: the uniqueItems plan; 5: its required keys; 6: warnings' spans
// magic 8, version 4, kind 4, tokenizer fingerprint 64 (hex), payload size 8, SHA-256 32.
inline constexpr size_t kBlobHeaderBytes = 120;

// `options` (may be null: the blob's own) gives the loaded grammar's cache budgets.
CompiledGrammarPtr load_grammar(std::string_view blob, const TokenizerInfoPtr& tokenizer,
                                const std::shared_ptr<IndexCache>& index_cache, const CompileOptions* options);

// The checksum a blob carries: SHA-256 of its header fields (version to payload size) and payload.
Digest blob_checksum(std::string_view header_fields, std::string_view payload);
// `blob` with its checksum recomputed (tests forge blobs with it: a valid checksum proves nothing
// about the content, which the loader checks field by field).
std::string reseal_blob(std::string blob);

}  // namespace tollgate::engine
