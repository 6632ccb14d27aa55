// Internal contract between CompiledGrammar, Matcher and the grammar back-ends.
// A back-end (regular: regex_backend.cpp; context-free: cfg_backend*.cpp) derives from
// CompiledGrammar::Impl and Matcher::Impl. Matcher and CompiledGrammar only forward.
#pragma once

#include <algorithm>
#include <cstdint>
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
  // The same row when it can be had without computing (copied or combined from what the grammar
  // has computed already); false, nothing written, when fill_next_token_bitmask would compute.
  virtual bool fill_next_token_bitmask_cached(int32_t* row) const = 0;
  virtual bool accept_token(int32_t token_id) = 0;
  virtual bool accept_bytes(std::string_view bytes) = 0;
  virtual void rollback(int n) = 0;
  virtual void reset() = 0;
  virtual bool is_accepting() const = 0;
  virtual bool is_terminated() const = 0;
  virtual std::string jump_forward() const = 0;
  virtual int num_accepted() const = 0;
  virtual const CompiledGrammar& grammar() const = 0;
  // The length budget (Matcher::set_token_budget). The fewest bytes that complete the input
  // (0 when accepting or terminated; UINT32_MAX when nothing does).
  virtual uint32_t shortest_completion() const = 0;
  // Clears in `row` (the whole filled mask of the state: back-ends may cache per state what
  // they saw in it) every token but EOS after which the shortest completion
  // would exceed max_after bytes.
  virtual void apply_length_budget(uint32_t* row, uint32_t max_after) const = 0;

  // Budget bookkeeping, kept by Matcher (copied with the matcher by fork/clone): tokens left
  // (-1: off), the value last set (reset() restores it), and per step since then whether it was
  // a token (1) or bytes (0), so that rollback() gives back what it undoes.
  int budget = -1;
  int budget_set = -1;
  std::vector<uint8_t> budget_steps;
  // The ids of the last accept_token steps (-1 for an accept_bytes step), for the re-encoding of
  // Matcher::jump_forward_tokens; rollback() drops what it undoes.
  std::vector<int32_t> recent_ids;
};

// A matcher's bounded step history: the current step is back(); rollback(n) drops the last n
// (kInvalidArgument beyond num_accepted(): the steps since the reset, at most max_rollback, less
// those already rolled back). The history is a persistent list (each
// step points to its predecessor, shared and immutable), so copying a history — fork(), and the
// scratch copies of validate_tokens and draft masks — is O(1) and never copies a parser state;
// a chain longer than 2 × max_rollback + 2 is cut back to max_rollback + 1 steps (amortised O(1)
// per push).
template <class Step>
class StepHistory {
 public:
  explicit StepHistory(int max_rollback) : max_rollback_(max_rollback < 0 ? 0 : max_rollback) {}
  StepHistory(const StepHistory&) = default;
  StepHistory& operator=(const StepHistory& o) {
    if (this != &o) {
      release();
      top_ = o.top_;
      size_ = o.size_;
      undo_ = o.undo_;
      max_rollback_ = o.max_rollback_;
    }
    return *this;
  }
  ~StepHistory() { release(); }
  const Step& back() const { return top_->step; }
  void push(Step s) {
    top_ = std::make_shared<const Node>(Node{std::move(s), std::move(top_)});
    undo_ = std::min(undo_ + 1, max_rollback_);
    if (++size_ > 2 * static_cast<size_t>(max_rollback_) + 2) compact();
  }
  void rollback(int n) {
    if (n < 0 || n > num_accepted()) {
      throw Error(ErrorKind::kInvalidArgument, "cannot roll back " + std::to_string(n) + " steps: only " +
                                                   std::to_string(num_accepted()) + " kept");
    }
    for (int i = 0; i < n; ++i) top_ = top_->parent;
    size_ -= n;
    undo_ -= n;
  }
  void reset(Step initial) {
    release();
    top_ = std::make_shared<const Node>(Node{std::move(initial), nullptr});
    size_ = 1;
    undo_ = 0;
  }
  int num_accepted() const { return undo_; }

 private:
  struct Node {
    Step step;
    std::shared_ptr<const Node> parent;
  };
  // Keeps the last max_rollback + 1 steps in a fresh chain (other copies keep theirs).
  void compact() {
    std::vector<const Node*> keep;
    const Node* n = top_.get();
    for (size_t i = 0; i <= static_cast<size_t>(max_rollback_) && n; ++i, n = n->parent.get()) keep.push_back(n);
    std::shared_ptr<const Node> chain;
    for (size_t i = keep.size(); i-- > 0;) chain = std::make_shared<const Node>(Node{keep[i]->step, std::move(chain)});
    release();
    top_ = std::move(chain);
    size_ = keep.size();
  }
  // Frees the nodes only this history holds one at a time (no recursive destructor chain).
  void release() {
    while (top_ && top_.use_count() == 1) {
      std::shared_ptr<const Node> parent = top_->parent;
      top_ = std::move(parent);
    }
    top_.reset();
  }
  int max_rollback_;
  std::shared_ptr<const Node> top_;
  size_t size_ = 0;  // steps in the chain
  int undo_ = 0;     // steps rollback() may undo: as with a history of max_rollback + 1 steps
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
