// CfgLengthBudget: the context-free back-end's length-budget filter (see engine/cfg_budget.hpp).
#include "engine/cfg_budget.hpp"

#include <algorithm>
#include <vector>


namespace tollgate::engine {

void CfgLengthBudget::filter(const fsm::ParserState& state, bool at_start_strip, uint32_t* row,
                             uint32_t max_after) const {
  if (state.threads.empty()) return;
  if (!at_start_strip) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = worst_.find(state.threads);
    if (it != worst_.end() && it->second <= max_after) return;
  }
  const TokenizerInfo& tok = *g_.tokenizer;
  const fsm::CfgRuntime& rt = rt_;
  const int32_t words = g_.words;
  std::vector<uint32_t> keep(static_cast<size_t>(words), 0);
  uint32_t worst = 0;
  // 1. A thread whose worst completion inside its lexeme fits keeps its whole inside set.
  struct Walk {
    const fsm::Thread* t;
    uint32_t after;
  };
  std::vector<Walk> walks;
  for (const fsm::Thread& t : state.threads) {
    const uint32_t after = completion_.after_lexeme(t);
    walks.push_back({&t, after});
    if (at_start_strip) continue;  // the index entries hold the unstripped tokens
    const uint32_t bound = fsm::CfgCompletion::add(completion_.lexeme_distances(t.lexeme).max_reach[t.state], after);
    if (bound > max_after) continue;
    worst = std::max(worst, bound);
    const IndexEntry& e = g_.entry(t.lexeme, t.state);
    if (e.dense) {
      const std::vector<uint32_t>& d = *e.dense;
      for (int32_t w = 0; w < words; ++w) keep[w] |= d[w];
    }
    for (int32_t id : e.ids) keep[id >> 5] |= 1u << (id & 31);  // sparse, or beside the bitset
  }
  // 2. Every other allowed token: through each thread's lexeme DFA. When no thread can end its
  // lexeme inside the token, the best of those walks is its exact completion; otherwise the token
  // is stepped through the parser from the whole configuration.
  fsm::ParserState a, b;
  for (int32_t w = 0; w < words; ++w) {
    for (uint32_t bits = row[w] & ~keep[w]; bits; bits &= bits - 1) {
      const int32_t id = w * 32 + __builtin_ctz(bits);
      const uint32_t bit = 1u << (id & 31);
      if (tok.is_eos(id)) {
        keep[w] |= bit;
        continue;
      }
      std::string_view bytes = tok.token_bytes(id);
      if (at_start_strip && !bytes.empty() && bytes.front() == ' ') bytes.remove_prefix(1);
      uint32_t cost = fsm::kUnreachable;
      bool crosses = false;
      for (const Walk& wk : walks) {
        const fsm::LexDfa& dfa = rt.dfa(wk.t->lexeme);
        uint32_t q = wk.t->state;
        for (size_t i = 0; i < bytes.size() && q != fsm::kDead; ++i) {
          if (i > 0 && dfa.is_final(q)) crosses = true;  // the lexeme may end before byte i
          q = dfa.next(q, static_cast<uint8_t>(bytes[i]));
        }
        if (q != fsm::kDead)
          cost = std::min(cost, fsm::CfgCompletion::add(completion_.lexeme_dist(wk.t->lexeme, q), wk.after));
      }
      if (crosses && cost > max_after) {
        a = state;
        bool alive = true;
        for (unsigned char c : bytes) {
          if (!rt.step(a, c, b)) {
            alive = false;
            break;
          }
          std::swap(a, b);
        }
        cost = alive ? completion_.of_state(a) : fsm::kUnreachable;
      }
      if (cost != fsm::kUnreachable) worst = std::max(worst, cost);
      if (cost <= max_after) keep[w] |= bit;
    }
  }
  for (int32_t w = 0; w < words; ++w) row[w] &= keep[w];
  if (!at_start_strip) {
    std::lock_guard<std::mutex> lock(mu_);
    if (worst_.size() >= kMaxCached) worst_.clear();
    worst_[state.threads] = worst;
  }
}

}  // namespace tollgate::engine
