//! Formatting, parsing, the configuration format and the setup protocol.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
#[cfg(feature = "stock")]
use scale_node::Setup;
use scale_node::config::{CONFIG_MAX, LoadError};
use scale_node::fmt::LineBuf;
use scale_node::telemetry::{
    AckParser, BadReply, MAX_LINE, Prng, SENSOR_ID_MAX, StatusClass, flags, format_line,
};
use scale_node::{Format, Kind, NodeConfig, Reading, SetupReply};

#[test]
fn centi_formatting() {
    let mut b: LineBuf<32> = LineBuf::new();
    b.push_centi(12_345)
        .push(b" ")
        .push_centi(-5)
        .push(b" ")
        .push_centi(0)
        .push(b" ")
        .push_centi(i32::MIN);
    assert_eq!(b.as_bytes(), b"123.45 -0.05 0.00 -21474836.48");
    let mut small: LineBuf<4> = LineBuf::new();
    small.push(b"12345");
    assert!(small.overflowed());
}

#[test]
fn lines_match_the_article() {
    let r = Reading {
        seq: 7,
        kind: Kind::Weight,
        centi: 12_345,
        flags: flags::UNSTABLE | flags::RETRY,
        at_ms: 0,
    };
    let mut l: LineBuf<MAX_LINE> = LineBuf::new();
    format_line(&r, "Scale.Arduino", Format::Classic, 3, 42, &mut l);
    assert_eq!(l.as_bytes(), b"Weight:123.45,Scale.Arduino\r\n");
    format_line(&r, "Scale.Arduino", Format::Extended, 3, 42, &mut l);
    assert_eq!(l.as_bytes(), b"Weight:123.45,Scale.Arduino,7,9,3,42\r\n");
}

/// The longest line the configuration allows: the longest type, value and sensor id, and
/// every number at its widest.
#[test]
fn the_longest_extended_line_fits() {
    let r = Reading {
        seq: u32::MAX,
        kind: Kind::SensorFault,
        centi: i32::MIN,
        flags: u8::MAX,
        at_ms: 0,
    };
    let mut cfg = NodeConfig::default();
    let id = "S".repeat(SENSOR_ID_MAX);
    assert_eq!(cfg.set(b"sensor", id.as_bytes()), Ok(()));
    assert_eq!(
        cfg.set(b"sensor", "S".repeat(SENSOR_ID_MAX + 1).as_bytes()),
        Err(esp_at::rom!(b"sensor: 1-32 printable bytes without , or :"))
    );
    let mut l: LineBuf<MAX_LINE> = LineBuf::new();
    format_line(
        &r,
        &cfg.sensor_id,
        Format::Extended,
        u32::MAX,
        u32::MAX,
        &mut l,
    );
    assert!(!l.overflowed());
    let expected =
        format!("SensorFault:-21474836.48,{id},4294967295,255,4294967295,4294967295\r\n");
    assert_eq!(l.as_bytes(), expected.as_bytes());
    assert_eq!(expected.len(), MAX_LINE);
}

#[test]
fn acks_however_split() {
    let mut p = AckParser::default();
    let mut got = vec![];
    p.feed(b"20", |s| got.push(s)).unwrap();
    p.feed(b"1", |s| got.push(s)).unwrap();
    p.feed(b"201\n500 \r\n 2", |s| got.push(s)).unwrap();
    p.feed(b"02", |s| got.push(s)).unwrap();
    assert_eq!(got, vec![201, 201, 500, 202]);
}

/// Only statuses (three digits, the first 1-5), with whitespace around them, are a reply;
/// anything else is a peer that is not a scale gateway.
#[test]
fn only_a_status_stream_is_an_acknowledgement() {
    let parse = |bytes: &[u8]| {
        let mut p = AckParser::default();
        let mut got = vec![];
        p.feed(bytes, |s| got.push(s)).map(|()| got)
    };
    assert_eq!(parse(b"201"), Ok(vec![201]));
    assert_eq!(parse(b"201\r\n"), Ok(vec![201]));
    assert_eq!(parse(b" 201 400\n413\r500"), Ok(vec![201, 400, 413, 500]));
    assert_eq!(parse(b"100599"), Ok(vec![100, 599]));
    assert_eq!(parse(b"\r\n"), Ok(vec![]));
    // a web server: the first byte already says so, and nothing before it counts
    assert_eq!(parse(b"HTTP/1.1 200 OK\r\n"), Err(BadReply(b'H')));
    assert_eq!(parse(b"201 Created"), Err(BadReply(b'C')));
    assert_eq!(parse(b"601"), Err(BadReply(b'6')));
    assert_eq!(parse(b"099"), Err(BadReply(b'0')));
    assert_eq!(parse(b"20 1"), Err(BadReply(b' ')));
    assert_eq!(parse(b"20\n1"), Err(BadReply(b'\n')));
    assert_eq!(parse(b"2010"), Err(BadReply(b'0')));
    assert_eq!(parse(b"201\t"), Err(BadReply(b'\t')));
    assert_eq!(parse(b"201\0"), Err(BadReply(0)));
    assert_eq!(parse(b"-201"), Err(BadReply(b'-')));
    // the parser starts over after a bad byte
    let mut p = AckParser::default();
    assert_eq!(p.push(b'2'), Ok(None));
    assert_eq!(p.push(b'x'), Err(BadReply(b'x')));
    assert_eq!(p.push(b'2'), Ok(None));
    assert_eq!(p.push(b'0'), Ok(None));
    assert_eq!(p.push(b'4'), Ok(Some(204)));
}

/// Two statuses back to back (the gateway answers each line with a bare `201`), cut into
/// pieces at every combination of byte boundaries.
#[test]
fn back_to_back_statuses_split_at_every_byte() {
    let stream = b"201201";
    for cuts in 0u32..(1 << (stream.len() - 1)) {
        let mut p = AckParser::default();
        let mut got = vec![];
        let mut start = 0;
        for end in 1..=stream.len() {
            if end == stream.len() || cuts & (1 << (end - 1)) != 0 {
                p.feed(&stream[start..end], |s| got.push(s)).unwrap();
                start = end;
            }
        }
        assert_eq!(got, vec![201, 201], "cuts {cuts:05b}");
    }
}

proptest! {
    /// Any reply stream made of statuses and whitespace gives back exactly its statuses.
    #[test]
    fn status_streams_parse(statuses in proptest::collection::vec((100u16..600, 0usize..4), 0..8)) {
        let mut bytes = vec![];
        for (s, ws) in &statuses {
            bytes.extend_from_slice(s.to_string().as_bytes());
            bytes.extend_from_slice(&b" \r\n "[..*ws]);
        }
        let mut p = AckParser::default();
        let mut got = vec![];
        for b in &bytes {
            if let Some(s) = p.push(*b).unwrap() {
                got.push(s);
            }
        }
        prop_assert_eq!(got, statuses.iter().map(|(s, _)| *s).collect::<Vec<_>>());
    }
}

#[test]
fn status_classes() {
    for s in [200, 201, 202, 204, 299] {
        assert_eq!(StatusClass::of(s), StatusClass::Delivered, "{s}");
    }
    for s in [400, 413] {
        assert_eq!(StatusClass::of(s), StatusClass::Refused, "{s}");
    }
    for s in [100, 301, 401, 403, 404, 408, 429, 500, 502, 503, 599] {
        assert_eq!(StatusClass::of(s), StatusClass::Retry, "{s}");
    }
}

#[test]
fn the_generator_is_seeded_and_uniform() {
    let run = |seed: u32| {
        let mut r = Prng::new(seed);
        (0..8).map(|_| r.next_u32()).collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(1));
    // close seeds, unrelated sequences (high bits too)
    let (a, b) = (run(1), run(2));
    assert!(
        a.iter().zip(&b).all(|(x, y)| x >> 24 != y >> 24),
        "{a:x?} {b:x?}"
    );
    // mixing a value in changes what follows
    let mut m = Prng::new(1);
    m.mix(12_345);
    assert_ne!(m.next_u32(), Prng::new(1).next_u32());
    // `below`: in range, every part of it about as likely
    let mut r = Prng::new(0xDEAD_BEEF);
    let mut buckets = [0u32; 10];
    for _ in 0..100_000 {
        let v = r.below(1_001);
        assert!(v <= 1_000);
        buckets[(v / 101) as usize] += 1;
    }
    assert!(
        buckets.iter().all(|&n| (9_000..11_000).contains(&n)),
        "{buckets:?}"
    );
    assert_eq!(r.below(0), 0);
    assert_eq!(r.below(1), 0);
    for n in [2, 65_535, 65_536, 60_001, u32::MAX] {
        for _ in 0..1_000 {
            assert!(r.below(n) < n);
        }
    }
    // the top of the range is reached
    assert!((0..10_000).any(|_| r.below(60_001) > 59_990));
}

fn full_config() -> NodeConfig {
    NodeConfig {
        ssid: "net,\"x\"".try_into().unwrap(),
        password: "pass\\word,1".try_into().unwrap(),
        host: "gateway.local".try_into().unwrap(),
        sensor_id: "Scale.Arduino".try_into().unwrap(),
        // the stock fields are set, stored and loaded only with the feature `stock`
        full_cg: if cfg!(feature = "stock") { 100_000 } else { 0 },
        container_cg: if cfg!(feature = "stock") { 5_000 } else { 0 },
        low_centipct: if cfg!(feature = "stock") { 1500 } else { 0 },
        ..NodeConfig::default()
    }
}

#[test]
fn config_round_trip_and_corruption() {
    let c = full_config();
    let mut buf = [0u8; CONFIG_MAX];
    let n = c.to_bytes(&mut buf);
    assert!(n < CONFIG_MAX);
    assert_eq!(NodeConfig::from_bytes(&buf).unwrap(), c);
    for i in 0..n {
        let mut b = buf;
        b[i] ^= 0x10;
        assert!(NodeConfig::from_bytes(&b).is_err(), "flip at {i} detected");
    }
    assert_eq!(NodeConfig::from_bytes(&[0xFF; 64]), Err(LoadError::Empty));
}

#[test]
#[cfg(feature = "stock")]
fn setup_keeps_old_config_until_commit() {
    let old = full_config();
    let mut s = Setup::new(Some(&old));
    assert_eq!(s.line(b"sensor=Scale.New\r"), SetupReply::Ok);
    assert_eq!(s.line(b"full_g=10"), SetupReply::Ok);
    assert_eq!(
        s.line(b"commit"),
        SetupReply::Err(esp_at::rom!(b"full must be heavier than container"))
    );
    assert_eq!(s.line(b"abort"), SetupReply::Aborted);
    assert_eq!(s.draft(), &old);
    assert_eq!(s.line(b"format=classic"), SetupReply::Ok);
    assert_eq!(
        s.line(b"low_percent=101"),
        SetupReply::Err(esp_at::rom!(b"low_percent: 0-100"))
    );
    assert_eq!(s.line(b"commit"), SetupReply::Committed);
    assert_eq!(s.draft().format, Format::Classic);
}

proptest! {
    /// Whatever a setup client types, the editor answers without a panic, a rejected line
    /// leaves the draft as it was, and a configuration it commits is valid and survives the
    /// storage format.
    #[test]
    fn setup_lines_never_break_the_draft(
        lines in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..90),
                (
                    prop::sample::select(vec![
                        "ssid", "password", "host", "port", "sensor", "interval_ms", "samples",
                        "cal_offset", "cal_counts_per_gram", "container_g", "full_g", "full_ml",
                        "low_percent", "format",
                    ]),
                    "[ -~]{0,70}",
                )
                    .prop_map(|(k, v)| format!("{k}={v}").into_bytes()),
                Just(b"commit".to_vec()),
            ],
            1..40,
        )
    ) {
        let mut draft = full_config();
        for line in &lines {
            let before = draft.clone();
            match draft.edit(line) {
                SetupReply::Err(_) => prop_assert_eq!(&draft, &before),
                SetupReply::Committed => {
                    prop_assert!(draft.validate().is_ok());
                    let mut buf = [0u8; CONFIG_MAX];
                    let n = draft.to_bytes(&mut buf);
                    prop_assert_eq!(NodeConfig::from_bytes(&buf[..n]).unwrap(), draft.clone());
                }
                SetupReply::Ok | SetupReply::Aborted => {}
                other => prop_assert!(false, "a reply this test does not know: {:?}", other),
            }
        }
    }
}

#[test]
fn build_time_settings_are_checked_like_setup_lines() {
    let cfg = NodeConfig::from_settings(&[
        ("ssid", Some("Lab 2")),
        // taken as given: a build-time password keeps its spaces
        ("password", Some(" secret pass ")),
        ("host", Some("gw.local")),
        ("port", None),
        ("sensor", Some("Scale.Default")),
        ("sensor", Some("Scale.Bench")),
        ("samples", Some("3")),
        ("format", Some("classic")),
        ("cal_offset", Some("-8000")),
        ("cal_counts_per_gram", Some("420.5")),
    ])
    .unwrap();
    assert_eq!(cfg.ssid.as_str(), "Lab 2");
    assert_eq!(cfg.password.as_str(), " secret pass ");
    assert_eq!(cfg.port, 5001, "unset: the default");
    assert_eq!(
        cfg.sensor_id.as_str(),
        "Scale.Bench",
        "a later setting wins"
    );
    assert_eq!(cfg.samples, 3);
    assert_eq!(cfg.format, Format::Classic);
    assert!(cfg.calibrated);
    assert_eq!(cfg.calibration.offset(), -8000);
    // 420.5 counts per gram: 42 050 counts above the offset are 100.00 g
    assert_eq!(cfg.calibration.to_units(-8000 + 42_050), 10_000);

    let tare_at_boot = NodeConfig::from_settings(&[
        ("ssid", Some("Lab")),
        ("host", Some("gw.local")),
        ("sensor", Some("S1")),
        ("cal_counts_per_gram", Some("420")),
    ])
    .unwrap();
    assert!(
        !tare_at_boot.calibrated,
        "no offset: the node tares at boot"
    );

    let base = [
        ("ssid", Some("Lab")),
        ("host", Some("gw.local")),
        ("sensor", Some("S1")),
    ];
    let with = |extra: (&'static str, Option<&'static str>)| {
        let mut s = base.to_vec();
        s.push(extra);
        NodeConfig::from_settings(&s)
    };
    assert_eq!(
        with(("samples", Some("33"))),
        Err(esp_at::rom!(b"samples: 1-32"))
    );
    assert_eq!(
        with(("format", Some("json"))),
        Err(esp_at::rom!(b"format: classic or extended"))
    );
    assert_eq!(
        with(("colour", Some("red"))),
        Err(esp_at::rom!(b"unknown key"))
    );
    assert_eq!(
        with(("password", Some("short"))),
        Err(esp_at::rom!(b"password: empty or 8-64 printable bytes"))
    );
    assert!(
        NodeConfig::from_settings(&base[1..]).is_err(),
        "no ssid: setup mode"
    );
}

#[test]
#[cfg(feature = "stock")]
fn every_setup_key_sets_its_own_field() {
    let mut c = NodeConfig::default();
    for (k, v) in [
        ("ssid", "Net"),
        ("password", "password1"),
        ("host", "gw"),
        ("port", "6001"),
        ("sensor", "S.1"),
        ("interval_ms", "250"),
        ("samples", "7"),
        ("cal_offset", "-12"),
        ("cal_counts_per_gram", "2"),
        ("container_g", "100"),
        ("full_g", "600.5"),
        ("full_ml", "750"),
        ("low_percent", "12.5"),
        ("format", "classic"),
    ] {
        c.set(k.as_bytes(), v.as_bytes()).unwrap();
    }
    assert_eq!(
        (
            c.ssid.as_str(),
            c.password.as_str(),
            c.host.as_str(),
            c.port
        ),
        ("Net", "password1", "gw", 6001)
    );
    assert_eq!(
        (c.sensor_id.as_str(), c.interval_ms, c.samples),
        ("S.1", 250, 7)
    );
    assert_eq!(c.calibration.offset(), -12);
    assert_eq!(
        c.calibration.to_units(-12 + 200),
        10_000,
        "2 counts per gram"
    );
    assert_eq!(
        (c.container_cg, c.full_cg, c.full_ml),
        (10_000, 60_050, 750)
    );
    assert_eq!((c.low_centipct, c.format), (1_250, Format::Classic));
    // a key that only starts like one, or is a prefix of one, is not that key
    assert_eq!(c.set(b"ssid2", b"x").unwrap_err(), "unknown key");
    assert_eq!(c.set(b"ssi", b"x").unwrap_err(), "unknown key");
    assert_eq!(c.set(b"", b"x").unwrap_err(), "unknown key");
}

/// A version-2 record from raw entries, with its CRC.
fn record(entries: &[(u8, &[u8])]) -> Vec<u8> {
    let mut r = b"SN\x02".to_vec();
    for (i, v) in entries {
        r.push(*i);
        r.push(v.len() as u8);
        r.extend_from_slice(v);
    }
    r.push(0xFF);
    let crc = avia_hx711::calibration::crc16(&r);
    r.extend_from_slice(&crc.to_le_bytes());
    r
}

#[test]
fn the_record_written_in_place_is_the_record() {
    use scale_node::RamStorage;
    // the longest record: every string at its limit, every number at its widest
    let c = NodeConfig {
        ssid: "s".repeat(32).as_str().try_into().unwrap(),
        password: "p".repeat(64).as_str().try_into().unwrap(),
        host: "h".repeat(64).as_str().try_into().unwrap(),
        sensor_id: "i".repeat(32).as_str().try_into().unwrap(),
        port: 65_535,
        interval_ms: 999_999_999,
        samples: 32,
        container_cg: i32::MIN,
        full_cg: i32::MAX,
        full_ml: 999_999_999,
        low_centipct: 10_000,
        format: Format::Classic,
        calibrated: true,
        calibration: avia_hx711::Calibration::from_parts(-8_388_608, i32::MIN, 62).unwrap(),
    };
    let mut buf = [0u8; CONFIG_MAX];
    let n = c.to_bytes(&mut buf);
    #[cfg(feature = "stock")]
    assert!(n > 290 && n <= CONFIG_MAX, "{n}");
    assert_eq!(NodeConfig::check_bytes(&buf), Ok(n));
    #[cfg(feature = "stock")]
    assert_eq!(NodeConfig::from_bytes(&buf).unwrap(), c);

    let mut eeprom = RamStorage::<CONFIG_MAX>::default();
    c.save_in_place(&mut eeprom).unwrap();
    assert_eq!(
        &eeprom.bytes[..n],
        &buf[..n],
        "same bytes, written entry by entry"
    );
    let mut flash = RamStorage::<CONFIG_MAX>::default();
    c.save(&mut flash).unwrap();
    assert_eq!(&flash.bytes[..n], &buf[..n]);
    let mut back = NodeConfig::default();
    back.load_from(&mut eeprom).unwrap();
    assert_eq!(back.calibration, c.calibration);
    assert_eq!(back.password, c.password);

    // storage too small for it: a typed error, not a panic
    let mut small = RamStorage::<64>::default();
    assert!(c.save_in_place(&mut small).is_err());
    assert!(c.save(&mut small).is_err());
}

#[test]
fn stored_entries_go_through_the_setup_checks() {
    let cal = [0u8, 0, 0, 0, 1, 0, 0, 0, 0, 1];
    let base: [(u8, &[u8]); 5] = [
        (0, b"Lab"),
        (2, b"10.0.0.2"),
        (4, b"Scale.A"),
        (5, b"1000"),
        (14, &cal),
    ];
    let ok = NodeConfig::from_bytes(&record(&base)).unwrap();
    assert_eq!(ok.interval_ms, 1000);
    assert!(ok.calibrated);

    // an entry from a newer firmware is skipped
    let mut newer = base.to_vec();
    newer.push((40, b"whatever"));
    assert_eq!(NodeConfig::from_bytes(&record(&newer)).unwrap(), ok);

    // a value setup mode would refuse is refused here too
    for bad in [
        (5u8, &b"5"[..]),
        (3, b"0"),
        (0, b""),
        (14, b"short"),
        (6, b"99"),
    ] {
        let mut r = base.to_vec();
        r.push(bad);
        assert_eq!(
            NodeConfig::from_bytes(&record(&r)),
            Err(LoadError::Invalid),
            "{bad:?}"
        );
    }
    // a zero multiplier is no calibration
    let zero = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let mut r = base.to_vec();
    r.push((14, &zero));
    assert_eq!(NodeConfig::from_bytes(&record(&r)), Err(LoadError::Invalid));

    // the old binary format and the end of the slot
    let mut v1 = record(&base);
    v1[2] = 1;
    assert_eq!(NodeConfig::from_bytes(&v1), Err(LoadError::Version));
    let mut unterminated = b"SN\x02".to_vec();
    while unterminated.len() < CONFIG_MAX + 10 {
        unterminated.extend_from_slice(&[0, 3, b'a', b'b', b'c']);
    }
    assert_eq!(
        NodeConfig::from_bytes(&unterminated),
        Err(LoadError::Invalid)
    );
}

#[test]
fn loading_in_place_keeps_or_resets_as_documented() {
    let stored = full_config();
    let mut good = [0u8; CONFIG_MAX];
    stored.to_bytes(&mut good);

    let mut c = NodeConfig {
        samples: 3,
        ..NodeConfig::default()
    };
    c.load(&good).unwrap();
    assert_eq!(c, stored, "every field replaced");

    // framing errors (erased, torn) leave the configuration as it was
    let before = c.clone();
    let mut torn = good;
    torn[10] ^= 1;
    assert_eq!(c.load(&torn), Err(LoadError::Crc));
    assert_eq!(c.load(&[0xFF; 64]), Err(LoadError::Empty));
    assert_eq!(c, before);

    // a record with a good CRC whose fields do not validate: back to the defaults
    let bad = NodeConfig {
        samples: 0,
        ..full_config()
    };
    let mut bytes = [0u8; CONFIG_MAX];
    bad.to_bytes(&mut bytes);
    assert!(NodeConfig::check_bytes(&bytes).is_ok());
    assert_eq!(c.load(&bytes), Err(LoadError::Invalid));
    assert_eq!(c, NodeConfig::default());
}

#[test]
fn settings_from_program_memory() {
    let mut c = NodeConfig::default();
    c.set_rom(esp_at::rom!(b"ssid"), esp_at::rom!(b"Lab 2"))
        .unwrap();
    c.set_rom(esp_at::rom!(b"port"), esp_at::rom!(b"6001"))
        .unwrap();
    assert_eq!((c.ssid.as_str(), c.port), ("Lab 2", 6001));
    assert_eq!(
        c.set_rom(esp_at::rom!(b"port"), esp_at::rom!(b"0"))
            .unwrap_err(),
        "port: 1-65535"
    );
    let long = esp_at::rom!(b"a key that is longer than any key");
    assert_eq!(
        c.set_rom(long, esp_at::rom!(b"x")).unwrap_err(),
        "unknown key"
    );
    let value = esp_at::rom!(b"0123456789012345678901234567890123456789012345678901234567890123X");
    assert_eq!(
        c.set_rom(esp_at::rom!(b"password"), value).unwrap_err(),
        "value too long"
    );
    assert!(esp_at::rom_env!("SCALE_NODE_TEST_VARIABLE_THAT_IS_NOT_SET").is_none());
    assert_eq!(
        esp_at::rom_env!("CARGO_PKG_NAME").map(|r| r.bytes().collect::<Vec<u8>>()),
        Some(b"scale-node".to_vec())
    );
}

/// A configuration in a log does not give the Wi-Fi password away; the rest is there.
#[test]
fn debug_output_hides_the_password() {
    let mut cfg = scale_node::NodeConfig::default();
    cfg.set(b"ssid", b"kitchen").unwrap();
    cfg.set(b"password", b"hunter2-and-more").unwrap();
    let shown = format!("{cfg:?}");
    assert!(shown.contains("kitchen"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("password: <set>"), "{shown}");
    assert!(format!("{:?}", scale_node::NodeConfig::default()).contains("password: <empty>"));
}

/// `Node` is `Debug` whatever its parts are: its state and counters, not the password.
#[test]
fn a_node_is_debug_without_asking_it_of_its_parts() {
    struct Quiet; // a part with no Debug of its own
    impl embedded_hal::digital::ErrorType for Quiet {
        type Error = core::convert::Infallible;
    }
    impl embedded_hal::digital::OutputPin for Quiet {
        fn set_low(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
        fn set_high(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }
    let hx = avia_hx711::sim::Hx711Sim::new(avia_hx711::Rate::Sps80);
    let (d, s, delay) = hx.pins();
    let sensor = avia_hx711::Hx711::new(
        d,
        s,
        delay,
        avia_hx711::Config::new(avia_hx711::Rate::Sps80),
    );
    let modem = esp_at::sim::SimModem::new(esp_at::sim::SimConfig::default());
    let uplink = scale_node::EspUplink::new(
        esp_at::EspAt::new(modem, esp_at::sim::StdDelay, esp_at::Config::default()),
        false,
    );
    struct Zero;
    impl scale_node::Clock for Zero {
        fn now_ms(&mut self) -> u32 {
            0
        }
    }
    let mut cfg = scale_node::NodeConfig::default();
    cfg.set(b"password", b"hunter2-and-more").unwrap();
    cfg.set(b"sensor", b"Scale.Debug").unwrap();
    let node: scale_node::Node<_, _, _, _, _, 4> = scale_node::Node::new(
        sensor,
        uplink,
        Zero,
        Quiet,
        scale_node::NoStorage,
        scale_node::Settings::default(),
        Some(cfg),
        false,
    );
    let shown = format!("{node:?}");
    assert!(shown.starts_with("Node {"), "{shown}");
    assert!(
        shown.contains("state: Boot") && shown.contains("queued: 0"),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}
