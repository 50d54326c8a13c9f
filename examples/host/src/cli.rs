//! The command lines of the two programs: `scale-node-host` ([`Args`]) and `fil` ([`FilArgs`]).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::scenario::Schedule;
use crate::sim::NodeOptions;

/// The whole weight-sensor node on a PC.
///
/// A milk bottle on the scale is poured out glass by glass. The HX711 simulator plays the load
/// cell, the ESP8266 simulator plays the modem (115 200 baud pacing, real sockets), and the node
/// streams to a gateway on 127.0.0.1: a built-in one that behaves like the article's, or any
/// address given with --gateway. Faults can be injected on a schedule (seconds from the start
/// of streaming). At the end: a summary; the exit status is 1 when a reading was not delivered.
#[derive(Debug, Clone, PartialEq, Parser)]
#[command(
    name = "scale-node-host",
    version,
    after_help = "Examples:\n  \
        scale-node-host --seconds 12 --outage-at 2 --outage-for 2 --reboot-at 6 --wifi-drop-at 9 --quiet\n  \
        scale-node-host --setup --seconds 6 --quiet\n  \
        scale-node-host --bench --seconds 3\n  \
        scale-node-host --gateway 127.0.0.1:5001"
)]
pub struct Args {
    /// How long to run, seconds (with --bench: how long each measurement runs, at most 10)
    #[arg(long, value_name = "N", default_value_t = 20.0, value_parser = seconds, allow_negative_numbers = true)]
    pub seconds: f64,
    /// Time between readings, milliseconds
    #[arg(
        long,
        value_name = "N",
        default_value_t = 250,
        allow_negative_numbers = true
    )]
    pub interval_ms: u32,
    /// Samples per reading
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub samples: u8,
    /// An external gateway instead of the built-in one
    #[arg(long, value_name = "HOST:PORT")]
    pub gateway: Option<SocketAddr>,
    /// Send the article's classic lines only (weight, no amount, volume or low-stock lines)
    #[arg(long)]
    pub classic: bool,
    /// Take the built-in gateway down at second S ...
    #[arg(long, value_name = "S", value_parser = seconds, allow_negative_numbers = true, conflicts_with = "gateway")]
    pub outage_at: Option<f64>,
    /// ... for S seconds
    #[arg(long, value_name = "S", default_value_t = 3.0, value_parser = seconds, allow_negative_numbers = true)]
    pub outage_for: f64,
    /// Reboot the modem at second S
    #[arg(long, value_name = "S", value_parser = seconds, allow_negative_numbers = true)]
    pub reboot_at: Option<f64>,
    /// Drop the Wi-Fi at second S
    #[arg(long, value_name = "S", value_parser = seconds, allow_negative_numbers = true)]
    pub wifi_drop_at: Option<f64>,
    /// Lines in flight before waiting for statuses (0 counts as 1)
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub window: u8,
    /// Summary only: no line per delivered reading, no progress lines
    #[arg(long)]
    pub quiet: bool,
    /// Measure readings per second at 80 SPS (windows 1 and 4, one sample per reading, the
    /// built-in gateway) against the article's loop
    #[arg(
        long,
        conflicts_with_all = [
            "setup", "gateway", "classic", "outage_at", "reboot_at", "wifi_drop_at",
            "interval_ms", "samples", "window",
        ]
    )]
    pub bench: bool,
    /// Start unconfigured: provision and calibrate the node over setup mode first, as a phone
    /// on its access point would
    #[arg(long)]
    pub setup: bool,
}

impl Args {
    /// What the simulated node is built from.
    pub fn node_options(&self) -> NodeOptions {
        NodeOptions {
            seconds: self.seconds,
            interval_ms: self.interval_ms,
            samples: self.samples,
            classic: self.classic,
            window: self.window,
            amount: true,
            setup: self.setup,
        }
    }

    /// The fault schedule. An outage needs the built-in gateway (`builtin`): only that one can
    /// be taken down.
    pub fn schedule(&self, builtin: bool) -> Schedule {
        Schedule::new(
            self.outage_at.filter(|_| builtin),
            self.outage_for,
            self.reboot_at,
            self.wifi_drop_at,
        )
    }
}

/// A time in seconds: a finite number, not negative.
fn seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err("a number of seconds, 0 or more".into())
    }
}

/// Firmware in the loop: a board's firmware in QEMU, its UART connected to the simulated
/// ESP8266, which reaches a gateway on 127.0.0.1 that behaves like the article's.
///
/// Passes (exit status 0) when a reading from the firmware reaches the gateway; for `uno`, when
/// the esp-at probe reports success and its line reached the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "fil", version)]
pub struct FilArgs {
    /// The board QEMU models
    pub board: Board,
    /// The firmware's ELF file
    pub firmware: PathBuf,
    /// The gateway's port on 127.0.0.1 (the one the firmware was built for, `SCALE_PORT`)
    pub port: u16,
    /// The simulated network's name (the firmware's `SCALE_SSID`)
    pub ssid: String,
    /// The simulated network's password (the firmware's `SCALE_PASSWORD`)
    pub password: String,
    /// How long to wait for a reading, seconds
    #[arg(default_value_t = 60)]
    pub seconds: u64,
}

/// A board of the firmware-in-the-loop run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Board {
    /// Netduino Plus 2 (`qemu-system-arm -M netduinoplus2`): the whole node
    Netduino,
    /// Arduino Uno (`qemu-system-avr -M uno`): the esp-at probe. QEMU 7.2's AVR USART never
    /// delivers the modem's answers to it, so this run does not pass there.
    Uno,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn args(line: &str) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("scale-node-host").chain(line.split_whitespace()))
    }

    fn fil(line: &str) -> Result<FilArgs, clap::Error> {
        FilArgs::try_parse_from(std::iter::once("fil").chain(line.split_whitespace()))
    }

    fn kind(r: Result<impl std::fmt::Debug, clap::Error>) -> ErrorKind {
        match r {
            Ok(v) => panic!("accepted: {v:?}"),
            Err(e) => e.kind(),
        }
    }

    #[test]
    fn defaults_are_usage_defaults() {
        let a = args("").unwrap();
        assert_eq!(a.seconds, 20.0);
        assert_eq!(a.interval_ms, 250);
        assert_eq!(a.samples, 5);
        assert_eq!(a.gateway, None);
        assert!(!a.classic);
        assert_eq!(a.outage_at, None);
        assert_eq!(a.outage_for, 3.0);
        assert_eq!(a.reboot_at, None);
        assert_eq!(a.wifi_drop_at, None);
        assert_eq!(a.window, 1);
        assert!(!a.quiet && !a.bench && !a.setup);
        let o = a.node_options();
        assert!(o.amount, "the demo sends amount and volume lines");
        assert!(!o.setup);
    }

    #[test]
    fn the_ci_fault_run() {
        let a = args(
            "--seconds 12 --outage-at 2 --outage-for 2 --reboot-at 6 --wifi-drop-at 9 --quiet",
        )
        .unwrap();
        assert_eq!(a.seconds, 12.0);
        assert_eq!(a.outage_at, Some(2.0));
        assert_eq!(a.outage_for, 2.0);
        assert_eq!(a.reboot_at, Some(6.0));
        assert_eq!(a.wifi_drop_at, Some(9.0));
        assert!(a.quiet);
        assert!(!a.bench && !a.setup);
    }

    #[test]
    fn the_ci_setup_and_bench_runs() {
        let a = args("--setup --seconds 6 --quiet").unwrap();
        assert!(a.setup && a.quiet);
        assert_eq!(a.seconds, 6.0);
        assert!(a.node_options().setup);
        let b = args("--bench --seconds 3").unwrap();
        assert!(b.bench);
        assert_eq!(b.seconds, 3.0);
    }

    #[test]
    fn the_gateway_tests_run() {
        let a = args("--gateway 127.0.0.1:5001 --seconds 3 --interval-ms 100 --quiet").unwrap();
        assert_eq!(a.gateway, Some("127.0.0.1:5001".parse().unwrap()));
        assert_eq!(a.interval_ms, 100);
        let o = a.node_options();
        assert_eq!((o.seconds, o.interval_ms), (3.0, 100));
    }

    #[test]
    fn every_value_flag_takes_its_value() {
        let a =
            args("--samples 3 --window 4 --classic --seconds 1.5 --outage-at 0.25 --outage-for 0")
                .unwrap();
        assert_eq!(a.samples, 3);
        assert_eq!(a.window, 4);
        assert!(a.classic);
        assert_eq!(a.seconds, 1.5);
        assert_eq!(a.outage_at, Some(0.25));
        assert_eq!(a.outage_for, 0.0);
        let o = a.node_options();
        assert_eq!((o.samples, o.window, o.classic), (3, 4, true));
        // `--flag=value` works too
        assert_eq!(args("--seconds=7").unwrap().seconds, 7.0);
    }

    #[test]
    fn bad_values_are_errors() {
        for line in [
            "--seconds abc",
            "--seconds -1",
            "--seconds NaN",
            "--seconds inf",
            "--interval-ms 2.5",
            "--interval-ms -3",
            "--samples 256",
            "--window many",
            "--gateway localhost",
            "--gateway 127.0.0.1",
            "--outage-at soon",
            "--outage-for -2",
            "--reboot-at x",
            "--wifi-drop-at 1e999",
        ] {
            let k = kind(args(line));
            assert!(
                matches!(k, ErrorKind::ValueValidation | ErrorKind::UnknownArgument),
                "{line}: {k:?}"
            );
        }
        assert_eq!(kind(args("--seconds")), ErrorKind::InvalidValue);
        assert_eq!(kind(args("--bogus")), ErrorKind::UnknownArgument);
        assert_eq!(kind(args("12")), ErrorKind::UnknownArgument);
    }

    #[test]
    fn combinations_that_would_be_ignored_are_refused() {
        for line in [
            "--bench --setup",
            "--bench --gateway 127.0.0.1:5001",
            "--bench --window 4",
            "--bench --reboot-at 1",
            "--gateway 127.0.0.1:5001 --outage-at 2",
        ] {
            assert_eq!(kind(args(line)), ErrorKind::ArgumentConflict, "{line}");
        }
        // faults the node's own modem can have work with any gateway
        assert!(args("--gateway 127.0.0.1:5001 --reboot-at 2 --wifi-drop-at 3").is_ok());
    }

    #[test]
    fn help_documents_every_flag() {
        let e = args("--help").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DisplayHelp);
        let help = e.to_string();
        for flag in [
            "--seconds",
            "--interval-ms",
            "--samples",
            "--gateway <HOST:PORT>",
            "--classic",
            "--outage-at <S>",
            "--outage-for <S>",
            "--reboot-at <S>",
            "--wifi-drop-at <S>",
            "--window",
            "--quiet",
            "--bench",
            "--setup",
            "[default: 20]",
            "[default: 250]",
            "[default: 5]",
            "[default: 3]",
            "[default: 1]",
        ] {
            assert!(help.contains(flag), "{flag} missing from:\n{help}");
        }
    }

    #[test]
    fn the_boards_script_invocation() {
        let f = fil("netduino fw.elf 15055 fil-net fil-password 120").unwrap();
        assert_eq!(f.board, Board::Netduino);
        assert_eq!(f.firmware, PathBuf::from("fw.elf"));
        assert_eq!(f.port, 15055);
        assert_eq!(f.ssid, "fil-net");
        assert_eq!(f.password, "fil-password");
        assert_eq!(f.seconds, 120);
        let f = fil("uno probe.elf 15056 net pw").unwrap();
        assert_eq!(f.board, Board::Uno);
        assert_eq!(f.seconds, 60);
    }

    #[test]
    fn fil_refuses_bad_lines() {
        assert_eq!(
            kind(fil("pico fw.elf 15055 n p")),
            ErrorKind::InvalidValue,
            "unknown board"
        );
        assert_eq!(
            kind(fil("netduino fw.elf 70000 n p")),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(fil("netduino fw.elf 15055 n p soon")),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(fil("netduino fw.elf 15055 n")),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            kind(fil("netduino fw.elf 15055 n p 1 2")),
            ErrorKind::UnknownArgument
        );
    }
}
