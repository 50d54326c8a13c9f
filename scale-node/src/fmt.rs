//! Integer formatting into byte buffers: no `core::fmt`, no floating point (an 8-bit AVR keeps
//! every constant in RAM and pays dearly for both).

use esp_at::Rom;

/// A fixed-capacity byte buffer that refuses to overflow.
#[derive(Debug, Clone)]
pub struct LineBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
    overflow: bool,
}

impl<const N: usize> Default for LineBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LineBuf<N> {
    /// Empty.
    pub const fn new() -> Self {
        LineBuf {
            buf: [0; N],
            len: 0,
            overflow: false,
        }
    }

    /// Append bytes (sets the overflow flag instead of writing past the end).
    pub fn push(&mut self, bytes: &[u8]) -> &mut Self {
        let end = self.len + bytes.len();
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len = end;
            }
            None => self.overflow = true,
        }
        self
    }

    /// Append constant text (kept in program memory on AVR).
    pub fn push_rom(&mut self, text: Rom) -> &mut Self {
        let end = self.len + text.len();
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                text.copy_to(dst);
                self.len = end;
            }
            None => self.overflow = true,
        }
        self
    }

    /// Append an unsigned integer.
    pub fn push_u32(&mut self, v: u32) -> &mut Self {
        let mut tmp = [0u8; 10];
        let n = esp_at::decimal(v, &mut tmp);
        self.push(tmp.get(..n).unwrap_or(&[]))
    }

    /// Append a signed integer.
    pub fn push_i32(&mut self, v: i32) -> &mut Self {
        if v < 0 {
            self.push(b"-");
        }
        self.push_u32(v.unsigned_abs())
    }

    /// Append a signed value in hundredths as `[-]int.ff` (e.g. 12345 → `123.45`, −5 → `-0.05`).
    pub fn push_centi(&mut self, v: i32) -> &mut Self {
        if v < 0 {
            self.push(b"-");
        }
        let (int, frac) = avia_hx711::math::div_rem_u32(v.unsigned_abs(), 100);
        // frac < 100: two digits with 8-bit arithmetic
        let frac = frac as u8;
        self.push_u32(int)
            .push(&[b'.', b'0' + frac / 10, b'0' + frac % 10])
    }

    /// The bytes written.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// `true` if something did not fit.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// Start over.
    pub fn clear(&mut self) {
        self.len = 0;
        self.overflow = false;
    }
}

/// Parse a decimal with up to two fraction digits into hundredths (`"12.5"` → 1250).
pub(crate) fn parse_centi(s: &[u8]) -> Option<i32> {
    let (neg, s) = match s.first() {
        Some(b'-') => (true, s.get(1..)?),
        _ => (false, s),
    };
    let (int, frac) = match s.iter().position(|&b| b == b'.') {
        Some(p) => (s.get(..p)?, s.get(p + 1..)?),
        None => (s, &[][..]),
    };
    if int.is_empty() || frac.len() > 2 {
        return None;
    }
    let i = parse_u32(int)?;
    let mut f = 0u32;
    for (k, &d) in frac.iter().enumerate() {
        if !d.is_ascii_digit() {
            return None;
        }
        f += u32::from(d - b'0') * if k == 0 { 10 } else { 1 };
    }
    let v = i64::from(i) * 100 + i64::from(f);
    i32::try_from(if neg { -v } else { v }).ok()
}

/// Parse an unsigned decimal integer (no sign, no spaces, at most 9 digits).
pub(crate) fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    s.iter().try_fold(0u32, |acc, &d| {
        if d.is_ascii_digit() {
            Some(acc * 10 + u32::from(d - b'0'))
        } else {
            None
        }
    })
}

/// Parse a signed decimal integer.
pub(crate) fn parse_i32(s: &[u8]) -> Option<i32> {
    match s.first() {
        Some(b'-') => parse_u32(s.get(1..)?)
            .and_then(|v| i32::try_from(v).ok())
            .map(|v| -v),
        _ => parse_u32(s).and_then(|v| i32::try_from(v).ok()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{LineBuf, parse_centi, parse_i32, parse_u32};
    use proptest::prelude::*;

    #[test]
    fn decimals_parse() {
        assert_eq!(parse_centi(b"12.5"), Some(1250));
        assert_eq!(parse_centi(b"-0.05"), Some(-5));
        assert_eq!(parse_centi(b"7"), Some(700));
        assert_eq!(parse_centi(b"1.234"), None);
        assert_eq!(parse_centi(b"x"), None);
        // every value formats to text that parses back, the most negative too
        assert_eq!(parse_centi(b"-21474836.48"), Some(i32::MIN));
        assert_eq!(parse_centi(b"21474836.48"), None);
        assert_eq!(parse_u32(b"123456789"), Some(123_456_789));
        assert_eq!(parse_u32(b"1234567890"), None);
        assert_eq!(parse_u32(b""), None);
        assert_eq!(parse_i32(b"-42"), Some(-42));
        assert_eq!(parse_i32(b"-"), None);
    }

    proptest! {
        #[test]
        fn centi_round_trip(v in -2_000_000_000i32..2_000_000_000) {
            let mut b: LineBuf<32> = LineBuf::new();
            b.push_centi(v);
            prop_assert_eq!(parse_centi(b.as_bytes()), Some(v));
        }
    }
}
