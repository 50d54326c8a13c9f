//! With the `log` feature, every command and every line from the modem is traced.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Mutex;

use esp_at::sim::{SimConfig, SimModem, StdDelay};
use esp_at::{Config, EspAt, Version};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        LINES.lock().unwrap().push(r.args().to_string());
    }
    fn flush(&self) {}
}

#[test]
fn the_at_traffic_is_traced() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let sim = SimModem::new(SimConfig::default().with_firmware(Version::new(2, 2, 0)));
    let mut esp = EspAt::new(sim, StdDelay, Config::default());
    esp.init().unwrap();
    let lines = LINES.lock().unwrap().clone();
    for want in [
        "AT> AT\\r\\n",
        "AT> ATE0\\r\\n",
        "AT> AT+GMR\\r\\n",
        "AT< OK\\r\\n",
        "AT> AT+CIPRECVMODE=1\\r\\n",
    ] {
        assert!(
            lines.iter().any(|l| l == want),
            "{want:?} not in {lines:#?}"
        );
    }
    assert!(lines.iter().any(|l| l.starts_with("AT< AT version:2.2.0")));
}
