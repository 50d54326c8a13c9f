//! The ESP-AT digester: turns the modem's byte stream into events.
//!
//! ESP-AT is a "rude" AT device: URCs arrive without a leading CRLF and in the middle of
//! commands, `+IPD` carries binary payloads that may contain `\r\nOK\r\n`, `OK` is followed by
//! the `>` prompt, `busy p...` means "not now", and a reboot spews ROM noise before `ready`.
//! [`parse`] recognises every line class on its own, independent of what came before, and is
//! length-aware for `+IPD` and `+CIPRECVDATA`; the same bytes give the same events however
//! they are cut into reads. It never panics and never indexes out of bounds.

/// Unsolicited result codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Urc<'a> {
    /// `ready`: the module (re)booted. Every link is gone and the configuration is lost.
    Ready,
    /// `WIFI CONNECTED`.
    WifiConnected,
    /// `WIFI GOT IP`.
    WifiGotIp,
    /// `WIFI DISCONNECT`.
    WifiDisconnect,
    /// `[<link>,]CONNECT`.
    Connect(Option<u8>),
    /// `[<link>,]CLOSED` (or `UNLINK`).
    Closed(Option<u8>),
    /// `[<link>,]CONNECT FAIL`.
    ConnectFail(Option<u8>),
    /// `+STA_CONNECTED`, `+STA_DISCONNECTED`, `+DIST_STA_IP` (SoftAP clients), raw line.
    SoftAp(&'a [u8]),
}

/// One thing the modem said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event<'a> {
    /// Nothing complete yet (the consumed count may still be non-zero: whitespace).
    None,
    /// `OK`.
    Ok,
    /// `ERROR`.
    Error,
    /// `FAIL` (NonOS `AT+CWJAP` failure).
    Fail,
    /// `SEND OK`.
    SendOk,
    /// `SEND FAIL` or `SEND Canceled`.
    SendFail,
    /// The `>` prompt for data.
    Prompt,
    /// `busy p...` / `busy s...`: the previous command is still running; this one was ignored.
    Busy,
    /// `ERR CODE:0x...` (with `AT+SYSLOG=1`).
    ErrCode(u32),
    /// `Recv <n> bytes`.
    Recv(u32),
    /// An unsolicited result code.
    Urc(Urc<'a>),
    /// Active-mode `+IPD,[<link>,]<len>[,"ip",port]:<data>` with its complete payload.
    Data {
        /// Link id (`None` with `CIPMUX=0`).
        link: Option<u8>,
        /// The payload.
        data: &'a [u8],
    },
    /// Passive-mode `+IPD,[<link>,]<len>`: that many bytes wait in the modem.
    DataPending {
        /// Link id (`None` with `CIPMUX=0`).
        link: Option<u8>,
        /// Bytes now buffered in the modem (ESP-AT 2.x) or newly arrived (1.7).
        len: u32,
    },
    /// `+CIPRECVDATA` payload, either dialect (`:<len>,<data>` or `,<len>:<data>`).
    RecvData(&'a [u8]),
    /// The command echo (only before `ATE0`).
    Echo(&'a [u8]),
    /// Any other text line: information responses such as `+CWJAP:1`, `AT version:...`.
    Line(&'a [u8]),
    /// Bytes that are not ESP-AT text (boot noise at 74880 baud, garbled bytes).
    Noise(&'a [u8]),
}

/// Longest `+IPD`/`+CIPRECVDATA` header accepted before the line is declared noise.
const MAX_HEADER: usize = 64;
/// Largest payload length accepted in a header (ESP-AT sends at most 8192 per `+IPD`).
pub const MAX_PAYLOAD: u32 = 8192;

fn starts_with(buf: &[u8], p: Rom) -> bool {
    p.is_prefix_of(buf)
}

/// `true` if `buf` is a strict prefix of `p`: more bytes could still make it `p`.
fn is_prefix_of(buf: &[u8], p: Rom) -> bool {
    buf.len() < p.len() && buf.iter().enumerate().all(|(i, &b)| p.get(i) == Some(b))
}

use crate::rom::Rom;

/// 1–9 decimal digits (so the value fits an `i32` too).
pub(crate) fn parse_u32(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    let mut v: u32 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(d - b'0');
    }
    Some(v)
}

/// Parse one event from the front of `buf`. Returns the event and the bytes consumed.
///
/// `(Event::None, 0)` means "need more bytes". If the caller's buffer is full and this
/// still returns `(Event::None, 0)`, call [`parse_full`] to discard.
pub fn parse(buf: &[u8]) -> (Event<'_>, usize) {
    let ws = buf
        .iter()
        .take_while(|&&b| matches!(b, b'\r' | b'\n' | b' ' | 0))
        .count();
    if ws > 0 {
        return (Event::None, ws);
    }
    match buf.first() {
        None => return (Event::None, 0),
        Some(b'>') => return (Event::Prompt, 1),
        _ => {}
    }
    if starts_with(buf, rom!(b"+IPD,")) {
        return parse_ipd(buf);
    }
    if starts_with(buf, rom!(b"+CIPRECVDATA")) {
        return parse_recvdata(buf);
    }
    if is_prefix_of(buf, rom!(b"+IPD,")) || is_prefix_of(buf, rom!(b"+CIPRECVDATA")) {
        return (Event::None, 0);
    }
    let Some(nl) = find_newline(buf) else {
        return (Event::None, 0);
    };
    let raw = buf.get(..nl).unwrap_or(&[]);
    let end = raw.iter().rposition(|&b| b != b'\r').map_or(0, |p| p + 1);
    let line = raw.get(..end).unwrap_or(&[]);
    let bad = has_non_text(line);
    (classify(line, bad), nl + 1)
}

/// The first `\n`: memchr's word-at-a-time search where words are wide, a byte loop on 8/16-bit
/// targets (where memchr's code would cost 700 bytes of AVR flash for no speed).
#[inline]
fn find_newline(buf: &[u8]) -> Option<usize> {
    #[cfg(not(target_pointer_width = "16"))]
    {
        memchr::memchr(b'\n', buf)
    }
    #[cfg(target_pointer_width = "16")]
    {
        buf.iter().position(|&b| b == b'\n')
    }
}

/// Bytes that are not ESP-AT text (control characters but TAB, a CR inside the line, 8-bit
/// bytes). No early exit: the loop vectorises, and on AVR it is also the smaller code.
#[inline]
fn has_non_text(line: &[u8]) -> bool {
    line.iter().fold(false, |acc, &b| {
        acc | ((b < 0x20 && b != b'\t') | (b >= 0x7F))
    })
}

/// For a full buffer in which [`parse`] finds nothing complete: consume everything as noise
/// (an over-long line or a payload larger than the buffer).
pub fn parse_full(buf: &[u8]) -> (Event<'_>, usize) {
    (Event::Noise(buf), buf.len())
}

/// A scan result may hold 8-bit bytes (a UTF-8 SSID), never control characters. Checked only
/// for lines with non-text bytes, off the common path.
fn is_scan_result(line: &[u8]) -> bool {
    starts_with(line, rom!(b"+CWLAP:(")) && line.iter().all(|&b| b >= 0x20 || b == b'\t')
}

/// The lines that are a whole event, each after its length byte, in the order [`fixed`]
/// numbers them. One table and one loop instead of a comparison per word: on AVR, where every
/// comparison is code, this is a kilobyte less.
const WORDS: Rom = rom!(b"\x02OK\x05ERROR\x04FAIL\x07SEND OK\x09SEND FAIL\x0dSEND Canceled\x05ready\
\x0eWIFI CONNECTED\x0bWIFI GOT IP\x0fWIFI DISCONNECT\x07CONNECT\x06CLOSED\x06UNLINK\x0cCONNECT FAIL");
/// Index in [`WORDS`] of the first word that may follow a link id (`0,CONNECT`).
const LINK_WORDS: u8 = 10;

/// The index of `line` in [`WORDS`].
fn word(line: &[u8]) -> Option<u8> {
    WORDS.position_in_list(line)
}

/// The event of [`WORDS`] entry `i`; `link` for the link URCs.
fn fixed(i: u8, link: Option<u8>) -> Event<'static> {
    match i {
        0 => Event::Ok,
        1 => Event::Error,
        2 => Event::Fail,
        3 => Event::SendOk,
        4 | 5 => Event::SendFail,
        6 => Event::Urc(Urc::Ready),
        7 => Event::Urc(Urc::WifiConnected),
        8 => Event::Urc(Urc::WifiGotIp),
        9 => Event::Urc(Urc::WifiDisconnect),
        10 => Event::Urc(Urc::Connect(link)),
        11 | 12 => Event::Urc(Urc::Closed(link)),
        _ => Event::Urc(Urc::ConnectFail(link)),
    }
}

fn classify(line: &[u8], bad: bool) -> Event<'_> {
    if let Some(i) = word(line) {
        return fixed(i, None);
    }
    if bad && !is_scan_result(line) {
        return Event::Noise(line);
    }
    // the remaining classes are told apart by their first byte
    match line.first() {
        Some(b'b') if starts_with(line, rom!(b"busy ")) => Event::Busy,
        Some(b'E') => match rom!(b"ERR CODE:0x").strip_from(line) {
            Some(hex) => err_code(line, hex),
            None => Event::Line(line),
        },
        Some(b'R') => match rom!(b"Recv ")
            .strip_from(line)
            .and_then(|r| rom!(b" bytes").strip_end_from(r))
            .and_then(parse_u32)
        {
            Some(n) => Event::Recv(n),
            None => Event::Line(line),
        },
        Some(b'0'..=b'9') => link_urc(line),
        Some(b'+')
            if starts_with(line, rom!(b"+STA_CONNECTED"))
                || starts_with(line, rom!(b"+STA_DISCONNECTED"))
                || starts_with(line, rom!(b"+DIST_STA_IP")) =>
        {
            Event::Urc(Urc::SoftAp(line))
        }
        Some(b'A') if starts_with(line, rom!(b"AT")) && !starts_with(line, rom!(b"AT version")) => {
            Event::Echo(line)
        }
        _ => Event::Line(line),
    }
}

fn err_code<'a>(line: &'a [u8], hex: &[u8]) -> Event<'a> {
    let mut v: u32 = 0;
    for &d in hex.iter().take(8) {
        let n = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return Event::Line(line),
        };
        v = (v << 4) | u32::from(n);
    }
    Event::ErrCode(v)
}

/// `<link>,CONNECT` / `<link>,CLOSED` / `<link>,CONNECT FAIL`, else a plain line.
fn link_urc(line: &[u8]) -> Event<'_> {
    if let Some(comma) = line.iter().take(3).position(|&b| b == b',')
        && comma > 0
        && let Some(link) = line.get(..comma).and_then(parse_u32)
        && let Some(i) = line.get(comma + 1..).and_then(word)
        && i >= LINK_WORDS
    {
        return fixed(i, u8::try_from(link).ok());
    }
    Event::Line(line)
}

/// Read digits starting at `pos`. `Err(true)`: need more bytes; `Err(false)`: malformed.
fn digits_at(buf: &[u8], pos: usize) -> Result<(u32, usize), bool> {
    let tail = buf.get(pos..).unwrap_or(&[]);
    let n = tail.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == tail.len() {
        return Err(tail.len() < 10);
    }
    let v = tail.get(..n).and_then(parse_u32).ok_or(false)?;
    Ok((v, pos + n))
}

/// A malformed `+IPD`/`+CIPRECVDATA` header: drop its line as noise, or wait for the line end.
fn bad_header(buf: &[u8]) -> (Event<'_>, usize) {
    // decided on the first MAX_HEADER + 1 bytes only, so the result does not depend on how
    // much happens to be buffered
    let head = buf.get(..=MAX_HEADER).unwrap_or(buf);
    match head.iter().position(|&b| b == b'\n') {
        Some(nl) => (Event::Noise(buf.get(..nl).unwrap_or(&[])), nl + 1),
        None if head.len() > MAX_HEADER => (Event::Noise(head), head.len()),
        None => (Event::None, 0),
    }
}

fn parse_ipd(buf: &[u8]) -> (Event<'_>, usize) {
    let wait = (Event::None, 0);
    let (a, mut pos) = match digits_at(buf, 5) {
        Ok(v) => v,
        Err(true) => return wait,
        Err(false) => return bad_header(buf),
    };
    let mut link = None;
    let mut len = a;
    if buf.get(pos).copied() == Some(b',') {
        match buf.get(pos + 1) {
            None => return wait,
            Some(d) if d.is_ascii_digit() => match digits_at(buf, pos + 1) {
                Ok((b, p)) => {
                    link = u8::try_from(a).ok();
                    len = b;
                    pos = p;
                }
                Err(true) => return wait,
                Err(false) => return bad_header(buf),
            },
            Some(b'"') => {}
            Some(_) => return bad_header(buf),
        }
    }
    // optional ,"ip",port before ':'
    if buf.get(pos).copied() == Some(b',') {
        let tail = buf.get(pos..).unwrap_or(&[]);
        let tail = tail.get(..MAX_HEADER).unwrap_or(tail);
        match tail.iter().position(|&b| b == b':' || b == b'\n') {
            Some(p) if tail.get(p).copied() == Some(b':') => pos += p,
            Some(_) => return bad_header(buf),
            None if tail.len() >= MAX_HEADER => return bad_header(buf),
            None => return wait,
        }
    }
    if len > MAX_PAYLOAD {
        return bad_header(buf);
    }
    match buf.get(pos) {
        None => wait,
        Some(b':') => {
            let start = pos + 1;
            let end = start + len as usize;
            match buf.get(start..end) {
                Some(data) => (Event::Data { link, data }, end),
                None => wait,
            }
        }
        Some(b'\r') => match buf.get(pos + 1) {
            None => wait,
            Some(b'\n') => (Event::DataPending { link, len }, pos + 2),
            Some(_) => bad_header(buf),
        },
        Some(_) => bad_header(buf),
    }
}

fn parse_recvdata(buf: &[u8]) -> (Event<'_>, usize) {
    let wait = (Event::None, 0);
    let pos = b"+CIPRECVDATA".len();
    let (close, sep) = match buf.get(pos) {
        None => return wait,
        Some(b':') => (b',', b':'), // 2.x: +CIPRECVDATA:<len>,<data>
        Some(b',') => (b':', b','), // 1.7: +CIPRECVDATA,<len>:<data>
        Some(_) => return bad_header(buf),
    };
    let _ = sep;
    let (len, p) = match digits_at(buf, pos + 1) {
        Ok(v) => v,
        Err(true) => return wait,
        Err(false) => return bad_header(buf),
    };
    if len > MAX_PAYLOAD {
        return bad_header(buf);
    }
    match buf.get(p) {
        None => wait,
        Some(&c) if c == close => {
            let start = p + 1;
            let end = start + len as usize;
            match buf.get(start..end) {
                Some(data) => (Event::RecvData(data), end),
                None => wait,
            }
        }
        Some(_) => bad_header(buf),
    }
}

/// [`parse`] packaged as an [`atat::Digester`], for use with atat's clients and ingress.
///
/// Information lines up to the final `OK` are returned as the response body; `OK` followed by
/// `>` is one `Prompt`; `busy p...` and `FAIL` are errors; `+IPD`, `ready`, `n,CLOSED` ... are
/// URCs. Note that atat's own clients drop URCs they cannot route; the driver in this crate
/// uses [`parse`] directly and handles every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct EspDigester;

impl atat::Digester for EspDigester {
    fn digest<'a>(&mut self, buf: &'a [u8]) -> (atat::DigestResult<'a>, usize) {
        use atat::{DigestResult as D, InternalError as IE};
        let mut pos = 0;
        let mut body: Option<(usize, usize)> = None;
        loop {
            let rest = buf.get(pos..).unwrap_or(&[]);
            let (ev, n) = parse(rest);
            if n == 0 {
                // incomplete: report what was skipped so far (never a partial body)
                return (D::None, body.map_or(pos, |(s, _)| s));
            }
            let start = pos;
            pos += n;
            match ev {
                Event::None | Event::Echo(_) | Event::Noise(_) | Event::Recv(_) => {}
                Event::Line(_) | Event::ErrCode(_) => {
                    let s = body.map_or(start, |(s, _)| s);
                    body = Some((s, start + ev_len(rest, n)));
                }
                Event::Ok => {
                    // OK followed by the prompt is one event
                    let after = buf.get(pos..).unwrap_or(&[]);
                    let ws = after
                        .iter()
                        .take_while(|&&b| matches!(b, b'\r' | b'\n'))
                        .count();
                    if after.get(ws).copied() == Some(b'>') {
                        return (D::Prompt(b'>'), pos + ws + 1);
                    }
                    let data = body.and_then(|(s, e)| buf.get(s..e)).unwrap_or(&[]);
                    return (D::Response(Ok(data)), pos);
                }
                Event::SendOk => return (D::Response(Ok(&[])), pos),
                Event::Error | Event::Fail | Event::SendFail => {
                    let data = body.and_then(|(s, e)| buf.get(s..e)).unwrap_or(&[]);
                    return (D::Response(Err(IE::Custom(data))), pos);
                }
                Event::Busy => return (D::Response(Err(IE::Custom(b"busy"))), pos),
                Event::Prompt => return (D::Prompt(b'>'), pos),
                Event::Urc(_)
                | Event::Data { .. }
                | Event::DataPending { .. }
                | Event::RecvData(_) => {
                    if body.is_none() {
                        return (D::Urc(buf.get(start..pos).unwrap_or(&[])), pos);
                    }
                }
            }
        }
    }
}

/// Length of the line content (without line ending) of an event that consumed `n` bytes.
fn ev_len(rest: &[u8], n: usize) -> usize {
    let line = rest.get(..n).unwrap_or(&[]);
    line.iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(0, |p| p + 1)
}
