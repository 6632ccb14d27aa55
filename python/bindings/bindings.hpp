// Pieces of the pybind11 module tollgate._core, one function per source file.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tollgate/compiler.hpp"
#include "tollgate/matcher.hpp"
#include "tollgate/tool_calls.hpp"

namespace tollgate::python {

// tollgate.Matcher: the C++ Matcher, the grammar it holds (for .compiled_grammar) and a lock, so that two
// Python threads using one matcher at once (the GIL is released while it computes) wait for each other
// instead of racing.
struct PyMatcher {
  PyMatcher(std::shared_ptr<const CompiledGrammar> g, int max_rollback) : grammar(g), matcher(std::move(g), max_rollback) {}
  PyMatcher(const PyMatcher& other) : grammar(other.grammar), matcher(other.matcher) {}
  std::shared_ptr<const CompiledGrammar> grammar;
  Matcher matcher;
  mutable std::mutex mutex;
};

// An Error raised while compiling a grammar, schema or regex: becomes tollgate.GrammarError (module.cpp).
struct GrammarFailure : Error {
  explicit GrammarFailure(const Error& e) : Error(e) {}
};

// Runs a compile (or waits for one) with the GIL released; its errors become GrammarFailure,
// except internal ones and cancellations (TollgateError).
template <class F>
std::shared_ptr<CompiledGrammar> compiling(F&& f) {
  std::shared_ptr<const CompiledGrammar> g;
  {
    pybind11::gil_scoped_release release;
    try {
      g = f();
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kInternal || e.kind() == ErrorKind::kCancelled) throw;
      throw GrammarFailure(e);
    }
  }
  return std::const_pointer_cast<CompiledGrammar>(g);
}

// ValueError unless 0 <= id < t.vocab_size() (module.cpp).
void check_token_id(const TokenizerInfo& t, int64_t id);

// TokenizerInfo, CompileWarning, CompiledGrammar, Compiler, errors (module.cpp).
// Matcher, apply_token_bitmask_inplace (masks.cpp).
void bind_masks(pybind11::module_& m);
// RetNet, RetNetState, Encoder, generate (retnet.cpp).
void bind_retnet(pybind11::module_& m);
// BatchMatcher; Matcher.validate_tokens and draft masks (batch.cpp; after Matcher is bound).
void bind_batch(pybind11::module_& m);
// Compiler.compile_tool_calls (tool_calls.cpp; after Compiler is bound).
void bind_tool_calls(pybind11::module_& m);
// compile_tool_calls' tags (tuples or dicts), triggers and flags as a ToolCallSpec (schema options
// left default); TypeError for a malformed tag (tool_calls.cpp). Also Compiler.compile_async's
// kind 'tool_calls' (serving.cpp).
ToolCallSpec tool_call_spec(const pybind11::iterable& tags, const std::optional<std::vector<std::string>>& triggers,
                            bool at_most_one, bool required);

// A schema argument (JSON text, or a dict/bool through json.dumps) and the JSON Schema keyword
// arguments of compile_json_schema, checked (module.cpp).
std::string schema_text(const pybind11::object& schema);
JsonSchemaOptions schema_options(const std::string& whitespace, int max_whitespace, int indent,
                                 const std::optional<std::string>& item_separator,
                                 const std::optional<std::string>& key_separator, const std::string& property_order,
                                 bool lenient);

// CompiledGrammar.serialize/deserialize, Compiler.compile_async and the cache options (serving.cpp).
void bind_serving(pybind11::module_& m);

}  // namespace tollgate::python
