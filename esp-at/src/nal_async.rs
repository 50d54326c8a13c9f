//! `embedded-nal-async` 0.9 over the async driver (feature `nal-async`): `TcpConnect`, `Dns`
//! and `UdpStack` (connected sockets), so async MQTT, HTTP, CoAP and NTP clients run on an
//! ESP8266.
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
use embedded_nal_async::{AddrType, ConnectedUdp, Dns, TcpConnect, UdpStack, UnconnectedUdp};

use crate::asynch::EspAt;
use crate::command::CmdError;
use crate::command::tcpip::Transport;
use crate::core::Link;
use crate::error::Error;
use crate::nal_common::host_of;

/// The async driver, shareable between connections.
pub struct SharedEspAt<T, D, P = crate::NoPin, const RX: usize = 512> {
    inner: Mutex<NoopRawMutex, EspAt<T, D, P, RX>>,
}

/// The driver's state when it is not locked by a connection, else `<locked>`.
impl<T, D, P, const RX: usize> core::fmt::Debug for SharedEspAt<T, D, P, RX> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.inner.try_lock() {
            Ok(esp) => f.debug_tuple("SharedEspAt").field(&*esp).finish(),
            Err(_) => f.write_str("SharedEspAt(<locked>)"),
        }
    }
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

/// A link of the shared driver, closed (before the driver's next command) when dropped.
struct SharedLink<'a, T, D, P, const RX: usize> {
    stack: &'a SharedEspAt<T, D, P, RX>,
    link: Link,
}

impl<T, D, P, const RX: usize> Drop for SharedLink<'_, T, D, P, RX> {
    fn drop(&mut self) {
        if let Ok(mut esp) = self.stack.inner.try_lock() {
            esp.request_close(self.link);
        }
    }
}

impl<T, D, P, const RX: usize> SharedLink<'_, T, D, P, RX>
where
    T: Read + Write,
    T::Error: core::fmt::Debug,
    D: DelayNs,
    P: OutputPin,
{
    /// Wait until data arrives (`buf` empty: `Ok(0)` at once).
    async fn recv(&self, buf: &mut [u8]) -> Result<usize, Error<T::Error>> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let mut esp = self.stack.inner.lock().await;
            let n = esp.recv(self.link, buf).await?;
            if n > 0 {
                return Ok(n);
            }
            // nothing yet: listen to the modem for a moment, then let others have the driver
            esp.listen(10).await?;
        }
    }

    async fn send(&self, data: &[u8]) -> Result<(), Error<T::Error>> {
        self.stack.inner.lock().await.send(self.link, data).await
    }
}

/// A TCP connection through the modem.
pub struct Connection<'a, T, D, P, const RX: usize>(SharedLink<'a, T, D, P, RX>);

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
        match self.0.recv(buf).await {
            Err(Error::LinkClosed) => Ok(0),
            r => r,
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
        self.0.send(buf.get(..n).unwrap_or(&[])).await?;
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
        let mut buf = [0u8; 15];
        let host = host_of(remote, &mut buf)?;
        let link = self
            .inner
            .lock()
            .await
            .connect(Transport::Tcp, host, remote.port())
            .await?;
        Ok(Connection(SharedLink { stack: self, link }))
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
        Ok(IpAddr::V4(ip))
    }

    async fn get_host_by_address(
        &self,
        _addr: IpAddr,
        _result: &mut [u8],
    ) -> Result<usize, Self::Error> {
        Err(Error::Command(CmdError::Unsupported))
    }
}

/// A UDP socket with a fixed remote address, through the modem (`AT+CIPSTART=<id>,"UDP",...`).
/// Datagrams keep the boundaries the modem keeps in passive receive mode.
pub struct UdpConnection<'a, T, D, P, const RX: usize>(SharedLink<'a, T, D, P, RX>);

impl<T, D, P, const RX: usize> ConnectedUdp for UdpConnection<'_, T, D, P, RX>
where
    T: Read + Write,
    T::Error: core::fmt::Debug,
    D: DelayNs,
    P: OutputPin,
{
    type Error = Error<T::Error>;

    /// One datagram; longer than one `AT+CIPSEND` (2048 bytes) is `TooLong`, never split.
    async fn send(&mut self, data: &[u8]) -> Result<(), Self::Error> {
        if data.len() > crate::client::MAX_SEND {
            return Err(Error::Command(CmdError::TooLong));
        }
        self.0.send(data).await
    }

    /// Waits until data arrives.
    async fn receive_into(&mut self, buffer: &mut [u8]) -> Result<usize, Self::Error> {
        self.0.recv(buffer).await
    }
}

/// The unbound kinds of socket ([`UdpStack::bind_single`], [`UdpStack::bind_multiple`]) are
/// not offered (their calls answer `Unsupported`); this type only names them and has no values.
pub struct NoUnconnectedUdp<E> {
    never: core::convert::Infallible,
    _error: core::marker::PhantomData<E>,
}

impl<E: core::fmt::Debug> UnconnectedUdp for NoUnconnectedUdp<E> {
    type Error = Error<E>;

    async fn send(&mut self, _: SocketAddr, _: SocketAddr, _: &[u8]) -> Result<(), Error<E>> {
        match self.never {}
    }

    async fn receive_into(
        &mut self,
        _: &mut [u8],
    ) -> Result<(usize, SocketAddr, SocketAddr), Error<E>> {
        match self.never {}
    }
}

impl<'a, T, D, P, const RX: usize> UdpStack for &'a SharedEspAt<T, D, P, RX>
where
    T: Read + Write,
    T::Error: core::fmt::Debug,
    D: DelayNs,
    P: OutputPin,
{
    type Error = Error<T::Error>;
    type Connected = UdpConnection<'a, T, D, P, RX>;
    type UniquelyBound = NoUnconnectedUdp<T::Error>;
    type MultiplyBound = NoUnconnectedUdp<T::Error>;

    /// The local address is the modem's (`AT+CIFSR`) with port 0: the modem picks the port.
    async fn connect_from(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<(SocketAddr, Self::Connected), Self::Error> {
        if !local.is_ipv4() || local.port() != 0 {
            // IPv4 only, and the modem picks the local port of a connected UDP link
            return Err(Error::Command(CmdError::Unsupported));
        }
        let mut buf = [0u8; 15];
        let host = host_of(remote, &mut buf)?;
        let mut esp = self.inner.lock().await;
        let link = esp.connect(Transport::Udp, host, remote.port()).await?;
        let me = esp
            .local_ip()
            .await
            .map_or(Ipv4Addr::UNSPECIFIED, Ipv4Addr::from);
        drop(esp);
        Ok((
            SocketAddr::new(IpAddr::V4(me), 0),
            UdpConnection(SharedLink { stack: self, link }),
        ))
    }

    async fn bind_single(
        &self,
        _local: SocketAddr,
    ) -> Result<(SocketAddr, Self::UniquelyBound), Self::Error> {
        Err(Error::Command(CmdError::Unsupported))
    }

    async fn bind_multiple(&self, _local: SocketAddr) -> Result<Self::MultiplyBound, Self::Error> {
        Err(Error::Command(CmdError::Unsupported))
    }
}
