#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A `Write` that keeps what was written, shared with the test.
#[derive(Clone, Default)]
pub struct Shared(pub Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    pub fn lines(&self) -> Vec<serde_json::Value> {
        let v = self.0.lock().unwrap().clone();
        String::from_utf8(v)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// Send one line as the article's sketch does (one send), read the bare status.
pub async fn send_line(s: &mut TcpStream, line: &str) -> String {
    s.write_all(line.as_bytes()).await.unwrap();
    read_status(s).await
}

pub async fn read_status(s: &mut TcpStream) -> String {
    let mut buf = [0u8; 3];
    tokio::time::timeout(Duration::from_secs(20), s.read_exact(&mut buf))
        .await
        .expect("status in time")
        .unwrap();
    String::from_utf8(buf.to_vec()).unwrap()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
