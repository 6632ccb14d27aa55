// ClassTrie (fsm/class_trie.hpp) on the Llama-3 vocabulary, and the class walk of the lazy CFG
// index (engine/cfg_backend.cpp) against the brute-force token walk, on schemas whose lexemes mix
// class-uniform states (string bodies) with states where a class's bytes part ways (escapes,
// additional-property keys that must avoid the known names, code points counted by maxLength).
#include <catch2/catch.hpp>

#include <algorithm>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/cfg_backend.hpp"
#include "fsm/class_trie.hpp"
#include "test_support.hpp"
#include "tollgate/compiler.hpp"
#include "tollgate/matcher.hpp"

using namespace tollgate;

TEST_CASE("class trie: the finer string partitions", "[class-trie]") {
  const auto json = fsm::ClassTrie::json_string_classes();
  const auto fine = fsm::ClassTrie::string_partition(fsm::ClassTrie::kFineString);
  const auto hex = fsm::ClassTrie::string_partition(fsm::ClassTrie::kHexString);
  for (int b = 0; b < 256; ++b) {
    INFO(b);
    // Both refine the JSON-string classes, and keep their classes 1-14 (quote, backslash, UTF-8).
    for (int x = 0; x < 256; ++x)
      if (fine[b] == fine[x] || hex[b] == hex[x]) REQUIRE(json[b] == json[x]);
    if (json[b] != 0) CHECK((fine[b] == json[b] && hex[b] == json[b]));
  }
  CHECK(fine['a'] == fine['z']);
  CHECK(fine['A'] == fine['Z']);
  CHECK(fine['0'] == fine['9']);
  CHECK(fine['a'] != fine['A']);
  CHECK(fine['#'] != fine['.']);
  CHECK(fine['-'] != fine['_']);
  CHECK(fine[' '] != fine['~']);
  CHECK(fine[0x7F] != fine[' ']);
  CHECK(hex['a'] == hex['f']);
  CHECK(hex['f'] != hex['g']);
  CHECK(hex['g'] == hex['Z']);
  CHECK(hex['g'] == hex['#']);
  CHECK(hex['0'] == hex['9']);
  CHECK(hex['A'] != hex['a']);
}

TEST_CASE("class trie: every token's class string, every byte node a member once", "[class-trie]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  const TokenizerInfo& tok = *testing::llama3();
  const fsm::TokenTrie& bt = tok.trie();
  const int which = GENERATE(range(0, fsm::ClassTrie::kStringPartitions));
  INFO("string partition " << which);
  const fsm::ClassTrie& ct = tok.string_class_trie(which);
  const auto cls = fsm::ClassTrie::string_partition(which);
  CHECK(&tok.string_class_trie(0) == &tok.json_class_trie());
  REQUIRE(!ct.empty());
  // Far fewer class nodes than byte nodes: the reason the class walk exists (JSON-string classes:
  // 7,000 against 275,000; the finer ones 21,000-23,000).
  CHECK(ct.trie().nodes().size() * (which == 0 ? 20 : 10) < bt.nodes().size());
  // Each token ends at the class node of its class string.
  std::map<int32_t, std::string> class_string;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (tok.is_special(id) || tok.token_bytes(id).empty()) continue;
    std::string s;
    for (unsigned char b : tok.token_bytes(id)) s.push_back(static_cast<char>(cls[b]));
    class_string[id] = s;
  }
  const auto& cn = ct.trie().nodes();
  std::vector<std::string> path(ct.trie().max_depth() + 1);
  size_t seen = 0;
  for (uint32_t i = 1; i < cn.size(); ++i) {
    path[cn[i].depth] = path[cn[i].depth - 1] + static_cast<char>(cn[i].byte);
    ct.trie().for_each_token(cn[i], [&](int32_t id) {
      ++seen;
      REQUIRE(class_string.at(id) == path[cn[i].depth]);
    });
  }
  CHECK(seen == class_string.size());
  // Members: every byte node exactly once, under the class node of its byte path.
  std::vector<int> hits(bt.nodes().size(), 0);
  std::vector<std::string> bpath(bt.max_depth() + 1);
  const auto& bn = bt.nodes();
  std::vector<std::string> byte_class_path(bn.size());
  for (uint32_t i = 1; i < bn.size(); ++i) {
    bpath[bn[i].depth] = bpath[bn[i].depth - 1] + static_cast<char>(cls[bn[i].byte]);
    byte_class_path[i] = bpath[bn[i].depth];
  }
  for (uint32_t i = 1; i < cn.size(); ++i) {
    path[cn[i].depth] = path[cn[i].depth - 1] + static_cast<char>(cn[i].byte);
    for (uint32_t m = ct.member_begin(i); m < ct.member_begin(i + 1); ++m) {
      uint32_t b = ct.members()[m];
      ++hits[b];
      REQUIRE(byte_class_path[b] == path[cn[i].depth]);
      REQUIRE(ct.class_node_of(b) == i);  // and the other way
    }
    // The members with children, apart and in node order.
    std::vector<uint32_t> with_children;
    for (uint32_t m = ct.member_begin(i); m < ct.member_begin(i + 1); ++m)
      if (bn[ct.members()[m]].subtree_end > ct.members()[m] + 1) with_children.push_back(ct.members()[m]);
    std::sort(with_children.begin(), with_children.end());
    REQUIRE(std::vector<uint32_t>(ct.parents().begin() + ct.parent_begin(i), ct.parents().begin() + ct.parent_begin(i + 1)) ==
            with_children);
    REQUIRE(ct.members_with_children(i) == with_children.size());
  }
  for (uint32_t i = 1; i < bn.size(); ++i) REQUIRE(hits[i] == 1);
}

namespace {

// Feeds `doc` one byte at a time, the mask checked against the brute-force walk before each byte
// and at the end (which must accept); gives the states checked.
int bytes_against_oracle(const CompiledGrammarPtr& g, const std::string& doc) {
  Matcher m(g);
  int states = 0;
  for (size_t pos = 0; pos < doc.size(); ++pos) {
    INFO("at byte " << pos << " of " << doc);
    REQUIRE(testing::mask_oracle_mismatches(m) == 0);
    REQUIRE(m.accept_bytes(doc.substr(pos, 1)));
    ++states;
  }
  REQUIRE(testing::mask_oracle_mismatches(m) == 0);
  CHECK(m.is_accepting());
  return states;
}

// The pieces one after another, round and round, until at least `bytes` long.
std::string pieces_until(std::initializer_list<const char*> pieces, size_t bytes) {
  std::string s;
  for (size_t i = 0; s.size() < bytes; ++i) s += pieces.begin()[i % pieces.size()];
  return s;
}

// After `prefix` the grammar refuses `bad`, and the mask there equals the brute-force walk.
void refused_after(const CompiledGrammarPtr& g, const std::string& prefix, const char* bad) {
  Matcher m(g);
  REQUIRE(m.accept_bytes(prefix));
  INFO(prefix << " then " << bad);
  CHECK_FALSE(m.accept_bytes(bad));
  REQUIRE(testing::mask_oracle_mismatches(m) == 0);
}

}  // namespace

TEST_CASE("class walk: schema masks equal the brute-force walk (keys, escapes, code points)",
          "[class-trie][oracle]") {
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  Compiler c(testing::llama3());
  struct Case {
    const char* schema;
    const char* doc;
  };
  const Case cases[] = {
      // Extra keys must avoid "enabled" and "service": the key lexeme parts ways on their letters.
      {R"({"type":"object","properties":{"enabled":{"type":"boolean"},"service":{"type":"string","maxLength":12}},
          "additionalProperties":{"type":"string","minLength":2}})",
       R"({"enabled": true, "service": "a\"b\\éü日\n", "ena": "日本語の文字列", "serviceX": "😀 zz\u0001"})"},
      // Counted code points: lead bytes and continuation ranges matter at every state.
      {R"({"type":"array","items":{"type":"string","minLength":3,"maxLength":7}})",
       R"(["héllo", "日本語です", "a\tb\nc", "𝄞𝄞𝄞", "Aé日\u001f"])"},
      // A pattern: letters differ from other ASCII at every state.
      {R"({"type":"object","properties":{"id":{"type":"string","pattern":"^[a-z]{2,5}-\\d+$"},
          "note":{"type":"string"}},"required":["id"]})",
       R"({"id": "abc-123", "note": "Any text: with \"quotes\", \\backslashes\\ and ünïcödé."})"},
      // Keys matched by an unanchored hex run (and a value of hex digits): [0-9a-f] parts the
      // letters at every state, so the class walk gives way to the byte walk.
      {R"({"type":"object","properties":{"sum":{"type":"string","pattern":"^[0-9a-f]{8,40}$"}},
          "patternProperties":{"[0-9a-f]{32}":{"type":"null"}}})",
       R"({"sum": "deadbeef0123", "0123456789abcdef0123456789abcdef": null, "fedcba9876543210fedcba987654321x": 1, "zz": "ok"})"},
      // A pattern's class of most ASCII (an Azure name) under maxLength: at every counted state the
      // class of ordinary ASCII parts ways ('.', ':', '/', '#' ... die), at the top of the class
      // trie over tens of thousands of member byte nodes, taken by their runs of one byte.
      {R"({"type":"object","properties":{"name":{"type":"string","maxLength":100,
          "pattern":"^[A-Za-z0-9_][^<>*#.%&:\\\\+?/]*$"},"tags":{"type":"array","items":{"type":"string"}}}})",
       R"({"name": "Table_1 of the (west) region; v2 été 日本 [draft] \"copy\" = ok!", "tags": ["a.b:c/d#e", "x"]})"},
  };
  const size_t abandoned_before = engine::class_walks_abandoned();
  const size_t runs_before = engine::class_walk_runs_parted();
  int states = 0;
  for (const Case& k : cases) {
    INFO(k.schema);
    auto g = c.compile_json_schema(k.schema);
    Matcher m(g);
    std::string doc = k.doc;
    size_t pos = 0;
    while (pos < doc.size()) {
      REQUIRE(testing::mask_oracle_mismatches(m) == 0);
      ++states;
      int32_t id = testing::longest_allowed(g->tokenizer(), testing::mask_of(m), doc, pos);
      INFO("at byte " << pos << " of " << doc);
      REQUIRE(id >= 0);
      REQUIRE(m.accept_token(id));
      pos += g->tokenizer().token_bytes(id).size();
    }
    REQUIRE(testing::mask_oracle_mismatches(m) == 0);
    CHECK(m.is_accepting());
  }
  CHECK(states > 40);
  CHECK(engine::class_walks_abandoned() > abandoned_before);
  CHECK(engine::class_walk_runs_parted() > runs_before);
}

TEST_CASE("class walk: keys outside the named ones share one entry part, masks equal the brute-force walk",
          "[class-trie][oracle][complement]") {
  // An open object's other keys are any string but the named ones: inside such a key the states
  // that still track a name differ only in where a quote may close the key, so their entries share
  // the part without quotes (CfgGrammar::part_blocks). Every byte of every extra key is a state
  // here (accept_bytes one byte at a time), keys that run along a name and leave it, stop one
  // letter short, go one past, or escape.
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  Compiler c(testing::llama3());
  const char* schema = R"({"type":"object","properties":{"enabled":{"type":"boolean"},"endpoint":{"type":"string"},
      "name":{"type":"string"},"names":{"type":"array","items":{"type":"string"}}},"additionalProperties":{"type":"integer"}})";
  const std::string doc =
      R"({"enabled": true, "enable": 1, "enabledX": 2, "end": 3, "endpoints": 4, "nam": 5, "namesake": 6, )"
      R"("ena\tbled": 7, "\"name\"": 8, "日本": 9, "n": 10, "": 11, "name": "x"})";
  auto g = c.compile_json_schema(schema);
  CHECK(bytes_against_oracle(g, doc) > 150);
  // the keys' states inside the string share one part: 34 of the 50 entries taken from another
  // state's part (17 without part_blocks, each state that still tracked a name a walk of the whole
  // vocabulary)
  const auto& cfg = testing::cfg_of(g);
  INFO(cfg.num_index_shared() << " of " << cfg.num_index_entries() << " entries shared");
  CHECK(cfg.num_index_shared() * 2 > cfg.num_index_entries());
  // the extra key's lexeme runs on past its quote (the colon and the integer value merged into
  // it): not the plain string's automaton, so its blocks were refined (the next test reads them off)
  CHECK(cfg.num_part_blocks_by_reference() == 0);
  // a named key is not an extra one: after "enabled", a key that spells it again cannot close
  Matcher again(g);
  REQUIRE(again.accept_bytes(R"({"enabled": true, "enabled)"));
  CHECK_FALSE(again.accept_bytes("\""));
  CHECK(again.accept_bytes("X\": 1}"));
}

TEST_CASE("part blocks: read off the plain string's automaton where it is one, refined where not, masks exact",
          "[class-trie][oracle][complement]") {
  // CfgGrammar::part_blocks maps a key lexeme onto the plain JSON string's states and takes their
  // blocks where the map shows the two alike without quotes (the extra values here are any JSON
  // value, a rule of its own, so the key is a lexeme of its own). Names that are empty, escaped,
  // control characters, other scripts, prefixes of each other: still alike (the reference path).
  // A key that must also match a pattern is not (letters die where a plain string goes on): refined.
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  Compiler c(testing::llama3());
  const char* odd_names = R"({"type":"object","properties":{"":{"type":"null"},"a\"b":{"type":"null"},
      "back\\slash":{"type":"null"},"日本":{"type":"null"},"\u0001x":{"type":"null"},"n":{"type":"null"},
      "na":{"type":"null"},"name":{"type":"null"},"😀":{"type":"null"}},"additionalProperties":{}})";
  const std::string odd_doc =
      R"({"": null, "a\"bc": 1, "a\"": 2, "back\\slas": 3, "back\\slash\\": 4, "日本語": 5, "日": 6, "\u0001xy": 7, )"
      R"("\u0001": 8, "nam": 9, "names": 10, "😀😀": [11], "x": {"n": 12}, " ": 13, "n": null})";
  auto g = c.compile_json_schema(odd_names);
  CHECK(bytes_against_oracle(g, odd_doc) > 120);
  CHECK(testing::cfg_of(g).num_part_blocks_by_reference() == 1);
  refused_after(g, R"({"name": null, "name)", "\"");
  refused_after(g, R"({"n": null, "日本)", "\"");  // named before "n": not again after it, nor as another key
  const char* patterned = R"({"type":"object","properties":{"name":{"type":"string"},"names":{"type":"null"}},
      "propertyNames":{"pattern":"^[a-z_]+$"},"additionalProperties":{}})";
  auto h = c.compile_json_schema(patterned);
  CHECK(bytes_against_oracle(h, R"({"name": "Any", "nam": 1, "names_x": 2, "namesake": 3, "n_a_m_e": 4})") > 60);
  CHECK(testing::cfg_of(h).num_part_blocks_by_reference() == 0);
  refused_after(h, R"({"na)", "M");
  // Not only keys: a value that must end in some way tracks the ending in states a walk without
  // quotes does not tell apart (each was a walk of the vocabulary): its blocks are read off too.
  auto ending = c.compile_json_schema(R"({"type":"object","properties":{"ref":{"type":"string","pattern":"_id$"},
      "file":{"type":"string","pattern":"\\.(png|jpe?g)$"}}})");
  CHECK(bytes_against_oracle(ending, R"({"ref": "user_i_id_ids_id", "file": "a.png.jpg.x.jpeg"})") > 40);
  CHECK(testing::cfg_of(ending).num_part_blocks_by_reference() == 3);  // and the other keys' lexeme
  refused_after(ending, R"({"ref": "user_i)", "\"");
}

TEST_CASE("difference entries: a counted string's states are the plain string's but for the long tokens, masks exact",
          "[class-trie][oracle][difference]") {
  // A string of at most N code points counts them in states of its own, too many for a canonical
  // key: each was a class walk of the vocabulary. With more left than most tokens hold, its part is
  // the plain string's with the tokens too long for what is left cleared (CfgGrammar::
  // difference_entry): every byte a state here (accept_bytes), through ASCII, escapes, 2-, 3- and
  // 4-byte characters, up to each maximum and (one code point short of it) to where the walk falls
  // back; the strings that must be exactly 64 code points long, and keys of at most 40.
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  // Llama-3 (byte-level BPE, tokens up to 128 bytes) and Gemma-3 (SentencePiece with byte fallback):
  // other tries, other long tokens.
  const bool gemma = GENERATE(false, true);
  REQUIRE(std::filesystem::exists(*testing::data_dir() / "tokenizers/gemma3"));
  Compiler c(gemma ? TokenizerInfo::from_file((*testing::data_dir() / "tokenizers/gemma3").string()) : testing::llama3());
  INFO((gemma ? "gemma3" : "llama3"));
  const char* schema = R"({"type":"object","properties":{"a":{"type":"string","maxLength":256},
      "b":{"type":"string","maxLength":100},"c":{"type":"string","minLength":64,"maxLength":64},
      "d":{"type":"object","propertyNames":{"maxLength":40},"additionalProperties":{"type":"integer"}}}})";
  const std::string text = pieces_until({"The quick brown fox ", "été 日本 ", "\\n\\\"q\\\" \\u001f ", "😀 0123456789 ",
                                          "                ", "================", "a,b:c}d]e "},
                                         400);
  // Code points of the text up to `n` of them (an escape is one), cut before the next.
  auto code_points = [&](size_t n) {
    size_t i = 0;
    for (size_t k = 0; k < n && i < text.size(); ++k) {
      if (text[i] == '\\') i += text[i + 1] == 'u' ? 6 : 2;
      else
        for (++i; i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80;) ++i;
    }
    return text.substr(0, i);
  };
  auto g = c.compile_json_schema(schema);
  const std::string doc = R"({"a": ")" + code_points(256) + R"(", "b": ")" + code_points(99) + R"(", "c": ")" +
                          code_points(64) + R"(", "d": {")" + code_points(40) + R"(": 1, ")" + code_points(7) + R"(": 2}})";
  CHECK(bytes_against_oracle(g, doc) > 550);
  const auto& cfg = testing::cfg_of(g);
  INFO(cfg.num_index_by_difference() << " parts by difference of " << cfg.num_index_entries() << " entries");
  CHECK(cfg.num_index_by_difference() > 300);
  refused_after(g, R"({"a": ")" + code_points(256), "x");
  refused_after(g, R"({"c": ")" + code_points(63), "\"");
  refused_after(g, R"({"d": {")" + code_points(40), "x");
}

TEST_CASE("class walk: boundary walks below whole class nodes (long strings' chunk borders) equal the brute-force walk",
          "[class-trie][oracle][boundary]") {
  // A string longer than 256 code points is read in chunks of 64 (grammar/json_schema.cpp): near a
  // chunk's end thousands of tokens run on into the next chunk, and their roots make up whole
  // class nodes of the JSON-string class trie, so the boundary walk below them goes class by class
  // (Generation::walk_root_classes) instead of over ~100,000 byte nodes. Every byte of the strings
  // is a state here (accept_bytes one byte at a time): the borders fall before, inside and after
  // multi-byte characters and escapes, and the tail ends with the closing quote and what follows.
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  Compiler c(testing::llama3());
  const char* schema = R"({"type":"object","properties":{"text":{"type":"string","maxLength":1000},
      "more":{"type":"string","minLength":300},"n":{"type":"integer"}},"required":["text"]})";
  const std::string text = pieces_until({"The quick brown fox ", "jumps été over 日本 the ", "\\n\\\"lazy\\\" dog\\u001f ",
                                          "0123456789 ", "a,b:c}d]e ", "  spaces   and\\ttabs "},
                                         150);
  const std::string doc = R"({"text": ")" + text + R"(", "n": 12})";
  auto g = c.compile_json_schema(schema);
  CHECK(bytes_against_oracle(g, doc) > 150);
  CHECK(testing::cfg_of(g).num_class_boundary_walks() > 0);
  // A string ending past the first border, and a long one that must go on (minLength 300); cut at
  // spaces, never inside a character or an escape.
  Matcher two(g);
  REQUIRE(two.accept_bytes(R"({"text": ")" + text.substr(0, text.find(' ', 70))));
  REQUIRE(testing::mask_oracle_mismatches(two) == 0);
  REQUIRE(two.accept_bytes(R"(", "more": ")" + text + text.substr(0, text.find(' ', 62))));
  REQUIRE(testing::mask_oracle_mismatches(two) == 0);
  CHECK_FALSE(two.accept_bytes("\""));  // 150 + 62 code points or so: short of 300
}

TEST_CASE("class walk: a pattern's class of most ASCII goes by the finer classes and equals the brute-force walk",
          "[class-trie][oracle][boundary]") {
  // An Azure-style name, [^<>*#.%&:\\+?/]*, under a maxLength long enough to be read in chunks of
  // 64: the pattern parts the JSON-string classes' ordinary ASCII ('#', '.', ':' ... die), so the
  // index entries inside the string and the boundary walks at its chunk borders go over the class
  // trie of the finer classes (each punctuation mark apart), where every class steps alike.
  // Every byte is a state: borders before, inside and after multi-byte characters and escapes.
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  Compiler c(testing::llama3());
  const char* schema = R"({"type":"object","properties":{"name":{"type":"string","maxLength":1000,
      "pattern":"^[A-Za-z0-9_][^<>*#.%&:\\\\+?/]*$"},"n":{"type":"integer"}},"required":["name"]})";
  const std::string name = pieces_until({"Table_1 of the (west) region; ", "v2 été 日本 [draft] ", "\\\"copy\\\" = ok! ",
                                          "0123456789 ", "a,b-c}d]e $x @y ^z ", "  spaces   and\\ttabs\\n "},
                                         200);
  const std::string doc = R"({"name": ")" + name + R"(", "n": 12})";
  auto g = c.compile_json_schema(schema);
  const size_t fine_before = engine::fine_class_walks();
  CHECK(bytes_against_oracle(g, doc) > 200);
  CHECK(engine::fine_class_walks() > fine_before);
  CHECK(testing::cfg_of(g).num_fine_boundary_walks() > 0);
  // What the pattern refuses, anywhere in the name (past a border too), and the first character's
  // own class.
  for (const char* bad : {"#", ".", ":", "/", "\\\\"}) refused_after(g, R"({"name": ")" + name.substr(0, name.find(' ', 100)), bad);
  Matcher first(g);
  CHECK_FALSE(first.accept_bytes(R"({"name": "-)"));
}

TEST_CASE("class walk: a key's run of hex digits goes by the hex classes and equals the brute-force walk",
          "[class-trie][oracle]") {
  // Keys that must hold a run of 32 hex digits somewhere ([0-9a-f]{32}, unanchored): at every
  // state of the run a-f go on and g-z start over, which parts the letters of both the JSON-string
  // and the fine classes; the hex classes (0-9, a-f, A-F apart) are stepped alike, so the entries
  // go class by class instead of over the byte trie. Every byte is a state.
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  Compiler c(testing::llama3());
  const char* schema = R"({"type":"object","properties":{"id":{"type":"string"},"sums":{"type":"object",
      "patternProperties":{"[0-9a-f]{32}":{"type":"object","properties":{"ok":{"type":"boolean"}}}}}}})";
  const std::string doc = R"({"id": "x", "sums": {"0123456789abcdef0123456789abcdef": {"ok": true}, )"
                          R"("sum-FEDCBA-fedcba9876543210fedcba9876543210-end": {}, "other": 1}})";
  auto g = c.compile_json_schema(schema);
  const size_t fine_before = engine::fine_class_walks();
  CHECK(bytes_against_oracle(g, doc) > 100);
  CHECK(engine::fine_class_walks() > fine_before);
  Matcher short_run(g);  // 31 digits: any value; 32: an object
  REQUIRE(short_run.accept_bytes(R"({"sums": {"0123456789abcdef0123456789abcde": 1, "0123456789abcdef0123456789abcdef)"));
  REQUIRE(testing::mask_oracle_mismatches(short_run) == 0);
  CHECK_FALSE(short_run.accept_bytes("\": 1"));
  CHECK(short_run.accept_bytes("\": {}}}"));
}

TEST_CASE("class walk: a class of code points parts the UTF-8 classes, the ASCII ones still go by class",
          "[class-trie][oracle][boundary]") {
  // Letters of a few scripts and some ASCII, counted up to 1,000 (in chunks): the pattern's class parts the UTF-8
  // lead and continuation classes (Latin, Greek, Cyrillic live, Armenian dies) at every
  // state, alike in every class trie, while its ASCII classes step alike in the fine one. The
  // entries and the chunk borders' boundary walks go class by class over ASCII and by member byte
  // nodes over the parted UTF-8 classes. Every byte is a state.
  TOLLGATE_DATA_OR_SKIP(p, "tokenizers/llama3/tokenizer.json");
  Compiler c(testing::llama3());
  const char* schema = R"({"type":"object","properties":{"title":{"type":"string",
      "pattern":"^[A-Za-z0-9\\u00c0-\\u024f\\u0370-\\u03ff\\u0400-\\u04ff\\u05d0-\\u05ea\\u0620-\\u064a\\u3040-\\u30ff\\u4e00-\\u9fff _.,-]{1,1000}$"}},"required":["title"]})";
  const std::string title = pieces_until({"Crème brûlée à la carte, ", "Москва и Санкт-Петербург ",
                                           "naïve façade 2024. ひらがな 日本語 ", "Ørsted-Łódź Żółć ", "plain ascii words only "},
                                          260);
  const std::string doc = R"({"title": ")" + title + R"("})";
  auto g = c.compile_json_schema(schema);
  const size_t fine_before = engine::fine_class_walks();
  CHECK(bytes_against_oracle(g, doc) > 260);
  CHECK(engine::fine_class_walks() > fine_before);
  CHECK(testing::cfg_of(g).num_class_boundary_walks() > 0);
  for (const char* bad : {"😀", "é!", "\\n", "\xD5\xA1"})  // an emoji, '!', a newline, an Armenian letter
    refused_after(g, R"({"title": ")" + title.substr(0, 150), bad);
}

TEST_CASE("walk classes: the common refinement of every lexeme's byte classes, numbered by first byte", "[class-trie]") {
  TOLLGATE_DATA_OR_SKIP(dir, "corpora/maskbench-dev");
  // Every lexeme built in the compile: the walk classes come from the DFAs (not from the regexes'
  // partition). The oracle: per byte the signature of its class in every DFA, a class per distinct
  // signature, numbered as the bytes first show them.
  CompileOptions all;
  all.threads = 1;
  all.eager_automata_states = SIZE_MAX;
  Compiler compiler(testing::llama3(), all);
  size_t grammars = 0, many_lexemes = 0, classes_seen = 0;
  const auto files = testing::maskbench_files(dir);
  for (size_t i = 0; i < files.size() && grammars < 60; i += 29) {  // of every source, small to large
    const auto& f = files[i];
    const auto doc = nlohmann::json::parse(testing::read_file(f));
    CompiledGrammarPtr g;
    try {
      g = compiler.compile_json_schema(doc["schema"].dump());
    } catch (const Error&) {
      continue;
    }
    const auto& cfg = testing::cfg_of(g);
    const auto& rt = *cfg.rt;
    std::map<std::vector<uint32_t>, uint32_t> sig;
    std::array<uint8_t, 256> expect{};
    for (int b = 0; b < 256; ++b) {
      std::vector<uint32_t> key;
      for (uint32_t l = 0; l < rt.num_lexemes(); ++l) key.push_back(rt.dfa(l).classes[b]);
      expect[b] = static_cast<uint8_t>(sig.emplace(std::move(key), static_cast<uint32_t>(sig.size())).first->second);
    }
    INFO(f.filename().string());
    CHECK(cfg.walk_class() == expect);
    CHECK(cfg.walk_classes() == sig.size());
    ++grammars;
    many_lexemes += rt.num_lexemes() >= 30;
    classes_seen = std::max(classes_seen, sig.size());
  }
  CHECK(grammars >= 60);
  CHECK(many_lexemes >= 10);
  CHECK(classes_seen >= 40);
}
