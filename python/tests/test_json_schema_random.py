"""Random schemas against python3-jsonschema: combinators (not, if/then/else, oneOf, anyOf, allOf) over
small objects whose keys and values collide on purpose, so that complements of one key meet each other
(two `if`s on the same discriminator, a `not` over a pattern beside a required key). For every schema
the compiler accepts, each of a set of random documents is accepted exactly when jsonschema says it is
valid. With property_order 'any' the two must agree both ways; in schema order (where documents whose
keys are out of order are refused on purpose) no invalid document may be accepted. A schema the
compiler refuses is skipped: refusing is allowed, accepting a wrong language is not.

This found three bugs the corpora did not: two complements on one key kept only the second
(`{"t": "b"}` accepted past `if t = b then required y`), a key given both as a property and as a
complement was written twice, and a complement's string language was dropped when the key had no
schema of its own."""
import json
import random

import jsonschema
import pytest

import tollgate

KEYS = ["a", "b", "c"]
VALS = ["x", "y", "z", 0, 1, 2.5, True, None, [], [1], {}, {"a": "x"}, "xy", ""]


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)

    def leaf(self, d):
        rng, r = self.rng, self.rng.random()
        if r < 0.2:
            return {"const": rng.choice(VALS)}
        if r < 0.35:
            return {"enum": rng.sample(VALS, rng.randint(1, 3))}
        if r < 0.5:
            return {"type": rng.choice(["string", "integer", "number", "object", "array", "boolean", "null"])}
        if r < 0.6:
            return {"type": "string", rng.choice(["minLength", "maxLength"]): rng.randint(0, 2)}
        if r < 0.65:
            return {"pattern": rng.choice(["^x", "y$", "^x+$"])}
        if r < 0.7:
            return {"minimum": rng.choice([0, 1, 2])}
        return self.obj(d + 1) if d < 3 else {}

    def obj(self, d):
        rng, s = self.rng, {}
        if rng.random() < 0.5:
            s["type"] = "object"
        ks = rng.sample(KEYS, rng.randint(0, 3))
        if ks:
            s["properties"] = {k: self.schema(d + 1) for k in ks}
        if rng.random() < 0.5:
            s["required"] = rng.sample(KEYS, rng.randint(1, 2))
        r = rng.random()
        if r < 0.15:
            s["additionalProperties"] = False
        elif r < 0.2:
            s["additionalProperties"] = self.schema(d + 1)
        if rng.random() < 0.15:
            s["patternProperties"] = {rng.choice(["^a", "b", "^(a|c)$"]): self.schema(d + 1)}
        if rng.random() < 0.1:
            s["propertyNames"] = rng.choice([{"pattern": "^[ab]"}, {"maxLength": 1}, {"not": {"const": "c"}},
                                             {"enum": ["a", "b"]}])
        if rng.random() < 0.1:
            s["minProperties"] = rng.randint(0, 2)
        if rng.random() < 0.1:
            s["maxProperties"] = rng.randint(0, 2)
        return s

    def schema(self, d=0):
        rng = self.rng
        if d > 3:
            return self.leaf(9)
        r = rng.random()
        if r < 0.35:
            return self.leaf(d)
        if r < 0.5:
            return self.obj(d)
        if r < 0.6:
            return {"not": self.schema(d + 1)}
        if r < 0.7:
            s = {"if": self.schema(d + 1), "then": self.schema(d + 1)}
            if rng.random() < 0.6:
                s["else"] = self.schema(d + 1)
            return s
        if r < 0.75:  # a discriminator: `if` on one key's value
            k = rng.choice(KEYS)
            s = {"if": {"properties": {k: {"const": rng.choice(VALS[:4])}}}, "then": self.obj(d + 1)}
            if rng.random() < 0.3:
                s["if"]["required"] = [k]
            return s
        if r < 0.8:
            return {"oneOf": [self.schema(d + 1) for _ in range(rng.randint(2, 3))]}
        if r < 0.9:
            return {"anyOf": [self.schema(d + 1) for _ in range(rng.randint(2, 3))]}
        return {"allOf": [self.schema(d + 1) for _ in range(rng.randint(2, 3))]}

    def top(self):
        s = self.schema()
        return {"allOf": [s, self.schema()]} if self.rng.random() < 0.5 else s

    def instance(self, d=0):
        rng = self.rng
        if rng.random() < 0.6 and d < 2:
            return {k: self.instance(d + 1) for k in rng.sample(KEYS, rng.randint(0, 3))}
        return rng.choice(VALS)


@pytest.mark.parametrize("order", ["any", "schema"])
@pytest.mark.parametrize("seed", range(8))
def test_random_schemas_agree_with_jsonschema(llama3, seed, order):
    gen = Gen(seed * 2 + (order == "schema") + 1000)
    compiler = tollgate.Compiler(llama3, threads=1)
    compiled = checked = 0
    wrong = []
    for _ in range(250):
        schema = gen.top()
        docs = [gen.instance() for _ in range(30)]
        try:
            grammar = compiler.compile_json_schema(json.dumps(schema), property_order=order)
        except tollgate.TollgateError:
            continue
        compiled += 1
        validator = jsonschema.Draft202012Validator(schema)
        for doc in docs:
            m = tollgate.Matcher(grammar)
            text = json.dumps(doc, separators=(",", ":"))
            accepted = m.accept_string(text) and m.is_accepting()
            valid = validator.is_valid(doc)
            checked += 1
            if accepted != valid and (order == "any" or accepted):
                wrong.append(("accepted invalid" if accepted else "refused valid", json.dumps(schema), text))
    assert not wrong, wrong[:5]
    # the generator must keep producing schemas the compiler takes, or this checks nothing
    assert compiled >= 60 and checked >= 1800, (compiled, checked)
