//! Firmware in the loop: the Netduino Plus 2 firmware runs in QEMU (`-M netduinoplus2`), its
//! USART1 connected through a socket to the simulated ESP8266, which reaches a gateway on
//! 127.0.0.1 that behaves like the article's. Passes when the firmware has joined, connected
//! and delivered a reading (QEMU has no GPIO model, so it is the node's `SensorFault` report).
//!
//! ```text
//! fil netduino <firmware.elf> <gateway-port> <ssid> <password> [seconds]
//! ```
//!
//! (`uno` runs the Uno's esp-at probe in `qemu-system-avr -M uno` the same way; QEMU 7.2's AVR
//! USART never delivers the modem's answers to it, so that run is not part of CI.)

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use esp_at::sim::{SimConfig, SimModem};
use scale_node::loopback::ArticleGateway;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    if args.len() < 6 || !["netduino", "uno"].contains(&args[1].as_str()) {
        eprintln!(
            "usage: fil <netduino|uno> <firmware.elf> <gateway-port> <ssid> <password> [seconds]"
        );
        return ExitCode::from(2);
    }
    let uno = args.remove(1) == "uno";
    let (elf, ssid, password) = (&args[1], &args[3], &args[4]);
    let Ok(port) = args[2].parse::<u16>() else {
        eprintln!("bad port");
        return ExitCode::from(2);
    };
    let secs: u64 = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(60);
    let gw = match ArticleGateway::start(port) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("gateway on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut modem =
        SimModem::new(SimConfig::default().with_network(ssid.clone(), password.clone()));
    let handle = modem.handle();
    let sock = std::env::temp_dir().join(format!("fil-esp-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&sock);
    let listener = match UnixListener::bind(&sock) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("socket: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (qemu_bin, machine, load) = if uno {
        ("qemu-system-avr", "uno", "-bios")
    } else {
        ("qemu-system-arm", "netduinoplus2", "-kernel")
    };
    let qemu = Command::new(qemu_bin)
        .args(["-M", machine, "-display", "none", "-monitor", "none"])
        .arg("-chardev")
        .arg(format!("socket,id=esp,path={}", sock.display()))
        .args(["-serial", "chardev:esp", load, elf])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn();
    let mut qemu = match qemu {
        Ok(q) => q,
        Err(e) => {
            eprintln!("{qemu_bin}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = (|| -> Result<usize, String> {
        let (mut uart, _) = listener.accept().map_err(|e| e.to_string())?;
        uart.set_nonblocking(true).map_err(|e| e.to_string())?;
        let start = Instant::now();
        let mut buf = [0u8; 512];
        let mut from_firmware: Vec<u8> = Vec::new();
        while start.elapsed() < Duration::from_secs(secs) {
            match uart.read(&mut buf) {
                Ok(0) => return Err("QEMU closed the UART".into()),
                Ok(n) => {
                    from_firmware.extend_from_slice(&buf[..n]);
                    let _ = embedded_io::Write::write_all(&mut modem, &buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.to_string()),
            }
            while embedded_io::ReadReady::read_ready(&mut modem).unwrap_or(false) {
                let n = embedded_io::Read::read(&mut modem, &mut buf).unwrap_or(0);
                uart.set_nonblocking(false).map_err(|e| e.to_string())?;
                uart.write_all(&buf[..n]).map_err(|e| e.to_string())?;
                uart.set_nonblocking(true).map_err(|e| e.to_string())?;
            }
            if uno {
                // the probe reports its result and peak stack on the UART when it is done
                let text = String::from_utf8_lossy(&from_firmware).into_owned();
                if let Some(i) = text.find("PROBE ")
                    && let Some(end) = text[i..].find('\r')
                {
                    let report = text[i..i + end].to_string();
                    println!("uno firmware reports: {report}");
                    let sent = gw
                        .messages()
                        .iter()
                        .any(|m| m.raw == b"Weight:1.00,Scale.Arduino\r\n");
                    return if report.starts_with("PROBE OK") && sent {
                        Ok(1)
                    } else {
                        Err(format!("probe: {report}; line at the gateway: {sent}"))
                    };
                }
            } else {
                // QEMU models no GPIO, so the HX711 reads as a shorted line: the node reports a
                // SensorFault reading, which is what reaches the gateway
                let delivered = gw
                    .messages()
                    .iter()
                    .filter(|m| m.sensor_id == "Scale.Netduino")
                    .count();
                if delivered >= 1 {
                    return Ok(delivered);
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Err(format!(
            "only {} lines reached the gateway in {secs} s",
            gw.messages().len()
        ))
    })();
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
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!(
                "FAIL: {e}; last commands: {:?}",
                cmds.iter().rev().take(8).collect::<Vec<_>>()
            );
            ExitCode::FAILURE
        }
    }
}
