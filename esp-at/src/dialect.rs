//! Firmware dialects: NonOS AT 1.7.x versus ESP-AT 2.x–5.x, detected from `AT+GMR`.

/// Parse `a.b.c...` (each 0–255) at the start of `s` into `out`, stopping at the first byte that
/// is neither a digit nor a separating dot, or when `out` is full. Returns how many numbers were
/// read; `None` if one is above 255.
pub(crate) fn parse_dotted(s: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut count = 0usize;
    let mut cur: u16 = 0;
    let mut have = false;
    for &b in s {
        if b.is_ascii_digit() {
            cur = cur * 10 + u16::from(b - b'0');
            if cur > 255 {
                return None;
            }
            have = true;
        } else if b == b'.' && have && count + 1 < out.len() {
            *out.get_mut(count)? = cur as u8;
            count += 1;
            cur = 0;
            have = false;
        } else {
            break;
        }
    }
    if have && count < out.len() {
        *out.get_mut(count)? = cur as u8;
        count += 1;
    }
    Some(count)
}

/// The AT firmware family and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Version {
    /// Major version (1 for NonOS AT, 2–5 for ESP-AT).
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Patch version.
    pub patch: u8,
}

impl Version {
    /// A version.
    pub const fn new(major: u8, minor: u8, patch: u8) -> Self {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// The `AT version:` line of `AT+GMR`, e.g. `AT version:1.7.4.0(May 11 2020 19:13:04)` or
    /// `AT version:2.2.0.0(c6fa6bf - ESP8266 - Jul  2 2021 06:44:05)`.
    pub fn parse_gmr_line(line: &[u8]) -> Option<Version> {
        let rest = rom!(b"AT version:").strip_from(line)?;
        let mut parts = [0u8; 3];
        if parse_dotted(rest, &mut parts)? < 2 {
            return None;
        }
        Some(Version::new(parts[0], parts[1], parts[2]))
    }

    /// What this firmware supports.
    pub const fn capabilities(self) -> Capabilities {
        let nonos = self.major < 2;
        Capabilities {
            version: self,
            cur_suffix: nonos,
            sysstore: !nonos,
            recv_type: self.major > 3 || (self.major == 3 && self.minor >= 3),
            cwstate: self.major > 2 || (self.major == 2 && self.minor >= 1),
            recvdata_comma_first: nonos,
            ssl_size: nonos,
            ssl_config: !nonos,
        }
    }
}

/// The lines of `AT+GMR`, as far as the driver needs them: the AT version (`AT version:1.7.4.0(...)`,
/// or the bare `00160901` / `0018000902` of AT 0.1x, whose first four digits are the AT version)
/// and whether the SDK is ESP-IDF (`SDK version:v3.2...`: an ESP32).
#[derive(Debug, Default)]
pub(crate) struct GmrSink {
    version: Option<Version>,
    esp_idf: bool,
}

impl crate::core::LineSink for GmrSink {
    fn line(&mut self, line: &[u8]) {
        if let Some(sdk) = rom!(b"SDK version:").strip_from(line) {
            self.esp_idf = sdk.first() == Some(&b'v');
        } else if self.version.is_none() {
            // the first version line counts
            self.version = match line {
                [a, b, c, d, rest @ ..]
                    if (rest.len() == 4 || rest.len() == 6)
                        && line.iter().all(u8::is_ascii_digit) =>
                {
                    Some(Version::new(
                        (a - b'0') * 10 + (b - b'0'),
                        (c - b'0') * 10 + (d - b'0'),
                        0,
                    ))
                }
                _ => Version::parse_gmr_line(line),
            };
        }
    }
}

impl GmrSink {
    /// The version, if the driver supports that firmware.
    pub(crate) fn supported<E>(&self) -> Result<Version, crate::Error<E>> {
        let v = self.version.ok_or(crate::Error::Protocol)?;
        // ESP32 AT 1.x: neither `_CUR` commands nor `AT+SYSSTORE`; AT 0.1x: no `_CUR` commands
        if (self.esp_idf && v.major < 2) || v < Version::new(0, 22, 0) {
            return Err(crate::Error::UnsupportedFirmware(v));
        }
        Ok(v)
    }
}

/// The differences between dialects that the driver acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Capabilities {
    /// The firmware version these were derived from.
    pub version: Version,
    /// NonOS 1.x: `_CUR`/`_DEF` suffixes (`AT+CWJAP_CUR`); the driver uses `_CUR` (RAM only).
    pub cur_suffix: bool,
    /// ESP-AT 2.x+: `AT+SYSSTORE` controls flash writes.
    pub sysstore: bool,
    /// v3.3+: `AT+CIPRECVTYPE` (per link) instead of `AT+CIPRECVMODE`.
    pub recv_type: bool,
    /// v2.1+: `AT+CWSTATE?` / `AT+CIPSTATE?` instead of the deprecated `AT+CIPSTATUS`.
    pub cwstate: bool,
    /// NonOS 1.7: `+CIPRECVDATA,<len>:<data>` (2.x: `+CIPRECVDATA:<len>,<data>`). The
    /// digester accepts both; this records which one to expect.
    pub recvdata_comma_first: bool,
    /// NonOS: `AT+CIPSSLSIZE` sets the TLS buffer.
    pub ssl_size: bool,
    /// ESP-AT 2.x+: `AT+CIPSSLCCONF`, `AT+CIPSSLCSNI` ...
    pub ssl_config: bool,
}

impl Default for Capabilities {
    /// Until `AT+GMR` has been asked: NonOS 1.7 is the conservative choice for an ESP-01
    /// (it understands `_CUR` commands; 2.x understands both for most commands).
    fn default() -> Self {
        Version::new(1, 7, 0).capabilities()
    }
}
