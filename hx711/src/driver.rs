//! The bit-banged driver: blocking and `nb` reads.

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{InputPin, OutputPin};

use crate::config::{Config, Protection, Rate, Revision, SETTLING_CONVERSIONS, SettlePolicy};
use crate::error::Error;
use crate::mode::Mode;
use crate::sample::{Sample, decode};

/// A microsecond time source for measuring `PD_SCK` high phases (optional).
///
/// With a clock, a pulse stretched beyond T3 max (50 µs) by an interrupt or a scheduler is
/// detected and the sample is rejected with [`Error::ClockStretched`]. Wrapping is fine.
pub trait Clock {
    /// Current time in microseconds (wrapping).
    fn now_us(&mut self) -> u32;
}

/// No clock: pulse lengths are not measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoClock;

impl Clock for NoClock {
    fn now_us(&mut self) -> u32 {
        0
    }
}

/// T3 max of the datasheet; a longer high phase may have powered the chip down.
const T3_MAX_US: u32 = 50;

pub(crate) type Res<T, DOUT, SCK> = Result<
    T,
    Error<
        <DOUT as embedded_hal::digital::ErrorType>::Error,
        <SCK as embedded_hal::digital::ErrorType>::Error,
    >,
>;

/// HX711 driver over a `DOUT` input, a `PD_SCK` output and a delay.
///
/// `new` performs no I/O; see the crate documentation for the read model.
///
/// ```
/// use avia_hx711::{Config, Error, Hx711, Mode, Rate, nb, sim::Hx711Sim};
///
/// // On a board: `Hx711::new(dout_pin, pd_sck_pin, delay, config)`; here the simulated chip.
/// let sim = Hx711Sim::new(Rate::Sps80);
/// let (dout, pd_sck, delay) = sim.pins();
/// let mut hx = Hx711::new(dout, pd_sck, delay, Config::new(Rate::Sps80));
/// sim.set_constant(-1_234);
///
/// // blocking: waits for DOUT with a deadline, skips the conversions before settling
/// let sample = hx.read()?;
/// assert_eq!((sample.raw, sample.mode, sample.settled), (-1_234, Some(Mode::A128), true));
///
/// // non-blocking: `WouldBlock` until the next conversion is ready
/// assert!(matches!(hx.try_read(), Err(nb::Error::WouldBlock)));
/// sim.advance(12_500_000); // one conversion period at 80 SPS, in ns
/// assert_eq!(nb::block!(hx.try_read())?.raw, -1_234);
///
/// // a read of a powered-down chip is a typed error, not a hang
/// hx.power_down()?;
/// assert_eq!(hx.read(), Err(Error::PoweredDown));
///
/// // the driver's state, without asking `Debug` of the pins
/// assert!(format!("{hx:?}").starts_with("Hx711 { config: Config { rate: Sps80"));
/// let (_dout, _pd_sck, _delay, _no_clock) = hx.release();
/// # Ok::<(), Error<core::convert::Infallible, core::convert::Infallible>>(())
/// ```
pub struct Hx711<DOUT, SCK, D, C = NoClock> {
    pub(crate) dout: DOUT,
    pub(crate) sck: SCK,
    pub(crate) delay: D,
    pub(crate) clock: C,
    pub(crate) config: Config,
    /// Mode of the conversion the next read returns.
    pub(crate) current: Option<Mode>,
    /// Mode the next read's pulses select.
    pub(crate) target: Mode,
    /// How many upcoming conversions are still unsettled.
    pub(crate) unsettled: u8,
    pub(crate) powered_down: bool,
}

/// The driver's state (configuration, modes, settling); the pins, the delay and the clock are
/// left out, so no `Debug` bound is asked of them.
impl<DOUT, SCK, D, C> core::fmt::Debug for Hx711<DOUT, SCK, D, C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Hx711")
            .field("config", &self.config)
            .field("current", &self.current)
            .field("target", &self.target)
            .field("unsettled", &self.unsettled)
            .field("powered_down", &self.powered_down)
            .finish_non_exhaustive()
    }
}

impl<DOUT, SCK, D> Hx711<DOUT, SCK, D, NoClock>
where
    DOUT: InputPin,
    SCK: OutputPin,
    D: DelayNs,
{
    /// Take ownership of the pins and the delay. No pin is touched and nothing waits.
    ///
    /// The chip's mode is unknown at this point (a V2.0 chip keeps its mode across an MCU
    /// reset), so the first samples are reported unsettled until the requested mode has been
    /// selected and has settled.
    pub fn new(dout: DOUT, sck: SCK, delay: D, config: Config) -> Self {
        Hx711::with_clock(dout, sck, delay, NoClock, config)
    }
}

impl<DOUT, SCK, D, C> Hx711<DOUT, SCK, D, C>
where
    DOUT: InputPin,
    SCK: OutputPin,
    D: DelayNs,
    C: Clock,
{
    /// Like [`Hx711::new`], with a clock that measures every `PD_SCK` high phase.
    pub fn with_clock(dout: DOUT, sck: SCK, delay: D, clock: C, config: Config) -> Self {
        Hx711 {
            dout,
            sck,
            delay,
            clock,
            config,
            current: None,
            target: Mode::A128,
            unsettled: SETTLING_CONVERSIONS,
            powered_down: false,
        }
    }

    /// Give back the pins, the delay and the clock.
    pub fn release(self) -> (DOUT, SCK, D, C) {
        (self.dout, self.sck, self.delay, self.clock)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Choose the mode for the following conversions. It is selected by the next read's
    /// pulses, so the sample after that is the first in the new mode (and is unsettled).
    pub fn set_mode(&mut self, mode: Mode) {
        self.target = mode;
    }

    /// The data rate changed: call after driving the chip's `RATE` pin to the new level (see
    /// [`Rate::rate_pin_high`]). Deadlines and periods follow the new rate, and the next four
    /// conversions count as unsettled (the chip's digital filter starts over).
    pub fn set_rate(&mut self, rate: Rate) {
        self.config.rate = rate;
        self.unsettled = SETTLING_CONVERSIONS;
    }

    /// The mode reads select.
    pub fn mode(&self) -> Mode {
        self.target
    }

    /// The mode of the conversion the next read returns, if known.
    pub fn pending_mode(&self) -> Option<Mode> {
        self.current
    }

    /// `true` when the next sample will be settled in the requested mode.
    pub fn is_settled(&self) -> bool {
        self.unsettled == 0 && self.current == Some(self.target)
    }

    /// `true` after [`power_down`](Self::power_down) until [`power_up`](Self::power_up).
    pub fn is_powered_down(&self) -> bool {
        self.powered_down
    }

    /// `true` when a conversion is ready (`DOUT` low). Does not clock anything.
    pub fn is_ready(&mut self) -> Res<bool, DOUT, SCK> {
        self.dout.is_low().map_err(Error::Input)
    }

    /// Non-blocking read, returning an `nb::Result` (the crate re-exports `nb`):
    /// `Err(nb::Error::WouldBlock)` while `DOUT` is high, otherwise one frame.
    ///
    /// Returns every sample, settled or not (see [`Sample::settled`]); the settle policy
    /// applies to [`read`](Self::read) only.
    pub fn try_read(&mut self) -> nb::Result<Sample, Error<DOUT::Error, SCK::Error>> {
        if self.powered_down {
            return Err(nb::Error::Other(Error::PoweredDown));
        }
        if !self
            .dout
            .is_low()
            .map_err(|e| nb::Error::Other(Error::Input(e)))?
        {
            return Err(nb::Error::WouldBlock);
        }
        self.frame().map_err(nb::Error::Other)
    }

    /// Blocking read with the configured deadline per conversion.
    ///
    /// With [`SettlePolicy::Discard`] unsettled conversions are read and dropped, so after a
    /// power-up or mode change this takes up to five conversion periods.
    pub fn read(&mut self) -> Res<Sample, DOUT, SCK> {
        let timeout = self.config.ready_timeout();
        self.read_with_timeout(timeout)
    }

    /// Blocking read, waiting at most `timeout_us` for each conversion.
    pub fn read_with_timeout(&mut self, timeout_us: u32) -> Res<Sample, DOUT, SCK> {
        // at most SETTLING_CONVERSIONS + 2 frames: one to select the mode, four to settle
        for _ in 0..(SETTLING_CONVERSIONS + 2) {
            self.wait_ready(timeout_us)?;
            let sample = self.frame()?;
            if sample.settled || self.config.settle == SettlePolicy::Flag {
                return Ok(sample);
            }
        }
        Err(Error::Timeout)
    }

    /// Read `n` valid samples and return their median as the zero offset of the current
    /// channel. Saturated samples abort with [`Error::Saturated`]: a tare on a clipped input
    /// would be wrong. Always uses raw codes, so a repeated tare re-zeroes.
    pub fn tare<const N: usize>(&mut self) -> Res<i32, DOUT, SCK> {
        let mut buf = [0i32; N];
        for slot in buf.iter_mut() {
            let s = self.read_settled()?;
            if s.is_saturated() {
                return Err(Error::Saturated);
            }
            *slot = s.raw;
        }
        Ok(crate::filter::median_in_place(&mut buf).unwrap_or(0))
    }

    /// Blocking read that always waits for a settled sample, whatever the settle policy.
    pub fn read_settled(&mut self) -> Res<Sample, DOUT, SCK> {
        let timeout = self.config.ready_timeout();
        for _ in 0..(SETTLING_CONVERSIONS + 2) {
            self.wait_ready(timeout)?;
            let s = self.frame()?;
            if s.settled {
                return Ok(s);
            }
        }
        Err(Error::Timeout)
    }

    /// Enter power-down: `PD_SCK` high for at least 60 µs (plus the configured margin),
    /// then left high. Consumption drops below 1 µA.
    pub fn power_down(&mut self) -> Res<(), DOUT, SCK> {
        self.sck.set_low().map_err(Error::Output)?;
        self.delay.delay_ns(self.config.timing.t4_ns());
        self.sck.set_high().map_err(Error::Output)?;
        self.delay
            .delay_us(crate::config::POWER_DOWN_US + self.config.power_down_margin_us);
        self.powered_down = true;
        Ok(())
    }

    /// Leave power-down (`PD_SCK` low). The chip resets and starts converting; the next
    /// four conversions are unsettled, and the next read re-selects the requested mode
    /// (a V1.0 chip wakes in A/128, a V2.0 chip in its previous mode).
    pub fn power_up(&mut self) -> Res<(), DOUT, SCK> {
        self.sck.set_low().map_err(Error::Output)?;
        if self.powered_down {
            self.after_reset();
        }
        self.powered_down = false;
        Ok(())
    }

    /// Power-cycle the chip (power down, then up).
    pub fn reset(&mut self) -> Res<(), DOUT, SCK> {
        self.power_down()?;
        self.power_up()
    }

    fn after_reset(&mut self) {
        if self.config.revision == Revision::V1 {
            self.current = Some(Mode::A128);
        }
        self.unsettled = SETTLING_CONVERSIONS;
    }

    /// Wait until `DOUT` is low, polling every `poll_interval_us`, at most `timeout_us`.
    pub(crate) fn wait_ready(&mut self, timeout_us: u32) -> Res<(), DOUT, SCK> {
        if self.powered_down {
            return Err(Error::PoweredDown);
        }
        // PD_SCK must idle low; if it was left high (e.g. across an MCU reset) this wakes the chip.
        self.sck.set_low().map_err(Error::Output)?;
        let step = self.config.poll_interval_us.max(1);
        let mut waited: u32 = 0;
        loop {
            if self.dout.is_low().map_err(Error::Input)? {
                return Ok(());
            }
            if waited >= timeout_us {
                return Err(Error::Timeout);
            }
            self.delay.delay_us(step);
            waited = waited.saturating_add(step);
        }
    }

    /// Clock one frame: 24 data bits and 1–3 mode pulses. Never split, never awaited.
    pub(crate) fn frame(&mut self) -> Res<Sample, DOUT, SCK> {
        let pulses = self.target.pulses();
        let t1 = self.config.timing.t1_ns();
        self.delay.delay_ns(t1);
        let result = match self.config.protection {
            Protection::PerFrame => critical_section::with(|_| self.clock_frame(pulses, false)),
            Protection::PerBit => self.clock_frame(pulses, true),
            Protection::None => self.clock_frame(pulses, false),
        };
        let (bits, stuck_low, max_high) = match result {
            Ok(v) => v,
            Err(e) => {
                // a pin failed mid-frame: the chip's state is unknown
                self.current = None;
                self.unsettled = SETTLING_CONVERSIONS;
                return Err(e);
            }
        };
        let produced_by = self.current;
        let settled = produced_by.is_some() && self.unsettled == 0;
        if max_high > T3_MAX_US {
            // the chip may have powered down and reset mid-frame
            self.current = if self.config.revision == Revision::V1 {
                Some(Mode::A128)
            } else {
                None
            };
            self.unsettled = SETTLING_CONVERSIONS;
            return Err(Error::ClockStretched { high_us: max_high });
        }
        if stuck_low {
            self.current = None;
            self.unsettled = SETTLING_CONVERSIONS;
            return Err(Error::StuckLow);
        }
        if self.current != Some(self.target) {
            self.unsettled = SETTLING_CONVERSIONS;
        } else {
            self.unsettled = self.unsettled.saturating_sub(1);
        }
        self.current = Some(self.target);
        Ok(Sample {
            raw: decode(bits),
            mode: produced_by,
            settled,
        })
    }

    /// Returns (data bits, DOUT low after the 25th pulse, longest high phase in µs).
    fn clock_frame(&mut self, pulses: u8, per_bit: bool) -> Res<(u32, bool, u32), DOUT, SCK> {
        let mut bits: u32 = 0;
        let mut stuck_low = false;
        let mut max_high: u32 = 0;
        for i in 0..pulses {
            let (level_low, high) = if per_bit {
                critical_section::with(|_| self.pulse())?
            } else {
                self.pulse()?
            };
            max_high = max_high.max(high);
            if i < 24 {
                bits = (bits << 1) | u32::from(!level_low);
            } else if i == 24 {
                stuck_low = level_low;
            }
        }
        Ok((bits, stuck_low, max_high))
    }

    /// One pulse: high for T3, low, sample DOUT (data changes on the rising edge only, so
    /// sampling after the falling edge is safe, as in the datasheet's reference code), T4.
    #[inline(always)]
    fn pulse(&mut self) -> Res<(bool, u32), DOUT, SCK> {
        let start = self.clock.now_us();
        self.sck.set_high().map_err(Error::Output)?;
        self.delay.delay_ns(self.config.timing.t3_ns());
        self.sck.set_low().map_err(Error::Output)?;
        let high = self.clock.now_us().wrapping_sub(start);
        let low = self.dout.is_low().map_err(Error::Input)?;
        self.delay.delay_ns(self.config.timing.t4_ns());
        Ok((low, high))
    }
}
