//! The gateway's promises, held by the real binaries on 127.0.0.1 while faults happen:
//! every reading a device was answered `201` for is delivered, whatever else goes on.
//!
//! Each test runs `scale-gateway` (and, for the node, `scale-node-host`) as processes, drives
//! devices over real sockets, injects a fault (a consumer that stops reading, kill -9 during
//! start-up and while streaming, a rebooted node, peers that never read) and checks the
//! promise on what the sink wrote.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scale_gateway::event::Event;
use scale_gateway::spool::Spool;

/// A port below Linux's ephemeral range (32 768 and up), so that no client socket of the
/// tests can take it between this check and the gateway's bind.
fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 1_000) as u16 * 8;
    loop {
        let p = base + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 4_000;
        if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gw-promise-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A `scale-gateway` process.
struct Gw {
    child: Child,
    addr: SocketAddr,
    stderr: PathBuf,
}

impl Gw {
    /// Start on `port` with `args`; stdout goes to `stdout` (or nowhere).
    fn start(port: u16, args: &[&str], stdout: Stdio, log: &Path) -> Gw {
        let stderr = log.to_path_buf();
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr)
            .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_scale-gateway"))
            .args(["--listen", &addr.to_string(), "--metrics-interval-s", "0"])
            .args(args)
            .stdout(stdout)
            .stderr(err)
            .spawn()
            .unwrap();
        let gw = Gw {
            child,
            addr,
            stderr,
        };
        let t = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "the gateway did not start: {}",
                gw.log()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        gw
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Ctrl-C: the gateway delivers what is queued and exits.
    fn interrupt(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let t = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "the gateway did not stop"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Gw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A device that speaks the extended line protocol as a node does: one line, one status;
/// it keeps a reading until it hears `201` for it.
struct Device {
    addr: SocketAddr,
    sensor: String,
    boot: u32,
    stream: Option<TcpStream>,
}

impl Device {
    fn new(addr: SocketAddr, sensor: &str, boot: u32) -> Device {
        Device {
            addr,
            sensor: sensor.into(),
            boot,
            stream: None,
        }
    }

    /// Send reading `seq` once: the status, or `None` when the connection failed.
    fn send(&mut self, seq: u32, retry: bool) -> Option<String> {
        if self.stream.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
            self.stream = Some(s);
        }
        let s = self.stream.as_mut()?;
        let line = format!(
            "Weight:{seq}.00,{},{seq},{},0,{}\r\n",
            self.sensor,
            if retry { 8 } else { 0 },
            self.boot
        );
        let mut status = [0u8; 3];
        let r = s
            .write_all(line.as_bytes())
            .and_then(|()| s.read_exact(&mut status));
        match r {
            Ok(()) => Some(String::from_utf8_lossy(&status).into_owned()),
            Err(_) => {
                self.stream = None;
                None
            }
        }
    }

    /// Send reading `seq` until the gateway answers `201`, for at most `within`.
    fn deliver(&mut self, seq: u32, within: Duration) -> bool {
        let t = Instant::now();
        let mut retry = false;
        while t.elapsed() < within {
            match self.send(seq, retry).as_deref() {
                Some("201") => return true,
                Some(_) => std::thread::sleep(Duration::from_millis(20)),
                None => std::thread::sleep(Duration::from_millis(20)),
            }
            retry = true;
        }
        false
    }
}

/// (SensorId, Boot, Seq) → how many times it was forwarded, from JSON lines.
fn forwarded(text: &str) -> BTreeMap<(String, u32, u32), u32> {
    let mut m = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let e: Event = serde_json::from_str(line).unwrap();
        *m.entry((e.sensor_id, e.boot.unwrap_or(0), e.seq.unwrap_or(0)))
            .or_insert(0) += 1;
    }
    m
}

/// Every acknowledged reading is in `out`: the number of duplicates.
fn check_promise(acked: &[(String, u32, u32)], out: &BTreeMap<(String, u32, u32), u32>) -> u32 {
    let missing: Vec<_> = acked.iter().filter(|k| !out.contains_key(*k)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged readings were not delivered, e.g. {:?}",
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>()
    );
    out.values().map(|&n| n - 1).sum()
}

fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

fn gauge(page: &str, name: &str) -> u64 {
    page.lines()
        .find_map(|l| l.strip_prefix(&format!("scale_gateway_{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not on the page:\n{page}"))
}

/// Cases 1 and 6: a consumer that stops reading stdout. The gateway goes on answering (`503`
/// when its queue is full, never silence), `/metrics` answers, and every reading answered
/// `201` — including the ones resent after a `503` — reaches stdout once the consumer reads
/// again.
#[test]
fn a_stalled_consumer_and_resends_after_503_lose_nothing() {
    let dir = temp("stall");
    let (port, mport) = (free_port(), free_port());
    let mport_s = format!("127.0.0.1:{mport}");
    let mut gw = Gw::start(
        port,
        &[
            "--reply",
            "enqueue",
            "--queue",
            "50",
            "--metrics-listen",
            &mport_s,
        ],
        Stdio::piped(),
        &dir.join("stderr"),
    );
    let mut stdout = gw.child.stdout.take().unwrap();
    let mut dev = Device::new(gw.addr, "Scale.Stall", 0xB007);
    let mut acked = Vec::new();
    let mut answers_503 = 0;
    // nobody reads stdout: the pipe fills, then the queue
    let mut seq = 0;
    while answers_503 == 0 && seq < 5_000 {
        match dev.send(seq, false).as_deref() {
            Some("201") => {
                acked.push(("Scale.Stall".to_string(), 0xB007, seq));
                seq += 1;
            }
            Some("503") => answers_503 += 1,
            other => panic!("answer {other:?} while the consumer is stalled"),
        }
    }
    assert!(answers_503 > 0, "the queue never filled");
    // still answering: the metrics page, and a new device hears 503 (not silence)
    let page = http_get(SocketAddr::from(([127, 0, 0, 1], mport)), "/metrics")
        .expect("/metrics answers while the consumer is stalled");
    assert!(gauge(&page, "overflow_total") >= 1);
    let mut other = Device::new(gw.addr, "Scale.Other", 1);
    assert_eq!(other.send(0, false).as_deref(), Some("503"));
    // the consumer reads again: the rest goes through, each 503'd reading sent again
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    for s in seq..seq + 500 {
        assert!(dev.deliver(s, Duration::from_secs(20)), "reading {s}");
        acked.push(("Scale.Stall".to_string(), 0xB007, s));
    }
    gw.interrupt();
    let out = forwarded(&reader.join().unwrap());
    let dups = check_promise(&acked, &out);
    assert_eq!(
        dups, 0,
        "enqueue mode with resends after 503 forwards each once"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Case 1, `sync` mode: a sink that does not take the reading in time answers `503` by the
/// deadline (the device is never left hanging) and the resend is delivered.
#[test]
fn sync_mode_answers_503_by_its_deadline_and_the_resend_is_delivered() {
    let dir = temp("sync");
    let port = free_port();
    let mut gw = Gw::start(
        port,
        &["--reply", "sync", "--sync-timeout-ms", "300"],
        Stdio::piped(),
        &dir.join("stderr"),
    );
    let mut stdout = gw.child.stdout.take().unwrap();
    let mut dev = Device::new(gw.addr, "Scale.Sync", 42);
    let mut acked = Vec::new();
    let mut seq = 0;
    let t = Instant::now();
    loop {
        let sent = Instant::now();
        match dev.send(seq, false).as_deref() {
            Some("201") => acked.push(("Scale.Sync".to_string(), 42, seq)),
            Some("503") => {
                assert!(sent.elapsed() < Duration::from_secs(2), "answered late");
                break;
            }
            other => panic!("{other:?}"),
        }
        seq += 1;
        assert!(t.elapsed() < Duration::from_secs(60), "never stalled");
    }
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    for s in seq..seq + 50 {
        assert!(dev.deliver(s, Duration::from_secs(20)), "reading {s}");
        acked.push(("Scale.Sync".to_string(), 42, s));
    }
    gw.interrupt();
    let out = forwarded(&reader.join().unwrap());
    check_promise(&acked, &out);
    let _ = std::fs::remove_dir_all(&dir);
}

fn node_host() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_scale-gateway")).with_file_name("scale-node-host");
    assert!(
        p.exists(),
        "{} is missing: `cargo test --workspace` builds it (or `cargo build -p scale-node-host`)",
        p.display()
    );
    p
}

/// The number after `label` in the node's summary.
fn summary(text: &str, label: &str) -> u64 {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"))
}

/// Case 2: the simulated node run twice against one gateway. The second run counts from
/// zero again; its readings are delivered, not taken for duplicates of the first run's.
#[test]
fn a_rebooted_node_is_not_taken_for_a_duplicate() {
    let dir = temp("reboot");
    let out = dir.join("out.jsonl");
    let port = free_port();
    let out_s = out.display().to_string();
    let gw = Gw::start(
        port,
        &["--sink", "file", "--output", &out_s],
        Stdio::null(),
        &dir.join("stderr"),
    );
    let mut acked = 0;
    for _ in 0..2 {
        let o = Command::new(node_host())
            .args([
                "--gateway",
                &gw.addr.to_string(),
                "--seconds",
                "3",
                "--interval-ms",
                "100",
                "--quiet",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{text}");
        acked += summary(&text, "acknowledged (2xx)");
    }
    gw.interrupt();
    let lines = forwarded(&std::fs::read_to_string(&out).unwrap());
    let boots: HashSet<u32> = lines.keys().map(|k| k.1).collect();
    assert_eq!(boots.len(), 2, "two boots, two boot ids: {boots:?}");
    let total: u32 = lines.values().sum();
    assert!(
        u64::from(total) >= acked && acked > 10,
        "{acked} acknowledged, {total} forwarded"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Cases 3 and 4: kill -9 twenty times during the start-up replay of a large spool that also
/// holds a damaged record. Nothing is rewritten in place, so every reading in it is delivered
/// in the end; the damaged record is skipped, reported, and does not end the replay.
#[test]
fn kill_9_during_start_up_replay_twenty_times() {
    let dir = temp("replay");
    let spool = dir.join("spool");
    let out = dir.join("out.jsonl");
    const N: u32 = 100_000;
    const DELIVERED: u32 = 3_000;
    {
        let (mut s, _) = Spool::open(&spool, false).unwrap();
        let events: Vec<Event> = (0..N)
            .map(|i| Event {
                time: "2026-12-01T00:00:00.000Z".into(),
                gateway_id: "gw".into(),
                device_id: "10.0.0.9".into(),
                sensor_id: "Scale.Replay".into(),
                sensor_type: "Weight".into(),
                sensor_value: format!("{i}.00"),
                seq: Some(i),
                flags: Some(0),
                boot: Some(5),
            })
            .collect();
        let pos = s.append(&events).unwrap();
        s.commit(pos[DELIVERED as usize - 1]).unwrap();
    }
    // damage: a record in the middle overwritten with garbage of the same length
    let seg = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::metadata(p).unwrap().len() > 0 && p.extension().is_some())
        .unwrap();
    let mut data = std::fs::read(&seg).unwrap();
    let marker = b"\"SensorValue\":\"50000.00\"";
    let at = data
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap();
    data[at] = 0xFF;
    std::fs::write(&seg, &data).unwrap();
    let args = spooling(&out, &spool);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let port = free_port();
    let log = dir.join("stderr");
    // a small deterministic generator for the kill times
    let mut x: u32 = 0x9E37_79B9;
    for _ in 0..20 {
        let gw = Gw::start(port, &args, Stdio::null(), &log);
        std::thread::sleep(Duration::from_millis(u64::from(xorshift(&mut x) % 400)));
        gw.kill9();
    }
    // the last start runs until everything is out
    let gw = Gw::start(port, &args, Stdio::null(), &log);
    let want: Vec<(String, u32, u32)> = (DELIVERED..N)
        .filter(|&i| i != 50_000)
        .map(|i| ("Scale.Replay".to_string(), 5, i))
        .collect();
    let t = Instant::now();
    loop {
        let got = forwarded(&std::fs::read_to_string(&out).unwrap_or_default());
        if want.iter().all(|k| got.contains_key(k)) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "replay did not finish"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    gw.interrupt();
    let got = forwarded(&std::fs::read_to_string(&out).unwrap());
    let dups = check_promise(&want, &got);
    assert!(
        !got.keys().any(|k| k.2 < DELIVERED),
        "what was committed as delivered is not sent again"
    );
    // at most the batches in flight at each kill are sent twice
    assert!(dups <= 21 * 100, "{dups} duplicates");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("does not parse"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The flags of a gateway that answers once a reading is spooled and writes to a file.
fn spooling(out: &Path, spool: &Path) -> Vec<String> {
    let (out, spool) = (out.display().to_string(), spool.display().to_string());
    [
        "--sink", "file", "--output", &out, "--spool", &spool, "--reply", "enqueue",
    ]
    .map(String::from)
    .to_vec()
}

/// The next number of a small deterministic generator (xorshift32), for kill times.
fn xorshift(x: &mut u32) -> u32 {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    *x
}

/// Case 3, while streaming: four devices stream through a spooling gateway that is killed -9
/// and restarted twenty times; each device keeps a reading until it hears `201`.
#[test]
fn kill_9_while_streaming_twenty_times() {
    let dir = temp("stream");
    let spool = dir.join("spool");
    let out = dir.join("out.jsonl");
    let args = spooling(&out, &spool);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let port = free_port();
    let log = dir.join("stderr");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let gw = Gw::start(port, &args, Stdio::null(), &log);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let devices: Vec<_> = (0..4u32)
        .map(|d| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut dev = Device::new(addr, &format!("Scale.K{d}"), 100 + d);
                let mut acked = Vec::new();
                let mut seq = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if dev.deliver(seq, Duration::from_secs(30)) {
                        acked.push((format!("Scale.K{d}"), 100 + d, seq));
                        seq += 1;
                    }
                }
                acked
            })
        })
        .collect();
    let mut gw = Some(gw);
    let mut x: u32 = 0x1234_5678;
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(
            100 + u64::from(xorshift(&mut x) % 200),
        ));
        if let Some(g) = gw.take() {
            g.kill9();
        }
        gw = Some(Gw::start(port, &args, Stdio::null(), &log));
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked: Vec<_> = devices
        .into_iter()
        .flat_map(|d| d.join().unwrap())
        .collect();
    if let Some(g) = gw.take() {
        g.interrupt();
    }
    assert!(
        acked.len() > 100,
        "only {} readings acknowledged",
        acked.len()
    );
    let got = forwarded(&std::fs::read_to_string(&out).unwrap());
    let dups = check_promise(&acked, &got);
    eprintln!(
        "{} acknowledged, {} forwarded, {dups} duplicates over 20 kills",
        acked.len(),
        got.values().sum::<u32>()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Case 7: peers that send and never read are cut by the write deadline, and one address
/// cannot take every connection slot: a good device from another address is served.
#[test]
fn peers_that_never_read_are_cut_and_one_address_cannot_take_every_slot() {
    let dir = temp("peers");
    let (port, mport) = (free_port(), free_port());
    let mport_s = format!("127.0.0.1:{mport}");
    let gw = Gw::start(
        port,
        &[
            "--idle-timeout-s",
            "2",
            "--write-timeout-s",
            "1",
            "--max-connections",
            "40",
            "--max-per-address",
            "10",
            "--metrics-listen",
            &mport_s,
        ],
        Stdio::null(),
        &dir.join("stderr"),
    );
    let maddr = SocketAddr::from(([127, 0, 0, 1], mport));
    let from = |ip: [u8; 4]| {
        let sock = socket_from(ip);
        sock.connect(&gw.addr.into()).map(|()| sock)
    };
    // peers from 127.0.0.2 that write lines as fast as they can and never read
    let writers: Vec<_> = (0..5)
        .map(|_| {
            let s = from([127, 0, 0, 2]).unwrap();
            std::thread::spawn(move || {
                let mut s: TcpStream = s.into();
                s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
                let chunk = "Weight:1.00,S\n".repeat(1_000);
                let t = Instant::now();
                while t.elapsed() < Duration::from_secs(40) {
                    if s.write_all(chunk.as_bytes()).is_err() {
                        return Some(t.elapsed());
                    }
                }
                None
            })
        })
        .collect();
    // idle peers from 127.0.0.3: only 10 of them are held
    let mut idle = Vec::new();
    for _ in 0..40 {
        if let Ok(s) = from([127, 0, 0, 3]) {
            idle.push(s);
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    // a good device from another address is served while all that goes on
    let mut good = Device::new(gw.addr, "Scale.Good", 9);
    let sock = socket_from([127, 0, 0, 4]);
    sock.connect(&gw.addr.into()).unwrap();
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    good.stream = Some(s);
    assert_eq!(good.send(0, false).as_deref(), Some("201"));
    let page = http_get(maddr, "/metrics").unwrap();
    assert!(gauge(&page, "refused_total") >= 30, "{page}");
    // the writers are cut: their writes fail once the gateway closes them
    for w in writers {
        let cut = w.join().unwrap();
        assert!(cut.is_some(), "a peer that never reads was held for 40 s");
    }
    drop(idle);
    let t = Instant::now();
    loop {
        let page = http_get(maddr, "/metrics").unwrap();
        if gauge(&page, "open_connections") <= 1 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "connections still held:\n{page}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    gw.interrupt();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A client socket bound to a loopback address of our choice (the whole 127/8 is local), with
/// a small receive buffer so that a peer that never reads fills up quickly.
fn socket_from(ip: [u8; 4]) -> socket2::Socket {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    s.bind(&SocketAddr::from((ip, 0)).into()).unwrap();
    s
}

/// Configuration errors end the start with a message, not a retry loop.
#[test]
fn configuration_errors_fail_at_start() {
    for (args, says) in [
        (
            &[
                "--sink",
                "eventhubs",
                "--eventhub-url",
                "http://ns.servicebus.windows.net",
                "--eventhub-name",
                "w",
                "--eventhub-key-name",
                "k",
            ][..],
            "https",
        ),
        (&["--allow", "10.0.0.0/33"][..], "not an address"),
        (&["--sink", "mqtt", "--mqtt-topic", "a/#"][..], "prefix"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_scale-gateway"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("EVENTHUB_KEY", "not-a-real-key")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} started");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
