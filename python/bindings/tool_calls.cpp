// tollgate._core: Compiler.compile_tool_calls — tool calls inside free text (tollgate/tool_calls.hpp).
// Takes tags as (begin, schema, end) tuples or dicts, schemas as JSON text or dicts; gives a
// CompiledGrammar (compiled with the GIL released; errors are tollgate.GrammarError).
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "tollgate/tollgate.hpp"

namespace py = pybind11;

namespace tollgate::python {

namespace {

ToolCallTag tag_of(const py::handle& h) {
  auto text = [](const py::handle& x, const char* what) {
    if (!py::isinstance<py::str>(x)) throw py::type_error(std::string("a tag's ") + what + " must be a str");
    return x.cast<std::string>();
  };
  if (py::isinstance<py::dict>(h)) {
    auto d = py::reinterpret_borrow<py::dict>(h);
    for (const char* k : {"begin", "schema"})
      if (!d.contains(k)) throw py::type_error(std::string("a tag dict needs '") + k + "'");
    return {text(d["begin"], "begin"), schema_text(d["schema"]),
            d.contains("end") ? text(d["end"], "end") : std::string()};
  }
  auto t = py::reinterpret_borrow<py::object>(h);
  if (!py::isinstance<py::tuple>(t) && !py::isinstance<py::list>(t))
    throw py::type_error("a tag is a (begin, schema, end) tuple or a dict with begin, schema, end");
  auto seq = py::reinterpret_borrow<py::sequence>(t);
  if (seq.size() != 3) throw py::type_error("a tag tuple is (begin, schema, end)");
  return {text(seq[0], "begin"), schema_text(seq[1]), text(seq[2], "end")};
}

}  // namespace

ToolCallSpec tool_call_spec(const py::iterable& tags, const std::optional<std::vector<std::string>>& triggers,
                            bool at_most_one, bool required) {
  ToolCallSpec spec;
  for (const auto& t : tags) spec.tags.push_back(tag_of(t));
  if (triggers) spec.triggers = *triggers;
  spec.at_most_one = at_most_one;
  spec.required = required;
  return spec;
}

void bind_tool_calls(py::module_& m) {
  auto compiler = py::reinterpret_borrow<py::class_<Compiler>>(m.attr("Compiler"));
  compiler.def(
      "compile_tool_calls",
      [](const Compiler& c, const py::iterable& tags, const std::optional<std::vector<std::string>>& triggers,
         bool at_most_one, bool required, const std::string& whitespace, int max_whitespace, int indent,
         const std::optional<std::string>& item_separator, const std::optional<std::string>& key_separator,
         const std::string& property_order, bool lenient, const std::string& source_name) {
        ToolCallSpec spec = tool_call_spec(tags, triggers, at_most_one, required);
        spec.json = schema_options(whitespace, max_whitespace, indent, item_separator, key_separator, property_order, lenient);
        return compiling([&] { return c.compile_tool_calls(spec, source_name); });
      },
      py::arg("tags"), py::kw_only(), py::arg("triggers") = py::none(), py::arg("at_most_one") = false,
      py::arg("required") = false, py::arg("whitespace") = "flexible",
      py::arg("max_whitespace") = JsonSchemaOptions{}.max_whitespace, py::arg("indent") = JsonSchemaOptions{}.indent, py::arg("item_separator") = py::none(),
      py::arg("key_separator") = py::none(), py::arg("property_order") = "schema", py::arg("lenient") = false,
      py::arg("source_name") = "",
      R"doc(Compile tool calls inside free text into one grammar.

tags: (begin, schema, end) tuples or dicts {"begin", "schema", "end"}; schema is JSON text or a dict.
  After free text, a call is: begin, JSON arguments valid against schema, end.
triggers: the strings that start a call; free text is any text in which none occurs, and a
  completed trigger must continue into a tag whose begin starts with it. Default: the begins.
at_most_one: at most one call (the text after it contains no trigger); required: at least one.
whitespace ... lenient: how the schemas are compiled, as in compile_json_schema.
Goes through the compiled-grammar cache: the same spec and options again return the same grammar
(compile_async(spec_dict, 'tool_calls') shares the entries).

Raises GrammarError: kind 'invalid_argument' for a malformed spec (no tags, a tag that starts with
no trigger, ...), 'schema' (message naming the tag, .pointer in its schema) for a schema that cannot
be compiled. TypeError for a tag that is not a (begin, schema, end) tuple or such a dict.)doc");
}

}  // namespace tollgate::python
