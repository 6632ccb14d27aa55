// Byte-level stepping of lexeme threads under the Earley graph (see cfg_runtime.hpp).
#include "fsm/cfg_runtime.hpp"

#include <algorithm>

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
  for (uint32_t s = 0; s < n; ++s) {
    l.finals[s] = dfa.is_final(s);
    for (uint32_t c = 0; c < l.num_classes; ++c)
      if (rep[c] >= 0) l.table[static_cast<size_t>(s) * l.num_classes + c] = dfa.next(s, static_cast<uint8_t>(rep[c]));
  }
  l.start = n;  // clone of the start state, not final
  if (n > 0)
    for (uint32_t c = 0; c < l.num_classes; ++c)
      l.table[static_cast<size_t>(n) * l.num_classes + c] = l.table[static_cast<size_t>(dfa.start()) * l.num_classes + c];
  return l;
}

CfgRuntime::CfgRuntime(Cfg cfg, const DfaOptions& options) : cfg_(std::make_unique<Cfg>(std::move(cfg))) {
  graph_ = std::make_unique<EarleyGraph>(*cfg_);
  dfas_.reserve(cfg_->lexemes.size());
  for (size_t l = 0; l < cfg_->lexemes.size(); ++l) {
    dfas_.push_back(LexDfa::from(compile_dfa(*cfg_->lexemes[l], options)));
    if (cfg_->is_ignore[l]) ignore_lexemes_.push_back(static_cast<uint32_t>(l));
  }
}

void CfgRuntime::spawn(uint32_t node, Threads& out) const {
  for (uint32_t l : graph_->node(node).expected)
    if (dfas_[l].num_states() > 1) out.push_back({l, dfas_[l].start, node});
  for (uint32_t l : ignore_lexemes_)
    if (dfas_[l].num_states() > 1) out.push_back({l, dfas_[l].start, node});
}

ParserState CfgRuntime::initial() const {
  ParserState s;
  uint32_t n = graph_->initial();
  spawn(n, s.threads);
  std::sort(s.threads.begin(), s.threads.end());
  s.threads.erase(std::unique(s.threads.begin(), s.threads.end()), s.threads.end());
  s.accepting = graph_->node(n).accepting;
  return s;
}

bool CfgRuntime::step(const ParserState& in, uint8_t byte, ParserState& out, bool* popped) const {
  out.threads.clear();
  uint32_t fresh = kNoNode;
  for (const Thread& t : in.threads) {
    const LexDfa& d = dfas_[t.lexeme];
    uint32_t q = d.next(t.state, byte);
    if (q == kDead) continue;
    out.threads.push_back({t.lexeme, q, t.node});
    if (d.is_final(q)) {
      uint32_t y = cfg_->is_ignore[t.lexeme] ? t.node : graph_->scan(t.node, t.lexeme);
      if (y != kNoNode) fresh = graph_->merge(fresh, y);
    }
  }
  out.accepting = false;
  if (fresh != kNoNode) {
    spawn(fresh, out.threads);
    const EarleyGraph::Node& fn = graph_->node(fresh);
    out.accepting = fn.accepting;
    if (popped && fn.pops) *popped = true;
  }
  if (out.threads.size() > 1) {
    std::sort(out.threads.begin(), out.threads.end());
    out.threads.erase(std::unique(out.threads.begin(), out.threads.end()), out.threads.end());
  }
  return !out.threads.empty() || out.accepting;
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
  ParserState cur = state, next;
  while (out.size() < max_bytes && !cur.accepting) {
    int only = -1;
    bool many = false;
    for (int b = 0; b < 256 && !many; ++b) {
      for (const Thread& t : cur.threads) {
        if (dfas_[t.lexeme].next(t.state, static_cast<uint8_t>(b)) != kDead) {
          if (only >= 0 && only != b) many = true;
          only = b;
          break;
        }
      }
    }
    if (many || only < 0) break;
    if (!step(cur, static_cast<uint8_t>(only), next)) break;
    out.push_back(static_cast<char>(only));
    std::swap(cur, next);
  }
  return out;
}

size_t CfgRuntime::memory_bytes() const {
  size_t b = graph_->memory_bytes();
  for (auto& d : dfas_) b += d.table.size() * 4 + d.finals.size() + sizeof(LexDfa);
  return b;
}

}  // namespace tollgate::fsm
