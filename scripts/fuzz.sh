#!/usr/bin/env bash
# Coverage-guided fuzzing of the codec, the gateway's WebSocket JSON and its
# multipart parsing, and file-name cleaning (fuzz/README.md). Not run in CI.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Runs each target (default: all) for SECONDS (default 60) with libFuzzer via
# cargo-fuzz, then prints one line per target: runs, coverage, crashes. A crash
# leaves its input in fuzz/artifacts/TARGET/; reproduce it with
# `RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-...`
# (from the repository root), then make it a regular test and fix it.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). The sanitizer build needs a
# nightly compiler; on stable, RUSTC_BOOTSTRAP=1 (set here) unlocks the same
# flags. Exit status: 0 when no target crashed.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(codec ws_json multipart file_name)
fi
case $seconds in
    '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
if ! command -v cargo-fuzz >/dev/null; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 2
fi
export RUSTC_BOOTSTRAP=1

# Seeds from real frames and forms, written by the fuzz crate itself.
cargo run --quiet --manifest-path fuzz/Cargo.toml --bin seed-corpora -- fuzz/seeds
for t in "${targets[@]}"; do cargo fuzz build "$t"; done

mkdir -p fuzz/logs
status=0
summary=()
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    log="fuzz/logs/$target.log"
    before=$(find "fuzz/artifacts/$target" -type f | wc -l)
    echo "== $target for ${seconds}s (log: $log)"
    # -timeout: an input that takes over 10 s counts as a hang (a finding).
    # -rss_limit_mb: a runaway allocation is a finding too.
    if ! cargo fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1; then
        status=1
    fi
    runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
    crashes=$(( $(find "fuzz/artifacts/$target" -type f | wc -l) - before ))
    summary+=("$target: ${runs:-?} runs in ${seconds}s, coverage ${cov:-?} edges, corpus $(find "fuzz/corpus/$target" -type f | wc -l) inputs, new crashes $crashes")
    if [ "$crashes" -gt 0 ]; then
        status=1
        grep -m1 -A8 -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" || true
    fi
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
