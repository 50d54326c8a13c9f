//! Firmware in the loop: a board's firmware in QEMU against the simulated ESP8266 and a gateway
//! on 127.0.0.1 (see `scale_node_host::fil`).
//!
//! ```text
//! fil <netduino|uno> <firmware.elf> <gateway-port> <ssid> <password> [seconds]
//! ```

use std::process::ExitCode;

use clap::Parser;
use scale_node_host::cli::FilArgs;

fn main() -> ExitCode {
    match scale_node_host::fil::run(&FilArgs::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
