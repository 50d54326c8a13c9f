//! Firmware in the loop for the AVR node.
//!
//! The built firmware (`examples/uno`, `node.elf`) runs in simavr (through `avr-tester`), one
//! instruction at a time. Around it:
//!
//! - the HX711 on `PB0` (PD_SCK, Uno D8) and `PB1` (DOUT, Uno D9): `avia-hx711`'s behavioural
//!   simulator, advanced to the CPU cycle of every `PD_SCK` edge, so conversion timing,
//!   settling, the 25th-pulse mode select and the 60 µs power-down all apply to the firmware as
//!   they would on the bench. Every `PD_SCK` high phase is measured here in CPU cycles;
//! - the ESP8266 on USART0: `esp-at`'s simulated modem (the AT protocol over real sockets on
//!   the host), fed with the bytes the firmware transmits and answering through simavr's UART,
//!   which paces them at the firmware's baud rate;
//! - a gateway on 127.0.0.1 that behaves like the article's (`scale_node::loopback`).

use std::path::Path;
use std::time::{Duration, Instant};

use avr_tester::AvrTester;
use embedded_hal::digital::{InputPin, OutputPin};
use embedded_io::{Read, ReadReady, Write};
use esp_at::sim::SimModem;
use avia_hx711::sim::{Hx711Sim, SimDout, SimSck};

/// The CPU clock of the Uno and the Mega 2560.
pub const CPU_HZ: u64 = 16_000_000;
/// T3 max of the datasheet: the longest `PD_SCK` high phase the chip guarantees to tolerate.
pub const T3_MAX_CYCLES: u64 = 50 * CPU_HZ / 1_000_000;
/// How often (in CPU cycles) the UART and the chip's `DOUT` are brought up to date between
/// `PD_SCK` edges: 10 µs, a ninth of a byte time at 115 200 baud.
const IO_EVERY: u64 = CPU_HZ / 100_000;

/// Which AVR the firmware was built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mcu {
    /// Arduino Uno.
    Atmega328p,
    /// Arduino Mega 2560.
    Atmega2560,
}

/// The firmware and everything wired to it.
pub struct Rig {
    avr: AvrTester,
    /// The load cell's ADC (shared: set its load from the test).
    pub hx: Hx711Sim,
    sck: SimSck,
    dout: SimDout,
    modem: SimModem,
    cycles: u64,
    next_io: u64,
    sck_high: bool,
    rise_at: u64,
    dout_high: bool,
    /// `PD_SCK` high phases seen.
    pub pulses: u64,
    /// Longest `PD_SCK` high phase, CPU cycles.
    pub max_high_cycles: u64,
    /// High phases longer than [`T3_MAX_CYCLES`].
    pub t3_violations: u64,
    /// Level changes driven on `DOUT`.
    pub dout_edges: u64,
    /// Bytes the firmware sent to the modem.
    pub to_modem: u64,
    /// Bytes the modem sent to the firmware.
    pub to_firmware: u64,
    /// Everything the firmware transmitted (for diagnostics).
    pub transcript: Vec<u8>,
    /// Everything the firmware sent on its `stack-report` test port (SPI on the Uno, USART1 on
    /// the Mega).
    pub stack_port: Vec<u8>,
    mcu: Mcu,
}

impl Rig {
    /// Load `elf` on a 16 MHz `mcu` wired to `hx` and `modem`.
    pub fn new(elf: &Path, mcu: Mcu, hx: Hx711Sim, modem: SimModem) -> Rig {
        let builder = match mcu {
            Mcu::Atmega328p => AvrTester::atmega328p(),
            Mcu::Atmega2560 => AvrTester::atmega2560(),
        };
        let mut avr = builder.with_clock_of_16_mhz().load(elf);
        let (dout, sck, _) = hx.pins();
        // a chip that is converting: DOUT high until its first conversion is ready
        avr.pins().pb1().set_high();
        Rig {
            avr,
            hx,
            sck,
            dout,
            modem,
            cycles: 0,
            next_io: 0,
            sck_high: false,
            rise_at: 0,
            dout_high: true,
            pulses: 0,
            max_high_cycles: 0,
            t3_violations: 0,
            dout_edges: 0,
            to_modem: 0,
            to_firmware: 0,
            transcript: Vec::new(),
            stack_port: Vec::new(),
            mcu,
        }
    }

    /// CPU cycles run so far.
    pub fn cycles(&self) -> u64 {
        self.cycles
    }

    /// The level the firmware reads on `DOUT` (PB1).
    pub fn dout_level(&mut self) -> bool {
        self.avr.pins().pb1().is_high()
    }

    /// Simulated time, ms.
    pub fn millis(&self) -> u64 {
        self.cycles * 1_000 / CPU_HZ
    }

    /// Run one instruction and whatever it changed on the wires.
    pub fn step(&mut self) {
        let d = self.avr.run();
        self.cycles += d.as_cycles();
        let sck = self.avr.pins().pb0().is_high();
        if sck != self.sck_high {
            self.sync_chip();
            if sck {
                self.rise_at = self.cycles;
                let _ = self.sck.set_high();
            } else {
                let high = self.cycles - self.rise_at;
                self.pulses += 1;
                self.max_high_cycles = self.max_high_cycles.max(high);
                if high > T3_MAX_CYCLES {
                    self.t3_violations += 1;
                }
                let _ = self.sck.set_low();
            }
            self.sck_high = sck;
            self.drive_dout();
        }
        if self.cycles >= self.next_io {
            self.next_io = self.cycles + IO_EVERY;
            self.sync_chip();
            self.drive_dout();
            self.pump_uart();
        }
    }

    /// Run until `done` holds (checked every 10 µs of simulated time), for at most `max_ms`
    /// simulated milliseconds and `wall` of real time. Returns whether `done` held.
    pub fn run_until(
        &mut self,
        max_ms: u64,
        wall: Duration,
        mut done: impl FnMut(&mut Rig) -> bool,
    ) -> bool {
        let end = self.cycles + max_ms * (CPU_HZ / 1_000);
        let started = Instant::now();
        let mut check_at = self.cycles;
        while self.cycles < end {
            self.step();
            if self.cycles >= check_at {
                check_at = self.cycles + IO_EVERY;
                if done(self) {
                    return true;
                }
                if started.elapsed() > wall {
                    return false;
                }
            }
        }
        false
    }

    fn sync_chip(&mut self) {
        // 16 MHz: 62.5 ns per cycle
        let ns = self.cycles * 125 / 2;
        let now = self.hx.now_ns();
        if ns > now {
            self.hx.advance(ns - now);
        }
    }

    /// Drive `DOUT` with the chip's level. Driven again after every `PD_SCK` edge even when it
    /// did not change: a write to `PORTB` (the firmware toggling PB0) makes simavr recompute the
    /// input PB1 from its pull-up, where a real chip keeps driving the line.
    fn drive_dout(&mut self) {
        let high = self.dout.is_high().unwrap_or(true);
        if high != self.dout_high {
            self.dout_edges += 1;
        }
        self.avr.pins().pb1().set(high);
        self.dout_high = high;
    }

    /// The `(peak stack, statics)` reports the firmware sent (feature `stack-report` of the
    /// Uno firmware: two little-endian 16-bit words each).
    pub fn stack_reports(&self) -> Vec<(u16, u16)> {
        self.stack_port
            .chunks_exact(4)
            .map(|c| {
                (
                    u16::from_le_bytes([c[0], c[1]]),
                    u16::from_le_bytes([c[2], c[3]]),
                )
            })
            .collect()
    }

    fn pump_uart(&mut self) {
        let report: Vec<u8> = match self.mcu {
            Mcu::Atmega328p => self.avr.spi0().read(),
            Mcu::Atmega2560 => self.avr.uart1().read(),
        };
        self.stack_port.extend_from_slice(&report);
        let out: Vec<u8> = self.avr.uart0().read();
        if !out.is_empty() {
            self.to_modem += out.len() as u64;
            self.transcript.extend_from_slice(&out);
            let _ = self.modem.write_all(&out);
        }
        if self.modem.read_ready().unwrap_or(false) {
            let mut buf = [0u8; 256];
            let n = self.modem.read(&mut buf).unwrap_or(0);
            if n > 0 {
                self.to_firmware += n as u64;
                self.avr.uart0().write(&buf[..n]);
            }
        }
    }
}
