#![doc = include_str!("../README.md")]
#![no_std]
#![cfg_attr(target_arch = "avr", feature(asm_experimental_arch))]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "std")]
extern crate std;

// first: its `rom!` macro is used by the modules below
#[macro_use]
mod rom;

// first after it: the trace macros are used by the modules below
#[macro_use]
mod log;

#[cfg(feature = "async")]
pub mod asynch;
#[cfg(feature = "atat")]
pub mod atat_cmd;
pub mod blocking;
mod client;
pub mod command;
mod core;
pub mod dialect;
// the line parser: public only for this repository's tests and fuzz targets
#[cfg(feature = "__internal")]
#[doc(hidden)]
pub mod digest;
#[cfg(not(feature = "__internal"))]
mod digest;
mod error;
pub mod escape;
#[cfg(feature = "nal")]
pub mod nal;
#[cfg(feature = "nal-async")]
pub mod nal_async;
#[cfg(any(feature = "nal", feature = "nal-async"))]
mod nal_common;
#[cfg(feature = "nb-uart")]
pub mod nb_uart;
pub mod scan;
#[cfg(feature = "sim")]
pub mod sim;

pub use crate::client::{Config, MAX_SEND, NoPin, Pending};
pub use crate::command::decimal;
pub use crate::command::tcpip::Transport;
pub use crate::command::wifi::WifiMode;
pub use crate::core::{CAPTURE, Link, MAX_LINKS, Stats, WifiState};
pub use crate::dialect::{Capabilities, Version};
#[cfg(feature = "atat")]
pub use crate::digest::EspDigester;
pub use crate::digest::{Event, MAX_PAYLOAD, Urc};
pub use crate::error::{Error, JoinError};
pub use crate::rom::Rom;
pub use crate::scan::AccessPoint;
pub use blocking::EspAt;
/// The `embedded-hal-async` release of the async driver's delay bound (feature `async`).
#[cfg(feature = "async")]
pub use embedded_hal_async;
/// The `embedded-io` release of the blocking driver's UART bounds and error type.
pub use embedded_io;
/// The `embedded-io-async` release of the async driver's UART bounds (feature `async`).
#[cfg(feature = "async")]
pub use embedded_io_async;
/// The `heapless` release of [`EspAt::command`]'s answer.
pub use heapless;
