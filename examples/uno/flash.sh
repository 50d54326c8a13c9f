#!/bin/sh
# cargo runner: flash the ELF to an Arduino Uno (or, for an ATmega2560 build, an Arduino Mega
# 2560) with avrdude, then say how to watch its serial output.
# UNO_PORT selects the serial port (default /dev/ttyACM0).
set -e
elf="$1"
port="${UNO_PORT:-/dev/ttyACM0}"
# the ELF says which AVR it was built for: avr:5 is the ATmega328P, avr:6 the ATmega2560
case "$(avr-objdump -f "$elf" | sed -n 's/^architecture: \(avr:[0-9]*\).*/\1/p')" in
    avr:6) part=atmega2560 programmer=wiring ;;
    *) part=atmega328p programmer=arduino ;;
esac
avr-objcopy -O ihex -R .eeprom "$elf" "$elf.hex"
avrdude -p "$part" -c "$programmer" -P "$port" -b 115200 -D -U "flash:w:$elf.hex:i"
echo "flashed $elf to an $part; serial console: screen $port 115200"
