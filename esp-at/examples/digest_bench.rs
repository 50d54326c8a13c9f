//! Digester throughput: the ESP-specific digester against atat's stock `AtDigester`, on the same
//! long, mixed ESP-AT transcript, in the same run. Prints MB/s for both and the ratio.
//!
//! `cargo run --release -p esp-at --example digest_bench`

use std::hint::black_box;
use std::time::Instant;

use atat::digest::{ParseError, Parser};
use atat::{AtDigester, DigestResult, Digester};
use esp_at::EspDigester;

/// URCs atat's digester should know about, in its own matcher style (needs a leading CRLF).
struct EspUrcs;
impl Parser for EspUrcs {
    fn parse(buf: &[u8]) -> Result<(&[u8], usize), ParseError> {
        for token in [
            &b"\r\nWIFI CONNECTED\r\n"[..],
            b"\r\nWIFI GOT IP\r\n",
            b"\r\n0,CLOSED\r\n",
            b"\r\nready\r\n",
        ] {
            if buf.starts_with(token) {
                return Ok((buf.get(2..token.len() - 2).unwrap_or(&[]), token.len()));
            }
            if token.starts_with(buf) {
                return Err(ParseError::Incomplete);
            }
        }
        Err(ParseError::NoMatch)
    }
}

const CHUNK: &[u8] = b"\r\nOK\r\n\r\nWIFI CONNECTED\r\n\r\nWIFI GOT IP\r\n\r\nOK\r\n\
\r\n+CIFSR:STAIP,\"192.168.1.50\"\r\n+CIFSR:STAMAC,\"5c:cf:7f:00:00:01\"\r\n\r\nOK\r\n\
\r\nOK\r\n\r\n> \r\nRecv 30 bytes\r\n\r\nSEND OK\r\n\r\n+CIPRECVLEN:3,-1,-1,-1,-1\r\n\r\nOK\r\n\
\r\n+CWJAP:\"home\",\"aa:bb:cc:dd:ee:ff\",6,-52,0,0,0,0,0\r\n\r\nOK\r\n\r\nERROR\r\n\r\n0,CLOSED\r\n";

fn run(d: &mut dyn Digester, stream: &[u8], window: usize) -> (usize, f64) {
    let start = Instant::now();
    let mut events = 0;
    let mut pos = 0;
    let mut filled = window.min(stream.len());
    while pos < stream.len() {
        let buf = &stream[pos..filled];
        let (r, n) = d.digest(buf);
        if !matches!(r, DigestResult::None) {
            events += 1;
        }
        black_box(&r);
        if n == 0 {
            if filled == stream.len() {
                break;
            }
            filled = (filled + window).min(stream.len());
            if filled - pos > 4 * window {
                pos += 1; // resync
            }
            continue;
        }
        pos += n;
        filled = filled.max(pos).max((pos + window).min(stream.len()));
    }
    (events, start.elapsed().as_secs_f64())
}

fn main() {
    let mut stream = Vec::new();
    while stream.len() < 8 << 20 {
        stream.extend_from_slice(CHUNK);
    }
    let mb = stream.len() as f64 / 1e6;
    let mut best = (f64::MAX, f64::MAX);
    let mut counts = (0, 0);
    for _ in 0..5 {
        let (e1, t1) = run(&mut EspDigester, &stream, 256);
        let (e2, t2) = run(&mut AtDigester::<EspUrcs>::new(), &stream, 256);
        counts = (e1, e2);
        best = (best.0.min(t1), best.1.min(t2));
    }
    println!("transcript: {:.1} MB ({} bytes)", mb, stream.len());
    println!(
        "esp-at EspDigester : {:8.1} MB/s ({} events)",
        mb / best.0,
        counts.0
    );
    println!(
        "atat AtDigester    : {:8.1} MB/s ({} events)",
        mb / best.1,
        counts.1
    );
    println!("ratio              : {:8.2}x", best.1 / best.0);
}
