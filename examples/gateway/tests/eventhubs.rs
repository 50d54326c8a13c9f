//! Against a local HTTPS endpoint that checks the SAS signature as Event Hubs does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::*;
use scale_gateway::sink::{EventHubsSink, Secret, Sink};
use scale_gateway::{Gateway, Options, ReplyMode};
use tokio::net::TcpStream;

const KEY_NAME: &str = "SendPolicy";
const KEY: &str = "test-key-generated-for-this-test";

#[derive(Default)]
struct Hub {
    /// (partition key, events) per accepted request
    batches: Vec<(String, Vec<serde_json::Value>)>,
    requests: usize,
    unavailable: usize,
    max_body: usize,
    port: u16,
}

async fn messages(
    State(hub): State<Arc<Mutex<Hub>>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut h = hub.lock().unwrap();
    h.requests += 1;
    let url = format!("https://localhost:{}{}", h.port, uri.path());
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if !scale_gateway::sas::verify(auth, &url, &[(KEY_NAME, KEY)], now) {
        return StatusCode::UNAUTHORIZED;
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok())
        != Some("application/vnd.microsoft.servicebus.json")
    {
        return StatusCode::BAD_REQUEST;
    }
    if body.len() > 1_000_000 {
        return StatusCode::PAYLOAD_TOO_LARGE;
    }
    if h.unavailable > 0 {
        h.unavailable -= 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    h.max_body = h.max_body.max(body.len());
    let props: serde_json::Value = serde_json::from_str(
        headers
            .get("brokerproperties")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("{}"),
    )
    .unwrap();
    let items: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    let events = items
        .iter()
        .map(|i| serde_json::from_str(i["Body"].as_str().unwrap()).unwrap())
        .collect();
    h.batches.push((
        props["PartitionKey"].as_str().unwrap_or("").to_string(),
        events,
    ));
    StatusCode::CREATED
}

async fn fake_event_hubs() -> (SocketAddr, Arc<Mutex<Hub>>, String) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert_pem = cert.cert.pem();
    let key_pem = cert.signing_key.serialize_pem();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem(
        cert_pem.clone().into_bytes(),
        key_pem.into_bytes(),
    )
    .await
    .unwrap();
    let hub = Arc::new(Mutex::new(Hub::default()));
    let app = Router::new()
        .route("/{hub}/messages", post(messages))
        .with_state(hub.clone());
    let handle: axum_server::Handle<SocketAddr> = axum_server::Handle::new();
    let server =
        axum_server::bind_rustls("127.0.0.1:0".parse().unwrap(), config).handle(handle.clone());
    tokio::spawn(async move { server.serve(app.into_make_service()).await });
    let addr = handle.listening().await.unwrap();
    hub.lock().unwrap().port = addr.port();
    (addr, hub, cert_pem)
}

async fn gateway(
    addr: SocketAddr,
    ca: &str,
    key: &str,
    reply: ReplyMode,
    max_bytes: Option<usize>,
) -> Gateway {
    let mut sink = EventHubsSink::new(
        &format!("https://localhost:{}", addr.port()),
        "weights",
        KEY_NAME,
        Secret(key.into()),
        Some(ca.as_bytes()),
    )
    .unwrap();
    if let Some(m) = max_bytes {
        sink.set_max_bytes(m);
    }
    let o = Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        gateway_id: "gw".into(),
        reply,
        batch_linger: Duration::from_millis(50),
        retry_base: Duration::from_millis(20),
        ..Options::default()
    };
    Gateway::start(o, Sink::EventHubs(sink), None)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_token_gets_201_with_the_device_as_partition_key() {
    let (addr, hub, ca) = fake_event_hubs().await;
    let gw = gateway(addr, &ca, KEY, ReplyMode::Sync, None).await;
    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    assert_eq!(
        send_line(&mut dev, "Weight:123.45,Scale.Arduino\r\n").await,
        "201"
    );
    let h = hub.lock().unwrap();
    assert_eq!(h.batches.len(), 1);
    assert_eq!(h.batches[0].0, "127.0.0.1");
    assert_eq!(h.batches[0].1[0]["SensorValue"], "123.45");
    assert_eq!(h.batches[0].1[0]["SensorId"], "Scale.Arduino");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_token_gets_401_and_is_not_retried() {
    let (addr, hub, ca) = fake_event_hubs().await;
    let gw = gateway(addr, &ca, "not-the-key", ReplyMode::Sync, None).await;
    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    assert_eq!(
        send_line(&mut dev, "Weight:1.00,Scale.Arduino\r\n").await,
        "401"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(hub.lock().unwrap().requests, 1, "no retry on 401");
    // not the reading's fault: not dead-lettered, and not accepted (the device keeps it)
    let m = gw.shutdown(Duration::from_secs(1)).await;
    assert_eq!((m.failed, m.retries, m.forwarded), (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_is_retried() {
    let (addr, hub, ca) = fake_event_hubs().await;
    hub.lock().unwrap().unavailable = 3;
    let gw = gateway(addr, &ca, KEY, ReplyMode::Sync, None).await;
    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    assert_eq!(
        send_line(&mut dev, "Weight:1.00,Scale.Arduino\r\n").await,
        "201"
    );
    assert_eq!(hub.lock().unwrap().requests, 4);
    assert_eq!(gw.metrics().retries, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_stay_under_the_size_limit_and_keep_order() {
    let (addr, hub, ca) = fake_event_hubs().await;
    let gw = gateway(addr, &ca, KEY, ReplyMode::Enqueue, Some(2_000)).await;
    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    let mut lines = String::new();
    for i in 0..60 {
        lines.push_str(&format!("Weight:{i}.00,Scale.Batch,{i},0,0\n"));
    }
    tokio::io::AsyncWriteExt::write_all(&mut dev, lines.as_bytes())
        .await
        .unwrap();
    let mut acks = vec![0u8; 180];
    tokio::io::AsyncReadExt::read_exact(&mut dev, &mut acks)
        .await
        .unwrap();
    let m = gw.shutdown(Duration::from_secs(5)).await;
    assert_eq!(m.forwarded, 60);
    let h = hub.lock().unwrap();
    let seqs: Vec<u64> = h
        .batches
        .iter()
        .flat_map(|(_, e)| e.iter().map(|e| e["Seq"].as_u64().unwrap()))
        .collect();
    assert_eq!(seqs, (0..60).collect::<Vec<_>>());
    assert!(
        h.batches.len() > 1 && h.batches.len() < 60,
        "{} requests",
        h.batches.len()
    );
    assert!(h.max_body <= 2_000, "{}", h.max_body);
}
