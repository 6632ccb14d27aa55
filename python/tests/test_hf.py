"""tollgate.hf.LogitsProcessor driven exactly as transformers' generate loop drives a logits processor
(transformers itself is not installable here): a left-padded batch whose prompts differ in length, random
torch logits as the model, greedy and sampled steps, finished rows padded. Four rows, four grammar kinds: a
regex, a GBNF grammar, the built-in JSON grammar and a JSON Schema; every row must finish inside its grammar."""
import json
import re

import numpy as np
import pytest

import tollgate
import tollgate.hf

torch = pytest.importorskip("torch")
jsonschema = pytest.importorskip("jsonschema")

REGEX = r"[a-z]{1,6}(-[a-z]{1,6}){0,3}"
GBNF = r'''root ::= "(" item (", " item)* ")"
item ::= [0-9]+ | "x" | root'''
SCHEMA = {"type": "object", "properties": {"id": {"type": "integer", "minimum": 0, "maximum": 9999}, "tags": {"type": "array", "items":
          {"type": "string", "maxLength": 8}, "maxItems": 3}},
          "required": ["id", "tags"], "additionalProperties": False}


def run_generate_loop(processor, tok, width, prompts, pad_id, seed, max_new_tokens=160):
    """transformers' _sample loop: scores from the 'model', processor(input_ids, scores), greedy or sampled
    choice, finished rows get pad_token_id, the new column is appended to input_ids."""
    gen = torch.Generator().manual_seed(seed)
    batch = len(prompts)
    longest = max(len(p) for p in prompts)
    input_ids = torch.full((batch, longest), pad_id, dtype=torch.long)
    for i, p in enumerate(prompts):  # left padding, as for decoder-only models
        input_ids[i, longest - len(p):] = torch.tensor(p)
    eos = set(tok.eos_token_ids)
    closers = [i for i in range(tok.num_tokens) if tok.token_bytes(i) and
               set(tok.token_bytes(i)) <= set(b'"}]),')] + list(eos)
    unfinished = torch.ones(batch, dtype=torch.long)
    for step in range(max_new_tokens):
        scores = torch.randn(batch, width, generator=gen) * 2.0
        # The "model" wants to end more and more as it goes on, so that every row finishes.
        scores[:, closers] += 0.15 * step
        scores = processor(input_ids, scores)
        assert scores.shape == (batch, width)
        if step % 2 == 0:
            next_tokens = torch.argmax(scores, dim=-1)
        else:
            probs = torch.softmax(scores, dim=-1)
            next_tokens = torch.multinomial(probs, num_samples=1, generator=gen).squeeze(1)
        next_tokens = next_tokens * unfinished + pad_id * (1 - unfinished)
        input_ids = torch.cat([input_ids, next_tokens[:, None]], dim=-1)
        unfinished = unfinished * torch.tensor([0 if t in eos else 1 for t in next_tokens.tolist()])
        if unfinished.max() == 0:
            break
    return input_ids[:, longest:], unfinished


@pytest.mark.parametrize("seed", [0])
def test_logits_processor_over_four_grammar_kinds(shared, seed):
    tok = tollgate.TokenizerInfo.from_tokenizer_json(str(shared / "tokenizers" / "llama3"))
    compiler = tollgate.Compiler(tok)
    grammars = [compiler.compile_regex(REGEX), compiler.compile_grammar(GBNF), compiler.builtin_json(),
                compiler.compile_json_schema(SCHEMA, whitespace="compact")]
    processor = tollgate.hf.LogitsProcessor(grammars, tok)
    pad_id = tok.eos_token_ids[0]
    prompts = [[128000, 9906], [128000, 791, 4320, 374, 25], [128000], [128000, 5618, 1176]]
    width = 128320  # Llama-3 style padded logits
    out, unfinished = run_generate_loop(processor, tok, width, prompts, pad_id, seed)
    assert unfinished.max() == 0, "every row finished"
    eos = set(tok.eos_token_ids)
    texts = []
    for row, ids in enumerate(out.tolist()):
        end = next(i for i, t in enumerate(ids) if t in eos)
        assert all(t == pad_id for t in ids[end + 1:])
        text = b"".join(tok.token_bytes(t) for t in ids[:end])
        check = tollgate.Matcher(grammars[row])
        assert check.accept_string(text) and check.is_accepting(), (row, text)
        texts.append(text.decode("utf-8"))
    assert re.fullmatch(REGEX, texts[0])
    assert texts[1].startswith("(") and texts[1].endswith(")")
    json.loads(texts[2])
    jsonschema.validate(json.loads(texts[3]), SCHEMA)
    # The rows that finished last have not fed their EOS to the processor yet (transformers stops before);
    # a further call does, and then leaves every finished row's scores alone.
    scores = torch.zeros(4, width)
    extra = torch.cat([out.new_full((4, 1), pad_id), out], dim=-1)
    assert torch.equal(processor(extra, scores), torch.zeros(4, width))
    assert processor.is_terminated() and all(m.is_terminated() for m in processor.matchers)


def test_logits_processor_shares_one_grammar_and_checks_its_input(shared):
    tok = tollgate.TokenizerInfo.from_tokenizer_json(str(shared / "tokenizers" / "llama3"))
    grammar = tollgate.Compiler(tok).compile_regex("(yes|no)")
    processor = tollgate.hf.LogitsProcessor(grammar, tok)
    ids = torch.tensor([[128000, 5], [128000, 6], [128000, 7]])
    scores = processor(ids, torch.zeros(3, tok.vocab_size, dtype=torch.bfloat16))
    allowed = torch.isfinite(scores.float())
    assert allowed.sum(dim=1).tolist() == [allowed[0].sum().item()] * 3
    assert all(tok.token_bytes(i) in (b"yes", b"no", b"y", b"n", b"ye") for i in
               torch.nonzero(allowed[0]).flatten().tolist())
    bad = torch.cat([ids, torch.tensor([[9906], [9906], [9906]])], dim=-1)  # "Hello" is not allowed
    with pytest.raises(ValueError, match="row 0"):
        processor(bad, torch.zeros(3, tok.vocab_size))
    with pytest.raises(ValueError, match="batch"):
        tollgate.hf.LogitsProcessor([grammar, grammar], tok)(ids, torch.zeros(3, tok.vocab_size))
    other = tollgate.TokenizerInfo.from_vocab([b"a", b"b"], eos_token_ids=[1])
    with pytest.raises(ValueError, match="vocab_size"):
        tollgate.hf.LogitsProcessor(grammar, other)
