"""oneOf and not over closed objects and arrays with items (the complements that make them exact):
every document of a generated set is accepted by the compiled grammar exactly when python3-jsonschema
says it is valid. The schemas are the shapes that real schemas use (maskbench-dev refused them before):
closed objects whose branches overlap only in some keys, arrays of numbers or of arrays, not over a
closed object, nested in properties and items; and patternProperties with more than four patterns,
whose keys fall in classes by the exact set of patterns they match."""
import itertools
import json

import jsonschema
import pytest

import tollgate

SCALARS = [None, True, 0, 7, -2.5, "", "a", "x1"]


def objects(keys, values, max_keys=3):
    """Every object over up to max_keys of `keys`, each key taking each of `values`."""
    out = [{}]
    for n in range(1, max_keys + 1):
        for ks in itertools.combinations(keys, n):
            for vs in itertools.product(values, repeat=n):
                out.append(dict(zip(ks, vs)))
    return out


def arrays(items, max_len=3):
    out = []
    for n in range(0, max_len + 1):
        out.extend(list(t) for t in itertools.product(items, repeat=n))
    return out


CLOSED = lambda props, req=(): {"type": "object", "properties": props, "required": list(req),  # noqa: E731
                                "additionalProperties": False}

CASES = [
    # branches closed by names overlap in {} only (a purchase value or a text)
    ("disjoint-names",
     {"oneOf": [CLOSED({"value": {"type": "string"}, "unit": {"type": "string"}}),
                CLOSED({"text": {"type": "string"}})]},
     objects(["value", "unit", "text", "other"], ["a", 1])),
    # branches share a required key; each is told apart by its own optional key
    ("shared-required",
     {"oneOf": [CLOSED({"id": {"type": "string"}, "opt": {"type": "string"}}, ["id"]),
                CLOSED({"id": {"type": "string"}, "rx": {"type": "string"}}, ["id"]),
                CLOSED({"perm": {"type": "number"}}, ["perm"])]},
     objects(["id", "opt", "rx", "perm"], ["s", 2])),
    # one-key operator objects (an expression language)
    ("operators",
     {"oneOf": [CLOSED({k: {"type": "integer"}}) for k in ["and", "or", "not", "eq", "lt", "gt", "in", "has"]]},
     objects(["and", "or", "eq", "zz"], [1, "s"], max_keys=2)),
    # the value decides when the names overlap
    ("value-differs",
     {"oneOf": [CLOSED({"code": {"type": "string", "pattern": "^[a-z]{2}$"}, "flag": {"const": False}}, ["flag"]),
                CLOSED({"code": {"type": "string", "pattern": "^$"}, "flag": {"const": True}}, ["flag"])]},
     objects(["code", "flag"], ["ab", "", "abc", True, False])),
    # arrays of numbers or of arrays of numbers (GeoJSON coordinates): [] matches both
    ("array-items",
     {"oneOf": [{"type": "array", "items": {"type": "number"}},
                {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}]},
     arrays([1, 2.5, "s", [], [1], [1, "s"]]) + SCALARS),
    ("string-or-arrays",
     {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "number"}},
                {"type": "array", "items": {"type": "string"}}]},
     arrays([1, "s", None]) + SCALARS),
    # not over a closed object, inside an item that is closed too (a key outside {a} is b)
    ("not-closed",
     {"type": "array", "items": {**CLOSED({"a": {}, "b": {}}), "not": CLOSED({"a": {"type": "integer"}}, ["a"])}},
     [[d] for d in objects(["a", "b", "c"], [1, "s"])]),
    # not over items
    ("not-items",
     {"type": "array", "not": {"items": {"type": "integer", "minimum": 0}}},
     arrays([0, 3, -1, "s"])),
    # a oneOf whose branches are closed by two allOf members (the names intersect)
    ("closed-twice",
     {"oneOf": [{"allOf": [CLOSED({"a": {}, "b": {}, "c": {}}), CLOSED({"a": {}, "b": {}})]},
                CLOSED({"b": {}, "c": {}})]},
     objects(["a", "b", "c"], [1])),
    # patternProperties: five literal-prefixed patterns and one that overlaps them all (keys fall in
    # classes by the exact set of patterns they match)
    ("pattern-classes",
     {"type": "object",
      "patternProperties": {"^name:(en|nl)$": {"type": "string"}, "^title:(en|nl)$": {"type": "string", "maxLength": 2},
                            "^MD5$": {"type": "string", "pattern": "^[0-9a-f]{4}$"}, "^SHA$": {"type": "integer"},
                            "^x-": {"type": "boolean"}, "^[A-Za-z0-9_:-]+$": {"type": ["string", "integer"]}},
      "additionalProperties": False},
     objects(["name:en", "title:nl", "MD5", "SHA", "x-a", "x-b c", "other", "a b"], ["ab", "abcd", "0f0f", 3, True],
             max_keys=2)),
    # string complements with formats: an unknown format is an annotation (every string), a known one
    # its exact regex; non-strings satisfy every branch, so exactly one never holds for them
    ("string-formats",
     {"oneOf": [{"format": "host-name"}, {"format": "ipv4"}, {"format": "ipv6"}]},
     ["example.com", "1.2.3.4", "10.0.0.255", "::1", "fe80::1:2", "", "a b", "256.1.1.1", "1.2.3", 3, None, [], {}]),
    ("length-or-unknown-format",
     {"oneOf": [{"maxLength": 0}, {"format": "html-selector", "minLength": 1}]},
     ["", "a", "ab", "div > p", 0, None, True, [], {"a": 1}]),
    # branches whose types differ only through their own oneOf / anyOf: disjoint, no complement needed
    ("nested-types",
     {"oneOf": [{"oneOf": [{"type": "string"}, {"type": "integer"}]}, {"type": "null"},
                {"anyOf": [{"type": "boolean"}, {"type": "array", "maxItems": 1}]}]},
     ["a", 1, None, 1.5, True, [], [1], [1, 2], {}]),
    ("pattern-or-format",
     {"type": "object", "properties": {"v": {"oneOf": [{"type": "string", "pattern": "^[0-9]+$"},
                                                        {"type": "string", "format": "ipv4"}]}}},
     objects(["v"], ["12", "1.2.3.4", "1", "x", "", 5])),
    # ¬(closed object) inside an object that stays open: some key outside the names is present (a
    # named member of the object's own, or one of its additional entries); refused before
    ("open-object-complement",
     {"oneOf": [{"type": "object", "properties": {"a": {}}}, CLOSED({"a": {"type": "integer"}})]},
     objects(["a", "b", "c"], [1, "s"]) + SCALARS),
    ("open-object-complement-named",
     {"type": "object", "properties": {"a": {}, "b": {"type": "string"}},
      "not": CLOSED({"a": {}, "c": {}})},
     objects(["a", "b", "c", "d"], [1, "s"])),
    # complements of what an object says of all its keys: some entry fails it (a witness), a named
    # member or an additional one; refused before
    ("not-pattern-properties",
     {"type": "object", "properties": {"x1": {"type": ["integer", "string"]}},
      "not": {"patternProperties": {"^x": {"type": "integer"}}}},
     objects(["x1", "x2", "y"], [1, "s"])),
    ("not-property-names", {"type": "object", "not": {"propertyNames": {"maxLength": 1}}},
     objects(["a", "bb", "c", "dd"], [1])),
    ("not-additional-schema",
     {"type": "object", "properties": {"a": {}}, "not": {"additionalProperties": {"type": "string"}}},
     objects(["a", "b", "c"], [1, "s"])),
    ("two-witnesses-one-entry",  # a key with "a" and a key with "b": "ab" is both
     {"type": "object", "allOf": [{"not": {"propertyNames": {"not": {"pattern": "a"}}}},
                                  {"not": {"propertyNames": {"not": {"pattern": "b"}}}}]},
     objects(["a", "b", "ab", "c"], [1])),
    ("one-of-pattern-properties",
     {"oneOf": [{"patternProperties": {"^a": {"type": "integer"}}}, {"patternProperties": {"^b": {"type": "string"}}}]},
     objects(["a1", "b1", "c"], [1, "s"]) + SCALARS),
    # propertyNames with combinators (ignored before: {"a": 1} passed {"not": {"const": "a"}})
    ("property-names-combinators",
     {"propertyNames": {"not": {"const": "a"}, "anyOf": [{"maxLength": 1}, {"const": "abc"}]}},
     objects(["a", "b", "ab", "abc"], [1])),
    # oneOf read key by key (the complements of whole branches take more than 256 alternatives):
    # an address per country, nothing required, the "state" enums overlapping across countries
    ("address-per-country",
     {"type": "object", "properties": {"street": {"type": "string"}},
      "oneOf": [{"properties": {"country": {"enum": [c]}, "state": {"enum": states},
                                "zip": {"type": "string", "maxLength": 2}}}
                for c, states in [("C0", ["S0", "S1"]), ("C1", ["S1", "S2"]), ("C2", ["S2", "S3"]), ("C3", ["S3"]),
                                  ("C4", ["S4", "S0"]), ("C5", ["S5"]), ("C6", ["S6", "S5"]), ("C7", ["S7"]),
                                  ("C8", ["S8", "S7"]), ("C9", ["S9"])]]},
     objects(["street", "country", "state", "zip", "other"], ["C1", "C9", "S1", "S9", "ab", "abc", 7])),
    # closed branches told apart by a "type" that is not required, each with a key of its own
    ("closed-fields",
     {"oneOf": [CLOSED({"type": {"enum": [t]}, "label": {"type": "string"}, t + "_opt": {"type": "integer"}},
                       ["label"]) for t in ["text", "number", "email", "date", "time", "enum", "static", "multi",
                                            "money", "repeat", "datetime"]]},
     objects(["type", "label", "text_opt", "email_opt", "repeat_opt", "zz"], ["text", "email", "x", 1],
             max_keys=3)),
]


@pytest.mark.parametrize("name,schema,docs", CASES, ids=[c[0] for c in CASES])
def test_complements_agree_with_jsonschema(llama3, name, schema, docs):
    compiled = tollgate.Compiler(llama3).compile_json_schema(json.dumps(schema))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    wrong = []
    for doc in docs:
        text = json.dumps(doc, separators=(",", ":"))
        m = tollgate.Matcher(compiled)
        got = m.accept_string(text) and m.is_accepting()
        if got != validator.is_valid(doc):
            wrong.append((text, got))
    assert not wrong, f"{name}: grammar disagrees with jsonschema on {len(wrong)} of {len(docs)}: {wrong[:8]}"
    assert any(validator.is_valid(d) for d in docs) and not all(validator.is_valid(d) for d in docs)


def test_complement_of_a_relaxed_format_is_refused_not_under_approximated(llama3):
    # 'regex' is relaxed to any string under lenient: its complement would be no string, which would
    # refuse valid documents, so the oneOf keeps its own relaxation (an over-approximation) instead
    schema = {"oneOf": [{"type": "string", "format": "regex"}, {"type": "string", "maxLength": 3}]}
    with pytest.raises(tollgate.GrammarError, match="cannot be compiled exactly"):
        tollgate.Compiler(llama3).compile_json_schema(json.dumps(schema))
    compiled = tollgate.Compiler(llama3).compile_json_schema(json.dumps(schema), lenient=True)
    assert compiled.warnings
    for doc in ["a+", "abcdef", "(", "ab"]:  # valid or not, an over-approximation accepts every string
        m = tollgate.Matcher(compiled)
        assert m.accept_string(json.dumps(doc)) and m.is_accepting(), doc


def test_complement_of_a_relaxed_number_bound_is_refused_not_under_approximated(llama3):
    # a multipleOf past the automaton budget is relaxed to any integer under lenient; its complement
    # (no integer) would refuse 7, which only the second branch accepts
    schema = {"oneOf": [{"type": "integer", "multipleOf": 10000019}, {"type": "integer", "minimum": 5}]}
    with pytest.raises(tollgate.GrammarError, match="cannot be compiled exactly"):
        tollgate.Compiler(llama3).compile_json_schema(json.dumps(schema))
    compiled = tollgate.Compiler(llama3).compile_json_schema(json.dumps(schema), lenient=True)
    validator = jsonschema.Draft202012Validator(schema)
    for doc in [7, 0, 5, 123456, 10000019 * 3, -10000019]:
        m = tollgate.Matcher(compiled)
        got = m.accept_string(json.dumps(doc)) and m.is_accepting()
        assert got or not validator.is_valid(doc), doc  # an over-approximation accepts every valid one
