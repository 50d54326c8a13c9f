//! String parameters: ESP-AT's escaping and length rules.
//!
//! Inside a quoted AT parameter ESP-AT treats `\` as an escape: `\\`, `\,` and `\"` stand for
//! `\`, `,` and `"`; `\<c>` stands for `c` (AT manual, "Escape character syntax"). V.250-style
//! hex escapes (`\22`) are **not** understood. Data after the `>` prompt is never escaped.

use core::fmt;

/// Why a string cannot be sent as an AT parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
