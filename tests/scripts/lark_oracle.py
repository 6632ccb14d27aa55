"""Second oracle for Lark grammars: parses strings with python3-lark's Earley parser and its
default `dynamic` lexer, whose terminal matching tollgate's Lark dialect follows (each terminal
matches, at each position, the text Python's re.match returns there; the parser follows every
terminal that matches).
usage: lark_oracle.py IN.json OUT.json
  IN:  [{"name": ..., "grammar": LARK TEXT, "strings": [...]}, ...]
  OUT: [{"verdict": [bool, ...]} or {"refused": "why Lark refuses the grammar"}, ...]"""
import json
import sys

import lark

out = []
for job in json.load(open(sys.argv[1], encoding="utf-8")):
    # Lark's own loader only knows // comments; whole-line # comments (accepted by llguidance and
    # by tollgate) are dropped before handing the grammar to Lark.
    grammar = "\n".join("" if l.lstrip().startswith("#") else l for l in job["grammar"].split("\n"))
    try:
        parser = lark.Lark(grammar, start="start", parser="earley", lexer="dynamic")
    except Exception as e:  # Lark itself refuses the grammar
        out.append({"refused": "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:200])})
        continue
    verdict = []
    for s in job["strings"]:
        try:
            parser.parse(s)
            verdict.append(True)
        except lark.exceptions.LarkError:
            verdict.append(False)
    out.append({"verdict": verdict})
json.dump(out, open(sys.argv[2], "w", encoding="utf-8"))
