//! `GET /metrics` for Prometheus: the counters in the text format, on their own address.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::Shared;
use scale_gateway::sink::Sink;
use scale_gateway::{Gateway, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn http(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_in_the_prometheus_text_format() {
    let opts = Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Options::default()
    };
    let gw = Gateway::start(opts, Sink::Lines(Box::new(Shared::default())), None)
        .await
        .unwrap();
    let metrics = gw.metrics_addr().unwrap();
    assert_ne!(metrics, gw.addr());

    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    for line in [
        "Weight:1.00,Scale.A\n",
        "Weight:2.00,Scale.A\n",
        "nonsense\n",
    ] {
        dev.write_all(line.as_bytes()).await.unwrap();
        let mut status = [0u8; 3];
        dev.read_exact(&mut status).await.unwrap();
    }

    let page = http(metrics, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let (head, body) = page.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("Content-Type: text/plain; version=0.0.4"));
    assert!(head.contains(&format!("Content-Length: {}", body.len())));
    let value = |name: &str| -> u64 {
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} in {body}"))
            .parse()
            .unwrap()
    };
    assert_eq!(value("scale_gateway_received_total"), 3);
    assert_eq!(value("scale_gateway_rejected_total"), 1);
    assert_eq!(value("scale_gateway_connections_total"), 1);
    assert!(body.contains("# TYPE scale_gateway_queued gauge\n"));
    assert!(body.contains("# TYPE scale_gateway_forwarded_total counter\n"));
    // every sample line has its HELP and TYPE, and nothing else is in the body
    for l in body.lines() {
        assert!(
            l.starts_with("# HELP scale_gateway_")
                || l.starts_with("# TYPE scale_gateway_")
                || l.starts_with("scale_gateway_"),
            "{l}"
        );
    }

    assert!(
        http(metrics, b"GET / HTTP/1.1\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 404")
    );
    assert!(
        http(metrics, b"POST /metrics HTTP/1.1\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 405")
    );
    let huge = [b'a'; 10_000];
    assert!(http(metrics, &huge).await.starts_with("HTTP/1.1 431"));
    // a scraper that says nothing does not hold anything up
    let _silent = TcpStream::connect(metrics).await.unwrap();
    let page = http(metrics, b"GET /metrics HTTP/1.0\r\n\r\n").await;
    assert!(page.starts_with("HTTP/1.1 200 OK"));

    gw.shutdown(Duration::from_secs(1)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        TcpStream::connect(metrics).await.is_err(),
        "the endpoint ends with the gateway"
    );
}
