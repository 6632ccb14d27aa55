"""tollgate.vllm driven the way vLLM's v1 scheduler drives a structured-output backend: one batch of
requests with different grammars (MaskBench-dev JSON Schemas, json_object, GBNF corpus grammars,
bench regexes, a choice, a tool call in free text), each step: the scheduler truncates every speculative draft of k tokens to
what the grammar validates, the structured-output manager fills k+1 bitmask rows per request by
advancing the grammar along the draft and rolling it back, the "model" verifies the draft inside the
masks (partial acceptance) and adds a token of its own, and the scheduler accepts those tokens;
requests finish (EOS or max_tokens) and new ones arrive mid-run; one request's grammar is still
compiling for the first steps (the scheduler skips it without blocking), one does not compile (the
request is failed). Every finished output is checked with its grammar: jsonschema for schemas,
json.loads for JSON, re.fullmatch for regexes and the list grammar, membership for the choice.
Real Llama-3 token ids throughout."""
import json
import random
import re
import time

import jsonschema
import numpy as np
import pytest

import tollgate
from tollgate.vllm import StructuredOutputOptions, TollgateBackend

K = 3  # draft length
MAX_BATCH = 6
MAX_TOKENS = 160


def _bit(row, t):
    return (int(row[t >> 5]) >> (t & 31)) & 1


def _allowed(row, vocab):
    bits = np.unpackbits(np.ascontiguousarray(row).view(np.uint8), bitorder="little")[:vocab]
    return np.flatnonzero(bits)


class Request:
    def __init__(self, rid, kind, spec, check, reference=None):
        self.rid, self.kind, self.spec, self.check, self.reference = rid, kind, spec, check, reference
        self.output = []
        self.grammar = None
        self.finished = None  # "stop", "length" or "error"
        self.not_ready_steps = 0


def _maskbench(corpora, count):
    """(schema, reference tokens) of small MaskBench-dev schemas with a valid Llama-3 instance."""
    out = []
    for path in sorted((corpora / "maskbench-dev").glob("*.json"))[::37]:
        d = json.loads(path.read_text())
        if len(json.dumps(d["schema"])) > 1500:
            continue
        for t in d["tests"]:
            if t.get("valid") and "tokens_llama3" in t:
                toks = t["tokens_llama3"]
                toks = json.loads(toks) if isinstance(toks, str) else toks
                if 0 < len(toks) <= MAX_TOKENS - 10:
                    out.append((path.name, d["schema"], toks))
                    break
        if len(out) == count:
            break
    return out


def _slow_schema(corpora):
    """A larger MaskBench-dev schema (the largest under 16 KB with a short valid instance): its compile takes
    long enough to be seen still compiling by the first steps."""
    best = None
    for path in sorted((corpora / "maskbench-dev").glob("*.json"))[::3]:
        size = path.stat().st_size
        if size > 16000 or (best and size <= best[0]):
            continue
        d = json.loads(path.read_text())
        for t in d["tests"]:
            toks = t.get("tokens_llama3")
            toks = json.loads(toks) if isinstance(toks, str) else toks
            if t.get("valid") and toks and len(toks) <= MAX_TOKENS - 10:
                best = (size, d["schema"], toks)
                break
    return best[1], best[2]


def _greedy_tokens(tok, text):
    """Token ids spelling `text` (longest vocabulary match first): a valid, if not canonical, tokenization."""
    by_bytes = {}
    for t in range(tok.vocab_size):
        b = tok.token_bytes(t)
        if b and not tok.is_special(t):
            by_bytes.setdefault(b, t)
    data, out, i = text.encode(), [], 0
    while i < len(data):
        n = min(len(data) - i, 32)
        while data[i:i + n] not in by_bytes:
            n -= 1
        out.append(by_bytes[data[i:i + n]])
        i += n
    return out


def _text(tok, ids, eos):
    return b"".join(tok.token_bytes(t) for t in ids if t not in eos).decode("utf-8")


def test_scheduler_loop_with_speculative_drafts(llama3, corpora):
    tok = llama3
    eos = set(tok.eos_token_ids)
    backend = TollgateBackend(tokenizer=tok, vocab_size=tok.vocab_size)
    rng = random.Random(7)
    vocab = tok.vocab_size

    requests = []

    def add(kind, spec, check, reference=None):
        requests.append(Request(f"req-{len(requests)}", kind, spec, check, reference))

    # The request whose grammar is still compiling when the run starts.
    slow, slow_tokens = _slow_schema(corpora)
    add(StructuredOutputOptions.JSON, json.dumps(slow), lambda s: jsonschema.validate(json.loads(s), slow), slow_tokens)
    for name, schema, toks in _maskbench(corpora, 5):
        add(StructuredOutputOptions.JSON, json.dumps(schema),
            lambda s, schema=schema: jsonschema.validate(json.loads(s), schema), toks)
    _, _, obj = _maskbench(corpora, 6)[-1]
    add("json_object", "", lambda s: isinstance(json.loads(s), dict), obj)
    regexes = json.loads((corpora / "bench-regexes.json").read_text())
    for name in ("date-time", "phone", "uuid", "ipv4"):  # bounded: random sampling ends them
        add(StructuredOutputOptions.REGEX, regexes[name],
            lambda s, p=regexes[name]: re.fullmatch(p, s, re.S) is not None or pytest.fail(f"{s!r} !~ {p}"))
    gbnf = corpora / "gbnf"
    add(StructuredOutputOptions.GRAMMAR, (gbnf / "list.gbnf").read_text(),
        lambda s: re.fullmatch(r"(- [^\r\n\x0b\x0c\x85\u2028\u2029]+\n)+", s) is not None or pytest.fail(repr(s)))
    add(StructuredOutputOptions.GRAMMAR, (gbnf / "json.gbnf").read_text(), lambda s: json.loads(s))
    add(StructuredOutputOptions.GRAMMAR, (gbnf / "arithmetic.gbnf").read_text(), None)
    add(StructuredOutputOptions.GRAMMAR, 'start: "ok" | "fine" ("!")*\n', lambda s: re.fullmatch(r"ok|fine!*", s) or pytest.fail(repr(s)))
    add(StructuredOutputOptions.CHOICE, json.dumps(["yes", "no", "maybe (later)"]),
        lambda s: s in ("yes", "no", "maybe (later)") or pytest.fail(repr(s)))
    weather = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
               "required": ["city"], "additionalProperties": False}
    tool_spec = json.dumps({"structures": [{"begin": "<function=get_weather>", "schema": weather, "end": "</function>"}],
                            "triggers": ["<function="]})

    def check_tool_call(s):
        m = re.fullmatch(r"(?s)(.*?)<function=get_weather>(.*)</function>(.*)", s)
        assert m and "<function=" not in m.group(1) + m.group(3), repr(s)
        jsonschema.validate(json.loads(m.group(2)), weather)

    add(StructuredOutputOptions.STRUCTURAL_TAG, tool_spec, check_tool_call,
        _greedy_tokens(tok, 'Let me look that up. <function=get_weather>{"city": "Paris", "days": 3}</function> Done.'))
    add(StructuredOutputOptions.REGEX, "[a-z", None)  # does not compile: the request fails

    bitmask = backend.allocate_token_bitmask(MAX_BATCH * (K + 1))
    assert tuple(bitmask.shape) == (MAX_BATCH * (K + 1), tollgate.bitmask_words(vocab))
    waiting = list(requests)
    running = []
    finished = []
    step = partial = rollbacks = drafted = accepted_drafts = batched_checks = 0
    while (waiting or running) and step < 5000:
        step += 1
        # Arrivals: two requests join at the start, then one every other step (mid-run).
        for _ in range(2 if step == 1 else (1 if step % 2 == 0 else 0)):
            if waiting and len(running) < MAX_BATCH:
                r = waiting.pop(0)
                # The requests that sample freely run with max_tokens (the length budget), so they end
                # complete; the ones that follow a reference output run without.
                r.grammar = backend.compile_grammar(r.kind, r.spec,
                                                    max_tokens=MAX_TOKENS if r.reference is None else None)
                running.append(r)
        scheduled = []
        for r in running:
            if not r.grammar.is_ready():  # vLLM: WAITING_FOR_FSM; never blocks the step
                r.not_ready_steps += 1
                continue
            try:
                r.grammar.wait(0)
            except tollgate.GrammarError:
                r.finished = "error"
                continue
            scheduled.append(r)
        if not scheduled:
            running = [r for r in running if not r.finished] + []
            finished += [r for r in requests if r.finished == "error" and r not in finished]
            time.sleep(0.005)  # the engine runs other work (prefills) while grammars compile
            continue
        # Drafts (the drafter follows the reference or samples inside a fork's masks, and now and then
        # proposes a wrong token), truncated by the scheduler to what the grammar accepts.
        drafts = {}
        for r in scheduled:
            pos = len(r.output)
            if r.reference is not None:
                d = list(r.reference[pos:pos + K])
            else:
                f, d, row = r.grammar.matcher.fork(), [], np.zeros(tollgate.bitmask_words(vocab), np.int32)
                for _ in range(K):
                    f.fill_next_token_bitmask(row)
                    ok = [t for t in _allowed(row, vocab) if t not in eos]
                    if not ok:
                        break
                    d.append(int(rng.choice(ok)))
                    f.accept_token(d[-1])
            if d and rng.random() < 0.4:
                d[rng.randrange(len(d))] = rng.randrange(vocab)
            valid = r.grammar.validate_tokens(d)
            assert valid == d[: len(valid)]
            drafted += len(d)
            drafts[r.rid] = valid
        # The manager's bitmask: k+1 rows per request, advancing along the draft, then rolled back.
        rows, row_of = 0, {}
        for r in scheduled:
            row_of[r.rid] = rows
            advanced = 0
            for t in drafts[r.rid] + [None]:
                r.grammar.fill_bitmask(bitmask, rows)
                if t is not None:
                    assert _bit(bitmask[rows].numpy(), t), "a validated draft token is not in its row"
                    assert r.grammar.accept_tokens(r.rid, [t])
                    advanced += 1
                rows += 1
            r.grammar.rollback(advanced)
        if scheduled and step % 5 == 0:  # the batched fill gives the same first rows
            check = backend.allocate_token_bitmask(len(scheduled))
            backend.fill_bitmasks([r.grammar for r in scheduled], check, list(range(len(scheduled))))
            for i, r in enumerate(scheduled):
                assert np.array_equal(check[i].numpy(), bitmask[row_of[r.rid]].numpy())
            batched_checks += 1
        # The model verifies the draft inside the masks and samples one token of its own.
        for r in scheduled:
            base, d = row_of[r.rid], drafts[r.rid]
            new = []
            for i in range(len(d) + 1):
                row = bitmask[base + i].numpy()
                allowed = _allowed(row, vocab)
                assert len(allowed) > 0
                pos = len(r.output) + i
                if r.reference is not None:
                    want = r.reference[pos] if pos < len(r.reference) else min(eos & set(allowed.tolist()))
                    assert _bit(row, want), f"{r.rid}: reference token {want} masked at {pos}"
                elif len(r.output) + i >= 24 and any(_bit(row, e) for e in eos) and rng.random() < 0.7:
                    want = min(e for e in eos if _bit(row, e))
                else:
                    want = d[i] if i < len(d) and rng.random() < 0.75 else int(rng.choice(allowed))
                new.append(int(want))
                if i == len(d) or want != d[i]:
                    break
            accepted_drafts += len(new) - 1
            partial += len(new) - 1 < len(d)
            assert r.grammar.accept_tokens(r.rid, new)
            r.output += new
            # Now and then the engine rolls back what it just accepted and replays it (preemption of a
            # speculative step): the mask after the replay equals the mask before the rollback.
            if step % 3 == 0 and not r.grammar.is_terminated():
                before = backend.allocate_token_bitmask(1)
                r.grammar.fill_bitmask(before, 0)
                r.grammar.rollback(len(new))
                assert r.grammar.accept_tokens(r.rid, new)
                after = backend.allocate_token_bitmask(1)
                r.grammar.fill_bitmask(after, 0)
                assert np.array_equal(before.numpy(), after.numpy())
                rollbacks += 1
            if r.grammar.is_terminated():
                r.finished = "stop"
            elif len(r.output) >= MAX_TOKENS:
                r.finished = "length"
        finished += [r for r in running if r.finished]
        running = [r for r in running if not r.finished]
    backend.destroy()

    assert not waiting and not running, (f"not done after {step} steps", [(r.rid, r.kind, len(r.output), r.not_ready_steps) for r in running])
    by = {r.rid: r for r in finished}
    assert by["req-0"].not_ready_steps > 0, "the slow schema compiled before the first step"
    assert by[requests[-1].rid].finished == "error"
    stopped = 0
    for r in finished:
        if r.finished != "stop":
            continue
        stopped += 1
        assert r.output[-1] in eos
        text = _text(tok, r.output, eos)
        if r.check is not None:
            r.check(text)
        # Every finished output is also accepted, byte by byte, by a fresh matcher of its grammar.
        m = tollgate.Matcher(r.grammar.compiled_grammar)
        assert m.accept_bytes(text.encode()) and m.is_accepting(), r.rid
        if r.reference is not None:
            assert r.output[:-1] == list(r.reference)
    # Every request finishes within MAX_TOKENS (the free ones through their length budget, the others by
    # following their reference), except the one whose grammar does not compile. (Before the budget, a random
    # walk through a date-time's `\d+` fraction, among Llama-3's thousand digit tokens, could run out.)
    assert all(r.finished in ("stop", "error") for r in finished), \
        [(r.rid, r.kind, r.finished, _text(tok, r.output, eos)[:80]) for r in finished if r.finished not in ("stop", "error")]
    assert stopped == len(requests) - 1
    assert all(len(r.output) <= MAX_TOKENS for r in finished)
    assert partial > 0 and accepted_drafts > 0 and rollbacks > 0 and batched_checks > 0
    print(f"{step} steps, {len(finished)} requests ({stopped} stopped), {drafted} draft tokens, "
          f"{accepted_drafts} accepted, {partial} partial acceptances, {rollbacks} rollback replays")


def test_backend_api_shape(llama3):
    backend = TollgateBackend(tokenizer_info=llama3)
    g = backend.compile_grammar("choice", '["a", "b"]')
    g.wait(60)
    assert g.is_ready() and not g.is_terminated()
    a = [t for t in range(llama3.vocab_size) if llama3.token_bytes(t) == b"a"][0]
    assert g.validate_tokens([a, a]) == [a]
    assert g.accept_tokens("r", [a]) and g.num_processed_tokens == 1
    eos = llama3.eos_token_ids[0]
    assert g.accept_tokens("r", [eos]) and g.is_terminated()
    assert not g.accept_tokens("r", [a])  # terminated
    g.rollback(1)
    assert not g.is_terminated() and g.num_processed_tokens == 1
    g.reset()
    assert g.num_processed_tokens == 0
    # The same spec again: served by the compiled-grammar cache.
    backend.compile_grammar(StructuredOutputOptions.CHOICE, '["a", "b"]').wait(60)
    assert backend.stats()["hits"] >= 1
    with pytest.raises(ValueError, match="request type"):
        backend.compile_grammar("yaml", "x")
    with pytest.raises(ValueError, match="choice"):
        backend.compile_grammar("choice", "[]")
    with pytest.raises(ValueError, match="vocab_size"):
        TollgateBackend(tokenizer=llama3, vocab_size=llama3.vocab_size + 64)
    bad = backend.compile_grammar("grammar", "root ::= undefined_rule")
    bad_ready = False
    for _ in range(2000):
        if bad.is_ready():
            bad_ready = True
            break
        time.sleep(0.01)
    assert bad_ready
    with pytest.raises(tollgate.GrammarError):
        bad.fill_bitmask(backend.allocate_token_bitmask(1), 0)
