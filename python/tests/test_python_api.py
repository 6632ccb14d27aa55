"""The Python API of issue 9 on the Llama-3 vocabulary: TokenizerInfo, Compiler, CompiledGrammar, Matcher,
allocate_token_bitmask / apply_token_bitmask_inplace on numpy arrays and torch CPU tensors (float32, float16,
bfloat16, padded widths, strided rows), GrammarError and ValueErrors, the GIL released while computing, and
8 Python threads filling masks at once."""
import json
import threading

import numpy as np
import pytest

import tollgate
from conftest import releases_the_gil

torch = pytest.importorskip("torch")

EMAIL = r"[a-z]{1,8}@[a-z]{2,6}\.(com|org)"
GBNF = r'''root ::= "(" item ("," item)* ")"
item ::= [0-9]+ | "x"'''


# Any JSON object (RFC 8259), written as a GBNF grammar.
OBJECT_GBNF = r"""root ::= ws object ws
value ::= object | array | string | number | "true" | "false" | "null"
object ::= "{" ws ( member ( ws "," ws member )* ws )? "}"
member ::= string ws ":" ws value
array ::= "[" ws ( value ( ws "," ws value )* ws )? "]"
string ::= "\"" ( [^"\\\x00-\x1f] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\""
number ::= "-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?
ws ::= [ \t\n\r]*"""


def allowed_ids(row, vocab):
    bits = np.unpackbits(np.ascontiguousarray(row).view(np.uint8), bitorder="little")[:vocab]
    return np.nonzero(bits)[0]


@pytest.fixture(scope="module")
def tok(shared):
    return tollgate.TokenizerInfo.from_tokenizer_json(str(shared / "tokenizers" / "llama3"))


@pytest.fixture(scope="module")
def compiler(tok):
    return tollgate.Compiler(tok, threads=2, cache_bytes=16 << 20)


def test_tokenizer_info(tok, shared):
    assert tok.vocab_size == 128256 and tok.num_tokens <= tok.vocab_size
    assert tok.eos_token_ids == tok.eos_ids and len(tok.eos_token_ids) >= 1
    assert tok.token_bytes(tok.eos_token_ids[0]).startswith(b"<|")
    assert tok.token_bytes(15339) == b"hello"
    # The fingerprint is stable across loads and names the vocabulary, not the object.
    again = tollgate.TokenizerInfo.from_file(str(shared / "tokenizers" / "llama3"))
    assert tok.fingerprint == again.fingerprint and len(tok.fingerprint) == 64
    other = tollgate.TokenizerInfo.from_tokenizer_json(str(shared / "tokenizers" / "qwen3"))
    assert other.fingerprint != tok.fingerprint
    padded = tollgate.TokenizerInfo.from_tokenizer_json(str(shared / "tokenizers" / "llama3"), vocab_size=128320)
    assert padded.vocab_size == 128320 and padded.fingerprint != tok.fingerprint
    # from_vocab: byte strings, EOS ids and a padded model vocabulary.
    vocab = [tok.token_bytes(i) for i in range(300)] + [b"<eos>"]
    small = tollgate.TokenizerInfo.from_vocab(vocab, eos_token_ids=[300], vocab_size=320, special_token_ids=[300])
    assert small.vocab_size == 320 and small.token_bytes(310) == b"" and small.is_special(310)
    assert small.fingerprint == tollgate.TokenizerInfo.from_tokens(vocab, [300], 320, [300]).fingerprint
    for bad in (-1, 320, 1 << 40):
        with pytest.raises((ValueError, TypeError, OverflowError)):
            small.token_bytes(bad)


def test_compiler_and_compiled_grammar(compiler, tok):
    regex = compiler.compile_regex(EMAIL)
    assert regex.num_states == regex.stats["dfa_states"] > 5
    assert regex.memory_size == regex.memory_bytes > 0
    assert regex.warnings == [] and regex.vocab_size == tok.vocab_size
    assert regex.tokenizer_info.fingerprint == tok.fingerprint
    gbnf = compiler.compile_grammar(GBNF, format="gbnf")
    lark = compiler.compile_grammar('start: "(" ITEM ("," ITEM)* ")"\nITEM: /[0-9]+|x/', format="lark")
    js = compiler.builtin_json()
    assert js is compiler.builtin_json() or js.num_states == compiler.builtin_json().num_states
    schema = compiler.compile_json_schema({"type": "object", "properties": {"a": {"type": "integer"}},
                                           "required": ["a"], "colour": 1})
    assert any("colour" in w.message for w in schema.warnings)
    for g, text in ((gbnf, "(12,x)"), (lark, "(12,x)"), (js, '{"a": [1, 2]}'), (schema, '{"a": 7}'),
                    (regex, "ab@cd.org")):
        m = tollgate.Matcher(g)
        assert m.accept_string(text) and m.is_accepting(), text


def test_matcher_walk(compiler, tok):
    m = tollgate.Matcher(compiler.compile_json_schema(
        {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}, whitespace="compact"))
    forced = m.find_jump_forward_string()
    assert forced.startswith('{"') and '{"name":"'.startswith(forced)
    assert m.jump_forward() == forced.encode()
    bm = tollgate.allocate_token_bitmask(2, tok.vocab_size)
    assert bm.shape == (2, 4008) and bm.dtype == np.int32 and (bm == -1).all()
    m.fill_next_token_bitmask(bm, index=1)
    first = allowed_ids(bm[1], tok.vocab_size)
    assert 0 < len(first) < 200 and all(tok.token_bytes(int(i)).startswith(b"{") for i in first)
    assert (bm[0] == -1).all()  # other rows untouched
    brace = int(next(i for i in first if tok.token_bytes(int(i)) == b'{"'))
    assert m.accept_token(brace) and m.num_accepted == 1
    assert not m.accept_token(tok.eos_token_ids[0])  # EOS before the text is complete
    branch = m.fork()
    assert branch.accept_string('name":"Ada"}') and branch.is_accepting()
    assert not m.is_accepting()  # the fork is independent
    assert branch.accept_token(tok.eos_token_ids[0]) and branch.is_terminated()
    branch.fill_next_token_bitmask(bm, 0)
    assert len(allowed_ids(bm[0], tok.vocab_size)) == 0  # nothing after termination
    branch.rollback(2)
    assert not branch.is_terminated() and branch.num_accepted == 1
    m.reset()
    assert m.num_accepted == 0 and m.find_jump_forward_string() == forced
    assert m.compiled_grammar.num_states > 0


def reference_mask(logits, bitmask, vocab):
    """What apply_token_bitmask_inplace should give, computed with numpy in float64."""
    out = np.array(logits, dtype=np.float64)
    rows = out.reshape(-1, out.shape[-1])
    bm = bitmask.reshape(-1, bitmask.shape[-1])
    for r in range(rows.shape[0]):
        keep = np.zeros(rows.shape[1], dtype=bool)
        keep[allowed_ids(bm[r], vocab)] = True
        rows[r, ~keep] = -np.inf
    return out


@pytest.mark.parametrize("kind", ["numpy-float32", "numpy-float16", "torch-float32", "torch-float16",
                                  "torch-bfloat16"])
def test_apply_token_bitmask_inplace(compiler, tok, kind):
    lib, dtype = kind.split("-")
    matchers = [tollgate.Matcher(compiler.compile_regex(EMAIL)), tollgate.Matcher(compiler.builtin_json())]
    matchers[1].accept_string('{"k": "v')
    bm = tollgate.allocate_token_bitmask(2, tok.vocab_size)
    for i, m in enumerate(matchers):
        m.fill_next_token_bitmask(bm, i)
    width = 128320  # a model's padded vocabulary: columns beyond 128256 are masked too
    rng = np.random.default_rng(5)
    base = rng.standard_normal((2, width)).astype(np.float32)

    def make(a):
        if lib == "numpy":
            return a.astype(dtype)
        return torch.from_numpy(a).to(getattr(torch, dtype))

    def as_f64(x):
        return x.astype(np.float64) if lib == "numpy" else x.double().numpy()

    # 2-D, every row.
    logits = make(base)
    expect = reference_mask(as_f64(make(base)), bm, width)
    data_before = logits.ctypes.data if lib == "numpy" else logits.data_ptr()
    assert tollgate.apply_token_bitmask_inplace(logits, bm) is None
    assert (logits.ctypes.data if lib == "numpy" else logits.data_ptr()) == data_before
    np.testing.assert_array_equal(as_f64(logits), expect)
    assert np.isneginf(as_f64(logits)[:, tok.vocab_size:]).all()
    # 1-D with one bitmask row.
    one = make(base[1].copy())
    tollgate.apply_token_bitmask_inplace(one, bm[1])
    np.testing.assert_array_equal(as_f64(one), expect[1])
    # indices: only row 1 is masked.
    part = make(base)
    tollgate.apply_token_bitmask_inplace(part, bm, indices=[1])
    np.testing.assert_array_equal(as_f64(part)[0], as_f64(make(base))[0])
    np.testing.assert_array_equal(as_f64(part)[1], expect[1])
    # Strided rows: the last position of (batch, seq, vocab) logits, masked in the original array.
    seq = make(np.stack([base, base, base], axis=1))  # (2, 3, width)
    tollgate.apply_token_bitmask_inplace(seq[:, -1, :], bm)
    np.testing.assert_array_equal(as_f64(seq[:, -1, :]), expect)
    np.testing.assert_array_equal(as_f64(seq[:, 0, :]), as_f64(make(base)))
    # A torch bitmask works as well as a numpy one.
    if lib == "torch":
        again = make(base)
        tollgate.apply_token_bitmask_inplace(again, torch.from_numpy(bm))
        np.testing.assert_array_equal(as_f64(again), expect)


def test_errors(compiler, tok):
    with pytest.raises(tollgate.GrammarError) as info:
        compiler.compile_grammar('root ::= "a" missing\n', "gbnf", "g.gbnf")
    e = info.value
    assert isinstance(e, ValueError) and isinstance(e, tollgate.TollgateError)
    assert (e.line, e.column) == (1, 14) and "missing" in e.message
    with pytest.raises(tollgate.GrammarError) as info:
        compiler.compile_regex("ab(c")
    assert info.value.line == 1 and info.value.column >= 1 and info.value.message
    with pytest.raises(tollgate.GrammarError) as info:
        compiler.compile_json_schema('{"type": "object",\n "properties": {"a": {"type": "strin"}}}')
    assert info.value.line == 2 and info.value.pointer == "/properties/a/type"
    with pytest.raises(tollgate.GrammarError) as info:
        compiler.compile_json_schema('{"type": \n  [}')
    assert info.value.line == 2 and info.value.kind == "parse error"

    m = tollgate.Matcher(compiler.compile_regex(EMAIL))
    # Wrong bitmask shape / dtype: a ValueError naming the expected shape.
    for bad in (np.zeros((1, 5), np.int32), np.zeros((1, 4009), np.int32), np.zeros((1, 4008), np.int64), np.zeros((2, 2, 4008), np.int32),
                torch.zeros(1, 4008, dtype=torch.float32)):
        with pytest.raises(ValueError, match=r"\(batch, 4008\)"):
            m.fill_next_token_bitmask(bad)
    with pytest.raises(ValueError, match="index 2"):
        m.fill_next_token_bitmask(tollgate.allocate_token_bitmask(2, tok.vocab_size), 2)
    with pytest.raises(ValueError, match="read-only"):
        ro = tollgate.allocate_token_bitmask(1, tok.vocab_size)
        ro.flags.writeable = False
        m.fill_next_token_bitmask(ro)
    with pytest.raises(ValueError, match="contiguous"):
        m.fill_next_token_bitmask(np.zeros((1, 8016), np.int32)[:, ::2])
    with pytest.raises(ValueError):
        m.fill_next_token_bitmask([0] * 4008)
    # Token ids out of range or negative.
    for bad in (-1, tok.vocab_size, 1 << 33):
        with pytest.raises(ValueError, match="outside the vocabulary"):
            m.accept_token(bad)
    assert m.num_accepted == 0
    with pytest.raises(ValueError):
        m.rollback(1)
    # apply: dtypes and shapes.
    bm = tollgate.allocate_token_bitmask(2, tok.vocab_size)
    with pytest.raises(ValueError, match=r"float32, float16 or bfloat16 array of shape \(batch, vocab\)"):
        tollgate.apply_token_bitmask_inplace(np.zeros((2, tok.vocab_size)), bm)
    with pytest.raises(ValueError, match=r"float32, float16 or bfloat16"):
        tollgate.apply_token_bitmask_inplace(torch.zeros(2, tok.vocab_size, dtype=torch.int64), bm)
    with pytest.raises(ValueError, match=r"shape \(3, 4008\)"):
        tollgate.apply_token_bitmask_inplace(np.zeros((3, tok.vocab_size), np.float32), bm)
    with pytest.raises(ValueError, match="index 5"):
        tollgate.apply_token_bitmask_inplace(np.zeros((2, tok.vocab_size), np.float32), bm, indices=[0, 5])
    with pytest.raises(ValueError, match="bitmask must be"):
        tollgate.apply_token_bitmask_inplace(np.zeros((2, tok.vocab_size), np.float32), bm.astype(np.int64))
    with pytest.raises(ValueError, match="contiguous"):
        tollgate.apply_token_bitmask_inplace(np.zeros((2, 2 * tok.vocab_size), np.float32)[:, ::2], bm)
    with pytest.raises(ValueError, match="bitmask must be"):
        tollgate.apply_token_bitmask_inplace(np.zeros((2, 200000), np.float32), bm, vocab_size=200000)  # too short
    with pytest.raises(ValueError):
        tollgate.allocate_token_bitmask(0, tok.vocab_size)


def test_gil_is_released_while_computing(tok):
    """While another thread compiles or applies a mask, this thread keeps running Python code: with the GIL
    held for the whole call it could run only between calls."""
    logits = np.zeros((48, tok.vocab_size), np.float32)
    bm = np.zeros((48, 4008), np.int32)
    released, _ = releases_the_gil(
        lambda: tollgate.Compiler(tok, threads=1).compile_regex(r"[a-z]{1,40}(,[a-z0-9]{1,40}){0,6}"))
    assert released
    # One call takes ~2 ms: sixteen in a row give this thread time to be scheduled on a busy machine
    # (with the switch interval at 100 s the worker keeps the GIL between calls: only a call that
    # releases it lets this thread in).
    released, _ = releases_the_gil(
        lambda: [tollgate.apply_token_bitmask_inplace(logits, bm) for _ in range(16)])
    assert released


def replay_masks(matcher, tokens, tok, bitmask, row):
    """Masks (as bytes) along a token sequence, accepting each token."""
    out = []
    for t in tokens:
        matcher.fill_next_token_bitmask(bitmask, row)
        out.append(bitmask[row].tobytes())
        assert matcher.accept_token(t)
    return out


def test_eight_threads_fill_masks_like_one(compiler, tok, corpora):
    # Eight MaskBench documents, each replayed by its own matcher: four under the built-in JSON grammar, four
    # under an object grammar in GBNF, so that the threads share some compiled grammars and not others.
    files = sorted((corpora / "maskbench-dev").glob("*.json"))[::53]
    object_gbnf = compiler.compile_grammar(OBJECT_GBNF)
    jobs = []
    for f in files:
        valid = [t for t in json.loads(f.read_text())["tests"] if t["valid"] and isinstance(t["data"], dict)]
        if valid:
            jobs.append((compiler.builtin_json() if len(jobs) % 2 else object_gbnf, valid[0]["tokens_llama3"][:60]))
        if len(jobs) == 8:
            break
    assert len(jobs) == 8
    single_bm = tollgate.allocate_token_bitmask(8, tok.vocab_size)
    single = [replay_masks(tollgate.Matcher(g), toks, tok, single_bm, i) for i, (g, toks) in enumerate(jobs)]
    results = [None] * 8
    shared_bm = tollgate.allocate_token_bitmask(8, tok.vocab_size)  # one bitmask, a row per thread
    barrier = threading.Barrier(8)

    def run(i):
        barrier.wait()
        g, toks = jobs[i]
        results[i] = replay_masks(tollgate.Matcher(g), toks, tok, shared_bm, i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == single
    assert sum(len(r) for r in results) > 100


class DLPackOnly:
    """An array that offers only the DLPack protocol (as JAX or CuPy CPU arrays do), backed by numpy."""

    def __init__(self, array):
        self.array = array

    def __dlpack__(self, stream=None):
        return self.array.__dlpack__()

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()


def test_dlpack_producers_are_read_without_copies(compiler, tok):
    m = tollgate.Matcher(compiler.compile_regex(EMAIL))
    backing = np.zeros((2, 4008), np.int32)
    m.fill_next_token_bitmask(DLPackOnly(backing), 1)  # written through DLPack into the numpy array
    assert (backing[0] == 0).all() and len(allowed_ids(backing[1], tok.vocab_size)) > 20
    for dtype in (np.float32, np.float16):
        logits = np.ones((2, tok.vocab_size), dtype)
        tollgate.apply_token_bitmask_inplace(DLPackOnly(logits), DLPackOnly(backing), indices=[1])
        assert (logits[0] == 1).all()
        assert set(np.nonzero(np.isfinite(logits[1]))[0]) == set(allowed_ids(backing[1], tok.vocab_size))
    with pytest.raises(ValueError, match=r"float32, float16 or bfloat16"):
        tollgate.apply_token_bitmask_inplace(DLPackOnly(np.ones((2, tok.vocab_size), np.int16)), backing)
