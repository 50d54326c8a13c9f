//! Link settings for the AVR firmware.
//!
//! - `--relax`: the linker turns each 4-byte `call`/`jmp` whose target is within ±4 KB into a
//!   2-byte `rcall`/`rjmp`. Set here rather than in `.cargo/config.toml`, where a `RUSTFLAGS`
//!   from the environment (the Mega 2560 build's `-C target-cpu`) would replace it.
//! - avr-libc's `memcpy`, `memset`, `memmove` and `memcmp` and libgcc's 64-bit multiplication,
//!   linked as objects: they are written in AVR assembly and a fraction of the size of
//!   `compiler_builtins`' generic ones, whose definitions are weak and give way to them. What
//!   the firmware does not call is dropped by `--gc-sections`.
//!   The objects come from the toolchain's archives for the MCU being built
//!   (`avr-gcc -mmcu=<cpu> -print-file-name=...`), extracted with `avr-ar`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (archive, members) linked ahead of `compiler_builtins`.
const OBJECTS: [(&str, &[&str]); 2] = [
    ("libc.a", &["memcpy.o", "memset.o", "memmove.o", "memcmp.o"]),
    // the 64-bit multiplication only. With libgcc's divisions in place of the compiler's (or
    // the libraries' divisions written as plain `/` and `%`), the sketch printed `250.0p` for
    // `250.00` in simavr: the divisions stay as they are
    ("libgcc.a", &["_muldi3.o"]),
];

fn main() {
    println!("cargo:rustc-link-arg=-Wl,--relax");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("avr") {
        return;
    }
    let cpu = std::env::var("CARGO_ENCODED_RUSTFLAGS")
        .unwrap_or_default()
        .split('\x1f')
        .find_map(|f| f.strip_prefix("target-cpu=").map(str::to_owned))
        .unwrap_or_else(|| "atmega328p".to_owned());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join(&cpu);
    let _ = std::fs::create_dir_all(&out);
    for (archive, members) in OBJECTS {
        let Some(path) = toolchain_file(&cpu, archive) else {
            println!("cargo:warning=avr-gcc has no {archive} for {cpu}: linking compiler_builtins' versions");
            continue;
        };
        let extracted = Command::new("avr-ar")
            .arg("x")
            .arg(&path)
            .args(members)
            .current_dir(&out)
            .status()
            .is_ok_and(|s| s.success());
        for m in members {
            let obj = out.join(m);
            if extracted && obj.exists() {
                println!("cargo:rustc-link-arg={}", obj.display());
            }
        }
    }
    // what those objects call in turn
    println!("cargo:rustc-link-arg=-lgcc");
}

/// The full path of `name` in avr-gcc's libraries for `cpu`, if it has one.
fn toolchain_file(cpu: &str, name: &str) -> Option<PathBuf> {
    let out = Command::new("avr-gcc")
        .arg(format!("-mmcu={cpu}"))
        .arg(format!("-print-file-name={name}"))
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    // avr-gcc echoes the bare name when it has no such file
    (path.is_absolute() && Path::new(&path).exists()).then_some(path)
}
