#!/usr/bin/env bash
# make fuzz: builds the libFuzzer targets of tests/fuzz (clang-14, -fsanitize=fuzzer,address,undefined,
# build dir build-fuzz) and runs each for FUZZ_SECONDS (one after the other, or all at once), at nice 19.
# Takes: FUZZ_SECONDS (default 60), FUZZ_TIMEOUT (per input, default 60 s; 30 s for fuzz_json_schema), FUZZ_TARGETS (default all),
# FUZZ_BUILD (default build-fuzz), FUZZ_NICE (default 19), FUZZ_PARALLEL=1 (run the targets at the same time instead of one after the other),
# TOLLGATE_DATA_DIR (seeds and the matcher's vocabulary; default ../shared), TOLLGATE_FUZZ_TOKENIZER (fuzz_json_schema's
# vocabulary: a directory name under $TOLLGATE_DATA_DIR/tokenizers, default llama2 when there; empty: the byte vocabulary).
# Gives: per target a log in $FUZZ_BUILD/logs/, a corpus in $FUZZ_BUILD/corpus/<target> (seeded at run
# time from tests/data and the data dir, fuzz_json_schema's in $FUZZ_BUILD/seeds; kept between runs, never committed), crash files in
# $FUZZ_BUILD/crashes/, and one summary line per target (executions, cov, ft, crashes).
# Exit status 1 when a target found a crash, leak, timeout or out-of-memory.
set -uo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
B=${FUZZ_BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
DATA=${TOLLGATE_DATA_DIR:-$SRC/../shared}
ALL="fuzz_regex fuzz_gbnf fuzz_lark fuzz_ebnf fuzz_tokenizer fuzz_safetensors fuzz_json_schema fuzz_matcher"
TARGETS=${FUZZ_TARGETS:-$ALL}

bash scripts/install-deps.sh --fuzz
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DTOLLGATE_FUZZ=ON -DTOLLGATE_BUILD_TESTS=OFF -DTOLLGATE_BUILD_BENCH=OFF -DTOLLGATE_BUILD_PYTHON=OFF \
  ${CMAKE_FLAGS:-} >/dev/null || exit 2
nice -n 10 cmake --build "$B" -j "${JOBS:-2}" --target $TARGETS || exit 2

# Seeds (copied, small files only).
seed() {  # seed <target> <files...>
  local dir="$B/corpus/$1"; shift
  mkdir -p "$dir"
  for f in "$@"; do
    [ -f "$f" ] && [ "$(stat -c %s "$f")" -le 65536 ] && cp -n "$f" "$dir/seed-$(basename "$f")" 2>/dev/null
  done
  return 0
}
seeds_from_json() {  # seeds_from_json <target> <python expression over `d` yielding strings> <json files...>
  local dir="$B/corpus/$1" expr=$2; shift 2
  mkdir -p "$dir"
  /usr/bin/python3 - "$dir" "$expr" "$@" <<'PY'
import hashlib, json, os, sys
out, expr, files = sys.argv[1], sys.argv[2], sys.argv[3:]
n = 0
for f in files:
    try:
        d = json.load(open(f))
    except Exception:
        continue
    for s in eval(expr):
        b = s if isinstance(s, bytes) else s.encode()
        if len(b) > 65536 or n >= 400: continue
        p = os.path.join(out, 'seed-' + hashlib.sha1(b).hexdigest()[:16])
        if not os.path.exists(p):
            open(p, 'wb').write(b)
        n += 1  # the same 400 each run, whether written now or before
PY
}
seeds_from_json fuzz_regex "[e['regex'] for e in d if isinstance(e, dict) and 'regex' in e] if isinstance(d, list) else []" \
  tests/data/regex_corpus.json tests/data/ecma_patterns.json
seeds_from_json fuzz_regex "d if isinstance(d, list) and all(isinstance(x, str) for x in d) else [x.get('regex', x.get('pattern', '')) for x in (d if isinstance(d, list) else d.values()) if isinstance(x, dict)]" \
  "$DATA/corpora/bench-regexes.json"
seed fuzz_gbnf "$DATA"/corpora/gbnf/*.gbnf
seeds_from_json fuzz_gbnf "[c['grammar'] for c in d['cases']]" "$DATA/corpora/cfg-vectors/llamacpp-gbnf.json"
seed fuzz_lark tests/data/lark/*.lark "$DATA"/corpora/llguidance/sample_parser/data/*.lark
seeds_from_json fuzz_lark "[c['grammar'] for c in d['cases']]" "$DATA/corpora/cfg-vectors/llguidance-lark.json"
# EBNF (W3C style, `::=`): the GBNF corpus is close enough to start from.
seed fuzz_ebnf "$DATA"/corpora/gbnf/*.gbnf
seed fuzz_safetensors tests/data/retnet/*.safetensors
# Tokenizers: the first 400 ids of each real tokenizer.json (with the merges among them).
mkdir -p "$B/corpus/fuzz_tokenizer"
/usr/bin/python3 - "$B/corpus/fuzz_tokenizer" "$DATA"/tokenizers/*/tokenizer.json <<'PY'
import json, os, sys
out = sys.argv[1]
for f in sys.argv[2:]:
    name = os.path.basename(os.path.dirname(f))
    p = os.path.join(out, 'seed-' + name)
    if os.path.exists(p): continue
    d = json.load(open(f))
    m = d.get('model', {})
    if isinstance(m.get('vocab'), dict):
        keep = {k: v for k, v in m['vocab'].items() if v < 400}
        m['vocab'] = keep
        if 'merges' in m:
            def parts(x): return x.split(' ', 1) if isinstance(x, str) else x
            m['merges'] = [x for x in m['merges'] if all(p in keep for p in parts(x)) and ''.join(parts(x)) in keep][:200]
    elif isinstance(m.get('vocab'), list):
        m['vocab'] = m['vocab'][:400]
    d['added_tokens'] = [a for a in d.get('added_tokens', []) if a.get('id', 0) < 400][:5]  # ids stay small
    open(p, 'w').write(json.dumps(d))
PY
# Schemas: a small seed set in $B/seeds/fuzz_json_schema (rewritten each run; the corpus directory
# keeps only what the fuzzer found): the smallest maskbench-dev and draft 2020-12 JSON-Schema-Test-Suite
# schemas (compact JSON, <= 2 KiB) that together use every keyword and format those corpora use, then the smallest
# schema of each further keyword signature, up to 120. Hundreds of seeds took the whole run to read under ASan.
rm -rf "$B/seeds/fuzz_json_schema" && mkdir -p "$B/seeds/fuzz_json_schema" "$B/corpus/fuzz_json_schema"
find "$B/corpus/fuzz_json_schema" -name 'seed-*' -delete  # seeds an older fuzz.sh copied there
/usr/bin/python3 - "$B/seeds/fuzz_json_schema" "$DATA"/corpora/maskbench-dev/*.json "$DATA"/corpora/jsts/tests/draft2020-12/*.json <<'PY'
import hashlib, json, os, sys
out, files = sys.argv[1], sys.argv[2:]
KEYWORDS = set('''type properties required additionalProperties items prefixItems additionalItems anyOf oneOf allOf not
  enum const minLength maxLength pattern minimum maximum exclusiveMinimum exclusiveMaximum multipleOf minItems maxItems
  uniqueItems minProperties maxProperties patternProperties propertyNames $ref $defs definitions $id id $anchor
  $dynamicRef $dynamicAnchor $recursiveRef if then else dependentRequired dependentSchemas dependencies
  unevaluatedProperties unevaluatedItems contains minContains maxContains'''.split())
def signature(s, acc):  # schema keywords used (not annotations, not property names), formats, types
    if isinstance(s, dict):
        for k, v in s.items():
            if k in KEYWORDS: acc.add(k)
            if k == 'format' or k == 'type': acc.add(k + ':' + json.dumps(v))
            if k in ('properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'):
                if isinstance(v, dict):
                    for x in v.values(): signature(x, acc)
            elif k not in ('enum', 'const', 'default', 'examples'):
                signature(v, acc)
    elif isinstance(s, list):
        for x in s: signature(x, acc)
    return acc
schemas = {}
for f in files:
    try:
        d = json.load(open(f))
    except Exception:
        continue
    for s in ([d['schema']] if isinstance(d, dict) and 'schema' in d else
              [t['schema'] for t in d if isinstance(t, dict) and 'schema' in t] if isinstance(d, list) else []):
        b = json.dumps(s, separators=(',', ':'), ensure_ascii=False).encode()
        if len(b) <= 2048:
            schemas[b] = frozenset(signature(s, set()))
order = sorted(schemas, key=lambda b: (len(b), b))
pick, covered, sigs = [], set(), set()
for b in order:  # smallest first: take a schema that uses something not yet covered
    if not schemas[b] <= covered:
        pick.append(b); covered |= schemas[b]; sigs.add(schemas[b])
for b in order:  # then one schema per further signature
    if len(pick) >= 120: break
    if schemas[b] not in sigs:
        pick.append(b); sigs.add(schemas[b])
for b in pick:
    open(os.path.join(out, 'seed-' + hashlib.sha1(b).hexdigest()[:16]), 'wb').write(b)
print(f'fuzz_json_schema: {len(pick)} seeds ({sum(map(len, pick))} bytes) of {len(schemas)} schemas, {len(covered)} keywords/formats', file=sys.stderr)
PY
mkdir -p "$B/corpus/fuzz_matcher"
[ -n "$(ls "$B/corpus/fuzz_matcher")" ] || head -c 256 /dev/urandom >"$B/corpus/fuzz_matcher/seed-random"

mkdir -p "$B/logs" "$B/crashes"
run() {  # run <target>: one libFuzzer run, its log in $B/logs
  local t=$1 extra=() timeout=${FUZZ_TIMEOUT:-60}
  [ "$t" = fuzz_tokenizer ] && extra=(-max_len=200000)
  [ "$t" = fuzz_json_schema ] && extra=("$B/seeds/$t" -max_len=16384) && timeout=${FUZZ_TIMEOUT:-30}
  local tok=${TOLLGATE_FUZZ_TOKENIZER-llama2}
  [ -f "$DATA/tokenizers/$tok/tokenizer.json" ] || tok=
  TOLLGATE_FUZZ_TOKENIZER=$tok TOLLGATE_DATA_DIR=$DATA nice -n "${FUZZ_NICE:-19}" "$B/fuzz/$t" "$B/corpus/$t" -max_total_time="$SECONDS_EACH" -timeout="$timeout" \
    -rss_limit_mb=2560 -artifact_prefix="$B/crashes/$t-" -print_final_stats=1 "${extra[@]}" >"$B/logs/$t.log" 2>&1
  echo $? >"$B/logs/$t.rc"
}
# FUZZ_PARALLEL=1: all the targets at once (wall time FUZZ_SECONDS in all), else one after the other.
for t in $TARGETS; do
  if [ "${FUZZ_PARALLEL:-0}" = 1 ]; then run "$t" & else run "$t"; fi
done
wait
status=0
for t in $TARGETS; do
  log="$B/logs/$t.log"
  rc=$(cat "$B/logs/$t.rc")
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*')
  corp=$(echo "$last" | grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' | cut -d' ' -f2)
  finding=$(grep -E -m1 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|==ERROR|check failed' "$log")
  echo "$t: ${SECONDS_EACH}s, ${execs:-?} executions (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}, exit $rc${finding:+, FINDING: $finding}"
  [ "$rc" = 0 ] || status=1
done
exit $status
