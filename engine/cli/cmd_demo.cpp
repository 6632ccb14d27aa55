// tollgate demo — the README's `make demo`:
//  1. compile the ISO-8601 date-time regex against the Llama-3 vocabulary, walk an example string
//     token by token, print the allowed-token count at each step and the timings;
//  2. generate a JSON object with the built-in RetNet, constrained by the built-in 6-field
//     JSON-object regex, and show that the output matches it. The example is tokenized by the encoder
// (byte-level BPE) or by longest match.
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

// The built-in example of part 2: a JSON object with a string, an integer, an enum, a boolean,
// an array of strings and a number (the json-object6 regex of corpora/bench-regexes.json).
constexpr const char* kObjectRegex =
    R"re(\{[ ]?"name"[ ]?:[ ]?"([^"\\\x00-\x1f]|\\["\\/bfnrt])*"[ ]?,[ ]?"age"[ ]?:[ ]?(0|[1-9][0-9]*)[ ]?,)re"
    R"re([ ]?"role"[ ]?:[ ]?("admin"|"user"|"guest")[ ]?,[ ]?"active"[ ]?:[ ]?(true|false)[ ]?,[ ]?"tags"[ ]?:)re"
    R"re([ ]?\[[ ]?("([^"\\\x00-\x1f]|\\["\\/bfnrt])*"([ ]?,[ ]?"([^"\\\x00-\x1f]|\\["\\/bfnrt])*")*)?[ ]?\])re"
    R"re([ ]?,[ ]?"score"[ ]?:[ ]?-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?[ ]?\})re";

void generate_part(uint64_t seed) {
  const std::string dir = default_model_dir();
  auto model = RetNet::load(dir + "/model.safetensors");
  TokenizerOptions topt;
  topt.vocab_size = model->config().vocab_size;
  auto tok = TokenizerInfo::from_file(dir + "/tokenizer.json", topt);
  Encoder encoder(tok);
  auto grammar = Compiler(tok).compile_regex(kObjectRegex);
  std::printf("\n== constrained generation with the built-in RetNet (%zu parameters) ==\n",
              model->parameter_count());
  std::printf("grammar:    the 6-field JSON-object regex (%zu DFA states)\n", grammar->stats().dfa_states);
  GenerateOptions opt;
  opt.max_tokens = 400;
  opt.temperature = 0.8f;
  // A barely trained model may wander inside a string; try a few seeds until one finishes.
  for (uint64_t s = seed; s < seed + 8; ++s) {
    opt.seed = s;
    GenerateResult r = generate(*model, encoder, grammar, "", opt);
    Matcher check(grammar, 0);
    bool matches = check.accept_bytes(r.text) && check.is_accepting();
    std::printf("seed %-3llu    %s\n", static_cast<unsigned long long>(s), r.text.c_str());
    std::printf("            %d tokens (%d forced by jump-forward), %.1f ms, stop: %s, matches the regex: %s\n",
                r.stats.tokens, r.stats.forced_tokens, r.stats.seconds * 1e3, r.stop_reason.c_str(),
                matches ? "yes" : "no");
    if (r.stop_reason == "eos") {
      if (!matches) throw Error(ErrorKind::kInvalidArgument, "generated output does not match the grammar");
      return;
    }
  }
}

double ms(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto tokenizer = std::make_shared<std::string>("llama3");
  auto regex = std::make_shared<std::string>(
      R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))");
  auto text = std::make_shared<std::string>("2026-11-25T20:52:49.125+01:00");
  auto seed = std::make_shared<uint64_t>(1);
  auto skip_generate = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "demo", "walk a date-time regex over Llama-3 tokens, then generate a constrained JSON object");
  cmd->add_option("--tokenizer,-t", *tokenizer, "tokenizer (path or name)")->capture_default_str();
  cmd->add_option("--regex,-r", *regex, "regex")->capture_default_str();
  cmd->add_option("--text", *text, "example string to walk token by token")->capture_default_str();
  cmd->add_option("--seed", *seed, "first sampling seed of the generation part")->capture_default_str();
  cmd->add_flag("--no-generate", *skip_generate, "skip the generation part");
  cmd->callback([tokenizer, regex, text, seed, skip_generate] {
    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    TokenizerInfoPtr tok;
    try {
      tok = load_tokenizer(*tokenizer);
    } catch (const Error& e) {
      // Part 2 needs only the built-in model: run it, then report the missing data.
      print_error(e);
      std::fprintf(stderr, "skipping the regex walk; running the generation part only\n");
      if (!*skip_generate) generate_part(*seed);
      throw CLI::RuntimeError(1);
    }
    auto t1 = clock::now();
    Compiler compiler(tok);
    CompiledGrammarPtr g = compiler.compile_regex(*regex);
    auto t2 = clock::now();
    const CompileStats& s = g->stats();
    std::printf("regex:      %s\n", regex->c_str());
    std::printf("tokenizer:  %s, %d ids, loaded in %.1f ms\n", tokenizer->c_str(), tok->vocab_size(),
                ms(t0, t1));
    std::printf("compiled:   %.2f ms (%zu DFA states, %zu distinct masks, index %.1f KiB)\n", ms(t1, t2),
                s.dfa_states, s.distinct_masks, s.index_bytes / 1024.0);
    std::printf("example:    %s\n\n", text->c_str());
    std::printf("%4s  %-12s %10s %10s %10s\n", "step", "token", "allowed", "fill_ns", "accept_ns");
    Matcher m(g);
    std::vector<int32_t> mask(bitmask_words(tok->vocab_size()));
    // The canonical tokenization (byte-level BPE encoder); longest match for other vocabularies,
    // with the space a Prepend-▁ normalizer would add.
    std::vector<int32_t> ids = tok->type() == VocabType::kByteLevel
                                   ? Encoder(tok).encode(*text)
                                   : split_longest(*tok, (tok->prepends_space() ? " " : "") + *text);
    ids.push_back(tok->eos_ids().front());
    for (size_t i = 0; i < ids.size(); ++i) {
      auto a = clock::now();
      m.fill_next_token_bitmask(mask.data());
      auto b = clock::now();
      size_t allowed = 0;
      for (int32_t w : mask) allowed += __builtin_popcount(static_cast<uint32_t>(w));
      bool ok = m.accept_token(ids[i]);
      auto c = clock::now();
      std::string shown = tok->is_eos(ids[i]) ? "<eos>" : "\"" + tok->token_bytes(ids[i]) + "\"";
      std::printf("%4zu  %-12s %10zu %10.0f %10.0f%s\n", i, shown.c_str(), allowed, ms(a, b) * 1e6,
                  ms(b, c) * 1e6, ok ? "" : "  REJECTED");
      if (!ok) throw Error(ErrorKind::kInvalidArgument, "the example does not match the regex");
    }
    std::printf("\nmatched in full: %s\n", m.is_terminated() ? "yes" : "no");
    if (!*skip_generate) generate_part(*seed);
  });
}

}  // namespace tollgate::cli
