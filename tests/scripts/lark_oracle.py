"""Second oracle for Lark grammars: parses strings with python3-lark (Earley, dynamic_complete lexer,
which, like tollgate, follows every way to cut the input into terminals).
usage: lark_oracle.py GRAMMAR.lark IN.json OUT.json   (IN: list of strings; OUT: list of booleans)"""
import json
import sys

import lark

grammar = open(sys.argv[1], encoding="utf-8").read()
# Lark's own loader only knows // comments; whole-line # comments (accepted by llguidance and by
# tollgate) are dropped before handing the grammar to Lark.
grammar = "\n".join("" if l.lstrip().startswith("#") else l for l in grammar.split("\n"))
try:
    parser = lark.Lark(grammar, start="start", parser="earley", lexer="dynamic_complete")
except lark.exceptions.GrammarError as e:  # Lark itself refuses the grammar
    print("lark refuses the grammar:", e, file=sys.stderr)
    sys.exit(3)
results = []
for s in json.load(open(sys.argv[2], encoding="utf-8")):
    try:
        parser.parse(s)
        results.append(True)
    except lark.exceptions.LarkError:
        results.append(False)
json.dump(results, open(sys.argv[3], "w"))
