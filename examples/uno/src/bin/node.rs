//! The weight-sensor node on an Arduino Uno.
//!
//! HX711 DOUT on D9, PD_SCK on D8, status LED on D2, setup button on D3 (to GND, held at
//! reset), ESP8266 on the hardware UART (D0/D1) at 115 200 baud. Configuration comes from the
//! EEPROM (written by setup mode) or from build-time environment variables; see README.md.

#![no_std]
#![no_main]

use embedded_hal::digital::InputPin;
use avia_hx711::{Config as HxConfig, Hx711, Rate};
use panic_halt as _;
use scale_node::{EspUplink, Node, Settings};

use scale_node_uno::board::{self, Delay, Eeprom, Millis, PortB, PortD, Serial};

/// Readings kept while the gateway is unreachable (14 B each). The node waits out a back-off
/// before it reconnects to a gateway that was away (doubling to 60 s): the Mega 2560 has the
/// RAM to keep the readings of that wait too.
#[cfg(feature = "mega2560")]
const QUEUE: usize = 32;
#[cfg(not(feature = "mega2560"))]
const QUEUE: usize = 8;
/// Receive buffer of the AT driver.
const RX: usize = 128;

#[avr_device::entry]
fn main() -> ! {
    board::paint_stack();
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
        esp_at::EspAt::<_, _, esp_at::NoPin, RX>::with_buffer(serial, Delay, esp_at::Config::default());
    let force_setup = setup_button.is_low().unwrap_or(false);
    // (after the button is read: on the Mega, TX1 is the button's pin)
    #[cfg(all(feature = "stack-report", feature = "mega2560"))]
    let mut report = board::StackReport::new(dp.USART1);
    #[cfg(all(feature = "stack-report", not(feature = "mega2560")))]
    let mut report = board::StackReport::new(dp.SPI);
    let mut eeprom = Eeprom::new(dp.EEPROM);
    // this boot's id: the EEPROM's boot counter
    let boot_id = eeprom.count_boot();
    let mut node: Node<_, _, _, _, _, QUEUE> = Node::new(
        sensor,
        EspUplink::new(esp, false),
        Millis::new(),
        led,
        eeprom,
        Settings {
            boot_id,
            ..Settings::default()
        },
        None,
        force_setup,
    );
    // the build-time configuration, checked as setup mode checks it and written in place;
    // setup mode unless it is complete and valid
    let _ = node.provision(|cfg| scale_node::build_settings!(cfg, "Scale.Arduino"));
    loop {
        node.poll();
        while let Some(_event) = node.next_event() {
            #[cfg(feature = "stack-report")]
            if matches!(_event, scale_node::NodeEvent::Delivered(_)) {
                report.send();
            }
        }
    }
}
