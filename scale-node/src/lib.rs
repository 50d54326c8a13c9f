#![doc = include_str!("../README.md")]
#![no_std]

#[cfg(feature = "std")]
extern crate std;

// constant text in program memory on AVR (see `esp_at::rom`)
#[macro_use]
extern crate esp_at;

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
pub use node::{Node, NodeEvent, NodeStats, Settings, State};
pub use storage::{FlashSlot, NoStorage, RamStorage, SlotError};
pub use telemetry::{Format, Kind, Reading};
