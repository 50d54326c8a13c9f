//! The counters for Prometheus: `GET /metrics` in the text exposition format (0.0.4), on an
//! address of its own (`--metrics-listen`), so that scraping never competes with devices.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::{Metrics, MetricsSnapshot};

/// Longest request head read; anything longer is answered 431.
const MAX_HEAD: usize = 8 * 1024;
/// A scraper that sends nothing for this long is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

impl MetricsSnapshot {
    /// The counters in Prometheus's text format (`scale_gateway_*`).
    pub fn prometheus(&self) -> String {
        let rows: [(&str, &str, &str, u64); 15] = [
            (
                "received_total",
                "counter",
                "Lines received from devices.",
                self.received,
            ),
            (
                "forwarded_total",
                "counter",
                "Events the sink accepted.",
                self.forwarded,
            ),
            (
                "rejected_total",
                "counter",
                "Malformed or over-long lines.",
                self.rejected,
            ),
            (
                "duplicates_total",
                "counter",
                "Lines dropped as repeated sequence numbers.",
                self.duplicates,
            ),
            (
                "queued",
                "gauge",
                "Events waiting for the sink.",
                self.queued,
            ),
            ("retries_total", "counter", "Sink retries.", self.retries),
            (
                "failed_total",
                "counter",
                "Events the sink refused for good.",
                self.failed,
            ),
            (
                "overflow_total",
                "counter",
                "Lines answered 503 because the queue was full.",
                self.overflow,
            ),
            (
                "connections_total",
                "counter",
                "Device connections accepted.",
                self.connections,
            ),
            (
                "refused_total",
                "counter",
                "Connections closed at once by the connection limits (total or per address).",
                self.refused,
            ),
            (
                "denied_total",
                "counter",
                "Connections from addresses outside the allow-list.",
                self.denied,
            ),
            (
                "timeouts_total",
                "counter",
                "Readings answered 503 in sync mode because the sink did not take them in time (not delivered).",
                self.timeouts,
            ),
            (
                "spool_skipped_total",
                "counter",
                "Damaged spool records skipped on replay.",
                self.spool_skipped,
            ),
            (
                "open_connections",
                "gauge",
                "Device connections open now.",
                self.open,
            ),
            (
                "dedupe_keys",
                "gauge",
                "(device, sensor, boot) keys in the duplicate table.",
                self.dedupe_keys,
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, value) in rows {
            out.push_str(&format!(
                "# HELP scale_gateway_{name} {help}\n# TYPE scale_gateway_{name} {kind}\nscale_gateway_{name} {value}\n"
            ));
        }
        out
    }
}

/// Serve `GET /metrics` until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let m = metrics.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(READ_TIMEOUT, answer(stream, &m)).await;
        });
    }
}

async fn answer(mut s: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(buf.get(..n).unwrap_or(&[]));
        if head.len() > MAX_HEAD {
            return reply(&mut s, "431 Request Header Fields Too Large", "").await;
        }
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or(&[]);
    let mut parts = line.split(|&b| b == b' ');
    let (method, path) = (parts.next().unwrap_or(&[]), parts.next().unwrap_or(&[]));
    match (method, path) {
        (b"GET", b"/metrics") => reply(&mut s, "200 OK", &metrics.snapshot().prometheus()).await,
        (b"GET", _) => reply(&mut s, "404 Not Found", "").await,
        _ => reply(&mut s, "405 Method Not Allowed", "").await,
    }
}

async fn reply(s: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let msg = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(msg.as_bytes()).await?;
    s.shutdown().await
}
