// The precomputed token index against brute force, on real vocabularies, and the regex Matcher
// replayed token by token over canonical and random tokenizations.
#include "test_support.hpp"

#include <re2/re2.h>

#include <nlohmann/json.hpp>
#include <random>

#include "engine/regex_backend.hpp"
#include "fsm/token_trie.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;

namespace {

const std::vector<std::string>& oracle_regexes() {
  static const std::vector<std::string> r = {
      // the seven benchmark regexes
      R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))",
      R"([a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,})",
      R"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
      R"(((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))",
      R"(\+[1-9]\d{0,2}[ -]?\(?\d{1,4}\)?([ -]?\d{2,4}){2,4})",
      R"((alpha|bravo|charlie|delta|echo|foxtrot|golf|hotel|india|juliet|kilo|lima|mike|november|oscar|papa))",
      R"(\{[ ]?"name"[ ]?:[ ]?"([^"\\\x00-\x1f]|\\["\\/bfnrt])*"[ ]?,[ ]?"age"[ ]?:[ ]?(0|[1-9][0-9]*)[ ]?\})",
      // more shapes: wide classes, Unicode, spaces, optional parts
      R"([a-z]+)", R"(\d+)", R"((true|false|null))", R"("[^"]*")", R"(\w+@\w+\.com)",
      R"([A-Z][a-z]{2,5})", R"(\s*\{\s*\})", R"(.{0,10})", R"([一-鿿]+)",
      R"((\+|-)?\d+(\.\d+)?([eE][+-]?\d+)?)", R"([αβγδ]+x)", R"((ab|cd|ef)*)",
      R"( ?[a-z]+( [a-z]+)*)", R"([^a-z]{1,3})", R"((?:https?://)?[a-z0-9.-]+\.[a-z]{2,6}(/[a-z0-9_-]*)*)",
  };
  return r;
}

const engine::RegexGrammar& regex_impl(const CompiledGrammarPtr& g) {
  return dynamic_cast<const engine::RegexGrammar&>(g->impl());
}

bool bit(const uint32_t* m, int32_t id) { return (m[id >> 5] >> (id & 31)) & 1u; }

void check_index_against_brute_force(const std::filesystem::path& tok_path) {
  auto tok = TokenizerInfo::from_file(tok_path.string());
  Compiler compiler(tok);
  size_t states_checked = 0, sparse_masks = 0;
  for (const auto& re : oracle_regexes()) {
    INFO("regex " << re);
    auto g = compiler.compile_regex(re);
    const auto& rg = regex_impl(g);
    const fsm::Dfa& dfa = rg.dfa;
    sparse_masks += rg.index.num_sparse_masks();
    std::vector<uint32_t> buf(rg.index.words());
    const uint32_t* m = buf.data();
    for (uint32_t s = 0; s < dfa.num_states(); ++s) {
      std::fill(buf.begin(), buf.end(), 0xA5A5A5A5u);  // the fill must overwrite every word
      rg.index.fill(s, buf.data());
      size_t mismatches = 0;
      for (int32_t id = 0; id < tok->vocab_size(); ++id) {
        const std::string& b = tok->token_bytes(id);
        bool expect = !tok->is_special(id) && !b.empty() && dfa.walk(s, b) != fsm::kDead;
        if (bit(m, id) != expect) ++mismatches;
      }
      CHECK(mismatches == 0);
      ++states_checked;
    }
    if (rg.strip_first_space) {
      std::fill(buf.begin(), buf.end(), 0xA5A5A5A5u);
      rg.index.fill_first(buf.data());
      size_t mismatches = 0;
      for (int32_t id = 0; id < tok->vocab_size(); ++id) {
        std::string_view b = tok->token_bytes(id);
        if (!b.empty() && b.front() == ' ') b.remove_prefix(1);
        bool expect = !tok->is_special(id) && !tok->token_bytes(id).empty() &&
                      dfa.walk(dfa.start(), b) != fsm::kDead;
        if (bit(m, id) != expect) ++mismatches;
      }
      CHECK(mismatches == 0);
    }
  }
  CHECK(states_checked >= 200);
  CHECK(sparse_masks > 0);
}

}  // namespace

TEST_CASE("token index equals brute force on Llama-3", "[index][data]") {
  TOLLGATE_DATA_OR_SKIP(path, "tokenizers/llama3/tokenizer.json");
  check_index_against_brute_force(path);
}

TEST_CASE("token index equals brute force on Llama-2", "[index][data]") {
  TOLLGATE_DATA_OR_SKIP(path, "tokenizers/llama2/tokenizer.json");
  check_index_against_brute_force(path);
}

namespace {

// Replays `ids` through a fresh matcher, checking at every step that the mask allows the next
// token and that EOS is allowed exactly where the prefix so far fully matches (RE2 decides).
void replay(const CompiledGrammarPtr& g, const TokenizerInfo& tok, const RE2& oracle,
            const std::vector<int32_t>& ids) {
  Matcher m(g, 1024);
  std::vector<int32_t> mask(bitmask_words(tok.vocab_size()));
  std::string text;
  const int32_t eos = tok.eos_ids().front();
  for (size_t i = 0; i <= ids.size(); ++i) {
    m.fill_next_token_bitmask(mask.data());
    bool eos_allowed = (mask[eos >> 5] >> (eos & 31)) & 1;
    std::string visible = text;
    if (tok.prepends_space() && tok.leading_space() == LeadingSpace::kStrip && !visible.empty() &&
        visible.front() == ' ')
      visible.erase(0, 1);
    INFO("prefix '" << visible << "'");
    REQUIRE(eos_allowed == RE2::FullMatch(visible, oracle));
    REQUIRE(m.is_accepting() == eos_allowed);
    if (i == ids.size()) break;
    int32_t id = ids[i];
    REQUIRE(((mask[id >> 5] >> (id & 31)) & 1) == 1);
    REQUIRE(m.accept_token(id));
    text += tok.token_bytes(id);
  }
  REQUIRE(m.accept_token(eos));
  REQUIRE(m.is_terminated());
  m.fill_next_token_bitmask(mask.data());
  for (int32_t w : mask) REQUIRE(w == 0);
  // Rolling everything back returns to the start.
  m.rollback(static_cast<int>(ids.size()) + 1);
  CHECK(m.num_accepted() == 0);
  CHECK_FALSE(m.is_terminated());
}

// A random split of `text` into tokens of the vocabulary, found by walking the trie.
std::vector<int32_t> random_split(const TokenizerInfo& tok, const std::string& text, std::mt19937& rng) {
  const auto& nodes = tok.trie().nodes();
  const auto& tids = tok.trie().token_ids();
  std::vector<int32_t> out;
  size_t pos = 0;
  while (pos < text.size()) {
    std::vector<std::pair<size_t, int32_t>> options;  // (length, id)
    size_t node = 0;
    for (size_t k = pos; k < text.size(); ++k) {
      // find child of `node` with byte text[k]
      size_t child = node + 1, found = 0;
      bool ok = false;
      while (child < nodes[node].subtree_end) {
        if (nodes[child].byte == static_cast<uint8_t>(text[k])) {
          found = child;
          ok = true;
          break;
        }
        child = nodes[child].subtree_end;
      }
      if (!ok) break;
      node = found;
      for (uint32_t t = nodes[node].tokens_begin; t < nodes[node].tokens_end; ++t)
        options.push_back({k - pos + 1, tids[t]});
    }
    REQUIRE_FALSE(options.empty());
    auto pick = options[rng() % options.size()];
    out.push_back(pick.second);
    pos += pick.first;
  }
  return out;
}

void replay_fixture(const std::filesystem::path& fixture, const std::filesystem::path& tok_path) {
  auto tok = TokenizerInfo::from_file(tok_path.string());
  Compiler compiler(tok);
  auto cases = nlohmann::json::parse(tollgate::testing::read_file(fixture)).at("cases");
  std::map<std::string, CompiledGrammarPtr> compiled;
  std::mt19937 rng(1234);
  size_t canonical = 0, random = 0;
  for (const auto& c : cases) {
    std::string re = c.at("regex");
    std::string text = c.at("text");
    std::vector<int32_t> ids = c.at("ids");
    INFO("regex " << re << " text '" << text << "'");
    auto& g = compiled[re];
    if (!g) g = compiler.compile_regex(re);
    RE2 oracle(re);
    REQUIRE(oracle.ok());
    REQUIRE(RE2::FullMatch(text, oracle));
    replay(g, *tok, oracle, ids);
    ++canonical;
    // Random non-canonical splits (the first token keeps its space for Prepend-▁ tokenizers).
    std::string bytes = text;
    if (tok->prepends_space() && tok->leading_space() == LeadingSpace::kStrip) bytes = " " + text;
    for (int r = 0; r < 5; ++r) {
      replay(g, *tok, oracle, random_split(*tok, bytes, rng));
      ++random;
    }
  }
  CHECK(canonical >= 35);
  CHECK(random >= 175);
}

}  // namespace

TEST_CASE("regex matcher replays canonical and random tokenizations (Llama-3)", "[replay][data]") {
  TOLLGATE_DATA_OR_SKIP(path, "tokenizers/llama3/tokenizer.json");
  replay_fixture(std::filesystem::path(TOLLGATE_SOURCE_DIR) / "tests/data/replay/llama3.json", path);
}

TEST_CASE("regex matcher replays canonical and random tokenizations (Llama-2)", "[replay][data]") {
  TOLLGATE_DATA_OR_SKIP(path, "tokenizers/llama2/tokenizer.json");
  replay_fixture(std::filesystem::path(TOLLGATE_SOURCE_DIR) / "tests/data/replay/llama2.json", path);
}
