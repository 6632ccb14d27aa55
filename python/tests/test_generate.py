import json
import re

import pytest

import tollgate


@pytest.fixture(scope="module")
def object_regex(corpora):
    return json.loads((corpora / "bench-regexes.json").read_text())["json-object6"]


def test_constrained_generation_matches_the_regex(object_regex):
    finished = 0
    for seed in range(4):
        r = tollgate.generate("", regex=object_regex, max_tokens=300, temperature=0.8, seed=seed)
        # Whatever the stop reason, the output is a live prefix of the language...
        model, encoder, compiler = tollgate._load(tollgate.default_model_dir())
        m = tollgate.Matcher(compiler.compile_regex(object_regex))
        assert m.accept_bytes(r.text.encode())
        # ...and when the model stopped by itself, it is a complete match.
        if r.stop_reason == "eos":
            assert r.grammar_accepting
            assert re.fullmatch(object_regex, r.text)
            finished += 1
        assert r.stats["tokens"] == len(r.token_ids)
        assert r.stats["forced_tokens"] > 0  # jump-forward fed the literal keys
    assert finished >= 2


def test_generation_is_reproducible_and_jump_forward_is_equivalent(object_regex):
    a = tollgate.generate("", regex=object_regex, max_tokens=120, temperature=0.8, seed=7)
    b = tollgate.generate("", regex=object_regex, max_tokens=120, temperature=0.8, seed=7)
    assert a.text == b.text and a.token_ids == b.token_ids
    greedy = tollgate.generate("", regex=r"(yes|no)", max_tokens=8, temperature=0)
    assert greedy.text in ("yes", "no") and greedy.stop_reason == "eos"


def test_builtin_json_generation_is_json_when_finished():
    for seed in range(3):
        r = tollgate.generate("", json=True, max_tokens=200, temperature=0.7, seed=seed)
        if r.stop_reason == "eos":
            json.loads(r.text)
        else:
            assert r.stop_reason == "max_tokens"


def test_unconstrained_generation_and_bad_arguments():
    r = tollgate.generate("The licence", max_tokens=16, temperature=0.7, seed=1)
    assert r.stats["tokens"] <= 16 and r.stop_reason in ("eos", "max_tokens")
    with pytest.raises(ValueError):
        tollgate.generate("", regex="a", json=True)
    with pytest.raises(tollgate.TollgateError):
        tollgate.generate("", regex="(a")


def test_generate_with_every_grammar_kind():
    """regex=, grammar= (GBNF and Lark), json=True and json_schema=: each output is a live prefix of its
    constraint, and a complete match when the model stopped by itself."""
    model, encoder, compiler = tollgate._load(tollgate.default_model_dir())
    kinds = [({"regex": r"(yes|no)"}, compiler.compile_regex(r"(yes|no)")),
             ({"grammar": 'root ::= "(" [a-z]+ ")"'}, compiler.compile_grammar('root ::= "(" [a-z]+ ")"')),
             ({"grammar": 'start: "[" NUM "]"\nNUM: /[0-9]+/', "grammar_format": "lark"},
              compiler.compile_grammar('start: "[" NUM "]"\nNUM: /[0-9]+/', "lark")),
             ({"json": True}, compiler.builtin_json()),
             ({"json_schema": {"type": "boolean"}}, compiler.compile_json_schema({"type": "boolean"}))]
    for kwargs, compiled in kinds:
        r = tollgate.generate("", max_tokens=40, temperature=0.7, seed=3, **kwargs)
        m = tollgate.Matcher(compiled)
        assert m.accept_string(r.text), (kwargs, r.text)
        assert r.grammar_accepting == m.is_accepting()
        if r.stop_reason == "eos":
            assert m.is_accepting(), (kwargs, r.text)
    with pytest.raises(tollgate.GrammarError):
        tollgate.generate("", grammar='root ::= "a" missing')
