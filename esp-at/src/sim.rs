//! A simulated ESP8266/ESP32 running Espressif's AT firmware (feature `sim`, std).
//!
//! [`SimModem`] is the UART end of the module: it implements `embedded_io` (and
//! `embedded_io_async`) `Read + Write + ReadReady`, parses AT command lines byte by byte,
//! speaks the NonOS 1.7 or the ESP-AT 2.x+ dialect, keeps echo on until `ATE0`, and opens
//! **real** TCP and UDP sockets on the loopback interface for `AT+CIPSTART`, with passive
//! (`+IPD,<id>,<len>` + `AT+CIPRECVDATA`) or active (`+IPD,<id>,<len>:<data>`) receive, and a
//! real TCP listener for `AT+CIPSERVER`. Bytes can be paced at a baud rate, so timing is what a
//! 115200-baud UART gives. [`SimHandle`] injects faults: `busy p...`, reboots (also in the
//! middle of a command), peer closes, `SEND FAIL`, a Wi-Fi drop, garbled or dropped bytes,
//! and arbitrary URCs between lines.
//!
//! `SSL` links are plain TCP in the simulator (the module terminates TLS; nothing of it is
//! visible on the UART).

use core::convert::Infallible;
use std::collections::VecDeque;
use std::format;
use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::string::{String, ToString};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use std::vec::Vec;

use crate::dialect::Version;

/// How the simulated module behaves: [`SimConfig::default`] (ESP-AT 2.2, no network), then
/// the `with_*` methods (or the public fields).
///
/// ```
/// use esp_at::Version;
/// use esp_at::sim::SimConfig;
///
/// let config = SimConfig::default()
///     .with_firmware(Version::new(1, 7, 4))
///     .with_network("home", "password1")
///     .with_neighbours([("cafe", -70)]);
/// assert_eq!(config.network, Some(("home".into(), "password1".into())));
/// assert_eq!(config.neighbours, vec![("cafe".to_string(), -70)]);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SimConfig {
    /// Firmware version reported by `AT+GMR` (1.7.x: NonOS dialect).
    pub firmware: Version,
    /// The access point that exists in the simulated world: (SSID, password).
    pub network: Option<(String, String)>,
    /// Pace both directions at this baud rate (10 bit times per byte). `None`: instant.
    pub baud: Option<u32>,
    /// How long `AT+CWJAP` takes before answering.
    pub join_delay: Duration,
    /// The station address reported by `AT+CIFSR`.
    pub station_ip: Ipv4Addr,
    /// Other access points in range (SSID, RSSI in dBm), listed by `AT+CWLAP` with `network`
    /// (at -52 dBm). SSIDs go out unescaped, as the firmware sends them.
    pub neighbours: Vec<(String, i8)>,
    /// `AT+CIPDINFO=1` at power-up (some firmware builds have it on by default): received data
    /// shows the sender's address until `AT+CIPDINFO=0`.
    pub remote_info: bool,
    /// The firmware knows `AT+CIPDINFO` (when not, it answers `ERROR`).
    pub has_cipdinfo: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            firmware: Version::new(2, 2, 0),
            network: None,
            baud: None,
            join_delay: Duration::ZERO,
            station_ip: Ipv4Addr::new(192, 168, 1, 50),
            neighbours: Vec::new(),
            remote_info: false,
            has_cipdinfo: true,
        }
    }
}

impl SimConfig {
    /// With another firmware version.
    pub fn with_firmware(mut self, firmware: Version) -> Self {
        self.firmware = firmware;
        self
    }

    /// With an access point in the simulated world.
    pub fn with_network(mut self, ssid: impl Into<String>, password: impl Into<String>) -> Self {
        self.network = Some((ssid.into(), password.into()));
        self
    }

    /// Paced at a baud rate (`None`: instant).
    pub fn with_baud(mut self, baud: Option<u32>) -> Self {
        self.baud = baud;
        self
    }

    /// With another time `AT+CWJAP` takes.
    pub fn with_join_delay(mut self, delay: Duration) -> Self {
        self.join_delay = delay;
        self
    }

    /// With another station address.
    pub fn with_station_ip(mut self, ip: Ipv4Addr) -> Self {
        self.station_ip = ip;
        self
    }

    /// With other access points in range: (SSID, RSSI in dBm).
    pub fn with_neighbours<S: Into<String>>(
        mut self,
        neighbours: impl IntoIterator<Item = (S, i8)>,
    ) -> Self {
        self.neighbours = neighbours.into_iter().map(|(s, r)| (s.into(), r)).collect();
        self
    }

    /// With `AT+CIPDINFO=1` at power-up, or not.
    pub fn with_remote_info(mut self, on: bool) -> Self {
        self.remote_info = on;
        self
    }

    /// With or without the `AT+CIPDINFO` command.
    pub fn with_cipdinfo(mut self, known: bool) -> Self {
        self.has_cipdinfo = known;
        self
    }
}

enum Sock {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

struct SimLink {
    sock: Sock,
    rx: Vec<u8>,
    notified: usize,
    /// The peer closed; the slot stays until the buffered data was read (passive mode).
    closed: bool,
}

#[derive(Default)]
struct Faults {
    busy: u32,
    reboot_on: Option<String>,
    send_fail: u32,
    garble: u32,
    drop: u32,
}

struct Inner {
    cfg: SimConfig,
    out: VecDeque<(u8, Instant)>,
    last_ready: Instant,
    line: Vec<u8>,
    sending: Option<(usize, usize, Vec<u8>)>,
    echo: bool,
    mux: bool,
    passive: bool,
    remote_info: bool,
    mode: u8,
    joined: Option<String>,
    soft_ap: Option<String>,
    links: [Option<SimLink>; 5],
    server: Option<TcpListener>,
    faults: Faults,
    log: Vec<String>,
    reboots: u32,
    bytes_in: u64,
    bytes_out: u64,
}

/// The simulated module's UART: an `embedded_io` (and `embedded_io_async`) port for either
/// driver. Its links are real sockets on the host.
///
/// ```
/// use esp_at::sim::{SimConfig, SimModem, StdDelay};
/// use esp_at::{Config, Error, EspAt};
///
/// let modem = SimModem::new(SimConfig::default().with_network("home", "password1"));
/// let handle = modem.handle(); // faults and inspection
/// let mut esp = EspAt::new(modem, StdDelay, Config::default());
/// assert_eq!(esp.join("home", "wrong-password"), Err(Error::Join(esp_at::JoinError::WrongPassword)));
/// esp.join("home", "password1")?;
/// handle.reboot(); // a brown-out: links gone, settings lost, boot noise, `ready`
/// esp.poll()?; // noticed and the module set up again
/// assert_eq!(esp.stats().reboots, 1);
/// assert!(handle.commands().iter().any(|c| c == "AT+CIPMUX=1"));
/// # Ok::<(), Error<core::convert::Infallible>>(())
/// ```
#[derive(Clone)]
pub struct SimModem {
    inner: Arc<Mutex<Inner>>,
}

/// Control and inspection of a [`SimModem`] (a clone of the same module).
#[derive(Clone)]
pub struct SimHandle {
    inner: Arc<Mutex<Inner>>,
}

impl core::fmt::Debug for SimModem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SimModem")
    }
}
impl core::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SimHandle")
    }
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl SimModem {
    /// A module that has just booted (its `ready` is already in the output).
    pub fn new(cfg: SimConfig) -> Self {
        let now = Instant::now();
        let remote_info = cfg.remote_info;
        let inner = Inner {
            cfg,
            out: VecDeque::new(),
            last_ready: now,
            line: Vec::new(),
            sending: None,
            echo: true,
            mux: false,
            passive: false,
            remote_info,
            mode: 1,
            joined: None,
            soft_ap: None,
            links: Default::default(),
            server: None,
            faults: Faults::default(),
            log: Vec::new(),
            reboots: 0,
            bytes_in: 0,
            bytes_out: 0,
        };
        let m = SimModem {
            inner: Arc::new(Mutex::new(inner)),
        };
        lock(&m.inner).emit(b"\r\nready\r\n");
        m
    }

    /// A control handle on the same module.
    pub fn handle(&self) -> SimHandle {
        SimHandle {
            inner: self.inner.clone(),
        }
    }
}

impl SimHandle {
    /// Answer the next `n` commands with `busy p...` without executing them.
    pub fn busy(&self, n: u32) {
        lock(&self.inner).faults.busy = n;
    }
    /// Reboot now: links closed, settings lost, boot noise, `ready`.
    pub fn reboot(&self) {
        lock(&self.inner).reboot();
    }
    /// Reboot in the middle of the next command starting with `prefix` (for `AT+CIPSEND`:
    /// after the prompt, while the data arrives).
    pub fn reboot_during(&self, prefix: &str) {
        lock(&self.inner).faults.reboot_on = Some(prefix.to_string());
    }
    /// Answer the next `n` sends with `SEND FAIL` (the data is not sent).
    pub fn send_fail(&self, n: u32) {
        lock(&self.inner).faults.send_fail = n;
    }
    /// The access point disappears: `WIFI DISCONNECT`, every link closes.
    pub fn drop_wifi(&self) {
        let mut s = lock(&self.inner);
        s.joined = None;
        s.emit(b"WIFI DISCONNECT\r\n");
        for id in 0..5 {
            s.close_link(id, true);
        }
    }
    /// Change the simulated world's access point.
    pub fn set_network(&self, network: Option<(&str, &str)>) {
        lock(&self.inner).cfg.network = network.map(|(a, b)| (a.to_string(), b.to_string()));
    }
    /// Corrupt the next `n` output bytes (set them to 0xFF).
    pub fn garble(&self, n: u32) {
        lock(&self.inner).faults.garble = n;
    }
    /// Lose the next `n` output bytes.
    pub fn drop_bytes(&self, n: u32) {
        lock(&self.inner).faults.drop = n;
    }
    /// Put raw bytes on the UART now (a URC between two lines, noise ...).
    pub fn inject(&self, bytes: &[u8]) {
        lock(&self.inner).emit(bytes);
    }
    /// Close link `id` as if the peer had closed it.
    pub fn peer_close(&self, id: usize) {
        lock(&self.inner).close_link(id, true);
    }
    /// Every command line received so far.
    pub fn commands(&self) -> Vec<String> {
        lock(&self.inner).log.clone()
    }
    /// Reboots so far.
    pub fn reboots(&self) -> u32 {
        lock(&self.inner).reboots
    }
    /// The SSID joined, if any.
    pub fn joined(&self) -> Option<String> {
        lock(&self.inner).joined.clone()
    }
    /// The SoftAP SSID, if one runs.
    pub fn soft_ap(&self) -> Option<String> {
        lock(&self.inner).soft_ap.clone()
    }
    /// The local address of the `AT+CIPSERVER` listener (a "phone" connects here).
    pub fn server_addr(&self) -> Option<SocketAddr> {
        lock(&self.inner)
            .server
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }
    /// UART bytes so far: (host to module, module to host).
    pub fn uart_bytes(&self) -> (u64, u64) {
        let s = lock(&self.inner);
        (s.bytes_in, s.bytes_out)
    }
    /// Whether echo is on.
    pub fn echo(&self) -> bool {
        lock(&self.inner).echo
    }
}

/// Split AT parameters on commas outside quotes; unescape quoted strings.
fn params(s: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut quoted = false;
    let mut esc = false;
    for &b in s {
        if esc {
            cur.push(b);
            esc = false;
        } else if quoted && b == b'\\' {
            esc = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if b == b',' && !quoted {
            out.push(core::mem::take(&mut cur));
        } else {
            cur.push(b);
        }
    }
    out.push(cur);
    out
}

fn num(p: Option<&Vec<u8>>) -> Option<usize> {
    std::str::from_utf8(p?).ok()?.trim().parse().ok()
}

fn text(p: Option<&Vec<u8>>) -> String {
    p.map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

impl Inner {
    fn byte_time(&self) -> Duration {
        match self.cfg.baud {
            Some(b) if b > 0 => Duration::from_nanos(10_000_000_000 / u64::from(b)),
            _ => Duration::ZERO,
        }
    }

    fn emit_after(&mut self, bytes: &[u8], delay: Duration) {
        let now = Instant::now() + delay;
        let bt = self.byte_time();
        let mut t = if self.last_ready > now {
            self.last_ready
        } else {
            now
        };
        for &b in bytes {
            if self.faults.drop > 0 {
                self.faults.drop -= 1;
                continue;
            }
            let b = if self.faults.garble > 0 {
                self.faults.garble -= 1;
                0xFF
            } else {
                b
            };
            t += bt;
            self.out.push_back((b, t));
        }
        self.last_ready = t;
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.emit_after(bytes, Duration::ZERO);
    }

    fn ok(&mut self) {
        self.emit(b"\r\nOK\r\n");
    }

    fn error(&mut self) {
        self.emit(b"\r\nERROR\r\n");
    }

    fn v1(&self) -> bool {
        self.cfg.firmware.major < 2
    }

    fn reboot(&mut self) {
        for id in 0..5 {
            self.close_link(id, false);
        }
        self.server = None;
        self.echo = true;
        self.mux = false;
        self.passive = false;
        self.remote_info = self.cfg.remote_info;
        self.joined = None;
        self.soft_ap = None;
        self.sending = None;
        self.line.clear();
        self.reboots += 1;
        // ROM bootloader output at 74880 baud reads as garbage at 115200
        self.emit(b"\x00\xe0\x1f\x80\xfc\x8c\x12\x92n\xec\r\n ets Jan  8 2013,rst cause:2, boot mode:(3,6)\r\n\xff\xfe\r\nload 0x40100000, len 2408, room 16\r\n");
        self.emit(b"\r\nready\r\n");
    }

    fn close_link(&mut self, id: usize, announce: bool) {
        if let Some(slot) = self.links.get_mut(id)
            && slot.take().is_some()
            && announce
        {
            let msg = if self.mux {
                format!("{id},CLOSED\r\n")
            } else {
                "CLOSED\r\n".to_string()
            };
            self.emit(msg.as_bytes());
        }
    }

    /// Poll sockets and the listener; emit `+IPD`, `CLOSED`, `CONNECT`.
    fn poll_net(&mut self) {
        if let Some(l) = &self.server
            && let Ok((s, _)) = l.accept()
            && let Some(id) = self.links.iter().position(|x| x.is_none())
        {
            let _ = s.set_nonblocking(true);
            let _ = s.set_nodelay(true);
            if let Some(slot) = self.links.get_mut(id) {
                *slot = Some(SimLink {
                    sock: Sock::Tcp(s),
                    rx: Vec::new(),
                    notified: 0,
                    closed: false,
                });
            }
            self.emit(format!("{id},CONNECT\r\n").as_bytes());
        }
        for id in 0..5 {
            let mut closed = false;
            let mut buf = [0u8; 1460];
            let Some(Some(link)) = self.links.get_mut(id) else {
                continue;
            };
            if link.closed {
                continue;
            }
            let got = match &mut link.sock {
                Sock::Tcp(s) => match s.read(&mut buf) {
                    Ok(0) => {
                        closed = true;
                        0
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
                    Err(_) => {
                        closed = true;
                        0
                    }
                },
                Sock::Udp(s) => s.recv(&mut buf).unwrap_or_default(),
            };
            let data = buf.get(..got).unwrap_or(&[]).to_vec();
            link.rx.extend_from_slice(&data);
            let total = link.rx.len();
            let fresh = total - link.notified.min(total);
            if got > 0 {
                if self.passive {
                    let report = if self.cfg.firmware.major < 2 {
                        fresh
                    } else {
                        total
                    };
                    if let Some(Some(l)) = self.links.get_mut(id) {
                        l.notified = total;
                    }
                    let from = match self.peer(id) {
                        Some(a) if self.remote_info => format!(",\"{}\",{}", a.ip(), a.port()),
                        _ => String::new(),
                    };
                    self.emit(format!("+IPD,{id},{report}{from}\r\n").as_bytes());
                } else {
                    if let Some(Some(l)) = self.links.get_mut(id) {
                        l.rx.clear();
                        l.notified = 0;
                    }
                    let mut msg = if self.mux {
                        format!("\r\n+IPD,{id},{}:", data.len())
                    } else {
                        format!("\r\n+IPD,{}:", data.len())
                    }
                    .into_bytes();
                    msg.extend_from_slice(&data);
                    self.emit(&msg);
                }
            }
            if closed {
                let keep = self.passive
                    && self
                        .links
                        .get(id)
                        .and_then(Option::as_ref)
                        .is_some_and(|l| !l.rx.is_empty());
                if keep {
                    // ESP-AT keeps what arrived before the close readable in passive mode
                    if let Some(Some(l)) = self.links.get_mut(id) {
                        l.closed = true;
                    }
                    let msg = if self.mux {
                        format!("{id},CLOSED\r\n")
                    } else {
                        "CLOSED\r\n".to_string()
                    };
                    self.emit(msg.as_bytes());
                } else {
                    self.close_link(id, true);
                }
            }
        }
    }

    /// An open (not peer-closed) link.
    fn is_open(&self, id: usize) -> bool {
        self.links
            .get(id)
            .and_then(Option::as_ref)
            .is_some_and(|l| !l.closed)
    }

    fn on_byte(&mut self, b: u8) {
        if let Some((id, len, mut data)) = self.sending.take() {
            data.push(b);
            if data.len() < len {
                self.sending = Some((id, len, data));
                return;
            }
            if self
                .faults
                .reboot_on
                .as_deref()
                .is_some_and(|p| p.starts_with("AT+CIPSEND"))
            {
                self.faults.reboot_on = None;
                self.reboot();
                return;
            }
            self.emit(format!("\r\nRecv {len} bytes\r\n").as_bytes());
            if self.faults.send_fail > 0 {
                self.faults.send_fail -= 1;
                self.emit(b"\r\nSEND FAIL\r\n");
                return;
            }
            let ok = match self.links.get_mut(id) {
                Some(Some(l)) => match &mut l.sock {
                    Sock::Tcp(s) => s.write_all(&data).is_ok(),
                    Sock::Udp(s) => s.send(&data).is_ok(),
                },
                _ => false,
            };
            self.emit(if ok {
                b"\r\nSEND OK\r\n"
            } else {
                b"\r\nSEND FAIL\r\n"
            });
            return;
        }
        self.line.push(b);
        if b == b'\n' {
            let line = core::mem::take(&mut self.line);
            if self.echo {
                self.emit(&line);
            }
            let end = line
                .iter()
                .rposition(|&c| c != b'\r' && c != b'\n')
                .map_or(0, |p| p + 1);
            let cmd = line.get(..end).unwrap_or(&[]).to_vec();
            if !cmd.is_empty() {
                self.command(&cmd);
            }
        } else if self.line.len() > 512 {
            self.line.clear();
            self.error();
        }
    }

    fn command(&mut self, cmd: &[u8]) {
        // what arrived on the sockets so far is known to the module before it runs the command
        self.poll_net();
        let s = String::from_utf8_lossy(cmd).into_owned();
        self.log.push(s.clone());
        if self.faults.busy > 0 {
            self.faults.busy -= 1;
            self.emit(b"busy p...\r\n");
            return;
        }
        if let Some(p) = &self.faults.reboot_on
            && s.starts_with(p.as_str())
            && !p.starts_with("AT+CIPSEND")
        {
            self.faults.reboot_on = None;
            self.emit(b"\r\nO");
            self.reboot();
            return;
        }
        let (name, args) = match s.find('=') {
            Some(i) => (
                s.get(..i).unwrap_or("").to_string(),
                s.get(i + 1..).unwrap_or("").as_bytes().to_vec(),
            ),
            None => (s.clone(), Vec::new()),
        };
        let v1 = self.v1();
        let name = name
            .strip_suffix("_CUR")
            .or_else(|| name.strip_suffix("_DEF"))
            .map(str::to_string)
            .unwrap_or(name.clone());
        let p = params(&args);
        match name.as_str() {
            "AT" => self.ok(),
            "ATE0" => {
                self.echo = false;
                self.ok()
            }
            "ATE1" => {
                self.echo = true;
                self.ok()
            }
            "AT+RST" => {
                self.ok();
                self.reboot();
            }
            "AT+RESTORE" => {
                self.ok();
                self.reboot();
            }
            "AT+GMR" => {
                let v = self.cfg.firmware;
                let text = if v1 {
                    format!(
                        "AT version:{}.{}.{}.0(May 11 2020 19:13:04)\r\nSDK version:3.0.4(9532ceb)\r\ncompile time:May 27 2020 10:12:22\r\nBin version(Wroom 02):{}.{}.{}\r\n",
                        v.major, v.minor, v.patch, v.major, v.minor, v.patch
                    )
                } else {
                    format!(
                        "AT version:{}.{}.{}.0(b097cdf - ESP8266 - Jun 17 2021 12:57:45)\r\nSDK version:v3.4-22-g967752e2\r\ncompile time(6800286):Aug  4 2021 17:20:05\r\nBin version:{}.{}.{}(WROOM-02)\r\n",
                        v.major, v.minor, v.patch, v.major, v.minor, v.patch
                    )
                };
                self.emit(text.as_bytes());
                self.ok();
            }
            "AT+SYSSTORE" | "AT+SYSLOG" if v1 => self.error(),
            "AT+UART" | "AT+SLEEP" | "AT+SYSSTORE" | "AT+SYSLOG" | "AT+CWAUTOCONN"
            | "AT+CIPSTO" | "AT+CWDHCP" | "AT+CIPSTA" | "AT+CIPAP" | "AT+CIPSSLSIZE"
            | "AT+CIPSSLCCONF" | "AT+CIPSSLCSNI" => self.ok(),
            "AT+CWMODE" => match num(p.first()) {
                Some(m) if m <= 3 => {
                    self.mode = m as u8;
                    self.ok()
                }
                _ => self.error(),
            },
            "AT+CWJAP?" => {
                let msg = match &self.joined {
                    Some(ssid) => {
                        format!("+CWJAP:\"{ssid}\",\"aa:bb:cc:dd:ee:ff\",6,-52,0,0,0,0,0\r\n")
                    }
                    None => "No AP\r\n".to_string(),
                };
                self.emit(msg.as_bytes());
                self.ok();
            }
            "AT+CWJAP" => self.join(&p, s.contains("_CUR")),
            "AT+CWQAP" => {
                let was = self.joined.take().is_some();
                self.ok();
                if was {
                    self.emit(b"WIFI DISCONNECT\r\n");
                }
            }
            "AT+CWSAP" => {
                let ssid = text(p.first());
                let pwd = text(p.get(1));
                if ssid.is_empty()
                    || ssid.len() > 32
                    || (!pwd.is_empty() && pwd.len() < 8)
                    || self.mode < 2
                {
                    self.error();
                } else {
                    self.soft_ap = Some(ssid);
                    self.ok();
                }
            }
            "AT+CWLAP" => {
                // the station interface scans: station or station + SoftAP mode
                if self.mode != 1 && self.mode != 3 {
                    self.error();
                    return;
                }
                let mut aps: Vec<(String, i8)> = self.cfg.neighbours.clone();
                if let Some((ssid, _)) = self.cfg.network.clone() {
                    aps.insert(0, (ssid, -52));
                }
                let v2 = self.cfg.firmware.major >= 2;
                for (i, (ssid, rssi)) in aps.iter().enumerate() {
                    let ch = 1 + (i * 5) % 13;
                    // NonOS 1.7: ecn, ssid, rssi, mac, channel, freq offset, freq cal;
                    // ESP-AT 2.x adds pairwise and group cipher, bgn, wps
                    let extra = if v2 { ",-12,0,4,4,7,1" } else { ",-12,0" };
                    let line = format!(
                        "+CWLAP:({},\"{ssid}\",{rssi},\"aa:bb:cc:dd:ee:{i:02x}\",{ch}{extra})\r\n",
                        if i % 2 == 0 { 3 } else { 0 }
                    );
                    self.emit(line.as_bytes());
                }
                self.ok();
            }
            "AT+CWSTATE?" => {
                let msg = match &self.joined {
                    Some(ssid) => format!("+CWSTATE:2,\"{ssid}\"\r\n"),
                    None => "+CWSTATE:0,\"\"\r\n".to_string(),
                };
                self.emit(msg.as_bytes());
                self.ok();
            }
            "AT+CIPSTATUS" => {
                let st = if self.joined.is_some() { 2 } else { 5 };
                self.emit(format!("STATUS:{st}\r\n").as_bytes());
                self.ok();
            }
            "AT+CIFSR" => {
                let ip = self.cfg.station_ip;
                self.emit(
                    format!("+CIFSR:STAIP,\"{ip}\"\r\n+CIFSR:STAMAC,\"5c:cf:7f:00:00:01\"\r\n")
                        .as_bytes(),
                );
                self.ok();
            }
            "AT+CIPMUX" => match num(p.first()) {
                Some(m) if m <= 1 => {
                    self.mux = m == 1;
                    self.ok()
                }
                _ => self.error(),
            },
            "AT+CIPDINFO" if self.cfg.has_cipdinfo => match num(p.first()) {
                Some(m) if m <= 1 => {
                    self.remote_info = m == 1;
                    self.ok()
                }
                _ => self.error(),
            },
            "AT+CIPRECVMODE" => match num(p.first()) {
                Some(m) if m <= 1 => {
                    self.passive = m == 1;
                    self.ok()
                }
                _ => self.error(),
            },
            "AT+CIPRECVTYPE" => {
                let v = self.cfg.firmware;
                if v.major < 3 || (v.major == 3 && v.minor < 3) {
                    self.error();
                } else {
                    self.passive = num(p.get(1)) == Some(1);
                    self.ok();
                }
            }
            "AT+CIPRECVLEN?" => {
                let fields: Vec<String> = self
                    .links
                    .iter()
                    .map(|l| match l {
                        Some(l) => l.rx.len().to_string(),
                        None if v1 => "0".to_string(),
                        None => "-1".to_string(),
                    })
                    .collect();
                self.emit(format!("+CIPRECVLEN:{}\r\n", fields.join(",")).as_bytes());
                self.ok();
            }
            "AT+CIPRECVDATA" => self.recv_data(&p),
            "AT+CIPDOMAIN" => match self.resolve(&text(p.first())) {
                Some(ip) if self.joined.is_some() => {
                    self.emit(format!("+CIPDOMAIN:{ip}\r\n").as_bytes());
                    self.ok();
                }
                _ => {
                    self.emit(b"DNS Fail\r\n");
                    self.error();
                }
            },
            "AT+CIPSTART" => self.start(&p),
            "AT+CIPSEND" => self.send(&p),
            "AT+CIPCLOSE" => {
                let id = if self.mux { num(p.first()) } else { Some(0) };
                match id {
                    Some(id) if self.links.get(id).is_some_and(Option::is_some) => {
                        self.close_link(id, true);
                        self.ok();
                    }
                    _ => {
                        if v1 {
                            self.emit(b"link is not valid\r\n");
                        }
                        self.error();
                    }
                }
            }
            "AT+CIPSERVER" => match (num(p.first()), num(p.get(1))) {
                (Some(1), port) if self.mux => {
                    let port = port.unwrap_or(333) as u16;
                    match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
                        Ok(l) => {
                            let _ = l.set_nonblocking(true);
                            self.server = Some(l);
                            self.ok();
                        }
                        Err(_) => self.error(),
                    }
                }
                (Some(0), _) => {
                    self.server = None;
                    self.ok();
                }
                _ => self.error(),
            },
            _ => self.error(),
        }
    }

    fn join(&mut self, p: &[Vec<u8>], cur: bool) {
        let ssid = text(p.first());
        let pwd = text(p.get(1));
        let v1 = self.v1();
        let prefix = if cur { "+CWJAP_CUR" } else { "+CWJAP" };
        let delay = self.cfg.join_delay;
        if self.mode != 1 && self.mode != 3 {
            self.error();
            return;
        }
        let code = match &self.cfg.network {
            None => 3,
            Some((s, _)) if *s != ssid => 3,
            Some((_, pw)) if *pw != pwd => 2,
            Some(_) => 0,
        };
        if self.joined.take().is_some() {
            self.emit(b"WIFI DISCONNECT\r\n");
        }
        if code == 0 {
            self.joined = Some(ssid);
            self.emit_after(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n", delay);
        } else {
            let tail: &str = if v1 { "FAIL" } else { "ERROR" };
            self.emit_after(
                format!("{prefix}:{code}\r\n\r\n{tail}\r\n").as_bytes(),
                delay,
            );
        }
    }

    fn resolve(&self, host: &str) -> Option<Ipv4Addr> {
        if host == "localhost" {
            return Some(Ipv4Addr::LOCALHOST);
        }
        host.parse::<Ipv4Addr>().ok()
    }

    fn start(&mut self, p: &[Vec<u8>]) {
        let (id, rest) = if self.mux {
            (num(p.first()), p.get(1..).unwrap_or(&[]))
        } else {
            (Some(0), p)
        };
        let Some(id) = id.filter(|&i| i < 5) else {
            return self.error();
        };
        if self
            .links
            .get(id)
            .and_then(Option::as_ref)
            .is_some_and(|l| l.closed)
            && let Some(slot) = self.links.get_mut(id)
        {
            // a new link drops what the old one left unread
            *slot = None;
        }
        if self.links.get(id).is_some_and(Option::is_some) {
            self.emit(b"ALREADY CONNECTED\r\n");
            return self.error();
        }
        if self.joined.is_none() {
            return self.error();
        }
        let kind = text(rest.first());
        let host = text(rest.get(1));
        let Some(port) = num(rest.get(2)).and_then(|p| u16::try_from(p).ok()) else {
            return self.error();
        };
        let Some(ip) = self.resolve(&host) else {
            self.emit(b"DNS Fail\r\n");
            return self.error();
        };
        if !ip.is_loopback() {
            // the simulator never leaves the machine
            return self.error();
        }
        let addr = SocketAddr::from((ip, port));
        let sock = match kind.as_str() {
            "TCP" | "SSL" => TcpStream::connect_timeout(&addr, Duration::from_secs(2))
                .ok()
                .map(|s| {
                    let _ = s.set_nonblocking(true);
                    let _ = s.set_nodelay(true);
                    Sock::Tcp(s)
                }),
            "UDP" => UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
                .ok()
                .and_then(|s| {
                    s.connect(addr).ok()?;
                    s.set_nonblocking(true).ok()?;
                    Some(Sock::Udp(s))
                }),
            _ => None,
        };
        match sock {
            Some(sock) => {
                if let Some(slot) = self.links.get_mut(id) {
                    *slot = Some(SimLink {
                        sock,
                        rx: Vec::new(),
                        notified: 0,
                        closed: false,
                    });
                }
                let msg = if self.mux {
                    format!("{id},CONNECT\r\n")
                } else {
                    "CONNECT\r\n".to_string()
                };
                self.emit(msg.as_bytes());
                self.ok();
            }
            None => {
                let msg = if self.mux {
                    format!("{id},CLOSED\r\n")
                } else {
                    "CLOSED\r\n".to_string()
                };
                self.error();
                self.emit(msg.as_bytes());
            }
        }
    }

    fn send(&mut self, p: &[Vec<u8>]) {
        let (id, len) = if self.mux {
            (num(p.first()), num(p.get(1)))
        } else {
            (Some(0), num(p.first()))
        };
        match (id, len) {
            (Some(id), Some(len)) if (1..=2048).contains(&len) && self.is_open(id) => {
                self.ok();
                self.emit(b"> ");
                self.sending = Some((id, len, Vec::new()));
            }
            _ => {
                if self.v1() {
                    self.emit(b"link is not valid\r\n");
                }
                self.error()
            }
        }
    }

    /// The remote address of link `id`.
    fn peer(&self, id: usize) -> Option<std::net::SocketAddr> {
        match &self.links.get(id)?.as_ref()?.sock {
            Sock::Tcp(t) => t.peer_addr().ok(),
            Sock::Udp(u) => u.peer_addr().ok(),
        }
    }

    fn recv_data(&mut self, p: &[Vec<u8>]) {
        let v1 = self.v1();
        let (Some(id), Some(len)) = (num(p.first()), num(p.get(1))) else {
            return self.error();
        };
        let Some(Some(link)) = self.links.get_mut(id) else {
            return self.error();
        };
        let n = len.min(link.rx.len());
        let data: Vec<u8> = link.rx.drain(..n).collect();
        link.notified = link.notified.saturating_sub(n);
        if link.closed
            && link.rx.is_empty()
            && let Some(slot) = self.links.get_mut(id)
        {
            *slot = None;
        }
        let from = self.peer(id);
        let mut msg = match (v1, from) {
            (true, _) => format!("+CIPRECVDATA,{n}:"),
            (false, Some(a)) if self.remote_info => {
                format!("+CIPRECVDATA:{n},\"{}\",{},", a.ip(), a.port())
            }
            (false, _) => format!("+CIPRECVDATA:{n},"),
        }
        .into_bytes();
        msg.extend_from_slice(&data);
        msg.extend_from_slice(b"\r\n");
        self.emit(&msg);
        self.ok();
    }

    fn readable(&mut self) -> usize {
        self.poll_net();
        let now = Instant::now();
        self.out.iter().take_while(|(_, t)| *t <= now).count()
    }
}

impl embedded_io::ErrorType for SimModem {
    type Error = Infallible;
}

impl embedded_io::ReadReady for SimModem {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(lock(&self.inner).readable() > 0)
    }
}

impl embedded_io::Read for SimModem {
    /// Blocks until at least one byte is readable (gives up with `Ok(0)` after 10 s).
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut s = lock(&self.inner);
            let n = s.readable().min(buf.len());
            if n > 0 {
                for slot in buf.iter_mut().take(n) {
                    if let Some((b, _)) = s.out.pop_front() {
                        *slot = b;
                    }
                }
                s.bytes_out += n as u64;
                return Ok(n);
            }
            drop(s);
            if Instant::now() > deadline {
                return Ok(0);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

impl embedded_io::Write for SimModem {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        let pace = {
            let mut s = lock(&self.inner);
            s.bytes_in += buf.len() as u64;
            for &b in buf {
                s.on_byte(b);
            }
            s.byte_time() * buf.len() as u32
        };
        if !pace.is_zero() {
            std::thread::sleep(pace);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl embedded_io_async::Read for SimModem {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        core::future::poll_fn(|cx| {
            if buf.is_empty() {
                return core::task::Poll::Ready(Ok(0));
            }
            let mut s = lock(&self.inner);
            let n = s.readable().min(buf.len());
            if n == 0 {
                cx.waker().wake_by_ref();
                return core::task::Poll::Pending;
            }
            for slot in buf.iter_mut().take(n) {
                if let Some((b, _)) = s.out.pop_front() {
                    *slot = b;
                }
            }
            s.bytes_out += n as u64;
            core::task::Poll::Ready(Ok(n))
        })
        .await
    }
}

impl embedded_io_async::Write for SimModem {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        embedded_io::Write::write(self, buf)
    }
    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// A delay on the host's real clock: blocking (`thread::sleep`) and async (polls the clock).
#[derive(Debug, Clone, Copy, Default)]
pub struct StdDelay;

impl embedded_hal::delay::DelayNs for StdDelay {
    fn delay_ns(&mut self, ns: u32) {
        std::thread::sleep(Duration::from_nanos(u64::from(ns)));
    }
}

impl embedded_hal_async::delay::DelayNs for StdDelay {
    async fn delay_ns(&mut self, ns: u32) {
        let until = Instant::now() + Duration::from_nanos(u64::from(ns));
        core::future::poll_fn(|cx| {
            if Instant::now() >= until {
                core::task::Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                core::task::Poll::Pending
            }
        })
        .await
    }
}
