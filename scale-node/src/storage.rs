//! Where the configuration persists: any `embedded_storage::Storage` (EEPROM, a flash page
//! behind a NOR-to-storage adapter ...), or none.

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
