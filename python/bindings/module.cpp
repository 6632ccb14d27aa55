// pybind11 module tollgate._core: takes the engine's public C++ API, gives it to Python — TokenizerInfo,
// Compiler, CompiledGrammar and the errors here; Matcher and the mask functions in masks.cpp (arrays passed
// without copies), the RetNet in retnet.cpp. Every call that computes releases the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "tollgate/tollgate.hpp"

namespace py = pybind11;
using namespace tollgate;

namespace tollgate::python {

void check_token_id(const TokenizerInfo& t, int64_t id) {
  if (id < 0 || id >= t.vocab_size()) {
    throw Error(ErrorKind::kInvalidArgument, "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                                 std::to_string(t.vocab_size()) + ")");
  }
}

}  // namespace tollgate::python

using tollgate::python::check_token_id;
using tollgate::python::compiling;
using tollgate::python::GrammarFailure;

namespace {

PyObject* g_error_type = nullptr;
PyObject* g_grammar_error_type = nullptr;

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

JsonSchemaOptions schema_options(const std::string& whitespace, int max_whitespace, int indent,
                                 const std::optional<std::string>& item_separator,
                                 const std::optional<std::string>& key_separator, const std::string& property_order,
                                 bool lenient) {
  JsonSchemaOptions o;
  if (whitespace == "flexible") o.whitespace = JsonSchemaOptions::Whitespace::kFlexible;
  else if (whitespace == "compact") o.whitespace = JsonSchemaOptions::Whitespace::kCompact;
  else if (whitespace == "pretty") o.whitespace = JsonSchemaOptions::Whitespace::kPretty;
  else
    throw Error(ErrorKind::kInvalidArgument,
                "whitespace must be 'flexible', 'compact' or 'pretty', not '" + whitespace + "'");
  if (max_whitespace < 0) throw Error(ErrorKind::kInvalidArgument, "max_whitespace must be >= 0");
  o.max_whitespace = max_whitespace;
  if (indent < 0 || indent > 64) throw Error(ErrorKind::kInvalidArgument, "indent must be in 0..64");
  o.indent = indent;
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

using tollgate::python::schema_options;
using tollgate::python::schema_text;

PYBIND11_MODULE(_core, m) {
  m.doc() = "tollgate: grammars compiled to per-step token masks (C++ core)";

  static py::exception<Error> exc(m, "TollgateError", PyExc_ValueError);
  exc.doc() = "Base of tollgate's errors (a ValueError): .kind, .message, .line, .column (1-based, 0 = unknown), "
              ".pointer (a JSON pointer, for schemas).";
  g_error_type = exc.ptr();
  static py::exception<GrammarFailure> grammar_exc(m, "GrammarError", exc.ptr());
  grammar_exc.doc() = "An invalid grammar, JSON Schema or regex (a TollgateError, so a ValueError): .message, .line "
                      "and .column in the text (1-based), .pointer for schemas, .kind ('parse error', 'unsupported', "
                      "'schema error', 'grammar error', 'limit exceeded').";
  g_grammar_error_type = grammar_exc.ptr();
  py::register_exception_translator([](std::exception_ptr p) {
    auto raise = [](PyObject* type_ptr, const Error& e) {
      py::object type = py::reinterpret_borrow<py::object>(type_ptr);
      py::object inst = type(e.pretty());
      inst.attr("kind") = py::str(to_string(e.kind()));
      inst.attr("line") = e.line();
      inst.attr("column") = e.column();
      inst.attr("message") = e.message();
      inst.attr("pointer") = e.pos().pointer;
      PyErr_SetObject(type_ptr, inst.ptr());
    };
    try {
      if (p) std::rethrow_exception(p);
    } catch (const GrammarFailure& e) {
      raise(g_grammar_error_type, e);
    } catch (const Error& e) {
      raise(g_error_type, e);
    }
  });

  py::enum_<LeadingSpace>(m, "LeadingSpace",
                          "What happens to the space a SentencePiece tokenizer puts before the first token: KEEP it\n"
                          "(the grammar sees it) or STRIP it (as the tokenizer's decoder does).")
      .value("KEEP", LeadingSpace::kKeep)
      .value("STRIP", LeadingSpace::kStrip);

  py::class_<TokenizerInfo, std::shared_ptr<TokenizerInfo>>(
      m, "TokenizerInfo",
      "A model's vocabulary as exact byte strings, immutable. Load it with from_tokenizer_json (a Hugging Face\n"
      "tokenizer.json) or build it with from_vocab.")
      .def_static(
          "from_tokenizer_json",
          [](const std::string& path, std::optional<std::vector<int32_t>> eos_ids, std::optional<int32_t> vocab_size,
             std::optional<LeadingSpace> leading_space) {
            TokenizerOptions opt;
            opt.eos_ids = eos_ids.value_or(std::vector<int32_t>{});
            opt.vocab_size = vocab_size.value_or(0);
            opt.leading_space = leading_space;
            py::gil_scoped_release release;
            return std::const_pointer_cast<TokenizerInfo>(TokenizerInfo::from_file(path, opt));
          },
          py::arg("path"), py::arg("eos_token_ids") = py::none(), py::arg("vocab_size") = py::none(),
          py::arg("leading_space") = py::none(),
          R"doc(Load a Hugging Face tokenizer.json (or the folder holding it, with its tokenizer_config.json).

eos_token_ids: override the EOS ids (default: tokenizer_config.json's eos_token, else the model family's).
vocab_size: the model's logits width when it is larger than the tokenizer's (ids beyond are padding).
leading_space: LeadingSpace.KEEP or STRIP for SentencePiece tokenizers that prepend a space.)doc")
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
          "Load a Hugging Face tokenizer.json (or the folder holding it); from_tokenizer_json under its older name.")
      .def_static(
          "from_vocab",
          [](const std::vector<py::bytes>& tokens, std::vector<int32_t> eos_ids, std::optional<int32_t> vocab_size,
             std::vector<int32_t> special_ids) {
            std::vector<std::string> t;
            t.reserve(tokens.size());
            for (const auto& b : tokens) t.emplace_back(b);
            return std::const_pointer_cast<TokenizerInfo>(TokenizerInfo::from_tokens(
                std::move(t), std::move(eos_ids), vocab_size.value_or(0), std::move(special_ids)));
          },
          py::arg("encoded_vocab"), py::arg("eos_token_ids"), py::arg("vocab_size") = py::none(),
          py::arg("special_token_ids") = std::vector<int32_t>{},
          "Build from the tokens' byte strings (index = token id). vocab_size: the model's logits width, when\n"
          "larger than len(encoded_vocab) (ids beyond are padding, never allowed). special_token_ids are never\n"
          "allowed by a grammar; EOS is allowed where the grammar's text is complete.")
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
          "from_vocab under its older name: ids >= len(tokens) up to vocab_size are padding.")
      .def_property_readonly("vocab_size", &TokenizerInfo::vocab_size,
                             "Width of the logits and bitmask rows (the model's vocabulary, padding included).")
      .def_property_readonly("num_tokens", &TokenizerInfo::num_tokens,
                             "Ids the tokenizer itself defines (<= vocab_size).")
      .def_property_readonly("eos_token_ids", &TokenizerInfo::eos_ids, "The ids that end a sequence.")
      .def_property_readonly("eos_ids", &TokenizerInfo::eos_ids, "eos_token_ids under its older name.")
      .def_property_readonly("prepends_space", &TokenizerInfo::prepends_space,
                             "True when the tokenizer's normalizer prepends a space (SentencePiece).")
      .def_property_readonly("leading_space", &TokenizerInfo::leading_space,
                             "What happens to the first token's leading space (LeadingSpace).")
      .def(
          "token_bytes",
          [](const TokenizerInfo& t, int64_t id) {
            check_token_id(t, id);
            return py::bytes(t.token_bytes(static_cast<int32_t>(id)));
          },
          py::arg("token_id"), "The exact bytes of a token (b\"\" for padding ids).")
      .def(
          "is_special",
          [](const TokenizerInfo& t, int64_t id) {
            check_token_id(t, id);
            return t.is_special(static_cast<int32_t>(id));
          },
          py::arg("token_id"), "True for added/special tokens and padding ids (never allowed by a grammar).")
      .def_property_readonly(
          "fingerprint", &TokenizerInfo::fingerprint,
          "A stable hex digest (SHA-256, 64 digits) of the vocabulary: its size, kind, leading-space handling, EOS\n"
          "ids and every token's bytes and special flag (TokenizerInfo::fingerprint, docs/serving.md). Equal for\n"
          "tokenizers that give equal masks, across runs and machines; compiled-grammar blobs and cache keys carry it.")
      .def("__repr__", [](const TokenizerInfo& t) {
        return "<TokenizerInfo vocab_size=" + std::to_string(t.vocab_size()) + ">";
      });

  py::class_<CompileWarning>(m, "CompileWarning",
                             "A compiler warning: .message, and where: .pointer (a JSON pointer, for schemas) or "
                             ".line/.column (1-based, 0 = unknown) in .file.")
      .def_property_readonly("message", [](const CompileWarning& w) { return w.message; }, "The warning's text.")
      .def_property_readonly("pointer", [](const CompileWarning& w) { return w.pos.pointer; }, "JSON pointer of the schema keyword (\"\" for grammars).")
      .def_property_readonly("line", [](const CompileWarning& w) { return w.pos.line; }, "1-based line in the text (0 = unknown).")
      .def_property_readonly("column", [](const CompileWarning& w) { return w.pos.column; }, "1-based column in the text (0 = unknown).")
      .def_property_readonly("file", [](const CompileWarning& w) { return w.pos.file; }, "The source_name given to the compile call.")
      .def("__str__", [](const CompileWarning& w) { return warning_location(w) + "warning: " + w.message; })
      .def("__repr__", [](const CompileWarning& w) {
        std::string where = !w.pos.pointer.empty() ? " pointer=" + py::repr(py::str(w.pos.pointer)).cast<std::string>()
                                                   : " line=" + std::to_string(w.pos.line) +
                                                         " column=" + std::to_string(w.pos.column);
        return "<CompileWarning" + where + " message=" + py::repr(py::str(w.message)).cast<std::string>() + ">";
      });

  py::class_<CompiledGrammar, std::shared_ptr<CompiledGrammar>>(
      m, "CompiledGrammar",
      "A grammar, schema or regex compiled for one vocabulary: immutable, shared by any number of Matchers and\n"
      "threads. Made by a Compiler.")
      .def_property_readonly("memory_size", &CompiledGrammar::memory_bytes,
                             "Bytes of memory it holds (automata and token index).")
      .def_property_readonly("memory_bytes", &CompiledGrammar::memory_bytes, "memory_size under its older name.")
      .def_property_readonly(
          "num_states", [](const CompiledGrammar& g) { return g.stats().dfa_states; },
          "States of its automata (the regex DFA, or the lexer DFAs of a grammar).")
      .def_property_readonly(
          "stats",
          [](const CompiledGrammar& g) {
            const CompileStats& s = g.stats();
            py::dict d;
            d["dfa_states"] = s.dfa_states;
            d["lexemes"] = s.lexemes;
            d["lexemes_built"] = s.lexemes_built;
            d["lexemes_shared"] = s.lexemes_shared;
            d["distinct_masks"] = s.distinct_masks;
            d["index_bytes"] = s.index_bytes;
            d["parse_ms"] = s.parse_ms;
            d["dfa_ms"] = s.dfa_ms;
            d["index_ms"] = s.index_ms;
            d["total_ms"] = s.total_ms;
            return d;
          },
          "Compile statistics: dfa_states (of the automata built so far), lexemes, lexemes_built (at compile time;\n"
          "the others are built when a mask first needs them: Compiler(eager_automata_states=)), lexemes_shared (of\n"
          "those, taken from automata the Compiler built for earlier grammars), distinct_masks,\n"
          "index_bytes, parse_ms, dfa_ms, index_ms, total_ms.")
      .def_property_readonly(
          "vocab_size", [](const CompiledGrammar& g) { return g.tokenizer().vocab_size(); },
          "The vocabulary size of its tokenizer (the bitmask width is ceil(vocab_size / 32) words).")
      .def_property_readonly(
          "tokenizer_info",
          [](const CompiledGrammar& g) { return std::const_pointer_cast<TokenizerInfo>(g.tokenizer_ptr()); },
          "The TokenizerInfo it was compiled for.")
      .def_property_readonly(
          "warnings",
          [](const CompiledGrammar& g) { return g.warnings(); },
          "Warnings from compilation (unknown or relaxed schema keywords, ...): a list of CompileWarning.");

  py::class_<Compiler>(m, "Compiler",
                       "Compiles regexes, grammars (GBNF, Lark, EBNF) and JSON Schemas for one vocabulary. Thread-safe;\n"
                       "token index entries are shared across the grammars it compiles (cache_bytes).")
      .def(py::init([](std::shared_ptr<TokenizerInfo> tok, int threads, std::optional<int64_t> cache_bytes,
                       size_t max_dfa_states, size_t max_dfa_memory, size_t mask_cache_bytes,
                       size_t boundary_cache_bytes, size_t walk_cache_bytes, size_t grammar_cache_bytes,
                       const std::string& redis_url, int redis_timeout_ms, size_t generation_bytes,
                       size_t eager_automata_states, bool warm_up_json, double eager_automata_ms) {
             if (!tok) throw Error(ErrorKind::kInvalidArgument, "tokenizer_info must not be None");
             if (threads < 0) throw Error(ErrorKind::kInvalidArgument, "threads must be >= 0 (0 = all cores)");
             CompileOptions opt;
             opt.threads = threads;
             if (cache_bytes) {
               if (*cache_bytes < 0) throw Error(ErrorKind::kInvalidArgument, "cache_bytes must be >= 0 (0 = no cache)");
               opt.index_cache_bytes = static_cast<size_t>(*cache_bytes);
             }
             opt.max_dfa_states = max_dfa_states;
             opt.max_dfa_memory = max_dfa_memory;
             opt.mask_cache_bytes = mask_cache_bytes;
             opt.boundary_cache_bytes = boundary_cache_bytes;
             opt.walk_cache_bytes = walk_cache_bytes;
             opt.generation_bytes = generation_bytes;
             opt.eager_automata_states = eager_automata_states;
             if (!(eager_automata_ms >= 0)) throw Error(ErrorKind::kInvalidArgument, "eager_automata_ms must be >= 0");
             opt.eager_automata_ms = eager_automata_ms;
             opt.warm_up_json = warm_up_json;
             opt.grammar_cache_bytes = grammar_cache_bytes;
             opt.redis_url = redis_url;
             if (redis_timeout_ms < 1) throw Error(ErrorKind::kInvalidArgument, "redis_timeout_ms must be >= 1");
             opt.redis_timeout_ms = redis_timeout_ms;
             return Compiler(std::move(tok), opt);
           }),
           py::arg("tokenizer_info"), py::arg("threads") = 0, py::arg("cache_bytes") = py::none(),
           py::arg("max_dfa_states") = CompileOptions{}.max_dfa_states,
           py::arg("max_dfa_memory") = CompileOptions{}.max_dfa_memory,
           py::arg("mask_cache_bytes") = CompileOptions{}.mask_cache_bytes,
           py::arg("boundary_cache_bytes") = CompileOptions{}.boundary_cache_bytes,
           py::arg("walk_cache_bytes") = CompileOptions{}.walk_cache_bytes,
           py::arg("grammar_cache_bytes") = CompileOptions{}.grammar_cache_bytes, py::arg("redis_url") = "",
           py::arg("redis_timeout_ms") = CompileOptions{}.redis_timeout_ms,
           py::arg("generation_bytes") = CompileOptions{}.generation_bytes,
           py::arg("eager_automata_states") = CompileOptions{}.eager_automata_states,
           py::arg("warm_up_json") = CompileOptions{}.warm_up_json,
           py::arg("eager_automata_ms") = CompileOptions{}.eager_automata_ms,
           "threads: compile threads (0 = all cores). cache_bytes: bound of the token index cache shared by the\n"
           "grammars this compiler compiles (default 64 MiB, 0 = none). max_dfa_states / max_dfa_memory: limits\n"
           "per automaton (GrammarError kind 'limit' beyond). mask_cache_bytes / boundary_cache_bytes /\n"
           "walk_cache_bytes: per-grammar cache budgets of the context-free back-end. grammar_cache_bytes: bound\n"
           "of the compiled-grammar cache (LRU; default 256 MiB, 0 = keep none). redis_url ('redis://host:port'):\n"
           "the shared second level (docs/serving.md); redis_timeout_ms: its connect/command timeout.\n"
           "generation_bytes: bytes of a grammar's Earley graph, guard tables and run-time caches past which new\n"
           "sequences start a fresh generation (the old one is freed with its last matcher; default 64 MiB, 0 = never).\n"
           "eager_automata_states: lexeme automata built in the compile call until this many DFA states are built\n"
           "(default 0; 2**64-1: all), then on for eager_automata_ms milliseconds (default 2; 0: no more); what\n"
           "the first mask needs in any case; the rest when a mask first reaches them.\n"
           "warm_up_json: compile a small JSON Schema and fill the masks along one document of it now (about 2 ms),\n"
           "so that what every JSON Schema shares is in the caches before the first real compile (default True).")
      .def(
          "compile_regex",
          [](const Compiler& c, const std::string& pattern) {
            return compiling([&] { return c.compile_regex(pattern); });
          },
          py::arg("pattern"),
          "Compile a regex (the whole output must match it). Raises GrammarError with the column.")
      .def(
          "compile_grammar",
          [](const Compiler& c, const std::string& text, const std::string& format, const std::string& source_name) {
            return compiling([&] { return c.compile_grammar(text, format, source_name); });
          },
          py::arg("text"), py::arg("format") = "gbnf", py::arg("source_name") = "",
          "Compile a context-free grammar; format is 'gbnf', 'lark' or 'ebnf'. source_name is a file name for\n"
          "messages. Raises GrammarError with line and column.")
      .def(
          "compile_json_schema",
          [](const Compiler& c, const py::object& schema, const std::string& whitespace, int max_whitespace, int indent,
             const std::optional<std::string>& item_separator, const std::optional<std::string>& key_separator,
             const std::string& property_order, bool lenient, const std::string& source_name) {
            const std::string text = schema_text(schema);
            const JsonSchemaOptions opt =
                schema_options(whitespace, max_whitespace, indent, item_separator, key_separator, property_order, lenient);
            return compiling([&] { return c.compile_json_schema(text, opt, source_name); });
          },
          py::arg("schema"), py::kw_only(), py::arg("whitespace") = "flexible",
          py::arg("max_whitespace") = JsonSchemaOptions{}.max_whitespace, py::arg("indent") = JsonSchemaOptions{}.indent, py::arg("item_separator") = py::none(),
          py::arg("key_separator") = py::none(), py::arg("property_order") = "schema", py::arg("lenient") = false,
          py::arg("source_name") = "",
          R"doc(Compile a JSON Schema (draft 2020-12, or draft-07 by $schema) into token masks.

schema: JSON text (str/bytes) or a dict, serialised with json.dumps (its key order is kept).
whitespace: 'flexible' (JSON whitespace wherever allowed, at most max_whitespace bytes per gap),
  'compact' (none) or 'pretty' (exactly json.dumps(obj, indent=indent): each member and item on
  a line of its own, indented by `indent` spaces per level; values nested deeper than 32 levels
  are refused).
item_separator, key_separator: exact separators, e.g. ', ' and ': ' for json.dumps output.
property_order: 'schema' (properties in the schema's order) or 'any'.
lenient: compile keywords that cannot be exact as an over-approximation, each with a warning,
  instead of raising.
source_name: a file name for error messages.

Raises GrammarError: kind 'schema' with .pointer (a JSON pointer) for a schema that cannot be
compiled, kind 'parse' with .line/.column for malformed JSON. CompiledGrammar.warnings lists
ignored (unknown) and relaxed keywords.)doc")
      .def(
          "builtin_json",
          [](const Compiler& c) {
            return compiling([&] { return c.builtin_json(); });
          },
          "The built-in JSON grammar (RFC 8259), compiled once per Compiler and cached.");

  tollgate::python::bind_masks(m);
  tollgate::python::bind_retnet(m);
  tollgate::python::bind_batch(m);
  tollgate::python::bind_serving(m);
  tollgate::python::bind_tool_calls(m);
}
