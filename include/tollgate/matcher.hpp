// Matcher — the mutable, per-sequence side of a CompiledGrammar.
// Bitmask layout (XGrammar/llguidance compatible): int32 words, ceil(vocab_size/32) per row,
// bit (i % 32) of word (i / 32) set ⇔ token i allowed.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "tollgate/compiler.hpp"

namespace tollgate {

inline int32_t bitmask_words(int32_t vocab_size) { return (vocab_size + 31) / 32; }

class Matcher {
 public:
  // max_rollback: how many accepted tokens rollback() can undo (the history kept).
  explicit Matcher(CompiledGrammarPtr grammar, int max_rollback = 64);
  ~Matcher();
  Matcher(Matcher&&) noexcept;
  Matcher& operator=(Matcher&&) noexcept;
  Matcher(const Matcher&);  // fork: same grammar, same state

  // Writes row `row` of `bitmask` (each row bitmask_words(vocab_size) int32 words).
  // EOS is allowed exactly when the input so far is complete. After termination no token is
  // allowed (the row is all zero).
  void fill_next_token_bitmask(int32_t* bitmask, int64_t row = 0) const;

  // Consumes one token. Returns false and leaves the state unchanged for every refusal: a token
  // the grammar does not allow, an out-of-range, padding or special id, EOS before the input is
  // complete, anything after termination. EOS is accepted when is_accepting(); the matcher is
  // then terminated.
  // Throws only when the step cannot be decided, and then leaves the state unchanged too:
  //  - Error(kLimit) when a hard resource limit is hit mid-step (a context-free grammar's parser
  //    needs more than 2^26 distinct Earley states); the token is neither accepted nor refused,
  //    and the matcher stays usable (rollback, other tokens);
  //  - Error(kInternal) when an internal invariant fails (a bug: please report it);
  //  - std::bad_alloc when memory runs out.
  bool accept_token(int32_t token_id);
  // Consumes raw bytes (any split, need not be token-aligned). false and unchanged on failure;
  // throws as accept_token does.
  bool accept_bytes(std::string_view bytes);
  // Undoes the last n accept_token/accept_bytes calls. Throws kInvalidArgument beyond history.
  void rollback(int n);
  void reset();

  bool is_accepting() const;   // the input so far is a complete match
  bool is_terminated() const;  // EOS accepted
  // Bytes the grammar forces from here (may be empty).
  std::string jump_forward() const;
  int num_accepted() const;   // steps that rollback() can still undo

  // Speculative decoding. The history is persistent (shared between forks), so fork() costs one
  // small allocation whatever the history holds (docs/benchmarks.md, "fork").
  Matcher fork() const { return Matcher(*this); }
  // How many of `tokens`, in order from the current state, would be accepted (stops at the first
  // refusal); the state is unchanged. Throws as accept_token does.
  int validate_tokens(std::span<const int32_t> tokens) const;
  // The masks for a draft of k tokens in one call: rows row, row+1, ..., row+k of `bitmask` get
  // the mask here and after each of draft[0], ..., draft[k-1] in turn; the rows after a draft
  // token that is refused are all zero. Returns how many draft tokens are accepted. The state is
  // unchanged; after the model's verification accept the tokens it kept (or accept all of them
  // and rollback() the rejected tail: at least max_rollback tokens, 64 by default, can be undone).
  int fill_next_token_bitmask_draft(std::span<const int32_t> draft, int32_t* bitmask, int64_t row = 0) const;

  const CompiledGrammar& grammar() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// logits[i] = -inf for every token i whose bit is clear (i < vocab_size; logits has at least
// vocab_size floats). Vectorised.
void apply_token_bitmask(float* logits, const int32_t* bitmask, int32_t vocab_size);
// The same for 16-bit floats held as raw bits: neg_inf_bits is the format's -inf
// (kFloat16NegInf or kBFloat16NegInf).
inline constexpr uint16_t kFloat16NegInf = 0xFC00;
inline constexpr uint16_t kBFloat16NegInf = 0xFF80;
void apply_token_bitmask_16bit(uint16_t* logits, const int32_t* bitmask, int32_t vocab_size, uint16_t neg_inf_bits);

}  // namespace tollgate
