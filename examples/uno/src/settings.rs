//! The build-time configuration: `SCALE_*` environment variables, applied as setup-mode
//! settings (checked the same way) from program memory, so they cost no RAM.

use esp_at::rom::Rom;
use esp_at::{rom, rom_env};
use scale_node::NodeConfig;

macro_rules! setting {
    ($cfg:ident, $key:literal, $var:literal) => {
        if let Some(v) = rom_env!($var) {
            $cfg.set_rom(rom!($key), v)?;
        }
    };
}

/// Apply the `SCALE_*` variables of the build to `cfg` (the sensor id defaults to
/// `Scale.Arduino`) and validate the whole; `Err` names the first problem.
#[inline(never)]
pub fn apply(cfg: &mut NodeConfig) -> Result<(), Rom> {
    cfg.set_rom(rom!(b"sensor"), rom!(b"Scale.Arduino"))?;
    setting!(cfg, b"ssid", "SCALE_SSID");
    setting!(cfg, b"password", "SCALE_PASSWORD");
    setting!(cfg, b"host", "SCALE_HOST");
    setting!(cfg, b"port", "SCALE_PORT");
    setting!(cfg, b"sensor", "SCALE_SENSOR");
    setting!(cfg, b"interval_ms", "SCALE_INTERVAL_MS");
    setting!(cfg, b"samples", "SCALE_SAMPLES");
    setting!(cfg, b"format", "SCALE_FORMAT");
    setting!(cfg, b"cal_offset", "SCALE_OFFSET");
    setting!(cfg, b"cal_counts_per_gram", "SCALE_COUNTS_PER_GRAM");
    cfg.validate()
}
