// Internal contract between CompiledGrammar, Matcher and the grammar back-ends.
// A back-end (regular: regex_backend.cpp; context-free: cfg_backend*.cpp) derives from
// CompiledGrammar::Impl and Matcher::Impl. Matcher and CompiledGrammar only forward.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "tollgate/compiler.hpp"
#include "tollgate/matcher.hpp"

namespace tollgate {

struct Matcher::Impl {
  virtual ~Impl() = default;
  virtual std::unique_ptr<Impl> clone() const = 0;
  // Writes one row of bitmask_words(vocab_size) int32 words.
  virtual void fill_next_token_bitmask(int32_t* row) const = 0;
  virtual bool accept_token(int32_t token_id) = 0;
  virtual bool accept_bytes(std::string_view bytes) = 0;
  virtual void rollback(int n) = 0;
  virtual void reset() = 0;
  virtual bool is_accepting() const = 0;
  virtual bool is_terminated() const = 0;
  virtual std::string jump_forward() const = 0;
  virtual int num_accepted() const = 0;
  virtual const CompiledGrammar& grammar() const = 0;
};

struct CompiledGrammar::Impl {
  virtual ~Impl() = default;
  virtual std::unique_ptr<Matcher::Impl> make_matcher(CompiledGrammarPtr self,
                                                      int max_rollback) const = 0;
  virtual size_t memory_bytes() const = 0;
  TokenizerInfoPtr tokenizer;
  CompileStats stats;
};

}  // namespace tollgate
