//! A UART of the `embedded-hal-nb` serial traits (most HALs without a buffered UART:
//! `avr-hal`, `stm32f4xx-hal`, ...) as the `embedded_io` port the blocking driver needs
//! (feature `nb-uart`). `ReadReady` looks one byte ahead; the byte is kept for the next read.
//!
//! HALs whose UART already implements `embedded_io::{Read, Write, ReadReady}` (embassy's
//! blocking `BufferedUart`, `esp-hal`'s `Uart`) need no adapter. Without a receive interrupt
//! and buffer, bytes that arrive while the program is busy elsewhere can overrun the UART's
//! one-byte holding register: prefer an interrupt-fed ring where the HAL has one.

use ::core::fmt;
use embedded_hal_nb::serial::{Read, Write};

/// The adapter. [`release`](NbUart::release) gives the UART back.
#[derive(Debug)]
pub struct NbUart<S> {
    uart: S,
    ahead: Option<u8>,
}

impl<S> NbUart<S> {
    /// Wrap a UART.
    pub fn new(uart: S) -> Self {
        NbUart { uart, ahead: None }
    }

    /// The UART back (a byte read ahead is lost).
    pub fn release(self) -> S {
        self.uart
    }
}

/// The UART's error, as an `embedded_io` error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UartError(pub embedded_hal_nb::serial::ErrorKind);

impl fmt::Display for UartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UART error ({:?})", self.0)
    }
}

impl ::core::error::Error for UartError {}

impl embedded_io::Error for UartError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

impl<S: embedded_hal_nb::serial::ErrorType> embedded_io::ErrorType for NbUart<S> {
    type Error = UartError;
}

fn kind<E: embedded_hal_nb::serial::Error>(e: E) -> UartError {
    UartError(e.kind())
}

impl<S: Read> embedded_io::ReadReady for NbUart<S> {
    fn read_ready(&mut self) -> Result<bool, UartError> {
        if self.ahead.is_some() {
            return Ok(true);
        }
        match self.uart.read() {
            Ok(b) => {
                self.ahead = Some(b);
                Ok(true)
            }
            Err(nb::Error::WouldBlock) => Ok(false),
            Err(nb::Error::Other(e)) => Err(kind(e)),
        }
    }
}

impl<S: Read> embedded_io::Read for NbUart<S> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, UartError> {
        let mut n = 0;
        while let Some(slot) = buf.get_mut(n) {
            let b = match self.ahead.take() {
                Some(b) => b,
                // block for the first byte only (`Read::read` must not return 0 bytes)
                None if n == 0 => nb::block!(self.uart.read()).map_err(kind)?,
                None => match self.uart.read() {
                    Ok(b) => b,
                    Err(nb::Error::WouldBlock) => break,
                    Err(nb::Error::Other(e)) => return Err(kind(e)),
                },
            };
            *slot = b;
            n += 1;
        }
        Ok(n)
    }
}

impl<S: Write> embedded_io::Write for NbUart<S> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, UartError> {
        for &b in buf {
            nb::block!(self.uart.write(b)).map_err(kind)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), UartError> {
        nb::block!(self.uart.flush()).map_err(kind)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use embedded_io::{Read as _, ReadReady as _, Write as _};

    /// A UART with bytes waiting, one per `read`, and a record of what was written.
    struct Fake {
        rx: heapless::Deque<u8, 16>,
        tx: heapless::Vec<u8, 16>,
    }

    impl embedded_hal_nb::serial::ErrorType for Fake {
        type Error = embedded_hal_nb::serial::ErrorKind;
    }

    impl Read for Fake {
        fn read(&mut self) -> nb::Result<u8, Self::Error> {
            self.rx.pop_front().ok_or(nb::Error::WouldBlock)
        }
    }

    impl Write for Fake {
        fn write(&mut self, b: u8) -> nb::Result<(), Self::Error> {
            self.tx.push(b).map_err(|_| nb::Error::WouldBlock)
        }
        fn flush(&mut self) -> nb::Result<(), Self::Error> {
            Ok(())
        }
    }

    #[test]
    fn looks_ahead_and_keeps_the_byte() {
        let mut rx = heapless::Deque::new();
        for &b in b"OK\r\n" {
            rx.push_back(b).unwrap();
        }
        let mut u = NbUart::new(Fake {
            rx,
            tx: heapless::Vec::new(),
        });
        assert!(u.read_ready().unwrap());
        assert!(u.read_ready().unwrap());
        let mut buf = [0u8; 8];
        assert_eq!(u.read(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"OK\r\n");
        assert!(!u.read_ready().unwrap());
        u.write_all(b"AT\r\n").unwrap();
        assert_eq!(&u.release().tx[..], b"AT\r\n");
    }
}
