#!/usr/bin/env bash
# The whole test suite: formatting, lints, tests (all and default features), docs, no_std
# builds of every library for thumbv6m, thumbv7em, riscv32imc and avr-none, and publish dry-runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

AVR_NIGHTLY=nightly-2026-05-20
LIBS=(-p avia-hx711 -p esp-at -p scale-node)
NOSTD_FEATURES=avia-hx711/async,avia-hx711/defmt,esp-at/async,esp-at/defmt,esp-at/nal,scale-node/async,scale-node/defmt

step() { printf '\n=== %s\n' "$*"; }

step "rustfmt"
cargo fmt --all --check
step "clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings
step "tests, all features"
# the gateway's promise tests run the simulated node's binary against the gateway's
cargo build -p scale-node-host
cargo test --workspace --all-features
step "tests, default features"
cargo test --workspace
step "scale-node without its optional features (scan, guided-calibration, stock)"
cargo test -p scale-node --no-default-features --features std
cargo clippy -p scale-node --no-default-features --features std --all-targets -- -D warnings
step "docs"
RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --all-features
step "public API against api/*.txt (to accept a change: UPDATE_API=1 bash scripts/api.sh)"
bash scripts/api.sh
for t in thumbv6m-none-eabi thumbv7em-none-eabihf riscv32imc-unknown-none-elf; do
    step "no_std build for $t"
    cargo build "${LIBS[@]}" --target "$t" --features "$NOSTD_FEATURES"
done
step "no_std build for avr-none (atmega328p)"
CARGO_TARGET_DIR=target/avr RUSTFLAGS="-C target-cpu=atmega328p" \
    cargo +"$AVR_NIGHTLY" build "${LIBS[@]}" --target avr-none -Z build-std=core --release
step "board firmware"
bash scripts/boards.sh
step "publish dry-run: the three crates as one workspace publish (each verified against the others as packaged)"
# cargo unpacks the siblings it verifies against into $CARGO_HOME/registry/src/-<hash>/ (its
# local overlay registry) and reuses an unpacked copy of the same version from an earlier run:
# remove ours, so the packages of this tree are the ones verified
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/{avia-hx711,esp-at,scale-node}-[0-9]*
cargo publish --workspace --dry-run --allow-dirty
step "all green"
