// The node's scenarios, run against both loops: `tests/node.rs` (blocking) and
// `tests/node_async.rs` (async). Included, not a module: `Mode` is the including crate's.
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use avia_hx711::sim::Fault as HxFault;
use common::*;
use esp_at::{Error as EspError, JoinError};
use scale_node::loopback::ArticleGateway;
use scale_node::{BlinkCode, Format, NodeConfig, NodeEvent, Settings, State};

fn weights(gw: &ArticleGateway) -> Vec<(String, Option<u32>)> {
    gw.messages()
        .into_iter()
        .filter(|m| m.sensor_type == "Weight")
        .map(|m| (m.value.clone(), m.seq()))
        .collect()
}

/// Every sequence number from 0 to the highest reached the gateway (no gap).
fn assert_no_gap(gw: &ArticleGateway, what: &str) {
    let seqs: BTreeSet<u32> = weights(gw).into_iter().filter_map(|(_, s)| s).collect();
    let max = *seqs.iter().max().unwrap();
    assert_eq!(seqs.len() as u32, max + 1, "{what}: {seqs:?}");
}

#[test]
fn streams_readings_in_order_with_correct_values() {
    let gw = ArticleGateway::start(0).unwrap();
    let mut r = rig::<16>(
        Some(config(gw.addr().port(), Format::Extended)),
        Settings::default(),
    );
    assert!(r.run_until(20_000, |_| wait_messages(&gw, 5)));
    let msgs = gw.messages();
    // derived at boot (Settings::boot_id is 0): not 0, the same in every line
    let boot = r.node.boot_id();
    assert_ne!(boot, 0);
    for (i, m) in msgs.iter().take(5).enumerate() {
        assert_eq!(m.sensor_type, "Weight");
        assert_eq!(m.value, "250.00");
        assert_eq!(m.sensor_id, "Scale.Test");
        assert_eq!(m.seq(), Some(i as u32));
        assert_eq!(
            m.raw,
            format!("Weight:250.00,Scale.Test,{i},0,0,{boot}\r\n").into_bytes()
        );
    }
    assert_eq!(r.node.state(), State::Stream);
    assert!(r.events.contains(&NodeEvent::Connected));
    // one connection for all readings: the link stays open
    assert_eq!(r.node.stats().connects, 1);
    assert!(r.node.stats().acked >= 4);
}

#[test]
fn article_gateway_interop_classic_lines() {
    let gw = ArticleGateway::start(0).unwrap();
    let mut cfg = config(gw.addr().port(), Format::Classic);
    cfg.sensor_id = "Scale.Arduino".try_into().unwrap();
    let mut r = rig::<16>(Some(cfg), Settings::default());
    r.hx.set_constant(grams_to_raw(12_345));
    assert!(r.run_until(20_000, |_| wait_messages(&gw, 3)));
    for m in gw.messages().iter().take(3) {
        // one line per recv(1024), exactly the article's bytes
        assert_eq!(m.raw, b"Weight:123.45,Scale.Arduino\r\n");
        assert!(m.extra.is_empty());
    }
    assert!(r.run_until(2_000, |r| r.node.stats().acked >= 3));
}

#[test]
fn gateway_outage_loses_nothing() {
    let gw = ArticleGateway::start(0).unwrap();
    let settings = Settings {
        backoff_base_ms: 100,
        backoff_max_ms: 400,
        ..Settings::default()
    };
    let mut r = rig::<64>(Some(config(gw.addr().port(), Format::Extended)), settings);
    assert!(r.run_until(20_000, |_| wait_messages(&gw, 2)));
    gw.set_down(true);
    // measure on while the gateway is away
    let before = r.node.stats().readings;
    assert!(r.run_until(50_000, |r| r.node.stats().readings >= before + 10));
    assert!(r.node.queued() >= 8, "queued {}", r.node.queued());
    gw.set_down(false);
    let target = r.node.stats().readings as usize;
    assert!(r.run_until(100_000, |r| r.node.queued() == 0
        && r.node.stats().acked as usize >= target));
    assert_no_gap(&gw, "every sequence number arrived");
    // in order: the first arrival of each sequence number is increasing
    let mut seen = BTreeSet::new();
    let order: Vec<u32> = weights(&gw)
        .into_iter()
        .filter_map(|(_, s)| s)
        .filter(|s| seen.insert(*s))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert_eq!(r.node.stats().dropped, 0);
}

#[test]
fn full_queue_drops_oldest_and_reports_it() {
    let gw = ArticleGateway::start(0).unwrap();
    let port = gw.addr().port();
    gw.set_down(true);
    let settings = Settings {
        backoff_base_ms: 100,
        backoff_max_ms: 200,
        ..Settings::default()
    };
    let mut r = rig::<4>(Some(config(port, Format::Extended)), settings);
    assert!(r.run_until(50_000, |r| r.node.stats().readings >= 10));
    assert!(r.node.stats().dropped >= 6);
    assert!(r.events.iter().any(|e| matches!(e, NodeEvent::Dropped(_))));
    gw.set_down(false);
    assert!(r.run_until(50_000, |_| wait_messages(&gw, 4)));
    let m = &gw.messages()[0];
    let dropped: u32 = m.extra[2].parse().unwrap();
    assert!(
        dropped >= 6,
        "dropped count travels with the next line: {m:?}"
    );
}

#[test]
fn non_2xx_status_keeps_the_reading() {
    let gw = ArticleGateway::start(0).unwrap();
    gw.set_status(500);
    // room for the readings taken while the rejected one waits out its back-off
    let mut r = rig::<64>(
        Some(config(gw.addr().port(), Format::Extended)),
        Settings::default(),
    );
    assert!(r.run_until(20_000, |_| wait_messages(&gw, 3)));
    assert_eq!(r.node.stats().acked, 0);
    assert!(
        r.events
            .iter()
            .any(|e| matches!(e, NodeEvent::Rejected(0, 500)))
    );
    gw.set_status(201);
    assert!(r.run_until(20_000, |r| r.node.stats().acked >= 2));
    // the rejected reading 0 was sent again and is the first one acknowledged
    assert!(
        r.events
            .iter()
            .any(|e| matches!(e, NodeEvent::Delivered(rd) if rd.seq == 0))
    );
    assert_eq!(r.node.stats().dropped, 0);
}

#[test]
fn modem_reboot_in_the_middle_of_a_send() {
    let gw = ArticleGateway::start(0).unwrap();
    let settings = Settings {
        backoff_base_ms: 50,
        ..Settings::default()
    };
    let mut r = rig::<32>(Some(config(gw.addr().port(), Format::Extended)), settings);
    assert!(r.run_until(20_000, |_| wait_messages(&gw, 2)));
    r.modem.reboot_during("AT+CIPSEND");
    assert!(r.run_until(50_000, |r| r.modem.reboots() >= 2));
    let n = gw.messages().len();
    assert!(r.run_until(50_000, |_| wait_messages(&gw, n + 3)));
    assert_no_gap(&gw, "no gap after the reboot");
    assert_eq!(r.node.state(), State::Stream);
}

#[test]
fn wifi_drop_rejoins() {
    let gw = ArticleGateway::start(0).unwrap();
    let settings = Settings {
        backoff_base_ms: 50,
        ..Settings::default()
    };
    let mut r = rig::<32>(Some(config(gw.addr().port(), Format::Extended)), settings);
    assert!(r.run_until(20_000, |_| wait_messages(&gw, 2)));
    let joins = r.node.stats().joins;
    r.modem.drop_wifi();
    assert!(r.run_until(50_000, |r| r.node.stats().joins > joins
        && r.node.state() == State::Stream));
    let n = gw.messages().len();
    assert!(r.run_until(50_000, |_| wait_messages(&gw, n + 2)));
    assert!(r.events.contains(&NodeEvent::LinkLost));
}

#[test]
fn wrong_password_is_reported_blinked_and_retried() {
    let gw = ArticleGateway::start(0).unwrap();
    let settings = Settings {
        backoff_base_ms: 100,
        backoff_max_ms: 800,
        reset_after: 100,
        ..Settings::default()
    };
    let mut r = rig::<16>(Some(config(gw.addr().port(), Format::Extended)), settings);
    r.modem.set_network(Some((SSID, "another-password")));
    assert!(r.run_until(20_000, |r| r.node.stats().join_failures >= 3));
    assert_eq!(
        r.node.last_error(),
        Some(&EspError::Join(JoinError::WrongPassword))
    );
    assert!(r.events.contains(&NodeEvent::JoinFailed));
    assert!(r.node.blinks() >= 3);
    // exponential back-off: three failures take at least 100 + 200 ms of node time
    r.modem.set_network(Some((SSID, PASS)));
    assert!(r.run_until(20_000, |_| wait_messages(&gw, 1)));
}

#[test]
fn join_retry_blinks_two_slow() {
    let gw = ArticleGateway::start(0).unwrap();
    let mut r = rig::<16>(
        Some(config(gw.addr().port(), Format::Extended)),
        Settings::default(),
    );
    r.modem.set_network(None);
    assert!(r.run_until(5_000, |r| r.node.blinking() == Some(BlinkCode::JoinRetry)));
}

#[test]
fn unplugged_hx711_is_reported_and_the_link_stays_up() {
    let gw = ArticleGateway::start(0).unwrap();
    let mut r = rig::<16>(
        Some(config(gw.addr().port(), Format::Extended)),
        Settings::default(),
    );
    assert!(r.run_until(20_000, |_| wait_messages(&gw, 1)));
    r.hx.set_fault(HxFault::DoutStuckHigh);
    assert!(r.run_until(20_000, |_| {
        gw.messages().iter().any(|m| m.sensor_type == "SensorFault")
    }));
    assert_eq!(r.node.state(), State::Stream);
    assert!(r.node.stats().sensor_faults >= 1);
    r.hx.set_fault(HxFault::None);
    let n = gw
        .messages()
        .iter()
        .filter(|m| m.sensor_type == "Weight")
        .count();
    assert!(r.run_until(40_000, |_| {
        gw.messages()
            .iter()
            .filter(|m| m.sensor_type == "Weight")
            .count()
            > n + 1
    }));
    // a shorted line is a typed driver error and is reported the same way
    let faults = r.node.stats().sensor_faults;
    r.hx.set_fault(HxFault::DoutStuckLow);
    assert!(r.run_until(20_000, |r| r.node.stats().sensor_faults > faults));
    assert_eq!(r.node.state(), State::Stream);
}

/// One frame that goes wrong (here `DOUT` still low after the 25th pulse, as after a
/// conversion that completed mid-frame) costs that sample, not a `SensorFault` report.
#[test]
fn a_single_bad_frame_is_not_a_sensor_fault() {
    let gw = ArticleGateway::start(0).unwrap();
    let mut r = rig::<16>(
        Some(config(gw.addr().port(), Format::Extended)),
        Settings::default(),
    );
    assert!(r.run_until(20_000, |_| wait_messages(&gw, 1)));
    r.hx.set_fault(HxFault::DoutStuckLow);
    assert!(r.run_until(2_000, |r| r.node.stats().sample_errors >= 1));
    r.hx.set_fault(HxFault::None);
    let n = weights(&gw).len();
    assert!(r.run_until(20_000, |_| weights(&gw).len() >= n + 3));
    assert_eq!(r.node.stats().sensor_faults, 0);
    assert!(
        !gw.messages().iter().any(|m| m.sensor_type == "SensorFault"),
        "{:?}",
        gw.messages()
    );
    assert!(weights(&gw).iter().all(|(v, _)| v == "250.00"));
}

/// The loop away from the sensor for seconds at a time (a slow join or modem reset holds a
/// blocking loop, and the async loop's step, that long) is not a sensor fault: only the time
/// spent looking at the sensor counts towards a reading's budget.
#[test]
fn time_the_loop_spends_elsewhere_is_not_a_sensor_fault() {
    let gw = ArticleGateway::start(0).unwrap();
    let mut r = rig::<16>(
        Some(config(gw.addr().port(), Format::Extended)),
        Settings::default(),
    );
    assert!(r.run_until(20_000, |_| wait_messages(&gw, 1)));
    // ten absences of 3 s, each after a different number of polls: some in the middle of a
    // reading, some before one is due
    for i in 0..10 {
        r.run_until(7 + 13 * i, |_| false);
        r.hx.advance(3_000_000_000);
    }
    let n = weights(&gw).len();
    assert!(r.run_until(20_000, |_| weights(&gw).len() >= n + 3));
    assert_eq!(r.node.stats().sensor_faults, 0, "{:?}", gw.messages());
    assert!(weights(&gw).iter().all(|(v, _)| v == "250.00"));
}

#[test]
#[cfg(feature = "stock")]
fn amount_left_and_low_stock_alert() {
    let gw = ArticleGateway::start(0).unwrap();
    let mut cfg = config(gw.addr().port(), Format::Extended);
    cfg.container_cg = 5_000; // 50 g bottle
    cfg.full_cg = 105_000; // 1 kg of milk
    cfg.low_centipct = 2_000; // 20 %
    cfg.full_ml = 1_000; // a litre bottle
    let mut r = rig::<32>(Some(cfg), Settings::default());
    r.hx.set_constant(grams_to_raw(55_000)); // half full
    assert!(r.run_until(20_000, |_| {
        gw.messages().iter().any(|m| m.sensor_type == "Amount")
    }));
    let a = gw
        .messages()
        .into_iter()
        .find(|m| m.sensor_type == "Amount")
        .unwrap();
    assert_eq!(a.value, "50.00");
    assert!(r.run_until(20_000, |_| {
        gw.messages().iter().any(|m| m.sensor_type == "Volume")
    }));
    let v = gw
        .messages()
        .into_iter()
        .find(|m| m.sensor_type == "Volume")
        .unwrap();
    assert_eq!(v.value, "500.00", "millilitres left");
    r.hx.set_constant(grams_to_raw(15_000)); // 10 % left
    assert!(r.run_until(40_000, |_| {
        gw.messages().iter().any(|m| m.sensor_type == "LowStock")
    }));
    let low = gw
        .messages()
        .into_iter()
        .find(|m| m.sensor_type == "LowStock")
        .unwrap();
    assert_eq!(low.value, "10.00");
    let flags: u8 = low.extra[1].parse().unwrap();
    assert_ne!(
        flags & scale_node::telemetry::flags::LOW_STOCK,
        0,
        "LOW_STOCK flag"
    );
    // one alert, not one per reading
    let n = gw.messages().len();
    assert!(r.run_until(40_000, |_| wait_messages(&gw, n + 6)));
    assert_eq!(
        gw.messages()
            .iter()
            .filter(|m| m.sensor_type == "LowStock")
            .count(),
        1
    );
}

#[test]
fn provisioning_valid_and_invalid_input() {
    let gw = ArticleGateway::start(0).unwrap();
    let mut r = rig::<16>(None, setup_settings());
    let mut phone = Phone::connect(&mut r);
    assert_eq!(r.modem.soft_ap().as_deref(), Some("Scale-Setup"));
    let mut ask = |r: &mut Rig<16>, line: &str| phone.ask(r, line);
    assert_eq!(ask(&mut r, "ssid=fridge-net"), "OK");
    assert_eq!(
        ask(&mut r, "password=short"),
        "ERR password: empty or 8-64 printable bytes"
    );
    assert_eq!(ask(&mut r, "port=0"), "ERR port: 1-65535");
    assert_eq!(
        ask(&mut r, "sensor=Scale,1"),
        "ERR sensor: 1-32 printable bytes without , or :"
    );
    assert_eq!(ask(&mut r, "bogus=1"), "ERR unknown key");
    assert_eq!(ask(&mut r, "no equals sign"), "ERR expected key=value");
    // the longest value fits the line buffer; a longer line is refused whole
    let longest = "p".repeat(64);
    assert_eq!(ask(&mut r, &format!("password={longest}")), "OK");
    assert_eq!(
        ask(&mut r, &format!("password={longest}x")),
        "ERR password: empty or 8-64 printable bytes"
    );
    assert_eq!(
        ask(&mut r, &format!("sensor={}", "s".repeat(90))),
        "ERR line too long"
    );
    assert_eq!(ask(&mut r, "commit"), "ERR host: 1-64 of a-z 0-9 . -");
    assert_eq!(r.node.state(), State::Setup, "bad input changes nothing");
    assert!(r.node.config().is_none());
    for line in [
        format!("password={PASS}"),
        "host=127.0.0.1".to_string(),
        format!("port={}", gw.addr().port()),
        "sensor=Scale.Fridge".to_string(),
        "interval_ms=200".to_string(),
        "samples=3".to_string(),
        "cal_offset=8000".to_string(),
        "cal_counts_per_gram=160".to_string(),
    ] {
        assert_eq!(ask(&mut r, &line), "OK", "{line}");
    }
    assert_eq!(ask(&mut r, "commit"), "OK committed");
    assert!(r.events.contains(&NodeEvent::ConfigCommitted));
    let stored = NodeConfig::from_bytes(&r.node.storage().bytes).unwrap();
    assert_eq!(stored.sensor_id.as_str(), "Scale.Fridge");
    assert_eq!(stored.password.as_str(), PASS);
    assert!(r.run_until(20_000, |_| wait_messages(&gw, 1)));
    assert_eq!(gw.messages()[0].sensor_id, "Scale.Fridge");
    assert_eq!(gw.messages()[0].value, "250.00");
}

/// Calibration from the setup connection: tare the empty scale, put a known mass on, and the
/// node works out the scale factor itself; `weigh` checks it before committing.
#[test]
#[cfg(feature = "guided-calibration")]
fn guided_calibration_in_setup_mode() {
    let gw = ArticleGateway::start(0).unwrap();
    let mut r = rig::<16>(None, setup_settings());
    let mut phone = Phone::connect(&mut r);
    let mut ask = |r: &mut Rig<16>, line: &str| phone.ask(r, line);
    // a cell and amplifier of 420 counts per gram, reading 5000 when empty
    let raw = |centigrams: i64| 5_000 + centigrams * 420 / 100;
    r.hx.set_constant(raw(0));
    assert_eq!(ask(&mut r, "tare"), "OK offset=5000");
    assert_eq!(
        ask(&mut r, "calibrate=500"),
        "ERR calibrate: no change since the tare (is the mass on the scale?)"
    );
    assert_eq!(
        ask(&mut r, "calibrate=heavy"),
        "ERR calibrate: a mass in grams, above 0"
    );
    r.hx.set_constant(raw(50_000));
    assert_eq!(
        ask(&mut r, "calibrate=500"),
        "OK cal_counts_per_gram=420.00"
    );
    assert_eq!(ask(&mut r, "weigh"), "OK 500.00 g raw=215000");
    r.hx.set_constant(raw(12_345));
    assert_eq!(ask(&mut r, "weigh"), "OK 123.45 g raw=56849");
    // a sensor that stops answering: a typed answer, in bounded time
    r.hx.set_fault(HxFault::DoutStuckHigh);
    assert_eq!(ask(&mut r, "weigh"), "ERR sensor: no settled reading");
    r.hx.set_fault(HxFault::None);
    for line in [
        format!("ssid={SSID}"),
        format!("password={PASS}"),
        "host=127.0.0.1".to_string(),
        format!("port={}", gw.addr().port()),
        "sensor=Scale.Cal".to_string(),
        "interval_ms=200".to_string(),
        "samples=3".to_string(),
        "format=classic".to_string(),
    ] {
        assert_eq!(ask(&mut r, &line), "OK", "{line}");
    }
    assert_eq!(ask(&mut r, "commit"), "OK committed");
    assert!(r.run_until(20_000, |_| {
        gw.messages()
            .iter()
            .any(|m| m.raw == b"Weight:123.45,Scale.Cal\r\n")
    }));
    let stored = NodeConfig::from_bytes(&r.node.storage().bytes).unwrap();
    assert!(stored.calibrated, "a calibrated node does not tare at boot");
    assert_eq!(stored.calibration.offset(), 5_000);
}

/// A commit the storage refuses still runs, and the answer says it will not survive a reset.
#[test]
fn a_commit_that_cannot_be_stored_says_so() {
    let gw = ArticleGateway::start(0).unwrap();
    let mut r = rig_with::<16, _>(None, setup_settings(), scale_node::NoStorage);
    let mut phone = Phone::connect(&mut r);
    let mut last = String::new();
    for line in [
        format!("ssid={SSID}"),
        format!("password={PASS}"),
        "host=127.0.0.1".to_string(),
        format!("port={}", gw.addr().port()),
        "sensor=Scale.Volatile".to_string(),
        "cal_offset=8000".to_string(),
        "cal_counts_per_gram=160".to_string(),
        "interval_ms=200".to_string(),
        "commit".to_string(),
    ] {
        last = phone.ask(&mut r, &line);
    }
    assert_eq!(last, "OK committed, not stored (storage failed)");
    assert!(r.run_until(20_000, |_| wait_messages(&gw, 1)));
    assert_eq!(gw.messages()[0].sensor_id, "Scale.Volatile");
}

/// `scan` in setup mode lists the networks the modem hears (the SoftAP keeps serving: the
/// modem runs station + SoftAP), one line each, before its `OK`.
#[test]
#[cfg(feature = "scan")]
fn setup_mode_scans_for_networks() {
    let mut r = rig::<16>(None, setup_settings());
    let mut phone = Phone::connect(&mut r);
    assert_eq!(
        phone.ask_all(&mut r, "scan"),
        [
            format!("AP -52 1 secured {SSID}"),
            "OK 1 networks".to_string()
        ]
    );
    // still in setup, still answering
    assert_eq!(phone.ask(&mut r, "sensor=Scale.Scan"), "OK");
}

/// The stored configuration wins over the build-time one; a stored record that cannot be used
/// does not make the node run with half a configuration.
#[test]
fn boot_prefers_a_stored_configuration_and_never_runs_a_broken_one() {
    let gw = ArticleGateway::start(0).unwrap();
    let built_in = config(gw.addr().port(), Format::Classic);
    let stored = NodeConfig {
        sensor_id: "Scale.Stored".try_into().unwrap(),
        ..built_in.clone()
    };
    let mut storage = scale_node::RamStorage::<{ scale_node::config::CONFIG_MAX }>::default();
    let mut bytes = [0u8; scale_node::config::CONFIG_MAX];
    let n = stored.to_bytes(&mut bytes);
    storage.bytes[..n].copy_from_slice(&bytes[..n]);
    let mut r = rig_with::<16, _>(Some(built_in.clone()), Settings::default(), storage);
    assert!(r.run_until(20_000, |_| wait_messages(&gw, 1)));
    assert_eq!(gw.messages()[0].sensor_id, "Scale.Stored");

    // erased storage: the build-time configuration runs
    let gw2 = ArticleGateway::start(0).unwrap();
    let mut r = rig_with::<16, _>(
        Some(config(gw2.addr().port(), Format::Classic)),
        Settings::default(),
        scale_node::RamStorage::<{ scale_node::config::CONFIG_MAX }>::default(),
    );
    assert!(r.run_until(20_000, |_| wait_messages(&gw2, 1)));

    // a record with a good CRC but fields that do not validate (another firmware's layout):
    // setup mode, not a node joining with an empty network name
    let broken = NodeConfig {
        samples: 0,
        ..stored
    };
    let mut storage = scale_node::RamStorage::<{ scale_node::config::CONFIG_MAX }>::default();
    let n = broken.to_bytes(&mut bytes);
    storage.bytes[..n].copy_from_slice(&bytes[..n]);
    let mut r = rig_with::<16, _>(Some(built_in), setup_settings(), storage);
    assert!(r.run_until(2_000, |r| r.node.state() == State::Setup));
    assert!(r.run_until(5_000, |r| r.events.contains(&NodeEvent::SetupStarted)));
}

/// A firmware built without the optional setup commands says so, and a key of a left-out
/// feature is unknown to it.
#[test]
#[cfg(not(any(feature = "scan", feature = "guided-calibration", feature = "stock")))]
fn left_out_setup_commands_are_refused_by_name() {
    let mut r = rig::<16>(None, setup_settings());
    let mut phone = Phone::connect(&mut r);
    for line in ["scan", "tare", "weigh", "calibrate=250"] {
        assert_eq!(
            phone.ask(&mut r, line),
            "ERR not in this firmware",
            "{line}"
        );
    }
    assert_eq!(phone.ask(&mut r, "full_g=500"), "ERR unknown key");
    assert_eq!(phone.ask(&mut r, "ssid=Lab"), "OK");
}

#[test]
fn provisioning_in_place_before_the_first_poll() {
    let gw = ArticleGateway::start(0).unwrap();
    let port = gw.addr().port();
    let mut r = rig::<16>(None, Settings::default());
    // filled in place, as firmware does with `build_settings!`
    r.node
        .provision(|cfg| {
            *cfg = config(port, Format::Classic);
            cfg.set(b"sensor", b"Scale.Provisioned")?;
            cfg.validate()
        })
        .unwrap();
    assert!(r.run_until(20_000, |_| !gw.messages().is_empty()));
    assert_eq!(gw.messages()[0].sensor_id, "Scale.Provisioned");
    // running: too late to provision
    assert_eq!(
        r.node.provision(|_| Ok(())).unwrap_err(),
        "the node is running"
    );

    // an incomplete configuration is not used: setup mode
    let mut r = rig::<16>(None, Settings::default());
    let err = r
        .node
        .provision(|cfg| {
            cfg.set(b"ssid", b"Lab")?;
            cfg.validate()
        })
        .unwrap_err();
    assert_eq!(err, "host: 1-64 of a-z 0-9 . -");
    r.run_until(10, |_| false);
    assert_eq!(r.node.state(), State::Setup);
}

/// A raw TCP gateway for the hostile cases. Each line (split at `\r\n`, over all connections,
/// numbered from 0) goes to `answer`, whose bytes are written back (nothing for an empty
/// answer), one write per byte with `bytewise`. With `hang_up`, every connection is closed as
/// soon as it is accepted.
struct RawGateway {
    addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

type Answer = Arc<dyn Fn(&str, usize) -> Vec<u8> + Send + Sync>;

impl RawGateway {
    fn start(
        hang_up: bool,
        bytewise: bool,
        answer: impl Fn(&str, usize) -> Vec<u8> + Send + Sync + 'static,
    ) -> RawGateway {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let answer: Answer = Arc::new(answer);
        let (l, a, st) = (lines.clone(), accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((s, _)) => {
                        a.fetch_add(1, Ordering::SeqCst);
                        if hang_up {
                            drop(s);
                            continue;
                        }
                        let (l, st, answer) = (l.clone(), st.clone(), answer.clone());
                        std::thread::spawn(move || serve_raw(s, bytewise, &l, &st, &*answer));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        });
        RawGateway {
            addr,
            lines,
            accepted,
            stop,
        }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The sequence numbers of the lines received, in order.
    fn seqs(&self) -> Vec<u32> {
        self.lines().iter().map(|l| field(l, 2)).collect()
    }
}

impl Drop for RawGateway {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve_raw(
    mut s: TcpStream,
    bytewise: bool,
    lines: &Mutex<Vec<String>>,
    stop: &AtomicBool,
    answer: &(dyn Fn(&str, usize) -> Vec<u8> + Send + Sync),
) {
    s.set_nonblocking(false).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let mut pending = Vec::new();
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::SeqCst) {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(_) => return,
        }
        while let Some(end) = pending.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&pending[..end]).to_string();
            pending.drain(..end + 2);
            let idx = {
                let mut l = lines.lock().unwrap();
                l.push(line.clone());
                l.len() - 1
            };
            let reply = answer(&line, idx);
            let chunks: Vec<&[u8]> = if bytewise {
                reply.chunks(1).collect()
            } else {
                vec![&reply[..]]
            };
            for c in chunks.into_iter().filter(|c| !c.is_empty()) {
                if s.write_all(c).is_err() {
                    return;
                }
                if bytewise {
                    std::thread::sleep(Duration::from_millis(3));
                }
            }
        }
    }
}

/// Field `i` of an extended line (`<Type>:<value>,<SensorId>,<seq>,<flags>,<dropped>,<boot>`),
/// as a number.
fn field(line: &str, i: usize) -> u32 {
    line.split(',').nth(i).unwrap().parse().unwrap()
}

/// The virtual time, ms.
/// Run `steps` polls and return when each `Connected` event after the first `seen` came.
fn connect_times<const Q: usize>(r: &mut Rig<Q>, steps: usize, mut seen: usize) -> Vec<u64> {
    let mut at = vec![];
    r.run_until(steps, |r| {
        let n = r
            .events
            .iter()
            .filter(|e| **e == NodeEvent::Connected)
            .count();
        if n > seen {
            seen = n;
            at.push(now_ms(r));
        }
        false
    });
    at
}

fn now_ms<const Q: usize>(r: &Rig<Q>) -> u64 {
    r.hx.now_ns() / 1_000_000
}

/// A web server on the gateway's port answers `HTTP/1.1 200 OK`: that is no acknowledgement.
/// Nothing is delivered, every reading stays queued, the node hangs up and retries with
/// back-off; a scale gateway on the same port later gets them all.
#[test]
fn a_reply_that_is_not_a_status_is_not_an_acknowledgement() {
    let http = Arc::new(AtomicBool::new(true));
    let h = http.clone();
    let gw = RawGateway::start(false, false, move |_, _| {
        if h.load(Ordering::SeqCst) {
            b"HTTP/1.1 200 OK\r\n".to_vec()
        } else {
            b"201".to_vec()
        }
    });
    let mut r = rig::<64>(
        Some(config(gw.addr.port(), Format::Extended)),
        Settings::default(),
    );
    assert!(r.run_until(20_000, |r| r.node.stats().bad_replies >= 1));
    r.run_until(6_000, |_| false);
    let s = r.node.stats();
    assert_eq!(s.acked, 0);
    assert!(s.readings >= 20, "{s:?}");
    assert_eq!(
        r.node.queued(),
        s.readings as usize,
        "every reading stays queued"
    );
    assert!(r.events.contains(&NodeEvent::BadReply(b'H')));
    assert!(
        !r.events
            .iter()
            .any(|e| matches!(e, NodeEvent::Delivered(_)))
    );
    // it hangs up on such a peer, and comes back with back-off, not at once
    assert!(s.bad_replies >= 2, "{s:?}");
    assert!(s.connects <= 6, "{s:?}");
    // one line per connection (the last one may still be on its way back)
    let lines = gw.lines().len() as i64;
    assert!(
        (0..=1).contains(&(lines - i64::from(s.bad_replies))),
        "{lines} {s:?}"
    );
    // what goes again is flagged as a retry
    let lines = gw.lines();
    assert_eq!(field(&lines[1], 2), 0);
    assert_ne!(
        field(&lines[1], 3) & u32::from(scale_node::telemetry::flags::RETRY),
        0
    );

    // the same port now answers as a scale gateway: everything arrives, in order
    http.store(false, Ordering::SeqCst);
    let bad = r.node.stats().bad_replies;
    assert!(r.run_until(60_000, |r| r.node.queued() == 0
        && r.node.stats().acked >= 30));
    assert_eq!(r.node.stats().bad_replies, bad);
    let delivered: Vec<u32> = r
        .events
        .iter()
        .filter_map(|e| match e {
            NodeEvent::Delivered(rd) => Some(rd.seq),
            _ => None,
        })
        .collect();
    assert_eq!(delivered, (0..delivered.len() as u32).collect::<Vec<_>>());
}

/// Two lines in flight, answered together by `201201` written one byte at a time: two
/// acknowledgements.
#[test]
fn back_to_back_statuses_split_at_every_byte_are_two_acknowledgements() {
    let gw = RawGateway::start(false, true, |_, idx| {
        if idx % 2 == 1 {
            b"201201".to_vec()
        } else {
            Vec::new()
        }
    });
    let settings = Settings {
        window: 2,
        ..Settings::default()
    };
    let mut r = rig::<16>(Some(config(gw.addr.port(), Format::Extended)), settings);
    assert!(r.run_until(30_000, |r| r.node.stats().acked >= 8));
    let s = r.node.stats();
    assert_eq!(s.bad_replies, 0);
    assert_eq!(s.retried, 0, "{s:?}");
    assert_eq!(s.connects, 1);
    assert_eq!(gw.seqs()[..8], (0..8).collect::<Vec<u32>>()[..]);
}

/// `400` for one reading: it is refused for good (counted, reported, out of the queue), the
/// lines in flight behind it are not sent again, and every other reading is delivered in order.
#[test]
fn a_refused_reading_leaves_the_queue_and_the_others_go_on() {
    // answers in batches of four lines, so that several are in flight when one is refused
    let batch = Mutex::new(Vec::new());
    let gw = RawGateway::start(false, false, move |line, idx| {
        let mut b = batch.lock().unwrap();
        b.extend_from_slice(if field(line, 2) == 5 { b"400" } else { b"201" });
        if idx % 4 == 3 {
            std::mem::take(&mut *b)
        } else {
            Vec::new()
        }
    });
    let settings = Settings {
        window: 4,
        ..Settings::default()
    };
    let mut r = rig::<32>(Some(config(gw.addr.port(), Format::Extended)), settings);
    assert!(r.run_until(40_000, |r| r.node.stats().acked >= 11));
    let s = r.node.stats();
    assert_eq!(s.refused, 1, "{s:?}");
    assert_eq!(s.retried, 0, "nothing sent again: {s:?}");
    let refused: Vec<_> = r
        .events
        .iter()
        .filter_map(|e| match e {
            NodeEvent::Refused(rd, status) => Some((rd.seq, *status)),
            _ => None,
        })
        .collect();
    assert_eq!(refused, [(5, 400)]);
    let delivered: Vec<u32> = r
        .events
        .iter()
        .filter_map(|e| match e {
            NodeEvent::Delivered(rd) => Some(rd.seq),
            _ => None,
        })
        .collect();
    assert_eq!(delivered[..11], [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]);
    // each line once, in order, none a retry
    let seqs = gw.seqs();
    assert_eq!(seqs, (0..seqs.len() as u32).collect::<Vec<_>>());
    assert!(
        gw.lines().iter().all(|l| field(l, 3) == 0),
        "{:?}",
        gw.lines()
    );
    assert_eq!(s.connects, 1);
}

/// A gateway that answers `500` to everything: the reading stays queued and goes again, but
/// after a back-off (1 s doubling), not at once: a handful of lines in 6 s, not hundreds.
#[test]
fn a_retry_status_is_answered_with_back_off() {
    let gw = RawGateway::start(false, false, |_, _| b"500".to_vec());
    let mut r = rig::<32>(
        Some(config(gw.addr.port(), Format::Extended)),
        Settings::default(),
    );
    assert!(r.run_until(20_000, |_| !gw.lines().is_empty()));
    let t0 = now_ms(&r);
    r.run_until(6_000, |_| false);
    let elapsed = now_ms(&r) - t0;
    assert!(elapsed >= 6_000);
    let s = r.node.stats();
    let lines = gw.lines();
    // first at once, then after 0.5-1 s, 1-2 s, 2-4 s: at most 4 in 6 s
    assert!(lines.len() <= 5, "{} lines: {lines:?}", lines.len());
    assert!(lines.len() >= 3, "{lines:?}");
    assert_eq!(s.acked, 0);
    assert_eq!(s.refused, 0);
    // the same reading each time, flagged as a retry after the first
    assert!(lines.iter().all(|l| field(l, 2) == 0), "{lines:?}");
    assert!(lines[1..].iter().all(|l| field(l, 3) & 8 != 0));
    assert!(r.events.contains(&NodeEvent::Rejected(0, 500)));
    // the link stays up meanwhile
    assert_eq!(s.connects, 1);
    assert!(r.node.queued() >= 20);
}

/// A gateway that accepts and hangs up at once: the connects back off (with jitter) instead
/// of hammering it, and the delays between them grow.
#[test]
fn a_gateway_that_hangs_up_is_reconnected_with_growing_delays() {
    let gw = RawGateway::start(true, false, |_, _| Vec::new());
    let mut r = rig::<32>(
        Some(config(gw.addr.port(), Format::Extended)),
        Settings::default(),
    );
    assert!(r.run_until(20_000, |r| r.node.stats().connects >= 1));
    let t0 = now_ms(&r);
    let mut at = vec![t0];
    at.extend(connect_times(&mut r, 15_000, 1));
    assert!(now_ms(&r) - t0 >= 15_000);
    let s = r.node.stats();
    // 1 s doubling, each wait between half and all of it: 5 or 6 connects in 15 s
    assert!(s.connects <= 8, "{s:?} {at:?}");
    assert!(s.connects >= 3, "{s:?} {at:?}");
    assert!(gw.accepted.load(Ordering::SeqCst) <= 8);
    let gaps: Vec<u64> = at.windows(2).map(|w| w[1] - w[0]).collect();
    // each wait between half the back-off and all of it, plus the time it takes to notice the
    // hang-up; the back-off doubles from 1 s
    for (k, gap) in gaps.iter().enumerate() {
        let backoff = 1_000 << k;
        assert!(
            (backoff / 2..backoff + 500).contains(gap),
            "gap {k}: {gap} ms: {gaps:?}"
        );
    }
    assert!(gaps.len() >= 3, "{gaps:?}");
    assert!(*gaps.last().unwrap() >= 2 * gaps[0], "{gaps:?}");
    assert_eq!(s.acked, 0);
}

/// The back-off's jitter comes from the boot id: two nodes that lose the same gateway do not
/// come back at the same moments.
#[test]
fn nodes_with_different_boot_ids_back_off_differently() {
    let gaps = |boot_id: u32| {
        let gw = RawGateway::start(true, false, |_, _| Vec::new());
        let settings = Settings {
            boot_id,
            backoff_base_ms: 200,
            ..Settings::default()
        };
        let mut r = rig::<8>(Some(config(gw.addr.port(), Format::Extended)), settings);
        let at = connect_times(&mut r, 13_000, 0);
        at.windows(2).map(|w| w[1] - w[0]).collect::<Vec<u64>>()
    };
    let (a, b) = (gaps(0x1234_5678), gaps(0x8765_4321));
    assert!(a.len() >= 5 && b.len() >= 5, "{a:?} {b:?}");
    // each wait between half the back-off and all of it (0.2 s doubling), plus the time to
    // notice the hang-up (real sockets: up to a few hundred ms on a loaded machine)
    for g in [&a, &b] {
        for (k, gap) in g.iter().take(5).enumerate() {
            let backoff = 200 << k;
            assert!(
                (backoff / 2..backoff + 400).contains(gap),
                "gap {k}: {gap} ms for a back-off of {backoff} ms: {g:?}"
            );
        }
    }
    // without jitter no wait would be shorter than the back-off (the time to notice the
    // hang-up only adds to it), and the two nodes would keep within a few milliseconds of
    // each other
    let shorter = |g: &Vec<u64>| {
        g.iter()
            .take(5)
            .enumerate()
            .filter(|&(k, &gap)| gap + 20 < 200 << k)
            .count()
    };
    assert!(shorter(&a) + shorter(&b) >= 2, "{a:?} {b:?}");
    assert!(
        a.iter().zip(&b).take(5).any(|(x, y)| x.abs_diff(*y) > 20),
        "{a:?} {b:?}"
    );
}

/// The boot id is the sixth field of every extended line: the same for one boot, another
/// after a reboot, where the sequence numbers start again at 0.
#[test]
fn the_boot_id_tells_a_reboot_from_a_duplicate() {
    let gw = ArticleGateway::start(0).unwrap();
    let port = gw.addr().port();
    for boot_id in [1_111_111_111, 4_000_000_007] {
        let settings = Settings {
            boot_id,
            ..Settings::default()
        };
        let mut r = rig::<16>(Some(config(port, Format::Extended)), settings);
        let n = gw.messages().len();
        assert!(r.run_until(20_000, |_| wait_messages(&gw, n + 3)));
        assert_eq!(r.node.boot_id(), boot_id);
        let msgs = gw.messages();
        for (i, m) in msgs[n..n + 3].iter().enumerate() {
            assert_eq!(m.extra.len(), 4, "{m:?}");
            assert_eq!(m.boot(), Some(boot_id));
            assert_eq!(
                m.raw,
                format!("Weight:250.00,Scale.Test,{i},0,0,{boot_id}\r\n").into_bytes()
            );
        }
    }
    // the same sequence numbers, told apart by the boot id
    let keys: BTreeSet<(u32, u32)> = gw
        .messages()
        .iter()
        .map(|m| (m.boot().unwrap(), m.seq().unwrap()))
        .collect();
    assert!(keys.contains(&(1_111_111_111, 0)) && keys.contains(&(4_000_000_007, 0)));
    // the classic form stays the article's
    let mut r = rig::<16>(
        Some(config(port, Format::Classic)),
        Settings {
            boot_id: 5,
            ..Settings::default()
        },
    );
    let n = gw.messages().len();
    assert!(r.run_until(20_000, |_| wait_messages(&gw, n + 1)));
    assert_eq!(gw.messages()[n].raw, b"Weight:250.00,Scale.Test\r\n");
}

/// Without a boot id from the board, the node derives one from its clock and its first
/// samples: never 0, fixed for the boot, different for a different load.
#[test]
fn a_derived_boot_id_is_fixed_for_the_boot() {
    let derived = |centigrams: i64| {
        let gw = ArticleGateway::start(0).unwrap();
        let mut r = rig::<16>(
            Some(config(gw.addr().port(), Format::Extended)),
            Settings::default(),
        );
        r.hx.set_constant(grams_to_raw(centigrams));
        assert_eq!(r.node.boot_id(), 0, "not before the first reading");
        assert!(r.run_until(20_000, |_| wait_messages(&gw, 4)));
        let boot = r.node.boot_id();
        assert_ne!(boot, 0);
        assert!(gw.messages().iter().all(|m| m.boot() == Some(boot)));
        boot
    };
    assert_ne!(derived(25_000), derived(30_000));
}

/// Three lines in flight, the first answered `500`: all three go again after the back-off,
/// and the answers still to come for the other two (`201201`, arriving during the back-off)
/// answer the old lines, not the ones sent again.
#[test]
fn answers_to_lines_sent_again_are_not_taken_from_before_the_retry() {
    let attempts = Mutex::new(std::collections::HashMap::<u32, u32>::new());
    let held = Mutex::new(Vec::new());
    let gw = RawGateway::start(false, true, move |line, _| {
        let seq = field(line, 2);
        let n = {
            let mut a = attempts.lock().unwrap();
            let n = a.entry(seq).or_insert(0);
            *n += 1;
            *n
        };
        let mut held = held.lock().unwrap();
        match (seq, n) {
            // 5, 6 and 7 are answered together: 500 201 201
            (5, 1) => {
                held.extend_from_slice(b"500");
                Vec::new()
            }
            (6, 1) => {
                held.extend_from_slice(b"201");
                Vec::new()
            }
            (7, 1) => {
                held.extend_from_slice(b"201");
                std::mem::take(&mut *held)
            }
            // the first retry of 5 fails too
            (5, 2) => b"500".to_vec(),
            _ => b"201".to_vec(),
        }
    });
    let settings = Settings {
        window: 4,
        ..Settings::default()
    };
    let mut r = rig::<64>(Some(config(gw.addr.port(), Format::Extended)), settings);
    assert!(r.run_until(40_000, |r| r.node.stats().acked >= 14));
    let rejected: Vec<_> = r
        .events
        .iter()
        .filter_map(|e| match e {
            NodeEvent::Rejected(seq, status) => Some((*seq, *status)),
            _ => None,
        })
        .collect();
    assert_eq!(rejected, [(5, 500), (5, 500)]);
    assert_eq!(gw.seqs().iter().filter(|&&s| s == 5).count(), 3);
    let delivered: Vec<u32> = r
        .events
        .iter()
        .filter_map(|e| match e {
            NodeEvent::Delivered(rd) => Some(rd.seq),
            _ => None,
        })
        .collect();
    assert_eq!(delivered[..14], (0..14).collect::<Vec<u32>>()[..]);
    let s = r.node.stats();
    assert_eq!(
        (s.dropped, s.refused, s.bad_replies, s.connects),
        (0, 0, 0, 1)
    );
}
