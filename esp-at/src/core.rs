//! The protocol core shared by the blocking and async front ends: receive buffer, event
//! handling, link table and Wi-Fi state. No I/O happens here.

use crate::dialect::Capabilities;
use crate::digest::{Event, RemoteInfo, Urc, parse_at, parse_full};
use crate::error::{Error, JoinError};

/// Bytes kept of an information line captured by a command (`AT version:...`, `+CIFSR:...`,
/// `+CIPRECVLEN:...`: their fields all fit; a longer line is cut).
pub const CAPTURE: usize = 48;

/// Links the firmware supports with `AT+CIPMUX=1` (ids 0–4).
pub const MAX_LINKS: usize = 5;

/// A handle to an open link. It carries a generation number, so a handle from before a module
/// reboot (or a close) never reaches a new link that happens to get the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Link {
    pub(crate) id: u8,
    pub(crate) generation: u16,
}

impl Link {
    /// The link id the module uses (0–4).
    pub fn id(&self) -> u8 {
        self.id
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LinkSlot {
    pub(crate) open: bool,
    /// Opened by a remote client of our server (setup mode) and not yet taken by `accept`.
    pub(crate) incoming: bool,
    pub(crate) generation: u16,
    pub(crate) pending: u32,
}

/// Station state as told by the module's URCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct WifiState {
    /// `WIFI CONNECTED` seen (and no `WIFI DISCONNECT` since).
    pub connected: bool,
    /// `WIFI GOT IP` seen.
    pub got_ip: bool,
}

/// Counters for diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Stats {
    /// Module restarts seen after the first successful `init()`: every `ready` from then on,
    /// whether asked for (`restart`, `hard_reset`) or not (brown-out, watchdog, crash). The
    /// `ready` the module prints when it powers up, or any `ready` before the driver first
    /// initialised it, is not counted, so an unplanned reboot shows as a non-zero count.
    pub reboots: u32,
    /// Bytes discarded as noise (boot log, garbled bytes, over-long lines).
    pub noise_bytes: u32,
    /// Payload bytes dropped: active-mode `+IPD` data (the driver uses passive receive), and
    /// payload larger than the receive buffer (taken as payload and counted, never read as
    /// modem lines).
    pub dropped_bytes: u32,
    /// `busy` answers.
    pub busy: u32,
}

/// What ends a transaction successfully.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Final {
    Ok,
    Prompt,
    SendOk,
    Ready,
    /// Never: just process URCs.
    Never,
}

/// Takes the information lines of a command.
pub(crate) trait LineSink {
    fn line(&mut self, line: &[u8]);
}

/// The state of one command/response exchange.
// `repr(C)`: the buffer last, see `Core`
#[repr(C)]
pub(crate) struct Txn<'b> {
    pub(crate) done_on: Final,
    pub(crate) link: Option<u8>,
    cwjap: Option<u8>,
    dns_fail: bool,
    already: bool,
    connect_fail: bool,
    pub(crate) received: usize,
    code: Option<u32>,
    pub(crate) capture: crate::rom::Rom,
    pub(crate) recv_into: Option<&'b mut [u8]>,
    /// Information lines for a command that collects them (`AT+CWLAP`). A trait object, so
    /// that the parsing behind it is linked only into programs that scan.
    pub(crate) lines: Option<&'b mut dyn LineSink>,
    pub(crate) captured: heapless::Vec<u8, CAPTURE>,
}

impl<'b> Txn<'b> {
    /// A transaction that ends on `done_on`; the caller sets what else it needs.
    #[inline(never)] // one copy: keeps small targets (AVR) small
    pub(crate) fn new(done_on: Final) -> Self {
        Txn {
            done_on,
            capture: rom!(b""),
            captured: heapless::Vec::new(),
            recv_into: None,
            received: 0,
            lines: None,
            link: None,
            cwjap: None,
            code: None,
            dns_fail: false,
            already: false,
            connect_fail: false,
        }
    }
}

pub(crate) enum Step<E> {
    /// Need more bytes.
    More,
    Done(Result<(), Error<E>>),
}

/// Receive buffer plus everything learnt from the modem.
// In declaration order (`repr(C)`), the buffer last: an AVR reaches the first 64 bytes of a
// structure with one instruction and pays three more beyond them.
#[repr(C)]
pub(crate) struct Core<const RX: usize> {
    pub(crate) len: usize,
    /// Payload bytes still to take as payload (a data block larger than the buffer).
    skip: usize,
    pub(crate) caps: Capabilities,
    /// Whether received data carries the sender's address (`AT+CIPDINFO`).
    pub(crate) remote_info: RemoteInfo,
    pub(crate) wifi: WifiState,
    /// Set by `ready`: the base configuration must be sent again.
    pub(crate) needs_init: bool,
    /// `init` succeeded once: from then on a `ready` is a reboot.
    pub(crate) initialised: bool,
    /// A `ready` was seen (the module started while the driver listened).
    pub(crate) ready_seen: bool,
    generation: u16,
    pub(crate) stats: Stats,
    pub(crate) links: [LinkSlot; MAX_LINKS],
    /// Links whose handle was dropped: closed before the next command.
    pub(crate) close_requested: [Option<u16>; MAX_LINKS],
    pub(crate) rx: [u8; RX],
}

impl<const RX: usize> Core<RX> {
    pub(crate) const fn new(caps: Capabilities) -> Self {
        Core {
            rx: [0; RX],
            len: 0,
            skip: 0,
            remote_info: RemoteInfo::Unknown,
            caps,
            links: [LinkSlot {
                open: false,
                incoming: false,
                generation: 0,
                pending: 0,
            }; MAX_LINKS],
            wifi: WifiState {
                connected: false,
                got_ip: false,
            },
            stats: Stats {
                reboots: 0,
                noise_bytes: 0,
                dropped_bytes: 0,
                busy: 0,
            },
            needs_init: true,
            initialised: false,
            ready_seen: false,
            close_requested: [None; MAX_LINKS],
            generation: 0,
        }
    }

    pub(crate) fn free_space(&mut self) -> &mut [u8] {
        self.rx.get_mut(self.len..).unwrap_or(&mut [])
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.len = (self.len + n).min(RX);
    }

    /// Forget buffered bytes (after a hard reset).
    pub(crate) fn clear_rx(&mut self) {
        self.len = 0;
        self.skip = 0;
    }

    /// Shift `n` consumed bytes out of the buffer.
    #[inline(never)] // out of `step`'s loop: on AVR the smaller code
    fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        #[cfg(not(target_pointer_width = "16"))]
        self.rx.copy_within(n..self.len, 0);
        // 16-bit targets (AVR): forward byte moves instead of memmove, whose code costs
        // 650 bytes there (the destination is always below the source)
        #[cfg(target_pointer_width = "16")]
        for i in n..self.len {
            if let Some(&b) = self.rx.get(i)
                && let Some(d) = self.rx.get_mut(i - n)
            {
                *d = b;
            }
        }
        self.len -= n;
    }

    pub(crate) fn new_generation(&mut self) -> u16 {
        self.generation = self.generation.wrapping_add(1);
        self.generation
    }

    pub(crate) fn check(&self, link: Link) -> bool {
        self.links
            .get(usize::from(link.id))
            .is_some_and(|s| s.open && s.generation == link.generation)
    }

    pub(crate) fn request_close(&mut self, link: Link) {
        if self.check(link)
            && let Some(slot) = self.close_requested.get_mut(usize::from(link.id))
        {
            *slot = Some(link.generation);
        }
    }

    /// A closed slot, preferring one with nothing left to read.
    pub(crate) fn free_link(&self) -> Option<u8> {
        self.links
            .iter()
            .position(|s| !s.open && s.pending == 0)
            .or_else(|| self.links.iter().position(|s| !s.open))
            .map(|i| i as u8)
    }

    /// Everything the module knew is gone.
    #[inline(never)] // out of `step`'s loop: on AVR the smaller code
    pub(crate) fn on_reboot(&mut self) {
        for s in self.links.iter_mut() {
            s.open = false;
            s.incoming = false;
            s.pending = 0;
        }
        self.generation = self.generation.wrapping_add(1);
        self.wifi = WifiState::default();
        self.needs_init = true;
        self.ready_seen = true;
        if self.initialised {
            self.stats.reboots = self.stats.reboots.wrapping_add(1);
        }
    }

    /// Parse and handle one event from the buffer.
    pub(crate) fn step<E>(&mut self, txn: &mut Txn<'_>) -> Step<E> {
        loop {
            let buf = self.rx.get(..self.len).unwrap_or(&[]);
            let mut block = (0, 0);
            let (ev, n) = if self.skip > 0 {
                // the rest of a payload too large for the buffer: payload, not lines (counted
                // as dropped data by `handle`)
                let n = self.skip.min(self.len);
                self.skip -= n;
                let data = buf.get(..n).unwrap_or(&[]);
                (Event::Data { link: None, data }, n)
            } else {
                parse_at(buf, self.remote_info, &mut block)
            };
            let (ev, n) = if n == 0 && self.len == RX {
                if block.0 > 0 {
                    // a data block that cannot fit: its header now, its payload as it comes
                    self.skip = block.1 - block.0;
                    if let Some(s) = txn.link.and_then(|l| self.links.get_mut(usize::from(l))) {
                        s.pending = s.pending.saturating_sub(self.skip as u32);
                    }
                    (Event::None, block.0)
                } else {
                    parse_full(buf)
                }
            } else {
                (ev, n)
            };
            if n == 0 {
                return Step::More;
            }
            crate::log::trace_rx!(buf.get(..n).unwrap_or(&[]));
            let result = handle(
                ev,
                txn,
                &mut self.links,
                &mut self.wifi,
                &mut self.stats,
                &self.caps,
            );
            self.consume(n);
            match result {
                Handled::Continue => {}
                Handled::Reboot => {
                    self.on_reboot();
                    if txn.done_on == Final::Ready {
                        return Step::Done(Ok(()));
                    }
                    if txn.done_on != Final::Never {
                        return Step::Done(Err(Error::Rebooted));
                    }
                }
                Handled::Done(r) => return Step::Done(r.map_err(|e| e.into_error())),
            }
        }
    }
}

/// Errors decided inside the core (no I/O error type yet).
#[derive(Debug, Clone, Copy)]
enum CoreError {
    Failed,
    Code(u32),
    Join(JoinError),
    Busy,
    SendFailed,
    LinkClosed,
    Dns,
    AlreadyConnected,
}

impl CoreError {
    fn into_error<E>(self) -> Error<E> {
        match self {
            CoreError::Failed => Error::Failed,
            CoreError::Code(c) => Error::Code(c),
            CoreError::Join(j) => Error::Join(j),
            CoreError::Busy => Error::Busy,
            CoreError::SendFailed => Error::SendFailed,
            CoreError::LinkClosed => Error::LinkClosed,
            CoreError::Dns => Error::Dns,
            CoreError::AlreadyConnected => Error::AlreadyConnected,
        }
    }
}

enum Handled {
    Continue,
    Reboot,
    Done(Result<(), CoreError>),
}

fn cwjap_code(line: &[u8]) -> Option<u8> {
    let rest = rom!(b"+CWJAP:")
        .strip_from(line)
        .or_else(|| rom!(b"+CWJAP_CUR:").strip_from(line))?;
    match rest {
        [d] if d.is_ascii_digit() => Some(d - b'0'),
        _ => None,
    }
}

fn handle(
    ev: Event<'_>,
    txn: &mut Txn<'_>,
    links: &mut [LinkSlot; MAX_LINKS],
    wifi: &mut WifiState,
    stats: &mut Stats,
    caps: &Capabilities,
) -> Handled {
    let done = |r| Handled::Done(r);
    match ev {
        Event::None | Event::Recv(_) | Event::Echo(_) => Handled::Continue,
        Event::Noise(n) => {
            stats.noise_bytes = stats.noise_bytes.wrapping_add(n.len() as u32);
            Handled::Continue
        }
        Event::Ok => match txn.done_on {
            Final::Ok => done(Ok(())),
            _ => Handled::Continue,
        },
        Event::Error | Event::Fail => {
            if txn.done_on == Final::Never || txn.done_on == Final::Ready {
                return Handled::Continue;
            }
            let e = if let Some(c) = txn.cwjap {
                CoreError::Join(JoinError::from_code(c))
            } else if txn.dns_fail {
                CoreError::Dns
            } else if txn.already {
                CoreError::AlreadyConnected
            } else if txn.connect_fail && txn.link.is_some() {
                CoreError::LinkClosed
            } else if let Some(c) = txn.code {
                if c & 0x00FF_0000 == 0x000B_0000 {
                    CoreError::Busy
                } else {
                    CoreError::Code(c)
                }
            } else {
                CoreError::Failed
            };
            done(Err(e))
        }
        Event::SendOk => match txn.done_on {
            Final::SendOk => done(Ok(())),
            _ => Handled::Continue,
        },
        Event::SendFail => match txn.done_on {
            Final::SendOk | Final::Prompt => done(Err(CoreError::SendFailed)),
            _ => Handled::Continue,
        },
        Event::Prompt => match txn.done_on {
            Final::Prompt => done(Ok(())),
            _ => Handled::Continue,
        },
        Event::Busy => {
            stats.busy = stats.busy.wrapping_add(1);
            match txn.done_on {
                Final::Never | Final::Ready => Handled::Continue,
                _ => done(Err(CoreError::Busy)),
            }
        }
        Event::ErrCode(c) => {
            txn.code = Some(c);
            Handled::Continue
        }
        Event::AlreadyConnected => {
            txn.already = true;
            Handled::Continue
        }
        Event::Line(line) => {
            if let Some(c) = cwjap_code(line) {
                txn.cwjap = Some(c);
            } else if let Some(sink) = txn.lines.as_deref_mut() {
                sink.line(line);
            } else if rom!(b"DNS Fail").eq_bytes(line) {
                txn.dns_fail = true;
            } else if !txn.capture.is_empty()
                && txn.capture.is_prefix_of(line)
                && txn.captured.is_empty()
            {
                let take = line.len().min(txn.captured.capacity());
                let _ = txn
                    .captured
                    .extend_from_slice(line.get(..take).unwrap_or(&[]));
            }
            Handled::Continue
        }
        Event::Urc(u) => match u {
            Urc::Ready => Handled::Reboot,
            Urc::WifiConnected => {
                wifi.connected = true;
                Handled::Continue
            }
            Urc::WifiGotIp => {
                wifi.connected = true;
                wifi.got_ip = true;
                Handled::Continue
            }
            Urc::WifiDisconnect => {
                *wifi = WifiState::default();
                Handled::Continue
            }
            Urc::Connect(Some(id)) => {
                if let Some(s) = links.get_mut(usize::from(id))
                    && !s.open
                    && txn.link != Some(id)
                {
                    // a client of our server
                    s.incoming = true;
                }
                Handled::Continue
            }
            Urc::Closed(Some(id)) | Urc::ConnectFail(Some(id)) => {
                if matches!(u, Urc::ConnectFail(_)) {
                    txn.connect_fail = true;
                }
                if let Some(s) = links.get_mut(usize::from(id)) {
                    // what arrived before the close stays readable (passive mode)
                    s.open = false;
                    s.incoming = false;
                }
                if txn.link == Some(id) && matches!(txn.done_on, Final::Prompt | Final::SendOk) {
                    return done(Err(CoreError::LinkClosed));
                }
                Handled::Continue
            }
            Urc::LinkConn { link, server, ok } => {
                if !ok {
                    if txn.link == Some(link) {
                        txn.connect_fail = true;
                    }
                } else if server
                    && let Some(s) = links.get_mut(usize::from(link))
                    && !s.open
                    && txn.link != Some(link)
                {
                    s.incoming = true;
                }
                Handled::Continue
            }
            Urc::Connect(None) | Urc::Closed(None) | Urc::ConnectFail(None) | Urc::SoftAp(_) => {
                Handled::Continue
            }
        },
        Event::Data { data, .. } => {
            stats.dropped_bytes = stats.dropped_bytes.wrapping_add(data.len() as u32);
            Handled::Continue
        }
        Event::DataPending { link, len } => {
            if let Some(s) = link.and_then(|l| links.get_mut(usize::from(l))) {
                s.pending = if caps.cur_suffix {
                    s.pending.saturating_add(len)
                } else {
                    len.max(s.pending)
                };
            }
            Handled::Continue
        }
        Event::RecvData(data) => {
            if let Some(buf) = txn.recv_into.as_deref_mut() {
                let n = data.len().min(buf.len());
                if let (Some(dst), Some(src)) = (buf.get_mut(..n), data.get(..n)) {
                    dst.copy_from_slice(src);
                }
                txn.received = n;
            }
            if let Some(s) = txn.link.and_then(|l| links.get_mut(usize::from(l))) {
                s.pending = s.pending.saturating_sub(data.len() as u32);
            }
            Handled::Continue
        }
    }
}
