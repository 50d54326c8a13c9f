//! The configuration in NOR flash through `FlashSlot`, on a strict model of NOR flash:
//! programming only clears bits, writes must be aligned, an erase sets a whole block to 0xFF.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

type Mode = common::Blocking;

use std::sync::{Arc, Mutex};

use common::*;
use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use embedded_storage::{ReadStorage, Storage};
use scale_node::loopback::ArticleGateway;
use scale_node::{FlashSlot, NodeConfig, SlotError};

const ERASE: usize = 4096;
const WRITE: usize = 4;
const BLOCKS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NorErr {
    NotAligned,
    OutOfBounds,
    /// Programming would have to set a bit (the byte was not erased).
    NotErased,
}

impl NorFlashError for NorErr {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            NorErr::NotAligned => NorFlashErrorKind::NotAligned,
            NorErr::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            NorErr::NotErased => NorFlashErrorKind::Other,
        }
    }
}

/// Four 4 KiB blocks; clones share the chip (a reboot keeps its contents).
#[derive(Clone)]
struct SimNor {
    mem: Arc<Mutex<Vec<u8>>>,
    erases: Arc<Mutex<usize>>,
}

impl SimNor {
    fn new() -> SimNor {
        SimNor {
            mem: Arc::new(Mutex::new(vec![0xFF; ERASE * BLOCKS])),
            erases: Arc::new(Mutex::new(0)),
        }
    }
    fn erases(&self) -> usize {
        *self.erases.lock().unwrap()
    }
    fn block(&self, n: usize) -> Vec<u8> {
        self.mem.lock().unwrap()[n * ERASE..(n + 1) * ERASE].to_vec()
    }
}

impl ErrorType for SimNor {
    type Error = NorErr;
}

impl ReadNorFlash for SimNor {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), NorErr> {
        let o = offset as usize;
        let mem = self.mem.lock().unwrap();
        bytes.copy_from_slice(mem.get(o..o + bytes.len()).ok_or(NorErr::OutOfBounds)?);
        Ok(())
    }
    fn capacity(&self) -> usize {
        ERASE * BLOCKS
    }
}

impl NorFlash for SimNor {
    const WRITE_SIZE: usize = WRITE;
    const ERASE_SIZE: usize = ERASE;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), NorErr> {
        let (from, to) = (from as usize, to as usize);
        if !from.is_multiple_of(ERASE) || !to.is_multiple_of(ERASE) || from > to {
            return Err(NorErr::NotAligned);
        }
        let mut mem = self.mem.lock().unwrap();
        mem.get_mut(from..to).ok_or(NorErr::OutOfBounds)?.fill(0xFF);
        *self.erases.lock().unwrap() += 1;
        Ok(())
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), NorErr> {
        let o = offset as usize;
        if !o.is_multiple_of(WRITE) || !bytes.len().is_multiple_of(WRITE) {
            return Err(NorErr::NotAligned);
        }
        let mut mem = self.mem.lock().unwrap();
        let cells = mem.get_mut(o..o + bytes.len()).ok_or(NorErr::OutOfBounds)?;
        if cells.iter().zip(bytes).any(|(c, b)| c & b != *b) {
            return Err(NorErr::NotErased);
        }
        for (c, b) in cells.iter_mut().zip(bytes) {
            *c &= b;
        }
        Ok(())
    }
}

#[test]
fn the_layout_is_checked() {
    let nor = SimNor::new();
    let err = |r: Result<FlashSlot<SimNor, 256>, SlotError<NorErr>>| r.err();
    assert_eq!(
        err(FlashSlot::new(nor.clone(), 100)),
        Some(SlotError::Layout)
    );
    assert_eq!(
        err(FlashSlot::new(nor.clone(), (ERASE * BLOCKS) as u32)),
        Some(SlotError::Layout),
        "past the end"
    );
    assert!(matches!(
        FlashSlot::<SimNor, 8192>::new(nor.clone(), 0),
        Err(SlotError::Layout)
    ));
    assert!(matches!(
        FlashSlot::<SimNor, 6>::new(nor.clone(), 0),
        Err(SlotError::Layout)
    ));
    assert!(FlashSlot::<SimNor, 256>::new(nor, (ERASE * 3) as u32).is_ok());
}

#[test]
fn writes_merge_erase_only_their_block_and_skip_unchanged_data() {
    let nor = SimNor::new();
    {
        let mut mem = nor.mem.lock().unwrap();
        mem[..ERASE].fill(0x11);
        mem[2 * ERASE..3 * ERASE].fill(0x22);
    }
    let mut slot = FlashSlot::<SimNor, 256>::new(nor.clone(), ERASE as u32).unwrap();
    assert_eq!(slot.capacity(), 256);
    slot.write(0, b"first").unwrap();
    slot.write(10, b"second").unwrap();
    assert_eq!(nor.erases(), 2);
    let mut back = [0u8; 16];
    slot.read(0, &mut back).unwrap();
    assert_eq!(&back, b"first\xFF\xFF\xFF\xFF\xFFsecond");
    slot.write(10, b"second").unwrap();
    assert_eq!(nor.erases(), 2, "an unchanged write erases nothing");
    assert_eq!(slot.write(250, b"too long"), Err(SlotError::OutOfRange));
    assert_eq!(slot.read(u32::MAX, &mut back), Err(SlotError::OutOfRange));
    assert_eq!(nor.erases(), 2);
    assert!(nor.block(0).iter().all(|&b| b == 0x11), "the block before");
    assert!(nor.block(2).iter().all(|&b| b == 0x22), "the block after");
    assert!(nor.block(1)[256..].iter().all(|&b| b == 0xFF));
}

#[test]
fn a_flash_error_is_reported_not_hidden() {
    /// A chip whose erase fails (worn out, write-protected).
    #[derive(Clone)]
    struct Protected(SimNor);
    impl ErrorType for Protected {
        type Error = NorErr;
    }
    impl ReadNorFlash for Protected {
        const READ_SIZE: usize = 1;
        fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), NorErr> {
            self.0.read(offset, bytes)
        }
        fn capacity(&self) -> usize {
            self.0.capacity()
        }
    }
    impl NorFlash for Protected {
        const WRITE_SIZE: usize = WRITE;
        const ERASE_SIZE: usize = ERASE;
        fn erase(&mut self, _: u32, _: u32) -> Result<(), NorErr> {
            Err(NorErr::NotErased)
        }
        fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), NorErr> {
            self.0.write(offset, bytes)
        }
    }
    let mut slot = FlashSlot::<Protected, 64>::new(Protected(SimNor::new()), 0).unwrap();
    assert_eq!(
        slot.write(0, b"x"),
        Err(SlotError::Flash(NorErr::NotErased))
    );
}

/// Provision a node over setup mode, "reboot" it on the same flash: it comes up with the
/// configuration it was given, and delivers readings with it.
#[test]
fn a_provisioned_configuration_survives_a_reboot() {
    let gw = ArticleGateway::start(0).unwrap();
    let nor = SimNor::new();
    let settings = setup_settings();
    let slot = FlashSlot::<SimNor, 256>::new(nor.clone(), (ERASE * 3) as u32).unwrap();
    let mut r = rig_with::<16, _>(None, settings, slot);
    let mut phone = Phone::connect(&mut r);
    for line in [
        format!("ssid={SSID}"),
        format!("password={PASS}"),
        "host=127.0.0.1".to_string(),
        format!("port={}", gw.addr().port()),
        "sensor=Scale.Flash".to_string(),
        "interval_ms=200".to_string(),
        "samples=3".to_string(),
        "cal_offset=8000".to_string(),
        "cal_counts_per_gram=160".to_string(),
        "format=classic".to_string(),
    ] {
        assert_eq!(phone.ask(&mut r, &line), "OK", "{line}");
    }
    assert_eq!(phone.ask(&mut r, "commit"), "OK committed");
    assert_eq!(nor.erases(), 1, "one commit, one erase");
    drop(r);

    // power cycle: no build-time configuration, the same flash
    let slot = FlashSlot::<SimNor, 256>::new(nor.clone(), (ERASE * 3) as u32).unwrap();
    let mut r = rig_with::<16, _>(None, settings, slot);
    assert!(r.run_until(20_000, |_| {
        gw.messages()
            .iter()
            .any(|m| m.raw == b"Weight:250.00,Scale.Flash\r\n")
    }));
    let cfg: &NodeConfig = r.node.config().unwrap();
    assert_eq!(cfg.sensor_id.as_str(), "Scale.Flash");
    assert_eq!(nor.erases(), 1, "booting writes nothing");
}
