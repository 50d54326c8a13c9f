//! The Netduino Plus 2 (STM32F405RG) on `stm32f4xx-hal`: the core on the 16 MHz internal
//! oscillator, a 1 ms SysTick clock, a busy-wait delay, the pins of the wiring table, USART1 as
//! an `embedded_io` port with an interrupt-fed receive ring, and the on-chip flash as
//! `NorFlash`.

use core::cell::RefCell;
use core::convert::Infallible;
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::interrupt::Mutex;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use embedded_storage::nor_flash::{ErrorType, NorFlash, ReadNorFlash};
use stm32f4xx_hal::flash::{FlashExt, LockedFlash};
use stm32f4xx_hal::gpio::{Input, Output, PB0, PB1, PB2, PB3, PushPull};
use stm32f4xx_hal::pac::{self, USART1, interrupt};
use stm32f4xx_hal::prelude::*;
use stm32f4xx_hal::rcc::Config;
use stm32f4xx_hal::serial::{Rx, RxListen, Tx};

/// The core clock: the internal oscillator (QEMU has no clock-tree model, so the same binary
/// runs there).
pub const CPU_HZ: u32 = 16_000_000;

/// The STM32F405RG's flash.
const FLASH_BASE: usize = 0x0800_0000;
const FLASH_BYTES: usize = 1024 * 1024;
/// Offset of sector 11 (128 KiB) in the STM32F405's flash: the configuration's (kept out of
/// FLASH in memory.x).
pub const CONFIG_SECTOR: u32 = 0xE_0000;

/// The board's parts, as the node uses them.
pub struct Board {
    /// HX711 DOUT (PB0, pull-up on).
    pub dout: PB0<Input>,
    /// HX711 PD_SCK (PB1).
    pub sck: PB1<Output<PushPull>>,
    /// Status LED (PB2).
    pub led: PB2<Output<PushPull>>,
    /// Setup button to GND (PB3, pull-up on).
    pub button: PB3<Input>,
    /// The ESP8266 on USART1 (PA9 TX, PA10 RX) at 115 200 baud.
    pub serial: Serial,
    /// The on-chip flash.
    pub flash: Flash,
    /// Milliseconds since [`Board::init`].
    pub clock: Millis,
}

impl Board {
    /// Start the clocks, the 1 ms tick and USART1 with its receive interrupt, and configure the
    /// pins. `None` when the peripherals were taken already or USART1 cannot run at 115 200
    /// baud.
    pub fn init() -> Option<Self> {
        let (Some(dp), Some(cp)) = (pac::Peripherals::take(), cortex_m::Peripherals::take()) else {
            return None;
        };
        let mut rcc = dp.RCC.freeze(Config::hsi());
        let mut syst = cp.SYST;
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(CPU_HZ / 1_000 - 1);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();

        let gpioa = dp.GPIOA.split(&mut rcc);
        let gpiob = dp.GPIOB.split(&mut rcc);
        let serial = dp
            .USART1
            .serial((gpioa.pa9, gpioa.pa10), 115_200.bps(), &mut rcc)
            .ok()?;
        let (tx, mut rx) = serial.split();
        rx.listen();
        cortex_m::interrupt::free(|cs| RX.borrow(cs).replace(Some(rx)));
        // SAFETY: the handler only touches its own statics
        unsafe { cortex_m::peripheral::NVIC::unmask(pac::Interrupt::USART1) };

        Some(Self {
            dout: gpiob.pb0.into_pull_up_input(),
            sck: gpiob.pb1.into_push_pull_output(),
            led: gpiob.pb2.into_push_pull_output(),
            button: gpiob.pb3.into_pull_up_input(),
            serial: Serial { tx },
            flash: Flash(LockedFlash::new(dp.FLASH)),
            clock: Millis,
        })
    }
}

// ---------------------------------------------------------------------------------------
// SysTick: 1 ms clock

static MILLIS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

/// The node's clock: SysTick's milliseconds.
pub struct Millis;

impl scale_node::Clock for Millis {
    fn now_ms(&mut self) -> u32 {
        MILLIS.load(Ordering::Relaxed)
    }
}

/// Busy-wait delay on the core clock.
pub struct Delay;

impl embedded_hal::delay::DelayNs for Delay {
    fn delay_ns(&mut self, ns: u32) {
        cortex_m::asm::delay(
            (ns / 1_000)
                .saturating_mul(CPU_HZ / 1_000_000)
                .max(ns * 16 / 1_000)
                .max(1),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Flash

/// The on-chip flash as `NorFlash`, unlocked only while it is erased or programmed.
pub struct Flash(LockedFlash);

impl ErrorType for Flash {
    type Error = stm32f4xx_hal::flash::Error;
}

impl ReadNorFlash for Flash {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        // straight from the memory map: the HAL's read sizes the flash from the device
        // signature, which QEMU's netduinoplus2 does not map
        // SAFETY: the STM32F405RG's 1 MiB of flash is always mapped at 0x0800_0000 and only
        // erased or programmed through `&mut self`
        let all = unsafe { core::slice::from_raw_parts(FLASH_BASE as *const u8, FLASH_BYTES) };
        let start = offset as usize;
        let src = all
            .get(start..start.saturating_add(bytes.len()))
            .ok_or(stm32f4xx_hal::flash::Error::ProgrammingSequence)?;
        bytes.copy_from_slice(src);
        Ok(())
    }
    fn capacity(&self) -> usize {
        FLASH_BYTES
    }
}

impl NorFlash for Flash {
    const WRITE_SIZE: usize = 1;
    // sector 11 is one of the 128 KiB sectors
    const ERASE_SIZE: usize = 128 * 1024;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        NorFlash::erase(&mut self.0.unlocked(), from, to)
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        NorFlash::write(&mut self.0.unlocked(), offset, bytes)
    }
}

// ---------------------------------------------------------------------------------------
// USART1: receive ring fed by the RXNE interrupt

const RING: usize = 512;

struct Ring {
    buf: [u8; RING],
    head: usize,
    len: usize,
}

static RX: Mutex<RefCell<Option<Rx<USART1>>>> = Mutex::new(RefCell::new(None));
static RING_BUF: Mutex<RefCell<Ring>> = Mutex::new(RefCell::new(Ring {
    buf: [0; RING],
    head: 0,
    len: 0,
}));

#[interrupt]
fn USART1() {
    cortex_m::interrupt::free(|cs| {
        let mut rx = RX.borrow(cs).borrow_mut();
        let Some(rx) = rx.as_mut() else { return };
        while let Ok(b) = embedded_hal_nb::serial::Read::read(rx) {
            let mut r = RING_BUF.borrow(cs).borrow_mut();
            if r.len < RING {
                let i = (r.head + r.len) % RING;
                r.buf[i] = b;
                r.len += 1;
            }
        }
    });
}

/// USART1 as an `embedded_io` port.
pub struct Serial {
    tx: Tx<USART1>,
}

impl embedded_io::ErrorType for Serial {
    type Error = Infallible;
}

impl embedded_io::ReadReady for Serial {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(cortex_m::interrupt::free(|cs| {
            RING_BUF.borrow(cs).borrow().len > 0
        }))
    }
}

impl embedded_io::Read for Serial {
    fn read(&mut self, out: &mut [u8]) -> Result<usize, Infallible> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let n = cortex_m::interrupt::free(|cs| {
                let mut r = RING_BUF.borrow(cs).borrow_mut();
                let mut n = 0;
                while r.len > 0 && n < out.len() {
                    out[n] = r.buf[r.head];
                    r.head = (r.head + 1) % RING;
                    r.len -= 1;
                    n += 1;
                }
                n
            });
            if n > 0 {
                return Ok(n);
            }
        }
    }
}

impl embedded_io::Write for Serial {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        for &b in buf {
            let _ = nb::block!(embedded_hal_nb::serial::Write::write(&mut self.tx, b));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        let _ = nb::block!(embedded_hal_nb::serial::Write::flush(&mut self.tx));
        Ok(())
    }
}
