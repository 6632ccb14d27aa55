// Prebuilt DFAs: the blob's encoder and its checked decoder (see prebuilt_dfas.hpp for the format).
#include "fsm/prebuilt_dfas.hpp"

#include <functional>
#include <unordered_map>

namespace tollgate::fsm {

namespace {
constexpr char kMagic[8] = {'t', 'g', 'd', 'f', 'a', 's', '2', '\n'};

void put_fixed(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

// Reads the blob; any read past the end (or a varint over 64 bits) makes ok false and returns 0.
struct Reader {
  const unsigned char* p = nullptr;
  const unsigned char* end = nullptr;
  bool ok = true;

  Reader() = default;
  explicit Reader(std::string_view s) : p(reinterpret_cast<const unsigned char*>(s.data())), end(p + s.size()) {}
  size_t left() const { return static_cast<size_t>(end - p); }
  bool take(size_t n) {
    if (!ok || left() < n) return ok = false;
    return true;
  }
  uint64_t fixed(int bytes) {
    if (!take(static_cast<size_t>(bytes))) return 0;
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    p += bytes;
    return v;
  }
  uint8_t byte() { return static_cast<uint8_t>(fixed(1)); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!take(1)) return 0;
      const unsigned char b = *p++;
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    ok = false;
    return 0;
  }
  std::string_view bytes(size_t n) {
    if (!take(n)) return {};
    std::string_view s(reinterpret_cast<const char*>(p), n);
    p += n;
    return s;
  }
  std::string_view counted() { return bytes(static_cast<size_t>(varint())); }
  // The bytes read since `from` (a position of this reader).
  std::string_view since(const unsigned char* from) const {
    return {reinterpret_cast<const char*>(from), static_cast<size_t>(p - from)};
  }
};

// The entries of a blob, one at a time: each its name and a reader over the rest of it. The
// framing (magic, count, entry lengths up to the blob's last byte) is checked before any entry is
// visited: a blob cut short or with bytes left over visits none and returns false.
template <class Visit>  // bool visit(std::string_view name, Reader& rest): false stops
bool for_each_entry(std::string_view blob, Visit visit) {
  Reader r(blob);
  if (r.bytes(sizeof kMagic) != std::string_view(kMagic, sizeof kMagic)) return false;
  const uint64_t count = r.fixed(4);
  const unsigned char* const first = r.p;
  for (uint64_t i = 0; i < count && r.ok; ++i) {
    const uint64_t length = r.fixed(8);
    if (!r.ok || length > r.left()) return false;
    r.p += length;
  }
  if (!r.ok || r.left() != 0) return false;
  r.p = first;
  for (uint64_t i = 0; i < count; ++i) {
    Reader entry(r.bytes(static_cast<size_t>(r.fixed(8))));
    const std::string_view name = entry.counted();
    if (!entry.ok) return false;
    if (!visit(name, entry)) return true;
  }
  return true;
}

// --- the regex's structure

// One stored node: its scalar fields, and its ranges, items and automaton as the bytes that hold
// them (read again when compared).
struct StoredNode {
  uint64_t kind = 0, min = 0, max = 0, num_ranges = 0, num_items = 0;
  uint8_t lazy = 0, byte_lo = 0, byte_hi = 0, has_automaton = 0;
  std::string_view ranges, items, automaton;
};

// Reads the structure's nodes, checking that every child index names an earlier node.
bool read_structure(Reader& r, std::vector<StoredNode>& nodes) {
  const uint64_t count = r.varint();
  if (!r.ok || count == 0 || count > r.left()) return false;  // a node is at least a byte
  nodes.resize(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    StoredNode& n = nodes[static_cast<size_t>(i)];
    n.kind = r.varint();
    n.lazy = r.byte();
    n.min = r.varint();
    n.max = r.varint();
    n.byte_lo = r.byte();
    n.byte_hi = r.byte();
    n.num_ranges = r.varint();
    const unsigned char* from = r.p;
    for (uint64_t k = 0; k < n.num_ranges && r.ok; ++k) r.varint(), r.varint();
    n.ranges = r.since(from);
    n.num_items = r.varint();
    from = r.p;
    for (uint64_t k = 0; k < n.num_items && r.ok; ++k)
      if (r.varint() >= i) return false;
    n.items = r.since(from);
    n.has_automaton = r.byte();
    from = r.p;
    if (n.has_automaton) {
      r.varint();     // start
      r.counted();    // finals
      const uint64_t states = r.varint();
      for (uint64_t q = 0; q < states && r.ok; ++q) {
        const uint64_t edges = r.varint();
        for (uint64_t e = 0; e < edges && r.ok; ++e) r.byte(), r.byte(), r.varint();
      }
    }
    n.automaton = r.since(from);
    if (!r.ok) return false;
  }
  return true;
}

// Whether stored node `i` and `regex` are the same regex, field by field (RegexIdentity::equal's
// fields). `matched[i]` remembers the node last found equal to `i`: a shared node is compared once.
bool same_node(const std::vector<StoredNode>& nodes, std::vector<const grammar::Regex*>& matched, size_t i,
               const grammar::Regex& regex) {
  if (matched[i] == &regex) return true;
  const StoredNode& n = nodes[i];
  if (n.kind != static_cast<uint64_t>(regex.kind) || n.lazy != (regex.lazy ? 1 : 0) || n.min != regex.min ||
      n.max != regex.max || n.byte_lo != regex.byte_lo || n.byte_hi != regex.byte_hi ||
      n.num_ranges != regex.chars.ranges().size() || n.num_items != regex.items.size() ||
      n.has_automaton != (regex.automaton ? 1 : 0))
    return false;
  Reader ranges(n.ranges);
  for (const grammar::CharRange& cr : regex.chars.ranges())
    if (ranges.varint() != cr.lo || ranges.varint() != cr.hi) return false;
  Reader items(n.items);
  for (const grammar::RegexPtr& item : regex.items) {
    const size_t k = static_cast<size_t>(items.varint());
    if (matched[k] != item.get() && !same_node(nodes, matched, k, *item)) return false;
  }
  if (regex.automaton) {
    const grammar::ByteAutomaton& a = *regex.automaton;
    Reader r(n.automaton);
    if (r.varint() != a.start) return false;
    if (r.counted() != std::string_view(a.finals.data(), a.finals.size())) return false;
    if (r.varint() != a.num_states()) return false;
    for (const auto& edges : a.edges) {
      if (r.varint() != edges.size()) return false;
      for (const auto& e : edges)
        if (r.byte() != e.lo || r.byte() != e.hi || r.varint() != e.to) return false;
    }
  }
  matched[i] = &regex;
  return true;
}

// --- the DFA

// The DFA at `r` (the rest of an entry), checked: nothing unless it decodes exactly.
std::optional<Dfa> decode_dfa(Reader& r) {
  const uint64_t start = r.varint(), states = r.varint(), classes = r.varint();
  if (!r.ok || states == 0 || start >= states || classes == 0 || classes > 256) return std::nullopt;
  // Every state takes at least a final byte and a count byte: a bound before allocating.
  if (states > r.left() / 2 || states >= kDead) return std::nullopt;
  std::array<uint8_t, 256> map{};
  const std::string_view m = r.bytes(256);
  if (!r.ok) return std::nullopt;
  for (size_t b = 0; b < 256; ++b) {
    map[b] = static_cast<uint8_t>(m[b]);
    if (map[b] >= classes) return std::nullopt;
  }
  const std::string_view f = r.bytes(static_cast<size_t>(states));
  const int width = r.byte();
  if (!r.ok || width < 1 || width > 4) return std::nullopt;
  std::vector<uint8_t> finals(f.begin(), f.end());
  std::vector<uint32_t> table(static_cast<size_t>(states * classes), kDead);
  for (uint64_t q = 0; q < states; ++q) {
    const uint64_t n = r.varint();
    if (!r.ok || n > classes || !r.take(static_cast<size_t>(n) * (1 + static_cast<size_t>(width))))
      return std::nullopt;
    uint32_t* row = table.data() + q * classes;
    int last = -1;
    for (uint64_t k = 0; k < n; ++k) {
      const int c = *r.p++;
      uint32_t to = 0;
      for (int i = 0; i < width; ++i) to |= static_cast<uint32_t>(r.p[i]) << (8 * i);
      r.p += width;
      if (c <= last || static_cast<uint64_t>(c) >= classes || to >= states) return std::nullopt;
      row[c] = to;
      last = c;
    }
  }
  if (r.left() != 0) return std::nullopt;
  return Dfa(static_cast<uint32_t>(start), map, static_cast<size_t>(classes), std::move(table), std::move(finals));
}
}  // namespace

std::string encode_regex_structure(const grammar::Regex& regex) {
  std::unordered_map<const grammar::Regex*, uint64_t> index;
  std::string nodes;
  std::function<void(const grammar::Regex&)> put = [&](const grammar::Regex& r) {
    if (index.count(&r)) return;
    for (const auto& item : r.items) put(*item);
    put_varint(nodes, static_cast<uint64_t>(r.kind));
    nodes += static_cast<char>(r.lazy ? 1 : 0);
    put_varint(nodes, r.min);
    put_varint(nodes, r.max);
    nodes += static_cast<char>(r.byte_lo);
    nodes += static_cast<char>(r.byte_hi);
    put_varint(nodes, r.chars.ranges().size());
    for (const grammar::CharRange& cr : r.chars.ranges()) {
      put_varint(nodes, cr.lo);
      put_varint(nodes, cr.hi);
    }
    put_varint(nodes, r.items.size());
    for (const auto& item : r.items) put_varint(nodes, index.at(item.get()));
    nodes += static_cast<char>(r.automaton ? 1 : 0);
    if (r.automaton) {
      const grammar::ByteAutomaton& a = *r.automaton;
      put_varint(nodes, a.start);
      put_varint(nodes, a.finals.size());
      nodes.append(a.finals.data(), a.finals.size());
      put_varint(nodes, a.num_states());
      for (const auto& edges : a.edges) {
        put_varint(nodes, edges.size());
        for (const auto& e : edges) {
          nodes += static_cast<char>(e.lo);
          nodes += static_cast<char>(e.hi);
          put_varint(nodes, e.to);
        }
      }
    }
    const uint64_t at = index.size();
    index.emplace(&r, at);
  };
  put(regex);
  std::string out;
  put_varint(out, index.size());
  return out + nodes;
}

PrebuiltDfa prebuilt_entry(std::string_view name, const grammar::Regex& regex, Dfa dfa) {
  return PrebuiltDfa{std::string(name), grammar::RegexIdentity::hash(regex), encode_regex_structure(regex),
                     std::move(dfa)};
}

std::string encode_prebuilt_dfas(const std::vector<PrebuiltDfa>& entries) {
  std::string out(kMagic, sizeof kMagic);
  put_fixed(out, entries.size(), 4);
  for (const PrebuiltDfa& e : entries) {
    std::string body;
    put_varint(body, e.name.size());
    body += e.name;
    put_fixed(body, e.identity_hash, 8);
    body += e.structure;
    const Dfa& d = e.dfa;
    const size_t n = d.num_states(), k = d.num_classes();
    put_varint(body, d.start());
    put_varint(body, n);
    put_varint(body, k);
    body.append(reinterpret_cast<const char*>(d.byte_classes().data()), 256);
    body.append(reinterpret_cast<const char*>(d.finals().data()), n);
    int width = 1;
    while (width < 4 && (n - 1) >> (8 * width)) ++width;
    body += static_cast<char>(width);
    for (size_t q = 0; q < n; ++q) {
      const uint32_t* row = d.table().data() + q * k;
      size_t live = 0;
      for (size_t c = 0; c < k; ++c) live += row[c] != kDead;
      put_varint(body, live);
      for (size_t c = 0; c < k; ++c) {
        if (row[c] == kDead) continue;
        body += static_cast<char>(c);
        put_fixed(body, row[c], width);
      }
    }
    put_fixed(out, body.size(), 8);
    out += body;
  }
  return out;
}

std::optional<Dfa> find_prebuilt_dfa(std::string_view blob, const grammar::Regex& regex) {
  if (regex.pinned_name.empty() || blob.empty()) return std::nullopt;
  std::optional<Dfa> found;
  for_each_entry(blob, [&](std::string_view name, Reader& r) {
    if (name != regex.pinned_name) return true;
    // The first entry under the name decides: it is the regex's own or nothing is used.
    if (r.fixed(8) != grammar::RegexIdentity::hash(regex)) return false;
    std::vector<StoredNode> nodes;
    if (!read_structure(r, nodes)) return false;
    std::vector<const grammar::Regex*> matched(nodes.size(), nullptr);
    if (!same_node(nodes, matched, nodes.size() - 1, regex)) return false;
    found = decode_dfa(r);
    return false;
  });
  return found;
}

std::vector<std::string> prebuilt_dfa_names(std::string_view blob) {
  std::vector<std::string> names;
  const bool ok = for_each_entry(blob, [&](std::string_view name, Reader&) {
    names.emplace_back(name);
    return true;
  });
  if (!ok) names.clear();
  return names;
}

}  // namespace tollgate::fsm
