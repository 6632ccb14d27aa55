// Internal contract between CompiledGrammar, Matcher and the grammar back-ends.
// A back-end (regular: regex_backend.cpp; context-free: cfg_backend*.cpp) derives from
// CompiledGrammar::Impl and Matcher::Impl. Matcher and CompiledGrammar only forward.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/compiler.hpp"
#include "tollgate/error.hpp"
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

// A matcher's bounded step history: the current step is back(); push() forgets the oldest step
// beyond max_rollback; rollback(n) drops the last n (kInvalidArgument beyond what is kept).
template <class Step>
class StepHistory {
 public:
  explicit StepHistory(int max_rollback) : max_rollback_(max_rollback < 0 ? 0 : max_rollback) {}
  const Step& back() const { return steps_.back(); }
  void push(Step s) {
    steps_.push_back(std::move(s));
    if (steps_.size() > static_cast<size_t>(max_rollback_) + 1) steps_.pop_front();
  }
  void rollback(int n) {
    if (n < 0 || static_cast<size_t>(n) >= steps_.size()) {
      throw Error(ErrorKind::kInvalidArgument, "cannot roll back " + std::to_string(n) + " steps: only " +
                                                   std::to_string(steps_.size() - 1) + " kept");
    }
    steps_.resize(steps_.size() - n);
  }
  void reset(Step initial) {
    steps_.clear();
    steps_.push_back(std::move(initial));
  }
  int num_accepted() const { return static_cast<int>(steps_.size()) - 1; }

 private:
  int max_rollback_;
  std::deque<Step> steps_;
};

struct CompiledGrammar::Impl {
  virtual ~Impl() = default;
  virtual std::unique_ptr<Matcher::Impl> make_matcher(CompiledGrammarPtr self,
                                                      int max_rollback) const = 0;
  virtual size_t memory_bytes() const = 0;
  TokenizerInfoPtr tokenizer;
  CompileStats stats;
  std::vector<CompileWarning> warnings;
};

}  // namespace tollgate
