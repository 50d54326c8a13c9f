//! Input channel and gain selection (datasheet Table 3).

/// Analog input channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Channel {
    /// Channel A (differential input `INA±`), gain 128 or 64.
    A,
    /// Channel B (differential input `INB±`), gain 32.
    B,
}

/// Programmable gain of the amplifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Gain {
    /// ×128 (channel A): full scale ±20 mV at AVDD = 5 V.
    G128,
    /// ×64 (channel A): full scale ±40 mV at AVDD = 5 V.
    G64,
    /// ×32 (channel B): full scale ±80 mV at AVDD = 5 V.
    G32,
}

/// A channel/gain combination, chosen by the number of `PD_SCK` pulses of a read
/// (datasheet Table 3: 25 = A/128, 26 = B/32, 27 = A/64).
///
/// The pulses of read *n* select the mode of the conversion returned by read *n + 1*.
/// The datasheet's Fig. 2 labels 27 pulses "channel B, gain 64"; Table 3 (and the chip) say
/// channel **A**, gain 64, which is what this crate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mode {
    /// Channel A, gain 128 (25 pulses). The chip's power-on default.
    #[default]
    A128,
    /// Channel B, gain 32 (26 pulses).
    B32,
    /// Channel A, gain 64 (27 pulses).
    A64,
}

impl Mode {
    /// Total `PD_SCK` pulses of a read that selects this mode for the next conversion.
    pub const fn pulses(self) -> u8 {
        match self {
            Mode::A128 => 25,
            Mode::B32 => 26,
            Mode::A64 => 27,
        }
    }

    /// The mode selected by a frame of `pulses` pulses, if 25–27.
    pub const fn from_pulses(pulses: u8) -> Option<Mode> {
        match pulses {
            25 => Some(Mode::A128),
            26 => Some(Mode::B32),
            27 => Some(Mode::A64),
            _ => None,
        }
    }

    /// The input channel of this mode.
    pub const fn channel(self) -> Channel {
        match self {
            Mode::A128 | Mode::A64 => Channel::A,
            Mode::B32 => Channel::B,
        }
    }

    /// The gain of this mode.
    pub const fn gain(self) -> Gain {
        match self {
            Mode::A128 => Gain::G128,
            Mode::A64 => Gain::G64,
            Mode::B32 => Gain::G32,
        }
    }

    /// Full-scale differential input in microvolts for a given analog supply (Table 2:
    /// ±0.5·AVDD/GAIN).
    pub const fn full_scale_uv(self, avdd_mv: u32) -> u32 {
        let gain = match self {
            Mode::A128 => 128,
            Mode::A64 => 64,
            Mode::B32 => 32,
        };
        avdd_mv * 500 / gain
    }
}
