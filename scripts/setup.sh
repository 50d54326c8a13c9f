#!/usr/bin/env bash
# Installs what a fresh machine lacks: rustup targets and components, the pinned AVR nightly,
# and the Debian packages the tests use. Safe to run again: everything is skipped when present.
set -euo pipefail

AVR_NIGHTLY=nightly-2026-05-20

installed_targets=$(rustup target list --installed)
for t in thumbv6m-none-eabi thumbv7em-none-eabihf riscv32imc-unknown-none-elf; do
    grep -qx "$t" <<<"$installed_targets" || rustup target add "$t"
done
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
if ! rustup run "$AVR_NIGHTLY" rustc --version >/dev/null 2>&1; then
    rustup toolchain install "$AVR_NIGHTLY" --profile minimal --component rust-src
fi
rustup component list --toolchain "$AVR_NIGHTLY" --installed | grep -q '^rust-src' \
    || rustup component add rust-src --toolchain "$AVR_NIGHTLY"

need=()
command -v avr-gcc >/dev/null || need+=(gcc-avr avr-libc binutils-avr)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
command -v qemu-system-avr >/dev/null || need+=(qemu-system-misc)
command -v arm-none-eabi-size >/dev/null || need+=(binutils-arm-none-eabi)
# the Pico's emulator (rp2040js, from npm) runs on Node.js
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
# simavr, built from source by avr-tester (examples/uno-fil), needs these
for pkg in libclang-dev libelf-dev pkg-config libzstd-dev zlib1g-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    else
        echo "setup: please install: ${need[*]} (apt-get, as root)" >&2
    fi
fi

# rp2040js, at the version pinned by examples/rp2040/emu/package-lock.json
if command -v npm >/dev/null && [ ! -d examples/rp2040/emu/node_modules/rp2040js ]; then
    npm ci --prefix examples/rp2040/emu --no-audit --no-fund --loglevel=error
fi
