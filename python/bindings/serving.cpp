// Serving from Python: CompiledGrammar.serialize() / CompiledGrammar.deserialize(blob,
// tokenizer_info), Compiler.compile_async -> GrammarFuture (result / done / cancel; every kind, tool calls too),
// Compiler.cache_stats (the Compiler's grammar_cache_bytes / redis_url keywords are in module.cpp).
// Takes: Python arguments. Gives: the C++ serving API (engine/grammar_blob.cpp,
// engine/grammar_cache.cpp), with the GIL released while it computes or waits.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>

#include "bindings.hpp"
#include "engine/redis_store.hpp"
#include "tollgate/tollgate.hpp"

namespace py = pybind11;

namespace tollgate::python {

namespace {

// A compilation running on another thread: compile_async's result.
struct GrammarFuture {
  std::shared_future<CompiledGrammarPtr> future;
  CancelToken token;

  bool done() const { return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }
  std::shared_ptr<CompiledGrammar> result(std::optional<double> timeout) const {
    bool ready = true;
    {
      py::gil_scoped_release release;
      if (timeout) ready = future.wait_for(std::chrono::duration<double>(*timeout)) == std::future_status::ready;
      else future.wait();
    }
    if (!ready) {
      PyErr_SetString(PyExc_TimeoutError, "GrammarFuture.result: the grammar is still compiling");
      throw py::error_already_set();
    }
    return compiling([this] { return future.get(); });  // GrammarError as compile_* would raise
  }
};

GrammarRequest make_request(const py::object& source, const std::string& kind, const std::string& whitespace,
                            int max_whitespace, int indent, const std::optional<std::string>& item_separator,
                            const std::optional<std::string>& key_separator, const std::string& property_order,
                            bool lenient, const std::string& source_name) {
  GrammarRequest r;
  r.source_name = source_name;
  if (kind == "tool_calls") {
    // source: {"tags": [...], "triggers": [...], "at_most_one": bool, "required": bool}, as compile_tool_calls takes them.
    if (!py::isinstance<py::dict>(source)) throw py::type_error("kind 'tool_calls' takes a dict with 'tags'");
    auto d = py::reinterpret_borrow<py::dict>(source);
    if (!d.contains("tags")) throw py::type_error("kind 'tool_calls' takes a dict with 'tags'");
    std::optional<std::vector<std::string>> triggers;
    if (d.contains("triggers") && !d["triggers"].is_none()) triggers = d["triggers"].cast<std::vector<std::string>>();
    auto flag = [&d](const char* k) { return d.contains(k) && d[k].cast<bool>(); };
    ToolCallSpec spec = tool_call_spec(d["tags"], triggers, flag("at_most_one"), flag("required"));
    spec.json = schema_options(whitespace, max_whitespace, indent, item_separator, key_separator, property_order, lenient);
    return tool_calls_request(spec, source_name);
  }
  if (kind == "json_schema") {
    r.kind = GrammarKind::kJsonSchema;
    r.text = schema_text(source);
    r.schema = schema_options(whitespace, max_whitespace, indent, item_separator, key_separator, property_order, lenient);
    return r;
  }
  r.text = source.cast<std::string>();
  if (kind == "regex") {
    r.kind = GrammarKind::kRegex;
  } else if (kind == "gbnf" || kind == "lark" || kind == "ebnf") {
    r.kind = GrammarKind::kGrammar;
    r.format = kind;
  } else {
    throw Error(ErrorKind::kInvalidArgument,
                "kind must be 'regex', 'gbnf', 'lark', 'ebnf', 'json_schema' or 'tool_calls', not '" + kind + "'");
  }
  return r;
}

}  // namespace

void bind_serving(py::module_& m) {
  auto grammar = py::reinterpret_borrow<py::class_<CompiledGrammar, std::shared_ptr<CompiledGrammar>>>(
      m.attr("CompiledGrammar"));
  grammar
      .def(
          "serialize",
          [](const CompiledGrammar& g) {
            std::string blob;
            {
              py::gil_scoped_release release;
              blob = g.serialize();
            }
            return py::bytes(blob);
          },
          "The compiled grammar as bytes (automata, the token index computed so far), with a format version, the "
          "tokenizer's fingerprint and a checksum.")
      .def_static(
          "deserialize",
          [](const py::bytes& blob, std::shared_ptr<TokenizerInfo> tok) {
            std::string_view view = blob;
            CompiledGrammarPtr g;
            {
              py::gil_scoped_release release;
              g = CompiledGrammar::deserialize(view, std::move(tok));
            }
            return std::const_pointer_cast<CompiledGrammar>(g);
          },
          py::arg("blob"), py::arg("tokenizer_info"),
          "Load what serialize() wrote. Raises TollgateError (kind 'invalid argument') for a blob of another "
          "format version or tokenizer, or a truncated or corrupted one.");

  py::class_<GrammarFuture>(m, "GrammarFuture", "A grammar compiling on another thread (Compiler.compile_async).")
      .def("done", &GrammarFuture::done,
           "True once the grammar (or its error) is ready: never blocks (a scheduler polls it each step).")
      .def("result", &GrammarFuture::result,
          py::arg("timeout") = py::none(),
          "Wait for the grammar (raises TollgateError as compile would; kind 'cancelled' after cancel()).")
      .def(
          "cancel", [](const GrammarFuture& f) { f.token.cancel(); },
          "Give up: the compilation stops once every caller waiting on it has cancelled.")
      .def_property_readonly(
          "cancelled", [](const GrammarFuture& f) { return f.token.cancelled(); }, "True once cancel() was called.");

  auto compiler = py::reinterpret_borrow<py::class_<Compiler>>(m.attr("Compiler"));
  compiler
      .def(
          "compile_async",
          [](const Compiler& c, const py::object& source, const std::string& kind, const std::string& whitespace,
             int max_whitespace, int indent, const std::optional<std::string>& item_separator,
             const std::optional<std::string>& key_separator, const std::string& property_order, bool lenient,
             const std::string& source_name) {
            GrammarRequest r = make_request(source, kind, whitespace, max_whitespace, indent, item_separator, key_separator,
                                            property_order, lenient, source_name);
            GrammarFuture f;
            py::gil_scoped_release release;
            f.future = c.compile_async(std::move(r), f.token);
            return f;
          },
          py::arg("source"), py::arg("kind") = "regex", py::kw_only(), py::arg("whitespace") = "flexible",
          py::arg("max_whitespace") = JsonSchemaOptions{}.max_whitespace, py::arg("indent") = JsonSchemaOptions{}.indent, py::arg("item_separator") = py::none(),
          py::arg("key_separator") = py::none(), py::arg("property_order") = "schema", py::arg("lenient") = false,
          py::arg("source_name") = "",
          "Start compiling on another thread and return a GrammarFuture at once (prefill meanwhile). kind: 'regex', "
          "'gbnf', 'lark', 'ebnf', 'json_schema' (then source may be a dict, and the keywords are "
          "compile_json_schema's) or 'tool_calls' (source: a dict of compile_tool_calls' arguments, 'tags' and "
          "optionally 'triggers', 'at_most_one', 'required'; the keywords are how the schemas compile).")
      .def(
          "cache_stats",
          [](const Compiler& c) {
        GrammarCacheStats s = c.cache_stats();
        py::dict d;
        d["hits"] = s.hits;
        d["misses"] = s.misses;
        d["joined"] = s.joined;
        d["compiles"] = s.compiles;
        d["cancelled"] = s.cancelled;
        d["evictions"] = s.evictions;
        d["entries"] = s.entries;
        d["bytes"] = s.bytes;
        d["max_bytes"] = s.max_bytes;
        d["redis_hits"] = s.redis_hits;
        d["redis_published"] = s.redis_published;
        d["redis_waits"] = s.redis_waits;
        d["redis_errors"] = s.redis_errors;
        return d;
      },
          "Counters of the compiled-grammar cache shared by this Compiler and its copies: hits, misses, joined\n"
          "(waited on another caller's compilation), compiles, cancelled, evictions, entries, bytes, max_bytes,\n"
          "redis_hits, redis_published, redis_waits, redis_errors.");
  m.def(
      "redis_supported", [] { return engine::RedisStore::supported(); },
      "True when this build has the Redis second-level cache (hiredis); Compiler(redis_url=...) needs it.");
}

}  // namespace tollgate::python
