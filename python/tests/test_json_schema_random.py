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
import re

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


def _agreement(llama3, gen, order, schemas, validity):
    """Compiles `schemas` schemas of `gen` (each with 30 of its documents) in property order `order` and
    matches every document of those that compile against `validity(schema)(doc)`. Returns (compiled,
    checked, wrong): with 'any' the two must agree both ways; in schema order (where documents whose keys
    are out of order are refused on purpose) only an accepted invalid document is wrong."""
    compiler = tollgate.Compiler(llama3, threads=1)
    compiled = checked = 0
    wrong = []
    for _ in range(schemas):
        schema = gen.top()
        docs = [gen.instance() for _ in range(30)]
        try:
            grammar = compiler.compile_json_schema(json.dumps(schema), property_order=order)
        except tollgate.TollgateError:
            continue
        compiled += 1
        valid_of = validity(schema)
        for doc in docs:
            m = tollgate.Matcher(grammar)
            text = json.dumps(doc, separators=(",", ":"))
            accepted = m.accept_string(text) and m.is_accepting()
            valid = valid_of(doc)
            checked += 1
            if accepted != valid and (order == "any" or accepted):
                wrong.append(("accepted invalid" if accepted else "refused valid", json.dumps(schema), text))
    return compiled, checked, wrong


@pytest.mark.parametrize("order", ["any", "schema"])
@pytest.mark.parametrize("seed", range(8))
def test_random_schemas_agree_with_jsonschema(llama3, seed, order):
    gen = Gen(seed * 2 + (order == "schema") + 1000)
    compiled, checked, wrong = _agreement(llama3, gen, order, 250,
                                          lambda schema: jsonschema.Draft202012Validator(schema).is_valid)
    assert not wrong, wrong[:5]
    # the generator must keep producing schemas the compiler takes, or this checks nothing
    assert compiled >= 60 and checked >= 1800, (compiled, checked)


class UnevaluatedGen(Gen):
    """Schemas under unevaluatedProperties / unevaluatedItems: what they see is decided by which in-place
    branches (allOf, anyOf, oneOf, if/then/else, dependentSchemas, $ref) hold, so the branches name
    overlapping keys and tuples of different lengths; documents are small objects and arrays."""

    def arr(self, d):
        rng, s = self.rng, {}
        if rng.random() < 0.5:
            s["type"] = "array"
        if rng.random() < 0.7:
            s["prefixItems"] = [self.leaf(9) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.2:
            s["items"] = self.leaf(9)
        if rng.random() < 0.25:
            s["contains"] = self.leaf(9)
            if rng.random() < 0.5:
                s["minContains"] = rng.choice([0, 0, 1, 2])
            if rng.random() < 0.4:
                s["maxContains"] = rng.choice([0, 1, 2])
        return s

    def branch(self, d):
        rng, r = self.rng, self.rng.random()
        if r < 0.35:
            return self.obj(d + 1)
        if r < 0.6:
            return self.arr(d + 1)
        if r < 0.7:
            return {"$ref": "#/$defs/" + rng.choice(["p", "t"])}
        return self.combined(d + 1) if d < 2 else self.leaf(9)

    def combined(self, d):
        rng, r = self.rng, self.rng.random()
        if r < 0.25:
            return {"anyOf": [self.branch(d) for _ in range(rng.randint(2, 3))]}
        if r < 0.45:
            return {"oneOf": [self.branch(d) for _ in range(rng.randint(2, 3))]}
        if r < 0.65:
            s = {"if": self.branch(d)}
            if rng.random() < 0.8:
                s["then"] = self.branch(d)
            if rng.random() < 0.6:
                s["else"] = self.branch(d)
            return s
        if r < 0.8:
            return {"dependentSchemas": {rng.choice(KEYS): self.obj(d + 1)}}
        return {"allOf": [self.branch(d) for _ in range(rng.randint(1, 2))]}

    def top(self):
        rng = self.rng
        s = self.combined(0)
        if rng.random() < 0.5:
            s.update(self.obj(1) if rng.random() < 0.5 else self.arr(1))
        for kw in ("unevaluatedProperties", "unevaluatedItems"):
            if rng.random() < 0.7:
                s[kw] = False if rng.random() < 0.6 else self.leaf(9)
        if rng.random() < 0.2:  # one level down, under a property or an item
            s = {"properties": {"a": s}} if rng.random() < 0.5 else {"prefixItems": [s]}
        s["$defs"] = {"p": {"properties": {"b": self.leaf(9)}}, "t": {"prefixItems": [True, self.leaf(9)]}}
        return s

    def instance(self, d=0):
        rng, r = self.rng, self.rng.random()
        if r < 0.45 and d < 2:
            return {k: self.instance(d + 1) for k in rng.sample(KEYS, rng.randint(0, 3))}
        if r < 0.85 and d < 2:
            return [self.instance(d + 1) for _ in range(rng.randint(0, 4))]
        return rng.choice(VALS)


_APPLICATORS = {"properties", "patternProperties", "additionalProperties", "prefixItems", "items", "contains",
                "minContains", "maxContains", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas",
                "unevaluatedProperties", "unevaluatedItems", "$ref", "$defs", "const", "enum"}


def _json_equal(a, b):
    """JSON equality: true is not 1 at any depth (python3-jsonschema 4.10 finds [true] equal to [1])."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _evaluate(schema, inst, root):
    """(valid, evaluated keys, evaluated item indexes) of `inst` under `schema`, draft 2020-12, for the
    keywords UnevaluatedGen writes: the oracle of unevaluatedProperties / unevaluatedItems. python3-jsonschema
    4.10 gets these annotations wrong (additionalProperties given as a schema evaluates no key there; it
    sorts unevaluated items of mixed types for its message and raises), so the applicators and their
    annotations are walked here (and const / enum compared here), and only the other assertions (type,
    lengths, pattern, minimum, required, property counts and names) are asked of python3-jsonschema."""
    if isinstance(schema, bool):
        return schema, set(), set()
    asserts = {k: v for k, v in schema.items() if k not in _APPLICATORS}
    valid = jsonschema.Draft202012Validator(asserts).is_valid(inst) if asserts else True
    if "const" in schema:
        valid &= _json_equal(schema["const"], inst)
    if "enum" in schema:
        valid &= any(_json_equal(x, inst) for x in schema["enum"])
    keys, items = set(), set()

    def take(sub, value):
        ok, _, _ = _evaluate(sub, value, root)
        return ok

    if isinstance(inst, dict):
        named = schema.get("properties", {})
        pats = schema.get("patternProperties", {})
        for k, v in inst.items():
            matched = False
            if k in named:
                valid &= take(named[k], v)
                matched = True
            for pat, sub in pats.items():
                if re.search(pat, k):
                    valid &= take(sub, v)
                    matched = True
            if matched:
                keys.add(k)
            elif "additionalProperties" in schema:
                valid &= take(schema["additionalProperties"], v)
                keys.add(k)
    if isinstance(inst, list):
        prefix = schema.get("prefixItems", [])
        for i, v in enumerate(inst):
            if i < len(prefix):
                valid &= take(prefix[i], v)
                items.add(i)
            elif "items" in schema:
                valid &= take(schema["items"], v)
                items.add(i)
        if "contains" in schema:
            hits = {i for i, v in enumerate(inst) if take(schema["contains"], v)}
            items |= hits
            valid &= schema.get("minContains", 1) <= len(hits) <= schema.get("maxContains", len(hits))

    def merge(sub):
        ok, k, i = _evaluate(sub, inst, root)
        if ok:
            keys.update(k)
            items.update(i)
        return ok

    if "$ref" in schema:  # "#/$defs/NAME", applied in place like a member of allOf
        valid &= merge(root["$defs"][schema["$ref"].rsplit("/", 1)[1]])
    for sub in schema.get("allOf", []):
        valid &= merge(sub)
    if "anyOf" in schema:
        valid &= sum(merge(sub) for sub in schema["anyOf"]) >= 1
    if "oneOf" in schema:
        valid &= sum(merge(sub) for sub in schema["oneOf"]) == 1
    if "not" in schema:
        valid &= not _evaluate(schema["not"], inst, root)[0]
    if "if" in schema:
        if merge(schema["if"]):
            valid &= merge(schema.get("then", True))
        else:
            valid &= merge(schema.get("else", True))
    if isinstance(inst, dict):
        for k, sub in schema.get("dependentSchemas", {}).items():
            if k in inst:
                valid &= merge(sub)
        if "unevaluatedProperties" in schema:
            for k, v in inst.items():
                if k not in keys:
                    valid &= take(schema["unevaluatedProperties"], v)
            keys = set(inst)
    if isinstance(inst, list) and "unevaluatedItems" in schema:
        for i, v in enumerate(inst):
            if i not in items:
                valid &= take(schema["unevaluatedItems"], v)
        items = set(range(len(inst)))
    return bool(valid), keys, items


@pytest.mark.parametrize("order", ["any", "schema"])
@pytest.mark.parametrize("seed", range(6))
def test_random_unevaluated_schemas_agree_with_the_reference(llama3, seed, order):
    gen = UnevaluatedGen(seed * 2 + (order == "schema") + 5000)
    compiled, checked, wrong = _agreement(llama3, gen, order, 200,
                                          lambda schema: lambda doc: _evaluate(schema, doc, schema)[0])
    assert not wrong, wrong[:5]
    assert compiled >= 60 and checked >= 1800, (compiled, checked)
