//! The weight-sensor node on an Arduino Uno.
//!
//! HX711 DOUT on D9, PD_SCK on D8, status LED on D2, setup button on D3 (to GND, held at
//! reset), ESP8266 on the hardware UART (D0/D1) at 115 200 baud. Configuration comes from the
//! EEPROM (written by setup mode) or from build-time environment variables; see README.md.

#![no_std]
#![no_main]

use embedded_hal::digital::InputPin;
use hx711::{Config as HxConfig, Hx711, Rate};
use panic_halt as _;
use scale_node::{EspUplink, Node, NodeConfig, Settings};

use scale_node_uno::board::{self, Delay, Eeprom, Millis, PortB, PortD, Serial};

/// Readings kept while the gateway is unreachable.
const QUEUE: usize = 8;
/// Receive buffer of the AT driver.
const RX: usize = 128;

/// The build-time configuration: `SCALE_*` environment variables, as setup-mode settings.
const BUILD_SETTINGS: &[(&str, Option<&str>)] = &[
    ("ssid", option_env!("SCALE_SSID")),
    ("password", option_env!("SCALE_PASSWORD")),
    ("host", option_env!("SCALE_HOST")),
    ("port", option_env!("SCALE_PORT")),
    ("sensor", Some("Scale.Arduino")), // the default, unless:
    ("sensor", option_env!("SCALE_SENSOR")),
    ("interval_ms", option_env!("SCALE_INTERVAL_MS")),
    ("samples", option_env!("SCALE_SAMPLES")),
    ("format", option_env!("SCALE_FORMAT")),
    ("cal_offset", option_env!("SCALE_OFFSET")),
    ("cal_counts_per_gram", option_env!("SCALE_COUNTS_PER_GRAM")),
];

#[avr_device::entry]
fn main() -> ! {
    let Some(dp) = scale_node_uno::board::mcu::Peripherals::take() else {
        loop {}
    };
    board::start_tick(dp.TC0);
    let serial = Serial::new(dp.USART0);
    let mut setup_button = PortD::<3>::into_pull_up_input();
    let led = PortD::<2>::into_output();
    let dout = PortB::<1>::into_pull_up_input();
    let sck = PortB::<0>::into_output();
    // SAFETY: the handlers only touch their own statics
    unsafe { avr_device::interrupt::enable() };

    let sensor = Hx711::new(dout, sck, Delay, HxConfig::new(Rate::Sps10));
    let esp =
        esp_at::EspAt::<_, _, esp_at::NoPin, RX>::new(serial, Delay, esp_at::Config::default());
    let force_setup = setup_button.is_low().unwrap_or(false);
    let mut node: Node<_, _, _, _, _, QUEUE> = Node::new(
        sensor,
        EspUplink::new(esp, false),
        Millis::new(),
        led,
        Eeprom::new(dp.EEPROM),
        Settings::default(),
        // checked as setup mode checks it; setup mode unless complete and valid
        NodeConfig::from_settings(BUILD_SETTINGS).ok(),
        force_setup,
    );
    loop {
        node.poll();
        while node.next_event().is_some() {}
    }
}
