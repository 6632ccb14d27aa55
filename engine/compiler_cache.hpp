// Compiler::Cache — what a Compiler shares with its copies: compiled built-in grammars, the token
// index entries (by canonical lexeme state, CompileOptions::index_cache_bytes), the
// compiled-grammar cache (grammar_cache_bytes), the Redis connection (redis_url) and counters.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "engine/cfg_backend.hpp"
#include "engine/grammar_cache.hpp"
#include "engine/redis_store.hpp"

#include "tollgate/compiler.hpp"

namespace tollgate {

struct Compiler::Cache {
  std::mutex mutex;
  CompiledGrammarPtr builtin_json;
  std::shared_ptr<engine::IndexCache> index;  // null when index_cache_bytes is 0
  std::shared_ptr<engine::GrammarCache> grammars;
  std::unique_ptr<engine::RedisStore> redis;  // null without redis_url
  std::atomic<size_t> compiles{0}, redis_hits{0}, redis_published{0}, redis_waits{0}, redis_errors{0};
};

}  // namespace tollgate
