//! Samples and the 24-bit two's-complement code.

use crate::mode::{Channel, Gain, Mode};

/// Smallest output code, 0x800000 (datasheet Table 2). Also the negative saturation value.
pub const MIN_RAW: i32 = -8_388_608;
/// Largest output code, 0x7FFFFF. Also the positive saturation value.
pub const MAX_RAW: i32 = 8_388_607;

/// Which end of the range a saturated sample is stuck at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Saturation {
    /// 0x7FFFFF: input above +full scale.
    Positive,
    /// 0x800000: input below −full scale.
    Negative,
}

/// Decode the 24 data bits (MSB first, two's complement) to an `i32` in
/// [`MIN_RAW`]`..=`[`MAX_RAW`]. Bits above bit 23 are ignored.
pub const fn decode(bits: u32) -> i32 {
    (((bits & 0x00FF_FFFF) << 8) as i32) >> 8
}

/// One conversion result with what is known about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sample {
    /// The signed 24-bit code.
    pub raw: i32,
    /// The mode that produced this conversion: chosen by the previous read's pulses, or
    /// `None` when the driver cannot know it (the first read after the driver was created,
    /// since a V2.0 chip keeps its mode across an MCU reset).
    pub mode: Option<Mode>,
    /// `false` while the chip is within its settling time (four conversions after power-up,
    /// wake-up or a mode change) or when the mode is unknown.
    pub settled: bool,
}

impl Sample {
    /// `Some` when the code is at either end of the range.
    pub const fn saturation(&self) -> Option<Saturation> {
        match self.raw {
            MAX_RAW => Some(Saturation::Positive),
            MIN_RAW => Some(Saturation::Negative),
            _ => None,
        }
    }

    /// `true` when the sample is saturated at either end.
    pub const fn is_saturated(&self) -> bool {
        self.saturation().is_some()
    }

    /// Channel of the conversion, if known.
    pub fn channel(&self) -> Option<Channel> {
        self.mode.map(Mode::channel)
    }

    /// Gain of the conversion, if known.
    pub fn gain(&self) -> Option<Gain> {
        self.mode.map(Mode::gain)
    }

    /// `true` for a settled, unsaturated sample of a known mode: one you can put on a scale.
    pub const fn is_valid(&self) -> bool {
        self.settled && self.mode.is_some() && self.saturation().is_none()
    }
}
