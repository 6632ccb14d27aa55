"""uniqueItems (docs/json_schema.md): documents sampled inside the masks of unique-constrained schemas never
repeat an item and never reach a dead end (an empty mask before the document is complete), and validate with
python3-jsonschema. Small item sets (an enum, booleans, the empty string) make the sampler try duplicates
often; the maskbench-dev schemas that were refused for uniqueItems before are sampled too. The sampler is
test_json_schema_generated's (uniform inside the mask, then closing)."""
import json
import random

import numpy as np
import pytest

import tollgate
from test_json_schema_generated import _sample, _Unfinished, _Vocab

jsonschema = pytest.importorskip("jsonschema")

SMALL = [
    {"type": "array", "items": {"enum": ["a", "b", "ab"]}, "uniqueItems": True},
    {"type": "array", "items": {"type": "boolean"}, "uniqueItems": True, "minItems": 1},
    {"type": "array", "items": {"type": "string", "maxLength": 1000000}, "uniqueItems": True, "maxItems": 1},
    {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "minItems": 3},
    {"type": "array", "items": {"type": "integer"}, "uniqueItems": True, "minItems": 4},
    {"type": "array", "uniqueItems": True, "minItems": 3},
    {"prefixItems": [{"type": "boolean"}, {"enum": [True, None]}], "items": False, "uniqueItems": True},
    {"type": "object", "properties": {"tags": {"type": "array", "items": {"enum": ["x", "y"]}, "uniqueItems": True},
                                      "rows": {"type": "array", "uniqueItems": True,
                                               "items": {"type": "object", "properties": {"k": {"type": "boolean"}}}}},
     "required": ["tags", "rows"]},
]
UNIQUE_MASKBENCH = ["asconfig-schema", "asmdef", "drupal-migration", "drupal-permissions", "esmrc", "micro",
                    "project-1.0.0-beta4", "replit", "secrethub", "vss-extension"]


def _check(compiled, schema, vocab, rng, nprng, docs):
    validator = jsonschema.Draft202012Validator(schema)
    done = 0
    for _ in range(docs):
        try:
            text = _sample(compiled, vocab, rng, nprng)
        except _Unfinished:
            continue
        value = json.loads(text.decode("utf-8"))
        errors = list(validator.iter_errors(value))
        assert not errors, f"{json.dumps(schema)[:200]}: {text[:300]!r}: {errors[0].message}"
        done += 1
    return done


def test_small_item_sets(llama3):
    compiler = tollgate.Compiler(llama3, threads=1)
    vocab = _Vocab(llama3)
    rng, nprng = random.Random(3), np.random.default_rng(3)
    done = 0
    for schema in SMALL:
        done += _check(compiler.compile_json_schema(schema), schema, vocab, rng, nprng, 12)
    assert done >= len(SMALL) * 6


def test_maskbench_unique_schemas(shared, llama3):
    src = shared / "corpora" / "maskbench-dev"
    if not src.is_dir():
        pytest.skip(f"test data missing: {src}")
    compiler = tollgate.Compiler(llama3, threads=1)
    vocab = _Vocab(llama3)
    rng, nprng = random.Random(4), np.random.default_rng(4)
    done = 0
    for name in UNIQUE_MASKBENCH:
        schema = json.loads((src / f"JsonSchemaStore---{name}.json").read_text())["schema"]
        compiled = compiler.compile_json_schema(schema, property_order="any")
        schema = {k: v for k, v in schema.items() if k != "$schema"}  # validated as 2020-12 (draft-07 alike here)
        done += _check(compiled, schema, vocab, rng, nprng, 4)
    assert done >= 20
