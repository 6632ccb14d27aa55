// pybind11 module tollgate._core: the engine's public C++ API for Python.
// numpy arrays are passed without copies; long compiles release the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "tollgate/tollgate.hpp"

namespace py = pybind11;
using namespace tollgate;

namespace {

PyObject* g_error_type = nullptr;

void check_bitmask_row(const py::array& arr, int64_t row, int32_t vocab_size, int64_t* words_out) {
  if (arr.dtype().kind() != 'i' || arr.itemsize() != 4) {
    throw Error(ErrorKind::kInvalidArgument, "bitmask must be an int32 array");
  }
  if (!(arr.flags() & py::array::c_style)) {
    throw Error(ErrorKind::kInvalidArgument, "bitmask must be C-contiguous");
  }
  const int64_t words = bitmask_words(vocab_size);
  int64_t rows = 1;
  if (arr.ndim() == 2) {
    rows = arr.shape(0);
    if (arr.shape(1) != words) {
      throw Error(ErrorKind::kInvalidArgument,
                  "bitmask has " + std::to_string(arr.shape(1)) + " words per row; this vocabulary needs " +
                      std::to_string(words));
    }
  } else if (arr.ndim() == 1) {
    if (arr.shape(0) != words) {
      throw Error(ErrorKind::kInvalidArgument,
                  "bitmask has " + std::to_string(arr.shape(0)) + " words; this vocabulary needs " +
                      std::to_string(words));
    }
  } else {
    throw Error(ErrorKind::kInvalidArgument, "bitmask must be 1-D or 2-D");
  }
  if (row < 0 || row >= rows) {
    throw Error(ErrorKind::kInvalidArgument, "row " + std::to_string(row) + " is outside the bitmask (" +
                                                 std::to_string(rows) + " rows)");
  }
  *words_out = words;
}

// "file:line:column: " / "file: /pointer: " prefix of a warning (parts omitted when unknown).
std::string warning_location(const CompileWarning& w) {
  std::string out = w.pos.file;
  if (w.pos.line > 0) {
    out += (out.empty() ? "" : ":") + std::to_string(w.pos.line);
    if (w.pos.column > 0) out += ":" + std::to_string(w.pos.column);
  }
  if (!w.pos.pointer.empty()) out += (out.empty() ? "" : ": ") + w.pos.pointer;
  return out.empty() ? out : out + ": ";
}

}  // namespace

// Shared with the other binding files (bindings.hpp).
namespace tollgate::python {

// The schema argument of compile_json_schema: JSON text as it is, anything else (dict, list, bool)
// through json.dumps, which keeps a dict's key order (the default property order follows it).
std::string schema_text(const py::object& schema) {
  if (py::isinstance<py::str>(schema)) return schema.cast<std::string>();
  if (py::isinstance<py::bytes>(schema)) return std::string(schema.cast<py::bytes>());
  if (py::isinstance<py::dict>(schema) || py::isinstance<py::bool_>(schema))
    return py::module_::import("json").attr("dumps")(schema).cast<std::string>();
  throw py::type_error("schema must be JSON text (str or bytes) or a dict (or a bool schema)");
}

JsonSchemaOptions schema_options(const std::string& whitespace, int max_whitespace,
                                 const std::optional<std::string>& item_separator,
                                 const std::optional<std::string>& key_separator, const std::string& property_order,
                                 bool lenient) {
  JsonSchemaOptions o;
  if (whitespace == "flexible") o.whitespace = JsonSchemaOptions::Whitespace::kFlexible;
  else if (whitespace == "compact") o.whitespace = JsonSchemaOptions::Whitespace::kCompact;
  else if (whitespace == "pretty")
    throw Error(ErrorKind::kInvalidArgument, "whitespace='pretty' is not supported yet (use 'flexible' or 'compact')");
  else
    throw Error(ErrorKind::kInvalidArgument, "whitespace must be 'flexible' or 'compact', not '" + whitespace + "'");
  if (max_whitespace < 0) throw Error(ErrorKind::kInvalidArgument, "max_whitespace must be >= 0");
  o.max_whitespace = max_whitespace;
  if (item_separator) {
    if (item_separator->empty()) throw Error(ErrorKind::kInvalidArgument, "item_separator must not be empty");
    o.item_separator = *item_separator;
  }
  if (key_separator) {
    if (key_separator->empty()) throw Error(ErrorKind::kInvalidArgument, "key_separator must not be empty");
    o.key_separator = *key_separator;
  }
  if (property_order == "schema") o.property_order = JsonSchemaOptions::PropertyOrder::kSchema;
  else if (property_order == "any") o.property_order = JsonSchemaOptions::PropertyOrder::kAny;
  else
    throw Error(ErrorKind::kInvalidArgument, "property_order must be 'schema' or 'any', not '" + property_order + "'");
  o.lenient = lenient;
  return o;
}

}  // namespace tollgate::python

namespace {
using tollgate::python::schema_options;
using tollgate::python::schema_text;

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "tollgate: grammars compiled to per-step token masks (C++ core)";

  static py::exception<Error> exc(m, "TollgateError", PyExc_ValueError);
  g_error_type = exc.ptr();
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      py::object type = py::reinterpret_borrow<py::object>(g_error_type);
      py::object inst = type(e.pretty());
      inst.attr("kind") = py::str(to_string(e.kind()));
      inst.attr("line") = e.line();
      inst.attr("column") = e.column();
      inst.attr("message") = e.message();
      inst.attr("pointer") = e.pos().pointer;
      PyErr_SetObject(g_error_type, inst.ptr());
    }
  });

  py::enum_<LeadingSpace>(m, "LeadingSpace")
      .value("KEEP", LeadingSpace::kKeep)
      .value("STRIP", LeadingSpace::kStrip);

  py::class_<TokenizerInfo, std::shared_ptr<TokenizerInfo>>(m, "TokenizerInfo")
      .def_static(
          "from_file",
          [](const std::string& path, std::vector<int32_t> eos_ids, int32_t vocab_size,
             std::optional<LeadingSpace> leading_space) {
            TokenizerOptions opt;
            opt.eos_ids = std::move(eos_ids);
            opt.vocab_size = vocab_size;
            opt.leading_space = leading_space;
            py::gil_scoped_release release;
            return std::const_pointer_cast<TokenizerInfo>(TokenizerInfo::from_file(path, opt));
          },
          py::arg("path"), py::arg("eos_ids") = std::vector<int32_t>{}, py::arg("vocab_size") = 0,
          py::arg("leading_space") = py::none(),
          "Load a Hugging Face tokenizer.json (or the folder holding it).")
      .def_static(
          "from_tokens",
          [](const std::vector<py::bytes>& tokens, std::vector<int32_t> eos_ids, int32_t vocab_size,
             std::vector<int32_t> special_ids) {
            std::vector<std::string> t;
            t.reserve(tokens.size());
            for (const auto& b : tokens) t.emplace_back(b);
            return std::const_pointer_cast<TokenizerInfo>(TokenizerInfo::from_tokens(
                std::move(t), std::move(eos_ids), vocab_size, std::move(special_ids)));
          },
          py::arg("tokens"), py::arg("eos_ids"), py::arg("vocab_size") = 0,
          py::arg("special_ids") = std::vector<int32_t>{},
          "Build from token byte strings; ids >= len(tokens) up to vocab_size are padding.")
      .def_property_readonly("vocab_size", &TokenizerInfo::vocab_size)
      .def_property_readonly("num_tokens", &TokenizerInfo::num_tokens)
      .def_property_readonly("eos_ids", &TokenizerInfo::eos_ids)
      .def_property_readonly("prepends_space", &TokenizerInfo::prepends_space)
      .def_property_readonly("leading_space", &TokenizerInfo::leading_space)
      .def("token_bytes", [](const TokenizerInfo& t, int32_t id) { return py::bytes(t.token_bytes(id)); })
      .def("is_special", &TokenizerInfo::is_special)
      .def("__repr__", [](const TokenizerInfo& t) {
        return "<TokenizerInfo vocab_size=" + std::to_string(t.vocab_size()) + ">";
      });

  py::class_<CompileWarning>(m, "CompileWarning",
                             "A compiler warning: .message, and where: .pointer (a JSON pointer, for schemas) or "
                             ".line/.column (1-based, 0 = unknown) in .file.")
      .def_property_readonly("message", [](const CompileWarning& w) { return w.message; })
      .def_property_readonly("pointer", [](const CompileWarning& w) { return w.pos.pointer; })
      .def_property_readonly("line", [](const CompileWarning& w) { return w.pos.line; })
      .def_property_readonly("column", [](const CompileWarning& w) { return w.pos.column; })
      .def_property_readonly("file", [](const CompileWarning& w) { return w.pos.file; })
      .def("__str__", [](const CompileWarning& w) { return warning_location(w) + "warning: " + w.message; })
      .def("__repr__", [](const CompileWarning& w) {
        std::string where = !w.pos.pointer.empty() ? " pointer=" + py::repr(py::str(w.pos.pointer)).cast<std::string>()
                                                   : " line=" + std::to_string(w.pos.line) +
                                                         " column=" + std::to_string(w.pos.column);
        return "<CompileWarning" + where + " message=" + py::repr(py::str(w.message)).cast<std::string>() + ">";
      });

  py::class_<CompiledGrammar, std::shared_ptr<CompiledGrammar>>(m, "CompiledGrammar")
      .def_property_readonly("memory_bytes", &CompiledGrammar::memory_bytes)
      .def_property_readonly("stats", [](const CompiledGrammar& g) {
        const CompileStats& s = g.stats();
        py::dict d;
        d["dfa_states"] = s.dfa_states;
        d["distinct_masks"] = s.distinct_masks;
        d["index_bytes"] = s.index_bytes;
        d["parse_ms"] = s.parse_ms;
        d["dfa_ms"] = s.dfa_ms;
        d["index_ms"] = s.index_ms;
        d["total_ms"] = s.total_ms;
        return d;
      })
      .def_property_readonly("vocab_size", [](const CompiledGrammar& g) { return g.tokenizer().vocab_size(); })
      .def_property_readonly(
          "warnings",
          [](const CompiledGrammar& g) { return g.warnings(); },
          "Warnings from compilation (unknown or relaxed schema keywords, ...): a list of CompileWarning.");

  py::class_<Compiler>(m, "Compiler")
      .def(py::init([](std::shared_ptr<TokenizerInfo> tok, int threads, size_t max_dfa_states,
                       size_t max_dfa_memory) {
             CompileOptions opt;
             opt.threads = threads;
             opt.max_dfa_states = max_dfa_states;
             opt.max_dfa_memory = max_dfa_memory;
             return Compiler(std::move(tok), opt);
           }),
           py::arg("tokenizer_info"), py::arg("threads") = 0, py::arg("max_dfa_states") = CompileOptions{}.max_dfa_states,
           py::arg("max_dfa_memory") = CompileOptions{}.max_dfa_memory)
      .def(
          "compile_regex",
          [](const Compiler& c, const std::string& pattern) {
            CompiledGrammarPtr g;
            {
              py::gil_scoped_release release;
              g = c.compile_regex(pattern);
            }
            return std::const_pointer_cast<CompiledGrammar>(g);
          },
          py::arg("pattern"), "Compile a regex (full-match) into token masks.")
      .def(
          "compile_grammar",
          [](const Compiler& c, const std::string& text, const std::string& format,
             const std::string& source_name) {
            CompiledGrammarPtr g;
            {
              py::gil_scoped_release release;
              g = c.compile_grammar(text, format, source_name);
            }
            return std::const_pointer_cast<CompiledGrammar>(g);
          },
          py::arg("text"), py::arg("format") = "gbnf", py::arg("source_name") = "",
          "Compile a context-free grammar: format is 'gbnf', 'lark' or 'ebnf'.")
      .def(
          "compile_json_schema",
          [](const Compiler& c, const py::object& schema, const std::string& whitespace, int max_whitespace,
             const std::optional<std::string>& item_separator, const std::optional<std::string>& key_separator,
             const std::string& property_order, bool lenient, const std::string& source_name) {
            const std::string text = schema_text(schema);
            const JsonSchemaOptions opt =
                schema_options(whitespace, max_whitespace, item_separator, key_separator, property_order, lenient);
            CompiledGrammarPtr g;
            {
              py::gil_scoped_release release;
              g = c.compile_json_schema(text, opt, source_name);
            }
            return std::const_pointer_cast<CompiledGrammar>(g);
          },
          py::arg("schema"), py::kw_only(), py::arg("whitespace") = "flexible",
          py::arg("max_whitespace") = JsonSchemaOptions{}.max_whitespace, py::arg("item_separator") = py::none(),
          py::arg("key_separator") = py::none(), py::arg("property_order") = "schema", py::arg("lenient") = false,
          py::arg("source_name") = "",
          R"doc(Compile a JSON Schema (draft 2020-12, or draft-07 by $schema) into token masks.

schema: JSON text (str/bytes) or a dict, serialised with json.dumps (its key order is kept).
whitespace: 'flexible' (JSON whitespace wherever allowed, at most max_whitespace bytes per gap) or
  'compact' (none). 'pretty' is not supported yet.
item_separator, key_separator: exact separators, e.g. ', ' and ': ' for json.dumps output.
property_order: 'schema' (properties in the schema's order) or 'any'.
lenient: compile keywords that cannot be exact as an over-approximation, each with a warning,
  instead of raising.
source_name: a file name for error messages.

Raises TollgateError: kind 'schema' with .pointer (a JSON pointer) for a schema that cannot be
compiled, kind 'parse' with .line/.column for malformed JSON. CompiledGrammar.warnings lists
ignored (unknown) and relaxed keywords.)doc")
      .def(
          "builtin_json",
          [](const Compiler& c) {
            CompiledGrammarPtr g;
            {
              py::gil_scoped_release release;
              g = c.builtin_json();
            }
            return std::const_pointer_cast<CompiledGrammar>(g);
          },
          "The built-in JSON grammar (RFC 8259), compiled once per Compiler and cached.");

  py::class_<Matcher>(m, "Matcher")
      .def(py::init([](std::shared_ptr<CompiledGrammar> g, int max_rollback) {
             return Matcher(std::const_pointer_cast<const CompiledGrammar>(g), max_rollback);
           }),
           py::arg("compiled_grammar"), py::arg("max_rollback_tokens") = 64)
      .def(
          "fill_next_token_bitmask",
          [](const Matcher& mt, py::array bitmask, int64_t index) {
            int64_t words = 0;
            check_bitmask_row(bitmask, index, mt.grammar().tokenizer().vocab_size(), &words);
            if (!bitmask.writeable()) throw Error(ErrorKind::kInvalidArgument, "bitmask is read-only");
            auto* data = static_cast<int32_t*>(bitmask.mutable_data());
            mt.fill_next_token_bitmask(data, index);
          },
          py::arg("bitmask"), py::arg("index") = 0)
      .def("accept_token", &Matcher::accept_token, py::arg("token_id"))
      .def(
          "accept_bytes", [](Matcher& mt, const py::bytes& b) { return mt.accept_bytes(std::string(b)); },
          py::arg("data"))
      .def(
          "accept_string", [](Matcher& mt, const std::string& s) { return mt.accept_bytes(s); },
          py::arg("text"))
      .def("rollback", &Matcher::rollback, py::arg("num_tokens") = 1)
      .def("reset", &Matcher::reset)
      .def("is_accepting", &Matcher::is_accepting)
      .def("is_terminated", &Matcher::is_terminated)
      .def("jump_forward", [](const Matcher& mt) { return py::bytes(mt.jump_forward()); })
      .def_property_readonly("num_accepted", &Matcher::num_accepted)
      .def("fork", [](const Matcher& mt) { return Matcher(mt); });

  m.def(
      "apply_token_bitmask_inplace",
      [](py::array_t<float, py::array::c_style> logits, py::array bitmask, int32_t vocab_size) {
        if (bitmask.dtype().kind() != 'i' || bitmask.itemsize() != 4 || !(bitmask.flags() & py::array::c_style)) {
          throw Error(ErrorKind::kInvalidArgument, "bitmask must be a C-contiguous int32 array");
        }
        const int64_t rows = logits.ndim() == 2 ? logits.shape(0) : 1;
        const int64_t width = logits.ndim() == 2 ? logits.shape(1) : logits.shape(0);
        if (logits.ndim() < 1 || logits.ndim() > 2) throw Error(ErrorKind::kInvalidArgument, "logits must be 1-D or 2-D");
        const int64_t brows = bitmask.ndim() == 2 ? bitmask.shape(0) : 1;
        const int64_t bwords = bitmask.ndim() == 2 ? bitmask.shape(1) : bitmask.shape(0);
        int32_t v = vocab_size > 0 ? vocab_size : static_cast<int32_t>(std::min<int64_t>(width, bwords * 32));
        if (v > width || bitmask_words(v) > bwords) {
          throw Error(ErrorKind::kInvalidArgument, "logits (" + std::to_string(width) + ") and bitmask (" +
                                                       std::to_string(bwords) + " words) do not fit vocab_size " +
                                                       std::to_string(v));
        }
        if (brows != rows) {
          throw Error(ErrorKind::kInvalidArgument, "logits have " + std::to_string(rows) + " rows, bitmask " +
                                                       std::to_string(brows));
        }
        auto* l = logits.mutable_data();
        const auto* b = static_cast<const int32_t*>(bitmask.data());
        py::gil_scoped_release release;
        for (int64_t r = 0; r < rows; ++r) apply_token_bitmask(l + r * width, b + r * bwords, v);
      },
      py::arg("logits").noconvert(), py::arg("bitmask"), py::arg("vocab_size") = 0,
      "Set logits of tokens whose bit is clear to -inf, in place (float32, 1-D or 2-D).");

  tollgate::python::bind_retnet(m);
  tollgate::python::bind_tool_calls(m);
}
