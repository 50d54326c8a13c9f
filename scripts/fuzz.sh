#!/usr/bin/env bash
# Runs every fuzz target: `bash scripts/fuzz.sh 60` for 60 s each (CI), or
# `bash scripts/fuzz.sh runs 10000000` for ten million executions each (the benchmark run).
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`) and the pinned nightly.
set -euo pipefail
cd "$(dirname "$0")/.."
NIGHTLY=nightly-2026-05-20
if [ "${1:-60}" = runs ]; then
    limit=(-runs="${2:-10000000}")
else
    limit=(-max_total_time="${1:-60}")
fi
for t in esp-at/fuzz:digest esp-at/fuzz:recv examples/gateway/fuzz:line scale-node/fuzz:config; do
    dir=${t%%:*} target=${t##*:}
    echo "=== fuzz $dir $target (${limit[*]})"
    start=$(date +%s)
    log=$(mktemp)
    status=0
    (cd "$dir" && cargo +"$NIGHTLY" fuzz run "$target" -- "${limit[@]}" -print_final_stats=1) > "$log" 2>&1 || status=$?
    grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' "$log" || true
    echo "    $(( $(date +%s) - start )) s"
    if [ "$status" -ne 0 ]; then
        tail -40 "$log" >&2
        echo "fuzz target $target failed (status $status)" >&2
        exit 1
    fi
    rm -f "$log"
done
