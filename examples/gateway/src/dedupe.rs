//! Duplicate detection for the extended lines, correct by construction.
//!
//! A reading is identified by (device address, sensor id, boot id, sequence number). The boot
//! id is drawn by the node at each start, so a node that reboots and counts from zero again
//! starts a new sequence space instead of repeating an old one. A sequence number is recorded
//! only once the reading was *accepted* (queued in `enqueue` mode, taken by the sink in `sync`
//! mode): a reading answered `503` or an error status is never recorded, so its resend is
//! forwarded.
//!
//! Per key the table keeps a sliding window of [`WINDOW`] sequence numbers below the highest
//! one seen (as IPsec's anti-replay window does): a number inside the window is a duplicate
//! when its bit is set; a number older than the window is forwarded (a possible duplicate,
//! never a loss). Keys are evicted least recently used first beyond a fixed capacity, so the
//! table's memory is bounded whatever the peers send.

use std::collections::{BTreeMap, HashMap};

/// Sequence numbers remembered per key, below the highest one seen.
pub const WINDOW: u32 = 256;

/// Who sent a reading: the device's address, its sensor id and its boot id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// The device's address as seen by the gateway.
    pub device: String,
    /// The sensor id from the line.
    pub sensor: String,
    /// The boot id from the line.
    pub boot: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct Window {
    top: u32,
    // bit i: top - i was accepted
    bits: [u64; (WINDOW / 64) as usize],
}

impl Window {
    fn has(&self, seq: u32) -> bool {
        if seq > self.top {
            return false;
        }
        let age = self.top - seq;
        age < WINDOW
            && self
                .bits
                .get((age / 64) as usize)
                .is_some_and(|w| w & (1 << (age % 64)) != 0)
    }

    fn set(&mut self, seq: u32) {
        if seq > self.top {
            let shift = seq - self.top;
            self.shift(shift);
            self.top = seq;
        }
        let age = self.top - seq;
        if age < WINDOW
            && let Some(w) = self.bits.get_mut((age / 64) as usize)
        {
            *w |= 1 << (age % 64);
        }
    }

    /// Age every bit by `n`.
    fn shift(&mut self, n: u32) {
        if n >= WINDOW {
            self.bits = Default::default();
            return;
        }
        let (words, bits) = ((n / 64) as usize, n % 64);
        let len = self.bits.len();
        for i in (0..len).rev() {
            let hi = i.checked_sub(words).and_then(|j| self.bits.get(j)).copied();
            let lo = i
                .checked_sub(words + 1)
                .and_then(|j| self.bits.get(j))
                .copied();
            let v = match (hi, bits) {
                (None, _) => 0,
                (Some(h), 0) => h,
                (Some(h), b) => (h << b) | lo.map_or(0, |l| l >> (64 - b)),
            };
            if let Some(w) = self.bits.get_mut(i) {
                *w = v;
            }
        }
    }
}

/// The duplicate table: a bounded LRU of [`Key`] → window of sequence numbers.
#[derive(Debug)]
pub struct Dedupe {
    capacity: usize,
    tick: u64,
    map: HashMap<Key, (Window, u64)>,
    // last use → key, to find the least recently used one
    order: BTreeMap<u64, Key>,
    evicted: u64,
}

impl Dedupe {
    /// A table holding at most `capacity` keys (at least 1).
    pub fn new(capacity: usize) -> Dedupe {
        Dedupe {
            capacity: capacity.max(1),
            tick: 0,
            map: HashMap::new(),
            order: BTreeMap::new(),
            evicted: 0,
        }
    }

    /// Whether `seq` was already accepted for `key`.
    pub fn seen(&mut self, key: &Key, seq: u32) -> bool {
        let tick = self.next_tick();
        match self.map.get_mut(key) {
            Some((w, used)) => {
                self.order.remove(used);
                *used = tick;
                self.order.insert(tick, key.clone());
                w.has(seq)
            }
            None => false,
        }
    }

    /// Record that `seq` was accepted for `key`.
    pub fn accepted(&mut self, key: &Key, seq: u32) {
        let tick = self.next_tick();
        if let Some((w, used)) = self.map.get_mut(key) {
            w.set(seq);
            self.order.remove(used);
            *used = tick;
            self.order.insert(tick, key.clone());
            return;
        }
        while self.map.len() >= self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.map.remove(&oldest);
            self.evicted += 1;
        }
        let mut w = Window {
            top: seq,
            ..Window::default()
        };
        w.set(seq);
        self.map.insert(key.clone(), (w, tick));
        self.order.insert(tick, key.clone());
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Keys evicted so far to stay within the capacity.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(sensor: &str, boot: u32) -> Key {
        Key {
            device: "10.0.0.2".into(),
            sensor: sensor.into(),
            boot,
        }
    }

    #[test]
    fn only_accepted_numbers_are_duplicates() {
        let mut d = Dedupe::new(10);
        let k = key("S", 7);
        assert!(!d.seen(&k, 0));
        // seen but not accepted (e.g. answered 503): still new
        assert!(!d.seen(&k, 0));
        d.accepted(&k, 0);
        assert!(d.seen(&k, 0));
        assert!(!d.seen(&k, 1));
    }

    #[test]
    fn a_new_boot_is_a_new_sequence_space() {
        let mut d = Dedupe::new(10);
        for s in 0..100 {
            d.accepted(&key("S", 1), s);
        }
        assert!(d.seen(&key("S", 1), 5));
        assert!(!d.seen(&key("S", 2), 5));
        assert!(!d.seen(&key("T", 1), 5), "another sensor");
    }

    #[test]
    fn window_slides_and_accepts_out_of_order() {
        let mut d = Dedupe::new(10);
        let k = key("S", 1);
        // 3 answered 503, 4..10 accepted: 3's resend is still new
        for s in (0..3).chain(4..10) {
            d.accepted(&k, s);
        }
        assert!(!d.seen(&k, 3));
        d.accepted(&k, 3);
        assert!(d.seen(&k, 3));
        // far ahead: the old numbers leave the window and are forwarded again
        d.accepted(&k, 10 + WINDOW);
        assert!(!d.seen(&k, 9));
        for s in 11..WINDOW + 10 {
            assert!(!d.seen(&k, s), "{s}");
        }
        // every shift amount keeps exactly the accepted bits
        for step in [1u32, 63, 64, 65, 127, 128, 200, 255] {
            let mut d = Dedupe::new(1);
            let k = key("S", step);
            let accepted: Vec<u32> = (0..600).step_by(step as usize).collect();
            for &s in &accepted {
                d.accepted(&k, s);
            }
            let top = *accepted.last().unwrap_or(&0);
            for s in top.saturating_sub(WINDOW - 1)..=top {
                assert_eq!(d.seen(&k, s), accepted.contains(&s), "step {step} seq {s}");
            }
        }
    }

    #[test]
    fn bounded_least_recently_used_goes_first() {
        let mut d = Dedupe::new(3);
        for i in 0..3 {
            d.accepted(&key(&format!("S{i}"), 1), 1);
        }
        // S0 used again: S1 is now the oldest
        assert!(d.seen(&key("S0", 1), 1));
        d.accepted(&key("S3", 1), 1);
        assert_eq!(d.len(), 3);
        assert_eq!(d.evicted(), 1);
        assert!(d.seen(&key("S0", 1), 1));
        assert!(
            !d.seen(&key("S1", 1), 1),
            "evicted: forwarded again, never lost"
        );
        for i in 0..300_000 {
            d.accepted(&key(&format!("N{i}"), 1), 0);
        }
        assert_eq!(d.len(), 3);
    }
}
