// Context-free back-end: the lazy per-lexeme-state token index, the generations (graph, guard
// tables and id-keyed caches a matcher leases), boundary walks against
// truncated Earley nodes through a lazy DFA over parser configurations, the caches, and the
// Matcher (history of parser states for rollback). TOLLGATE_CFG_DEBUG=1 prints slow walks, slow
// index entries and slow reference maps (fsm/cfg_debug.hpp; fsm/cfg_runtime.cpp prints slow lexeme
// automata).
#include "engine/cfg_backend.hpp"
#include "engine/cfg_budget.hpp"

#include "engine/compile_phases.hpp"
#include "engine/unique_tracker.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <optional>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <ctime>
#include <numeric>
#include <unordered_set>
#include <tuple>

#include "engine/bitmask_kernels.hpp"
#include "fsm/atomic_memo.hpp"
#include "fsm/budget.hpp"
#include "fsm/cfg.hpp"
#include "fsm/cfg_debug.hpp"
#include "fsm/class_trie.hpp"
#include "fsm/hash.hpp"
#include "fsm/parallel.hpp"
#include "tollgate/error.hpp"

namespace tollgate::engine {

using fsm::ParserState;
using fsm::Thread;
using fsm::Threads;

size_t CfgGrammar::KeyHash::operator()(const Threads& t) const {
  size_t h = t.size();
  for (auto& x : t) {
    fsm::hash_mix(h, x.lexeme);
    fsm::hash_mix(h, x.state);
    fsm::hash_mix(h, x.node);
    fsm::hash_mix(h, x.guard);
  }
  return h;
}

namespace {

inline void set_bit(uint32_t* row, int32_t id) { row[id >> 5] |= 1u << (id & 31); }
inline void clear_bit(uint32_t* row, int32_t id) { row[id >> 5] &= ~(1u << (id & 31)); }
// Clears in `mask` the tokens of nodes [from, to) of `trie`.
inline void clear_tokens(const fsm::TokenTrie& trie, uint32_t from, uint32_t to, uint32_t* mask) {
  trie.for_each_token(from, to, [&](int32_t id) { clear_bit(mask, id); });
}

std::atomic<size_t> g_class_walks_abandoned{0};
std::atomic<size_t> g_class_walk_runs_parted{0};
std::atomic<size_t> g_fine_class_walks{0};
std::atomic<size_t> g_class_walks_unsubtracted{0};

// Initial size of the hash tables of a grammar's caches (over all shards) and of its Earley graph
// (entries); they double as they fill. Small: 4,096 made a new generation zero ≈ 600 KiB (the graph's
// three memo tables at 8,192 slots, twice), which a cold compile pays for as freshly touched memory.
constexpr size_t kInitialEntries = size_t(1) << 9;

using fsm::cfg_debug_enabled;
using fsm::cfg_debug_now;
using fsm::cfg_debug_elapsed_us;
using fsm::cfg_debug_threshold_us;

}  // namespace

size_t class_walks_abandoned() { return g_class_walks_abandoned.load(std::memory_order_relaxed); }
size_t class_walk_runs_parted() { return g_class_walk_runs_parted.load(std::memory_order_relaxed); }
size_t fine_class_walks() { return g_fine_class_walks.load(std::memory_order_relaxed); }
size_t class_walks_unsubtracted() { return g_class_walks_unsubtracted.load(std::memory_order_relaxed); }

ParserState CfgGrammar::Generation::start_state(uint32_t node, uint32_t guard) const {
  ParserState start;
  rt->spawn(node, start.threads, guard);
  fsm::CfgRuntime::normalise(start.threads);
  start.accepting = rt->graph().node(node).accepting;
  return start;
}

std::shared_ptr<const CfgGrammar::GuardSafe> CfgGrammar::Generation::guard_safe(uint32_t guard) const {
  if (auto hit = cache_find(&Shard::guard_safe, uint64_t{guard}, guard)) return hit;
  // Walk the trie with the guard alone: a subtree is unsafe once the guard fires and wholly
  // safe once every pending match has died.
  auto safe = std::make_shared<GuardSafe>();
  safe->bits.assign(words, 0u);
  const fsm::TokenTrie& trie = tokenizer->trie();
  std::vector<uint32_t> g(trie.max_depth() + 2);
  g[0] = guard;
  fsm::walk_trie(trie, 0, g.data(), [&](uint32_t i, const fsm::TrieNode& n, uint32_t parent, uint32_t& child) {
    child = rt->guard_step(parent, n.byte);
    if (child == fsm::CfgRuntime::kFired) return false;
    // All pending matches dead (0): the whole subtree is safe.
    trie.for_each_token(i, child == 0 ? n.subtree_end : i + 1, [&](int32_t id) {
      set_bit(safe->bits.data(), id);
      safe->ids.push_back(id);
    });
    return child != 0;
  });
  safe->sparse = safe->ids.size() * 2 < static_cast<size_t>(words);  // under 1/64 of the vocabulary
  if (safe->sparse) std::sort(safe->ids.begin(), safe->ids.end());
  else std::vector<int32_t>().swap(safe->ids);
  size_t bytes = safe->bits.size() * 4 + safe->ids.size() * 4 + 64;
  return cache_put(&Shard::guard_safe, uint64_t{guard}, guard, std::move(safe), bytes);
}

bool CfgGrammar::Generation::thread_mask(const Thread& t, uint32_t* row, bool accumulate, bool cached_only) const {
  // Every piece is looked up (or computed) before anything is written.
  const Slot* sl = g.slots(t.lexeme)[t.state].load(std::memory_order_acquire);
  if (!sl && cached_only) return false;
  const IndexEntry& e = sl ? *sl->entry : entry(t.lexeme, t.state);
  const uint32_t* ci = e.dense ? e.dense->data() : nullptr;
  // Held while used: a cache clear on another thread leaves these alive.
  bool missing = false;
  std::shared_ptr<const BoundaryTokens> boundary_ptr = boundary_tokens(t, cached_only ? &missing : nullptr);
  if (missing) return false;
  std::shared_ptr<const GuardSafe> safe_ptr;
  if (t.guard != 0) {
    safe_ptr = cached_only ? cache_find(&Shard::guard_safe, uint64_t{t.guard}, t.guard) : guard_safe(t.guard);
    if (!safe_ptr) return false;
  }
  // The boundary tokens, each given to f (none without a boundary).
  auto boundary = [&](auto&& f) {
    if (boundary_ptr) boundary_ptr->for_each(f);
  };
  if (t.guard == 0) {
    if (ci && accumulate) {
      engine::or_into(row, ci, words);
    } else if (ci) {
      std::memcpy(row, ci, static_cast<size_t>(words) * 4);
    } else if (!accumulate) {
      std::memset(row, 0, static_cast<size_t>(words) * 4);
    }
    for (int32_t id : e.ids) set_bit(row, id);  // the sparse set, or the ids beside the bitset
    boundary([&](int32_t id) { set_bit(row, id); });
    return true;
  }
  const GuardSafe& safe = *safe_ptr;
  if (!accumulate) std::memset(row, 0, static_cast<size_t>(words) * 4);
  auto safe_bit = [&](int32_t id) { return (safe.bits[id >> 5] >> (id & 31)) & 1; };
  if (!ci) {
    // A sparse set: its tokens tested against the guard one by one.
    for (int32_t id : e.ids)
      if (safe_bit(id)) set_bit(row, id);
    boundary([&](int32_t id) {
      if (safe_bit(id)) set_bit(row, id);
    });
    return true;
  }
  if (safe.sparse) {
    // Few tokens survive the guard: test them against the precomputed set, and the boundary
    // tokens against them, instead of combining whole bitsets.
    for (int32_t id : safe.ids)
      if ((ci[id >> 5] >> (id & 31)) & 1) set_bit(row, id);
    for (int32_t id : e.ids)
      if (safe_bit(id)) set_bit(row, id);
    boundary([&](int32_t id) {
      if (safe_bit(id)) set_bit(row, id);
    });
    return true;
  }
  thread_local std::vector<uint32_t> one;
  one.assign(ci, ci + words);
  for (int32_t id : e.ids) set_bit(one.data(), id);
  boundary([&](int32_t id) { set_bit(one.data(), id); });
  engine::or_and_into(row, one.data(), safe.bits.data(), words);
  return true;
}

// The walk DFA: states in fixed chunks (a published state never moves), per state a row of
// atomic transitions by byte class. Row entries: 0 unknown, 1 dead, 2 dead after a pop, else
// ((next << 1) | popped) + 3.
struct CfgGrammar::WalkDfa {
  // Chunk c holds kFirst << c states (64, 128, 256, …), allocated when the first of them is interned:
  // a small grammar's first walk touches a few KiB, not a 1,024-state chunk (memory touched for the
  // first time is what a cold compile pays most for on some machines: docs/benchmarks.md).
  static constexpr uint32_t kFirstBits = 6, kFirst = 1u << kFirstBits, kMaxChunks = 16;
  static constexpr uint32_t kMaxStates = ((1u << kMaxChunks) - 1) << kFirstBits;  // 4,194,240
  static constexpr uint32_t kRowBlock = 256;  // states per block of rows (the first chunks: fewer)
  struct Chunk {
    // Raw storage (malloc: pages untouched until used), each state constructed when interned: an
    // array constructed whole touched 512 KiB at once for a chunk of 16,384 states, 2.4-3.2 ms of
    // one of o58926's masks on this VM (first touches, not instructions).
    ParserState* states = nullptr;
    uint32_t constructed = 0;
    // Zero: unknown; read and written through atomic_ref. In blocks of kRowBlock states, each
    // calloc'd when its first state is interned: fresh memory stays untouched until a walk steps
    // there, and memory the allocator reuses is cleared a block at a time (a chunk's rows at once
    // were megabytes cleared inside one mask of a long warm run: 2 ms at o58926's 16,384-state
    // chunk).
    std::unique_ptr<uint32_t*[]> rows;
    // Per class trie (CfgGrammar::class_trie), state and class: class_step's answer + 1 (0:
    // unknown). Made (calloc) by the first class_step in the chunk: most walks never take one.
    std::array<std::atomic<uint32_t*>, kClassTries> class_rows{};
    uint32_t blocks = 0;  // of rows
    ~Chunk() {
      for (uint32_t i = 0; i < constructed; ++i) states[i].~ParserState();
      std::free(states);
      for (uint32_t b = 0; b < blocks; ++b) std::free(rows[b]);
      for (auto& r : class_rows) std::free(r.load(std::memory_order_relaxed));
    }
  };
  const fsm::CfgRuntime& rt;
  const std::array<uint8_t, 256>& walk_class;
  const uint32_t classes;
  // Per class trie, per class: one byte of each walk class in it.
  const std::array<std::vector<std::vector<uint8_t>>, kClassTries>& class_reps;
  std::array<uint32_t, kClassTries> string_classes{};  // per class trie: its classes (0: none)
  std::array<Chunk, kMaxChunks> chunks;  // filled as states come
  std::mutex mu;                         // interning
  // The states by the hash of their threads and accepting flag: the first state with each hash
  // (open addressing: a node-based map's rehash chased a pointer per state, 2-3 ms of one mask at
  // detekt's ~40,000 states), and per state the next one with its hash (kNone ends the chain). A
  // lookup hashes the configuration in place and compares it with the states themselves: no copy
  // of its threads as a key, and none kept beside the state's own.
  static constexpr uint32_t kNone = UINT32_MAX;
  fsm::AtomicMemo index;
  std::vector<uint32_t> same_hash;
  std::atomic<uint32_t> num_states{0};
  std::atomic<size_t> transitions{0};

  static uint32_t chunk_of(uint32_t s) { return 31 - static_cast<uint32_t>(__builtin_clz((s >> kFirstBits) + 1)); }
  static uint32_t base_of(uint32_t c) { return ((1u << c) - 1) << kFirstBits; }

  WalkDfa(const fsm::CfgRuntime& runtime, const std::array<uint8_t, 256>& byte_class, uint32_t num_classes,
          const std::array<std::vector<std::vector<uint8_t>>, kClassTries>& reps)
      : rt(runtime), walk_class(byte_class), classes(num_classes), class_reps(reps) {
    for (int w = 0; w < kClassTries; ++w) string_classes[w] = static_cast<uint32_t>(reps[w].size());
  }
  const ParserState& state(uint32_t s) const {
    const uint32_t c = chunk_of(s);
    return chunks[c].states[s - base_of(c)];
  }
  std::atomic_ref<uint32_t> row(uint32_t s, uint8_t byte) const {
    const uint32_t c = chunk_of(s);
    const uint32_t i = s - base_of(c);
    return std::atomic_ref<uint32_t>(chunks[c].rows[i / kRowBlock][static_cast<size_t>(i % kRowBlock) * classes + walk_class[byte]]);
  }
  size_t bytes() const {
    const size_t n = num_states.load(std::memory_order_relaxed);
    size_t b = n * 64;  // the index and thread lists
    for (uint32_t c = 0; c < kMaxChunks && base_of(c) < n; ++c) {
      b += (size_t{kFirst} << c) * (sizeof(ParserState) + size_t{classes} * 4);
      for (int w = 0; w < kClassTries; ++w)  // class rows where made
        if (chunks[c].class_rows[w].load(std::memory_order_relaxed)) b += (size_t{kFirst} << c) * string_classes[w] * 4;
    }
    return b;
  }
  uint32_t intern(const ParserState& st) {
    uint64_t h = KeyHash{}(st.threads);
    fsm::hash_mix(h, st.accepting ? 1u : 0u);
    if (h == fsm::AtomicMemo::kEmpty) h = 0;  // (never a key of the memo; chains tell states apart)
    std::lock_guard<std::mutex> lock(mu);
    const uint64_t first = index.find(h);
    uint32_t last = kNone;  // the chain's last state
    for (uint32_t s = first == fsm::AtomicMemo::kMissing ? kNone : static_cast<uint32_t>(first); s != kNone;
         s = same_hash[s]) {
      if (state(s) == st) return s;
      last = s;
    }
    uint32_t n = num_states.load(std::memory_order_relaxed);
    if (n >= kMaxStates)
      throw Error(ErrorKind::kLimit, "boundary walk: more than " + std::to_string(kMaxStates) +
                                         " parser configurations in one walk DFA");
    // The state stored before the index names it (no memory: nothing changed).
    const uint32_t c = chunk_of(n);
    Chunk& chunk = chunks[c];
    const size_t size = size_t{kFirst} << c;
    if (!chunk.states) {
      if (!chunk.rows) chunk.rows = std::make_unique<uint32_t*[]>((size + kRowBlock - 1) / kRowBlock);
      auto* states = static_cast<ParserState*>(std::malloc(size * sizeof(ParserState)));
      if (!states) throw std::bad_alloc();
      chunk.states = states;  // last: set, the chunk is whole
    }
    if (const uint32_t b = (n - base_of(c)) / kRowBlock; b >= chunk.blocks) {  // (states come in order)
      auto* rows = static_cast<uint32_t*>(std::calloc(std::min<size_t>(size, kRowBlock) * classes, sizeof(uint32_t)));
      if (!rows) throw std::bad_alloc();
      chunk.rows[b] = rows;
      chunk.blocks = b + 1;
    }
    // (n unpublished: a throw below leaves it constructed, to be assigned over)
    if (const uint32_t at = n - base_of(c); at < chunk.constructed) {
      chunk.states[at] = st;
    } else {
      new (&chunk.states[at]) ParserState(st);
      ++chunk.constructed;
    }
    same_hash.push_back(kNone);
    if (last != kNone) {
      same_hash[last] = n;
    } else {
      try {
        index.insert(h, n);
      } catch (...) {
        same_hash.pop_back();
        throw;
      }
    }
    num_states.store(n + 1, std::memory_order_release);
    return n;
  }
  // Where the bytes of class c of class trie `which` go from state s, coded as a row entry
  // (code()), or 0 where they part ways.
  // Memoised per state: a class of many walk classes (the letters, where a grammar's keys tell
  // them apart) is stepped byte by byte once.
  uint32_t class_step(int which, uint32_t s, uint32_t c) {
    const uint32_t ch = chunk_of(s);
    const uint32_t width = string_classes[which];
    std::atomic<uint32_t*>& made_rows = chunks[ch].class_rows[which];
    uint32_t* rows = made_rows.load(std::memory_order_acquire);
    if (!rows) {
      auto* made = static_cast<uint32_t*>(std::calloc((size_t{kFirst} << ch) * width, sizeof(uint32_t)));
      if (!made) throw std::bad_alloc();
      if (made_rows.compare_exchange_strong(rows, made, std::memory_order_acq_rel)) rows = made;
      else std::free(made);  // another thread's came first (rows holds it)
    }
    std::atomic_ref<uint32_t> slot(rows[static_cast<size_t>(s - base_of(ch)) * width + c]);
    if (const uint32_t m = slot.load(std::memory_order_acquire)) return m - 1;
    const std::vector<uint8_t>& reps = class_reps[which][c];
    uint32_t v = 1;  // a class without bytes: dead
    if (!reps.empty()) {
      bool popped = false;
      const uint32_t next = step(s, reps[0], popped);
      bool alike = true;
      for (size_t i = 1; i < reps.size() && alike; ++i) {
        bool p = false;
        alike = step(s, reps[i], p) == next && p == popped;
      }
      v = alike ? code(next, popped) : 0u;
    }
    slot.store(v + 1, std::memory_order_release);  // another thread computing it stores the same
    return v;
  }
  uint32_t step(uint32_t s, uint8_t byte, bool& popped) {
    std::atomic_ref<uint32_t> slot = row(s, byte);
    uint32_t v = slot.load(std::memory_order_acquire);
    if (v == 0) {
      thread_local ParserState next;
      bool pop = false;
      const uint32_t to = rt.step(state(s), byte, next, &pop) ? intern(next) : kDeadState;
      v = code(to, pop);  // (pop read after the step sets it)
      slot.store(v, std::memory_order_release);  // another thread computing it stores the same
      transitions.fetch_add(1, std::memory_order_relaxed);
    }
    return decode(v, popped);
  }
  // A row entry (never 0) for a step to `next` (kDeadState: refused), `popped` on the way, and back.
  static uint32_t code(uint32_t next, bool popped) {
    return next == kDeadState ? (popped ? 2u : 1u) : ((next << 1) | (popped ? 1u : 0u)) + 3;
  }
  static uint32_t decode(uint32_t v, bool& popped) {
    if (v < 3) {
      popped = v == 2;
      return kDeadState;
    }
    popped = (v - 3) & 1;
    return (v - 3) >> 1;
  }
};

std::shared_ptr<CfgGrammar::WalkDfa> CfgGrammar::Generation::walk_dfa() const {
  std::lock_guard<std::mutex> lock(walk_mu_);
  if (!walk_ || walk_->bytes() > walk_budget) {
    if (walk_ && cfg_debug_enabled()) fprintf(stderr, "walk DFA replaced (%u states)\n", walk_->num_states.load());
    walk_ = std::make_shared<WalkDfa>(*rt, g.walk_class_, g.walk_classes_, g.class_reps_);
  }
  return walk_;
}

// Trie node `i` (of `trie`, the tokenizer's) of a boundary walk, reached in walk state `next` (kDeadState: refused), `pending`
// when a pop happened on the way: its tokens accepted or uncertain; true when the walk goes on
// below it.
[[gnu::always_inline]] inline bool CfgGrammar::Generation::take_node(WalkDfa& dfa, const fsm::TokenTrie& trie, uint32_t i,
                                                                       uint32_t next, bool pending, uint32_t consumed,
                                                                       LocalBoundary& out) const {
  const fsm::TrieNode& n = trie.nodes()[i];
  auto uncertain = [&](uint32_t from, uint32_t to) {
    trie.for_each_token(from, to, [&](int32_t id) { out.uncertain.push_back({id, consumed}); });
  };
  if (next == kDeadState) {
    if (pending) uncertain(i, n.subtree_end);  // this node's tokens and all below
    return false;
  }
  if (n.tokens_end > n.tokens_begin)  // in one piece (a class node has hundreds)
    out.accepted.insert(out.accepted.end(), trie.token_ids().begin() + n.tokens_begin,
                        trie.token_ids().begin() + n.tokens_end);
  if (dfa.state(next).threads.empty()) {
    // Nothing local follows; below here only the real context can accept.
    if (pending) uncertain(i + 1, n.subtree_end);
    return false;
  }
  return true;
}

// Walks the trie subtree below `root` from walk state `start` (threads over truncated Earley
// nodes; `pending`: a pop happened on the way to `root`), the lexeme having consumed the first
// `consumed` bytes of each token. A token is accepted when the local parse survives all its bytes;
// once the parse completed an item into the wildcard context (a "pop") the real context may accept
// more, so tokens the local parse refuses after a pop — and tokens ending exactly at a pop — are
// uncertain.
void CfgGrammar::Generation::walk_local(WalkDfa& dfa, uint32_t start, bool pending, uint32_t root, uint32_t consumed,
                                        LocalBoundary& out) const {
  const fsm::TokenTrie& trie = tokenizer->trie();
  struct At {
    uint32_t state;  // walk DFA state
    bool pending;    // a pop happened on the way: the real context may accept more
  };
  thread_local std::vector<At> stack;
  if (stack.size() < trie.max_depth() + 2) stack.resize(trie.max_depth() + 2);
  stack[trie.nodes()[root].depth] = {start, pending};
  fsm::walk_trie(trie, root, stack.data(), [&](uint32_t i, const fsm::TrieNode& n, const At& parent, At& child) {
    bool popped = false;
    const uint32_t next = dfa.step(parent.state, n.byte, popped);
    const bool pend = parent.pending || popped;
    if (!take_node(dfa, trie, i, next, pend, consumed, out)) return false;
    child = {next, pend};
    return true;
  });
}

// The walk below every root of an entry (all from `start`) by the roots' children grouped by
// byte: a byte is stepped once, and children whose byte the parse refuses without a pop are not
// visited. Same tokens as walk_local below each root (in another order).
void CfgGrammar::Generation::walk_children(WalkDfa& dfa, uint32_t start, const RootChildren& children,
                                           LocalBoundary& out) const {
  const fsm::TokenTrie& trie = tokenizer->trie();
  const auto& nodes = trie.nodes();
  for (uint32_t b = 0; b < 256; ++b) {
    const uint32_t from = children.at[b], to = children.at[b + 1];
    if (from == to) continue;
    bool popped = false;
    const uint32_t next = dfa.step(start, static_cast<uint8_t>(b), popped);
    if (next == kDeadState && !popped) continue;  // refused: nothing below these children either
    for (uint32_t k = from; k < to; ++k) {
      const uint32_t c = children.nodes[k];
      const uint32_t consumed = nodes[c].depth - 1u;  // the root's bytes
      if (take_node(dfa, trie, c, next, popped, consumed, out) && nodes[c].subtree_end > c + 1)
        walk_local(dfa, next, popped, c, consumed, out);
    }
  }
}

CfgGrammar::Generation::RootClassWalk CfgGrammar::Generation::walk_root_classes(
    WalkDfa& dfa, int which, uint32_t start, const std::vector<uint32_t>& roots, const RootChildren& children,
    std::vector<uint32_t>& rest, LocalBoundary& out) const {
  const fsm::ClassTrie& ct = g.class_trie(which);
  if (dfa.string_classes[which] == 0 || children.nodes.size() < kClassWalkAbove) return RootClassWalk::kDeclined;
  // Where a class's bytes part ways right after the roots (the letters, where a key or a literal
  // follows), grouping the roots' children by byte (walk_children) steps each byte once for all of
  // them: the class walk pays off where the next lexeme takes whole classes (a string's inside),
  // below many of the roots' children (whitespace before a string: the few with a quote).
  {
    std::array<uint32_t, 256> per_class{};  // the roots' children per class
    for (int b = 0; b < 256; ++b) per_class[ct.classes()[b]] += children.at[b + 1] - children.at[b];
    // A class of code points parts the UTF-8 classes alike in every class trie: those are walked
    // by their member byte nodes below (run by run), and only the ASCII classes must step alike.
    size_t live = 0;
    for (uint8_t c : g.class_order_[which]) {
      if (per_class[c] == 0) continue;
      const uint32_t v = dfa.class_step(which, start, c);
      if (v == 0 && !fsm::ClassTrie::multibyte_class(c)) return RootClassWalk::kParted;
      if (v > 1) live += per_class[c];
    }
    if (live < kClassWalkAbove) return RootClassWalk::kDeclined;
  }
  // The roots by class node: a class node all of whose members with children are roots is walked
  // as a class; its class subtree holds exactly the tokens below those roots. Counted per class
  // node under this call's stamp (no clearing, no sorting: the roots left over stay in trie order).
  const fsm::TokenTrie& ctrie = ct.trie();
  thread_local std::vector<uint64_t> count;  // (stamp << 32) | roots counted, per class node
  thread_local uint32_t stamp = 0;
  if (count.size() < ctrie.nodes().size()) count.assign(ctrie.nodes().size(), 0);
  if (++stamp == 0) {
    std::fill(count.begin(), count.end(), 0);
    stamp = 1;
  }
  const uint64_t base = uint64_t{stamp} << 32;
  for (uint32_t r : roots) {
    uint64_t& c = count[ct.class_node_of(r)];
    c = (c >> 32) == stamp ? c + 1 : base + 1;
  }
  thread_local std::vector<uint32_t> whole;  // class nodes
  whole.clear();
  rest.clear();
  size_t in_whole = 0;
  constexpr uint64_t kListed = uint64_t{1} << 31;  // marks a whole class node already listed
  for (uint32_t r : roots) {
    const uint32_t x = ct.class_node_of(r);
    uint64_t& c = count[x];
    if ((c & (kListed - 1)) != ct.members_with_children(x)) {
      rest.push_back(r);
      continue;
    }
    ++in_whole;
    if (!(c & kListed)) {
      c |= kListed;
      whole.push_back(x);
    }
  }
  // Worth it when most roots go (a class walk of a few roots' class nodes walks the subtrees of
  // all their members: the same tokens).
  if (in_whole * 2 < roots.size()) return RootClassWalk::kDeclined;
  const auto& cn = ctrie.nodes();
  const fsm::TokenTrie& trie = tokenizer->trie();
  const auto& members = ct.members();
  const auto& runs = ct.runs();
  struct At {
    uint32_t state;
    bool pending;
  };
  thread_local std::vector<At> stack;
  if (stack.size() < ctrie.max_depth() + 2) stack.resize(ctrie.max_depth() + 2);
  for (uint32_t x : whole) {
    const uint32_t consumed = cn[x].depth;  // the roots' bytes (a class node is a byte deep per level)
    stack[cn[x].depth] = {start, false};
    fsm::walk_trie(ctrie, x, stack.data(), [&](uint32_t y, const fsm::TrieNode& n, const At& parent, At& child) {
      const uint32_t v = dfa.class_step(which, parent.state, n.byte);
      if (v == 0) {
        // The class's bytes part ways: its member byte nodes walked byte by byte, a run of
        // members with one last byte (a class node with many) skipped whole where that byte dies.
        const auto& bn = trie.nodes();
        auto walk_members = [&](uint32_t from, uint32_t to_member, uint32_t to, bool pend) {
          for (uint32_t m = from; m < to_member; ++m) {
            const uint32_t b = members[m];
            if (take_node(dfa, trie, b, to, pend, consumed, out) && bn[b].subtree_end > b + 1)
              walk_local(dfa, to, pend, b, consumed, out);
          }
        };
        const uint32_t rb = ct.run_begin(y), re = ct.run_begin(y + 1), me = ct.member_begin(y + 1);
        if (rb < re) {
          for (uint32_t r = rb; r < re; ++r) {
            bool p = false;
            const uint32_t to = dfa.step(parent.state, runs[r].byte, p);
            if (to == kDeadState && !(parent.pending || p)) continue;
            walk_members(runs[r].begin, r + 1 < re ? runs[r + 1].begin : me, to, parent.pending || p);
          }
        } else {
          for (uint32_t m = ct.member_begin(y); m < me; ++m) {
            bool p = false;
            const uint32_t to = dfa.step(parent.state, bn[members[m]].byte, p);
            walk_members(m, m + 1, to, parent.pending || p);
          }
        }
        return false;
      }
      bool popped = false;
      const uint32_t next = WalkDfa::decode(v, popped);
      const bool pend = parent.pending || popped;
      if (!take_node(dfa, ctrie, y, next, pend, consumed, out)) return false;
      child = {next, pend};
      return true;
    });
  }
  return RootClassWalk::kWalked;
}

std::shared_ptr<const RootChildren> RootChildren::of(const std::vector<uint32_t>& roots, const fsm::TokenTrie& trie) {
  if (roots.size() < kMinRoots) return nullptr;
  const auto& nodes = trie.nodes();
  auto out = std::make_shared<RootChildren>();
  std::array<uint32_t, 256> count{};
  auto children = [&](auto&& f) {
    for (uint32_t r : roots)
      for (uint32_t c = r + 1; c < nodes[r].subtree_end; c = nodes[c].subtree_end) f(c);
  };
  children([&](uint32_t c) { ++count[nodes[c].byte]; });
  for (int b = 0; b < 256; ++b) out->at[b + 1] = out->at[b] + count[b];
  out->nodes.resize(out->at[256]);
  std::array<uint32_t, 256> fill;
  std::copy(out->at.begin(), out->at.begin() + 256, fill.begin());
  children([&](uint32_t c) { out->nodes[fill[nodes[c].byte]++] = c; });
  return out;
}

std::shared_ptr<const CfgGrammar::LocalBoundary> CfgGrammar::Generation::local_boundary(uint32_t lexeme, uint32_t state,
                                                            uint32_t local_node) const {
  const Slot& sl = slot(lexeme, state);
  const IndexEntry& e = *sl.entry;
  uint64_t key = local_key(sl.id, local_node);
  if (auto hit = cache_find(&Shard::local, key, key)) return hit;
  auto out = std::make_shared<LocalBoundary>();
  auto t0 = cfg_debug_now();
  size_t g0 = cfg_debug_enabled() ? rt->graph().size() : 0;
  size_t new_transitions = 0, walk_states = 0;
  {
    std::shared_ptr<WalkDfa> dfa = walk_dfa();
    size_t tr0 = dfa->transitions.load(std::memory_order_relaxed);
    const auto& rts = e.roots;
    const auto& nodes = tokenizer->trie().nodes();
    uint32_t start = dfa->intern(start_state(local_node)), guarded_start = kDeadState, last_guard = 0;
    thread_local std::vector<uint32_t> rest;
    // By the JSON-string classes, or where a pattern's class parts those, by finer ones.
    int by = -1;
    for (int w = 0; e.children && w < kClassTries; ++w) {
      const RootClassWalk r = walk_root_classes(*dfa, w, start, rts, *e.children, rest, *out);
      if (r == RootClassWalk::kWalked) by = w;
      if (r != RootClassWalk::kParted) break;
    }
    if (by >= 0) {
      for (uint32_t r : rest) walk_local(*dfa, start, false, r, nodes[r].depth, *out);
      g.class_boundary_walks_.fetch_add(1, std::memory_order_relaxed);
      if (by > 0) g.fine_boundary_walks_.fetch_add(1, std::memory_order_relaxed);
    } else if (e.children) {
      walk_children(*dfa, start, *e.children, *out);  // (no root states: no guards)
      g.children_walks_.fetch_add(1, std::memory_order_relaxed);
    } else {
      for (size_t k = 0; k < rts.size(); ++k) {
        uint32_t guard = rt->leftmost_first(lexeme) ? rt->completion_guard(lexeme, e.root_states[k]) : 0;
        if (guard != 0 && guard != last_guard) {
          guarded_start = dfa->intern(start_state(local_node, guard));
          last_guard = guard;
        }
        walk_local(*dfa, guard == 0 ? start : guarded_start, false, rts[k], nodes[rts[k]].depth, *out);
      }
    }
    new_transitions = dfa->transitions.load(std::memory_order_relaxed) - tr0;
    walk_states = dfa->num_states.load(std::memory_order_relaxed);
  }
  if (cfg_debug_enabled()) {
    const double us = cfg_debug_elapsed_us(t0);
    if (us > cfg_debug_threshold_us(200))
      fprintf(stderr,
              "boundary walk %.1f ms: lexeme %u (%s) state %u roots %zu expects %zu node %u (%zu items) -> "
              "%zu + %zu uncertain tokens, %zu new nodes, %zu walk states, %zu new transitions\n",
              us / 1000, lexeme, rt->cfg().lexemes[lexeme]->to_string().substr(0, 60).c_str(), state,
              e.roots.size(), rt->graph().node(local_node).expected.size(), local_node,
              rt->graph().node(local_node).items.size(), out->accepted.size(), out->uncertain.size(),
              rt->graph().size() - g0, walk_states, new_transitions);
  }
  size_t bytes = out->accepted.size() * 4 + out->uncertain.size() * 8 + 64;
  return cache_put(&Shard::local, key, key, std::move(out), bytes);
}

std::shared_ptr<const CfgGrammar::BoundaryTokens> CfgGrammar::Generation::boundary_tokens(const Thread& t,
                                                                                          bool* missing) const {
  const Slot& sl = slot(t.lexeme, t.state);
  if (sl.entry->roots.empty()) return nullptr;
  uint32_t y = t.node;
  if (!rt->cfg().is_ignore[t.lexeme]) {
    if (!missing) {
      y = rt->graph().scan(t.node, t.lexeme);
    } else if (uint64_t m = rt->graph().scanned(t.node, t.lexeme); m != fsm::AtomicMemo::kMissing) {
      y = static_cast<uint32_t>(m);
    } else {
      *missing = true;
      return nullptr;
    }
  }
  if (y == fsm::kNoNode) return nullptr;
  uint64_t key = local_key(sl.id, y);
  if (auto hit = cache_find(&Shard::boundary, key, key)) return hit;
  if (missing) {
    *missing = true;
    return nullptr;
  }
  auto t0 = cfg_debug_now();
  uint32_t ly = context_depth ? rt->graph().truncate(y, context_depth) : y;
  std::shared_ptr<const LocalBoundary> local_ptr = local_boundary(t.lexeme, t.state, ly);
  const LocalBoundary& local = *local_ptr;
  auto t1 = cfg_debug_now();
  // The local list is shared, not copied; the uncertain tokens the real node accepts go beside it.
  auto out = std::make_shared<BoundaryTokens>();
  out->local = local_ptr;
  if (!local.uncertain.empty()) {
    // The uncertain tokens: their bytes after the boundary against the real node, stepped on the
    // walk DFA (tokens that share a prefix, and other entries' checks against this node, share
    // their steps).
    std::shared_ptr<WalkDfa> dfa = walk_dfa();
    const uint32_t start = dfa->intern(start_state(y));
    uint32_t guarded_start = kDeadState, last_guard = 0;
    for (auto [id, consumed] : local.uncertain) {
      std::string_view all = tokenizer->token_bytes(id);
      std::string_view bytes = all.substr(consumed);
      uint32_t guard = 0;
      if (rt->leftmost_first(t.lexeme)) {
        // The lexeme's state where this token leaves it decides the guard after the boundary.
        uint32_t q = t.state;
        for (size_t j = 0; j < consumed && q != fsm::kDead; ++j) q = rt->dfa(t.lexeme).next(q, static_cast<uint8_t>(all[j]));
        if (q != fsm::kDead) guard = rt->completion_guard(t.lexeme, q);
      }
      if (guard != 0 && guard != last_guard) {
        guarded_start = dfa->intern(start_state(y, guard));
        last_guard = guard;
      }
      uint32_t at = guard != 0 ? guarded_start : start;
      for (size_t j = 0; j < bytes.size() && at != kDeadState; ++j) {
        bool popped = false;
        at = dfa->step(at, static_cast<uint8_t>(bytes[j]), popped);
      }
      const bool ok = at != kDeadState;
      if (ok) out->also.push_back(id);
      g.uncertain_accepted_ += ok;
    }
    g.uncertain_checked_ += local.uncertain.size();
  }
  if (cfg_debug_enabled()) {
    auto t2 = cfg_debug_now();
    double a = std::chrono::duration<double, std::micro>(t1 - t0).count();
    double b = std::chrono::duration<double, std::micro>(t2 - t1).count();
    if (a + b > cfg_debug_threshold_us(200))
      fprintf(stderr, "boundary miss lexeme %u state %u node %u (local %u): %.0f µs, %zu uncertain checked in %.0f µs\n",
              t.lexeme, t.state, y, ly, a, local.uncertain.size(), b);
  }
  // Shared with the local walk: its bytes count here too unless the local cache holds it.
  SharedLocal shared{&local_ptr, local_key(sl.id, ly)};
  const size_t bytes = sizeof(BoundaryTokens) + 48 + out->also.capacity() * 4;
  return cache_put(&Shard::boundary, key, key, std::shared_ptr<const BoundaryTokens>(std::move(out)), bytes, &shared);
}

template <class Map, class Key>
typename Map::mapped_type CfgGrammar::Generation::cache_find(Map Shard::*map, const Key& key, size_t hash) const {
  Shard& sh = shards_[shard_of(hash)];
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = (sh.*map).find(key);
  return it == (sh.*map).end() ? nullptr : it->second;
}

void CfgGrammar::Generation::clear_caches(bool masks) const {
  // Cleared entries are destroyed after the locks are released (a mask being read keeps its
  // entries alive through the shared_ptrs it holds). Every shard is locked at once (in order;
  // nothing else holds two), so the byte counter is reset together with the maps.
  std::array<decltype(Shard::masks), kShards> old_masks;
  std::array<decltype(Shard::mask_bits), kShards> old_bits;
  std::array<decltype(Shard::boundary), kShards> old_boundary;
  std::array<decltype(Shard::local), kShards> old_local;
  std::array<decltype(Shard::guard_safe), kShards> old_guard;
  std::array<std::unique_lock<std::mutex>, kShards> locks;
  for (size_t i = 0; i < kShards; ++i) locks[i] = std::unique_lock<std::mutex>(shards_[i].mu);
  for (size_t i = 0; i < kShards; ++i) {
    if (masks) {
      old_masks[i].swap(shards_[i].masks);
      old_bits[i].swap(shards_[i].mask_bits);
    } else {
      old_boundary[i].swap(shards_[i].boundary);
      old_local[i].swap(shards_[i].local);
      old_guard[i].swap(shards_[i].guard_safe);
    }
  }
  if (masks) {
    mask_cache_bytes.store(0);
  } else {
    cache_bytes.store(0);
    ++g.cache_clears_;
  }
  for (auto& l : locks) l.unlock();
}

// Counts `bytes` into `counter` unless that would pass `budget` (false then).
static bool reserve_bytes(std::atomic<size_t>& counter, size_t bytes, size_t budget) {
  size_t cur = counter.load(std::memory_order_relaxed);
  do {
    if (cur + bytes > budget) return false;
  } while (!counter.compare_exchange_weak(cur, cur + bytes, std::memory_order_relaxed));
  return true;
}

template <class Map, class Key>
typename Map::mapped_type CfgGrammar::Generation::cache_put(Map Shard::*map, const Key& key, size_t hash,
                                                typename Map::mapped_type value, size_t bytes,
                                                const SharedLocal* shared) const {
  Shard& sh = shards_[shard_of(hash)];
  auto with_shared = [&] {
    if (!shared) return bytes;
    {
      Shard& ls = shards_[shard_of(shared->key)];
      std::lock_guard<std::mutex> lock(ls.mu);
      auto l = ls.local.find(shared->key);
      if (l != ls.local.end() && l->second == *shared->local) return bytes;
    }
    const LocalBoundary& local = **shared->local;
    return bytes + local.accepted.size() * 4 + local.uncertain.size() * 8 + 64;
  };
  for (int attempt = 0; attempt < 3; ++attempt) {
    size_t b = with_shared();
    if (b > cache_budget) return value;
    {
      // Reserved and inserted under the shard's lock: a clear (which holds every shard) sees
      // both or neither.
      std::lock_guard<std::mutex> lock(sh.mu);
      auto it = (sh.*map).find(key);
      if (it != (sh.*map).end()) return it->second;
      if (reserve_bytes(cache_bytes, b, cache_budget)) return (sh.*map).emplace(key, std::move(value)).first->second;
    }
    clear_caches(false);
  }
  return value;  // other threads filled the cache again after each clear: not cached this time
}

bool CfgGrammar::Generation::fill_mask(const ParserState& state, uint32_t* row, bool cached_only) const {
  if (state.threads.size() == 1) {
    // One thread: its precomputed set plus its (cached) boundary tokens — no bitset to cache.
    return thread_mask(state.threads[0], row, false, cached_only);
  }
  if (state.threads.empty()) {
    std::memset(row, 0, static_cast<size_t>(words) * 4);
    return true;
  }
  switch (sparse_mask(state.threads, row, cached_only)) {
    case Sparse::kDone: return true;
    case Sparse::kMissing: return false;
    case Sparse::kNotSparse: break;
  }
  const size_t hash = KeyHash{}(state.threads);
  Shard& sh = shards_[shard_of(hash)];
  {
    std::lock_guard<std::mutex> lock(sh.mu);
    auto it = sh.masks.find(state.threads);
    if (it != sh.masks.end()) {
      std::memcpy(row, it->second->data(), static_cast<size_t>(words) * 4);
      return true;
    }
  }
  if (cached_only) return false;
  auto mask = std::make_shared<std::vector<uint32_t>>(words, 0u);
  uint32_t* m = mask->data();
  auto t0 = cfg_debug_now();
  for (const Thread& t : state.threads) thread_mask(t, m, true);
  if (cfg_debug_enabled()) {
    double us = cfg_debug_elapsed_us(t0);
    if (us > cfg_debug_threshold_us(500)) fprintf(stderr, "mask miss %.0f µs, %zu threads\n", us, state.threads.size());
  }
  std::memcpy(row, m, static_cast<size_t>(words) * 4);
  // The key, and the content unless an equal one is cached already (then the entry shares it).
  const size_t key_bytes = state.threads.size() * sizeof(Thread) + 64;
  const size_t content_bytes = static_cast<size_t>(words) * 4 + 64;
  if (key_bytes + content_bytes > mask_cache_budget) return true;
  const size_t content_hash = fsm::hash_words(*mask);
  Shard& cs = shards_[shard_of(content_hash)];
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::shared_ptr<const std::vector<uint32_t>> bits;
    {
      std::lock_guard<std::mutex> lock(cs.mu);
      auto it = cs.mask_bits.find(content_hash);
      if (it != cs.mask_bits.end() && *it->second == *mask) {
        bits = it->second;
      } else if (reserve_bytes(mask_cache_bytes, content_bytes, mask_cache_budget)) {
        bits = mask;  // a new content (or one whose hash another holds: cached unshared)
        if (it == cs.mask_bits.end()) cs.mask_bits.emplace(content_hash, mask);
      }
    }
    if (bits) {
      // A clear between the two locks drops the content from the table and its bytes from the
      // count; the entry then holds it uncounted (at most one content per racing thread).
      std::lock_guard<std::mutex> lock(sh.mu);
      if (sh.masks.count(state.threads)) return true;
      if (reserve_bytes(mask_cache_bytes, key_bytes, mask_cache_budget)) {
        sh.masks.emplace(state.threads, std::move(bits));
        return true;
      }
    }
    clear_caches(true);
  }
  return true;
}

CfgGrammar::Generation::Sparse CfgGrammar::Generation::sparse_mask(const fsm::Threads& threads, uint32_t* row,
                                                                   bool cached_only) const {
  // The pieces first (looked up, or computed), then the writing.
  thread_local std::vector<const IndexEntry*> entries;
  thread_local std::vector<std::shared_ptr<const BoundaryTokens>> boundaries;
  entries.clear();
  for (const Thread& t : threads) {
    if (t.guard != 0) return Sparse::kNotSparse;
    const Slot* sl = g.slots(t.lexeme)[t.state].load(std::memory_order_acquire);
    if (!sl) {
      if (cached_only) return Sparse::kNotSparse;  // unknown: the cached join may still hold it
      sl = &slot(t.lexeme, t.state);
    }
    if (sl->entry->dense) return Sparse::kNotSparse;
    entries.push_back(sl->entry.get());
  }
  boundaries.clear();
  for (const Thread& t : threads) {
    bool missing = false;
    boundaries.push_back(boundary_tokens(t, cached_only ? &missing : nullptr));
    if (missing) {
      boundaries.clear();
      return Sparse::kMissing;
    }
  }
  std::memset(row, 0, static_cast<size_t>(words) * 4);
  for (const IndexEntry* e : entries)
    for (int32_t id : e->ids) set_bit(row, id);
  for (const auto& b : boundaries)
    if (b) b->for_each([&](int32_t id) { set_bit(row, id); });
  boundaries.clear();  // the lists are held by the caches; not past the call
  return Sparse::kDone;
}

void CfgGrammar::Generation::fill_mask_slow(const ParserState& state, uint32_t* row, bool strip_space) const {
  std::memset(row, 0, static_cast<size_t>(words) * 4);
  const fsm::TokenTrie& trie = tokenizer->trie();
  std::vector<ParserState> stack(trie.max_depth() + 2);
  stack[0] = state;
  fsm::walk_trie(trie, 0, stack.data(),
                 [&](uint32_t, const fsm::TrieNode& n, const ParserState& parent, ParserState& child) {
                   if (strip_space && n.depth == 1 && n.byte == ' ') child = parent;
                   else if (!rt->step(parent, n.byte, child)) return false;
                   trie.for_each_token(n, [&](int32_t id) { set_bit(row, id); });
                   return true;
                 });
}

void CfgGrammar::reserve_caches() {
  // Byte classes common to every lexeme DFA: bytes in one class step every configuration alike.
  // Lexemes built on first use: the partition read from their regexes (each DFA is checked
  // against it as it is built).
  if (const auto* part = rt->automata().byte_partition(); part && rt->automata().num_built() < rt->num_lexemes()) {
    walk_class_ = *part;
    walk_classes_ = rt->automata().byte_partition_classes();
  } else {
    // The common refinement of every DFA's byte classes, one lexeme at a time: a byte's class and
    // its class in the next DFA name its new class, numbered in the order bytes first show them
    // (the order a signature per byte of all its classes gave, which cost 256 vectors of one class
    // per lexeme and their map: a sixth to a quarter of a median maskbench-dev compile).
    walk_class_.fill(0);
    uint32_t k = 1;
    std::vector<int16_t> renumber;
    for (size_t l = 0; l < rt->num_lexemes() && k < 256; ++l) {
      const fsm::LexDfa& d = rt->dfa(static_cast<uint32_t>(l));
      renumber.assign(size_t{k} * d.num_classes, -1);
      uint32_t next = 0;
      for (int b = 0; b < 256; ++b) {
        int16_t& to = renumber[size_t{walk_class_[b]} * d.num_classes + d.classes[b]];
        if (to < 0) to = static_cast<int16_t>(next++);
        walk_class_[b] = static_cast<uint8_t>(to);
      }
      k = next;
    }
    walk_classes_ = k;
  }
  // Per class of each of the tokenizer's class tries, one byte of each walk class among its
  // bytes: a class whose bytes are all in one walk class steps every configuration alike;
  // otherwise its bytes are stepped apart (WalkDfa::class_step).
  for (int which = 0; which < kClassTries; ++which) {
    const fsm::ClassTrie& ct = class_trie(which);
    auto& reps = class_reps_[which];
    reps.assign(ct.empty() ? 0 : ct.num_classes(), {});
    auto& order = class_order_[which];
    order.resize(reps.size());
    std::iota(order.begin(), order.end(), uint8_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](uint8_t a, uint8_t b) { return ct.bytes_of(a).size() > ct.bytes_of(b).size(); });
    for (uint32_t c = 0; c < reps.size(); ++c) {
      std::array<bool, 256> seen{};
      for (uint8_t b : ct.bytes_of(c))
        if (!seen[walk_class_[b]]) {
          seen[walk_class_[b]] = true;
          reps[c].push_back(b);
        }
    }
  }
}

const fsm::ClassTrie& CfgGrammar::class_trie(int which) const {
  return tokenizer->string_class_trie(which);
}

// ---- Generations ------------------------------------------------------------------------------

CfgGrammar::Generation::Generation(const CfgGrammar& grammar, std::shared_ptr<fsm::CfgRuntime> runtime)
    : g(grammar),
      rt(std::move(runtime)),
      initial(rt->initial()),
      tokenizer(grammar.tokenizer),
      words(grammar.words),
      context_depth(grammar.context_depth),
      mask_cache_budget(grammar.mask_cache_budget),
      cache_budget(grammar.cache_budget),
      walk_budget(grammar.walk_budget) {
  // The hash tables start small: reserving them for a long session (a million buckets, 6 MiB
  // zeroed) cost more than the rest of a small schema's compile. They double as they fill; the
  // Earley graph's memo tables too (64 slots each, fsm/atomic_memo.hpp).
  for (Shard& sh : shards_) {
    sh.boundary.reserve(kInitialEntries / kShards);
    sh.local.reserve(kInitialEntries / kShards);
    sh.masks.reserve(kInitialEntries / kShards);
  }
}

CfgGrammar::Generation::~Generation() {
  if (cfg_debug_enabled())
    fprintf(stderr, "Earley generation freed: %zu nodes, %zu bytes\n", rt->graph().size(), memory_bytes());
}

size_t CfgGrammar::Generation::num_cached_masks() const {
  size_t n = 0;
  for (Shard& sh : shards_) {
    std::lock_guard<std::mutex> lock(sh.mu);
    n += sh.masks.size();
  }
  return n;
}

size_t CfgGrammar::Generation::walk_bytes() const {
  std::lock_guard<std::mutex> walk_lock(walk_mu_);
  return walk_ ? walk_->bytes() : 0;
}

size_t CfgGrammar::Generation::memory_bytes() const {
  return rt->generation_bytes() + mask_cache_bytes.load() + cache_bytes.load() + walk_bytes();
}

const CfgLengthBudget& CfgGrammar::Generation::length_budget() const {
  std::call_once(budget_once_, [&] { budget_ = std::make_shared<const CfgLengthBudget>(g, *rt); });
  return *budget_;
}

std::shared_ptr<CfgGrammar::Generation> CfgGrammar::lease() const {
  std::lock_guard<std::mutex> lock(gen_mu_);
  if (current_ && (generation_budget == 0 || current_->memory_bytes() <= generation_budget)) return current_;
  // The first generation, or the current one has passed its budget: new sequences start afresh,
  // and the old generation goes with its last matcher.
  if (current_ && cfg_debug_enabled())
    fprintf(stderr, "Earley generation %zu retired at %zu bytes\n", generations_, current_->memory_bytes());
  current_ = std::make_shared<Generation>(*this, std::shared_ptr<fsm::CfgRuntime>(rt->next_generation()));
  ++generations_;
  gens_.erase(std::remove_if(gens_.begin(), gens_.end(), [](const auto& w) { return w.expired(); }), gens_.end());
  gens_.push_back(current_);
  return current_;
}

std::shared_ptr<CfgGrammar::Generation> CfgGrammar::base_generation() const {
  std::lock_guard<std::mutex> lock(gen_mu_);
  if (!base_) base_ = std::make_shared<Generation>(*this, rt);
  return base_;
}

std::vector<std::shared_ptr<CfgGrammar::Generation>> CfgGrammar::live_generations() const {
  std::vector<std::shared_ptr<Generation>> out;
  std::lock_guard<std::mutex> lock(gen_mu_);
  if (base_) out.push_back(base_);
  for (const auto& w : gens_)
    if (auto sp = w.lock()) out.push_back(std::move(sp));
  return out;  // released after the lock: a generation whose last holder this was is freed outside it
}

size_t CfgGrammar::num_generations() const {
  std::lock_guard<std::mutex> lock(gen_mu_);
  return generations_;
}

size_t CfgGrammar::num_live_generations() const {
  size_t n = 0;
  for (const auto& gen : live_generations()) n += gen != base_;
  return n;
}

size_t CfgGrammar::earley_bytes() const {
  size_t b = 0;
  for (const auto& gen : live_generations())
    if (gen->rt != rt) b += gen->rt->generation_bytes();
  return b;
}

size_t CfgGrammar::generations_bytes() const {
  size_t b = 0;
  for (const auto& gen : live_generations())
    if (gen->rt != rt) b += gen->memory_bytes();
  return b;
}

void CfgGrammar::fill_mask(const fsm::ParserState& state, uint32_t* row) const {
  base_generation()->fill_mask(state, row);
}

void CfgGrammar::fill_mask_slow(const fsm::ParserState& state, uint32_t* row, bool strip_space) const {
  base_generation()->fill_mask_slow(state, row, strip_space);
}

size_t CfgGrammar::num_cached_masks() const {
  size_t n = 0;
  for (const auto& gen : live_generations()) n += gen->num_cached_masks();
  return n;
}

size_t CfgGrammar::cache_bytes() const {
  size_t n = 0;
  for (const auto& gen : live_generations()) n += gen->cache_bytes.load();
  return n;
}

size_t CfgGrammar::mask_cache_bytes() const {
  size_t n = 0;
  for (const auto& gen : live_generations()) n += gen->mask_cache_bytes.load();
  return n;
}

size_t CfgGrammar::walk_bytes() const {
  size_t n = 0;
  for (const auto& gen : live_generations()) n += gen->walk_bytes();
  return n;
}

size_t CfgGrammar::memory_bytes() const {
  // rt: the automata and its own graph (the base generation's graph is rt's).
  size_t b = rt->memory_bytes() + index_bytes();
  for (const auto& gen : live_generations()) b += gen->memory_bytes() - (gen->rt == rt ? rt->generation_bytes() : 0);
  return b;
}

namespace {

struct Step {
  ParserState state;
  bool at_start;
  bool terminated;
  // The uniqueItems tracker after this step (null when the grammar has no unique arrays).
  std::shared_ptr<const UniqueTracker> unique;
};

class CfgMatcher final : public Matcher::Impl {
 public:
  CfgMatcher(CompiledGrammarPtr self, const CfgGrammar& g, int max_rollback)
      : self_(std::move(self)), g_(g), history_(max_rollback) {
    reset();
  }
  // A fork shares the generation lease (and the history, copy-on-write).
  std::unique_ptr<Matcher::Impl> clone() const override { return std::make_unique<CfgMatcher>(*this); }

  void fill_next_token_bitmask(int32_t* row) const override { fill(row, false); }
  bool fill_next_token_bitmask_cached(int32_t* row) const override { return fill(row, true); }

  bool accept_token(int32_t id) override {
    const Step& cur = history_.back();
    if (cur.terminated) return false;
    const TokenizerInfo& tok = *g_.tokenizer;
    if (id < 0 || id >= tok.vocab_size()) return false;
    if (tok.is_eos(id)) {
      if (!cur.state.accepting) return false;
      push({cur.state, false, true, cur.unique});
      return true;
    }
    if (tok.is_special(id)) return false;
    std::string_view bytes = tok.token_bytes(id);
    if (bytes.empty()) return false;
    if (cur.at_start && g_.strip_first_space && bytes.front() == ' ') bytes.remove_prefix(1);
    return advance(bytes);
  }

  bool accept_bytes(std::string_view bytes) override {
    if (history_.back().terminated) return false;
    return advance(bytes);
  }

  void rollback(int n) override { history_.rollback(n); }

  // A new sequence: the current generation (a fresh one once the last passed its budget). The
  // history holds only this generation's configurations, so rollback never crosses generations.
  void reset() override {
    gen_ = g_.lease();
    std::shared_ptr<const UniqueTracker> t;
    if (g_.unique_plan) t = std::make_shared<const UniqueTracker>(g_.unique_plan.get());
    history_.reset({gen_->initial, true, false, std::move(t)});
  }

  bool is_accepting() const override { return history_.back().terminated || history_.back().state.accepting; }
  bool is_terminated() const override { return history_.back().terminated; }
  std::string jump_forward() const override {
    const Step& cur = history_.back();
    if (cur.terminated) return {};
    return gen_->rt->forced_bytes(cur.state);
  }
  int num_accepted() const override { return history_.num_accepted(); }
  const CompiledGrammar& grammar() const override { return *self_; }
  uint32_t shortest_completion() const override {
    const Step& cur = history_.back();
    return cur.terminated ? 0 : gen_->length_budget().shortest(cur.state);
  }
  void apply_length_budget(uint32_t* row, uint32_t max_after) const override {
    const Step& cur = history_.back();
    if (!cur.terminated) gen_->length_budget().filter(cur.state, cur.at_start && g_.strip_first_space, row, max_after);
  }

 private:
  bool advance(std::string_view bytes) {
    ParserState a = history_.back().state, b;
    for (unsigned char c : bytes) {
      if (!gen_->rt->step(a, c, b)) return false;
      std::swap(a, b);
    }
    std::shared_ptr<const UniqueTracker> t = history_.back().unique;
    if (t) {
      auto next = std::make_shared<UniqueTracker>(*t);
      if (!next->feed(bytes) || !next->alive(accepts_from(a))) return false;
      t = std::move(next);
    }
    push({std::move(a), history_.back().at_start && bytes.empty(), false, std::move(t)});
    return true;
  }
  // Whether the grammar takes `more` from parser state `s` (a live prefix): the tracker's question.
  std::function<bool(std::string_view)> accepts_from(const ParserState& s) const {
    return [this, &s](std::string_view more) {
      ParserState q = s;
      return gen_->rt->feed(q, more);
    };
  }
  // Clears from a filled row the tokens that complete an item equal to an earlier item of an open
  // unique array, that leave an item no value that repeats none, or that close an object without a
  // key it requires (UniqueTracker). Only tokens that can do any of these are tried: inside a
  // string of open items, those with a '"'; with no unique array open, those with a '}'.
  void filter_unique(const Step& cur, uint32_t* r) const {
    const UniqueTracker& t = *cur.unique;
    const TokenizerInfo& tok = *g_.tokenizer;
    // a scratch copy, made for the first token tried and assigned again per token (its buffers are reused)
    std::optional<UniqueTracker> scratch;
    bool fresh = true;
    auto keeps = [&](int32_t id) {
      std::string_view bytes = tok.token_bytes(id);
      if (!scratch) scratch.emplace(t);
      else if (!fresh) *scratch = t;
      fresh = false;
      UniqueTracker& x = *scratch;
      if (!x.feed(bytes)) return false;
      if (!x.may_be_dead()) return true;
      // the parser state after the token, computed when alive() first asks the grammar
      std::optional<ParserState> after;
      bool live = true;
      return x.alive([&](std::string_view more) {
        if (!after) {
          after = cur.state;
          live = gen_->rt->feed(*after, bytes);
        }
        ParserState q = *after;
        return live && gen_->rt->feed(q, more);
      });
    };
    auto allowed = [&](int32_t id) { return (r[id >> 5] >> (id & 31) & 1u) != 0; };
    auto test = [&](int32_t id) {
      if (allowed(id) && !keeps(id)) clear_bit(r, id);
    };
    using JT = TokenizerInfo::JsonTokens;
    if (!t.active()) {
      // a token that opens an object that requires keys, and closes it (or, where the layout commits
      // early, leaves it after a value)
      if (t.layout_commits()) {
        for (int32_t id : tok.json_token_ids(JT::kOpen)) test(id);
        return;
      }
      for (int32_t id : tok.json_token_ids(JT::kOpenClose))
        if (allowed(id) && t.may_close_lacking(tok.token_bytes(id))) test(id);
      return;
    }
    if (t.only_braces()) {
      // no unique array open: only an object lacking a required key refuses, at its '}' (where the
      // layout commits early, also in the gap after a value: a string is left with a '"'; outside
      // strings every token is tried)
      if (!t.layout_commits()) {
        // tried in full (a copy of the tracker) only where nesting says the token may close such an object
        for (int32_t id : g_.brace_token_ids(t.in_string()))
          if (allowed(id) && t.may_close_lacking(tok.token_bytes(id))) test(id);
        return;
      }
      if (t.in_string()) {
        for (int32_t id : g_.quote_token_ids()) test(id);
        return;
      }
    }
    if (t.quote_tokens_suffice()) {
      for (int32_t id : g_.quote_token_ids()) test(id);
      return;
    }
    for (int32_t w = 0; w < g_.words; ++w)
      for (uint32_t bits = r[w]; bits; bits &= bits - 1) {
        int32_t id = w * 32 + __builtin_ctz(bits);
        if (id < tok.vocab_size() && !tok.is_eos(id) && !tok.is_special(id)) test(id);
      }
  }
  void push(Step s) { history_.push(std::move(s)); }
  // cached_only: see Matcher::Impl::fill_next_token_bitmask_cached (the first step's mask, the
  // leading space stripped, is computed by a trie walk every time).
  bool fill(int32_t* row, bool cached_only) const {
    const auto t0 = cfg_debug_now();
    const bool done = fill_row(row, cached_only);
    if (cfg_debug_enabled()) {
      const double us = cfg_debug_elapsed_us(t0);
      if (us > cfg_debug_threshold_us(1000)) fprintf(stderr, "fill %.0f µs%s\n", us, done ? "" : " (not cached)");
    }
    return done;
  }
  bool fill_row(int32_t* row, bool cached_only) const {
    const Step& cur = history_.back();
    uint32_t* r = reinterpret_cast<uint32_t*>(row);
    if (cur.terminated) {
      std::memset(r, 0, static_cast<size_t>(g_.words) * 4);
      return true;
    }
    // inside a unique array or an object that lacks required keys the row is filtered per step:
    // never "cached"; with a plan of required keys, the few tokens that open and close an object
    // are tried always
    const bool filtered = cur.unique && cur.unique->active();
    const bool unique = filtered || (cur.unique && cur.unique->pairs_matter());
    if (filtered && cached_only) return false;
    if (cur.at_start && g_.strip_first_space) {
      if (cached_only) return false;
      gen_->fill_mask_slow(cur.state, r, true);
    } else if (!gen_->fill_mask(cur.state, r, cached_only)) {
      return false;
    }
    if (unique) {
      const auto t0 = cfg_debug_now();
      filter_unique(cur, r);
      if (cfg_debug_enabled()) {
        const double us = cfg_debug_elapsed_us(t0);
        if (us > cfg_debug_threshold_us(200)) fprintf(stderr, "unique filter %.0f µs\n", us);
      }
    }
    if (cur.state.accepting)
      for (int32_t eos : g_.tokenizer->eos_ids()) set_bit(r, eos);
    return true;
  }

  CompiledGrammarPtr self_;
  const CfgGrammar& g_;
  std::shared_ptr<CfgGrammar::Generation> gen_;  // declared before the history: destroyed after it
  StepHistory<Step> history_;
};

}  // namespace

std::unique_ptr<Matcher::Impl> CfgGrammar::make_matcher(CompiledGrammarPtr self, int max_rollback) const {
  return std::make_unique<CfgMatcher>(std::move(self), *this, max_rollback);
}

// ---- The lazy token index --------------------------------------------------------------------

namespace {

// States reachable from a state beyond which its canonical form is not built (the state is then
// indexed for itself): bounds the key's cost, which grows with the reachable automaton. The
// futures shared in practice are small (a string's inside, a number's digits, a value's tail);
// measured on every 10th maskbench-dev schema (worker instructions, callgrind): 24 states
// 18.80G, 64 18.63G, 160 18.69G, 512 18.84G.
constexpr uint32_t kMaxKeyStates = 64;
// A class walk's exceptions are put in node order by std::sort below this many, else by a radix sort.
constexpr size_t kSortedExceptions = 2048;
// difference_entry walks at most this many trie nodes (Llama-3: those of the tokens of 20 bytes or
// more), else the class walk.
constexpr size_t kMaxDifferenceNodes = 10000;
// Lexemes mapped onto the plain string's automaton (reference_distances) have at most this many states.
constexpr uint32_t kMaxReferenceStates = 8192;
// The byte an entry is split at (not for leftmost-first lexemes): the tokens without it, walked
// on the lexeme's automaton without its kCut transitions (the same for every state whose
// automaton without them is the same, e.g. the inside of every free JSON string: computed once
// per grammar under that canonical key, and once per Compiler through the IndexCache), and the
// few tokens with it (Llama-3: 1,345), walked per state on the quote trie (2,110 nodes).
constexpr uint32_t kCut = '"';

// Which state reads one byte alone next (a key's or a literal's rest, one byte at a time): per byte
// class of an automaton, its byte when the class holds one byte alone (else -1), and the one byte a
// state moves on. Read by spelling (a lexeme that spells one string), walk_entry (a state whose
// future is one string) and literal_run_entry (a state on a run no token gets past).
class SingleBytes {
 public:
  explicit SingleBytes(const fsm::LexDfa& d) : d_(d) {
    byte_.fill(-2);  // (-2: no byte yet)
    for (int b = 0; b < 256; ++b) {
      int16_t& x = byte_[d.classes[b]];
      x = x == -2 ? static_cast<int16_t>(b) : int16_t{-1};
    }
  }
  // The one byte `s` moves on, `skip` (a byte alone in its class) aside: -1 when none, -2 when more
  // than one (or a class of several bytes).
  int only(uint32_t s, int skip = -1) const {
    int found = -1;
    const uint32_t* row = &d_.table[static_cast<size_t>(s) * d_.num_classes];
    for (uint32_t c = 0; c < d_.num_classes; ++c) {
      if (row[c] == fsm::kDead || (skip >= 0 && byte_[c] == skip)) continue;
      if (found >= 0 || byte_[c] < 0) return -2;
      found = byte_[c];
    }
    return found;
  }

 private:
  const fsm::LexDfa& d_;
  std::array<int16_t, 256> byte_;
};

}  // namespace

namespace {

// The walk-equivalent blocks of `d`'s states with kCut taking no transition (part_blocks), by
// partition refinement.
std::vector<uint32_t> cutless_walk_blocks(const fsm::LexDfa& d) {
  const size_t n = d.num_states(), k = d.num_classes;
  std::array<uint8_t, 256> classes = d.classes;
  classes[kCut] = static_cast<uint8_t>(k);  // a class of its own, with no transition
  // A class no byte is in any more (kCut's, when it was alone) keeps no transition either: the
  // refinement reads every column.
  std::vector<uint8_t> used(k + 1, 0);
  for (int b = 0; b < 256; ++b) used[classes[b]] = 1;
  std::vector<uint32_t> table(n * (k + 1), fsm::kDead);
  for (size_t q = 0; q < n; ++q)
    for (size_t c = 0; c < k; ++c)
      if (used[c]) table[q * (k + 1) + c] = d.table[q * k + c];
  return fsm::walk_equivalent_states(fsm::Dfa(d.start, classes, k + 1, std::move(table), d.finals));
}

// The lexeme of any JSON string ('"', any code points as JSON writes them, '"') and its states'
// cutless walk blocks, built once per process: the reference part_blocks maps a key lexeme onto.
struct StringReference {
  fsm::LexDfa dfa;
  std::vector<uint32_t> blocks;
};

const StringReference* string_reference() {
  static const std::unique_ptr<const StringReference> ref = []() -> std::unique_ptr<const StringReference> {
    try {
      fsm::BudgetScope unbudgeted(nullptr);  // small, and built once: never a compile's budget
      using grammar::Regex;
      const grammar::RegexPtr any =
          Regex::repeat(Regex::chars_of(grammar::CharSet::any()), 0, grammar::kUnbounded);
      const grammar::RegexPtr r = Regex::concat({Regex::literal("\""), Regex::json_string(any), Regex::literal("\"")});
      auto out = std::make_unique<StringReference>();
      out->dfa = fsm::LexDfa::from(fsm::compile_dfa(*r));
      if (out->dfa.num_classes >= 256) return nullptr;
      out->blocks = cutless_walk_blocks(out->dfa);
      return out;
    } catch (const Error&) {
      return nullptr;  // the refinement then serves every lexeme
    }
  }();
  return ref.get();
}

// The pairs of classes the bytes but kCut fall in, `d`'s and `r`'s (d's class << 8 | r's): reading
// two automata side by side, each pair is one question per pair of states.
std::vector<uint32_t> class_pairs(const fsm::LexDfa& d, const fsm::LexDfa& r) {
  std::vector<uint32_t> pairs;
  std::vector<uint8_t> seen(size_t{d.num_classes} * r.num_classes, 0);
  for (int b = 0; b < 256; ++b) {
    if (b == static_cast<int>(kCut)) continue;
    uint8_t& met = seen[size_t{d.classes[b]} * r.num_classes + r.classes[b]];
    if (!met) pairs.push_back(uint32_t{d.classes[b]} << 8 | r.classes[b]);
    met = 1;
  }
  return pairs;
}

// cutless_walk_blocks of `d` read off the reference, or empty where that cannot be shown. `d`
// is mapped onto the reference's states by reading the same bytes from both starts; where every
// state of `d` has one image, the same finality, and, on every byte but kCut, dies with its image
// or steps to the image of where the image steps, the map is a bisimulation of the two cutless
// automata: a state's walks are its image's, so its block is its image's block. A key lexeme of
// an object with named properties and others allowed ('"', any string but the names, '"') passes:
// without kCut the names tell nothing apart (only where a quote may close); so does a string that
// must end in some way. A key that must also match a pattern, or a lexeme going on after its
// quote, does not (part_blocks then refines it if it has a complement): the check decides, not
// the lexeme's form.
std::vector<uint32_t> blocks_by_reference(const fsm::LexDfa& d, const StringReference& ref) {
  const fsm::LexDfa& r = ref.dfa;
  const uint32_t n = d.num_states(), kd = d.num_classes, kr = r.num_classes;
  const std::vector<uint32_t> pairs = class_pairs(d, r);
  const uint32_t cut_d = d.classes[kCut], cut_r = r.classes[kCut];
  std::vector<uint32_t> image(n, UINT32_MAX);
  std::vector<uint32_t> order;  // the states mapped, in the order met
  order.reserve(n);
  auto map = [&](uint32_t q, uint32_t to) {
    if (image[q] == UINT32_MAX) {
      image[q] = to;
      order.push_back(q);
      return true;
    }
    return image[q] == to;
  };
  map(d.start, r.start);
  // LexDfa's start is a clone of the automaton's start, which nothing may lead back to: a state
  // not reached, with the start's row and finality, is mapped as the start (and checked so).
  for (size_t i = 0;; ++i) {
    if (i == order.size()) {
      const uint32_t* start_row = &d.table[size_t{d.start} * kd];
      for (uint32_t q = 0; q < n; ++q)
        if (image[q] == UINT32_MAX && d.finals[q] == d.finals[d.start] &&
            std::equal(start_row, start_row + kd, &d.table[size_t{q} * kd]))
          map(q, r.start);
      if (i == order.size()) break;
    }
    const uint32_t q = order[i], s = image[q];
    if (d.is_final(q) != r.is_final(s)) return {};
    const uint32_t* dq = &d.table[size_t{q} * kd];
    const uint32_t* rs = &r.table[size_t{s} * kr];
    for (uint32_t p : pairs) {
      const uint32_t a = dq[p >> 8], b = rs[p & 0xFF];
      if ((a == fsm::kDead) != (b == fsm::kDead)) return {};
      if (a != fsm::kDead && !map(a, b)) return {};
    }
    // kCut is not read by the cutless automata: followed only to reach and map what lies past it.
    if (const uint32_t a = dq[cut_d]; a != fsm::kDead && (rs[cut_r] == fsm::kDead || !map(a, rs[cut_r]))) return {};
  }
  if (order.size() != n) return {};
  // The reference's block numbers, renumbered densely in the order met (under n, as the
  // refinement's are).
  std::vector<uint32_t> renumber(r.num_states() + 1, UINT32_MAX), blocks(n);
  uint32_t next = 0;
  for (uint32_t q = 0; q < n; ++q) {
    uint32_t& b = renumber[ref.blocks[image[q]]];
    if (b == UINT32_MAX) b = next++;
    blocks[q] = b;
  }
  return blocks;
}

}  // namespace

// A lexeme's states mapped onto the plain string's (StringReference) by reading the same bytes
// from both starts, and per state mapped how soon a walk without kCut tells it from its image: the
// fewest bytes after which one of the two is dead and the other not, or their finality differs
// (kNever: no string does). A string of at most 256 code points, after 10 of them, cannot be told
// from any string before 247 more bytes: every token a trie walk meets below a state is its
// image's (difference_entry). map_onto_reference gives an empty image when some state has two, or
// many are told apart at once.
struct ReferenceDistances {
  static constexpr uint16_t kNever = UINT16_MAX;
  std::vector<uint32_t> image;  // per state: the reference's state, or UINT32_MAX (not reached)
  std::vector<uint16_t> dist;   // per state mapped
};

namespace {

ReferenceDistances map_onto_reference(const fsm::LexDfa& d, const StringReference& ref) {
  const fsm::LexDfa& r = ref.dfa;
  const uint32_t n = d.num_states(), kd = d.num_classes, kr = r.num_classes;
  const std::vector<uint32_t> pairs = class_pairs(d, r);
  ReferenceDistances out;
  out.image.assign(n, UINT32_MAX);
  std::vector<uint32_t> order{d.start};
  out.image[d.start] = r.start;
  // Successors of each state mapped (both alive), for the backward search.
  std::vector<uint32_t> succ_at{0}, succ;
  out.dist.assign(n, ReferenceDistances::kNever);
  // A lexeme whose states are told apart from their images at once, many of them (a date, a
  // pattern's letters: difference_entry would fall back for every state) is given up early.
  uint32_t at_once = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const uint32_t q = order[i], s = out.image[q];
    const uint32_t* dq = &d.table[size_t{q} * kd];
    const uint32_t* rs = &r.table[size_t{s} * kr];
    uint16_t& dist = out.dist[q];
    if (i > 0 && out.dist[order[i - 1]] <= 1 && ++at_once > 8 + i / 4) return {};
    if (d.is_final(q) != r.is_final(s)) dist = 0;
    for (uint32_t p : pairs) {
      const uint32_t a = dq[p >> 8], b = rs[p & 0xFF];
      if ((a == fsm::kDead) != (b == fsm::kDead)) {
        dist = std::min<uint16_t>(dist, 1);
        continue;
      }
      if (a == fsm::kDead) continue;
      if (out.image[a] == UINT32_MAX) {
        out.image[a] = b;
        order.push_back(a);
      } else if (out.image[a] != b) {
        return {};
      }
      // (most classes lead one way: a state has a few successors)
      if (std::find(succ.begin() + succ_at.back(), succ.end(), a) == succ.end()) succ.push_back(a);
    }
    succ_at.push_back(static_cast<uint32_t>(succ.size()));
    // kCut is not read by the walks compared: followed only to map what lies past it (the inside
    // of a string past its opening quote), and a state it leads to with another image keeps its
    // first.
    if (const uint32_t a = dq[d.classes[kCut]], b = rs[r.classes[kCut]];
        a != fsm::kDead && b != fsm::kDead && out.image[a] == UINT32_MAX) {
      out.image[a] = b;
      order.push_back(a);
    }
  }
  // Backward breadth-first from the states told apart at once: dist = 1 + the least of the
  // successors'. Predecessor lists by state from the successor lists.
  std::vector<uint32_t> pred_at(size_t{n} + 1, 0), pred(succ.size());
  for (uint32_t a : succ) ++pred_at[a + 1];
  for (size_t k = 1; k < pred_at.size(); ++k) pred_at[k] += pred_at[k - 1];
  {
    std::vector<uint32_t> fill(pred_at.begin(), pred_at.end() - 1);
    for (uint32_t i = 0; i < order.size(); ++i)
      for (uint32_t k = succ_at[i]; k < succ_at[i + 1]; ++k) pred[fill[succ[k]]++] = order[i];
  }
  std::vector<uint32_t> queue;
  for (uint16_t want : {uint16_t{0}, uint16_t{1}})
    for (uint32_t q : order)
      if (out.dist[q] == want) queue.push_back(q);
  for (size_t i = 0; i < queue.size(); ++i) {
    const uint32_t a = queue[i];
    const uint16_t next = static_cast<uint16_t>(std::min<uint32_t>(out.dist[a] + 1u, ReferenceDistances::kNever - 1u));
    for (uint32_t k = pred_at[a]; k < pred_at[a + 1]; ++k) {
      uint16_t& dq = out.dist[pred[k]];
      if (dq > next) {
        dq = next;
        queue.push_back(pred[k]);
      }
    }
  }
  return out;
}

// Whether a complement is among the regex's nodes (sub-regexes are shared: each node once).
bool has_complement(const grammar::Regex* root) {
  std::vector<const grammar::Regex*> stack{root};
  std::unordered_set<const grammar::Regex*> seen;
  while (!stack.empty()) {
    const grammar::Regex* r = stack.back();
    stack.pop_back();
    if (!r || !seen.insert(r).second) continue;
    if (r->kind == grammar::Regex::Kind::kComplement) return true;
    for (const auto& it : r->items) stack.push_back(it.get());
  }
  return false;
}

}  // namespace

const std::vector<uint32_t>* CfgGrammar::part_blocks(uint32_t lexeme) const {
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    auto it = part_blocks_.find(lexeme);
    if (it != part_blocks_.end()) return it->second.get();
  }
  std::unique_ptr<const std::vector<uint32_t>> blocks;
  // (with all 256 byte classes in use, kCut cannot have one of its own: not shared, as before)
  if (rt->dfa(lexeme).num_classes < 256) {
    const fsm::LexDfa& d = rt->dfa(lexeme);
    // Read off the reference where it can be (a refinement was ~20 µs of a mask, 2,400 times in
    // a warm maskbench-dev run), else refined. Any lexeme the reference passes has blocks, not
    // only those with a complement: a pattern's string that must end in some way ("^.*_id$",
    // "^(.*)\\.(png|jpg)$") tracks that ending in states a walk without quotes does not tell
    // apart, each of them a walk of the vocabulary of its own until now. Without a complement,
    // a lexeme the reference fails keeps its states (the refinement is not worth it there).
    std::vector<uint32_t> b;
    if (const StringReference* ref = string_reference()) b = blocks_by_reference(d, *ref);
    if (!b.empty()) ++part_blocks_by_reference_;
    else if (has_complement(rt->cfg().lexemes[lexeme].get())) b = cutless_walk_blocks(d);
    if (!b.empty()) blocks = std::make_unique<const std::vector<uint32_t>>(std::move(b));
  }
  std::lock_guard<std::mutex> lock(index_mu_);
  auto [it, inserted] = part_blocks_.emplace(lexeme, std::move(blocks));
  if (inserted && it->second) index_bytes_ += it->second->size() * 4 + 64;
  return it->second.get();
}

namespace {

// ReferenceDistances of shared automata (fsm::LexemeDfaCache), process-wide, keyed by the
// automaton's address while it lives (watched, not held, as IndexCache::StateEntry), bounded in
// bytes: past the bound everything is dropped (grammars hold what they took). Negative answers
// too (a null map).
std::shared_ptr<const ReferenceDistances> shared_reference_distances(
    const std::shared_ptr<const fsm::LexDfa>& dfa, const std::function<std::shared_ptr<const ReferenceDistances>()>& compute) {
  struct Held {
    std::weak_ptr<const fsm::LexDfa> dfa;
    std::shared_ptr<const ReferenceDistances> map;
  };
  static constexpr size_t kMaxBytes = size_t(32) << 20;
  static std::mutex mu;
  static std::unordered_map<const fsm::LexDfa*, Held> held;
  static size_t bytes = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = held.find(dfa.get());
    if (it != held.end() && !it->second.dfa.expired()) return it->second.map;
  }
  std::shared_ptr<const ReferenceDistances> m = compute();  // outside the lock
  std::unordered_map<const fsm::LexDfa*, Held> dropped;   // freed after it
  std::lock_guard<std::mutex> lock(mu);
  const size_t own = 96 + (m ? m->image.size() * 6 : 0);
  if (bytes + own > kMaxBytes) {
    dropped.swap(held);
    bytes = 0;
  }
  auto [it, inserted] = held.try_emplace(dfa.get(), Held{dfa, m});
  if (inserted) bytes += own;
  else if (it->second.dfa.expired()) it->second = Held{dfa, m};  // another automaton at that address
  return m;
}

}  // namespace

const ReferenceDistances* CfgGrammar::reference_distances(uint32_t lexeme) const {
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    auto it = reference_distances_.find(lexeme);
    if (it != reference_distances_.end()) return it->second.get();
  }
  std::shared_ptr<const ReferenceDistances> m;
  const StringReference* ref = string_reference();
  // (~70 ns a state: a string of at most 255 code points, 3,574 states, 250 µs once per process;
  // past kMaxReferenceStates the map would be a mask of milliseconds of its own)
  const fsm::LexDfa& d = rt->dfa(lexeme);
  if (ref && d.num_classes < 256 && d.num_states() <= kMaxReferenceStates && !rt->leftmost_first(lexeme)) {
    auto compute = [&]() -> std::shared_ptr<const ReferenceDistances> {
      auto t0 = cfg_debug_now();
      ReferenceDistances x = map_onto_reference(d, *ref);
      if (cfg_debug_enabled()) {
        double us = cfg_debug_elapsed_us(t0);
        if (us > cfg_debug_threshold_us(100))
          fprintf(stderr, "reference map %.0f µs: lexeme %u, %u states, %s\n", us, lexeme, d.num_states(),
                  x.image.empty() ? "not mapped" : "mapped");
      }
      if (x.image.empty()) return nullptr;
      return std::make_shared<const ReferenceDistances>(std::move(x));
    };
    // An automaton other grammars share (a string of at most 255 code points recurs across
    // schemas) is mapped once per process.
    if (std::shared_ptr<const fsm::LexDfa> shared = rt->automata().shared_dfa(lexeme))
      m = shared_reference_distances(shared, compute);
    else
      m = compute();
  }
  std::lock_guard<std::mutex> lock(index_mu_);
  auto [it, inserted] = reference_distances_.emplace(lexeme, std::move(m));
  if (inserted && it->second) index_bytes_ += it->second->image.size() * 6 + 64;
  return it->second.get();
}

namespace {

// BFS from `state` over every byte but kCut, states numbered in visiting order (1, 2, ...; 0 is
// dead), byte order first; per state its finality, then its transitions as runs of bytes
// (first byte, target number), kCut always a run of its own that leads nowhere. With `blocks`
// (part_blocks), states of one block are one state (the first met stands for it). "" when over
// kMaxKeyStates.
std::string canonical_key_of(const fsm::LexDfa& d, const std::vector<uint32_t>* blocks, uint32_t state) {
  auto block = [&](uint32_t s) { return blocks ? (*blocks)[s] : s; };
  thread_local std::vector<uint32_t> num;
  thread_local std::vector<uint32_t> order;
  thread_local std::vector<std::pair<uint32_t, uint32_t>> runs;  // (first byte, class; UINT32_MAX: kCut)
  if (num.size() < d.num_states() + 1) num.resize(d.num_states() + 1, 0);
  runs.clear();
  for (uint32_t b = 0; b < 256; ++b) {
    const uint32_t c = b == kCut ? UINT32_MAX : d.classes[b];
    if (runs.empty() || runs.back().second != c) runs.emplace_back(b, c);
  }
  order.clear();
  order.push_back(state);
  num[block(state)] = 1;
  std::string key = "C";
  bool too_big = false;
  auto put32 = [&](uint32_t v) {
    while (v >= 0x80) {
      key.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    key.push_back(static_cast<char>(v));
  };
  for (size_t i = 0; i < order.size() && !too_big; ++i) {
    const uint32_t s = order[i];
    key.push_back(d.is_final(s) ? 'F' : 'N');
    const uint32_t* row = &d.table[static_cast<size_t>(s) * d.num_classes];
    uint32_t prev = UINT32_MAX;
    for (const auto& [b, c] : runs) {
      uint32_t id = 0;
      if (c != UINT32_MAX && row[c] != fsm::kDead) {
        const uint32_t t = row[c];
        const uint32_t bt = block(t);
        if (num[bt] == 0) {
          if (order.size() >= kMaxKeyStates) {
            too_big = true;
            break;
          }
          order.push_back(t);
          num[bt] = static_cast<uint32_t>(order.size());
        }
        id = num[bt];
      }
      if (id == prev) continue;
      key.push_back(static_cast<char>(b));
      put32(id);
      prev = id;
    }
  }
  for (uint32_t s : order) num[block(s)] = 0;
  if (too_big) key.clear();
  return key;
}

}  // namespace

std::string CfgGrammar::canonical_key(uint32_t lexeme, uint32_t state) const {
  const std::vector<uint32_t>* blocks = part_blocks(lexeme);
  // The states of one block have one key (same finality, same blocks after each byte): built once.
  const uint64_t block_key = (uint64_t{lexeme} << 32) | (blocks ? (*blocks)[state] : state);
  if (blocks) {
    std::lock_guard<std::mutex> lock(index_mu_);
    auto it = block_keys_.find(block_key);
    if (it != block_keys_.end()) return it->second;
  }
  std::string key = canonical_key_of(rt->dfa(lexeme), blocks, state);
  if (blocks) {
    std::lock_guard<std::mutex> lock(index_mu_);
    if (block_keys_.emplace(block_key, key).second) index_bytes_ += key.size() + 64;
  }
  return key;
}

void CfgGrammar::walk_past_cut(uint32_t l, uint32_t q, std::vector<int32_t>& ids, std::vector<uint32_t>& roots) const {
  const fsm::SubTrie& sub = tokenizer->quote_trie();
  const auto& full = tokenizer->trie().nodes();
  const fsm::LexDfa& d = rt->dfa(l);
  const bool last = rt->cfg().lexeme_last[l] != 0;
  thread_local std::vector<uint32_t> st;
  if (st.size() < sub.trie.max_depth() + 2) st.resize(sub.trie.max_depth() + 2);
  st[0] = q;
  fsm::walk_trie(sub.trie, 0, st.data(), [&](uint32_t i, const fsm::TrieNode& n, uint32_t parent, uint32_t& s) {
    s = d.next(parent, n.byte);
    if (s == fsm::kDead) return false;
    if (sub.past[i]) {
      sub.trie.for_each_token(n, [&](int32_t id) { ids.push_back(id); });
      const uint32_t b = sub.full_node[i];
      if (!last && d.is_final(s) && full[b].subtree_end > b + 1) roots.push_back(b);
    }
    // A state without a transition (a string's closing quote read) ends the walk: the hundreds of
    // nodes below a quote would each be stepped only to die.
    return d.live[s] != 0;
  });
  std::sort(ids.begin(), ids.end());
}

uint32_t CfgGrammar::root_child(uint8_t byte) const {
  std::call_once(root_child_once_, [&] {
    const auto& nodes = tokenizer->trie().nodes();
    for (uint32_t c = 1; c < nodes.size(); c = nodes[c].subtree_end) root_child_[nodes[c].byte] = c;
  });
  return root_child_[byte];
}

// Distinct trie nodes (of `universe`) sorted: many of them (a string's inside ends inside tens of
// thousands of tokens) by a bitset over the nodes, scanned once; a few by std::sort.
static void sort_trie_nodes(std::vector<uint32_t>& v, size_t universe) {
  if (v.size() < 2048) {
    std::sort(v.begin(), v.end());
    return;
  }
  thread_local std::vector<uint64_t> bits;
  const size_t words = (universe + 63) / 64;
  if (bits.size() < words) bits.assign(words, 0);
  for (uint32_t x : v) bits[x >> 6] |= uint64_t{1} << (x & 63);
  size_t k = 0;
  for (size_t w = 0; w < words; ++w) {
    for (uint64_t b = bits[w]; b; b &= b - 1) v[k++] = static_cast<uint32_t>(w * 64 + __builtin_ctzll(b));
    bits[w] = 0;
  }
  v.resize(k);
}

std::shared_ptr<const IndexEntry> CfgGrammar::walk_entry(uint32_t l, uint32_t q, bool cut) const {
  return walk_entry(rt->dfa(l), rt->leftmost_first(l), rt->cfg().lexeme_last[l] != 0, q, cut);
}

// lf: leftmost-first; last: nothing can follow the lexeme inside a token.
std::shared_ptr<const IndexEntry> CfgGrammar::walk_entry(const fsm::LexDfa& d, bool lf, bool last, uint32_t q,
                                                         bool cut) const {
  const fsm::TokenTrie& trie = tokenizer->trie();
  const auto& nodes = trie.nodes();
  auto e = std::make_shared<IndexEntry>();
  thread_local std::vector<uint32_t> st;
  if (st.size() < trie.max_depth() + 2) st.resize(trie.max_depth() + 2);
  st[0] = q;
  // Subtractive (class walk only): the mask starts as every token and a dead subtree is cleared,
  // for states that keep most of the vocabulary (the inside of a string), where setting ~100k
  // bits one by one was most of the walk. The mask is then `own`. Otherwise it is a thread's
  // scratch bitset, all zero between calls, whose words ever set are marked in `touched` (a bit
  // per word): most entries are a few hundred tokens, and zeroing, counting and scanning a whole
  // bitset for them (4,008 words for Llama-3) was most of their cost.
  bool subtract = false;
  thread_local std::vector<uint32_t> scratch, touched;
  if (scratch.size() < static_cast<size_t>(words)) {
    scratch.assign(words, 0u);
    touched.assign((words + 31) / 32, 0u);
  }
  // A walk that throws (a lexeme over budget, no memory) leaves the scratch zeroed for the next.
  struct ZeroOnThrow {
    bool done = false;
    ~ZeroOnThrow() {
      if (done) return;
      std::fill(scratch.begin(), scratch.end(), 0u);
      std::fill(touched.begin(), touched.end(), 0u);
    }
  } zero_on_throw;
  std::vector<uint32_t> own;
  uint32_t* mask = scratch.data();
  auto set_token = [&](int32_t id) {
    set_bit(mask, id);
    set_bit(touched.data(), id >> 5);
  };
  // Clears the tokens of nodes [from, to) of `t` (the byte trie, or the class trie).
  auto clear_range = [&](const fsm::TokenTrie& t, uint32_t from, uint32_t to) { clear_tokens(t, from, to, mask); };
  // Node i of the byte trie, reached in state s (not dead): its tokens (unless subtracting), and
  // whether the lexeme may end there with more bytes below (a root of the boundary walk).
  auto visit = [&](uint32_t i, const fsm::TrieNode& n, uint32_t s) {
    if (!subtract) trie.for_each_token(n, set_token);
    if (!last && d.is_final(s) && n.subtree_end > i + 1) {
      // Leftmost-first: the lexeme can end here only if the next byte does not extend its
      // match (the guard would fire); a root where every next byte does is no boundary.
      bool may_end = !lf || !d.live[s];
      for (uint32_t c = i + 1; !may_end && c < n.subtree_end; c = nodes[c].subtree_end) {
        uint32_t x = d.next(s, nodes[c].byte);
        may_end = x == fsm::kDead || !d.is_final(x);
      }
      if (may_end) {
        e->roots.push_back(i);
        if (lf) e->root_states.push_back(s);
      }
    }
  };
  auto step = [&](uint32_t i, const fsm::TrieNode& n, uint32_t parent, uint32_t& s) {
    s = cut && n.byte == kCut ? fsm::kDead : d.next(parent, n.byte);
    if (s == fsm::kDead) {
      if (subtract) clear_range(trie, i, n.subtree_end);
      return false;
    }
    visit(i, n, s);
    return true;
  };
  // The byte walk below node `root` (its state in st[its depth]): walk_trie with `step`, written
  // out for a lexeme that is not leftmost-first (the roots need no look at the children) with the
  // automaton's and the trie's arrays in locals. Through the lambdas every node reloaded them
  // (a store to the mask may alias them): 42 instructions a node, 31 so, where a whole-trie walk
  // (a regex class's inside in format "regex": each letter its own state) is 277k nodes.
  auto walk_below = [&](uint32_t root) {
    if (lf) {
      fsm::walk_trie(trie, root, st.data(), step);
      return;
    }
    const fsm::TrieNode* nd = nodes.data();
    const uint32_t* table = d.table.data();
    const uint8_t* byte_class = d.classes.data();
    const uint8_t* finals = d.finals.data();
    const int32_t* ids = trie.token_ids().data();
    const size_t width = d.num_classes;
    const unsigned cut_byte = cut ? kCut : 256u;  // no node's byte when there is no cut
    const bool roots = !last, sub = subtract;
    uint32_t* stack = st.data();
    uint32_t* m = mask;
    uint32_t* tw = touched.data();
    for (uint32_t i = root + 1, end = nd[root].subtree_end; i < end;) {
      const fsm::TrieNode& n = nd[i];
      const uint32_t s = n.byte == cut_byte ? fsm::kDead : table[stack[n.depth - 1] * width + byte_class[n.byte]];
      if (s == fsm::kDead) {
        if (sub) clear_range(trie, i, n.subtree_end);
        i = n.subtree_end;
        continue;
      }
      stack[n.depth] = s;
      if (!sub)
        for (uint32_t k = n.tokens_begin; k < n.tokens_end; ++k) {
          const int32_t id = ids[k];
          set_bit(m, id);
          set_bit(tw, id >> 5);
        }
      if (roots && finals[s] && n.subtree_end > i + 1) e->roots.push_back(i);
      ++i;
    }
  };
  // With a cut, the class trie needs kCut in a class of its own (every string class trie has it, in
  // the same class: these are read from the JSON-string one, whichever the walk takes below).
  const fsm::ClassTrie& json = class_trie(0);
  const uint32_t cut_class = cut && !json.empty() ? json.classes()[kCut] : UINT32_MAX;
  // The byte a state lives on when it lives on one byte alone (the next letter of a key or a
  // literal; kCut aside when cut): -1 when none lives, -2 when more than one.
  const SingleBytes single(d);
  auto only_byte = [&](uint32_t s) { return single.only(s, cut ? static_cast<int>(kCut) : -1); };
  // Whether the state's future is one string (a key's or a literal's rest): one live byte at a
  // time until none lives, within the trie's depth.
  auto one_string = [&](uint32_t s) {
    for (size_t n = 0; n <= trie.max_depth(); ++n) {
      const int b = only_byte(s);
      if (b < 0) return b == -1 && n > 0;
      s = d.next(s, static_cast<uint8_t>(b));
    }
    return false;
  };
  if (!lf && one_string(q)) {
    // Follow the trie path that string spells (the tokens and roots on it): a key's states cost a
    // few node visits instead of a class walk that parts every class (8 µs a state).
    uint32_t node = 0, s = q;
    for (int b = only_byte(q); b >= 0; b = only_byte(s)) {
      const uint32_t c = node == 0 ? root_child(static_cast<uint8_t>(b)) : trie.child(node, static_cast<uint8_t>(b));
      if (c == 0) break;  // no token goes on with b
      s = d.next(s, static_cast<uint8_t>(b));
      visit(c, nodes[c], s);
      node = c;
    }
  } else if (lf || json.empty() || (cut && json.bytes_of(cut_class).size() != 1)) {
    walk_below(0);
  } else {
    // The class trie: where every byte of a class leads to one state, all tokens of a class string
    // are decided at once (a JSON string body: 7,000 class nodes for Llama-3's 275k byte nodes).
    // Where they do not (the first letters of the names an additional-property key must avoid),
    // the heaviest state among the member byte nodes goes on down the class trie and the others
    // are walked byte by byte. Same result as the byte walk (roots sorted back into its order).
    // The JSON-string class trie, or the first finer one whose classes the lexeme steps alike at the
    // start state where it parts the JSON-string classes (a pattern's class of most ASCII,
    // [^<>*#.%&:\\+?/], its letters parted only after a backslash; a run of hex digits): the class
    // walk would part the ASCII class at every node, a quarter of the byte trie in exceptions, and
    // be abandoned.
    // (UTF-8 lead and continuation bytes, which a class of code points parts, are the same classes
    // in every trie: only the ASCII ones are compared.)
    auto parted = [&](const fsm::ClassTrie& t) {
      for (uint32_t c = 0; c < t.num_classes(); ++c) {
        if (fsm::ClassTrie::multibyte_class(c)) continue;
        for (uint8_t b : t.bytes_of(c))
          if (d.next(q, b) != d.next(q, t.bytes_of(c)[0])) return true;
      }
      return false;
    };
    int which = 0;
    if (parted(json))
      for (int w = 1; w < kClassTries; ++w)
        if (!parted(class_trie(w))) {
          which = w;
          break;
        }
    const bool fine = which > 0;
    const fsm::ClassTrie& ct = class_trie(which);
    if (fine) g_fine_class_walks.fetch_add(1, std::memory_order_relaxed);
    // Per class: the lexeme DFA's classes in it, dcls[dcls_at[c] .. dcls_at[c + 1]).
    thread_local std::vector<uint32_t> dcls;
    std::array<uint32_t, 257> dcls_at;
    dcls.clear();
    for (uint32_t c = 0; c < ct.num_classes(); ++c) {
      dcls_at[c] = static_cast<uint32_t>(dcls.size());
      for (uint8_t b : ct.bytes_of(c)) {
        uint32_t k = d.classes[b];
        if (std::find(dcls.begin() + dcls_at[c], dcls.end(), k) == dcls.end()) dcls.push_back(k);
      }
    }
    dcls_at[ct.num_classes()] = static_cast<uint32_t>(dcls.size());
    // Per (state, class), whether the class's bytes all lead one way from the state and where:
    // the class walk asks it at every class node, and a walk meets few states — of a date-time's
    // 11,000 or an email's 15,000, a handful. A row of answers per state met, found under this
    // call's stamp (no clearing); a memo over every state and class was megabytes to zero.
    constexpr uint32_t kPartsWays = fsm::kDead - 1;  // not uniform (no state has this number)
    constexpr uint32_t kUnknown = fsm::kDead - 2;    // not asked yet
    thread_local std::vector<uint64_t> memo_row_of;  // per state: (stamp << 32) | its row
    thread_local std::vector<uint32_t> memo_rows;    // rows of ct.num_classes() answers
    thread_local uint32_t memo_stamp = 0;
    const uint32_t num_ct = ct.num_classes();
    if (memo_row_of.size() < d.num_states()) memo_row_of.resize(d.num_states(), 0);
    if (++memo_stamp == 0) {  // wrapped: old stamps could match again
      std::fill(memo_row_of.begin(), memo_row_of.end(), 0);
      memo_stamp = 1;
    }
    memo_rows.clear();
    // Where the bytes of class c go from state s: one state (kDead included), or kPartsWays.
    auto class_target = [&](uint32_t s, uint32_t c) {
      uint64_t& r = memo_row_of[s];
      if (static_cast<uint32_t>(r >> 32) != memo_stamp) {
        r = (uint64_t{memo_stamp} << 32) | (memo_rows.size() / num_ct);
        memo_rows.resize(memo_rows.size() + num_ct, kUnknown);
      }
      uint32_t& m = memo_rows[static_cast<size_t>(static_cast<uint32_t>(r)) * num_ct + c];
      if (m != kUnknown) return m;
      const uint32_t* row = &d.table[static_cast<size_t>(s) * d.num_classes];
      const uint32_t* dc = dcls.data() + dcls_at[c];
      const uint32_t* dc_end = dcls.data() + dcls_at[c + 1];
      m = row[*dc];
      for (const uint32_t* k = dc + 1; k < dc_end; ++k)
        if (row[*k] != m) {
          m = kPartsWays;
          break;
        }
      return m;
    };
    const auto& cn = ct.trie().nodes();
    const auto& members = ct.members();
    const auto& runs = ct.runs();
    {
      // Subtract when the first bytes that live lead to most of the tokens (per first byte: one
      // byte of a class may live where the rest of it dies).
      uint64_t live = 0;
      for (uint32_t x = 1, end = static_cast<uint32_t>(nodes.size()); x < end; x = nodes[x].subtree_end)
        if (!(cut && nodes[x].byte == kCut) && d.next(q, nodes[x].byte) != fsm::kDead)
          live += trie.tokens_from(nodes[x].subtree_end) - trie.tokens_from(x);
      subtract = live * 2 > trie.token_ids().size();
    }
    // Where the first bytes say subtract, the class walk writes nothing until it is over: it lists
    // the dead class subtrees' tokens (ranges of the class trie's token ids, in order), and every
    // other token is live. Then it subtracts only if the live tokens are over a third of the
    // vocabulary; else it sets the tokens between the dead ranges. A counted string's last code
    // points (o79409's name, 2 of a chunk's 12 left) have live first bytes, but past the count
    // almost every token dies: subtracting cleared ~100k tokens one by one, 3 M instructions of a
    // 14 M mask.
    const bool defer = subtract;
    thread_local std::vector<std::pair<uint32_t, uint32_t>> dead_tokens;  // [from, to) of ct's token ids
    dead_tokens.clear();
    uint64_t dead = 0;
    auto drop_class_subtree = [&](uint32_t x) {
      if (!defer) return;
      const uint32_t a = ct.trie().tokens_from(x), b = ct.trie().tokens_from(cn[x].subtree_end);
      if (a == b) return;
      dead_tokens.emplace_back(a, b);
      dead += b - a;
    };
    thread_local std::vector<uint32_t> cst;
    if (cst.size() < ct.trie().max_depth() + 2) cst.resize(ct.trie().max_depth() + 2);
    cst[0] = q;
    // A parts-ways class node's members in groups of one last byte (a run, or a member alone):
    // members()[begin, end), the state their byte leads to, the byte nodes in their subtrees.
    struct MemberGroup {
      uint32_t begin, end, state;
      uint64_t weight;
    };
    thread_local std::vector<MemberGroup> groups;
    // (byte node, state, clean: the class walk set nothing below it, so nothing to clear)
    thread_local std::vector<std::tuple<uint32_t, uint32_t, bool>> exceptions;
    thread_local std::vector<std::pair<uint32_t, uint64_t>> weights;  // (state, nodes)
    exceptions.clear();
    // Where the lexeme's automaton parts most classes' bytes (a run of hex digits: [0-9a-f] against
    // the other letters, in every state), exceptions pile up until the class walk is a byte walk
    // with sorting and nesting on top (10 ms a state, where the byte walk takes 1-2): past a
    // quarter of the byte trie in exception subtrees (nested ones counted again), the class walk
    // is abandoned for the byte walk.
    const uint64_t abandon_at = nodes.size() / 4;
    uint64_t exception_weight = 0;
    bool abandoned = false;
    for (uint32_t x = 1, end = static_cast<uint32_t>(cn.size()); x < end;) {
      const fsm::TrieNode& n = cn[x];
      if (n.byte == cut_class) {
        drop_class_subtree(x);
        x = n.subtree_end;
        continue;
      }
      const uint32_t s = cst[n.depth - 1];
      uint32_t t = class_target(s, n.byte);
      if (t == kPartsWays) {
        // The class's bytes part ways here. The member byte nodes' states, weighted by their
        // subtrees: the heaviest state goes on down the class trie for all of them, and the
        // others are exceptions, redone byte by byte once the class walk is over.
        // A class node with many members has them in runs of one last byte: the states and
        // weights per run (a pattern's class of most ASCII: 94 runs where the members are tens
        // of thousands at the top of the class trie), and the members of a run visited only
        // where they become exceptions.
        const uint32_t rb = ct.run_begin(x), re = ct.run_begin(x + 1), me = ct.member_begin(x + 1);
        groups.clear();
        if (rb < re) {
          g_class_walk_runs_parted.fetch_add(1, std::memory_order_relaxed);
          for (uint32_t r = rb; r < re; ++r)
            groups.push_back({runs[r].begin, r + 1 < re ? runs[r + 1].begin : me, d.next(s, runs[r].byte), runs[r].weight});
        } else {
          for (uint32_t m = ct.member_begin(x); m < me; ++m) {
            const uint32_t b = members[m];
            groups.push_back({m, m + 1, d.next(s, nodes[b].byte), nodes[b].subtree_end - b});
          }
        }
        weights.clear();
        for (const MemberGroup& g : groups) {
          auto it = std::find_if(weights.begin(), weights.end(), [&](const auto& p) { return p.first == g.state; });
          if (it == weights.end()) weights.emplace_back(g.state, g.weight);
          else it->second += g.weight;
        }
        uint32_t heaviest = fsm::kDead;
        uint64_t best = 0, dead = 0;
        for (const auto& [state, w] : weights) {
          if (state == fsm::kDead) dead = w;
          if (w > best) best = w, heaviest = state;
        }
        if (heaviest != fsm::kDead && dead > 0) {
          // Going on down the class trie sets the dead members' tokens, to be cleared again one
          // by one. Where the live members die soon below (a whitespace state: ' ' lives, the
          // rest of ordinary ASCII dies; the next letter of a key), walking them byte by byte
          // costs less: estimated by their children that live, up to half the dead weight.
          const uint64_t cap = dead / 2;
          uint64_t below = 0;
          for (size_t k = 0; k < groups.size() && below <= cap; ++k) {
            if (groups[k].state == fsm::kDead) continue;
            for (uint32_t m = groups[k].begin; m < groups[k].end && below <= cap; ++m) {
              const uint32_t b = members[m];
              for (uint32_t c = b + 1, ce = nodes[b].subtree_end; c < ce && below <= cap; c = nodes[c].subtree_end)
                if (d.next(groups[k].state, nodes[c].byte) != fsm::kDead) below += nodes[c].subtree_end - c;
            }
          }
          if (below <= cap) heaviest = fsm::kDead;  // the live members become exceptions
        }
        for (const MemberGroup& g : groups) {
          if (g.state == heaviest) continue;  // goes on down the class trie, or dies with it
          for (uint32_t m = g.begin; m < g.end; ++m) exceptions.emplace_back(members[m], g.state, heaviest == fsm::kDead);
          exception_weight += g.weight;
        }
        if (exception_weight > abandon_at) {
          abandoned = true;
          break;
        }
        if (heaviest == fsm::kDead) {
          drop_class_subtree(x);
          x = n.subtree_end;
          continue;
        }
        t = heaviest;
      }
      if (t == fsm::kDead) {
        drop_class_subtree(x);
        x = n.subtree_end;
        continue;
      }
      if (!defer) ct.trie().for_each_token(n, set_token);
      if (!last && d.is_final(t))  // the members with children, listed apart (no trie node read)
        e->roots.insert(e->roots.end(), ct.parents().begin() + ct.parent_begin(x),
                        ct.parents().begin() + ct.parent_begin(x + 1));
      cst[n.depth] = t;
      ++x;
    }
    if (abandoned) {
      // Back to nothing written (the scratch's touched words zeroed; a deferred walk wrote nothing),
      // then the byte walk, subtracting or not by the first bytes.
      g_class_walks_abandoned.fetch_add(1, std::memory_order_relaxed);
      e->roots.clear();
      exceptions.clear();
      if (subtract) {
        own = tokenizer->trie_token_bits();
        mask = own.data();
      } else {
        for (size_t g = 0; g < touched.size(); ++g) {
          for (uint32_t t = touched[g]; t; t &= t - 1) mask[g * 32 + __builtin_ctz(t)] = 0;
          touched[g] = 0;
        }
      }
      walk_below(0);
    } else if (defer) {
      const int32_t* ids = ct.trie().token_ids().data();
      const uint32_t total = static_cast<uint32_t>(ct.trie().token_ids().size());
      subtract = (total - dead) * 3 > total;  // clearing a token costs about half of setting one
      if (subtract) {
        own = tokenizer->trie_token_bits();
        mask = own.data();
        uint32_t* m = mask;
        for (const auto& [a, b] : dead_tokens)
          for (uint32_t k = a; k < b; ++k) clear_bit(m, ids[k]);
      } else {
        g_class_walks_unsubtracted.fetch_add(1, std::memory_order_relaxed);
        uint32_t from = 0;
        auto set_range = [&](uint32_t a, uint32_t b) {
          for (uint32_t k = a; k < b; ++k) set_token(ids[k]);
        };
        for (const auto& [a, b] : dead_tokens) {
          set_range(from, a);
          from = b;
        }
        set_range(from, total);
      }
    }
    // The exceptions. One found inside another's subtree was walked with a wrong state, and the
    // outer one's byte walk redoes its whole subtree: only the outermost are walked (subtrees
    // nest or are disjoint, so sorted by node one sweep finds them). The class walk's roots inside
    // them are dropped in one pass over both sorted lists (a clean one has none: the class walk
    // set nothing below it). Then each subtree is cleared of what the class walk decided and
    // walked byte by byte from its true state; subtracting, it is set whole again instead (a
    // clean one was cleared whole), and the byte walk clears what dies.
    thread_local std::vector<uint64_t> order;  // (byte node, index): a cheaper sort than the tuples'
    order.clear();
    for (size_t k = 0; k < exceptions.size(); ++k) order.push_back(uint64_t{std::get<0>(exceptions[k])} << 32 | k);
    if (order.size() < kSortedExceptions) {
      std::sort(order.begin(), order.end());
    } else {
      // Many (a class of code points parts the continuation bytes under most multi-byte tokens:
      // thousands, whose sort was a quarter of such an entry): by node, 11 bits a pass, stable
      // (the indices stay in order within a node, as the sort leaves them).
      thread_local std::vector<uint64_t> spare;
      spare.resize(order.size());
      for (uint32_t shift = 0; (uint64_t{nodes.size()} >> shift) != 0; shift += 11) {
        std::array<uint32_t, 2049> at{};
        for (uint64_t o : order) ++at[((o >> 32) >> shift & 2047) + 1];
        for (size_t b = 1; b < at.size(); ++b) at[b] += at[b - 1];
        for (uint64_t o : order) spare[at[(o >> 32) >> shift & 2047]++] = o;
        order.swap(spare);
      }
    }
    thread_local std::vector<std::tuple<uint32_t, uint32_t, bool>> outermost;
    outermost.clear();
    uint32_t covered = 0;
    for (uint64_t o : order) {
      const uint32_t b = static_cast<uint32_t>(o >> 32);
      if (b < covered) continue;
      covered = nodes[b].subtree_end;
      outermost.push_back(exceptions[static_cast<uint32_t>(o)]);
    }
    exceptions.swap(outermost);
    if (!exceptions.empty() && !e->roots.empty()) {
      sort_trie_nodes(e->roots, nodes.size());
      size_t out = 0, k = 0;
      for (uint32_t r : e->roots) {
        while (k < exceptions.size() && nodes[std::get<0>(exceptions[k])].subtree_end <= r) ++k;
        if (k < exceptions.size() && r >= std::get<0>(exceptions[k])) continue;
        e->roots[out++] = r;
      }
      e->roots.resize(out);
    }
    for (const auto& ex : exceptions) {
      const uint32_t b = std::get<0>(ex);  // not a structured binding: clang 14 (make fuzz) cannot capture one
      const auto sb = std::get<1>(ex);
      const uint32_t end = nodes[b].subtree_end;
      const bool clean = std::get<2>(ex);
      if (subtract && sb != fsm::kDead)
        trie.for_each_token(b, end, [&](int32_t id) { set_bit(mask, id); });
      else if (!clean)
        clear_range(trie, b, end);
      if (sb == fsm::kDead) continue;
      visit(b, nodes[b], sb);
      st[nodes[b].depth] = sb;
      walk_below(b);
    }
    sort_trie_nodes(e->roots, nodes.size());
  }
  e->roots.shrink_to_fit();
  e->root_states.shrink_to_fit();
  if (!cut && e->root_states.empty()) e->children = RootChildren::of(e->roots, trie);  // a part's roots are merged first
  // Under 1/64 of the vocabulary: a sorted list; else a bitset, deduplicated.
  auto append_ids = [&](int32_t w) {
    for (uint32_t bits = mask[w]; bits; bits &= bits - 1) e->ids.push_back(w * 32 + __builtin_ctz(bits));
  };
  if (subtract) {
    take_bits(std::move(own), *e);
    zero_on_throw.done = true;
    return e;
  }
  // Only the touched words hold tokens (an exception may have cleared some again); they are
  // zeroed after, as is `touched`.
  const int32_t groups = static_cast<int32_t>(touched.size());
  size_t count = 0;
  for (int32_t g = 0; g < groups; ++g)
    for (uint32_t t = touched[g]; t; t &= t - 1)
      count += static_cast<size_t>(__builtin_popcount(mask[g * 32 + __builtin_ctz(t)]));
  if (count * 2 >= static_cast<size_t>(words)) intern_dense(std::vector<uint32_t>(mask, mask + words), *e);
  else e->ids.reserve(count);
  for (int32_t g = 0; g < groups; ++g) {
    for (uint32_t t = touched[g]; t; t &= t - 1) {
      const int32_t w = g * 32 + __builtin_ctz(t);
      if (!e->dense) append_ids(w);
      mask[w] = 0;
    }
    touched[g] = 0;
  }
  zero_on_throw.done = true;
  return e;
}

void CfgGrammar::take_bits(std::vector<uint32_t> mask, IndexEntry& e) const {
  const size_t count = engine::count_bits(mask.data(), words);
  if (count * 2 >= static_cast<size_t>(words)) {
    intern_dense(std::move(mask), e);
    return;
  }
  e.ids.reserve(count);
  for (int32_t w = 0; w < words; ++w)
    for (uint32_t bits = mask[w]; bits; bits &= bits - 1) e.ids.push_back(w * 32 + __builtin_ctz(bits));
}

void CfgGrammar::intern_dense(std::vector<uint32_t> mask, IndexEntry& e) const {
  e.dense_hash = fsm::hash_words(mask);
  std::lock_guard<std::mutex> lock(index_mu_);
  auto& same_hash = dense_[e.dense_hash];
  for (const auto& d : same_hash)
    if (*d == mask) {
      e.dense = d;
      return;
    }
  same_hash.push_back(std::make_shared<const std::vector<uint32_t>>(std::move(mask)));
  ++num_dense_;
  index_bytes_ += static_cast<size_t>(words) * 4 + 64;
  e.dense = same_hash.back();
}

namespace {

bool same_entry(const IndexEntry& a, const IndexEntry& b) {
  if ((a.dense == nullptr) != (b.dense == nullptr)) return false;
  if (a.dense && a.dense != b.dense && *a.dense != *b.dense) return false;
  return a.ids == b.ids && a.roots == b.roots && a.root_states == b.root_states;
}

}  // namespace

const CfgGrammar::Slot* CfgGrammar::install(uint32_t l, uint32_t q, const std::string& key,
                                            std::shared_ptr<const IndexEntry> e) const {
  std::atomic<const Slot*>* lexeme_slots = slots(l);  // before the lock: may take it
  std::lock_guard<std::mutex> lock(index_mu_);
  std::atomic<const Slot*>& slot = lexeme_slots[q];
  if (const Slot* s = slot.load(std::memory_order_acquire)) return s;  // another thread was first
  std::string k = key;
  if (k.empty()) {  // not shareable: the state itself
    k.resize(9);
    k[0] = '#';
    std::memcpy(&k[1], &l, 4);
    std::memcpy(&k[5], &q, 4);
  }
  auto it = by_key_.find(k);
  if (it != by_key_.end() && !same_entry(*it->second->entry, *e)) {
    // Another entry under this content key (bitsets with one hash): this state's own key.
    k.push_back('#');
    k.append(reinterpret_cast<const char*>(&l), 4);
    k.append(reinterpret_cast<const char*>(&q), 4);
    it = by_key_.find(k);
  }
  const Slot* s;
  if (it != by_key_.end()) {
    s = it->second;  // the same entry, computed first by another state or thread
  } else {
    owned_.push_back({std::move(e), static_cast<uint32_t>(owned_.size())});
    s = &owned_.back();
    index_bytes_ += s->entry->bytes() + k.size() + 64;
    by_key_.emplace(std::move(k), s);
  }
  slot.store(s, std::memory_order_release);
  return s;
}

// States with the same entry share its slot (and the boundary walks cached under its number): the
// key is a digest of the entry's content — its bitset's hash, its tokens' and roots' hashes and
// counts — and install compares the entries a key names (another entry under one digest takes
// the state's own key). The content itself was a string of every token id (up to 8 KiB for a
// sparse entry), built, copied, hashed and kept per entry.
static std::string entry_content(const IndexEntry& e) {
  size_t h = fsm::hash_words(e.ids);
  fsm::hash_mix(h, fsm::hash_words(e.roots));
  if (e.dense) fsm::hash_mix(h, e.dense_hash);
  const uint64_t h64 = h, n = e.ids.size(), r = e.roots.size();
  std::string content(e.dense ? "D" : "S");
  content.append(reinterpret_cast<const char*>(&h64), sizeof h64);
  content.append(reinterpret_cast<const char*>(&n), sizeof n);
  content.append(reinterpret_cast<const char*>(&r), sizeof r);
  return content;
}

const CfgGrammar::Spelling* CfgGrammar::spelling(uint32_t lexeme) const {
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    auto it = spellings_.find(lexeme);
    if (it != spellings_.end()) return it->second.get();
  }
  const fsm::LexDfa& d = rt->dfa(lexeme);
  auto sp = std::make_unique<Spelling>();
  sp->at.assign(d.num_states(), UINT32_MAX);
  constexpr size_t kMaxBytes = 4096;
  const SingleBytes single(d);
  bool spelled = false;
  for (uint32_t s = d.start; sp->bytes.size() <= kMaxBytes;) {
    sp->at[s] = static_cast<uint32_t>(sp->bytes.size());
    const int only = single.only(s);  // the one byte s moves on; -2: more than one
    if (d.is_final(s)) {
      spelled = only == -1;  // the end: final with no way on (states off the path are unreachable)
      break;
    }
    if (only < 0) break;  // more than one byte, or none
    const uint32_t t = d.next(s, static_cast<uint8_t>(only));
    if (sp->at[t] != UINT32_MAX) break;  // a cycle
    sp->bytes.push_back(static_cast<char>(only));
    s = t;
  }
  if (!spelled) sp.reset();
  std::lock_guard<std::mutex> lock(index_mu_);
  auto [it, inserted] = spellings_.emplace(lexeme, std::move(sp));
  if (inserted && it->second) index_bytes_ += it->second->bytes.size() + it->second->at.size() * 4 + 64;
  return it->second.get();
}

std::shared_ptr<const IndexEntry> CfgGrammar::spelled_entry(uint32_t l, const Spelling& sp, uint32_t q) const {
  const fsm::TokenTrie& trie = tokenizer->trie();
  const auto& nodes = trie.nodes();
  auto e = std::make_shared<IndexEntry>();
  uint32_t node = 0;  // the trie's root
  for (size_t i = sp.at[q]; i < sp.bytes.size(); ++i) {
    const uint8_t byte = static_cast<uint8_t>(sp.bytes[i]);
    const uint32_t child = node == 0 ? root_child(byte) : trie.child(node, byte);
    if (child == 0) return e;  // no token goes on along the string: nor past its end
    node = child;
    trie.for_each_token(nodes[node], [&](int32_t id) { e->ids.push_back(id); });
  }
  std::sort(e->ids.begin(), e->ids.end());
  // The string read whole (a final state): a boundary when tokens go on below.
  if (!rt->cfg().lexeme_last[l] && nodes[node].subtree_end > node + 1 && sp.at[q] < sp.bytes.size())
    e->roots.push_back(node);
  return e;
}

std::shared_ptr<const IndexEntry> CfgGrammar::literal_run_entry(uint32_t l, uint32_t q) const {
  const fsm::LexDfa& d = rt->dfa(l);
  const fsm::TokenTrie& trie = tokenizer->trie();
  const auto& nodes = trie.nodes();
  const SingleBytes single(d);
  thread_local std::vector<int32_t> ids;
  ids.clear();
  uint32_t node = 0, s = q;  // the trie's root
  for (;;) {
    if (d.is_final(s)) return nullptr;  // a token may end the lexeme here: the general route
    const int only = single.only(s);
    if (only < 0) return nullptr;  // more than one byte, or none (not a state a parse is at)
    const auto byte = static_cast<uint8_t>(only);
    const uint32_t child = node == 0 ? root_child(byte) : trie.child(node, byte);
    if (child == 0) break;  // no token goes on along the string
    node = child;
    trie.for_each_token(nodes[node], [&](int32_t id) { ids.push_back(id); });
    if (nodes[node].subtree_end == node + 1) break;  // nor past this byte
    s = d.next(s, byte);
  }
  auto e = std::make_shared<IndexEntry>();
  e->ids.assign(ids.begin(), ids.end());
  std::sort(e->ids.begin(), e->ids.end());
  return e;
}

std::shared_ptr<const IndexEntry> CfgGrammar::reference_part(uint32_t state, bool last) const {
  const StringReference* ref = string_reference();
  const size_t at = size_t{state} * 2 + last;
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    if (reference_parts_.size() <= at) reference_parts_.resize(size_t{ref->dfa.num_states()} * 2);
    if (reference_parts_[at]) return reference_parts_[at];
  }
  // Keyed as a grammar's plain string states are (their blocks are the reference's): one walk of
  // the inside of a string serves both.
  std::string key = canonical_key_of(ref->dfa, &ref->blocks, state);
  if (!key.empty()) key.push_back(last ? 'L' : 'N');
  std::shared_ptr<const IndexEntry> part = find_part(key);
  if (!part) part = keep_part(key, walk_entry(ref->dfa, false, last, state, true));
  std::lock_guard<std::mutex> lock(index_mu_);
  reference_parts_[at] = part;
  return part;
}

std::shared_ptr<const IndexEntry> CfgGrammar::find_part(const std::string& key) const {
  if (key.empty()) return nullptr;
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    auto it = parts_.find(key);
    if (it != parts_.end()) return it->second;
  }
  if (!index_cache_) return nullptr;
  std::shared_ptr<const IndexEntry> part = index_cache_->find(key);
  if (part) {
    std::lock_guard<std::mutex> lock(index_mu_);
    if (parts_.emplace(key, part).second) index_bytes_ += part->bytes() + key.size() + 64;
  }
  return part;
}

std::shared_ptr<const IndexEntry> CfgGrammar::keep_part(const std::string& key, std::shared_ptr<const IndexEntry> part) const {
  if (key.empty()) return part;
  if (index_cache_) index_cache_->put(key, part);
  std::lock_guard<std::mutex> lock(index_mu_);
  auto [it, inserted] = parts_.emplace(key, std::move(part));
  if (inserted) index_bytes_ += it->second->bytes() + key.size() + 64;
  return it->second;
}

std::shared_ptr<const IndexEntry> CfgGrammar::difference_entry(uint32_t l, uint32_t q, bool last) const {
  const ReferenceDistances* m = reference_distances(l);
  if (!m || m->image[q] == UINT32_MAX) return nullptr;
  const fsm::TokenTrie& trie = tokenizer->trie();
  // The nodes on the way to tokens of at least dist bytes bound the walk (below the others no
  // difference can show): past a few thousand, the class walk is as cheap.
  if (trie.nodes_reaching(m->dist[q]) > kMaxDifferenceNodes) return nullptr;
  std::shared_ptr<const IndexEntry> base = reference_part(m->image[q], last);
  if (!base->roots.empty()) return nullptr;  // (a part of a string's inside has none)
  const fsm::LexDfa& d = rt->dfa(l);
  const fsm::LexDfa& r = string_reference()->dfa;
  thread_local std::vector<uint64_t> st;  // per depth: (state << 32) | its image
  thread_local std::vector<std::pair<uint32_t, uint32_t>> cleared;  // node ranges whose tokens go
  if (st.size() < trie.max_depth() + 2) st.resize(trie.max_depth() + 2);
  cleared.clear();
  std::vector<uint32_t> roots;
  bool other = false;  // a byte the lexeme takes and the reference does not (not expected)
  st[0] = uint64_t{q} << 32 | m->image[q];
  fsm::walk_trie(trie, 0, st.data(), [&](uint32_t i, const fsm::TrieNode& n, uint64_t parent, uint64_t& pair) {
    const uint32_t ps = static_cast<uint32_t>(parent >> 32), pr = static_cast<uint32_t>(parent);
    // Below the parent no difference shows before dist bytes: a subtree not that deep is the
    // reference's (kCut's is in neither).
    if (n.byte == kCut || other || m->dist[ps] > trie.longest(i) - n.depth + 1u) return false;
    const uint32_t s = d.next(ps, n.byte), t = r.next(pr, n.byte);
    if (s == fsm::kDead) {
      if (t != fsm::kDead) cleared.push_back({i, n.subtree_end});
      return false;
    }
    if (t == fsm::kDead || m->image[s] != t) {
      other = true;
      return false;
    }
    if (!last && d.is_final(s) && n.subtree_end > i + 1) roots.push_back(i);
    pair = uint64_t{s} << 32 | t;
    return true;
  });
  if (other) return nullptr;
  ++index_by_difference_;
  if (cleared.empty() && roots.empty()) return base;
  std::vector<uint32_t> mask(words, 0);
  if (base->dense) mask = *base->dense;
  for (int32_t id : base->ids) set_bit(mask.data(), id);
  for (const auto& [from, to] : cleared) clear_tokens(trie, from, to, mask.data());
  auto e = std::make_shared<IndexEntry>();
  e->roots = std::move(roots);  // in depth-first order, as the walk's
  take_bits(std::move(mask), *e);
  return e;
}

const CfgGrammar::Slot* CfgGrammar::compute_entry(uint32_t l, uint32_t q) const {
  auto t0 = cfg_debug_now();
  // Leftmost-first guards name a lexeme's own states: its entries are walked whole, per state.
  if (!share_states_ || rt->leftmost_first(l)) return install(l, q, {}, walk_entry(l, q, false));
  if (const Spelling* sp = spelling(l); sp && sp->at[q] != UINT32_MAX) {
    std::shared_ptr<const IndexEntry> e = spelled_entry(l, *sp, q);
    ++index_spelled_;
    const std::string content = entry_content(*e);
    return install(l, q, content, std::move(e));
  }
  if (std::shared_ptr<const IndexEntry> e = literal_run_entry(l, q)) {
    ++index_literal_runs_;
    const std::string content = entry_content(*e);
    return install(l, q, content, std::move(e));
  }
  // Indexed before for another grammar whose lexeme is spelt alike (one automaton): taken whole.
  const bool last = rt->cfg().lexeme_last[l] != 0;
  std::shared_ptr<const fsm::LexDfa> shared_dfa = index_cache_ ? rt->automata().shared_dfa(l) : nullptr;
  if (shared_dfa) {
    if (auto hit = index_cache_->find_state(shared_dfa.get(), q, last)) {
      ++index_shared_;
      ++index_whole_shared_;
      return install(l, q, hit->content, hit->entry);
    }
  }
  // The tokens without kCut: shared by every state of the same canonical automaton without kCut
  // (and the same lexeme_last: an entry of a lexeme nothing can follow has no roots).
  std::string key = canonical_key(l, q);
  if (!key.empty()) key.push_back(last ? 'L' : 'N');
  std::shared_ptr<const IndexEntry> part = find_part(key);
  if (part) {
    ++index_shared_;
  } else {
    // A state the plain string's tells apart from its own only deep down (a string of at most
    // 255 code points): that part, with the few tokens long enough to differ, walked.
    part = difference_entry(l, q, last);
    if (!part) part = walk_entry(l, q, true);
    part = keep_part(key, std::move(part));
  }
  // The tokens with kCut, walked for this state, joined to the part.
  thread_local std::vector<int32_t> ids;
  thread_local std::vector<uint32_t> roots;
  ids.clear();
  roots.clear();
  walk_past_cut(l, q, ids, roots);
  auto e = std::make_shared<IndexEntry>();
  e->roots.reserve(part->roots.size() + roots.size());
  std::merge(part->roots.begin(), part->roots.end(), roots.begin(), roots.end(), std::back_inserter(e->roots));
  e->children = RootChildren::of(e->roots, tokenizer->trie());
  if (ids.empty()) {
    e->dense = part->dense;
    e->dense_hash = part->dense_hash;
    e->ids = part->ids;
  } else if (part->dense) {
    // The part's bitset, shared, and this state's tokens with kCut beside it (no copy of the
    // bitset: a fresh 16 KiB per state was most of a first use, in copying and first-touch memory).
    e->dense = part->dense;
    e->dense_hash = part->dense_hash;
    e->ids = ids;
  } else {
    std::vector<int32_t> all;
    all.reserve(part->ids.size() + ids.size());
    std::merge(part->ids.begin(), part->ids.end(), ids.begin(), ids.end(), std::back_inserter(all));
    if (all.size() * 2 < static_cast<size_t>(words)) {
      e->ids = std::move(all);
    } else {
      std::vector<uint32_t> mask(words, 0);
      for (int32_t id : all) set_bit(mask.data(), id);
      intern_dense(std::move(mask), *e);
    }
  }
  if (cfg_debug_enabled()) {
    double us = cfg_debug_elapsed_us(t0);
    if (us > cfg_debug_threshold_us(200))
      fprintf(stderr, "index entry %.0f µs: lexeme %u (%s) state %u, %zu tokens%s, %zu roots, key %zu bytes\n", us, l,
              rt->cfg().lexemes[l]->to_string().substr(0, 60).c_str(), q, e->dense ? size_t(0) : e->ids.size(),
              e->dense ? " (dense)" : "", e->roots.size(), key.size());
  }
  std::string content = entry_content(*e);
  if (shared_dfa) index_cache_->put_state(shared_dfa, q, last, e, content);
  return install(l, q, content, std::move(e));
}

void CfgGrammar::index_all(int threads, PhaseRecorder* phases) {
  std::vector<std::pair<uint32_t, uint32_t>> work;
  for (uint32_t l = 0; l < rt->num_lexemes(); ++l)
    for (uint32_t q = 0; q < rt->dfa(l).num_states(); ++q) work.push_back({l, q});
  fsm::parallel_for(work.size(), threads, [&](size_t w, int) {
    fsm::check_budget();
    slot(work[w].first, work[w].second);
    if (phases) phases->tick(work.size());
  });
}

size_t CfgGrammar::num_index_entries() const {
  std::lock_guard<std::mutex> lock(index_mu_);
  return owned_.size();
}

size_t CfgGrammar::num_distinct_masks() const {
  std::lock_guard<std::mutex> lock(index_mu_);
  size_t sparse = 0;
  for (const Slot& s : owned_) sparse += s.entry->dense == nullptr;
  return num_dense_ + sparse;
}

std::atomic<const CfgGrammar::Slot*>* CfgGrammar::make_slots(uint32_t lexeme) const {
  const uint32_t n = rt->dfa(lexeme).num_states();  // builds the DFA if it was not (before the lock)
  std::lock_guard<std::mutex> lock(index_mu_);
  if (auto* s = lexeme_slots_[lexeme].load(std::memory_order_acquire)) return s;  // another thread was first
  auto slots = std::make_unique<std::atomic<const Slot*>[]>(n);
  for (uint32_t q = 0; q < n; ++q) slots[q].store(nullptr, std::memory_order_relaxed);
  std::atomic<const Slot*>* p = slots.get();
  owned_slots_.push_back(std::move(slots));
  num_slots_ += n;
  lexeme_slots_[lexeme].store(p, std::memory_order_release);
  return p;
}

size_t CfgGrammar::index_bytes() const {
  std::lock_guard<std::mutex> lock(index_mu_);
  return index_bytes_ + num_slots_ * sizeof(std::atomic<const Slot*>) + by_key_.bucket_count() * 8;
}

std::shared_ptr<const IndexEntry> IndexCache::find(const std::string& key) {
  Cleared dropped;  // freed after the lock
  std::lock_guard<std::mutex> lock(mu_);
  reap_locked();
  if (auto it = young_.parts.find(key); it != young_.parts.end()) return it->second;
  auto it = old_.parts.find(key);
  if (it == old_.parts.end()) return nullptr;
  std::shared_ptr<const IndexEntry> e = it->second;
  put_locked(key, e, dropped);  // used again: into the young generation
  return e;
}

// The bytes counted for an entry (without its bitset) and for a bitset, each with its holder count.
static size_t entry_bytes(const IndexEntry& e) { return e.bytes() + 48; }
static size_t bitset_bytes(const IndexEntry& e) { return e.dense->size() * 4 + 48; }

size_t IndexCache::hold_locked(const IndexEntry& e) {
  if (young_.holders[&e]++ > 0) return 0;
  size_t bytes = entry_bytes(e);
  if (e.dense && young_.holders[e.dense.get()]++ == 0) bytes += bitset_bytes(e);
  return bytes;
}

size_t IndexCache::forget_locked(const IndexEntry& e) {
  auto it = young_.holders.find(&e);
  if (it == young_.holders.end() || --it->second > 0) return 0;
  young_.holders.erase(it);
  size_t bytes = entry_bytes(e);
  if (!e.dense) return bytes;
  auto d = young_.holders.find(e.dense.get());
  if (d != young_.holders.end() && --d->second == 0) {
    young_.holders.erase(d);
    bytes += bitset_bytes(e);
  }
  return bytes;
}

bool IndexCache::reserve_locked(size_t own, const IndexEntry& e, Cleared& dropped) {
  const size_t half = max_bytes_ / 2;
  size_t bytes = own + hold_locked(e);
  if (young_.bytes + bytes > half) {
    forget_locked(e);
    dropped = std::move(dying_);  // what is left of the last one dropped is freed now
    dying_ = std::move(old_);     // the old generation goes, freed a few keys a call
    old_ = std::move(young_);     // the young one becomes old
    dying_.holders = std::move(old_.holders);  // (counted for the young one only)
    old_.holders = {};
    young_ = Generation{};
    ++turns_;
    bytes = own + hold_locked(e);
    if (bytes > half) {
      forget_locked(e);
      return false;
    }
  }
  young_.bytes += bytes;
  return true;
}

void IndexCache::put_locked(const std::string& key, std::shared_ptr<const IndexEntry> e, Cleared& dropped) {
  if (young_.parts.count(key) || !reserve_locked(key.size() * 2 + 64, *e, dropped)) return;
  young_.parts.emplace(key, std::move(e));
}

void IndexCache::put(const std::string& key, std::shared_ptr<const IndexEntry> e) {
  Cleared dropped;  // freed after the lock
  std::lock_guard<std::mutex> lock(mu_);
  reap_locked();
  put_locked(key, std::move(e), dropped);
}

size_t IndexCache::StateKeyHash::operator()(const StateKey& k) const {
  size_t h = reinterpret_cast<uintptr_t>(k.dfa);
  fsm::hash_mix(h, k.state);
  fsm::hash_mix(h, k.last);
  return h;
}

std::shared_ptr<const IndexCache::StateEntry> IndexCache::find_state(const fsm::LexDfa* dfa, uint32_t state,
                                                                     bool last) {
  Cleared dropped;  // freed after the lock
  std::lock_guard<std::mutex> lock(mu_);
  reap_locked();
  const StateKey key{dfa, state, last};
  if (auto it = young_.states.find(key); it != young_.states.end())
    return it->second->dfa.expired() ? nullptr : it->second;
  auto it = old_.states.find(key);
  if (it == old_.states.end() || it->second->dfa.expired()) return nullptr;
  std::shared_ptr<const StateEntry> e = it->second;
  put_state_locked(key, e, dropped);  // used again: into the young generation
  return e;
}

void IndexCache::put_state_locked(const StateKey& key, std::shared_ptr<const StateEntry> e, Cleared& dropped) {
  auto it = young_.states.find(key);
  if (it != young_.states.end()) {
    if (!it->second->dfa.expired()) return;
    young_.bytes -= std::min(young_.bytes, it->second->bytes + forget_locked(*it->second->entry));
    young_.states.erase(it);  // an automaton gone: its block freed only now, so never this one's
  }
  if (!reserve_locked(e->bytes, *e->entry, dropped)) return;
  young_.states.emplace(key, std::move(e));
}

void IndexCache::put_state(const std::shared_ptr<const fsm::LexDfa>& dfa, uint32_t state, bool last,
                           std::shared_ptr<const IndexEntry> entry, std::string content) {
  // The entry (and its bitset) counted once with the part that usually holds it too.
  const size_t own = content.size() + 128;
  auto e = std::make_shared<const StateEntry>(StateEntry{dfa, std::move(entry), std::move(content), own});
  Cleared dropped;  // freed after the lock
  std::lock_guard<std::mutex> lock(mu_);
  reap_locked();
  put_state_locked({dfa.get(), state, last}, std::move(e), dropped);
}

size_t IndexCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return young_.bytes + old_.bytes;
}

size_t IndexCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return young_.parts.size() + young_.states.size() + old_.parts.size() + old_.states.size();
}

size_t IndexCache::turns() const {
  std::lock_guard<std::mutex> lock(mu_);
  return turns_;
}

size_t IndexCache::dying() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dying_.parts.size() + dying_.states.size() + dying_.holders.size();
}

// Under mu_, but a step is a few frees: an entry's last holder frees it and its bitset, nothing that
// calls back into the cache.
void IndexCache::reap_locked() {
  size_t n = kReapStep;
  for (; n > 0 && !dying_.states.empty(); --n) dying_.states.erase(dying_.states.begin());
  for (; n > 0 && !dying_.parts.empty(); --n) dying_.parts.erase(dying_.parts.begin());
  for (; n > 0 && !dying_.holders.empty(); --n) dying_.holders.erase(dying_.holders.begin());
  if (n > 0 && dying_.bytes > 0) dying_ = Generation{};  // all freed: the bucket arrays too
}

std::unique_ptr<CfgGrammar> build_cfg_grammar(const grammar::Grammar& grammar, const TokenizerInfoPtr& tokenizer,
                                              const CfgBuildOptions& options) {
  PhaseRecorder* phases = options.phases;
  if (phases) phases->begin("cfg");  // regular rules inlined, regular runs merged into lexemes
  fsm::Cfg cfg = fsm::build_cfg(grammar);
  if (phases) phases->end(cfg.prods.size(), "productions");
  if (phases) phases->begin("lexeme automata");  // each lexeme's NFA -> DFA -> minimal DFA; the Earley graph
  std::function<void(size_t, size_t)> on_lexeme;
  if (phases && phases->reporting()) on_lexeme = [phases](size_t done, size_t total) { phases->step(done, total); };
  CfgBuildOptions with_plan = options;
  with_plan.unique_plan = grammar.unique_items;
  return make_cfg_grammar(std::make_unique<fsm::CfgRuntime>(std::move(cfg), options.dfa, options.max_earley_items, on_lexeme,
                                                           options.eager_automata_states, options.lexeme_cache,
                                                           options.eager_automata_ms),
                          tokenizer, with_plan);
}

std::unique_ptr<CfgGrammar> make_cfg_grammar(std::unique_ptr<fsm::CfgRuntime> rt, const TokenizerInfoPtr& tokenizer,
                                             const CfgBuildOptions& options) {
  auto g = std::make_unique<CfgGrammar>();
  g->context_depth = options.context_depth;
  g->tokenizer = tokenizer;
  g->strip_first_space = tokenizer->leading_space() == LeadingSpace::kStrip && tokenizer->prepends_space();
  g->words = bitmask_words(tokenizer->vocab_size());
  g->rt = std::move(rt);
  g->unique_plan = options.unique_plan;
  PhaseRecorder* phases = options.phases;
  g->share_states_ = options.share_states;
  if (g->share_states_) g->index_cache_ = options.index_cache;
  const fsm::LexemeAutomata& automata = g->rt->automata();
  if (phases)
    phases->end(automata.num_built_states(), automata.num_built() == automata.size() ? "states" : "states (built so far)");
  g->lexeme_slots_ = std::make_unique<std::atomic<std::atomic<const CfgGrammar::Slot*>*>[]>(automata.size());
  for (size_t l = 0; l < automata.size(); ++l) g->lexeme_slots_[l].store(nullptr, std::memory_order_relaxed);
  if (phases) phases->begin(options.eager_index ? "token index" : "token index (lazy)");
  if (options.eager_index) g->index_all(options.threads, phases && phases->reporting() ? phases : nullptr);
  g->reserve_caches();
  if (phases) phases->end(g->num_index_entries(), "entries");
  return g;
}

}  // namespace tollgate::engine

namespace tollgate::engine {

const std::vector<int32_t>& CfgGrammar::quote_token_ids() const {
  return tokenizer->json_token_ids(TokenizerInfo::JsonTokens::kQuote);
}

const std::vector<int32_t>& CfgGrammar::brace_token_ids(bool after_quote) const {
  return tokenizer->json_token_ids(after_quote ? TokenizerInfo::JsonTokens::kQuoteBrace : TokenizerInfo::JsonTokens::kBrace);
}

}  // namespace tollgate::engine
