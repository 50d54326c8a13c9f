#!/usr/bin/env bash
# Builds the board firmware from its own workspaces, prints their sizes as a Markdown table,
# runs the AVR node firmware in simavr (examples/uno-fil), the Pico firmware in rp2040js
# (examples/pico-fil) and the Netduino Plus 2 firmware in QEMU, each against the simulated ESP8266
# and a gateway on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

# the firmware-in-the-loop build: its own network and gateway, never a real one
export SCALE_SSID=fil-net SCALE_PASSWORD=fil-password SCALE_HOST=127.0.0.1 SCALE_PORT=15055
export SCALE_INTERVAL_MS=500 SCALE_SETUP_BUTTON=0

echo "=== Raspberry Pi Pico (thumbv6m-none-eabi), calibrated for the emulator test"
(
    export SCALE_PORT=15059 SCALE_SAMPLES=3 SCALE_COUNTS_PER_GRAM=420 SCALE_OFFSET=8000
    cd examples/rp2040 && cargo build --release
)
echo "=== Netduino Plus 2 (thumbv7em-none-eabihf)"
(cd examples/stm32 && cargo build --release)
# Every AVR build shares one target directory (and one host build of the proc-macros): each
# firmware is copied to $fw as soon as it is linked, since the next build may overwrite it.
fw=examples/uno/target/fw
mkdir -p "$fw"
avr() { # output-name bin cargo-args...: builds one AVR firmware in examples/uno, keeps its ELF
    local name=$1 bin=$2
    shift 2
    (cd examples/uno && cargo build --release --bin "$bin" "$@")
    cp "examples/uno/target/avr-none/release/$bin.elf" "$fw/$name.elf"
}
echo "=== Arduino Uno (avr-none): the esp-at probe and the article's sketch"
SCALE_PORT=15056 avr at_probe at_probe
export SCALE_SAMPLES=3 SCALE_COUNTS_PER_GRAM=420 SCALE_OFFSET=8000 SCALE_FORMAT=classic
SCALE_PORT=15058 avr sketch sketch
echo "=== the same sketch with its stack report (SPI) for the simavr test"
SCALE_PORT=15058 avr sketch-stack sketch --features stack-report
echo "=== Arduino Mega 2560 (avr-none, atmega2560): the whole node, calibrated for the simavr test"
export RUSTFLAGS="-C target-cpu=atmega2560"
avr node-mega node --features full-node,mega2560
echo "=== the same with its stack report (USART1) for the simavr test"
avr node-mega-stack node --features full-node,mega2560,stack-report
echo "=== the same without a configuration: it starts in setup mode"
(
    unset SCALE_SSID SCALE_PASSWORD SCALE_HOST SCALE_PORT
    unset SCALE_SAMPLES SCALE_COUNTS_PER_GRAM SCALE_OFFSET SCALE_FORMAT
    avr node-mega-setup node --features full-node,mega2560
)
echo "=== the whole node for the ATmega328P, linked into a pretend 128 KB of flash to measure it"
RUSTFLAGS="-C target-cpu=atmega328p -C link-arg=-Wl,--defsym=__TEXT_REGION_LENGTH__=128k" \
    avr node-uno-measure node --features full-node
unset RUSTFLAGS

size_row() { # name elf size-tool
    "$3" "$2" | awk -v n="$1" 'NR==2 { printf "| %s | %d | %d | %d |\n", n, $1 + $2, $2 + $3, $2 }'
}
echo
echo "| firmware | flash (text+data) | static RAM (data+bss) | data |"
echo "|---|---:|---:|---:|"
size_row "Pico: node (embassy-rp)" examples/rp2040/target/thumbv6m-none-eabi/release/scale-node-pico arm-none-eabi-size
size_row "Netduino Plus 2: node (stm32f4xx-hal)" examples/stm32/target/thumbv7em-none-eabihf/release/scale-node-netduino arm-none-eabi-size
size_row "Uno: the article's sketch (weigh, send, keep the link up)" "$fw/sketch.elf" avr-size
size_row "Uno: esp-at probe (join, connect, send)" "$fw/at_probe.elf" avr-size
size_row "Mega 2560: node (the Uno's firmware, ATmega2560 build)" "$fw/node-mega.elf" avr-size
size_row "Uno: node (ATmega328P, measured only: over the 32 768 B)" "$fw/node-uno-measure.elf" avr-size
echo

echo "=== AVR node firmware in simavr: cycle-level HX711, simulated ESP8266, gateway on 127.0.0.1"
(cd examples/uno-fil && NODE_ELF="../../$fw/node-mega-stack.elf" NODE_MCU=atmega2560 \
    SETUP_ELF="../../$fw/node-mega-setup.elf" SETUP_PORT=15057 \
    NODE_PORT=15055 PROBE_ELF="../../$fw/at_probe.elf" PROBE_PORT=15056 \
    SKETCH_ELF="../../$fw/sketch-stack.elf" SKETCH_PORT=15058 \
    timeout 600 cargo test --release -- --nocapture)

echo "=== Pico firmware in rp2040js: HX711 on the emulator's clock, simulated ESP8266, gateway on 127.0.0.1"
PICO_ELF="$PWD/examples/rp2040/target/thumbv6m-none-eabi/release/scale-node-pico" PICO_PORT=15059 \
    timeout 300 cargo test -p scale-node-pico-fil -- --ignored --nocapture

echo "=== Netduino Plus 2 firmware in QEMU with the simulated ESP8266"
cargo build --release -p scale-node-host --bin fil
timeout 180 ./target/release/fil netduino \
    examples/stm32/target/thumbv7em-none-eabihf/release/scale-node-netduino 15055 fil-net fil-password 120

