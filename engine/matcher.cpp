// Matcher: forwards to the back-end's Matcher::Impl (engine/grammar_impl.hpp); validate_tokens and the
// draft masks of speculative decoding run on a scratch copy (O(1): the step history is shared).
#include "tollgate/matcher.hpp"

#include <cstring>
#include <new>
#include <stdexcept>

#include "engine/grammar_impl.hpp"
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

void Matcher::fill_next_token_bitmask(int32_t* bitmask, int64_t row) const {
  const int32_t words = bitmask_words(impl_->grammar().tokenizer().vocab_size());
  impl_->fill_next_token_bitmask(bitmask + row * words);
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
  return guarded_accept("accept_token", [&] { return impl_->accept_token(token_id); });
}
bool Matcher::accept_bytes(std::string_view bytes) {
  return guarded_accept("accept_bytes", [&] { return impl_->accept_bytes(bytes); });
}
void Matcher::rollback(int n) { impl_->rollback(n); }
void Matcher::reset() { impl_->reset(); }
bool Matcher::is_accepting() const { return impl_->is_accepting(); }
bool Matcher::is_terminated() const { return impl_->is_terminated(); }
std::string Matcher::jump_forward() const { return impl_->jump_forward(); }
int Matcher::num_accepted() const { return impl_->num_accepted(); }
const CompiledGrammar& Matcher::grammar() const { return impl_->grammar(); }

int Matcher::validate_tokens(std::span<const int32_t> tokens) const {
  std::unique_ptr<Impl> scratch = impl_->clone();  // O(1): the history is shared
  int n = 0;
  for (int32_t t : tokens) {
    if (!guarded_accept("validate_tokens", [&] { return scratch->accept_token(t); })) break;
    ++n;
  }
  return n;
}

int Matcher::fill_next_token_bitmask_draft(std::span<const int32_t> draft, int32_t* bitmask, int64_t row) const {
  const int32_t words = bitmask_words(impl_->grammar().tokenizer().vocab_size());
  std::unique_ptr<Impl> scratch = impl_->clone();
  int accepted = 0;
  scratch->fill_next_token_bitmask(bitmask + row * words);
  for (size_t i = 0; i < draft.size(); ++i) {
    int32_t* out = bitmask + (row + static_cast<int64_t>(i) + 1) * words;
    if (accepted == static_cast<int>(i) &&
        guarded_accept("fill_next_token_bitmask_draft", [&] { return scratch->accept_token(draft[i]); })) {
      ++accepted;
      scratch->fill_next_token_bitmask(out);
    } else {
      std::memset(out, 0, static_cast<size_t>(words) * 4);
    }
  }
  return accepted;
}

}  // namespace tollgate
