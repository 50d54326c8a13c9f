#![doc = include_str!("../README.md")]
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "async")]
mod asynch;
pub mod calibration;
pub mod config;
mod driver;
mod error;
pub mod filter;
// division helpers for 16-bit targets, shared with scale-node through `__internal`
#[cfg(feature = "__internal")]
#[doc(hidden)]
pub mod math;
#[cfg(not(feature = "__internal"))]
mod math;
#[cfg(feature = "mock")]
pub mod mock;
mod mode;
mod sample;
#[cfg(feature = "sim")]
pub mod sim;

pub use calibration::{Calibration, CalibrationError, ChannelCalibration};
pub use config::{Config, Protection, Rate, Revision, SettlePolicy, Timing, TimingError};
pub use driver::{Clock, Hx711, NoClock};
/// The `embedded-hal-async` release of the async reads' `Wait` and `DelayNs` bounds (feature
/// `async`).
#[cfg(feature = "async")]
pub use embedded_hal_async;
pub use error::Error;
pub use mode::{Channel, Gain, Mode};
/// The `nb` crate of [`Hx711::try_read`]'s result.
pub use nb;
pub use sample::{MAX_RAW, MIN_RAW, Sample, Saturation, decode};
