//! Shared by the `embedded-nal` and `embedded-nal-async` implementations.

use core::net::Ipv4Addr;

/// "a.b.c.d" in a stack buffer.
pub(crate) fn dotted(ip: Ipv4Addr, buf: &mut [u8; 15]) -> &str {
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
