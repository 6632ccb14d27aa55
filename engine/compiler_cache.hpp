// Compiler::Cache — compiled built-in grammars and the token index entries (by canonical lexeme
// state, CompileOptions::index_cache_bytes) shared by a Compiler and its copies.
#pragma once

#include <memory>
#include <mutex>

#include "engine/cfg_backend.hpp"

#include "tollgate/compiler.hpp"

namespace tollgate {

struct Compiler::Cache {
  std::mutex mutex;
  CompiledGrammarPtr builtin_json;
  std::shared_ptr<engine::IndexCache> index;  // null when index_cache_bytes is 0
};

}  // namespace tollgate
