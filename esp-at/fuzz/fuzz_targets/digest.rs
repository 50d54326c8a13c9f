//! The digester and the response parsers on arbitrary bytes, cut at an arbitrary point:
//! no panic, every call consumes or waits, and cutting the input never changes the events.
#![no_main]

use atat::Digester;
use esp_at::digest::{parse, parse_full};
use libfuzzer_sys::fuzz_target;

fn events(data: &[u8], cut: usize, cap: usize) -> Vec<String> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut fed = 0;
    loop {
        loop {
            let (ev, n) = parse(&buf);
            let (ev, n) = if n == 0 && buf.len() >= cap { parse_full(&buf) } else { (ev, n) };
            if n == 0 {
                break;
            }
            assert!(n <= buf.len());
            out.push(format!("{ev:?}"));
            buf.drain(..n);
        }
        if fed >= data.len() {
            return out;
        }
        let step = cut.max(1).min(data.len() - fed).min(cap - buf.len());
        buf.extend_from_slice(&data[fed..fed + step]);
        fed += step;
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&cut, data)) = input.split_first() else { return };
    // a buffer larger than any input: no discards, so the cut must not matter
    let whole = events(data, usize::MAX, 1 << 16);
    let pieces = events(data, usize::from(cut), 1 << 16);
    let strip = |v: Vec<String>| v.into_iter().filter(|e| e != "None").collect::<Vec<_>>();
    assert_eq!(strip(whole), strip(pieces));
    // a small buffer that must discard: still no panic
    let _ = events(data, usize::from(cut), 64);
    let mut d = esp_at::EspDigester;
    let mut pos = 0;
    while pos < data.len() {
        let (_, n) = d.digest(&data[pos..]);
        if n == 0 {
            break;
        }
        pos += n;
    }
    for line in data.split(|&b| b == b'\n') {
        let _ = esp_at::Version::parse_gmr_line(line);
    }
});
