// The Compiler's lexeme automata cache (fsm::LexemeDfaCache, CompileOptions::lexeme_cache_bytes):
// a regex met again — another parse of the same pattern, not the same node — finds the automaton
// built for the first, per lexing mode; over its byte bound the least recently used entries go and
// the bytes held stay within it. On real maskbench-dev schemas compiled one after another by one
// Compiler, later grammars take automata built for earlier ones, and every mask along every valid
// test equals the mask of the same schema compiled by a Compiler without the cache, and by one whose
// cache is so small that it keeps evicting. Index entries of shared automata are taken whole from
// the Compiler's IndexCache by later grammars, with the same masks. A new Compiler's warm-up
// (CompileOptions::warm_up_json) leaves automata and index entries that its first schema takes,
// masks unchanged; it tells no progress callback and gives up quietly under tight budgets.
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>

#include "engine/cfg_backend.hpp"
#include "fsm/cfg_runtime.hpp"
#include "fsm/dfa.hpp"
#include "grammar/regex_ast.hpp"
#include "test_support.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;
using tollgate::testing::cfg_of;
using tollgate::testing::first_valid_tokens;
using tollgate::testing::llama3;
using tollgate::testing::mask_of;
using tollgate::testing::maskbench_files;
using tollgate::testing::read_file;

namespace {

std::shared_ptr<const fsm::LexDfa> lex_dfa(const grammar::RegexPtr& r) {
  return std::make_shared<const fsm::LexDfa>(fsm::LexDfa::from(fsm::compile_dfa(*r, {})));
}

}  // namespace

TEST_CASE("lexeme cache: found by structure and mode, least recently used evicted within the bound",
          "[lexeme-cache]") {
  const grammar::RegexPtr a1 = grammar::parse_regex(R"([ \t\n\r]{0,20},[ \t\n\r]{0,20}"name"[ \t\n\r]{0,20}:)");
  const grammar::RegexPtr a2 = grammar::parse_regex(R"([ \t\n\r]{0,20},[ \t\n\r]{0,20}"name"[ \t\n\r]{0,20}:)");
  const grammar::RegexPtr b = grammar::parse_regex(R"([ \t\n\r]{0,20},[ \t\n\r]{0,20}"names"[ \t\n\r]{0,20}:)");
  REQUIRE(a1.get() != a2.get());
  {
    fsm::LexemeDfaCache cache(size_t{1} << 20);
    CHECK(cache.find(*a1, false) == nullptr);
    auto d = lex_dfa(a1);
    cache.put(a1, false, d);
    CHECK(cache.find(*a2, false) == d);        // another parse of the same pattern
    CHECK(cache.find(*a2, true) == nullptr);   // leftmost-first automata are another key
    CHECK(cache.find(*b, false) == nullptr);   // one more letter in the key
    cache.put(a2, false, lex_dfa(a2));         // already there: kept once
    CHECK(cache.size() == 1);
    CHECK(cache.bytes() > 0);
  }
  {
    // Room for about three of these: put many, touching the first each time; it stays, the
    // others come and go, and the bytes never pass the bound.
    fsm::LexemeDfaCache probe(SIZE_MAX);
    probe.put(a1, false, lex_dfa(a1));
    const size_t each = probe.bytes();
    REQUIRE(each > 0);
    fsm::LexemeDfaCache cache(each * 3 + each / 2);
    auto first = lex_dfa(a1);
    cache.put(a1, false, first);
    std::vector<grammar::RegexPtr> keep;  // the cache holds its keys alive; so do we, for the checks
    for (int i = 0; i < 12; ++i) {
      keep.push_back(grammar::parse_regex(R"([ \t\n\r]{0,20},[ \t\n\r]{0,20}"k)" + std::to_string(1000 + i) +
                                          R"("[ \t\n\r]{0,20}:)"));
      cache.put(keep.back(), false, lex_dfa(keep.back()));
      CHECK(cache.bytes() <= cache.max_bytes());
      CHECK(cache.find(*a2, false) == first);  // used: the most recent again
    }
    CHECK(cache.size() >= 2);
    CHECK(cache.size() <= 3);
    CHECK(cache.find(*keep[0], false) == nullptr);   // evicted long ago
    CHECK(cache.find(*keep[11], false) != nullptr);  // the last one put
  }
  {
    fsm::LexemeDfaCache tiny(64);  // smaller than any entry: nothing is kept
    tiny.put(a1, false, lex_dfa(a1));
    CHECK(tiny.size() == 0);
    CHECK(tiny.bytes() == 0);
  }
}

TEST_CASE("lexeme cache: schemas compiled by one Compiler share automata, masks unchanged", "[lexeme-cache][json-schema]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  auto options = [](size_t lexeme_cache_bytes) {
    CompileOptions o;
    o.threads = 1;
    o.grammar_cache_bytes = 0;  // compile every time
    o.lexeme_cache_bytes = lexeme_cache_bytes;
    return o;
  };
  Compiler shared(llama3(), options(size_t{64} << 20)), none(llama3(), options(0)),
      tiny(llama3(), options(size_t{256} << 10));
  const auto files = maskbench_files(mb);
  size_t schemas = 0, steps = 0, mismatches = 0, sharing = 0, taken = 0, whole = 0;
  for (size_t i = 0; i < files.size() && schemas < 40; i += 29) {
    const auto j = nlohmann::json::parse(read_file(files[i]));
    const std::string text = j["schema"].dump();
    CompiledGrammarPtr gn;
    try {
      gn = none.compile_json_schema(text);
    } catch (const Error&) {
      CHECK_THROWS_AS(shared.compile_json_schema(text), Error);  // refused with or without the cache
      continue;
    }
    CompiledGrammarPtr gs = shared.compile_json_schema(text), gt = tiny.compile_json_schema(text);
    ++schemas;
    for (const auto& t : j["tests"]) {
      Matcher ms(gs), mn(gn), mt(gt);
      for (int32_t id : t["tokens_llama3"].get<std::vector<int32_t>>()) {
        ++steps;
        const auto want = mask_of(mn);
        mismatches += mask_of(ms) != want;
        mismatches += mask_of(mt) != want;
        const bool an = mn.accept_token(id);
        REQUIRE(ms.accept_token(id) == an);
        REQUIRE(mt.accept_token(id) == an);
        if (!an) break;
      }
    }
    const size_t got = cfg_of(gs).rt->automata().num_shared();
    taken += got;
    sharing += got > 0;
    CHECK(cfg_of(gn).rt->automata().num_shared() == 0);
    // Index entries of automata shared with an earlier grammar, taken whole from the IndexCache
    // (none without shared automata: their addresses name nothing another grammar has).
    whole += cfg_of(gs).num_index_whole_shared();
    CHECK(cfg_of(gn).num_index_whole_shared() == 0);
  }
  INFO(schemas << " schemas, " << steps << " steps; " << sharing << " took " << taken
               << " automata built for earlier ones, and " << whole << " index entries whole");
  CHECK(schemas >= 30);
  CHECK(steps > 2000);
  CHECK(mismatches == 0);
  CHECK(sharing >= schemas / 2);
  CHECK(whole > 100);
  // The same schema again: every automaton its compile builds comes from the cache. (Lexemes built
  // for a time budget could go further the second time, on automata found faster: none here.)
  const std::string again = nlohmann::json::parse(read_file(files[0]))["schema"].dump();
  CompileOptions untimed = options(size_t{64} << 20);
  untimed.eager_automata_ms = 0;
  Compiler twice(llama3(), untimed);
  CompiledGrammarPtr first = twice.compile_json_schema(again), second = twice.compile_json_schema(again);
  CHECK(second->stats().lexemes_built > 0);
  CHECK(second->stats().lexemes_shared == second->stats().lexemes_built);
}

TEST_CASE("index cache: whole entries are found by automaton and state while the automaton lives",
          "[lexeme-cache][cfg]") {
  const grammar::RegexPtr r = grammar::parse_regex(R"([ \t\n\r]{0,20},[ \t\n\r]{0,20}"name"[ \t\n\r]{0,20}:)");
  auto dfa = lex_dfa(r), other = lex_dfa(r);  // equal automata, two objects
  auto entry = std::make_shared<engine::IndexEntry>();
  entry->ids = {3, 5, 8};
  entry->roots = {13};
  engine::IndexCache cache(size_t{1} << 20);
  cache.put_state(dfa, 2, false, entry, "S-content");
  auto hit = cache.find_state(dfa.get(), 2, false);
  REQUIRE(hit);
  CHECK(hit->entry == entry);
  CHECK(hit->content == "S-content");
  CHECK(cache.find_state(dfa.get(), 2, true) == nullptr);    // the lexeme last: another entry
  CHECK(cache.find_state(dfa.get(), 3, false) == nullptr);   // another state
  CHECK(cache.find_state(other.get(), 2, false) == nullptr);  // another automaton
  CHECK(cache.size() == 1);
  const size_t held = cache.bytes();
  CHECK(held > 0);
  const fsm::LexDfa* address = dfa.get();
  dfa.reset();  // the automaton gone: its entry is a miss, whatever lives at that address later
  CHECK(cache.find_state(address, 2, false) == nullptr);
  // One entry under two keys is counted once: the second key adds its own bytes only.
  engine::IndexCache twice(size_t{1} << 20);
  twice.put_state(other, 1, false, entry, "a");
  const size_t one = twice.bytes();
  twice.put_state(other, 2, false, entry, "b");
  CHECK(twice.size() == 2);
  CHECK(twice.bytes() > one);
  CHECK(twice.bytes() - one < one);  // the first counted the entry too
  // So is a bitset that two entries share (the states of a string's inside).
  auto dense = std::make_shared<engine::IndexEntry>();
  dense->dense = std::make_shared<const std::vector<uint32_t>>(4008, 0u);
  auto same_bits = std::make_shared<engine::IndexEntry>(*dense);  // another entry, the same bitset
  engine::IndexCache bits(size_t{1} << 20);
  bits.put_state(other, 1, false, dense, "x");
  const size_t first = bits.bytes();
  CHECK(first > 4008 * 4);
  bits.put_state(other, 2, false, same_bits, "y");
  CHECK(bits.size() == 2);
  CHECK(bits.bytes() - first < 4008 * 4);
  // Two generations of half the bound each: when the young one is full it turns old (the old one
  // dropped); an entry found in the old one is taken into the young one again, so what is used
  // survives a turn. An entry larger than half the bound is not kept.
  std::vector<std::shared_ptr<engine::IndexEntry>> four;  // equal, but four entries to count
  for (int i = 0; i < 4; ++i) four.push_back(std::make_shared<engine::IndexEntry>(*entry));
  engine::IndexCache small(5 * held);  // a generation holds two
  small.put_state(other, 1, false, four[0], "a");
  small.put_state(other, 2, false, four[1], "b");
  CHECK(small.turns() == 0);
  small.put_state(other, 3, false, four[2], "c");  // young {c}, old {a, b}
  CHECK(small.turns() == 1);
  CHECK(small.size() == 3);
  REQUIRE(small.find_state(other.get(), 1, false) != nullptr);  // a used again: young {c, a}
  small.put_state(other, 4, false, four[3], "d");                 // young {d}, old {c, a}; b dropped
  CHECK(small.turns() == 2);
  CHECK(small.find_state(other.get(), 2, false) == nullptr);
  CHECK(small.find_state(other.get(), 1, false) != nullptr);
  CHECK(small.find_state(other.get(), 3, false) != nullptr);
  CHECK(small.find_state(other.get(), 4, false) != nullptr);
  CHECK(small.bytes() <= small.max_bytes());
  // Parts alike (find / put by canonical key).
  engine::IndexCache probe(size_t{1} << 20);
  probe.put("k0", entry);
  engine::IndexCache parts(5 * probe.bytes());
  parts.put("k1", four[0]);
  parts.put("k2", four[1]);
  parts.put("k3", four[2]);
  CHECK(parts.find("k1") == four[0]);
  parts.put("k4", four[3]);
  CHECK(parts.find("k2") == nullptr);
  CHECK(parts.find("k1") == four[0]);
  engine::IndexCache tiny(16);
  tiny.put_state(other, 1, false, entry, "a");
  CHECK(tiny.size() == 0);
}

TEST_CASE("index cache: a dropped generation is freed a few keys a call, not in the call that turns it",
          "[lexeme-cache][cfg]") {
  const grammar::RegexPtr r = grammar::parse_regex(R"([ \t\n\r]{0,20}:)");
  auto dfa = lex_dfa(r);
  auto fresh = [] {  // held by the cache alone, watched here
    auto e = std::make_shared<engine::IndexEntry>();
    e->ids = {3, 5, 8};
    e->dense = std::make_shared<const std::vector<uint32_t>>(64, 1u);
    return e;
  };
  engine::IndexCache probe(size_t{1} << 20);
  probe.put_state(dfa, 0, false, fresh(), "s0");
  const size_t one = probe.bytes();
  // A generation holds 12 (half the bound): the first turn makes them old, the second drops them.
  engine::IndexCache cache(25 * one);
  std::vector<std::weak_ptr<const engine::IndexEntry>> first;
  uint32_t state = 0;
  for (; cache.turns() == 0; ++state) {
    auto e = fresh();
    if (cache.turns() == 0) first.push_back(e);
    cache.put_state(dfa, state, false, std::move(e), "s" + std::to_string(state));
  }
  first.pop_back();  // the entry whose put turned the cache is young
  REQUIRE(first.size() >= 8);
  for (; cache.turns() == 1; ++state) cache.put_state(dfa, state, false, fresh(), "s" + std::to_string(state));
  CHECK(cache.dying() >= 2 * first.size());  // their keys and holder counts
  CHECK(cache.bytes() <= cache.max_bytes());  // not counted: no longer the cache's
  auto alive = [&] {
    size_t n = 0;
    for (const auto& w : first) n += !w.expired();
    return n;
  };
  CHECK(alive() == first.size());  // the turning call freed none of them
  size_t calls = 0;
  while (cache.dying() > 0 && calls < 1000) {
    const size_t before = alive();
    CHECK(cache.find_state(dfa.get(), 100000, false) == nullptr);  // any call, a miss here
    ++calls;
    CHECK(before - alive() <= engine::IndexCache::kReapStep);
  }
  CHECK(cache.dying() == 0);
  CHECK(alive() == 0);
  CHECK(calls >= first.size() / engine::IndexCache::kReapStep);
  CHECK(calls <= 3 * first.size() / engine::IndexCache::kReapStep + 1);
}

TEST_CASE("compiler warm-up: a new Compiler's first schema takes what the warm-up built, masks unchanged",
          "[lexeme-cache][json-schema]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  TOLLGATE_DATA_OR_SKIP(mb, "corpora/maskbench-dev");
  auto options = [](bool warm_up) {
    CompileOptions o;
    o.threads = 1;
    o.grammar_cache_bytes = 0;
    o.warm_up_json = warm_up;
    return o;
  };
  const auto files = maskbench_files(mb);
  size_t schemas = 0, steps = 0, mismatches = 0, took_automata = 0, took_entries = 0;
  for (size_t i = 0; i < files.size() && schemas < 12; i += 97) {
    const std::string text = read_file(files[i]);
    std::string schema_text;
    const std::vector<int32_t> doc = first_valid_tokens(text, &schema_text);
    if (doc.empty()) continue;
    Compiler warm(llama3(), options(true)), cold(llama3(), options(false));  // each its first schema
    CompiledGrammarPtr gc;
    try {
      gc = cold.compile_json_schema(schema_text);
    } catch (const Error&) {
      CHECK_THROWS_AS(warm.compile_json_schema(schema_text), Error);
      continue;
    }
    CompiledGrammarPtr gw = warm.compile_json_schema(schema_text);
    ++schemas;
    CHECK(gc->stats().lexemes_shared == 0);  // nothing in a cold Compiler's caches
    took_automata += gw->stats().lexemes_shared > 0;
    Matcher mw(gw), mc(gc);
    for (int32_t id : doc) {  // (a valid document out of its schema's property order stops early)
      ++steps;
      mismatches += mask_of(mw) != mask_of(mc);
      const bool ok = mc.accept_token(id);
      REQUIRE(mw.accept_token(id) == ok);
      if (!ok) break;
    }
    CHECK(mw.is_accepting() == mc.is_accepting());
    took_entries += cfg_of(gw).num_index_whole_shared() > 0;
    CHECK(cfg_of(gc).num_index_whole_shared() == 0);
  }
  INFO(schemas << " schemas, " << steps << " steps; " << took_automata << " took automata and " << took_entries
               << " index entries from the warm-up");
  CHECK(schemas >= 10);
  CHECK(steps > 500);
  CHECK(mismatches == 0);
  CHECK(took_automata * 4 >= schemas * 3);
  CHECK(took_entries * 2 >= schemas);
}

// The values the warm-up compiles without walking them (CompileOptions::warm_up_json): each, under a
// key of its own, costs a new Compiler's first schema one build, its key's, and its masks are those
// of a Compiler without the warm-up.
TEST_CASE("compiler warm-up: arrays of strings, nullable strings and draft-04 integers come from the cache",
          "[lexeme-cache][json-schema]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  struct Shape {
    const char* schema;  // the value's
    const char* value;   // a valid one
    bool draft4 = false;  // under draft-04's `$schema`
  };
  const Shape shapes[] = {
      {R"({"type": "array", "items": {"type": "string"}})", R"(["a", "b"])"},
      {R"({"type": ["null", "string"]})", R"(null)"},
      {R"({"anyOf": [{"type": "string"}, {"type": "null"}]})", R"("x")"},
      {R"({"type": "string", "nullable": true})", R"("x")"},
      {R"({"type": "string", "minLength": 1})", R"("x")"},
      {R"({"type": ["string", "array"], "items": {"type": "string"}})", R"(["x"])"},
      {R"({"type": "array", "items": {"type": "string"}, "minItems": 1})", R"(["x"])"},
      {R"({"type": ["null", "array"], "items": {"type": "string"}})", R"([])"},
      {R"({"type": "object", "additionalProperties": {"type": "string"}})", R"({"k": "v"})"},
      {R"({"type": "integer"})", R"(12)", true},  // no ".0" there
  };
  auto options = [](bool warm_up) {
    CompileOptions o;
    o.threads = 1;
    o.grammar_cache_bytes = 0;
    o.warm_up_json = warm_up;
    o.eager_automata_states = SIZE_MAX;  // every lexeme counted in the compile's stats
    return o;
  };
  for (const Shape& shape : shapes) {
    const std::string schema =
        std::string("{") + (shape.draft4 ? R"("$schema": "http://json-schema.org/draft-04/schema#", )" : "") +
        R"("type": "object", "properties": {"quux": )" + shape.schema +
        R"(}, "required": ["quux"], "additionalProperties": false})";
    const std::string doc = std::string(R"({"quux": )") + shape.value + "}";
    INFO(schema);
    Compiler warm(llama3(), options(true)), cold(llama3(), options(false));
    CompiledGrammarPtr gw = warm.compile_json_schema(schema), gc = cold.compile_json_schema(schema);
    CHECK(gc->stats().lexemes_shared == 0);
    CHECK(gw->stats().lexemes_built == gw->stats().lexemes);
    CHECK(gw->stats().lexemes_built - gw->stats().lexemes_shared == 1);  // "quux" alone is new
    Matcher mw(gw), mc(gc);
    for (char c : doc) {
      REQUIRE(mask_of(mw) == mask_of(mc));
      REQUIRE(mw.accept_bytes(std::string_view(&c, 1)));
      REQUIRE(mc.accept_bytes(std::string_view(&c, 1)));
    }
    CHECK(mw.is_accepting());
    CHECK(mask_of(mw) == mask_of(mc));
  }
}

TEST_CASE("compiler warm-up: quiet to the progress callback, given up under tight budgets", "[lexeme-cache]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  struct Count : CompileProgress {
    size_t calls = 0;
    void on_progress(std::string_view, size_t, size_t) override { ++calls; }
  } count;
  CompileOptions o;
  o.threads = 1;
  o.progress = &count;
  Compiler c(llama3(), o);
  CHECK(count.calls == 0);  // the warm-up is not the caller's compile
  c.compile_json_schema(R"({"type": "object", "properties": {"a": {"type": "string"}}})");
  CHECK(count.calls > 0);
  // Budgets a small schema cannot meet: the Compiler is made all the same, and the first real
  // compile is the one that says why.
  CompileOptions tight;
  tight.max_dfa_states = 3;
  std::optional<Compiler> t;
  REQUIRE_NOTHROW(t.emplace(llama3(), tight));
  try {
    t->compile_json_schema(R"({"type": "string", "maxLength": 40})");
    FAIL("a 40-code-point string in 3 DFA states");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kLimit);
  }
}
