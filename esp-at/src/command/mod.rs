//! AT commands, one module per chapter of Espressif's AT manual, all encoded through one
//! non-generic path (`encode_with`) so that a firmware pays for command formatting once, however
//! many commands it uses.

pub mod basic;
pub mod tcpip;
pub mod wifi;

use crate::dialect::Capabilities;
use crate::escape::{StrError, escaped_len, needs_escape};
use crate::rom::Rom;

// the encoding entry points and their sinks: public only for this repository's tests and fuzz
// targets (feature `__internal`, no semver guarantee)
#[cfg(feature = "__internal")]
#[doc(hidden)]
pub mod sink;
#[cfg(not(feature = "__internal"))]
mod sink;
#[allow(unused_imports)] // `encode` and `encode_to` serve the atat commands and the tests
pub(crate) use sink::{Counter, Sink, SliceSink, encode, encode_to};

pub use basic::Basic;
pub use tcpip::TcpIp;
pub use wifi::Wifi;

/// Longest command ESP-AT accepts, terminator included (AT manual: 256 bytes).
pub const MAX_COMMAND_LEN: usize = 256;

/// Why a command could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum CmdError {
    /// A string parameter is invalid.
    Param(StrError),
    /// The command does not fit the buffer or ESP-AT's 256-byte limit.
    TooLong,
    /// The firmware dialect has no such command.
    Unsupported,
    /// A [`Command::Raw`] that does not start with `AT`.
    NotAt,
}

impl From<StrError> for CmdError {
    fn from(e: StrError) -> Self {
        CmdError::Param(e)
    }
}

impl core::fmt::Display for CmdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CmdError::Param(e) => write!(f, "invalid parameter: {e}"),
            CmdError::TooLong => f.write_str("command longer than 256 bytes"),
            CmdError::Unsupported => f.write_str("command not supported by this firmware"),
            CmdError::NotAt => f.write_str("a raw command must start with AT"),
        }
    }
}

impl core::error::Error for CmdError {}

/// Any AT command.
///
/// [`Command::Raw`] sends one this crate does not wrap, through
/// [`EspAt::command`](crate::EspAt::command):
///
/// ```
/// use esp_at::sim::{SimConfig, SimModem, StdDelay};
/// use esp_at::{Config, EspAt, command::Command, rom};
///
/// let modem = SimModem::new(SimConfig::default().with_network("home", "password1"));
/// let mut esp = EspAt::new(modem, StdDelay, Config::default());
/// esp.join("home", "password1")?;
/// // the answer's first line that starts with the capture prefix (empty prefix: none)
/// let line = esp.command(Command::Raw("AT+CIFSR"), rom!(b"+CIFSR:STAIP,"))?;
/// assert_eq!(&line[..], b"+CIFSR:STAIP,\"192.168.1.50\"");
/// // a line break inside would end the command early: refused before anything is sent
/// assert!(esp.command(Command::Raw("AT\r\nAT+RST"), rom!(b"")).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Command<'a> {
    /// Basic AT commands.
    Basic(Basic),
    /// Wi-Fi AT commands.
    Wifi(Wifi<'a>),
    /// TCP/IP AT commands.
    TcpIp(TcpIp<'a>),
    /// Any other command, as written (`"AT+CWCOUNTRY?"`); the driver adds `\r\n`. It must
    /// start with `AT` and hold no control character (CR or LF would end it early), and it is
    /// sent as it is on every firmware: the dialect differences are the caller's.
    Raw(&'a str),
}

impl From<Basic> for Command<'_> {
    fn from(c: Basic) -> Self {
        Command::Basic(c)
    }
}
impl<'a> From<Wifi<'a>> for Command<'a> {
    fn from(c: Wifi<'a>) -> Self {
        Command::Wifi(c)
    }
}
impl<'a> From<TcpIp<'a>> for Command<'a> {
    fn from(c: TcpIp<'a>) -> Self {
        Command::TcpIp(c)
    }
}

/// How the driver names a command: a closure that writes one command's text. Each call site
/// builds its own from a constant [`Command`] ([`cmd!`]), so a firmware links the encoding of
/// the commands it sends and not of every command in the manual (1.4 KB of AVR code).
pub(crate) type Enc<'a> = &'a dyn Fn(&mut Writer<'_>, &Capabilities) -> Result<(), CmdError>;

/// A [`Enc`] for one command expression (evaluated inside the closure).
macro_rules! cmd {
    ($c:expr) => {
        &|w: &mut $crate::command::Writer<'_>, caps: &$crate::dialect::Capabilities| {
            $crate::command::Command::from($c).encode_into(w, caps)
        }
    };
}
pub(crate) use cmd;

/// `encode_to` for a [`Enc`]: the one path from command text to a sink.
#[inline(never)] // one copy: keeps small targets (AVR) small
pub(crate) fn encode_with(
    enc: Enc<'_>,
    caps: &Capabilities,
    sink: &mut dyn Sink,
) -> Result<usize, CmdError> {
    let mut w = Writer {
        sink,
        len: 0,
        err: None,
    };
    enc(&mut w, caps)?;
    w.byte(b'\r');
    w.byte(b'\n');
    match w.err {
        Some(e) => Err(e),
        None => Ok(w.len),
    }
}

impl Command<'_> {
    /// The command's text (inlined into each [`cmd!`] closure, where the variant is known and
    /// the other arms fall away).
    #[inline(always)]
    pub(crate) fn encode_into(
        &self,
        w: &mut Writer<'_>,
        caps: &Capabilities,
    ) -> Result<(), CmdError> {
        match self {
            Command::Basic(c) => c.encode(w, caps),
            Command::Wifi(c) => c.encode(w, caps),
            Command::TcpIp(c) => c.encode(w, caps),
            Command::Raw(text) => {
                let bytes = text.as_bytes();
                if !bytes.starts_with(b"AT") {
                    return Err(CmdError::NotAt);
                }
                if bytes.iter().any(|b| b.is_ascii_control()) {
                    return Err(CmdError::Param(StrError::ControlChar));
                }
                w.raw(bytes);
                Ok(())
            }
        }
    }
}

/// Appends command text to a sink. The first error sticks: later writes do nothing, and
/// the encoder reports it. One check at the end instead of one per piece (a kilobyte of AVR
/// code).
pub(crate) struct Writer<'s> {
    sink: &'s mut dyn Sink,
    len: usize,
    err: Option<CmdError>,
}

impl Writer<'_> {
    /// Room for `n` more bytes, else the error sticks.
    fn room(&mut self, n: usize) -> bool {
        if self.err.is_none() && self.len + n > MAX_COMMAND_LEN {
            self.err = Some(CmdError::TooLong);
        }
        self.err.is_none()
    }

    fn put(&mut self, s: &[u8]) {
        if let Err(e) = self.sink.put(s) {
            self.err = Some(e);
        }
    }

    pub(crate) fn raw(&mut self, s: &[u8]) {
        if self.room(s.len()) {
            self.put(s);
            self.len += s.len();
        }
    }

    /// `"..."` with ESP-AT escaping.
    pub(crate) fn quoted(&mut self, s: &str) {
        if !self.room(escaped_len(s) + 2) {
            return;
        }
        self.byte(b'"');
        let bytes = s.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if needs_escape(b) {
                self.raw(bytes.get(start..i).unwrap_or(&[]));
                self.byte(b'\\');
                start = i;
            }
        }
        self.raw(bytes.get(start..).unwrap_or(&[]));
        self.byte(b'"');
    }

    pub(crate) fn num(&mut self, v: u32) {
        let mut tmp = [0u8; 10];
        let n = decimal(v, &mut tmp);
        self.raw(tmp.get(..n).unwrap_or(&[]));
    }

    /// `AT+<name>` plus `_CUR` on NonOS for commands that have the suffix.
    pub(crate) fn name_cur(&mut self, name: Rom, caps: &Capabilities) {
        self.text(rom!(b"AT+"));
        self.text(name);
        if caps.cur_suffix {
            self.text(rom!(b"_CUR"));
        }
    }

    /// Constant text (from program memory on AVR).
    pub(crate) fn text(&mut self, s: Rom) {
        if self.room(s.len()) {
            let r = s.chunks(|c| self.sink.put(c));
            if let Err(e) = r {
                self.err = Some(e);
            }
            self.len += s.len();
        }
    }

    /// One byte.
    pub(crate) fn byte(&mut self, b: u8) {
        self.raw(&[b]);
    }
}

/// `v` in decimal into `out` (left-aligned); returns the number of digits. By subtracting
/// powers of ten: an 8-bit MCU has no divider, and a 32-bit division routine costs it over a
/// kilobyte of flash.
///
/// ```
/// let mut digits = [0u8; 10];
/// let n = esp_at::decimal(4_294_967_295, &mut digits);
/// assert_eq!(&digits[..n], b"4294967295");
/// let n = esp_at::decimal(0, &mut digits);
/// assert_eq!(&digits[..n], b"0");
/// ```
pub fn decimal(mut v: u32, out: &mut [u8; 10]) -> usize {
    // the powers of ten, built by shifts and adds on the stack (a table of constants would sit
    // in RAM on AVR)
    let mut powers = [1u32; 10];
    for i in 1..powers.len() {
        let p = powers.get(i - 1).copied().unwrap_or(1);
        if let Some(slot) = powers.get_mut(i) {
            *slot = (p << 3) + (p << 1);
        }
    }
    let mut n = 0;
    for &p in powers.iter().skip(1).rev() {
        let mut d = 0u8;
        while v >= p {
            v -= p;
            d += 1;
        }
        if d > 0 || n > 0 {
            if let Some(slot) = out.get_mut(n) {
                *slot = b'0' + d;
            }
            n += 1;
        }
    }
    if let Some(slot) = out.get_mut(n) {
        *slot = b'0' + v as u8;
    }
    n + 1
}

/// `n / d` by shifts and subtractions (see [`decimal`]); `d` = 0 gives `u32::MAX`.
pub(crate) fn div_u32(n: u32, d: u32) -> u32 {
    if d == 0 {
        return u32::MAX;
    }
    if d > 1 << 31 {
        // the remainder below would not fit 32 bits when shifted
        return u32::from(n >= d);
    }
    let (mut q, mut r) = (0u32, 0u32);
    for i in (0..32).rev() {
        r = (r << 1) | ((n >> i) & 1);
        if r >= d {
            r -= d;
            q |= 1 << i;
        }
    }
    q
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::{decimal, div_u32};
    use std::string::{String, ToString};
    use std::vec;

    fn text(v: u32) -> String {
        let mut b = [0u8; 10];
        let n = decimal(v, &mut b);
        String::from_utf8(b[..n].to_vec()).unwrap()
    }

    #[test]
    fn decimal_and_division_agree_with_the_hardware() {
        let mut x: u32 = 0x9E37_79B9;
        let mut values = vec![
            0,
            1,
            9,
            10,
            11,
            99,
            100,
            101,
            999_999_999,
            1_000_000_000,
            u32::MAX,
        ];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            values.push(x);
            values.push(x >> (x % 32));
        }
        for &v in &values {
            assert_eq!(text(v), v.to_string());
            for d in [1, 3, 10, 115_200, 0x8000_0000, 0x8000_0001, u32::MAX, v | 1] {
                assert_eq!(div_u32(v, d), v / d, "{v} / {d}");
            }
        }
        assert_eq!(div_u32(5, 0), u32::MAX);
    }
}
