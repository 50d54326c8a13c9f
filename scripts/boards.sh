#!/usr/bin/env bash
# Builds the board firmware from its own workspaces, prints their sizes as a Markdown table,
# and runs the Netduino Plus 2 firmware in QEMU against the simulated ESP8266 and a gateway.
set -euo pipefail
cd "$(dirname "$0")/.."

# the firmware-in-the-loop build: its own network and gateway, never a real one
export SCALE_SSID=fil-net SCALE_PASSWORD=fil-password SCALE_HOST=127.0.0.1 SCALE_PORT=15055
export SCALE_INTERVAL_MS=500 SCALE_SETUP_BUTTON=0

echo "=== Raspberry Pi Pico (thumbv6m-none-eabi)"
(cd examples/rp2040 && cargo build --release)
echo "=== Netduino Plus 2 (thumbv7em-none-eabihf)"
(cd examples/stm32 && cargo build --release)
echo "=== Arduino Uno (avr-none)"
(cd examples/uno && cargo build --release)

size_row() { # name elf size-tool
    "$3" "$2" | awk -v n="$1" 'NR==2 { printf "| %s | %d | %d | %d |\n", n, $1 + $2, $2 + $3, $2 }'
}
echo
echo "| firmware | flash (text+data) | static RAM (data+bss) | data |"
echo "|---|---:|---:|---:|"
size_row "Pico: node (embassy-rp)" examples/rp2040/target/thumbv6m-none-eabi/release/scale-node-pico arm-none-eabi-size
size_row "Netduino Plus 2: node (stm32f4xx-hal)" examples/stm32/target/thumbv7em-none-eabihf/release/scale-node-netduino arm-none-eabi-size
size_row "Uno: esp-at probe (join, connect, send)" examples/uno/target/avr-none/release/at_probe.elf avr-size
echo

echo "=== Netduino Plus 2 firmware in QEMU with the simulated ESP8266"
cargo build --release -p scale-node-host --bin fil
timeout 180 ./target/release/fil netduino \
    examples/stm32/target/thumbv7em-none-eabihf/release/scale-node-netduino 15055 fil-net fil-password 120

echo "=== Uno esp-at probe in qemu-system-avr without a modem: stack depth of the no-answer path"
probe_out=$(mktemp)
timeout 12 qemu-system-avr -M uno -display none -monitor none -serial "file:$probe_out" \
    -bios examples/uno/target/avr-none/release/at_probe.elf || true
grep -a "PROBE" "$probe_out"
rm -f "$probe_out"
