//! The node's stored configuration record and its setup lines on arbitrary bytes: no panic;
//! a record that loads is written back byte for byte and loads again the same; setup lines
//! only ever commit a configuration that validates, and that configuration survives a store
//! and load.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scale_node::config::{CONFIG_MAX, NodeConfig, Setup, SetupReply};

fn round_trip(c: &NodeConfig) {
    let mut buf = [0u8; CONFIG_MAX];
    let n = c.to_bytes(&mut buf);
    assert!(n <= CONFIG_MAX);
    let back = NodeConfig::from_bytes(&buf[..n]).expect("a record we wrote loads");
    assert_eq!(&back, c);
    assert_eq!(NodeConfig::check_bytes(&buf[..n]), Ok(n));
}

fuzz_target!(|data: &[u8]| {
    // the first byte chooses: a stored record, or setup-mode lines
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        if let Ok(c) = NodeConfig::from_bytes(data) {
            round_trip(&c);
        }
        return;
    }
    let mut setup = Setup::new(None);
    for line in data.split(|&b| b == b'\n') {
        match setup.line(line) {
            SetupReply::Committed => {
                assert!(setup.draft().validate().is_ok());
                round_trip(setup.draft());
            }
            _ => {}
        }
    }
});
