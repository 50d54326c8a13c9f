//! A durable, crash-safe spool: accepted events survive a gateway crash until the sink took
//! them.
//!
//! The spool is a directory of append-only segments, `<n>.jsonl` (`n` counts up, 20 digits),
//! one JSON event per line, and a file `offset` that holds how far delivery got
//! (`<segment> <byte offset>`). Nothing is ever rewritten in place:
//!
//! * events are appended to the newest segment and synced before the device hears `201`;
//! * each start opens a new segment, so a line torn by a crash is never continued;
//! * `offset` is replaced atomically (written to `offset.tmp`, synced, renamed over `offset`,
//!   directory synced), after the sink took the events before it;
//! * a segment is deleted only once the committed offset lies in a later segment.
//!
//! A crash at any moment therefore leaves every accepted event either before the committed
//! offset (delivered) or after it (replayed at the next start): at worst the events delivered
//! since the last commit are delivered again. A record that does not parse (damage, a torn
//! last line) is skipped, counted and reported with its place, and the replay goes on after
//! it; an offset that points past the end of its segment, or an `offset` file that does not
//! parse, makes the replay start earlier (duplicates rather than loss). Files are created
//! `0600` and the directory `0700`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::event::Event;

/// Where an event ends in the spool: committing it means everything up to here was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    /// Segment number.
    pub segment: u64,
    /// Byte offset just after the event's line.
    pub end: u64,
}

/// What was found on opening a spool.
#[derive(Debug, Default)]
pub struct Replay {
    /// Events not yet delivered, in order, with their positions.
    pub events: Vec<(Event, Position)>,
    /// Records that did not parse and were skipped.
    pub skipped: u64,
    /// What the replay had to work around (damaged records, a bad offset), one line each.
    pub notes: Vec<String>,
}

/// The spool in a directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    segment: u64,
    file: File,
    len: u64,
    sync: bool,
    max_segment: u64,
    committed: Position,
}

/// A segment grows to about this size before the next one is started.
pub const SEGMENT_BYTES: u64 = 4 << 20;

fn segment_name(n: u64) -> String {
    format!("{n:020}.jsonl")
}

fn create_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// Create `dir` (and its parents) with mode `0700` where they do not exist.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

fn segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let name = e?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = name
            .strip_suffix(".jsonl")
            .filter(|s| s.len() == 20)
            .and_then(|s| s.parse::<u64>().ok())
        {
            v.push(n);
        }
    }
    v.sort_unstable();
    Ok(v)
}

fn parse_offset(text: &str) -> Option<Position> {
    let mut it = text.split_whitespace();
    let segment = it.next()?.parse().ok()?;
    let end = it.next()?.parse().ok()?;
    it.next().is_none().then_some(Position { segment, end })
}

/// The format before segments (`spool.jsonl` + a count of delivered lines in `spool.offset`)
/// becomes segment 0 with a byte offset.
fn migrate(dir: &Path, notes: &mut Vec<String>) -> std::io::Result<()> {
    let old = dir.join("spool.jsonl");
    if !old.exists() || !segments(dir)?.is_empty() {
        return Ok(());
    }
    let data = std::fs::read(&old)?;
    let lines: usize = std::fs::read_to_string(dir.join("spool.offset"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let mut end = 0usize;
    for _ in 0..lines {
        match data
            .get(end..)
            .and_then(|d| d.iter().position(|&b| b == b'\n'))
        {
            Some(nl) => end += nl + 1,
            None => break,
        }
    }
    write_offset(
        dir,
        Position {
            segment: 0,
            end: end as u64,
        },
    )?;
    std::fs::rename(&old, dir.join(segment_name(0)))?;
    let _ = std::fs::remove_file(dir.join("spool.offset"));
    sync_dir(dir)?;
    notes.push(format!(
        "spool.jsonl taken over as segment 0 ({lines} lines delivered)"
    ));
    Ok(())
}

fn write_offset(dir: &Path, p: Position) -> std::io::Result<()> {
    let tmp = dir.join("offset.tmp");
    let mut f = create_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    f.write_all(format!("{} {}\n", p.segment, p.end).as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join("offset"))?;
    sync_dir(dir)
}

impl Spool {
    /// Open (or create) the spool in `dir`: the spool, ready to append to a fresh segment,
    /// and what is still to deliver. `sync`: each append is synced to the disk.
    pub fn open(dir: &Path, sync: bool) -> std::io::Result<(Spool, Replay)> {
        create_private_dir(dir)?;
        let mut replay = Replay::default();
        migrate(dir, &mut replay.notes)?;
        let segs = segments(dir)?;
        let first = segs.first().copied().unwrap_or(0);
        let committed = match std::fs::read_to_string(dir.join("offset")) {
            Ok(text) => match parse_offset(&text) {
                Some(p) => p,
                None => {
                    replay.notes.push(format!(
                        "offset file unreadable ({:?}): replaying every segment",
                        text.chars().take(40).collect::<String>()
                    ));
                    Position {
                        segment: first,
                        end: 0,
                    }
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Position {
                segment: first,
                end: 0,
            },
            Err(e) => return Err(e),
        };
        for &n in &segs {
            let path = dir.join(segment_name(n));
            if n < committed.segment {
                // delivered entirely
                std::fs::remove_file(&path)?;
                continue;
            }
            let data = std::fs::read(&path)?;
            if data.is_empty() && n != committed.segment {
                // opened by an earlier start that received nothing
                std::fs::remove_file(&path)?;
                continue;
            }
            let mut at = 0usize;
            if n == committed.segment {
                match usize::try_from(committed.end) {
                    Ok(e) if e <= data.len() => at = e,
                    _ => replay.notes.push(format!(
                        "offset {} is past the end of segment {n} ({} bytes): replaying it whole",
                        committed.end,
                        data.len()
                    )),
                }
            }
            while let Some(rest) = data.get(at..).filter(|r| !r.is_empty()) {
                let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                    replay.skipped += 1;
                    replay.notes.push(format!(
                        "segment {n} byte {at}: {} bytes without a line end (torn by a crash), skipped",
                        rest.len()
                    ));
                    break;
                };
                let line = rest.get(..nl).unwrap_or(&[]);
                let end = at + nl + 1;
                if !line.iter().all(|b| b.is_ascii_whitespace()) {
                    match std::str::from_utf8(line)
                        .ok()
                        .and_then(|t| serde_json::from_str::<Event>(t).ok())
                    {
                        Some(ev) => replay.events.push((
                            ev,
                            Position {
                                segment: n,
                                end: end as u64,
                            },
                        )),
                        None => {
                            replay.skipped += 1;
                            replay.notes.push(format!(
                                "segment {n} byte {at}: a record that does not parse, skipped"
                            ));
                        }
                    }
                }
                at = end;
            }
        }
        let segment = segs.last().map_or(committed.segment, |&l| l + 1).max(1);
        let file = Self::create_segment(dir, segment)?;
        Ok((
            Spool {
                dir: dir.to_path_buf(),
                segment,
                file,
                len: 0,
                sync,
                max_segment: SEGMENT_BYTES,
                committed,
            },
            replay,
        ))
    }

    fn create_segment(dir: &Path, n: u64) -> std::io::Result<File> {
        let f = create_options()
            .append(true)
            .create_new(true)
            .open(dir.join(segment_name(n)))?;
        sync_dir(dir)?;
        Ok(f)
    }

    /// Start segments at `bytes` instead of [`SEGMENT_BYTES`] (tests).
    pub fn set_segment_bytes(&mut self, bytes: u64) {
        self.max_segment = bytes.max(1);
    }

    /// Append events (one write, one sync): their positions, in order.
    pub fn append(&mut self, events: &[Event]) -> std::io::Result<Vec<Position>> {
        if self.len >= self.max_segment {
            self.segment += 1;
            self.file = Self::create_segment(&self.dir, self.segment)?;
            self.len = 0;
        }
        let mut buf = Vec::with_capacity(events.len() * 160);
        let mut pos = Vec::with_capacity(events.len());
        for ev in events {
            buf.extend_from_slice(ev.to_json().as_bytes());
            buf.push(b'\n');
            pos.push(Position {
                segment: self.segment,
                end: self.len + buf.len() as u64,
            });
        }
        if let Err(e) = self.file.write_all(&buf) {
            // a partial write leaves a torn line: go on in a new segment
            self.len = self.max_segment;
            return Err(e);
        }
        if self.sync
            && let Err(e) = self.file.sync_data()
        {
            self.len = self.max_segment;
            return Err(e);
        }
        self.len += buf.len() as u64;
        Ok(pos)
    }

    /// Everything up to `upto` was delivered: commit the offset atomically and delete the
    /// segments before it.
    pub fn commit(&mut self, upto: Position) -> std::io::Result<()> {
        if upto <= self.committed {
            return Ok(());
        }
        write_offset(&self.dir, upto)?;
        let old = self.committed.segment;
        self.committed = upto;
        for n in old..upto.segment {
            match std::fs::remove_file(self.dir.join(segment_name(n))) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// The committed offset.
    pub fn committed(&self) -> Position {
        self.committed
    }
}

/// Events a sink refused for good, kept as JSON lines instead of being lost.
#[derive(Debug)]
pub struct DeadLetter {
    file: File,
}

impl DeadLetter {
    /// Open (append, create `0600`) the dead-letter file.
    pub fn open(path: &Path) -> std::io::Result<DeadLetter> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)?;
        }
        let file = create_options().append(true).create(true).open(path)?;
        Ok(DeadLetter { file })
    }

    /// Keep `ev` with the reason the sink gave.
    pub fn keep(&mut self, ev: &Event, status: u16, reason: &str) -> std::io::Result<()> {
        let v = serde_json::json!({ "Event": ev, "Status": status, "Reason": reason });
        self.file.write_all(format!("{v}\n").as_bytes())?;
        self.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ev(i: u32) -> Event {
        Event {
            time: "2026-01-01T00:00:00.000Z".into(),
            gateway_id: "g".into(),
            device_id: "10.0.0.2".into(),
            sensor_id: "S".into(),
            sensor_type: "Weight".into(),
            sensor_value: format!("{i}.00"),
            seq: Some(i),
            flags: None,
            boot: Some(1),
        }
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gw-spool-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn values(r: &Replay) -> Vec<u32> {
        r.events.iter().filter_map(|(e, _)| e.seq).collect()
    }

    #[test]
    fn replays_what_was_not_committed_across_segments() {
        let d = dir("replay");
        let (mut s, r) = Spool::open(&d, true).unwrap();
        assert!(r.events.is_empty());
        s.set_segment_bytes(300);
        let mut pos = Vec::new();
        for i in 0..10 {
            pos.extend(s.append(&[ev(i)]).unwrap());
        }
        assert!(pos.last().unwrap().segment > pos[0].segment, "rotated");
        s.commit(pos[3]).unwrap();
        drop(s);
        let (s, r) = Spool::open(&d, true).unwrap();
        assert_eq!(values(&r), (4..10).collect::<Vec<_>>());
        assert_eq!(r.skipped, 0);
        // reopening without delivering replays the same again: nothing rewritten
        drop(s);
        let (mut s, r) = Spool::open(&d, true).unwrap();
        assert_eq!(values(&r), (4..10).collect::<Vec<_>>());
        s.commit(r.events.last().unwrap().1).unwrap();
        drop(s);
        let (_s, r) = Spool::open(&d, true).unwrap();
        assert!(r.events.is_empty());
        // the delivered segments are gone
        assert!(segments(&d).unwrap().len() <= 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&d), 0o700);
            assert_eq!(mode(&d.join("offset")), 0o600);
            for n in segments(&d).unwrap() {
                assert_eq!(mode(&d.join(segment_name(n))), 0o600);
            }
        }
    }

    #[test]
    fn damage_is_skipped_counted_and_the_replay_goes_on() {
        let d = dir("damage");
        let (mut s, _) = Spool::open(&d, false).unwrap();
        for i in 0..1000 {
            s.append(&[ev(i)]).unwrap();
        }
        let seg = s.segment;
        drop(s);
        let path = d.join(segment_name(seg));
        let mut data = std::fs::read(&path).unwrap();
        // a garbage line after record 9, invalid UTF-8 after record 500, a torn tail
        let cut = |data: &[u8], n: usize| {
            data.iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .nth(n)
                .unwrap()
                .0
                + 1
        };
        let at = cut(&data, 9);
        data.splice(at..at, b"{not json\n".iter().copied());
        let at = cut(&data, 501);
        data.splice(at..at, b"\xff\xfe\xfd\n".iter().copied());
        data.extend_from_slice(b"{\"Time\":\"2026");
        std::fs::write(&path, &data).unwrap();
        let (_s, r) = Spool::open(&d, false).unwrap();
        assert_eq!(values(&r), (0..1000).collect::<Vec<_>>());
        assert_eq!(r.skipped, 3, "{:?}", r.notes);
        assert_eq!(r.notes.len(), 3);
    }

    #[test]
    fn a_bad_offset_replays_more_never_less() {
        let d = dir("offset");
        let (mut s, _) = Spool::open(&d, false).unwrap();
        let pos = s.append(&[ev(0), ev(1), ev(2)]).unwrap();
        s.commit(pos[0]).unwrap();
        drop(s);
        // past the end of its segment
        std::fs::write(d.join("offset"), format!("{} 999999\n", pos[0].segment)).unwrap();
        let (s, r) = Spool::open(&d, false).unwrap();
        assert_eq!(values(&r), vec![0, 1, 2]);
        assert_eq!(r.notes.len(), 1);
        drop(s);
        std::fs::write(d.join("offset"), "garbage").unwrap();
        let (_s, r) = Spool::open(&d, false).unwrap();
        assert_eq!(values(&r), vec![0, 1, 2]);
    }

    #[test]
    fn the_old_single_file_format_is_taken_over() {
        let d = dir("migrate");
        std::fs::create_dir_all(&d).unwrap();
        let text: String = (0..5).map(|i| ev(i).to_json() + "\n").collect();
        std::fs::write(d.join("spool.jsonl"), text).unwrap();
        std::fs::write(d.join("spool.offset"), "2").unwrap();
        let (_s, r) = Spool::open(&d, false).unwrap();
        assert_eq!(values(&r), vec![2, 3, 4]);
        assert!(!d.join("spool.jsonl").exists());
    }
}
