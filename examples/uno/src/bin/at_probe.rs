//! esp-at alone on the Uno: join, connect, send. Measures what the AT driver costs in flash, RAM
//! and stack. Credentials come from build-time environment variables.

#![no_std]
#![no_main]

use embedded_io::Write;
use panic_halt as _;
use scale_node_uno::board::{self, Delay, Serial};

#[avr_device::entry]
fn main() -> ! {
    let Some(dp) = avr_device::atmega328p::Peripherals::take() else {
        loop {}
    };
    board::start_tick(dp.TC0);
    let serial = Serial::new(dp.USART0);
    // SAFETY: the handlers only touch their own statics
    unsafe { avr_device::interrupt::enable() };
    let mut esp = esp_at::EspAt::<_, _, esp_at::NoPin, 128>::new(serial, Delay, esp_at::Config::default());
    let ssid = option_env!("SCALE_SSID").unwrap_or("ssid");
    let pass = option_env!("SCALE_PASSWORD").unwrap_or("");
    let host = option_env!("SCALE_HOST").unwrap_or("127.0.0.1");
    let ok = esp.join(ssid, pass).is_ok()
        && match esp.connect(esp_at::Transport::Tcp, host, 5001) {
            Ok(link) => esp.send(link, b"Weight:1.00,Scale.Arduino\r\n").is_ok(),
            Err(_) => false,
        };
    let (mut serial, _, _) = esp.release();
    let _ = serial.write_all(if ok { b"PROBE OK\r\n" } else { b"PROBE FAIL\r\n" });
    avr_device::interrupt::disable();
    loop {
        avr_device::asm::sleep();
    }
}
