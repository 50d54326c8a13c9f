//! The driver's error type.

use core::fmt;

/// Everything a read can fail with.
///
/// Generic over the error types of the two pins, which need not be the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error<EIN, EOUT> {
    /// Reading `DOUT` failed.
    Input(EIN),
    /// Driving `PD_SCK` failed.
    Output(EOUT),
    /// `DOUT` stayed high until the deadline: no conversion became ready. The chip is
    /// unpowered, unplugged, powered down, or `DOUT` is pulled high.
    Timeout,
    /// `DOUT` was still low after the 25th `PD_SCK` pulse, which the datasheet says pulls it high:
    /// the line is floating low or shorted to ground. The sample is discarded.
    StuckLow,
    /// The chip is powered down; call `power_up` first.
    PoweredDown,
    /// A tare or calibration saw a saturated sample (input outside the ±full-scale range).
    Saturated,
    /// A `PD_SCK` high phase lasted longer than T3 max (50 µs), measured with the optional
    /// clock; the chip may have powered down mid-frame, so the sample is discarded and the
    /// chip is treated as reset (settling restarts).
    ClockStretched {
        /// The measured high time in microseconds.
        high_us: u32,
    },
}

impl<EIN: fmt::Debug, EOUT: fmt::Debug> fmt::Display for Error<EIN, EOUT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(e) => write!(f, "DOUT pin error: {e:?}"),
            Error::Output(e) => write!(f, "PD_SCK pin error: {e:?}"),
            Error::Timeout => f.write_str("HX711 not ready before the deadline (DOUT stuck high: unpowered, unplugged or powered down)"),
            Error::StuckLow => f.write_str("DOUT still low after the 25th clock pulse (line floating or shorted low)"),
            Error::PoweredDown => f.write_str("HX711 is powered down"),
            Error::Saturated => f.write_str("saturated sample: input outside the ADC range"),
            Error::ClockStretched { high_us } => {
                write!(f, "PD_SCK held high for {high_us} us (> 50 us): sample discarded")
            }
        }
    }
}

impl<EIN: fmt::Debug, EOUT: fmt::Debug> core::error::Error for Error<EIN, EOUT> {}
