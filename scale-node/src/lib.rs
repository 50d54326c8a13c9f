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
/// The `embedded-io` release of the UART bounds of [`EspUplink`].
pub use embedded_io;
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
pub use hal::{Clock, EspUplink, Fault, Sensor, Uplink};
pub use led::{BlinkCode, NoLed};
pub use node::{Node, NodeEvent, NodeStats, Settings, State, reached};
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
