// The context-free back-end: a CompiledGrammar over a CfgRuntime (lexeme DFAs under the Earley
// graph) and the Matcher over it.
// Masks: for every (lexeme, DFA state) the tokens that stay inside the lexeme are precomputed by
// a trie walk (context-independent bitset, deduplicated), together with the trie nodes where
// the lexeme may end inside a token ("boundary roots"). Only the subtrees below those roots need
// the parser. They are walked once per (lexeme, state, truncated Earley node after the lexeme):
// the node with origins more than `context_depth` links away replaced by a wildcard, so one walk
// serves every nesting context that looks the same nearby. The walk yields tokens accepted in
// any context and "uncertain" ones (their parse completed into the wildcard); the latter are
// checked against the real node and the result is cached per (lexeme, state, real node). Walks
// step through a lazily built DFA over parser configurations. Whole masks are cached per parser
// configuration (the sorted thread set), within a memory budget; the per-thread caches (boundary
// lists, local walks, guard sets) share a second budget. A cache over its budget is cleared
// whole; the accessors hand out shared_ptrs, so a clear never frees what a mask still reads.
// Leftmost-first lexing (Lark) adds guards to threads (fsm/cfg_runtime.hpp): a thread's tokens
// are then those of the unguarded thread that never fire its guard (guard_safe, per guard).
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/grammar_impl.hpp"
#include "fsm/cfg_runtime.hpp"
#include "fsm/token_trie.hpp"

namespace tollgate::engine {

struct CfgGrammar : CompiledGrammar::Impl {
  std::unique_ptr<fsm::CfgRuntime> rt;
  int32_t words = 0;
  bool strip_first_space = false;
  // [lexeme][state] → index into ci_masks (words each); boundary roots (trie node ids).
  std::vector<std::vector<uint32_t>> ci_mask_id;
  std::vector<std::vector<std::vector<uint32_t>>> roots;
  // Leftmost-first lexing (Lark): per root, the lexeme's (final) DFA state there — a completion
  // at a state that may still be overtaken carries a guard into the walk below the root.
  std::vector<std::vector<std::vector<uint32_t>>> root_states;
  std::vector<uint32_t> ci_masks;
  std::vector<uint32_t> state_offset;  // lexeme → index of its state 0 among all (lexeme, state)
  size_t mask_cache_budget = size_t(256) << 20;  // whole-mask cache (multi-thread states)
  // Boundary lists, local walks and guard sets together (bytes); set before sharing the grammar.
  size_t cache_budget = size_t(512) << 20;
  // Boundary walks run against the Earley node truncated this many origin levels down, so their
  // results are shared across parse contexts (0: walk against the exact node).
  uint32_t context_depth = 6;

  std::unique_ptr<Matcher::Impl> make_matcher(CompiledGrammarPtr self, int max_rollback) const override;
  size_t memory_bytes() const override;

  // Writes the mask of `state` (without EOS) into `row` (words uint32).
  void fill_mask(const fsm::ParserState& state, uint32_t* row) const;
  // Brute force: every token of the trie walked with the full parser state (tests, first step).
  void fill_mask_slow(const fsm::ParserState& state, uint32_t* row, bool strip_space = false) const;
  size_t num_cached_masks() const;
  // Bytes held by the boundary, local-walk and guard caches (never above cache_budget), and how
  // often they were cleared for going over it (tests, statistics).
  size_t cache_bytes() const;
  size_t num_cache_clears() const { return cache_clears_.load(); }
  // Boundary tokens the truncated walks left uncertain and the real parse then checked (and
  // accepted): they show the wildcard path at work (tests, statistics).
  size_t num_uncertain_checked() const { return uncertain_checked_.load(); }
  size_t num_uncertain_accepted() const { return uncertain_accepted_.load(); }
  void reserve_caches();

 private:
  // Null when the thread has none.
  std::shared_ptr<const std::vector<int32_t>> boundary_tokens(const fsm::Thread& t) const;
  // Boundary tokens of a (lexeme, state) against a truncated Earley node: those accepted in every
  // context, and those whose fate depends on the context outside (token id, bytes already
  // consumed at its root) — checked against the real node at run time.
  struct LocalBoundary {
    std::vector<int32_t> accepted;
    std::vector<std::pair<int32_t, uint32_t>> uncertain;
  };
  std::shared_ptr<const LocalBoundary> local_boundary(uint32_t lexeme, uint32_t state, uint32_t local_node) const;
  void walk_local(uint32_t start, uint32_t root, LocalBoundary& out) const;
  fsm::ParserState start_state(uint32_t node, uint32_t guard = 0) const;
  // Tokens whose bytes never fire `guard` (a pending longer match): a bitset, and the sorted
  // ids when they are few (a guard usually fires on almost every next byte). Cached per guard.
  struct GuardSafe {
    std::vector<uint32_t> bits;
    std::vector<int32_t> ids;  // filled when sparse (under 1/64 of the vocabulary)
    bool sparse = false;
  };
  std::shared_ptr<const GuardSafe> guard_safe(uint32_t guard) const;
  // The tokens of one thread — its precomputed set and boundary tokens, under its guard —
  // written into `row`, or OR-ed into it with `accumulate`.
  void thread_mask(const fsm::Thread& t, uint32_t* row, bool accumulate) const;
  // Boundary walks step through a lazily built DFA over parser configurations (interned thread
  // sets), so repeated configurations — the same context below hundreds of whitespace roots —
  // cost a table lookup per byte. Guarded by walk_mu_ (held for a whole walk).
  static constexpr uint32_t kDeadState = UINT32_MAX;
  uint32_t walk_intern(const fsm::ParserState& s) const;
  uint32_t walk_step(uint32_t s, uint8_t byte, bool& popped) const;

  struct KeyHash {
    size_t operator()(const fsm::Threads& t) const;
  };
  uint64_t local_key(uint32_t lexeme, uint32_t state, uint32_t node) const {
    return (static_cast<uint64_t>(node) << 32) | (state_offset[lexeme] + state);
  }
  // A boundary list that is a local walk's list: the walk's bytes count with the list unless
  // local_cache_ holds that walk under `key`.
  struct SharedLocal {
    const std::shared_ptr<const LocalBoundary>* local;
    uint64_t key;
  };
  // Caches `value` under `key` in one of the three budgeted caches (an entry of `bytes`), first
  // clearing them all if it would not fit; an entry larger than the whole budget is not cached.
  // Returns the cached value (another thread's if it was first). Takes mu_.
  template <class Map>
  typename Map::mapped_type cache_put(Map& cache, typename Map::key_type key, typename Map::mapped_type value,
                                      size_t bytes, const SharedLocal* shared = nullptr) const;
  mutable std::mutex mu_;
  mutable std::unordered_map<fsm::Threads, std::shared_ptr<const std::vector<uint32_t>>, KeyHash> mask_cache_;
  mutable size_t mask_cache_bytes_ = 0;
  mutable std::unordered_map<uint64_t, std::shared_ptr<const std::vector<int32_t>>> boundary_cache_;
  mutable std::unordered_map<uint64_t, std::shared_ptr<const LocalBoundary>> local_cache_;
  mutable std::unordered_map<uint32_t, std::shared_ptr<const GuardSafe>> guard_safe_cache_;
  mutable size_t cache_bytes_ = 0;  // the three caches above
  mutable std::atomic<size_t> cache_clears_{0};
  mutable std::atomic<size_t> uncertain_checked_{0}, uncertain_accepted_{0};
  mutable std::mutex walk_mu_;
  mutable std::deque<fsm::ParserState> walk_states_;
  mutable std::unordered_map<fsm::Threads, uint32_t, KeyHash> walk_index_;
  mutable std::vector<uint32_t> walk_rows_;  // per state: a transition per byte class
  std::array<uint8_t, 256> walk_class_{};
  uint32_t walk_classes_ = 256;
  size_t max_walk_states_ = 0;
  mutable size_t walk_transitions_ = 0;
};

struct CfgBuildOptions {
  fsm::DfaOptions dfa;
  int threads = 0;
  uint32_t context_depth = 6;  // see CfgGrammar::context_depth
};

// Builds the back-end for a checked grammar. Throws tollgate::Error.
std::unique_ptr<CfgGrammar> build_cfg_grammar(const grammar::Grammar& grammar, const TokenizerInfoPtr& tokenizer,
                                              const CfgBuildOptions& options = {});

}  // namespace tollgate::engine
