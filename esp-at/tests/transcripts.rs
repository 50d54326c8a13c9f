//! What real modems send, replayed byte for byte through the public API of both front ends,
//! with the modem's bytes cut at every size from 1 byte up: the same typed result each time.
//!
//! The transcripts follow Espressif's documented examples and what users have posted from
//! their modems: boot logs at 74 880 baud, AT 0.1x/0.40 and Ai-Thinker firmware, ESP32 AT 1.x,
//! `+CIPRECVDATA` and `+IPD` with the sender's address, `ERR CODE` after boot, late answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::VecDeque;
use std::convert::Infallible;

use common::block_on;
use esp_at::digest::{Event, RemoteInfo, Urc, parse};
use esp_at::sim::{SimConfig, SimModem, StdDelay};
use esp_at::{Config, Error, Transport, Version};

/// A modem that answers each command line with the next scripted reply; its bytes come out
/// `chunk` at a time.
struct Script {
    steps: VecDeque<(&'static str, Vec<u8>)>,
    out: VecDeque<u8>,
    chunk: usize,
    line: Vec<u8>,
    /// Commands that did not match the script.
    wrong: Vec<String>,
}

impl Script {
    fn new(before: &[u8], steps: Vec<(&'static str, Vec<u8>)>, chunk: usize) -> Script {
        Script {
            steps: steps.into(),
            out: before.iter().copied().collect(),
            chunk,
            line: Vec::new(),
            wrong: Vec::new(),
        }
    }

    fn written(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.line.push(b);
            if self.line.ends_with(b"\r\n") {
                let cmd = String::from_utf8_lossy(&self.line[..self.line.len() - 2]).into_owned();
                self.line.clear();
                match self.steps.pop_front() {
                    Some((want, reply)) if cmd.starts_with(want) => self.out.extend(reply),
                    Some((want, _)) => {
                        self.wrong
                            .push(format!("{cmd:?} where {want:?} was expected"));
                        self.out.extend(b"ERROR\r\n");
                    }
                    None => {
                        self.wrong.push(format!("{cmd:?} after the script ended"));
                        self.out.extend(b"ERROR\r\n");
                    }
                }
            }
        }
    }

    fn take(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.chunk).min(self.out.len());
        for b in buf.iter_mut().take(n) {
            *b = self.out.pop_front().unwrap();
        }
        n
    }
}

impl embedded_io::ErrorType for Script {
    type Error = Infallible;
}

impl embedded_io::Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        Ok(self.take(buf))
    }
}

impl embedded_io::ReadReady for Script {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(!self.out.is_empty())
    }
}

impl embedded_io::Write for Script {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.written(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl embedded_io_async::Read for Script {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if self.out.is_empty() {
            // nothing more will come: the deadline wins the race
            std::future::pending::<()>().await;
        }
        Ok(self.take(buf))
    }
}

impl embedded_io_async::Write for Script {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.written(buf);
        Ok(buf.len())
    }
    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

fn cfg() -> Config {
    Config::default()
        .with_command_timeout_ms(300)
        .with_reset_timeout_ms(300)
        .with_busy_backoff_ms(5)
}

const CUTS: [usize; 9] = [1, 2, 3, 4, 5, 7, 13, 64, 4096];

/// The answers of a 2.x module to the driver's initialisation, after `AT`.
fn init_v2() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("ATE0", b"ATE0\r\nOK\r\n".to_vec()),
        (
            "AT+GMR",
            b"AT version:2.2.0.0(c6fa6bf - ESP8266 - Jul  2 2021 06:44:05)\r\nSDK version:v3.4-22-g967752e2\r\ncompile time(6800286):Aug  4 2021 17:20:05\r\nBin version:2.2.0(WROOM-02)\r\n\r\nOK\r\n".to_vec(),
        ),
        ("AT+SYSSTORE=0", b"\r\nOK\r\n".to_vec()),
        ("AT+CIPMUX=1", b"\r\nOK\r\n".to_vec()),
        ("AT+CIPRECVMODE=1", b"\r\nOK\r\n".to_vec()),
        ("AT+CIPDINFO=0", b"\r\nOK\r\n".to_vec()),
    ]
}

fn ok(cmd: &'static str) -> (&'static str, Vec<u8>) {
    (cmd, b"\r\nOK\r\n".to_vec())
}

/// Run `op` on both front ends for every cut; every result must be `want`, and every command
/// must be the one the script expected.
fn both<R: PartialEq + std::fmt::Debug>(
    before: &[u8],
    steps: Vec<(&'static str, Vec<u8>)>,
    want: R,
    op_blocking: impl Fn(&mut esp_at::EspAt<Script, StdDelay>) -> R,
    op_async: impl AsyncFn(&mut esp_at::asynch::EspAt<Script, StdDelay>) -> R,
) {
    for chunk in CUTS {
        let mut esp =
            esp_at::EspAt::new(Script::new(before, steps.clone(), chunk), StdDelay, cfg());
        let got = op_blocking(&mut esp);
        assert_eq!(got, want, "blocking, {chunk}-byte reads");
        let (io, _, _) = esp.release();
        assert!(io.wrong.is_empty(), "blocking, {chunk}: {:?}", io.wrong);
        let mut esp: esp_at::asynch::EspAt<Script, StdDelay> =
            esp_at::asynch::EspAt::new(Script::new(before, steps.clone(), chunk), StdDelay, cfg());
        let got = block_on(op_async(&mut esp));
        assert_eq!(got, want, "async, {chunk}-byte reads");
        let (io, _, _) = esp.release();
        assert!(io.wrong.is_empty(), "async, {chunk}: {:?}", io.wrong);
    }
}

fn with_at(
    first: (&'static str, Vec<u8>),
    rest: Vec<(&'static str, Vec<u8>)>,
) -> Vec<(&'static str, Vec<u8>)> {
    let mut v = vec![first];
    v.extend(rest);
    v
}

/// Class 5: `ERR CODE:0x...` then `ERROR` to the first `AT` after boot is "not yet", as a plain
/// `ERROR` is.
#[test]
fn err_code_before_error_on_the_first_at_is_retried() {
    let steps = with_at(
        ("AT", b"ERR CODE:0x01090000\r\nERROR\r\n".to_vec()),
        with_at(ok("AT"), init_v2()),
    );
    both(
        b"",
        steps,
        Ok(Version::new(2, 2, 0)),
        |e| e.init(),
        async |e| e.init().await,
    );
}

/// Class 3: after `AT+RST` the ROM bootloader prints at 74 880 baud, which arrives as high
/// bytes; `ready` follows with no line break between, or after a bare `\r`.
#[test]
fn ready_after_boot_garbage_ends_a_restart() {
    for garbage in [
        &b"\xe0\x1c\x8c\x0c\x8c\x9c\xfc\x0c\x8c\x8c\x0c\x9c\x8c\x0c\xe0ready\r\n"[..],
        &b"\x80\xff\x00\x00\xfe\r\x8c\x9c\rready\r\n"[..],
        &b" ets Jan  8 2013,rst cause:2, boot mode:(3,6)\r\n\r\nload 0x40100000, len 2408, room 16 \r\n\xc6\x12\x00\x9c\x9e|\x00\x8c|\x83\x0cready\r\n"[..],
    ] {
        let mut restart = b"AT+RST\r\n\r\nOK\r\n".to_vec();
        restart.extend_from_slice(garbage);
        let steps = with_at(("AT+RST", restart), with_at(ok("AT"), init_v2()));
        // the driver had not initialised the module yet: its `ready` is not a reboot
        both(
            b"",
            steps,
            Ok((Version::new(2, 2, 0), 0)),
            |e| e.restart().map(|v| (v, e.stats().reboots)),
            async |e| {
                let v = e.restart().await?;
                Ok((v, e.stats().reboots))
            },
        );
    }
}

/// Class 4: each firmware generation gets its dialect, or a typed "unsupported firmware".
#[test]
fn firmware_generations() {
    let gmr = |text: &'static [u8]| {
        let mut v = text.to_vec();
        v.extend_from_slice(b"\r\nOK\r\n");
        vec![ok("AT"), ok("ATE0"), ("AT+GMR", v)]
    };
    // AT 0.1x: the bare version number; no _CUR commands, no passive receive
    for (text, v) in [
        (&b"00160901"[..], Version::new(0, 16, 0)),
        (&b"0018000902"[..], Version::new(0, 18, 0)),
    ] {
        both(
            b"",
            gmr(text),
            Err(Error::UnsupportedFirmware(v)),
            |e| e.init(),
            async |e| e.init().await,
        );
    }
    // ESP32 AT 1.x: an ESP-IDF SDK ("v3...") under AT 1.x
    both(
        b"",
        gmr(b"AT version:1.1.0.0(1b13c5d - Jun 29 2018 07:28:12)\r\nSDK version:v3.0.1-dev-13-gd7d3ffc\r\ncompile time:Jul  5 2018 15:15:24"),
        Err(Error::UnsupportedFirmware(Version::new(1, 1, 0))),
        |e| e.init(),
        async |e| e.init().await,
    );
    // AT 0.40 (SDK 1.3.0, 2015): _CUR commands, NonOS dialect; `no change` is its OK
    let mut steps = gmr(b"AT version:0.40.0.0(Aug  8 2015 14:45:58)\r\nSDK version:1.3.0\r\ncompile time:Aug  8 2015 17:35:24");
    steps.extend([
        ok("AT+CIPMUX=1"),
        ok("AT+CIPRECVMODE=1"),
        ("AT+CIPDINFO=0", b"\r\nERROR\r\n".to_vec()),
        ("AT+CWMODE_CUR=1", b"no change\r\n".to_vec()),
    ]);
    both(
        b"",
        steps,
        Ok::<_, Error<Infallible>>(Version::new(0, 40, 0)),
        |e| {
            let v = e.init()?;
            e.set_mode(esp_at::WifiMode::Station)?;
            Ok(v)
        },
        async |e| {
            let v = e.init().await?;
            e.set_mode(esp_at::WifiMode::Station).await?;
            Ok(v)
        },
    );
    // firmware without passive receive
    let mut steps = gmr(b"AT version:1.1.0.0(May 11 2016 18:09:56)\r\nSDK version:1.5.4(baaeaebb)");
    steps.extend([
        ok("AT+CIPMUX=1"),
        ("AT+CIPRECVMODE=1", b"\r\nERROR\r\n".to_vec()),
    ]);
    both(
        b"",
        steps,
        Err(Error::UnsupportedFirmware(Version::new(1, 1, 0))),
        |e| e.init(),
        async |e| e.init().await,
    );
}

/// Class 7: `ALREADY CONNECTED` is its own error, and a reply already waiting when a command
/// is sent (a late `ERROR`) is not taken for that command's answer.
#[test]
fn already_connected_and_late_answers() {
    let mut steps = with_at(ok("AT"), init_v2());
    // the last init answer carries a late, unrelated ERROR behind its OK
    if let Some(last) = steps.last_mut() {
        last.1.extend_from_slice(b"\r\nERROR\r\n");
    }
    steps.push((
        "AT+CIFSR",
        b"+CIFSR:APIP,\"192.168.4.1\"\r\n+CIFSR:STAIP,\"10.0.0.7\"\r\n\r\nOK\r\n".to_vec(),
    ));
    steps.push((
        "AT+CIPSTART=0",
        b"ALREADY CONNECTED\r\n\r\nERROR\r\n".to_vec(),
    ));
    both(
        b"",
        steps,
        (
            Ok(std::net::Ipv4Addr::new(10, 0, 0, 7)),
            Err(Error::AlreadyConnected),
        ),
        |e| {
            let ip = e.local_ip();
            let c = e.connect(Transport::Tcp, "10.0.0.1", 5001).map(|_| ());
            (ip, c)
        },
        async |e| {
            let ip = e.local_ip().await;
            let c = e
                .connect(Transport::Tcp, "10.0.0.1", 5001)
                .await
                .map(|_| ());
            (ip, c)
        },
    );
}

/// Class 7: AT 0.x answers `AT+CIFSR` with bare addresses, the station's last.
#[test]
fn bare_cifsr_addresses() {
    let mut steps = with_at(ok("AT"), init_v2());
    steps.push((
        "AT+CIFSR",
        b"192.168.4.1\r\n192.168.1.23\r\n\r\nOK\r\n".to_vec(),
    ));
    both(
        b"",
        steps,
        Ok(std::net::Ipv4Addr::new(192, 168, 1, 23)),
        |e| e.local_ip(),
        async |e| e.local_ip().await,
    );
}

/// Events of `stream` fed through a `cap`-byte buffer in `cut`-byte pieces.
fn events(stream: &[u8], cut: usize, cap: usize, info: RemoteInfo) -> Vec<String> {
    let mut out = Vec::new();
    common::feed(stream, &[cut], cap, info, |ev| match ev {
        Event::Noise(_) => out.push("Noise".to_string()),
        e => out.push(format!("{e:?}")),
    });
    // noise runs merge differently at different cuts: count them once
    out.dedup_by(|a, b| a == "Noise" && b == "Noise");
    out
}

fn same_at_every_cut(stream: &[u8], info: RemoteInfo) -> Vec<String> {
    let whole = events(stream, stream.len().max(1), 4096, info);
    for cut in 1..stream.len().min(64) {
        assert_eq!(events(stream, cut, 4096, info), whole, "cut {cut}");
    }
    whole
}

/// Class 1: `+CIPRECVDATA` with the sender's address gives exactly the payload.
#[test]
fn recvdata_with_the_senders_address_gives_exactly_the_payload() {
    let ev = same_at_every_cut(
        b"+CIPRECVDATA:5,\"1.2.3.4\",80,hello\r\nOK\r\n",
        RemoteInfo::Unknown,
    );
    assert_eq!(
        ev,
        [format!("{:?}", Event::RecvData(b"hello")), "Ok".into()]
    );
    let ev = same_at_every_cut(
        b"+CIPRECVDATA:4,\"fe80::1:2\",50000,\r\n\r\n\r\nOK\r\n",
        RemoteInfo::On,
    );
    assert_eq!(ev[0], format!("{:?}", Event::RecvData(b"\r\n\r\n")));
    // with CIPDINFO off, a payload that looks like an address is payload
    let ev = same_at_every_cut(b"+CIPRECVDATA:9,\"1.2\",3,x\r\nOK\r\n", RemoteInfo::Off);
    assert_eq!(ev[0], format!("{:?}", Event::RecvData(b"\"1.2\",3,x")));
    // and without the setting known, a payload that cannot be an address is payload
    let ev = same_at_every_cut(b"+CIPRECVDATA:7,\"hi\",ok\r\nOK\r\n", RemoteInfo::Unknown);
    assert_eq!(ev[0], format!("{:?}", Event::RecvData(b"\"hi\",ok")));
    // +IPD with the address, passive and active, IPv4 and IPv6
    let ev = same_at_every_cut(
        b"+IPD,0,5,\"192.168.1.2\",5001\r\n+IPD,1,3,\"fe80::1\",80:a:b\r\n",
        RemoteInfo::Unknown,
    );
    assert_eq!(
        ev,
        [
            format!(
                "{:?}",
                Event::DataPending {
                    link: Some(0),
                    len: 5
                }
            ),
            format!(
                "{:?}",
                Event::Data {
                    link: Some(1),
                    data: b"a:b"
                }
            ),
        ]
    );
}

/// Class 3 and 7 at the parser: `ready` after garbage, legacy and vendor words, typed
/// `+LINK_CONN`, a URC glued to an echo.
#[test]
fn boot_noise_legacy_words_and_glued_urcs() {
    let ev = same_at_every_cut(b"\x8c\x9c\xfc\x0c\x8c\rready\r\n", RemoteInfo::Unknown);
    assert_eq!(
        ev,
        ["Noise".to_string(), format!("{:?}", Event::Urc(Urc::Ready))]
    );
    let stream = b"[System Ready, Vendor:www.ai-thinker.com]\r\nLinked\r\nUnlink\r\nno change\r\ntype error\r\nError\r\ninvalid\r\nALREADY CONNECTED\r\n";
    let ev = same_at_every_cut(stream, RemoteInfo::Unknown);
    assert_eq!(
        ev,
        [
            format!("{:?}", Event::Urc(Urc::Ready)),
            format!("{:?}", Event::Urc(Urc::Connect(None))),
            format!("{:?}", Event::Urc(Urc::Closed(None))),
            "Ok".into(),
            "Error".into(),
            "Error".into(),
            "Error".into(),
            "AlreadyConnected".into(),
        ]
    );
    let ev = same_at_every_cut(
        b"+LINK_CONN:0,1,\"TCP\",1,\"192.168.4.2\",50312,333\r\n",
        RemoteInfo::Unknown,
    );
    assert_eq!(
        ev,
        [format!(
            "{:?}",
            Event::Urc(Urc::LinkConn {
                link: 1,
                server: true,
                ok: true
            })
        )]
    );
    let ev = same_at_every_cut(
        b"AT+CWJAP=\"net\",\"pw\"WIFI DISCONNECT\r\nAT+CIPSEND=0,4\r\n0,CLOSED\r\n",
        RemoteInfo::Unknown,
    );
    assert_eq!(
        ev,
        [
            format!("{:?}", Event::Echo(b"AT+CWJAP=\"net\",\"pw\"")),
            format!("{:?}", Event::Urc(Urc::WifiDisconnect)),
            format!("{:?}", Event::Echo(b"AT+CIPSEND=0,4")),
            format!("{:?}", Event::Urc(Urc::Closed(Some(0)))),
        ]
    );
    // a link id before a legacy word is a plain line, not a link URC
    assert_eq!(
        format!("{:?}", parse(b"0,no change\r\n").0),
        format!("{:?}", Event::Line(b"0,no change"))
    );
}

/// Class 2: a read never asks for more than the driver's buffer can take, so nothing is
/// dropped, and payload bytes that look like modem lines stay payload.
#[test]
fn large_reads_through_a_small_buffer_lose_nothing_and_payload_stays_payload() {
    use std::io::Write as _;
    let payload: Vec<u8> = {
        let mut p = Vec::new();
        for i in 0..40 {
            p.extend_from_slice(
                format!("line {i}\r\nready\r\n0,CLOSED\r\nOK\r\n+IPD,0,9\r\n").as_bytes(),
            );
        }
        p
    };
    for remote_info in [false, true] {
        let sim = SimModem::new(
            SimConfig::default()
                .with_firmware(Version::new(2, 2, 0))
                .with_network("net", "password1")
                .with_remote_info(remote_info)
                .with_cipdinfo(!remote_info),
        );
        let mut esp: esp_at::EspAt<SimModem, StdDelay, esp_at::NoPin, 128> =
            esp_at::EspAt::with_buffer(sim, StdDelay, Config::default());
        esp.join("net", "password1").unwrap();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let link = esp.connect(Transport::Tcp, "127.0.0.1", port).unwrap();
        let reboots = esp.stats().reboots;
        let (mut peer, _) = l.accept().unwrap();
        peer.write_all(&payload).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        let t = std::time::Instant::now();
        while got.len() < payload.len() && t.elapsed() < std::time::Duration::from_secs(10) {
            let n = esp.recv(link, &mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
            if n == 0 {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
        assert_eq!(got, payload, "remote_info {remote_info}");
        let s = esp.stats();
        assert_eq!((s.reboots, s.dropped_bytes), (reboots, 0), "{s:?}");
        assert!(esp.is_open(link));
    }
}

/// A data block larger than the receive buffer (an active-mode `+IPD`, a `+CIPRECVDATA` answer):
/// its payload is taken as payload and counted as dropped, never read as modem lines, whatever
/// it holds and however it is cut; what follows it is read again.
#[test]
fn a_block_larger_than_the_buffer_is_payload_not_lines() {
    let mut payload = Vec::new();
    while payload.len() < 300 {
        payload.extend_from_slice(
            b"ready\r\n0,CLOSED\r\n+IPD,0,9\r\nbusy p...\r\nWIFI DISCONNECT\r\n",
        );
    }
    payload.truncate(300);
    let mut stream = Vec::new();
    for head in ["+IPD,0,300:", "+CIPRECVDATA:300,", "+CIPRECVDATA,300:"] {
        stream.extend_from_slice(b"\r\n");
        stream.extend_from_slice(head.as_bytes());
        stream.extend_from_slice(&payload);
    }
    stream.extend_from_slice(b"\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n");
    // (reboots, noise, dropped, busy, got an address)
    let seen = |s: esp_at::Stats, w: esp_at::WifiState| {
        (s.reboots, s.noise_bytes, s.dropped_bytes, s.busy, w.got_ip)
    };
    let want = (0, 0, 3 * 300, 0, true);
    for chunk in CUTS {
        let mut esp: esp_at::EspAt<Script, StdDelay, esp_at::NoPin, 128> =
            esp_at::EspAt::with_buffer(Script::new(&stream, vec![], chunk), StdDelay, cfg());
        esp.listen(0).unwrap();
        let got = seen(esp.stats(), esp.wifi_state());
        assert_eq!(got, want, "blocking, {chunk}-byte reads");
        let mut esp: esp_at::asynch::EspAt<Script, StdDelay, esp_at::NoPin, 128> =
            esp_at::asynch::EspAt::with_buffer(
                Script::new(&stream, vec![], chunk),
                StdDelay,
                cfg(),
            );
        block_on(esp.listen(0)).unwrap();
        let got = seen(esp.stats(), esp.wifi_state());
        assert_eq!(got, want, "async, {chunk}-byte reads");
    }
}

/// Both drivers print their state with a UART that has no `Debug` of its own.
#[test]
fn the_drivers_debug_without_asking_it_of_the_uart() {
    let mut esp = esp_at::EspAt::new(
        Script::new(b"", with_at(ok("AT"), init_v2()), 64),
        StdDelay,
        cfg(),
    );
    esp.init().unwrap();
    let shown = format!("{esp:?}");
    assert!(shown.starts_with("EspAt { config: Config {"), "{shown}");
    assert!(shown.contains("needs_init: false"), "{shown}");
    assert!(shown.contains("reboots: 0"), "{shown}");
    let esp = esp_at::asynch::EspAt::new(Script::new(b"", vec![], 64), StdDelay, cfg());
    let shown = format!("{esp:?}");
    assert!(shown.contains("needs_init: true"), "{shown}");
    assert!(shown.ends_with("rx_buffer: 512, .. }"), "{shown}");
}
