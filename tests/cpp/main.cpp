#define CATCH_CONFIG_RUNNER
#include "test_support.hpp"

#include "engine/cfg_backend.hpp"
#include "engine/data_dir.hpp"
#include "fsm/token_trie.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <vector>

namespace tollgate::testing {

namespace {
std::mutex g_skip_mutex;
std::vector<std::string> g_skipped;
}  // namespace

std::optional<std::filesystem::path> data_dir() { return data::find_data_dir(TOLLGATE_DEFAULT_DATA_DIR); }

size_t sample_stride() {
  const char* v = std::getenv("TOLLGATE_TEST_SAMPLE");
  long n = v ? std::atol(v) : 1;
  return n > 1 ? static_cast<size_t>(n) : 1;
}

bool require_data() {
  const char* v = std::getenv("TOLLGATE_REQUIRE_DATA");
  return v && std::string(v) == "1";
}

void note_skipped(const std::string& what) {
  std::lock_guard<std::mutex> lock(g_skip_mutex);
  g_skipped.push_back(Catch::getResultCapture().getCurrentTestName() + ": " + what);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TokenizerInfoPtr llama3() {
  static TokenizerInfoPtr tok = TokenizerInfo::from_file((*data_dir() / "tokenizers/llama3/tokenizer.json").string());
  return tok;
}

std::vector<std::filesystem::path> maskbench_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<int32_t> first_valid_tokens(const std::string& file_text, std::string* schema) {
  auto j = nlohmann::json::parse(file_text);
  if (schema) *schema = j["schema"].dump();
  for (auto& t : j["tests"])
    if (t.value("valid", false) && t.contains("tokens_llama3")) return t["tokens_llama3"].get<std::vector<int32_t>>();
  return {};
}

std::vector<std::vector<int32_t>> maskbench_docs(const std::filesystem::path& dir, size_t n, size_t stride) {
  const std::vector<std::filesystem::path> files = maskbench_files(dir);
  std::vector<std::vector<int32_t>> docs;
  for (size_t f = 0; f < files.size() && docs.size() < n; f += stride) {
    std::vector<int32_t> tokens = first_valid_tokens(read_file(files[f]));
    if (!tokens.empty()) docs.push_back(std::move(tokens));
  }
  return docs;
}

CompiledGrammarPtr schema(const std::string& text, JsonSchemaOptions opt) {
  CompileOptions co;
  co.threads = 1;
  Compiler c(TokenizerInfo::bytes_with_eos(), co);
  return c.compile_json_schema(text, opt);
}

bool accepts(const CompiledGrammarPtr& g, const std::string& doc) {
  Matcher m(g, 0);
  return m.accept_bytes(doc) && m.is_accepting();
}

const engine::CfgGrammar& cfg_of(const CompiledGrammarPtr& g) {
  return static_cast<const engine::CfgGrammar&>(g->impl());
}

bool mask_bit(const std::vector<int32_t>& mask, int32_t id) { return (mask[id >> 5] >> (id & 31)) & 1; }

std::vector<int32_t> mask_of(const Matcher& m) {
  std::vector<int32_t> mask(bitmask_words(m.grammar().tokenizer().vocab_size()));
  m.fill_next_token_bitmask(mask.data());
  return mask;
}

int mask_oracle_mismatches(const Matcher& m) {
  const TokenizerInfo& tok = m.grammar().tokenizer();
  auto mask = mask_of(m);
  // expect[id]: does a copy of the matcher accept the token's bytes? Byte by byte along the token
  // trie, so that a prefix is tried once for all the tokens that share it and a refused prefix
  // decides its whole subtree (accept_bytes takes any split of the bytes).
  std::vector<char> expect(tok.vocab_size(), 0);
  const auto& nodes = tok.trie().nodes();
  Matcher probe(m);  // a copy
  constexpr uint16_t kByteSteps = 48;  // deeper (rare long tokens): the rest of each token at once
  int depth = 0;                       // bytes the probe holds
  for (uint32_t i = 1; i < nodes.size();) {
    const auto& n = nodes[i];
    if (depth >= n.depth) probe.rollback(depth - (n.depth - 1)), depth = n.depth - 1;
    if (n.depth <= kByteSteps) {
      if (!probe.accept_bytes(std::string_view(reinterpret_cast<const char*>(&n.byte), 1))) {
        i = n.subtree_end;
        continue;
      }
      depth = n.depth;
      tok.trie().for_each_token(n, [&](int32_t id) { expect[id] = 1; });
      ++i;
    } else {
      tok.trie().for_each_token(i, n.subtree_end, [&](int32_t id) {
        if (probe.accept_bytes(std::string_view(tok.token_bytes(id)).substr(n.depth - 1))) {
          expect[id] = 1;
          probe.rollback(1);
        }
      });
      i = n.subtree_end;
    }
  }
  int bad = 0;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (tok.is_eos(id)) expect[id] = m.is_accepting();
    else if (tok.is_special(id) || tok.token_bytes(id).empty()) expect[id] = 0;
    if (expect[id] != mask_bit(mask, id) && ++bad <= 5)
      UNSCOPED_INFO("token " << id << " '" << tok.token_bytes(id) << "' oracle=" << int(expect[id]));
  }
  return bad;
}

int32_t longest_allowed(const TokenizerInfo& tok, const std::vector<int32_t>& mask, std::string_view doc, size_t pos) {
  const auto& nodes = tok.trie().nodes();
  const auto& ids = tok.trie().token_ids();
  int32_t best = -1;
  uint32_t i = 0;
  for (size_t k = pos; k < doc.size(); ++k) {
    uint32_t child = 0;
    for (uint32_t c = i + 1; c < nodes[i].subtree_end; c = nodes[c].subtree_end)
      if (nodes[c].byte == static_cast<unsigned char>(doc[k])) {
        child = c;
        break;
      }
    if (!child) break;
    i = child;
    for (uint32_t t = nodes[i].tokens_begin; t < nodes[i].tokens_end; ++t)
      if (mask_bit(mask, ids[t])) best = ids[t];
  }
  return best;
}

std::string bytes_allowed_after(const CompiledGrammarPtr& g, const std::string& prefix) {
  Matcher m(g);
  for (unsigned char c : prefix)
    if (!m.accept_token(c)) return "<refused>";
  std::vector<int32_t> mask = mask_of(m);
  std::string out;
  for (int b = 0; b < 256; ++b)
    if (mask_bit(mask, b)) out += static_cast<char>(b);
  return out;
}

int oracle_along_bytes(const CompiledGrammarPtr& g, const std::string& doc) {
  Matcher m(g);
  int bad = mask_oracle_mismatches(m);
  for (unsigned char c : doc) {
    if (!m.accept_token(c)) break;
    bad += mask_oracle_mismatches(m);
  }
  return bad;
}

int oracle_at_every_prefix(const CompiledGrammarPtr& g, const std::string& text, int& states) {
  int bad = 0;
  for (size_t at = 0; at <= text.size(); ++at) {
    Matcher m(g);
    REQUIRE(m.accept_bytes(text.substr(0, at)));
    ++states;
    bad += mask_oracle_mismatches(m);
  }
  return bad;
}

MaskbenchReplay replay_maskbench_tests(const CompiledGrammarPtr& g, const std::string& file_text, bool mask_agrees,
                                       const std::function<void(const Matcher&, size_t)>& before) {
  MaskbenchReplay r;
  const auto doc = nlohmann::ordered_json::parse(file_text);
  for (const auto& t : doc["tests"]) {
    if (!t.contains("tokens_llama3")) continue;
    auto ids = t["tokens_llama3"].get<std::vector<int32_t>>();
    const bool valid = t.value("valid", false);
    ++r.tests;
    Matcher m(g);
    bool ok = true;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (valid && before) before(m, i);
      const bool allowed = !mask_agrees || mask_bit(mask_of(m), ids[i]);
      const bool took = m.accept_token(ids[i]);
      if (mask_agrees) CHECK(allowed == took);
      if (!took) {
        ok = false;
        break;
      }
    }
    ok = ok && m.is_accepting();
    if (valid) {
      CHECK(ok);
      r.valid_ok += ok;
      r.valid_ids.push_back(std::move(ids));
    } else {
      CHECK_FALSE(ok);
      r.invalid_ok += !ok;
    }
  }
  return r;
}

}  // namespace tollgate::testing

int main(int argc, char* argv[]) {
  Catch::Session session;
  int rc = session.applyCommandLine(argc, argv);
  if (rc != 0) return rc;
  rc = session.run();
  if (!tollgate::testing::g_skipped.empty()) {
    std::cout << tollgate::testing::g_skipped.size() << " check(s) skipped:\n";
    for (const auto& s : tollgate::testing::g_skipped) std::cout << "  " << s << "\n";
  }
  return rc;
}
