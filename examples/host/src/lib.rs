//! The whole weight-sensor node on a PC.
//!
//! A milk bottle on the scale is poured out glass by glass. The HX711 simulator plays the load
//! cell, the ESP8266 simulator plays the modem (115 200 baud pacing, real sockets), and the node
//! streams to a gateway on 127.0.0.1: a built-in one that behaves like the article's, or any
//! address given. Faults can be injected on a schedule. At the end: a summary.
//!
//! Two programs share this library:
//!
//! - `scale-node-host` (`src/main.rs`): the demo run ([`run`]), started unconfigured and
//!   provisioned over setup mode with `--setup` ([`setup`]), or the throughput benchmark with
//!   `--bench` ([`mod@bench`]).
//! - `fil` (`src/bin/fil.rs`): firmware in the loop, a board's firmware in QEMU against the
//!   simulated modem ([`fil`]).
//!
//! ```text
//! cargo run --release -p scale-node-host -- --help
//! cargo run --release -p scale-node-host -- --seconds 12 --outage-at 2 --outage-for 2 --reboot-at 6 --wifi-drop-at 9
//! ```

pub mod bench;
pub mod cli;
pub mod fil;
pub mod report;
pub mod run;
pub mod scenario;
pub mod setup;
pub mod sim;
