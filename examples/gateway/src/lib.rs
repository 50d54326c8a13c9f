//! The gateway of the weight sensors, as a library (the binary is `scale-gateway`).
//!
//! Devices connect over TCP and send `<Type>:<value>,<SensorId>[,<seq>,<flags>,<dropped>]`
//! lines; each line is answered with a bare HTTP-style status (`201`, no line ending), as the
//! article's gateway does. Lines become JSON events that go to a [`sink::Sink`].

pub mod aggregate;
pub mod event;
pub mod prometheus;
pub mod protocol;
pub mod sas;
pub mod sink;
pub mod spool;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::aggregate::Windows;
use crate::event::{Event, now_iso8601};
use crate::protocol::parse_line;
use crate::sink::Sink;
use crate::spool::Spool;

/// When a device hears its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ReplyMode {
    /// After the sink accepted the reading (the article's synchronous status, `201`, or the
    /// sink's error status such as `401`).
    Sync,
    /// As soon as the reading is queued (and spooled, with a spool): `201`.
    Enqueue,
}

/// Gateway settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Listen address.
    pub listen: SocketAddr,
    /// `GatewayId` of the events.
    pub gateway_id: String,
    /// Longest accepted line, bytes.
    pub max_line: usize,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; more are closed on accept.
    pub max_connections: usize,
    /// Readings between devices and the sink.
    pub queue: usize,
    /// Reply mode.
    pub reply: ReplyMode,
    /// Most events per sink call.
    pub batch_max: usize,
    /// How long to wait for more events before a sink call.
    pub batch_linger: Duration,
    /// Durable spool directory.
    pub spool: Option<PathBuf>,
    /// Tumbling window for aggregates (`None`: no aggregates).
    pub window: Option<Duration>,
    /// Bytes without a line ending that count as one line once the device pauses this long
    /// (devices that send one reading per packet without a newline).
    pub flush_after: Duration,
    /// First retry delay after a retryable sink failure (doubles up to 5 s).
    pub retry_base: Duration,
    /// Where to serve `GET /metrics` for Prometheus (`None`: nowhere).
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: SocketAddr::from(([0, 0, 0, 0], 5001)),
            gateway_id: "gateway".into(),
            max_line: 256,
            idle_timeout: Duration::from_secs(300),
            max_connections: 1_000,
            queue: 10_000,
            reply: ReplyMode::Sync,
            batch_max: 100,
            batch_linger: Duration::from_millis(5),
            spool: None,
            window: None,
            flush_after: Duration::from_millis(100),
            retry_base: Duration::from_millis(100),
            metrics_listen: None,
        }
    }
}

/// Counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Lines received.
    pub received: AtomicU64,
    /// Events the sink accepted.
    pub forwarded: AtomicU64,
    /// Malformed or over-long lines.
    pub rejected: AtomicU64,
    /// Lines dropped as duplicates of a sequence number already seen.
    pub duplicates: AtomicU64,
    /// Events waiting for the sink.
    pub queued: AtomicU64,
    /// Sink retries.
    pub retries: AtomicU64,
    /// Events the sink refused for good (e.g. 401).
    pub failed: AtomicU64,
    /// Lines answered 503 because the queue was full.
    pub overflow: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections closed at once because of the connection limit.
    pub refused: AtomicU64,
}

/// A copy of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct MetricsSnapshot {
    pub received: u64,
    pub forwarded: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub queued: u64,
    pub retries: u64,
    pub failed: u64,
    pub overflow: u64,
    pub connections: u64,
    pub refused: u64,
}

impl Metrics {
    /// Read all counters.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        MetricsSnapshot {
            received: g(&self.received),
            forwarded: g(&self.forwarded),
            rejected: g(&self.rejected),
            duplicates: g(&self.duplicates),
            queued: g(&self.queued),
            retries: g(&self.retries),
            failed: g(&self.failed),
            overflow: g(&self.overflow),
            connections: g(&self.connections),
            refused: g(&self.refused),
        }
    }
}

fn inc(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// Where windowed aggregates are written (JSON lines).
pub type AggregateOut = Option<Box<dyn std::io::Write + Send>>;

struct Job {
    event: Event,
    reply: Option<oneshot::Sender<u16>>,
}

/// Recently seen sequence numbers per (device address, sensor id).
#[derive(Default)]
struct Dedupe {
    seen: HashMap<(String, String), VecDeque<u32>>,
}

impl Dedupe {
    const KEEP: usize = 256;

    /// `true` if `seq` is new (and records it).
    fn fresh(&mut self, device: &str, sensor: &str, seq: u32) -> bool {
        let q = self
            .seen
            .entry((device.to_string(), sensor.to_string()))
            .or_default();
        if q.contains(&seq) {
            return false;
        }
        // a much smaller number than before: the device restarted and counts from zero again
        if q.iter()
            .max()
            .is_some_and(|&m| seq.saturating_add(1_000) < m)
        {
            q.clear();
        }
        if q.len() == Self::KEEP {
            q.pop_front();
        }
        q.push_back(seq);
        true
    }
}

/// A running gateway.
pub struct Gateway {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    metrics_task: Option<tokio::task::JoinHandle<()>>,
    metrics: Arc<Metrics>,
    done: tokio::task::JoinHandle<()>,
    stop: Option<oneshot::Sender<()>>,
}

impl Gateway {
    /// Bind and start serving. `aggregates` receives the windowed aggregates as JSON lines.
    pub async fn start(
        opts: Options,
        sink: Sink,
        aggregates: AggregateOut,
    ) -> std::io::Result<Gateway> {
        let listener = TcpListener::bind(opts.listen).await?;
        let addr = listener.local_addr()?;
        let metrics = Arc::new(Metrics::default());
        let (metrics_addr, metrics_task) = match opts.metrics_listen {
            Some(at) => {
                let l = TcpListener::bind(at).await?;
                let a = l.local_addr()?;
                (
                    Some(a),
                    Some(tokio::spawn(prometheus::serve(l, metrics.clone()))),
                )
            }
            None => (None, None),
        };
        let (stop_tx, stop_rx) = oneshot::channel();
        let (spool, replay) = match &opts.spool {
            Some(dir) => {
                let (s, r) = Spool::open(dir, true)?;
                (Some(Arc::new(Mutex::new(s))), r)
            }
            None => (None, Vec::new()),
        };
        let (tx, rx) = mpsc::channel::<Job>(opts.queue.max(1) + replay.len());
        for event in replay {
            inc(&metrics.queued);
            let _ = tx.try_send(Job { event, reply: None });
        }
        let fwd = tokio::spawn(forward(
            rx,
            sink,
            opts.clone(),
            metrics.clone(),
            spool.clone(),
            aggregates,
        ));
        let m = metrics.clone();
        let done = tokio::spawn(async move {
            serve(listener, tx, opts, m, spool, stop_rx).await;
            // the sender side is gone: the forwarder drains the queue and ends
            let _ = fwd.await;
        });
        Ok(Gateway {
            addr,
            metrics_addr,
            metrics_task,
            metrics,
            done,
            stop: Some(stop_tx),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `GET /metrics` is served, if anywhere.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The counters.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot()
    }

    /// Stop accepting, deliver what is queued (at most `drain` long), and end.
    pub async fn shutdown(mut self, drain: Duration) -> MetricsSnapshot {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(drain, &mut self.done).await;
        self.done.abort();
        if let Some(t) = self.metrics_task.take() {
            t.abort();
        }
        self.metrics.snapshot()
    }

    /// Serve until `signal` completes, then shut down.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()>,
        drain: Duration,
    ) -> MetricsSnapshot {
        signal.await;
        self.shutdown(drain).await
    }
}

async fn serve(
    listener: TcpListener,
    tx: mpsc::Sender<Job>,
    opts: Options,
    metrics: Arc<Metrics>,
    spool: Option<Arc<Mutex<Spool>>>,
    mut stop: oneshot::Receiver<()>,
) {
    let limit = Arc::new(Semaphore::new(opts.max_connections));
    let dedupe = Arc::new(Mutex::new(Dedupe::default()));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            a = listener.accept() => a,
        };
        let Ok((stream, peer)) = accepted else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            inc(&metrics.refused);
            drop(stream);
            continue;
        };
        inc(&metrics.connections);
        let (tx, opts, metrics, spool, dedupe) = (
            tx.clone(),
            opts.clone(),
            metrics.clone(),
            spool.clone(),
            dedupe.clone(),
        );
        conns.spawn(async move {
            let _permit = permit;
            connection(stream, peer, tx, opts, metrics, spool, dedupe).await;
        });
        while conns.try_join_next().is_some() {}
    }
    conns.abort_all();
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    tx: mpsc::Sender<Job>,
    opts: Options,
    metrics: Arc<Metrics>,
    spool: Option<Arc<Mutex<Spool>>>,
    dedupe: Arc<Mutex<Dedupe>>,
) {
    let _ = stream.set_nodelay(true);
    let device = peer.ip().to_string();
    let mut buf: Vec<u8> = Vec::with_capacity(opts.max_line);
    let mut chunk = [0u8; 1024];
    let mut discarding = false;
    let mut last_data = Instant::now();
    loop {
        // complete lines first
        while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            if discarding {
                discarding = false;
                continue;
            }
            let body = line.get(..line.len() - 1).unwrap_or(&[]);
            if body.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let status = handle_line(body, &device, &tx, &opts, &metrics, &spool, &dedupe).await;
            if stream
                .write_all(status.to_string().as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
        if buf.len() > opts.max_line {
            // an endless line: answer once, drop it up to its end
            inc(&metrics.rejected);
            buf.clear();
            if !discarding {
                discarding = true;
                if stream.write_all(b"413").await.is_err() {
                    return;
                }
            }
        }
        let wait = if buf.is_empty() || discarding {
            opts.idle_timeout
        } else {
            opts.flush_after
        };
        match tokio::time::timeout(wait, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => {
                buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
                last_data = Instant::now();
            }
            Err(_) if !buf.is_empty() && !discarding => {
                // a reading sent without a line ending: the pause ends it
                let line = std::mem::take(&mut buf);
                let status =
                    handle_line(&line, &device, &tx, &opts, &metrics, &spool, &dedupe).await;
                if stream
                    .write_all(status.to_string().as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(_) => {
                if last_data.elapsed() >= opts.idle_timeout {
                    return;
                }
            }
        }
    }
}

async fn handle_line(
    raw: &[u8],
    device: &str,
    tx: &mpsc::Sender<Job>,
    opts: &Options,
    metrics: &Metrics,
    spool: &Option<Arc<Mutex<Spool>>>,
    dedupe: &Mutex<Dedupe>,
) -> u16 {
    inc(&metrics.received);
    let line = match parse_line(raw) {
        Ok(l) => l,
        Err(_) => {
            inc(&metrics.rejected);
            return 400;
        }
    };
    if let Some(seq) = line.seq {
        let fresh = match dedupe.lock() {
            Ok(mut d) => d.fresh(device, &line.sensor_id, seq),
            Err(_) => true,
        };
        if !fresh {
            inc(&metrics.duplicates);
            return 201;
        }
    }
    let event = Event::new(&line, &opts.gateway_id, device, now_iso8601());
    let (reply, rx) = match opts.reply {
        ReplyMode::Sync => {
            let (t, r) = oneshot::channel();
            (Some(t), Some(r))
        }
        ReplyMode::Enqueue => (None, None),
    };
    // the spool write and the enqueue happen under one lock, so the spool's order is the
    // forwarder's order
    let queued = {
        let guard = spool.as_ref().and_then(|s| s.lock().ok());
        let mut guard = guard;
        if let Some(s) = guard.as_deref_mut()
            && tx.capacity() > 0
            && s.append(&event).is_err()
        {
            return 503;
        }
        match tx.try_send(Job { event, reply }) {
            Ok(()) => true,
            Err(_) => false,
        }
    };
    if !queued {
        // full (or shutting down): the device keeps the reading and sends it again later
        inc(&metrics.overflow);
        return 503;
    }
    inc(&metrics.queued);
    match rx {
        Some(rx) => rx.await.unwrap_or(503),
        None => 201,
    }
}

async fn forward(
    mut rx: mpsc::Receiver<Job>,
    mut sink: Sink,
    opts: Options,
    metrics: Arc<Metrics>,
    spool: Option<Arc<Mutex<Spool>>>,
    mut aggregates: AggregateOut,
) {
    let mut windows = Windows::default();
    let window = opts.window;
    let mut window_end = window.map(|w| tokio::time::Instant::now() + w);
    loop {
        let first = match window_end {
            Some(end) => tokio::select! {
                j = rx.recv() => j,
                _ = tokio::time::sleep_until(end) => {
                    flush_windows(&mut windows, &mut aggregates);
                    window_end = window.map(|w| end + w);
                    continue;
                }
            },
            None => rx.recv().await,
        };
        let Some(first) = first else { break };
        let mut jobs = vec![first];
        let linger = tokio::time::Instant::now() + opts.batch_linger;
        while jobs.len() < opts.batch_max {
            match tokio::time::timeout_at(linger, rx.recv()).await {
                Ok(Some(j)) => jobs.push(j),
                _ => break,
            }
        }
        let batch: Vec<Event> = jobs.iter().map(|j| j.event.clone()).collect();
        let mut delay = opts.retry_base;
        let result = loop {
            match sink.send(&batch).await {
                Ok(s) => break Ok(s),
                Err(e) if e.retryable => {
                    inc(&metrics.retries);
                    eprintln!("sink: {e}; retrying in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(e) => break Err(e),
            }
        };
        let n = jobs.len() as u64;
        metrics.queued.fetch_sub(n, Ordering::Relaxed);
        let status = match &result {
            Ok(s) => {
                metrics.forwarded.fetch_add(n, Ordering::Relaxed);
                for e in &batch {
                    windows.add(&e.device_id, &e.sensor_id, &e.sensor_type, e.number());
                }
                *s
            }
            Err(e) => {
                eprintln!("sink: {e}; {n} events not forwarded");
                metrics.failed.fetch_add(n, Ordering::Relaxed);
                e.status
            }
        };
        if let Some(s) = &spool
            && let Ok(mut s) = s.lock()
        {
            let _ = s.delivered(n);
        }
        for j in jobs {
            if let Some(r) = j.reply {
                let _ = r.send(status);
            }
        }
    }
    flush_windows(&mut windows, &mut aggregates);
}

fn flush_windows(windows: &mut Windows, out: &mut AggregateOut) {
    let aggs = windows.close(&now_iso8601());
    if let Some(w) = out.as_mut() {
        for a in aggs {
            let _ = writeln!(w, "{}", serde_json::to_string(&a).unwrap_or_default());
        }
        let _ = w.flush();
    }
}
