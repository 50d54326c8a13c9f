#!/bin/sh
# cargo runner: flash the ELF to an Arduino Uno with avrdude, then show its serial output.
# UNO_PORT selects the serial port (default /dev/ttyACM0).
set -e
elf="$1"
port="${UNO_PORT:-/dev/ttyACM0}"
avr-objcopy -O ihex -R .eeprom "$elf" "$elf.hex"
avrdude -p atmega328p -c arduino -P "$port" -b 115200 -D -U "flash:w:$elf.hex:i"
echo "flashed $elf; serial console: screen $port 115200"
