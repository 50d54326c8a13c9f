//! Async reads: on the simulator, and on embedded-hal-mock's `Wait`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use avia_hx711::sim::{Fault, Hx711Sim};
use avia_hx711::{Config, Error, Hx711, Mode, Protection, Rate};
use embedded_hal_mock::eh1::delay::NoopDelay;
use embedded_hal_mock::eh1::digital::{Mock as Pin, State, Transaction as P};

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    for _ in 0..10_000_000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("future did not complete");
}

#[test]
fn async_read_on_the_simulator() {
    let sim = Hx711Sim::new(Rate::Sps10);
    sim.set_constant(-31_337);
    let (d, s, delay) = sim.pins();
    let mut hx = Hx711::new(d, s, delay, Config::new(Rate::Sps10));
    hx.set_mode(Mode::A64);
    let s = block_on(hx.read_async()).unwrap();
    assert_eq!((s.raw, s.mode, s.settled), (-31_337, Some(Mode::A64), true));
    // one more: about one period later, never sooner than the conversion
    let t0 = sim.now_ns();
    block_on(hx.read_async()).unwrap();
    let dt = sim.now_ns() - t0;
    assert!(dt <= 100_100_000, "{dt}");
}

#[test]
fn async_read_times_out_without_a_chip() {
    let sim = Hx711Sim::new(Rate::Sps80);
    sim.set_fault(Fault::DoutStuckHigh);
    let (d, s, delay) = sim.pins();
    let mut hx = Hx711::new(d, s, delay, Config::new(Rate::Sps80));
    let t0 = sim.now_ns();
    assert_eq!(
        block_on(hx.read_async_with_timeout(20_000)).unwrap_err(),
        Error::Timeout
    );
    let waited = sim.now_ns() - t0;
    assert!((20_000_000..=20_200_000).contains(&waited), "{waited}");
}

#[test]
fn async_read_awaits_dout_low_then_clocks_25_pulses() {
    let mut c = Config::new(Rate::Sps80);
    c.protection = Protection::None;
    let mut dout_tx = vec![P::get(State::High), P::wait_for_state(State::Low)];
    for i in 0..25 {
        dout_tx.push(P::get(if i < 24 && i % 2 == 0 {
            State::High
        } else {
            State::Low
        }));
    }
    *dout_tx.last_mut().unwrap() = P::get(State::High);
    let mut sck_tx = vec![P::set(State::Low)];
    for _ in 0..25 {
        sck_tx.push(P::set(State::High));
        sck_tx.push(P::set(State::Low));
    }
    let mut dout = Pin::new(&dout_tx);
    let mut sck = Pin::new(&sck_tx);
    c.settle = avia_hx711::SettlePolicy::Flag;
    let mut hx = Hx711::new(dout.clone(), sck.clone(), NoopDelay::new(), c);
    let s = block_on(hx.read_async()).unwrap();
    assert_eq!(s.raw, avia_hx711::decode(0xAAAAAA));
    dout.done();
    sck.done();
}
