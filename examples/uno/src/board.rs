//! A small board layer for the Arduino Uno (ATmega328P at 16 MHz) on `avr-device`: the pins of
//! the wiring table as embedded-hal 1.0 pins, a busy-wait delay, USART0 as an `embedded_io`
//! serial port with an interrupt-fed receive ring, a 1 ms tick on TIMER0, and the EEPROM as
//! `embedded_storage::Storage`.

use core::cell::{Cell, RefCell};
use core::convert::Infallible;

#[cfg(not(feature = "mega2560"))]
pub use avr_device::atmega328p as mcu;
#[cfg(feature = "mega2560")]
pub use avr_device::atmega2560 as mcu;
use avr_device::interrupt::{self, Mutex};
use mcu::{EEPROM, PORTB, PORTD, TC0, USART0};

pub const CPU_HZ: u32 = 16_000_000;

/// Port B bit `N` (D8 = PB0, D9 = PB1).
pub struct PortB<const N: u8>;
/// Port D bit `N` (D2 = PD2, D3 = PD3).
pub struct PortD<const N: u8>;

macro_rules! port_pin {
    ($ty:ident, $port:ident, $module:ident, $reg:ident, $ddr:ident, $pin:ident) => {
        impl<const N: u8> $ty<N> {
            fn regs() -> &'static mcu::$module::RegisterBlock {
                // SAFETY: a fixed MMIO address; every access below is a single register
                // access or an interrupt-free read-modify-write
                unsafe { &*$port::ptr() }
            }

            /// Configure as a push-pull output, low.
            pub fn into_output() -> Self {
                interrupt::free(|_| {
                    let r = Self::regs();
                    r.$reg()
                        .modify(|v, w| unsafe { w.bits(v.bits() & !(1 << N)) });
                    r.$ddr()
                        .modify(|v, w| unsafe { w.bits(v.bits() | (1 << N)) });
                });
                $ty
            }

            /// Configure as an input with the internal pull-up.
            pub fn into_pull_up_input() -> Self {
                interrupt::free(|_| {
                    let r = Self::regs();
                    r.$ddr()
                        .modify(|v, w| unsafe { w.bits(v.bits() & !(1 << N)) });
                    r.$reg()
                        .modify(|v, w| unsafe { w.bits(v.bits() | (1 << N)) });
                });
                $ty
            }
        }

        impl<const N: u8> embedded_hal::digital::ErrorType for $ty<N> {
            type Error = Infallible;
        }

        impl<const N: u8> embedded_hal::digital::OutputPin for $ty<N> {
            fn set_high(&mut self) -> Result<(), Infallible> {
                interrupt::free(|_| {
                    Self::regs()
                        .$reg()
                        .modify(|v, w| unsafe { w.bits(v.bits() | (1 << N)) })
                });
                Ok(())
            }
            fn set_low(&mut self) -> Result<(), Infallible> {
                interrupt::free(|_| {
                    Self::regs()
                        .$reg()
                        .modify(|v, w| unsafe { w.bits(v.bits() & !(1 << N)) })
                });
                Ok(())
            }
        }

        impl<const N: u8> embedded_hal::digital::InputPin for $ty<N> {
            fn is_high(&mut self) -> Result<bool, Infallible> {
                Ok(Self::regs().$pin().read().bits() & (1 << N) != 0)
            }
            fn is_low(&mut self) -> Result<bool, Infallible> {
                self.is_high().map(|h| !h)
            }
        }
    };
}

port_pin!(PortB, PORTB, portb, portb, ddrb, pinb);
port_pin!(PortD, PORTD, portd, portd, ddrd, pind);

/// Busy-wait delay (cycle counted; interrupts make it longer, never shorter).
pub struct Delay;

impl embedded_hal::delay::DelayNs for Delay {
    fn delay_ns(&mut self, ns: u32) {
        // 16 cycles per µs (62.5 ns each): ns/64 + ns/2048 is at least ns/62.5 and needs only
        // shifts (a 32-bit division costs the ATmega hundreds of cycles, which would stretch
        // every PD_SCK pulse); the call itself costs about as much as the shortest wait
        let cycles = (ns >> 6) + (ns >> 11);
        if cycles > 8 {
            avr_device::asm::delay_cycles(cycles - 8);
        }
    }
    fn delay_us(&mut self, us: u32) {
        avr_device::asm::delay_cycles(us.saturating_mul(CPU_HZ / 1_000_000));
    }
}

// ---------------------------------------------------------------------------------------
// TIMER0: 1 ms tick

static MILLIS: Mutex<Cell<u32>> = Mutex::new(Cell::new(0));

/// Start the 1 ms tick (CTC, prescaler 64, OCR0A = 249).
pub fn start_tick(tc0: TC0) {
    tc0.tccr0a().write(|w| w.wgm0().ctc());
    tc0.ocr0a().write(|w| unsafe { w.bits(249) });
    tc0.tccr0b().write(|w| w.cs0().prescale_64());
    tc0.timsk0().write(|w| w.ocie0a().set_bit());
}

#[cfg_attr(not(feature = "mega2560"), avr_device::interrupt(atmega328p))]
#[cfg_attr(feature = "mega2560", avr_device::interrupt(atmega2560))]
fn TIMER0_COMPA() {
    interrupt::free(|cs| {
        let c = MILLIS.borrow(cs);
        c.set(c.get().wrapping_add(1));
    });
}

/// Milliseconds since `start_tick` (wrapping after about 49.7 days).
pub struct Millis;

impl Millis {
    pub const fn new() -> Self {
        Millis
    }
}

impl scale_node::Clock for Millis {
    fn now_ms(&mut self) -> u32 {
        interrupt::free(|cs| MILLIS.borrow(cs).get())
    }
}

// ---------------------------------------------------------------------------------------
// USART0: 115200 8N1, interrupt-fed receive ring

const RX_RING: usize = 64;

struct Ring {
    buf: [u8; RX_RING],
    head: u8,
    len: u8,
    overruns: u8,
}

static RX: Mutex<RefCell<Ring>> = Mutex::new(RefCell::new(Ring {
    buf: [0; RX_RING],
    head: 0,
    len: 0,
    overruns: 0,
}));

/// The hardware UART to the ESP8266.
pub struct Serial {
    usart: USART0,
}

impl Serial {
    /// 115 200 baud with U2X (UBRR = 16: 2.1 % error, within the ESP8266's tolerance).
    pub fn new(usart: USART0) -> Self {
        usart.ubrr0().write(|w| w.set(16));
        usart.ucsr0a().write(|w| w.u2x0().set_bit());
        usart.ucsr0c().write(|w| w.ucsz0().chr8());
        usart
            .ucsr0b()
            .write(|w| w.txen0().set_bit().rxen0().set_bit().rxcie0().set_bit());
        Serial { usart }
    }

    /// Bytes lost because the ring was full.
    pub fn overruns() -> u8 {
        interrupt::free(|cs| RX.borrow(cs).borrow().overruns)
    }
}

#[cfg(not(feature = "mega2560"))]
#[avr_device::interrupt(atmega328p)]
fn USART_RX() {
    take_rx_byte();
}

#[cfg(feature = "mega2560")]
#[avr_device::interrupt(atmega2560)]
fn USART0_RX() {
    take_rx_byte();
}

/// Move a received byte (if any) from UDR0 into the ring. Called from the RX interrupt and,
/// as a fallback, when the driver polls (an emulator that drops the interrupt still works).
fn take_rx_byte() {
    interrupt::free(|cs| {
        // SAFETY: UDR0/UCSR0A are only read here, with interrupts disabled
        let usart = unsafe { &*USART0::ptr() };
        if usart.ucsr0a().read().rxc0().bit_is_clear() {
            return;
        }
        let b = usart.udr0().read().bits();
        let mut r = RX.borrow(cs).borrow_mut();
        if usize::from(r.len) < RX_RING {
            let i = (usize::from(r.head) + usize::from(r.len)) % RX_RING;
            if let Some(slot) = r.buf.get_mut(i) {
                *slot = b;
            }
            r.len += 1;
        } else {
            r.overruns = r.overruns.saturating_add(1);
        }
    });
}

impl embedded_io::ErrorType for Serial {
    type Error = Infallible;
}

impl embedded_io::ReadReady for Serial {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        take_rx_byte();
        Ok(interrupt::free(|cs| RX.borrow(cs).borrow().len > 0))
    }
}

impl embedded_io::Read for Serial {
    fn read(&mut self, out: &mut [u8]) -> Result<usize, Infallible> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            take_rx_byte();
            let n = interrupt::free(|cs| {
                let mut r = RX.borrow(cs).borrow_mut();
                let mut n = 0;
                while r.len > 0 && n < out.len() {
                    if let (Some(dst), Some(src)) = (out.get_mut(n), r.buf.get(usize::from(r.head)))
                    {
                        *dst = *src;
                    }
                    r.head = ((usize::from(r.head) + 1) % RX_RING) as u8;
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
            while self.usart.ucsr0a().read().udre0().bit_is_clear() {}
            self.usart.udr0().write(|w| w.set(b));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// EEPROM (1 KiB) as embedded-storage

/// The on-chip EEPROM.
pub struct Eeprom {
    eeprom: EEPROM,
}

/// Out of the 1 KiB.
#[derive(Debug)]
pub struct OutOfRange;

/// Where the boot counter lives: the last four bytes (the configuration record takes at most
/// the first 320).
const BOOT_COUNTER: u32 = 1020;

impl Eeprom {
    pub fn new(eeprom: EEPROM) -> Self {
        Eeprom { eeprom }
    }

    /// Count this boot, and return the count as its id (`scale_node::Settings::boot_id`): a
    /// counter in the last four bytes, up by one at every reset (1 on a new chip). Different
    /// at every boot of one board, which is what a gateway needs to tell a reboot from a
    /// retry, but not random: boards at the same count agree (their sensor ids tell them
    /// apart, and the node's back-off jitter also takes in the load cell's noise). The
    /// hardware timer adds nothing here: it reads the same at this point of every boot. The
    /// low byte's cell is written at every boot; EEPROM cells last about 100 000 writes.
    pub fn count_boot(&mut self) -> u32 {
        use embedded_storage::{ReadStorage, Storage};
        let mut b = [0u8; 4];
        let _ = ReadStorage::read(self, BOOT_COUNTER, &mut b);
        // erased cells read 0xFF: the first boot is 1
        let n = u32::from_le_bytes(b).wrapping_add(1).max(1);
        let _ = Storage::write(self, BOOT_COUNTER, &n.to_le_bytes());
        n
    }

    fn wait(&self) {
        while self.eeprom.eecr().read().eepe().bit_is_set() {}
    }
}

impl embedded_storage::ReadStorage for Eeprom {
    type Error = OutOfRange;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), OutOfRange> {
        if offset as usize + bytes.len() > 1024 {
            return Err(OutOfRange);
        }
        for (i, b) in bytes.iter_mut().enumerate() {
            self.wait();
            self.eeprom
                .eear()
                .write(|w| unsafe { w.bits(offset as u16 + i as u16) });
            self.eeprom.eecr().write(|w| w.eere().set_bit());
            *b = self.eeprom.eedr().read().bits();
        }
        Ok(())
    }
    fn capacity(&self) -> usize {
        1024
    }
}

impl embedded_storage::Storage for Eeprom {
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), OutOfRange> {
        if offset as usize + bytes.len() > 1024 {
            return Err(OutOfRange);
        }
        for (i, &b) in bytes.iter().enumerate() {
            self.wait();
            let addr = offset as u16 + i as u16;
            self.eeprom.eear().write(|w| unsafe { w.bits(addr) });
            // skip unchanged cells: EEPROM endurance is 100 000 writes
            self.eeprom.eecr().write(|w| w.eere().set_bit());
            if self.eeprom.eedr().read().bits() == b {
                continue;
            }
            self.eeprom.eedr().write(|w| unsafe { w.bits(b) });
            // EEMPE then EEPE within four cycles, without an interrupt in between
            interrupt::free(|_| {
                self.eeprom.eecr().write(|w| w.eempe().set_bit());
                self.eeprom.eecr().modify(|_, w| w.eepe().set_bit());
            });
        }
        self.wait();
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Stack measurement: the free RAM is painted at boot; the deepest the stack reached is where
// the paint ends.

const PAINT: u8 = 0xA5;
/// First byte of RAM.
#[cfg(not(feature = "mega2560"))]
pub const RAM_START: usize = 0x0100;
#[cfg(feature = "mega2560")]
pub const RAM_START: usize = 0x0200;
/// Last byte of RAM.
#[cfg(not(feature = "mega2560"))]
pub const RAM_END: usize = 0x08FF;
#[cfg(feature = "mega2560")]
pub const RAM_END: usize = 0x21FF;

unsafe extern "C" {
    /// End of .data/.bss, from avr-libc's linker script.
    static __heap_start: u8;
}

/// Fill the RAM between the end of the statics and (just below) the current stack with a
/// pattern. Call first thing in `main`.
#[inline(never)]
pub fn paint_stack() {
    let marker = 0u8;
    let sp = core::ptr::addr_of!(marker) as usize;
    // SAFETY: the region between the statics and the live stack is unused at this point
    unsafe {
        let mut p = core::ptr::addr_of!(__heap_start) as usize;
        while p + 48 < sp {
            core::ptr::write_volatile(p as *mut u8, PAINT);
            p += 1;
        }
    }
}

/// Bytes of stack used at the deepest point since [`paint_stack`].
#[inline(never)]
pub fn peak_stack() -> usize {
    // SAFETY: reads of painted RAM below the live stack
    unsafe {
        let mut p = core::ptr::addr_of!(__heap_start) as usize;
        while p < RAM_END && core::ptr::read_volatile(p as *const u8) == PAINT {
            p += 1;
        }
        RAM_END + 1 - p
    }
}

/// Bytes of statics (.data and .bss).
pub fn statics() -> usize {
    // only the address of the linker symbol is taken
    core::ptr::addr_of!(__heap_start) as usize - RAM_START
}

/// A test port for firmware in the loop (feature `stack-report`): two little-endian 16-bit
/// words, the peak stack and the statics. On the Uno the SPI master on D10-D13 sends them; on
/// the Mega, whose SPI pins are the HX711's, USART1 (TX1, pin 18) at 115 200 baud.
/// What a [`StackReport`] sends: the peak stack and the statics, 16-bit little-endian each.
#[cfg(feature = "stack-report")]
fn report_bytes() -> [u8; 4] {
    let (stack, statics) = (peak_stack() as u16, statics() as u16);
    let ([s0, s1], [t0, t1]) = (stack.to_le_bytes(), statics.to_le_bytes());
    [s0, s1, t0, t1]
}

#[cfg(all(feature = "stack-report", not(feature = "mega2560")))]
pub struct StackReport(mcu::SPI);

#[cfg(all(feature = "stack-report", not(feature = "mega2560")))]
impl StackReport {
    /// Master mode, clock / 4; SS (D10), MOSI (D11) and SCK (D13) as outputs.
    pub fn new(spi: mcu::SPI) -> Self {
        let _ss = PortB::<2>::into_output();
        let _mosi = PortB::<3>::into_output();
        let _sck = PortB::<5>::into_output();
        spi.spcr().write(|w| w.spe().set_bit().mstr().set_bit());
        StackReport(spi)
    }

    /// Send the peak stack and the statics.
    pub fn send(&mut self) {
        for b in report_bytes() {
            // SAFETY: any byte is a valid SPDR value
            self.0.spdr().write(|w| unsafe { w.bits(b) });
            while self.0.spsr().read().spif().bit_is_clear() {}
        }
    }
}

#[cfg(all(feature = "stack-report", feature = "mega2560"))]
pub struct StackReport(mcu::USART1);

#[cfg(all(feature = "stack-report", feature = "mega2560"))]
impl StackReport {
    /// Transmitter only, 115 200 baud with U2X, 8N1.
    pub fn new(usart: mcu::USART1) -> Self {
        usart.ubrr1().write(|w| w.set(16));
        usart.ucsr1a().write(|w| w.u2x1().set_bit());
        usart.ucsr1c().write(|w| w.ucsz1().chr8());
        usart.ucsr1b().write(|w| w.txen1().set_bit());
        StackReport(usart)
    }

    /// Send the peak stack and the statics.
    pub fn send(&mut self) {
        for b in report_bytes() {
            while self.0.ucsr1a().read().udre1().bit_is_clear() {}
            self.0.udr1().write(|w| w.set(b));
        }
    }
}
