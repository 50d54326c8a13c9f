//! `embedded-nal-async` 0.9 over the async driver (feature `nal-async`): `TcpConnect` and
//! `Dns`, so async MQTT and HTTP clients run on an ESP8266.
//!
//! The traits take `&self`, so the driver sits behind an async mutex ([`SharedEspAt`]); each
//! connection locks it for one operation at a time. Dropping a connection asks the driver to
//! close the link, which it does before its next command.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::mutex::Mutex;
use embedded_hal::digital::OutputPin;
use embedded_hal_async::delay::DelayNs;
use embedded_io_async::{Read, Write};
use embedded_nal_async::{AddrType, Dns, TcpConnect};

use crate::asynch::EspAt;
use crate::command::CmdError;
use crate::command::tcpip::Transport;
use crate::core::Link;
use crate::error::Error;
use crate::nal_common::dotted;

/// The async driver, shareable between connections.
pub struct SharedEspAt<T, D, P = crate::NoPin, const RX: usize = 512> {
    inner: Mutex<NoopRawMutex, EspAt<T, D, P, RX>>,
}

impl<T, D, P, const RX: usize> SharedEspAt<T, D, P, RX> {
    /// Share a driver.
    pub fn new(esp: EspAt<T, D, P, RX>) -> Self {
        SharedEspAt {
            inner: Mutex::new(esp),
        }
    }

    /// The driver, locked.
    pub async fn lock(
        &self,
    ) -> embassy_sync::mutex::MutexGuard<'_, NoopRawMutex, EspAt<T, D, P, RX>> {
        self.inner.lock().await
    }

    /// Give the driver back.
    pub fn into_inner(self) -> EspAt<T, D, P, RX> {
        self.inner.into_inner()
    }
}

/// A TCP connection through the modem.
pub struct Connection<'a, T, D, P, const RX: usize> {
    stack: &'a SharedEspAt<T, D, P, RX>,
    link: Link,
}

impl<T, D, P, const RX: usize> Drop for Connection<'_, T, D, P, RX> {
    fn drop(&mut self) {
        if let Ok(mut esp) = self.stack.inner.try_lock() {
            esp.request_close(self.link);
        }
    }
}

impl<T, D, P, const RX: usize> embedded_io_async::ErrorType for Connection<'_, T, D, P, RX>
where
    T: Read + Write,
    T::Error: core::fmt::Debug,
{
    type Error = Error<T::Error>;
}

impl<T, D, P, const RX: usize> Read for Connection<'_, T, D, P, RX>
where
    T: Read + Write,
    T::Error: core::fmt::Debug,
    D: DelayNs,
    P: OutputPin,
{
    /// Waits until data arrives; `Ok(0)` once the peer closed and everything was read.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let mut esp = self.stack.inner.lock().await;
            match esp.recv(self.link, buf).await {
                Ok(0) => {}
                Ok(n) => return Ok(n),
                Err(Error::LinkClosed) => return Ok(0),
                Err(e) => return Err(e),
            }
            // nothing yet: listen to the modem for a moment, then let others have the driver
            esp.listen(10).await?;
        }
    }
}

impl<T, D, P, const RX: usize> Write for Connection<'_, T, D, P, RX>
where
    T: Read + Write,
    T::Error: core::fmt::Debug,
    D: DelayNs,
    P: OutputPin,
{
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(crate::client::MAX_SEND);
        let mut esp = self.stack.inner.lock().await;
        esp.send(self.link, buf.get(..n).unwrap_or(&[])).await?;
        Ok(n)
    }

    /// Every write already waited for `SEND OK`.
    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl<T, D, P, const RX: usize> TcpConnect for SharedEspAt<T, D, P, RX>
where
    T: Read + Write,
    T::Error: core::fmt::Debug,
    D: DelayNs,
    P: OutputPin,
{
    type Error = Error<T::Error>;
    type Connection<'a>
        = Connection<'a, T, D, P, RX>
    where
        Self: 'a;

    async fn connect<'a>(
        &'a self,
        remote: SocketAddr,
    ) -> Result<Self::Connection<'a>, Self::Error> {
        let IpAddr::V4(ip) = remote.ip() else {
            return Err(Error::Command(CmdError::Unsupported));
        };
        let mut buf = [0u8; 15];
        let host = dotted(ip, &mut buf);
        let link = self
            .inner
            .lock()
            .await
            .connect(Transport::Tcp, host, remote.port())
            .await?;
        Ok(Connection { stack: self, link })
    }
}

impl<T, D, P, const RX: usize> Dns for SharedEspAt<T, D, P, RX>
where
    T: Read + Write,
    T::Error: core::fmt::Debug,
    D: DelayNs,
    P: OutputPin,
{
    type Error = Error<T::Error>;

    async fn get_host_by_name(
        &self,
        host: &str,
        addr_type: AddrType,
    ) -> Result<IpAddr, Self::Error> {
        if addr_type == AddrType::IPv6 {
            return Err(Error::Command(CmdError::Unsupported));
        }
        let ip = self.inner.lock().await.resolve(host).await?;
        Ok(IpAddr::V4(Ipv4Addr::from(ip)))
    }

    async fn get_host_by_address(
        &self,
        _addr: IpAddr,
        _result: &mut [u8],
    ) -> Result<usize, Self::Error> {
        Err(Error::Command(CmdError::Unsupported))
    }
}
