//! The Raspberry Pi Pico's side of the node: which pin does what, the UARTs, the flash sector
//! that keeps the configuration, the clock. `main.rs` builds the node from these parts.

use embassy_rp::bind_interrupts;
use embassy_rp::flash::{Blocking as FlashBlocking, Flash};
use embassy_rp::gpio::{Input, Level, Output, Pull};
use embassy_rp::peripherals::{FLASH, UART0};
use embassy_rp::uart::{self, BufferedInterruptHandler, BufferedUart, UartTx};
use embassy_time::Instant;
use static_cell::StaticCell;

/// The Pico's flash (W25Q16JV).
pub const FLASH_SIZE: usize = 2 * 1024 * 1024;
/// Offset of the configuration's sector: the last one (kept out of FLASH in `memory.x`).
pub const CONFIG_SECTOR: u32 = (FLASH_SIZE - 4096) as u32;
/// The ESP8266's baud rate (its AT firmware's default).
pub const MODEM_BAUD: u32 = 115_200;

bind_interrupts!(struct Irqs {
    UART0_IRQ => BufferedInterruptHandler<UART0>;
});

/// The flash driver the configuration is stored with.
pub type ConfigFlash = Flash<'static, FLASH, FlashBlocking, FLASH_SIZE>;

/// Everything the node and the heartbeat task use, taken from the chip's peripherals.
pub struct Board {
    /// UART0 (GP0 TX, GP1 RX) to the ESP8266: interrupt-driven, buffered, async.
    pub modem: BufferedUart,
    /// HX711 DOUT on GP16 (pull-up on: an unplugged HX711 reads "not ready").
    pub dout: Input<'static>,
    /// HX711 PD_SCK on GP17.
    pub sck: Output<'static>,
    /// The Pico's own LED on GP25: the node's blink codes.
    pub led: Output<'static>,
    /// The setup button on GP15 (to GND), read once at reset.
    pub setup_button_held: bool,
    /// GP2: toggled by the heartbeat task (a scope or an LED shows its period).
    pub heartbeat: Output<'static>,
    /// UART1 TX on GP4 (115 200 baud): the heartbeat task's report.
    pub report: UartTx<'static, uart::Blocking>,
    /// The flash, for the configuration's sector.
    pub flash: ConfigFlash,
}

impl Board {
    /// Bring up clocks and peripherals (`embassy_rp::init`) and hand out the board's parts.
    pub fn init() -> Board {
        let p = embassy_rp::init(Default::default());
        static TX_BUF: StaticCell<[u8; 256]> = StaticCell::new();
        static RX_BUF: StaticCell<[u8; 1024]> = StaticCell::new();
        let mut cfg = uart::Config::default();
        cfg.baudrate = MODEM_BAUD;
        let modem = BufferedUart::new(
            p.UART0,
            p.PIN_0,
            p.PIN_1,
            Irqs,
            TX_BUF.init([0; 256]),
            RX_BUF.init([0; 1024]),
            cfg,
        );
        let button = Input::new(p.PIN_15, Pull::Up);
        let mut report_cfg = uart::Config::default();
        report_cfg.baudrate = 115_200;
        Board {
            modem,
            dout: Input::new(p.PIN_16, Pull::Up),
            sck: Output::new(p.PIN_17, Level::Low),
            led: Output::new(p.PIN_25, Level::Low),
            setup_button_held: button.is_low(),
            heartbeat: Output::new(p.PIN_2, Level::Low),
            report: UartTx::new_blocking(p.UART1, p.PIN_4, report_cfg),
            flash: Flash::new_blocking(p.FLASH),
        }
    }
}

/// 32 bits from the ring oscillator's random bit: this boot's id.
pub fn boot_id() -> u32 {
    embassy_rp::clocks::RoscRng.next_u32()
}

/// Milliseconds from the embassy time driver.
pub struct EmbassyClock;

impl scale_node::Clock for EmbassyClock {
    fn now_ms(&mut self) -> u32 {
        Instant::now().as_millis() as u32 // wrapping milliseconds
    }
}
