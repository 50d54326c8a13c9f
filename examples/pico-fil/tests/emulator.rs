//! The Pico firmware in rp2040js: it joins through the simulated ESP8266, connects to a
//! gateway on 127.0.0.1 and streams readings whose values follow the emulated HX711, keeps the
//! readings of a gateway outage and delivers them in order, recovers from a modem reboot,
//! reports an unplugged HX711 and weighs again when it is back; every `PD_SCK` high phase stays
//! within the datasheet's 50 µs, and the heartbeat task is never kept waiting more than 2 ms
//! while the node joins, connects and sends.
//!
//! The firmware is built beforehand (`scripts/boards.sh` does it) with the configuration below
//! in its environment; `PICO_ELF` names it. The emulator is installed with
//! `npm ci --prefix examples/rp2040/emu`. Ignored in a plain `cargo test` (it needs both);
//! `scripts/boards.sh` runs it with `--ignored`, and without the firmware it fails.
//!
//! | build variable | value the test expects |
//! |---|---|
//! | `SCALE_SSID` / `SCALE_PASSWORD` | `fil-net` / `fil-password` |
//! | `SCALE_HOST` / `SCALE_PORT` | `127.0.0.1` / `PICO_PORT` (15059 unless set) |
//! | `SCALE_COUNTS_PER_GRAM` / `SCALE_OFFSET` | `420` / `8000` |
//! | `SCALE_SAMPLES` / `SCALE_INTERVAL_MS` | `3` / `500` |
//! | `SCALE_SETUP_BUTTON` | `0` |

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use esp_at::sim::{SimConfig, SimModem};
use scale_node::loopback::{ArticleGateway, Message};
use scale_node_pico_fil::Pico;

const OFFSET: i64 = 8_000;
const COUNTS_PER_GRAM: i64 = 420;
/// The heartbeat's period in the firmware, µs.
const HEARTBEAT_US: u64 = 10_000;
/// The most the heartbeat may be kept waiting.
const LATENCY_MAX_US: u64 = 2_000;

/// Raw code for `centigrams` on the calibrated scale.
fn code(centigrams: i64) -> i64 {
    OFFSET + centigrams * COUNTS_PER_GRAM / 100
}

fn readings(gw: &ArticleGateway) -> Vec<Message> {
    gw.messages()
        .into_iter()
        .filter(|m| m.sensor_id == "Scale.Pico")
        .collect()
}

fn weights(gw: &ArticleGateway) -> Vec<String> {
    readings(gw)
        .into_iter()
        .filter(|m| m.sensor_type == "Weight")
        .map(|m| m.value)
        .collect()
}

#[test]
#[ignore = "needs the Pico firmware (PICO_ELF) and the emulator (npm ci): scripts/boards.sh runs it"]
fn pico_firmware_in_the_emulator() {
    let elf = PathBuf::from(
        std::env::var("PICO_ELF").expect("PICO_ELF: the Pico firmware built for this test"),
    );
    assert!(elf.exists(), "{} does not exist", elf.display());
    let port = std::env::var("PICO_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(15_059);
    let gw = ArticleGateway::start(port).expect("gateway port free");
    let modem = SimModem::new(
        SimConfig::default()
            .with_network("fil-net", "fil-password")
            // a join that takes its time, as a real one does: the heartbeat must not notice
            .with_join_delay(Duration::from_millis(1_500)),
    );
    let handle = modem.handle();
    let mut pico = Pico::start(&elf, modem).expect("the emulator starts");
    pico.set_code(code(25_000));
    let wall = Duration::from_secs(90);

    // boot, join, connect, and three readings of 250 g
    let ok = pico.wait_until(wall, |_| {
        weights(&gw).iter().filter(|v| *v == "250.00").count() >= 3
    });
    assert!(
        ok,
        "no three 250.00 readings: gateway saw {:?}; modem joined {:?}; commands {:?}; emulator {:?}, {:?}",
        weights(&gw),
        handle.joined(),
        handle.commands(),
        pico.stat(),
        pico.other_lines(),
    );
    assert_eq!(handle.joined().as_deref(), Some("fil-net"));
    let first = &readings(&gw)[0];
    assert_eq!(
        first.raw,
        format!(
            "Weight:250.00,Scale.Pico,0,0,0,{}\r\n",
            first.boot().unwrap()
        )
        .into_bytes()
    );

    // the load changes: the readings follow
    pico.set_code(code(12_345));
    assert!(
        pico.wait_until(wall, |_| weights(&gw).iter().any(|v| v == "123.45")),
        "readings did not follow the load: {:?}",
        weights(&gw)
    );
    assert!(weights(&gw).iter().all(|v| v == "250.00" || v == "123.45"));

    // a gateway outage of 4 s while the load changes: the readings taken meanwhile wait in
    // the node's queue and arrive, in order, once it is back
    gw.set_down(true);
    pico.set_code(code(30_100));
    std::thread::sleep(Duration::from_secs(4));
    pico.set_code(code(7_000));
    gw.set_down(false);
    assert!(
        pico.wait_until(wall, |_| weights(&gw)
            .iter()
            .filter(|v| *v == "70.00")
            .count()
            >= 2),
        "no readings after the outage: {:?}",
        weights(&gw)
    );
    let seqs: Vec<u32> = readings(&gw).iter().filter_map(|m| m.seq()).collect();
    let unique: BTreeSet<u32> = seqs.iter().copied().collect();
    let max = *unique.iter().max().unwrap();
    assert_eq!(
        unique.len() as u32,
        max + 1,
        "a reading is missing: {seqs:?}"
    );
    let mut seen = BTreeSet::new();
    let order: Vec<u32> = seqs.iter().copied().filter(|s| seen.insert(*s)).collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "out of order: {order:?}"
    );
    assert!(
        weights(&gw).iter().any(|v| v == "301.00"),
        "the outage's readings were delivered: {:?}",
        weights(&gw)
    );

    // the modem reboots: the node brings it back and streams again
    let before = readings(&gw).len();
    handle.reboot();
    assert!(
        pico.wait_until(wall, |_| readings(&gw).len() >= before + 3),
        "no readings after the modem rebooted: {:?}",
        handle.commands().iter().rev().take(10).collect::<Vec<_>>()
    );

    // the HX711 is unplugged: reported; plugged back: weighing again
    pico.unplug();
    assert!(
        pico.wait_until(wall, |_| readings(&gw)
            .iter()
            .any(|m| m.sensor_type != "Weight")),
        "no sensor fault reported: {:?}",
        readings(&gw)
            .iter()
            .map(|m| &m.sensor_type)
            .collect::<Vec<_>>()
    );
    let faults = readings(&gw).len();
    pico.set_code(code(4_200));
    pico.plug();
    assert!(
        pico.wait_until(wall, |_| readings(&gw).len() > faults
            && weights(&gw).iter().any(|v| v == "42.00")),
        "no weighing after the HX711 came back: {:?}",
        weights(&gw)
    );

    // what the emulator measured over the whole run
    assert!(pico.wait_until(Duration::from_secs(5), |p| !p.heartbeats().is_empty()));
    let stat = pico.stat().expect("the harness reports");
    let hb = *pico.heartbeats().last().unwrap();
    println!(
        "Pico in rp2040js: {} ms emulated in {} ms, {} instructions, {} HX711 frames, \
         longest PD_SCK high {} ns; heartbeat: worst lateness {} µs (its own measure, {} beats), \
         longest interval on GP2 {} µs for a {} µs period",
        stat.t_ms,
        stat.wall_ms,
        stat.instructions,
        stat.frames,
        stat.sck_max_high_ns,
        hb.worst_us,
        hb.beats,
        stat.hb_max_interval_us,
        HEARTBEAT_US
    );
    assert!(stat.frames > 20, "frames: {stat:?}");
    assert!(
        stat.sck_max_high_ns <= 50_000,
        "a PD_SCK high phase of {} ns (the datasheet's T3 is at most 50 µs)",
        stat.sck_max_high_ns
    );
    assert!(
        u64::from(hb.worst_us) <= LATENCY_MAX_US,
        "the heartbeat was kept waiting {} µs",
        hb.worst_us
    );
    assert!(
        stat.hb_max_interval_us <= HEARTBEAT_US + LATENCY_MAX_US,
        "GP2 toggled {} µs apart",
        stat.hb_max_interval_us
    );
}
