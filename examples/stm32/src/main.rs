//! The weight-sensor node on a Netduino Plus 2 (STM32F405RG), blocking, on `stm32f4xx-hal`.
//!
//! HX711 DOUT on PB0, PD_SCK on PB1, status LED on PB2, setup button on PB3 (to GND, held at
//! reset), ESP8266 on USART1 (PA9 TX, PA10 RX) at 115 200 baud. The board's parts come from
//! [`board`]; this file builds the node from them and runs it.

#![no_std]
#![no_main]

mod board;

use avia_hx711::{Config as HxConfig, Hx711, Rate};
use cortex_m_rt::entry;
use embedded_hal::digital::InputPin;
use panic_halt as _;
use scale_node::{EspUplink, FlashSlot, Node, NodeConfig, Settings};

use board::{Board, Delay};

#[entry]
fn main() -> ! {
    let Some(mut board) = Board::init() else {
        loop {}
    };
    // SCALE_SETUP_BUTTON=0 at build time ignores the button (QEMU reads every GPIO as low)
    let force_setup = option_env!("SCALE_SETUP_BUTTON") != Some("0")
        && InputPin::is_low(&mut board.button).unwrap_or(false);

    // the build-time configuration (`SCALE_*`), checked as setup mode checks it (in a block:
    // the draft is not kept in the task's state)
    let config = {
        let mut c = NodeConfig::default();
        scale_node::build_settings!(&mut c, "Scale.Netduino")
            .ok()
            .map(|()| c)
    };
    let sensor = Hx711::new(board.dout, board.sck, Delay, HxConfig::new(Rate::Sps10));
    let esp = esp_at::EspAt::<_, _, esp_at::NoPin, 512>::with_buffer(
        board.serial,
        Delay,
        esp_at::Config::default(),
    );
    // the configuration: sector 11, the last 128 KiB of the flash
    let Ok(storage) =
        FlashSlot::<_, { scale_node::config::CONFIG_MAX }>::new(board.flash, board::CONFIG_SECTOR)
    else {
        // unreachable with the constants of `board`; never run with a layout that is wrong
        loop {
            cortex_m::asm::wfi();
        }
    };
    let mut node: Node<_, _, _, _, _, 64> = Node::new(
        sensor,
        EspUplink::new(esp, false),
        board.clock,
        board.led,
        storage,
        // no boot id from the board (`boot_id` 0): the node derives one from its clock and its
        // first samples. The STM32F405's RNG runs on the PLL's 48 MHz clock, which this
        // firmware does not start (it runs on the internal oscillator, as QEMU has no clock
        // tree); a board that starts the PLL can take `boot_id` from the RNG.
        Settings::default(),
        config,
        force_setup,
    );
    loop {
        node.poll();
        while node.next_event().is_some() {}
    }
}
