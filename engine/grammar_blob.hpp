// Loading a compiled grammar from its bytes (CompiledGrammar::serialize / deserialize; the format
// is described in grammar_blob.cpp).
// Takes: a blob and the tokenizer it must have been compiled for (and optionally the Compiler's
// index cache, for the entries a loaded context-free grammar computes later). Gives: the
// CompiledGrammar, or Error(kInvalidArgument) naming why the blob is refused.
#pragma once

#include <memory>
#include <string_view>

#include "tollgate/compiler.hpp"

namespace tollgate::engine {

class IndexCache;

// Bumped whenever the layout of a blob changes: blobs of other versions are refused.
inline constexpr uint32_t kBlobVersion = 1;

CompiledGrammarPtr load_grammar(std::string_view blob, const TokenizerInfoPtr& tokenizer,
                                const std::shared_ptr<IndexCache>& index_cache);

}  // namespace tollgate::engine
