//! Errors.

use core::fmt;

use crate::command::CmdError;

/// Why joining an access point failed (`+CWJAP:<n>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum JoinError {
    /// 1: connection timeout.
    Timeout,
    /// 2: wrong password.
    WrongPassword,
    /// 3: access point not found.
    ApNotFound,
    /// 4: connection failed.
    ConnectFailed,
    /// The module said `FAIL`/`ERROR` without a code, or a code this crate does not know.
    Other(u8),
}

impl JoinError {
    /// From the numeric code of `+CWJAP:<n>`.
    pub const fn from_code(code: u8) -> Self {
        match code {
            1 => JoinError::Timeout,
            2 => JoinError::WrongPassword,
            3 => JoinError::ApNotFound,
            4 => JoinError::ConnectFailed,
            n => JoinError::Other(n),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Timeout => f.write_str("timed out joining the access point"),
            JoinError::WrongPassword => f.write_str("wrong Wi-Fi password"),
            JoinError::ApNotFound => f.write_str("access point not found"),
            JoinError::ConnectFailed => f.write_str("could not connect to the access point"),
            JoinError::Other(n) => write!(f, "join failed (code {n})"),
        }
    }
}

/// Everything a driver call can fail with. `E` is the UART's error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error<E> {
    /// The UART failed.
    Io(E),
    /// The reset pin failed.
    ResetPin,
    /// No final answer before the deadline.
    Timeout,
    /// The module answered `busy p...`/`busy s...` to every retry.
    Busy,
    /// A command could not be encoded (bad parameter, too long, unsupported by the firmware).
    Command(CmdError),
    /// The module answered `ERROR` (or `FAIL`).
    Failed,
    /// The module answered `ERR CODE:0x...` then `ERROR` (with `AT+SYSLOG=1`).
    Code(u32),
    /// Joining the access point failed.
    Join(JoinError),
    /// `SEND FAIL`: the data did not go out.
    SendFailed,
    /// The link is closed (by the peer, by a Wi-Fi drop, or by a module reboot).
    LinkClosed,
    /// All five links are in use.
    NoFreeLink,
    /// The module rebooted (`ready`) during the call; links are gone, configuration re-applied.
    Rebooted,
    /// The host name could not be resolved.
    Dns,
    /// The answer did not have the expected form.
    Protocol,
    /// `ALREADY CONNECTED`: the module has that link open already.
    AlreadyConnected,
    /// The module runs AT firmware this driver does not support (see the README's table):
    /// ESP8266 AT before 0.22 (no `_CUR` commands), ESP32 AT 1.x, or firmware without passive
    /// receive. The version it reported (`0.0.0` when it did not say).
    UnsupportedFirmware(crate::dialect::Version),
}

impl<E> From<CmdError> for Error<E> {
    fn from(e: CmdError) -> Self {
        Error::Command(e)
    }
}

impl<E: fmt::Debug> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "UART error: {e:?}"),
            Error::ResetPin => f.write_str("reset pin error"),
            Error::Timeout => f.write_str("modem did not answer in time"),
            Error::Busy => f.write_str("modem busy"),
            Error::Command(e) => write!(f, "{e}"),
            Error::Failed => f.write_str("modem answered ERROR"),
            Error::Code(c) => write!(f, "modem error code 0x{c:08x}"),
            Error::Join(e) => write!(f, "{e}"),
            Error::SendFailed => f.write_str("SEND FAIL"),
            Error::LinkClosed => f.write_str("link closed"),
            Error::NoFreeLink => f.write_str("no free link"),
            Error::Rebooted => f.write_str("modem rebooted"),
            Error::Dns => f.write_str("DNS lookup failed"),
            Error::Protocol => f.write_str("unexpected answer from the modem"),
            Error::AlreadyConnected => f.write_str("the module has that link open already"),
            Error::UnsupportedFirmware(v) => write!(
                f,
                "unsupported AT firmware (version {}.{}.{})",
                v.major, v.minor, v.patch
            ),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for Error<E> {}

impl<E: fmt::Debug> embedded_io::Error for Error<E> {
    fn kind(&self) -> embedded_io::ErrorKind {
        use embedded_io::ErrorKind as K;
        match self {
            Error::LinkClosed | Error::Rebooted => K::ConnectionReset,
            Error::Timeout => K::TimedOut,
            Error::Command(_) => K::InvalidInput,
            Error::Dns => K::NotFound,
            Error::Join(_) | Error::NoFreeLink => K::NotConnected,
            Error::Protocol => K::InvalidData,
            Error::AlreadyConnected => K::AddrInUse,
            Error::UnsupportedFirmware(_) => K::Unsupported,
            _ => K::Other,
        }
    }
}
