// Matcher — the mutable, per-sequence side of a CompiledGrammar.
// Bitmask layout (XGrammar/llguidance compatible): int32 words, ceil(vocab_size/32) per row,
// bit (i % 32) of word (i / 32) set ⇔ token i allowed.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/compiler.hpp"

namespace tollgate {

class Encoder;

// Matcher::jump_forward_tokens: take back `rollback` tokens (Matcher::rollback, and from the
// model's sequence), then append `tokens`.
struct JumpForwardTokens {
  int rollback = 0;
  std::vector<int32_t> tokens;
};

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
  // Throws Error(kLimit) when a hard resource limit is hit, the state unchanged: as accept_token,
  // and when a lexeme automaton first needed here is over the DFA budgets
  // (CompileOptions::eager_automata_states: built on first use, not in the compile).
  void fill_next_token_bitmask(int32_t* bitmask, int64_t row = 0) const;
  // The same row, but only when it costs no computing: copied or combined from what the grammar
  // has computed already (a regular grammar's token index, a context-free grammar's cached masks
  // and index entries); returns false and writes nothing when fill_next_token_bitmask would
  // compute (a new parser configuration, the length budget's filter). For callers holding a lock
  // worth letting go only for real work (the Python bindings keep the GIL for such a copy).
  bool try_fill_next_token_bitmask_cached(int32_t* bitmask, int64_t row = 0) const;

  // Consumes one token. Returns false and leaves the state unchanged for every refusal: a token
  // the grammar does not allow, an out-of-range, padding or special id, EOS before the input is
  // complete, anything after termination. EOS is accepted when is_accepting(); the matcher is
  // then terminated.
  // Throws only when the step cannot be decided, and then leaves the state unchanged too:
  //  - Error(kLimit) when a hard resource limit is hit mid-step (a context-free grammar's parser
  //    needs more than 2^26 distinct Earley states, or a lexeme automaton built on first use is
  //    over the DFA budgets); the token is neither accepted nor refused, and the matcher stays
  //    usable (rollback, other tokens);
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
  // The forced bytes as tokens of `encoder` (the grammar's tokenizer), re-tokenized at the
  // boundary: the last accepted tokens (at most max_rollback_tokens, only tokens accepted by
  // accept_token since the last accept_bytes, and no more than rollback() can undo) are encoded
  // again together with the forced bytes, and the tokens from the first one whose canonical
  // encoding changed are taken back. So with "{\"" sampled and "name\": " forced, the
  // result may be {rollback 1, ["{\"name", "\":", " "]} — the sequence the model would have seen
  // had the text been tokenized whole. After rollback(result.rollback) and accept_token of each
  // id the matcher is where accept_bytes(jump_forward()) would have put it. Policy and its effect
  // on the model's view: the tokens given are canonical for the text from the re-encoded window
  // on; with max_rollback_tokens = 0 the forced bytes are encoded alone (the model may then see a
  // split it never saw in training at the boundary); the last forced token may still merge with
  // what is sampled next (the grammar cannot know it). Empty when nothing is forced.
  JumpForwardTokens jump_forward_tokens(const Encoder& encoder, int max_rollback_tokens = 0) const;
  int num_accepted() const;   // steps that rollback() can still undo

  // Speculative decoding. The history is persistent (shared between forks), so fork() costs one
  // small allocation whatever the history holds (docs/benchmarks.md, "fork").
  Matcher fork() const { return Matcher(*this); }
  // How many of `tokens`, in order from the current state, would be accepted (stops at the first
  // refusal); the state is unchanged. Throws as accept_token does. With a length budget set, a
  // token that the budgeted mask at its step excludes also ends the count (accept_token itself
  // never refuses for the budget's sake), and the draft's tokens take from the budget as they go.
  int validate_tokens(std::span<const int32_t> tokens) const;
  // The masks for a draft of k tokens in one call: rows row, row+1, ..., row+k of `bitmask` get
  // the mask here and after each of draft[0], ..., draft[k-1] in turn; the rows after a draft
  // token that is refused (with a budget: that its row excludes) are all zero. Returns how many
  // draft tokens are accepted, the count validate_tokens gives. The state is
  // unchanged; after the model's verification accept the tokens it kept (or accept all of them
  // and rollback() the rejected tail: at least max_rollback tokens, 64 by default, can be undone).
  int fill_next_token_bitmask_draft(std::span<const int32_t> draft, int32_t* bitmask, int64_t row = 0) const;

  const CompiledGrammar& grammar() const;

  // Length budget: how many tokens the generation may still produce (EOS not counted, as
  // GenerateOptions::max_tokens). With a budget b >= 0 the masks keep only the tokens after
  // which the shortest completion still fits in b - 1 more tokens, counted in bytes (every byte
  // is a token in the supported vocabularies, so a byte count bounds the token count); EOS is
  // allowed as before, and with b = 0 only EOS is (when the input is complete). So a generation
  // that stops after b tokens ends in a complete match whenever shortest_completion_bytes() <= b
  // when the budget is set. A budget below shortest_completion_bytes() acts as that value: the
  // mask keeps the tokens on a shortest completion. accept_token() of a non-EOS token takes one
  // from the budget, accept_bytes() takes nothing, rollback() gives back what it undoes,
  // fork() copies it, reset() restores the value last set. accept_token never refuses a token
  // for the budget's sake. -1 turns it off (the default). Costs: docs/benchmarks.md.
  // Context-free grammars with leftmost-first lexing (Lark) count completions that a pending
  // longer match would forbid, so there the bound may be short of the truth.
  void set_token_budget(int tokens_left);
  int token_budget() const;  // -1 when off
  // Fewest bytes that complete the input so far (0 when it is complete or terminated); -1 when
  // no continuation does.
  int64_t shortest_completion_bytes() const;

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
