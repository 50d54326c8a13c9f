//! Against a real mosquitto broker started by the test on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::*;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use scale_gateway::sink::{MqttSink, Sink};
use scale_gateway::{Gateway, Options, ReplyMode};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

fn mosquitto_bin() -> Option<PathBuf> {
    [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// mosquitto, or `None` (and a message) where it is not installed; in CI it must be.
fn mosquitto_or_skip() -> Option<PathBuf> {
    let bin = mosquitto_bin();
    if bin.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "mosquitto is required in CI"
        );
        eprintln!("mosquitto not installed: skipped (scripts/setup.sh installs it)");
    }
    bin
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

struct Broker {
    child: Child,
}

impl Broker {
    fn start(bin: &Path, dir: &Path, port: u16) -> Broker {
        let conf = dir.join("m.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n{}",
                dir.display(),
                // as root, mosquitto would switch to its own user, who cannot write our temp dir
                if is_root() { "user root\n" } else { "" }
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "mosquitto did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Broker { child }
    }

    /// SIGTERM: mosquitto saves its persistent sessions and exits.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn subscriber(port: u16) -> mpsc::UnboundedReceiver<serde_json::Value> {
    let mut o = MqttOptions::new("verifier", "127.0.0.1", port);
    o.set_clean_session(false);
    o.set_keep_alive(Duration::from_secs(5));
    let (client, mut el) = AsyncClient::new(o, 100);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = client.subscribe("scale/#", QoS::AtLeastOnce).await;
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send(serde_json::from_slice(&p.payload).unwrap());
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    rx
}

async fn collect(
    rx: &mut mpsc::UnboundedReceiver<serde_json::Value>,
    n: usize,
) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while out.len() < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(v)) => out.push(v),
            _ => break,
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_reach_mqtt_in_order_and_survive_a_broker_restart() {
    let Some(bin) = mosquitto_or_skip() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("scale-gw-mqtt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let broker = Broker::start(&bin, &dir, port);
    let mut rx = subscriber(port);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sink = Sink::Mqtt(MqttSink::new("127.0.0.1", port, "gw-test", "scale").unwrap());
    let o = Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        gateway_id: "gw".into(),
        reply: ReplyMode::Enqueue,
        ..Options::default()
    };
    let gw = Gateway::start(o, sink, None).await.unwrap();
    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    for i in 0..10 {
        assert_eq!(
            send_line(&mut dev, &format!("Weight:{i}.00,Scale.Mqtt,{i},0,0\r\n")).await,
            "201"
        );
    }
    let first = collect(&mut rx, 10).await;
    let seqs: Vec<u64> = first.iter().map(|e| e["Seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (0..10).collect::<Vec<_>>());
    assert_eq!(first[0]["SensorId"], "Scale.Mqtt");

    // the broker goes away; readings keep coming and are accepted
    broker.stop();
    for i in 10..20 {
        assert_eq!(
            send_line(&mut dev, &format!("Weight:{i}.00,Scale.Mqtt,{i},0,0\r\n")).await,
            "201"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _broker = Broker::start(&bin, &dir, port);
    // QoS 1 is at-least-once: after a restart a message may come twice; what counts is that
    // every reading arrives and their first arrivals are in order
    let mut firsts: Vec<u64> = Vec::new();
    let mut seen_all = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while firsts.len() < 10 {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(v)) => {
                let seq = v["Seq"].as_u64().unwrap();
                seen_all.push(seq);
                if seq >= 10 && !firsts.contains(&seq) {
                    firsts.push(seq);
                }
            }
            _ => break,
        }
    }
    assert_eq!(
        firsts,
        (10..20).collect::<Vec<_>>(),
        "nothing lost, in order (received {seen_all:?})"
    );
    let m = gw.shutdown(Duration::from_secs(5)).await;
    assert_eq!(m.forwarded, 20);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One reading MQTT cannot carry (`+` in a topic level) blocks nobody: at the door it is
/// answered `400`; one already in the spool (accepted by an older gateway) goes to the
/// dead-letter file, and every reading behind it is delivered, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reading_mqtt_cannot_carry_is_refused_or_dead_lettered_and_blocks_nobody() {
    let Some(bin) = mosquitto_or_skip() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("scale-gw-mqtt-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let spool = dir.join("spool");
    {
        let ev = |t: &str, i: u32| scale_gateway::event::Event {
            time: "2026-12-01T00:00:00.000Z".into(),
            gateway_id: "gw".into(),
            device_id: "10.0.0.9".into(),
            sensor_id: "Scale.Old".into(),
            sensor_type: t.into(),
            sensor_value: format!("{i}.00"),
            seq: Some(i),
            flags: Some(0),
            boot: Some(1),
        };
        let (mut s, _) = scale_gateway::spool::Spool::open(&spool, false).unwrap();
        s.append(&[ev("Weight", 0), ev("Weight+", 1), ev("Weight", 2)])
            .unwrap();
    }
    let port = free_port();
    let _broker = Broker::start(&bin, &dir, port);
    let mut rx = subscriber(port);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sink = Sink::Mqtt(MqttSink::new("127.0.0.1", port, "gw-bad", "scale").unwrap());
    let o = Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        gateway_id: "gw".into(),
        reply: ReplyMode::Enqueue,
        spool: Some(spool.clone()),
        ..Options::default()
    };
    let gw = Gateway::start(o, sink, None).await.unwrap();
    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    assert_eq!(send_line(&mut dev, "Weight+:1,X,0,0,0,7\r\n").await, "400");
    assert_eq!(send_line(&mut dev, "We#ight:1,X,1,0,0,7\r\n").await, "400");
    assert_eq!(
        send_line(&mut dev, "Weight:3.00,X,2,0,0,7\r\n").await,
        "201"
    );
    let got = collect(&mut rx, 3).await;
    let values: Vec<&str> = got
        .iter()
        .map(|e| e["SensorValue"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["0.00", "2.00", "3.00"]);
    let m = gw.shutdown(Duration::from_secs(5)).await;
    assert_eq!((m.forwarded, m.failed, m.rejected), (3, 1, 2));
    let dead = std::fs::read_to_string(spool.join("dead-letter.jsonl")).unwrap();
    let v: serde_json::Value = serde_json::from_str(dead.trim()).unwrap();
    assert_eq!(v["Event"]["SensorType"], "Weight+");
    assert_eq!(v["Status"], 400);
    let _ = std::fs::remove_dir_all(&dir);
}
