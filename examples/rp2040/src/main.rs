//! The weight-sensor node on a Raspberry Pi Pico (RP2040), on embassy.
//!
//! Two tasks share the executor: the node (`Node::run`: the HX711 awaited on its `DOUT` edge,
//! the ESP8266 awaited through esp-at's async driver, so a slow join or `SEND OK` suspends the
//! task instead of holding the core) and a heartbeat that toggles GP2 every 10 ms and reports the
//! worst lateness it has seen on UART1. Pins and peripherals are in `board.rs`.

#![no_std]
#![no_main]

mod board;

use avia_hx711::{Config as HxConfig, Hx711, Rate};
use board::Board;
use embassy_executor::Spawner;
use embassy_time::{Delay, Duration, Instant, Timer};
use panic_halt as _;
use scale_node::{AsyncEspUplink, FlashSlot, Node, NodeConfig, Settings};

/// The heartbeat's period.
const HEARTBEAT: Duration = Duration::from_millis(10);
/// Heartbeats between two reports (one a second).
const REPORT_EVERY: u32 = 100;

/// Toggle GP2 every [`HEARTBEAT`] and measure how late each wake-up is: the longest time
/// another task kept the executor. Reports `HB <worst µs> <beats>` on UART1 once a second (a
/// line shorter than the UART's 32-byte FIFO: the write never waits).
#[embassy_executor::task]
async fn heartbeat(
    mut pin: embassy_rp::gpio::Output<'static>,
    mut report: embassy_rp::uart::UartTx<'static, embassy_rp::uart::Blocking>,
) {
    let mut next = Instant::now();
    let mut worst_us: u32 = 0;
    let mut beats: u32 = 0;
    loop {
        next += HEARTBEAT;
        Timer::at(next).await;
        let late = Instant::now().saturating_duration_since(next).as_micros();
        worst_us = worst_us.max(late.min(u64::from(u32::MAX)) as u32);
        pin.toggle();
        beats = beats.wrapping_add(1);
        if beats % REPORT_EVERY == 0 {
            let mut line: scale_node::fmt::LineBuf<32> = scale_node::fmt::LineBuf::new();
            line.push(b"HB ")
                .push_u32(worst_us)
                .push(b" ")
                .push_u32(beats)
                .push(b"\r\n");
            let _ = report.blocking_write(line.as_bytes());
        }
    }
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let b = Board::init();
    let force_setup = option_env!("SCALE_SETUP_BUTTON") != Some("0") && b.setup_button_held;
    // (spawned once: its one task slot is free)
    if let Ok(task) = heartbeat(b.heartbeat, b.report) {
        spawner.spawn(task);
    }

    // the build-time configuration (`SCALE_*`), checked as setup mode checks it (in a block:
    // the draft is not kept in the task's state)
    let config = {
        let mut c = NodeConfig::default();
        scale_node::build_settings!(&mut c, "Scale.Pico")
            .ok()
            .map(|()| c)
    };
    let sensor = Hx711::new(b.dout, b.sck, Delay, HxConfig::new(Rate::Sps10));
    let esp = esp_at::asynch::EspAt::new(b.modem, Delay, esp_at::Config::default());
    let Ok(storage) =
        FlashSlot::<_, { scale_node::config::CONFIG_MAX }>::new(b.flash, board::CONFIG_SECTOR)
    else {
        // unreachable with the constants in board.rs; never run with a layout that is wrong
        loop {
            cortex_m::asm::wfi();
        }
    };
    let mut node: Node<_, _, _, _, _, 64> = Node::new(
        sensor,
        AsyncEspUplink::new(esp, false),
        board::EmbassyClock,
        b.led,
        storage,
        Settings {
            boot_id: board::boot_id(),
            ..Settings::default()
        },
        config,
        force_setup,
    );
    node.run(&mut Delay, 2).await;
}
