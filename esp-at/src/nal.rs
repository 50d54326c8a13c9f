//! `embedded-nal` 0.9: TCP and UDP client stacks and DNS over the modem (feature `nal`), so MQTT,
//! HTTP, NTP or CoAP client crates written against those traits run on an ESP8266.

use core::net::{IpAddr, SocketAddr};

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;
use embedded_io::{Read, ReadReady, Write};
use embedded_nal::{AddrType, Dns, TcpClientStack, TcpError, TcpErrorKind, UdpClientStack};

use crate::blocking::EspAt;
use crate::command::CmdError;
use crate::command::tcpip::Transport;
use crate::core::Link;
use crate::error::Error;

impl<E: core::fmt::Debug> TcpError for Error<E> {
    fn kind(&self) -> TcpErrorKind {
        match self {
            Error::LinkClosed | Error::Rebooted => TcpErrorKind::PipeClosed,
            _ => TcpErrorKind::Other,
        }
    }
}

/// A TCP socket of the modem: unconnected until `connect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NalSocket {
    link: Option<Link>,
}

use crate::nal_common::host_of;

impl<T, D, P, const RX: usize> EspAt<T, D, P, RX>
where
    T: Read + Write + ReadReady,
    D: DelayNs,
    P: OutputPin,
    T::Error: core::fmt::Debug,
{
    /// Close a socket's previous link, if any, and open one to `remote` (IPv4 only: the modem
    /// takes dotted addresses).
    fn reopen(
        &mut self,
        old: Option<Link>,
        transport: Transport,
        remote: SocketAddr,
    ) -> Result<Link, Error<T::Error>> {
        let mut buf = [0u8; 15];
        let host = host_of(remote, &mut buf)?;
        if let Some(old) = old {
            EspAt::close(self, old)?;
        }
        EspAt::connect(self, transport, host, remote.port())
    }
}

impl<T, D, P, const RX: usize> TcpClientStack for EspAt<T, D, P, RX>
where
    T: Read + Write + ReadReady,
    D: DelayNs,
    P: OutputPin,
    T::Error: core::fmt::Debug,
{
    type TcpSocket = NalSocket;
    type Error = Error<T::Error>;

    fn socket(&mut self) -> Result<NalSocket, Self::Error> {
        Ok(NalSocket::default())
    }

    fn connect(
        &mut self,
        socket: &mut NalSocket,
        remote: SocketAddr,
    ) -> nb::Result<(), Self::Error> {
        socket.link = Some(
            self.reopen(socket.link.take(), Transport::Tcp, remote)
                .map_err(nb::Error::Other)?,
        );
        Ok(())
    }

    fn send(&mut self, socket: &mut NalSocket, buffer: &[u8]) -> nb::Result<usize, Self::Error> {
        let link = socket.link.ok_or(nb::Error::Other(Error::LinkClosed))?;
        let n = buffer.len().min(crate::client::MAX_SEND);
        EspAt::send(self, link, buffer.get(..n).unwrap_or(&[])).map_err(nb::Error::Other)?;
        Ok(n)
    }

    fn receive(
        &mut self,
        socket: &mut NalSocket,
        buffer: &mut [u8],
    ) -> nb::Result<usize, Self::Error> {
        let link = socket.link.ok_or(nb::Error::Other(Error::LinkClosed))?;
        match EspAt::recv(self, link, buffer) {
            Ok(0) if !buffer.is_empty() => Err(nb::Error::WouldBlock),
            Ok(n) => Ok(n),
            Err(e) => Err(nb::Error::Other(e)),
        }
    }

    fn close(&mut self, socket: NalSocket) -> Result<(), Self::Error> {
        match socket.link {
            Some(link) => EspAt::close(self, link),
            None => Ok(()),
        }
    }
}

impl<T, D, P, const RX: usize> Dns for EspAt<T, D, P, RX>
where
    T: Read + Write + ReadReady,
    D: DelayNs,
    P: OutputPin,
    T::Error: core::fmt::Debug,
{
    type Error = Error<T::Error>;

    fn get_host_by_name(
        &mut self,
        hostname: &str,
        addr_type: AddrType,
    ) -> nb::Result<IpAddr, Self::Error> {
        if addr_type == AddrType::IPv6 {
            return Err(nb::Error::Other(Error::Command(CmdError::Unsupported)));
        }
        let ip = self.resolve(hostname).map_err(nb::Error::Other)?;
        Ok(IpAddr::V4(ip))
    }

    fn get_host_by_address(
        &mut self,
        _addr: IpAddr,
        _result: &mut [u8],
    ) -> nb::Result<usize, Self::Error> {
        Err(nb::Error::Other(Error::Command(CmdError::Unsupported)))
    }
}

/// A UDP socket of the modem (a UDP link with a fixed remote).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NalUdpSocket {
    link: Option<Link>,
    remote: Option<SocketAddr>,
}

impl<T, D, P, const RX: usize> UdpClientStack for EspAt<T, D, P, RX>
where
    T: Read + Write + ReadReady,
    D: DelayNs,
    P: OutputPin,
    T::Error: core::fmt::Debug,
{
    type UdpSocket = NalUdpSocket;
    type Error = Error<T::Error>;

    fn socket(&mut self) -> Result<NalUdpSocket, Self::Error> {
        Ok(NalUdpSocket::default())
    }

    fn connect(
        &mut self,
        socket: &mut NalUdpSocket,
        remote: SocketAddr,
    ) -> Result<(), Self::Error> {
        socket.link = Some(self.reopen(socket.link.take(), Transport::Udp, remote)?);
        socket.remote = Some(remote);
        Ok(())
    }

    fn send(&mut self, socket: &mut NalUdpSocket, buffer: &[u8]) -> nb::Result<(), Self::Error> {
        let link = socket.link.ok_or(nb::Error::Other(Error::LinkClosed))?;
        if buffer.len() > crate::client::MAX_SEND {
            // a datagram cannot be split
            return Err(nb::Error::Other(Error::Command(CmdError::TooLong)));
        }
        EspAt::send(self, link, buffer).map_err(nb::Error::Other)
    }

    fn receive(
        &mut self,
        socket: &mut NalUdpSocket,
        buffer: &mut [u8],
    ) -> nb::Result<(usize, SocketAddr), Self::Error> {
        let (Some(link), Some(remote)) = (socket.link, socket.remote) else {
            return Err(nb::Error::Other(Error::LinkClosed));
        };
        match EspAt::recv(self, link, buffer) {
            Ok(0) => Err(nb::Error::WouldBlock),
            Ok(n) => Ok((n, remote)),
            Err(e) => Err(nb::Error::Other(e)),
        }
    }

    fn close(&mut self, socket: NalUdpSocket) -> Result<(), Self::Error> {
        match socket.link {
            Some(link) => EspAt::close(self, link),
            None => Ok(()),
        }
    }
}
