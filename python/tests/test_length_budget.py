"""The length budget (Matcher.set_token_budget, tollgate.generate(length_budget=True)) and
jump-forward tokens (Matcher.find_jump_forward_tokens) from Python, on the reference RetNet and on
Llama-3."""
import json
import re

import jsonschema
import numpy as np
import pytest

import tollgate

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
                                           "age": {"type": "integer"}},
          "required": ["name", "tags", "age"]}


def _shortest(**constraint):
    _, encoder, compiler = tollgate._load(tollgate.default_model_dir())
    if "regex" in constraint:
        g = compiler.compile_regex(constraint["regex"])
    elif "json_schema" in constraint:
        g = compiler.compile_json_schema(constraint["json_schema"])
    else:
        g = compiler.compile_grammar(constraint["grammar"], constraint.get("grammar_format", "gbnf"))
    return tollgate.Matcher(g).shortest_completion_bytes()


def test_generate_with_small_max_tokens_ends_in_a_valid_document():
    shortest = _shortest(json_schema=SCHEMA)
    assert shortest == len('{"name":"","tags":[],"age":0}')
    cut = 0
    for extra, seed in [(0, 0), (3, 1), (10, 2), (10, 3), (25, 4), (25, 5)]:
        r = tollgate.generate("", json_schema=SCHEMA, max_tokens=shortest + extra, temperature=1.0, seed=seed)
        assert r.grammar_accepting, r
        assert len(r.token_ids) <= shortest + extra
        jsonschema.validate(json.loads(r.text), SCHEMA)
        cut += r.stop_reason == "max_tokens"
    assert cut > 0  # some were cut by max_tokens, and still complete


def test_generate_regex_and_lark_with_small_max_tokens():
    regex = r"[a-z]{2,40}@example\.(com|org)"
    for seed in range(4):
        r = tollgate.generate("", regex=regex, max_tokens=16, temperature=1.2, seed=seed)
        assert r.grammar_accepting and re.fullmatch(regex, r.text), r
    lark = 'start: "(" expr ")"\nexpr: NAME | expr "+" expr\nNAME: /[a-z]+/\n'
    for seed in range(4):
        r = tollgate.generate("", grammar=lark, grammar_format="lark", max_tokens=6, temperature=1.2, seed=seed)
        assert r.grammar_accepting and re.fullmatch(r"\([a-z]+(\+[a-z]+)*\)", r.text), r


def test_generate_refuses_a_budget_below_the_shortest_match_and_can_be_turned_off():
    with pytest.raises(ValueError, match="shortest match is 29 bytes"):
        tollgate.generate("", json_schema=SCHEMA, max_tokens=28)
    r = tollgate.generate("", json_schema=SCHEMA, max_tokens=28, length_budget=False, seed=1)
    assert r.stop_reason == "max_tokens" and not r.grammar_accepting


def test_matcher_budget_counts_rolls_back_and_forks(llama3):
    g = tollgate.Compiler(llama3).compile_grammar('root ::= "[" [0-9]+ ("," [0-9]+)* "]"')
    m = tollgate.Matcher(g)
    assert m.token_budget is None and m.shortest_completion_bytes() == 3
    with pytest.raises(ValueError, match="shortest completion is 3 bytes"):
        m.set_token_budget(2)
    m.set_token_budget(4)
    enc = tollgate.Encoder(llama3)
    for t in enc.encode("[1,"):
        assert m.accept_token(t)
    left = 4 - len(enc.encode("[1,"))
    assert m.token_budget == left
    f = m.fork()
    m.rollback(1)
    assert m.token_budget == left + 1 and f.token_budget == left
    mask = np.zeros((llama3.vocab_size + 31) // 32, dtype=np.int32)
    f.set_token_budget(2)  # "," then a digit and "]": only digit tokens after which "]" fits
    f.fill_next_token_bitmask(mask)
    allowed = [i for i in range(llama3.vocab_size) if (mask[i >> 5] >> (i & 31)) & 1]
    assert allowed
    for t in allowed:
        x = f.fork()
        assert x.accept_token(t)
        assert x.shortest_completion_bytes() <= 1
    f.set_token_budget(None)
    assert f.token_budget is None


def test_jump_forward_tokens_reencode_the_boundary(llama3):
    enc = tollgate.Encoder(llama3)
    g = tollgate.Compiler(llama3).compile_json_schema(
        {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": False},
        whitespace="compact")
    m = tollgate.Matcher(g)
    assert m.accept_token(enc.encode("{")[0])
    forced = m.jump_forward()
    assert forced == b'"name":"'
    plain = m.find_jump_forward_tokens(enc)
    assert plain[0] == 0 and enc.decode(plain[1]) == forced
    rb, ids = m.find_jump_forward_tokens(enc, max_rollback_tokens=4)
    assert enc.decode(ids) == b"{" + forced if rb == 1 else enc.decode(ids) == forced
    assert ids == enc.encode("{" + forced.decode())[1 - rb:]  # canonical across the boundary
    # After the rollback and the ids the matcher is where the bytes would have put it.
    a, b = m.fork(), m.fork()
    a.rollback(rb)
    for t in ids:
        assert a.accept_token(t)
    assert b.accept_bytes(forced)
    ma, mb = (np.zeros((llama3.vocab_size + 31) // 32, dtype=np.int32) for _ in range(2))
    a.fill_next_token_bitmask(ma)
    b.fill_next_token_bitmask(mb)
    assert (ma == mb).all()
    assert m.find_jump_forward_tokens(enc, max_rollback_tokens=0)[0] == 0
