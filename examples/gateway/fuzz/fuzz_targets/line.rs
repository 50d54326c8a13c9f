//! The gateway's device-line parser and duplicate table on arbitrary bytes: no panic; a line
//! that parses has the fields the JSON event and the sinks rely on, and parses the same when
//! written back; the duplicate table answers as a plain set of accepted numbers within its
//! window would.
#![no_main]

#[path = "../../src/protocol.rs"]
#[allow(dead_code)]
mod protocol;
#[path = "../../src/dedupe.rs"]
#[allow(dead_code)]
mod dedupe;

use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;

fuzz_target!(|data: &[u8]| {
    // the parser: data up to the first byte 0xF7, the rest drives the table
    let (line, rest) = match data.iter().position(|&b| b == 0xF7) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(l) = protocol::parse_line(line) {
        for f in [&l.sensor_type, &l.sensor_id, &l.value] {
            assert!(!f.is_empty() && f.len() <= 64);
            assert!(f.bytes().all(|b| b.is_ascii_graphic()));
            assert!(!f.contains(','));
        }
        assert!(!l.sensor_type.contains(':'));
        assert!(l.number.is_finite());
        let mut again = format!("{}:{},{}", l.sensor_type, l.value, l.sensor_id);
        for n in [l.seq, l.flags, l.dropped, l.boot].into_iter().map_while(|n| n) {
            again.push_str(&format!(",{n}"));
        }
        assert_eq!(protocol::parse_line(again.as_bytes()).ok(), Some(l));
    }
    // the table, against a model: (op, seq) pairs of 5 bytes
    let mut d = dedupe::Dedupe::new(4);
    let key = dedupe::Key {
        device: "d".into(),
        sensor: "s".into(),
        boot: 1,
    };
    let mut accepted: HashSet<u32> = HashSet::new();
    let mut top: Option<u32> = None;
    for c in rest.chunks_exact(5).take(64) {
        let seq = u32::from_le_bytes([c[1], c[2], c[3], c[4]]) % 2_000;
        if c[0] & 1 == 0 {
            d.accepted(&key, seq);
            accepted.insert(seq);
            top = Some(top.map_or(seq, |t| t.max(seq)));
        } else {
            let seen = d.seen(&key, seq);
            let in_window = top.is_some_and(|t| seq <= t && t - seq < dedupe::WINDOW);
            // inside the window the table is exact; outside it, never a false duplicate
            if in_window {
                assert_eq!(seen, accepted.contains(&seq), "seq {seq} top {top:?}");
            } else {
                assert!(!seen || accepted.contains(&seq));
            }
        }
    }
});
