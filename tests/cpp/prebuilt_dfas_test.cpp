// The format DFAs computed at build time and embedded in the library (fsm/prebuilt_dfas.hpp): the
// embedded DFA of every format that grammar::format_regex pins is the one built from its regex
// (start, classes, table, finals); an entry is used only for its own regex (name, identity hash
// and structure), never for another one under the same name, and a blob that does not decode
// exactly is refused; and compiling a schema with every format builds none of them.
#include <nlohmann/json.hpp>

#include "fsm/dfa.hpp"
#include "fsm/prebuilt_dfas.hpp"
#include "grammar/json_schema_strings.hpp"
#include "grammar/regex_ast.hpp"
#include "test_support.hpp"
#include "tollgate/tollgate.hpp"

using namespace tollgate;

namespace {

void check_equal(const fsm::Dfa& a, const fsm::Dfa& b) {
  CHECK(a.start() == b.start());
  REQUIRE(a.num_states() == b.num_states());
  REQUIRE(a.num_classes() == b.num_classes());
  CHECK(a.byte_classes() == b.byte_classes());
  CHECK(a.table() == b.table());
  CHECK(a.finals() == b.finals());
}

std::string blob_of(std::vector<fsm::PrebuiltDfa> entries) { return fsm::encode_prebuilt_dfas(entries); }

fsm::PrebuiltDfa entry_of(std::string_view name, const grammar::Regex& r) {
  return fsm::prebuilt_entry(name, r, fsm::build_process_wide_dfa(r));
}

}  // namespace

TEST_CASE("format DFAs: the embedded DFA of every pinned format is the one its regex builds", "[formats][dfa]") {
  const std::string_view blob = fsm::embedded_prebuilt_dfas();
#if TOLLGATE_PREBUILT_FORMAT_DFAS
  REQUIRE_FALSE(blob.empty());
#else
  if (blob.empty()) {
    WARN("built with -DTOLLGATE_PREBUILT_FORMAT_DFAS=OFF (or cross-compiled): no embedded format DFAs");
    return;
  }
#endif
  // One entry per format, in format_names()'s order.
  const auto& names = grammar::format_names();
  REQUIRE(fsm::prebuilt_dfa_names(blob) == std::vector<std::string>(names.begin(), names.end()));
  for (std::string_view name : names) {
    INFO(name);
    const grammar::RegexPtr r = grammar::format_regex(name);
    REQUIRE(r);
    CHECK(r->process_wide);
    CHECK(r->pinned_name == name);
    CHECK(grammar::format_regex(name) == r);  // one node per process
    const std::optional<fsm::Dfa> embedded = fsm::find_prebuilt_dfa(blob, *r);
    REQUIRE(embedded);
    check_equal(*embedded, fsm::build_process_wide_dfa(*r));
    check_equal(fsm::compile_dfa(*r), *embedded);  // what compiles get
  }
  CHECK_FALSE(grammar::format_regex("idn-hostname"));
}

TEST_CASE("format DFAs: an entry is used only for its own regex", "[formats][dfa]") {
  using grammar::parse_regex;
  using grammar::Regex;
  const grammar::RegexPtr date = Regex::pin(parse_regex("[0-9]{4}-(0[1-9]|1[0-2])"), "date");
  // The same regex made again (other nodes, the same structure) is found; the pin's mark is not
  // part of the key, its name is.
  const std::string blob = blob_of({entry_of("date", *date)});
  REQUIRE(fsm::find_prebuilt_dfa(blob, *date));
  const grammar::RegexPtr again = Regex::pin(parse_regex("[0-9]{4}-(0[1-9]|1[0-2])"), "date");
  REQUIRE(again.get() != date.get());
  REQUIRE(fsm::find_prebuilt_dfa(blob, *again));
  check_equal(*fsm::find_prebuilt_dfa(blob, *again), fsm::build_process_wide_dfa(*date));
  // Another name, no name: not looked up.
  CHECK_FALSE(fsm::find_prebuilt_dfa(blob, *Regex::pin(parse_regex("[0-9]{4}-(0[1-9]|1[0-2])"), "time")));
  CHECK_FALSE(fsm::find_prebuilt_dfa(blob, *Regex::pin(parse_regex("[0-9]{4}-(0[1-9]|1[0-2])"))));
  CHECK_FALSE(fsm::find_prebuilt_dfa(blob_of({entry_of("", *date)}), *Regex::pin(date)));
  CHECK_FALSE(fsm::find_prebuilt_dfa("", *date));

  // Another regex under the same name: refused by its identity hash, and with the hash forged to
  // match, by its structure. Each pair differs in one field, or in structure only (the same
  // language).
  const std::pair<const char*, const char*> pairs[] = {
      {"[0-9]{4}-(0[1-9]|1[0-2])", "[0-9]{4}-(0[1-9]|1[0-1])"},   // a range
      {"[0-9]{4}-(0[1-9]|1[0-2])", "[0-9]{3}-(0[1-9]|1[0-2])"},   // a count
      {"[0-9]{4}-(0[1-9]|1[0-2])", "[0-9]{4,}-(0[1-9]|1[0-2])"},  // a bound
      {"a{2,3}b", "a{2,3}?b"},                                    // lazy
      {"[0-9]{4}-(0[1-9]|1[0-2])", "[0-9]{4}-(0[1-9]|1[0-2]|)"},  // an item more
      {"[0-9]{4}-(0[1-9]|1[0-2])", "[0-9]{4}(0[1-9]|1[0-2])"},    // an item less
      {"[0-9]{4}-(0[1-9]|1[0-2])", "[0-9]{4}-(1[0-2]|0[1-9])"},   // the same language
  };
  for (const auto& [mine, theirs] : pairs) {
    INFO(mine << " against " << theirs);
    const grammar::RegexPtr live = Regex::pin(parse_regex(mine), "date");
    const grammar::RegexPtr other = parse_regex(theirs);
    REQUIRE(live->to_string() != other->to_string());
    REQUIRE(fsm::find_prebuilt_dfa(blob_of({entry_of("date", *live)}), *live));
    CHECK_FALSE(fsm::find_prebuilt_dfa(blob_of({entry_of("date", *other)}), *live));
    fsm::PrebuiltDfa forged = entry_of("date", *other);
    forged.identity_hash = grammar::RegexIdentity::hash(*live);
    CHECK_FALSE(fsm::find_prebuilt_dfa(blob_of({std::move(forged)}), *live));
  }
  // Byte ranges (kBytes nodes) are compared by both ends.
  {
    const grammar::RegexPtr live = Regex::pin(Regex::bytes(0x80, 0xBF), "date"), other = Regex::bytes(0x80, 0xBE);
    fsm::PrebuiltDfa forged = entry_of("date", *other);
    forged.identity_hash = grammar::RegexIdentity::hash(*live);
    CHECK(fsm::find_prebuilt_dfa(blob_of({entry_of("date", *live)}), *live));
    CHECK_FALSE(fsm::find_prebuilt_dfa(blob_of({std::move(forged)}), *live));
  }
  // Explicit automata (kAutomaton nodes) are compared edge by edge.
  auto automaton = [](uint32_t to) {
    auto a = std::make_shared<grammar::ByteAutomaton>();
    a->edges = {{{'a', 'c', to}}, {}};
    a->finals = {0, 1};
    return Regex::pin(Regex::automaton_of(a), "date");
  };
  const fsm::PrebuiltDfa to1 = entry_of("date", *automaton(1));
  CHECK(fsm::find_prebuilt_dfa(blob_of({to1}), *automaton(1)));
  fsm::PrebuiltDfa to0 = entry_of("date", *automaton(0));
  to0.identity_hash = to1.identity_hash;
  CHECK_FALSE(fsm::find_prebuilt_dfa(blob_of({std::move(to0)}), *automaton(1)));

  // The first entry under a name decides.
  const grammar::RegexPtr other = parse_regex(pairs[0].second);
  CHECK_FALSE(fsm::find_prebuilt_dfa(blob_of({entry_of("date", *other), entry_of("date", *date)}), *date));
  CHECK(fsm::find_prebuilt_dfa(blob_of({entry_of("time", *other), entry_of("date", *date)}), *date));
}

TEST_CASE("format DFAs: a blob that does not decode exactly is refused", "[formats][dfa]") {
  using grammar::Regex;
  const grammar::RegexPtr date = grammar::format_regex("date"), uuid = grammar::format_regex("uuid");
  const std::string blob = blob_of({entry_of("date", *date), entry_of("uuid", *uuid)});
  REQUIRE(fsm::find_prebuilt_dfa(blob, *date));
  REQUIRE(fsm::find_prebuilt_dfa(blob, *uuid));
  CHECK(fsm::prebuilt_dfa_names(blob) == std::vector<std::string>{"date", "uuid"});
  // Every truncation, and a byte more.
  for (size_t n = 0; n < blob.size(); ++n) {
    const std::string_view cut(blob.data(), n);
    if (fsm::find_prebuilt_dfa(cut, *date) || fsm::find_prebuilt_dfa(cut, *uuid) || !fsm::prebuilt_dfa_names(cut).empty())
      FAIL("a blob cut to " << n << " of " << blob.size() << " bytes was read");
  }
  CHECK_FALSE(fsm::find_prebuilt_dfa(blob + '\0', *date));
  CHECK(fsm::prebuilt_dfa_names(blob + '\0').empty());
  // Another magic (format version).
  std::string other = blob;
  other[6] = '1';
  CHECK_FALSE(fsm::find_prebuilt_dfa(other, *date));
  // A target past the last state, a class past the last class: refused, not read.
  fsm::PrebuiltDfa e = entry_of("date", *date);
  const std::string good = blob_of({e});
  REQUIRE(fsm::find_prebuilt_dfa(good, *date));
  size_t changed = 0, refused = 0;
  for (size_t i = good.size() - 1; i > good.size() - 200; --i) {  // inside the transitions
    for (unsigned char v : {0x7F, 0xFF}) {
      std::string bad = good;
      if (static_cast<unsigned char>(bad[i]) == v) continue;
      bad[i] = static_cast<char>(v);
      ++changed;
      std::optional<fsm::Dfa> d = fsm::find_prebuilt_dfa(bad, *date);
      if (!d) {
        ++refused;
        continue;
      }
      // What decodes is a well-formed DFA: every target a state.
      for (uint32_t t : d->table()) REQUIRE((t == fsm::kDead || t < d->num_states()));
    }
  }
  CHECK(changed > 0);
  CHECK(refused > 0);
}

TEST_CASE("format DFAs: compiling a schema with every format builds none of them", "[formats][json-schema]") {
  nlohmann::json props = nlohmann::json::object();
  for (std::string_view name : grammar::format_names())
    props[std::string(name)] = {{"type", "string"}, {"format", std::string(name)}};
  const std::string text = nlohmann::json{{"type", "object"}, {"properties", props}}.dump();
  CompileOptions eager;
  eager.threads = 1;
  eager.eager_automata_states = SIZE_MAX;  // every lexeme's DFA in the compile
  const size_t builds = fsm::process_wide_dfa_builds();
  CompiledGrammarPtr g = Compiler(TokenizerInfo::bytes_with_eos(), eager).compile_json_schema(text);
  REQUIRE(g);
  CHECK(fsm::process_wide_dfa_loads() + fsm::process_wide_dfa_builds() >= grammar::format_names().size());
#if TOLLGATE_PREBUILT_FORMAT_DFAS
  CHECK(fsm::process_wide_dfa_builds() == builds);
  CHECK(fsm::process_wide_dfa_loads() >= grammar::format_names().size());
#else
  (void)builds;
#endif
  CHECK(tollgate::testing::accepts(g, R"({"date-time": "2016-12-31T18:59:60-05:00", "uuid": "123e4567-e89b-12d3-a456-426614174000"})"));
  CHECK_FALSE(tollgate::testing::accepts(g, R"({"date-time": "2016-12-31T23:59:60-05:00"})"));
}
