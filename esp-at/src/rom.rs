//! Constant bytes that stay in program memory on AVR: [`Rom`] and the `rom!` macro.

/// Bytes in program memory (on AVR) or in an ordinary static (elsewhere). Made by
/// [`rom!`](crate::rom!); read byte by byte, compared or copied out, never borrowed as a slice.
///
/// An AVR reads its flash with another instruction (`LPM`) than its RAM, so rustc copies every
/// constant into RAM at start-up: on an ATmega328P each AT command name, each message, each
/// lookup table costs some of the 2 KiB of RAM. [`rom!`](crate::rom!) keeps its bytes in the
/// `.progmem.data` section there and [`Rom`] reads them with `LPM`; on every other target a
/// [`Rom`] is an ordinary static slice. The driver's command names and response words are
/// [`Rom`]s, and so are `scale-node`'s messages.
///
/// ```
/// use esp_at::{Rom, rom};
/// const HELLO: Rom = rom!(b"AT+GMR");
/// assert_eq!(HELLO.len(), 6);
/// assert!(HELLO.eq_bytes(b"AT+GMR"));
/// assert!(HELLO.is_prefix_of(b"AT+GMR\r\n"));
/// let mut buf = [0u8; 8];
/// let n = HELLO.copy_to(&mut buf);
/// assert_eq!(&buf[..n], b"AT+GMR");
/// ```
#[derive(Clone, Copy)]
pub struct Rom {
    /// On AVR a program-memory address: never dereferenced there, only read with `LPM`.
    bytes: &'static [u8],
}

/// Byte `i` of `bytes` (in bounds).
#[inline(always)]
fn read(bytes: &'static [u8], i: usize) -> u8 {
    #[cfg(target_arch = "avr")]
    {
        let b: u8;
        let p = bytes.as_ptr().wrapping_add(i);
        // SAFETY: LPM only reads program memory and cannot fault; `rom!` places the bytes in
        // `.progmem.data`, which the linker puts first in the text section (below 64 KiB)
        #[allow(unsafe_code)]
        unsafe {
            core::arch::asm!("lpm {0}, Z", out(reg) b, in("Z") p,
                options(pure, readonly, nostack, preserves_flags));
        }
        b
    }
    #[cfg(not(target_arch = "avr"))]
    {
        bytes.get(i).copied().unwrap_or(0)
    }
}

impl Rom {
    /// Wrap the bytes of a `rom!` static (on AVR, bytes anywhere else read as whatever the
    /// flash holds at that address).
    #[doc(hidden)]
    pub const fn from_static(bytes: &'static [u8]) -> Rom {
        Rom { bytes }
    }

    /// Number of bytes.
    pub const fn len(&self) -> usize {
        self.bytes.len()
    }

    /// `true` for no bytes.
    pub const fn is_empty(&self) -> bool {
        self.bytes.len() == 0
    }

    /// The byte at `i`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<u8> {
        if i < self.bytes.len() {
            Some(read(self.bytes, i))
        } else {
            None
        }
    }

    /// The bytes, in order.
    pub fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        (0..self.bytes.len()).filter_map(|i| self.get(i))
    }

    /// `true` if `other` holds the same bytes.
    pub fn eq_bytes(&self, other: &[u8]) -> bool {
        other.len() == self.bytes.len() && self.is_prefix_of(other)
    }

    /// `true` if `other` starts with these bytes.
    pub fn is_prefix_of(&self, other: &[u8]) -> bool {
        other.len() >= self.bytes.len() && self.bytes().zip(other).all(|(a, &b)| a == b)
    }

    /// `other` without these bytes in front, if it starts with them.
    pub fn strip_from<'a>(&self, other: &'a [u8]) -> Option<&'a [u8]> {
        if self.is_prefix_of(other) {
            other.get(self.bytes.len()..)
        } else {
            None
        }
    }

    /// `other` without these bytes at its end, if it ends with them.
    pub fn strip_end_from<'a>(&self, other: &'a [u8]) -> Option<&'a [u8]> {
        let head = other.len().checked_sub(self.bytes.len())?;
        let (front, end) = other.split_at(head);
        self.eq_bytes(end).then_some(front)
    }

    /// For a list of entries, each after its length byte (`b"\x02OK\x05ERROR"`): the index of
    /// the entry equal to `item`. One loop over a table instead of a comparison per word.
    pub fn position_in_list(&self, item: &[u8]) -> Option<u8> {
        let (mut at, mut i) = (0, 0u8);
        while let Some(n) = self.get(at) {
            let n = usize::from(n);
            if n == item.len()
                && item
                    .iter()
                    .enumerate()
                    .all(|(k, &b)| self.get(at + 1 + k) == Some(b))
            {
                return Some(i);
            }
            at += 1 + n;
            i = i.wrapping_add(1);
        }
        None
    }

    /// Copy as many bytes as fit into `out`; returns how many.
    pub fn copy_to(&self, out: &mut [u8]) -> usize {
        let n = self.bytes.len().min(out.len());
        for (i, slot) in out.iter_mut().take(n).enumerate() {
            *slot = self.get(i).unwrap_or(0);
        }
        n
    }

    /// Hand the bytes to `put` in RAM chunks of up to 16 bytes (on the stack).
    pub fn chunks<E>(&self, mut put: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        let mut buf = [0u8; 16];
        let mut at = 0;
        while at < self.bytes.len() {
            let n = (self.bytes.len() - at).min(buf.len());
            for (i, slot) in buf.iter_mut().take(n).enumerate() {
                *slot = self.get(at + i).unwrap_or(0);
            }
            put(buf.get(..n).unwrap_or(&[]))?;
            at += n;
        }
        Ok(())
    }
}

impl PartialEq for Rom {
    fn eq(&self, other: &Rom) -> bool {
        self.bytes.len() == other.len() && self.bytes().zip(other.bytes()).all(|(a, b)| a == b)
    }
}

impl Eq for Rom {}

impl PartialEq<&str> for Rom {
    fn eq(&self, other: &&str) -> bool {
        self.eq_bytes(other.as_bytes())
    }
}

impl core::fmt::Debug for Rom {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use core::fmt::Write;
        f.write_char('"')?;
        for b in self.bytes() {
            for c in core::ascii::escape_default(b) {
                f.write_char(char::from(c))?;
            }
        }
        f.write_char('"')
    }
}

impl core::fmt::Display for Rom {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use core::fmt::Write;
        for b in self.bytes() {
            f.write_char(char::from(b))?;
        }
        Ok(())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Rom {
    fn format(&self, f: defmt::Formatter<'_>) {
        let mut buf = [0u8; 64];
        let n = self.copy_to(&mut buf);
        defmt::write!(f, "{=[u8]:a}", buf.get(..n).unwrap_or(&[]));
    }
}

/// Bytes in program memory on AVR (see [`Rom`]): `rom!(b"AT+CWJAP")` is a [`Rom`].
/// Usable in constants.
#[macro_export]
macro_rules! rom {
    ($bytes:expr) => {{
        const B: &[u8] = $bytes;
        // placing a static in a section is all the `unsafe` here: no code reads it but `Rom`
        #[allow(unsafe_code)]
        #[cfg_attr(target_arch = "avr", unsafe(link_section = ".progmem.data"))]
        static S: [u8; B.len()] = {
            let mut a = [0u8; B.len()];
            let mut i = 0;
            while i < B.len() {
                a[i] = B[i];
                i += 1;
            }
            a
        };
        $crate::Rom::from_static(&S)
    }};
}

/// A build-time environment variable as a [`Rom`] (`None` when it is not set): with
/// `option_env!` the value would be a string in RAM on AVR.
///
/// ```
/// let v: Option<esp_at::Rom> = esp_at::rom_env!("ESP_AT_DOC_VARIABLE_THAT_IS_NOT_SET");
/// assert!(v.is_none());
/// ```
#[macro_export]
macro_rules! rom_env {
    ($var:literal) => {
        match option_env!($var) {
            Some(_) => Some($crate::rom!(match option_env!($var) {
                Some(v) => v.as_bytes(),
                None => b"",
            })),
            None => None,
        }
    };
}

#[cfg(test)]
mod tests {
    use super::Rom;

    #[test]
    fn reads_compares_and_copies() {
        const R: Rom = crate::rom!(b"+CWJAP:");
        assert_eq!(R.len(), 7);
        assert_eq!(R.get(0), Some(b'+'));
        assert_eq!(R.get(7), None);
        assert!(R.eq_bytes(b"+CWJAP:"));
        assert!(!R.eq_bytes(b"+CWJAP"));
        assert!(R.is_prefix_of(b"+CWJAP:3"));
        assert!(!R.is_prefix_of(b"+CWJA"));
        assert_eq!(R.strip_from(b"+CWJAP:3"), Some(&b"3"[..]));
        assert_eq!(R.strip_from(b"+CWLAP:3"), None);
        assert_eq!(
            crate::rom!(b" bytes").strip_end_from(b"Recv 5 bytes"),
            Some(&b"Recv 5"[..])
        );
        assert_eq!(crate::rom!(b" bytes").strip_end_from(b"bytes"), None);
        let mut small = [0u8; 3];
        assert_eq!(R.copy_to(&mut small), 3);
        assert_eq!(&small, b"+CW");
        let long = crate::rom!(b"0123456789abcdefghijklmnopqrstuvwxyz");
        let mut out = std::vec::Vec::new();
        let mut calls = 0;
        long.chunks(|c| {
            calls += 1;
            out.extend_from_slice(c);
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(out, b"0123456789abcdefghijklmnopqrstuvwxyz");
        assert_eq!(calls, 3);
        assert_eq!(R, crate::rom!(b"+CWJAP:"));
        assert_eq!(R, "+CWJAP:");
        assert_eq!(std::format!("{R:?}"), "\"+CWJAP:\"");
        assert!(crate::rom!(b"").is_empty());
        let list = crate::rom!(b"\x02OK\x05ERROR\x00\x02ab");
        assert_eq!(list.position_in_list(b"OK"), Some(0));
        assert_eq!(list.position_in_list(b"ERROR"), Some(1));
        assert_eq!(list.position_in_list(b""), Some(2));
        assert_eq!(list.position_in_list(b"ab"), Some(3));
        assert_eq!(list.position_in_list(b"ERR"), None);
        // a length byte past the end stops the search
        assert_eq!(crate::rom!(b"\x09OK").position_in_list(b"OK"), None);
    }
}
