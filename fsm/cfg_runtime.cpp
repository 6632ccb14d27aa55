// Byte-level stepping of lexeme threads under the Earley graph (see cfg_runtime.hpp).
#include "fsm/cfg_runtime.hpp"

#include <algorithm>
#include <bitset>
#include <chrono>
#include <cstdio>
#include <string_view>
#include <unordered_set>

#include "fsm/budget.hpp"
#include "fsm/cfg_debug.hpp"
#include "fsm/hash.hpp"
#include "fsm/utf8.hpp"
#include "tollgate/error.hpp"

namespace tollgate::fsm {

LexDfa LexDfa::from(Dfa dfa) {
  LexDfa l;
  l.classes = dfa.byte_classes();
  l.num_classes = static_cast<uint32_t>(dfa.num_classes());
  const uint32_t n = static_cast<uint32_t>(dfa.num_states());
  const size_t k = l.num_classes;
  l.finals.assign(n + 1, 0);
  l.live.assign(n + 1, 0);
  for (uint32_t s = 0; s < n; ++s) l.finals[s] = dfa.is_final(s);
  const uint32_t dfa_start = dfa.start();
  // The same classes and rows (every class of a Dfa has a byte), and a row for the start's clone:
  // the table taken over (no copy where the builder left a row of capacity spare).
  l.table = std::move(dfa).take_table();
  l.table.reserve((n + size_t{1}) * k);
  l.start = n;  // clone of the start state, not final
  if (n > 0) {
    const size_t from = size_t{dfa_start} * k;
    for (size_t c = 0; c < k; ++c) l.table.push_back(l.table[from + c]);
  } else {
    l.table.assign(k, kDead);
  }
  for (uint32_t s = 0; s <= n; ++s)
    for (size_t c = 0; c < k; ++c)
      if (l.table[s * k + c] != kDead) {
        l.live[s] = 1;
        break;
      }
  return l;
}

namespace {
size_t lex_dfa_bytes(const LexDfa& d) { return d.table.size() * 4 + d.finals.size() * 2 + sizeof(LexDfa); }

// A set of bytes a lexeme automaton may test a byte for (bit b of word b / 64).
using ByteSet = std::array<uint64_t, 4>;
void add_range(ByteSet& set, unsigned lo, unsigned hi) {
  for (unsigned b = lo; b <= hi; ++b) set[b >> 6] |= uint64_t{1} << (b & 63);
}
ByteSet range_set(unsigned lo, unsigned hi) {
  ByteSet s{};
  add_range(s, lo, hi);
  return s;
}
ByteSet chars_set(std::string_view chars) {
  ByteSet s{};
  for (unsigned char c : chars) add_range(s, c, c);
  return s;
}

}  // namespace

namespace {
// Which characters with a JSON escape a regex may read (an over-approximation: any set it names
// that holds one; a complement, raw bytes or an automaton: all).
struct EscapableRead {
  bool controls = false, quote = false, backslash = false, slash = false;
  void add(const grammar::CharSet& set) {
    for (const auto& r : set.ranges()) {
      controls = controls || r.lo <= 0x1F;
      quote = quote || (r.lo <= '"' && '"' <= r.hi);
      backslash = backslash || (r.lo <= '\\' && '\\' <= r.hi);
      slash = slash || (r.lo <= '/' && '/' <= r.hi);
    }
  }
};

struct ByteSetHash {
  size_t operator()(const ByteSet& s) const { return hash_words(s.data(), s.size()); }
};

// One walk over a regex (a DAG: an inner node shared by several parents is read once), its tests
// gathered without duplicates, and what it may read that JSON escapes. A JSON string's content is
// walked by a walk of its own that lists its tests (few: a key's letters) without a hash table, and
// a one-character ASCII set (a literal's, shared nodes) is tested once per walk: on a 160 KB schema's
// 393 lexemes, hashing every key letter's set and a table per key string was 9 % of its compile.
class TestWalk {
 public:
  std::unordered_set<ByteSet, ByteSetHash> tests;
  void run(const grammar::Regex& regex, EscapableRead* read) {
    using Kind = grammar::Regex::Kind;
    std::vector<const grammar::Regex*> stack{&regex};
    bool any = false;
    while (!stack.empty()) {
      const grammar::Regex& r = *stack.back();
      stack.pop_back();
      switch (r.kind) {
        case Kind::kChars:
          add_chars(r.chars);
          if (read) read->add(r.chars);
          break;
        case Kind::kBytes:
          add(range_set(r.byte_lo, r.byte_hi));
          if (read) *read = {true, true, true, true};
          break;
        case Kind::kAutomaton:
          if (r.automaton)
            for (const auto& edges : r.automaton->edges)
              for (const auto& e : edges) add(range_set(e.lo, e.hi));
          if (read) *read = {true, true, true, true};
          break;
        case Kind::kComplement:
          any = true;
          if (read) *read = {true, true, true, true};
          break;
        case Kind::kJsonString: {
          // Raw: the content's own bytes (its tests). Escaped (json_escape): \" \\ \/ \b \f \n
          // \r \t, and \u00XX for the other control characters: after "\u00", '0' or '1', then a
          // hex digit of either case. Only the escapes of characters the content may hold are
          // tested; unless the content tells control characters apart, the hex digits that
          // differ are those naming a control character with a short escape (U+0008/09/0A/0C/0D)
          // and the rest.
          if (r.items.empty() || !r.items[0]) break;
          if (read) *read = {true, true, true, true};  // a JSON string inside a JSON string: read as raw
          TestWalk content(true);
          EscapableRead esc;
          content.run(*r.items[0], &esc);
          bool differ = false;  // a content test splits U+0001..U+001F
          for (const ByteSet& t : content.listed_) {
            const uint64_t w = t[0] & 0xFFFFFFFFu;
            differ = differ || (w != 0 && w != 0xFFFFFFFFu);
            add(t);
          }
          // Never raw: control characters, '"' (the end) and the backslash (an escape).
          add(range_set(0x00, 0x1F));
          add(chars_set("\""));
          add(chars_set("\\"));
          if (esc.slash) add(chars_set("/"));
          if (esc.controls) {
            for (char c : std::string_view("bfnrtu01")) add(chars_set(std::string_view(&c, 1)));
            add(chars_set("0123456789abcdefABCDEF"));
            if (differ) {
              for (std::string_view pair : {"aA", "bB", "cC", "dD", "eE", "fF"}) add(chars_set(pair));
              for (char c = '0'; c <= '9'; ++c) add(chars_set(std::string_view(&c, 1)));
            } else {
              add(chars_set("89aAcCdD"));
            }
          }
          continue;  // the content was read above
        }
        default: break;
      }
      for (const auto& item : r.items) {
        if (!item) continue;
        if (!item->items.empty() && !seen_.insert(item.get()).second) continue;  // an inner node read before
        stack.push_back(item.get());
      }
    }
    // A complement reads every code point; an intersection only what its items read.
    if (any) add_chars(grammar::CharSet::any());
  }

  TestWalk() = default;

 private:
  explicit TestWalk(bool listing) : listing_(listing) {}
  void add(const ByteSet& t) {
    if (listing_) listed_.push_back(t);  // the parent dedups (and reads each for `differ`)
    else tests.insert(t);
  }
  void add_chars(const grammar::CharSet& set) {
    if (set.ranges().size() == 1 && set.ranges()[0].lo == set.ranges()[0].hi && set.ranges()[0].lo < 0x80) {
      const auto c = static_cast<size_t>(set.ranges()[0].lo);  // one ASCII character: its test once
      if (single_ascii_[c]) return;
      single_ascii_[c] = true;
    }
    ByteSet ascii{};
    bool longer = false;
    for (const auto& r : set.ranges()) {
      if (r.lo < 0x80) add_range(ascii, r.lo, std::min<char32_t>(r.hi, 0x7F));
      longer = longer || r.hi >= 0x80;
    }
    if (ascii != ByteSet{}) add(ascii);
    if (!longer) return;
    thread_local std::vector<Utf8Sequence> seqs;
    seqs.clear();
    for (const auto& r : set.ranges())
      if (r.hi >= 0x80) utf8_sequences(std::max<char32_t>(r.lo, 0x80), r.hi, seqs);
    for (const Utf8Sequence& q : seqs)
      for (int i = 0; i < q.length; ++i) add(range_set(q.ranges[i].lo, q.ranges[i].hi));
  }
  bool listing_ = false;         // a JSON string's content: tests listed, not hashed
  std::vector<ByteSet> listed_;  // when listing_
  std::bitset<128> single_ascii_;
  std::unordered_set<const grammar::Regex*> seen_;
};
}  // namespace

namespace {
// What a cached regex holds: its distinct nodes (a shared subtree once) and their ranges.
size_t regex_bytes(const grammar::Regex& root) {
  std::unordered_set<const grammar::Regex*> seen;
  std::vector<const grammar::Regex*> stack{&root};
  size_t bytes = 0;
  while (!stack.empty()) {
    const grammar::Regex* r = stack.back();
    stack.pop_back();
    if (!seen.insert(r).second) continue;
    bytes += sizeof(grammar::Regex) + 16 + r->items.size() * sizeof(grammar::RegexPtr) + r->chars.ranges().size() * 8;
    for (const auto& it : r->items) stack.push_back(it.get());
  }
  return bytes;
}
}  // namespace

LexemeDfaCache::List::iterator LexemeDfaCache::find_locked(size_t hash, const grammar::Regex& regex,
                                                           bool leftmost_first) {
  auto it = by_hash_.find(hash);
  if (it != by_hash_.end())
    for (List::iterator e : it->second)
      if (e->leftmost_first == leftmost_first && grammar::RegexIdentity::equal(*e->regex, regex)) return e;
  return lru_.end();
}

std::shared_ptr<const LexDfa> LexemeDfaCache::find(const grammar::Regex& regex, bool leftmost_first) {
  const size_t h = grammar::RegexIdentity::hash(regex);
  std::lock_guard<std::mutex> lock(mu_);
  auto e = find_locked(h, regex, leftmost_first);
  if (e == lru_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, e);
  return e->dfa;
}

void LexemeDfaCache::put(const grammar::RegexPtr& regex, bool leftmost_first, std::shared_ptr<const LexDfa> dfa) {
  const size_t cost = lex_dfa_bytes(*dfa) + regex_bytes(*regex) + 96;
  if (cost > max_bytes_) return;
  const size_t h = grammar::RegexIdentity::hash(*regex);
  std::lock_guard<std::mutex> lock(mu_);
  if (find_locked(h, *regex, leftmost_first) != lru_.end()) return;  // another grammar put it meanwhile
  while (bytes_ + cost > max_bytes_ && !lru_.empty()) {
    const Entry& last = lru_.back();
    auto& same = by_hash_[last.hash];
    same.erase(std::find(same.begin(), same.end(), std::prev(lru_.end())));
    if (same.empty()) by_hash_.erase(last.hash);
    bytes_ -= last.bytes;
    lru_.pop_back();
  }
  lru_.push_front(Entry{h, regex, leftmost_first, std::move(dfa), cost});
  by_hash_[h].push_back(lru_.begin());
  bytes_ += cost;
}

size_t LexemeDfaCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

size_t LexemeDfaCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

LexemeAutomata::LexemeAutomata(std::shared_ptr<const Cfg> cfg, const DfaOptions& options,
                               std::shared_ptr<LexemeDfaCache> shared)
    : cfg_(std::move(cfg)), options_(options), size_(cfg_->lexemes.size()),
      ptr_(std::make_unique<std::atomic<const LexDfa*>[]>(size_)), shared_(std::move(shared)), owned_(size_) {
  for (size_t l = 0; l < size_; ++l) ptr_[l].store(nullptr, std::memory_order_relaxed);
  if (!options_.sub_dfas) {
    sub_dfas_ = std::make_unique<SubDfaCache>();
    options_.sub_dfas = sub_dfas_.get();
  }
}

void LexemeAutomata::partition_unbuilt() {
  if (partition_ || num_built() == size_) return;  // all built: the walks read the DFAs' own classes
  // Bytes that every test (a byte set some lexeme's automaton may check a byte against) holds
  // or lacks alike are alike for every lexeme: refine one class by each test.
  TestWalk walk;  // one walk: lexemes share sub-regexes (a grammar's whitespace, strings, formats)
  for (const auto& r : cfg_->lexemes)
    if (r) walk.run(*r, nullptr);
  std::vector<ByteSet> tests(walk.tests.begin(), walk.tests.end());
  std::sort(tests.begin(), tests.end());
  // Each test moves its members of every class it holds in part to a new class (a class it holds
  // whole stays as it is), so ids stay below 256; renumbered by first byte at the end.
  std::array<uint16_t, 256> cls{}, size{}, hits{}, to{};
  size[0] = 256;
  uint16_t num = 1;
  std::vector<uint16_t> touched;
  for (const ByteSet& t : tests) {
    touched.clear();
    for (int w = 0; w < 4; ++w)
      for (uint64_t bits = t[w]; bits; bits &= bits - 1) {
        const uint16_t c = cls[w * 64 + __builtin_ctzll(bits)];
        if (hits[c]++ == 0) touched.push_back(c);
      }
    for (uint16_t c : touched) {
      to[c] = c;
      if (hits[c] < size[c]) {
        to[c] = num;
        size[num++] = hits[c];
        size[c] -= hits[c];
      }
      hits[c] = 0;
    }
    for (int w = 0; w < 4; ++w)
      for (uint64_t bits = t[w]; bits; bits &= bits - 1) {
        uint16_t& c = cls[w * 64 + __builtin_ctzll(bits)];
        c = to[c];
      }
  }
  std::array<uint16_t, 256> order;
  order.fill(UINT16_MAX);
  num = 0;
  for (int b = 0; b < 256; ++b) {
    if (order[cls[b]] == UINT16_MAX) order[cls[b]] = num++;
    cls[b] = order[cls[b]];
  }
  std::array<uint8_t, 256> part{};
  for (int b = 0; b < 256; ++b) part[b] = static_cast<uint8_t>(cls[b]);
  partition_classes_ = num;
  partition_ = part;
  for (uint32_t l = 0; l < size_; ++l)
    if (const LexDfa* d = ptr_[l].load(std::memory_order_acquire)) check_partition(l, *d);
}

void LexemeAutomata::check_partition(uint32_t lexeme, const LexDfa& d) const {
  // Bytes the partition puts together must share a class of this DFA (the walks rely on it).
  std::array<int, 256> first;  // per partition class: its first byte
  first.fill(-1);
  for (int b = 0; b < 256; ++b) {
    int& f = first[(*partition_)[b]];
    if (f < 0) f = b;
    else if (d.classes[f] != d.classes[b])
      throw Error(ErrorKind::kInternal, "lexeme " + std::to_string(lexeme) + " tells apart bytes " + std::to_string(f) +
                                            " and " + std::to_string(b) +
                                            " that the byte partition joins (please report it)");
  }
}

LexemeAutomata::LexemeAutomata(std::vector<LexDfa> dfas)
    : size_(dfas.size()), ptr_(std::make_unique<std::atomic<const LexDfa*>[]>(size_)), owned_(size_) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t l = 0; l < size_; ++l) publish_locked(static_cast<uint32_t>(l), std::move(dfas[l]));
}

LexemeAutomata::~LexemeAutomata() = default;

const LexDfa& LexemeAutomata::publish_locked(uint32_t lexeme, LexDfa d) const {
  return publish_locked(lexeme, std::make_shared<const LexDfa>(std::move(d)));
}

const LexDfa& LexemeAutomata::publish_locked(uint32_t lexeme, std::shared_ptr<const LexDfa> d) const {
  bytes_.fetch_add(lex_dfa_bytes(*d), std::memory_order_relaxed);
  states_.fetch_add(d->num_states(), std::memory_order_relaxed);
  const LexDfa* p = d.get();
  owned_[lexeme] = std::move(d);  // sized up front: written before ptr_ publishes it
  ptr_[lexeme].store(p, std::memory_order_release);
  built_.fetch_add(1, std::memory_order_acq_rel);
  return *p;
}

std::shared_ptr<const LexDfa> LexemeAutomata::shared_dfa(uint32_t lexeme) const {
  if (!shared_) return nullptr;
  get(lexeme);
  return owned_[lexeme];  // published before ptr_[lexeme] (release; get acquired it): never written again
}

const LexDfa& LexemeAutomata::build(uint32_t lexeme) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (const LexDfa* d = ptr_[lexeme].load(std::memory_order_acquire)) return *d;  // another thread built it
  if (!cfg_) throw Error(ErrorKind::kInternal, "lexeme automaton missing from a loaded grammar");
  const grammar::Regex& r = *cfg_->lexemes[lexeme];
  const bool lf = cfg_->lexeme_lf[lexeme] != 0;
  // Built before for another grammar: taken when within this grammar's budgets (else built here,
  // which gives the budget's error).
  std::shared_ptr<const LexDfa> d = shared_ ? shared_->find(r, lf) : nullptr;
  if (d && (d->num_states() > options_.max_states || lex_dfa_bytes(*d) > options_.max_memory_bytes)) d.reset();
  const bool found = d != nullptr;
  if (!found) {
    // TOLLGATE_CFG_DEBUG (fsm/cfg_debug.hpp): builds over 500 µs of thread CPU time, with their
    // states and regex — where a mask's first visit went.
    const auto t0 = cfg_debug_now();
    d = std::make_shared<const LexDfa>(
        LexDfa::from(lf ? compile_leftmost_first_dfa(r, options_) : compile_dfa(r, options_)));
    if (cfg_debug_enabled()) {
      const double us = cfg_debug_elapsed_us(t0);
      if (us > cfg_debug_threshold_us(500)) {
        const std::string text = r.to_string();  // its start and its end (what a lexeme ends with)
        std::fprintf(stderr, "lexeme automaton %.1f ms: lexeme %u, %u states (%.100s%s%s)\n", us / 1000, lexeme,
                     d->num_states(), text.c_str(), text.size() > 160 ? " … " : "",
                     text.size() > 160 ? text.c_str() + text.size() - 60 : text.size() > 100 ? text.c_str() + 100 : "");
      }
    }
  }
  if (partition_) check_partition(lexeme, *d);
  if (found) shared_hits_.fetch_add(1, std::memory_order_relaxed);
  else if (shared_) shared_->put(cfg_->lexemes[lexeme], lf, d);
  const LexDfa& out = publish_locked(lexeme, std::move(d));
  if (built_.load(std::memory_order_relaxed) == size_) {
    sub_dfas_.reset();  // nothing left to build
    options_.sub_dfas = nullptr;
  }
  sub_dfa_bytes_.store(sub_dfas_ ? sub_dfas_->memory_bytes() : 0, std::memory_order_relaxed);
  return out;
}

CfgRuntime::CfgRuntime(Cfg cfg, const DfaOptions& options, size_t max_earley_items,
                       const std::function<void(size_t, size_t)>& on_lexeme, size_t eager_states,
                       std::shared_ptr<LexemeDfaCache> shared_lexemes, double eager_ms)
    : cfg_(std::make_shared<const Cfg>(std::move(cfg))) {
  if (cfg_->leftmost_first) eager_states = SIZE_MAX;
  auto dfas = std::make_shared<LexemeAutomata>(cfg_, options, std::move(shared_lexemes));
  dfas_ = dfas;
  const uint32_t n = static_cast<uint32_t>(cfg_->lexemes.size());
  size_t built = 0;
  uint32_t l = 0;
  for (; l < n && built < eager_states; ++l) {
    check_budget();
    built += dfas->get(l).num_states();
    if (on_lexeme) on_lexeme(l + 1, n);
  }
  if (eager_ms > 0 && l < n) {
    // Then on, in order, until eager_ms have passed (the lexeme being built then is finished). A
    // lexeme over the DFA budgets is left to the mask that needs it, whose error it is when built
    // lazily: what the compile gives does not depend on how far the time went.
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double, std::milli>(eager_ms);
    for (; l < n && std::chrono::steady_clock::now() < until; ++l) {
      check_budget();
      try {
        dfas->get(l);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kLimit) throw;
        check_budget_now();  // the compile's own deadline: its error
      }
      if (on_lexeme) on_lexeme(l + 1, n);
    }
  }
  dfas->partition_unbuilt();
  init(max_earley_items);
  if (dfas->num_built() < dfas->size()) {
    // The rest on first use; what the first step needs is built now (under the compile's
    // budget: a compile error when over it), whatever eager_states says.
    (void)initial();
    if (on_lexeme) on_lexeme(cfg_->lexemes.size(), cfg_->lexemes.size());
  }
}

CfgRuntime::CfgRuntime(Cfg cfg, std::vector<LexDfa> dfas, size_t max_earley_items)
    : CfgRuntime(std::make_shared<const Cfg>(std::move(cfg)), std::make_shared<const LexemeAutomata>(std::move(dfas)),
                 max_earley_items) {}

CfgRuntime::CfgRuntime(std::shared_ptr<const Cfg> cfg, std::shared_ptr<const LexemeAutomata> dfas,
                       size_t max_earley_items)
    : cfg_(std::move(cfg)), dfas_(std::move(dfas)) {
  init(max_earley_items);
}

std::unique_ptr<CfgRuntime> CfgRuntime::next_generation() const {
  return std::unique_ptr<CfgRuntime>(new CfgRuntime(cfg_, dfas_, graph_->max_items()));
}

void CfgRuntime::init(size_t max_earley_items) {
  graph_ = std::make_unique<EarleyGraph>(*cfg_, max_earley_items);
  bool any_free = false;
  for (size_t l = 0; l < dfas_->size(); ++l) {
    if (!cfg_->lexeme_lf[l]) any_free = true;
    if (cfg_->is_ignore[l]) ignore_lexemes_.push_back(static_cast<uint32_t>(l));
  }
  mixed_ignore_ = any_free && cfg_->leftmost_first && !ignore_lexemes_.empty();
  guard_sets_.emplace_back();  // guard 0: nothing pending
  guard_ids_.emplace(std::vector<uint64_t>{}, 0);
  if (cfg_->leftmost_first) {
    // Every state numbered (all lexemes are built: see the constructor), and the guard of a
    // completion from an unguarded thread for every state: read without a lock.
    size_t total_states = 0;
    for (uint32_t l = 0; l < dfas_->size(); ++l) {
      state_offset_.push_back(static_cast<uint32_t>(total_states));
      total_states += dfa(l).num_states();
    }
    if (total_states >= UINT32_MAX) throw Error(ErrorKind::kLimit, "too many lexeme DFA states in one grammar");
    single_guard_.assign(total_states, 0);
    for (uint32_t l = 0; l < dfas_->size(); ++l) {
      const LexDfa& d = dfa(l);
      for (uint32_t q = 0; q < d.num_states(); ++q)
        if (cfg_->lexeme_lf[l] && d.is_final(q) && d.live[q])
          single_guard_[state_offset_[l] + q] = guard_add_locked(0, l, q);
    }
  }
  std::lock_guard<std::mutex> lock(guard_mu_);
  account_guards_locked();
}

void CfgRuntime::account_guards_locked() const {
  guard_bytes_.store(guard_set_bytes_ + guard_ids_.bucket_count() * sizeof(void*) + single_guard_.size() * 4 +
                         guard_step_memo_.memory_bytes() + guard_add_memo_.memory_bytes(),
                     std::memory_order_relaxed);
}

void CfgRuntime::spawn(uint32_t node, Threads& out, uint32_t guard) const {
  const EarleyGraph::Node& n = graph_->node(node);
  bool lark = !mixed_ignore_ || n.accepting;
  for (uint32_t l : n.expected) {
    if (const LexDfa& d = dfa(l); d.num_states() > 1) out.push_back({l, d.start, node, guard});
    lark = lark || cfg_->lexeme_lf[l];
  }
  // A node with an item of a Lark rule is between Lark symbols (before or after an embedded
  // schema, too); one with only the schema's items is inside it.
  for (size_t i = 0; !lark && i < n.items.size(); ++i) lark = !cfg_->nt_free[cfg_->prods[n.items[i].prod].lhs];
  if (!lark) return;  // inside an embedded JSON Schema: the grammar's %ignore does not apply
  for (uint32_t l : ignore_lexemes_)
    if (const LexDfa& d = dfa(l); d.num_states() > 1) out.push_back({l, d.start, node, guard});
}

void CfgRuntime::normalise(Threads& threads) {
  if (threads.size() < 2) return;
  std::sort(threads.begin(), threads.end());
  // A guarded thread next to the same thread unguarded adds nothing (guard 0 sorts first).
  size_t n = 1;
  for (size_t i = 1; i < threads.size(); ++i) {
    const Thread& p = threads[n - 1];
    const Thread& t = threads[i];
    bool same = t.node == p.node && t.lexeme == p.lexeme && t.state == p.state;
    if (same && (p.guard == 0 || p.guard == t.guard)) continue;
    threads[n++] = t;
  }
  threads.resize(n);
}

ParserState CfgRuntime::initial() const {
  ParserState s;
  uint32_t n = graph_->initial();
  spawn(n, s.threads);
  normalise(s.threads);
  s.accepting = graph_->node(n).accepting;
  return s;
}

bool CfgRuntime::step(const ParserState& in, uint8_t byte, ParserState& out, bool* popped) const {
  out.threads.clear();
  // Completions at this byte, merged per guard (only leftmost-first lexing has guards).
  uint32_t fresh = kNoNode;
  thread_local std::vector<std::pair<uint32_t, uint32_t>> guarded;  // (guard, node)
  guarded.clear();
  uint32_t last_in = 0, last_out = 0;  // memo of the previous guard step
  for (const Thread& t : in.threads) {
    const LexDfa& d = dfa(t.lexeme);
    uint32_t q = d.next(t.state, byte);
    if (q == kDead) continue;
    uint32_t g = t.guard;
    if (g != 0) {
      if (g != last_in) {
        last_in = g;
        last_out = guard_step(g, byte);
      }
      g = last_out;
      if (g == kFired) continue;
    }
    out.threads.push_back({t.lexeme, q, t.node, g});
    if (!d.is_final(q)) continue;
    uint32_t y = cfg_->is_ignore[t.lexeme] ? t.node : graph_->scan(t.node, t.lexeme);
    if (y == kNoNode) continue;
    uint32_t cg = completion_guard(t.lexeme, q);
    if (g != 0) {
      cg = g;
      if (cfg_->lexeme_lf[t.lexeme] && d.live[q]) cg = guard_add(g, t.lexeme, q);
    }
    if (cg == 0) {
      fresh = graph_->merge(fresh, y);
      continue;
    }
    auto it = std::find_if(guarded.begin(), guarded.end(), [&](auto& p) { return p.first == cg; });
    if (it == guarded.end()) guarded.push_back({cg, y});
    else it->second = graph_->merge(it->second, y);
  }
  out.accepting = false;
  auto spawn_from = [&](uint32_t node, uint32_t guard) {
    spawn(node, out.threads, guard);
    const EarleyGraph::Node& fn = graph_->node(node);
    out.accepting = out.accepting || fn.accepting;
    if (popped && fn.pops) *popped = true;
  };
  if (fresh != kNoNode) spawn_from(fresh, 0);
  for (auto [g, node] : guarded) spawn_from(node, g);
  normalise(out.threads);
  return !out.threads.empty() || out.accepting;
}

size_t CfgRuntime::KeyHash::operator()(const std::vector<uint64_t>& v) const {
  return hash_words(v);
}

uint32_t CfgRuntime::guard_intern_locked(std::vector<uint64_t> members) const {
  auto it = guard_ids_.find(members);
  if (it != guard_ids_.end()) return it->second;
  uint32_t id = static_cast<uint32_t>(guard_sets_.size());
  guard_set_bytes_ += 2 * (members.capacity() * 8 + 32) + 64;  // the set and the index's copy
  guard_sets_.push_back(members);
  guard_ids_.emplace(std::move(members), id);
  return id;
}

uint32_t CfgRuntime::guard_step_locked(uint32_t guard, uint8_t byte) const {
  uint64_t key = (static_cast<uint64_t>(guard) << 8) | byte;
  if (uint64_t m = guard_step_memo_.find(key); m != AtomicMemo::kMissing) return static_cast<uint32_t>(m);
  std::vector<uint64_t> next;
  uint32_t result = 0;
  for (uint64_t m : guard_sets_[guard]) {
    uint32_t l = static_cast<uint32_t>(m >> 32);
    const LexDfa& d = dfa(l);
    uint32_t q = d.next(static_cast<uint32_t>(m), byte);
    if (q == kDead) continue;
    if (d.is_final(q)) {
      result = kFired;
      break;
    }
    next.push_back((static_cast<uint64_t>(l) << 32) | q);
  }
  if (result != kFired) {
    std::sort(next.begin(), next.end());
    next.erase(std::unique(next.begin(), next.end()), next.end());
    result = guard_intern_locked(std::move(next));
  }
  guard_step_memo_.insert(key, result);
  return result;
}

uint32_t CfgRuntime::guard_add_locked(uint32_t guard, uint32_t lexeme, uint32_t state) const {
  uint64_t key = (static_cast<uint64_t>(guard) << 32) | (state_offset_[lexeme] + state);
  if (uint64_t m = guard_add_memo_.find(key); m != AtomicMemo::kMissing) return static_cast<uint32_t>(m);
  uint64_t m = (static_cast<uint64_t>(lexeme) << 32) | state;
  std::vector<uint64_t> next = guard_sets_[guard];
  auto pos = std::lower_bound(next.begin(), next.end(), m);
  if (pos == next.end() || *pos != m) next.insert(pos, m);
  uint32_t id = guard_intern_locked(std::move(next));
  guard_add_memo_.insert(key, id);
  return id;
}

uint32_t CfgRuntime::guard_step(uint32_t guard, uint8_t byte) const {
  if (guard == 0) return 0;
  uint64_t key = (static_cast<uint64_t>(guard) << 8) | byte;
  if (uint64_t m = guard_step_memo_.find(key); m != AtomicMemo::kMissing) return static_cast<uint32_t>(m);
  std::lock_guard<std::mutex> lock(guard_mu_);
  uint32_t result = guard_step_locked(guard, byte);
  account_guards_locked();
  return result;
}

uint32_t CfgRuntime::guard_add(uint32_t guard, uint32_t lexeme, uint32_t state) const {
  uint64_t key = (static_cast<uint64_t>(guard) << 32) | (state_offset_[lexeme] + state);
  if (uint64_t m = guard_add_memo_.find(key); m != AtomicMemo::kMissing) return static_cast<uint32_t>(m);
  std::lock_guard<std::mutex> lock(guard_mu_);
  uint32_t result = guard_add_locked(guard, lexeme, state);
  account_guards_locked();
  return result;
}

bool CfgRuntime::feed(ParserState& state, std::string_view bytes) const {
  ParserState next;
  for (unsigned char b : bytes) {
    if (!step(state, b, next)) return false;
    std::swap(state, next);
  }
  return true;
}

bool CfgRuntime::matches(std::string_view bytes) const {
  ParserState s = initial();
  return feed(s, bytes) && s.accepting;
}

bool CfgRuntime::is_prefix(std::string_view bytes) const {
  ParserState s = initial();
  return feed(s, bytes);
}

std::string CfgRuntime::forced_bytes(const ParserState& state, size_t max_bytes) const {
  std::string out;
  ParserState cur = state, next, only_next;
  while (out.size() < max_bytes && !cur.accepting) {
    int only = -1;
    bool many = false;
    for (int b = 0; b < 256 && !many; ++b) {
      bool some = false;
      for (const Thread& t : cur.threads)
        if (dfa(t.lexeme).next(t.state, static_cast<uint8_t>(b)) != kDead) {
          some = true;
          break;
        }
      // A byte some lexeme allows may still be refused (a guard fires); step decides.
      if (!some || !step(cur, static_cast<uint8_t>(b), next)) continue;
      if (only >= 0) many = true;
      only = b;
      std::swap(only_next, next);
    }
    if (many || only < 0) break;
    out.push_back(static_cast<char>(only));
    std::swap(cur, only_next);
  }
  return out;
}

size_t CfgRuntime::memory_bytes() const {
  size_t b = generation_bytes();
  return b + dfas_->memory_bytes();
}

}  // namespace tollgate::fsm
