// The context-free back-end: a CompiledGrammar over a CfgRuntime (lexeme DFAs under the Earley
// graph) and the Matcher over it.
// Takes: a checked grammar::Grammar and a tokenizer. Gives: a CompiledGrammar whose Matchers fill
// next-token masks; the token index is built lazily (per (lexeme, DFA state), on first use) and is
// safe to read from many Matchers on many threads at once.
// Masks: for a (lexeme, DFA state) the tokens that stay inside the lexeme are found by a trie
// walk (context-independent set: a bitset, or a sorted list when under 1/64 of the vocabulary),
// together with the trie nodes where the lexeme may end inside a token ("boundary roots"). This
// index entry is computed on the state's first use and published in a per-(lexeme, state) atomic
// slot (lock-free reads afterwards); CfgBuildOptions::eager_index computes every entry at build
// time instead. An entry is two walks (not for leftmost-first lexing, whose guards name the
// lexeme's own states: walked whole): the tokens without a '"' on the lexeme's automaton without
// its '"' transitions — the same for every state whose sub-automaton without them, renumbered in
// BFS order with finality, is the same (the inside of every free JSON string), so computed once
// per grammar under that canonical key and, through an IndexCache, once per Compiler (which also
// keeps whole entries per shared lexeme automaton and state) — and the
// 1,345 (Llama-3) tokens with a '"', walked per state on the tokenizer's quote trie. Where the part
// is a bitset the entry shares it and keeps the state's own tokens with a '"' as ids beside it (no
// 16 KiB copy per state). States whose entries come out equal share one slot (keyed by content).
// Only the subtrees below the roots need
// the parser. They are walked once per (index entry, truncated Earley node after the lexeme):
// the node with origins more than `context_depth` links away replaced by a wildcard, so one walk
// serves every nesting context that looks the same nearby. The walk yields tokens accepted in
// any context and "uncertain" ones (their parse completed into the wildcard); the latter are
// checked against the real node and the result is cached per (index entry, real node). Walks
// step through a lazily built DFA over parser configurations; an entry with many roots (a root per
// whitespace run or digit string) keeps its roots' children grouped by byte, so its walks step
// each byte once and skip the children the parse refuses (RootChildren). Whole masks that join bitsets are
// cached per parser configuration (the sorted thread set), within a memory budget (threads whose
// entries are all sparse lists are written directly: sparse_mask); the per-thread caches (boundary
// lists, local walks, guard sets) share a second budget. A cache over its budget is cleared
// whole; the accessors hand out shared_ptrs, so a clear never frees what a mask still reads.
// JSON Schema uniqueItems (grammar/unique_items.hpp): a matcher whose grammar has a plan keeps a
// UniqueTracker per step (engine/unique_tracker.hpp) and, while a unique array is open, filters the
// filled row (never the cached masks) and refuses in accept what completes a duplicate item or
// leaves no item that repeats none.
// Leftmost-first lexing (Lark) adds guards to threads (fsm/cfg_runtime.hpp): a thread's tokens
// are then those of the unguarded thread that never fire its guard (guard_safe, per guard).
// Generations: the Earley graph and the guard tables only grow, and every cache above except the
// index is keyed by their node and guard ids. They form a Generation (a CfgRuntime from
// CfgRuntime::next_generation sharing the automata, with its caches, walk DFA and length-budget
// tables). A matcher leases the current generation at reset (and at construction) and keeps it
// through rollback and fork (the clone shares the lease). Once the current generation (graph,
// guard tables, caches, walk DFA) passes generation_budget bytes, the next reset or new matcher
// starts a fresh generation; the old one is freed with its last matcher (shared_ptr). Masks do
// not depend on the generation. A single sequence grows its own generation as far as it needs
// (its growth is bounded by its length; the caches stay within their own budgets): it never
// fails for the budget. Bound of the whole grammar: the automata and index, plus per live
// generation the budget and what the sequences that started in it added after it passed it.
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/grammar_impl.hpp"
#include "fsm/earley.hpp"
#include "fsm/cfg_runtime.hpp"
#include "fsm/class_trie.hpp"
#include "fsm/token_trie.hpp"
#include "grammar/unique_items.hpp"

namespace tollgate::engine {

// Index entries whose class walk gave way to the byte walk (its exceptions past a quarter of the
// byte trie), in this process: for tests.
size_t class_walks_abandoned();
// Parts-ways class nodes the class walk took by their members' runs of one byte (tests).
size_t class_walk_runs_parted();
// Index entries walked over a finer string class trie than the JSON-string one (a pattern's class
// parts the JSON-string classes).
size_t fine_class_walks();
// Class walks the first bytes sent to subtract that set their live tokens instead (most tokens
// died deeper: a counted string's last code points), in this process: for tests.
size_t class_walks_unsubtracted();

// The children of an entry's boundary roots grouped by their byte, for entries with many roots
// (whitespace, separators, colons, numbers: a root per whitespace run or digit string). A
// boundary walk then steps each byte once from the node after the lexeme and visits only the
// children whose byte the parse takes, instead of every child of every root (most die at once).
struct RootChildren {
  std::array<uint32_t, 257> at{};  // children with byte b: nodes[at[b] .. at[b + 1])
  std::vector<uint32_t> nodes;     // trie nodes; each a child of one root
  // From `roots` (trie nodes) when there are at least kMinRoots of them, else null.
  static constexpr size_t kMinRoots = 16;
  static std::shared_ptr<const RootChildren> of(const std::vector<uint32_t>& roots, const fsm::TokenTrie& trie);
  size_t bytes() const { return sizeof(RootChildren) + nodes.capacity() * 4; }
};

// A (lexeme, DFA state)'s context-independent tokens and boundary roots (see above). Immutable
// once published; shared between states with the same entry. The IndexCache holds the parts
// without '"' (see above), shared between grammars.
struct IndexEntry {
  std::shared_ptr<const std::vector<uint32_t>> dense;  // the bitset (words), or null when sparse
  uint64_t dense_hash = 0;                             // fsm::hash_words of it
  // Sorted. Sparse: the tokens. Beside a bitset: tokens OR-ed into it (a state's tokens with a
  // '"', while the bitset is the part without '"' that many states share).
  std::vector<int32_t> ids;
  std::vector<uint32_t> roots;                         // trie nodes where the lexeme may end
  // Leftmost-first lexing (Lark): per root, the lexeme's (final) DFA state there — a completion
  // at a state that may still be overtaken carries a guard into the walk below the root.
  std::vector<uint32_t> root_states;
  std::shared_ptr<const RootChildren> children;  // the roots' children by byte (many roots, no root states)
  size_t bytes() const {
    return 112 + ids.size() * 4 + roots.size() * 4 + root_states.size() * 4 + (children ? children->bytes() : 0);
  }
};

// Index entries shared by the grammars one Compiler compiles with one tokenizer, two ways:
// - parts by canonical future (lexemes that recur across schemas — strings, numbers, formats —
//   are walked once): find/put;
// - whole entries by (lexeme automaton, state, whether the lexeme is last): grammars that spell a
//   lexeme alike share its automaton (fsm::LexemeDfaCache), so a state indexed for one schema is
//   not keyed, walked and joined again for the next (the whitespace, separators, values and
//   common keys every JSON schema has): find_state/put_state, keyed by the automaton's address
//   while it lives.
// Bounded in bytes together (entries and their bitsets, counted once per generation and entry) in
// two generations of half the bound each: new entries go to the young one; when it is full the old
// one is dropped and the young one becomes old; an entry found in the old one is taken into the
// young one again. What keeps being used (a JSON string's inside, numbers, whitespace) survives
// a turn; what one schema used goes within two (a warm maskbench-dev run fills 64 MiB twice, and
// a clear of everything cost the schemas after it p99.9 masks ~20 % slower). Grammars keep the
// entries they use. Thread-safe.
class IndexCache {
 public:
  struct StateEntry {
    // Watched, not held (the lexeme cache bounds the automata): while the weak pointer lives the
    // automaton's block is not freed, so its address names no other automaton; once it has
    // expired the entry is a miss.
    std::weak_ptr<const fsm::LexDfa> dfa;
    std::shared_ptr<const IndexEntry> entry;
    std::string content;  // the entry's content key (CfgGrammar::install)
    size_t bytes = 0;     // counted for it (without the entry, counted once by the cache)
  };
  explicit IndexCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  std::shared_ptr<const IndexEntry> find(const std::string& key);
  void put(const std::string& key, std::shared_ptr<const IndexEntry> e);
  std::shared_ptr<const StateEntry> find_state(const fsm::LexDfa* dfa, uint32_t state, bool last);
  void put_state(const std::shared_ptr<const fsm::LexDfa>& dfa, uint32_t state, bool last,
                 std::shared_ptr<const IndexEntry> entry, std::string content);
  size_t bytes() const;  // both generations
  size_t size() const;   // parts and whole entries, both generations
  size_t max_bytes() const { return max_bytes_; }
  size_t turns() const;  // times the young generation became the old one
  // A dropped generation (tens of thousands of keys, entries and bitsets at the default bound) is
  // not freed inside the call that turns: that was one mask of 4-5 ms in a warm maskbench-dev run.
  // It waits, not counted in bytes(), and every call frees kReapStep of its keys; what is left when
  // the next turn comes (a cache turning faster than it is used) is freed by that call, after the lock.
  static constexpr size_t kReapStep = 8;
  size_t dying() const;  // keys of the dropped generation not freed yet

 private:
  struct StateKey {
    const fsm::LexDfa* dfa;
    uint32_t state;
    bool last;
    bool operator==(const StateKey& o) const { return dfa == o.dfa && state == o.state && last == o.last; }
  };
  struct StateKeyHash {
    size_t operator()(const StateKey& k) const;
  };
  struct Generation {
    std::unordered_map<std::string, std::shared_ptr<const IndexEntry>> parts;
    std::unordered_map<StateKey, std::shared_ptr<const StateEntry>, StateKeyHash> states;
    std::unordered_map<const void*, uint32_t> holders;  // entries and bitsets: how many keys hold each
    size_t bytes = 0;
  };
  void reap_locked();
  using Cleared = Generation;  // a generation dropped under the lock, freed after it
  // What one IndexEntry and one bitset hold is counted once per generation, however many keys
  // name them: the entry of a state is often the part under its canonical key too, and entries of
  // many states share a bitset (a warm maskbench-dev run: 16,163 references to 1,393 bitsets;
  // counted per reference, 247 MB of the cache's 368 for 21 MB held). hold_locked counts a key's
  // hold on an entry in the young generation and gives the bytes that adds; forget_locked takes
  // one out and gives the bytes that frees.
  size_t hold_locked(const IndexEntry& e);
  size_t forget_locked(const IndexEntry& e);
  // Counts `own` bytes and the entry into the young generation (under mu_), turning the
  // generations first when it would pass half the bound; false (nothing counted) when the entry
  // alone passes that.
  bool reserve_locked(size_t own, const IndexEntry& e, Cleared& dropped);
  void put_locked(const std::string& key, std::shared_ptr<const IndexEntry> e, Cleared& dropped);
  void put_state_locked(const StateKey& key, std::shared_ptr<const StateEntry> e, Cleared& dropped);
  size_t max_bytes_;
  mutable std::mutex mu_;
  Generation young_, old_;  // under mu_
  Generation dying_;        // under mu_: dropped, freed kReapStep keys a call
  size_t turns_ = 0;        // under mu_
};

struct CfgBuildOptions;
struct CfgGrammar;
class PhaseRecorder;
class CfgLengthBudget;  // engine/cfg_budget.hpp
std::unique_ptr<CfgGrammar> build_cfg_grammar(const grammar::Grammar& grammar, const TokenizerInfoPtr& tokenizer,
                                              const CfgBuildOptions& options);
// The back-end over a runtime built before (by build_cfg_grammar, or loaded from a blob).
std::unique_ptr<CfgGrammar> make_cfg_grammar(std::unique_ptr<fsm::CfgRuntime> rt, const TokenizerInfoPtr& tokenizer,
                                             const CfgBuildOptions& options);
struct ReferenceDistances;  // engine/cfg_backend.cpp
struct GrammarBlob;  // engine/grammar_blob.cpp: serialises a CfgGrammar's computed index entries

struct CfgGrammar : CompiledGrammar::Impl {
  // The automata (shared by every generation). Its own Earley graph serves direct callers that
  // step its parser states themselves (tests, tools: fill_mask below); matchers use generations.
  std::shared_ptr<fsm::CfgRuntime> rt;
  int32_t words = 0;
  bool strip_first_space = false;
  // The index entry of (lexeme, state): computed on first use (or shared with a state of the same
  // future), then read without a lock. Thread-safe.
  const IndexEntry& entry(uint32_t lexeme, uint32_t state) const {
    const Slot* s = slots(lexeme)[state].load(std::memory_order_acquire);
    return s ? *s->entry : *compute_entry(lexeme, state)->entry;
  }
  // Computes every entry now (CfgBuildOptions::eager_index); `threads` as CfgBuildOptions::threads.
  void index_all(int threads, PhaseRecorder* phases = nullptr);
  // Entries computed so far (distinct), their distinct dense bitsets, and their bytes.
  size_t num_index_entries() const;
  size_t num_distinct_masks() const;
  size_t index_bytes() const;
  // Entries taken from another state's computation (same canonical future) or the IndexCache (a part, or the
  // whole entry of the same automaton state).
  size_t num_index_shared() const { return index_shared_.load(); }
  // Of those, whole entries taken from the IndexCache (the same automaton state indexed for another grammar).
  size_t num_index_whole_shared() const { return index_whole_shared_.load(); }
  // Entries of lexemes that spell one string (spelled_entry), computed without a key or a walk.
  size_t num_index_spelled() const { return index_spelled_.load(); }
  // Entries of states on a run of single bytes no token gets past (literal_run_entry).
  size_t num_index_literal_runs() const { return index_literal_runs_.load(); }
  // Lexemes whose part_blocks were read off the plain string's automaton (keys of open objects,
  // strings that must end in some way), not refined.
  size_t num_part_blocks_by_reference() const { return part_blocks_by_reference_.load(); }
  // Entry parts computed as the plain string's with the differences walked (difference_entry).
  size_t num_index_by_difference() const { return index_by_difference_.load(); }
  // The boundary walks' byte classes (bytes in one class step every parser configuration alike)
  // and their number, set by reserve_caches.
  const std::array<uint8_t, 256>& walk_class() const { return walk_class_; }
  uint32_t walk_classes() const { return walk_classes_; }
  // JSON Schema uniqueItems and tracked required keys: the plan the matchers' trackers follow
  // (null: none), and the tokens with a '"' (what can end a string), with a '}' (what can close an
  // object), and with a '"' before a '}' (what can close an object from inside a string): the
  // tokenizer's lists (TokenizerInfo::json_token_ids).
  std::shared_ptr<const grammar::UniquePlan> unique_plan;
  const std::vector<int32_t>& quote_token_ids() const;
  const std::vector<int32_t>& brace_token_ids(bool after_quote) const;
  // The budgets (bytes) of the caches; set before sharing the grammar (CompileOptions sets them).
  size_t mask_cache_budget = size_t(256) << 20;  // whole-mask cache (multi-thread states)
  size_t cache_budget = size_t(512) << 20;       // boundary lists, local walks and guard sets together
  size_t walk_budget = size_t(32) << 20;         // the walk DFA (see walk_dfa)
  // Bytes of a generation (graph, guard tables, caches, walk DFA) past which new sequences start a
  // fresh one (0: never).
  size_t generation_budget = size_t(64) << 20;
  // Boundary walks run against the Earley node truncated this many origin levels down, so their
  // results are shared across parse contexts (0: walk against the exact node). See
  // CfgBuildOptions::context_depth and kJsonSchemaContextDepth.
  uint32_t context_depth = 6;

  std::unique_ptr<Matcher::Impl> make_matcher(CompiledGrammarPtr self, int max_rollback) const override;
  // The automata and index, and every live generation (graph, guard tables, caches, walk DFA).
  size_t memory_bytes() const override;

  struct Generation;
  // The current generation, first starting a fresh one when it has passed generation_budget.
  std::shared_ptr<Generation> lease() const;
  size_t num_generations() const;       // started so far for matchers
  size_t num_live_generations() const;  // still held (by the grammar or a matcher)
  // Of the live generations (matchers'), summed: graph and guard-table bytes; all their bytes
  // (graph, guard tables, caches, walk DFA: what generation_budget bounds).
  size_t earley_bytes() const;
  size_t generations_bytes() const;

  // Over `rt`'s own parser states (its graph and a generation around it that is never retired):
  // writes the mask of `state` (without EOS) into `row` (words uint32).
  void fill_mask(const fsm::ParserState& state, uint32_t* row) const;
  // Brute force: every token of the trie walked with the full parser state (tests, first step).
  void fill_mask_slow(const fsm::ParserState& state, uint32_t* row, bool strip_space = false) const;
  // Statistics, summed over the live generations: cached whole masks; bytes of the boundary,
  // local-walk and guard caches (each generation's within cache_budget); bytes of the whole-mask
  // caches (keys and distinct contents; each within mask_cache_budget); bytes of the current walk
  // DFAs (`tollgate bench memory`). Clears of the boundary caches over their budget, ever.
  size_t num_cached_masks() const;
  size_t cache_bytes() const;
  size_t mask_cache_bytes() const;
  size_t walk_bytes() const;
  size_t num_cache_clears() const { return cache_clears_.load(); }
  // Boundary tokens the truncated walks left uncertain and the real parse then checked (and
  // accepted): they show the wildcard path at work (tests, statistics).
  size_t num_uncertain_checked() const { return uncertain_checked_.load(); }
  size_t num_children_walks() const { return children_walks_.load(); }  // boundary walks by RootChildren
  size_t num_class_boundary_walks() const { return class_boundary_walks_.load(); }  // by class nodes
  size_t num_fine_boundary_walks() const { return fine_boundary_walks_.load(); }  // of them by finer classes
  size_t num_uncertain_accepted() const { return uncertain_accepted_.load(); }
  void reserve_caches();  // the walk DFA's byte classes, and their representatives per string class trie class

 private:
  friend class CfgLengthBudget;  // its per-configuration cache hashes thread lists with KeyHash
  // Boundary tokens of a (lexeme, state) against a truncated Earley node: those accepted in every
  // context, and those whose fate depends on the context outside (token id, bytes already
  // consumed at its root) — checked against the real node at run time.
  struct LocalBoundary {
    std::vector<int32_t> accepted;
    std::vector<std::pair<int32_t, uint32_t>> uncertain;
  };
  // A boundary's tokens against a real node: the local walk's accepted list, shared with it (a
  // chunk border's holds ~100,000 tokens, which a copy per real node wrote afresh), and the
  // uncertain tokens the real node accepts (a few), apart.
  struct BoundaryTokens {
    std::shared_ptr<const LocalBoundary> local;
    std::vector<int32_t> also;
    template <class F>
    void for_each(F&& f) const {
      for (int32_t id : local->accepted) f(id);
      for (int32_t id : also) f(id);
    }
  };
  // Tokens whose bytes never fire `guard` (a pending longer match): a bitset, and the sorted
  // ids when they are few (a guard usually fires on almost every next byte). Cached per guard.
  struct GuardSafe {
    std::vector<uint32_t> bits;
    std::vector<int32_t> ids;  // filled when sparse (under 1/64 of the vocabulary)
    bool sparse = false;
  };
  // Boundary walks step through a lazily built DFA over parser configurations (interned thread
  // sets), so repeated configurations — the same context below hundreds of whitespace roots —
  // cost a table lookup per byte. Many walks use one WalkDfa at once: a known transition is an
  // atomic load, a new one is computed without a lock and only its interning takes the WalkDfa's
  // mutex. Past walk_budget bytes the next walk starts a fresh WalkDfa (walks still on the old
  // one finish on it: a shared_ptr keeps it alive).
  static constexpr uint32_t kDeadState = UINT32_MAX;
  struct WalkDfa;

  struct KeyHash {
    size_t operator()(const fsm::Threads& t) const;
  };
  // A (lexeme, state)'s published entry and its number in this grammar (states sharing an entry
  // share the number, and with it their boundary and local-walk cache entries).
  struct Slot {
    std::shared_ptr<const IndexEntry> entry;
    uint32_t id;
  };
  const Slot& slot(uint32_t lexeme, uint32_t state) const {
    const Slot* s = slots(lexeme)[state].load(std::memory_order_acquire);
    return s ? *s : *compute_entry(lexeme, state);
  }
  const Slot* compute_entry(uint32_t lexeme, uint32_t state) const;
  // Installs `e` (computed for `key`, empty: not shareable) for (lexeme, state); returns the slot
  // published there (another thread's if it was first). Takes index_mu_.
  const Slot* install(uint32_t lexeme, uint32_t state, const std::string& key, std::shared_ptr<const IndexEntry> e) const;
  uint64_t local_key(uint32_t entry_id, uint32_t node) const {
    return (static_cast<uint64_t>(node) << 32) | entry_id;
  }
  // A boundary list that is a local walk's list: the walk's bytes count with the list unless
  // the local cache holds that walk under `key`.
  struct SharedLocal {
    const std::shared_ptr<const LocalBoundary>* local;
    uint64_t key;
  };
  // The caches are split in kShards shards by key hash, each under its own mutex, so lookups on
  // many threads rarely meet; the byte budgets are global (atomic counters), and a cache over its
  // budget is cleared whole (every shard), as before.
  static constexpr size_t kShards = 16;
  struct alignas(64) Shard {
    std::mutex mu;
    std::unordered_map<fsm::Threads, std::shared_ptr<const std::vector<uint32_t>>, KeyHash> masks;
    std::unordered_map<uint64_t, std::shared_ptr<const BoundaryTokens>> boundary;
    std::unordered_map<uint64_t, std::shared_ptr<const LocalBoundary>> local;
    std::unordered_map<uint64_t, std::shared_ptr<const GuardSafe>> guard_safe;
    // The distinct contents of the cached masks, by content hash (in the shard of that hash): many
    // parser configurations share one token set (the replay of maskbench-dev through the JSON
    // grammar caches 6,206 masks with 60 contents), so each is stored once. Part of the mask budget.
    std::unordered_map<uint64_t, std::shared_ptr<const std::vector<uint32_t>>> mask_bits;
  };
  static size_t shard_of(uint64_t h) { return (h ^ (h >> 29) ^ (h >> 47)) & (kShards - 1); }
  mutable std::atomic<size_t> cache_clears_{0};
  mutable std::atomic<size_t> uncertain_checked_{0}, uncertain_accepted_{0}, children_walks_{0},
      class_boundary_walks_{0}, fine_boundary_walks_{0};
  // The lazy index: a slot per (lexeme, state) (null until computed), in an array per lexeme
  // made when the lexeme's first entry is looked up (its DFA may be built lazily too); the slots
  // and entries this grammar owns, by canonical key (or "#lexeme.state" when not shareable); the
  // dense bitsets deduplicated by content. Guarded by index_mu_ (the slots are read without it).
  std::atomic<const Slot*>* slots(uint32_t lexeme) const {
    std::atomic<const Slot*>* s = lexeme_slots_[lexeme].load(std::memory_order_acquire);
    return s ? s : make_slots(lexeme);
  }
  std::atomic<const Slot*>* make_slots(uint32_t lexeme) const;  // takes index_mu_
  std::unique_ptr<std::atomic<std::atomic<const Slot*>*>[]> lexeme_slots_;
  mutable std::vector<std::unique_ptr<std::atomic<const Slot*>[]>> owned_slots_;  // under index_mu_
  mutable size_t num_slots_ = 0;                                                 // under index_mu_
  mutable std::mutex index_mu_;
  mutable std::deque<Slot> owned_;
  mutable std::unordered_map<std::string, const Slot*> by_key_;
  mutable std::unordered_map<uint64_t, std::vector<std::shared_ptr<const std::vector<uint32_t>>>> dense_;  // by hash
  mutable size_t num_dense_ = 0;
  // The entries without kCut, by canonical key (see compute_entry).
  mutable std::unordered_map<std::string, std::shared_ptr<const IndexEntry>> parts_;
  mutable size_t index_bytes_ = 0;
  mutable std::atomic<size_t> index_shared_{0}, index_whole_shared_{0}, index_spelled_{0}, part_blocks_by_reference_{0},
      index_by_difference_{0}, index_literal_runs_{0};
  std::shared_ptr<IndexCache> index_cache_;  // the Compiler's, if any
  bool share_states_ = true;
  friend std::unique_ptr<CfgGrammar> make_cfg_grammar(std::unique_ptr<fsm::CfgRuntime>, const TokenizerInfoPtr&,
                                                      const CfgBuildOptions&);
  friend struct GrammarBlob;
  // The canonical form of the sub-automaton reachable from `state` ("" when over kMaxKeyStates
  // states: not shared), and the trie walk that computes an entry.
  std::string canonical_key(uint32_t lexeme, uint32_t state) const;
  // For a lexeme with a complement in its regex (an open object's other keys: any string but the
  // named ones), its states' walk_equivalent_states blocks with kCut taking no transition; null
  // for the others. Inside such a key the states that track the names still matching differ only
  // in where a quote may close the key, so without kCut they are one block, and their entries
  // share the part of any string's (each was a walk of the whole vocabulary). Under index_mu_.
  const std::vector<uint32_t>* part_blocks(uint32_t lexeme) const;
  mutable std::unordered_map<uint32_t, std::unique_ptr<const std::vector<uint32_t>>> part_blocks_;  // under index_mu_
  // canonical_key of such a lexeme's states by (lexeme, block): the states of a block have one key
  // (an open object's key lexeme met 15,000 states on maskbench-dev, each a BFS). Under index_mu_.
  mutable std::unordered_map<uint64_t, std::string> block_keys_;
  // A lexeme whose automaton spells one string, one byte per state (a key with its quotes, a
  // literal): the string, and per state how many of its bytes lead there. Null for the others.
  struct Spelling {
    std::string bytes;
    std::vector<uint32_t> at;
  };
  const Spelling* spelling(uint32_t lexeme) const;
  mutable std::unordered_map<uint32_t, std::unique_ptr<const Spelling>> spellings_;  // under index_mu_
  // A spelled lexeme's entry at a state: the tokens that are prefixes of the rest of its string, and
  // the root where that rest ends inside a token — a walk down the trie along it, where the general
  // route keyed the state, looked its part up and walked the quote trie (47,000 of a warm
  // maskbench-dev run's 74,000 entries were a key's).
  std::shared_ptr<const IndexEntry> spelled_entry(uint32_t lexeme, const Spelling& sp, uint32_t state) const;
  // A state that reads one byte at a time, along a string no token reaches the end of (the rest of
  // one of an enum's values once the values part ways; a member lexeme's name, where a member and
  // its value are one lexeme): the tokens that are prefixes of that string, found as spelled_entry
  // finds them; null when a token reaches a state that is final or reads more than one byte. The
  // general route keyed the lexeme's whole automaton, mapped it onto the plain string's and looked
  // a part up (75,000 instructions an entry; 119 member lexemes in one mask of a schema whose
  // members were each one lexeme with their value).
  std::shared_ptr<const IndexEntry> literal_run_entry(uint32_t lexeme, uint32_t state) const;
  std::shared_ptr<const IndexEntry> walk_entry(uint32_t lexeme, uint32_t state, bool cut) const;
  std::shared_ptr<const IndexEntry> walk_entry(const fsm::LexDfa& d, bool leftmost_first, bool last, uint32_t state,
                                               bool cut) const;
  // A lexeme's states mapped onto the plain JSON string's, and how deep down each is told apart
  // from its image (null: some state has two images). Under index_mu_.
  const ReferenceDistances* reference_distances(uint32_t lexeme) const;
  mutable std::unordered_map<uint32_t, std::shared_ptr<const ReferenceDistances>> reference_distances_;
  // The plain string's entry parts (kCut cut) per (state, last), walked or shared under their
  // canonical keys. Under index_mu_.
  std::shared_ptr<const IndexEntry> reference_part(uint32_t state, bool last) const;
  mutable std::vector<std::shared_ptr<const IndexEntry>> reference_parts_;
  // The part (kCut cut) of a state mapped onto the plain string's: its image's part, with the
  // tokens below the trie nodes where the two part ways cleared (and the lexeme's roots there),
  // walking only the nodes on the way to tokens at least as long as the state's distance. Null
  // where that walk would be long (a state told apart within a few bytes) or the lexeme is not
  // mapped.
  std::shared_ptr<const IndexEntry> difference_entry(uint32_t lexeme, uint32_t state, bool last) const;
  // Entry parts by canonical key ("": none): the grammar's, else the IndexCache's (then the
  // grammar's too); keep_part stores one under its key in both and gives the one kept (another
  // thread's, when it was first).
  std::shared_ptr<const IndexEntry> find_part(const std::string& key) const;
  std::shared_ptr<const IndexEntry> keep_part(const std::string& key, std::shared_ptr<const IndexEntry> part) const;
  // The trie root's child for `byte` (0: none), indexed on first use.
  uint32_t root_child(uint8_t byte) const;
  mutable std::once_flag root_child_once_;
  mutable std::array<uint32_t, 256> root_child_{};
  // The tokens whose bytes contain kCut ('"') that stay in the lexeme from `state`, and the
  // roots on their way past it (sorted), from the tokenizer's quote trie.
  void walk_past_cut(uint32_t lexeme, uint32_t state, std::vector<int32_t>& ids, std::vector<uint32_t>& roots) const;
  // `mask` deduplicated against the grammar's dense bitsets, into e.dense (takes index_mu_).
  void intern_dense(std::vector<uint32_t> mask, IndexEntry& e) const;
  // A bitset over the vocabulary into e: under 1/64 of the vocabulary its tokens as e.ids (sorted),
  // else the bitset, interned.
  void take_bits(std::vector<uint32_t> mask, IndexEntry& e) const;

  std::array<uint8_t, 256> walk_class_{};
  uint32_t walk_classes_ = 256;
  // Per class of each of the tokenizer's string class tries (fsm::ClassTrie::string_partition): one
  // byte of each walk class in it (WalkDfa::class_step), set with walk_class_ by reserve_caches.
  static constexpr int kClassTries = fsm::ClassTrie::kStringPartitions;
  std::array<std::vector<std::vector<uint8_t>>, kClassTries> class_reps_;
  const fsm::ClassTrie& class_trie(int which) const;
  // Per class trie, its classes by their bytes, most first: where a class parts ways it is most
  // likely the letters, found first.
  std::array<std::vector<uint8_t>, kClassTries> class_order_;

  // The current generation (null before the first lease), the one around `rt` (direct callers),
  // and every generation started (expired ones pruned at the next start).
  mutable std::mutex gen_mu_;
  mutable std::shared_ptr<Generation> current_, base_;
  mutable std::vector<std::weak_ptr<Generation>> gens_;
  mutable size_t generations_ = 0;
  std::shared_ptr<Generation> base_generation() const;
  std::vector<std::shared_ptr<Generation>> live_generations() const;  // base_ included
};

// One generation (see the top of this file): a runtime with its own Earley graph and guard
// tables, and the caches keyed by their ids. Thread-safe like the grammar.
struct CfgGrammar::Generation {
  Generation(const CfgGrammar& grammar, std::shared_ptr<fsm::CfgRuntime> runtime);
  ~Generation();
  const CfgGrammar& g;
  const std::shared_ptr<fsm::CfgRuntime> rt;
  const fsm::ParserState initial;  // rt->initial()

  // Writes the mask of `state` (a configuration of rt; without EOS) into `row` (words uint32).
  // cached_only: only when every piece of it is computed already (a cached mask, or a thread's
  // cached index entry, boundary tokens and guard set); otherwise returns false without writing or
  // computing anything.
  bool fill_mask(const fsm::ParserState& state, uint32_t* row, bool cached_only = false) const;
  void fill_mask_slow(const fsm::ParserState& state, uint32_t* row, bool strip_space = false) const;
  // The length budget's shortest completions and mask filter, built on first use (thread-safe).
  const CfgLengthBudget& length_budget() const;
  size_t memory_bytes() const;  // graph, guard tables, caches and walk DFA
  size_t num_cached_masks() const;
  size_t walk_bytes() const;
  mutable std::atomic<size_t> mask_cache_bytes{0};
  mutable std::atomic<size_t> cache_bytes{0};  // the boundary, local-walk and guard caches

 private:
  // The grammar's fields the bodies below read, under their usual names.
  const TokenizerInfoPtr& tokenizer;
  const int32_t words;
  const uint32_t context_depth;
  const size_t &mask_cache_budget, &cache_budget, &walk_budget;
  const IndexEntry& entry(uint32_t lexeme, uint32_t state) const { return g.entry(lexeme, state); }
  const Slot& slot(uint32_t lexeme, uint32_t state) const { return g.slot(lexeme, state); }
  uint64_t local_key(uint32_t entry_id, uint32_t node) const { return g.local_key(entry_id, node); }

  // Null when the thread has none. With `missing` nothing is computed: *missing is set (and null
  // returned) when they are not known yet.
  std::shared_ptr<const BoundaryTokens> boundary_tokens(const fsm::Thread& t, bool* missing = nullptr) const;
  std::shared_ptr<const LocalBoundary> local_boundary(uint32_t lexeme, uint32_t state, uint32_t local_node) const;
  fsm::ParserState start_state(uint32_t node, uint32_t guard = 0) const;
  std::shared_ptr<const GuardSafe> guard_safe(uint32_t guard) const;
  // The tokens of one thread — its precomputed set and boundary tokens, under its guard —
  // written into `row`, or OR-ed into it with `accumulate`. cached_only: as fill_mask's.
  bool thread_mask(const fsm::Thread& t, uint32_t* row, bool accumulate, bool cached_only = false) const;
  // Several threads without guards whose index entries are all sparse lists: their tokens written
  // straight into `row`, as one thread's are (no bitset to join, hash and cache). kDone, or
  // kNotSparse (a bitset or a guard among them: the cached join), or kMissing (cached_only and a
  // piece not computed yet: nothing written).
  enum class Sparse { kDone, kNotSparse, kMissing };
  Sparse sparse_mask(const fsm::Threads& threads, uint32_t* row, bool cached_only) const;
  std::shared_ptr<WalkDfa> walk_dfa() const;
  void walk_local(WalkDfa& dfa, uint32_t start, bool pending, uint32_t root, uint32_t consumed,
                  LocalBoundary& out) const;
  void walk_children(WalkDfa& dfa, uint32_t start, const RootChildren& children, LocalBoundary& out) const;
  // The roots of a boundary walk (with their children by byte; no guards) that make up whole class
  // nodes of one of the tokenizer's class tries (`which`: the JSON-string classes, or the finer
  // ones where a pattern's class parts those; every member with children a root) are walked
  // there, class by class; the others are left in `rest`. Nothing is walked where an ASCII class's
  // bytes part ways right after the roots (kParted: a finer class trie may not part them), where
  // fewer than kClassWalkAbove of the roots' children live after them, or where most roots are not
  // in whole class nodes (kDeclined). UTF-8 classes that part are walked by their member byte nodes.
  static constexpr size_t kClassWalkAbove = 2048;
  enum class RootClassWalk { kWalked, kDeclined, kParted };
  RootClassWalk walk_root_classes(WalkDfa& dfa, int which, uint32_t start, const std::vector<uint32_t>& roots,
                         const RootChildren& children, std::vector<uint32_t>& rest, LocalBoundary& out) const;
  bool take_node(WalkDfa& dfa, const fsm::TokenTrie& trie, uint32_t node, uint32_t next, bool pending,
                 uint32_t consumed, LocalBoundary& out) const;
  // Looks `key` up in the `map` member of its shard (null when absent).
  template <class Map, class Key>
  typename Map::mapped_type cache_find(Map Shard::*map, const Key& key, size_t hash) const;
  // Caches `value` under `key` in one of the three budgeted caches (an entry of `bytes`), first
  // clearing them all if it would not fit; an entry larger than the whole budget is not cached.
  // Returns the cached value (another thread's if it was first).
  template <class Map, class Key>
  typename Map::mapped_type cache_put(Map Shard::*map, const Key& key, size_t hash, typename Map::mapped_type value,
                                      size_t bytes, const SharedLocal* shared = nullptr) const;
  void clear_caches(bool masks) const;  // every shard's boundary/local/guard caches, or its masks
  mutable std::array<Shard, kShards> shards_;
  mutable std::mutex walk_mu_;  // guards walk_ (the pointer only)
  mutable std::shared_ptr<WalkDfa> walk_;
  mutable std::once_flag budget_once_;
  mutable std::shared_ptr<const CfgLengthBudget> budget_;
};

// The context depth of a JSON Schema's grammar. Its walks meet few contexts that look alike (a
// property's value sits under its own rules), so a deeper truncation shares little, and every
// Earley node a walk makes over truncated origins is work the real parse cannot reuse (a scan
// from the real node is memoised for it); with depth 1 every origin is the wildcard and those
// nodes are few and shared. Fill instructions on every 10th maskbench-dev schema (callgrind):
// 6.13 G at 6, 5.85 G at 2, 5.76 G at 1, 5.82 G at 0; warm TBM avg -8 %. Schemas of any JSON
// value nested at any depth (`{}` over the documents of a quarter of maskbench-dev): TBM avg 3.03
// µs at 6, 2.55 at 1, 3.88 at 0 (docs/benchmarks.md, session 32).
inline constexpr uint32_t kJsonSchemaContextDepth = 1;

struct CfgBuildOptions {
  fsm::DfaOptions dfa;
  int threads = 0;             // eager_index only
  // See CfgGrammar::context_depth. 6 for grammars whose rules recur at any depth (the built-in
  // JSON grammar, one grammar over all of maskbench-dev's documents: p99.9 mask 22 µs at 6, 29 at
  // 1, 48 at 0); JSON Schema compiles take kJsonSchemaContextDepth.
  uint32_t context_depth = 6;
  // Compute every (lexeme, state)'s index entry at build time (the default computes each on
  // first use).
  bool eager_index = false;
  // Lexeme automata built at build time (CompileOptions::eager_automata_states); the rest on first use.
  size_t eager_automata_states = SIZE_MAX;
  double eager_automata_ms = 0;  // then on for this long (CompileOptions::eager_automata_ms)
  // Share entries between states with the same canonical future (and through index_cache).
  bool share_states = true;
  std::shared_ptr<IndexCache> index_cache;  // optional, the Compiler's
  std::shared_ptr<fsm::LexemeDfaCache> lexeme_cache;  // optional, the Compiler's
  size_t max_earley_items = fsm::EarleyGraph::kDefaultMaxItems;  // CompileOptions::max_earley_items
  // The grammar's uniqueItems plan (build_cfg_grammar takes it from the grammar).
  std::shared_ptr<const grammar::UniquePlan> unique_plan;
  // Optional: the build's phases ("cfg", "lexeme automata", "token index") are recorded here.
  PhaseRecorder* phases = nullptr;
};

// Builds the back-end for a checked grammar. Throws tollgate::Error.
std::unique_ptr<CfgGrammar> build_cfg_grammar(const grammar::Grammar& grammar, const TokenizerInfoPtr& tokenizer,
                                              const CfgBuildOptions& options);
inline std::unique_ptr<CfgGrammar> build_cfg_grammar(const grammar::Grammar& grammar,
                                                     const TokenizerInfoPtr& tokenizer) {
  return build_cfg_grammar(grammar, tokenizer, CfgBuildOptions{});
}

}  // namespace tollgate::engine
