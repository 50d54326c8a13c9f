//! The async front end over `embedded_io_async` `Read + Write`, with an async delay for
//! deadlines. The same operations as the blocking front end, from the same source.
//!
//! A read is raced against the deadline and dropped when the deadline wins: use a UART whose
//! `read` is cancel-safe (embassy's buffered UARTs are).

use embassy_futures::select::{Either, select};
use embedded_hal::digital::OutputPin;
use embedded_hal_async::delay::DelayNs;
use embedded_io_async::{Read, Write};

use crate::client::{Config, NoPin, Pending, operations};
use crate::command::wifi::WifiMode;
use crate::command::{
    Basic, Command, Enc, MAX_COMMAND_LEN, SliceSink, TcpIp, Wifi, encode_with, tcpip::Transport,
};
use crate::core::{Core, Final, Link, Stats, Step, Txn, WifiState};
use crate::dialect::{Capabilities, Version};
use crate::error::Error;
use core::net::Ipv4Addr;

/// The async driver: the blocking one's operations as `async fn`s, over
/// `embedded_io_async::{Read, Write}` and `embedded_hal_async::delay::DelayNs`. `RX` is the
/// receive buffer (default 512 bytes).
///
/// ```
/// use esp_at::asynch::EspAt;
/// use esp_at::sim::{SimConfig, SimModem, StdDelay};
/// use esp_at::{Config, Transport};
/// use std::io::Read;
///
/// let modem = SimModem::new(SimConfig::default().with_network("home", "password1"));
/// let mut esp = EspAt::new(modem, StdDelay, Config::default());
/// let gateway = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let port = gateway.local_addr()?.port();
/// // any executor; here embassy-futures' `block_on` (a dev-dependency: embassy-futures = "0.1")
/// embassy_futures::block_on(async {
///     esp.join("home", "password1").await?;
///     let link = esp.connect(Transport::Tcp, "127.0.0.1", port).await?;
///     esp.send(link, b"hello\r\n").await?;
///     esp.close(link).await
/// })?;
/// let (mut peer, _) = gateway.accept()?;
/// let mut line = [0u8; 7];
/// peer.read_exact(&mut line)?;
/// assert_eq!(&line, b"hello\r\n");
/// assert!(format!("{esp:?}").starts_with("EspAt {"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
// `repr(C)`: the receive buffer (in `core`) last, see `Core`
#[repr(C)]
pub struct EspAt<T, D, P = NoPin, const RX: usize = 512> {
    /// UART time of one byte at `config.baud` (10 bits), µs.
    us_per_byte: u32,
    config: Config,
    io: T,
    delay: D,
    reset: P,
    core: Core<RX>,
}

crate::client::driver_debug!();

impl<T, D, P, const RX: usize> EspAt<T, D, P, RX> {
    crate::client::accessors!();

    /// Ask for a link to be closed before the next command (for a handle dropped where no
    /// command can be sent, such as in `Drop`).
    pub fn request_close(&mut self, link: Link) {
        self.core.request_close(link);
    }
}

impl<T, D> EspAt<T, D> {
    /// A driver over a UART and a delay, with the default 512-byte receive buffer. Sends
    /// nothing until the first call. The UART must implement `embedded_io_async::{Read, Write}` for the
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
    T: Read + Write,
    D: DelayNs,
    P: OutputPin,
{
    /// The driver's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Pulse the reset line, wait for `ready`, re-initialise.
    pub async fn hard_reset(&mut self) -> Result<Version, Error<T::Error>> {
        self.reset.set_low().map_err(|_| Error::ResetPin)?;
        self.delay.delay_ms(20).await;
        self.core.clear_rx();
        self.reset.set_high().map_err(|_| Error::ResetPin)?;
        let mut txn = Txn::new(Final::Ready);
        let t = self.config.reset_timeout_ms;
        self.wait(&mut txn, t).await?;
        self.init().await
    }

    async fn send_command(&mut self, cmd: Enc<'_>) -> Result<(), Error<T::Error>> {
        let mut buf = [0u8; MAX_COMMAND_LEN];
        let n = encode_with(cmd, &self.core.caps, &mut SliceSink::new(&mut buf))?;
        crate::log::trace_tx!(buf.get(..n).unwrap_or(&[]));
        self.io
            .write_all(buf.get(..n).unwrap_or(&[]))
            .await
            .map_err(Error::Io)?;
        self.io.flush().await.map_err(Error::Io)
    }

    async fn write_data(&mut self, data: &[u8]) -> Result<(), Error<T::Error>> {
        crate::log::trace_data!(data.len());
        self.io.write_all(data).await.map_err(Error::Io)?;
        self.io.flush().await.map_err(Error::Io)
    }

    async fn wait(&mut self, txn: &mut Txn<'_>, timeout_ms: u32) -> Result<(), Error<T::Error>> {
        if timeout_ms == 0 && txn.done_on == Final::Never {
            // take what has arrived, without waiting for more
            loop {
                if let Step::Done(r) = self.core.step::<T::Error>(txn) {
                    return r;
                }
                let space = self.core.free_space();
                if space.is_empty() {
                    return Ok(());
                }
                match embassy_futures::poll_once(self.io.read(space)) {
                    core::task::Poll::Ready(r) => {
                        let n = r.map_err(Error::Io)?;
                        if n == 0 {
                            return Ok(());
                        }
                        self.core.advance(n);
                    }
                    core::task::Poll::Pending => return Ok(()),
                }
            }
        }
        let budget_us = u64::from(timeout_ms.max(1)) * 1_000;
        let mut spent: u64 = 0;
        loop {
            if let Step::Done(r) = self.core.step::<T::Error>(txn) {
                return r;
            }
            if spent >= budget_us {
                return if txn.done_on == Final::Never {
                    Ok(())
                } else {
                    Err(Error::Timeout)
                };
            }
            let left = (budget_us - spent).min(u64::from(u32::MAX)) as u32;
            let space = self.core.free_space();
            match select(self.io.read(space), self.delay.delay_us(left)).await {
                Either::First(r) => {
                    let n = r.map_err(Error::Io)?;
                    self.core.advance(n);
                    // at least one poll interval per read, so a stream of bytes cannot stall the clock
                    spent += (n as u64 * u64::from(self.us_per_byte))
                        .max(u64::from(self.config.poll_us.max(1)));
                }
                Either::Second(()) => spent = budget_us,
            }
        }
    }

    operations!(async; .await);
}
