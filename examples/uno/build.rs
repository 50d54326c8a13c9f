//! Links with `--relax`: the linker turns each 4-byte `call`/`jmp` whose target is within
//! ±4 KB into a 2-byte `rcall`/`rjmp`. Set here rather than in `.cargo/config.toml`, where a
//! `RUSTFLAGS` from the environment (the Mega 2560 build's `-C target-cpu`) would replace it.
fn main() {
    println!("cargo:rustc-link-arg=-Wl,--relax");
}
