//! The HX711's pin sequences for [`embedded-hal-mock`](https://docs.rs/embedded-hal-mock)
//! (feature `mock`): what this driver does on `DOUT` and `PD_SCK`, so a host test of firmware
//! that uses it states the chip's answers, not the driver's internals.
//!
//! ```
//! use avia_hx711::mock::{frame, not_ready};
//! use avia_hx711::{Config, Hx711, Mode, Protection, Rate};
//! use embedded_hal_mock::eh1::delay::NoopDelay;
//! use embedded_hal_mock::eh1::digital::Mock as Pin;
//!
//! // not ready once, then a conversion of -1234 (the next one selected: A/128)
//! let mut dout = vec![not_ready()];
//! let (d, sck) = frame(-1234, Mode::A128);
//! dout.extend(d);
//! let (mut dout, mut sck) = (Pin::new(&dout), Pin::new(&sck));
//! let mut config = Config::new(Rate::Sps80);
//! config.protection = Protection::None; // or a critical-section implementation for tests
//! let mut hx = Hx711::new(dout.clone(), sck.clone(), NoopDelay::new(), config);
//! assert!(matches!(hx.try_read(), Err(avia_hx711::nb::Error::WouldBlock)));
//! assert_eq!(hx.try_read().map(|s| s.raw), Ok(-1234));
//! drop(hx);
//! dout.done(); // every expected transaction happened
//! sck.done();
//! ```

use std::vec::Vec;

use embedded_hal_mock::eh1::digital::{State, Transaction};

use crate::mode::Mode;

/// `DOUT` read while no conversion is ready (high).
pub fn not_ready() -> Transaction {
    Transaction::get(State::High)
}

/// The `DOUT` and `PD_SCK` transactions of one read as [`Hx711::try_read`](crate::Hx711::try_read)
/// (and every other read) clocks it: `DOUT` low (ready), then per pulse `PD_SCK` high, `PD_SCK`
/// low and one `DOUT` read; 24 data bits of `code` MSB first (24-bit two's complement: the low 24
/// bits of `code`), then the pulses that select `next` for the following conversion (25: A/128,
/// 26: B/32, 27: A/64), during which `DOUT` reads high. Returns `(dout, sck)`.
pub fn frame(code: i32, next: Mode) -> (Vec<Transaction>, Vec<Transaction>) {
    let mut dout = Vec::new();
    let mut sck = Vec::new();
    push_frame(&mut dout, &mut sck, code, next);
    (dout, sck)
}

/// [`frame`], appended to sequences under construction (for several reads in a row).
pub fn push_frame(dout: &mut Vec<Transaction>, sck: &mut Vec<Transaction>, code: i32, next: Mode) {
    let bits = (code as u32) & 0x00ff_ffff;
    dout.push(Transaction::get(State::Low));
    for i in 0..next.pulses() {
        sck.push(Transaction::set(State::High));
        sck.push(Transaction::set(State::Low));
        let high = i >= 24 || (bits >> (23 - i)) & 1 == 1;
        dout.push(Transaction::get(if high {
            State::High
        } else {
            State::Low
        }));
    }
}

/// `PD_SCK` during [`Hx711::power_down`](crate::Hx711::power_down): low, then high (and left
/// high: the chip sleeps after 60 µs).
pub fn power_down() -> Vec<Transaction> {
    std::vec![Transaction::set(State::Low), Transaction::set(State::High)]
}

/// `PD_SCK` during [`Hx711::power_up`](crate::Hx711::power_up): low.
pub fn power_up() -> Vec<Transaction> {
    std::vec![Transaction::set(State::Low)]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{Config, Hx711, Protection, Rate};
    use embedded_hal_mock::eh1::delay::NoopDelay;
    use embedded_hal_mock::eh1::digital::Mock as Pin;

    fn driver(dout: &[Transaction], sck: &[Transaction]) -> (Hx711<Pin, Pin, NoopDelay>, Pin, Pin) {
        let (dout, sck) = (Pin::new(dout), Pin::new(sck));
        let mut config = Config::new(Rate::Sps80);
        config.protection = Protection::None;
        (
            Hx711::new(dout.clone(), sck.clone(), NoopDelay::new(), config),
            dout,
            sck,
        )
    }

    #[test]
    fn the_driver_reads_every_frame_back_in_every_mode() {
        let codes = [
            0, 1, -1, 0x7f_ffff, -0x80_0000, 0x12_3456, -0x12_3456, 0x55_5555,
        ];
        for next in [Mode::A128, Mode::B32, Mode::A64] {
            let (mut dout, mut sck) = (Vec::new(), Vec::new());
            for &c in &codes {
                push_frame(&mut dout, &mut sck, c, next);
            }
            let (mut hx, mut d, mut s) = driver(&dout, &sck);
            hx.set_mode(next);
            for &c in &codes {
                let sample = hx.try_read().unwrap();
                assert_eq!(sample.raw, c, "{next:?}");
            }
            drop(hx);
            d.done();
            s.done();
        }
    }

    #[test]
    fn power_sequences_match_the_driver() {
        let sck: Vec<Transaction> = power_down().into_iter().chain(power_up()).collect();
        let (mut hx, mut d, mut s) = driver(&[], &sck);
        hx.power_down().unwrap();
        hx.power_up().unwrap();
        drop(hx);
        d.done();
        s.done();
    }
}
