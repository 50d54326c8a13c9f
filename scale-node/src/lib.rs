#![doc = include_str!("../README.md")]
#![no_std]

#[cfg(feature = "std")]
extern crate std;

/// The `avia-hx711` release of the [`Sensor`] implementation and the calibration.
pub use avia_hx711;
/// The `esp-at` release of [`EspUplink`] and of the messages ([`esp_at::Rom`], in program
/// memory on AVR; `esp_at::rom!` makes one for [`NodeConfig::set_rom`]).
#[macro_use]
pub extern crate esp_at;
/// The `embedded-hal-async` release of [`Node::run`]'s delay and [`SensorWait`]'s bounds
/// (feature `async`).
#[cfg(feature = "async")]
pub use embedded_hal_async;
/// The `embedded-io` release of the UART bounds of [`EspUplink`].
pub use embedded_io;
/// The `embedded-io-async` release of [`AsyncEspUplink`]'s UART bounds (feature `async`).
#[cfg(feature = "async")]
pub use embedded_io_async;
/// The `heapless` release of [`NodeConfig`]'s strings.
pub use heapless;
/// The `nb` release of [`Sensor::sample`].
pub use nb;

pub mod config;
pub mod fmt;
pub mod hal;
pub mod led;
#[cfg(feature = "std")]
pub mod loopback;
pub mod node;
pub mod storage;
pub mod telemetry;

pub use config::{NodeConfig, Setup, SetupReply};
#[cfg(feature = "async")]
pub use hal::{AsyncEspUplink, AsyncUplink, SensorWait};
pub use hal::{Clock, EspUplink, Fault, Sensor, Uplink, UplinkStatus};
pub use led::{BlinkCode, NoLed};
/// A node with no configuration yet (none stored, none built in) opens its setup access point:
///
/// ```
/// use avia_hx711::{Config as HxConfig, Hx711, Rate, sim::Hx711Sim};
/// use esp_at::sim::{SimConfig, SimModem, StdDelay};
/// use scale_node::config::CONFIG_MAX;
/// use scale_node::{Clock, EspUplink, Node, NoLed, RamStorage, Settings, State};
///
/// struct Virtual(Hx711Sim); // the simulated chip's clock, 1 ms per poll
/// impl Clock for Virtual {
///     fn now_ms(&mut self) -> u32 {
///         self.0.advance(1_000_000);
///         (self.0.now_ns() / 1_000_000) as u32
///     }
/// }
///
/// let hx = Hx711Sim::new(Rate::Sps80);
/// let (dout, sck, delay) = hx.pins();
/// let sensor = Hx711::new(dout, sck, delay, HxConfig::new(Rate::Sps80));
/// let esp = esp_at::EspAt::new(SimModem::new(SimConfig::default()), StdDelay, esp_at::Config::default());
/// let uplink = EspUplink::new(esp, false);
/// // the setup server on any free port of this machine (a board keeps the default, 333)
/// let settings = Settings { setup_ssid: "Kitchen-Scale", setup_port: 0, ..Settings::default() };
/// let mut node: Node<_, _, _, _, _> = Node::new(
///     sensor, uplink, Virtual(hx.clone()), NoLed, RamStorage::<CONFIG_MAX>::default(),
///     settings, None, false,
/// );
/// assert_eq!(node.state(), State::Boot);
/// while node.state() != State::Setup {
///     node.poll(); // bounded work per call
/// }
/// assert!(node.config().is_none()); // until a phone commits one over setup mode
/// ```
pub use node::Node;
/// How a node behaves beyond its [`NodeConfig`]: setup access point, status window, back-off,
/// estimator, boot id. Start from the default:
///
/// ```
/// let settings = scale_node::Settings {
///     window: 4,           // four lines in flight before their statuses
///     backoff_max_ms: 30_000,
///     boot_id: 0xDEAD_BEEF, // from the board's random number generator
///     ..scale_node::Settings::default()
/// };
/// assert_eq!(settings.setup_ssid, "Scale-Setup");
/// assert_eq!(settings.backoff_base_ms, 1_000);
/// ```
pub use node::Settings;
pub use node::{NodeEvent, NodeStats, State, reached};
pub use storage::{FlashSlot, NoStorage, RamStorage, SlotError};
pub use telemetry::{Format, Kind, Reading};

/// Apply the firmware's build-time configuration to a [`NodeConfig`], as setup mode would:
/// the environment variables `SCALE_SSID`, `SCALE_PASSWORD`, `SCALE_HOST`, `SCALE_PORT`,
/// `SCALE_SENSOR` (else the default given here), `SCALE_INTERVAL_MS`, `SCALE_SAMPLES`,
/// `SCALE_FORMAT`, `SCALE_OFFSET` (`cal_offset`) and `SCALE_COUNTS_PER_GRAM`
/// (`cal_counts_per_gram`), read when the firmware is compiled, then the whole is validated.
/// `Err` names the first problem. The values stay in program memory on AVR (no RAM).
///
/// ```
/// let mut cfg = scale_node::NodeConfig::default();
/// // (in a firmware: built with SCALE_SSID=... SCALE_HOST=... in the environment)
/// let r = scale_node::build_settings!(&mut cfg, "Scale.Kitchen");
/// assert_eq!(cfg.sensor_id.as_str(), "Scale.Kitchen");
/// assert_eq!(r.unwrap_err(), "ssid: 1-32 printable bytes"); // no SCALE_SSID here
/// ```
#[macro_export]
macro_rules! build_settings {
    ($cfg:expr, $default_sensor:literal) => {{
        #[inline(never)]
        fn apply(
            cfg: &mut $crate::NodeConfig,
        ) -> ::core::result::Result<(), $crate::esp_at::Rom> {
            use $crate::esp_at::{rom, rom_env};
            cfg.set_rom(rom!(b"sensor"), rom!($default_sensor.as_bytes()))?;
            $crate::build_settings!(@set cfg, b"ssid", "SCALE_SSID");
            $crate::build_settings!(@set cfg, b"password", "SCALE_PASSWORD");
            $crate::build_settings!(@set cfg, b"host", "SCALE_HOST");
            $crate::build_settings!(@set cfg, b"port", "SCALE_PORT");
            $crate::build_settings!(@set cfg, b"sensor", "SCALE_SENSOR");
            $crate::build_settings!(@set cfg, b"interval_ms", "SCALE_INTERVAL_MS");
            $crate::build_settings!(@set cfg, b"samples", "SCALE_SAMPLES");
            $crate::build_settings!(@set cfg, b"format", "SCALE_FORMAT");
            $crate::build_settings!(@set cfg, b"cal_offset", "SCALE_OFFSET");
            $crate::build_settings!(@set cfg, b"cal_counts_per_gram", "SCALE_COUNTS_PER_GRAM");
            cfg.validate()
        }
        apply($cfg)
    }};
    (@set $cfg:ident, $key:literal, $var:literal) => {
        if let Some(v) = rom_env!($var) {
            $cfg.set_rom(rom!($key), v)?;
        }
    };
}
