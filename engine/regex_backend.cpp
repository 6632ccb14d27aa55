#include "engine/regex_backend.hpp"

#include <cstring>

#include "engine/compile_phases.hpp"
#include "fsm/token_trie.hpp"
#include "tollgate/error.hpp"

namespace tollgate::engine {

namespace {

struct Step {
  uint32_t state;
  bool at_start;     // no token accepted yet (the first token's leading space may be dropped)
  bool terminated;
};

class RegexMatcher final : public Matcher::Impl {
 public:
  RegexMatcher(CompiledGrammarPtr self, const RegexGrammar& g, int max_rollback)
      : self_(std::move(self)), g_(g), history_(max_rollback) {
    reset();
  }

  std::unique_ptr<Matcher::Impl> clone() const override {
    return std::make_unique<RegexMatcher>(*this);
  }

  void fill_next_token_bitmask(int32_t* row) const override {
    const int32_t words = g_.index.words();
    const Step& cur = history_.back();
    if (cur.terminated) {
      std::memset(row, 0, static_cast<size_t>(words) * 4);
      return;
    }
    uint32_t* out = reinterpret_cast<uint32_t*>(row);
    if (cur.at_start && g_.strip_first_space) g_.index.fill_first(out);
    else g_.index.fill(cur.state, out);
    if (g_.dfa.is_final(cur.state)) {
      for (int32_t eos : g_.tokenizer->eos_ids()) {
        row[eos >> 5] |= static_cast<int32_t>(1u << (eos & 31));
      }
    }
  }

  // The token index is computed at compile time: every fill is a lookup and a copy.
  bool fill_next_token_bitmask_cached(int32_t* row) const override {
    fill_next_token_bitmask(row);
    return true;
  }

  bool accept_token(int32_t id) override {
    const Step& cur = history_.back();
    if (cur.terminated) return false;
    const TokenizerInfo& tok = *g_.tokenizer;
    if (id < 0 || id >= tok.vocab_size()) return false;
    if (tok.is_eos(id)) {
      if (!g_.dfa.is_final(cur.state)) return false;
      push({cur.state, false, true});
      return true;
    }
    if (tok.is_special(id)) return false;
    std::string_view bytes = tok.token_bytes(id);
    if (bytes.empty()) return false;
    if (cur.at_start && g_.strip_first_space && bytes.front() == ' ') bytes.remove_prefix(1);
    uint32_t s = g_.dfa.walk(cur.state, bytes);
    if (s == fsm::kDead) return false;
    push({s, false, false});
    return true;
  }

  bool accept_bytes(std::string_view bytes) override {
    const Step& cur = history_.back();
    if (cur.terminated) return false;
    uint32_t s = g_.dfa.walk(cur.state, bytes);
    if (s == fsm::kDead) return false;
    push({s, cur.at_start && bytes.empty(), false});
    return true;
  }

  void rollback(int n) override { history_.rollback(n); }

  void reset() override { history_.reset({g_.dfa.start(), true, false}); }

  bool is_accepting() const override {
    const Step& cur = history_.back();
    return cur.terminated || g_.dfa.is_final(cur.state);
  }
  bool is_terminated() const override { return history_.back().terminated; }

  std::string jump_forward() const override {
    const Step& cur = history_.back();
    if (cur.terminated) return {};
    return forced_bytes(g_.dfa, cur.state);
  }

  int num_accepted() const override { return history_.num_accepted(); }
  const CompiledGrammar& grammar() const override { return *self_; }

  uint32_t shortest_completion() const override {
    const Step& cur = history_.back();
    return cur.terminated ? 0 : g_.dist.to_final[cur.state];
  }
  void apply_length_budget(uint32_t* row, uint32_t max_after) const override {
    const Step& cur = history_.back();
    if (cur.terminated || g_.dist.max_reach[cur.state] <= max_after) return;  // nothing can exceed it
    const TokenizerInfo& tok = *g_.tokenizer;
    const bool strip = cur.at_start && g_.strip_first_space;
    for (int32_t w = 0; w < g_.index.words(); ++w) {
      for (uint32_t bits = row[w]; bits; bits &= bits - 1) {
        const int32_t id = w * 32 + __builtin_ctz(bits);
        if (tok.is_eos(id)) continue;
        std::string_view bytes = tok.token_bytes(id);
        if (strip && !bytes.empty() && bytes.front() == ' ') bytes.remove_prefix(1);
        const uint32_t s = g_.dfa.walk(cur.state, bytes);
        if (s == fsm::kDead || g_.dist.to_final[s] > max_after) row[w] &= ~(1u << (id & 31));
      }
    }
  }

 private:
  void push(Step s) { history_.push(std::move(s)); }

  CompiledGrammarPtr self_;
  const RegexGrammar& g_;
  StepHistory<Step> history_;
};

}  // namespace

std::string forced_bytes(const fsm::Dfa& dfa, uint32_t state) {
  std::string out;
  // A state is forced when it is not final and exactly one byte value leads somewhere.
  for (size_t guard = 0; guard < dfa.num_states() + 1; ++guard) {
    if (dfa.is_final(state)) break;
    int only = -1;
    uint32_t next = fsm::kDead;
    for (int b = 0; b < 256; ++b) {
      uint32_t t = dfa.next(state, static_cast<uint8_t>(b));
      if (t == fsm::kDead) continue;
      if (only >= 0) {
        only = -2;
        break;
      }
      only = b;
      next = t;
    }
    if (only < 0) break;
    out.push_back(static_cast<char>(only));
    state = next;
  }
  return out;
}

std::unique_ptr<Matcher::Impl> RegexGrammar::make_matcher(CompiledGrammarPtr self,
                                                          int max_rollback) const {
  return std::make_unique<RegexMatcher>(std::move(self), *this, max_rollback);
}

std::unique_ptr<RegexGrammar> build_regex_grammar(fsm::Dfa dfa, const TokenizerInfoPtr& tokenizer,
                                                  int threads, PhaseRecorder* phases) {
  auto g = std::make_unique<RegexGrammar>();
  g->tokenizer = tokenizer;
  g->strip_first_space = tokenizer->leading_space() == LeadingSpace::kStrip &&
                         tokenizer->prepends_space();
  fsm::TokenIndexOptions opt;
  opt.threads = threads;
  opt.strip_first_space = g->strip_first_space;
  if (phases && phases->reporting()) opt.on_state = [phases](size_t total) { phases->tick(total); };
  g->index = fsm::TokenIndex(dfa, tokenizer->trie(), tokenizer->vocab_size(), opt);
  g->dfa = std::move(dfa);
  const fsm::Dfa& d = g->dfa;
  std::vector<uint8_t> rep(d.num_classes(), 0);  // a byte of each class
  for (int b = 255; b >= 0; --b) rep[d.byte_classes()[b]] = static_cast<uint8_t>(b);
  g->dist = fsm::dfa_distances(
      static_cast<uint32_t>(d.num_states()), static_cast<uint32_t>(d.num_classes()),
      [&](uint32_t s, uint32_t c) { return d.next(s, rep[c]); }, [&](uint32_t s) { return d.is_final(s); });
  return g;
}

}  // namespace tollgate::engine
