// The Pico firmware, unmodified, in rp2040js (Wokwi's RP2040 emulator, pinned in
// package-lock.json): UART0 is bridged to a Unix socket where the simulated ESP8266 listens,
// an HX711 runs on the emulator's own clock on GP16 (DOUT) / GP17 (PD_SCK), and the firmware's
// heartbeat (GP2, and its report on UART1) is watched.
//
//   node pico.mjs <firmware.elf> <uart0-socket>
//
// stdin takes commands, one per line: `code <raw>` (the HX711's next conversions),
// `unplug`, `plug`, `quit`. stdout carries `FW <line>` (the firmware's UART1 report) and, every
// emulated second, `STAT <key>=<value> ...`.

import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { Simulator } from 'rp2040js';

const [elfPath, socketPath] = process.argv.slice(2);
if (!elfPath || !socketPath) {
  console.error('usage: node pico.mjs <firmware.elf> <uart0-socket>');
  process.exit(2);
}

const sim = new Simulator();
const mcu = sim.rp2040;
const clock = sim.clock;
const CYCLE_NS = 8; // 125 MHz
const FLASH_BASE = 0x1000_0000;

// ---- the firmware: PT_LOAD segments that live in flash, at their physical addresses
function loadElf(bytes) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0) !== 0x7f454c46 || bytes[4] !== 1 || bytes[5] !== 1) {
    throw new Error(`${elfPath}: not a 32-bit little-endian ELF`);
  }
  const phoff = v.getUint32(28, true);
  const phentsize = v.getUint16(42, true);
  const phnum = v.getUint16(44, true);
  let loaded = 0;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    const type = v.getUint32(ph, true);
    const offset = v.getUint32(ph + 4, true);
    const paddr = v.getUint32(ph + 12, true);
    const filesz = v.getUint32(ph + 16, true);
    if (type !== 1 || filesz === 0 || paddr < FLASH_BASE || paddr >= FLASH_BASE + mcu.flash.length) {
      continue;
    }
    mcu.flash.set(bytes.subarray(offset, offset + filesz), paddr - FLASH_BASE);
    loaded += filesz;
  }
  if (loaded === 0) throw new Error(`${elfPath}: nothing to load into flash`);
  return loaded;
}

// ---- rp2040js 1.4.1's UART model, mended (see the README): UARTDMACR is stored, and the TX
// interrupt is raised when the (unpaced) FIFO drains after a write, not on every check.
const UARTDR = 0x0;
const UARTDMACR = 0x48;
const TXINTR = 1 << 5;
function mendUart(uart) {
  let dmacr = 0;
  const read = uart.readUint32.bind(uart);
  const write = uart.writeUint32.bind(uart);
  uart.checkInterrupts = function () {
    this.rp2040.setInterrupt(this.irq, !!(this.interruptStatus & this.interruptMask));
  };
  uart.readUint32 = (offset) => (offset === UARTDMACR ? dmacr : read(offset));
  uart.writeUint32 = (offset, value) => {
    if (offset === UARTDMACR) {
      dmacr = value;
      return;
    }
    write(offset, value);
    if (offset === UARTDR) {
      uart.interruptStatus |= TXINTR;
      uart.checkInterrupts();
    }
  };
}
mendUart(mcu.uart[0]);
mendUart(mcu.uart[1]);

// ---- the ring oscillator's RANDOMBIT (not modelled): a random bit, as on the chip
const ROSC_BASE = 0x4006_0000;
const RANDOMBIT = 0x1c;
const rosc = mcu.findPeripheral(ROSC_BASE);
const roscRead = rosc.readUint32.bind(rosc);
rosc.readUint32 = (offset) => (offset === RANDOMBIT ? (Math.random() < 0.5 ? 1 : 0) : roscRead(offset));

// ---- pins without a model of their pull-ups: held where the board's pull-ups hold them
mcu.gpio[15].setInputValue(true); // setup button: not pressed

// ---- the HX711 (datasheet: 10 SPS with RATE low; data out MSB first on PD_SCK rising edges;
// 25-27 pulses in all; PD_SCK high for over 60 µs powers it down)
const CONVERSION_NS = 100_000_000;
const POWER_DOWN_NS = 60_000;
const dout = mcu.gpio[16];
const sck = mcu.gpio[17];
const hx = {
  code: 0,
  plugged: true,
  powered: true,
  ready: false,
  data: 0,
  pulses: 0,
  reading: false,
  riseAt: 0,
  maxHighNs: 0,
  frames: 0,
};
dout.setInputValue(true);
const conversion = clock.createAlarm(() => {
  if (hx.plugged && hx.powered && !hx.reading) {
    hx.data = hx.code & 0xffffff;
    hx.ready = true;
    dout.setInputValue(false);
  }
  conversion.schedule(CONVERSION_NS);
});
conversion.schedule(CONVERSION_NS);
const powerDown = clock.createAlarm(() => {
  hx.powered = false;
  hx.ready = false;
  hx.reading = false;
  dout.setInputValue(true);
});
sck.addListener((state) => {
  if (!hx.plugged) return;
  const high = state === 1; // GPIOPinState.High
  if (high) {
    hx.riseAt = clock.nanos;
    powerDown.schedule(POWER_DOWN_NS);
    if (!hx.powered) return;
    if (hx.ready || hx.reading) {
      hx.reading = true;
      hx.ready = false;
      hx.pulses += 1;
      if (hx.pulses <= 24) {
        dout.setInputValue(((hx.data >> (24 - hx.pulses)) & 1) === 1);
      } else {
        dout.setInputValue(true);
      }
    }
  } else {
    powerDown.cancel();
    const highNs = clock.nanos - hx.riseAt;
    if (hx.reading) {
      hx.maxHighNs = Math.max(hx.maxHighNs, highNs);
      if (hx.pulses >= 25) {
        // the gain pulse(s): the frame is over, the next conversion starts
        hx.reading = false;
        hx.pulses = 0;
        hx.frames += 1;
        conversion.schedule(CONVERSION_NS);
      }
    }
    if (!hx.powered) {
      // power-up: conversions start again
      hx.powered = true;
      hx.reading = false;
      hx.pulses = 0;
      conversion.schedule(CONVERSION_NS);
    }
  }
});

// ---- the heartbeat on GP2, measured from outside: the longest time between two toggles
const heartbeat = { last: -1, maxIntervalNs: 0, toggles: 0 };
mcu.gpio[2].addListener(() => {
  const now = clock.nanos;
  if (heartbeat.last >= 0) {
    heartbeat.maxIntervalNs = Math.max(heartbeat.maxIntervalNs, now - heartbeat.last);
  }
  heartbeat.last = now;
  heartbeat.toggles += 1;
});

// ---- UART1: the firmware's own report, line by line
let report = '';
mcu.uart[1].onByte = (b) => {
  if (b === 10) {
    process.stdout.write(`FW ${report.trim()}\n`);
    report = '';
  } else {
    report += String.fromCharCode(b);
  }
};

// ---- UART0 <-> the simulated ESP8266, paced at the firmware's baud rate on the emulator's clock
let byteNs = 86_806; // 115 200 baud, 10 bits a byte, until the firmware sets it
mcu.uart[0].onBaudRateChange = (baud) => {
  if (baud > 0) byteNs = Math.round(10e9 / baud);
};
const rxQueue = [];
let txPending = [];
mcu.uart[0].onByte = (b) => txPending.push(b);
const rxAlarm = clock.createAlarm(() => {
  const uart = mcu.uart[0];
  if (rxQueue.length > 0 && !uart.rxFIFO.full) {
    uart.feedByte(rxQueue.shift());
  }
  if (rxQueue.length > 0) rxAlarm.schedule(byteNs);
});
const modem = connect(socketPath);
modem.on('data', (buf) => {
  const idle = rxQueue.length === 0;
  for (const b of buf) rxQueue.push(b);
  if (idle) rxAlarm.schedule(byteNs);
});
modem.on('error', (e) => {
  console.error(`uart0 socket: ${e.message}`);
  process.exit(1);
});
modem.on('close', () => process.exit(0));

// ---- control from the test
createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'code') hx.code = Number.parseInt(arg, 10) | 0;
  else if (cmd === 'unplug') {
    hx.plugged = false;
    hx.ready = false;
    hx.reading = false;
    dout.setInputValue(true);
  } else if (cmd === 'plug') {
    hx.plugged = true;
    hx.powered = true;
    conversion.schedule(CONVERSION_NS);
  } else if (cmd === 'quit') process.exit(0);
});

// ---- boot without a bootrom: the vector table after boot2
const loaded = loadElf(readFileSync(elfPath));
mcu.core.VTOR = FLASH_BASE + 0x100;
mcu.core.reset();
process.stdout.write(`BOOT loaded=${loaded}\n`);

// ---- the main loop: run instructions while the core is busy; while it waits (WFI), jump to
// the next alarm, never ahead of the wall clock (the modem and the gateway run in real time)
const wallStart = process.hrtime.bigint();
const wallNs = () => Number(process.hrtime.bigint() - wallStart);
let nextStat = 1e9;
let instructions = 0;

function stat() {
  process.stdout.write(
    `STAT t_ms=${Math.round(clock.nanos / 1e6)} wall_ms=${Math.round(wallNs() / 1e6)}` +
      ` instructions=${instructions} sck_max_high_ns=${hx.maxHighNs} frames=${hx.frames}` +
      ` hb_max_interval_us=${Math.round(heartbeat.maxIntervalNs / 1e3)} hb_toggles=${heartbeat.toggles}\n`,
  );
}

function slice() {
  const until = performance.now() + 10;
  let idle = false;
  for (let n = 0; ; n++) {
    if (mcu.core.waiting) {
      const toAlarm = clock.nanosToNextAlarm;
      const behind = wallNs() - clock.nanos;
      if (toAlarm > 0 && toAlarm <= behind) {
        clock.tick(toAlarm);
      } else {
        if (behind > 0) clock.tick(toAlarm > 0 ? Math.min(behind, toAlarm - 1) : behind);
        idle = true;
        break;
      }
    } else {
      const cycles = mcu.core.executeInstruction();
      clock.tick(cycles * CYCLE_NS);
      instructions += 1;
    }
    if ((n & 0x3ff) === 0 && performance.now() > until) break;
  }
  if (txPending.length > 0) {
    modem.write(Buffer.from(txPending));
    txPending = [];
  }
  if (clock.nanos >= nextStat) {
    stat();
    nextStat += 1e9;
  }
  // idle: let the sockets and timers in; busy: only yield to them
  if (idle) setTimeout(slice, 1);
  else setImmediate(slice);
}
modem.on('connect', () => slice());
