use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    let _ = fs::write(out.join("memory.x"), include_bytes!("memory.x"));
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    for v in [
        "SCALE_SSID",
        "SCALE_PASSWORD",
        "SCALE_HOST",
        "SCALE_PORT",
        "SCALE_SENSOR",
        "SCALE_INTERVAL_MS",
        "SCALE_SAMPLES",
        "SCALE_FORMAT",
        "SCALE_COUNTS_PER_GRAM",
        "SCALE_OFFSET",
        "SCALE_SETUP_BUTTON",
    ] {
        println!("cargo:rerun-if-env-changed={v}");
    }
}
