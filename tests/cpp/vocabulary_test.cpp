// Tests of TokenizerInfo (engine/vocabulary.cpp) and TokenTrie (fsm/token_trie.cpp).
// Real tokenizers: sizes, EOS, kinds, and every token's bytes compared with an independent Python
// implementation of the tokenizer.json decoder rules (tests/tools/vocab_bytes.py).
#include <array>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "fsm/token_trie.hpp"
#include "test_support.hpp"
#include "tollgate/error.hpp"
#include "tollgate/vocabulary.hpp"

using tollgate::Error;
using tollgate::ErrorKind;
using tollgate::LeadingSpace;
using tollgate::TokenizerInfo;
using tollgate::TokenizerOptions;
using tollgate::VocabType;
using tollgate::fsm::TokenTrie;

namespace {

std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out.empty() ? "-" : out;
}

// Checks the structural invariants of a trie and returns its (bytes -> ids) content.
std::map<std::string, std::multiset<int32_t>> check_trie(const TokenTrie& trie) {
  const auto& nodes = trie.nodes();
  REQUIRE(!nodes.empty());
  REQUIRE(nodes[0].depth == 0);
  REQUIRE(nodes[0].subtree_end == nodes.size());
  std::map<std::string, std::multiset<int32_t>> content;
  std::string path;
  uint32_t expected_token_pos = 0;
  size_t max_depth = 0;
  size_t wide = 0;
  bool ok = true;
  for (uint32_t i = 0; i < nodes.size() && ok; ++i) {
    const auto& n = nodes[i];
    if (i > 0) {
      path.resize(n.depth - 1);
      path.push_back(static_cast<char>(n.byte));
    }
    max_depth = std::max<size_t>(max_depth, n.depth);
    // token ranges are laid out in node order, so the tokens of nodes [i, j) are one range
    if (n.tokens_begin != expected_token_pos && n.tokens_begin != n.tokens_end) ok = false;
    if (trie.tokens_from(i) != expected_token_pos) ok = false;
    if (n.tokens_begin != n.tokens_end) expected_token_pos = n.tokens_end;
    for (uint32_t k = n.tokens_begin; k < n.tokens_end; ++k) content[path].insert(trie.token_ids()[k]);
    // subtree is well nested and children are direct, in increasing byte order
    if (n.subtree_end <= i || n.subtree_end > nodes.size()) ok = false;
    uint32_t j = i + 1;
    int prev_byte = -1;
    while (ok && j < n.subtree_end) {
      if (nodes[j].depth != n.depth + 1 || static_cast<int>(nodes[j].byte) <= prev_byte ||
          nodes[j].subtree_end > n.subtree_end || trie.child(i, nodes[j].byte) != j)
        ok = false;
      prev_byte = nodes[j].byte;
      j = nodes[j].subtree_end;
    }
    if (j != n.subtree_end) ok = false;
    // a node whose children are indexed (many of them) finds each byte's child, and none for the others
    if (ok && n.wide) {
      std::array<uint32_t, 256> want{};
      for (uint32_t c = i + 1; c < n.subtree_end; c = nodes[c].subtree_end) want[nodes[c].byte] = c;
      for (int b = 0; b < 256 && ok; ++b) ok = trie.child(i, static_cast<uint8_t>(b)) == want[b];
      ++wide;
    }
    // a leaf ends at least one token
    if (i > 0 && n.subtree_end == i + 1 && n.tokens_begin == n.tokens_end) ok = false;
    if (!ok) FAIL_CHECK("trie invariant broken at node " << i);
  }
  CHECK(expected_token_pos == trie.token_ids().size());
  CHECK(max_depth == trie.max_depth());
  // a real vocabulary's trie has nodes of hundreds of children (the root, a space, a quote)
  if (nodes.size() > 10000) CHECK(wide > 100);
  return content;
}

struct Expect {
  const char* name;
  int32_t num_tokens;
  VocabType type;
  int32_t eos;
  bool prepends_space;
};

const Expect kTokenizers[] = {
    {"llama2", 32000, VocabType::kByteFallback, 2, true},
    {"llama3", 128256, VocabType::kByteLevel, 128001, false},
    {"qwen3", 151669, VocabType::kByteLevel, 151645, false},
    {"gpt4o", 200019, VocabType::kByteLevel, 199999, false},
    {"gemma3", 262145, VocabType::kByteFallback, 106, false},
};

std::shared_ptr<const TokenizerInfo> load_json(const std::string& json, const std::string& config = {},
                                               const TokenizerOptions& options = {}) {
  return TokenizerInfo::from_json(json, config, options);
}

ErrorKind kind_of(const std::function<void()>& f, int* line = nullptr, int* column = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (line) *line = e.line();
    if (column) *column = e.column();
    return e.kind();
  }
  FAIL("no tollgate::Error thrown");
  return ErrorKind::kModel;
}

// A minimal byte-level BPE tokenizer.json (GPT-2 map: "Ġ" is a space).
const char* kTinyByteLevel = R"({
  "added_tokens": [{"id": 5, "content": "<|end|>", "special": true},
                   {"id": 6, "content": "<tool>", "special": false}],
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "\u0120a": 2, "ab": 3, "\u010a": 4},
            "merges": ["a b"]}
})";

}  // namespace

TEST_CASE("real tokenizers load with the right sizes, kinds and EOS", "[vocab]") {
  for (const auto& e : kTokenizers) {
    INFO(e.name);
    TOLLGATE_DATA_OR_SKIP(path, std::string("tokenizers/") + e.name + "/tokenizer.json");
    auto info = TokenizerInfo::from_file(path.string());
    CHECK(info->num_tokens() == e.num_tokens);
    CHECK(info->vocab_size() == e.num_tokens);
    CHECK(info->type() == e.type);
    CHECK(info->eos_ids() == std::vector<int32_t>{e.eos});
    CHECK(info->is_eos(e.eos));
    CHECK(info->is_special(e.eos));
    CHECK(info->prepends_space() == e.prepends_space);
    CHECK(info->leading_space() == (e.prepends_space ? LeadingSpace::kStrip : LeadingSpace::kKeep));
    // The folder form finds the same file.
    auto again = TokenizerInfo::from_file(path.parent_path().string());
    CHECK(again->num_tokens() == e.num_tokens);
    // The trie holds exactly the non-special tokens with non-empty bytes.
    auto content = check_trie(info->trie());
    size_t expected = 0;
    for (int32_t id = 0; id < info->num_tokens(); ++id)
      if (!info->is_special(id) && !info->token_bytes(id).empty()) ++expected;
    CHECK(info->trie().token_ids().size() == expected);
    size_t misplaced = 0;
    for (const auto& [bytes, ids] : content)
      for (int32_t id : ids)
        if (info->token_bytes(id) != bytes || info->is_special(id)) ++misplaced;
    CHECK(misplaced == 0);
  }
}

TEST_CASE("spot checks of token bytes in real vocabularies", "[vocab]") {
  TOLLGATE_DATA_OR_SKIP(dir, "tokenizers");
  auto llama3 = TokenizerInfo::from_file((dir / "llama3").string());
  int32_t hello = llama3->find_token("\xC4\xA0hello");  // "Ġhello"
  REQUIRE(hello >= 0);
  CHECK(llama3->token_bytes(hello) == " hello");
  CHECK(llama3->token_text(hello) == "\xC4\xA0hello");
  CHECK(llama3->token_bytes(llama3->find_token("\xC4\x8A")) == "\n");  // "Ċ"
  CHECK(llama3->token_bytes(128000) == "<|begin_of_text|>");
  CHECK(llama3->is_special(128000));
  CHECK(llama3->find_token("no such token \x01") == -1);

  auto llama2 = TokenizerInfo::from_file((dir / "llama2").string());
  CHECK(llama2->token_bytes(llama2->find_token("<0x0A>")) == "\n");
  CHECK(llama2->token_bytes(llama2->find_token("<0xFF>")) == "\xFF");
  CHECK(llama2->token_bytes(llama2->find_token("\xE2\x96\x81the")) == " the");
  CHECK(llama2->is_special(0));  // <unk>
  CHECK(llama2->is_special(1));  // <s>

  auto gpt4o = TokenizerInfo::from_file((dir / "gpt4o").string());
  for (int32_t gap = 200000; gap < 200018; ++gap) {
    CHECK(gpt4o->is_special(gap));
    CHECK(gpt4o->token_bytes(gap).empty());
  }
  CHECK(gpt4o->token_bytes(200018) == "<|endofprompt|>");

  auto qwen3 = TokenizerInfo::from_file((dir / "qwen3").string());
  CHECK(qwen3->token_bytes(151667) == "<think>");
  CHECK_FALSE(qwen3->is_special(151667));  // non-special added token: allowed as its content
  CHECK(qwen3->is_special(151644));         // <|im_start|>

  auto gemma3 = TokenizerInfo::from_file((dir / "gemma3").string());
  CHECK(gemma3->token_text(106) == "<end_of_turn>");
  CHECK(gemma3->token_bytes(gemma3->find_token("\xE2\x96\x81hello")) == " hello");
  CHECK(gemma3->token_bytes(gemma3->find_token("<0x00>")) == std::string(1, '\0'));
}

TEST_CASE("every token's bytes match the independent Python decoder", "[vocab][slow]") {
  for (const auto& e : kTokenizers) {
    INFO(e.name);
    TOLLGATE_DATA_OR_SKIP(path, std::string("tokenizers/") + e.name + "/tokenizer.json");
    auto info = TokenizerInfo::from_file(path.string());
    std::string cmd = "/usr/bin/python3 '" + std::string(TOLLGATE_SOURCE_DIR) +
                      "/tests/tools/vocab_bytes.py' '" + path.string() + "'";
    std::FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int rc = pclose(p);
    REQUIRE(rc == 0);
    std::istringstream in(out);
    std::string header;
    std::getline(in, header);
    CHECK(header.find("\"num_tokens\": " + std::to_string(e.num_tokens)) != std::string::npos);
    CHECK(header.find("\"eos\": [" + std::to_string(e.eos) + "]") != std::string::npos);
    int32_t id;
    std::string hex_bytes, flag;
    int32_t count = 0, mismatches = 0;
    std::ostringstream report;
    while (in >> id >> hex_bytes >> flag) {
      ++count;
      bool special = flag != "-";
      if (hex(info->token_bytes(id)) != hex_bytes || info->is_special(id) != special) {
        if (++mismatches <= 20)
          report << "  id " << id << ": tollgate " << hex(info->token_bytes(id))
                 << (info->is_special(id) ? " special" : "") << ", reference " << hex_bytes << " "
                 << flag << "\n";
      }
    }
    CHECK(count == info->num_tokens());
    INFO("mismatches:\n" << report.str());
    CHECK(mismatches == 0);
  }
}

TEST_CASE("a vocabulary padded past the tokenizer's size", "[vocab]") {
  TOLLGATE_DATA_OR_SKIP(path, "tokenizers/llama3/tokenizer.json");
  TokenizerOptions options;
  options.vocab_size = 128320;
  options.eos_ids = {128009, 128001};
  auto info = TokenizerInfo::from_file(path.string(), options);
  CHECK(info->num_tokens() == 128256);
  CHECK(info->vocab_size() == 128320);
  CHECK(info->eos_ids() == std::vector<int32_t>{128001, 128009});
  CHECK(info->is_eos(128009));
  for (int32_t id = 128256; id < 128320; ++id) {
    CHECK(info->is_special(id));
    CHECK(info->token_bytes(id).empty());
  }
  CHECK(kind_of([&] { info->token_bytes(128320); }) == ErrorKind::kInvalidArgument);
  CHECK(kind_of([&] { info->token_bytes(-1); }) == ErrorKind::kInvalidArgument);
  options.vocab_size = 1000;
  CHECK(kind_of([&] { TokenizerInfo::from_file(path.string(), options); }) ==
        ErrorKind::kInvalidArgument);
  options.vocab_size = 0;
  options.eos_ids = {128256};
  CHECK(kind_of([&] { TokenizerInfo::from_file(path.string(), options); }) ==
        ErrorKind::kInvalidArgument);
}

TEST_CASE("from_tokens: padding, specials, EOS", "[vocab]") {
  auto info = TokenizerInfo::from_tokens({"a", "ab", "</s>", "b", "", "ab"}, {2}, 8, {4});
  CHECK(info->num_tokens() == 6);
  CHECK(info->vocab_size() == 8);
  CHECK(info->type() == VocabType::kRaw);
  CHECK(info->leading_space() == LeadingSpace::kKeep);
  CHECK_FALSE(info->prepends_space());
  CHECK(info->is_special(2));  // EOS is special
  CHECK(info->is_special(4));
  CHECK(info->is_special(6));  // padding
  CHECK(info->is_special(7));
  CHECK_FALSE(info->is_special(0));
  CHECK(info->token_bytes(6).empty());
  CHECK(info->token_bytes(5) == "ab");
  CHECK(info->token_text(1) == "ab");
  CHECK(info->find_token("ab") == 1);
  CHECK(info->find_token("zz") == -1);
  auto content = check_trie(info->trie());
  std::map<std::string, std::multiset<int32_t>> expected{{"a", {0}}, {"ab", {1, 5}}, {"b", {3}}};
  CHECK(content == expected);

  auto stripped = TokenizerInfo::from_tokens({" x"}, {}, 0, {}, VocabType::kByteFallback, LeadingSpace::kStrip);
  CHECK(stripped->vocab_size() == 1);
  CHECK(stripped->leading_space() == LeadingSpace::kStrip);
  CHECK(stripped->prepends_space());

  CHECK(kind_of([] { TokenizerInfo::from_tokens({"a", "b"}, {}, 1); }) == ErrorKind::kInvalidArgument);
  CHECK(kind_of([] { TokenizerInfo::from_tokens({"a", "b"}, {2}); }) == ErrorKind::kInvalidArgument);
  CHECK(kind_of([] { TokenizerInfo::from_tokens({"a", "b"}, {}, 0, {-1}); }) ==
        ErrorKind::kInvalidArgument);
}

TEST_CASE("trie layout: DFS order, subtree_end, shared bytes", "[vocab][trie]") {
  TokenTrie trie(std::vector<std::pair<int32_t, std::string>>{{7, "ab"}, {3, "b"}, {1, "a"}, {9, ""}, {4, "ab"}, {2, "abc"}, {5, "\xff"}, {6, "ad"}});
  const auto& n = trie.nodes();
  // root, a, ab, abc, ad, b, \xff
  REQUIRE(n.size() == 7);
  CHECK(n[0].subtree_end == 7);
  CHECK((n[1].byte == 'a' && n[1].depth == 1 && n[1].subtree_end == 5));
  CHECK((n[2].byte == 'b' && n[2].depth == 2 && n[2].subtree_end == 4));
  CHECK((n[3].byte == 'c' && n[3].depth == 3 && n[3].subtree_end == 4));
  CHECK((n[4].byte == 'd' && n[4].depth == 2 && n[4].subtree_end == 5));
  CHECK((n[5].byte == 'b' && n[5].depth == 1 && n[5].subtree_end == 6));
  CHECK((n[6].byte == 0xFF && n[6].depth == 1 && n[6].subtree_end == 7));
  CHECK(n[0].tokens_begin == n[0].tokens_end);
  auto ids = [&](int i) {
    return std::vector<int32_t>(trie.token_ids().begin() + n[i].tokens_begin,
                                trie.token_ids().begin() + n[i].tokens_end);
  };
  CHECK(ids(1) == std::vector<int32_t>{1});
  CHECK(ids(2) == std::vector<int32_t>{4, 7});  // shared bytes: one node, both ids
  CHECK(ids(3) == std::vector<int32_t>{2});
  CHECK(ids(6) == std::vector<int32_t>{5});
  CHECK(trie.max_depth() == 3);
  CHECK(trie.token_ids().size() == 7);
  CHECK(trie.memory_bytes() > 0);
  check_trie(trie);
  std::vector<int32_t> subtree;
  trie.for_each_token(1, n[1].subtree_end, [&](int32_t id) { subtree.push_back(id); });
  CHECK(subtree == std::vector<int32_t>{1, 4, 7, 2, 6});  // a, ab, abc, ad
  subtree.clear();
  trie.for_each_token(5, 7, [&](int32_t id) { subtree.push_back(id); });
  CHECK(subtree == std::vector<int32_t>{3, 5});  // b, \xff: up to the end of the trie
  // child: by byte, children in byte order (0xFF after the ASCII bytes), 0 when there is none
  CHECK(trie.child(0, 'a') == 1);
  CHECK(trie.child(0, 'b') == 5);
  CHECK(trie.child(0, 0xFF) == 6);
  CHECK(trie.child(0, 'c') == 0);
  CHECK(trie.child(1, 'b') == 2);
  CHECK(trie.child(1, 'd') == 4);
  CHECK(trie.child(1, 'c') == 0);
  CHECK(trie.child(2, 'c') == 3);
  CHECK(trie.child(3, 'a') == 0);

  // walk_trie: a state per depth (here the bytes so far); a false step skips the subtree.
  std::vector<std::string> stack(trie.max_depth() + 2), seen;
  std::vector<int32_t> walked;
  tollgate::fsm::walk_trie(trie, 0, stack.data(),
                           [&](uint32_t i, const tollgate::fsm::TrieNode& node, const std::string& parent,
                               std::string& child) {
                             child = parent + static_cast<char>(node.byte);
                             seen.push_back(child);
                             if (child == "ab") return false;  // skips "abc"
                             trie.for_each_token(node, [&](int32_t id) { walked.push_back(id); });
                             CHECK(node.depth == child.size());
                             CHECK(&node == &n[i]);
                             return true;
                           });
  CHECK(seen == std::vector<std::string>{"a", "ab", "ad", "b", "\xff"});
  CHECK(walked == std::vector<int32_t>{1, 6, 3, 5});
  // Below one node only: its subtree without the node itself.
  seen.clear();
  stack[1] = "a";
  tollgate::fsm::walk_trie(trie, 1, stack.data(),
                           [&](uint32_t, const tollgate::fsm::TrieNode& node, const std::string& parent,
                               std::string& child) {
                             child = parent + static_cast<char>(node.byte);
                             seen.push_back(child);
                             return true;
                           });
  CHECK(seen == std::vector<std::string>{"ab", "abc", "ad"});

  TokenTrie empty(std::vector<std::pair<int32_t, std::string>>{});
  CHECK(empty.nodes().size() == 1);
  CHECK(empty.nodes()[0].subtree_end == 1);
}

TEST_CASE("tokenizer.json: byte-level, added tokens, EOS from the config", "[vocab]") {
  auto info = load_json(kTinyByteLevel, R"({"eos_token": {"content": "<|end|>", "lstrip": false}})");
  CHECK(info->type() == VocabType::kByteLevel);
  CHECK(info->num_tokens() == 7);
  CHECK(info->token_bytes(2) == " a");
  CHECK(info->token_bytes(4) == "\n");
  CHECK(info->token_text(2) == "\xC4\xA0" "a");
  CHECK(info->eos_ids() == std::vector<int32_t>{5});
  CHECK(info->is_special(5));
  CHECK_FALSE(info->is_special(6));
  CHECK(info->token_bytes(6) == "<tool>");
  CHECK_FALSE(info->prepends_space());
  // No config: a well-known EOS name is not there, so no EOS.
  CHECK(load_json(kTinyByteLevel)->eos_ids().empty());
  TokenizerOptions options;
  options.eos_ids = {4};
  options.vocab_size = 10;
  options.leading_space = LeadingSpace::kStrip;
  auto padded = load_json(kTinyByteLevel, "", options);
  CHECK(padded->eos_ids() == std::vector<int32_t>{4});
  CHECK(padded->is_special(4));
  CHECK(padded->vocab_size() == 10);
  CHECK(padded->leading_space() == LeadingSpace::kStrip);
}

TEST_CASE("tokenizer.json: SentencePiece style, with and without Prepend", "[vocab]") {
  const char* base = R"({"added_tokens": [{"id": 0, "content": "<unk>", "special": true}],
    "normalizer": %N%,
    "decoder": {"type": "Sequence", "decoders": [
       {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
       {"type": "ByteFallback"}, {"type": "Fuse"}]},
    "model": {"type": "BPE", "byte_fallback": true, "unk_token": "<unk>",
              "vocab": {"<unk>": 0, "<0x41>": 1, "\u2581hi": 2, "a\u2581b": 3, "<0xZZ>": 4, "</s>": 5},
              "merges": []}})";
  auto make = [&](const std::string& normalizer) {
    std::string s = base;
    s.replace(s.find("%N%"), 3, normalizer);
    return s;
  };
  auto llama = load_json(make(R"({"type": "Sequence", "normalizers": [
      {"type": "Prepend", "prepend": "\u2581"},
      {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]})"));
  CHECK(llama->type() == VocabType::kByteFallback);
  CHECK(llama->prepends_space());
  CHECK(llama->leading_space() == LeadingSpace::kStrip);
  CHECK(llama->token_bytes(1) == "A");
  CHECK(llama->token_bytes(2) == " hi");
  CHECK(llama->token_bytes(3) == "a b");
  CHECK(llama->token_bytes(4) == "<0xZZ>");
  CHECK(llama->is_special(0));
  CHECK(llama->eos_ids() == std::vector<int32_t>{5});  // "</s>" by name when there is no config

  auto gemma = load_json(make(R"({"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"})"));
  CHECK_FALSE(gemma->prepends_space());
  CHECK(gemma->leading_space() == LeadingSpace::kKeep);
}

TEST_CASE("bad tokenizer input gives tollgate::Error with a position", "[vocab][errors]") {
  CHECK(kind_of([] { TokenizerInfo::from_file("/nonexistent/tokenizer.json"); }) == ErrorKind::kIo);
  CHECK(kind_of([] { TokenizerInfo::from_file("/tmp"); }) == ErrorKind::kIo);  // no tokenizer.json in it

  int line = 0, column = 0;
  CHECK(kind_of([] { load_json("not json"); }, &line, &column) == ErrorKind::kParse);
  CHECK((line == 1 && column == 1));
  CHECK(kind_of([] { load_json(""); }) == ErrorKind::kParse);
  CHECK(kind_of([] { load_json("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}"); }) ==
        ErrorKind::kParse);  // truncated
  CHECK(kind_of([] { load_json("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}} x"); }) ==
        ErrorKind::kParse);  // trailing data
  CHECK(kind_of([] { load_json("{\"added_tokens\": []}"); }) == ErrorKind::kParse);  // no model

  CHECK(kind_of([] { load_json("{\n\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}"); },
                &line, &column) == ErrorKind::kParse);
  CHECK((line == 2 && column == 19));  // at the type string

  CHECK(kind_of([] { load_json("{\"model\": {\"type\": \"BPE\",\n \"vocab\": {\"a\": -3}}}"); }, &line,
                &column) == ErrorKind::kParse);
  CHECK((line == 2 && column == 17));
  CHECK(kind_of([] { load_json("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1.5}}}"); }) ==
        ErrorKind::kParse);
  CHECK(kind_of([] { load_json("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}}}"); }) ==
        ErrorKind::kParse);  // duplicate id
  CHECK(kind_of([] { load_json("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 99999999999}}}"); }) ==
        ErrorKind::kParse);
  CHECK(kind_of([] { load_json("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"0\"}}}"); }) ==
        ErrorKind::kParse);
  CHECK(kind_of([] { load_json("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\\q\": 0}}}"); }) ==
        ErrorKind::kParse);  // bad escape
  CHECK(kind_of([] {
          load_json("{\"added_tokens\": [{\"id\": -1, \"content\": \"x\"}], "
                    "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}");
        }) == ErrorKind::kParse);
  CHECK(kind_of([] {
          load_json("{\"decoder\": {\"type\": [}, \"model\": {\"type\": \"BPE\", \"vocab\": {}}}");
        }) == ErrorKind::kParse);
  CHECK(kind_of([] { load_json(kTinyByteLevel, "{\"eos_token\": }"); }) == ErrorKind::kParse);
  // Deeply nested junk is rejected, not a stack overflow.
  std::string deep = "{\"x\": " + std::string(100000, '[') + "}";
  CHECK(kind_of([&] { load_json(deep); }) == ErrorKind::kParse);
}

TEST_CASE("truncated and corrupted tokenizer.json never crash", "[vocab][errors]") {
  std::string good = kTinyByteLevel;
  REQUIRE(load_json(good)->num_tokens() == 7);
  int errors = 0;
  for (size_t n = 0; n < good.size(); ++n) {
    try {
      load_json(good.substr(0, n));
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kParse);
      ++errors;
    }
  }
  CHECK(errors == static_cast<int>(good.size()));  // every proper prefix is incomplete JSON
  // Single-byte corruptions: either still a valid tokenizer or a tollgate::Error, nothing else.
  const char replacements[] = {'"', '{', '}', '[', ']', ',', ':', '\\', '-', '9', 'x', '\0', '\n'};
  for (size_t i = 0; i < good.size(); i += 3) {
    for (char r : replacements) {
      std::string bad = good;
      bad[i] = r;
      try {
        load_json(bad);
      } catch (const Error&) {
      }
    }
  }
}
