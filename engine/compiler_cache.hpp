// Compiler::Cache — compiled built-in grammars and the token index entries (by canonical lexeme
// state, CompileOptions::index_cache_bytes) shared by a Compiler and its copies; the compile budget
// of one call (CompileOptions::max_compile_ms / cancel).
#pragma once

#include <memory>
#include <mutex>

#include "engine/cfg_backend.hpp"
#include "fsm/budget.hpp"

#include "tollgate/compiler.hpp"

namespace tollgate {

struct Compiler::Cache {
  std::mutex mutex;
  CompiledGrammarPtr builtin_json;
  std::shared_ptr<engine::IndexCache> index;  // null when index_cache_bytes is 0
};

// The budget of one compile call, started now.
inline fsm::CompileBudget compile_budget(const CompileOptions& o) {
  fsm::CompileBudget b;
  b.ms = o.max_compile_ms > 0 ? o.max_compile_ms : 0;
  if (b.ms > 0) {
    b.deadline = std::chrono::steady_clock::now() +
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double, std::milli>(b.ms));
  }
  b.cancel = o.cancel;
  return b;
}

}  // namespace tollgate
