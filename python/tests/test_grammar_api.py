import json

import numpy as np
import pytest

import tollgate


def allowed(bitmask, vocab):
    bits = np.unpackbits(bitmask.view(np.uint8), bitorder="little")[:vocab]
    return set(np.nonzero(bits)[0].tolist())


def test_builtin_json_replays_maskbench_tokens(llama3, corpora):
    compiler = tollgate.Compiler(llama3)
    compiled = compiler.builtin_json()
    assert compiler.builtin_json() is not None
    files = sorted((corpora / "maskbench-dev").glob("*.json"))[:40]
    bm = tollgate.allocate_token_bitmask(1, llama3.vocab_size)
    eos = llama3.eos_ids[0]
    docs = 0
    for f in files:
        for test in json.loads(f.read_text())["tests"]:
            if not test["valid"]:
                continue
            m = tollgate.Matcher(compiled)
            for tid in test["tokens_llama3"]:
                m.fill_next_token_bitmask(bm)
                assert tid in allowed(bm[0], llama3.vocab_size)
                assert m.accept_token(tid)
            m.fill_next_token_bitmask(bm)
            assert eos in allowed(bm[0], llama3.vocab_size)
            assert m.accept_token(eos) and m.is_terminated()
            docs += 1
    assert docs >= 40


def test_gbnf_grammar_and_jump_forward():
    tok = tollgate.TokenizerInfo.from_tokens([bytes([b]) for b in range(256)] + [b"<eos>"], eos_ids=[256],
                                             special_ids=[256])
    compiled = tollgate.Compiler(tok).compile_grammar('root ::= "{" "\\"name\\"" ":" [a-z]+ "}"', "gbnf")
    m = tollgate.Matcher(compiled)
    assert m.jump_forward() == b'{"name":'
    assert m.accept_bytes(b'{"name":abc')
    assert not m.is_accepting()
    assert m.accept_bytes(b"}") and m.is_accepting()


def test_grammar_errors_have_positions():
    tok = tollgate.TokenizerInfo.from_tokens([b"a"], eos_ids=[0])
    compiler = tollgate.Compiler(tok)
    with pytest.raises(tollgate.TollgateError) as info:
        compiler.compile_grammar('root ::= "a" missing\n', "gbnf", "g.gbnf")
    assert info.value.line == 1 and info.value.column == 14
    assert "missing" in str(info.value)
    with pytest.raises(ValueError):
        compiler.compile_grammar("start: (", "lark")
