//! `AT+CWLAP`: unescaped SSIDs read from both ends of the line, in both firmware lines'
//! field sets, and the strongest kept when there are more than the caller has room for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use esp_at::scan::parse_cwlap;
use esp_at::sim::{SimConfig, SimModem, StdDelay};
use esp_at::{AccessPoint, Config, Error, EspAt, Version};

#[test]
fn lines_of_both_firmware_lines() {
    let v2 =
        parse_cwlap(b"+CWLAP:(3,\"home\",-61,\"a4:2b:b0:12:34:5f\",11,-12,0,4,4,7,1)").unwrap();
    assert_eq!(v2.ssid.as_slice(), b"home");
    assert_eq!((v2.rssi, v2.channel, v2.encryption), (-61, 11, 3));
    assert_eq!(v2.bssid, [0xa4, 0x2b, 0xb0, 0x12, 0x34, 0x5f]);
    assert!(!v2.is_open());
    let v1 = parse_cwlap(b"+CWLAP:(0,\"cafe\",-80,\"00:11:22:33:44:55\",1,-3,0)").unwrap();
    assert_eq!(
        (v1.ssid.as_slice(), v1.rssi, v1.channel),
        (&b"cafe"[..], -80, 1)
    );
    assert!(v1.is_open());
    let bare = parse_cwlap(b"+CWLAP:(4,\"x\",-40,\"00:11:22:33:44:55\")").unwrap();
    assert_eq!((bare.rssi, bare.channel), (-40, 0));
}

#[test]
fn ssids_with_commas_quotes_and_utf8() {
    let ap = parse_cwlap(b"+CWLAP:(3,\"a\",\"b,-5,c\",-70,\"00:11:22:33:44:55\",6,-12,0)").unwrap();
    assert_eq!(ap.ssid.as_slice(), b"a\",\"b,-5,c");
    assert_eq!((ap.rssi, ap.channel), (-70, 6));
    // an SSID that looks like the fields that follow it: the last match is the real one
    let tricky = b"+CWLAP:(3,\"x\",-1,\"00:00:00:00:00:00\"\",-55,\"aa:bb:cc:dd:ee:ff\",3)";
    let ap = parse_cwlap(tricky).unwrap();
    assert_eq!(ap.ssid.as_slice(), b"x\",-1,\"00:00:00:00:00:00\"");
    assert_eq!((ap.rssi, ap.channel), (-55, 3));
    let utf8 = "+CWLAP:(3,\"Küche 🍞\",-50,\"00:11:22:33:44:55\",1)";
    let ap = parse_cwlap(utf8.as_bytes()).unwrap();
    assert_eq!(ap.ssid_str(), Some("Küche 🍞"));
}

#[test]
fn malformed_lines_are_not_access_points() {
    for bad in [
        &b"+CWLAP:(3,\"home\",-61)"[..],
        b"+CWLAP:(3,\"home\",-61,\"a4:2b:b0:12:34\",11)",
        b"+CWLAP:(3,\"home\",abc,\"a4:2b:b0:12:34:5f\",11)",
        b"+CWLAP:(300,\"home\",-61,\"a4:2b:b0:12:34:5f\",11)",
        b"+CWLAP:(3,home,-61,\"a4:2b:b0:12:34:5f\",11)",
        b"+CWLAP:(3,\"home\",-61,\"a4:2b:b0:12:34:5f\",11",
        b"+CWJAP:(3,\"home\",-61,\"a4:2b:b0:12:34:5f\",11)",
        b"+CWLAP:(3,\"0123456789012345678901234567890123\",-61,\"a4:2b:b0:12:34:5f\",11)",
        b"",
    ] {
        assert_eq!(parse_cwlap(bad), None, "{}", String::from_utf8_lossy(bad));
    }
}

fn modem(fw: Version, neighbours: &[(&str, i8)]) -> EspAt<SimModem, StdDelay> {
    let sim = SimModem::new(
        SimConfig::default()
            .with_firmware(fw)
            .with_network("home,\"net\"", "password1")
            .with_neighbours(neighbours.iter().copied()),
    );
    EspAt::new(
        sim,
        StdDelay,
        Config::default().with_command_timeout_ms(500),
    )
}

#[test]
fn scan_keeps_the_strongest_in_order_in_both_dialects() {
    for fw in [Version::new(1, 7, 4), Version::new(2, 2, 0)] {
        let mut esp = modem(
            fw,
            &[
                ("weak", -90),
                ("Küche 🍞", -40),
                ("mid,dle", -70),
                ("cafe", -75),
            ],
        );
        let mut out = [AccessPoint::EMPTY; 3];
        let heard = esp.scan(&mut out).unwrap();
        assert_eq!(heard, 5, "{fw:?}");
        let got: Vec<(String, i8)> = out
            .iter()
            .map(|a| (String::from_utf8_lossy(&a.ssid).into_owned(), a.rssi))
            .collect();
        assert_eq!(
            got,
            [
                ("Küche 🍞".to_string(), -40),
                ("home,\"net\"".to_string(), -52),
                ("mid,dle".to_string(), -70),
            ],
            "{fw:?}"
        );
        // the same into a heapless::Vec: the strongest that fit, the count of all heard
        let mut list = heapless::Vec::<AccessPoint, 2>::new();
        list.push(AccessPoint::default()).unwrap();
        assert_eq!(esp.scan_into(&mut list).unwrap(), 5, "{fw:?}");
        let got: Vec<i8> = list.iter().map(|a| a.rssi).collect();
        assert_eq!(got, [-40, -52], "{fw:?}");
        let mut roomy = heapless::Vec::<AccessPoint, 8>::new();
        assert_eq!(esp.scan_into(&mut roomy).unwrap(), 5, "{fw:?}");
        assert_eq!(roomy.len(), 5, "{fw:?}");
        assert_eq!(roomy[4].rssi, -90, "{fw:?}");
    }
}

#[test]
fn an_empty_access_point_is_the_default() {
    let ap = AccessPoint::default();
    assert_eq!(ap, AccessPoint::EMPTY);
    assert!(ap.ssid.is_empty());
    assert!(ap.is_open());
    assert_eq!(ap.ssid_str(), Some(""));
}

#[test]
fn scanning_needs_the_station_interface() {
    let mut esp = modem(Version::new(2, 2, 0), &[]);
    // SoftAP only: the firmware refuses; station + SoftAP (what start_soft_ap sets) scans
    esp.command(
        esp_at::command::wifi::Wifi::SetMode(esp_at::WifiMode::SoftAp).into(),
        esp_at::rom!(b""),
    )
    .unwrap();
    assert!(matches!(esp.scan(&mut []), Err(Error::Failed)));
    esp.start_soft_ap("Scale-Setup", "", 6).unwrap();
    assert_eq!(esp.scan(&mut []).unwrap(), 1);
}

mod properties {
    use esp_at::scan::parse_cwlap;
    use proptest::prelude::*;

    proptest! {
        /// Any SSID the firmware may print (1-32 bytes, no control characters: commas, quotes,
        /// parentheses and UTF-8 included) comes back whole, with either field set.
        #[test]
        fn any_ssid_comes_back_whole(
            ssid in proptest::collection::vec(0x20u8..=0xFF, 1..=32),
            rssi in -100i8..=-1,
            channel in 1u8..=13,
            ecn in 0u8..=8,
            mac in proptest::array::uniform6(any::<u8>()),
            v2 in any::<bool>(),
        ) {
            let mut line = format!("+CWLAP:({ecn},\"").into_bytes();
            line.extend_from_slice(&ssid);
            let mac_text = mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
            let tail = if v2 { ",-12,0,4,4,7,1" } else { ",-12,0" };
            line.extend_from_slice(format!("\",{rssi},\"{mac_text}\",{channel}{tail})").as_bytes());
            let ap = parse_cwlap(&line).unwrap();
            prop_assert_eq!(ap.ssid.as_slice(), ssid.as_slice());
            prop_assert_eq!((ap.rssi, ap.channel, ap.encryption, ap.bssid), (rssi, channel, ecn, mac));
        }

        /// Whatever the bytes, parsing ends without a panic.
        #[test]
        fn random_lines_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..120)) {
            let mut line = b"+CWLAP:(".to_vec();
            line.extend_from_slice(&tail);
            let _ = parse_cwlap(&line);
            let _ = parse_cwlap(&tail);
        }
    }
}
