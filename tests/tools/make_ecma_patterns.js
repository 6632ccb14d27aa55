#!/usr/bin/env node
// Builds tests/data/ecma_patterns.json once: ECMA-262 patterns (every `pattern` value and
// `patternProperties` key of the maskbench-dev schemas, the JSON Schema Test Suite's pattern
// tests, and hand-written patterns with ^ $ \b \B in awkward places) × strings, each with the
// verdict of node's own RegExp engine (`new RegExp(p, 'u').test(s)`, the search semantics of
// JSON Schema `pattern`). Patterns node rejects in unicode mode are tried without the u flag
// ("legacy"); patterns it rejects in both are kept with mode "invalid" and no strings.
// Usage: node tests/tools/make_ecma_patterns.js [shared-dir] > tests/data/ecma_patterns.json
'use strict';
const fs = require('fs');
const path = require('path');

const shared = process.argv[2] || path.join(__dirname, '../../../shared');
const mb = path.join(shared, 'corpora/maskbench-dev');
const jsts = path.join(shared, 'corpora/jsts/tests');

// deterministic PRNG (mulberry32)
let seed = 12345;
function rand() {
  seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rand() * a.length)];

const patterns = new Map();  // pattern -> source
const pool = new Set();
function walkSchema(o, src) {
  if (Array.isArray(o)) { o.forEach((x) => walkSchema(x, src)); return; }
  if (o && typeof o === 'object') {
    for (const [k, v] of Object.entries(o)) {
      if (k === 'pattern' && typeof v === 'string' && !patterns.has(v)) patterns.set(v, src);
      if (k === 'patternProperties' && v && typeof v === 'object') {
        for (const kk of Object.keys(v)) if (!patterns.has(kk)) patterns.set(kk, src);
      }
      walkSchema(v, src);
    }
  }
}
function walkData(o) {
  if (typeof o === 'string') { if ([...o].length <= 80) pool.add(o); return; }
  if (Array.isArray(o)) { o.forEach(walkData); return; }
  if (o && typeof o === 'object') for (const [k, v] of Object.entries(o)) { if (k.length <= 80) pool.add(k); walkData(v); }
}

for (const f of fs.readdirSync(mb).sort()) {
  if (!f.endsWith('.json')) continue;
  const doc = JSON.parse(fs.readFileSync(path.join(mb, f), 'utf8'));
  walkSchema(doc.schema, 'maskbench-dev');
  for (const t of doc.tests || []) walkData(t.data);
}
const jstsFiles = [];
for (const d of ['draft2020-12', 'draft7']) {
  for (const f of ['pattern.json', 'patternProperties.json', 'optional/ecmascript-regex.json']) {
    const p = path.join(jsts, d, f);
    if (fs.existsSync(p)) jstsFiles.push(p);
  }
}
for (const p of jstsFiles) {
  for (const group of JSON.parse(fs.readFileSync(p, 'utf8'))) {
    walkSchema(group.schema, 'jsts');
    for (const t of group.tests) walkData(t.data);
  }
}
const handWritten = [
  '^a|b$', '(^|,)x', '(?:^foo)?bar', '\\bfoo\\b', '\\Bfoo', 'a\\b', '\\ba', '(\\b\\w+\\b\\s*)+$', '^$', '(a|^)+b',
  'x(^)?y', '\\b', '\\B', '^\\b$', '^\\B$', '(?:\\bab)*c', 'a^b', '$a', '(a$|b)c', '[]', '[^]', 'a[]', '[^]b', '.',
  'a{', 'a{1', 'x{2,}', '\\cJ', '\\0', '\\/', '\\s', '\\S\\s\\S', '\\u{1F600}', '\\p{L}+$', '^\\p{Lu}', '(?<=a)b',
  '(?=a)', '(a)\\1', '\\d\\b\\d', '\\w\\B\\w', '(^a|b)+$', '(a|b$)*c', '(\\b|x)+y', '(?:a\\b|b)*', '^(\\ba|b\\B)*$',
  '(?:(?:^|-)x)+', '^.$', '^.*$', '\\r?\\n$', '^[^\\n]*$', 'é\\b', '\\bé', '(?:$|a)b', '(?:x|$)$', '^?', '\\b{2}',
  '(?:^){2}a', '(?:\\b)+a', '(?:a*\\b)*b', '_\\b', '\\b_', '^\\w+(?:\\s+\\w+)*$', '(?:,|^)\\s*\\w+\\b',
  // lookaheads right after a leading ^ (compiled as intersections / complements)
  '^(?=.*\\d)(?=.*[a-z]).{4,}$', '^(?!\\s)(?!.*\\s$).+$', '^(?!(?:foo|bar)$)[a-z]+$', '^(?=[a-z])(?!.*--)[a-z0-9-]*$',
  '^(?!a)', '^(?=a$)', '^(?=(a|b)c)(?!.*x)', '^(?!\\b)\\w*', '^(?=[^)]*\\))a', '^(?!.*\\.$).*', '^(?=\\(?a)\\(?\\w',
];
for (const p of handWritten) if (!patterns.has(p)) patterns.set(p, 'hand');
// random patterns dense in assertions (nested groups, alternation, repeats around ^ $ \b \B)
function randomPattern(depth) {
  const atoms = ['a', 'b', ' ', '.', '\\w', '\\W', '[ab]', '^', '$', '\\b', '\\B', '\\b', '^', '$'];
  let out = '';
  const n = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < n; ++i) {
    let item = depth > 0 && rand() < 0.4 ? '(?:' + randomPattern(depth - 1) + (rand() < 0.5 ? '|' + randomPattern(depth - 1) : '') + ')' : pick(atoms);
    if (item.startsWith('(') && rand() < 0.6) item += pick(['*', '+', '?', '{0,2}', '{2}', '{1,}']);
    else if (/^[ab .[\\]/.test(item) && !/^\\[bB]$/.test(item) && rand() < 0.3) item += pick(['*', '+', '?']);
    out += item;
  }
  return out;
}
for (let k = 0; k < 60; ++k) {
  const p = randomPattern(2);
  if (!patterns.has(p)) patterns.set(p, 'hand');
}
const handAlphabet = ['a', 'b', 'x', 'y', 'f', 'o', 'c', ' ', ',', '-', '\n', '\r', '_', '1', 'é', '\u2028', 'A'];

function compile(p) {
  try { return { re: new RegExp(p, 'u'), mode: 'u' }; } catch (e) { /* try legacy */ }
  try { return { re: new RegExp(p), mode: 'legacy' }; } catch (e) { return { re: null, mode: 'invalid' }; }
}
function literalsOf(p) {
  // runs of characters that are not regex syntax, as seeds for strings
  return p.replace(/\\[dDwWsSbB]|\\u\{[0-9a-fA-F]+\}|\\[pP]\{[^}]*\}/g, ' ').split(/[\\\[\]()|*+?{}^$.]+/).filter((s) => s.length > 0);
}
function mutations(s) {
  const cs = [...s];
  const out = [s.slice(0, -1), cs.slice(1).join(''), 'x' + s, s + '\n', s + ' ', ' ' + s, s + s, s.toUpperCase(), s + 'a',
    '\n' + s, s + '_'];
  if (cs.length > 1) {
    const i = Math.floor(rand() * cs.length);
    out.push(cs.slice(0, i).concat(cs.slice(i + 1)).join(''));
    out.push(cs.slice(0, i).concat([pick(['a', '-', '.', '0', ' ', '/', 'Z'])], cs.slice(i)).join(''));
  }
  return out;
}

// A sample of the pool, short strings only: backtracking patterns such as ([^/]+(/)?)+$ take
// exponential time on long non-matching strings, so those patterns ("risky": a quantified group
// that contains a quantifier) only see strings of at most 12 code points.
const poolAll = [...pool].filter((s) => [...s].length <= 24).sort();
const poolArr = [];
for (let k = 0; k < 3000 && poolAll.length; ++k) poolArr.push(pick(poolAll));
const isRisky = (p) => /[*+}][^()]*\)[*+{]/.test(p) || /\)[*+{][^()]*\)[*+{]/.test(p);
const out = [];
for (const [p, source] of patterns) {
  const { re, mode } = compile(p);
  const entry = { pattern: p, source, mode, tests: [] };
  out.push(entry);
  if (!re) continue;
  const maxLen = isRisky(p) ? 12 : 40;
  const cand = new Set(['', 'a', ' ', '\n']);
  for (const l of literalsOf(p)) { cand.add(l); cand.add('a' + l + ' '); }
  if (source === 'hand') {
    for (let k = 0; k < 60; ++k) {
      const n = Math.floor(rand() * 6);
      let s = '';
      for (let i = 0; i < n; ++i) s += pick(handAlphabet);
      cand.add(s);
    }
  }
  const positives = poolArr.filter((s) => [...s].length <= maxLen && re.test(s));
  for (let k = 0; k < 4 && positives.length; ++k) cand.add(pick(positives));
  for (const s of [...cand]) if ([...s].length <= maxLen && re.test(s)) for (const m of mutations(s)) cand.add(m);
  for (let k = 0; k < 3; ++k) cand.add(pick(poolArr));
  const pos = [], neg = [];
  for (const s of cand) if ([...s].length <= maxLen) (re.test(s) ? pos : neg).push(s);
  const want = source === 'hand' ? 30 : 4;
  const choose = (arr) => {
    const a = arr.slice();
    const r = [];
    while (a.length && r.length < want) r.push(a.splice(Math.floor(rand() * a.length), 1)[0]);
    return r;
  };
  for (const s of choose(pos)) entry.tests.push([s, true]);
  for (const s of choose(neg)) entry.tests.push([s, false]);
}
process.stdout.write('{"generator": "tests/tools/make_ecma_patterns.js (node ' + process.version + ')",\n "patterns": [\n' +
  out.map((e) => '  ' + JSON.stringify(e)).join(',\n') + '\n]}\n');
