//! The fault schedule: a gateway outage, a modem reboot and a Wi-Fi drop, each at a second of
//! the run, each once.

use std::fmt;

/// A fault, or the end of one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// The built-in gateway stops answering for this many seconds.
    GatewayDown {
        /// Seconds until it is back.
        seconds: f64,
    },
    /// The built-in gateway answers again.
    GatewayBack,
    /// The modem reboots.
    ModemReboot,
    /// The Wi-Fi network drops the modem.
    WifiDrop,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::GatewayDown { seconds } => write!(f, "gateway goes down for {seconds:.1} s"),
            Self::GatewayBack => f.write_str("gateway is back"),
            Self::ModemReboot => f.write_str("modem reboots"),
            Self::WifiDrop => f.write_str("Wi-Fi drops"),
        }
    }
}

/// When each fault happens (seconds from the start of streaming), and which have happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    outage_at: Option<f64>,
    outage_for: f64,
    reboot_at: Option<f64>,
    wifi_drop_at: Option<f64>,
    outage_done: bool,
    outage_end: Option<f64>,
    reboot_done: bool,
    drop_done: bool,
}

impl Schedule {
    /// A gateway outage at `outage_at` for `outage_for` seconds, a modem reboot at
    /// `reboot_at`, a Wi-Fi drop at `wifi_drop_at`; `None`: not that fault.
    pub fn new(
        outage_at: Option<f64>,
        outage_for: f64,
        reboot_at: Option<f64>,
        wifi_drop_at: Option<f64>,
    ) -> Self {
        Self {
            outage_at,
            outage_for,
            reboot_at,
            wifi_drop_at,
            outage_done: false,
            outage_end: None,
            reboot_done: false,
            drop_done: false,
        }
    }

    /// The faults due at `t` seconds that have not happened yet, in the order they are applied:
    /// the outage starts, the outage ends (the same call when it lasts 0 s), the modem reboots,
    /// the Wi-Fi drops.
    pub fn due(&mut self, t: f64) -> Vec<Fault> {
        let mut faults = Vec::new();
        if let Some(at) = self.outage_at
            && !self.outage_done
            && t >= at
        {
            faults.push(Fault::GatewayDown {
                seconds: self.outage_for,
            });
            self.outage_done = true;
            self.outage_end = Some(at + self.outage_for);
        }
        if let Some(end) = self.outage_end
            && t >= end
        {
            faults.push(Fault::GatewayBack);
            self.outage_end = None;
        }
        if let Some(at) = self.reboot_at
            && !self.reboot_done
            && t >= at
        {
            faults.push(Fault::ModemReboot);
            self.reboot_done = true;
        }
        if let Some(at) = self.wifi_drop_at
            && !self.drop_done
            && t >= at
        {
            faults.push(Fault::WifiDrop);
            self.drop_done = true;
        }
        faults
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fault seen stepping from 0 to `until` in `step`s, with the time it came due.
    fn timeline(s: &mut Schedule, until: f64, step: f64) -> Vec<(f64, Fault)> {
        let mut out = Vec::new();
        let mut t = 0.0;
        while t < until {
            out.extend(s.due(t).into_iter().map(|f| (t, f)));
            t += step;
        }
        out
    }

    #[test]
    fn the_ci_schedule_each_fault_once_in_order() {
        let mut s = Schedule::new(Some(2.0), 2.0, Some(6.0), Some(9.0));
        let got = timeline(&mut s, 12.0, 0.25);
        assert_eq!(
            got,
            [
                (2.0, Fault::GatewayDown { seconds: 2.0 }),
                (4.0, Fault::GatewayBack),
                (6.0, Fault::ModemReboot),
                (9.0, Fault::WifiDrop),
            ]
        );
        assert!(s.due(100.0).is_empty(), "nothing happens twice");
    }

    #[test]
    fn a_late_poll_applies_everything_due_at_once() {
        let mut s = Schedule::new(Some(1.0), 0.5, Some(1.0), Some(1.0));
        assert!(s.due(0.99).is_empty());
        assert_eq!(
            s.due(3.0),
            [
                Fault::GatewayDown { seconds: 0.5 },
                Fault::GatewayBack,
                Fault::ModemReboot,
                Fault::WifiDrop,
            ]
        );
    }

    #[test]
    fn an_outage_of_zero_seconds_ends_where_it_starts() {
        let mut s = Schedule::new(Some(2.0), 0.0, None, None);
        assert!(s.due(1.0).is_empty());
        assert_eq!(
            s.due(2.0),
            [Fault::GatewayDown { seconds: 0.0 }, Fault::GatewayBack]
        );
    }

    #[test]
    fn no_faults_without_a_schedule() {
        let mut s = Schedule::new(None, 3.0, None, None);
        assert!(timeline(&mut s, 100.0, 0.5).is_empty());
    }

    #[test]
    fn faults_read_as_the_run_prints_them() {
        assert_eq!(
            Fault::GatewayDown { seconds: 2.0 }.to_string(),
            "gateway goes down for 2.0 s"
        );
        assert_eq!(Fault::GatewayBack.to_string(), "gateway is back");
        assert_eq!(Fault::ModemReboot.to_string(), "modem reboots");
        assert_eq!(Fault::WifiDrop.to_string(), "Wi-Fi drops");
    }
}
