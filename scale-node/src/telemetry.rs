//! The line protocol of the article's gateway, and its backwards-compatible extension.
//!
//! Classic: `<Type>:<value>,<SensorId>\r\n`, e.g. `Weight:123.45,Scale.Arduino\r\n`, one line per
//! send; the gateway answers the bare HTTP status of its upload (`201`, no line ending).
//!
//! Extended: `<Type>:<value>,<SensorId>,<seq>,<flags>,<dropped>\r\n`. The article's gateway splits
//! on `,` and `:` and uses the first fields only, so it ignores the additions; a newer gateway
//! uses the sequence number to drop duplicates after a retry, reads the flags, and learns how
//! many readings were dropped while the link was down.

use crate::fmt::LineBuf;
use esp_at::rom::Rom;

/// What a reading measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Kind {
    /// Net weight in grams (`Weight`).
    Weight,
    /// Amount of product left in percent (`Amount`).
    Amount,
    /// Volume of product left in millilitres (`Volume`).
    Volume,
    /// The amount fell below the low-stock threshold (`LowStock`, value = amount in percent).
    LowStock,
    /// The load cell did not answer (`SensorFault`, value 0).
    SensorFault,
}

impl Kind {
    /// The `<Type>` token.
    pub const fn token(self) -> Rom {
        match self {
            Kind::Weight => rom!(b"Weight"),
            Kind::Amount => rom!(b"Amount"),
            Kind::Volume => rom!(b"Volume"),
            Kind::LowStock => rom!(b"LowStock"),
            Kind::SensorFault => rom!(b"SensorFault"),
        }
    }
}

/// Flag bits of the extended form.
pub mod flags {
    /// The reading was not stable (spread above the tolerance).
    pub const UNSTABLE: u8 = 1;
    /// At least one sample was saturated.
    pub const SATURATED: u8 = 2;
    /// The amount is below the low-stock threshold.
    pub const LOW_STOCK: u8 = 4;
    /// This line was sent before and is a retry.
    pub const RETRY: u8 = 8;
}

/// One reading waiting for delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Reading {
    /// Sequence number (wraps at 2^32).
    pub seq: u32,
    /// What it is.
    pub kind: Kind,
    /// Value in hundredths (grams ×100 or percent ×100).
    pub centi: i32,
    /// Flag bits (`flags::*`).
    pub flags: u8,
    /// When it was taken (node clock, ms; wraps after about 49.7 days).
    pub at_ms: u32,
}

/// Which form to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Format {
    /// The article's form only.
    Classic,
    /// With sequence number, flags and dropped count.
    Extended,
}

/// Longest line the node sends.
pub const MAX_LINE: usize = 96;

/// Format one reading as a line.
pub fn format_line(
    r: &Reading,
    sensor_id: &str,
    format: Format,
    dropped: u32,
    out: &mut LineBuf<MAX_LINE>,
) {
    out.clear();
    out.push_rom(r.kind.token())
        .push(b":")
        .push_centi(r.centi)
        .push(b",")
        .push(sensor_id.as_bytes());
    if format == Format::Extended {
        out.push(b",")
            .push_u32(r.seq)
            .push(b",")
            .push_u32(u32::from(r.flags))
            .push(b",")
            .push_u32(dropped);
    }
    out.push(b"\r\n");
}

/// Collects the gateway's status answers (`201`, `201\n`, `500` ...) from received bytes,
/// however they are split.
#[derive(Debug, Clone, Default)]
pub struct AckParser {
    digits: u8,
    value: u16,
}

impl AckParser {
    /// Feed bytes; `on_status` is called for each complete three-digit status.
    pub fn feed(&mut self, bytes: &[u8], mut on_status: impl FnMut(u16)) {
        for &b in bytes {
            if let Some(s) = self.push(b) {
                on_status(s);
            }
        }
    }

    /// Feed one byte; a status when it completes one.
    pub fn push(&mut self, b: u8) -> Option<u16> {
        if !b.is_ascii_digit() {
            // separators and text ("Created") end a number
            self.reset();
            return None;
        }
        self.value = self.value * 10 + u16::from(b - b'0');
        self.digits += 1;
        if self.digits < 3 {
            return None;
        }
        let status = self.value;
        self.reset();
        Some(status)
    }

    /// Forget a partial status (after the link dropped).
    pub fn reset(&mut self) {
        *self = AckParser::default();
    }
}
