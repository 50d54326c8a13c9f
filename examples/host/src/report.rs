//! What a run prints: a line per delivered reading, a progress line every two seconds, and the
//! summary at the end (whose labels the gateway's tests read).

use std::fmt;

use scale_node::telemetry::flags;
use scale_node::{Kind, NodeStats, Reading, State};

/// The reading's kind as the run prints it, padded to one width.
pub fn describe(kind: Kind) -> &'static str {
    match kind {
        Kind::Weight => "weight  ",
        Kind::Amount => "left    ",
        Kind::Volume => "volume  ",
        Kind::LowStock => "LOW MILK",
        Kind::SensorFault => "SENSOR FAULT",
        _ => "other   ",
    }
}

/// The unit of a reading's value.
pub fn unit(kind: Kind) -> &'static str {
    match kind {
        Kind::Weight => "g",
        Kind::Amount | Kind::LowStock => "%",
        Kind::Volume => "ml",
        Kind::SensorFault | _ => "",
    }
}

/// The line for a reading the gateway acknowledged at `t` seconds.
pub fn delivered(t: f64, r: &Reading) -> String {
    format!(
        "[{t:6.2}s] #{:<4} {} {:>8} {:<2} delivered{}",
        r.seq,
        describe(r.kind),
        format!("{}.{:02}", r.centi / 100, (r.centi % 100).abs()),
        unit(r.kind),
        if r.flags & flags::RETRY != 0 {
            " (retried)"
        } else {
            ""
        }
    )
}

/// The progress line at `t` seconds of a run of `seconds`.
pub fn progress(t: f64, seconds: f64, state: State, s: &NodeStats, queued: usize) -> String {
    let pct = (t / seconds * 100.0).min(100.0);
    format!(
        "[{t:6.2}s] ---- {pct:3.0}% | state {state:?} | taken {} sent {} acked {} queued {queued}",
        s.readings, s.sent, s.acked
    )
}

/// The end of a run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    /// Seconds from the start of streaming to the end of the drain.
    pub seconds: f64,
    /// Weight readings taken.
    pub readings: u32,
    /// Lines sent, retries included.
    pub sent: u32,
    /// Lines sent again.
    pub retried: u32,
    /// This boot's id.
    pub boot_id: u32,
    /// Readings acknowledged (2xx).
    pub acked: u32,
    /// Readings refused (400/413): they reached the gateway, which said no.
    pub refused: u32,
    /// Replies that were not a status.
    pub bad_replies: u32,
    /// Readings still in the node's queue.
    pub queued: usize,
    /// Readings dropped from a full queue.
    pub dropped: u32,
    /// Successful joins.
    pub joins: u32,
    /// Gateway connections opened.
    pub connects: u32,
    /// Modem resets.
    pub modem_resets: u32,
    /// Lines the built-in gateway received (`None` with an external gateway).
    pub gateway_lines: Option<usize>,
    /// UART bytes to the modem.
    pub uart_tx: u64,
    /// UART bytes from the modem.
    pub uart_rx: u64,
}

impl Summary {
    /// The node's counters after `seconds`, with its boot id and queue length.
    pub fn new(seconds: f64, s: &NodeStats, boot_id: u32, queued: usize) -> Self {
        Self {
            seconds,
            readings: s.readings,
            sent: s.sent,
            retried: s.retried,
            boot_id,
            acked: s.acked,
            refused: s.refused,
            bad_replies: s.bad_replies,
            queued,
            dropped: s.dropped,
            joins: s.joins,
            connects: s.connects,
            modem_resets: s.modem_resets,
            gateway_lines: None,
            uart_tx: 0,
            uart_rx: 0,
        }
    }

    /// Readings that never reached the gateway: dropped, or still queued. (A refused reading
    /// reached the gateway, which said no: counted as refused, not lost.)
    pub fn lost(&self) -> usize {
        self.dropped as usize + self.queued
    }

    /// An error when a reading was lost.
    pub fn check(&self) -> Result<(), String> {
        match self.lost() {
            0 => Ok(()),
            n => Err(format!("{n} readings not delivered")),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "summary after {:.1} s", self.seconds)?;
        writeln!(f, "  weight readings taken    {}", self.readings)?;
        writeln!(
            f,
            "  lines sent               {} (retries {})",
            self.sent, self.retried
        )?;
        writeln!(f, "  boot id                  {}", self.boot_id)?;
        writeln!(f, "  acknowledged (2xx)       {}", self.acked)?;
        writeln!(f, "  refused (400/413)        {}", self.refused)?;
        writeln!(f, "  replies not a status     {}", self.bad_replies)?;
        writeln!(f, "  still queued             {}", self.queued)?;
        writeln!(f, "  dropped (queue full)     {}", self.dropped)?;
        writeln!(f, "  lost                     {}", self.lost())?;
        writeln!(
            f,
            "  joins / connects / modem resets  {} / {} / {}",
            self.joins, self.connects, self.modem_resets
        )?;
        if let Some(n) = self.gateway_lines {
            writeln!(f, "  lines at the gateway     {n}")?;
        }
        write!(
            f,
            "  UART bytes               {} to the modem, {} from it",
            self.uart_tx, self.uart_rx
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(kind: Kind, centi: i32, flags: u8) -> Reading {
        Reading {
            seq: 7,
            kind,
            centi,
            flags,
            at_ms: 0,
        }
    }

    #[test]
    fn delivered_lines() {
        assert_eq!(
            delivered(1.5, &reading(Kind::Weight, 105_012, 0)),
            "[  1.50s] #7    weight    1050.12 g  delivered"
        );
        assert_eq!(
            delivered(12.0, &reading(Kind::Amount, 8_005, flags::RETRY)),
            "[ 12.00s] #7    left        80.05 %  delivered (retried)"
        );
        assert_eq!(
            delivered(0.0, &reading(Kind::Weight, -250, 0)),
            "[  0.00s] #7    weight      -2.50 g  delivered"
        );
        assert_eq!(
            delivered(0.0, &reading(Kind::SensorFault, 0, 0)),
            "[  0.00s] #7    SENSOR FAULT     0.00    delivered"
        );
    }

    #[test]
    fn progress_is_capped_at_100_percent() {
        let mut s = NodeStats::default();
        (s.readings, s.sent, s.acked) = (3, 9, 8);
        assert_eq!(
            progress(2.0, 8.0, State::Stream, &s, 1),
            "[  2.00s] ----  25% | state Stream | taken 3 sent 9 acked 8 queued 1"
        );
        assert!(progress(9.0, 8.0, State::Stream, &s, 0).contains("100%"));
    }

    #[test]
    fn the_summary_reads_as_the_gateway_tests_parse_it() {
        let mut s = NodeStats::default();
        (s.readings, s.sent, s.acked) = (20, 61, 61);
        (s.joins, s.connects, s.modem_resets) = (4, 4, 1);
        let mut sum = Summary::new(12.04, &s, 42, 0);
        sum.gateway_lines = Some(61);
        sum.uart_tx = 5870;
        sum.uart_rx = 5613;
        let text = sum.to_string();
        let value = |label: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(label))
                .map(str::trim)
                .unwrap_or_else(|| panic!("no {label} in {text}"))
                .to_string()
        };
        assert_eq!(text.lines().next(), Some("summary after 12.0 s"));
        assert_eq!(value("acknowledged (2xx)"), "61");
        assert_eq!(value("lines sent"), "61 (retries 0)");
        assert_eq!(value("boot id"), "42");
        assert_eq!(value("lost"), "0");
        assert_eq!(value("joins / connects / modem resets"), "4 / 4 / 1");
        assert_eq!(value("lines at the gateway"), "61");
        assert_eq!(value("UART bytes"), "5870 to the modem, 5613 from it");
        assert!(sum.check().is_ok());
        sum.gateway_lines = None;
        assert!(!sum.to_string().contains("lines at the gateway"));
    }

    #[test]
    fn dropped_and_queued_readings_are_lost() {
        let mut s = NodeStats::default();
        (s.dropped, s.refused) = (2, 5);
        let sum = Summary::new(1.0, &s, 1, 3);
        assert_eq!(sum.lost(), 5, "refused readings are not lost");
        assert_eq!(sum.check(), Err("5 readings not delivered".to_string()));
    }
}
