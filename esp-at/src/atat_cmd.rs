//! This crate's commands through atat's own clients (feature `atat`): [`AtCommand`] is an
//! [`atat::AtatCmd`] whose text is the one the driver sends, escaped and checked for the
//! firmware at hand, and whose response is the answer's information lines.
//!
//! ```
//! use atat::{AtatCmd, Digester, DigestResult};
//! use esp_at::atat_cmd::AtCommand;
//! use esp_at::command::{Command, TcpIp};
//! use esp_at::{EspDigester, Version};
//!
//! let caps = Version::new(2, 2, 0).capabilities();
//! let cmd = AtCommand::new(Command::TcpIp(TcpIp::LocalAddress), caps)?;
//! let mut buf = [0u8; AtCommand::MAX_LEN];
//! let n = cmd.write(&mut buf);
//! assert_eq!(&buf[..n], b"AT+CIFSR\r\n");
//!
//! // what the modem answers, through the ESP digester, as atat's ingress would pass it on
//! let answer = b"+CIFSR:STAIP,\"192.168.1.50\"\r\n+CIFSR:STAMAC,\"5c:cf:7f:00:00:01\"\r\n\r\nOK\r\n";
//! let (DigestResult::Response(body), _) = EspDigester.digest(answer) else { panic!() };
//! let lines = cmd.parse(body.map_err(|e| e))?;
//! assert!(lines.0.starts_with(b"+CIFSR:STAIP,\"192.168.1.50\""));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::command::{CmdError, Command, Counter, MAX_COMMAND_LEN, encode, encode_to};
use crate::dialect::Capabilities;

/// The information lines of an answer (everything before the final `OK`, line ends included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer(pub heapless::Vec<u8, 256>);

impl atat::AtatResp for Answer {}

/// One of this crate's commands, checked and encoded for the firmware `caps` describe.
#[derive(Debug, Clone, Copy)]
pub struct AtCommand<'a> {
    command: Command<'a>,
    caps: Capabilities,
}

impl<'a> AtCommand<'a> {
    /// The longest command text.
    pub const MAX_LEN: usize = MAX_COMMAND_LEN;

    /// `command` for the firmware `caps` describe; `Err` when a parameter is invalid, the
    /// text too long, or the command unknown to that firmware (checked here, so that atat
    /// never sends half a command).
    pub fn new(command: Command<'a>, caps: Capabilities) -> Result<Self, CmdError> {
        encode_to(&command, &caps, &mut Counter::default())?;
        Ok(AtCommand { command, caps })
    }
}

impl atat::AtatCmd for AtCommand<'_> {
    type Response = Answer;

    /// Joining a network or a TLS handshake can take this long.
    const MAX_TIMEOUT_MS: u32 = 20_000;

    fn write(&self, buf: &mut [u8]) -> usize {
        // checked in `new`: only a buffer shorter than `MAX_LEN` can fail here
        encode(&self.command, &self.caps, buf).unwrap_or(0)
    }

    fn parse(&self, resp: Result<&[u8], atat::InternalError<'_>>) -> Result<Answer, atat::Error> {
        let body = resp.map_err(atat::Error::from)?;
        heapless::Vec::from_slice(body)
            .map(Answer)
            .map_err(|_| atat::Error::Parse)
    }
}
