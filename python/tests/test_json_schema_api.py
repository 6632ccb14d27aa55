"""JSON Schema from Python and the command line: Compiler.compile_json_schema (text or dict, options,
warnings, positioned errors), tollgate.generate(json_schema=...) and `tollgate generate --schema`, whose
outputs must parse with json.loads and validate with python3-jsonschema."""
import json
import pathlib
import subprocess

import jsonschema
import pytest

import tollgate
from conftest import releases_the_gil

CLI = pathlib.Path(tollgate.__file__).resolve().parents[2] / "tollgate"

PERSON = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "role", "age", "address", "tags"],
    "properties": {
        "id": {"type": "string", "pattern": "^u-[0-9]{3,6}$"},
        "role": {"enum": ["admin", "editor", "viewer"]},
        "age": {"type": "integer", "minimum": 18, "maximum": 120},
        "address": {
            "type": "object",
            "additionalProperties": False,
            "required": ["city", "zip"],
            "properties": {"city": {"type": "string", "maxLength": 24},
                           "zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
        },
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "minItems": 1, "maxItems": 3},
    },
}
ORDER = {
    "type": "array",
    "minItems": 1,
    "maxItems": 3,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["sku", "qty"],
        "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
                       "qty": {"type": "integer", "minimum": 1, "maximum": 99},
                       "gift": {"type": "boolean"}},
    },
}
TREE = {
    "$defs": {"node": {"type": "object", "additionalProperties": False, "required": ["name"],
                       "properties": {"name": {"type": "string", "maxLength": 8},
                                      "children": {"type": "array", "items": {"$ref": "#/$defs/node"},
                                                   "maxItems": 2}}}},
    "$ref": "#/$defs/node",
}
# Python's json.dumps separators: what the reference model saw in training (with flexible whitespace
# the barely trained model wanders in whitespace until it runs out of tokens).
DUMPS = {"item_separator": ", ", "key_separator": ": "}


@pytest.fixture(scope="module")
def compiler():
    """A Compiler for the reference model's vocabulary (no data beside the project needed)."""
    return tollgate._load(tollgate.default_model_dir())[2]


def accepts(compiled, text):
    m = tollgate.Matcher(compiled)
    return m.accept_string(text) and m.is_accepting()


def test_compile_from_text_and_from_dict(compiler):
    valid = ('{"id": "u-1042", "role": "admin", "age": 42, "address": {"city": "Lyon", "zip": "69001"}, '
             '"tags": ["ops"]}')
    for schema in (PERSON, json.dumps(PERSON, indent=2), json.dumps(PERSON).encode()):
        g = compiler.compile_json_schema(schema)
        assert isinstance(g, tollgate.CompiledGrammar) and g.warnings == []
        assert accepts(g, valid)
        assert accepts(g, valid.replace(", ", ",\n  "))  # flexible whitespace by default
        assert not accepts(g, valid.replace('"age": 42', '"age": 17'))  # minimum
        assert not accepts(g, valid.replace("u-1042", "x-1042"))  # pattern
        assert not accepts(g, valid.replace('"admin"', '"root"'))  # enum
        assert not accepts(g, valid.replace('["ops"]', "[]"))  # minItems
        assert not accepts(g, valid.replace('"69001"', '"6900"'))  # nested pattern
        assert not accepts(g, valid[:-1])  # incomplete
        m = tollgate.Matcher(g)
        assert m.accept_bytes(valid.encode()[:20]) and not m.is_accepting()
        assert not m.accept_bytes(b"}")


def test_a_dict_keeps_its_key_order(compiler):
    schema = {"type": "object", "properties": {"b": {"type": "integer"}, "a": {"type": "integer"}},
              "required": ["a", "b"]}
    g = compiler.compile_json_schema(schema)
    assert accepts(g, '{"b": 1, "a": 2}') and not accepts(g, '{"a": 2, "b": 1}')
    g = compiler.compile_json_schema(schema, property_order="any")
    assert accepts(g, '{"b": 1, "a": 2}') and accepts(g, '{"a": 2, "b": 1}')
    assert not accepts(g, '{"a": 2}') and not accepts(g, '{"b": 1, "b": 1}')


def test_whitespace_and_separators(compiler):
    schema = {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "integer"}}}}
    compact = compiler.compile_json_schema(schema, whitespace="compact")
    assert accepts(compact, '{"a":[1,2]}')
    assert not accepts(compact, '{"a": [1,2]}') and not accepts(compact, '{"a":[1, 2]}')
    dumps = compiler.compile_json_schema(schema, **DUMPS)
    assert accepts(dumps, json.dumps({"a": [1, 2]}))
    assert not accepts(dumps, '{"a":[1,2]}') and not accepts(dumps, '{"a": [1,  2]}')
    few = compiler.compile_json_schema(schema, max_whitespace=2)
    assert accepts(few, '{  "a"  :  [1]}') and not accepts(few, '{   "a": [1]}')
    for bad in ({"whitespace": "tabs"}, {"property_order": "alphabetical"}, {"max_whitespace": -1},
                {"item_separator": ""}, {"whitespace": "pretty", "indent": -1}):
        with pytest.raises(tollgate.TollgateError):
            compiler.compile_json_schema(schema, **bad)
    with pytest.raises(TypeError):
        compiler.compile_json_schema(42)


def test_pretty_is_json_dumps_with_indent(compiler):
    schema = {"type": "object", "properties": {
        "a": {"type": "array", "items": {"type": "integer"}},
        "b": {"type": "object", "properties": {"c": {"type": "string"}, "d": {"type": "array"}}},
        "e": {"enum": [{"x": [1, 2]}, None]}},
        "required": ["a"]}
    docs = [{"a": [1, 2], "b": {"c": "é", "d": []}, "e": {"x": [1, 2]}}, {"a": []}, {"a": [3], "b": {}},
            {"a": [1], "e": None}]
    for indent in (2, 4, 0):
        g = compiler.compile_json_schema(schema, whitespace="pretty", indent=indent)
        for doc in docs:
            assert accepts(g, json.dumps(doc, indent=indent, ensure_ascii=False)), (indent, doc)
            assert not accepts(g, json.dumps(doc)), (indent, doc)
            assert not accepts(g, json.dumps(doc, indent=indent + 1, ensure_ascii=False)), (indent, doc)
        assert not accepts(g, json.dumps({"b": {}}, indent=indent))  # "a" is still required
    # the separators of json.dumps(indent=2, separators=(" ,", ": "))
    g = compiler.compile_json_schema(schema, whitespace="pretty", item_separator=" ,")
    assert accepts(g, json.dumps(docs[0], indent=2, separators=(" ,", ": "), ensure_ascii=False))
    assert not accepts(g, json.dumps(docs[0], indent=2, ensure_ascii=False))


def test_warnings_name_the_keyword_and_its_pointer(compiler):
    g = compiler.compile_json_schema({"type": "object", "properties": {"a": {"type": "string", "colour": "red"}}})
    assert len(g.warnings) == 1
    w = g.warnings[0]
    assert isinstance(w, tollgate.CompileWarning)
    assert "unknown keywords ignored" in w.message and "colour" in w.message and "/properties/a" in w.message
    assert w.pointer == "/" and (w.line, w.column) == (1, 1)  # the root's place in the text
    assert "warning: unknown keywords ignored" in str(w) and "CompileWarning" in repr(w)
    # lenient: a keyword that cannot be compiled exactly is relaxed with a warning at its pointer
    lookbehind = {"type": "object", "properties": {"p": {"type": "string", "pattern": "(?<=a)b"}}}
    with pytest.raises(tollgate.TollgateError) as e:
        compiler.compile_json_schema(lookbehind)
    assert e.value.pointer == "/properties/p/pattern" and "lenient" in e.value.message
    g = compiler.compile_json_schema(lookbehind, lenient=True)
    assert [w.pointer for w in g.warnings] == ["/properties/p/pattern"]
    assert "relaxed" in g.warnings[0].message


def test_errors_have_a_pointer_or_a_line_and_column(compiler):
    with pytest.raises(tollgate.TollgateError) as e:
        compiler.compile_json_schema({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}})
    err = e.value
    assert isinstance(err, ValueError)
    assert err.kind == "schema error" and err.pointer == "/properties/a/$ref"
    assert "#/$defs/missing" in err.message
    assert str(err).count("(at /properties/a/$ref)") == 1
    # and the place of the keyword's value in the schema text (the dict as json.dumps writes it)
    text = json.dumps({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}})
    assert (err.line, err.column) == (1, text.index('"#/$defs/missing"') + 1)
    with pytest.raises(tollgate.TollgateError) as e:
        compiler.compile_json_schema('{"type": "object",\n "properties": {]}', source_name="bad.json")
    err = e.value
    assert err.kind == "parse error" and (err.line, err.column) == (2, 17) and err.pointer == ""
    assert "bad.json" in str(err)


def test_compiling_releases_the_gil(llama3):
    # While a schema compiles against Llama-3's 128k tokens, another Python thread keeps running
    # only if the GIL is released (a fresh Compiler each time: nothing cached). The compile must last
    # long enough for this thread to be scheduled on a busy machine: PERSON alone compiles in 0.3 ms
    # (on the caller's thread since session 29), and a run of `make test` once saw all three attempts
    # end before this thread ran. With every lexeme automaton built in the call, one of them a
    # pattern ∩ length product of ~30,000 states, it takes 50-70 ms.
    heavy = json.loads(json.dumps(PERSON))
    heavy["properties"]["bio"] = {"type": "string", "maxLength": 100, "pattern": "^(?:\\S+\\s+){0,9}\\S+$"}
    released, done = releases_the_gil(
        lambda: tollgate.Compiler(llama3, threads=1, eager_automata_states=2**64 - 1).compile_json_schema(heavy))
    assert released
    assert done and accepts(done[0], '{"id": "u-123", "role": "viewer", "age": 18, '
                                     '"address": {"city": "", "zip": "00000"}, "tags": [""]}')


@pytest.mark.parametrize("schema", [PERSON, ORDER, TREE], ids=["person", "order", "tree"])
def test_generate_with_a_schema_is_valid_json(schema):
    finished = 0
    for seed in range(6):
        r = tollgate.generate("", json_schema=schema, schema_options=DUMPS, max_tokens=150, temperature=0.8,
                              seed=seed)
        if r.stop_reason == "eos":
            assert r.grammar_accepting
            jsonschema.validate(json.loads(r.text), schema)
            finished += 1
        else:
            assert r.stop_reason == "max_tokens" and r.stats["tokens"] == 150
    assert finished >= 3


def test_generate_takes_one_constraint():
    with pytest.raises(ValueError, match="at most one"):
        tollgate.generate("", json_schema=TREE, regex="a")
    with pytest.raises(ValueError, match="at most one"):
        tollgate.generate("", json_schema=TREE, json=True)
    with pytest.raises(ValueError, match="needs json_schema"):
        tollgate.generate("", schema_options=DUMPS)
    with pytest.raises(tollgate.TollgateError) as e:
        tollgate.generate("", json_schema={"$ref": "#/nowhere"})
    assert e.value.pointer == "/$ref"


@pytest.mark.skipif(not CLI.exists(), reason="build/tollgate not built")
@pytest.mark.parametrize("schema", [PERSON, ORDER, TREE], ids=["person", "order", "tree"])
def test_cli_generate_with_a_schema_is_valid_json(schema, tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    finished = 0
    for seed in range(6):
        p = subprocess.run([str(CLI), "generate", "--schema", str(path), "--item-separator", ", ",
                            "--key-separator", ": ", "-n", "150", "-t", "0.8", "--seed", str(seed)],
                           capture_output=True, text=True, timeout=120)
        if p.returncode == 0:
            jsonschema.validate(json.loads(p.stdout), schema)
            finished += 1
        else:
            # an unfinished document is not passed off as output: exit 1 and say so
            assert p.returncode == 1 and "the output is incomplete" in p.stderr
    assert finished >= 3


@pytest.mark.skipif(not CLI.exists(), reason="build/tollgate not built")
def test_cli_generate_reports_schema_errors_and_warnings(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "object", "properties": {"a": {"$ref": "#/$defs/x"}}}')
    p = subprocess.run([str(CLI), "generate", "--schema", str(bad)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "(at /properties/a/$ref)" in p.stderr
    odd = tmp_path / "odd.json"
    odd.write_text('{"enum": ["yes", "no"], "colour": "red"}')
    p = subprocess.run([str(CLI), "generate", "--schema", str(odd), "-t", "0"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and json.loads(p.stdout) in ("yes", "no")
    assert "warning: unknown keywords ignored: colour" in p.stderr


def test_eager_automata_states_changes_when_lexemes_are_built_not_the_masks(llama3, shared):
    # Compiler(eager_automata_states=0, eager_automata_ms=0) builds the lexemes the first mask needs
    # (the default goes on building them for 2 ms); with eager_automata_states=2**64-1 every lexeme
    # is built in the compile. The masks along real maskbench-dev documents are
    # the same, token by token, and the lazily built grammar builds more lexemes as the documents go on.
    import numpy as np
    from conftest import corpus_path

    files = sorted(corpus_path(shared, "maskbench-dev").glob("*.json"))[::97][:12]
    lazy = tollgate.Compiler(llama3, threads=1, eager_automata_ms=0)
    eager = tollgate.Compiler(llama3, threads=1, eager_automata_states=2**64 - 1)
    timed = tollgate.Compiler(llama3, threads=1, eager_automata_ms=1e9)
    with pytest.raises(tollgate.TollgateError, match="eager_automata_ms"):
        tollgate.Compiler(llama3, threads=1, eager_automata_ms=-1)
    vocab = llama3.vocab_size
    steps = deferred = 0
    for f in files:
        case = json.loads(f.read_text())
        try:
            ge = eager.compile_json_schema(case["schema"])
        except tollgate.GrammarError:
            continue
        gl = lazy.compile_json_schema(case["schema"])
        assert ge.stats["lexemes_built"] == ge.stats["lexemes"]
        assert gl.stats["lexemes"] == ge.stats["lexemes"]
        assert gl.stats["dfa_states"] <= ge.stats["dfa_states"]
        deferred += gl.stats["lexemes_built"] < gl.stats["lexemes"]
        # time enough for all of them: every lexeme built in the compile, as with 2**64-1 states
        gt = timed.compile_json_schema(case["schema"])
        assert gt.stats["lexemes_built"] == gt.stats["lexemes"]
        for t in case["tests"]:
            if not t.get("valid") or "tokens_llama3" not in t:
                continue
            ml, me = tollgate.Matcher(gl), tollgate.Matcher(ge)
            bl, be = tollgate.allocate_token_bitmask(1, vocab), tollgate.allocate_token_bitmask(1, vocab)
            for tid in t["tokens_llama3"]:
                ml.fill_next_token_bitmask(bl)
                me.fill_next_token_bitmask(be)
                assert np.array_equal(bl, be), f.name
                steps += 1
                assert ml.accept_token(tid) == me.accept_token(tid)
            break
    assert steps > 300 and deferred >= 6, (steps, deferred)


def test_a_new_compiler_is_warmed_up_unless_told_not_to(llama3):
    # Compiler(warm_up_json=True) (the default) compiles a small schema and walks one document of
    # it when it is made: its first real schema takes lexeme automata from that; with False the
    # first schema builds every one itself. The masks are the same either way.
    import numpy as np

    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name"]}
    warm = tollgate.Compiler(llama3, threads=1)
    cold = tollgate.Compiler(llama3, threads=1, warm_up_json=False)
    gw, gc = warm.compile_json_schema(schema), cold.compile_json_schema(schema)
    assert gc.stats["lexemes_shared"] == 0
    assert gw.stats["lexemes_shared"] > 0
    doc = '{"name": "Ada", "age": 36}'
    mw, mc = tollgate.Matcher(gw), tollgate.Matcher(gc)
    bw, bc = (tollgate.allocate_token_bitmask(1, llama3.vocab_size) for _ in range(2))
    for ch in doc:
        mw.fill_next_token_bitmask(bw)
        mc.fill_next_token_bitmask(bc)
        assert np.array_equal(bw, bc), ch
        assert mw.accept_bytes(ch.encode()) and mc.accept_bytes(ch.encode())
    assert mw.is_accepting() and mc.is_accepting()
