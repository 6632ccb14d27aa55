// Matcher: forwards to the back-end's Matcher::Impl (engine/grammar_impl.hpp).
#include "tollgate/matcher.hpp"

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
bool Matcher::accept_token(int32_t token_id) { return impl_->accept_token(token_id); }
bool Matcher::accept_bytes(std::string_view bytes) { return impl_->accept_bytes(bytes); }
void Matcher::rollback(int n) { impl_->rollback(n); }
void Matcher::reset() { impl_->reset(); }
bool Matcher::is_accepting() const { return impl_->is_accepting(); }
bool Matcher::is_terminated() const { return impl_->is_terminated(); }
std::string Matcher::jump_forward() const { return impl_->jump_forward(); }
int Matcher::num_accepted() const { return impl_->num_accepted(); }
const CompiledGrammar& Matcher::grammar() const { return impl_->grammar(); }

}  // namespace tollgate
