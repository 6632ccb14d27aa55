// Compiled grammars across processes (engine/grammar_blob.cpp, engine/grammar_cache.cpp,
// engine/redis_store.cpp): a blob loads into a grammar whose masks equal the original's at every
// step of MaskBench-dev replays (Llama-3 token ids) and of walks through the GBNF corpus; a blob
// of another version or tokenizer, truncated at any offset or with any byte flipped is refused
// with a clear error; the cache returns one grammar per key, shares one compilation between
// concurrent callers, stays within its byte bound, compiles asynchronously and can be cancelled;
// and with Redis, worker processes of this binary ("[.redis-worker]") compile a shared set of
// grammars concurrently, each exactly once across the fleet.
#include <nlohmann/json.hpp>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>

#include "engine/grammar_blob.hpp"
#include "engine/redis_store.hpp"
#include "test_support.hpp"
#include "tollgate/tollgate.hpp"

extern char** environ;

using namespace tollgate;
using tollgate::testing::llama3;

namespace {

std::vector<int32_t> mask(const Matcher& m) {
  std::vector<int32_t> row(bitmask_words(m.grammar().tokenizer().vocab_size()));
  m.fill_next_token_bitmask(row.data());
  return row;
}

// Feeds `tokens` to matchers of `a` and `b` side by side; returns the number of steps whose masks
// differ (the masks before each token and after the last).
int replay_mismatches(const CompiledGrammarPtr& a, const CompiledGrammarPtr& b, const std::vector<int32_t>& tokens,
                      int* steps = nullptr) {
  Matcher ma(a), mb(b);
  int bad = 0, n = 0;
  for (int32_t id : tokens) {
    ++n;
    if (mask(ma) != mask(mb)) ++bad;
    bool ka = ma.accept_token(id), kb = mb.accept_token(id);
    if (ka != kb) return bad + 1;
    if (!ka) break;
  }
  if (mask(ma) != mask(mb)) ++bad;
  if (steps) *steps += n + 1;
  return bad;
}

// A walk of `n` tokens, each drawn from the mask of the grammar `g` (seeded), as a replay.
std::vector<int32_t> random_walk(const CompiledGrammarPtr& g, int n, uint32_t seed) {
  Matcher m(g);
  std::mt19937 rng(seed);
  std::vector<int32_t> out;
  const int32_t vocab = g->tokenizer().vocab_size();
  for (int i = 0; i < n && !m.is_terminated(); ++i) {
    std::vector<int32_t> row = mask(m), allowed;
    for (int32_t id = 0; id < vocab; ++id)
      if (row[id >> 5] & (1u << (id & 31))) allowed.push_back(id);
    if (allowed.empty()) break;
    int32_t id = allowed[rng() % allowed.size()];
    if (!m.accept_token(id)) break;
    out.push_back(id);
  }
  return out;
}

struct Instance {
  std::string name, schema;
  std::vector<std::vector<int32_t>> docs;  // tokens_llama3 of the test instances
};

// Every `stride`-th MaskBench-dev schema (sorted file names) with its instances' token ids.
std::vector<Instance> maskbench(const std::filesystem::path& dir, size_t stride, size_t max) {
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<Instance> out;
  for (size_t f = 0; f < files.size() && out.size() < max; f += stride) {
    auto j = nlohmann::json::parse(tollgate::testing::read_file(files[f]));
    Instance in{files[f].filename().string(), j["schema"].dump(), {}};
    for (auto& t : j["tests"])
      if (t.contains("tokens_llama3")) in.docs.push_back(t["tokens_llama3"].get<std::vector<int32_t>>());
    out.push_back(std::move(in));
  }
  return out;
}

// Compiles `schema` (lenient: every MaskBench schema compiles) with a Compiler of its own.
CompiledGrammarPtr compile_schema(const std::string& schema, CompileOptions o = {}) {
  JsonSchemaOptions so;
  so.lenient = true;
  return Compiler(llama3(), o).compile_json_schema(schema, so);
}

// The error deserialize gives, or "" when it loads.
std::string load_error(std::string_view blob, const TokenizerInfoPtr& tok) {
  try {
    CompiledGrammar::deserialize(blob, tok);
    return "";
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInvalidArgument);
    return e.message();
  }
}

bool contains(const std::string& s, std::string_view what) { return s.find(what) != std::string::npos; }

}  // namespace

TEST_CASE("a loaded JSON Schema grammar gives the original's masks along MaskBench-dev replays", "[blob]") {
  TOLLGATE_DATA_OR_SKIP(tok_path, "tokenizers/llama3");
  TOLLGATE_DATA_OR_SKIP(dir, "corpora/maskbench-dev");
  int steps = 0, instances = 0;
  for (const Instance& in : maskbench(dir, 173, 13)) {
    INFO(in.name);
    CompiledGrammarPtr g;
    try {
      g = compile_schema(in.schema);
    } catch (const Error&) {
      continue;  // refused schemas are tested elsewhere
    }
    // A fresh compile (no index entry computed yet) ...
    const std::string fresh_blob = g->serialize();
    CompiledGrammarPtr fresh = CompiledGrammar::deserialize(fresh_blob, llama3());
    for (const auto& doc : in.docs) CHECK(replay_mismatches(g, fresh, doc, &steps) == 0);
    // ... and one whose replays computed index entries: they travel in the blob.
    std::string warm_blob = g->serialize();
    if (!in.docs.empty()) CHECK(warm_blob.size() > fresh_blob.size());
    CompiledGrammarPtr warm = CompiledGrammar::deserialize(warm_blob, llama3());
    // Loaded and saved again: the same entries (in install order), and stable from then on.
    std::string again = warm->serialize();
    CHECK(again.size() == warm_blob.size());
    CHECK(CompiledGrammar::deserialize(again, llama3())->serialize() == again);
    for (const auto& doc : in.docs) CHECK(replay_mismatches(g, warm, doc, &steps) == 0);
    CHECK(warm->warnings().size() == g->warnings().size());
    ++instances;
  }
  CHECK(instances >= 10);
  CHECK(steps > 1000);
}

TEST_CASE("loaded GBNF and regex grammars give the original's masks along random walks", "[blob]") {
  TOLLGATE_DATA_OR_SKIP(tok_path, "tokenizers/llama3");
  TOLLGATE_DATA_OR_SKIP(dir, "corpora/gbnf");
  Compiler c(llama3());
  int grammars = 0, steps = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".gbnf") continue;
    INFO(e.path().filename().string());
    CompiledGrammarPtr g = c.compile_grammar(tollgate::testing::read_file(e.path()), "gbnf");
    CompiledGrammarPtr h = CompiledGrammar::deserialize(g->serialize(), llama3());
    for (uint32_t seed = 1; seed <= 2; ++seed) CHECK(replay_mismatches(g, h, random_walk(g, 40, seed), &steps) == 0);
    ++grammars;
  }
  CHECK(grammars >= 8);
  for (const char* re : {R"([a-z]+@[a-z]+\.(com|org))", R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})", R"((yes|no|maybe) ?\(\w{1,8}\))"}) {
    INFO(re);
    CompiledGrammarPtr g = c.compile_regex(re);
    CompiledGrammarPtr h = CompiledGrammar::deserialize(g->serialize(), llama3());
    CHECK(h->stats().dfa_states == g->stats().dfa_states);
    for (uint32_t seed = 1; seed <= 3; ++seed) CHECK(replay_mismatches(g, h, random_walk(g, 30, seed), &steps) == 0);
  }
  CHECK(steps > 300);
}

TEST_CASE("blobs of another version or tokenizer, truncated or corrupted are refused", "[blob]") {
  TOLLGATE_DATA_OR_SKIP(tok_path, "tokenizers/llama3");
  Compiler c(llama3());
  CompiledGrammarPtr cfg = c.compile_grammar(R"(root ::= "{" ws pair (ws "," ws pair)* ws "}"
pair ::= "\"" [a-z]+ "\"" ws ":" ws [0-9]+
ws ::= [ \n]*)", "gbnf");
  // Warm a few index entries so that the blob carries them too.
  CHECK(replay_mismatches(cfg, cfg, random_walk(cfg, 20, 7)) == 0);
  CompiledGrammarPtr re = c.compile_regex(R"([A-Z][a-z]{2,9}( [A-Z][a-z]{2,9})?)");
  for (const CompiledGrammarPtr& g : {cfg, re}) {
    const std::string blob = g->serialize();
    INFO("blob of " << blob.size() << " bytes");
    REQUIRE(load_error(blob, llama3()).empty());
    CHECK(contains(load_error(blob, TokenizerInfo::bytes_with_eos()), "another tokenizer"));
    CHECK(contains(load_error("", llama3()), "not a tollgate compiled grammar"));
    CHECK(contains(load_error("{\"type\": \"object\"}", llama3()), "not a tollgate compiled grammar"));
    std::string v = blob;
    v[8] ^= 0x02;  // the format version
    CHECK(contains(load_error(v, llama3()), "format version"));
    // Truncation: every offset of the header and the first 512 bytes, then 300 random ones.
    std::mt19937 rng(11);
    std::vector<size_t> cuts;
    for (size_t n = 0; n < std::min<size_t>(blob.size(), 512); ++n) cuts.push_back(n);
    for (int i = 0; i < 300; ++i) cuts.push_back(rng() % blob.size());
    cuts.push_back(blob.size() - 1);
    for (size_t n : cuts) {
      std::string e = load_error(std::string_view(blob).substr(0, n), llama3());
      INFO("cut at " << n << ": " << e);
      CHECK((contains(e, "truncated") || (n < 8 && contains(e, "not a tollgate"))));
    }
    CHECK(contains(load_error(blob + "x", llama3()), "after the end"));
    // Byte flips anywhere: the checksum (or the header check) refuses them.
    for (int i = 0; i < 400; ++i) {
      std::string b = blob;
      size_t at = rng() % b.size();
      b[at] = static_cast<char>(b[at] ^ (1u << (rng() % 8)));
      std::string e = load_error(b, llama3());
      INFO("flip at " << at << ": " << e);
      CHECK(!e.empty());
    }
    // A forged blob (payload changed, checksum recomputed) is refused or loads into something
    // that runs: never a crash.
    int refused = 0;
    for (int i = 0; i < 300; ++i) {
      std::string b = blob;
      size_t at = engine::kBlobHeaderBytes + rng() % (b.size() - engine::kBlobHeaderBytes);
      b[at] = static_cast<char>(rng());
      b = engine::reseal_blob(std::move(b));
      std::string e = load_error(b, llama3());
      if (!e.empty()) {
        ++refused;
        CHECK(contains(e, "compiled grammar blob"));
        continue;
      }
      try {
        CompiledGrammarPtr h = CompiledGrammar::deserialize(b, llama3());
        random_walk(h, 5, i);
      } catch (const Error&) {
      }
    }
    CHECK(refused > 0);
  }
}

// Overwrites the 4 bytes at `at` of the blob's payload with `v` and recomputes the checksum: the
// blob is then "valid" for the checksum, and only the loader's own checks stand between it and
// the tables a matcher reads.
std::string forge(std::string blob, size_t at, uint32_t v) {
  std::memcpy(&blob[engine::kBlobHeaderBytes + at], &v, 4);
  return engine::reseal_blob(std::move(blob));
}

uint32_t payload_u32(const std::string& blob, size_t at) {
  uint32_t v;
  std::memcpy(&v, &blob[engine::kBlobHeaderBytes + at], 4);
  return v;
}

TEST_CASE("a forged blob with a valid checksum and a broken table is refused with a clear error", "[blob]") {
  // Byte-level vocabulary: small tables, so every word of the payload can be forged in turn.
  Compiler c(TokenizerInfo::bytes_with_eos());
  CompiledGrammarPtr cfg = c.compile_grammar("root ::= \"[\" item (\",\" item)* \"]\"\nitem ::= [a-z]+ | root\n", "gbnf");
  random_walk(cfg, 30, 3);  // computes some index entries, so the blob carries them
  const std::string blob = cfg->serialize();
  REQUIRE(load_error(blob, TokenizerInfo::bytes_with_eos()).empty());
  // The payload's documented layout: 8 statistics (64 bytes), the warning count (none here), the
  // production count, then production 0 (S' -> start): its left side, rhs length 1, rhs symbol.
  REQUIRE(payload_u32(blob, 64) == 0);
  REQUIRE(payload_u32(blob, 80) == 0);   // lhs of S'
  REQUIRE(payload_u32(blob, 84) == 1);   // one symbol
  auto refused = [&](const std::string& b, const char* why) {
    std::string e = load_error(b, TokenizerInfo::bytes_with_eos());
    INFO(e);
    CHECK(contains(e, "compiled grammar blob: malformed"));
    CHECK(contains(e, why));
  };
  refused(forge(blob, 92, 1'000'000), "production symbol");     // a nonterminal past the table
  refused(forge(blob, 92, static_cast<uint32_t>(-2'000'000)), "production symbol");  // a lexeme past it
  refused(forge(blob, 80, 77'777), "production left side");
  // The last field is the entry number of the last (lexeme, state) slot.
  refused(forge(blob, blob.size() - engine::kBlobHeaderBytes - 4, 0x00FFFFFF), "index entry number");

  CompiledGrammarPtr re = c.compile_regex("[a-c]{2,5}(x|yz)?");
  const std::string rblob = re->serialize();
  // The regex payload ends with the first-mask id, after the per-state mask ids.
  refused(forge(rblob, rblob.size() - engine::kBlobHeaderBytes - 4, 0x00FFFFFF), "first mask id");
  refused(forge(rblob, rblob.size() - engine::kBlobHeaderBytes - 8, 0x00FFFFFF), "mask id");

  // Every 4-byte word of both payloads forged to out-of-range values: each blob is refused with
  // the blob error, or loads into a grammar whose matchers run (masks, walks, rollbacks) — the
  // loader checked every index it kept. (Under make test-asan an out-of-bounds read would fail.)
  for (const std::string* b : {&blob, &rblob}) {
    int loaded = 0, rejected = 0;
    for (size_t at = 0; at + 4 <= b->size() - engine::kBlobHeaderBytes; at += 4) {
      for (uint32_t v : {0x7FFFFFF0u, 0xFFFFFFFFu, 300u}) {
        std::string f = forge(*b, at, v);
        std::string e = load_error(f, TokenizerInfo::bytes_with_eos());
        if (!e.empty()) {
          CHECK(contains(e, "compiled grammar blob"));
          ++rejected;
          continue;
        }
        ++loaded;
        try {
          CompiledGrammarPtr h = CompiledGrammar::deserialize(f, TokenizerInfo::bytes_with_eos());
          Matcher m(h);
          std::vector<int32_t> walk = random_walk(h, 12, static_cast<uint32_t>(at));
          for (int32_t id : walk) m.accept_token(id);
          m.rollback(static_cast<int>(std::min<size_t>(walk.size(), 3)));
          mask(m);
        } catch (const Error&) {
          // a clear error at run time (e.g. an Earley limit) is fine; a crash is not
        }
      }
    }
    INFO(loaded << " forged blobs loaded, " << rejected << " refused");
    CHECK(rejected > 0);
  }
}

TEST_CASE("the tokenizer fingerprint is the SHA-256 of the documented canonical text", "[blob]") {
  // docs/serving.md, "The tokenizer fingerprint": rebuilt here from the public accessors.
  auto canonical = [](const TokenizerInfo& t) {
    std::string s = "tollgate-vocabulary-v1;" + std::to_string(t.vocab_size()) + ";" +
                    std::to_string(static_cast<int>(t.type())) + ";" + std::to_string(static_cast<int>(t.leading_space())) +
                    ";" + (t.prepends_space() ? "1" : "0") + ";";
    for (int32_t e : t.eos_ids()) s += std::to_string(e) + ",";
    s += ";";
    for (int32_t id = 0; id < t.vocab_size(); ++id)
      s += std::string(t.is_special(id) ? "S" : "N") + std::to_string(t.token_bytes(id).size()) + ":" + t.token_bytes(id);
    return s;
  };
  const auto bytes = TokenizerInfo::bytes_with_eos();
  CHECK(bytes->fingerprint() == engine::hex(engine::sha256(canonical(*bytes))));
  CHECK(bytes->fingerprint().size() == 64);
  TOLLGATE_DATA_OR_SKIP(tok_path, "tokenizers/llama3");
  const auto& a = llama3();
  CHECK(a->fingerprint() == engine::hex(engine::sha256(canonical(*a))));
  CHECK(a->fingerprint() != bytes->fingerprint());
  // Loaded again from the file: the same vocabulary, the same fingerprint.
  CHECK(TokenizerInfo::from_file(tok_path.string())->fingerprint() == a->fingerprint());
}

TEST_CASE("the grammar cache: one grammar per key, one compilation for concurrent callers, bounded LRU", "[gcache]") {
  TOLLGATE_DATA_OR_SKIP(tok_path, "tokenizers/llama3");
  TOLLGATE_DATA_OR_SKIP(dir, "corpora/gbnf");
  const std::string c_gbnf = tollgate::testing::read_file(dir / "c.gbnf");
  Compiler c(llama3());
  // Six threads ask for the same grammar at once: one compilation, one grammar.
  std::vector<CompiledGrammarPtr> got(6);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i) threads.emplace_back([&, i] { got[i] = c.compile_grammar(c_gbnf, "gbnf"); });
  for (auto& t : threads) t.join();
  for (auto& g : got) CHECK(g == got[0]);
  GrammarCacheStats s = c.cache_stats();
  CHECK(s.compiles == 1);
  CHECK(s.hits + s.misses == 6);
  CHECK(s.entries == 1);
  // A copy of the Compiler shares the cache; another kind or options is another key.
  Compiler copy = c;
  CHECK(copy.compile_grammar(c_gbnf, "gbnf") == got[0]);
  CHECK(c.compile_grammar(c_gbnf, "ebnf") != got[0]);
  CompileOptions dot;
  dot.dot_all = true;
  CHECK(Compiler(llama3(), dot).cache_key({GrammarKind::kRegex, "a.b"}) != c.cache_key({GrammarKind::kRegex, "a.b"}));
  CHECK(c.cache_key({GrammarKind::kRegex, "a.b"}) != c.cache_key({GrammarKind::kGrammar, "a.b"}));
  CHECK(c.cache_key({GrammarKind::kRegex, "a.b"}).rfind("tollgate:cg:v" + std::to_string(engine::kBlobVersion) + ":" + llama3()->fingerprint() + ":", 0) == 0);

  // A budget of about three regex grammars: the least recently used go.
  size_t one = c.compile_regex("[a-z]{1,5}x0")->memory_bytes();
  CompileOptions small;
  small.grammar_cache_bytes = one * 3 + 512;
  Compiler lru(llama3(), small);
  CompiledGrammarPtr first = lru.compile_regex("[a-z]{1,5}x0");
  for (int i = 1; i < 8; ++i) {
    lru.compile_regex("[a-z]{1,5}x" + std::to_string(i));
    CHECK(lru.compile_regex("[a-z]{1,5}x0") == first);  // kept: used again each time
  }
  s = lru.cache_stats();
  CHECK(s.bytes <= small.grammar_cache_bytes);
  CHECK(s.evictions >= 4);
  CHECK(s.entries <= 3);
  CHECK(lru.compile_regex("[a-z]{1,5}x1") != nullptr);
  CHECK(lru.cache_stats().compiles == s.compiles + 1);  // x1 was evicted: compiled again

  CompileOptions off;
  off.grammar_cache_bytes = 0;
  Compiler none(llama3(), off);
  CHECK(none.compile_regex("abc") != none.compile_regex("abc"));
  CHECK(none.cache_stats().compiles == 2);
}

TEST_CASE("a compile asked for on a thread with a small stack runs on a large one", "[gcache]") {
  // A schema nested 190 levels deep (the front-end's bound is 200) recurses deeper than a 64 KiB
  // stack holds (compiled on the asking thread's own stack, this test dies of SIGSEGV): the compile
  // runs on the compile stack (or a pool thread). Asked without a cancel token (runs on this thread's compile stack) and with
  // one (a pool thread), twice each (the stack is kept), and a schema error comes back as an Error.
  std::string nested = R"({"type": "integer"})";
  for (int i = 0; i < 190; ++i) nested = R"({"type": "object", "properties": {"a": )" + nested + "}}";
  struct Job {
    std::string schema;
    std::vector<std::string> results;
  } job{nested, {}};
  auto body = [](void* p) -> void* {
    auto& j = *static_cast<Job*>(p);
    for (int round = 0; round < 2; ++round) {
      for (bool with_token : {false, true}) {
        try {
          Compiler c(TokenizerInfo::bytes_with_eos());
          CompiledGrammarPtr g = with_token ? c.compile({GrammarKind::kJsonSchema, j.schema}, CancelToken())
                                            : c.compile_json_schema(j.schema);
          j.results.push_back(g ? "ok" : "null");
        } catch (const Error& e) {
          j.results.push_back(std::string("error: ") + e.what());
        }
      }
      try {
        Compiler(TokenizerInfo::bytes_with_eos()).compile_json_schema(R"({"type": "string", "minLength": -1})");
        j.results.push_back("no error");
      } catch (const Error& e) {
        j.results.push_back(e.kind() == ErrorKind::kSchema ? "schema error" : std::string("other: ") + e.what());
      }
    }
    return nullptr;
  };
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t t;
  REQUIRE(pthread_create(&t, &attr, body, &job) == 0);
  pthread_attr_destroy(&attr);
  pthread_join(t, nullptr);
  CHECK(job.results == std::vector<std::string>{"ok", "ok", "schema error", "ok", "ok", "schema error"});
}

TEST_CASE("the grammar cache's bound counts what its grammars grew to in use, not their size at insertion", "[gcache]") {
  TOLLGATE_DATA_OR_SKIP(tok_path, "tokenizers/llama3");
  TOLLGATE_DATA_OR_SKIP(dir, "corpora/maskbench-dev");
  // A JSON Schema grammar grows as its matchers run (lazy automata, index entries, boundary and
  // mask caches): a long-running process that compiles schema after schema and uses each once
  // must still hold no more than the bound in grammars that only the cache keeps alive.
  CompileOptions o;
  o.grammar_cache_bytes = size_t{4} << 20;
  Compiler c(llama3(), o);
  JsonSchemaOptions so;
  so.lenient = true;
  std::vector<std::weak_ptr<const CompiledGrammar>> compiled;
  size_t grown = 0, used = 0;
  for (const Instance& in : maskbench(dir, 11, 60)) {
    INFO(in.name);
    CompiledGrammarPtr g;
    try {
      g = c.compile_json_schema(in.schema, so, in.name);
    } catch (const Error&) {
      continue;
    }
    // Only the cache holds the grammars compiled before this one: what they hold now is within the
    // bound, once the compile thread has let go of those it evicted (it frees them after handing
    // over the new grammar).
    auto held = [&] {
      size_t b = 0;
      for (const auto& w : compiled)
        if (auto sp = w.lock()) b += sp->memory_bytes();
      return b;
    };
    for (int i = 0; i < 2000 && held() > o.grammar_cache_bytes; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    CHECK(held() <= o.grammar_cache_bytes);
    CHECK(c.cache_stats().bytes <= o.grammar_cache_bytes);
    const size_t before = g->memory_bytes();
    for (const auto& doc : in.docs) {
      Matcher m(g);
      for (int32_t id : doc) {
        mask(m);
        if (!m.accept_token(id)) break;
      }
    }
    grown += g->memory_bytes() > before + (size_t{64} << 10);
    compiled.push_back(g);
    ++used;
  }
  CHECK(used >= 50);
  CHECK(grown >= 10);  // the case this guards: grammars that grew well past their size at insertion
  CHECK(c.cache_stats().evictions > 0);
}

TEST_CASE("compile_async returns a future and a cancelled compilation stops with kCancelled", "[gcache]") {
  TOLLGATE_DATA_OR_SKIP(tok_path, "tokenizers/llama3");
  Compiler c(llama3());
  GrammarRequest r{GrammarKind::kRegex, R"(\{"id": [0-9]{1,6}, "tag": "[a-z]{2,12}"\})"};
  std::shared_future<CompiledGrammarPtr> f = c.compile_async(r);
  CompiledGrammarPtr g = f.get();
  REQUIRE(g != nullptr);
  Matcher m(g);
  CHECK(m.accept_bytes(R"({"id": 42, "tag": "abc"})"));
  CHECK(m.is_accepting());
  CHECK(c.compile_async(r).get() == g);  // a hit: the same grammar

  // A regex whose DFA is large (a counted repeat over a union of classes): its subset
  // construction polls the token. Cancelled at once, it ends with kCancelled and the flight goes.
  GrammarRequest slow{GrammarKind::kRegex, "(a|b|c|d)*a(a|b|c|d){11}"};
  CancelToken token;
  auto f2 = c.compile_async(slow, token);
  token.cancel();
  bool cancelled = false;
  try {
    f2.get();
  } catch (const Error& e) {
    cancelled = e.kind() == ErrorKind::kCancelled;
  }
  CHECK(cancelled);
  CHECK(c.cache_stats().cancelled >= 1);
  // A cancelled token given to a hit still gets the grammar; a new request compiles afresh.
  CancelToken done;
  done.cancel();
  CHECK(c.compile(r, done) == g);
  CompileOptions o;
  o.max_dfa_states = 100;
  Compiler limited(llama3(), o);
  // Errors reach every caller and are not cached.
  CHECK_THROWS_AS(limited.compile_async(slow).get(), Error);
  CHECK_THROWS_AS(limited.compile(slow), Error);
  CHECK(limited.cache_stats().entries == 0);
}

// ---- Redis: a server of our own on a loopback port, worker processes of this binary ----

namespace {

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& extra_env) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_store(extra_env);
  for (char** e = environ; *e; ++e) env_store.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), envp.data()) != 0) return -1;
  return pid;
}

std::string find_redis_server() {
  for (const char* p : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"})
    if (std::filesystem::exists(p)) return p;
  return "";
}

// A redis-server on 127.0.0.1:<free port> with its files in a temporary directory; stopped
// (SIGTERM, waited for) and the directory removed at the end of the scope.
struct RedisServer {
  pid_t pid = -1;
  int port = 0;
  std::filesystem::path dir;
  explicit RedisServer(const std::string& binary) {
    dir = std::filesystem::temp_directory_path() / ("tollgate-redis-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    port = free_port();
    pid = spawn({binary, "--port", std::to_string(port), "--bind", "127.0.0.1", "--dir", dir.string(), "--save", "",
                 "--appendonly", "no", "--daemonize", "no", "--logfile", (dir / "redis.log").string()},
                {});
    engine::RedisStore probe(url(), 200);
    for (int i = 0; i < 250; ++i) {  // up to 5 s
      try {
        probe.incr("tollgate:test:probe");
        return;
      } catch (const engine::RedisError&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    stop();
  }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port); }
  bool running() const { return pid > 0; }
  void stop() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int st = 0;
      ::waitpid(pid, &st, 0);
      pid = -1;
    }
  }
  ~RedisServer() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// The shared set of grammars the workers compile: the GBNF corpus and a few MaskBench schemas.
std::vector<GrammarRequest> fleet_requests(const std::filesystem::path& data) {
  std::vector<GrammarRequest> out;
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(data / "corpora/gbnf"))
    if (e.path().extension() == ".gbnf") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (auto& f : files) out.push_back({GrammarKind::kGrammar, tollgate::testing::read_file(f), "gbnf"});
  for (const Instance& in : maskbench(data / "corpora/maskbench-dev", 397, 5)) {
    GrammarRequest r{GrammarKind::kJsonSchema, in.schema};
    r.schema.lenient = true;
    out.push_back(r);
  }
  return out;
}

}  // namespace

// Worker mode: run by the test below through this binary, never on its own.
TEST_CASE("redis worker: compiles the shared set in its own order and reports", "[.redis-worker]") {
  const char* url = std::getenv("TOLLGATE_REDIS_WORKER_URL");
  const char* out = std::getenv("TOLLGATE_REDIS_WORKER_OUT");
  const char* seed = std::getenv("TOLLGATE_REDIS_WORKER_SEED");
  REQUIRE(url);
  REQUIRE(out);
  auto data = tollgate::testing::data_dir();
  REQUIRE(data);
  CompileOptions o;
  o.redis_url = url;
  o.redis_poll_ms = 5;
  Compiler c(llama3(), o);
  std::vector<GrammarRequest> reqs = fleet_requests(*data);
  std::vector<size_t> order(reqs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(std::atoi(seed ? seed : "1")));
  nlohmann::json report = {{"mismatches", 0}};
  for (size_t i : order) {
    CompiledGrammarPtr g = c.compile(reqs[i]);
    // Loaded or compiled, the grammar walks like a fresh local compile.
    CompileOptions local;
    Compiler plain(llama3(), local);
    CompiledGrammarPtr ref = plain.compile(reqs[i]);
    report["mismatches"] = report["mismatches"].get<int>() + replay_mismatches(ref, g, random_walk(ref, 15, 3));
  }
  GrammarCacheStats s = c.cache_stats();
  report["compiles"] = s.compiles;
  report["redis_hits"] = s.redis_hits;
  report["redis_waits"] = s.redis_waits;
  report["redis_errors"] = s.redis_errors;
  std::ofstream(out) << report.dump();
}

TEST_CASE("with Redis, a fleet of worker processes compiles each grammar exactly once", "[redis]") {
  TOLLGATE_DATA_OR_SKIP(tok_path, "tokenizers/llama3");
  TOLLGATE_DATA_OR_SKIP(dir, "corpora/gbnf");
  if (!engine::RedisStore::supported()) {
    WARN("skipped: built without hiredis");
    return;
  }
  std::string binary = find_redis_server();
  if (binary.empty()) {
    WARN("skipped: redis-server not installed (scripts/install-deps.sh)");
    return;
  }
  RedisServer server(binary);
  REQUIRE(server.running());
  const size_t n = fleet_requests(*tollgate::testing::data_dir()).size();
  const int workers = 3;
  std::vector<pid_t> pids;
  std::vector<std::filesystem::path> outs;
  for (int w = 0; w < workers; ++w) {
    outs.push_back(server.dir / ("worker" + std::to_string(w) + ".json"));
    pids.push_back(spawn({"/proc/self/exe", "[.redis-worker]"},
                         {"TOLLGATE_REDIS_WORKER_URL=" + server.url(), "TOLLGATE_REDIS_WORKER_OUT=" + outs.back().string(),
                          "TOLLGATE_REDIS_WORKER_SEED=" + std::to_string(w + 1)}));
    REQUIRE(pids.back() > 0);
  }
  for (pid_t p : pids) {
    int st = 0;
    ::waitpid(p, &st, 0);
    CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 0));
  }
  size_t compiles = 0, hits = 0, errors = 0;
  int mismatches = 0;
  for (auto& o : outs) {
    REQUIRE(std::filesystem::exists(o));
    auto j = nlohmann::json::parse(tollgate::testing::read_file(o));
    compiles += j["compiles"].get<size_t>();
    hits += j["redis_hits"].get<size_t>();
    errors += j["redis_errors"].get<size_t>();
    mismatches += j["mismatches"].get<int>();
  }
  CHECK(errors == 0);
  CHECK(compiles == n);                         // each grammar compiled once in the fleet ...
  CHECK(hits == n * (workers - 1));             // ... and loaded by every other worker
  CHECK(mismatches == 0);
  engine::RedisStore redis(server.url(), 500);
  CHECK(redis.get("tollgate:cg:compiles") == std::optional<std::string>(std::to_string(n)));

  // Redis gone: the local cache works alone (the failure is logged).
  server.stop();
  CompileOptions o;
  o.redis_url = server.url();
  Compiler c(llama3(), o);
  CompiledGrammarPtr g = c.compile_regex("[0-9]+");
  CHECK(g != nullptr);
  CHECK(c.compile_regex("[0-9]+") == g);
  GrammarCacheStats s = c.cache_stats();
  CHECK(s.redis_errors == 1);
  CHECK(s.compiles == 1);
}

TEST_CASE("redis_url is checked", "[redis]") {
  TOLLGATE_DATA_OR_SKIP(tok_path, "tokenizers/llama3");
  CompileOptions o;
  o.redis_url = "redis://127.0.0.1:notaport";
  if (engine::RedisStore::supported()) {
    CHECK_THROWS_AS(Compiler(llama3(), o), Error);
  } else {
    try {
      Compiler c(llama3(), o);
      FAIL("a redis_url without hiredis is refused");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kUnsupported);
    }
  }
}
