//! esp-at alone on the Uno: join, connect, send. Measures what the AT driver costs in flash, RAM
//! and stack: the free RAM is painted at boot, and the deepest the stack reached is reported at
//! the end (`PROBE OK stack=<bytes> statics=<bytes>`). Credentials come from build-time environment variables.

#![no_std]
#![no_main]

use embedded_io::Write;
use panic_halt as _;
use scale_node_uno::board::{self, Delay, Serial};

fn write_num(s: &mut impl Write, v: usize) {
    let mut digits = [0u8; 10];
    let n = esp_at::decimal(v as u32, &mut digits);
    let _ = s.write_all(digits.get(..n).unwrap_or(&[]));
}

#[avr_device::entry]
fn main() -> ! {
    board::paint_stack();
    let Some(dp) = scale_node_uno::board::mcu::Peripherals::take() else {
        loop {}
    };
    board::start_tick(dp.TC0);
    let serial = Serial::new(dp.USART0);
    // SAFETY: the handlers only touch their own statics
    unsafe { avr_device::interrupt::enable() };
    let mut esp =
        esp_at::EspAt::<_, _, esp_at::NoPin, 128>::with_buffer(serial, Delay, esp_at::Config::default());
    let ssid = option_env!("SCALE_SSID").unwrap_or("ssid");
    let pass = option_env!("SCALE_PASSWORD").unwrap_or("");
    let host = option_env!("SCALE_HOST").unwrap_or("127.0.0.1");
    let port = PORT;
    let ok = esp.join(ssid, pass).is_ok()
        && match esp.connect(esp_at::Transport::Tcp, host, port) {
            Ok(link) => esp.send(link, b"Weight:1.00,Scale.Arduino\r\n").is_ok(),
            Err(_) => false,
        };
    let (mut serial, _, _) = esp.release();
    let _ = serial.write_all(if ok {
        b"PROBE OK stack="
    } else {
        b"PROBE FAIL stack="
    });
    write_num(&mut serial, board::peak_stack());
    let _ = serial.write_all(b" statics=");
    write_num(&mut serial, board::statics());
    let _ = serial.write_all(b"\r\n");
    // done: idle (the report is the probe's whole output)
    loop {
        core::hint::spin_loop();
    }
}

/// The gateway's port: `SCALE_PORT` at build time (a bad value stops the build), else 5001.
const PORT: u16 = match option_env!("SCALE_PORT") {
    Some(p) => port(p.as_bytes()),
    None => 5001,
};

const fn port(digits: &[u8]) -> u16 {
    let mut v: u32 = 0;
    let mut i = 0;
    while i < digits.len() {
        let d = digits[i];
        assert!(d.is_ascii_digit() && v <= 6_553, "SCALE_PORT: a port, 1-65535");
        v = v * 10 + (d - b'0') as u32;
        i += 1;
    }
    assert!(v >= 1 && v <= 65_535, "SCALE_PORT: a port, 1-65535");
    v as u16
}
