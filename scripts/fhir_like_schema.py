#!/usr/bin/env python3
"""A FHIR-shaped JSON Schema, generated deterministically (nothing is downloaded).

Takes: a seed (default 0). Gives: a draft-06 schema of the shape of HL7 FHIR's fhir.schema.json —
about 1,100 `definitions` and 3.5 MB: primitive types as patterned strings/numbers, ~40 complex
datatypes that reference each other in cycles (Extension ⇄ Extension, Identifier → Reference →
Identifier), ~160 resources each with a `resourceType` const, ~6 backbone elements and
`additionalProperties: false`, `contained` arrays that refer back to the root `ResourceList`
(a `oneOf` over every resource, so the grammar is recursive through the root), enums for codes,
`_field` siblings for primitive fields, and long descriptions as in the real file.

Usage: scripts/fhir_like_schema.py [--seed N] > fhir.json; or import and call `fhir_like_schema()`.
"""
import argparse
import json
import random

WORDS = ("the of a resource that is to be used for this in patient clinical code value reference when by an or "
         "may element status record identifier period which as date time other system information care "
         "organization practitioner content specified not applies where must defined business rules").split()

PRIMITIVES = {
    "base64Binary": {"type": "string", "pattern": "^(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+$"},
    "boolean": {"pattern": "^true|false$", "type": "boolean"},
    "canonical": {"pattern": "^\\S*$", "type": "string"},
    "code": {"pattern": "^[^\\s]+(\\s[^\\s]+)*$", "type": "string"},
    "date": {"pattern": "^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$",
             "type": "string"},
    "dateTime": {"pattern": "^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])"
                            "(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$",
                 "type": "string"},
    "decimal": {"pattern": "^-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?$", "type": "number"},
    "id": {"pattern": "^[A-Za-z0-9\\-\\.]{1,64}$", "type": "string"},
    "instant": {"pattern": "^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])"
                           "T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$",
                "type": "string"},
    "integer": {"pattern": "^-?([0]|([1-9][0-9]*))$", "type": "number"},
    "markdown": {"pattern": "^[ \\r\\n\\t\\S]+$", "type": "string"},
    "oid": {"pattern": "^urn:oid:[0-2](\\.(0|[1-9][0-9]*))+$", "type": "string"},
    "positiveInt": {"pattern": "^[1-9][0-9]*$", "type": "number"},
    "string": {"pattern": "^[ \\r\\n\\t\\S]+$", "type": "string"},
    "time": {"pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?$", "type": "string"},
    "unsignedInt": {"pattern": "^[0]|([1-9][0-9]*)$", "type": "number"},
    "uri": {"pattern": "^\\S*$", "type": "string"},
    "url": {"pattern": "^\\S*$", "type": "string"},
    "uuid": {"pattern": "^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", "type": "string"},
    "xhtml": {"type": "string"},
}

# Complex datatypes: name → [(field, type, is_array)]. Cycles: Extension → Extension, Identifier → Reference →
# Identifier, Element → Extension → Element.
DATATYPES = {
    "Element": [("id", "string", False), ("extension", "Extension", True)],
    "Extension": [("id", "string", False), ("extension", "Extension", True), ("url", "uri", False)]
                 + [("value" + t[0].upper() + t[1:], t, False)
                    for t in ("base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id",
                              "instant", "integer", "markdown", "oid", "positiveInt", "string", "time",
                              "unsignedInt", "uri", "url", "uuid", "Address", "Annotation", "Attachment",
                              "CodeableConcept", "Coding", "ContactPoint", "Count", "Distance", "Duration",
                              "HumanName", "Identifier", "Money", "Period", "Quantity", "Range", "Ratio",
                              "Reference", "SampledData", "Signature", "Timing", "Meta")],
    "Narrative": [("id", "string", False), ("extension", "Extension", True), ("status", "@generated extensions additional empty", False),
                  ("div", "xhtml", False)],
    "Meta": [("id", "string", False), ("extension", "Extension", True), ("versionId", "id", False),
             ("lastUpdated", "instant", False), ("source", "uri", False), ("profile", "canonical", True),
             ("security", "Coding", True), ("tag", "Coding", True)],
    "Coding": [("id", "string", False), ("extension", "Extension", True), ("system", "uri", False),
               ("version", "string", False), ("code", "code", False), ("display", "string", False),
               ("userSelected", "boolean", False)],
    "CodeableConcept": [("id", "string", False), ("extension", "Extension", True), ("coding", "Coding", True),
                        ("text", "string", False)],
    "Reference": [("id", "string", False), ("extension", "Extension", True), ("reference", "string", False),
                  ("type", "uri", False), ("identifier", "Identifier", False), ("display", "string", False)],
    "Identifier": [("id", "string", False), ("extension", "Extension", True),
                   ("use", "@usual official temp secondary old", False), ("type", "CodeableConcept", False),
                   ("system", "uri", False), ("value", "string", False), ("period", "Period", False),
                   ("assigner", "Reference", False)],
    "Period": [("id", "string", False), ("extension", "Extension", True), ("start", "dateTime", False),
               ("end", "dateTime", False)],
    "Quantity": [("id", "string", False), ("extension", "Extension", True), ("value", "decimal", False),
                 ("comparator", "@< <= >= >", False), ("unit", "string", False), ("system", "uri", False),
                 ("code", "code", False)],
    "HumanName": [("id", "string", False), ("extension", "Extension", True),
                  ("use", "@usual official temp nickname anonymous old maiden", False), ("text", "string", False),
                  ("family", "string", False), ("given", "string", True), ("prefix", "string", True),
                  ("suffix", "string", True), ("period", "Period", False)],
    "Address": [("id", "string", False), ("extension", "Extension", True), ("use", "@home work temp old billing", False),
                ("type", "@postal physical both", False), ("text", "string", False), ("line", "string", True),
                ("city", "string", False), ("district", "string", False), ("state", "string", False),
                ("postalCode", "string", False), ("country", "string", False), ("period", "Period", False)],
    "ContactPoint": [("id", "string", False), ("extension", "Extension", True),
                     ("system", "@phone fax email pager url sms other", False), ("value", "string", False),
                     ("use", "@home work temp old mobile", False), ("rank", "positiveInt", False),
                     ("period", "Period", False)],
    "Attachment": [("id", "string", False), ("extension", "Extension", True), ("contentType", "code", False),
                   ("language", "code", False), ("data", "base64Binary", False), ("url", "url", False),
                   ("size", "unsignedInt", False), ("hash", "base64Binary", False), ("title", "string", False),
                   ("creation", "dateTime", False)],
    "Annotation": [("id", "string", False), ("extension", "Extension", True), ("authorReference", "Reference", False),
                   ("authorString", "string", False), ("time", "dateTime", False), ("text", "markdown", False)],
    "Range": [("id", "string", False), ("extension", "Extension", True), ("low", "Quantity", False),
              ("high", "Quantity", False)],
    "Ratio": [("id", "string", False), ("extension", "Extension", True), ("numerator", "Quantity", False),
              ("denominator", "Quantity", False)],
    "Money": [("id", "string", False), ("extension", "Extension", True), ("value", "decimal", False),
              ("currency", "code", False)],
    "Count": [("id", "string", False), ("extension", "Extension", True), ("value", "decimal", False),
              ("unit", "string", False), ("code", "code", False)],
    "Distance": [("id", "string", False), ("extension", "Extension", True), ("value", "decimal", False),
                 ("unit", "string", False), ("code", "code", False)],
    "Duration": [("id", "string", False), ("extension", "Extension", True), ("value", "decimal", False),
                 ("unit", "string", False), ("code", "code", False)],
    "SampledData": [("id", "string", False), ("extension", "Extension", True), ("origin", "Quantity", False),
                    ("period", "decimal", False), ("factor", "decimal", False), ("dimensions", "positiveInt", False),
                    ("data", "string", False)],
    "Signature": [("id", "string", False), ("extension", "Extension", True), ("type", "Coding", True),
                  ("when", "instant", False), ("who", "Reference", False), ("onBehalfOf", "Reference", False),
                  ("sigFormat", "code", False), ("data", "base64Binary", False)],
    "Timing": [("id", "string", False), ("extension", "Extension", True), ("modifierExtension", "Extension", True),
               ("event", "dateTime", True), ("repeat", "Timing_Repeat", False), ("code", "CodeableConcept", False)],
    "Timing_Repeat": [("id", "string", False), ("extension", "Extension", True), ("boundsDuration", "Duration", False),
                      ("boundsRange", "Range", False), ("boundsPeriod", "Period", False), ("count", "positiveInt", False),
                      ("frequency", "positiveInt", False), ("period", "decimal", False),
                      ("periodUnit", "@s min h d wk mo a", False), ("dayOfWeek", "code", True),
                      ("timeOfDay", "time", True), ("offset", "unsignedInt", False)],
    "ContactDetail": [("id", "string", False), ("extension", "Extension", True), ("name", "string", False),
                      ("telecom", "ContactPoint", True)],
    "UsageContext": [("id", "string", False), ("extension", "Extension", True), ("code", "Coding", False),
                     ("valueCodeableConcept", "CodeableConcept", False), ("valueQuantity", "Quantity", False),
                     ("valueRange", "Range", False), ("valueReference", "Reference", False)],
    "Dosage": [("id", "string", False), ("extension", "Extension", True), ("modifierExtension", "Extension", True),
               ("sequence", "integer", False), ("text", "string", False), ("timing", "Timing", False),
               ("asNeededBoolean", "boolean", False), ("route", "CodeableConcept", False),
               ("doseAndRate", "Dosage_DoseAndRate", True), ("maxDosePerPeriod", "Ratio", False)],
    "Dosage_DoseAndRate": [("id", "string", False), ("extension", "Extension", True), ("type", "CodeableConcept", False),
                           ("doseRange", "Range", False), ("doseQuantity", "Quantity", False),
                           ("rateRatio", "Ratio", False), ("rateQuantity", "Quantity", False)],
}

PRIMITIVE_FIELD_TYPES = ["string", "boolean", "dateTime", "code", "uri", "decimal", "integer", "date", "markdown",
                         "positiveInt", "unsignedInt", "canonical", "instant", "time", "id"]
COMPLEX_FIELD_TYPES = ["CodeableConcept", "Reference", "Identifier", "Period", "Quantity", "Annotation", "Coding",
                       "ContactPoint", "HumanName", "Address", "Attachment", "Timing", "Range", "Ratio", "Money",
                       "Dosage", "ContactDetail", "UsageContext", "Duration", "Signature"]


def _text(rng, lo, hi):
    words = [rng.choice(WORDS) for _ in range(rng.randint(lo, hi))]
    return (" ".join(words)).capitalize() + "."


def _name(rng, used, parts=2):
    syllables = ("ac me di co pa tho lo gy ser vi ce re qu est en coun ter ob ser va tion al ler gy im mu ni za "
                 "ti on pro ce du re ca re pl an go al de vi ce me di ca ti on sp ec im en").split()
    while True:
        n = "".join(rng.choice(syllables) for _ in range(rng.randint(parts, parts + 3)))
        if n not in used:
            used.add(n)
            return n


def _field(rng, ftype, is_array, desc):
    if ftype.startswith("@"):
        body = {"description": desc, "enum": ftype[1:].split()}
    else:
        body = {"description": desc, "$ref": "#/definitions/" + ftype}
    if is_array:
        return {"description": desc, "items": body if not ftype.startswith("@") else body, "type": "array"}
    return body


def _object(rng, fields, extra_first=()):
    props = {}
    for name, body in extra_first:
        props[name] = body
    for fname, ftype, is_array in fields:
        props[fname] = _field(rng, ftype, is_array, _text(rng, 2, 12))
        if ftype in PRIMITIVES and ftype not in ("xhtml",):
            elem = {"description": "Extensions for " + fname, "$ref": "#/definitions/Element"}
            props["_" + fname] = {"items": elem, "type": "array"} if is_array else elem
    return props


def _random_fields(rng, used, count, backbones, cuts, primitive_arrays):
    """`count` fields: a primitive below cuts[0], a datatype below cuts[1], an enum below cuts[2], else an
    array of one of the backbone elements."""
    fields = []
    for _ in range(count):
        fname = _name(rng, used, 1)
        pick = rng.random()
        if pick < cuts[0]:
            fields.append((fname, rng.choice(PRIMITIVE_FIELD_TYPES), rng.random() < primitive_arrays))
        elif pick < cuts[1]:
            fields.append((fname, rng.choice(COMPLEX_FIELD_TYPES), rng.random() < 0.4))
        elif pick < cuts[2]:
            fields.append((fname, "@" + " ".join(_name(rng, set(), 1) for _ in range(rng.randint(2, 9))), False))
        else:
            fields.append((fname, rng.choice(backbones), True))
    return fields


def fhir_like_schema(seed=0, resources=160, backbones_per_resource=6):
    rng = random.Random(seed)
    defs = {}
    for name, body in PRIMITIVES.items():
        defs[name] = dict(body, description=_text(rng, 10, 60))
    for name, fields in DATATYPES.items():
        defs[name] = {"description": _text(rng, 10, 40), "properties": _object(rng, fields),
                      "additionalProperties": False}
    used = set(defs)
    resource_names = []
    for r in range(resources):
        rname = _name(rng, used).capitalize()
        resource_names.append(rname)
        backbones = []
        for b in range(backbones_per_resource):
            bname = rname + "_" + _name(rng, used, 1).capitalize()
            backbones.append(bname)
        # backbone elements: fields of datatypes, primitives, and (sometimes) the next backbone or the
        # resource itself (FHIR's recursive backbone elements such as Questionnaire_Item).
        for i, bname in enumerate(backbones):
            fields = [("id", "string", False), ("extension", "Extension", True), ("modifierExtension", "Extension", True)]
            fused = {"id", "extension", "modifierExtension"}
            fields += _random_fields(rng, fused, rng.randint(4, 14), backbones, (0.4, 0.85, 0.93), 0.2)
            props = _object(rng, fields)
            defs[bname] = {"description": _text(rng, 10, 40), "properties": props, "additionalProperties": False}
        fields = [("id", "id", False), ("meta", "Meta", False), ("implicitRules", "uri", False),
                  ("language", "code", False), ("text", "Narrative", False)]
        contained = ("contained", {"description": _text(rng, 20, 60),
                                   "items": {"$ref": "#/definitions/ResourceList"}, "type": "array"})
        tail = [("extension", "Extension", True), ("modifierExtension", "Extension", True),
                ("identifier", "Identifier", True),
                ("status", "@" + " ".join(_name(rng, set(), 1) for _ in range(rng.randint(3, 8))), False)]
        fused = {f[0] for f in fields + tail} | {"contained", "resourceType"}
        tail += _random_fields(rng, fused, rng.randint(10, 40), backbones, (0.35, 0.8, 0.8), 0.15)
        rtype = ("resourceType", {"description": "This is a " + rname + " resource", "const": rname})
        props = _object(rng, fields, [rtype])
        props[contained[0]] = contained[1]
        props.update(_object(rng, tail))
        defs[rname] = {"description": _text(rng, 20, 100), "properties": props, "additionalProperties": False,
                       "required": ["resourceType"]}
    defs["ResourceList"] = {"oneOf": [{"$ref": "#/definitions/" + n} for n in resource_names]}
    return {
        "$schema": "http://json-schema.org/draft-06/schema#",
        "id": "http://example.org/fhir-like/json-schema",
        "description": "A generated schema of FHIR's shape (seed %d)" % seed,
        "discriminator": {"propertyName": "resourceType",
                          "mapping": {n: "#/definitions/" + n for n in resource_names}},
        "oneOf": [{"$ref": "#/definitions/" + n} for n in resource_names],
        "definitions": defs,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(json.dumps(fhir_like_schema(args.seed)))


if __name__ == "__main__":
    main()
