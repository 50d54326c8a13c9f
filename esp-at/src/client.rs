//! The driver: one set of operations, generated for a blocking and an async front end.

use crate::dialect::Version;
use core::net::Ipv4Addr;

/// Largest payload of one `AT+CIPSEND`.
pub const MAX_SEND: usize = 2048;

/// Longest `+CIPRECVDATA:<len>,` header: a read is sized so that it and the data fit the
/// receive buffer together.
pub const RECV_HEADER: usize = 20;
/// Longest `+CIPRECVDATA:<len>,"<ip>",<port>,` header (an IPv6 address).
pub const RECV_HEADER_REMOTE: usize = 72;

/// Driver settings: [`Config::default`], then the `with_*` methods (or the public fields).
///
/// ```
/// use esp_at::{Config, Version};
///
/// let config = Config::default()
///     .with_baud(9_600)
///     .with_command_timeout_ms(1_000)
///     .with_firmware(Some(Version::new(1, 7, 4)));
/// assert_eq!(config.baud, 9_600);
/// assert_eq!(config.join_timeout_ms, Config::default().join_timeout_ms);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Config {
    /// UART baud rate: used to account for time spent receiving.
    pub baud: u32,
    /// Deadline of ordinary commands, ms.
    pub command_timeout_ms: u32,
    /// Deadline of `AT+CWJAP`, ms (the firmware's own default is 15 s).
    pub join_timeout_ms: u32,
    /// Deadline of `AT+CIPSTART`, ms.
    pub connect_timeout_ms: u32,
    /// Deadline of a send (prompt plus `SEND OK`), ms.
    pub send_timeout_ms: u32,
    /// Deadline for `ready` after a reset, ms.
    pub reset_timeout_ms: u32,
    /// How often a `busy` answer is retried.
    pub busy_retries: u8,
    /// Pause before retrying after `busy`, ms.
    pub busy_backoff_ms: u32,
    /// Idle wait between UART polls, µs.
    pub poll_us: u32,
    /// The firmware version, if known; otherwise it is read with `AT+GMR` by `init`.
    pub firmware: Option<Version>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            baud: 115_200,
            command_timeout_ms: 2_000,
            join_timeout_ms: 20_000,
            connect_timeout_ms: 10_000,
            send_timeout_ms: 5_000,
            reset_timeout_ms: 6_000,
            busy_retries: 5,
            busy_backoff_ms: 200,
            poll_us: 500,
            firmware: None,
        }
    }
}

impl Config {
    /// With another UART baud rate.
    pub const fn with_baud(mut self, baud: u32) -> Config {
        self.baud = baud;
        self
    }

    /// With another deadline of ordinary commands, ms.
    pub const fn with_command_timeout_ms(mut self, command_timeout_ms: u32) -> Config {
        self.command_timeout_ms = command_timeout_ms;
        self
    }

    /// With another deadline of `AT+CWJAP`, ms.
    pub const fn with_join_timeout_ms(mut self, join_timeout_ms: u32) -> Config {
        self.join_timeout_ms = join_timeout_ms;
        self
    }

    /// With another deadline of `AT+CIPSTART`, ms.
    pub const fn with_connect_timeout_ms(mut self, connect_timeout_ms: u32) -> Config {
        self.connect_timeout_ms = connect_timeout_ms;
        self
    }

    /// With another deadline of a send, ms.
    pub const fn with_send_timeout_ms(mut self, send_timeout_ms: u32) -> Config {
        self.send_timeout_ms = send_timeout_ms;
        self
    }

    /// With another deadline for `ready` after a reset, ms.
    pub const fn with_reset_timeout_ms(mut self, reset_timeout_ms: u32) -> Config {
        self.reset_timeout_ms = reset_timeout_ms;
        self
    }

    /// With another number of retries after `busy`.
    pub const fn with_busy_retries(mut self, busy_retries: u8) -> Config {
        self.busy_retries = busy_retries;
        self
    }

    /// With another pause before retrying after `busy`, ms.
    pub const fn with_busy_backoff_ms(mut self, busy_backoff_ms: u32) -> Config {
        self.busy_backoff_ms = busy_backoff_ms;
        self
    }

    /// With another idle wait between UART polls, µs.
    pub const fn with_poll_us(mut self, poll_us: u32) -> Config {
        self.poll_us = poll_us;
        self
    }

    /// With another firmware version (`None`: read with `AT+GMR`).
    pub const fn with_firmware(mut self, firmware: Option<Version>) -> Config {
        self.firmware = firmware;
        self
    }

    /// The capabilities to start with: from the stated firmware, else the conservative default
    /// until `AT+GMR` has been read.
    pub(crate) fn initial_capabilities(&self) -> crate::dialect::Capabilities {
        match self.firmware {
            Some(v) => v.capabilities(),
            None => crate::dialect::Capabilities::default(),
        }
    }
}

/// A pin that does nothing: for boards without a reset line to the module.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPin;

impl embedded_hal::digital::ErrorType for NoPin {
    type Error = core::convert::Infallible;
}

impl embedded_hal::digital::OutputPin for NoPin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The station address from `AT+CIFSR`: `+CIFSR:STAIP,"a.b.c.d"`, or on AT 0.x a bare
/// `a.b.c.d` line per interface (the SoftAP's first, the station's last).
#[derive(Default)]
pub(crate) struct CifsrSink {
    pub(crate) station: Option<Ipv4Addr>,
    pub(crate) bare: Option<Ipv4Addr>,
}

impl crate::core::LineSink for CifsrSink {
    fn line(&mut self, line: &[u8]) {
        if rom!(b"+CIFSR:STAIP").is_prefix_of(line) {
            self.station = parse_ip(line);
        } else if line.first().is_some_and(u8::is_ascii_digit) {
            let mut out = [0u8; 4];
            if crate::dialect::parse_dotted(line, &mut out) == Some(4)
                && line.iter().all(|&b| b.is_ascii_digit() || b == b'.')
            {
                self.bare = Some(Ipv4Addr::from(out));
            }
        }
    }
}

/// What `AT+CIPRECVLEN?` and the `+IPD` notifications say is waiting, per link.
pub type Pending = [u32; crate::core::MAX_LINKS];

pub(crate) fn parse_ip(line: &[u8]) -> Option<Ipv4Addr> {
    // ...:"a.b.c.d" or ...:a.b.c.d
    let start = line.iter().position(|b| b.is_ascii_digit())?;
    let mut out = [0u8; 4];
    match crate::dialect::parse_dotted(line.get(start..)?, &mut out)? {
        4 => Some(Ipv4Addr::from(out)),
        _ => None,
    }
}

pub(crate) fn parse_recvlen(line: &[u8]) -> Pending {
    let mut out = [0u32; crate::core::MAX_LINKS];
    let Some(rest) = rom!(b"+CIPRECVLEN:").strip_from(line) else {
        return out;
    };
    for (slot, field) in out.iter_mut().zip(rest.split(|&b| b == b',')) {
        let mut v: u32 = 0;
        let mut ok = !field.is_empty();
        for &d in field {
            if d.is_ascii_digit() {
                v = v.saturating_mul(10).saturating_add(u32::from(d - b'0'));
            } else {
                ok = false; // "-1" for inactive links on 2.x
            }
        }
        *slot = if ok { v } else { 0 };
    }
    out
}

/// Constructors and getters shared by both front ends: no bound on the UART, the delay or the
/// pin, so that they are there whatever the types.
macro_rules! accessors {
    () => {
        /// A driver with the module's `RST` (or `EN`/`CH_PD`) line on `reset`, for
        /// `hard_reset`. Sends nothing until the first call.
        pub fn with_reset_pin(io: T, delay: D, reset: P, config: Config) -> Self {
            EspAt {
                io,
                delay,
                reset,
                core: $crate::core::Core::new(config.initial_capabilities()),
                us_per_byte: $crate::command::div_u32(10_000_000, config.baud.max(1)),
                config,
            }
        }

        /// Give back the UART, the delay and the reset pin.
        pub fn release(self) -> (T, D, P) {
            (self.io, self.delay, self.reset)
        }

        /// The module's state as far as URCs told it.
        pub fn wifi_state(&self) -> WifiState {
            self.core.wifi
        }

        /// Diagnostics counters.
        pub fn stats(&self) -> Stats {
            self.core.stats
        }

        /// The capabilities in use (from `AT+GMR` or the configuration).
        pub fn capabilities(&self) -> Capabilities {
            self.core.caps
        }

        /// `true` if the handle still refers to an open link.
        pub fn is_open(&self, link: Link) -> bool {
            self.core.check(link)
        }

        /// Bytes known to be waiting in the module for `link`.
        pub fn pending(&self, link: Link) -> u32 {
            if !self.core.check(link) {
                return 0;
            }
            self.core
                .links
                .get(usize::from(link.id))
                .map_or(0, |s| s.pending)
        }
    };
}
pub(crate) use accessors;

/// `Debug` for either front end: the driver's state (configuration, capabilities, Wi-Fi state,
/// counters); the UART, the delay and the reset pin are left out, so no `Debug` bound is asked
/// of them.
macro_rules! driver_debug {
    () => {
        impl<T, D, P, const RX: usize> core::fmt::Debug for EspAt<T, D, P, RX> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct("EspAt")
                    .field("config", &self.config)
                    .field("capabilities", &self.core.caps)
                    .field("wifi", &self.core.wifi)
                    .field("stats", &self.core.stats)
                    .field("needs_init", &self.core.needs_init)
                    .field("rx_buffer", &RX)
                    .finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use driver_debug;

/// Operations shared by both front ends. `$aw` is `.await` for the async one, nothing for the
/// blocking one.
macro_rules! operations {
    ($($async_kw:ident)? ; $($aw:tt)*) => {
        /// Send one command and wait for its final answer, retrying on `busy`.
        $($async_kw)? fn run(&mut self, cmd: $crate::command::Enc<'_>, txn: &mut Txn<'_>, timeout_ms: u32) -> Result<(), Error<T::Error>> {
            let mut tries = 0u8;
            loop {
                // what already arrived (a late answer to an earlier command, URCs) is handled
                // now, so that it is never taken for this command's answer
                self.listen(0) $($aw)* ?;
                self.send_command(cmd) $($aw)* ?;
                match self.wait(txn, timeout_ms) $($aw)* {
                    Err(Error::Busy) if tries < self.config.busy_retries => {
                        tries += 1;
                        // let the running command finish; its late answer is drained here
                        let _ = self.listen(self.config.busy_backoff_ms) $($aw)*;
                    }
                    other => return other,
                }
            }
        }

        /// Simple command expecting `OK`.
        $($async_kw)? fn simple(&mut self, cmd: $crate::command::Enc<'_>) -> Result<(), Error<T::Error>> {
            let mut txn = Txn::new(Final::Ok);
            let t = self.config.command_timeout_ms;
            self.run(cmd, &mut txn, t) $($aw)*
        }

        /// Bring the module into the state the driver relies on: echo off, firmware version read,
        /// nothing stored in flash (2.x), several links, passive receive. Called automatically
        /// before the first operation and after the module rebooted; call it yourself to get
        /// the firmware version, or a typed error for firmware the driver cannot use, early.
        pub $($async_kw)? fn init(&mut self) -> Result<Version, Error<T::Error>> {
            // drain boot noise, then make sure the module listens
            let _ = self.listen(0) $($aw)*;
            let mut alive = false;
            for _ in 0..3 {
                match self.simple($crate::command::cmd!(Basic::At)) $($aw)* {
                    Ok(()) => {
                        alive = true;
                        break;
                    }
                    // a module that is still booting prints `ready` first; let the late answer
                    // to this probe go by before the next one, so answers stay paired
                    // right after boot some firmware answers `ERR CODE:0x...` + `ERROR` or
                    // `busy p...` to the first command: the same as a plain `ERROR` here
                    Err(Error::Timeout) | Err(Error::Failed) | Err(Error::Rebooted)
                    | Err(Error::Code(_)) | Err(Error::Busy) => {
                        let _ = self.listen(self.config.busy_backoff_ms) $($aw)*;
                    }
                    Err(e) => return Err(e),
                }
            }
            if !alive {
                return Err(Error::Timeout);
            }
            self.simple($crate::command::cmd!(Basic::EchoOff)) $($aw)* ?;
            let version = match self.config.firmware {
                Some(v) => v,
                None => {
                    let mut gmr = $crate::dialect::GmrSink::default();
                    let mut txn = Txn::new(Final::Ok);
                    txn.lines = Some(&mut gmr);
                    let t = self.config.command_timeout_ms;
                    self.run($crate::command::cmd!(Basic::Version), &mut txn, t) $($aw)* ?;
                    drop(txn);
                    gmr.supported()?
                }
            };
            self.core.caps = version.capabilities();
            if self.core.caps.sysstore {
                self.simple($crate::command::cmd!(Basic::SysStore(false))) $($aw)* ?;
            }
            self.simple($crate::command::cmd!(TcpIp::Mux(true))) $($aw)* ?;
            // passive receive is what keeps payload from ever being lost in the UART: firmware
            // without it is not supported
            match self.simple($crate::command::cmd!(TcpIp::RecvMode { passive: true })) $($aw)* {
                Err(Error::Failed) | Err(Error::Code(_)) => return Err(Error::UnsupportedFirmware(version)),
                other => other?,
            }
            // received data without the sender's address, so that no payload is ever taken for
            // one; firmware without the command keeps the form-based reading
            self.core.remote_info = match self.simple($crate::command::cmd!(TcpIp::RemoteInfo(false))) $($aw)* {
                Ok(()) => $crate::digest::RemoteInfo::Off,
                Err(Error::Failed) | Err(Error::Code(_)) => $crate::digest::RemoteInfo::Unknown,
                Err(e) => return Err(e),
            };
            self.core.needs_init = false;
            self.core.initialised = true;
            Ok(version)
        }

        $($async_kw)? fn ensure_init(&mut self) -> Result<(), Error<T::Error>> {
            if self.core.needs_init {
                self.init() $($aw)* ?;
            }
            for id in 0..$crate::core::MAX_LINKS {
                let Some(generation) = self.core.close_requested.get_mut(id).and_then(Option::take) else { continue };
                let link = Link { id: id as u8, generation };
                self.close(link) $($aw)* ?;
            }
            Ok(())
        }

        /// Process what the modem sends for up to `ms` milliseconds (URCs, data
        /// notifications), without sending anything.
        pub $($async_kw)? fn listen(&mut self, ms: u32) -> Result<(), Error<T::Error>> {
            let mut idle = Txn::new(Final::Never);
            self.wait(&mut idle, ms) $($aw)*
        }

        /// Soft reset (`AT+RST`) and wait for `ready`, then [`init`](Self::init). Every link
        /// handle becomes stale.
        pub $($async_kw)? fn restart(&mut self) -> Result<Version, Error<T::Error>> {
            let mut txn = Txn::new(Final::Ready);
            let t = self.config.reset_timeout_ms;
            self.run($crate::command::cmd!(Basic::Restart), &mut txn, t) $($aw)* ?;
            self.init() $($aw)*
        }

        /// Process whatever the module sent (URCs: closes, data notifications, Wi-Fi state,
        /// reboots) without sending anything. Re-initialises after a reboot.
        pub $($async_kw)? fn poll(&mut self) -> Result<(), Error<T::Error>> {
            self.listen(0) $($aw)* ?;
            if self.core.needs_init && self.core.ready_seen {
                self.init() $($aw)* ?;
            }
            Ok(())
        }

        /// Set station, SoftAP or both.
        pub $($async_kw)? fn set_mode(&mut self, mode: WifiMode) -> Result<(), Error<T::Error>> {
            self.ensure_init() $($aw)* ?;
            self.simple($crate::command::cmd!(Wifi::SetMode(mode))) $($aw)*
        }

        /// Join an access point as a station (sets station mode first). Typed errors from
        /// `+CWJAP:<n>`: timeout, wrong password, AP not found, connect failed.
        pub $($async_kw)? fn join(&mut self, ssid: &str, password: &str) -> Result<(), Error<T::Error>> {
            self.ensure_init() $($aw)* ?;
            let cmd = $crate::command::cmd!(Wifi::Join { ssid, password, bssid: None });
            // validate before changing the mode
            $crate::command::encode_with(cmd, &self.core.caps, &mut $crate::command::Counter::default())?;
            self.simple($crate::command::cmd!(Wifi::SetMode(WifiMode::Station))) $($aw)* ?;
            let mut txn = Txn::new(Final::Ok);
            let t = self.config.join_timeout_ms;
            self.run(cmd, &mut txn, t) $($aw)* ?;
            self.core.wifi = WifiState { connected: true, got_ip: true };
            Ok(())
        }

        /// Leave the access point.
        pub $($async_kw)? fn leave(&mut self) -> Result<(), Error<T::Error>> {
            self.ensure_init() $($aw)* ?;
            self.simple($crate::command::cmd!(Wifi::Quit)) $($aw)* ?;
            self.core.wifi = WifiState::default();
            Ok(())
        }

        /// Start a SoftAP (the setup mode): an open network when `password` is empty.
        pub $($async_kw)? fn start_soft_ap(&mut self, ssid: &str, password: &str, channel: u8) -> Result<(), Error<T::Error>> {
            self.ensure_init() $($aw)* ?;
            let cmd = $crate::command::cmd!(Wifi::SoftAp { ssid, password, channel, encryption: $crate::command::wifi::Encryption::Wpa2Psk });
            $crate::command::encode_with(cmd, &self.core.caps, &mut $crate::command::Counter::default())?;
            // station + SoftAP: the station can still scan for networks while the AP serves
            self.simple($crate::command::cmd!(Wifi::SetMode(WifiMode::StationSoftAp))) $($aw)* ?;
            let mut txn = Txn::new(Final::Ok);
            let t = self.config.join_timeout_ms;
            self.run(cmd, &mut txn, t) $($aw)*
        }

        /// Static station address (turns the DHCP client off).
        pub $($async_kw)? fn set_static_ip(&mut self, ip: Ipv4Addr, gateway: Ipv4Addr, netmask: Ipv4Addr) -> Result<(), Error<T::Error>> {
            self.ensure_init() $($aw)* ?;
            self.simple($crate::command::cmd!(Wifi::StationIp { ip, gateway, netmask })) $($aw)*
        }

        /// Turn the station's DHCP client on or off.
        pub $($async_kw)? fn set_dhcp(&mut self, enable: bool) -> Result<(), Error<T::Error>> {
            self.ensure_init() $($aw)* ?;
            self.simple($crate::command::cmd!(Wifi::Dhcp { station: true, enable })) $($aw)*
        }

        /// Scan for access points (`AT+CWLAP`, a few seconds): the strongest fill `out`,
        /// strongest first; returns how many were heard (may exceed `out.len()`). Needs the
        /// station interface: station mode, or station + SoftAP (as `start_soft_ap` leaves it).
        pub $($async_kw)? fn scan(&mut self, out: &mut [$crate::scan::AccessPoint]) -> Result<usize, Error<T::Error>> {
            self.ensure_init() $($aw)* ?;
            let mut sink = $crate::scan::ScanSink { out, kept: 0, heard: 0 };
            let mut txn = Txn::new(Final::Ok);
            txn.lines = Some(&mut sink);
            let t = self.config.join_timeout_ms;
            self.run($crate::command::cmd!(Wifi::ListAps), &mut txn, t) $($aw)* ?;
            drop(txn);
            Ok(sink.heard)
        }

        /// [`scan`](Self::scan) into a `heapless::Vec` (cleared first): the strongest `N`,
        /// strongest first; returns how many were heard (may exceed `N`).
        pub $($async_kw)? fn scan_into<const N: usize>(&mut self, out: &mut heapless::Vec<$crate::scan::AccessPoint, N>) -> Result<usize, Error<T::Error>> {
            out.clear();
            while out.push($crate::scan::AccessPoint::EMPTY).is_ok() {}
            let heard = self.scan(out) $($aw)*;
            out.truncate(heard.as_ref().map_or(0, |h| (*h).min(N)));
            heard
        }

        /// The station's IPv4 address (`AT+CIFSR`).
        pub $($async_kw)? fn local_ip(&mut self) -> Result<Ipv4Addr, Error<T::Error>> {
            self.ensure_init() $($aw)* ?;
            let mut cifsr = $crate::client::CifsrSink::default();
            let mut txn = Txn::new(Final::Ok);
            txn.lines = Some(&mut cifsr);
            let t = self.config.command_timeout_ms;
            self.run($crate::command::cmd!(TcpIp::LocalAddress), &mut txn, t) $($aw)* ?;
            drop(txn);
            cifsr.station.or(cifsr.bare).ok_or(Error::Protocol)
        }

        /// Resolve a host name (`AT+CIPDOMAIN`).
        pub $($async_kw)? fn resolve(&mut self, host: &str) -> Result<Ipv4Addr, Error<T::Error>> {
            self.ensure_init() $($aw)* ?;
            let mut txn = Txn::new(Final::Ok);
            txn.capture = rom!(b"+CIPDOMAIN:");
            let t = self.config.connect_timeout_ms;
            match self.run($crate::command::cmd!(TcpIp::Domain(host)), &mut txn, t) $($aw)* {
                Ok(()) => $crate::client::parse_ip(&txn.captured).ok_or(Error::Dns),
                Err(Error::Failed) => Err(Error::Dns),
                Err(e) => Err(e),
            }
        }

        /// Open a TCP, UDP or SSL link to `host:port` on a free link id.
        pub $($async_kw)? fn connect(&mut self, transport: Transport, host: &str, port: u16) -> Result<Link, Error<T::Error>> {
            self.ensure_init() $($aw)* ?;
            let id = self.core.free_link().ok_or(Error::NoFreeLink)?;
            let cmd = $crate::command::cmd!(TcpIp::Start { link: Some(id), transport, host, port, extra: None });
            let mut txn = Txn::new(Final::Ok);
            txn.link = Some(id);
            let t = self.config.connect_timeout_ms;
            match self.run(cmd, &mut txn, t) $($aw)* {
                Ok(()) => {}
                Err(Error::LinkClosed) => return Err(Error::Failed),
                Err(e) => return Err(e),
            }
            let generation = self.core.new_generation();
            if let Some(s) = self.core.links.get_mut(usize::from(id)) {
                s.open = true;
                s.incoming = false;
                s.generation = generation;
                s.pending = 0;
            }
            Ok(Link { id, generation })
        }

        /// Send `data` on a link (in chunks of at most 2048 bytes), waiting for `SEND OK`.
        pub $($async_kw)? fn send(&mut self, link: Link, data: &[u8]) -> Result<(), Error<T::Error>> {
            self.ensure_init() $($aw)* ?;
            for chunk in data.chunks($crate::client::MAX_SEND) {
                if !self.core.check(link) {
                    return Err(Error::LinkClosed);
                }
                let len = chunk.len() as u16;
                let mut txn = Txn::new(Final::Prompt);
                txn.link = Some(link.id);
                let t = self.config.send_timeout_ms;
                self.run($crate::command::cmd!(TcpIp::Send { link: Some(link.id), len }), &mut txn, t) $($aw)* ?;
                self.write_data(chunk) $($aw)* ?;
                let mut txn = Txn::new(Final::SendOk);
                txn.link = Some(link.id);
                self.wait(&mut txn, t) $($aw)* ?;
            }
            Ok(())
        }

        /// Read waiting bytes of a link into `buf` (passive receive). Returns 0 when nothing is
        /// waiting. A closed link still returns what the module had buffered, then
        /// `LinkClosed`.
        pub $($async_kw)? fn recv(&mut self, link: Link, buf: &mut [u8]) -> Result<usize, Error<T::Error>> {
            self.poll() $($aw)* ?;
            let Some(slot) = self.core.links.get(usize::from(link.id)).copied() else {
                return Err(Error::LinkClosed);
            };
            if slot.generation != link.generation || (!slot.open && slot.pending == 0) {
                return Err(Error::LinkClosed);
            }
            if slot.pending == 0 || buf.is_empty() {
                return Ok(0);
            }
            // never ask for more than the receive buffer holds with its header: an answer that
            // does not fit would have to be dropped
            let head = if self.core.remote_info == $crate::digest::RemoteInfo::Off {
                $crate::client::RECV_HEADER
            } else {
                $crate::client::RECV_HEADER_REMOTE
            };
            let room = RX.saturating_sub(head).max(1);
            let want = buf.len().min($crate::client::MAX_SEND).min(room).min(slot.pending as usize) as u16;
            let mut txn = Txn::new(Final::Ok);
            txn.link = Some(link.id);
            txn.recv_into = Some(buf);
            let t = self.config.command_timeout_ms;
            self.run($crate::command::cmd!(TcpIp::RecvData { link: link.id, len: want }), &mut txn, t) $($aw)* ?;
            let n = txn.received;
            if n == 0 && let Some(s) = self.core.links.get_mut(usize::from(link.id)) {
                s.pending = 0;
            }
            Ok(n)
        }

        /// Ask the module how many bytes wait per link (`AT+CIPRECVLEN?`), to recover from a
        /// lost `+IPD` notification.
        pub $($async_kw)? fn sync_pending(&mut self) -> Result<Pending, Error<T::Error>> {
            self.ensure_init() $($aw)* ?;
            let mut txn = Txn::new(Final::Ok);
            txn.capture = rom!(b"+CIPRECVLEN:");
            let t = self.config.command_timeout_ms;
            self.run($crate::command::cmd!(TcpIp::RecvLen), &mut txn, t) $($aw)* ?;
            let p = $crate::client::parse_recvlen(&txn.captured);
            for (slot, n) in self.core.links.iter_mut().zip(p.iter()) {
                slot.pending = *n;
            }
            Ok(p)
        }

        /// Close a link. Closing a stale handle is not an error.
        pub $($async_kw)? fn close(&mut self, link: Link) -> Result<(), Error<T::Error>> {
            if !self.core.check(link) {
                return Ok(());
            }
            let mut txn = Txn::new(Final::Ok);
            let t = self.config.command_timeout_ms;
            let r = self.run($crate::command::cmd!(TcpIp::Close(Some(link.id))), &mut txn, t) $($aw)*;
            if let Some(s) = self.core.links.get_mut(usize::from(link.id)) {
                s.open = false;
                s.pending = 0;
            }
            match r {
                // "link is not valid": it was already closed
                Ok(()) | Err(Error::Failed) => Ok(()),
                Err(e) => Err(e),
            }
        }

        /// Start (`Some(port)`) or stop (`None`) the TCP server (for the setup mode).
        pub $($async_kw)? fn server(&mut self, port: Option<u16>) -> Result<(), Error<T::Error>> {
            self.ensure_init() $($aw)* ?;
            self.simple($crate::command::cmd!(TcpIp::Server { port })) $($aw)*
        }

        /// A client connected to our server since the last call: its link.
        pub fn accept(&mut self) -> Option<Link> {
            let id = self.core.links.iter().position(|s| s.incoming)?;
            let generation = self.core.new_generation();
            let slot = self.core.links.get_mut(id)?;
            slot.incoming = false;
            slot.open = true;
            slot.generation = generation;
            Some(Link { id: id as u8, generation })
        }

        /// Send any command and wait for `OK`; returns the first information line that starts
        /// with `capture` (`rom!(b"+CWJAP:")`; empty: none).
        pub $($async_kw)? fn command(&mut self, cmd: Command<'_>, capture: $crate::Rom) -> Result<heapless::Vec<u8, { $crate::CAPTURE }>, Error<T::Error>> {
            self.ensure_init() $($aw)* ?;
            let mut txn = Txn::new(Final::Ok);
            txn.capture = capture;
            let t = self.config.command_timeout_ms;
            self.run($crate::command::cmd!(cmd), &mut txn, t) $($aw)* ?;
            Ok(txn.captured)
        }
    };
}

pub(crate) use operations;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses_and_lengths() {
        assert_eq!(
            parse_ip(b"+CIFSR:STAIP,\"192.168.4.22\""),
            Some(Ipv4Addr::new(192, 168, 4, 22))
        );
        assert_eq!(
            parse_ip(b"+CIPDOMAIN:10.0.0.1"),
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(parse_ip(b"+CIPDOMAIN:1.2.3"), None);
        assert_eq!(parse_ip(b"+CIPDOMAIN:300.2.3.4"), None);
        assert_eq!(
            parse_recvlen(b"+CIPRECVLEN:5,-1,0,1024,-1"),
            [5, 0, 0, 1024, 0]
        );
        assert_eq!(parse_recvlen(b"garbage"), [0; 5]);
    }
}
