#!/usr/bin/env bash
# Runs nettwin's fuzz targets under libFuzzer on the stable toolchain.
#
#   fuzz/run.sh [RUNS_PER_TARGET] [TARGET...]     (default: 2000000 runs, every target)
#
# Each target starts from the seeds (the scenario library, the malformed scenarios, the
# golden iptables files, the example jobs, fuzz/seeds/) and grows fuzz/corpus/<target>/
# (not committed). A crash is written to fuzz/crashes/<target>/; after its fix, keep it
# there: `cargo test -p nettwin-fuzz` replays every file of it.
#
# Coverage comes from the same instrumentation cargo-fuzz uses (sancov, 8-bit counters,
# compare tracing), passed by hand so no nightly toolchain is needed; `--target` keeps it
# off the build scripts.
set -euo pipefail
cd "$(dirname "$0")"
runs=${1:-2000000}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(op iptables_save scenario jobspec packet)
triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/libfuzzer/target}
(cd libfuzzer && cargo build --release --target "$triple" --bins)
bin=$CARGO_TARGET_DIR/$triple/release
seeds_of() {
  case $1 in
    op|iptables_save) echo ../core/tests/data/iptables ;;
    scenario) echo ../scenarios/library ../testdata/malformed-scenarios ;;
    jobspec) echo ../testdata/jobs ;;
    packet) echo seeds/packet ;;
  esac
}
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "crashes/$t"
  echo "== $t: $runs runs"
  # shellcheck disable=SC2046
  "$bin/$t" -runs="$runs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="crashes/$t/" -print_final_stats=1 "corpus/$t" $(seeds_of "$t") 2>&1 \
    | grep -E '^(#[0-9]+ *DONE|stat::number_of_executed_units|==[0-9]+==|SUMMARY|Done)' || true
done
