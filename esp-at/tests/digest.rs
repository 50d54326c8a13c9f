//! Parsing of every response and URC, in both dialects; cut-invariance; no panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use atat::Digester;
use esp_at::digest::{Event, RemoteInfo, parse};
use esp_at::escape::{escaped_len, unescape};
use proptest::prelude::*;

/// An owned copy of an event, for comparing streams.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Ok,
    Error,
    Fail,
    SendOk,
    SendFail,
    Prompt,
    Busy,
    AlreadyConnected,
    ErrCode(u32),
    Recv(u32),
    Urc(String),
    Data(Option<u8>, Vec<u8>),
    Pending(Option<u8>, u32),
    RecvData(Vec<u8>),
    Echo(Vec<u8>),
    Line(Vec<u8>),
    Noise(usize),
}

fn own(e: Event<'_>) -> Option<Ev> {
    Some(match e {
        Event::None => return None,
        Event::Ok => Ev::Ok,
        Event::Error => Ev::Error,
        Event::Fail => Ev::Fail,
        Event::SendOk => Ev::SendOk,
        Event::SendFail => Ev::SendFail,
        Event::Prompt => Ev::Prompt,
        Event::Busy => Ev::Busy,
        Event::AlreadyConnected => Ev::AlreadyConnected,
        Event::ErrCode(c) => Ev::ErrCode(c),
        Event::Recv(n) => Ev::Recv(n),
        Event::Urc(u) => Ev::Urc(format!("{u:?}")),
        Event::Data { link, data } => Ev::Data(link, data.to_vec()),
        Event::DataPending { link, len } => Ev::Pending(link, len),
        Event::RecvData(d) => Ev::RecvData(d.to_vec()),
        Event::Echo(l) => Ev::Echo(l.to_vec()),
        Event::Line(l) => Ev::Line(l.to_vec()),
        Event::Noise(n) => Ev::Noise(n.len()),
        other => panic!("an event this test does not know: {other:?}"),
    })
}

/// Feed `stream` in pieces of the sizes given through a buffer of `cap` bytes.
fn feed(stream: &[u8], cuts: &[usize], cap: usize) -> Vec<Ev> {
    let mut out = Vec::new();
    common::feed(stream, cuts, cap, RemoteInfo::Unknown, |e| {
        out.extend(own(e))
    });
    out
}

fn all(stream: &[u8]) -> Vec<Ev> {
    feed(stream, &[usize::MAX], 4096)
}

const TRANSCRIPT: &[u8] = b"AT+GMR\r\r\nAT version:1.7.4.0(May 11 2020 19:13:04)\r\nSDK version:3.0.4(9532ceb)\r\n\r\nOK\r\n\
WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n0,CONNECT\r\n\r\nOK\r\n\r\nOK\r\n\r\n> \r\nRecv 5 bytes\r\n\r\nSEND OK\r\n\
+IPD,0,12\r\nbusy p...\r\n+CIPRECVDATA,12:\r\nOK\r\nxy\r\n\r\n\r\nOK\r\n+IPD,1,8:\r\nOK\r\nxy\r\n+CWJAP:2\r\n\r\nERROR\r\n\
ERR CODE:0x010b0000\r\nERROR\r\n1,CLOSED\r\nSEND FAIL\r\n+STA_CONNECTED:\"aa:bb:cc:dd:ee:ff\"\r\n\
\x00\xe0\x1f ets Jan  8 2013,rst cause:2\r\nready\r\n+CIPRECVDATA:3,abc\r\nOK\r\n";

#[test]
fn transcript_events() {
    let ev = all(TRANSCRIPT);
    let expected = vec![
        Ev::Echo(b"AT+GMR".to_vec()),
        Ev::Line(b"AT version:1.7.4.0(May 11 2020 19:13:04)".to_vec()),
        Ev::Line(b"SDK version:3.0.4(9532ceb)".to_vec()),
        Ev::Ok,
        Ev::Urc("WifiConnected".into()),
        Ev::Urc("WifiGotIp".into()),
        Ev::Ok,
        Ev::Urc("Connect(Some(0))".into()),
        Ev::Ok,
        Ev::Ok,
        Ev::Prompt,
        Ev::Recv(5),
        Ev::SendOk,
        Ev::Pending(Some(0), 12),
        Ev::Busy,
        Ev::RecvData(b"\r\nOK\r\nxy\r\n\r\n".to_vec()),
        Ev::Ok,
        Ev::Data(Some(1), b"\r\nOK\r\nxy".to_vec()),
        Ev::Line(b"+CWJAP:2".to_vec()),
        Ev::Error,
        Ev::ErrCode(0x010b_0000),
        Ev::Error,
        Ev::Urc("Closed(Some(1))".into()),
        Ev::SendFail,
        Ev::Urc("SoftAp([43, 83, 84, 65, 95, 67, 79, 78, 78, 69, 67, 84, 69, 68, 58, 34, 97, 97, 58, 98, 98, 58, 99, 99, 58, 100, 100, 58, 101, 101, 58, 102, 102, 34])".into()),
        Ev::Noise(30),
        Ev::Urc("Ready".into()),
        Ev::RecvData(b"abc".to_vec()),
        Ev::Ok,
    ];
    assert_eq!(ev, expected);
}

#[test]
fn same_events_at_every_cut() {
    let whole = all(TRANSCRIPT);
    for first in 1..TRANSCRIPT.len() {
        assert_eq!(
            feed(TRANSCRIPT, &[first, TRANSCRIPT.len()], 4096),
            whole,
            "cut at {first}"
        );
    }
    for size in 1..=16 {
        assert_eq!(feed(TRANSCRIPT, &[size], 4096), whole, "pieces of {size}");
    }
}

#[test]
fn urcs_without_leading_crlf() {
    assert_eq!(
        all(b"WIFI DISCONNECT\r\n"),
        vec![Ev::Urc("WifiDisconnect".into())]
    );
    assert_eq!(
        all(b"CONNECT\r\n\r\nOK\r\n"),
        vec![Ev::Urc("Connect(None)".into()), Ev::Ok]
    );
    assert_eq!(all(b"CLOSED\r\n"), vec![Ev::Urc("Closed(None)".into())]);
    assert_eq!(all(b"UNLINK\r\n"), vec![Ev::Urc("Closed(None)".into())]);
    assert_eq!(
        all(b"3,CONNECT FAIL\r\n"),
        vec![Ev::Urc("ConnectFail(Some(3))".into())]
    );
    assert_eq!(all(b"+DIST_STA_IP:\"aa\",\"192.168.4.2\"\r\n").len(), 1);
}

#[test]
fn nonos_join_failure_and_fail() {
    assert_eq!(
        all(b"+CWJAP_CUR:1\r\n\r\nFAIL\r\n"),
        vec![Ev::Line(b"+CWJAP_CUR:1".to_vec()), Ev::Fail]
    );
}

#[test]
fn ipd_forms() {
    assert_eq!(
        all(b"+IPD,5:hello"),
        vec![Ev::Data(None, b"hello".to_vec())]
    );
    assert_eq!(
        all(b"+IPD,0,5,\"192.168.1.2\",5001:hello"),
        vec![Ev::Data(Some(0), b"hello".to_vec())]
    );
    assert_eq!(
        all(b"+IPD,5,\"192.168.1.2\",5001:hello"),
        vec![Ev::Data(None, b"hello".to_vec())]
    );
    assert_eq!(all(b"+IPD,4,100\r\n"), vec![Ev::Pending(Some(4), 100)]);
    assert_eq!(all(b"+IPD,100\r\n"), vec![Ev::Pending(None, 100)]);
    // incomplete payload: wait
    assert_eq!(parse(b"+IPD,0,10:abc"), (Event::None, 0));
    // malformed headers are noise, not a hang
    assert_eq!(all(b"+IPD,x\r\nOK\r\n"), vec![Ev::Noise(7), Ev::Ok]);
    assert_eq!(
        all(b"+IPD,0,99999999:\r\nOK\r\n"),
        vec![Ev::Noise(17), Ev::Ok]
    );
}

#[test]
fn malformed_long_headers_are_cut_invariant() {
    // found by the fuzzer: a broken header longer than the header limit, without a line end
    let mut a = b"+CIPRECVDATA>>>\xc4".to_vec();
    a.extend_from_slice(&[0u8; 33]);
    a.extend_from_slice(&[0xc4; 17]);
    let mut b = b"+IPD,0,5,\"".to_vec();
    b.extend_from_slice(&[b'x'; 80]);
    b.extend_from_slice(b"\r\nOK\r\n");
    for stream in [a, b] {
        let whole = all(&stream);
        for cut in 1..stream.len() {
            assert_eq!(feed(&stream, &[cut], 4096), whole, "cut at {cut}");
        }
    }
}

#[test]
fn full_buffer_is_discarded_not_stuck() {
    let mut stream = vec![b'x'; 300];
    stream.extend_from_slice(b"\r\nOK\r\n");
    let ev = feed(&stream, &[64], 128);
    assert_eq!(ev.last(), Some(&Ev::Ok));
    assert!(ev.iter().any(|e| matches!(e, Ev::Noise(_))));
}

#[test]
fn atat_digester_joins_ok_and_prompt() {
    use atat::DigestResult as D;
    let mut d = esp_at::EspDigester;
    let (r, n) = d.digest(b"\r\nOK\r\n\r\n> ");
    assert_eq!((r, n), (D::Prompt(b'>'), 9));
    assert_eq!(d.digest(b"\r\nAT\r\r\n"), (D::None, 7));
    let (r, n) = d.digest(b"+CWJAP:\"home\",\"aa\",6,-50\r\n\r\nOK\r\n");
    assert_eq!(r, D::Response(Ok(&b"+CWJAP:\"home\",\"aa\",6,-50"[..])));
    assert_eq!(n, 32);
    let (r, _) = d.digest(b"+CWJAP:1\r\n\r\nFAIL\r\n");
    assert!(matches!(r, D::Response(Err(_))));
    let (r, _) = d.digest(b"busy p...\r\n");
    assert!(matches!(r, D::Response(Err(_))));
    let (r, n) = d.digest(b"WIFI CONNECTED\r\n");
    assert_eq!((r, n), (D::Urc(&b"WIFI CONNECTED\r\n"[..]), 16));
    let (r, n) = d.digest(b"+IPD,0,8:\r\nOK\r\nxy");
    assert_eq!((r, n), (D::Urc(&b"+IPD,0,8:\r\nOK\r\nxy"[..]), 17));
    assert_eq!(d.digest(b"+CWJAP:1\r\n"), (D::None, 0));
    assert_eq!(d.digest(b"\r\n+CWJAP:1\r\n"), (D::None, 2));
}

proptest! {
    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600), cut in 1usize..64) {
        let _ = feed(&data, &[cut], 256);
        let mut d = esp_at::EspDigester;
        let mut pos = 0;
        while pos < data.len() {
            let (_, n) = d.digest(&data[pos..]);
            if n == 0 { break; }
            pos += n;
        }
    }

    #[test]
    fn random_cuts_of_the_transcript(cuts in proptest::collection::vec(1usize..40, 1..20)) {
        prop_assert_eq!(feed(TRANSCRIPT, &cuts, 4096), all(TRANSCRIPT));
    }

    #[test]
    fn escaping_round_trips(s in "\\PC{0,40}") {
        let caps = esp_at::Version::new(2, 2, 0).capabilities();
        let mut buf = [0u8; 300];
        let cmd = esp_at::command::TcpIp::Domain(&s);
        if let Ok(n) = esp_at::command::sink::encode(&cmd.into(), &caps, &mut buf) {
            let quoted = &buf["AT+CIPDOMAIN=\"".len()..n - 3];
            prop_assert_eq!(quoted.len(), escaped_len(&s));
            let mut out = [0u8; 300];
            let m = unescape(quoted, &mut out).unwrap();
            prop_assert_eq!(&out[..m], s.as_bytes());
        }
    }
}
