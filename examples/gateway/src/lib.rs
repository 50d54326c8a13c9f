//! The gateway of the weight sensors, as a library (the binary is `scale-gateway`).
//!
//! Devices connect over TCP and send `<Type>:<value>,<SensorId>[,<seq>,<flags>,<dropped>]`
//! lines; each line is answered with a bare HTTP-style status (`201`, no line ending), as the
//! article's gateway does. Lines become JSON events that go to a [`sink::Sink`].

pub mod admission;
pub mod aggregate;
pub mod dedupe;
pub mod event;
pub mod prometheus;
pub mod protocol;
pub mod sas;
pub mod sink;
pub mod spool;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use std::io::Write as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;

use crate::admission::{Network, PerAddress, allowed};
use crate::aggregate::Windows;
use crate::dedupe::{Dedupe, Key};
use crate::event::{Event, now_iso8601};
use crate::protocol::parse_line;
use crate::sink::{Failure, Sink};
use crate::spool::{DeadLetter, Position, Spool};

/// When a device hears its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ReplyMode {
    /// After the sink accepted the reading (the article's synchronous status, `201`, or the
    /// sink's error status such as `401`). A reading the sink did not take within
    /// [`Options::sync_timeout`] is answered `503` and not delivered.
    Sync,
    /// As soon as the reading is queued (and spooled, with a spool): `201`.
    Enqueue,
}

/// Gateway settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Listen address (default `127.0.0.1:5001`: devices on the network need `0.0.0.0:5001`
    /// or the gateway's own address, ideally with an [`allow`](Self::allow) list).
    pub listen: SocketAddr,
    /// `GatewayId` of the events.
    pub gateway_id: String,
    /// Longest accepted line, bytes.
    pub max_line: usize,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
    /// A status that cannot be written within this long (a peer that does not read) closes
    /// the connection.
    pub write_timeout: Duration,
    /// Connections served at once; more are closed on accept.
    pub max_connections: usize,
    /// Connections one address may hold at once; more from it are closed on accept.
    pub max_per_address: usize,
    /// Addresses or networks that may connect (empty: every address).
    pub allow: Vec<Network>,
    /// Readings between devices and the sink.
    pub queue: usize,
    /// Reply mode.
    pub reply: ReplyMode,
    /// In `sync` mode, the longest a device waits for the sink: then it hears `503` and the
    /// reading is not delivered (the device keeps it and sends it again). Keep it below the
    /// devices' own wait for a status (3 s for scale-node).
    pub sync_timeout: Duration,
    /// Most events per sink call.
    pub batch_max: usize,
    /// How long to wait for more events before a sink call (0: take only what is already
    /// queued, so a lone device is never held back and batches form only under load).
    pub batch_linger: Duration,
    /// Durable spool directory.
    pub spool: Option<PathBuf>,
    /// Where events the sink refuses for good are kept (default: `dead-letter.jsonl` in the
    /// spool directory; without either, they are written to stderr).
    pub dead_letter: Option<PathBuf>,
    /// Keys of the duplicate table (device, sensor, boot); least recently used go first.
    pub dedupe_capacity: usize,
    /// Tumbling window for aggregates (`None`: no aggregates).
    pub window: Option<Duration>,
    /// For devices that end a reading by pausing instead of a line ending: bytes without a
    /// line ending count as one line once the device pauses this long. Only on connections
    /// that have not sent a line ending yet; off by default, so that a line split by a pause
    /// is never taken for two.
    pub flush_after: Option<Duration>,
    /// First retry delay after a retryable sink failure (doubles up to 5 s).
    pub retry_base: Duration,
    /// Where to serve `GET /metrics` for Prometheus (`None`: nowhere).
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 5001)),
            gateway_id: "gateway".into(),
            max_line: 256,
            idle_timeout: Duration::from_secs(300),
            write_timeout: Duration::from_secs(10),
            max_connections: 1_000,
            max_per_address: 64,
            allow: Vec::new(),
            queue: 10_000,
            reply: ReplyMode::Sync,
            sync_timeout: Duration::from_secs(2),
            batch_max: 100,
            batch_linger: Duration::ZERO,
            spool: None,
            dead_letter: None,
            dedupe_capacity: 100_000,
            window: None,
            flush_after: None,
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
    /// Malformed or over-long lines, and lines the sink could never deliver (`400`).
    pub rejected: AtomicU64,
    /// Lines dropped as duplicates of a reading already accepted.
    pub duplicates: AtomicU64,
    /// Events waiting for the sink.
    pub queued: AtomicU64,
    /// Sink retries.
    pub retries: AtomicU64,
    /// Events the sink refused for good (kept in the dead-letter file).
    pub failed: AtomicU64,
    /// Lines answered 503 because the queue was full (or the spool could not be written).
    pub overflow: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections closed at once because of the connection limits.
    pub refused: AtomicU64,
    /// Connections from addresses outside the allow-list.
    pub denied: AtomicU64,
    /// `sync` readings answered 503 because the sink did not take them in time.
    pub timeouts: AtomicU64,
    /// Damaged spool records skipped on replay.
    pub spool_skipped: AtomicU64,
    /// Device connections open now.
    pub open: AtomicU64,
    /// Keys in the duplicate table now.
    pub dedupe_keys: AtomicU64,
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
    pub denied: u64,
    pub timeouts: u64,
    pub spool_skipped: u64,
    pub open: u64,
    pub dedupe_keys: u64,
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
            denied: g(&self.denied),
            timeouts: g(&self.timeouts),
            spool_skipped: g(&self.spool_skipped),
            open: g(&self.open),
            dedupe_keys: g(&self.dedupe_keys),
        }
    }
}

fn inc(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// Where windowed aggregates are written (JSON lines).
pub type AggregateOut = Option<Box<dyn std::io::Write + Send>>;

/// The soft limit on open files of this process (Linux: `/proc/self/limits`), if known.
pub fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Files the gateway needs besides its device connections (listeners, spool, sink, runtime).
pub const RESERVED_FILES: u64 = 64;

struct Job {
    event: Event,
    /// (key, seq) to record as accepted once the sink took it (`sync` mode).
    key: Option<(Key, u32)>,
    reply: Option<oneshot::Sender<u16>>,
    /// `sync` mode: when the device stops waiting.
    deadline: Option<Instant>,
    pos: Option<Position>,
}

/// Put `job` in the queue if there is room; the `queued` gauge counts it first, so that the
/// forwarder, which may take it at once, never counts below zero.
fn enqueue(tx: &mpsc::Sender<Job>, job: Job, metrics: &Metrics) -> bool {
    metrics.queued.fetch_add(1, Ordering::Relaxed);
    let ok = tx.try_send(job).is_ok();
    if !ok {
        metrics.queued.fetch_sub(1, Ordering::Relaxed);
    }
    ok
}

enum SpoolMsg {
    Append(Box<Job>, oneshot::Sender<bool>),
    Commit(Position),
    /// No more appends: let go of the queue so that the forwarder can drain it and end.
    Close,
}

/// The spool's own thread: appends arrive from every connection and are written together,
/// with one sync for all that are waiting (group commit), then queued in spool order.
fn spool_thread(
    mut spool: Spool,
    rx: std::sync::mpsc::Receiver<SpoolMsg>,
    tx: mpsc::Sender<Job>,
    metrics: Arc<Metrics>,
) {
    let mut tx = Some(tx);
    while let Ok(first) = rx.recv() {
        let mut msgs = vec![first];
        while msgs.len() < 4_096 {
            match rx.try_recv() {
                Ok(m) => msgs.push(m),
                Err(_) => break,
            }
        }
        let mut commit = None;
        let mut appends = Vec::new();
        for m in msgs {
            match m {
                SpoolMsg::Append(j, a) => appends.push((j, a)),
                SpoolMsg::Commit(p) => commit = commit.max(Some(p)),
                SpoolMsg::Close => tx = None,
            }
        }
        let room = tx.as_ref().map_or(0, |t| t.capacity());
        let refuse = appends.split_off(room.min(appends.len()));
        for (_, a) in refuse {
            let _ = a.send(false);
        }
        if let Some(q) = tx.as_ref().filter(|_| !appends.is_empty()) {
            let events: Vec<Event> = appends.iter().map(|(j, _)| j.event.clone()).collect();
            match spool.append(&events) {
                Ok(pos) => {
                    for ((j, a), p) in appends.into_iter().zip(pos) {
                        let mut j = *j;
                        j.pos = Some(p);
                        let _ = a.send(enqueue(q, j, &metrics));
                    }
                }
                Err(e) => {
                    eprintln!("spool: cannot write: {e}; answering 503");
                    for (_, a) in appends {
                        let _ = a.send(false);
                    }
                }
            }
        }
        if let Some(p) = commit
            && let Err(e) = spool.commit(p)
        {
            eprintln!("spool: cannot commit the offset: {e}");
        }
    }
}

/// How accepted readings get into the queue.
#[derive(Clone)]
enum Door {
    Queue(mpsc::Sender<Job>),
    Spool(std::sync::mpsc::Sender<SpoolMsg>),
}

/// What the connections share.
struct Shared {
    opts: Options,
    metrics: Arc<Metrics>,
    door: Door,
    dedupe: Arc<Mutex<Dedupe>>,
    /// The sink's rules for what it can deliver (checked at the door).
    mqtt_levels: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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
    /// With a spool, what it holds undelivered is queued first, in order; damaged records are
    /// skipped and reported on stderr.
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
        let opened = match opts.spool.clone() {
            Some(dir) => Some(
                tokio::task::spawn_blocking(move || Spool::open(&dir, true))
                    .await
                    .map_err(std::io::Error::other)??,
            ),
            None => None,
        };
        let dead_path = opts
            .dead_letter
            .clone()
            .or_else(|| opts.spool.as_ref().map(|d| d.join("dead-letter.jsonl")));
        let dead = match dead_path {
            Some(p) => Some(Arc::new(Mutex::new(DeadLetter::open(&p)?))),
            None => None,
        };
        let replayed = opened.as_ref().map_or(0, |(_, r)| r.events.len());
        let (tx, rx) = mpsc::channel::<Job>(opts.queue.max(1) + replayed);
        let mut commits = None;
        let mut spool_thread_handle = None;
        let door = match opened {
            Some((spool, replay)) => {
                for note in &replay.notes {
                    eprintln!("spool: {note}");
                }
                metrics
                    .spool_skipped
                    .fetch_add(replay.skipped, Ordering::Relaxed);
                if !replay.events.is_empty() {
                    eprintln!(
                        "spool: {} readings not yet delivered, sending them first",
                        replay.events.len()
                    );
                }
                for (event, pos) in replay.events {
                    inc(&metrics.queued);
                    let _ = tx.try_send(Job {
                        event,
                        key: None,
                        reply: None,
                        deadline: None,
                        pos: Some(pos),
                    });
                }
                let (stx, srx) = std::sync::mpsc::channel();
                let m = metrics.clone();
                spool_thread_handle = Some(
                    std::thread::Builder::new()
                        .name("spool".into())
                        .spawn(move || spool_thread(spool, srx, tx, m))?,
                );
                commits = Some(stx.clone());
                Door::Spool(stx)
            }
            None => Door::Queue(tx),
        };
        let dedupe = Arc::new(Mutex::new(Dedupe::new(opts.dedupe_capacity)));
        let shared = Arc::new(Shared {
            opts: opts.clone(),
            metrics: metrics.clone(),
            door,
            dedupe: dedupe.clone(),
            mqtt_levels: matches!(sink, Sink::Mqtt(_)),
        });
        let fwd = tokio::spawn(forward(
            rx,
            sink,
            Forwarder {
                opts: opts.clone(),
                metrics: metrics.clone(),
                commits,
                dead,
                dedupe,
            },
            aggregates,
        ));
        let done = tokio::spawn(async move {
            serve(listener, shared, stop_rx).await;
            // the senders are gone: the forwarder drains the queue and ends
            let _ = fwd.await;
            // and the spool commits what was delivered
            if let Some(h) = spool_thread_handle {
                let _ = tokio::task::spawn_blocking(move || h.join()).await;
            }
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

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let opts = &shared.opts;
    let limit = Arc::new(Semaphore::new(opts.max_connections));
    let per_address = PerAddress::new(opts.max_per_address);
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            a = listener.accept() => a,
        };
        let Ok((stream, peer)) = accepted else {
            // out of file descriptors, most likely: let connections close
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if !allowed(&opts.allow, peer.ip()) {
            inc(&shared.metrics.denied);
            continue;
        }
        let Some(slot) = per_address.take(peer.ip()) else {
            inc(&shared.metrics.refused);
            continue;
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            inc(&shared.metrics.refused);
            continue;
        };
        inc(&shared.metrics.connections);
        inc(&shared.metrics.open);
        let shared = shared.clone();
        conns.spawn(async move {
            let _held = (permit, slot);
            connection(stream, peer, &shared).await;
            shared.metrics.open.fetch_sub(1, Ordering::Relaxed);
        });
        while conns.try_join_next().is_some() {}
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
    if let Door::Spool(s) = &shared.door {
        let _ = s.send(SpoolMsg::Close);
    }
}

/// Write a status, within the write deadline.
async fn answer(stream: &mut TcpStream, status: u16, within: Duration) -> bool {
    let text = status.to_string();
    matches!(
        tokio::time::timeout(within, stream.write_all(text.as_bytes())).await,
        Ok(Ok(()))
    )
}

/// Kernel send buffer of a device connection: statuses are 3 bytes, so this holds thousands of
/// them, and a peer that never reads holds at most this much kernel memory (the default grows
/// to megabytes) before the write deadline cuts it.
const DEVICE_SEND_BUFFER: usize = 16 * 1024;

async fn connection(mut stream: TcpStream, peer: SocketAddr, shared: &Shared) {
    let opts = &shared.opts;
    let _ = stream.set_nodelay(true);
    let _ = socket2::SockRef::from(&stream).set_send_buffer_size(DEVICE_SEND_BUFFER);
    let device = peer.ip().to_string();
    let mut buf: Vec<u8> = Vec::with_capacity(opts.max_line);
    let mut chunk = [0u8; 1024];
    let mut discarding = false;
    // a connection that has ended a line once ends all its lines: no pause-flush for it
    let mut terminated = false;
    let mut last_data = Instant::now();
    loop {
        // complete lines first (`\n`, `\r\n` or `\r` alone)
        while let Some(end) = buf.iter().position(|&b| b == b'\n' || b == b'\r') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            terminated = true;
            if discarding {
                discarding = false;
                continue;
            }
            let body = line.get(..line.len() - 1).unwrap_or(&[]);
            if body.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let status = handle_line(body, &device, shared).await;
            if !answer(&mut stream, status, opts.write_timeout).await {
                return;
            }
        }
        if buf.len() > opts.max_line {
            // an endless line: answer once, drop it up to its end
            inc(&shared.metrics.rejected);
            buf.clear();
            if !discarding {
                discarding = true;
                if !answer(&mut stream, 413, opts.write_timeout).await {
                    return;
                }
            }
        }
        let flush = opts
            .flush_after
            .filter(|_| !terminated && !buf.is_empty() && !discarding);
        let idle_left = opts.idle_timeout.saturating_sub(last_data.elapsed());
        let wait = flush.map_or(idle_left, |f| f.min(idle_left));
        match tokio::time::timeout(wait, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => {
                buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
                last_data = Instant::now();
            }
            Err(_) if flush.is_some() && last_data.elapsed() < opts.idle_timeout => {
                // a reading sent without a line ending: the pause ends it
                let line = std::mem::take(&mut buf);
                let status = handle_line(&line, &device, shared).await;
                if !answer(&mut stream, status, opts.write_timeout).await {
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

async fn handle_line(raw: &[u8], device: &str, shared: &Shared) -> u16 {
    let (opts, metrics) = (&shared.opts, &*shared.metrics);
    inc(&metrics.received);
    let line = match parse_line(raw) {
        Ok(l) => l,
        Err(_) => {
            inc(&metrics.rejected);
            return 400;
        }
    };
    // a reading the sink could never deliver is refused now, not accepted and then stuck
    if shared.mqtt_levels && !sink::mqtt_level_ok(&line.sensor_type) {
        inc(&metrics.rejected);
        return 400;
    }
    let key = match (line.seq, line.boot) {
        (Some(seq), Some(boot)) => Some((
            Key {
                device: device.to_string(),
                sensor: line.sensor_id.clone(),
                boot,
            },
            seq,
        )),
        _ => None,
    };
    if let Some((k, seq)) = &key
        && lock(&shared.dedupe).seen(k, *seq)
    {
        inc(&metrics.duplicates);
        return 201;
    }
    let event = Event::new(&line, &opts.gateway_id, device, now_iso8601());
    let (reply, rx, deadline) = match opts.reply {
        ReplyMode::Sync => {
            let (t, r) = oneshot::channel();
            (Some(t), Some(r), Some(Instant::now() + opts.sync_timeout))
        }
        ReplyMode::Enqueue => (None, None, None),
    };
    let sync_key = if opts.reply == ReplyMode::Sync {
        key.clone()
    } else {
        None
    };
    let job = Job {
        event,
        key: sync_key,
        reply,
        deadline,
        pos: None,
    };
    let queued = match &shared.door {
        Door::Queue(tx) => enqueue(tx, job, metrics),
        Door::Spool(s) => {
            let (a, r) = oneshot::channel();
            s.send(SpoolMsg::Append(Box::new(job), a)).is_ok() && r.await.unwrap_or(false)
        }
    };
    if !queued {
        // full (or shutting down): the device keeps the reading and sends it again later
        inc(&metrics.overflow);
        return 503;
    }
    match rx {
        // the forwarder answers every job by its deadline; the margin covers a sink call
        // that was under way when the deadline passed
        Some(rx) => match tokio::time::timeout(opts.sync_timeout * 2, rx).await {
            Ok(Ok(status)) => status,
            _ => 503,
        },
        None => {
            if let Some((k, seq)) = &key {
                let mut d = lock(&shared.dedupe);
                d.accepted(k, *seq);
                metrics.dedupe_keys.store(d.len() as u64, Ordering::Relaxed);
            }
            201
        }
    }
}

struct Forwarder {
    opts: Options,
    metrics: Arc<Metrics>,
    commits: Option<std::sync::mpsc::Sender<SpoolMsg>>,
    dead: Option<Arc<Mutex<DeadLetter>>>,
    dedupe: Arc<Mutex<Dedupe>>,
}

async fn forward(
    mut rx: mpsc::Receiver<Job>,
    mut sink: Sink,
    f: Forwarder,
    mut aggregates: AggregateOut,
) {
    let mut windows = Windows::default();
    let window = f.opts.window;
    let mut window_end = window.map(|w| Instant::now() + w);
    loop {
        let first = match window_end {
            Some(end) => tokio::select! {
                j = rx.recv() => j,
                _ = tokio::time::sleep_until(end) => {
                    flush_windows(&mut windows, &mut aggregates).await;
                    window_end = window.map(|w| end + w);
                    continue;
                }
            },
            None => rx.recv().await,
        };
        let Some(first) = first else { break };
        // what is queued already joins the batch; waiting for more only if asked to
        let mut jobs = vec![first];
        while jobs.len() < f.opts.batch_max {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        if !f.opts.batch_linger.is_zero() {
            let linger = Instant::now() + f.opts.batch_linger;
            while jobs.len() < f.opts.batch_max {
                match tokio::time::timeout_at(linger, rx.recv()).await {
                    Ok(Some(j)) => jobs.push(j),
                    _ => break,
                }
            }
        }
        let n = jobs.len() as u64;
        let last = jobs.iter().filter_map(|j| j.pos).max();
        deliver(jobs, &mut sink, &f, &mut windows).await;
        f.metrics.queued.fetch_sub(n, Ordering::Relaxed);
        if let (Some(p), Some(c)) = (last, &f.commits) {
            let _ = c.send(SpoolMsg::Commit(p));
        }
    }
    flush_windows(&mut windows, &mut aggregates).await;
}

/// Deliver a batch: retried while the failure is transient, events the sink refuses for good
/// isolated and kept in the dead-letter file, `sync` devices answered by their deadline.
async fn deliver(mut jobs: Vec<Job>, sink: &mut Sink, f: &Forwarder, windows: &mut Windows) {
    let mut delay = f.opts.retry_base;
    loop {
        // `sync` devices that stopped waiting hear 503; their readings are not delivered
        let now = Instant::now();
        jobs.retain_mut(|j| {
            if j.deadline.is_some_and(|d| d <= now) {
                if let Some(r) = j.reply.take() {
                    let _ = r.send(503);
                }
                inc(&f.metrics.timeouts);
                false
            } else {
                true
            }
        });
        if jobs.is_empty() {
            return;
        }
        let batch: Vec<Event> = jobs.iter().map(|j| j.event.clone()).collect();
        let e = match sink.send(&batch).await {
            Ok(status) => {
                f.metrics
                    .forwarded
                    .fetch_add(jobs.len() as u64, Ordering::Relaxed);
                let mut d = lock(&f.dedupe);
                for j in &mut jobs {
                    windows.add(
                        &j.event.device_id,
                        &j.event.sensor_id,
                        &j.event.sensor_type,
                        j.event.number(),
                    );
                    if let Some((k, seq)) = &j.key {
                        d.accepted(k, *seq);
                    }
                    if let Some(r) = j.reply.take() {
                        let _ = r.send(status);
                    }
                }
                f.metrics
                    .dedupe_keys
                    .store(d.len() as u64, Ordering::Relaxed);
                return;
            }
            Err(e) => e,
        };
        match e.kind {
            Failure::Refused if jobs.len() > 1 => {
                // find the ones the sink refuses: one by one, in order
                for j in jobs {
                    Box::pin(deliver(vec![j], sink, f, windows)).await;
                }
                return;
            }
            Failure::Refused => {
                for mut j in jobs {
                    eprintln!("sink: {e}; kept in the dead-letter file");
                    inc(&f.metrics.failed);
                    keep_dead(f, &j.event, &e).await;
                    if let Some(r) = j.reply.take() {
                        let _ = r.send(e.status);
                    }
                }
                return;
            }
            Failure::Unauthorized => {
                // not the readings' fault: `sync` devices hear the status and keep their
                // readings; accepted ones wait until the configuration is fixed
                jobs.retain_mut(|j| match j.reply.take() {
                    Some(r) => {
                        let _ = r.send(e.status);
                        false
                    }
                    None => true,
                });
                if jobs.is_empty() {
                    return;
                }
                inc(&f.metrics.retries);
                eprintln!(
                    "sink: {e}; {} accepted readings wait, retrying in {delay:?}",
                    jobs.len()
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(60));
            }
            Failure::Transient => {
                inc(&f.metrics.retries);
                eprintln!("sink: {e}; retrying in {delay:?}");
                // a `sync` device is answered by its deadline even while the sink is away
                let wake = jobs
                    .iter()
                    .filter_map(|j| j.deadline)
                    .min()
                    .map_or(delay, |d| {
                        d.saturating_duration_since(Instant::now()).min(delay)
                    });
                tokio::time::sleep(wake).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn keep_dead(f: &Forwarder, ev: &Event, e: &sink::SinkError) {
    let Some(d) = &f.dead else {
        eprintln!("dead letter: {}", ev.to_json());
        return;
    };
    let (d, owned, status, msg) = (d.clone(), ev.clone(), e.status, e.message.clone());
    let r = tokio::task::spawn_blocking(move || lock(&d).keep(&owned, status, &msg)).await;
    if !matches!(r, Ok(Ok(()))) {
        // the file is gone or full: the event still goes somewhere a person can find it
        eprintln!("dead letter (file not writable): {}", ev.to_json());
    }
}

async fn flush_windows(windows: &mut Windows, out: &mut AggregateOut) {
    let aggs = windows.close(&now_iso8601());
    let Some(w) = out.as_mut() else { return };
    let mut text = String::new();
    for a in aggs {
        text.push_str(&serde_json::to_string(&a).unwrap_or_default());
        text.push('\n');
    }
    let mut writer = std::mem::replace(w, Box::new(std::io::sink()));
    if let Ok(back) = tokio::task::spawn_blocking(move || {
        let _ = writer.write_all(text.as_bytes());
        let _ = writer.flush();
        writer
    })
    .await
    {
        *w = back;
    }
}
