//! A gateway on 127.0.0.1 that behaves exactly like the article's Python gateway (feature
//! `std`): a thread per connection, each `recv(1024)` taken as one message, stripped, split on
//! `,` (the sensor id is field 1) and `:` (type and value), and answered with the bare status of
//! the upload (`201`, no line ending). For tests and the PC demo; it can be taken down and
//! brought back on the same port, and its answer can be changed.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::string::{String, ToString};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::vec::Vec;

/// One message as the article's gateway understood it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `SensorType` (before `:`).
    pub sensor_type: String,
    /// `SensorValue` (after `:`, before the first `,`).
    pub value: String,
    /// `SensorId` (field 1).
    pub sensor_id: String,
    /// Fields after the sensor id (the extended form), as text.
    pub extra: Vec<String>,
    /// The raw bytes of the `recv`.
    pub raw: Vec<u8>,
}

impl Message {
    /// The sequence number of the extended form.
    pub fn seq(&self) -> Option<u32> {
        self.extra.first()?.parse().ok()
    }

    /// The boot id of the extended form.
    pub fn boot(&self) -> Option<u32> {
        self.extra.get(3)?.parse().ok()
    }
}

/// A random boot id for a node on a PC (`Settings::boot_id`): the standard library's randomly
/// keyed hasher over the time and the process id. Never 0 (which asks the node to derive one).
pub fn random_boot_id() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.write_u32(std::process::id());
    let v = h.finish();
    ((v >> 32) as u32 ^ v as u32).max(1)
}

struct Shared {
    messages: Mutex<Vec<Message>>,
    down: AtomicBool,
    status: AtomicU16,
    conns: Mutex<Vec<TcpStream>>,
    /// The listening socket is open.
    listening: AtomicBool,
}

/// The gateway. Dropping it stops it.
pub struct ArticleGateway {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl ArticleGateway {
    /// Listen on `127.0.0.1:port` (0: any free port).
    pub fn start(port: u16) -> std::io::Result<ArticleGateway> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            messages: Mutex::new(Vec::new()),
            down: AtomicBool::new(false),
            status: AtomicU16::new(201),
            conns: Mutex::new(Vec::new()),
            listening: AtomicBool::new(true),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, st) = (shared.clone(), stop.clone());
        std::thread::spawn(move || accept_loop(listener, addr, sh, st));
        Ok(ArticleGateway { addr, shared, stop })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Messages received so far.
    pub fn messages(&self) -> Vec<Message> {
        lock(&self.shared.messages).clone()
    }

    /// Take the gateway down (`true`: connections are cut and refused) or back up. Returns
    /// once the listening socket is closed or open again (at most about 2 s), so a caller
    /// running on virtual time sees the change at once.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
        if down {
            for c in lock(&self.shared.conns).drain(..) {
                let _ = c.shutdown(Shutdown::Both);
            }
        }
        for _ in 0..2_000 {
            if self.shared.listening.load(Ordering::SeqCst) != down
                || self.stop.load(Ordering::SeqCst)
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The status answered from now on (201 by default; e.g. 500 for a failed upload).
    pub fn set_status(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }
}

impl Drop for ArticleGateway {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.set_down(true);
    }
}

fn accept_loop(listener: TcpListener, addr: SocketAddr, sh: Arc<Shared>, stop: Arc<AtomicBool>) {
    let mut listener = Some(listener);
    while !stop.load(Ordering::SeqCst) {
        if sh.down.load(Ordering::SeqCst) {
            // closed: connection attempts are refused
            listener = None;
            sh.listening.store(false, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let l = match &listener {
            Some(l) => l,
            None => match TcpListener::bind(addr) {
                Ok(l) => {
                    let _ = l.set_nonblocking(true);
                    listener = Some(l);
                    sh.listening.store(true, Ordering::SeqCst);
                    continue;
                }
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
            },
        };
        match l.accept() {
            Ok((s, _)) => {
                let _ = s.set_nonblocking(false);
                if let Ok(c) = s.try_clone() {
                    lock(&sh.conns).push(c);
                }
                let sh = sh.clone();
                std::thread::spawn(move || handle(s, sh));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

fn handle(mut s: TcpStream, sh: Arc<Shared>) {
    let mut buf = [0u8; 1024];
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if sh.down.load(Ordering::SeqCst) {
            return;
        }
        let raw = buf.get(..n).unwrap_or(&[]).to_vec();
        let text = String::from_utf8_lossy(&raw).trim().to_string();
        let fields: Vec<&str> = text.split(',').collect();
        let (Some(first), Some(sensor)) = (fields.first(), fields.get(1)) else {
            // the Python gateway dies here with an IndexError: the connection ends
            return;
        };
        let mut tv = first.splitn(2, ':');
        let msg = Message {
            sensor_type: tv.next().unwrap_or("").to_string(),
            value: tv.next().unwrap_or("").to_string(),
            sensor_id: sensor.to_string(),
            extra: fields.iter().skip(2).map(|f| f.to_string()).collect(),
            raw,
        };
        lock(&sh.messages).push(msg);
        let status = sh.status.load(Ordering::SeqCst).to_string();
        if s.write_all(status.as_bytes()).is_err() {
            return;
        }
    }
}
