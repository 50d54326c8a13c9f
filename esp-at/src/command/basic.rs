//! Basic AT commands (AT manual chapter "Basic AT Commands").

use super::{CmdError, Writer};
use crate::dialect::Capabilities;

/// UART flow control for `AT+UART_CUR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FlowControl {
    /// None.
    None = 0,
    /// RTS only.
    Rts = 1,
    /// CTS only.
    Cts = 2,
    /// RTS and CTS.
    RtsCts = 3,
}

/// Basic commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Basic {
    /// `AT`: test the link.
    At,
    /// `ATE0`: echo off.
    EchoOff,
    /// `ATE1`: echo on.
    EchoOn,
    /// `AT+RST`: restart the module (answers `OK`, then reboots and prints `ready`).
    Restart,
    /// `AT+GMR`: firmware versions.
    Version,
    /// `AT+RESTORE`: factory settings (erases stored Wi-Fi credentials), then restart.
    Restore,
    /// `AT+UART_CUR=<baud>,8,1,0,<flow>`: UART settings, not saved.
    UartCur {
        /// Baud rate.
        baud: u32,
        /// Flow control.
        flow: FlowControl,
    },
    /// `AT+SLEEP=<mode>`: 0 disabled, 1 light sleep, 2 modem sleep.
    Sleep(u8),
    /// `AT+SYSSTORE=<0|1>` (ESP-AT 2.x+): whether settings are written to flash.
    SysStore(bool),
    /// `AT+SYSLOG=<0|1>` (ESP-AT 2.x+): `ERR CODE:` lines before `ERROR`.
    SysLog(bool),
}

impl Basic {
    #[inline(always)] // see `Command::encode_into`
    pub(crate) fn encode(&self, w: &mut Writer<'_>, caps: &Capabilities) -> Result<(), CmdError> {
        match *self {
            Basic::At => w.text(rom!(b"AT")),
            Basic::EchoOff => w.text(rom!(b"ATE0")),
            Basic::EchoOn => w.text(rom!(b"ATE1")),
            Basic::Restart => w.text(rom!(b"AT+RST")),
            Basic::Version => w.text(rom!(b"AT+GMR")),
            Basic::Restore => w.text(rom!(b"AT+RESTORE")),
            Basic::UartCur { baud, flow } => {
                w.text(rom!(b"AT+UART_CUR="));
                w.num(baud);
                w.text(rom!(b",8,1,0,"));
                w.num(flow as u32)
            }
            Basic::Sleep(mode) => {
                w.text(rom!(b"AT+SLEEP="));
                w.num(u32::from(mode))
            }
            Basic::SysStore(on) => {
                if !caps.sysstore {
                    return Err(CmdError::Unsupported);
                }
                w.text(if on {
                    rom!(b"AT+SYSSTORE=1")
                } else {
                    rom!(b"AT+SYSSTORE=0")
                })
            }
            Basic::SysLog(on) => {
                if !caps.sysstore {
                    return Err(CmdError::Unsupported);
                }
                w.text(if on {
                    rom!(b"AT+SYSLOG=1")
                } else {
                    rom!(b"AT+SYSLOG=0")
                })
            }
        }
        Ok(())
    }
}
