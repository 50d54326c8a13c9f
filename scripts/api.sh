#!/usr/bin/env bash
# The public API of each library, as listed by scripts/api-listing from rustdoc's JSON output
# (the pinned nightly: the JSON format is unstable), compared with the listing committed in
# api/<crate>.txt. A change of the API, intended or not, fails here with its diff.
#
# To accept a change: UPDATE_API=1 bash scripts/api.sh, then commit api/ with the change and
# say in the crate's CHANGELOG what users must do.
#
# Listed with every feature a user can turn on; not `__internal` (no semver guarantee).
set -euo pipefail
cd "$(dirname "$0")/.."

NIGHTLY=nightly-2026-05-20
OUT="${CARGO_TARGET_DIR:-target}/api"
declare -A FEATURES=(
    [avia-hx711]="async,defmt,sim"
    [esp-at]="atat,async,defmt,log,nb-uart,nal,nal-async,sim"
    [scale-node]="scan,guided-calibration,stock,async,defmt,std"
)

cargo build -q -p api-listing
LISTING="${CARGO_TARGET_DIR:-target}/debug/api-listing"
status=0
for crate in avia-hx711 esp-at scale-node; do
    CARGO_TARGET_DIR="$OUT" cargo +"$NIGHTLY" rustdoc -q -p "$crate" --lib \
        --features "${FEATURES[$crate]}" -- -Z unstable-options --output-format json -D warnings
    "$LISTING" "$OUT/doc/${crate//-/_}.json" >"$OUT/$crate.txt"
    if [ "${UPDATE_API:-0}" = 1 ]; then
        cp "$OUT/$crate.txt" "api/$crate.txt"
        echo "api/$crate.txt: $(wc -l <"api/$crate.txt") lines"
    elif ! diff -u "api/$crate.txt" "$OUT/$crate.txt"; then
        echo "$crate: the public API differs from api/$crate.txt (above: - committed, + now)" >&2
        status=1
    fi
done
if [ "$status" != 0 ]; then
    echo "if the change is intended: UPDATE_API=1 bash scripts/api.sh, and a CHANGELOG entry" >&2
fi
exit "$status"
