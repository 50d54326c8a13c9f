//! Access points from `AT+CWLAP`.
//!
//! The firmware does not escape SSIDs in its responses, so an SSID may hold commas and quotes,
//! and the number of fields after it differs between firmware lines (five in NonOS 1.7, up to
//! eleven in ESP-AT 2.x). A line is therefore read from both ends: the encryption before the
//! SSID, and after it the last `",<rssi>,"<mac>"` in the line, which no later field can look like.

use heapless::Vec;

/// One access point the modem can hear.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct AccessPoint {
    /// The SSID's bytes, as broadcast (often UTF-8; not always).
    pub ssid: Vec<u8, 32>,
    /// Signal strength, dBm.
    pub rssi: i8,
    /// Channel.
    pub channel: u8,
    /// The firmware's encryption number (0 open, 1 WEP, 2 WPA-PSK, 3 WPA2-PSK, 4 WPA/WPA2-PSK,
    /// 5 WPA2-Enterprise, 6 WPA3-PSK, 7 WPA2/WPA3-PSK, ...).
    pub encryption: u8,
    /// The access point's MAC address.
    pub bssid: [u8; 6],
}

impl AccessPoint {
    /// No access point (empty SSID, 0 dBm, channel 0, open, zero BSSID): what an array for
    /// [`EspAt::scan`](crate::EspAt::scan) starts as, `[AccessPoint::EMPTY; 8]`.
    pub const EMPTY: AccessPoint = AccessPoint {
        ssid: Vec::new(),
        rssi: 0,
        channel: 0,
        encryption: 0,
        bssid: [0; 6],
    };

    /// The SSID as text, if it is UTF-8.
    pub fn ssid_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.ssid).ok()
    }

    /// No password needed.
    pub fn is_open(&self) -> bool {
        self.encryption == 0
    }
}

impl Default for AccessPoint {
    /// [`AccessPoint::EMPTY`].
    fn default() -> Self {
        AccessPoint::EMPTY
    }
}

/// An optional `-` and 1–9 digits.
fn number(s: &[u8]) -> Option<i32> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    let v = i32::try_from(crate::digest::parse_u32(digits)?).ok()?;
    Some(if neg { -v } else { v })
}

fn hex(d: u8) -> Option<u8> {
    match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    }
}

/// `"aa:bb:cc:dd:ee:ff"` (with its quotes).
fn mac(s: &[u8]) -> Option<[u8; 6]> {
    let inner = s.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    if inner.len() != 17 {
        return None;
    }
    let mut out = [0u8; 6];
    for (i, o) in out.iter_mut().enumerate() {
        let at = i * 3;
        if i > 0 && inner.get(at - 1).copied() != Some(b':') {
            return None;
        }
        *o = hex(*inner.get(at)?)? << 4 | hex(*inner.get(at + 1)?)?;
    }
    Some(out)
}

/// Parse one `+CWLAP:(...)` line; `None` for anything else or a malformed one.
pub fn parse_cwlap(line: &[u8]) -> Option<AccessPoint> {
    let body = rom!(b"+CWLAP:(").strip_from(line)?.strip_suffix(b")")?;
    let comma = body.iter().position(|&b| b == b',')?;
    let encryption = u8::try_from(number(body.get(..comma)?)?).ok()?;
    let rest = body.get(comma + 1..)?.strip_prefix(b"\"")?;
    // the last `",<rssi>,"<mac>"` ends the SSID
    let mut found = None;
    let mut i = 0;
    while i + 1 < rest.len() {
        if rest.get(i..i + 2) == Some(b"\",") {
            let tail = rest.get(i + 2..)?;
            if let Some(c) = tail.iter().position(|&b| b == b',')
                && let Some(rssi) = number(tail.get(..c)?)
                && let Some(m) = tail.get(c + 1..c + 20).and_then(mac)
                && matches!(tail.get(c + 20), None | Some(b','))
            {
                let after = tail.get(c + 21..).unwrap_or(&[]);
                found = Some((i, rssi, m, after));
            }
        }
        i += 1;
    }
    let (end, rssi, bssid, after) = found?;
    let ssid = Vec::from_slice(rest.get(..end)?).ok()?;
    let channel = after
        .split(|&b| b == b',')
        .next()
        .and_then(number)
        .and_then(|c| u8::try_from(c).ok())
        .unwrap_or(0);
    Some(AccessPoint {
        ssid,
        rssi: i8::try_from(rssi.clamp(-128, 127)).ok()?,
        channel,
        encryption,
        bssid,
    })
}

/// Collects `+CWLAP` lines into a caller's slice.
pub(crate) struct ScanSink<'a> {
    pub(crate) out: &'a mut [AccessPoint],
    pub(crate) kept: usize,
    pub(crate) heard: usize,
}

impl crate::core::LineSink for ScanSink<'_> {
    fn line(&mut self, line: &[u8]) {
        if let Some(ap) = parse_cwlap(line) {
            self.heard += 1;
            self.kept = insert_strongest(self.out, self.kept, ap);
        }
    }
}

/// Keep the strongest: insert `ap` into `out[..len]` (sorted by RSSI, strongest first),
/// dropping the weakest when full. Returns the new length.
pub(crate) fn insert_strongest(out: &mut [AccessPoint], len: usize, ap: AccessPoint) -> usize {
    let len = len.min(out.len());
    let at = out
        .get(..len)
        .unwrap_or(&[])
        .iter()
        .position(|o| o.rssi < ap.rssi)
        .unwrap_or(len);
    if at >= out.len() {
        return len;
    }
    let new_len = (len + 1).min(out.len());
    // the weaker ones move down by one; when full, the weakest falls off (swapped through:
    // no memmove, whose code costs 650 bytes on AVR)
    let mut carry = ap;
    for slot in out.get_mut(at..new_len).unwrap_or(&mut []) {
        core::mem::swap(slot, &mut carry);
    }
    new_len
}
