// Matcher: forwards to the back-end's Matcher::Impl (engine/grammar_impl.hpp); validate_tokens and the
// draft masks of speculative decoding run on a scratch copy (O(1): the step history is shared).
// The length budget is kept here (tokens left, per-step record for rollback) and applied to each
// mask through the back-end's shortest_completion / apply_length_budget.
#include "tollgate/matcher.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>
#include <vector>

#include "engine/grammar_impl.hpp"
#include "tollgate/encoder.hpp"
#include "tollgate/error.hpp"

namespace tollgate {

Matcher::Matcher(CompiledGrammarPtr grammar, int max_rollback) {
  if (!grammar) throw Error(ErrorKind::kInvalidArgument, "Matcher needs a compiled grammar");
  const CompiledGrammar::Impl& g = grammar->impl();
  impl_ = g.make_matcher(std::move(grammar), max_rollback);
}
Matcher::~Matcher() = default;
Matcher::Matcher(Matcher&&) noexcept = default;
Matcher& Matcher::operator=(Matcher&&) noexcept = default;
Matcher::Matcher(const Matcher& other) : impl_(other.impl_->clone()) {}

namespace {
// The length budget's filter on a filled mask row (Matcher::set_token_budget).
void apply_budget(const Matcher::Impl& m, uint32_t* r) {
  if (m.budget < 0 || m.is_terminated()) return;
  const uint32_t c = m.shortest_completion();
  if (c == UINT32_MAX) return;
  const uint32_t b = std::max(static_cast<uint32_t>(m.budget), c);  // below the shortest: as the shortest
  if (b > 0) {
    m.apply_length_budget(r, b - 1);
    return;
  }
  // No token left: EOS only (it is set exactly when the input is complete).
  const TokenizerInfo& tok = m.grammar().tokenizer();
  const int32_t words = bitmask_words(tok.vocab_size());
  std::vector<int32_t> eos;
  for (int32_t e : tok.eos_ids())
    if (r[e >> 5] & (1u << (e & 31))) eos.push_back(e);
  std::memset(r, 0, static_cast<size_t>(words) * 4);
  for (int32_t e : eos) r[e >> 5] |= 1u << (e & 31);
}
// A mask row with the length budget applied.
void fill_row(const Matcher::Impl& m, int32_t* row) {
  m.fill_next_token_bitmask(row);
  apply_budget(m, reinterpret_cast<uint32_t*>(row));
}
// Whether the budgeted mask at m's state has `id` (the grammar's own test is accept_token's), so that
// a draft step agrees with the budgeted mask. The whole row is filled: the back-ends' filters
// remember, per state, the worst completion over the state's whole mask (cfg_budget.cpp), so they
// are only ever given whole masks.
bool budget_keeps(const Matcher::Impl& m, int32_t id) {
  if (m.budget < 0 || m.is_terminated()) return true;
  const TokenizerInfo& tok = m.grammar().tokenizer();
  if (id < 0 || id >= tok.vocab_size()) return true;  // accept_token refuses it with its own error
  std::vector<int32_t> row(static_cast<size_t>(bitmask_words(tok.vocab_size())));
  fill_row(m, row.data());
  return (static_cast<uint32_t>(row[static_cast<size_t>(id >> 5)]) >> (id & 31)) & 1u;
}
// Bookkeeping after a successful step: the step's token id (-1: bytes) and the budget (token: a
// non-EOS token).
constexpr size_t kRecentIds = 256;
void count_step(Matcher::Impl& m, bool token, int32_t id = -1) {
  m.recent_ids.push_back(id);
  if (m.recent_ids.size() > 2 * kRecentIds) m.recent_ids.erase(m.recent_ids.begin(), m.recent_ids.end() - kRecentIds);
  if (m.budget_set < 0) return;
  const bool take = token && m.budget > 0;
  if (take) --m.budget;
  m.budget_steps.push_back(take ? 1 : 0);
  if (m.budget_steps.size() > 8192) m.budget_steps.erase(m.budget_steps.begin(), m.budget_steps.begin() + 4096);
}
bool is_counted_token(const Matcher::Impl& m, int32_t id) { return !m.grammar().tokenizer().is_eos(id); }
}  // namespace

void Matcher::fill_next_token_bitmask(int32_t* bitmask, int64_t row) const {
  const int32_t words = bitmask_words(impl_->grammar().tokenizer().vocab_size());
  fill_row(*impl_, bitmask + row * words);
}

bool Matcher::try_fill_next_token_bitmask_cached(int32_t* bitmask, int64_t row) const {
  if (impl_->budget >= 0 && !impl_->is_terminated()) return false;  // the budget's filter computes
  const int32_t words = bitmask_words(impl_->grammar().tokenizer().vocab_size());
  return impl_->fill_next_token_bitmask_cached(bitmask + row * words);
}

void Matcher::set_token_budget(int tokens_left) {
  impl_->budget = impl_->budget_set = tokens_left < 0 ? -1 : tokens_left;
  impl_->budget_steps.clear();
}
int Matcher::token_budget() const { return impl_->budget; }
int64_t Matcher::shortest_completion_bytes() const {
  uint32_t c = impl_->shortest_completion();
  return c == UINT32_MAX ? -1 : static_cast<int64_t>(c);
}

namespace {
// The accept contract (matcher.hpp): a refusal is `false` from the back-end; what escapes it is
// a resource limit (kLimit, passed on), memory exhaustion (passed on), or a broken invariant,
// which is reported as kInternal — never as the caller's invalid argument. Back-ends build the
// next state aside and push it last, so the state is unchanged when anything is thrown.
template <class F>
bool guarded_accept(const char* what, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kLimit) throw;
    throw Error(ErrorKind::kInternal, std::string(what) + ": internal error (" + to_string(e.kind()) + ": " +
                                          e.message() + "); please report it");
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(ErrorKind::kInternal, std::string(what) + ": internal error (" + e.what() + "); please report it");
  }
}
}  // namespace

bool Matcher::accept_token(int32_t token_id) {
  bool ok = guarded_accept("accept_token", [&] { return impl_->accept_token(token_id); });
  if (ok) count_step(*impl_, is_counted_token(*impl_, token_id), token_id);
  return ok;
}
bool Matcher::accept_bytes(std::string_view bytes) {
  bool ok = guarded_accept("accept_bytes", [&] { return impl_->accept_bytes(bytes); });
  if (ok) count_step(*impl_, false);
  return ok;
}
void Matcher::rollback(int n) {
  impl_->rollback(n);  // throws beyond the history, before the budget changes
  auto& steps = impl_->budget_steps;
  for (int i = 0; i < n && !steps.empty(); ++i) {
    impl_->budget += steps.back();
    steps.pop_back();
  }
  auto& ids = impl_->recent_ids;
  ids.resize(ids.size() - std::min<size_t>(ids.size(), static_cast<size_t>(n)));
}
void Matcher::reset() {
  impl_->reset();
  impl_->budget = impl_->budget_set;
  impl_->budget_steps.clear();
  impl_->recent_ids.clear();
}
bool Matcher::is_accepting() const { return impl_->is_accepting(); }
bool Matcher::is_terminated() const { return impl_->is_terminated(); }
std::string Matcher::jump_forward() const { return impl_->jump_forward(); }

JumpForwardTokens Matcher::jump_forward_tokens(const Encoder& encoder, int max_rollback_tokens) const {
  const std::string forced = impl_->jump_forward();
  if (forced.empty()) return {};
  const TokenizerInfo& tok = impl_->grammar().tokenizer();
  if (encoder.tokenizer().vocab_size() != tok.vocab_size())
    throw Error(ErrorKind::kInvalidArgument, "jump_forward_tokens: the encoder is for another tokenizer");
  // The window: the trailing run of accepted tokens that rollback() can undo.
  const std::vector<int32_t>& ids = impl_->recent_ids;
  size_t k = 0;
  const size_t limit = std::min<size_t>(std::max(max_rollback_tokens, 0), impl_->num_accepted());
  while (k < limit && k < ids.size() && ids[ids.size() - 1 - k] >= 0 && !tok.is_eos(ids[ids.size() - 1 - k])) ++k;
  // Shrinks the window until the re-encoding is accepted from where it starts (it always is for
  // a byte-level grammar; the check guards tokenizers that drop a leading space).
  for (;; k = 0) {
    std::string text;
    for (size_t i = ids.size() - k; i < ids.size(); ++i) text += tok.token_bytes(ids[i]);
    text += forced;
    std::vector<int32_t> enc;
    try {
      enc = encoder.encode(text);
    } catch (const Error&) {
      if (k == 0) return {};
      continue;
    }
    size_t j = 0;
    while (j < k && j < enc.size() && enc[j] == ids[ids.size() - k + j]) ++j;
    JumpForwardTokens out{static_cast<int>(k - j), std::vector<int32_t>(enc.begin() + static_cast<long>(j), enc.end())};
    std::unique_ptr<Impl> scratch = impl_->clone();
    bool ok = true;
    if (out.rollback > 0) scratch->rollback(out.rollback);
    for (int32_t id : out.tokens) {
      if (!guarded_accept("jump_forward_tokens", [&] { return scratch->accept_token(id); })) {
        ok = false;
        break;
      }
    }
    if (ok) return out;
    if (k == 0) return {};
  }
}
int Matcher::num_accepted() const { return impl_->num_accepted(); }
const CompiledGrammar& Matcher::grammar() const { return impl_->grammar(); }

int Matcher::validate_tokens(std::span<const int32_t> tokens) const {
  std::unique_ptr<Impl> scratch = impl_->clone();  // O(1): the history is shared
  int n = 0;
  for (int32_t t : tokens) {
    // With a length budget, a token the budgeted mask excludes ends the valid prefix too.
    if (!budget_keeps(*scratch, t)) break;
    if (!guarded_accept("validate_tokens", [&] { return scratch->accept_token(t); })) break;
    count_step(*scratch, is_counted_token(*scratch, t), t);
    ++n;
  }
  return n;
}

int Matcher::fill_next_token_bitmask_draft(std::span<const int32_t> draft, int32_t* bitmask, int64_t row) const {
  const int32_t words = bitmask_words(impl_->grammar().tokenizer().vocab_size());
  std::unique_ptr<Impl> scratch = impl_->clone();
  int accepted = 0;
  fill_row(*scratch, bitmask + row * words);
  for (size_t i = 0; i < draft.size(); ++i) {
    int32_t* out = bitmask + (row + static_cast<int64_t>(i) + 1) * words;
    const int32_t* prev = out - words;  // the row the draft token was sampled under
    const bool in_row = draft[i] >= 0 && draft[i] < impl_->grammar().tokenizer().vocab_size() &&
                        ((prev[draft[i] >> 5] >> (draft[i] & 31)) & 1);
    if (accepted == static_cast<int>(i) && (in_row || scratch->budget < 0) &&
        guarded_accept("fill_next_token_bitmask_draft", [&] { return scratch->accept_token(draft[i]); })) {
      ++accepted;
      count_step(*scratch, is_counted_token(*scratch, draft[i]), draft[i]);
      fill_row(*scratch, out);
    } else {
      std::memset(out, 0, static_cast<size_t>(words) * 4);
    }
  }
  return accepted;
}

}  // namespace tollgate
