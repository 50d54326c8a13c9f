//! Where encoded command bytes go, and the entry points that encode a [`Command`] into them.

use super::{CmdError, Command, encode_with};
use crate::dialect::Capabilities;

/// Where encoded command bytes go.
pub trait Sink {
    /// Append bytes.
    fn put(&mut self, bytes: &[u8]) -> Result<(), CmdError>;
}

/// Counts bytes without storing them: validates and measures a command.
#[derive(Debug, Default)]
pub struct Counter(pub usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) -> Result<(), CmdError> {
        self.0 += bytes.len();
        Ok(())
    }
}

/// A sink over a byte slice.
#[derive(Debug)]
pub struct SliceSink<'b> {
    buf: &'b mut [u8],
    len: usize,
}

// `len` and `is_empty` serve the tests (feature `__internal`)
#[cfg_attr(not(feature = "__internal"), allow(dead_code))]
impl<'b> SliceSink<'b> {
    /// Write into `buf` from its start.
    pub fn new(buf: &'b mut [u8]) -> Self {
        SliceSink { buf, len: 0 }
    }
    /// Bytes written.
    pub fn len(&self) -> usize {
        self.len
    }
    /// `true` when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Sink for SliceSink<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), CmdError> {
        let end = self.len + bytes.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(CmdError::TooLong)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

/// Encode `cmd` for the firmware described by `caps` into `buf`, `\r\n` included. Returns the
/// length.
#[cfg_attr(not(any(feature = "atat", feature = "__internal")), allow(dead_code))] // atat, tests
pub fn encode(cmd: &Command<'_>, caps: &Capabilities, buf: &mut [u8]) -> Result<usize, CmdError> {
    let mut sink = SliceSink::new(buf);
    encode_to(cmd, caps, &mut sink)
}

/// Encode `cmd` into any sink: the single, non-generic path from command to bytes. Checks
/// every parameter and the 256-byte limit; to avoid sending half a command, encode into a
/// [`Counter`] first.
#[cfg_attr(not(any(feature = "atat", feature = "__internal")), allow(dead_code))] // atat, tests
pub fn encode_to(
    cmd: &Command<'_>,
    caps: &Capabilities,
    sink: &mut dyn Sink,
) -> Result<usize, CmdError> {
    encode_with(&|w, c| cmd.encode_into(w, c), caps, sink)
}
