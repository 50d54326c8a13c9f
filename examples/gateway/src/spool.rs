//! A durable spool: accepted events survive a gateway restart until the sink took them.
//!
//! `spool.jsonl` holds one event per line, appended (and synced) before the device hears
//! `201`; `spool.offset` holds how many of them were delivered. On start the undelivered tail
//! is replayed first; when everything is delivered both files are truncated.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::event::Event;

/// The spool files in a directory.
pub struct Spool {
    dir: PathBuf,
    file: File,
    written: u64,
    delivered: u64,
    sync: bool,
}

impl Spool {
    /// Open (or create) the spool in `dir`; returns it and the events still to deliver.
    pub fn open(dir: &Path, sync: bool) -> std::io::Result<(Spool, Vec<Event>)> {
        std::fs::create_dir_all(dir)?;
        let data = dir.join("spool.jsonl");
        let delivered: u64 = std::fs::read_to_string(dir.join("spool.offset"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let mut pending = Vec::new();
        let mut written = 0u64;
        if let Ok(f) = File::open(&data) {
            for line in BufReader::new(f).lines() {
                let Ok(line) = line else { break };
                // a torn last line (crash mid-write) ends the readable part
                let Ok(ev) = serde_json::from_str::<Event>(&line) else {
                    break;
                };
                if written >= delivered {
                    pending.push(ev);
                }
                written += 1;
            }
        }
        // rewrite with only what is pending, so the offsets start at zero
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&data)?;
        for ev in &pending {
            writeln!(file, "{}", ev.to_json())?;
        }
        file.sync_data()?;
        std::fs::write(dir.join("spool.offset"), "0")?;
        let file = OpenOptions::new().append(true).open(&data)?;
        let spool = Spool {
            dir: dir.to_path_buf(),
            file,
            written: pending.len() as u64,
            delivered: 0,
            sync,
        };
        Ok((spool, pending))
    }

    /// Append an accepted event.
    pub fn append(&mut self, ev: &Event) -> std::io::Result<()> {
        writeln!(self.file, "{}", ev.to_json())?;
        if self.sync {
            self.file.sync_data()?;
        }
        self.written += 1;
        Ok(())
    }

    /// `n` more events (in spool order) reached the sink.
    pub fn delivered(&mut self, n: u64) -> std::io::Result<()> {
        self.delivered = (self.delivered + n).min(self.written);
        if self.delivered == self.written {
            self.file.set_len(0)?;
            self.written = 0;
            self.delivered = 0;
        }
        std::fs::write(self.dir.join("spool.offset"), self.delivered.to_string())
    }

    /// Events accepted and not yet delivered.
    pub fn pending(&self) -> u64 {
        self.written - self.delivered
    }
}
