"""Tests for the corpus builder (models/retnet/make_corpus.py): the seeded JSON-instance generator produces
schema-valid instances for most real maskbench-dev schemas and is deterministic, and the prose filter keeps
prose while dropping tables, hashes and Debian copyright stanzas."""
import glob
import json
import os
import random
import sys

import pytest

jsonschema = pytest.importorskip("jsonschema")

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "models", "retnet"))
import make_corpus as mc  # noqa: E402


def maskbench_files():
    files = sorted(glob.glob(os.path.join(mc.data_dir(), "corpora", "maskbench-dev", "*.json")))
    if not files:
        if os.environ.get("TOLLGATE_REQUIRE_DATA") == "1":
            pytest.fail("maskbench-dev corpus missing (TOLLGATE_DATA_DIR)")
        pytest.skip("maskbench-dev corpus not found under TOLLGATE_DATA_DIR")
    return files


def test_generator_produces_valid_instances_for_real_schemas():
    files = maskbench_files()[::20]  # ~110 schemas across all sources
    valid = tried = 0
    for path in files:
        schema = json.load(open(path, encoding="utf-8"))["schema"]
        validator = jsonschema.validators.validator_for(schema)(schema)
        g = mc.Gen(random.Random(1), schema)
        for _ in range(3):
            tried += 1
            try:
                inst = g.gen(schema)
            except (ValueError, RecursionError):
                continue
            valid += validator.is_valid(inst)
    assert tried >= 300
    assert valid / tried > 0.6, (valid, tried)


def test_generator_handles_simple_schema_features_and_is_seeded():
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 3, "maxLength": 20},
            "email": {"type": "string", "format": "email"},
            "when": {"type": "string", "format": "date-time"},
            "kind": {"enum": ["a", "b", "c"]},
            "count": {"type": "integer", "minimum": 5, "maximum": 9},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
            "ref": {"$ref": "#/definitions/point"},
        },
        "required": ["name", "kind", "count", "tags", "ref"],
        "definitions": {"point": {"type": "object", "properties": {"x": {"type": "number"}},
                                  "required": ["x"]}},
    }
    v = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    a = [mc.Gen(random.Random(42), schema).gen(schema) for _ in range(1)]
    gen = mc.Gen(random.Random(42), schema)
    insts = [gen.gen(schema) for _ in range(50)]
    assert insts[0] == a[0]  # same seed, same first instance
    assert len({json.dumps(i, sort_keys=True) for i in insts}) > 40  # and they vary
    for inst in insts:
        assert not list(v.iter_errors(inst)), inst
        assert 5 <= inst["count"] <= 9 and 1 <= len(inst["tags"]) <= 3


def test_paragraph_filter():
    prose = ("This program is free software: you can redistribute it and/or modify it under the terms of "
             "the GNU General Public License as published by the Free Software Foundation.")
    assert mc.clean_paragraph(prose) == prose
    assert mc.clean_paragraph("Files: src/*\nCopyright: 2001 A\nLicense: BSD-3-Clause") is None
    assert mc.clean_paragraph("| 1 | 2 | 3 |\n| 4 | 5 | 6 |\n| 7 | 8 | 9 |") is None
    assert mc.clean_paragraph("sha256: " + "ab12" * 40) is None
    assert mc.clean_paragraph("too short") is None
    docs = list(mc.group_paragraphs([prose] * 25, target=1500))
    assert len(docs) >= 2 and all(len(d) >= 1500 for d in docs[:-1])
