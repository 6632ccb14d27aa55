// The uniqueItems tracker: follows the bytes a matcher accepts as JSON and keeps, for every open
// array the schema's plan marks unique, the canonical values of the items written so far, and for
// every open object whose plan state lists required keys, which of them it holds so far.
// Takes: a grammar::UniquePlan (grammar/unique_items.hpp) and bytes. Gives: per byte, whether it
// completes an item equal to an earlier item of its unique array or closes an object without a
// key it requires (refused), and whether the state
// reached still has a completion that repeats no item (alive(): asked of the grammar's parser
// through a callback, for items with finitely many completions). A value type: the matcher keeps
// one per step (copied on change; immutable once in the history), so rollback and fork restore it.
// Canonical values follow JSON Schema equality: 1 = 1.0 = 10e-1, strings by decoded content,
// objects whatever their key order (the last of a repeated key counts), arrays element-wise.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/unique_items.hpp"

namespace tollgate::engine {

// The canonical form of one JSON value's text (as the grammar wrote it: valid JSON, possibly with
// whitespace inside); "" when the text is not a complete JSON value.
std::string canonical_json(std::string_view text);

class UniqueTracker {
 public:
  explicit UniqueTracker(const grammar::UniquePlan* plan) : plan_(plan) {}
  // One byte; false when it completes an item equal to an earlier one of its unique array (or
  // the bytes are not JSON, which the grammar never allows).
  bool feed(uint8_t c);
  bool feed(std::string_view bytes) {
    for (unsigned char c : bytes)
      if (!feed(c)) return false;
    return true;
  }
  // Some unique array is open, or an object still lacks a required key: masks are filtered.
  bool active() const { return unique_open_ > 0 || keys_open_ > 0; }
  // Otherwise a token may still open an object that requires keys and close it (`{}`): the masks
  // of a plan with required keys are filtered for the tokens that hold a '{' before a '}'.
  bool pairs_matter() const { return plan_->keys; }
  // No unique array is open: only a '}' can be refused (one after a '"' inside a string), and where
  // the layout commits to a '}' early (layout_commits()), what ends in a gap after a value.
  bool only_braces() const { return unique_open_ == 0; }
  bool layout_commits() const { return plan_->layout_commits; }
  // Whether `bytes` may close an object that lacks required keys (a '}' that closes the innermost such
  // object, or one the bytes opened themselves): false means feed() would keep them, decided by
  // nesting alone without copying the tracker. Conservative (true where unsure).
  bool may_close_lacking(std::string_view bytes) const;
  bool in_string() const { return mode_ == Mode::kString; }
  // Inside a string (a token must hold a '"' to complete anything), and the innermost unique
  // array's items are not a finite list (whose every byte may run out of values).
  bool quote_tokens_suffice() const;
  // Whether alive() can be false here (the innermost unique array's item has finitely many
  // completions: a listed item, a literal, the start of a listed item).
  bool may_be_dead() const;
  // Some way on writes an item that repeats none: `accepts(bytes)` tells whether the grammar
  // takes `bytes` from the matcher's parser state (a live prefix).
  bool alive(const std::function<bool(std::string_view)>& accepts) const;

 private:
  enum class Mode : uint8_t { kValue, kString, kNumber, kLiteral };
  struct Frame {
    bool object = false;
    bool expect_key = false;    // object: a key (or '}') comes next
    bool want_item = true;      // array: after '[' or ',' (no item yet at this position)
    uint32_t path = 0;          // the plan state of this container
    uint32_t child = 0;         // the plan state of the value being written in it
    uint32_t index = 0;         // array: the item's index
    size_t item_start = std::string::npos;  // unique array: where its item's text starts in raw_
    std::shared_ptr<const std::set<std::string>> seen;  // unique array: canonical items so far
    bool after_value = false;  // object: a member's value is complete (a ',' or '}' is next)
    uint32_t req_left = 0;  // object: the plan's required keys not met yet
    std::shared_ptr<const std::vector<uint64_t>> req_met;  // object: a bit per required key met
  };
  const grammar::UniquePlan::State& st(uint32_t s) const { return plan_->states[s]; }
  bool unique(const Frame& f) const { return !f.object && st(f.path).unique; }
  void value_start(uint8_t c);
  bool value_done();
  uint32_t next_path() const;  // the plan state of a value starting now
  const Frame* innermost_unique() const;
  // The innermost object lacks required keys, a member's value is complete, and the layout may have
  // committed to the '}' already: alive() asks the grammar for a ','.
  bool comma_due() const;
  bool unique_may_be_dead() const;

  const grammar::UniquePlan* plan_;
  std::vector<Frame> stack_;
  Mode mode_ = Mode::kValue;
  bool key_ = false;          // the string is an object key
  uint8_t esc_ = 0;           // inside an escape: 1 after '\', 2..5 after "\u" and its hex digits
  uint8_t lit_left_ = 0;      // literal bytes still to come
  std::string key_raw_;       // the key being read (its text)
  std::string raw_;           // the text since the outermost open unique item began
  int items_open_ = 0;        // unique arrays with an item in progress
  int unique_open_ = 0;       // open unique arrays
  int keys_open_ = 0;         // open objects that lack a required key
  bool done_ = false;         // the root value is complete
};

}  // namespace tollgate::engine
