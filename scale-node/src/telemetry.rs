//! The line protocol of the article's gateway, and its backwards-compatible extension.
//!
//! Classic: `<Type>:<value>,<SensorId>\r\n`, e.g. `Weight:123.45,Scale.Arduino\r\n`, one line per
//! send; the gateway answers the bare HTTP status of its upload (`201`, no line ending).
//!
//! Extended: `<Type>:<value>,<SensorId>,<seq>,<flags>,<dropped>,<boot>\r\n`, e.g.
//! `Weight:123.45,Scale.Arduino,17,0,0,3735928559\r\n`. The article's gateway splits on `,` and
//! `:` and uses the first fields only, so it ignores the additions (and so does a gateway that
//! knows only the first five fields). A newer gateway uses the sequence number to drop
//! duplicates after a retry, reads the flags, and learns how many readings were dropped while
//! the link was down. `<boot>` is fixed for the life of one boot of the node and different
//! (with high probability) after a reboot, where the sequence numbers start again at 0: a
//! gateway that drops duplicates keys them by sensor id, boot and sequence number.
//!
//! The answers: the gateway's reply stream consists only of statuses, three ASCII digits whose
//! first one is 1–5, each optionally followed by whitespace (`\r`, `\n`, space), one per line
//! received, in order, back to back or not (`201201` answers two lines). `2xx` delivers the
//! reading; `400` and `413` refuse it for good; any other status keeps it for a retry. Any other
//! byte means the peer is not a scale gateway ([`AckParser`] says so).

use crate::fmt::LineBuf;
use esp_at::Rom;

/// What a reading measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
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
#[non_exhaustive]
pub enum Format {
    /// The article's form only.
    Classic,
    /// With sequence number, flags, dropped count and boot id.
    Extended,
}

/// Longest line the node sends: the longest extended line (`SensorFault`, the longest value,
/// a sensor id of [`SENSOR_ID_MAX`] bytes, five 10-digit or 3-digit numbers) fits exactly.
pub const MAX_LINE: usize = 96;

/// Longest sensor id the configuration allows, bytes.
pub const SENSOR_ID_MAX: usize = 32;

/// The longest extended line: `SensorFault` (11) `:` the longest value (`-21474836.48`, 12)
/// `,` the sensor id `,` sequence number (10) `,` flags (3) `,` dropped count (10) `,` boot id
/// (10) `\r\n`.
const LONGEST_LINE: usize = 11 + 1 + 12 + 1 + SENSOR_ID_MAX + 1 + 10 + 1 + 3 + 1 + 10 + 1 + 10 + 2;
const _: () = assert!(LONGEST_LINE <= MAX_LINE);

/// Format one reading as a line. `dropped` and `boot` travel in the extended form only.
pub fn format_line(
    r: &Reading,
    sensor_id: &str,
    format: Format,
    dropped: u32,
    boot: u32,
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
            .push_u32(dropped)
            .push(b",")
            .push_u32(boot);
    }
    out.push(b"\r\n");
}

/// The gateway's reply stream is not a stream of statuses: the peer is not a scale gateway (a
/// web server, say). The byte that showed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BadReply(pub u8);

/// Collects the gateway's statuses (`201`, `201\n`, `500` ...) from received bytes, however
/// they are split, and tells a reply stream that is not one (see the module documentation):
/// `HTTP/1.1 200 OK` is not an acknowledgement.
#[derive(Debug, Clone, Default)]
pub struct AckParser {
    digits: u8,
    value: u16,
}

impl AckParser {
    /// Feed bytes; `on_status` is called for each complete status. Stops at the first byte
    /// that cannot be part of a status stream (the parser starts over after it).
    pub fn feed(&mut self, bytes: &[u8], mut on_status: impl FnMut(u16)) -> Result<(), BadReply> {
        for &b in bytes {
            if let Some(s) = self.push(b)? {
                on_status(s);
            }
        }
        Ok(())
    }

    /// Feed one byte: `Ok(Some(status))` when it completes one, `Ok(None)` for a digit of one
    /// or whitespace between them, `Err` for anything else (the parser starts over).
    pub fn push(&mut self, b: u8) -> Result<Option<u16>, BadReply> {
        let first = self.digits == 0;
        let ok = match b {
            b'\r' | b'\n' | b' ' if first => return Ok(None),
            b'1'..=b'5' => true,
            b'0' | b'6'..=b'9' => !first,
            _ => false,
        };
        if !ok {
            self.reset();
            return Err(BadReply(b));
        }
        self.value = self.value * 10 + u16::from(b - b'0');
        self.digits += 1;
        if self.digits < 3 {
            return Ok(None);
        }
        let status = self.value;
        self.reset();
        Ok(Some(status))
    }

    /// Forget a partial status (after the link dropped).
    pub fn reset(&mut self) {
        *self = AckParser::default();
    }
}

/// How the node treats a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum StatusClass {
    /// `2xx`: the gateway has the reading.
    Delivered,
    /// `400` (bad line) and `413` (too large): the gateway refuses this reading for good; it
    /// leaves the queue and the next ones go on.
    Refused,
    /// Anything else (`5xx`, `401`, `403`, `429` ...): the reading stays queued and goes again
    /// after a back-off.
    Retry,
}

impl StatusClass {
    /// The class of a status.
    pub const fn of(status: u16) -> StatusClass {
        match status {
            200..=299 => StatusClass::Delivered,
            400 | 413 => StatusClass::Refused,
            _ => StatusClass::Retry,
        }
    }
}

/// A tiny pseudo-random generator for the back-off's jitter and a boot id derived on the node:
/// a 32-bit linear congruential generator (four bytes of state, one multiplication a step,
/// the cheapest there is on an 8-bit MCU). Its high bits are the random ones, and those are
/// what [`below`](Self::below) uses. Not for anything secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prng(u32);

impl Prng {
    /// Seeded from `seed` (any value; its bits are spread first, so close seeds give unrelated
    /// sequences).
    pub const fn new(seed: u32) -> Self {
        Prng(seed.wrapping_mul(0x9E37_79B9) ^ 0x2545_F491)
    }

    /// Stir `v` into the state.
    pub fn mix(&mut self, v: u32) {
        self.0 ^= v;
        self.next_u32();
    }

    /// The next value (its low bits are weak: use [`below`](Self::below) for a number in a
    /// range).
    #[inline(never)] // one copy: keeps small targets (AVR) small
    pub fn next_u32(&mut self) -> u32 {
        // Numerical Recipes' constants: full period
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        self.0
    }

    /// Uniform in `0..n` (0 for `n` = 0), in steps of `n / 65536`: the high 16 bits of the
    /// next value scaled to `n`, with two 32-bit multiplications and no division.
    #[inline(never)] // one copy: keeps small targets (AVR) small
    pub fn below(&mut self, n: u32) -> u32 {
        let r = self.next_u32() >> 16;
        // n * r / 2^16 without a 48-bit product: (hi * 2^16 + lo) * r / 2^16
        (n >> 16) * r + (((n & 0xFFFF) * r) >> 16)
    }
}
