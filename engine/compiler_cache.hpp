// Compiler::Cache — what a Compiler shares with its copies: compiled built-in grammars, the token
// index entries (by canonical lexeme state, CompileOptions::index_cache_bytes), the lexeme
// automata (by regex, CompileOptions::lexeme_cache_bytes), the
// compiled-grammar cache (grammar_cache_bytes), the Redis connection (redis_url) and counters;
// and the budget of one compile call (CompileOptions::max_compile_ms / cancel, and the cache's
// abandoned flag when every caller waiting on the compilation has cancelled).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "engine/cfg_backend.hpp"
#include "fsm/budget.hpp"
#include "engine/grammar_cache.hpp"
#include "engine/redis_store.hpp"

#include "tollgate/compiler.hpp"

namespace tollgate {

struct Compiler::Cache {
  std::mutex mutex;
  CompiledGrammarPtr builtin_json;
  std::shared_ptr<engine::IndexCache> index;  // null when index_cache_bytes is 0
  std::shared_ptr<fsm::LexemeDfaCache> lexemes;  // null when lexeme_cache_bytes is 0
  std::shared_ptr<engine::GrammarCache> grammars;
  std::unique_ptr<engine::RedisStore> redis;  // null without redis_url
  std::atomic<size_t> compiles{0}, redis_hits{0}, redis_published{0}, redis_waits{0}, redis_errors{0};
};

// The budget of one compile call, started now. It keeps the abandoned flag of a budget the caller
// installed (the compiled-grammar cache's thread: every waiting CancelToken cancelled).
inline fsm::CompileBudget compile_budget(const CompileOptions& o) {
  fsm::CompileBudget b;
  b.ms = o.max_compile_ms > 0 ? o.max_compile_ms : 0;
  if (b.ms > 0) {
    b.deadline = std::chrono::steady_clock::now() +
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double, std::milli>(b.ms));
  }
  b.cancel = o.cancel;
  if (const fsm::CompileBudget* outer = fsm::current_budget()) b.abandoned = outer->abandoned;
  return b;
}

}  // namespace tollgate
