//! Firmware in the loop: a board's firmware runs in QEMU, its first UART connected through a
//! socket to the simulated ESP8266, which reaches a gateway on 127.0.0.1 that behaves like the
//! article's.
//!
//! The Netduino Plus 2 firmware (`qemu-system-arm -M netduinoplus2`) passes when it has joined,
//! connected and delivered a reading (QEMU has no GPIO model, so it is the node's `SensorFault`
//! report). The Uno's esp-at probe (`qemu-system-avr -M uno`) runs the same way; QEMU 7.2's AVR
//! USART never delivers the modem's answers to it, so that run is not part of CI.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use esp_at::sim::{SimConfig, SimModem};
use scale_node::loopback::ArticleGateway;

use crate::cli::{Board, FilArgs};

/// The sensor id the Netduino firmware sends with.
pub const NETDUINO_SENSOR: &str = "Scale.Netduino";
/// The line the Uno's probe sends.
pub const PROBE_LINE: &[u8] = b"Weight:1.00,Scale.Arduino\r\n";

impl Board {
    /// QEMU's program, machine and firmware option for the board.
    pub fn qemu(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Uno => ("qemu-system-avr", "uno", "-bios"),
            Self::Netduino => ("qemu-system-arm", "netduinoplus2", "-kernel"),
        }
    }
}

/// The Uno probe's report in what it wrote to the UART: the text from `PROBE ` to the end of
/// its line, once the line is complete.
pub fn probe_report(from_firmware: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(from_firmware);
    let i = text.find("PROBE ")?;
    let rest = text.get(i..)?;
    let end = rest.find('\r')?;
    rest.get(..end).map(str::to_string)
}

/// Run the firmware in QEMU against the simulated modem and the gateway and print what
/// happened: whether it passed, or an error when the run could not start.
pub fn run(args: &FilArgs) -> Result<bool, String> {
    let gw = ArticleGateway::start(args.port)
        .map_err(|e| format!("gateway on 127.0.0.1:{}: {e}", args.port))?;
    let mut modem =
        SimModem::new(SimConfig::default().with_network(args.ssid.clone(), args.password.clone()));
    let handle = modem.handle();
    let sock = std::env::temp_dir().join(format!("fil-esp-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock).map_err(|e| format!("socket: {e}"))?;
    let (qemu_bin, machine, load) = args.board.qemu();
    let mut qemu = Command::new(qemu_bin)
        .args(["-M", machine, "-display", "none", "-monitor", "none"])
        .arg("-chardev")
        .arg(format!("socket,id=esp,path={}", sock.display()))
        .args(["-serial", "chardev:esp", load])
        .arg(&args.firmware)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{qemu_bin}: {e}"))?;
    let result = listener
        .accept()
        .map_err(|e| e.to_string())
        .and_then(|(uart, _)| bridge(args, uart, &mut modem, &gw));
    let _ = qemu.kill();
    let _ = qemu.wait();
    let _ = std::fs::remove_file(&sock);
    let cmds = handle.commands();
    println!(
        "{machine} firmware in QEMU: {} AT commands, joined: {:?}",
        cmds.len(),
        handle.joined()
    );
    for m in gw.messages().iter().take(5) {
        println!(
            "  gateway got: {}",
            String::from_utf8_lossy(&m.raw).trim_end()
        );
    }
    match result {
        Ok(n) => {
            println!("PASS: {n} line(s) reached the gateway");
            Ok(true)
        }
        Err(e) => {
            println!(
                "FAIL: {e}; last commands: {:?}",
                cmds.iter().rev().take(8).collect::<Vec<_>>()
            );
            Ok(false)
        }
    }
}

/// Carry bytes between QEMU's UART and the modem until the firmware has passed (the lines that
/// reached the gateway) or the time is up.
fn bridge(
    args: &FilArgs,
    mut uart: UnixStream,
    modem: &mut SimModem,
    gw: &ArticleGateway,
) -> Result<usize, String> {
    uart.set_nonblocking(true).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut buf = [0u8; 512];
    let mut from_firmware: Vec<u8> = Vec::new();
    while start.elapsed() < Duration::from_secs(args.seconds) {
        match uart.read(&mut buf) {
            Ok(0) => return Err("QEMU closed the UART".into()),
            Ok(n) => {
                let got = buf.get(..n).unwrap_or_default();
                from_firmware.extend_from_slice(got);
                let _ = embedded_io::Write::write_all(modem, got);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.to_string()),
        }
        while embedded_io::ReadReady::read_ready(modem).unwrap_or(false) {
            let n = embedded_io::Read::read(modem, &mut buf).unwrap_or(0);
            uart.set_nonblocking(false).map_err(|e| e.to_string())?;
            uart.write_all(buf.get(..n).unwrap_or_default())
                .map_err(|e| e.to_string())?;
            uart.set_nonblocking(true).map_err(|e| e.to_string())?;
        }
        match args.board {
            Board::Uno => {
                // the probe reports its result and peak stack on the UART when it is done
                if let Some(report) = probe_report(&from_firmware) {
                    println!("uno firmware reports: {report}");
                    let sent = gw.messages().iter().any(|m| m.raw == PROBE_LINE);
                    return if report.starts_with("PROBE OK") && sent {
                        Ok(1)
                    } else {
                        Err(format!("probe: {report}; line at the gateway: {sent}"))
                    };
                }
            }
            Board::Netduino => {
                // QEMU models no GPIO, so the HX711 reads as a shorted line: the node reports a
                // SensorFault reading, which is what reaches the gateway
                let delivered = gw
                    .messages()
                    .iter()
                    .filter(|m| m.sensor_id == NETDUINO_SENSOR)
                    .count();
                if delivered >= 1 {
                    return Ok(delivered);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Err(format!(
        "only {} lines reached the gateway in {} s",
        gw.messages().len(),
        args.seconds
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_report_is_read_once_its_line_is_complete() {
        assert_eq!(probe_report(b"boot\r\nPROBE OK stack=3"), None);
        assert_eq!(
            probe_report(b"AT\r\nPROBE OK stack=312\r\n").as_deref(),
            Some("PROBE OK stack=312")
        );
        assert_eq!(
            probe_report(b"PROBE FAIL join\r").as_deref(),
            Some("PROBE FAIL join")
        );
        assert_eq!(probe_report(b"nothing here\r\n"), None);
    }

    #[test]
    fn each_board_runs_in_its_qemu_machine() {
        assert_eq!(
            Board::Netduino.qemu(),
            ("qemu-system-arm", "netduinoplus2", "-kernel")
        );
        assert_eq!(Board::Uno.qemu(), ("qemu-system-avr", "uno", "-bios"));
    }
}
