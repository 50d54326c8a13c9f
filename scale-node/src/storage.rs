//! Where the configuration persists: any `embedded_storage::Storage` (an EEPROM, a block of
//! NOR flash through [`FlashSlot`] ...), or none.

use embedded_storage::nor_flash::NorFlash;
use embedded_storage::{ReadStorage, Storage};

/// No persistent storage: the configuration lives until reset.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoStorage;

/// Error of [`NoStorage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

impl ReadStorage for NoStorage {
    type Error = Unavailable;
    fn read(&mut self, _offset: u32, _bytes: &mut [u8]) -> Result<(), Unavailable> {
        Err(Unavailable)
    }
    fn capacity(&self) -> usize {
        0
    }
}

impl Storage for NoStorage {
    fn write(&mut self, _offset: u32, _bytes: &[u8]) -> Result<(), Unavailable> {
        Err(Unavailable)
    }
}

/// Storage in RAM (`N` bytes, erased to 0xFF), e.g. for tests or a battery-backed SRAM.
#[derive(Debug, Clone)]
pub struct RamStorage<const N: usize> {
    /// The contents.
    pub bytes: [u8; N],
}

impl<const N: usize> Default for RamStorage<N> {
    fn default() -> Self {
        RamStorage { bytes: [0xFF; N] }
    }
}

/// Out of range access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfRange;

impl<const N: usize> ReadStorage for RamStorage<N> {
    type Error = OutOfRange;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), OutOfRange> {
        let o = offset as usize;
        bytes.copy_from_slice(self.bytes.get(o..o + bytes.len()).ok_or(OutOfRange)?);
        Ok(())
    }
    fn capacity(&self) -> usize {
        N
    }
}

impl<const N: usize> Storage for RamStorage<N> {
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), OutOfRange> {
        let o = offset as usize;
        self.bytes
            .get_mut(o..o + bytes.len())
            .ok_or(OutOfRange)?
            .copy_from_slice(bytes);
        Ok(())
    }
}

/// `N` bytes of [`Storage`] in one erase block of NOR flash (the last sector of a
/// microcontroller's flash, say), for the node's configuration.
///
/// A write reads the `N` bytes, merges the new ones in, erases the block and programs the `N`
/// bytes again; a write that changes nothing erases nothing. `N` bytes live on the stack while
/// writing, so the whole erase block (4 KiB on the RP2040, 128 KiB on the STM32F405's last
/// sector) never needs a RAM copy. The rest of the block is erased with it: give the slot a
/// block of its own, outside the firmware (shorten `FLASH` in `memory.x`). Losing power during
/// a write leaves a configuration whose CRC does not match; the node then starts from its
/// build-time configuration or in setup mode.
#[derive(Debug)]
pub struct FlashSlot<F, const N: usize> {
    flash: F,
    base: u32,
}

/// Error of [`FlashSlot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlotError<E> {
    /// The flash driver failed.
    Flash(E),
    /// The access is outside the slot's `N` bytes.
    OutOfRange,
    /// The slot does not start an erase block inside the flash, or `N` does not fit one, or is
    /// not a multiple of the flash's read and write sizes.
    Layout,
}

impl<F: NorFlash, const N: usize> FlashSlot<F, N> {
    /// The slot at `base` (an offset into `flash`, at the start of an erase block).
    pub fn new(flash: F, base: u32) -> Result<Self, SlotError<F::Error>> {
        let (erase, read, write) = (F::ERASE_SIZE, F::READ_SIZE.max(1), F::WRITE_SIZE.max(1));
        let fits = erase > 0
            && N > 0
            && N <= erase
            && N.is_multiple_of(read)
            && N.is_multiple_of(write)
            && (base as usize).is_multiple_of(erase)
            && (base as usize)
                .checked_add(erase)
                .is_some_and(|end| end <= flash.capacity());
        if !fits {
            return Err(SlotError::Layout);
        }
        Ok(FlashSlot { flash, base })
    }

    /// Give the flash back.
    pub fn release(self) -> F {
        self.flash
    }

    fn range(offset: u32, len: usize) -> Result<core::ops::Range<usize>, SlotError<F::Error>> {
        let start = offset as usize;
        let end = start.checked_add(len).ok_or(SlotError::OutOfRange)?;
        if end > N {
            return Err(SlotError::OutOfRange);
        }
        Ok(start..end)
    }

    fn load(&mut self, buf: &mut [u8; N]) -> Result<(), SlotError<F::Error>> {
        self.flash.read(self.base, buf).map_err(SlotError::Flash)
    }
}

impl<F: NorFlash, const N: usize> ReadStorage for FlashSlot<F, N> {
    type Error = SlotError<F::Error>;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let range = Self::range(offset, bytes.len())?;
        let mut buf = [0u8; N];
        self.load(&mut buf)?;
        bytes.copy_from_slice(buf.get(range).ok_or(SlotError::OutOfRange)?);
        Ok(())
    }

    fn capacity(&self) -> usize {
        N
    }
}

impl<F: NorFlash, const N: usize> Storage for FlashSlot<F, N> {
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        let range = Self::range(offset, bytes.len())?;
        let mut buf = [0u8; N];
        self.load(&mut buf)?;
        let target = buf.get_mut(range).ok_or(SlotError::OutOfRange)?;
        if target == bytes {
            return Ok(());
        }
        target.copy_from_slice(bytes);
        let end = self.base.saturating_add(F::ERASE_SIZE as u32);
        self.flash.erase(self.base, end).map_err(SlotError::Flash)?;
        self.flash.write(self.base, &buf).map_err(SlotError::Flash)
    }
}
