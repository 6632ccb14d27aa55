// Context-free grammars on a real vocabulary (Llama-3): the Matcher interface and the
// brute-force mask oracle — at every state reached by replaying real documents, the mask equals
// "accept_bytes(token bytes) on a copy of the matcher" for every token of the vocabulary.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "engine/cfg_backend.hpp"
#include "test_support.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;

namespace {

using tollgate::testing::cfg_of;
using tollgate::testing::llama3;

// Replays `doc` greedily: at each step the longest allowed token that is a prefix of the rest.
// Checks the mask at every state; returns the number of states checked.
int replay_greedy(const CompiledGrammarPtr& g, const std::string& doc, int max_states, int& mismatches) {
  const TokenizerInfo& tok = g->tokenizer();
  Matcher m(g);
  std::vector<int32_t> mask(bitmask_words(tok.vocab_size()));
  size_t pos = 0;
  int states = 0;
  while (pos < doc.size() && states < max_states) {
    mismatches += tollgate::testing::mask_oracle_mismatches(m);
    ++states;
    m.fill_next_token_bitmask(mask.data());
    int32_t best = tollgate::testing::longest_allowed(tok, mask, doc, pos);
    INFO(doc << " at " << pos);
    REQUIRE(best >= 0);
    REQUIRE(m.accept_token(best));
    pos += tok.token_bytes(best).size();
  }
  if (pos == doc.size()) {
    CHECK(m.is_accepting());
    mismatches += tollgate::testing::mask_oracle_mismatches(m);
    ++states;
  }
  return states;
}

}  // namespace

TEST_CASE("cfg matcher: interface on the built-in JSON grammar", "[cfg][matcher]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  Compiler c(llama3());
  auto g = c.builtin_json();
  CHECK(c.builtin_json() == g);  // cached
  Matcher m(g);
  CHECK(m.accept_bytes("{\"a\": [1, 2"));
  CHECK_FALSE(m.accept_bytes("}"));
  CHECK(m.accept_bytes("]}"));
  CHECK(m.is_accepting());
  CHECK_FALSE(m.is_terminated());
  CHECK(m.accept_token(llama3()->eos_ids()[0]));
  CHECK(m.is_terminated());
  m.rollback(1);
  CHECK_FALSE(m.is_terminated());
  m.rollback(1);  // back to {"a": [1, 2
  CHECK_FALSE(m.is_accepting());
  CHECK(m.num_accepted() == 1);
  CHECK(m.accept_bytes("]}"));
  // rollback far back: 40 tokens, then forward again.
  m.reset();
  std::string doc = "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]";
  for (char ch : doc) REQUIRE(m.accept_bytes(std::string(1, ch)));
  CHECK(m.num_accepted() == 64);
  m.rollback(40);
  CHECK_FALSE(m.is_accepting());
  CHECK_THROWS_AS(m.rollback(100), Error);
}

TEST_CASE("cfg matcher: jump_forward returns forced bytes", "[cfg][matcher]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  Compiler c(llama3());
  auto g = c.compile_grammar(R"G(root ::= "{" "\"name\"" ":" value "}"
value ::= "\"" [a-z]* "\"" | [0-9]+)G", "gbnf");
  Matcher m(g);
  CHECK(m.jump_forward() == "{\"name\":");
  CHECK(m.accept_bytes("{\"na"));
  CHECK(m.jump_forward() == "me\":");
  CHECK(m.accept_bytes("me\":1"));
  CHECK(m.jump_forward().empty());
}

TEST_CASE("cfg masks: brute-force oracle on JSON (built-in and json.gbnf), maskbench documents",
          "[cfg][oracle]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  Compiler c(llama3());
  auto builtin = c.builtin_json();
  const int want = 2000 / static_cast<int>(tollgate::testing::sample_stride());  // TOLLGATE_TEST_SAMPLE
  int states = 0, mismatches = 0, docs = 0;
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(mb))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (size_t f = 0; f < files.size() && states < want; f += 37) {
    auto doc = nlohmann::json::parse(tollgate::testing::read_file(files[f]));
    for (auto& t : doc["tests"]) {
      if (!t.value("valid", false) || !t.contains("tokens_llama3")) continue;
      Matcher m(builtin);
      for (int32_t id : t["tokens_llama3"]) {
        int bad = tollgate::testing::mask_oracle_mismatches(m);
        mismatches += bad;
        ++states;
        INFO(files[f].filename());
        REQUIRE(bad == 0);
        REQUIRE(m.accept_token(id));
      }
      CHECK(m.is_accepting());
      ++docs;
      break;
    }
  }
  CHECK(states >= want);
  CHECK(mismatches == 0);
  WARN("JSON oracle: " << states << " states from " << docs << " documents, " << mismatches << " mismatches");
}

TEST_CASE("cfg masks: brute-force oracle on c.gbnf and arithmetic.gbnf", "[cfg][oracle]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(cg, "corpora/gbnf/c.gbnf");
  TOLLGATE_DATA_OR_SKIP(ag, "corpora/gbnf/arithmetic.gbnf");
  Compiler c(llama3());
  auto cgram = c.compile_grammar(tollgate::testing::read_file(cg), "gbnf", "c.gbnf");
  auto agram = c.compile_grammar(tollgate::testing::read_file(ag), "gbnf", "arithmetic.gbnf");
  const std::vector<std::string> c_docs = {
      "int main(){int x = 1;int y = x*2+3;while(x<10){x = x+1;}return y;}",
      "float area(float r){return r*r*3;}int count(char c){int n = 0;for(n = 0; n<5; n = n+1){print (n);}"
      "if(c==1){return n;}return 0;}",
      "char next(char c){c = c+1;return c;}int f(int a){int b = a*( a+1 )/2;g (a, b);return b;}",
      "int g(){// counts\nint k = 0;/* loop */while(k<=100){k = k*2+1;}if(k!=7){k = 0;}else{k = 1;}return k;}",
  };
  const std::vector<std::string> a_docs = {
      "a +b*3 = total\n", "(a +b)*c -d/7 = y\n", "foo*( bar+12) = y1\ny1 -3 = z\n",
      "(diameter)/2 = radius\nradius*radius*314/100 = area\n2*radius*314/100 = perimeter\n",
  };
  int states = 0, mismatches = 0;
  const int want = 2000 / static_cast<int>(tollgate::testing::sample_stride());  // TOLLGATE_TEST_SAMPLE
  // The hand-written documents, then generated ones in the same style until 2,000 states.
  std::string c_more, a_more;
  for (int i = 0; i < 240; ++i) {
    std::string n = std::to_string(i * 7919 % 1000);
    c_more += "int f" + n + "(int a){int b" + n + " = a*( a+" + n + " )/2;g (a, b" + n + ");while(b" + n +
              "<100){b" + n + " = b" + n + "+" + n + ";}return b" + n + ";}";
    a_more += "(v" + n + " +w" + n + ")*" + n + " -x/" + std::to_string(i + 1) + " = z" + n + "\n";
  }
  for (auto& d : c_docs) states += replay_greedy(cgram, d, want - states, mismatches);
  states += replay_greedy(cgram, c_more, want - states, mismatches);
  int cstates = states;
  for (auto& d : a_docs) states += replay_greedy(agram, d, want - (states - cstates), mismatches);
  states += replay_greedy(agram, a_more, want - (states - cstates), mismatches);
  CHECK(cstates >= want);
  CHECK(states - cstates >= want);
  CHECK(mismatches == 0);
  WARN("C oracle: " << cstates << " states; arithmetic oracle: " << states - cstates << " states; "
                    << mismatches << " mismatches");
}

// Leftmost-first lexing (Lark): masks under guards. lark.lark describes Lark's own syntax; the
// documents are Lark grammars (lark.lark itself without the lines its simplified STRING cannot
// read, and hand-written ones), so the walk crosses names, strings, regexps, comments and
// operators whose terminals may still grow (guarded completions).
TEST_CASE("cfg masks: brute-force oracle on lark.lark (leftmost-first lexing)", "[cfg][oracle][lark]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(lg, "corpora/llguidance/sample_parser/data/lark.lark");
  Compiler c(llama3());
  std::string text = tollgate::testing::read_file(lg);
  auto g = c.compile_grammar(text, "lark", "lark.lark");
  std::string self;
  for (size_t a = 0; a < text.size();) {
    size_t b = text.find('\n', a);
    if (b == std::string::npos) b = text.size();
    std::string line = text.substr(a, b - a);
    if (line.find("\\\"") == std::string::npos) self += line + "\n";
    a = b + 1;
  }
  const std::vector<std::string> docs = {
      self,
      "start: value+\nvalue: NUMBER | STRING | name   // a comment\n?name: CNAME \"?\"i\n"
      "%import common.CNAME\nNUMBER.2: /[0-9]+/ (\".\" /[0-9]+/)?\n%ignore \" \"\n",
      "pair: key \":\" value -> kv\nkey: /[a-z]+/i ~ 2..5 | \"x\" ~ 3\nlist: \"[\" [value (\",\" value)*] \"]\"\n"
      "# hash comment\n_SEP: /\\s+/\nWORD: LETTER+\n%declare FOO BAR\n",
  };
  const int stride = static_cast<int>(tollgate::testing::sample_stride());  // TOLLGATE_TEST_SAMPLE
  int states = 0, mismatches = 0;
  for (auto& d : docs) states += replay_greedy(g, d, 450 / stride - states, mismatches);
  CHECK(states >= 400 / stride);
  CHECK(mismatches == 0);
  WARN("lark.lark oracle: " << states << " states, " << mismatches << " mismatches");
}

// Random walks through Lark grammars (seeded; at each step a uniformly chosen allowed token): the
// fast mask (precomputed sets, boundary walks, guards) equals the brute-force trie walk with the
// parser at every step.
TEST_CASE("cfg masks: fast masks equal the trie walk along random walks in Lark grammars", "[cfg][oracle][lark]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(lg, "corpora/llguidance/sample_parser/data/lark.lark");
  Compiler c(llama3());
  const TokenizerInfo& tok = *llama3();
  std::vector<std::filesystem::path> files = {lg};
  for (auto& e : std::filesystem::directory_iterator(std::filesystem::path(TOLLGATE_SOURCE_DIR) / "tests/data/lark"))
    files.push_back(e.path());
  std::sort(files.begin(), files.end());
  const int walks = (6 + static_cast<int>(tollgate::testing::sample_stride()) - 1) /
                    static_cast<int>(tollgate::testing::sample_stride());  // TOLLGATE_TEST_SAMPLE
  int steps = 0, mismatches = 0;
  std::vector<uint32_t> fast(bitmask_words(tok.vocab_size())), slow(fast.size());
  for (auto& f : files) {
    auto g = c.compile_grammar(tollgate::testing::read_file(f), "lark", f.filename().string());
    auto& impl = cfg_of(g);
    std::mt19937 rng(99);
    for (int walk = 0; walk < walks; ++walk) {
      fsm::ParserState st = impl.rt->initial(), next;
      for (int step = 0; step < 40; ++step) {
        impl.fill_mask(st, fast.data());
        impl.fill_mask_slow(st, slow.data());
        ++steps;
        if (fast != slow) {
          ++mismatches;
          for (int32_t id = 0; id < tok.vocab_size(); ++id)
            if (((fast[id >> 5] ^ slow[id >> 5]) >> (id & 31)) & 1)
              UNSCOPED_INFO(f.filename() << " walk " << walk << " step " << step << " token " << id << " '"
                                         << tok.token_bytes(id) << "' fast=" << ((fast[id >> 5] >> (id & 31)) & 1));
          break;
        }
        std::vector<int32_t> allowed;
        for (int32_t id = 0; id < tok.vocab_size(); ++id)
          if ((slow[id >> 5] >> (id & 31)) & 1) allowed.push_back(id);
        if (allowed.empty()) break;
        std::string_view bytes = tok.token_bytes(allowed[rng() % allowed.size()]);
        REQUIRE(impl.rt->feed(st, bytes));
      }
    }
  }
  CHECK(mismatches == 0);
  CHECK(steps >= 1000 * walks / 6);
  WARN("Lark random walks: " << steps << " steps, fast mask == trie walk in all but " << mismatches);
}
