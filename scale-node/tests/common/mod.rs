//! Builds a node from the real drivers on the two simulators, driven by the loop the test
//! crate picks (`crate::Mode`: [`Blocking`] for `Node::poll` over the blocking esp-at driver,
//! [`Async`] for `Node::step` over the async one).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use avia_hx711::sim::{Hx711Sim, SimDelay, SimDout, SimSck};
use avia_hx711::{Calibration, Config as HxConfig, Hx711, Rate};
use esp_at::sim::{SimConfig, SimHandle, SimModem, StdDelay};
use esp_at::{EspAt, Version};
use scale_node::loopback::ArticleGateway;
use scale_node::{
    Clock, EspUplink, Format, NoLed, Node, NodeConfig, NodeEvent, RamStorage, Settings,
};

pub const SSID: &str = "fridge-net";
pub const PASS: &str = "milk,and\"cookies";

/// The node's clock is the HX711 simulator's virtual time, advanced a little on every call.
pub struct SimTime {
    pub sim: Hx711Sim,
    pub step_ns: u64,
}

impl Clock for SimTime {
    fn now_ms(&mut self) -> u32 {
        self.sim.advance(self.step_ns);
        (self.sim.now_ns() / 1_000_000) as u32
    }
}

pub type Sensor = Hx711<SimDout, SimSck, SimDelay>;
pub type TestNode<const Q: usize, St = RamStorage<{ scale_node::config::CONFIG_MAX }>> =
    Node<Sensor, <crate::Mode as Loop>::Up, SimTime, NoLed, St, Q>;

/// A node loop: the uplink it runs on and one step of it.
pub trait Loop {
    type Up: scale_node::UplinkStatus;
    fn uplink(modem: SimModem, cfg: esp_at::Config) -> Self::Up;
    fn step<St: embedded_storage::Storage, const Q: usize>(
        node: &mut Node<Sensor, Self::Up, SimTime, NoLed, St, Q>,
    );
}

/// `Node::poll` over the blocking driver.
pub struct Blocking;

impl Loop for Blocking {
    type Up = EspUplink<SimModem, StdDelay>;
    fn uplink(modem: SimModem, cfg: esp_at::Config) -> Self::Up {
        EspUplink::new(EspAt::new(modem, StdDelay, cfg), false)
    }
    fn step<St: embedded_storage::Storage, const Q: usize>(
        node: &mut Node<Sensor, Self::Up, SimTime, NoLed, St, Q>,
    ) {
        node.poll();
    }
}

/// `Node::step` over the async driver, each step run to completion on this thread.
pub struct Async;

impl Loop for Async {
    type Up = scale_node::AsyncEspUplink<SimModem, StdDelay>;
    fn uplink(modem: SimModem, cfg: esp_at::Config) -> Self::Up {
        scale_node::AsyncEspUplink::new(esp_at::asynch::EspAt::new(modem, StdDelay, cfg), false)
    }
    fn step<St: embedded_storage::Storage, const Q: usize>(
        node: &mut Node<Sensor, Self::Up, SimTime, NoLed, St, Q>,
    ) {
        block_on(node.step());
    }
}

struct Noop;
impl std::task::Wake for Noop {
    fn wake(self: std::sync::Arc<Self>) {}
}

/// Poll `f` to completion on this thread (the simulators need no wake-up: they are polled
/// again), pausing briefly while it waits so the gateway's threads get the CPU.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_micros(50));
    }
}

pub struct Rig<const Q: usize, St = RamStorage<{ scale_node::config::CONFIG_MAX }>> {
    pub node: TestNode<Q, St>,
    pub hx: Hx711Sim,
    pub modem: SimHandle,
    pub events: Vec<NodeEvent>,
}

/// 160 counts per gram around an offset of 8000, as the article's `set_scale(160.f)`.
pub fn calibration() -> Calibration {
    Calibration::from_known_mass(8_000, 8_000 + 160 * 100, 10_000).unwrap()
}

pub fn grams_to_raw(g_centi: i64) -> i64 {
    8_000 + 160 * g_centi / 100
}

pub fn config(port: u16, format: Format) -> NodeConfig {
    let mut c = NodeConfig {
        port,
        interval_ms: 200,
        samples: 3,
        calibration: calibration(),
        calibrated: true,
        format,
        ..NodeConfig::default()
    };
    c.ssid = SSID.try_into().unwrap();
    c.password = PASS.try_into().unwrap();
    c.host = "127.0.0.1".try_into().unwrap();
    c.sensor_id = "Scale.Test".try_into().unwrap();
    c
}

pub fn rig<const Q: usize>(cfg: Option<NodeConfig>, settings: Settings) -> Rig<Q> {
    rig_with(cfg, settings, RamStorage::default())
}

/// A rig whose node keeps its configuration in `storage`.
pub fn rig_with<const Q: usize, St: embedded_storage::Storage>(
    cfg: Option<NodeConfig>,
    settings: Settings,
    storage: St,
) -> Rig<Q, St> {
    rig_on(cfg, settings, storage, SimConfig::default())
}

/// A rig on a modem configured by `modem` (its firmware and network are the rig's).
pub fn rig_on<const Q: usize, St: embedded_storage::Storage>(
    cfg: Option<NodeConfig>,
    settings: Settings,
    storage: St,
    modem: SimConfig,
) -> Rig<Q, St> {
    let hx = Hx711Sim::new(Rate::Sps80);
    hx.set_constant(grams_to_raw(25_000));
    let (d, s, delay) = hx.pins();
    let sensor = Hx711::new(d, s, delay, HxConfig::new(Rate::Sps80));
    let sim = SimModem::new(
        modem
            .with_firmware(Version::new(2, 2, 0))
            .with_network(SSID, PASS),
    );
    let modem = sim.handle();
    let esp_cfg = esp_at::Config::default()
        .with_command_timeout_ms(1_000)
        .with_busy_backoff_ms(10);
    let uplink = <crate::Mode as Loop>::uplink(sim, esp_cfg);
    let clock = SimTime {
        sim: hx.clone(),
        step_ns: 1_000_000,
    };
    let node = Node::new(sensor, uplink, clock, NoLed, storage, settings, cfg, false);
    Rig {
        node,
        hx,
        modem,
        events: Vec::new(),
    }
}

impl<const Q: usize, St: embedded_storage::Storage> Rig<Q, St> {
    /// Poll until `done` holds (checked every poll), at most `max` polls.
    ///
    /// Each poll is one virtual millisecond, while the gateway and the modem's sockets run in
    /// real time: a short real pause per poll keeps the virtual clock from running far ahead
    /// of them (a TCP round trip must not look like seconds to the node).
    pub fn run_until(&mut self, max: usize, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        for _ in 0..max {
            std::thread::sleep(std::time::Duration::from_micros(20));
            <crate::Mode as Loop>::step(&mut self.node);
            while let Some(e) = self.node.next_event() {
                self.events.push(e);
            }
            if done(self) {
                return true;
            }
        }
        false
    }
}

pub fn wait_messages(gw: &ArticleGateway, n: usize) -> bool {
    gw.messages().len() >= n
}

/// Settings for a node that starts in setup mode: its server on a free port.
pub fn setup_settings() -> Settings {
    Settings {
        setup_port: 0,
        ..Settings::default()
    }
}

/// A phone on the node's setup access point, talking to its setup server.
pub struct Phone {
    reader: std::io::BufReader<std::net::TcpStream>,
    writer: std::net::TcpStream,
}

impl Phone {
    /// Run the node until its setup server listens, and connect to it.
    pub fn connect<const Q: usize, St: embedded_storage::Storage>(r: &mut Rig<Q, St>) -> Phone {
        assert!(
            r.run_until(5_000, |r| r.node.state() == scale_node::State::Setup
                && r.modem.server_addr().is_some()),
            "no setup server"
        );
        let s = std::net::TcpStream::connect(r.modem.server_addr().unwrap()).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_millis(20)))
            .unwrap();
        Phone {
            reader: std::io::BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }

    /// Send `line`; every line of the answer, up to and including its `OK...` or `ERR...`.
    pub fn ask_all<const Q: usize, St: embedded_storage::Storage>(
        &mut self,
        r: &mut Rig<Q, St>,
        line: &str,
    ) -> Vec<String> {
        use std::io::{BufRead, Write};
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
        let mut lines = Vec::new();
        let mut partial = String::new();
        let reader = &mut self.reader;
        let done = r.run_until(4_000, |_| {
            if reader.read_line(&mut partial).is_ok() && partial.ends_with('\n') {
                let l = partial.trim().to_string();
                partial.clear();
                let last = l.starts_with("OK") || l.starts_with("ERR");
                lines.push(l);
                return last;
            }
            false
        });
        assert!(done, "no answer to {line}: {lines:?}");
        lines
    }

    /// Send `line`; the answer (`OK...` or `ERR...`).
    pub fn ask<const Q: usize, St: embedded_storage::Storage>(
        &mut self,
        r: &mut Rig<Q, St>,
        line: &str,
    ) -> String {
        self.ask_all(r, line).pop().unwrap_or_default()
    }
}
