// CompiledGrammar::serialize / deserialize: a compiled grammar as bytes, to be stored in a cache
// (engine/grammar_cache.cpp, Redis) and loaded by another process with the same tokenizer.
// Takes: a CompiledGrammar (regular back-end: the minimal DFA and its precomputed masks;
// context-free back-end: the CFG's productions, the lexeme DFAs and every token index entry
// computed so far, with the states that use it; a JSON Schema's uniqueItems plan), or a blob and a
// tokenizer.
// Gives: a blob — header (magic, format version, back-end kind, tokenizer fingerprint, payload
// size, SHA-256 over the header fields and the payload) then the payload — or the grammar back.
// A blob of another format version or tokenizer, a truncated or corrupted one, is refused with
// Error(kInvalidArgument) saying which; every count and index is checked against the bytes left
// and the structures it points into before it is used (automaton targets, production symbols and
// numbers, token ids, trie nodes, index entry numbers and states, bits past the vocabulary), so
// no blob — not even a forged one with a valid checksum — crashes the loader or a later step.
// The Earley graph and the mask caches are not stored: they are rebuilt on use.
#include "engine/grammar_blob.hpp"
#include "fsm/hash.hpp"

#include <cinttypes>
#include <cstring>
#include <type_traits>

#include "engine/cfg_backend.hpp"
#include "engine/regex_backend.hpp"
#include "engine/digest.hpp"
#include "grammar/regex_ast.hpp"

namespace tollgate::engine {

namespace {

constexpr char kMagic[8] = {'T', 'G', 'C', 'G', 'B', 'L', 'O', 'B'};
// magic 8, version 4, kind 4, tokenizer fingerprint 64 (hex), payload size 8, SHA-256 32 over
// the bytes from the version to the payload size and the payload.
constexpr size_t kFingerprintBytes = 64;
constexpr size_t kSummed = 4 + 4 + kFingerprintBytes + 8;
constexpr size_t kHeaderBytes = 8 + kSummed + 32;
static_assert(kHeaderBytes == kBlobHeaderBytes);
enum : uint32_t { kKindRegex = 1, kKindCfg = 2 };

[[noreturn]] void fail(const std::string& what) {
  throw Error(ErrorKind::kInvalidArgument, "compiled grammar blob: " + what);
}

class Writer {
 public:
  std::string out;
  template <class T>
  void pod(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  template <class T>
  void vec(const std::vector<T>& v) {
    pod<uint64_t>(v.size());
    if (!v.empty()) out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  void str(std::string_view s) {
    pod<uint64_t>(s.size());
    out.append(s);
  }
};

class Reader {
 public:
  Reader(const char* p, size_t n) : p_(p), end_(p + n) {}
  template <class T>
  T pod() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }
  // A count of items of `item_bytes` each that must fit in what is left.
  size_t count(size_t item_bytes) {
    uint64_t n = pod<uint64_t>();
    if (item_bytes > 0 && n > left() / item_bytes) fail("malformed (a count of " + std::to_string(n) + " overruns the blob)");
    if (item_bytes == 0 && n > left()) fail("malformed (a count overruns the blob)");
    return static_cast<size_t>(n);
  }
  template <class T>
  std::vector<T> vec() {
    static_assert(std::is_trivially_copyable_v<T>);
    size_t n = count(sizeof(T));
    std::vector<T> v(n);
    if (n) std::memcpy(v.data(), p_, n * sizeof(T));
    p_ += n * sizeof(T);
    return v;
  }
  std::string str() {
    size_t n = count(1);
    std::string s(p_, n);
    p_ += n;
    return s;
  }
  size_t left() const { return static_cast<size_t>(end_ - p_); }

 private:
  void need(size_t n) const {
    if (left() < n) fail("malformed (a field runs past the end)");
  }
  const char* p_;
  const char* end_;
};

void check(bool ok, const char* what) {
  if (!ok) fail(std::string("malformed (") + what + ")");
}

// --- common parts: statistics and warnings ---
void write_common(Writer& w, const CompiledGrammar::Impl& g) {
  const CompileStats& s = g.stats;
  w.pod<uint64_t>(s.dfa_states);
  w.pod<uint64_t>(s.lexemes);
  w.pod<uint64_t>(s.distinct_masks);
  w.pod<uint64_t>(s.index_bytes);
  w.pod(s.parse_ms);
  w.pod(s.dfa_ms);
  w.pod(s.index_ms);
  w.pod(s.total_ms);
  w.pod<uint64_t>(g.warnings.size());
  for (const CompileWarning& cw : g.warnings) {
    w.str(cw.message);
    w.str(cw.pos.file);
    w.pod<int32_t>(cw.pos.line);
    w.pod<int32_t>(cw.pos.column);
    w.str(cw.pos.source_line);
    w.pod<int32_t>(cw.pos.source_column);
    w.pod<int32_t>(cw.pos.end_line);
    w.pod<int32_t>(cw.pos.end_column);
    w.str(cw.pos.pointer);
  }
}

void read_common(Reader& r, CompileStats& s, std::vector<CompileWarning>& warnings) {
  s.dfa_states = r.pod<uint64_t>();
  s.lexemes = r.pod<uint64_t>();
  s.distinct_masks = r.pod<uint64_t>();
  s.index_bytes = r.pod<uint64_t>();
  s.parse_ms = r.pod<double>();
  s.dfa_ms = r.pod<double>();
  s.index_ms = r.pod<double>();
  s.total_ms = r.pod<double>();
  size_t n = r.count(8 * 4 + 4 * 5);
  for (size_t i = 0; i < n; ++i) {
    CompileWarning cw;
    cw.message = r.str();
    cw.pos.file = r.str();
    cw.pos.line = r.pod<int32_t>();
    cw.pos.column = r.pod<int32_t>();
    cw.pos.source_line = r.str();
    cw.pos.source_column = r.pod<int32_t>();
    cw.pos.end_line = r.pod<int32_t>();
    cw.pos.end_column = r.pod<int32_t>();
    cw.pos.pointer = r.str();
    warnings.push_back(std::move(cw));
  }
}

// A transition table over `classes` of `states` states: every entry a state or kDead.
void check_table(const std::array<uint8_t, 256>& classes, size_t num_classes, const std::vector<uint32_t>& table,
                 size_t states) {
  check(num_classes >= 1 && num_classes <= 256, "byte class count");
  for (uint8_t c : classes) check(c < num_classes, "byte class");
  check(table.size() == states * num_classes, "transition table size");
  for (uint32_t t : table) check(t == fsm::kDead || t < states, "transition target");
}

// No bit at or past `vocab_size` in the last word of a mask (`words` words).
void check_tail(uint32_t word, uint32_t bits, size_t words, int32_t vocab_size) {
  const uint32_t tail = static_cast<uint32_t>(vocab_size) % 32;
  if (tail != 0 && word == words - 1) check((bits >> tail) == 0, "mask bit past the vocabulary");
}

}  // namespace

// --- the regular back-end ---
struct GrammarBlob {
  static void write_regex(Writer& w, const RegexGrammar& g) {
    w.pod<uint8_t>(g.strip_first_space);
    const fsm::Dfa& d = g.dfa;
    std::vector<uint32_t> table(d.num_states() * d.num_classes());
    std::vector<uint8_t> finals(d.num_states());
    std::array<int, 256> rep;
    rep.fill(-1);
    for (int b = 0; b < 256; ++b)
      if (rep[d.byte_classes()[b]] < 0) rep[d.byte_classes()[b]] = b;
    for (uint32_t s = 0; s < d.num_states(); ++s) {
      finals[s] = d.is_final(s);
      for (size_t c = 0; c < d.num_classes(); ++c)
        table[s * d.num_classes() + c] = rep[c] < 0 ? fsm::kDead : d.next(s, static_cast<uint8_t>(rep[c]));
    }
    w.pod<uint32_t>(d.start());
    w.pod(d.byte_classes());
    w.pod<uint64_t>(d.num_classes());
    w.vec(table);
    w.vec(finals);
    const fsm::TokenIndex& x = g.index;
    w.pod<int32_t>(x.words_);
    w.vec(x.refs_);
    w.vec(x.dense_);
    w.vec(x.sparse_);
    w.vec(x.mask_of_state_);
    w.pod<uint32_t>(x.first_mask_id_);
  }

  static std::unique_ptr<RegexGrammar> read_regex(Reader& r, const TokenizerInfoPtr& tokenizer) {
    auto g = std::make_unique<RegexGrammar>();
    g->tokenizer = tokenizer;
    g->strip_first_space = r.pod<uint8_t>() != 0;
    uint32_t start = r.pod<uint32_t>();
    auto classes = r.pod<std::array<uint8_t, 256>>();
    uint64_t k = r.pod<uint64_t>();
    auto table = r.vec<uint32_t>();
    auto finals = r.vec<uint8_t>();
    const size_t n = finals.size();
    check(n >= 1 && start < n, "DFA start state");
    check_table(classes, k, table, n);
    g->dfa = fsm::Dfa(start, classes, k, std::move(table), std::move(finals));
    fsm::TokenIndex& x = g->index;
    x.words_ = r.pod<int32_t>();
    check(x.words_ == bitmask_words(tokenizer->vocab_size()), "mask width");
    x.refs_ = r.vec<fsm::TokenIndex::MaskRef>();
    x.dense_ = r.vec<uint32_t>();
    x.sparse_ = r.vec<fsm::TokenIndex::WordBits>();
    x.mask_of_state_ = r.vec<uint32_t>();
    x.first_mask_id_ = r.pod<uint32_t>();
    const size_t words = static_cast<size_t>(x.words_);
    for (const auto& ref : x.refs_) {
      if (ref.count == UINT32_MAX) {
        check(ref.offset <= x.dense_.size() && words <= x.dense_.size() - ref.offset, "dense mask offset");
        check_tail(static_cast<uint32_t>(words - 1), x.dense_[ref.offset + words - 1], words, tokenizer->vocab_size());
      } else {
        check(ref.offset <= x.sparse_.size() && ref.count <= x.sparse_.size() - ref.offset, "sparse mask offset");
      }
    }
    for (const auto& wb : x.sparse_) {
      check(wb.word < words, "sparse mask word");
      check_tail(wb.word, wb.bits, words, tokenizer->vocab_size());
    }
    check(x.mask_of_state_.size() == n, "mask table size");
    for (uint32_t m : x.mask_of_state_) check(m < x.refs_.size(), "mask id");
    check(x.first_mask_id_ < x.refs_.size(), "first mask id");
    return g;
  }

  // --- the context-free back-end ---
  static void write_cfg(Writer& w, const CfgGrammar& g) {
    const fsm::CfgRuntime& rt = *g.rt;
    const fsm::Cfg& cfg = rt.cfg();
    w.pod<uint64_t>(cfg.prods.size());
    for (const fsm::Production& p : cfg.prods) {
      w.pod<int32_t>(p.lhs);
      w.vec(p.rhs);
    }
    w.pod<uint64_t>(cfg.nt_names.size());
    for (const std::string& s : cfg.nt_names) w.str(s);
    w.pod<uint64_t>(cfg.prods_of.size());
    for (const auto& v : cfg.prods_of) w.vec(v);
    w.vec(cfg.nullable);
    w.vec(cfg.is_ignore);
    w.vec(cfg.lexeme_lf);
    w.vec(cfg.lexeme_last);
    w.vec(cfg.nt_free);
    w.pod<uint8_t>(cfg.leftmost_first);
    w.pod<uint64_t>(rt.num_lexemes());
    for (uint32_t l = 0; l < rt.num_lexemes(); ++l) {
      const fsm::LexDfa& d = rt.dfa(l);
      w.pod<uint32_t>(d.start);
      w.pod<uint32_t>(d.num_classes);
      w.pod(d.classes);
      w.vec(d.table);
      w.vec(d.finals);
      w.vec(d.live);
    }
    w.pod<uint32_t>(g.context_depth);
    w.pod<uint64_t>(g.mask_cache_budget);
    w.pod<uint64_t>(g.cache_budget);
    w.pod<uint64_t>(g.walk_budget);
    w.pod<uint64_t>(rt.graph().max_items());
    w.pod<uint8_t>(g.share_states_);
    // The index entries computed so far: their dense bitsets (deduplicated), the entries with
    // their keys, then the entry number (+1, 0: not computed) of every (lexeme, state).
    std::lock_guard<std::mutex> lock(g.index_mu_);
    std::unordered_map<const CfgGrammar::Slot*, std::string> key_of;
    for (const auto& [k, s] : g.by_key_) key_of.emplace(s, k);
    std::unordered_map<const std::vector<uint32_t>*, uint32_t> dense_id;
    std::vector<const std::vector<uint32_t>*> dense;
    for (const CfgGrammar::Slot& s : g.owned_)
      if (s.entry->dense && dense_id.emplace(s.entry->dense.get(), static_cast<uint32_t>(dense.size())).second)
        dense.push_back(s.entry->dense.get());
    w.pod<uint64_t>(dense.size());
    for (const auto* d : dense) w.vec(*d);
    w.pod<uint64_t>(g.owned_.size());
    std::unordered_map<const CfgGrammar::Slot*, uint32_t> number;
    for (const CfgGrammar::Slot& s : g.owned_) {
      number.emplace(&s, static_cast<uint32_t>(number.size()));
      auto k = key_of.find(&s);
      w.str(k == key_of.end() ? std::string() : k->second);
      const IndexEntry& e = *s.entry;
      w.pod<uint32_t>(e.dense ? dense_id.at(e.dense.get()) : UINT32_MAX);
      w.vec(e.ids);
      w.vec(e.roots);
      w.vec(e.root_states);
    }
    std::vector<uint32_t> slots;  // (lexeme, state) in order; every lexeme's DFA was built above
    for (uint32_t l = 0; l < rt.num_lexemes(); ++l) {
      const uint32_t states = rt.dfa(l).num_states();
      const auto* ls = g.lexeme_slots_[l].load(std::memory_order_acquire);
      for (uint32_t q = 0; q < states; ++q) {
        const CfgGrammar::Slot* s = ls ? ls[q].load(std::memory_order_acquire) : nullptr;
        auto it = s ? number.find(s) : number.end();
        slots.push_back(it != number.end() ? it->second + 1 : 0);
      }
    }
    w.vec(slots);
    write_unique_plan(w, g.unique_plan.get());
  }

  // The uniqueItems plan (grammar/unique_items.hpp): a flag, whether the layout commits, then per
  // state its flag, item shapes, key steps, item steps and required keys.
  static void write_shape(Writer& w, const grammar::UniquePlan::ItemShape& sh) {
    w.pod<uint8_t>(static_cast<uint8_t>(sh.items));
    w.pod<uint64_t>(sh.listed_strings.size());
    for (const auto& v : sh.listed_strings) w.str(v);
    w.pod<uint8_t>(static_cast<uint8_t>(sh.listed_true | sh.listed_false << 1 | sh.listed_null << 2));
  }
  static void write_unique_plan(Writer& w, const grammar::UniquePlan* plan) {
    w.pod<uint8_t>(plan != nullptr);
    if (!plan) return;
    w.pod<uint8_t>(plan->layout_commits);
    w.pod<uint64_t>(plan->states.size());
    for (const auto& st : plan->states) {
      w.pod<uint8_t>(st.unique);
      w.pod<uint64_t>(st.shapes.size());
      for (const auto& sh : st.shapes) write_shape(w, sh);
      write_shape(w, st.tail);
      w.pod<uint64_t>(st.keys.size());
      for (const auto& [k, to] : st.keys) {
        w.str(k);
        w.pod<uint32_t>(to);
      }
      w.pod<uint32_t>(st.other_keys);
      w.vec(st.index);
      w.pod<uint32_t>(st.items_state);
      w.pod<uint64_t>(st.required.size());
      for (const auto& k : st.required) w.str(k);
    }
  }
  static grammar::UniquePlan::ItemShape read_shape(Reader& r) {
    grammar::UniquePlan::ItemShape sh;
    uint8_t items = r.pod<uint8_t>();
    check(items <= static_cast<uint8_t>(grammar::UniquePlan::Items::kListed), "uniqueItems item shape");
    sh.items = static_cast<grammar::UniquePlan::Items>(items);
    size_t n = r.count(8);
    for (size_t i = 0; i < n; ++i) sh.listed_strings.push_back(r.str());
    uint8_t bits = r.pod<uint8_t>();
    sh.listed_true = bits & 1;
    sh.listed_false = bits & 2;
    sh.listed_null = bits & 4;
    return sh;
  }
  static std::shared_ptr<const grammar::UniquePlan> read_unique_plan(Reader& r) {
    if (r.pod<uint8_t>() == 0) return nullptr;
    auto plan = std::make_shared<grammar::UniquePlan>();
    plan->layout_commits = r.pod<uint8_t>() != 0;
    size_t n = r.count(1 + 8 + 10 + 8 + 4 + 8 + 4 + 8);
    check(n >= 2, "uniqueItems plan states");
    plan->states.resize(n);
    for (auto& st : plan->states) {
      st.unique = r.pod<uint8_t>() != 0;
      size_t ns = r.count(10);
      for (size_t i = 0; i < ns; ++i) st.shapes.push_back(read_shape(r));
      st.tail = read_shape(r);
      size_t nk = r.count(8 + 4);
      for (size_t i = 0; i < nk; ++i) {
        std::string k = r.str();
        st.keys[std::move(k)] = r.pod<uint32_t>();
      }
      st.other_keys = r.pod<uint32_t>();
      st.index = r.vec<uint32_t>();
      st.items_state = r.pod<uint32_t>();
      size_t nr = r.count(8);
      for (size_t i = 0; i < nr; ++i) st.required.push_back(r.str());
      plan->keys = plan->keys || nr > 0;
      check(std::is_sorted(st.required.begin(), st.required.end()) &&
                std::adjacent_find(st.required.begin(), st.required.end()) == st.required.end(),
            "required keys of a plan state");
      auto in_range = [&](uint32_t to) { check(to < n, "uniqueItems plan step"); };
      for (const auto& [k, to] : st.keys) in_range(to);
      for (uint32_t to : st.index) in_range(to);
      in_range(st.other_keys);
      in_range(st.items_state);
    }
    return plan;
  }

  static std::unique_ptr<CfgGrammar> read_cfg(Reader& r, const TokenizerInfoPtr& tokenizer,
                                              const std::shared_ptr<IndexCache>& index_cache,
                                              const CompileOptions* options) {
    fsm::Cfg cfg;
    size_t np = r.count(4 + 8);
    cfg.prods.resize(np);
    for (auto& p : cfg.prods) {
      p.lhs = r.pod<int32_t>();
      p.rhs = r.vec<fsm::Sym>();
    }
    size_t nn = r.count(8);
    for (size_t i = 0; i < nn; ++i) cfg.nt_names.push_back(r.str());
    size_t npo = r.count(8);
    cfg.prods_of.resize(npo);
    for (auto& v : cfg.prods_of) v = r.vec<uint32_t>();
    cfg.nullable = r.vec<char>();
    cfg.is_ignore = r.vec<char>();
    cfg.lexeme_lf = r.vec<char>();
    cfg.lexeme_last = r.vec<char>();
    cfg.nt_free = r.vec<char>();
    cfg.leftmost_first = r.pod<uint8_t>() != 0;
    size_t nl = r.count(8 + 256);
    check(nl == cfg.is_ignore.size() && nl == cfg.lexeme_lf.size() && nl == cfg.lexeme_last.size(), "lexeme count");
    std::vector<fsm::LexDfa> dfas(nl);
    size_t total_states = 0;
    for (auto& d : dfas) {
      d.start = r.pod<uint32_t>();
      d.num_classes = r.pod<uint32_t>();
      d.classes = r.pod<std::array<uint8_t, 256>>();
      d.table = r.vec<uint32_t>();
      d.finals = r.vec<uint8_t>();
      d.live = r.vec<uint8_t>();
      check(d.start < d.finals.size() && d.live.size() == d.finals.size(), "lexeme DFA states");
      check_table(d.classes, d.num_classes, d.table, d.finals.size());
      total_states += d.finals.size();
    }
    check(total_states < UINT32_MAX, "lexeme DFA state count");
    // The structure the Earley graph reads: every symbol and production number in range.
    const size_t nt = cfg.nt_names.size();
    check(nt >= 1 && np >= 1 && cfg.prods_of.size() == nt && cfg.nullable.size() == nt && cfg.nt_free.size() == nt,
          "grammar tables");
    for (const auto& p : cfg.prods) {
      check(p.lhs >= 0 && static_cast<size_t>(p.lhs) < nt, "production left side");
      for (fsm::Sym s : p.rhs)
        check(fsm::is_lexeme(s) ? fsm::lexeme_of(s) < nl : static_cast<size_t>(s) < nt, "production symbol");
    }
    for (const auto& v : cfg.prods_of)
      for (uint32_t p : v) check(p < np, "production number");
    // The lexemes' regexes are not stored: the runtime reads only their automata.
    cfg.lexemes.assign(nl, grammar::Regex::nothing());

    CfgBuildOptions opt;
    opt.context_depth = r.pod<uint32_t>();
    size_t mask_cache_budget = r.pod<uint64_t>();
    size_t cache_budget = r.pod<uint64_t>();
    size_t walk_budget = r.pod<uint64_t>();
    size_t max_earley_items = r.pod<uint64_t>();
    check(max_earley_items >= 1, "Earley item limit");
    if (options != nullptr) {  // the loading Compiler's budgets (they do not change any mask)
      mask_cache_budget = options->mask_cache_bytes;
      cache_budget = options->boundary_cache_bytes;
      walk_budget = options->walk_cache_bytes;
    }
    opt.share_states = r.pod<uint8_t>() != 0;
    opt.index_cache = index_cache;

    size_t nd = r.count(8);
    const size_t words = static_cast<size_t>(bitmask_words(tokenizer->vocab_size()));
    std::vector<std::shared_ptr<const std::vector<uint32_t>>> dense(nd);
    for (auto& d : dense) {
      auto v = r.vec<uint32_t>();
      check(v.size() == words, "index bitset width");
      check_tail(static_cast<uint32_t>(words - 1), v.back(), words, tokenizer->vocab_size());
      d = std::make_shared<const std::vector<uint32_t>>(std::move(v));
    }
    std::vector<uint64_t> dense_hash(nd);
    for (size_t k = 0; k < nd; ++k) dense_hash[k] = fsm::hash_words(*dense[k]);
    size_t ne = r.count(8 + 4 + 8 * 3);
    std::vector<std::string> keys(ne);
    std::vector<std::shared_ptr<const IndexEntry>> entries(ne);
    const size_t trie_nodes = tokenizer->trie().nodes().size();
    for (size_t i = 0; i < ne; ++i) {
      keys[i] = r.str();
      auto e = std::make_shared<IndexEntry>();
      uint32_t d = r.pod<uint32_t>();
      check(d == UINT32_MAX || d < nd, "index bitset number");
      if (d != UINT32_MAX) e->dense = dense[d], e->dense_hash = dense_hash[d];
      e->ids = r.vec<int32_t>();
      e->roots = r.vec<uint32_t>();
      e->root_states = r.vec<uint32_t>();
      for (int32_t id : e->ids) check(id >= 0 && id < tokenizer->vocab_size(), "index token id");
      for (uint32_t n : e->roots) check(n < trie_nodes, "index trie node");
      check(e->root_states.empty() || e->root_states.size() == e->roots.size(), "index root states");
      if (e->root_states.empty()) e->children = RootChildren::of(e->roots, tokenizer->trie());
      entries[i] = std::move(e);
    }
    auto slots = r.vec<uint32_t>();
    check(slots.size() == total_states, "index slot count");
    opt.unique_plan = read_unique_plan(r);

    std::unique_ptr<CfgGrammar> g;
    try {  // the runtime's own checks (e.g. the Earley item limit on the first closure) refuse it too
      auto rt = std::make_unique<fsm::CfgRuntime>(std::move(cfg), std::move(dfas), max_earley_items);
      g = make_cfg_grammar(std::move(rt), tokenizer, opt);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kInternal) throw;
      fail("malformed (the grammar does not build: " + e.message() + ")");
    }
    g->mask_cache_budget = mask_cache_budget;
    g->cache_budget = cache_budget;
    g->walk_budget = walk_budget;
    if (options != nullptr) g->generation_budget = options->generation_bytes;  // not stored: no mask depends on it
    size_t i = 0;
    for (uint32_t l = 0; l < g->rt->num_lexemes(); ++l) {
      const uint32_t states = g->rt->dfa(l).num_states();
      for (uint32_t q = 0; q < states; ++q, ++i) {
        if (slots[i] == 0) continue;
        check(slots[i] <= ne, "index entry number");
        // Checked as installed: an entry whose key another slot installed first is that one's.
        const CfgGrammar::Slot* s = g->install(l, q, keys[slots[i] - 1], entries[slots[i] - 1]);
        for (uint32_t rs : s->entry->root_states) check(rs < states, "index root state");
      }
    }
    return g;
  }
};

}  // namespace tollgate::engine

namespace tollgate {

using engine::GrammarBlob;

std::string CompiledGrammar::serialize() const {
  engine::Writer w;
  uint32_t kind;
  if (const auto* rg = dynamic_cast<const engine::RegexGrammar*>(impl_.get())) {
    kind = engine::kKindRegex;
    engine::write_common(w, *impl_);
    GrammarBlob::write_regex(w, *rg);
  } else if (const auto* cg = dynamic_cast<const engine::CfgGrammar*>(impl_.get())) {
    kind = engine::kKindCfg;
    engine::write_common(w, *impl_);
    GrammarBlob::write_cfg(w, *cg);
  } else {
    throw Error(ErrorKind::kInternal, "serialize: unknown compiled grammar back-end");
  }
  engine::Writer h;
  h.out.append(engine::kMagic, 8);
  h.pod<uint32_t>(engine::kBlobVersion);
  h.pod<uint32_t>(kind);
  h.out += tokenizer().fingerprint();
  h.pod<uint64_t>(w.out.size());
  h.pod(engine::blob_checksum(std::string_view(h.out).substr(8, engine::kSummed), w.out));
  h.out += w.out;
  return std::move(h.out);
}

CompiledGrammarPtr CompiledGrammar::deserialize(std::string_view blob, TokenizerInfoPtr tokenizer) {
  return engine::load_grammar(blob, tokenizer, nullptr, nullptr);
}

namespace engine {

Digest blob_checksum(std::string_view header_fields, std::string_view payload) {
  return Sha256().update(header_fields).update(payload).digest();
}

std::string reseal_blob(std::string blob) {
  if (blob.size() < kHeaderBytes) fail("too short to reseal");
  const Digest d = blob_checksum(std::string_view(blob).substr(8, kSummed), std::string_view(blob).substr(kHeaderBytes));
  std::memcpy(&blob[8 + kSummed], d.data(), d.size());
  return blob;
}

CompiledGrammarPtr load_grammar(std::string_view blob, const TokenizerInfoPtr& tokenizer,
                                const std::shared_ptr<IndexCache>& index_cache, const CompileOptions* options) {
  if (!tokenizer) throw Error(ErrorKind::kInvalidArgument, "deserialize needs a tokenizer");
  if (blob.size() < 8 || std::memcmp(blob.data(), kMagic, 8) != 0)
    fail("not a tollgate compiled grammar (no TGCGBLOB header; " + std::to_string(blob.size()) + " bytes)");
  if (blob.size() < kHeaderBytes)
    fail("truncated: " + std::to_string(blob.size()) + " bytes, shorter than the " + std::to_string(kHeaderBytes) +
         "-byte header");
  Reader hr(blob.data() + 8, kHeaderBytes - 8);
  uint32_t version = hr.pod<uint32_t>();
  uint32_t kind = hr.pod<uint32_t>();
  std::string fingerprint(blob.substr(16, kFingerprintBytes));
  hr.pod<std::array<char, kFingerprintBytes>>();
  uint64_t size = hr.pod<uint64_t>();
  Digest sum = hr.pod<Digest>();
  if (version != kBlobVersion)
    fail("format version " + std::to_string(version) + ", this build reads version " + std::to_string(kBlobVersion) +
         ": compile the grammar again");
  const size_t have = blob.size() - kHeaderBytes;
  if (size > have)
    fail("truncated: " + std::to_string(blob.size()) + " bytes of " + std::to_string(size + kHeaderBytes));
  if (size < have) fail("corrupted: " + std::to_string(have - size) + " bytes after the end of the grammar");
  std::string_view payload = blob.substr(kHeaderBytes);
  if (blob_checksum(blob.substr(8, kSummed), payload) != sum) fail("corrupted (checksum mismatch)");
  if (fingerprint != tokenizer->fingerprint())
    fail("compiled for another tokenizer (fingerprint " + fingerprint.substr(0, 16) + "..., this tokenizer's is " +
         tokenizer->fingerprint().substr(0, 16) + "...)");
  Reader r(payload.data(), payload.size());
  CompileStats stats;
  std::vector<CompileWarning> warnings;
  read_common(r, stats, warnings);
  std::unique_ptr<CompiledGrammar::Impl> impl;
  if (kind == kKindRegex) impl = GrammarBlob::read_regex(r, tokenizer);
  else if (kind == kKindCfg) impl = GrammarBlob::read_cfg(r, tokenizer, index_cache, options);
  else fail("malformed (unknown back-end " + std::to_string(kind) + ")");
  if (r.left() != 0) fail("malformed (" + std::to_string(r.left()) + " bytes left over)");
  impl->stats = stats;
  impl->warnings = std::move(warnings);
  return std::make_shared<const CompiledGrammar>(std::move(impl));
}

}  // namespace engine

}  // namespace tollgate
