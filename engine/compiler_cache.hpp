// Compiler::Cache — compiled built-in grammars shared by a Compiler and its copies.
#pragma once

#include <mutex>

#include "tollgate/compiler.hpp"

namespace tollgate {

struct Compiler::Cache {
  std::mutex mutex;
  CompiledGrammarPtr builtin_json;
};

}  // namespace tollgate
