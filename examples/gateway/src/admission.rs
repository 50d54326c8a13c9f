//! Which peers may connect, and how many connections each address may hold.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

/// An address or a network in CIDR form (`192.168.1.0/24`, `10.0.0.7`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

/// A network that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadNetwork(pub String);

impl fmt::Display for BadNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not an address or a network (e.g. 192.168.1.0/24)",
            self.0
        )
    }
}

impl std::error::Error for BadNetwork {}

impl FromStr for Network {
    type Err = BadNetwork;

    fn from_str(s: &str) -> Result<Network, BadNetwork> {
        let bad = || BadNetwork(s.to_string());
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Network { addr, prefix })
    }
}

impl<'de> serde::Deserialize<'de> for Network {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn bits(a: IpAddr) -> (u128, u32) {
    match a {
        IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
        IpAddr::V6(v) => match v.to_ipv4_mapped() {
            Some(v4) => (u128::from(u32::from(v4)), 32),
            None => (u128::from(v), 128),
        },
    }
}

impl Network {
    /// Whether `ip` is in this network (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (n, nw) = bits(self.addr);
        let (a, aw) = bits(ip);
        if nw != aw {
            return false;
        }
        let host = nw - u32::from(self.prefix);
        if host >= 128 {
            return true;
        }
        (n >> host) == (a >> host)
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Whether `ip` may connect: an empty list lets every address in.
pub fn allowed(list: &[Network], ip: IpAddr) -> bool {
    list.is_empty() || list.iter().any(|n| n.contains(ip))
}

/// Connections held per address, with a cap.
#[derive(Debug, Clone)]
pub struct PerAddress {
    cap: usize,
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection's place in its address's count; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    ip: IpAddr,
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerAddress {
    /// At most `cap` connections per address (at least 1).
    pub fn new(cap: usize) -> PerAddress {
        PerAddress {
            cap: cap.max(1),
            held: Arc::default(),
        }
    }

    /// A slot for `ip`, or `None` when it holds its cap already.
    pub fn take(&self, ip: IpAddr) -> Option<Slot> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let n = held.entry(ip).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(Slot {
            ip,
            held: self.held.clone(),
        })
    }

    /// Addresses holding a connection now.
    pub fn addresses(&self) -> usize {
        self.held.lock().map(|h| h.len()).unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn networks() {
        let n: Network = "192.168.1.0/24".parse().unwrap_or(Network {
            addr: ip("0.0.0.0"),
            prefix: 32,
        });
        assert!(n.contains(ip("192.168.1.77")));
        assert!(n.contains(ip("::ffff:192.168.1.77")));
        assert!(!n.contains(ip("192.168.2.1")));
        assert!(!n.contains(ip("fe80::1")));
        assert!(
            "0.0.0.0/0"
                .parse::<Network>()
                .is_ok_and(|n| n.contains(ip("8.8.8.8")))
        );
        assert!(
            "10.0.0.7"
                .parse::<Network>()
                .is_ok_and(|n| n.contains(ip("10.0.0.7")) && !n.contains(ip("10.0.0.8")))
        );
        assert!(
            "fd00::/8"
                .parse::<Network>()
                .is_ok_and(|n| n.contains(ip("fd12::1")))
        );
        for bad in ["10.0.0.0/33", "x", "10.0.0/8", "::/129", ""] {
            assert!(bad.parse::<Network>().is_err(), "{bad}");
        }
        assert!(allowed(&[], ip("1.2.3.4")));
    }

    #[test]
    fn per_address_cap() {
        let p = PerAddress::new(2);
        let a = p.take(ip("127.0.0.2"));
        let b = p.take(ip("127.0.0.2"));
        assert!(a.is_some() && b.is_some());
        assert!(p.take(ip("127.0.0.2")).is_none());
        assert!(p.take(ip("127.0.0.3")).is_some());
        drop(a);
        assert!(p.take(ip("127.0.0.2")).is_some());
        drop(b);
        assert_eq!(p.addresses(), 0);
    }
}
