// Random strings of a grammar's or a DFA's language (see sample_strings.hpp). Takes: Grammar IR or
// Dfa, rng, byte budget. Gives: strings; the caller verifies them with a Matcher.
#include "engine/sample_strings.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <tuple>
#include <limits>
#include <unordered_map>

namespace tollgate::engine {

namespace {

constexpr uint32_t kInf = std::numeric_limits<uint32_t>::max() / 4;

// Distance (bytes) from each state to a final state.
std::vector<uint32_t> distances(const fsm::Dfa& dfa) {
  const size_t n = dfa.num_states();
  std::vector<std::vector<uint32_t>> rev(n);
  std::vector<uint8_t> rep(dfa.num_classes(), 0);
  std::vector<char> seen(dfa.num_classes(), 0);
  for (int b = 0; b < 256; ++b) {
    uint8_t c = dfa.byte_classes()[b];
    if (!seen[c]) seen[c] = 1, rep[c] = static_cast<uint8_t>(b);
  }
  for (uint32_t s = 0; s < n; ++s)
    for (size_t c = 0; c < dfa.num_classes(); ++c) {
      uint32_t t = dfa.next(s, rep[c]);
      if (t != fsm::kDead) rev[t].push_back(s);
    }
  std::vector<uint32_t> dist(n, kInf);
  std::deque<uint32_t> q;
  for (uint32_t s = 0; s < n; ++s)
    if (dfa.is_final(s)) dist[s] = 0, q.push_back(s);
  while (!q.empty()) {
    uint32_t s = q.front();
    q.pop_front();
    for (uint32_t p : rev[s])
      if (dist[p] == kInf) dist[p] = dist[s] + 1, q.push_back(p);
  }
  return dist;
}

struct LeafDfa {
  fsm::Dfa dfa;
  std::vector<uint32_t> dist;
  std::vector<std::vector<uint8_t>> class_bytes;  // per class, its bytes
  explicit LeafDfa(fsm::Dfa d) : dfa(std::move(d)), dist(distances(dfa)), class_bytes(dfa.num_classes()) {
    for (int b = 0; b < 256; ++b) class_bytes[dfa.byte_classes()[b]].push_back(static_cast<uint8_t>(b));
  }
  uint32_t min_len() const { return dist.empty() ? kInf : dist[dfa.start()]; }

  // Appends a random string of at most `budget` bytes (the shortest when budget is below it).
  void walk(std::mt19937_64& rng, size_t budget, std::string& out) const {
    uint32_t s = dfa.start();
    size_t used = 0;
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<uint32_t> options;
    for (;;) {
      if (dfa.is_final(s) && (used >= budget || u(rng) < 0.3)) return;
      options.clear();
      uint32_t best = kInf;
      for (uint32_t c = 0; c < dfa.num_classes(); ++c) {
        uint32_t t = dfa.next(s, class_bytes[c][0]);
        if (t == fsm::kDead) continue;
        best = std::min(best, dist[t]);
        if (used + 1 + dist[t] <= budget) options.push_back(c);
      }
      if (options.empty()) {
        if (dfa.is_final(s)) return;
        for (uint32_t c = 0; c < dfa.num_classes(); ++c) {  // over budget: the shortest way out
          uint32_t t = dfa.next(s, class_bytes[c][0]);
          if (t != fsm::kDead && dist[t] == best) options.push_back(c);
        }
      }
      const auto& bytes = class_bytes[options[rng() % options.size()]];
      std::vector<uint8_t> printable;
      for (uint8_t b : bytes)
        if (b >= 0x20 && b < 0x7F) printable.push_back(b);
      uint8_t b = !printable.empty() && u(rng) < 0.9 ? printable[rng() % printable.size()] : bytes[rng() % bytes.size()];
      out += static_cast<char>(b);
      s = dfa.next(s, b);
      ++used;
    }
  }
};

// The shortest derivation's length, and its height (to pick, under pressure, alternatives that
// terminate).
struct Cost {
  uint32_t len = kInf, height = kInf;
  bool finite() const { return len < kInf; }
  bool operator<(const Cost& o) const { return std::tie(len, height) < std::tie(o.len, o.height); }
};

}  // namespace

std::optional<std::string> sample_dfa(const fsm::Dfa& dfa, std::mt19937_64& rng, size_t max_bytes) {
  LeafDfa leaf(dfa);
  if (leaf.min_len() >= kInf) return std::nullopt;
  std::string out;
  leaf.walk(rng, max_bytes, out);
  return out;
}

struct GrammarSampler::Impl {
  const grammar::Grammar g;  // a copy (rule bodies are shared, immutable)
  std::unordered_map<const grammar::Regex*, std::unique_ptr<LeafDfa>> leaves;
  std::vector<Cost> rule_cost;
  const grammar::GExpr* ignore = nullptr;  // the shortest non-empty %ignore item (Lark)
  double ignore_prob = 0.5;

  explicit Impl(grammar::Grammar gr) : g(std::move(gr)) {
    std::function<void(const grammar::GExpr&)> collect = [&](const grammar::GExpr& e) {
      if (e.kind == grammar::GExpr::Kind::kRegex && !leaves.count(e.regex.get()))
        leaves.emplace(e.regex.get(), std::make_unique<LeafDfa>(fsm::compile_dfa(*e.regex)));
      for (auto& i : e.items) collect(*i);
    };
    for (auto& r : g.rules) collect(*r.body);
    for (auto& i : g.ignore) collect(*i);
    // Shortest derivations: a worklist (a rule is looked at again when a rule it refers to gets
    // cheaper), so long chains of rules stay near linear.
    rule_cost.assign(g.rules.size(), Cost{});
    std::vector<std::vector<int>> referrers(g.rules.size());
    for (size_t r = 0; r < g.rules.size(); ++r)
      grammar::for_each_ref(*g.rules[r].body, [&](const grammar::GExpr& ref) {
        auto& v = referrers[ref.rule];
        if (v.empty() || v.back() != static_cast<int>(r)) v.push_back(static_cast<int>(r));
      });
    std::vector<int> work;
    std::vector<char> queued(g.rules.size(), 1);
    for (size_t r = g.rules.size(); r-- > 0;) work.push_back(static_cast<int>(r));
    while (!work.empty()) {
      int r = work.back();
      work.pop_back();
      queued[r] = 0;
      Cost c = cost(*g.rules[r].body);
      if (!(c < rule_cost[r])) continue;
      rule_cost[r] = c;
      for (int q : referrers[r])
        if (!queued[q]) queued[q] = 1, work.push_back(q);
    }
    Cost best;
    for (auto& i : g.ignore) {
      Cost c = cost(*i);
      if (c.finite() && c.len > 0 && (!ignore || c < best)) ignore = i.get(), best = c;
    }
  }

  Cost cost(const grammar::GExpr& e) const {
    using K = grammar::GExpr::Kind;
    switch (e.kind) {
      case K::kEmpty: return {0, 0};
      case K::kRegex: {
        uint32_t l = leaves.at(e.regex.get())->min_len();
        return l >= kInf ? Cost{} : Cost{l, 0};
      }
      case K::kRef: {
        Cost c = rule_cost[e.rule];
        return c.finite() ? Cost{c.len, c.height + 1} : Cost{};
      }
      case K::kSeq: {
        Cost s{0, 0};
        for (auto& i : e.items) {
          Cost c = cost(*i);
          if (!c.finite()) return {};
          s.len = std::min<uint32_t>(kInf - 1, s.len + c.len);
          s.height = std::max(s.height, c.height);
        }
        return s;
      }
      case K::kAlt: {
        Cost best;
        for (auto& i : e.items) best = std::min(best, cost(*i));
        return best;
      }
      case K::kRepeat: {
        if (e.min == 0) return {0, 0};
        Cost c = cost(*e.items[0]);
        if (!c.finite()) return {};
        return {static_cast<uint32_t>(std::min<uint64_t>(kInf - 1, uint64_t{c.len} * e.min)), c.height};
      }
    }
    return {};
  }

  void boundary(std::mt19937_64& rng, std::string& out, bool in_terminal) {
    if (!ignore || in_terminal || out.empty() || !g.fixed_lexemes) return;
    if (std::uniform_real_distribution<double>(0, 1)(rng) >= ignore_prob) return;
    gen(*ignore, rng, 0, out, 0, true, true);
  }

  // Appends a string of e to out, of at most ~budget bytes; `forced`: the shortest choices only.
  void gen(const grammar::GExpr& e, std::mt19937_64& rng, size_t budget, std::string& out, int depth, bool forced,
           bool in_terminal) {
    using K = grammar::GExpr::Kind;
    if (depth > 60) forced = true;
    // the shortest derivation still follows every rule of a chain: bound the recursion
    if (depth > 5000) throw Error(ErrorKind::kLimit, "rules nested more than 5000 deep: not sampled");
    switch (e.kind) {
      case K::kEmpty: return;
      case K::kRegex:
        boundary(rng, out, in_terminal);
        leaves.at(e.regex.get())->walk(rng, forced ? 0 : budget, out);
        return;
      case K::kRef: {
        const grammar::GRule& r = g.rules[e.rule];
        bool term = in_terminal || r.is_terminal;
        if (r.is_terminal && !in_terminal) boundary(rng, out, false);
        gen(*r.body, rng, budget, out, depth + 1, forced, term);
        return;
      }
      case K::kSeq: {
        std::vector<uint32_t> mins;
        uint64_t rest = 0;
        for (auto& i : e.items) mins.push_back(cost(*i).len), rest += mins.back();
        size_t start = out.size();
        for (size_t k = 0; k < e.items.size(); ++k) {
          rest -= mins[k];
          size_t used = out.size() - start;
          size_t left = budget > used + rest ? budget - used - rest : mins[k];
          size_t mine = k + 1 == e.items.size() ? left : mins[k] + (left > mins[k] ? (left - mins[k]) / 2 : 0);
          gen(*e.items[k], rng, mine, out, depth, forced, in_terminal);
        }
        return;
      }
      case K::kAlt: {
        const grammar::GExpr* pick = nullptr;
        if (!forced) {
          std::vector<const grammar::GExpr*> fits;
          for (auto& i : e.items) {
            Cost c = cost(*i);
            if (c.finite() && c.len <= budget) fits.push_back(i.get());
          }
          if (!fits.empty()) pick = fits[rng() % fits.size()];
        }
        bool force_here = forced || !pick;
        if (!pick) {
          Cost best;
          for (auto& i : e.items)
            if (Cost c = cost(*i); c < best) best = c, pick = i.get();
        }
        gen(*pick, rng, budget, out, depth, force_here, in_terminal);
        return;
      }
      case K::kRepeat: {
        const grammar::GExpr& item = *e.items[0];
        Cost c = cost(item);
        uint64_t n = e.min;
        if (!forced && c.finite()) {
          std::uniform_real_distribution<double> u(0, 1);
          uint64_t cap = std::min<uint64_t>(e.max, e.min + 8);
          while (n < cap && (n + 1) * std::max<uint32_t>(c.len, 1) <= budget && u(rng) < 0.6) ++n;
        }
        size_t start = out.size();
        for (uint64_t k = 0; k < n; ++k) {
          size_t used = out.size() - start;
          uint64_t later = uint64_t{c.len} * (n - k - 1);
          size_t left = budget > used + later ? budget - used - later : c.len;
          size_t mine = c.len + (left > c.len ? (left - c.len) / (n - k) : 0);
          gen(item, rng, mine, out, depth, forced || k >= e.min + 64, in_terminal);
        }
        return;
      }
    }
  }
};

GrammarSampler::GrammarSampler(grammar::Grammar g) : impl_(std::make_unique<Impl>(std::move(g))) {}
GrammarSampler::~GrammarSampler() = default;

std::optional<std::string> GrammarSampler::sample(std::mt19937_64& rng, size_t max_bytes) {
  const grammar::Grammar& g = impl_->g;
  if (g.start < 0 || !impl_->rule_cost[g.start].finite()) return std::nullopt;
  std::string out;
  grammar::GExpr start;
  start.kind = grammar::GExpr::Kind::kRef;
  start.rule = g.start;
  impl_->gen(start, rng, max_bytes, out, 0, false, false);
  return out;
}

}  // namespace tollgate::engine
