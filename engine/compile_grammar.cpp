// Compiler::compile_grammar, compile_json_schema, compile_tool_calls and builtin_json: grammar text (GBNF, Lark, EBNF), a JSON Schema or tool calls →
// checked Grammar IR → context-free back-end. The built-in JSON grammar is compiled once per
// Compiler (and its copies) and cached in Compiler::Cache.
#include <chrono>

#include "engine/cfg_backend.hpp"
#include "engine/compile_phases.hpp"
#include "engine/compiler_cache.hpp"
#include "engine/grammar_check.hpp"
#include "engine/json_scan.hpp"
#include "fsm/budget.hpp"
#include "grammar/grammar_ir.hpp"
#include "grammar/json_schema.hpp"
#include "grammar/tool_calls.hpp"
#include "tollgate/compiler.hpp"

namespace tollgate {

// clang-14 over libstdc++ 12 (the `make fuzz` build) cannot build a CompileOptions (it holds a
// std::string) in a constant expression; gcc checks these for every other build.
#if !defined(__clang__) || __clang_major__ > 14
static_assert(CompileOptions{}.max_grammar_nesting == grammar::kDefaultMaxNesting);
static_assert(CompileOptions{}.max_earley_items == fsm::EarleyGraph::kDefaultMaxItems);
#endif

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

namespace {
// A checked Grammar IR → the context-free back-end, with its statistics and warnings.
template <class IndexCache>
CompiledGrammarPtr build_from_ir(const grammar::Grammar& g, const TokenizerInfoPtr& tokenizer, const CompileOptions& o,
                                 const IndexCache& index_cache,
                                 const std::shared_ptr<fsm::LexemeDfaCache>& lexeme_cache, std::chrono::steady_clock::time_point t0,
                                 double parse_ms, engine::PhaseRecorder& phases,
                                 uint32_t context_depth = engine::CfgBuildOptions{}.context_depth) {
  fsm::check_budget_now();
  auto t1 = std::chrono::steady_clock::now();
  engine::CfgBuildOptions opt;
  opt.phases = &phases;
  opt.dfa.max_states = o.max_dfa_states;
  opt.dfa.max_memory_bytes = o.max_dfa_memory;
  opt.threads = o.threads;
  opt.eager_index = o.eager_index;
  opt.eager_automata_states = o.eager_index ? SIZE_MAX : o.eager_automata_states;
  opt.eager_automata_ms = o.eager_automata_ms;
  opt.index_cache = index_cache;
  opt.lexeme_cache = lexeme_cache;
  opt.max_earley_items = o.max_earley_items;
  opt.context_depth = context_depth;
  auto impl = engine::build_cfg_grammar(g, tokenizer, opt);
  impl->mask_cache_budget = o.mask_cache_bytes;
  impl->cache_budget = o.boundary_cache_bytes;
  impl->walk_budget = o.walk_cache_bytes;
  impl->generation_budget = o.generation_bytes;
  impl->stats.parse_ms = parse_ms;
  impl->stats.index_ms = ms_since(t1);
  impl->stats.total_ms = ms_since(t0);
  impl->stats.dfa_states = impl->rt->automata().num_built_states();
  impl->stats.lexemes = impl->rt->num_lexemes();
  impl->stats.lexemes_built = impl->rt->automata().num_built();
  impl->stats.lexemes_shared = impl->rt->automata().num_shared();
  impl->stats.distinct_masks = impl->num_distinct_masks();
  impl->stats.index_bytes = impl->memory_bytes();
  for (const auto& w : g.warnings) impl->warnings.push_back({w.message, w.pos});
  impl->stats.phases = std::move(phases.phases());
  return std::make_shared<const CompiledGrammar>(std::move(impl));
}
}  // namespace

CompiledGrammarPtr Compiler::compile_grammar_now(std::string_view text, std::string_view format,
                                                 std::string_view source_name) const {
  auto t0 = std::chrono::steady_clock::now();
  const fsm::CompileBudget budget = compile_budget(options_);
  fsm::BudgetScope in_budget(&budget);
  grammar::GrammarOptions gopt;
  gopt.max_nesting = options_.max_grammar_nesting;
  gopt.json_schema = options_.json_schema;
  engine::PhaseRecorder phases(options_.progress);
  phases.begin("parse");  // text -> Grammar IR
  grammar::Grammar g;
  if (format == "gbnf") g = grammar::parse_gbnf(text, source_name, gopt);
  else if (format == "ebnf") g = grammar::parse_ebnf(text, source_name, gopt);
  else if (format == "lark") g = grammar::parse_lark(text, source_name, gopt);
  else g = grammar::parse_grammar(text, format, source_name, gopt);  // (its error for an unknown format)
  phases.end(g.rule_count(), "rules");
  phases.begin("check");  // references resolved, reachability, productivity
  grammar::check_grammar_ir(g);
  phases.end(g.rule_count(), "rules");
  return build_from_ir(g, tokenizer_, options_, cache_->index, cache_->lexemes, t0, ms_since(t0), phases);
}

namespace engine {
// A schema position with line:column in the text as well as the JSON pointer.
SourcePos schema_position(std::string_view text, const SourcePos& pos) {
  if (pos.pointer.empty() || pos.line > 0) return pos;
  size_t off = engine::locate_json_pointer(text, pos.pointer);
  if (off == std::string::npos) return pos;
  // the span of the value there (the keyword's value, as far as the pointer resolves)
  engine::JsonScanner sc(text);
  sc.seek(off);
  sc.skip_value_unchecked();  // the text was read before: not checked again
  const size_t end = sc.pos();
  SourcePos p = span_in(text, off, end, pos.file);
  p.pointer = pos.pointer;
  return p;
}
}  // namespace engine

CompiledGrammarPtr Compiler::compile_json_schema_now(std::string_view schema_json, const JsonSchemaOptions& options,
                                                     std::string_view source_name) const {
  auto t0 = std::chrono::steady_clock::now();
  const fsm::CompileBudget budget = compile_budget(options_);
  fsm::BudgetScope in_budget(&budget);
  grammar::Grammar g;
  engine::PhaseRecorder phases(options_.progress);
  phases.begin("schema to grammar");  // JSON -> checked Grammar IR
  try {
    g = grammar::json_schema_to_grammar(schema_json, options, source_name);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kSchema) throw;
    throw Error(e.kind(), e.message(), engine::schema_position(schema_json, e.pos()), e.code());
  }
  phases.end(g.rule_count(), "rules");
  for (auto& w : g.warnings) w.pos = engine::schema_position(schema_json, w.pos);
  return build_from_ir(g, tokenizer_, options_, cache_->index, cache_->lexemes, t0, ms_since(t0), phases,
                       engine::kJsonSchemaContextDepth);
}

CompiledGrammarPtr Compiler::compile_tool_calls_now(const ToolCallSpec& spec, std::string_view source_name) const {
  auto t0 = std::chrono::steady_clock::now();
  const fsm::CompileBudget budget = compile_budget(options_);
  fsm::BudgetScope in_budget(&budget);
  engine::PhaseRecorder phases(options_.progress);
  phases.begin("tool calls to grammar");  // the spec and its schemas -> Grammar IR
  grammar::Grammar g = grammar::tool_calls_to_grammar(spec, source_name);
  phases.end(g.rule_count(), "rules");
  return build_from_ir(g, tokenizer_, options_, cache_->index, cache_->lexemes, t0, ms_since(t0), phases);
}

CompiledGrammarPtr Compiler::builtin_json() const {
  std::lock_guard<std::mutex> lock(cache_->mutex);
  if (!cache_->builtin_json)
    cache_->builtin_json = compile_grammar(grammar::builtin_json_gbnf(), "gbnf", "<builtin json>");
  return cache_->builtin_json;
}


}  // namespace tollgate
