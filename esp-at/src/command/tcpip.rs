//! TCP/IP AT commands (AT manual chapter "TCP/IP AT Commands"). The driver always runs with
//! `AT+CIPMUX=1` (link ids 0–4) and passive receive.

use super::{CmdError, Writer};
use crate::dialect::Capabilities;
use crate::escape::check_text;

/// Transport of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// TLS over TCP (terminated in the module).
    Ssl,
}

/// Longest host name accepted in `AT+CIPSTART` / `AT+CIPDOMAIN`.
pub const HOST_MAX: usize = 64;

/// TCP/IP commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TcpIp<'a> {
    /// `AT+CIPMUX=<0|1>`: multiple links.
    Mux(bool),
    /// `AT+CIPSTART=[<link>,]"<type>","<host>",<port>[,<keepalive or local port>]`.
    Start {
        /// Link id (with `CIPMUX=1`).
        link: Option<u8>,
        /// Transport.
        transport: Transport,
        /// Host name or dotted address.
        host: &'a str,
        /// Remote port.
        port: u16,
        /// TCP/SSL keep-alive in seconds (0 = off) or the UDP local port.
        extra: Option<u16>,
    },
    /// `AT+CIPSEND=[<link>,]<len>`: announce `len` bytes; the module answers `OK` and `>`.
    Send {
        /// Link id.
        link: Option<u8>,
        /// Payload length (≤ 2048).
        len: u16,
    },
    /// `AT+CIPCLOSE[=<link>]`.
    Close(Option<u8>),
    /// `AT+CIPRECVMODE=<0|1>` (or `AT+CIPRECVTYPE=<link>,<mode>` on v3.3+ when a link is
    /// given; `5` means all links).
    RecvMode {
        /// Passive (`true`) or active `+IPD` pushing (`false`).
        passive: bool,
    },
    /// `AT+CIPDINFO=<0|1>`: whether received data shows the sender's address.
    RemoteInfo(bool),
    /// `AT+CIPRECVLEN?`: bytes waiting per link.
    RecvLen,
    /// `AT+CIPRECVDATA=<link>,<len>`: read up to `len` waiting bytes.
    RecvData {
        /// Link id.
        link: u8,
        /// Most bytes to read.
        len: u16,
    },
    /// `AT+CIPDOMAIN="<host>"`: DNS lookup.
    Domain(&'a str),
    /// `AT+CIPSERVER=<1>,<port>` / `AT+CIPSERVER=0`: TCP server (SoftAP setup mode).
    Server {
        /// Start (`Some(port)`) or stop (`None`).
        port: Option<u16>,
    },
    /// `AT+CIPSTO=<seconds>`: server-side idle timeout.
    ServerTimeout(u16),
    /// `AT+CIFSR`: local addresses.
    LocalAddress,
    /// `AT+CIPSTATE?` (2.x) or `AT+CIPSTATUS` (1.x): link states.
    LinkState,
    /// `AT+CIPSSLSIZE=<size>` (NonOS only): TLS buffer, 2048–4096.
    SslSize(u16),
    /// `AT+CIPSSLCCONF=<link>,<auth>[,<pki>,<ca>]` (2.x+): client TLS verification.
    SslConfig {
        /// Link id.
        link: u8,
        /// 0 none, 1 client cert, 2 server cert, 3 both.
        auth_mode: u8,
    },
    /// `AT+CIPSSLCSNI=<link>,"<sni>"` (2.x+): server name indication.
    SslSni {
        /// Link id.
        link: u8,
        /// Server name.
        name: &'a str,
    },
}

fn link_prefix(w: &mut Writer<'_>, link: Option<u8>) {
    if let Some(l) = link {
        w.num(u32::from(l));
        w.byte(b',');
    }
}

impl TcpIp<'_> {
    #[inline(always)] // see `Command::encode_into`
    pub(crate) fn encode(&self, w: &mut Writer<'_>, caps: &Capabilities) -> Result<(), CmdError> {
        match *self {
            TcpIp::Mux(on) => w.text(if on {
                rom!(b"AT+CIPMUX=1")
            } else {
                rom!(b"AT+CIPMUX=0")
            }),
            TcpIp::Start {
                link,
                transport,
                host,
                port,
                extra,
            } => {
                check_text(host, HOST_MAX)?;
                if host.is_empty() {
                    return Err(CmdError::Param(crate::escape::StrError::Empty));
                }
                if transport == Transport::Ssl && !(caps.ssl_config || caps.ssl_size) {
                    return Err(CmdError::Unsupported);
                }
                w.text(rom!(b"AT+CIPSTART="));
                link_prefix(w, link);
                w.text(match transport {
                    Transport::Tcp => rom!(b"\"TCP\","),
                    Transport::Udp => rom!(b"\"UDP\","),
                    Transport::Ssl => rom!(b"\"SSL\","),
                });
                w.quoted(host);
                w.byte(b',');
                w.num(u32::from(port));
                if let Some(e) = extra {
                    w.byte(b',');
                    w.num(u32::from(e));
                }
            }
            TcpIp::Send { link, len } => {
                w.text(rom!(b"AT+CIPSEND="));
                link_prefix(w, link);
                w.num(u32::from(len))
            }
            TcpIp::Close(link) => {
                w.text(rom!(b"AT+CIPCLOSE"));
                if let Some(l) = link {
                    w.byte(b'=');
                    w.num(u32::from(l));
                }
            }
            TcpIp::RecvMode { passive } => {
                if caps.recv_type {
                    w.text(if passive {
                        rom!(b"AT+CIPRECVTYPE=5,1")
                    } else {
                        rom!(b"AT+CIPRECVTYPE=5,0")
                    })
                } else {
                    w.text(if passive {
                        rom!(b"AT+CIPRECVMODE=1")
                    } else {
                        rom!(b"AT+CIPRECVMODE=0")
                    })
                }
            }
            TcpIp::RemoteInfo(on) => w.text(if on {
                rom!(b"AT+CIPDINFO=1")
            } else {
                rom!(b"AT+CIPDINFO=0")
            }),
            TcpIp::RecvLen => w.text(rom!(b"AT+CIPRECVLEN?")),
            TcpIp::RecvData { link, len } => {
                w.text(rom!(b"AT+CIPRECVDATA="));
                w.num(u32::from(link));
                w.byte(b',');
                w.num(u32::from(len))
            }
            TcpIp::Domain(host) => {
                check_text(host, HOST_MAX)?;
                w.text(rom!(b"AT+CIPDOMAIN="));
                w.quoted(host)
            }
            TcpIp::Server { port } => match port {
                Some(p) => {
                    w.text(rom!(b"AT+CIPSERVER=1,"));
                    w.num(u32::from(p))
                }
                None => w.text(rom!(b"AT+CIPSERVER=0")),
            },
            TcpIp::ServerTimeout(s) => {
                w.text(rom!(b"AT+CIPSTO="));
                w.num(u32::from(s))
            }
            TcpIp::LocalAddress => w.text(rom!(b"AT+CIFSR")),
            TcpIp::LinkState => {
                if caps.cwstate {
                    w.text(rom!(b"AT+CIPSTATE?"))
                } else {
                    w.text(rom!(b"AT+CIPSTATUS"))
                }
            }
            TcpIp::SslSize(size) => {
                if !caps.ssl_size {
                    return Err(CmdError::Unsupported);
                }
                w.text(rom!(b"AT+CIPSSLSIZE="));
                w.num(u32::from(size.clamp(2048, 4096)))
            }
            TcpIp::SslConfig { link, auth_mode } => {
                if !caps.ssl_config {
                    return Err(CmdError::Unsupported);
                }
                w.text(rom!(b"AT+CIPSSLCCONF="));
                w.num(u32::from(link));
                w.byte(b',');
                w.num(u32::from(auth_mode.min(3)))
            }
            TcpIp::SslSni { link, name } => {
                if !caps.ssl_config {
                    return Err(CmdError::Unsupported);
                }
                check_text(name, HOST_MAX)?;
                w.text(rom!(b"AT+CIPSSLCSNI="));
                w.num(u32::from(link));
                w.byte(b',');
                w.quoted(name)
            }
        }
        Ok(())
    }
}
