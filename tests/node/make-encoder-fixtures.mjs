// make-encoder-fixtures.mjs — reference token ids from @lenml/tokenizers@3.7.2 (a fork of transformers.js).
// Takes: the data dir (default ../shared, or TOLLGATE_DATA_DIR). Gives:
//   tests/data/encoder/texts.json          the texts (collected by collect_texts.py)
//   tests/data/encoder/<tokenizer>.json    ids of every text, add_special_tokens = false
//   tests/data/replay/{llama3,llama2}.json strings matching the bench regexes, with canonical ids
// Run once by hand (cd tests/node && npm ci && node make-encoder-fixtures.mjs); the outputs are committed.
import { TokenizerLoader } from "@lenml/tokenizers";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");
const dataDir = process.env.TOLLGATE_DATA_DIR || path.resolve(repo, "..", "shared");
const reference = "@lenml/tokenizers@3.7.2";

function load(name) {
  // "retnet" is the reference model's own tokenizer, shipped in the repository.
  const dir = name === "retnet" ? path.join(repo, "models", "retnet") : path.join(dataDir, "tokenizers", name);
  return TokenizerLoader.fromPreTrained({
    tokenizerJSON: JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")),
    tokenizerConfig: JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")),
  });
}

// With tokenizer names as arguments (`node make-encoder-fixtures.mjs retnet`), only those fixtures are
// made, for the committed texts.json (prose under /usr/share/doc changes with the installed packages, so
// collecting again would not reproduce the texts the other fixtures were made for).
const only = process.argv.slice(2);
const encDir = path.join(repo, "tests", "data", "encoder");
let texts, replay;
if (only.length) {
  texts = JSON.parse(fs.readFileSync(path.join(encDir, "texts.json"), "utf8")).texts;
} else {
  const collected = path.join(repo, "build", "encoder-texts.json");
  fs.mkdirSync(path.dirname(collected), { recursive: true });
  execFileSync("/usr/bin/python3", [path.join(here, "collect_texts.py"), dataDir, collected], { stdio: "inherit" });
  ({ texts, replay } = JSON.parse(fs.readFileSync(collected, "utf8")));
  fs.mkdirSync(encDir, { recursive: true });
  fs.writeFileSync(path.join(encDir, "texts.json"),
    JSON.stringify({ generator: "tests/node/collect_texts.py", texts }, null, 0) + "\n");
}
for (const name of ["llama3", "qwen3", "gpt4o", "retnet"].filter((n) => !only.length || only.includes(n))) {
  const tok = load(name);
  const ids = texts.map((t) => tok.encode(t.text, { add_special_tokens: false }));
  // One line per text keeps diffs and failures readable.
  const body = ids.map((v) => JSON.stringify(v)).join(",\n");
  fs.writeFileSync(path.join(encDir, `${name}.json`),
    `{"tokenizer": "${name}", "reference": "${reference}", "add_special_tokens": false, "ids": [\n${body}\n]}\n`);
  console.log(`${name}: ${ids.length} texts, ${ids.reduce((a, v) => a + v.length, 0)} ids`);
}

if (only.length) process.exit(0);
const replayDir = path.join(repo, "tests", "data", "replay");
fs.mkdirSync(replayDir, { recursive: true });
for (const name of ["llama3", "llama2"]) {
  const tok = load(name);
  const cases = replay.map((r) => {
    const ids = tok.encode(r.text, { add_special_tokens: false });
    const tokens = ids.map((id) => tok.model.vocab[id]);
    return { ...r, ids, tokens };
  });
  const withBos = tok.encode("x", { add_special_tokens: true });
  const notes = name === "llama2"
    ? "ids as encode(text, add_special_tokens=false): no BOS (with special tokens the tokenizer " +
      `prepends BOS id ${withBos[0]}). The Prepend-\u2581 normalizer makes the first token start with ` +
      "\u2581 (a space in token bytes); a matcher must drop that one leading space (LeadingSpace::kStrip)."
    : "ids as encode(text, add_special_tokens=false): no BOS; byte-level, no leading space is added.";
  fs.writeFileSync(path.join(replayDir, `${name}.json`), JSON.stringify({
    tokenizer: name, reference, add_special_tokens: false, bos_included: false,
    first_token_has_space_prefix: name === "llama2", notes, cases,
  }, null, 1) + "\n");
  console.log(`replay ${name}: ${cases.length} cases`);
}
