//! String parameters: ESP-AT's escaping and length rules.
//!
//! Inside a quoted AT parameter ESP-AT treats `\` as an escape: `\\`, `\,` and `\"` stand for
//! `\`, `,` and `"`; `\<c>` stands for `c` (AT manual, "Escape character syntax"). V.250-style
//! hex escapes (`\22`) are **not** understood. Data after the `>` prompt is never escaped.

use core::fmt;

/// Why a string cannot be sent as an AT parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum StrError {
    /// Longer than the parameter allows.
    TooLong {
        /// Bytes given.
        len: usize,
        /// Most bytes allowed.
        max: usize,
    },
    /// Shorter than the parameter allows (a WPA password needs 8 bytes).
    TooShort {
        /// Bytes given.
        len: usize,
        /// Fewest bytes allowed.
        min: usize,
    },
    /// Contains a control character (CR, LF, NUL ...), which would end or corrupt the command.
    ControlChar,
    /// Empty where a value is required.
    Empty,
}

impl fmt::Display for StrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrError::TooLong { len, max } => write!(f, "{len} bytes, at most {max} allowed"),
            StrError::TooShort { len, min } => write!(f, "{len} bytes, at least {min} required"),
            StrError::ControlChar => f.write_str("contains a control character"),
            StrError::Empty => f.write_str("must not be empty"),
        }
    }
}

impl core::error::Error for StrError {}

/// Longest SSID (IEEE 802.11).
pub const SSID_MAX: usize = 32;
/// Longest WPA passphrase.
pub const PASSWORD_MAX: usize = 64;
/// Shortest WPA passphrase (an empty password means an open network).
pub const PASSWORD_MIN: usize = 8;

fn check_chars(s: &str) -> Result<(), StrError> {
    if s.bytes().any(|b| b < 0x20 || b == 0x7F) {
        Err(StrError::ControlChar)
    } else {
        Ok(())
    }
}

/// Validate an SSID: 1–32 bytes, no control characters.
pub fn check_ssid(s: &str) -> Result<(), StrError> {
    if s.is_empty() {
        return Err(StrError::Empty);
    }
    if s.len() > SSID_MAX {
        return Err(StrError::TooLong {
            len: s.len(),
            max: SSID_MAX,
        });
    }
    check_chars(s)
}

/// Validate a password: empty (open network) or 8–64 bytes, no control characters.
pub fn check_password(s: &str) -> Result<(), StrError> {
    if s.is_empty() {
        return Ok(());
    }
    if s.len() < PASSWORD_MIN {
        return Err(StrError::TooShort {
            len: s.len(),
            min: PASSWORD_MIN,
        });
    }
    if s.len() > PASSWORD_MAX {
        return Err(StrError::TooLong {
            len: s.len(),
            max: PASSWORD_MAX,
        });
    }
    check_chars(s)
}

/// Validate a general string parameter (host name, certificate name ...).
pub fn check_text(s: &str, max: usize) -> Result<(), StrError> {
    if s.len() > max {
        return Err(StrError::TooLong { len: s.len(), max });
    }
    check_chars(s)
}

/// Whether a byte needs a backslash in front of it.
pub const fn needs_escape(b: u8) -> bool {
    matches!(b, b'\\' | b',' | b'"')
}

/// Length of `s` once escaped (without quotes).
pub fn escaped_len(s: &str) -> usize {
    s.len() + s.bytes().filter(|&b| needs_escape(b)).count()
}

/// Undo ESP-AT escaping (what the modem does to a quoted parameter). Writes into `out`,
/// returns the length, or `None` if `out` is too small.
pub fn unescape(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut n = 0;
    let mut esc = false;
    for &b in input {
        if !esc && b == b'\\' {
            esc = true;
            continue;
        }
        esc = false;
        *out.get_mut(n)? = b;
        n += 1;
    }
    Some(n)
}

/// `bytes` as text if they are valid UTF-8 (what `core::str::from_utf8` accepts: no overlong
/// forms, no surrogates, nothing above U+10FFFF). Checked without `core`'s 256-byte table, which
/// an AVR keeps in RAM.
///
/// ```
/// assert_eq!(esp_at::escape::utf8("Café 5G".as_bytes()), Some("Café 5G"));
/// assert_eq!(esp_at::escape::utf8(b"\xC0\xAF"), None); // overlong '/'
/// assert_eq!(esp_at::escape::utf8(b"\xED\xA0\x80"), None); // a surrogate
/// ```
pub fn utf8(bytes: &[u8]) -> Option<&str> {
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b < 0x80 {
            i += 1;
            continue;
        }
        // continuation bytes, the payload bits of the lead byte, the smallest code point
        let (n, lead, min) = match b {
            0xC0..=0xDF => (1, b & 0x1F, 0x80),
            0xE0..=0xEF => (2, b & 0x0F, 0x800),
            0xF0..=0xF7 => (3, b & 0x07, 0x1_0000),
            _ => return None,
        };
        let mut cp = u32::from(lead);
        for k in 1..=n {
            let c = *bytes.get(i + k)?;
            if c & 0xC0 != 0x80 {
                return None;
            }
            cp = (cp << 6) | u32::from(c & 0x3F);
        }
        if cp < min || cp > 0x10_FFFF || (0xD800..=0xDFFF).contains(&cp) {
            return None;
        }
        i += n + 1;
    }
    // SAFETY: every byte was checked above to form valid UTF-8, by the rules of
    // `core::str::from_utf8` (the property test `utf8_agrees_with_core` compares the two)
    #[allow(unsafe_code)]
    Some(unsafe { core::str::from_utf8_unchecked(bytes) })
}

#[cfg(test)]
mod utf8_tests {
    use super::utf8;
    use proptest::prelude::*;

    #[test]
    fn edge_cases_agree_with_core() {
        let cases: [&[u8]; 16] = [
            b"",
            b"plain",
            "é€😀".as_bytes(),
            b"\x7F",
            b"\x80",
            b"\xC2",
            b"\xC1\xBF",
            b"\xE0\x9F\xBF",
            b"\xED\x9F\xBF",
            b"\xED\xA0\x80",
            b"\xEE\x80\x80",
            b"\xF0\x8F\xBF\xBF",
            b"\xF4\x8F\xBF\xBF",
            b"\xF4\x90\x80\x80",
            b"\xF8\x88\x80\x80\x80",
            b"a\xE2\x82",
        ];
        for c in cases {
            assert_eq!(utf8(c), core::str::from_utf8(c).ok(), "{c:?}");
        }
    }

    proptest! {
        #[test]
        fn utf8_agrees_with_core(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            prop_assert_eq!(utf8(&bytes), core::str::from_utf8(&bytes).ok());
        }

        #[test]
        fn valid_text_is_accepted(s in "\\PC{0,16}") {
            prop_assert_eq!(utf8(s.as_bytes()), Some(s.as_str()));
        }
    }
}
