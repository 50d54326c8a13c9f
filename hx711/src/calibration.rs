//! Offset and scale: from raw codes to a unit of your choice (grams, centigrams ...).
//!
//! The scale is a fixed-point multiplier `mul / 2^shift` applied with one 64-bit multiply and a
//! shift, so converting a reading needs neither floating point nor a 64-bit division; only
//! computing a calibration divides. Calibration belongs next to the driver because it is a
//! property of one load cell on one HX711 channel; [`ChannelCalibration`] keeps one per channel.

use crate::mode::Channel;

/// Why a calibration could not be computed or loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CalibrationError {
    /// The reference readings are equal (or the known mass reading equals the offset): the
    /// load did not change the signal.
    NoSignal,
    /// The known mass must be non-zero.
    ZeroMass,
    /// The scale factor does not fit the fixed-point format: more than 2^31 units per count,
    /// a zero multiplier, or a shift over [`Calibration::MAX_SHIFT`].
    OutOfRange,
    /// Stored bytes are shorter than [`Calibration::ENCODED_LEN`].
    Truncated,
    /// Stored bytes do not start with the calibration magic.
    BadMagic,
    /// Stored bytes are of a newer format version.
    UnsupportedVersion(u8),
    /// Stored bytes fail their CRC (torn write, worn cell, never written).
    BadCrc,
}

impl core::fmt::Display for CalibrationError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CalibrationError::NoSignal => {
                f.write_str("the reference load did not change the reading")
            }
            CalibrationError::ZeroMass => f.write_str("the known mass must be non-zero"),
            CalibrationError::OutOfRange => f.write_str("scale factor out of range"),
            CalibrationError::Truncated => f.write_str("stored calibration is truncated"),
            CalibrationError::BadMagic => f.write_str("no calibration stored"),
            CalibrationError::UnsupportedVersion(v) => {
                write!(f, "unsupported calibration format version {v}")
            }
            CalibrationError::BadCrc => f.write_str("stored calibration is corrupt (CRC mismatch)"),
        }
    }
}

impl core::error::Error for CalibrationError {}

/// Offset (raw code at zero load) and scale (units per count as `mul / 2^shift`).
///
/// The fields are private: every constructor checks them (a non-zero multiplier, a shift of at
/// most [`MAX_SHIFT`](Self::MAX_SHIFT)), so no conversion can overflow or panic.
///
/// ```
/// use avia_hx711::{Calibration, CalibrationError};
///
/// // tare read 8 000, a 200 g weight read 8 000 + 160 × 200
/// let cal = Calibration::from_known_mass(8_000, 8_000 + 160 * 200, 200)?;
/// assert_eq!(cal.offset(), 8_000);
/// assert_eq!(cal.to_units(8_000 + 160 * 750), 750);
/// assert_eq!(cal.to_raw(750), 8_000 + 160 * 750);
///
/// // the three numbers, as stored elsewhere, are checked like stored bytes
/// let same = Calibration::from_parts(cal.offset(), cal.mul(), cal.shift())?;
/// assert_eq!(same, cal);
/// assert_eq!(Calibration::from_parts(0, 1, 70), Err(CalibrationError::OutOfRange));
/// # Ok::<(), CalibrationError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Calibration {
    offset: i32,
    mul: i32,
    shift: u8,
}

impl Default for Calibration {
    /// Identity: one unit per count, zero offset.
    fn default() -> Self {
        Calibration {
            offset: 0,
            mul: 1,
            shift: 0,
        }
    }
}

const MAGIC: [u8; 2] = *b"HX";
const VERSION: u8 = 1;

impl Calibration {
    /// Bytes used by [`to_bytes`](Self::to_bytes).
    pub const ENCODED_LEN: usize = 14;

    /// The largest shift a calibration may have: the rounding term `2^(shift - 1)` and the
    /// product `(raw − offset) · mul` stay inside an `i64`.
    pub const MAX_SHIFT: u8 = 62;

    /// Raw code at zero load (from a tare).
    pub const fn offset(&self) -> i32 {
        self.offset
    }

    /// Scale numerator (never zero).
    pub const fn mul(&self) -> i32 {
        self.mul
    }

    /// Scale shift: units = (raw − offset) · mul / 2^shift (at most
    /// [`MAX_SHIFT`](Self::MAX_SHIFT)).
    pub const fn shift(&self) -> u8 {
        self.shift
    }

    /// From an offset and a scale in counts per unit (the Arduino libraries' `set_scale`
    /// divider, e.g. 160 counts per gram).
    pub fn from_counts_per_unit(
        offset: i32,
        counts_per_unit: i32,
    ) -> Result<Self, CalibrationError> {
        if counts_per_unit == 0 {
            return Err(CalibrationError::NoSignal);
        }
        Self::from_ratio(offset, 1, i64::from(counts_per_unit))
    }

    /// From a tare offset and one reading with a known mass on the scale (in the units you
    /// want readings in).
    pub fn from_known_mass(
        offset: i32,
        raw_with_mass: i32,
        mass: i32,
    ) -> Result<Self, CalibrationError> {
        if mass == 0 {
            return Err(CalibrationError::ZeroMass);
        }
        let delta = i64::from(raw_with_mass) - i64::from(offset);
        if delta == 0 {
            return Err(CalibrationError::NoSignal);
        }
        Self::from_ratio(offset, i64::from(mass), delta)
    }

    /// From two readings of two known masses (the offset is derived: no tare needed).
    pub fn from_two_points(p1: (i32, i32), p2: (i32, i32)) -> Result<Self, CalibrationError> {
        let (r1, m1) = p1;
        let (r2, m2) = p2;
        let dr = i64::from(r2) - i64::from(r1);
        let dm = i64::from(m2) - i64::from(m1);
        if dr == 0 || dm == 0 {
            return Err(CalibrationError::NoSignal);
        }
        // offset = r1 - m1 * dr / dm, rounded to nearest
        let num = i64::from(m1) * dr;
        let off = i64::from(r1) - div_round(num, dm);
        let offset = i32::try_from(off).map_err(|_| CalibrationError::OutOfRange)?;
        Self::from_ratio(offset, dm, dr)
    }

    /// units per count = num / den, with the largest shift that keeps `mul` in an `i32`.
    fn from_ratio(offset: i32, num: i64, den: i64) -> Result<Self, CalibrationError> {
        let mut shift: u8 = 30;
        loop {
            let mul = div_round(num << shift, den);
            if let Ok(mul) = i32::try_from(mul) {
                if mul == 0 {
                    return Err(CalibrationError::OutOfRange);
                }
                return Ok(Calibration { offset, mul, shift });
            }
            if shift == 0 {
                return Err(CalibrationError::OutOfRange);
            }
            shift -= 1;
        }
    }

    /// Raw code to units, integer only (rounded to nearest, halves up).
    pub fn to_units(&self, raw: i32) -> i32 {
        let delta = i64::from(raw) - i64::from(self.offset);
        let half = if self.shift == 0 {
            0
        } else {
            1i64 << (self.shift - 1)
        };
        let v = (delta
            .saturating_mul(i64::from(self.mul))
            .saturating_add(half))
            >> self.shift.min(63);
        v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    }

    /// Raw code to units as `f32`.
    pub fn to_units_f32(&self, raw: i32) -> f32 {
        let delta = (i64::from(raw) - i64::from(self.offset)) as f32;
        delta * self.mul as f32 / (1u64 << self.shift) as f32
    }

    /// Units back to a raw code (for thresholds in counts), saturated to the `i32` range.
    pub fn to_raw(&self, units: i32) -> i32 {
        let scaled = i64::from(units).saturating_mul(1i64 << self.shift.min(Self::MAX_SHIFT));
        let v = div_round(scaled, i64::from(self.mul)).saturating_add(i64::from(self.offset));
        v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    }

    /// Set a new zero (e.g. from [`Hx711::tare`](crate::Hx711::tare)); the scale is kept.
    pub fn set_offset(&mut self, offset: i32) {
        self.offset = offset;
    }

    /// Serialize: `"HX"`, version, offset (LE), mul (LE), shift, CRC-16/CCITT-FALSE (LE) of
    /// everything before it. 14 bytes, for EEPROM or flash.
    pub fn to_bytes(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        let o = self.offset.to_le_bytes();
        let m = self.mul.to_le_bytes();
        let body = [
            MAGIC[0], MAGIC[1], VERSION, o[0], o[1], o[2], o[3], m[0], m[1], m[2], m[3], self.shift,
        ];
        let crc = crc16(&body).to_le_bytes();
        for (dst, src) in out.iter_mut().zip(body.iter().chain(crc.iter())) {
            *dst = *src;
        }
        out
    }

    /// Parse what [`to_bytes`](Self::to_bytes) wrote, checking magic, version and CRC.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CalibrationError> {
        let b: &[u8; Self::ENCODED_LEN] = bytes
            .get(..Self::ENCODED_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(CalibrationError::Truncated)?;
        if b[0..2] != MAGIC {
            return Err(CalibrationError::BadMagic);
        }
        if b[2] != VERSION {
            return Err(CalibrationError::UnsupportedVersion(b[2]));
        }
        let crc = u16::from_le_bytes([b[12], b[13]]);
        if crc16(&b[..12]) != crc {
            return Err(CalibrationError::BadCrc);
        }
        Self::from_parts(
            i32::from_le_bytes([b[3], b[4], b[5], b[6]]),
            i32::from_le_bytes([b[7], b[8], b[9], b[10]]),
            b[11],
        )
    }

    /// A calibration from its three numbers (as stored elsewhere, or read back with
    /// [`offset`](Self::offset), [`mul`](Self::mul) and [`shift`](Self::shift)):
    /// [`CalibrationError::OutOfRange`] for a zero multiplier or a shift over
    /// [`MAX_SHIFT`](Self::MAX_SHIFT), which no other constructor makes.
    pub const fn from_parts(offset: i32, mul: i32, shift: u8) -> Result<Self, CalibrationError> {
        if shift > Self::MAX_SHIFT || mul == 0 {
            return Err(CalibrationError::OutOfRange);
        }
        Ok(Calibration { offset, mul, shift })
    }
}

/// One calibration per input channel (A and B see different bridges or gains).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ChannelCalibration {
    /// Channel A (gain 128 or 64: calibrate at the gain you read with).
    pub a: Calibration,
    /// Channel B (gain 32).
    pub b: Calibration,
}

impl ChannelCalibration {
    /// The calibration of a channel.
    pub fn get(&self, channel: Channel) -> &Calibration {
        match channel {
            Channel::A => &self.a,
            Channel::B => &self.b,
        }
    }

    /// The calibration of a channel, mutably.
    pub fn get_mut(&mut self, channel: Channel) -> &mut Calibration {
        match channel {
            Channel::A => &mut self.a,
            Channel::B => &mut self.b,
        }
    }
}

use crate::math::div_round_i64 as div_round;

/// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): check value 0x29B1 for `"123456789"`.
pub fn crc16(data: &[u8]) -> u16 {
    crc16_update(0xFFFF, data)
}

/// Continue a [`crc16`] over more bytes: `crc16_update(crc16(a), b)` is the CRC of `a` then
/// `b` (start from `0xFFFF`), for data that is never all in memory at once.
pub fn crc16_update(mut crc: u16, data: &[u8]) -> u16 {
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}
