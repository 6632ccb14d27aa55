// Lexeme automata built on first use (CompileOptions::eager_automata_states; fsm::LexemeAutomata):
// on real maskbench-dev schemas the masks of a grammar whose automata are built lazily equal
// those of the same grammar built whole at compile time, step by step, through every valid test
// document; the compile builds only what the first mask needs; the byte partition read from the
// regexes (the boundary walks' byte classes before the DFAs exist) holds for every DFA built; a
// concatenation joined from its pieces has the NFA route's language (and its minimal DFA in the
// JSON-shaped cases); and a
// lexeme over the DFA budget built later is a kLimit error from the matcher call that needs it,
// with the matcher unchanged, where the eager compile refuses the schema; and JSON Schema's format
// automata are made once per process (read from the library, or built) and shared, under each
// compile's budgets.
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/cfg_backend.hpp"
#include "fsm/cfg_runtime.hpp"
#include "fsm/dfa.hpp"
#include "grammar/json_schema_strings.hpp"
#include "grammar/regex_ast.hpp"
#include "test_support.hpp"
#include "tollgate/encoder.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;
using tollgate::testing::cfg_of;
using tollgate::testing::llama3;
using tollgate::testing::mask_of;
using tollgate::testing::maskbench_files;
using tollgate::testing::read_file;
namespace fs = std::filesystem;

namespace {

CompileOptions with_eager(size_t states, double ms = 0) {
  CompileOptions o;
  o.threads = 1;
  o.eager_automata_states = states;
  o.eager_automata_ms = ms;
  return o;
}

// Two routes to one language gave the same minimal DFA: states, classes, table and finals.
void check_same_dfa(const fsm::Dfa& a, const fsm::Dfa& b) {
  REQUIRE(a.num_states() == b.num_states());
  REQUIRE(a.num_classes() == b.num_classes());
  CHECK(a.byte_classes() == b.byte_classes());
  CHECK(a.table() == b.table());
  for (uint32_t s = 0; s < a.num_states(); ++s) CHECK(a.is_final(s) == b.is_final(s));
}

// Fills a mask and accepts `"k": "` (where the lexeme of k's pattern is reached at the latest):
// whether that threw the DFA budget's kLimit error.
bool limit_error_reaching_k(Matcher& m) {
  try {
    std::vector<int32_t> mask(bitmask_words(llama3()->vocab_size()));
    m.fill_next_token_bitmask(mask.data());
    const bool ok = m.accept_bytes(R"("k": ")");
    CHECK(ok);
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("max_dfa_states") != std::string::npos);
    return e.kind() == ErrorKind::kLimit;
  }
  return false;
}

}  // namespace

TEST_CASE("lazy automata: masks equal the eagerly built grammar's on maskbench-dev schemas", "[lazy][json-schema]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  // part: some automata built in the compile (the partition then read and checked against them),
  // the rest later.
  Compiler lazy(llama3(), with_eager(0)), eager(llama3(), with_eager(SIZE_MAX)), part(llama3(), with_eager(300));
  const auto files = maskbench_files(mb);
  size_t schemas = 0, steps = 0, mismatches = 0, deferred = 0, partial = 0;
  for (size_t i = 0; i < files.size() && schemas < 40; i += 23) {
    const auto j = nlohmann::json::parse(read_file(files[i]));
    const std::string text = j["schema"].dump();
    CompiledGrammarPtr gl, ge;
    try {
      ge = eager.compile_json_schema(text);
    } catch (const Error&) {
      continue;  // refused either way (the lazy compile may accept what only a later step builds)
    }
    gl = lazy.compile_json_schema(text);
    CompiledGrammarPtr gp = part.compile_json_schema(text);
    ++schemas;
    const auto& rp = cfg_of(gp).rt->automata();
    if (rp.num_built() < rp.size() && rp.num_built_states() >= 300) {
      ++partial;
      CHECK(rp.byte_partition() != nullptr);
    }
    const auto& rl = cfg_of(gl).rt->automata();
    const auto& re = cfg_of(ge).rt->automata();
    REQUIRE(re.num_built() == re.size());
    REQUIRE(rl.size() == re.size());
    if (rl.num_built() < rl.size()) ++deferred;
    CHECK(gl->stats().dfa_states <= ge->stats().dfa_states);
    for (const auto& t : j["tests"]) {
      if (!t.value("valid", false)) continue;
      Matcher ml(gl), me(ge), mp(gp);
      for (int32_t id : t["tokens_llama3"].get<std::vector<int32_t>>()) {
        ++steps;
        const auto want = mask_of(me);
        if (mask_of(ml) != want || mask_of(mp) != want) ++mismatches;
        const bool al = ml.accept_token(id), ae = me.accept_token(id), ap = mp.accept_token(id);
        REQUIRE(al == ae);
        REQUIRE(ap == ae);
        if (!al) break;
      }
      mismatches += mask_of(ml) != mask_of(me) || mask_of(mp) != mask_of(me);
    }
    // Every automaton built since holds the partition the walks used (build() checks it; a
    // lexeme it did not hold for would have thrown kInternal above).
    CHECK(rl.byte_partition() != nullptr);
  }
  INFO(schemas << " schemas, " << steps << " steps, " << deferred << " compiled with automata left for later, "
                << partial << " with 300 states built first");
  CHECK(schemas >= 30);
  CHECK(steps > 2000);
  CHECK(deferred >= schemas / 2);
  CHECK(partial >= 3);
  CHECK(mismatches == 0);
}

TEST_CASE("lazy automata: the compile builds what the first mask needs, a later step the rest", "[lazy]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  const std::string text =
      R"({"type":"object","properties":{"when":{"type":"string","format":"date-time"},"n":{"type":"integer"}},)"
      R"("required":["when","n"],"additionalProperties":false})";
  Compiler lazy(llama3(), with_eager(0));
  CompiledGrammarPtr g = lazy.compile_json_schema(text);
  const auto& a = cfg_of(g).rt->automata();
  const size_t at_compile = a.num_built();
  CHECK(at_compile >= 1);
  CHECK(at_compile < a.size());
  Matcher m(g);
  REQUIRE(m.accept_bytes(R"({"when": "2024-02-29T23:59:60Z", "n": 12})"));
  CHECK(m.is_accepting());
  CHECK(a.num_built() > at_compile);
  CHECK_FALSE(Matcher(g).accept_bytes(R"({"when": "2023-02-29T10:00:00Z")"));  // not a leap year
}

TEST_CASE("lazy automata: a lexeme over the DFA budget is a kLimit error from the step that needs it", "[lazy][limits]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  // The pattern's DFA needs 2^12 states (the 12th character from the end is an 'a').
  const std::string text =
      R"({"type":"object","properties":{"k":{"type":"string","pattern":"^[ab]*a[ab]{11}$"}},"required":["k"],)"
      R"("additionalProperties":false})";
  CompileOptions small = with_eager(SIZE_MAX);
  small.max_dfa_states = 1000;
  CHECK_THROWS_AS(Compiler(llama3(), small).compile_json_schema(text), Error);
  small.eager_automata_states = 0;
  CompiledGrammarPtr g = Compiler(llama3(), small).compile_json_schema(text);
  Matcher m(g);
  REQUIRE(m.accept_bytes("{"));
  CHECK(limit_error_reaching_k(m));
  CHECK_FALSE(m.is_accepting());
  CHECK_NOTHROW(m.rollback(1));  // still usable: back to before "{"
}

TEST_CASE("lazy automata: built in the compile for eager_automata_ms, one over the budget left to the step that needs it",
          "[lazy][limits]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  // The pattern's DFA needs 2^12 states; the rest of the schema is small. With time for
  // everything, the compile builds every lexeme but that one, and gives no error: the matcher
  // step that needs it does, as when nothing is built ahead (so the result does not depend on how
  // far the clock let the compile go). With eager_automata_states = SIZE_MAX it is the compile's.
  const std::string text =
      R"({"type":"object","properties":{"when":{"type":"string","format":"date"},)"
      R"("k":{"type":"string","pattern":"^[ab]*a[ab]{11}$"},"n":{"type":"integer"}},"required":["when","k","n"],)"
      R"("additionalProperties":false})";
  CompileOptions timed = with_eager(0, 1e9);
  timed.max_dfa_states = 1000;
  CompiledGrammarPtr g = Compiler(llama3(), timed).compile_json_schema(text);
  const auto& a = cfg_of(g).rt->automata();
  CHECK(a.num_built() == a.size() - 1);
  CHECK(a.byte_partition() != nullptr);  // one left for later: the walks read the partition
  Matcher m(g);
  REQUIRE(m.accept_bytes(R"({"when": "2024-02-29", )"));
  CHECK(limit_error_reaching_k(m));
  timed.eager_automata_states = SIZE_MAX;
  CHECK_THROWS_AS(Compiler(llama3(), timed).compile_json_schema(text), Error);
  // Within the budget, everything is built in the compile and no partition is read.
  timed = with_eager(0, 1e9);
  CompiledGrammarPtr all = Compiler(llama3(), timed).compile_json_schema(text);
  const auto& b = cfg_of(all).rt->automata();
  CHECK(b.num_built() == b.size());
  CHECK(b.byte_partition() == nullptr);
  Matcher ok(all);
  CHECK(ok.accept_bytes(R"({"when": "2024-02-29", "k": "aabbbbbbbbbbb", "n": 3})"));
  CHECK(ok.is_accepting());
  CHECK_FALSE(Matcher(all).accept_bytes(R"({"when": "2024-02-29", "k": "abbbbbbbbbbbb")"));
}

TEST_CASE("deterministic concatenation: the same language as through an NFA, minimal in the JSON cases", "[lazy][dfa]") {
  using grammar::Regex;
  using grammar::parse_regex;
  // JSON-shaped runs (whitespace bounds, separators, keys, escaped strings, numbers), and runs
  // whose pieces overlap (joined through the NFA instead): the same minimal DFA. The join is not
  // minimised (fsm/dfa.cpp, concat_deterministic): a piece's empty-string final state is taken as
  // the next piece's start, which is what a string body or a repeated list item after a literal
  // needs; the rare joins that stay larger than minimal must still have the same language.
  const char* minimal[] = {
      R"([ \t\n\r]{0,20},[ \t\n\r]{0,20}"name"[ \t\n\r]{0,20}:[ \t\n\r]{0,20}-?(0|[1-9][0-9]*)(\.[0-9]+)?)",
      R"(\{[ \t]{0,3}"a"[ \t]{0,3}:[ \t]{0,3}(true|false|null)[ \t]{0,3}\})",
      R"(x?y?z?w)",
      R"(a*ab)",
      R"([ab]*a[ab]{3})",
      R"(é?ü{0,2}[^a]b)",
      R"("[a-z]*"[ \t]*:)",
      R"(\[[ ]*(1(,[ ]*1)*)?[ ]*\])",
      // chains of ASCII sets (keys, enum values): built as a chain, not joined piece by piece
      R"(enabled)",
      R"([a-c]x[0-9][xyz]e\-)",
      R"(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab)",   // 64 items
      R"(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab)",  // 65: joined
      R"(caf[eé])",                                                           // not ASCII: joined
  };
  // a literal that a later loop repeats: the join keeps a copy of the loop's middle state
  const std::pair<const char*, const char*> same_language[] = {
      {R"([A-Za-z]+(-[A-Za-z]+)*)", "ab-cd-e"},
      {R"(x[0-9]*(,[0-9]+)*;)", "x12,3,45;"},
      {R"(ab(ab)*c)", "ababc"},
  };
  auto joined_and_plain = [](const char* pat) {
    grammar::RegexPtr r = parse_regex(pat);
    REQUIRE(r->kind == Regex::Kind::kConcat);
    fsm::SubDfaCache cache;
    fsm::DfaOptions with_cache;
    with_cache.sub_dfas = &cache;
    return std::make_pair(fsm::compile_dfa(*r, with_cache), fsm::compile_dfa(*r));
  };
  for (const char* pat : minimal) {
    INFO(pat);
    auto [joined, plain] = joined_and_plain(pat);
    check_same_dfa(joined, plain);
  }
  for (const auto& [pat, sample] : same_language) {
    INFO(pat);
    auto [joined, plain] = joined_and_plain(pat);
    CHECK(joined.num_states() >= plain.num_states());
    CHECK(fsm::difference(joined, plain).empty());
    CHECK(fsm::difference(plain, joined).empty());
    CHECK(joined.matches(sample));
  }
}

TEST_CASE("format automata: built once per process, shared by later compiles, budgets still hold", "[lazy][json-schema][limits]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  const std::string text =
      R"({"type":"object","properties":{"at":{"type":"string","format":"date-time"},)"
      R"("hosts":{"type":"array","items":{"type":"string","format":"hostname"}}},"required":["at"]})";
  const size_t before = fsm::process_wide_dfa_builds();
  CompiledGrammarPtr a = Compiler(llama3(), with_eager(SIZE_MAX)).compile_json_schema(text);
  const size_t after_first = fsm::process_wide_dfa_builds();
  // date-time and hostname, unless an earlier test built them; none when they are embedded
  // (prebuilt_dfas_test.cpp).
  CHECK(after_first - before <= 2);
  CHECK(fsm::process_wide_dfa_bytes() > 0);
  CompiledGrammarPtr b = Compiler(llama3(), with_eager(SIZE_MAX)).compile_json_schema(text);
  CHECK(fsm::process_wide_dfa_builds() == after_first);  // the second compile built none
  CHECK(b->stats().dfa_states == a->stats().dfa_states);
  const std::string doc = R"({"at": "2016-12-31T18:59:60-05:00", "hosts": ["example.com", "a.b-c.d"]})";
  Matcher ma(a), mb(b);
  const auto ids = Encoder(llama3()).encode(doc);
  for (int32_t id : ids) {
    REQUIRE(mask_of(ma) == mask_of(mb));
    REQUIRE(ma.accept_token(id));
    REQUIRE(mb.accept_token(id));
  }
  CHECK(ma.is_accepting());
  CHECK_FALSE(Matcher(a).accept_bytes(R"({"at": "2016-12-31T23:59:60-05:00")"));  // not 23:59 UTC
  // The shared date-time automaton (some 11,500 states) is over a smaller budget: refused as a
  // build would refuse it, cached or not.
  CompileOptions small = with_eager(SIZE_MAX);
  small.max_dfa_states = 5000;
  try {
    Compiler(llama3(), small).compile_json_schema(text);
    FAIL("a 5,000-state budget compiled the date-time automaton");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kLimit);
    CHECK(std::string(e.what()).find("max_dfa_states") != std::string::npos);
  }
  // The same language as the node built the ordinary way.
  const grammar::RegexPtr pinned = grammar::Regex::pin(grammar::parse_regex("[0-9]{4}-(0[1-9]|1[0-2])"));
  grammar::Regex plain = *pinned;
  plain.process_wide = false;
  const fsm::Dfa x = fsm::compile_dfa(*pinned), y = fsm::compile_dfa(plain);
  CHECK(x.num_states() == y.num_states());
  CHECK(x.table() == y.table());
}

TEST_CASE("long counted repetition: the same minimal DFA as the repetition written out", "[lazy][dfa]") {
  using grammar::parse_regex;
  // X{m,n} of a prefix-free X (a code point set, a literal, literals), built on X's DFA, against
  // X written m times and then n - m nested optional groups (each a repeat of at most 1: through
  // the NFA); items that are not prefix-free ((?:a|ab)) take the NFA route both ways.
  struct Case {
    const char* item;
    uint32_t min, max;  // max 0: unbounded
  };
  const Case cases[] = {
      {"[a-z0-9]", 3, 63},    {"[^\"\\\\]", 0, 40},    {"[α-ωA-Z\\x{4E00}-\\x{9FD5}]", 1, 30},
      {"(?:ab|cd)", 0, 20},   {"(?:a|ab)", 1, 17},     {"[0-9A-F]", 17, 0},
      {"\\x{10000}", 0, 16},  {"(?:x|yz|\\x{E9})", 16, 24},
  };
  for (const Case& c : cases) {
    std::string counted = std::string("(?:") + c.item + "){" + std::to_string(c.min) + "," +
                          (c.max ? std::to_string(c.max) : std::string()) + "}";
    std::string written;
    for (uint32_t i = 0; i < c.min; ++i) written += std::string("(?:") + c.item + ")";
    if (c.max == 0) {
      written += std::string("(?:") + c.item + ")*";
    } else {
      for (uint32_t i = c.min; i < c.max; ++i) written += std::string("(?:") + c.item;
      for (uint32_t i = c.min; i < c.max; ++i) written += ")?";
    }
    if (written.empty()) written = "(?:)";
    INFO(counted << " against " << written);
    const fsm::Dfa a = fsm::compile_dfa(*parse_regex(counted));
    const fsm::Dfa b = fsm::compile_dfa(*parse_regex(written));
    check_same_dfa(a, b);
  }
}

TEST_CASE("length bounds: counted on the automaton, the same minimal DFA as the product", "[lazy][dfa]") {
  using grammar::Regex;
  // minLength / maxLength beside a format or pattern: bound_length against fsm::intersect with
  // the length automaton, on formats, multi-byte classes and an unbounded minimum.
  const grammar::RegexPtr any = Regex::chars_of(grammar::CharSet::any());
  struct Case {
    grammar::RegexPtr body;
    uint32_t min, max;
  };
  const Case cases[] = {
      {grammar::format_regex("email"), 0, 64},
      {grammar::format_regex("date-time"), 0, 25},
      {grammar::format_regex("hostname"), 3, 40},
      {grammar::parse_regex("[a-zé中\\x{1F600}]*"), 3, 10},
      {grammar::parse_regex("(?:ab|é)*x"), 20, grammar::kUnbounded},
      {grammar::parse_regex("[0-9]{2,}"), 1, 3},
      // finite parts beside cycles: counted only where the bound can bite (kFree in bound_length)
      {grammar::format_regex("email"), 10, 200},
      {grammar::format_regex("ipv6"), 0, 30},
      {grammar::format_regex("ipv6"), 12, grammar::kUnbounded},
      {grammar::parse_regex("(?:[0-9]{1,3}\\.){3}[0-9]{1,3}|[a-zé]+|x[0-9]{0,20}y"), 5, 12},
      {grammar::parse_regex("(?:abc|é{2,4})(?:日[a-c]{0,6})?"), 4, 9},
  };
  for (const Case& c : cases) {
    INFO(c.body->to_string().substr(0, 80) << " {" << c.min << "," << c.max << "}");
    const grammar::RegexPtr len = Regex::repeat(any, c.min, c.max);
    const fsm::Dfa counted = fsm::compile_dfa(*Regex::intersect({c.body, len}));
    const fsm::Dfa product = fsm::intersect(fsm::compile_dfa(*c.body), fsm::compile_dfa(*len));
    check_same_dfa(counted, product);
  }
  // What the budget refused before: email under maxLength 1024 (the product passed the 32 MiB
  // construction budget; counted, it is 1,025 copies of the format's states at most).
  const fsm::Dfa email = fsm::compile_dfa(*Regex::intersect({grammar::format_regex("email"), Regex::repeat(any, 0, 1024)}));
  CHECK(email.num_states() > 1024);
  CHECK(email.matches("a@b.co"));
  CHECK_FALSE(email.matches(std::string(1020, 'a') + "@b.co"));
}
