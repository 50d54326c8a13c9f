//! The AVR node firmware in simavr: it joins through the simulated ESP8266, connects to a
//! gateway on 127.0.0.1 and streams readings whose values follow the simulated load, keeps the
//! readings of a gateway outage and delivers them in order, recovers from a modem reboot,
//! reports an unplugged HX711 and weighs again when it is back;
//! every `PD_SCK` high phase stays within the datasheet's 50 µs.
//!
//! The firmware is built beforehand (see `scripts/boards.sh`) with the configuration below in
//! its environment and the feature `stack-report` (it reports its peak stack after each
//! delivered reading); `NODE_ELF` names it and `NODE_MCU` says which AVR (`atmega328p` or
//! `atmega2560`). `SETUP_ELF` is the same firmware built without a configuration (setup mode),
//! `PROBE_ELF` the Uno's esp-at probe, `SKETCH_ELF` the Uno's sketch (built with the feature
//! `stack-report`, `SCALE_PORT` = `SKETCH_PORT`). Without them the tests fail: a firmware test that
//! silently passes without firmware would prove nothing.
//!
//! | build variable | value the test expects |
//! |---|---|
//! | `SCALE_SSID` / `SCALE_PASSWORD` | `fil-net` / `fil-password` |
//! | `SCALE_HOST` / `SCALE_PORT` | `127.0.0.1` / `NODE_PORT` (15055 unless set) |
//! | `SCALE_SENSOR` | unset (`Scale.Arduino`) |
//! | `SCALE_COUNTS_PER_GRAM` / `SCALE_OFFSET` | `420` / `8000` |
//! | `SCALE_SAMPLES` / `SCALE_INTERVAL_MS` | `3` / `500` |

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use esp_at::sim::{SimConfig, SimHandle, SimModem};
use avia_hx711::Rate;
use avia_hx711::sim::{Fault, Hx711Sim};
use scale_node::loopback::ArticleGateway;
use scale_node_uno_fil::{CPU_HZ, Mcu, Rig, T3_MAX_CYCLES};

const OFFSET: i64 = 8_000;
const COUNTS_PER_GRAM: i64 = 420;

/// Raw code for `centigrams` on the calibrated scale.
fn code(centigrams: i64) -> i64 {
    OFFSET + centigrams * COUNTS_PER_GRAM / 100
}

fn weights(gw: &ArticleGateway) -> Vec<String> {
    gw.messages()
        .into_iter()
        .filter(|m| m.sensor_type == "Weight" && m.sensor_id == "Scale.Arduino")
        .map(|m| m.value)
        .collect()
}

/// The firmware named by the environment variable `var` (a test without it fails).
fn firmware(var: &str, what: &str) -> PathBuf {
    let elf = PathBuf::from(
        std::env::var(var).unwrap_or_else(|_| panic!("{var}: {what} (scripts/boards.sh)")),
    );
    assert!(elf.exists(), "{} does not exist", elf.display());
    elf
}

/// The gateway the firmware was built for: port from `var`, else `default`.
fn gateway(var: &str, default: u16) -> (ArticleGateway, u16) {
    let port = std::env::var(var)
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(default);
    (
        ArticleGateway::start(port).expect("gateway port free"),
        port,
    )
}

/// The simulated ESP8266, in a world with the test network.
fn modem() -> (SimModem, SimHandle) {
    let modem = SimModem::new(SimConfig::default().with_network("fil-net", "fil-password"));
    let handle = modem.handle();
    (modem, handle)
}

#[test]
fn firmware_joins_connects_and_streams_the_load() {
    let elf = firmware(
        "NODE_ELF",
        "the node firmware, configured for the test network",
    );
    let mcu = match std::env::var("NODE_MCU").as_deref() {
        Ok("atmega2560") => Mcu::Atmega2560,
        _ => Mcu::Atmega328p,
    };
    let (gw, _) = gateway("NODE_PORT", 15_055);
    let (modem, handle) = modem();
    let hx = Hx711Sim::new(Rate::Sps10);
    hx.set_constant(code(25_000));
    let mut rig = Rig::new(&elf, mcu, hx.clone(), modem);
    let wall = Duration::from_secs(240);

    // boot, join, connect, and three readings of 250 g
    let ok = rig.run_until(30_000, wall, |_| {
        weights(&gw).iter().filter(|v| *v == "250.00").count() >= 3
    });
    let sent = String::from_utf8_lossy(&rig.transcript).into_owned();
    let level = rig.dout_level();
    assert!(
        ok,
        "no three 250.00 readings after {} ms: gateway saw {:?}; modem joined {:?}; \
         firmware sent {} bytes, last: {:?}; chip {:?}; {} pulses, longest {} cycles, {} DOUT edges, pb1 now {}",
        rig.millis(),
        weights(&gw),
        handle.joined(),
        rig.to_modem,
        sent.get(sent.len().saturating_sub(300)..).unwrap_or(""),
        hx.stats(),
        rig.pulses,
        rig.max_high_cycles,
        rig.dout_edges,
        level,
    );
    assert_eq!(handle.joined().as_deref(), Some("fil-net"));
    let first = rig.millis();

    // the load changes: the readings follow
    hx.set_constant(code(12_345));
    let ok = rig.run_until(20_000, wall, |_| weights(&gw).iter().any(|v| v == "123.45"));
    assert!(ok, "readings did not follow the load: {:?}", weights(&gw));
    let w = weights(&gw);
    assert!(
        w.iter().all(|v| v == "250.00" || v == "123.45"),
        "only the two loads, exactly: {w:?}"
    );
    // the article's line, byte for byte
    let m = gw.messages().into_iter().last().unwrap();
    assert_eq!(m.raw, b"Weight:123.45,Scale.Arduino\r\n");

    // The gateway goes away for 3 s while the load changes twice: the readings taken meanwhile
    // wait in the node's queue and arrive, in order, once it is back. (Each load lasts several
    // readings, so its value marks when a reading was taken.)
    gw.set_down(true);
    let outage_from = rig.millis();
    hx.set_constant(code(30_100));
    rig.run_until(1_500, wall, |_| false);
    hx.set_constant(code(30_200));
    rig.run_until(1_500, wall, |_| false);
    let during = weights(&gw).len();
    gw.set_down(false);
    hx.set_constant(code(30_300));
    let back = rig.millis();
    let ok = rig.run_until(30_000, wall, |_| weights(&gw).iter().any(|v| v == "303.00"));
    assert!(ok, "no reading after the outage: {:?}", weights(&gw));
    let recovered_in = rig.millis() - back;
    let after: Vec<String> = weights(&gw).into_iter().skip(during).collect();
    let pos = |v: &str| after.iter().position(|x| x == v);
    let (a, b, c) = (pos("301.00"), pos("302.00"), pos("303.00"));
    assert!(
        a.is_some() && a < b && b < c,
        "the readings of the outage arrive, in order: {after:?}"
    );
    assert!(
        after
            .iter()
            .all(|v| ["123.45", "301.00", "302.00", "303.00"].contains(&v.as_str())),
        "nothing else: {after:?}"
    );

    // the modem reboots: the firmware notices, initialises it again, rejoins and goes on
    handle.reboot();
    hx.set_constant(code(40_400));
    let rebooted_at = rig.millis();
    let ok = rig.run_until(30_000, wall, |_| weights(&gw).iter().any(|v| v == "404.00"));
    assert!(ok, "no reading after the modem reboot: {:?}", weights(&gw));
    let rejoined_in = rig.millis() - rebooted_at;
    assert!(handle.reboots() >= 1);
    println!(
        "firmware in the loop ({mcu:?}): gateway outage of 3000 ms from {outage_from} ms: the \
         readings taken meanwhile arrived in order, {recovered_in} ms after it came back; modem \
         reboot: readings again after {rejoined_in} ms"
    );

    // a working chip is never reported as a fault
    let kinds: Vec<String> = gw.messages().into_iter().map(|m| m.sensor_type).collect();
    assert!(kinds.iter().all(|k| k == "Weight"), "{kinds:?}");
    // PD_SCK: every high phase within T3 max, and the chip saw only well-formed frames
    let chip = hx.stats();
    println!(
        "firmware in the loop ({mcu:?}): {} readings in {} ms simulated ({} to the first three); \
         {} PD_SCK pulses, longest high phase {} cycles = {:.2} us (T3 max {} cycles); \
         UART {} B out, {} B in; chip: {} conversions, {} frames, {} bad frames, {} power-downs",
        weights(&gw).len(),
        rig.millis(),
        first,
        rig.pulses,
        rig.max_high_cycles,
        rig.max_high_cycles as f64 * 1e6 / CPU_HZ as f64,
        T3_MAX_CYCLES,
        rig.to_modem,
        rig.to_firmware,
        chip.conversions,
        chip.frames,
        chip.bad_frames,
        chip.power_downs,
    );
    assert!(rig.pulses >= 25 * 6, "frames were clocked: {}", rig.pulses);
    assert_eq!(
        rig.t3_violations, 0,
        "PD_SCK high longer than 50 us (longest {} cycles)",
        rig.max_high_cycles
    );
    // A frame that starts just as the next conversion completes is corrupted on the real chip
    // too (the node's reading schedule and the chip's conversions share a time base here, so
    // it happens now and then); the median of the samples keeps it out of the readings above.
    assert!(
        chip.bad_frames * 5 <= chip.frames,
        "too many frames overlapped a conversion: {chip:?}"
    );
    assert_eq!(chip.t3_violations, 0);

    // the HX711 comes unplugged (DOUT floats up on the pull-up): the firmware reports it,
    // keeps the link, and goes back to weighing once the chip is back
    hx.set_fault(Fault::DoutStuckHigh);
    let unplugged_at = rig.millis();
    let ok = rig.run_until(10_000, wall, |_| {
        gw.messages()
            .iter()
            .any(|m| m.raw == b"SensorFault:0.00,Scale.Arduino\r\n")
    });
    assert!(ok, "no SensorFault line: {:?}", gw.messages());
    let reported_in = rig.millis() - unplugged_at;
    hx.set_fault(Fault::None);
    hx.set_constant(code(50_500));
    let ok = rig.run_until(10_000, wall, |_| weights(&gw).iter().any(|v| v == "505.00"));
    assert!(
        ok,
        "no reading after the chip came back: {:?}",
        weights(&gw)
    );
    println!(
        "firmware in the loop ({mcu:?}): an unplugged HX711 was reported after {reported_in} ms; \
         weighing resumed when it came back"
    );

    // the RAM it needed: statics plus the deepest stack since boot (feature `stack-report`)
    let reports = rig.stack_reports();
    assert!(
        !reports.is_empty(),
        "no stack report: build the node with the feature stack-report"
    );
    let stack = reports.iter().map(|r| r.0).max().unwrap_or(0);
    let statics = reports[0].1;
    let used = u32::from(stack) + u32::from(statics);
    let ram = match mcu {
        Mcu::Atmega328p => 2_048,
        Mcu::Atmega2560 => 8_192,
    };
    println!(
        "firmware in the loop ({mcu:?}): peak stack {stack} B + statics {statics} B = {used} B \
         of RAM (the Uno has 2048 B, this MCU {ram} B)"
    );
    assert!(used <= ram, "{used} B of RAM used, {ram} B there");
}

/// The article's sketch on the Uno itself (ATmega328P): `SKETCH_ELF`, built with the test
/// network, `SCALE_PORT` = `SKETCH_PORT` (15058 unless set) and the feature `stack-report`, which
/// sends the peak stack over SPI after every delivered reading.
#[test]
fn the_article_sketch_runs_on_the_uno() {
    let elf = firmware("SKETCH_ELF", "the Uno's sketch firmware (stack-report)");
    let (gw, _) = gateway("SKETCH_PORT", 15_058);
    let (modem, handle) = modem();
    let hx = Hx711Sim::new(Rate::Sps10);
    hx.set_constant(code(25_000));
    let mut rig = Rig::new(&elf, Mcu::Atmega328p, hx.clone(), modem);
    let wall = Duration::from_secs(180);

    let ok = rig.run_until(30_000, wall, |_| {
        weights(&gw).iter().filter(|v| *v == "250.00").count() >= 3
    });
    assert!(
        ok,
        "no three 250.00 readings after {} ms: gateway saw {:?}; modem joined {:?}",
        rig.millis(),
        weights(&gw),
        handle.joined()
    );
    let first = rig.millis();
    hx.set_constant(code(12_345));
    assert!(rig.run_until(20_000, wall, |_| weights(&gw).iter().any(|v| v == "123.45")));
    let m = gw.messages().into_iter().last().unwrap();
    assert_eq!(m.raw, b"Weight:123.45,Scale.Arduino\r\n");
    let w = weights(&gw);
    assert!(
        w.iter().all(|v| v == "250.00" || v == "123.45"),
        "only the two loads, exactly: {w:?}"
    );

    // the gateway goes away and comes back: readings resume (the sketch keeps no queue)
    gw.set_down(true);
    rig.run_until(1_500, wall, |_| false);
    gw.set_down(false);
    hx.set_constant(code(30_300));
    assert!(
        rig.run_until(30_000, wall, |_| weights(&gw).iter().any(|v| v == "303.00")),
        "no reading after the outage: {:?}",
        weights(&gw)
    );

    // the modem reboots: the sketch rejoins, reconnects and goes on
    handle.reboot();
    hx.set_constant(code(40_400));
    let rebooted_at = rig.millis();
    assert!(
        rig.run_until(30_000, wall, |_| weights(&gw).iter().any(|v| v == "404.00")),
        "no reading after the modem reboot: {:?}",
        weights(&gw)
    );
    let rejoined_in = rig.millis() - rebooted_at;

    // the HX711 comes unplugged, then back
    hx.set_fault(Fault::DoutStuckHigh);
    assert!(rig.run_until(10_000, wall, |_| {
        gw.messages()
            .iter()
            .any(|m| m.raw == b"SensorFault:0.00,Scale.Arduino\r\n")
    }));
    hx.set_fault(Fault::None);
    hx.set_constant(code(50_500));
    assert!(rig.run_until(10_000, wall, |_| weights(&gw).iter().any(|v| v == "505.00")));

    assert_eq!(
        rig.t3_violations, 0,
        "PD_SCK high longer than 50 us (longest {} cycles)",
        rig.max_high_cycles
    );
    let reports = rig.stack_reports();
    assert!(!reports.is_empty(), "no stack report over SPI");
    let stack = reports.iter().map(|r| r.0).max().unwrap_or(0);
    let statics = reports[0].1;
    println!(
        "the article's sketch on the Uno (ATmega328P) in simavr: first three readings after \
         {first} ms, readings again {rejoined_in} ms after a modem reboot; longest PD_SCK high \
         phase {} cycles; peak stack {stack} B + statics {statics} B = {} of 2048 B",
        rig.max_high_cycles,
        u32::from(stack) + u32::from(statics)
    );
    assert!(
        u32::from(stack) + u32::from(statics) <= 2048,
        "stack {stack} + statics {statics} within the ATmega328P's 2048 B"
    );
}

/// The Uno itself (ATmega328P): the esp-at probe joins, connects and sends through the
/// simulated ESP8266 and reports the deepest stack it reached; statics plus stack must fit the
/// 2 KiB of RAM. `PROBE_ELF` names the probe (built with the same network variables).
#[test]
fn uno_probe_joins_connects_sends_within_its_ram() {
    let elf = firmware("PROBE_ELF", "the Uno's at_probe firmware");
    let (gw, _) = gateway("PROBE_PORT", 15_056);
    let (modem, handle) = modem();
    let mut rig = Rig::new(&elf, Mcu::Atmega328p, Hx711Sim::new(Rate::Sps10), modem);
    let report = |rig: &Rig| {
        let t = String::from_utf8_lossy(&rig.transcript).into_owned();
        let at = t.find("PROBE ")?;
        let line = t.get(at..)?;
        let end = line.find("\r\n")?;
        Some(line.get(..end)?.to_string())
    };
    let ok = rig.run_until(20_000, Duration::from_secs(120), |r| report(r).is_some());
    let line = report(&rig);
    assert!(ok, "no report after {} ms: {:?}", rig.millis(), line);
    let line = line.unwrap();
    println!(
        "Uno (ATmega328P) esp-at probe in simavr: {line} (after {} ms)",
        rig.millis()
    );
    assert!(line.starts_with("PROBE OK "), "{line}");
    assert_eq!(handle.joined().as_deref(), Some("fil-net"));
    let ok = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(10));
        gw.messages()
            .iter()
            .any(|m| m.raw == b"Weight:1.00,Scale.Arduino\r\n")
    });
    assert!(
        ok,
        "the probe's line reached the gateway: {:?}",
        gw.messages()
    );
    let field = |name: &str| -> usize {
        line.split(' ')
            .find_map(|f| f.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(usize::MAX)
    };
    let (stack, statics) = (field("stack="), field("statics="));
    assert!(
        stack.saturating_add(statics) <= 2048,
        "stack {stack} + statics {statics} within the ATmega328P's 2048 B"
    );
}

/// The firmware without a configuration: it opens the setup access point, and a phone on it
/// scans, calibrates the scale against the cycle-level HX711 (tare, a known mass, weigh),
/// provisions the network and commits; the firmware stores it in its EEPROM, joins and
/// streams the calibrated weight. `SETUP_ELF` is that firmware (`SETUP_PORT`: its gateway).
#[test]
fn setup_mode_on_the_firmware_calibrates_provisions_and_streams() {
    use std::io::{Read, Write};

    let elf = firmware(
        "SETUP_ELF",
        "the node firmware built without a configuration",
    );
    let (gw, port) = gateway("SETUP_PORT", 15_057);
    let (modem, handle) = modem();
    let hx = Hx711Sim::new(Rate::Sps10);
    // an uncalibrated cell: 5000 empty, 420 counts per gram
    let raw = |centigrams: i64| 5_000 + centigrams * 420 / 100;
    hx.set_constant(raw(0));
    let mut rig = Rig::new(&elf, Mcu::Atmega2560, hx.clone(), modem);
    let wall = Duration::from_secs(240);

    assert!(
        rig.run_until(10_000, wall, |_| handle.server_addr().is_some()),
        "no setup server"
    );
    assert_eq!(handle.soft_ap().as_deref(), Some("Scale-Setup"));
    let mut phone = std::net::TcpStream::connect(handle.server_addr().unwrap()).unwrap();
    phone.set_nonblocking(true).unwrap();
    let mut ask = |rig: &mut Rig, line: &str| -> Vec<String> {
        phone.write_all(format!("{line}\n").as_bytes()).unwrap();
        let mut text = String::new();
        let answered = rig.run_until(10_000, wall, |_| {
            let mut buf = [0u8; 256];
            if let Ok(n) = phone.read(&mut buf) {
                text.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            text.lines()
                .any(|l| l.starts_with("OK") || l.starts_with("ERR"))
                && text.ends_with('\n')
        });
        assert!(answered, "no answer to {line}: {text:?}");
        text.lines().map(|l| l.trim().to_string()).collect()
    };
    assert_eq!(
        ask(&mut rig, "scan"),
        ["AP -52 1 secured fil-net", "OK 1 networks"]
    );
    assert_eq!(ask(&mut rig, "tare"), ["OK offset=5000"]);
    hx.set_constant(raw(25_000));
    assert_eq!(
        ask(&mut rig, "calibrate=250"),
        ["OK cal_counts_per_gram=420.00"]
    );
    assert_eq!(ask(&mut rig, "weigh"), ["OK 250.00 g raw=110000"]);
    for line in [
        "ssid=fil-net".to_string(),
        "password=fil-password".to_string(),
        "host=127.0.0.1".to_string(),
        format!("port={port}"),
        "sensor=Scale.Setup".to_string(),
        "interval_ms=500".to_string(),
        "samples=3".to_string(),
        "format=classic".to_string(),
    ] {
        assert_eq!(ask(&mut rig, &line), ["OK"], "{line}");
    }
    let provisioned_at = rig.millis();
    assert_eq!(
        ask(&mut rig, "commit"),
        ["OK committed"],
        "stored in the EEPROM"
    );
    let ok = rig.run_until(20_000, wall, |_| {
        gw.messages()
            .iter()
            .any(|m| m.raw == b"Weight:250.00,Scale.Setup\r\n")
    });
    assert!(
        ok,
        "no calibrated reading after the commit: {:?}",
        gw.messages()
    );
    assert_eq!(handle.joined().as_deref(), Some("fil-net"));
    println!(
        "firmware in the loop (setup mode): scanned, calibrated and provisioned over the \
         simulated SoftAP in {provisioned_at} ms simulated; the first calibrated reading \
         arrived {} ms after the commit",
        rig.millis() - provisioned_at
    );
}
