//! Timing, data rate, settling and interrupt-protection settings, validated against the
//! datasheet.

/// Output data rate (datasheet Table 2, `RATE` pin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Rate {
    /// `RATE` = 0 with the internal oscillator: 10 samples/s, 50 nV rms input noise at gain 128.
    Sps10,
    /// `RATE` = DVDD with the internal oscillator: 80 samples/s, 90 nV rms input noise at gain 128.
    Sps80,
    /// An external crystal or clock on `XI`: the data rate is `fclk_hz / 1_105_920` (`RATE` = 0)
    /// or `fclk_hz / 138_240` (`RATE` = 1). 11.0592 MHz gives exactly 10 or 80 SPS.
    External {
        /// Clock frequency in Hz (datasheet: 1–20 MHz).
        fclk_hz: u32,
        /// Level of the `RATE` pin.
        rate_high: bool,
    },
}

impl Rate {
    /// The level of the `RATE` pin for this rate: low for 10 SPS, high for 80 SPS.
    pub const fn rate_pin_high(self) -> bool {
        match self {
            Rate::Sps10 => false,
            Rate::Sps80 => true,
            Rate::External { rate_high, .. } => rate_high,
        }
    }

    /// One conversion period in microseconds (100 ms at 10 SPS, 12.5 ms at 80 SPS).
    pub const fn period_us(self) -> u32 {
        match self {
            Rate::Sps10 => 100_000,
            Rate::Sps80 => 12_500,
            Rate::External { fclk_hz, rate_high } => {
                let div: u64 = if rate_high { 138_240 } else { 1_105_920 };
                let f = if fclk_hz == 0 { 1 } else { fclk_hz as u64 };
                // period = div / f seconds, rounded up to a whole microsecond
                let us = crate::math::div_rem_u64(div * 1_000_000 + f - 1, f).0;
                if us > u32::MAX as u64 {
                    u32::MAX
                } else {
                    us as u32
                }
            }
        }
    }

    /// Output settling time: four conversion periods (400 ms at 10 SPS, 50 ms at 80 SPS).
    pub const fn settling_us(self) -> u32 {
        crate::math::saturating_mul_u32(self.period_us(), SETTLING_CONVERSIONS as u32)
    }
}

/// Conversions after power-up, wake-up or a channel/gain change that are not yet settled
/// (datasheet Table 2 note 1: 400 ms at 10 SPS = 50 ms at 80 SPS = four periods).
pub const SETTLING_CONVERSIONS: u8 = 4;

/// `PD_SCK` high longer than this puts the chip into power-down (datasheet Fig. 3).
pub const POWER_DOWN_US: u32 = 60;

/// Clock timing (datasheet p.5 table), in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Timing {
    t1_ns: u32,
    t3_ns: u32,
    t4_ns: u32,
}

/// Why a [`Timing`] was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TimingError {
    /// T1 (DOUT falling edge to first PD_SCK rising edge) below 100 ns.
    T1TooShort,
    /// T3 (PD_SCK high) below 200 ns.
    T3TooShort,
    /// T3 (PD_SCK high) above 50 µs: the chip may power down mid-frame.
    T3TooLong,
    /// T4 (PD_SCK low) below 200 ns.
    T4TooShort,
    /// T4 (PD_SCK low) above 30 µs: a 27-pulse frame must stay well inside one conversion period.
    T4TooLong,
}

impl core::fmt::Display for TimingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            TimingError::T1TooShort => "T1 must be at least 100 ns",
            TimingError::T3TooShort => "T3 (PD_SCK high) must be at least 200 ns",
            TimingError::T3TooLong => "T3 (PD_SCK high) must be at most 50 us",
            TimingError::T4TooShort => "T4 (PD_SCK low) must be at least 200 ns",
            TimingError::T4TooLong => "T4 (PD_SCK low) must be at most 30 us",
        })
    }
}

impl core::error::Error for TimingError {}

impl Timing {
    /// Datasheet typical timing: T1 = 1 µs, T3 = 1 µs, T4 = 1 µs (a 27-pulse frame ≈ 55 µs).
    pub const TYPICAL: Timing = Timing {
        t1_ns: 1_000,
        t3_ns: 1_000,
        t4_ns: 1_000,
    };

    /// Validated timing: T1 ≥ 0.1 µs, 0.2 µs ≤ T3 ≤ 50 µs, 0.2 µs ≤ T4 ≤ 30 µs.
    ///
    /// Use longer T1/T4 for long cables or weak pull-ups (parasitic capacitance slows the
    /// DOUT edges); keep T3 short, because every nanosecond of T3 is spent with the chip
    /// closer to power-down if an interrupt stretches the pulse.
    pub const fn new(t1_ns: u32, t3_ns: u32, t4_ns: u32) -> Result<Timing, TimingError> {
        if t1_ns < 100 {
            Err(TimingError::T1TooShort)
        } else if t3_ns < 200 {
            Err(TimingError::T3TooShort)
        } else if t3_ns > 50_000 {
            Err(TimingError::T3TooLong)
        } else if t4_ns < 200 {
            Err(TimingError::T4TooShort)
        } else if t4_ns > 30_000 {
            Err(TimingError::T4TooLong)
        } else {
            Ok(Timing {
                t1_ns,
                t3_ns,
                t4_ns,
            })
        }
    }

    /// T1: DOUT falling edge to the first PD_SCK rising edge.
    pub const fn t1_ns(&self) -> u32 {
        self.t1_ns
    }
    /// T3: PD_SCK high time.
    pub const fn t3_ns(&self) -> u32 {
        self.t3_ns
    }
    /// T4: PD_SCK low time.
    pub const fn t4_ns(&self) -> u32 {
        self.t4_ns
    }
}

impl Default for Timing {
    fn default() -> Self {
        Timing::TYPICAL
    }
}

/// How the clock pulses are protected from interrupts, through the `critical-section` crate.
///
/// An interrupt that lands while `PD_SCK` is high stretches the pulse; beyond 60 µs the chip
/// powers down mid-frame and the remaining bits read as ones (the classic `8388607`,
/// `4194303` ... garbage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Protection {
    /// One critical section per pulse (high phase and DOUT sample): interrupts wait at most
    /// T3 + T4 ≈ 2 µs. The default: safe for the HX711 and kind to other interrupt handlers.
    #[default]
    PerBit,
    /// One critical section for the whole 25–27-pulse frame (≈ 55 µs at typical timing).
    PerFrame,
    /// No critical section: for PIO/timer-driven clocks, RTIC priorities, or single-threaded
    /// code without interrupts.
    None,
}

/// What a blocking or async read does with samples taken before the chip settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SettlePolicy {
    /// Read and discard unsettled conversions until a settled one arrives (each read still
    /// has its own deadline).
    #[default]
    Discard,
    /// Return every sample; unsettled ones have `settled == false`.
    Flag,
}

/// Datasheet revision the chip follows on power-down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Revision {
    /// V1.0: after reset or power-down the input is channel A, gain 128.
    V1,
    /// V2.0: after power-down the chip returns to the mode it had before (current parts).
    #[default]
    V2,
}

/// Driver configuration: [`Config::new`] for a data rate, then the `with_*` methods (or the
/// public fields) for the rest.
///
/// ```
/// use avia_hx711::{Config, Protection, Rate, SettlePolicy};
///
/// let config = Config::new(Rate::Sps80)
///     .with_protection(Protection::PerFrame)
///     .with_settle(SettlePolicy::Flag)
///     .with_ready_timeout_us(Some(50_000));
/// assert_eq!(config.ready_timeout(), 50_000);
/// // the default deadline: three conversion periods
/// assert_eq!(Config::new(Rate::Sps10).ready_timeout(), 300_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Config {
    /// Data rate the board is wired for.
    pub rate: Rate,
    /// Clock timing.
    pub timing: Timing,
    /// Interrupt protection of the clock pulses.
    pub protection: Protection,
    /// What reads do with unsettled samples.
    pub settle: SettlePolicy,
    /// Power-down semantics of the chip.
    pub revision: Revision,
    /// How long a read waits for `DOUT` to go low, in µs. `None`: three conversion periods
    /// (300 ms at 10 SPS, 37.5 ms at 80 SPS).
    pub ready_timeout_us: Option<u32>,
    /// How often `DOUT` is polled while waiting, in µs.
    pub poll_interval_us: u32,
    /// Extra margin over the 60 µs power-down threshold when powering down, in µs.
    pub power_down_margin_us: u32,
}

impl Config {
    /// Defaults for a data rate.
    pub const fn new(rate: Rate) -> Config {
        Config {
            rate,
            timing: Timing::TYPICAL,
            protection: Protection::PerBit,
            settle: SettlePolicy::Discard,
            revision: Revision::V2,
            ready_timeout_us: None,
            poll_interval_us: 500,
            power_down_margin_us: 20,
        }
    }

    /// With another clock timing.
    pub const fn with_timing(mut self, timing: Timing) -> Config {
        self.timing = timing;
        self
    }

    /// With another interrupt protection of the clock pulses.
    pub const fn with_protection(mut self, protection: Protection) -> Config {
        self.protection = protection;
        self
    }

    /// With another policy for unsettled samples.
    pub const fn with_settle(mut self, settle: SettlePolicy) -> Config {
        self.settle = settle;
        self
    }

    /// With another chip revision.
    pub const fn with_revision(mut self, revision: Revision) -> Config {
        self.revision = revision;
        self
    }

    /// With another ready deadline in µs (`None`: three conversion periods).
    pub const fn with_ready_timeout_us(mut self, timeout_us: Option<u32>) -> Config {
        self.ready_timeout_us = timeout_us;
        self
    }

    /// With another `DOUT` polling interval in µs.
    pub const fn with_poll_interval_us(mut self, interval_us: u32) -> Config {
        self.poll_interval_us = interval_us;
        self
    }

    /// With another margin over the 60 µs power-down threshold in µs.
    pub const fn with_power_down_margin_us(mut self, margin_us: u32) -> Config {
        self.power_down_margin_us = margin_us;
        self
    }

    /// The effective ready deadline in µs.
    pub const fn ready_timeout(&self) -> u32 {
        match self.ready_timeout_us {
            Some(t) => t,
            None => crate::math::saturating_mul_u32(self.rate.period_us(), 3),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new(Rate::Sps10)
    }
}
