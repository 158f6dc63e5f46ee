#!/usr/bin/env bash
# Probes under load: 8 parallel `nettwin --backend linux check scenarios/` runs with both
# cores saturated by busy loops, repeated 10 times. Prints the load average per round and
# the number of failed runs (0 expected). Needs root; builds the release binary first.
#
#   tests/load-check.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
cargo build -q --release -p nettwin
out=$(mktemp -d)
for _ in 1 2 3 4; do (while :; do :; done) & done
trap 'kill $(jobs -p) 2>/dev/null; true' EXIT
fails=0 runs=0
for rep in $(seq 1 "$rounds"); do
  pids=()
  for j in $(seq 1 8); do
    ./target/release/nettwin --backend linux check scenarios/ > "$out/$rep-$j.out" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do
    runs=$((runs + 1))
    wait "$p" || fails=$((fails + 1))
  done
  echo "round $rep: load average $(cut -d' ' -f1-3 /proc/loadavg), failed runs so far $fails"
done
echo "runs $runs failures $fails (outputs in $out)"
[ "$fails" -eq 0 ]
