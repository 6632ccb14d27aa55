#!/usr/bin/env bash
# Installs the Debian packages tollgate needs to build, test and train.
# Idempotent: when everything is present it only runs dpkg-query and exits.
# --demo (what `make demo` runs): only what building the CLI and fetching the tokenizers need — not the
# test, Python and training packages (python3-torch alone is most of a fresh machine's download).
set -euo pipefail

DEMO_PKGS=(
  build-essential cmake pkg-config make git
  libboost-dev nlohmann-json3-dev libicu-dev libcli11-dev libhiredis-dev libssl-dev libjemalloc-dev
  nodejs npm
)
PKGS=(
  "${DEMO_PKGS[@]}"
  libre2-dev catch2 pybind11-dev libbenchmark-dev redis-server
  python3 python3-dev python3-numpy python3-pytest python3-jsonschema python3-lark
  python3-torch python3-matplotlib python3-regex python3-mypy
  libdlpack-dev
  python3-venv python3-pip python3-setuptools python3-wheel
  json-schema-test-suite
  libopenblas0-pthread
  tmux
)
case "${1:-}" in
  --demo) PKGS=("${DEMO_PKGS[@]}") ;;
  # `make fuzz` (scripts/install-deps.sh --fuzz): clang and libFuzzer, not needed for make test.
  --fuzz) PKGS+=(clang-14 libclang-rt-14-dev) ;;  # -fsanitize=fuzzer links libclang_rt.fuzzer
esac

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

# node/npm may already come from elsewhere on PATH; do not fight over them.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in nodejs|npm) ;; *) filtered+=("$p") ;; esac
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
  [ "${#missing[@]}" -eq 0 ] && exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
