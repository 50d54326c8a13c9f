//! The simulated node: the HX711 simulator under a milk bottle, the ESP8266 simulator on a
//! 115 200 baud line, and the node between them, configured for a gateway address.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use avia_hx711::sim::{Hx711Sim, SimDelay, SimDout, SimSck};
use avia_hx711::{Calibration, Config as HxConfig, Hx711, Mode, Rate};
use esp_at::EspAt;
use esp_at::sim::{SimConfig, SimHandle, SimModem, StdDelay};
use scale_node::{Clock, EspUplink, Format, NoLed, Node, NodeConfig, RamStorage, Settings};

/// The simulated Wi-Fi network.
pub const SSID: &str = "fridge-net";
/// The simulated network's password (a demo value: the network exists only in the simulator).
pub const PASSWORD: &str = "demo-password-not-a-secret";
/// The load cell's zero: counts with nothing on the scale.
pub const OFFSET: i64 = 8_000;
/// 160 counts per gram (the article's `set_scale(160.f)`).
pub const COUNTS_PER_GRAM: i64 = 160;
/// The empty milk bottle, grams.
pub const BOTTLE_G: i64 = 50;
/// The milk in a full bottle, grams.
pub const MILK_G: i64 = 1_000;
/// The node's name at the gateway.
pub const SENSOR_ID: &str = "Scale.Arduino";

/// What the simulated node is built from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodeOptions {
    /// How long the run lasts, seconds: the bottle is poured out over it.
    pub seconds: f64,
    /// Time between readings, milliseconds.
    pub interval_ms: u32,
    /// Samples per reading.
    pub samples: u8,
    /// The article's classic lines only.
    pub classic: bool,
    /// Lines in flight before waiting for statuses (0 counts as 1).
    pub window: u8,
    /// Amount and volume lines besides the weight (container and full weight configured).
    pub amount: bool,
    /// Start unconfigured, in setup mode.
    pub setup: bool,
}

/// The node's clock: real time, with the HX711 simulator's virtual time pulled along.
pub struct RealClock {
    start: Instant,
    hx: Hx711Sim,
}

impl RealClock {
    /// A clock starting now that keeps `hx` in step.
    pub fn new(hx: Hx711Sim) -> Self {
        Self {
            start: Instant::now(),
            hx,
        }
    }
}

impl Clock for RealClock {
    fn now_ms(&mut self) -> u32 {
        let real = self.start.elapsed().as_nanos() as u64;
        let virt = self.hx.now_ns();
        if real > virt {
            self.hx.advance(real - virt);
        }
        (self.hx.now_ns() / 1_000_000) as u32
    }
}

/// Grams of milk left at `t` seconds: a glass (200 g) poured every `every` seconds, down to the
/// last 30 g.
pub fn milk_left(t: f64, every: f64) -> i64 {
    let glasses = (t / every).floor() as i64;
    (MILK_G - 200 * glasses).max(30)
}

/// The load cell's counts for `grams` on the scale, on an HX711 channel.
pub fn counts(grams: i64, mode: Mode) -> i64 {
    match mode {
        Mode::A128 => OFFSET + COUNTS_PER_GRAM * grams,
        Mode::A64 => (OFFSET + COUNTS_PER_GRAM * grams) / 2,
        Mode::B32 => 0,
    }
}

/// The node on the simulators.
pub type HostNode = Node<
    Hx711<SimDout, SimSck, SimDelay>,
    EspUplink<SimModem, StdDelay>,
    RealClock,
    NoLed,
    RamStorage<{ scale_node::config::CONFIG_MAX }>,
    256,
>;

/// What is on the scale: grams, or [`Load::BOTTLE`] for the milk bottle being poured out.
#[derive(Debug, Clone, Default)]
pub struct Load(Arc<AtomicI64>);

impl Load {
    /// The load follows the milk bottle being poured out.
    pub const BOTTLE: i64 = i64::MIN;

    /// Put `grams` on the scale ([`Load::BOTTLE`]: the milk bottle).
    pub fn set(&self, grams: i64) {
        self.0.store(grams, Ordering::Relaxed);
    }

    /// Grams on the scale at `t` seconds, with a glass poured every `every` seconds.
    pub fn grams(&self, t: f64, every: f64) -> i64 {
        match self.0.load(Ordering::Relaxed) {
            Self::BOTTLE => BOTTLE_G + milk_left(t, every),
            g => g,
        }
    }
}

/// A simulated node and the handles that play the world around it.
pub struct Rig {
    /// The node.
    pub node: HostNode,
    /// The load cell's simulator (its clock runs with the node's).
    pub hx: Hx711Sim,
    /// The modem's simulator: faults, counters, the setup server's address.
    pub modem: SimHandle,
    /// What is on the scale.
    pub load: Load,
}

/// The node's configuration for `gateway`, as setup mode would store it.
pub fn node_config(o: &NodeOptions, gateway: SocketAddr) -> NodeConfig {
    let mut cfg = NodeConfig {
        port: gateway.port(),
        interval_ms: o.interval_ms,
        samples: o.samples,
        calibration: Calibration::from_known_mass(
            OFFSET as i32,
            (OFFSET + COUNTS_PER_GRAM * 100) as i32,
            10_000,
        )
        .unwrap_or_default(),
        calibrated: true,
        container_cg: (BOTTLE_G * 100) as i32,
        full_cg: if o.amount {
            ((BOTTLE_G + MILK_G) * 100) as i32
        } else {
            0
        },
        low_centipct: 2_000,
        full_ml: if o.amount { 1_000 } else { 0 },
        format: if o.classic {
            Format::Classic
        } else {
            Format::Extended
        },
        ..NodeConfig::default()
    };
    let _ = cfg.ssid.push_str(SSID);
    let _ = cfg.password.push_str(PASSWORD);
    let _ = cfg.host.push_str(&gateway.ip().to_string());
    let _ = cfg.sensor_id.push_str(SENSOR_ID);
    cfg
}

/// The node's settings: short back-offs for a demo of seconds, a boot id from std, and the
/// setup server on a free port of this machine when it starts unconfigured.
pub fn settings(o: &NodeOptions) -> Settings {
    Settings {
        window: o.window.max(1),
        // short for a demo of a few seconds: the faults are over in seconds
        backoff_base_ms: 250,
        backoff_max_ms: 2_000,
        // a board takes it from its random number generator; a PC from std
        boot_id: scale_node::loopback::random_boot_id(),
        setup_port: if o.setup { 0 } else { 333 },
        ..Settings::default()
    }
}

/// A node on the simulators, the HX711 at `rate`, configured for `gateway` (unconfigured
/// with [`NodeOptions::setup`]).
pub fn build(o: &NodeOptions, gateway: SocketAddr, rate: Rate) -> Rig {
    let hx = Hx711Sim::new(rate);
    hx.set_noise(40);
    let every = (o.seconds / 6.0).max(1.0);
    let load = Load::default();
    load.set(if o.setup { 0 } else { Load::BOTTLE });
    let on_scale = load.clone();
    hx.set_load(move |ns, mode| counts(on_scale.grams(ns as f64 / 1e9, every), mode));
    let (dout, sck, delay) = hx.pins();
    let sensor = Hx711::new(dout, sck, delay, HxConfig::new(rate));
    let modem = SimModem::new(
        SimConfig::default()
            .with_network(SSID, PASSWORD)
            .with_baud(Some(115_200))
            .with_join_delay(Duration::from_millis(300)),
    );
    let handle = modem.handle();
    let esp = EspAt::new(modem, StdDelay, esp_at::Config::default().with_poll_us(100));
    let node = Node::new(
        sensor,
        EspUplink::new(esp, false),
        RealClock::new(hx.clone()),
        NoLed,
        RamStorage::default(),
        settings(o),
        (!o.setup).then(|| node_config(o, gateway)),
        false,
    );
    Rig {
        node,
        hx,
        modem: handle,
        load,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glass_every_period_down_to_the_last_30_g() {
        assert_eq!(milk_left(0.0, 2.0), 1_000);
        assert_eq!(milk_left(1.99, 2.0), 1_000);
        assert_eq!(milk_left(2.0, 2.0), 800);
        assert_eq!(milk_left(8.5, 2.0), 200);
        assert_eq!(milk_left(10.0, 2.0), 30);
        assert_eq!(milk_left(1e6, 2.0), 30);
    }

    #[test]
    fn counts_follow_the_article_calibration() {
        assert_eq!(counts(0, Mode::A128), 8_000);
        assert_eq!(counts(1_000, Mode::A128), 168_000);
        assert_eq!(counts(1_000, Mode::A64), 84_000);
        assert_eq!(counts(1_000, Mode::B32), 0);
    }

    #[test]
    fn the_load_is_a_fixed_mass_or_the_bottle() {
        let load = Load::default();
        load.set(1_000);
        assert_eq!(load.grams(100.0, 1.0), 1_000);
        load.set(Load::BOTTLE);
        assert_eq!(load.grams(0.0, 1.0), BOTTLE_G + MILK_G);
        assert_eq!(load.grams(1.0, 1.0), BOTTLE_G + MILK_G - 200);
        let other = load.clone();
        other.set(0);
        assert_eq!(load.grams(0.0, 1.0), 0, "clones share the scale");
    }

    fn options() -> NodeOptions {
        NodeOptions {
            seconds: 12.0,
            interval_ms: 250,
            samples: 5,
            classic: false,
            window: 0,
            amount: true,
            setup: false,
        }
    }

    #[test]
    fn the_configuration_points_at_the_gateway() {
        let gw: SocketAddr = "127.0.0.1:5001".parse().unwrap();
        let cfg = node_config(&options(), gw);
        assert_eq!(cfg.host.as_str(), "127.0.0.1");
        assert_eq!(cfg.port, 5001);
        assert_eq!(cfg.ssid.as_str(), SSID);
        assert_eq!(cfg.sensor_id.as_str(), SENSOR_ID);
        assert_eq!((cfg.interval_ms, cfg.samples), (250, 5));
        assert_eq!(cfg.format, Format::Extended);
        assert_eq!((cfg.full_cg, cfg.full_ml), (105_000, 1_000));
        let bench = node_config(
            &NodeOptions {
                classic: true,
                amount: false,
                ..options()
            },
            gw,
        );
        assert_eq!(bench.format, Format::Classic);
        assert_eq!((bench.full_cg, bench.full_ml), (0, 0));
    }

    #[test]
    fn settings_keep_a_window_of_one_at_least() {
        let s = settings(&options());
        assert_eq!(s.window, 1);
        assert_eq!(s.setup_port, 333);
        let s = settings(&NodeOptions {
            window: 4,
            setup: true,
            ..options()
        });
        assert_eq!(s.window, 4);
        assert_eq!(s.setup_port, 0, "a free port for the setup server");
    }
}
