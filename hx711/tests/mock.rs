//! Exact pin and delay sequences, checked with embedded-hal-mock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use avia_hx711::{Config, Error, Hx711, Mode, Protection, Rate};
use embedded_hal_mock::eh1::MockError;
use embedded_hal_mock::eh1::delay::{CheckedDelay, NoopDelay, Transaction as D};
use embedded_hal_mock::eh1::digital::{Mock as Pin, State, Transaction as P};
use std::io::ErrorKind;

fn config() -> Config {
    let mut c = Config::new(Rate::Sps80);
    c.protection = Protection::None;
    c
}

/// Expected (DOUT, PD_SCK, delay) transactions of one frame shifting out `code` with
/// `pulses` pulses, DOUT high after the 25th.
fn frame(code: u32, pulses: u8) -> (Vec<P>, Vec<P>, Vec<D>) {
    let mut dout = vec![];
    let mut sck = vec![];
    let mut delay = vec![D::delay_ns(1000)]; // T1
    for i in 0..pulses {
        sck.push(P::set(State::High));
        delay.push(D::delay_ns(1000)); // T3
        sck.push(P::set(State::Low));
        let level = if i < 24 {
            if (code >> (23 - i)) & 1 == 1 {
                State::High
            } else {
                State::Low
            }
        } else {
            State::High
        };
        dout.push(P::get(level));
        delay.push(D::delay_ns(1000)); // T4
    }
    (dout, sck, delay)
}

macro_rules! pulse_count_test {
    ($name:ident, $mode:expr, $pulses:expr) => {
        #[test]
        fn $name() {
            let code = 0x00A5_5A5Au32;
            let (mut dout, sck, delay) = frame(code, $pulses);
            dout.insert(0, P::get(State::Low)); // ready check of try_read
            let mut dout = Pin::new(&dout);
            let mut sck_pin = Pin::new(&sck);
            let mut d = CheckedDelay::new(&delay);
            {
                let mut hx = Hx711::new(dout.clone(), sck_pin.clone(), d.clone(), config());
                hx.set_mode($mode);
                let s = hx.try_read().unwrap();
                assert_eq!(s.raw, avia_hx711::decode(code));
                assert_eq!(
                    s.mode, None,
                    "first sample after construction has an unknown mode"
                );
                assert!(!s.settled);
                assert_eq!(hx.pending_mode(), Some($mode));
            }
            dout.done();
            sck_pin.done();
            d.done();
        }
    };
}

pulse_count_test!(a128_uses_25_pulses, Mode::A128, 25);
pulse_count_test!(b32_uses_26_pulses, Mode::B32, 26);
pulse_count_test!(a64_uses_27_pulses, Mode::A64, 27);

#[test]
fn not_ready_is_would_block_without_clocking() {
    let mut dout = Pin::new(&[P::get(State::High)]);
    let mut sck = Pin::new(&[]);
    let mut hx = Hx711::new(dout.clone(), sck.clone(), NoopDelay::new(), config());
    assert!(matches!(hx.try_read(), Err(nb::Error::WouldBlock)));
    dout.done();
    sck.done();
}

#[test]
fn new_touches_no_pin_and_release_returns_them() {
    let dout = Pin::new(&[]);
    let sck = Pin::new(&[]);
    let hx = Hx711::new(dout.clone(), sck.clone(), NoopDelay::new(), config());
    let (mut a, mut b, _d, _c) = hx.release();
    a.done();
    b.done();
}

#[test]
fn power_down_holds_pd_sck_high_for_at_least_60_us() {
    let mut dout = Pin::new(&[]);
    let mut sck = Pin::new(&[P::set(State::Low), P::set(State::High), P::set(State::Low)]);
    let mut d = CheckedDelay::new(&[D::delay_ns(1000), D::delay_us(80)]);
    let mut hx = Hx711::new(dout.clone(), sck.clone(), d.clone(), config());
    hx.power_down().unwrap();
    assert!(hx.is_powered_down());
    assert_eq!(
        hx.try_read().unwrap_err(),
        nb::Error::Other(Error::PoweredDown)
    );
    hx.power_up().unwrap();
    assert!(!hx.is_powered_down());
    dout.done();
    sck.done();
    d.done();
}

#[test]
fn input_pin_error_is_typed() {
    let err = MockError::Io(ErrorKind::NotConnected);
    let mut dout = Pin::new(&[P::get(State::Low).with_error(err.clone())]);
    let mut sck = Pin::new(&[]);
    let mut hx = Hx711::new(dout.clone(), sck.clone(), NoopDelay::new(), config());
    assert_eq!(
        hx.try_read().unwrap_err(),
        nb::Error::Other(Error::Input(err))
    );
    dout.done();
    sck.done();
}

#[test]
fn output_pin_error_is_typed_and_resets_mode_knowledge() {
    let err = MockError::Io(ErrorKind::BrokenPipe);
    let mut dout = Pin::new(&[P::get(State::Low)]);
    let mut sck = Pin::new(&[P::set(State::High).with_error(err.clone())]);
    let mut hx = Hx711::new(dout.clone(), sck.clone(), NoopDelay::new(), config());
    assert_eq!(
        hx.try_read().unwrap_err(),
        nb::Error::Other(Error::Output(err))
    );
    assert_eq!(hx.pending_mode(), None);
    dout.done();
    sck.done();
}

#[test]
fn dout_low_after_25th_pulse_is_stuck_low() {
    let (mut dout, sck, _) = frame(0, 25);
    dout.insert(0, P::get(State::Low));
    *dout.last_mut().unwrap() = P::get(State::Low);
    let mut dout_pin = Pin::new(&dout);
    let mut sck_pin = Pin::new(&sck);
    let mut hx = Hx711::new(
        dout_pin.clone(),
        sck_pin.clone(),
        NoopDelay::new(),
        config(),
    );
    assert_eq!(
        hx.try_read().unwrap_err(),
        nb::Error::Other(Error::StuckLow)
    );
    dout_pin.done();
    sck_pin.done();
}

#[test]
fn blocking_read_polls_with_deadline() {
    // DOUT high at every poll: the read gives up after the configured timeout
    let mut c = config();
    c.ready_timeout_us = Some(2_000);
    c.poll_interval_us = 500;
    let polls = (0..5).map(|_| P::get(State::High)).collect::<Vec<_>>();
    let mut dout = Pin::new(&polls);
    let mut sck = Pin::new(&[P::set(State::Low)]);
    let delays: Vec<D> = (0..4).map(|_| D::delay_us(500)).collect();
    let mut d = CheckedDelay::new(&delays);
    let mut hx = Hx711::new(dout.clone(), sck.clone(), d.clone(), c);
    assert_eq!(hx.read().unwrap_err(), Error::Timeout);
    dout.done();
    sck.done();
    d.done();
}

#[test]
fn per_bit_and_per_frame_protection_clock_the_same_bits() {
    for prot in [Protection::PerBit, Protection::PerFrame] {
        let code = 0x0080_0001u32;
        let (mut dout, sck, _) = frame(code, 25);
        dout.insert(0, P::get(State::Low));
        let mut dout = Pin::new(&dout);
        let mut sck_pin = Pin::new(&sck);
        let mut c = config();
        c.protection = prot;
        let mut hx = Hx711::new(dout.clone(), sck_pin.clone(), NoopDelay::new(), c);
        assert_eq!(hx.try_read().unwrap().raw, -8_388_607);
        dout.done();
        sck_pin.done();
    }
}

/// A pin with no `Debug` of its own, as many HAL pins are.
struct Quiet;
impl embedded_hal::digital::ErrorType for Quiet {
    type Error = core::convert::Infallible;
}
impl embedded_hal::digital::InputPin for Quiet {
    fn is_high(&mut self) -> Result<bool, Self::Error> {
        Ok(true)
    }
    fn is_low(&mut self) -> Result<bool, Self::Error> {
        Ok(false)
    }
}
impl embedded_hal::digital::OutputPin for Quiet {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[test]
fn the_driver_debugs_without_asking_it_of_the_pins() {
    let hx = Hx711::new(Quiet, Quiet, NoopDelay::new(), config());
    let shown = format!("{hx:?}");
    assert!(
        shown.starts_with("Hx711 { config: Config { rate: Sps80"),
        "{shown}"
    );
    assert!(
        shown.contains("current: None, target: A128, unsettled: 4"),
        "{shown}"
    );
    assert!(shown.ends_with("powered_down: false, .. }"), "{shown}");
}
