// Encodes texts with @lenml/tokenizers (the transformers.js tokenizer port) to cross-check our tokenizer.json.
// Takes: argv[2] = directory with tokenizer.json + tokenizer_config.json, argv[3] = JSON file with a list of
// strings; NODE_PATH (or a node_modules next to this script) must provide @lenml/tokenizers@3.7.2.
// Gives: a JSON list of {ids, decoded} on stdout, one entry per input string.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_PATH || process.cwd(), "x.js"));
const { TokenizerLoader } = require("@lenml/tokenizers");
const dir = process.argv[2];
const tok = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(readFileSync(path.join(dir, "tokenizer.json"), "utf8")),
  tokenizerConfig: JSON.parse(readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")),
});
const texts = JSON.parse(readFileSync(process.argv[3], "utf8"));
const out = texts.map((t) => {
  const ids = tok.encode(t, { add_special_tokens: false });
  return { ids, decoded: ids.length ? tok.decode(ids, { skip_special_tokens: false }) : "" };
});
process.stdout.write(JSON.stringify(out));
