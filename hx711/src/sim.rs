//! A behavioural HX711 over a virtual clock (feature `sim`).
//!
//! [`Hx711Sim`] hands out a `DOUT` input pin, a `PD_SCK` output pin, a delay and a clock that
//! all share one virtual time line. Delays advance time; pins observe it. The chip converts
//! continuously at its data rate, shifts the 24-bit code out MSB first on the rising edges,
//! pulls `DOUT` high on the 25th pulse, takes the next mode from the pulse count (25/26/27),
//! outputs transient values for four conversion periods after power-up or a mode change,
//! saturates at 0x800000/0x7FFFFF, enters power-down when `PD_SCK` stays high for more than
//! 60 µs (mid-frame too: the remaining bits then read as ones), and wakes with V1.0 or V2.0
//! semantics. Faults: `DOUT` stuck high or low, a pulse stretched as if by an interrupt.
//!
//! The async delay and `Wait` advance virtual time in small steps while polled, so a race
//! between "DOUT low" and a deadline resolves at the right virtual instant.

use core::convert::Infallible;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::boxed::Box;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::{POWER_DOWN_US, Rate, Revision, SETTLING_CONVERSIONS};
use crate::driver::Clock;
use crate::mode::Mode;
use crate::sample::{MAX_RAW, MIN_RAW};

/// A hardware fault of the simulated board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Fault {
    /// A working chip.
    #[default]
    None,
    /// `DOUT` reads high forever (chip unpowered, unplugged, or a pull-up on an open line).
    DoutStuckHigh,
    /// `DOUT` reads low forever (line shorted or floating low).
    DoutStuckLow,
}

/// Counters the simulator keeps about how it was driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Completed conversions.
    pub conversions: u64,
    /// Frames that ended with 25–27 pulses.
    pub frames: u64,
    /// Frames with fewer than 25 or more than 27 pulses (serial communication errors).
    pub bad_frames: u64,
    /// Times the chip entered power-down.
    pub power_downs: u64,
    /// Longest `PD_SCK` high phase that did not power the chip down, in ns.
    pub max_high_ns: u64,
    /// Shortest `PD_SCK` high phase seen, in ns.
    pub min_high_ns: u64,
    /// Shortest `PD_SCK` low phase seen inside a frame, in ns.
    pub min_low_ns: u64,
    /// Pulses that stayed high longer than 50 µs (T3 max).
    pub t3_violations: u64,
}

type Load = Box<dyn FnMut(u64, Mode) -> i64 + Send>;

struct State {
    now: u64,
    rate: Rate,
    revision: Revision,
    fault: Fault,
    powered: bool,
    next_conv: u64,
    chip_mode: Mode,
    settle_from: u64,
    settle_start_value: i64,
    last_value: i64,
    latched: Option<u32>,
    pulses: u8,
    frame_end: u64,
    dout_high: bool,
    sck_high: bool,
    sck_edge: u64,
    stretch: Option<(u8, u64)>,
    load: Load,
    noise_rms: u32,
    rng: u64,
    stats: Stats,
}

impl State {
    fn period_ns(&self) -> u64 {
        u64::from(self.rate.period_us()) * 1_000
    }

    fn advance_to(&mut self, t: u64) {
        if t < self.now {
            return;
        }
        if self.sck_high && self.powered {
            let pd_at = self.sck_edge + u64::from(POWER_DOWN_US) * 1_000;
            if t > pd_at {
                self.run_conversions(pd_at);
                self.powered = false;
                self.latched = None;
                self.dout_high = true;
                self.stats.power_downs += 1;
            }
        }
        if self.powered {
            self.run_conversions(t);
        }
        self.now = t;
    }

    fn run_conversions(&mut self, until: u64) {
        while self.next_conv <= until {
            let at = self.next_conv;
            self.complete_conversion(at);
            self.next_conv += self.period_ns();
        }
    }

    fn complete_conversion(&mut self, at: u64) {
        if self.pulses > 0 {
            if (25..=27).contains(&self.pulses) {
                self.stats.frames += 1;
                if let Some(m) = Mode::from_pulses(self.pulses)
                    && m != self.chip_mode
                {
                    self.chip_mode = m;
                    self.begin_settling(self.frame_end);
                }
            } else {
                self.stats.bad_frames += 1;
            }
        }
        self.pulses = 0;
        self.stats.conversions += 1;
        let target = (self.load)(at, self.chip_mode) + self.noise();
        let settle_end = self.settle_from + self.period_ns() * u64::from(SETTLING_CONVERSIONS);
        let value = if at < settle_end {
            // a first-order approach from where the output was to the new input
            let done = (at - self.settle_from) as i64;
            let total = (settle_end - self.settle_from) as i64;
            self.settle_start_value + (target - self.settle_start_value) * done / total.max(1) / 2
        } else {
            target
        };
        self.last_value = value;
        let code = value.clamp(i64::from(MIN_RAW), i64::from(MAX_RAW)) as i32;
        self.latched = Some((code as u32) & 0x00FF_FFFF);
        self.dout_high = false;
    }

    fn begin_settling(&mut self, at: u64) {
        self.settle_from = at;
        self.settle_start_value = self.last_value;
    }

    fn noise(&mut self) -> i64 {
        if self.noise_rms == 0 {
            return 0;
        }
        // sum of four uniforms in ±sqrt(3)·rms: close to Gaussian, rms as asked
        let mut acc: i64 = 0;
        for _ in 0..4 {
            self.rng = self
                .rng
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = ((self.rng >> 33) as i64 & 0xFFFF) - 0x8000; // ±32768
            acc += u;
        }
        // each uniform has rms 32768/sqrt(3); four of them: 2·32768/sqrt(3) ≈ 37837
        acc * i64::from(self.noise_rms) / 37_837
    }

    fn dout_low(&self) -> bool {
        match self.fault {
            Fault::DoutStuckHigh => false,
            Fault::DoutStuckLow => true,
            Fault::None => !self.dout_high,
        }
    }

    fn set_sck(&mut self, high: bool) {
        if high == self.sck_high {
            return;
        }
        let now = self.now;
        if high {
            let low_ns = now - self.sck_edge;
            if self.pulses > 0 && self.pulses < 27 {
                self.stats.min_low_ns = self.stats.min_low_ns.min(low_ns);
            }
            self.sck_high = true;
            self.sck_edge = now;
            if self.powered && (self.latched.is_some() || self.pulses > 0) {
                self.pulses = self.pulses.saturating_add(1);
                match (self.pulses, self.latched) {
                    (1..=24, Some(code)) => {
                        let bit = (code >> (24 - u32::from(self.pulses))) & 1;
                        self.dout_high = bit == 1;
                    }
                    _ => {
                        self.latched = None;
                        self.dout_high = true;
                    }
                }
                if let Some((at, extra)) = self.stretch
                    && at == self.pulses
                {
                    self.stretch = None;
                    let t = self.now + extra;
                    self.advance_to(t);
                }
            }
        } else {
            let high_ns = self.now - self.sck_edge;
            self.sck_high = false;
            self.sck_edge = self.now;
            if high_ns > u64::from(50u32) * 1_000 {
                self.stats.t3_violations += 1;
            }
            if self.powered {
                self.stats.max_high_ns = self.stats.max_high_ns.max(high_ns);
                self.stats.min_high_ns = self.stats.min_high_ns.min(high_ns);
                if self.pulses >= 24 {
                    self.frame_end = self.now;
                }
            } else {
                // wake-up: reset, V1 forgets the mode, V2 keeps it
                self.powered = true;
                self.pulses = 0;
                self.latched = None;
                self.dout_high = true;
                self.next_conv = self.now + self.period_ns();
                if self.revision == Revision::V1 {
                    self.chip_mode = Mode::A128;
                }
                self.last_value = 0;
                self.begin_settling(self.now);
            }
        }
    }
}

/// The simulated chip. Cloning shares the same chip.
///
/// Its pins and delay run on a virtual clock: a read that waits advances it, so a test of
/// seconds of conversions takes microseconds.
///
/// ```
/// use avia_hx711::sim::{Fault, Hx711Sim};
/// use avia_hx711::{Config, Error, Hx711, Mode, Rate};
///
/// let sim = Hx711Sim::new(Rate::Sps10);
/// let (dout, pd_sck, delay) = sim.pins();
/// let mut hx = Hx711::new(dout, pd_sck, delay, Config::new(Rate::Sps10));
/// // the input as a function of time (ns) and the selected mode: a ramp on channel A
/// sim.set_load(|t_ns, mode| if mode == Mode::A128 { (t_ns / 1_000_000) as i64 } else { 0 });
/// let first = hx.read()?.raw;
/// let second = hx.read()?.raw;
/// assert_eq!(second - first, 100); // 100 ms later at 10 SPS
/// assert!(sim.now_ns() >= 500_000_000); // 400 ms of settling went by, virtually
///
/// // hardware faults
/// sim.set_fault(Fault::DoutStuckHigh);
/// assert_eq!(hx.read(), Err(Error::Timeout));
/// assert_eq!(sim.stats().bad_frames, 0);
/// # Ok::<(), Error<core::convert::Infallible, core::convert::Infallible>>(())
/// ```
#[derive(Clone)]
pub struct Hx711Sim {
    state: Arc<Mutex<State>>,
}

impl core::fmt::Debug for Hx711Sim {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Hx711Sim")
            .field("now_ns", &self.now_ns())
            .finish()
    }
}

impl Hx711Sim {
    /// A powered chip at `rate`, just past its power-on reset (settling, mode A/128), with a
    /// constant zero input.
    pub fn new(rate: Rate) -> Self {
        let period = u64::from(rate.period_us()) * 1_000;
        let state = State {
            now: 0,
            rate,
            revision: Revision::V2,
            fault: Fault::None,
            powered: true,
            next_conv: period,
            chip_mode: Mode::A128,
            settle_from: 0,
            settle_start_value: 0,
            last_value: 0,
            latched: None,
            pulses: 0,
            frame_end: 0,
            dout_high: true,
            sck_high: false,
            sck_edge: 0,
            stretch: None,
            load: Box::new(|_, _| 0),
            noise_rms: 0,
            rng: 0x853c_49e6_748f_ea9b,
            stats: Stats {
                min_high_ns: u64::MAX,
                min_low_ns: u64::MAX,
                ..Stats::default()
            },
        };
        Hx711Sim {
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The `DOUT` pin, the `PD_SCK` pin and a delay, for [`Hx711::new`](crate::Hx711::new).
    pub fn pins(&self) -> (SimDout, SimSck, SimDelay) {
        (
            SimDout(self.clone()),
            SimSck(self.clone()),
            SimDelay(self.clone()),
        )
    }

    /// A clock on the virtual time line, for [`Hx711::with_clock`](crate::Hx711::with_clock).
    pub fn clock(&self) -> SimClock {
        SimClock(self.clone())
    }

    /// The input as a function of virtual time (ns) and mode, in output codes (values beyond
    /// the 24-bit range saturate).
    pub fn set_load(&self, load: impl FnMut(u64, Mode) -> i64 + Send + 'static) {
        self.lock().load = Box::new(load);
    }

    /// Drive the chip's `RATE` pin: low for 10 SPS, high for 80 SPS (with the internal
    /// oscillator, or the same clock on `XI` for an external rate). The conversion under way is
    /// abandoned, the next completes one new period from now, and the output settles again.
    pub fn set_rate_pin(&self, high: bool) {
        let mut s = self.lock();
        let t = s.now;
        s.advance_to(t);
        s.rate = match s.rate {
            Rate::External { fclk_hz, .. } => Rate::External {
                fclk_hz,
                rate_high: high,
            },
            _ if high => Rate::Sps80,
            _ => Rate::Sps10,
        };
        s.next_conv = t + s.period_ns();
        s.begin_settling(t);
    }

    /// A constant input code for every mode.
    pub fn set_constant(&self, code: i64) {
        self.set_load(move |_, _| code);
    }

    /// Gaussian-like noise of `rms` codes on every conversion (deterministic sequence).
    pub fn set_noise(&self, rms: u32) {
        self.lock().noise_rms = rms;
    }

    /// Inject or clear a wiring fault.
    pub fn set_fault(&self, fault: Fault) {
        self.lock().fault = fault;
    }

    /// Power-down semantics (default V2.0).
    pub fn set_revision(&self, revision: Revision) {
        self.lock().revision = revision;
    }

    /// Hold the `n`th pulse (1-based) of the next frame high for `extra_ns` more, as an
    /// interrupt landing during the high phase would.
    pub fn stretch_pulse(&self, n: u8, extra_ns: u64) {
        self.lock().stretch = Some((n, extra_ns));
    }

    /// Move virtual time forward (as if the firmware did something else for `ns`).
    pub fn advance(&self, ns: u64) {
        let mut s = self.lock();
        let t = s.now + ns;
        s.advance_to(t);
    }

    /// Virtual time in ns.
    pub fn now_ns(&self) -> u64 {
        self.lock().now
    }

    /// The mode the chip converts in.
    pub fn chip_mode(&self) -> Mode {
        self.lock().chip_mode
    }

    /// `true` while the chip is in power-down.
    pub fn is_powered_down(&self) -> bool {
        !self.lock().powered
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.lock().stats
    }
}

/// Simulated `DOUT` (an input).
#[derive(Debug, Clone)]
pub struct SimDout(Hx711Sim);
/// Simulated `PD_SCK` (an output).
#[derive(Debug, Clone)]
pub struct SimSck(Hx711Sim);
/// A delay that advances virtual time.
#[derive(Debug, Clone)]
pub struct SimDelay(Hx711Sim);
/// A microsecond clock on virtual time.
#[derive(Debug, Clone)]
pub struct SimClock(Hx711Sim);

impl embedded_hal::digital::ErrorType for SimDout {
    type Error = Infallible;
}
impl embedded_hal::digital::ErrorType for SimSck {
    type Error = Infallible;
}

impl embedded_hal::digital::InputPin for SimDout {
    fn is_high(&mut self) -> Result<bool, Infallible> {
        let mut s = self.0.lock();
        let t = s.now;
        s.advance_to(t);
        Ok(!s.dout_low())
    }
    fn is_low(&mut self) -> Result<bool, Infallible> {
        self.is_high().map(|h| !h)
    }
}

impl embedded_hal::digital::OutputPin for SimSck {
    fn set_low(&mut self) -> Result<(), Infallible> {
        let mut s = self.0.lock();
        let t = s.now;
        s.advance_to(t);
        s.set_sck(false);
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Infallible> {
        let mut s = self.0.lock();
        let t = s.now;
        s.advance_to(t);
        s.set_sck(true);
        Ok(())
    }
}

impl embedded_hal::delay::DelayNs for SimDelay {
    fn delay_ns(&mut self, ns: u32) {
        self.0.advance(u64::from(ns));
    }
}

impl Clock for SimClock {
    fn now_us(&mut self) -> u32 {
        (self.0.now_ns() / 1_000) as u32
    }
}

/// Virtual time advanced per poll by the async delay and `Wait`.
const ASYNC_STEP_NS: u64 = 50_000;

/// Future of the simulated async delay.
struct SimSleep {
    sim: Hx711Sim,
    until: Option<u64>,
    ns: u64,
}

impl Future for SimSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let now = self.sim.now_ns();
        let ns = self.ns;
        let until = *self.until.get_or_insert(now + ns);
        if now >= until {
            return Poll::Ready(());
        }
        self.sim.advance((until - now).min(ASYNC_STEP_NS));
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(feature = "async")]
impl embedded_hal_async::delay::DelayNs for SimDelay {
    async fn delay_ns(&mut self, ns: u32) {
        SimSleep {
            sim: self.0.clone(),
            until: None,
            ns: u64::from(ns),
        }
        .await
    }
}

/// Future of the simulated `Wait`.
struct SimWaitLevel {
    sim: Hx711Sim,
    low: bool,
}

impl Future for SimWaitLevel {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let is_low = {
            let mut s = self.sim.lock();
            let t = s.now;
            s.advance_to(t);
            s.dout_low()
        };
        if is_low == self.low {
            return Poll::Ready(());
        }
        self.sim.advance(ASYNC_STEP_NS);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(feature = "async")]
impl embedded_hal_async::digital::Wait for SimDout {
    async fn wait_for_high(&mut self) -> Result<(), Infallible> {
        SimWaitLevel {
            sim: self.0.clone(),
            low: false,
        }
        .await;
        Ok(())
    }
    async fn wait_for_low(&mut self) -> Result<(), Infallible> {
        SimWaitLevel {
            sim: self.0.clone(),
            low: true,
        }
        .await;
        Ok(())
    }
    async fn wait_for_rising_edge(&mut self) -> Result<(), Infallible> {
        self.wait_for_low().await?;
        self.wait_for_high().await
    }
    async fn wait_for_falling_edge(&mut self) -> Result<(), Infallible> {
        self.wait_for_high().await?;
        self.wait_for_low().await
    }
    async fn wait_for_any_edge(&mut self) -> Result<(), Infallible> {
        let low = {
            let mut s = self.0.lock();
            let t = s.now;
            s.advance_to(t);
            s.dout_low()
        };
        SimWaitLevel {
            sim: self.0.clone(),
            low: !low,
        }
        .await;
        Ok(())
    }
}
