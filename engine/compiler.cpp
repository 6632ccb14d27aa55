// Compiler: grammar text → CompiledGrammar (regex path here; context-free grammars in
// compile_grammar.cpp). Times each stage into CompileStats.
#include "tollgate/compiler.hpp"

#include <chrono>
#include <string_view>
#include <vector>

#include "tollgate/matcher.hpp"

#include "engine/compile_phases.hpp"
#include "engine/compiler_cache.hpp"
#include "engine/grammar_cache.hpp"
#include "engine/regex_backend.hpp"
#include "fsm/budget.hpp"
#include "fsm/dfa.hpp"
#include "grammar/regex_ast.hpp"
#include "tollgate/error.hpp"

namespace tollgate {

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

CompiledGrammar::CompiledGrammar(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CompiledGrammar::~CompiledGrammar() = default;
const TokenizerInfo& CompiledGrammar::tokenizer() const { return *impl_->tokenizer; }
TokenizerInfoPtr CompiledGrammar::tokenizer_ptr() const { return impl_->tokenizer; }
const CompileStats& CompiledGrammar::stats() const { return impl_->stats; }
size_t CompiledGrammar::memory_bytes() const { return impl_->memory_bytes(); }
const std::vector<CompileWarning>& CompiledGrammar::warnings() const { return impl_->warnings; }

Compiler::Compiler(TokenizerInfoPtr tokenizer, CompileOptions options)
    : tokenizer_(std::move(tokenizer)), options_(options), cache_(std::make_shared<Cache>()) {
  if (!tokenizer_) throw Error(ErrorKind::kInvalidArgument, "Compiler needs a tokenizer");
  if (options_.index_cache_bytes > 0) cache_->index = std::make_shared<engine::IndexCache>(options_.index_cache_bytes);
  if (options_.lexeme_cache_bytes > 0)
    cache_->lexemes = std::make_shared<fsm::LexemeDfaCache>(options_.lexeme_cache_bytes);
  cache_->grammars = std::make_shared<engine::GrammarCache>(options_.grammar_cache_bytes);
  if (!options_.redis_url.empty())
    cache_->redis = std::make_unique<engine::RedisStore>(options_.redis_url, options_.redis_timeout_ms);
  if (options_.warm_up_json && (cache_->index || cache_->lexemes)) {
    Compiler quiet(*this);  // shares the caches; the caller's progress callback is not told of it
    quiet.options_.progress = nullptr;
    quiet.options_.eager_automata_states = SIZE_MAX;  // every lexeme into the cache, walked or not
    quiet.warm_up_json();
  }
}

// A document of every kind of JSON value, in the pieces a model's tokens would give, so that the
// masks inside a string, a key, a number and an array are filled once here (their token index
// entries go to the shared IndexCache) and not in the first real schema's first steps.
void Compiler::warm_up_json() const {
  static constexpr const char* kSchema =
      R"({"type":"object","properties":{"s":{"type":"string"},"n":{"type":"number"},)"
      R"("i":{"type":"integer"},"b":{"type":"boolean"},"a":{"type":"array","items":{}},)"
      R"("t":{"type":"string","format":"date-time"},"d":{"type":"string","format":"date"},)"
      R"("u":{"type":"string","format":"uri"},"e":{"type":"string","format":"email"},)"
      // Values no piece below reaches, whose lexeme automata only need to be in the shared cache:
      // the shapes of maskbench-dev whose builds a fresh process paid most often (session 50).
      R"("as":{"type":"array","items":{"type":"string"}},"ns":{"type":["null","string"]},)"
      R"("sn":{"anyOf":[{"type":"string"},{"type":"null"}]},"s1":{"type":"string","minLength":1},)"
      R"("sa":{"type":["string","array"],"items":{"type":"string"}},)"
      R"("a1":{"type":"array","items":{"type":"string"},"minItems":1},)"
      R"("na":{"type":["null","array"],"items":{"type":"string"}},)"
      R"("m":{"type":"object","additionalProperties":{"type":"string"}},)"
      R"("l":{"type":"string","maxLength":1024}}})";
  // Draft-04's integer (no fraction, not even ".0") is a lexeme of its own.
  static constexpr const char* kDraft4 =
      R"({"$schema":"http://json-schema.org/draft-04/schema#","type":"object",)"
      R"("properties":{"i":{"type":"integer"}}})";
  static constexpr std::string_view kPieces[] = {
      "{", "\"s\"", ": ", "\"ab", "c\"", ", \"n\": ", "1", ".5", "e3", ", \"i\": ", "-2",
      ", \"b\": ", "true", ", \"a\": ", "[", "1", ", ", "\"x\"", ", ", "{}", "]",
      ", \"t\": ", "\"20", "24", "-0", "1-", "02", "T", "03", ":", "04", ":", "05", "Z\"",
      ", \"d\": ", "\"20", "24", "-0", "1-", "02\"",
      ", \"u\": ", "\"https", "://", "example", ".com", "/a", "?b", "=", "1\"",
      ", \"e\": ", "\"a", "@", "example", ".com\"", "}"};
  try {
    compile_json_schema_now(kDraft4, options_.json_schema, "warm-up");
    Matcher m(compile_json_schema_now(kSchema, options_.json_schema, "warm-up"));
    std::vector<int32_t> mask(static_cast<size_t>(bitmask_words(tokenizer_->vocab_size())));
    for (std::string_view piece : kPieces) {
      m.fill_next_token_bitmask(mask.data());
      if (!m.accept_bytes(piece)) break;  // options that spell it otherwise (compact whitespace)
    }
  } catch (const Error&) {
    // budgets tighter than this schema needs: nothing is warm, and the first real compile says why
  }
}

Compiler::~Compiler() = default;

CompiledGrammarPtr Compiler::compile_regex_now(std::string_view pattern) const {
  auto t0 = std::chrono::steady_clock::now();
  const fsm::CompileBudget budget = compile_budget(options_);
  fsm::BudgetScope in_budget(&budget);
  engine::PhaseRecorder phases(options_.progress);
  grammar::RegexOptions ropt;
  ropt.dot_all = options_.dot_all;
  phases.begin("parse");
  grammar::RegexPtr ast = grammar::parse_regex(pattern, ropt);
  double parse_ms = phases.end(pattern.size(), "bytes");
  fsm::check_budget_now();
  fsm::DfaOptions dopt;
  dopt.max_states = options_.max_dfa_states;
  dopt.max_memory_bytes = options_.max_dfa_memory;
  phases.begin("automaton");  // NFA, subset construction, minimisation
  fsm::Dfa dfa = fsm::compile_dfa(*ast, dopt);
  fsm::check_budget_now();
  size_t states = dfa.num_states();
  double dfa_ms = phases.end(states, "states");
  phases.begin("token index");  // every DFA state's mask
  auto g = engine::build_regex_grammar(std::move(dfa), tokenizer_, options_.threads, &phases);
  g->stats.index_ms = phases.end(g->index.num_distinct_masks(), "distinct masks");
  g->stats.parse_ms = parse_ms;
  g->stats.dfa_ms = dfa_ms;
  g->stats.total_ms = ms_since(t0);
  g->stats.dfa_states = states;
  g->stats.lexemes = 1;
  g->stats.lexemes_built = 1;
  g->stats.distinct_masks = g->index.num_distinct_masks();
  g->stats.index_bytes = g->index.memory_bytes();
  g->stats.phases = std::move(phases.phases());
  return std::make_shared<const CompiledGrammar>(std::move(g));
}

}  // namespace tollgate
