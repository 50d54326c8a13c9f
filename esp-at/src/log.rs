//! A trace of the AT traffic, through `log` (feature `log`) or `defmt` (feature `defmt`):
//! every command line sent (`AT> ...`), every line or event taken from the modem (`AT< ...`),
//! and the size of every data block sent. With neither feature it compiles to nothing.

/// Bytes shown as text, with control and 8-bit bytes escaped (`\r`, `\n`, `\x8c`).
#[cfg(feature = "log")]
pub(crate) struct Text<'a>(pub(crate) &'a [u8]);

#[cfg(feature = "log")]
impl ::core::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        for &b in self.0 {
            for c in ::core::ascii::escape_default(b) {
                ::core::fmt::Write::write_char(f, char::from(c))?;
            }
        }
        Ok(())
    }
}

/// A command line going out.
#[allow(unused_macros)]
macro_rules! trace_tx {
    ($bytes:expr) => {{
        #[cfg(feature = "log")]
        ::log::trace!("AT> {}", $crate::log::Text($bytes));
        #[cfg(feature = "defmt")]
        ::defmt::trace!("AT> {=[u8]:a}", $bytes);
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        let _ = $bytes;
    }};
}

/// Bytes taken from the modem as one event.
macro_rules! trace_rx {
    ($bytes:expr) => {{
        #[cfg(feature = "log")]
        ::log::trace!("AT< {}", $crate::log::Text($bytes));
        #[cfg(feature = "defmt")]
        ::defmt::trace!("AT< {=[u8]:a}", $bytes);
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        let _ = $bytes;
    }};
}

/// A data block going out after the `>` prompt.
macro_rules! trace_data {
    ($len:expr) => {{
        #[cfg(feature = "log")]
        ::log::trace!("AT> ({} data bytes)", $len);
        #[cfg(feature = "defmt")]
        ::defmt::trace!("AT> ({=usize} data bytes)", $len);
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        let _ = $len;
    }};
}

// `trace_tx` is used only where a front end or a feature needs it
#[allow(unused_imports)]
pub(crate) use {trace_data, trace_rx, trace_tx};
