//! Lines per second accepted and forwarded to the stdout sink with 100 concurrent devices on
//! loopback, against the article's Python gateway design run the same way in the same run.
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

/// 100 devices, each sending a line and waiting for its status, for `secs`.
async fn load(port: u16, secs: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for d in 0..DEVICES {
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
                n += 1;
            }
            n
        }));
    }
    let start = Instant::now();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap_or(0);
    }
    total as f64 / start.elapsed().as_secs_f64().max(secs)
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
}
