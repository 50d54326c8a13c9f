//! Shared by the `embedded-nal` and `embedded-nal-async` implementations.

use core::net::{IpAddr, SocketAddr};

use crate::command::{CmdError, decimal};

/// The remote's address as the modem takes it, "a.b.c.d" in a stack buffer; IPv6 is
/// `Unsupported` (ESP-AT links are IPv4 here).
pub(crate) fn host_of(remote: SocketAddr, buf: &mut [u8; 15]) -> Result<&str, CmdError> {
    let IpAddr::V4(ip) = remote.ip() else {
        return Err(CmdError::Unsupported);
    };
    let mut n = 0;
    for (i, o) in ip.octets().iter().enumerate() {
        if i > 0 {
            if let Some(b) = buf.get_mut(n) {
                *b = b'.';
            }
            n += 1;
        }
        let mut digits = [0u8; 10];
        let k = decimal(u32::from(*o), &mut digits);
        for d in digits.get(..k).unwrap_or(&[]) {
            if let Some(b) = buf.get_mut(n) {
                *b = *d;
            }
            n += 1;
        }
    }
    Ok(crate::escape::utf8(buf.get(..n).unwrap_or(&[])).unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use crate::command::CmdError;

    #[test]
    fn dotted_quad() {
        let mut b = [0u8; 15];
        assert_eq!(
            super::host_of("192.168.100.7:80".parse().unwrap(), &mut b),
            Ok("192.168.100.7")
        );
        let mut b = [0u8; 15];
        assert_eq!(
            super::host_of("255.0.10.255:1".parse().unwrap(), &mut b),
            Ok("255.0.10.255")
        );
        let mut b = [0u8; 15];
        assert_eq!(
            super::host_of("[::1]:80".parse().unwrap(), &mut b),
            Err(CmdError::Unsupported)
        );
    }
}
