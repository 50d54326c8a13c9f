//! Runs the Pico firmware in rp2040js (`examples/rp2040/emu/pico.mjs`, on Node.js) with its
//! UART0 on the simulated ESP8266, and lets a test steer the emulated HX711 and read what the
//! emulator measured: the longest `PD_SCK` high phase, the heartbeat pin's longest interval,
//! and the firmware's own heartbeat report.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use esp_at::sim::SimModem;

/// The harness script, next to the firmware's sources.
pub fn harness() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rp2040/emu/pico.mjs")
}

/// What the harness last reported (`STAT` line), in emulated time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stat {
    /// Emulated time, ms.
    pub t_ms: u64,
    /// Wall-clock time since the harness started, ms.
    pub wall_ms: u64,
    /// Instructions executed.
    pub instructions: u64,
    /// The longest `PD_SCK` high phase during a data read, ns.
    pub sck_max_high_ns: u64,
    /// Frames the HX711 model shifted out.
    pub frames: u64,
    /// The longest time between two heartbeat toggles on GP2, µs.
    pub hb_max_interval_us: u64,
    /// Heartbeat toggles seen.
    pub hb_toggles: u64,
}

impl Stat {
    fn parse(line: &str) -> Option<Stat> {
        let mut s = Stat::default();
        for field in line.strip_prefix("STAT ")?.split_whitespace() {
            let (k, v) = field.split_once('=')?;
            let v: u64 = v.parse().ok()?;
            match k {
                "t_ms" => s.t_ms = v,
                "wall_ms" => s.wall_ms = v,
                "instructions" => s.instructions = v,
                "sck_max_high_ns" => s.sck_max_high_ns = v,
                "frames" => s.frames = v,
                "hb_max_interval_us" => s.hb_max_interval_us = v,
                "hb_toggles" => s.hb_toggles = v,
                _ => {}
            }
        }
        Some(s)
    }
}

/// The firmware's heartbeat report (`HB <worst µs> <beats>` on UART1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// The worst lateness of a heartbeat wake-up so far, µs.
    pub worst_us: u32,
    /// Heartbeats so far.
    pub beats: u32,
}

#[derive(Default)]
struct Seen {
    stat: Option<Stat>,
    heartbeats: Vec<Heartbeat>,
    other: Vec<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The emulated Pico, running.
pub struct Pico {
    child: Child,
    stdin: ChildStdin,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    bridge: Option<JoinHandle<()>>,
    socket: PathBuf,
}

impl Pico {
    /// Start `elf` in the emulator, its UART0 on `modem`.
    pub fn start(elf: &Path, mut modem: SimModem) -> std::io::Result<Pico> {
        let socket =
            std::env::temp_dir().join(format!("pico-fil-{}-uart0.sock", std::process::id()));
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket)?;
        let mut child = Command::new("node")
            .arg(harness())
            .arg(elf)
            .arg(&socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let (stdin, stdout) = match (child.stdin.take(), child.stdout.take()) {
            (Some(i), Some(o)) => (i, o),
            _ => return Err(std::io::Error::other("no pipes to the harness")),
        };
        let seen = Arc::new(Mutex::new(Seen::default()));
        let s = seen.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut s = lock(&s);
                if let Some(st) = Stat::parse(&line) {
                    s.stat = Some(st);
                } else if let Some(hb) = line.strip_prefix("FW HB ") {
                    let mut it = hb.split_whitespace().map(|v| v.parse::<u32>());
                    if let (Some(Ok(worst_us)), Some(Ok(beats))) = (it.next(), it.next()) {
                        s.heartbeats.push(Heartbeat { worst_us, beats });
                    }
                } else {
                    s.other.push(line);
                }
            }
        });
        listener.set_nonblocking(true)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut uart = loop {
            match listener.accept() {
                Ok((u, _)) => break u,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() > deadline || child.try_wait()?.is_some() {
                        let _ = child.kill();
                        return Err(std::io::Error::other(
                            "the harness did not connect (is node installed, and `npm ci` run in examples/rp2040/emu?)",
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(e),
            }
        };
        uart.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let bridge = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !st.load(Ordering::SeqCst) {
                let mut busy = false;
                match uart.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        busy = true;
                        let _ = embedded_io::Write::write_all(&mut modem, &buf[..n]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
                while embedded_io::ReadReady::read_ready(&mut modem).unwrap_or(false) {
                    let n = embedded_io::Read::read(&mut modem, &mut buf).unwrap_or(0);
                    busy = true;
                    let mut out = &buf[..n];
                    while !out.is_empty() {
                        match uart.write(out) {
                            Ok(k) => out = &out[k..],
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                std::thread::sleep(Duration::from_micros(200));
                            }
                            Err(_) => return,
                        }
                    }
                }
                if !busy {
                    std::thread::sleep(Duration::from_micros(500));
                }
            }
        });
        Ok(Pico {
            child,
            stdin,
            seen,
            stop,
            bridge: Some(bridge),
            socket,
        })
    }

    fn command(&mut self, line: &str) {
        let _ = writeln!(self.stdin, "{line}");
        let _ = self.stdin.flush();
    }

    /// The HX711's next conversions read `code` (24-bit two's complement).
    pub fn set_code(&mut self, code: i64) {
        self.command(&format!("code {code}"));
    }

    /// Pull the HX711 off the board (DOUT floats high, nothing answers PD_SCK).
    pub fn unplug(&mut self) {
        self.command("unplug");
    }

    /// Plug it back in.
    pub fn plug(&mut self) {
        self.command("plug");
    }

    /// The harness's latest report.
    pub fn stat(&self) -> Option<Stat> {
        lock(&self.seen).stat
    }

    /// The firmware's heartbeat reports so far.
    pub fn heartbeats(&self) -> Vec<Heartbeat> {
        lock(&self.seen).heartbeats.clone()
    }

    /// Other lines the harness printed (its boot line, the firmware's other reports).
    pub fn other_lines(&self) -> Vec<String> {
        lock(&self.seen).other.clone()
    }

    /// Wait (real time, at most `timeout`) until `done` holds; `false` when the emulator
    /// stopped or the time ran out first.
    pub fn wait_until(&mut self, timeout: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if done(self) {
                return true;
            }
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        done(self)
    }
}

impl Drop for Pico {
    fn drop(&mut self) {
        self.command("quit");
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(b) = self.bridge.take() {
            let _ = b.join();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}
