// generate — the decoding loop: a RetNet, its tokenizer's Encoder, an optional CompiledGrammar and a
// prompt in; text out. The prompt is prefilled with the chunkwise form, tokens are decoded with the
// recurrent form. Each step the grammar's Matcher fills the token mask (on a second thread, while the
// model computes the step), the mask is applied to the logits, the Sampler picks a token, and the
// Matcher accepts it. With jump_forward, bytes the grammar forces are encoded and fed to the model in
// one chunkwise call instead of being sampled token by token.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/compiler.hpp"
#include "tollgate/encoder.hpp"
#include "tollgate/retnet.hpp"

namespace tollgate {

struct GenerateOptions {
  int max_tokens = 256;        // generated tokens (sampled + forced), EOS not counted
  float temperature = 1.0f;    // <= 0: greedy
  float top_p = 1.0f;
  int top_k = 0;
  uint64_t seed = 0;
  bool jump_forward = true;
  int prefill_chunk = 64;      // chunk size of the chunkwise form
  bool overlap_mask = true;    // fill the next mask on a second thread during the model step
  bool add_bos = true;         // put the model's BOS token in front of the prompt
  // With a grammar: the Matcher's length budget is max_tokens (Matcher::set_token_budget), so
  // the output ends in a complete match whenever the grammar has a sentence of at most
  // max_tokens bytes; when it has none, generate() returns at once with stop_reason
  // "budget_too_small" (no token generated).
  bool length_budget = true;
};

struct GenerateStats {
  int tokens = 0;              // tokens in GenerateResult::token_ids
  int forced_tokens = 0;       // of which came from jump-forward
  int prompt_tokens = 0;       // BOS included
  double seconds = 0;          // whole call (prefill + decode)
  double prefill_seconds = 0;  // prompt encoding + chunkwise prefill
  double mask_seconds = 0;     // Matcher::fill_next_token_bitmask, summed
  double model_seconds = 0;    // model steps and chunkwise calls after the prefill, summed
};

struct GenerateResult {
  std::string text;              // bytes of token_ids (EOS excluded)
  std::vector<int32_t> token_ids;
  GenerateStats stats;
  // "eos", "max_tokens", "grammar_complete", "no_allowed_token", "budget_too_small"
  std::string stop_reason;
  // With "budget_too_small": the grammar's shortest sentence in bytes (-1: it has none); else 0.
  int64_t shortest_bytes = 0;
  bool grammar_accepting = false;  // with a grammar: the text is a complete match
};

// `grammar` may be null (unconstrained). It must be compiled for the encoder's tokenizer, whose
// vocabulary must fit in the model's. Throws tollgate::Error(kInvalidArgument) on mismatches.
GenerateResult generate(const RetNet& model, const Encoder& encoder, const CompiledGrammarPtr& grammar,
                        std::string_view prompt, const GenerateOptions& options = {});

}  // namespace tollgate
