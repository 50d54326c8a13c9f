//! The blocking front end over `embedded_io` `Read + Write + ReadReady`.
//!
//! Every call has a deadline. Time is accounted from the driver's own idle waits plus the
//! transmission time of the bytes received at the configured baud rate, so a silent modem
//! times out and a babbling one cannot keep a call alive forever.

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;
use embedded_io::{Read, ReadReady, Write};

use crate::client::{Config, NoPin, Pending, operations};
use crate::command::wifi::WifiMode;
use crate::command::{
    Basic, CmdError, Command, Counter, Enc, Sink, TcpIp, Wifi, encode_with, tcpip::Transport,
};
use crate::core::{Core, Final, Link, Stats, Step, Txn, WifiState};
use crate::dialect::{Capabilities, Version};
use crate::error::Error;
use core::net::Ipv4Addr;

/// The driver. `RX` is the receive buffer (default 256 bytes: the longest AT line plus
/// headroom; 128 fits an Arduino Uno when payload reads are kept small).
///
/// The UART is any `embedded_io::{Read, Write, ReadReady}` (for an `embedded-hal-nb` serial
/// port, the `nb-uart` feature's `NbUart`); the delay any `embedded_hal::delay::DelayNs`.
///
/// ```
/// use esp_at::sim::{SimConfig, SimModem, StdDelay};
/// use esp_at::{Config, EspAt, Version};
///
/// let modem = SimModem::new(
///     SimConfig::default()
///         .with_firmware(Version::new(1, 7, 4))
///         .with_network("home", "password1"),
/// );
/// let mut esp = EspAt::new(modem, StdDelay, Config::default());
/// assert_eq!(esp.init()?, Version::new(1, 7, 4));
/// esp.join("home", "password1")?;
/// assert!(esp.wifi_state().got_ip);
/// assert_eq!(esp.local_ip()?, core::net::Ipv4Addr::new(192, 168, 1, 50));
/// assert_eq!(esp.stats().reboots, 0); // the power-up `ready` is not a reboot
/// // the driver's state, without asking `Debug` of the UART
/// assert!(format!("{esp:?}").starts_with("EspAt { config: Config { baud: 115200"));
/// let (_modem, _delay, _no_reset_pin) = esp.release();
/// # Ok::<(), esp_at::Error<core::convert::Infallible>>(())
/// ```
// `repr(C)`: the receive buffer (in `core`) last, see `Core`
#[repr(C)]
pub struct EspAt<T, D, P = NoPin, const RX: usize = 256> {
    /// UART time of one byte at `config.baud` (10 bits), µs.
    us_per_byte: u32,
    config: Config,
    io: T,
    delay: D,
    reset: P,
    core: Core<RX>,
}

crate::client::driver_debug!();

struct UartSink<'a, T: Write> {
    io: &'a mut T,
    err: Option<T::Error>,
}

impl<T: Write> Sink for UartSink<'_, T> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), CmdError> {
        self.io.write_all(bytes).map_err(|e| {
            self.err = Some(e);
            CmdError::TooLong
        })
    }
}

impl<T, D> EspAt<T, D> {
    /// A driver over a UART and a delay, with the default 256-byte receive buffer. Sends
    /// nothing until the first call. The UART must implement `embedded_io::{Read, Write, ReadReady}` for the
    /// driver's operations; constructing and the getters need nothing.
    pub fn new(io: T, delay: D, config: Config) -> Self {
        EspAt::with_reset_pin(io, delay, NoPin, config)
    }
}

impl<T, D, const RX: usize> EspAt<T, D, NoPin, RX> {
    /// [`new`](EspAt::new) with an `RX`-byte receive buffer, e.g.
    /// `EspAt::<_, _, NoPin, 128>::with_buffer(uart, delay, config)` on an 8-bit MCU.
    pub fn with_buffer(io: T, delay: D, config: Config) -> Self {
        EspAt::with_reset_pin(io, delay, NoPin, config)
    }
}

impl<T, D, P, const RX: usize> EspAt<T, D, P, RX>
where
    T: Read + Write + ReadReady,
    D: DelayNs,
    P: OutputPin,
{
    /// Hold the reset line low for 20 ms, release it, wait for `ready`, then
    /// [`init`](Self::init). The way out when the module stops answering.
    pub fn hard_reset(&mut self) -> Result<Version, Error<T::Error>> {
        self.reset.set_low().map_err(|_| Error::ResetPin)?;
        self.delay.delay_ms(20);
        self.core.clear_rx();
        self.reset.set_high().map_err(|_| Error::ResetPin)?;
        let mut txn = Txn::new(Final::Ready);
        let t = self.config.reset_timeout_ms;
        self.wait(&mut txn, t)?;
        self.init()
    }

    fn send_command(&mut self, cmd: Enc<'_>) -> Result<(), Error<T::Error>> {
        // validate completely before the first byte goes out
        encode_with(cmd, &self.core.caps, &mut Counter::default())?;
        #[cfg(any(feature = "log", feature = "defmt"))]
        {
            let mut text = [0u8; crate::command::MAX_COMMAND_LEN];
            let mut s = crate::command::SliceSink::new(&mut text);
            if let Ok(n) = encode_with(cmd, &self.core.caps, &mut s) {
                crate::log::trace_tx!(text.get(..n).unwrap_or(&[]));
            }
        }
        let mut sink = UartSink {
            io: &mut self.io,
            err: None,
        };
        let r = encode_with(cmd, &self.core.caps, &mut sink);
        if let Some(e) = sink.err {
            return Err(Error::Io(e));
        }
        r?;
        self.io.flush().map_err(Error::Io)
    }

    fn write_data(&mut self, data: &[u8]) -> Result<(), Error<T::Error>> {
        crate::log::trace_data!(data.len());
        self.io.write_all(data).map_err(Error::Io)?;
        self.io.flush().map_err(Error::Io)
    }

    /// Process events until `txn` completes or `timeout_ms` passes. With `Final::Never`,
    /// returns `Ok` once the UART has been drained and the time is up.
    fn wait(&mut self, txn: &mut Txn<'_>, timeout_ms: u32) -> Result<(), Error<T::Error>> {
        // 32-bit microseconds (a deadline of up to 71 minutes): no 64-bit arithmetic on AVR
        // (compared, not a checked multiplication: that costs an AVR a 64-bit product)
        let budget_us = if timeout_ms > u32::MAX / 1_000 {
            u32::MAX
        } else {
            timeout_ms * 1_000
        };
        let mut spent: u32 = 0;
        loop {
            if let Step::Done(r) = self.core.step::<T::Error>(txn) {
                return r;
            }
            if self.io.read_ready().map_err(Error::Io)? {
                let n = self.io.read(self.core.free_space()).map_err(Error::Io)?;
                self.core.advance(n);
                // both factors below 2^16: the product fits 32 bits
                let n16 = n.min(0xFFFF) as u32;
                spent = spent.saturating_add(n16 * self.us_per_byte.min(0xFFFF));
                if spent < budget_us || n > 0 {
                    continue;
                }
            }
            if spent >= budget_us {
                return if txn.done_on == Final::Never {
                    Ok(())
                } else {
                    Err(Error::Timeout)
                };
            }
            let step = self.config.poll_us.max(1);
            self.delay.delay_us(step);
            spent = spent.saturating_add(step);
        }
    }

    operations!(;);
}

impl<T, D, P, const RX: usize> EspAt<T, D, P, RX> {
    crate::client::accessors!();

    /// The driver's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Ask for a link to be closed before the next command (for a handle dropped where no
    /// command can be sent, such as in `Drop`).
    pub fn request_close(&mut self, link: Link) {
        self.core.request_close(link);
    }
}
