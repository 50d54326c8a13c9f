//! `embedded-nal` 0.9: a TCP client stack and DNS over the modem (feature `nal`), so MQTT and
//! HTTP client crates written against those traits run on an ESP8266.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;
use embedded_io::{Read, ReadReady, Write};
use embedded_nal::{AddrType, Dns, TcpClientStack, TcpError, TcpErrorKind};

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

/// "a.b.c.d" in a stack buffer.
fn dotted(ip: Ipv4Addr, buf: &mut [u8; 15]) -> &str {
    let mut n = 0;
    for (i, o) in ip.octets().iter().enumerate() {
        if i > 0 {
            if let Some(b) = buf.get_mut(n) {
                *b = b'.';
            }
            n += 1;
        }
        let mut v = *o;
        let mut digits = [0u8; 3];
        let mut k = 0;
        loop {
            if let Some(d) = digits.get_mut(k) {
                *d = b'0' + v % 10;
            }
            k += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for j in (0..k).rev() {
            if let (Some(b), Some(d)) = (buf.get_mut(n), digits.get(j)) {
                *b = *d;
            }
            n += 1;
        }
    }
    core::str::from_utf8(buf.get(..n).unwrap_or(&[])).unwrap_or("")
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
        let IpAddr::V4(ip) = remote.ip() else {
            return Err(nb::Error::Other(Error::Command(CmdError::Unsupported)));
        };
        if let Some(old) = socket.link.take() {
            EspAt::close(self, old).map_err(nb::Error::Other)?;
        }
        let mut buf = [0u8; 15];
        let host = dotted(ip, &mut buf);
        let link =
            EspAt::connect(self, Transport::Tcp, host, remote.port()).map_err(nb::Error::Other)?;
        socket.link = Some(link);
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
        Ok(IpAddr::V4(Ipv4Addr::from(ip)))
    }

    fn get_host_by_address(
        &mut self,
        _addr: IpAddr,
        _result: &mut [u8],
    ) -> nb::Result<usize, Self::Error> {
        Err(nb::Error::Other(Error::Command(CmdError::Unsupported)))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dotted_quad() {
        let mut b = [0u8; 15];
        assert_eq!(
            super::dotted(core::net::Ipv4Addr::new(192, 168, 100, 7), &mut b),
            "192.168.100.7"
        );
        let mut b = [0u8; 15];
        assert_eq!(
            super::dotted(core::net::Ipv4Addr::new(255, 0, 10, 255), &mut b),
            "255.0.10.255"
        );
    }
}
