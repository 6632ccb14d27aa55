// Byte-level stepping of lexeme threads under the Earley graph (see cfg_runtime.hpp).
#include "fsm/cfg_runtime.hpp"

#include <algorithm>

#include "fsm/budget.hpp"
#include "fsm/hash.hpp"

namespace tollgate::fsm {

LexDfa LexDfa::from(const Dfa& dfa) {
  LexDfa l;
  l.classes = dfa.byte_classes();
  l.num_classes = static_cast<uint32_t>(dfa.num_classes());
  uint32_t n = static_cast<uint32_t>(dfa.num_states());
  // A representative byte per class.
  std::vector<int> rep(l.num_classes, -1);
  for (int b = 0; b < 256; ++b)
    if (rep[l.classes[b]] < 0) rep[l.classes[b]] = b;
  l.table.assign(static_cast<size_t>(n + 1) * l.num_classes, kDead);
  l.finals.assign(n + 1, 0);
  l.live.assign(n + 1, 0);
  for (uint32_t s = 0; s < n; ++s) {
    l.finals[s] = dfa.is_final(s);
    for (uint32_t c = 0; c < l.num_classes; ++c)
      if (rep[c] >= 0) l.table[static_cast<size_t>(s) * l.num_classes + c] = dfa.next(s, static_cast<uint8_t>(rep[c]));
  }
  l.start = n;  // clone of the start state, not final
  if (n > 0)
    for (uint32_t c = 0; c < l.num_classes; ++c)
      l.table[static_cast<size_t>(n) * l.num_classes + c] = l.table[static_cast<size_t>(dfa.start()) * l.num_classes + c];
  for (uint32_t s = 0; s <= n; ++s)
    for (uint32_t c = 0; c < l.num_classes; ++c)
      if (l.table[static_cast<size_t>(s) * l.num_classes + c] != kDead) l.live[s] = 1;
  return l;
}

CfgRuntime::CfgRuntime(Cfg cfg, const DfaOptions& options, size_t max_earley_items,
                       const std::function<void(size_t, size_t)>& on_lexeme)
    : cfg_(std::make_shared<const Cfg>(std::move(cfg))) {
  std::vector<LexDfa> dfas;
  dfas.reserve(cfg_->lexemes.size());
  // Sub-automata (JSON string languages, intersections) shared by the lexemes of this grammar.
  SubDfaCache sub_dfas;
  DfaOptions dfa_options = options;
  if (!dfa_options.sub_dfas) dfa_options.sub_dfas = &sub_dfas;
  for (size_t l = 0; l < cfg_->lexemes.size(); ++l) {
    check_budget();
    const grammar::Regex& r = *cfg_->lexemes[l];
    dfas.push_back(LexDfa::from(cfg_->lexeme_lf[l] ? compile_leftmost_first_dfa(r, dfa_options) : compile_dfa(r, dfa_options)));
    if (on_lexeme) on_lexeme(l + 1, cfg_->lexemes.size());
  }
  dfas_ = std::make_shared<const std::vector<LexDfa>>(std::move(dfas));
  init(max_earley_items);
}

CfgRuntime::CfgRuntime(Cfg cfg, std::vector<LexDfa> dfas, size_t max_earley_items)
    : CfgRuntime(std::make_shared<const Cfg>(std::move(cfg)), std::make_shared<const std::vector<LexDfa>>(std::move(dfas)),
                 max_earley_items) {}

CfgRuntime::CfgRuntime(std::shared_ptr<const Cfg> cfg, std::shared_ptr<const std::vector<LexDfa>> dfas,
                       size_t max_earley_items)
    : cfg_(std::move(cfg)), dfas_(std::move(dfas)) {
  init(max_earley_items);
}

std::unique_ptr<CfgRuntime> CfgRuntime::next_generation() const {
  return std::unique_ptr<CfgRuntime>(new CfgRuntime(cfg_, dfas_, graph_->max_items()));
}

void CfgRuntime::init(size_t max_earley_items) {
  dfa_ = dfas_->data();
  graph_ = std::make_unique<EarleyGraph>(*cfg_, max_earley_items);
  uint32_t total_states = 0;
  bool any_free = false;
  for (size_t l = 0; l < dfas_->size(); ++l) {
    if (!cfg_->lexeme_lf[l]) any_free = true;
    if (cfg_->is_ignore[l]) ignore_lexemes_.push_back(static_cast<uint32_t>(l));
    state_offset_.push_back(total_states);
    total_states += dfa_[l].num_states();
  }
  mixed_ignore_ = any_free && cfg_->leftmost_first && !ignore_lexemes_.empty();
  guard_sets_.emplace_back();  // guard 0: nothing pending
  guard_ids_.emplace(std::vector<uint64_t>{}, 0);
  if (cfg_->leftmost_first) {
    // The guard of a completion from an unguarded thread, for every state: read without a lock.
    single_guard_.assign(total_states, 0);
    for (uint32_t l = 0; l < dfas_->size(); ++l)
      for (uint32_t q = 0; q < dfa_[l].num_states(); ++q)
        if (cfg_->lexeme_lf[l] && dfa_[l].is_final(q) && dfa_[l].live[q])
          single_guard_[state_offset_[l] + q] = guard_add_locked(0, l, q);
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
    if (dfa_[l].num_states() > 1) out.push_back({l, dfa_[l].start, node, guard});
    lark = lark || cfg_->lexeme_lf[l];
  }
  // A node with an item of a Lark rule is between Lark symbols (before or after an embedded
  // schema, too); one with only the schema's items is inside it.
  for (size_t i = 0; !lark && i < n.items.size(); ++i) lark = !cfg_->nt_free[cfg_->prods[n.items[i].prod].lhs];
  if (!lark) return;  // inside an embedded JSON Schema: the grammar's %ignore does not apply
  for (uint32_t l : ignore_lexemes_)
    if (dfa_[l].num_states() > 1) out.push_back({l, dfa_[l].start, node, guard});
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
    const LexDfa& d = dfa_[t.lexeme];
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
    uint32_t q = dfa_[l].next(static_cast<uint32_t>(m), byte);
    if (q == kDead) continue;
    if (dfa_[l].is_final(q)) {
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
        if (dfa_[t.lexeme].next(t.state, static_cast<uint8_t>(b)) != kDead) {
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
  for (auto& d : *dfas_) b += d.table.size() * 4 + d.finals.size() + sizeof(LexDfa);
  return b;
}

}  // namespace tollgate::fsm
