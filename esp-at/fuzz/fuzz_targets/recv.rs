//! The receive path on arbitrary payloads: a `+CIPRECVDATA` answer (with or without the
//! sender's address, either dialect) whose payload is built from modem words and random bytes,
//! cut at an arbitrary point: the payload comes back exactly, whole, and nothing in it is read
//! as a modem line; a block too large for a small buffer is recognised as a data block.
#![no_main]

use esp_at::digest::{Event, RemoteInfo, data_header, parse_with};
use libfuzzer_sys::fuzz_target;

const WORDS: [&[u8]; 10] = [
    b"\r\nready\r\n",
    b"\r\n0,CLOSED\r\n",
    b"\r\nOK\r\n",
    b"+IPD,0,5\r\n",
    b"+CIPRECVDATA:3,",
    b"\"1.2.3.4\",80,",
    b"WIFI DISCONNECT\r\n",
    b"busy p...\r\n",
    b"\r\nERROR\r\n",
    b">",
];

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    // the payload: modem words chosen by the bytes below 10, other bytes as they are
    let mut payload = Vec::new();
    for &b in rest.iter().take(600) {
        match WORDS.get(usize::from(b)) {
            Some(w) => payload.extend_from_slice(w),
            None => payload.push(b),
        }
    }
    payload.truncate(usize::try_from(esp_at::digest::MAX_PAYLOAD).unwrap_or(8192));
    let info = match ctl % 3 {
        0 => RemoteInfo::Off,
        1 => RemoteInfo::On,
        _ => RemoteInfo::Unknown,
    };
    let v1 = ctl & 0x80 != 0 && info == RemoteInfo::Off;
    let with_addr = info == RemoteInfo::On;
    let mut stream = if v1 {
        format!("+CIPRECVDATA,{}:", payload.len()).into_bytes()
    } else if with_addr {
        format!("+CIPRECVDATA:{},\"192.168.1.7\",5001,", payload.len()).into_bytes()
    } else {
        format!("+CIPRECVDATA:{},", payload.len()).into_bytes()
    };
    let head = stream.len();
    // without the setting known, a payload that starts with an address is the one ambiguous
    // case (the driver sets `AT+CIPDINFO=0` so that it never is): no panic is all we ask
    if info == RemoteInfo::Unknown && payload.first() == Some(&b'"') {
        stream.extend_from_slice(&payload);
        let _ = parse_with(&stream, info);
        let _ = data_header(&stream, info);
        return;
    }
    stream.extend_from_slice(&payload);
    stream.extend_from_slice(b"\r\nOK\r\n");
    // cut anywhere: before the whole block is there, nothing but "wait" or a data header
    let cut = usize::from(ctl >> 2) * stream.len() / 64;
    let part = &stream[..cut.min(stream.len())];
    let (ev, n) = parse_with(part, info);
    if part.len() < head + payload.len() {
        assert_eq!((n, format!("{ev:?}")), (0, format!("{:?}", Event::None)));
        // (with the setting unknown, the first payload byte tells whether an address follows)
        if part.len() > head || (part.len() == head && info != RemoteInfo::Unknown) {
            assert_eq!(data_header(part, info), Some((head, payload.len() as u32)));
        }
    }
    // whole: exactly the payload, then OK
    let (ev, n) = parse_with(&stream, info);
    match ev {
        Event::RecvData(d) => assert_eq!(d, &payload[..]),
        other => panic!("{other:?}"),
    }
    assert_eq!(n, head + payload.len());
    let tail = &stream[n..];
    let (ev, m) = parse_with(tail, info);
    assert!(matches!(ev, Event::None) && m == 2, "{ev:?}");
    assert!(matches!(parse_with(&tail[m..], info).0, Event::Ok));
});
