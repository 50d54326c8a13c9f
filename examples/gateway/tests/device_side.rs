//! The device side: the article's protocol, framing, limits, bad input, duplicates, overflow.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use scale_gateway::sink::Sink;
use scale_gateway::{Gateway, Options, ReplyMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn opts() -> Options {
    Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        gateway_id: "pi-gateway".into(),
        ..Options::default()
    }
}

/// A gateway with the default options writing JSON lines into the returned buffer.
async fn start() -> (Shared, Gateway) {
    let out = Shared::default();
    let gw = Gateway::start(opts(), Sink::Lines(Box::new(out.clone())), None)
        .await
        .unwrap();
    (out, gw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn article_lines_give_article_json_and_201() {
    let (out, gw) = start().await;
    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    // exactly what the sketch sends: "Weight:" + String(value) + ",Scale.Arduino\r\n", one send
    assert_eq!(
        send_line(&mut dev, "Weight:123.45,Scale.Arduino\r\n").await,
        "201"
    );
    assert_eq!(
        send_line(&mut dev, "Weight:0.00,Scale.Arduino\r\n").await,
        "201"
    );
    let lines = out.lines();
    assert_eq!(lines.len(), 2);
    let e = &lines[0];
    assert_eq!(e["GatewayId"], "pi-gateway");
    assert_eq!(e["DeviceId"], "127.0.0.1");
    assert_eq!(e["SensorId"], "Scale.Arduino");
    assert_eq!(e["SensorType"], "Weight");
    assert_eq!(e["SensorValue"], "123.45");
    assert!(e["Time"].as_str().unwrap().ends_with('Z'));
    assert!(e.get("Seq").is_none());
    let m = gw.shutdown(Duration::from_secs(1)).await;
    assert_eq!((m.received, m.forwarded, m.rejected), (2, 2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_lines_and_framing() {
    let (out, gw) = start().await;
    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    // several lines in one write, one line split over writes, a line without a line ending
    dev.write_all(b"Weight:1.00,S,0,0,0\r\nWeight:2.00,S,1,1,0\nWei")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    dev.write_all(b"ght:3.00,S,2,0,0\r\n").await.unwrap();
    let mut buf = [0u8; 9];
    dev.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"201201201");
    // `\r` alone ends a line too
    dev.write_all(b"Weight:4.00,S,3,0,0\rWeight:5.00,S,4,0,0\r")
        .await
        .unwrap();
    let mut buf = [0u8; 6];
    dev.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"201201");
    let seqs: Vec<u64> = out
        .lines()
        .iter()
        .map(|e| e["Seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![0, 1, 2, 3, 4]);
    assert_eq!(out.lines()[1]["Flags"], 1);
    gw.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_split_by_a_pause_waits_for_its_end() {
    let (out, gw) = start().await;
    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    dev.write_all(b"Weight:1.00,Scale.Ki").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(send_line(&mut dev, "tchen,0,0,0,9\r\n").await, "201");
    let lines = out.lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["SensorId"], "Scale.Kitchen");
    gw.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_ends_a_line_only_when_asked_and_only_on_unterminated_connections() {
    let out = Shared::default();
    let o = Options {
        flush_after: Some(Duration::from_millis(100)),
        ..opts()
    };
    let gw = Gateway::start(o, Sink::Lines(Box::new(out.clone())), None)
        .await
        .unwrap();
    // a device that never ends its lines: each pause ends one
    let mut raw = TcpStream::connect(gw.addr()).await.unwrap();
    assert_eq!(send_line(&mut raw, "Weight:4.00,S").await, "201");
    assert_eq!(send_line(&mut raw, "Weight:5.00,S").await, "201");
    // a device that ends its lines: a pause inside a line does not end it
    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    assert_eq!(send_line(&mut dev, "Weight:1.00,T\n").await, "201");
    dev.write_all(b"Weight:2.00,Scale.Ki").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(send_line(&mut dev, "tchen\n").await, "201");
    let ids: Vec<String> = out
        .lines()
        .iter()
        .map(|e| e["SensorId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["S", "S", "T", "Scale.Kitchen"]);
    gw.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_after_a_retry_are_dropped() {
    let (out, gw) = start().await;
    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    assert_eq!(
        send_line(&mut dev, "Weight:1.00,Scale.A,7,0,0,1001\r\n").await,
        "201"
    );
    // the device did not hear the status, reconnects, sends again
    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    assert_eq!(
        send_line(&mut dev, "Weight:1.00,Scale.A,7,8,0,1001\r\n").await,
        "201"
    );
    assert_eq!(
        send_line(&mut dev, "Weight:1.00,Scale.B,7,0,0,1001\r\n").await,
        "201",
        "another sensor"
    );
    assert_eq!(out.lines().len(), 2);
    // the device rebooted: a new boot id, a new sequence space
    assert_eq!(
        send_line(&mut dev, "Weight:2.00,Scale.A,7,0,0,2002\r\n").await,
        "201"
    );
    // lines without a boot id cannot be told apart from a rebooted node's: never dropped
    for _ in 0..2 {
        assert_eq!(
            send_line(&mut dev, "Weight:3.00,Scale.C,0,0,0\r\n").await,
            "201"
        );
    }
    let m = gw.shutdown(Duration::from_secs(1)).await;
    assert_eq!((m.duplicates, m.forwarded), (1, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_endless_lines_get_errors_and_the_gateway_keeps_serving() {
    let (_out, gw) = start().await;
    let mut bad = TcpStream::connect(gw.addr()).await.unwrap();
    assert_eq!(send_line(&mut bad, "\u{1}\u{2}garbage\r\n").await, "400");
    assert_eq!(send_line(&mut bad, "Weight:abc,S\r\n").await, "400");
    bad.write_all(&[0xFF, 0xFE, b'\n']).await.unwrap();
    assert_eq!(read_status(&mut bad).await, "400");
    // an endless line: one 413, then nothing until its end, then normal service
    let junk = vec![b'x'; 10_000];
    bad.write_all(&junk).await.unwrap();
    assert_eq!(read_status(&mut bad).await, "413");
    bad.write_all(&junk).await.unwrap();
    bad.write_all(b"\nWeight:5.00,S\n").await.unwrap();
    assert_eq!(read_status(&mut bad).await, "201");
    let mut good = TcpStream::connect(gw.addr()).await.unwrap();
    assert_eq!(send_line(&mut good, "Weight:6.00,S\r\n").await, "201");
    let m = gw.shutdown(Duration::from_secs(1)).await;
    assert!(m.rejected >= 4);
    assert_eq!(m.forwarded, 2);
}

/// The soft limit on open files (client and server sockets of this test share it).
fn max_open_files() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        })
        .unwrap_or(1024)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_idle_connections_and_a_flood() {
    let out = Shared::default();
    // as many idle connections as the file limit allows, up to 2 000, four times the gateway's
    // connection limit
    let idle_count = ((max_open_files().saturating_sub(200)) / 2).min(2_000);
    let o = Options {
        max_connections: idle_count / 4,
        max_per_address: usize::MAX,
        idle_timeout: Duration::from_millis(500),
        ..opts()
    };
    let gw = Gateway::start(o, Sink::Lines(Box::new(out.clone())), None)
        .await
        .unwrap();
    let before = rss_kib();
    let mut idle = Vec::new();
    for _ in 0..idle_count {
        if let Ok(s) = TcpStream::connect(gw.addr()).await {
            idle.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "memory grew by {grown} KiB");
    // idle ones were cut or refused; a well-behaved device is served
    let mut good = TcpStream::connect(gw.addr()).await.unwrap();
    assert_eq!(send_line(&mut good, "Weight:1.00,S\r\n").await, "201");
    drop(idle);
    // a flood: 10 devices, 500 lines each, as fast as they can
    let mut tasks = Vec::new();
    for d in 0..10 {
        let addr = gw.addr();
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let mut lines = String::new();
            for i in 0..500 {
                lines.push_str(&format!("Weight:{i}.00,Flood.{d},{i},0,0\n"));
            }
            s.write_all(lines.as_bytes()).await.unwrap();
            let mut buf = vec![0u8; 1500];
            s.read_exact(&mut buf).await.unwrap();
            buf.chunks(3).all(|c| c == b"201")
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap());
    }
    let m = gw.shutdown(Duration::from_secs(5)).await;
    assert!(m.refused > 0, "{m:?}");
    assert_eq!(m.forwarded, 5_001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_answers_503() {
    // an MQTT broker that is not there: the sink waits for acknowledgements, the queue fills
    let sink = Sink::Mqtt(
        scale_gateway::sink::MqttSink::new("127.0.0.1", free_port(), "t", "scale").unwrap(),
    );
    let o = Options {
        queue: 2,
        reply: ReplyMode::Enqueue,
        batch_max: 1,
        ..opts()
    };
    let gw = Gateway::start(o, sink, None).await.unwrap();
    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    let mut answers = Vec::new();
    for i in 0..6 {
        answers.push(send_line(&mut dev, &format!("Weight:{i}.00,S,{i},0,0\n")).await);
    }
    assert!(answers.iter().any(|a| a == "503"), "{answers:?}");
    assert_eq!(&answers[..2], &["201", "201"]);
    assert!(gw.metrics().overflow >= 1);
    gw.shutdown(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_duplicate_table_is_bounded() {
    let out = Shared::default();
    let o = Options {
        dedupe_capacity: 500,
        ..opts()
    };
    let gw = Gateway::start(o, Sink::Lines(Box::new(out.clone())), None)
        .await
        .unwrap();
    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    let mut lines = String::new();
    for i in 0..3_000 {
        lines.push_str(&format!("Weight:1.00,New.{i},0,0,0,1\n"));
    }
    dev.write_all(lines.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 9_000];
    dev.read_exact(&mut buf).await.unwrap();
    assert!(buf.chunks(3).all(|c| c == b"201"));
    let m = gw.metrics();
    assert_eq!(m.dedupe_keys, 500);
    // a key evicted long ago is forwarded again (a possible duplicate, never a loss); a
    // recent one is still recognised
    assert_eq!(
        send_line(&mut dev, "Weight:1.00,New.0,0,0,0,1\n").await,
        "201"
    );
    assert_eq!(
        send_line(&mut dev, "Weight:1.00,New.2999,0,0,0,1\n").await,
        "201"
    );
    let m = gw.shutdown(Duration::from_secs(2)).await;
    assert_eq!((m.forwarded, m.duplicates), (3_001, 1));
}
