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
#[non_exhaustive]
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
    /// `+LINK_CONN:<status>,<link>,"<type>",<c/s>,...` (with `AT+SYSMSG`): a link opened
    /// (`status` 0) or failed to open, as a client (`server: false`) or as our server's.
    LinkConn {
        /// The link id.
        link: u8,
        /// `true` when the connection was opened by a remote client of our server.
        server: bool,
        /// `true` for status 0 (connected).
        ok: bool,
    },
}

/// One thing the modem said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
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
    /// `ALREADY CONNECTED`: `AT+CIPSTART` on a link that is open (an `ERROR` follows).
    AlreadyConnected,
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

/// Whether the modem puts the sender's address before received data (`AT+CIPDINFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RemoteInfo {
    /// Not known: `+CIPRECVDATA:<len>,"<ip>",<port>,<data>` is recognised by its form (a quoted
    /// address of address characters, a port, a comma), anything else is payload.
    #[default]
    Unknown,
    /// `AT+CIPDINFO=0` is in force: what follows `<len>,` is payload, whatever it looks like.
    Off,
    /// `AT+CIPDINFO=1` is in force: the address always comes first.
    On,
}

/// Parse one event from the front of `buf`. Returns the event and the bytes consumed.
///
/// `(Event::None, 0)` means "need more bytes". If the caller's buffer is full and this
/// still returns `(Event::None, 0)`, call [`parse_full`] to discard.
#[cfg_attr(not(feature = "__internal"), allow(dead_code))] // the tests and the fuzz targets
pub fn parse(buf: &[u8]) -> (Event<'_>, usize) {
    parse_with(buf, RemoteInfo::Unknown)
}

/// [`parse`], told whether `+CIPRECVDATA` carries the sender's address.
#[cfg_attr(not(feature = "__internal"), allow(dead_code))] // the tests and the fuzz targets
pub fn parse_with(buf: &[u8], info: RemoteInfo) -> (Event<'_>, usize) {
    parse_at(buf, info, &mut (0, 0))
}

/// [`parse_with`], also telling in `block` where the payload starts and ends when it waits for
/// the rest of a data block's payload (see [`data_header`]); `block` is left alone otherwise.
/// One parser for both: a header is read by one piece of code, the one that reads it for its
/// payload.
pub(crate) fn parse_at<'a>(
    buf: &'a [u8],
    info: RemoteInfo,
    block: &mut (usize, usize),
) -> (Event<'a>, usize) {
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
        return parse_ipd(buf, block);
    }
    if starts_with(buf, rom!(b"+CIPRECVDATA")) {
        return parse_recvdata(buf, info, block);
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
    if bad && let Some(p) = ready_after_noise(line) {
        // the noise now, `ready` as a line of its own next
        return (Event::Noise(line.get(..p).unwrap_or(&[])), p);
    }
    let ev = classify(line, bad);
    if let Event::Echo(_) = ev
        && let Some(p) = urc_after_echo(line)
    {
        return (Event::Echo(line.get(..p).unwrap_or(&[])), p);
    }
    (ev, nl + 1)
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
/// comparison is code, this is a kilobyte less. The words are grouped by the event they are,
/// so that [`fixed`] matches ranges, the words that may follow a link id in one of them.
///
/// Among them are the words of old and vendor firmware: the `no change` with which AT 0.x
/// answers a setting it already has, `type error`, `Error`, `invalid`, and Ai-Thinker's
/// `[System Ready, Vendor:www.ai-thinker.com]`, `Linked` and `Unlink`.
const WORDS: Rom = rom!(
    b"\x02OK\x09no change\x05ERROR\x0atype error\x05Error\x07invalid\x04FAIL\x07SEND OK\
\x09SEND FAIL\x0dSEND Canceled\x05ready\x29[System Ready, Vendor:www.ai-thinker.com]\
\x0eWIFI CONNECTED\x0bWIFI GOT IP\x0fWIFI DISCONNECT\x06Linked\x07CONNECT\x0cCONNECT FAIL\
\x06CLOSED\x06UNLINK\x06Unlink\x11ALREADY CONNECTED"
);
/// Index in [`WORDS`] of the first word that may follow a link id (`0,CONNECT`).
const LINK_WORDS: u8 = 16;
/// Index in [`WORDS`] after the last word that may follow a link id.
const LINK_WORDS_END: u8 = 20;

/// The index of `line` in [`WORDS`].
fn word(line: &[u8]) -> Option<u8> {
    WORDS.position_in_list(line)
}

/// The event of [`WORDS`] entry `i`; `link` for the link URCs.
fn fixed(i: u8, link: Option<u8>) -> Event<'static> {
    match i {
        0..=1 => Event::Ok,
        2..=5 => Event::Error,
        6 => Event::Fail,
        7 => Event::SendOk,
        8..=9 => Event::SendFail,
        10..=11 => Event::Urc(Urc::Ready),
        12 => Event::Urc(Urc::WifiConnected),
        13 => Event::Urc(Urc::WifiGotIp),
        14 => Event::Urc(Urc::WifiDisconnect),
        15..=16 => Event::Urc(Urc::Connect(link)),
        17 => Event::Urc(Urc::ConnectFail(link)),
        18..=20 => Event::Urc(Urc::Closed(link)),
        _ => Event::AlreadyConnected,
    }
}

fn classify(line: &[u8], bad: bool) -> Event<'_> {
    // no word starts with `+` or a digit, or is longer than 41 bytes: information lines skip
    // the table where speed matters (on 16-bit targets the check would cost 220 B of flash
    // for a UART's worth of bytes)
    #[cfg(not(target_pointer_width = "16"))]
    let maybe_word = !matches!(line.first(), Some(b'+' | b'0'..=b'9')) && line.len() <= 41;
    #[cfg(target_pointer_width = "16")]
    let maybe_word = true;
    if maybe_word && let Some(i) = word(line) {
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
        Some(b'+') if starts_with(line, rom!(b"+LINK_CONN:")) => link_conn(line),
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

/// `+LINK_CONN:<status>,<link>,"<type>",<c/s>,...`, else a plain line.
fn link_conn(line: &[u8]) -> Event<'_> {
    let rest = rom!(b"+LINK_CONN:").strip_from(line).unwrap_or(&[]);
    let mut fields = rest.split(|&b| b == b',');
    let status = fields.next().and_then(parse_u32);
    let link = fields.next().and_then(parse_u32);
    let _transport = fields.next();
    let side = fields.next().and_then(parse_u32);
    match (status, link.and_then(|l| u8::try_from(l).ok()), side) {
        (Some(status), Some(link), Some(side)) => Event::Urc(Urc::LinkConn {
            link,
            server: side == 1,
            ok: status == 0,
        }),
        _ => Event::Line(line),
    }
}

/// Where a line of non-text bytes ends in `ready` (or Ai-Thinker's banner): the ROM boot log
/// at 74 880 baud arrives as garbage, and `ready` may follow it with no line break between.
fn ready_after_noise(line: &[u8]) -> Option<usize> {
    urc_at_end(line, false)
}

/// Where a URC starts that is glued to the end of a command's echo (echo is on until `ATE0`,
/// and a URC can arrive while the command is being echoed).
fn urc_after_echo(line: &[u8]) -> Option<usize> {
    urc_at_end(line, true)
}

/// The first position (after the first byte of noise, after `AT` of an echo) where the rest of
/// `line` is `ready` (or Ai-Thinker's banner), or, after an `echo`, any URC of [`WORDS`] or a
/// link URC such as `0,CLOSED`. The rest is read by [`classify`]: one reader of lines.
#[inline(never)] // one copy: keeps small targets (AVR) small
fn urc_at_end(line: &[u8], echo: bool) -> Option<usize> {
    // every URC word ends in one of these bytes, and is at most 43 bytes long with a link id:
    // most lines are ruled out by their last byte, the rest are tried at their last 44 places
    if !matches!(
        line.last(),
        Some(b'y' | b']' | b'D' | b'P' | b'T' | b'd' | b'L' | b'K' | b'k')
    ) {
        return None;
    }
    let from = (1 + usize::from(echo)).max(line.len().saturating_sub(44));
    (from..line.len()).find(|&i| {
        match classify(line.get(i..).unwrap_or(&[]), false) {
            Event::Urc(Urc::Ready) => true,
            // lines of their own, never glued
            Event::Urc(Urc::SoftAp(_) | Urc::LinkConn { .. }) => false,
            Event::Urc(_) => echo,
            _ => false,
        }
    })
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
    // a link id of one or two digits (so it fits a `u8`), a comma, a link word
    let comma = match line {
        [_, b',', ..] => 1,
        [_, _, b',', ..] => 2,
        _ => 0,
    };
    if comma > 0
        && let Some(link) = line.get(..comma).and_then(parse_u32)
        && let Some(i) = line.get(comma + 1..).and_then(word)
        && (LINK_WORDS..LINK_WORDS_END).contains(&i)
    {
        return fixed(i, Some(link as u8));
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

fn parse_ipd<'a>(buf: &'a [u8], block: &mut (usize, usize)) -> (Event<'a>, usize) {
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
    // optional ,"ip",port (`AT+CIPDINFO=1`), in both the active and the passive form; the
    // address may be IPv6, colons included
    if buf.get(pos).copied() == Some(b',') {
        match addr_port(buf.get(pos + 1..).unwrap_or(&[])) {
            Ok(n) => pos += 1 + n,
            Err(true) if buf.len() < pos + MAX_HEADER => return wait,
            Err(_) => return bad_header(buf),
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
                None => {
                    *block = (start, end);
                    wait
                }
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

/// `"<ip>",<port>` at the front of `buf` (an IPv4 or IPv6 address of address characters, a
/// port of 1–5 digits): its length, `Err(true)` when more bytes are needed to tell,
/// `Err(false)` when it is not one.
fn addr_port(buf: &[u8]) -> Result<usize, bool> {
    if buf.first().copied() != Some(b'"') {
        return if buf.is_empty() {
            Err(true)
        } else {
            Err(false)
        };
    }
    let mut i = 1;
    loop {
        match buf.get(i).copied() {
            None => return Err(true),
            Some(b'"') if i > 1 => break,
            Some(b) if (b.is_ascii_hexdigit() || b == b'.' || b == b':') && i <= 45 => i += 1,
            Some(_) => return Err(false),
        }
    }
    match buf.get(i + 1).copied() {
        None => return Err(true),
        Some(b',') => {}
        Some(_) => return Err(false),
    }
    let start = i + 2;
    let mut j = start;
    while buf.get(j).is_some_and(u8::is_ascii_digit) {
        j += 1;
        if j - start > 5 {
            return Err(false);
        }
    }
    match buf.get(j) {
        None => Err(true),
        Some(_) if j > start => Ok(j),
        Some(_) => Err(false),
    }
}

/// The sender's address before `+CIPRECVDATA` data (`"<ip>",<port>,`), as [`addr_port`].
fn remote_prefix(buf: &[u8]) -> Result<usize, bool> {
    let n = addr_port(buf)?;
    match buf.get(n) {
        None => Err(true),
        Some(b',') => Ok(n + 1),
        Some(_) => Err(false),
    }
}

fn parse_recvdata<'a>(
    buf: &'a [u8],
    info: RemoteInfo,
    block: &mut (usize, usize),
) -> (Event<'a>, usize) {
    let wait = (Event::None, 0);
    let pos = b"+CIPRECVDATA".len();
    let close = match buf.get(pos) {
        None => return wait,
        Some(b':') => b',', // 2.x: +CIPRECVDATA:<len>,[<"ip">,<port>,]<data>
        Some(b',') => b':', // 1.7: +CIPRECVDATA,<len>:<data>
        Some(_) => return bad_header(buf),
    };
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
            let mut start = p + 1;
            if close == b',' && info != RemoteInfo::Off {
                match remote_prefix(buf.get(start..).unwrap_or(&[])) {
                    Ok(n) => start += n,
                    // the payload alone may be shorter than an address would be: wait only
                    // while the bytes could still be one
                    Err(true) => return wait,
                    Err(false) if info == RemoteInfo::On => return bad_header(buf),
                    Err(false) => {}
                }
            }
            let end = start + len as usize;
            match buf.get(start..end) {
                Some(data) => (Event::RecvData(data), end),
                None => {
                    *block = (start, end);
                    wait
                }
            }
        }
        Some(_) => bad_header(buf),
    }
}

/// A complete `+IPD` (active) or `+CIPRECVDATA` header at the front of `buf` whose payload is
/// not all there: the header's length and the payload's. For a caller whose buffer cannot hold
/// the whole, so that it can take the payload as payload instead of reading it as lines.
/// `Some` exactly where [`parse_with`] waits for the rest of a data block's payload.
#[cfg_attr(not(feature = "__internal"), allow(dead_code))] // the fuzz target `recv`
pub fn data_header(buf: &[u8], info: RemoteInfo) -> Option<(usize, u32)> {
    let mut block = (0, 0);
    let (_, n) = parse_at(buf, info, &mut block);
    (n == 0 && block.0 > 0).then_some((block.0, (block.1 - block.0) as u32))
}

/// The driver's line parser packaged as an [`atat::Digester`], for use with atat's clients and
/// ingress.
///
/// Information lines up to the final `OK` are returned as the response body; `OK` followed by
/// `>` is one `Prompt`; `busy p...` and `FAIL` are errors; `+IPD`, `ready`, `n,CLOSED` ... are
/// URCs. Note that atat's own clients drop URCs they cannot route; the driver in this crate
/// uses the parser directly and handles every event.
#[cfg(feature = "atat")]
#[derive(Debug, Default, Clone, Copy)]
pub struct EspDigester;

#[cfg(feature = "atat")]
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
                Event::None
                | Event::Echo(_)
                | Event::Noise(_)
                | Event::Recv(_)
                | Event::AlreadyConnected => {}
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
#[cfg(feature = "atat")]
fn ev_len(rest: &[u8], n: usize) -> usize {
    let line = rest.get(..n).unwrap_or(&[]);
    line.iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(0, |p| p + 1)
}
