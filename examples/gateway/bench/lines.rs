//! Lines per second through the gateway on loopback, each against a baseline run the same way
//! in the same run:
//!
//! 1. 100 concurrent devices, stdout sink, against the article's Python gateway design;
//! 2. one device in `sync` mode with the file sink, where `201` means the line is in the
//!    file: batching only what is already queued against waiting 5 ms for a batch to fill;
//! 3. 100 and 1 000 devices in `sync` mode with the file sink: lines/s, and that every line
//!    answered `201` is in the file (none lost).
//!
//! `cargo bench -p scale-gateway` (needs `python3`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const DEVICES: usize = 100;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .map(|l| l.local_addr().map(|a| a.port()).unwrap_or(0))
        .unwrap_or(0)
}

fn wait_listening(port: u16) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// `devices` devices, each sending a line and waiting for its status, for `secs`: lines/s
/// and lines answered `201`.
async fn load_n(port: u16, secs: f64, devices: usize) -> (f64, u64) {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for d in 0..devices {
        tasks.push(tokio::spawn(async move {
            let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await else {
                return 0u64;
            };
            let _ = s.set_nodelay(true);
            let mut n = 0u64;
            let mut status = [0u8; 3];
            while Instant::now() < deadline {
                let line = format!("Weight:{}.{:02},Scale.{d}\r\n", n % 1000, n % 100);
                if s.write_all(line.as_bytes()).await.is_err()
                    || s.read_exact(&mut status).await.is_err()
                {
                    break;
                }
                if &status == b"201" {
                    n += 1;
                }
            }
            n
        }));
    }
    let start = Instant::now();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap_or(0);
    }
    (
        total as f64 / start.elapsed().as_secs_f64().max(secs),
        total,
    )
}

async fn load(port: u16, secs: f64) -> f64 {
    load_n(port, secs, DEVICES).await.0
}

/// A gateway in `sync` mode writing to a file; `extra` flags.
fn file_gateway(port: u16, out: &std::path::Path, extra: &[&str]) -> Option<Proc> {
    let _ = std::fs::remove_file(out);
    let child = Command::new(env!("CARGO_BIN_EXE_scale-gateway"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--metrics-interval-s",
            "0",
            "--max-per-address",
            "2000",
            "--max-connections",
            "2000",
            "--reply",
            "sync",
            "--sink",
            "file",
            "--output",
        ])
        .arg(out)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let p = Proc(child);
    wait_listening(port).then_some(p)
}

fn lines_in(path: &std::path::Path) -> u64 {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count() as u64)
        .unwrap_or(0)
}

fn sync_file(rt: &tokio::runtime::Runtime, secs: f64) {
    let out = std::env::temp_dir().join(format!("scale-gw-bench-{}.jsonl", std::process::id()));
    let mut one = Vec::new();
    for (name, extra) in [
        ("batch what is queued (default)", &[][..]),
        (
            "wait 5 ms for a batch (baseline)",
            &["--batch-linger-ms", "5"][..],
        ),
    ] {
        let port = free_port();
        let Some(_gw) = file_gateway(port, &out, extra) else {
            eprintln!("cannot start scale-gateway");
            return;
        };
        let (rate, acked) = rt.block_on(load_n(port, secs, 1));
        let written = lines_in(&out);
        one.push((name, rate, acked, written));
    }
    println!("one device, sync mode, file sink ({secs:.0} s each; 201 = in the file):");
    for (name, rate, acked, written) in &one {
        println!("  {name:<36}: {rate:9.0} lines/s ({acked} answered 201, {written} in the file)");
    }
    if let [(_, a, ..), (_, b, ..)] = one.as_slice() {
        println!(
            "  ratio                               : {:9.1}x",
            a / b.max(1.0)
        );
    }
    println!("many devices, sync mode, file sink:");
    for devices in [100, 1_000] {
        let port = free_port();
        let Some(gw) = file_gateway(port, &out, &[]) else {
            eprintln!("cannot start scale-gateway");
            return;
        };
        let (rate, acked) = rt.block_on(load_n(port, secs, devices));
        // each 201 was written before it was sent
        let written = lines_in(&out);
        drop(gw);
        println!(
            "  {devices:>5} devices                       : {rate:9.0} lines/s, {acked} answered 201, {written} in the file, lost {}",
            acked.saturating_sub(written)
        );
    }
    let _ = std::fs::remove_file(&out);
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let secs: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return;
        }
    };
    let rust_port = free_port();
    let rust = Command::new(env!("CARGO_BIN_EXE_scale-gateway"))
        .args([
            "--listen",
            &format!("127.0.0.1:{rust_port}"),
            "--metrics-interval-s",
            "0",
            "--max-per-address",
            "1000",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(rust) = rust else {
        eprintln!("cannot start scale-gateway");
        return;
    };
    let _rust = Proc(rust);
    let py_port = free_port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/article_gateway.py");
    let py = Command::new("python3")
        .arg(script)
        .arg(py_port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(py) = py else {
        eprintln!("python3 is needed for the baseline");
        return;
    };
    let _py = Proc(py);
    if !wait_listening(rust_port) || !wait_listening(py_port) {
        eprintln!("a gateway did not start");
        return;
    }
    let r = rt.block_on(load(rust_port, secs));
    let p = rt.block_on(load(py_port, secs));
    println!(
        "{DEVICES} devices on loopback, a line and its status at a time, {secs:.0} s each, stdout sink:"
    );
    println!("  scale-gateway (Rust, tokio)            : {r:9.0} lines/s");
    println!("  article design (Python, thread/conn)   : {p:9.0} lines/s");
    println!(
        "  ratio                                   : {:9.1}x",
        r / p.max(1.0)
    );
    drop(_rust);
    drop(_py);
    sync_file(&rt, secs);
}
