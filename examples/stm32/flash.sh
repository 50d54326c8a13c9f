#!/bin/sh
# cargo runner for the Netduino Plus 2 (STM32F405RG):
#   NETDUINO_RUN=qemu  run in QEMU's netduinoplus2 model (no modem attached there)
#   otherwise          flash a real board: with probe-rs when it is installed (SWD probe on the
#                      board's debug header; stays attached and shows the firmware's output),
#                      else with dfu-util through the STM32's USB DFU boot loader (hold the
#                      board's BOOT0 high at reset), at 0x0800_0000.
set -e
elf="$1"
if [ "${NETDUINO_RUN:-}" = qemu ]; then
    exec qemu-system-arm -M netduinoplus2 -display none -monitor none -serial null -kernel "$elf"
fi
if command -v probe-rs >/dev/null 2>&1; then
    exec probe-rs run --chip STM32F405RGTx "$elf"
fi
if command -v dfu-util >/dev/null 2>&1; then
    bin="$elf.bin"
    arm-none-eabi-objcopy -O binary "$elf" "$bin"
    dfu-util -a 0 -s 0x08000000:leave -D "$bin"
    echo "flashed $elf over USB DFU"
    exit 0
fi
echo "flash.sh: install probe-rs (cargo install probe-rs-tools) or dfu-util (apt install dfu-util);" >&2
echo "          NETDUINO_RUN=qemu cargo run --release runs the firmware in QEMU instead" >&2
exit 1
