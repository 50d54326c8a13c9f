//! The weight-sensor node on a Raspberry Pi Pico (RP2040), on embassy.
//!
//! HX711 DOUT on GP16, PD_SCK on GP17, status LED on GP25 (the Pico's own), setup button on
//! GP15 (to GND, held at reset), ESP8266 on UART0 (GP0 TX, GP1 RX) at 115 200 baud with an
//! interrupt-driven buffered UART. The node runs as an embassy task; between polls the core
//! sleeps on the embassy timer.

#![no_std]
#![no_main]

use embassy_executor::Spawner;
use embassy_rp::bind_interrupts;
use embassy_rp::flash::{Blocking, Flash};
use embassy_rp::gpio::{Input, Level, Output, Pull};
use embassy_rp::peripherals::UART0;
use embassy_rp::uart::{self, BufferedInterruptHandler, BufferedUart};
use embassy_time::{Delay, Instant};
use avia_hx711::{Config as HxConfig, Hx711, Rate};
use panic_halt as _;
use scale_node::{EspUplink, FlashSlot, Node, NodeConfig, Settings};
use static_cell::StaticCell;

/// The Pico's flash (W25Q16JV).
const FLASH_SIZE: usize = 2 * 1024 * 1024;
/// Offset of the configuration's sector: the last one.
const CONFIG_SECTOR: u32 = (FLASH_SIZE - 4096) as u32;

bind_interrupts!(struct Irqs {
    UART0_IRQ => BufferedInterruptHandler<UART0>;
});

/// Milliseconds from the embassy time driver.
struct EmbassyClock;

impl scale_node::Clock for EmbassyClock {
    fn now_ms(&mut self) -> u32 {
        Instant::now().as_millis() as u32 // wrapping milliseconds
    }
}

#[embassy_executor::main]
async fn main(_spawner: Spawner) {
    let p = embassy_rp::init(Default::default());
    static TX_BUF: StaticCell<[u8; 256]> = StaticCell::new();
    static RX_BUF: StaticCell<[u8; 1024]> = StaticCell::new();
    let mut cfg = uart::Config::default();
    cfg.baudrate = 115_200;
    let uart = BufferedUart::new(
        p.UART0,
        p.PIN_0,
        p.PIN_1,
        Irqs,
        TX_BUF.init([0; 256]),
        RX_BUF.init([0; 1024]),
        cfg,
    );

    let dout = Input::new(p.PIN_16, Pull::Up);
    let sck = Output::new(p.PIN_17, Level::Low);
    let led = Output::new(p.PIN_25, Level::Low);
    let button = Input::new(p.PIN_15, Pull::Up);
    let force_setup = option_env!("SCALE_SETUP_BUTTON") != Some("0") && button.is_low();

    // the build-time configuration (`SCALE_*`), checked as setup mode checks it (in a block:
    // the draft is not kept in the task's state)
    let config = {
        let mut c = NodeConfig::default();
        scale_node::build_settings!(&mut c, "Scale.Pico")
            .ok()
            .map(|()| c)
    };
    let sensor = Hx711::new(dout, sck, Delay, HxConfig::new(Rate::Sps10));
    let esp =
        esp_at::EspAt::<_, _, esp_at::NoPin, 512>::with_buffer(uart, Delay, esp_at::Config::default());
    // the configuration: the last 4 KiB sector of the 2 MiB flash (kept out of FLASH in memory.x)
    let flash = Flash::<_, Blocking, FLASH_SIZE>::new_blocking(p.FLASH);
    let Ok(storage) = FlashSlot::<_, { scale_node::config::CONFIG_MAX }>::new(flash, CONFIG_SECTOR)
    else {
        // unreachable with the constants above; never run with a layout that is wrong
        loop {
            cortex_m::asm::wfi();
        }
    };
    let mut node: Node<_, _, _, _, _, 64> = Node::new(
        sensor,
        EspUplink::new(esp, false),
        EmbassyClock,
        led,
        storage,
        Settings {
            // this boot's id: 32 bits of the ring oscillator's random bit
            boot_id: embassy_rp::clocks::RoscRng.next_u32(),
            ..Settings::default()
        },
        config,
        force_setup,
    );
    node.run_awaiting_sensor(&mut Delay, 2).await;
}
