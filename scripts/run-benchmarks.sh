#!/usr/bin/env bash
# Runs every benchmark program in build/bench with 5 repetitions and prints the medians.
# Usage: scripts/run-benchmarks.sh [FILTER_REGEX]   (results go to stdout; copy them into docs/benchmarks.md
# with the machine, the date and `uptime`'s load average — these machines are shared and noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
filter="${1:-.}"
echo "# $(date -u +%Y-%m-%dT%H:%MZ)  $(nproc) cores  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
for b in build/bench/*; do
  [ -x "$b" ] || continue
  echo "## $(basename "$b")"
  "$b" --benchmark_filter="$filter" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
       2>/dev/null | grep -E "_median|^Benchmark|^-+$" || true
done
