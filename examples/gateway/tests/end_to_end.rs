//! Durable spool across a restart, windowed aggregates, and the simulated node end to end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use scale_gateway::sink::{MqttSink, Sink};
use scale_gateway::{Gateway, Options, ReplyMode};
use tokio::net::TcpStream;

fn opts() -> Options {
    Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        gateway_id: "gw".into(),
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spooled_readings_survive_a_gateway_restart() {
    let dir = std::env::temp_dir().join(format!("scale-gw-spool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // first run: the cloud is unreachable (no broker), readings are accepted and spooled
    let o = Options {
        reply: ReplyMode::Enqueue,
        spool: Some(dir.clone()),
        ..opts()
    };
    let sink = Sink::Mqtt(MqttSink::new("127.0.0.1", free_port(), "spool-test", "scale").unwrap());
    let gw = Gateway::start(o.clone(), sink, None).await.unwrap();
    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    for i in 0..5 {
        assert_eq!(
            send_line(&mut dev, &format!("Weight:{i}.00,Scale.Spool,{i},0,0\n")).await,
            "201"
        );
    }
    let m = gw.shutdown(Duration::from_millis(200)).await;
    assert_eq!(m.forwarded, 0);
    // second run: the sink works; the spool is delivered first, in order
    let out = Shared::default();
    let gw = Gateway::start(o, Sink::Lines(Box::new(out.clone())), None)
        .await
        .unwrap();
    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    assert_eq!(
        send_line(&mut dev, "Weight:5.00,Scale.Spool,5,0,0\n").await,
        "201"
    );
    let m = gw.shutdown(Duration::from_secs(2)).await;
    assert_eq!(m.forwarded, 6);
    let seqs: Vec<u64> = out
        .lines()
        .iter()
        .map(|e| e["Seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![0, 1, 2, 3, 4, 5]);
    // everything delivered: a third start has nothing to replay
    let (_, replay) = scale_gateway::spool::Spool::open(&dir, false).unwrap();
    assert!(replay.events.is_empty(), "{:?}", replay.events);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windowed_average_and_minimum() {
    let out = Shared::default();
    let aggs = Shared::default();
    let o = Options {
        window: Some(Duration::from_millis(300)),
        ..opts()
    };
    let gw = Gateway::start(
        o,
        Sink::Lines(Box::new(out.clone())),
        Some(Box::new(aggs.clone())),
    )
    .await
    .unwrap();
    let mut dev = TcpStream::connect(gw.addr()).await.unwrap();
    for v in ["900.00", "800.00", "700.00"] {
        assert_eq!(
            send_line(&mut dev, &format!("Weight:{v},Scale.Milk\n")).await,
            "201"
        );
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let a = aggs.lines();
    let milk: Vec<_> = a.iter().filter(|a| a["SensorId"] == "Scale.Milk").collect();
    assert_eq!(milk.len(), 1, "{a:?}");
    assert_eq!(
        (
            milk[0]["Count"].as_u64(),
            milk[0]["Avg"].as_f64(),
            milk[0]["Min"].as_f64()
        ),
        (Some(3), Some(800.0), Some(700.0))
    );
    gw.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_node_reaches_the_sink() {
    use avia_hx711::sim::Hx711Sim;
    use esp_at::sim::{SimConfig, SimModem, StdDelay};
    use scale_node::{Clock, EspUplink, NoLed, Node, NodeConfig, RamStorage, Settings};

    let out = Shared::default();
    let gw = Gateway::start(opts(), Sink::Lines(Box::new(out.clone())), None)
        .await
        .unwrap();
    let port = gw.addr().port();
    let node = tokio::task::spawn_blocking(move || {
        /// Real time, with the HX711 simulator pulled along.
        struct Real(Hx711Sim, std::time::Instant);
        impl Clock for Real {
            fn now_ms(&mut self) -> u32 {
                let real = self.1.elapsed().as_nanos() as u64;
                let virt = self.0.now_ns();
                if real > virt {
                    self.0.advance(real - virt);
                }
                (self.0.now_ns() / 1_000_000) as u32
            }
        }
        let hx = Hx711Sim::new(avia_hx711::Rate::Sps80);
        hx.set_constant(8_000 + 160 * 321);
        let (d, s, delay) = hx.pins();
        let sensor = avia_hx711::Hx711::new(
            d,
            s,
            delay,
            avia_hx711::Config::new(avia_hx711::Rate::Sps80),
        );
        let modem = SimModem::new(SimConfig::default().with_network("net", "password-1"));
        let esp: esp_at::EspAt<_, _> =
            esp_at::EspAt::new(modem, StdDelay, esp_at::Config::default());
        let mut cfg = NodeConfig {
            port,
            interval_ms: 100,
            samples: 2,
            calibration: avia_hx711::Calibration::from_known_mass(8_000, 8_000 + 16_000, 10_000)
                .unwrap(),
            calibrated: true,
            ..NodeConfig::default()
        };
        cfg.ssid = "net".try_into().unwrap();
        cfg.password = "password-1".try_into().unwrap();
        cfg.host = "127.0.0.1".try_into().unwrap();
        cfg.sensor_id = "Scale.E2E".try_into().unwrap();
        let mut node: Node<_, _, _, _, _, 16> = Node::new(
            sensor,
            EspUplink::new(esp, false),
            Real(hx, std::time::Instant::now()),
            NoLed,
            RamStorage::<{ scale_node::config::CONFIG_MAX }>::default(),
            Settings::default(),
            Some(cfg),
            false,
        );
        let t = std::time::Instant::now();
        while t.elapsed() < Duration::from_secs(20) {
            node.poll();
            if node.stats().acked >= 5 {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        node.stats().acked
    });
    assert!(node.await.unwrap() >= 5);
    let events = out.lines();
    assert!(events.len() >= 5);
    for (i, e) in events.iter().take(5).enumerate() {
        assert_eq!(e["SensorId"], "Scale.E2E");
        assert_eq!(e["SensorValue"], "321.00");
        assert_eq!(e["Seq"].as_u64(), Some(i as u64));
    }
    gw.shutdown(Duration::from_secs(1)).await;
}
