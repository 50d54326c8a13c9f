//! The node: a pollable state machine (and an async loop around it).

use avia_hx711::filter::{Estimator, Window};
use embedded_hal::digital::OutputPin;
use embedded_storage::Storage;
use heapless::Vec;

use crate::config::{NodeConfig, SetupReply};
use crate::fmt::LineBuf;
#[cfg(feature = "async")]
use crate::hal::{AsyncUplink, SensorWait};
use crate::hal::{Clock, Fault, Sensor, Uplink, UplinkStatus};
use crate::led::{BlinkCode, Blinker};
use crate::telemetry::{
    AckParser, BadReply, Kind, MAX_LINE, Prng, Reading, StatusClass, flags, format_line,
};
use esp_at::Rom;

/// Supervisor and measurement settings that are not part of the provisioned configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// SSID of the setup access point.
    pub setup_ssid: &'static str,
    /// TCP port of the setup server.
    pub setup_port: u16,
    /// How long to wait for the gateway's status, ms.
    pub ack_timeout_ms: u32,
    /// Lines sent before waiting for their statuses (1 for the article's gateway).
    pub window: u8,
    /// First retry delay, ms (doubles up to `backoff_max_ms`). It applies after a failure, a
    /// dropped link, a reply that is not a status and a status that asks for a retry; the
    /// actual wait is drawn between half of the current delay and all of it, and the delay
    /// goes back to this one only when the gateway acknowledges a reading.
    pub backoff_base_ms: u32,
    /// Longest retry delay, ms.
    pub backoff_max_ms: u32,
    /// Consecutive failures before the modem is reset.
    pub reset_after: u8,
    /// How samples become a reading.
    pub estimator: Estimator,
    /// Spread above which a reading is flagged unstable, centigrams.
    pub stable_cg: i32,
    /// Hysteresis of the low-stock alert, hundredths of a percent.
    pub low_hysteresis: i32,
    /// This boot's id: the last field of the extended line, fixed for the life of one boot and
    /// different (with high probability) after the next, so that a gateway does not take the
    /// readings of a rebooted node, whose sequence numbers start again at 0, for duplicates.
    /// It also seeds the back-off's jitter (which then takes in the load cell's samples too), so
    /// nodes that lose the same gateway do not come back in lockstep.
    ///
    /// Take it from the board: a hardware random number generator (the STM32F4's `RNG`, the
    /// RP2040's ring oscillator `RANDOMBIT` read 32 times), or the noise of a floating ADC
    /// input, or a boot counter kept in EEPROM mixed with a free-running timer. On a PC, any
    /// random number (`scale_node::loopback::random_boot_id`).
    ///
    /// 0 (the default): the node derives one from its clock at boot and the raw samples of its
    /// first reading. That is weak: a board whose clock starts at 0 at reset reads the same
    /// time at every boot, and what varies is the low bits of the load cell's noise, a few
    /// bits per sample; two boots with the same load can repeat an id.
    pub boot_id: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            setup_ssid: "Scale-Setup",
            setup_port: 333,
            ack_timeout_ms: 3_000,
            window: 1,
            backoff_base_ms: 1_000,
            backoff_max_ms: 60_000,
            reset_after: 4,
            estimator: Estimator::Median,
            stable_cg: 100,
            low_hysteresis: 500,
            boot_id: 0,
        }
    }
}

/// What the node is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum State {
    /// Loading the configuration.
    Boot,
    /// SoftAP setup mode, waiting for `key=value` lines.
    Setup,
    /// Joining Wi-Fi.
    Join,
    /// Connecting to the gateway.
    Connect,
    /// Streaming readings.
    Stream,
}

/// Something that happened, for logs and displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum NodeEvent {
    /// Setup mode is running.
    SetupStarted,
    /// A new configuration was committed and stored.
    ConfigCommitted,
    /// The scale was tared at boot (no stored calibration): the offset.
    Tared(i32),
    /// Joined Wi-Fi.
    Joined,
    /// Joining failed; retrying after a back-off.
    JoinFailed,
    /// Connected to the gateway.
    Connected,
    /// The gateway connection was lost.
    LinkLost,
    /// The modem was reset.
    ModemReset,
    /// A reading was taken and queued.
    Measured(Reading),
    /// The gateway acknowledged a reading (2xx).
    Delivered(Reading),
    /// The gateway answered a status that asks for a retry (5xx, 401, 403, 429 ...): the
    /// reading (this sequence number) stays queued and goes again, with what was in flight,
    /// after a back-off.
    Rejected(u32, u16),
    /// The gateway refused this reading for good (`400`: a line it cannot use, `413`: too
    /// large): it left the queue (not delivered, not lost: counted in `NodeStats::refused`).
    Refused(Reading, u16),
    /// The peer answered something that is not a status (this byte): it is not a scale
    /// gateway (a web server on the gateway's port, say). Nothing in flight counts as
    /// delivered; the node hangs up and tries again after a back-off.
    BadReply(u8),
    /// The queue was full: the oldest undelivered reading was dropped.
    Dropped(Reading),
    /// The sensor did not answer.
    SensorFault,
}

/// Counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct NodeStats {
    /// Readings taken.
    pub readings: u32,
    /// Lines sent (retries included).
    pub sent: u32,
    /// Readings acknowledged (2xx).
    pub acked: u32,
    /// Readings the gateway refused for good (`400`, `413`): they left the queue undelivered.
    pub refused: u32,
    /// Replies that were not a stream of statuses (the peer is not a scale gateway).
    pub bad_replies: u32,
    /// Lines sent again after a failure.
    pub retried: u32,
    /// Readings dropped from a full queue.
    pub dropped: u32,
    /// Sensor faults: readings that could not be completed in their time budget.
    pub sensor_faults: u32,
    /// Samples dropped because their frame went wrong (a typed driver error such as `DOUT`
    /// still low after the frame); the reading goes on with the next sample.
    pub sample_errors: u32,
    /// Successful joins.
    pub joins: u32,
    /// Failed joins.
    pub join_failures: u32,
    /// Gateway connections opened.
    pub connects: u32,
    /// Modem resets.
    pub modem_resets: u32,
}

const EVENTS: usize = 8;

/// `Vec::remove` without memmove (whose code costs 650 bytes on AVR): the items after `idx`
/// are copied down one by one. `None` past the end.
fn remove_at<T: Copy, const N: usize>(v: &mut Vec<T, N>, idx: usize) -> Option<T> {
    let out = *v.get(idx)?;
    for i in idx + 1..v.len() {
        if let Some(&next) = v.get(i)
            && let Some(slot) = v.get_mut(i - 1)
        {
            *slot = next;
        }
    }
    v.pop();
    Some(out)
}

/// `now` is at or after `deadline`, both [`Clock`] milliseconds that wrap (deadlines up to 24.8
/// days ahead).
#[inline]
pub fn reached(now: u32, deadline: u32) -> bool {
    now.wrapping_sub(deadline) < 0x8000_0000
}

/// The weight-sensor node. `Q` is the store-and-forward capacity in readings.
// In declaration order (`repr(C)`), small and often-used fields first: an AVR reaches the
// first 64 bytes of a structure with one instruction and pays three more beyond them.
#[repr(C)]
pub struct Node<S, U: UplinkStatus, C, L, St, const Q: usize = 16> {
    state: State,
    force_setup: bool,
    collecting: bool,
    saturated: bool,
    sensor_fault: bool,
    powered_down: bool,
    low_alerted: bool,
    setup_started: bool,
    failures: u8,
    /// Statuses still to come for lines that were in flight when one of them was rejected
    /// (they are sent again: their old answers are skipped).
    owed: u8,
    in_flight: usize,
    sent_at: u32,
    seq: u32,
    next_reading: u32,
    /// When the reading under way started, plus the time the loop spent elsewhere since.
    started: u32,
    /// When `measure` last ran.
    looked_at: u32,
    backoff: u32,
    next_attempt: u32,
    /// This boot's id (0 until derived, at the first reading, when `Settings::boot_id` is 0).
    boot: u32,
    /// The jitter's generator, seeded from the boot id and fed the samples (it derives the
    /// boot id when there is none).
    rng: Prng,
    ack: AckParser,
    clock: C,
    led: Blinker<L>,
    settings: Settings,
    stats: NodeStats,
    last_error: Option<U::Error>,
    sensor: S,
    storage: St,
    events: heapless::Deque<NodeEvent, EVENTS>,
    queue: Vec<Reading, Q>,
    config: Option<NodeConfig>,
    window: Window<32>,
    // the longest valid line is 73 bytes (`password=` and 64); every line buffer has the one
    // size, so their code is there once
    setup_line: LineBuf<MAX_LINE>,
    uplink: U,
}

/// What the node is doing, without its parts (the pins, the UART, the storage need no `Debug`)
/// and without the configuration's password.
impl<S, U: UplinkStatus, C, L, St, const Q: usize> core::fmt::Debug for Node<S, U, C, L, St, Q> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Node")
            .field("state", &self.state)
            .field("boot_id", &self.boot)
            .field("queued", &self.queue.len())
            .field("in_flight", &self.in_flight)
            .field("stats", &self.stats)
            .field("last_error", &self.last_error)
            .field(
                "sensor_id",
                &self.config.as_ref().map(|c| c.sensor_id.as_str()),
            )
            .finish_non_exhaustive()
    }
}

impl<S, U, C, L, St, const Q: usize> Node<S, U, C, L, St, Q>
where
    S: Sensor,
    U: UplinkStatus,
    C: Clock,
    L: OutputPin,
    St: Storage,
{
    /// A node. `initial` is used when the storage holds no configuration (e.g. from build-time
    /// environment variables); with neither, or with `force_setup` (a setup button held at
    /// boot), the node starts in setup mode.
    ///
    /// The queue's capacity is the type's last parameter, named where the node is declared
    /// (a const generic's default is not inferred): `let node: Node<_, _, _, _, _, 16> =
    /// Node::new(...)`.
    #[allow(clippy::too_many_arguments)] // each is a separate resource the node owns
    // inlined: the node is built where it will live, not copied there from the arguments
    pub fn new(
        sensor: S,
        uplink: U,
        clock: C,
        led: L,
        storage: St,
        settings: Settings,
        initial: Option<NodeConfig>,
        force_setup: bool,
    ) -> Self {
        Node {
            sensor,
            uplink,
            clock,
            led: Blinker::new(led),
            storage,
            settings,
            config: initial,
            force_setup,
            state: State::Boot,
            queue: Vec::new(),
            in_flight: 0,
            sent_at: 0,
            seq: 0,
            window: Window::new(),
            collecting: false,
            saturated: false,
            next_reading: 0,
            started: 0,
            looked_at: 0,
            sensor_fault: false,
            powered_down: false,
            low_alerted: false,
            backoff: settings.backoff_base_ms,
            next_attempt: 0,
            boot: settings.boot_id,
            rng: Prng::new(settings.boot_id),
            failures: 0,
            owed: 0,
            ack: AckParser::default(),
            setup_started: false,
            setup_line: LineBuf::new(),
            events: heapless::Deque::new(),
            stats: NodeStats::default(),
            last_error: None,
        }
    }

    /// Provision the configuration in place, before the first [`poll`](Self::poll): `fill`
    /// edits the defaults (with `build_settings!`, say) and the result is used as `initial`
    /// in [`new`](Self::new) would be. No copy of the configuration is made, which on an 8-bit
    /// MCU keeps its 300-odd bytes off `main`'s stack. `Err` (from `fill`, or after the first
    /// poll) leaves the node without one: it starts in setup mode unless storage holds one.
    /// On a board: `Node::new(.., None, force_setup)`, then
    /// `node.provision(|cfg| scale_node::build_settings!(cfg, "Scale.Arduino"))`.
    #[inline(never)] // one copy: keeps small targets (AVR) small
    pub fn provision(
        &mut self,
        fill: impl FnOnce(&mut NodeConfig) -> Result<(), Rom>,
    ) -> Result<(), Rom> {
        if self.state != State::Boot {
            return Err(rom!(b"the node is running"));
        }
        let r = fill(self.config.insert(NodeConfig::default()));
        if r.is_err() {
            self.config = None;
        }
        r
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Counters.
    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// The running configuration (`None` in setup mode, where it is being edited).
    pub fn config(&self) -> Option<&NodeConfig> {
        match self.state {
            State::Boot | State::Setup => None,
            _ => self.config.as_ref(),
        }
    }

    /// This boot's id, as the extended lines carry it: `Settings::boot_id`, or the one derived
    /// at the first reading when that is 0 (0 until then).
    pub fn boot_id(&self) -> u32 {
        self.boot
    }

    /// Readings waiting for delivery.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The last uplink error (typed, from the driver).
    pub fn last_error(&self) -> Option<&U::Error> {
        self.last_error.as_ref()
    }

    /// The blink code playing now.
    pub fn blinking(&self) -> Option<BlinkCode> {
        self.led.playing()
    }

    /// Blink codes started so far.
    pub fn blinks(&self) -> u32 {
        self.led.played()
    }

    /// The next event, if any (events beyond 8 unread ones are dropped oldest first).
    pub fn next_event(&mut self) -> Option<NodeEvent> {
        self.events.pop_front()
    }

    /// The uplink (for diagnostics).
    pub fn uplink(&mut self) -> &mut U {
        &mut self.uplink
    }

    /// The configuration storage.
    pub fn storage(&mut self) -> &mut St {
        &mut self.storage
    }

    /// The sensor.
    pub fn sensor(&mut self) -> &mut S {
        &mut self.sensor
    }

    /// Give everything back.
    pub fn release(self) -> (S, U, C, L, St) {
        (
            self.sensor,
            self.uplink,
            self.clock,
            self.led.release(),
            self.storage,
        )
    }

    fn emit(&mut self, e: NodeEvent) {
        if self.events.is_full() {
            self.events.pop_front();
        }
        let _ = self.events.push_back(e);
    }

    #[inline(never)] // one copy: keeps small targets (AVR) small
    /// Load the stored configuration in place; `false` (and the configuration as it was, or
    /// the defaults where there was none) when the storage holds none.
    fn load_stored(&mut self) -> bool {
        // read in place, entry by entry: no copy of the record or the configuration on the stack
        self.config
            .get_or_insert_with(NodeConfig::default)
            .load_from(&mut self.storage)
            .is_ok()
    }

    #[inline(never)] // one copy: keeps small targets (AVR) small
    fn measure(&mut self, now: u32) {
        let Some(cfg) = self.config.as_ref() else {
            return;
        };
        let cfg_samples = cfg.samples.max(1);
        let samples = usize::from(cfg_samples);
        let interval = cfg.interval_ms;
        // time the loop spent elsewhere (a join, a modem reset) beyond one sample period is not
        // the sensor's: it does not count towards the reading's budget
        let away = now.wrapping_sub(self.looked_at);
        self.looked_at = now;
        let period = self.sensor.sample_period_ms();
        if self.collecting && away > period {
            self.started = self.started.wrapping_add(away - period);
        }
        if self.powered_down
            && reached(
                now.wrapping_add(self.sensor.wake_time_ms()),
                self.next_reading,
            )
            && self.sensor.power_up().is_ok()
        {
            self.powered_down = false;
        }
        if !self.collecting {
            if !reached(now, self.next_reading) {
                return;
            }
            self.collecting = true;
            self.started = now;
            self.window.clear();
            self.saturated = false;
        }
        let fault = match self.sensor.sample() {
            Ok(Some((raw, sat))) => {
                // the load cell's noise: entropy for the jitter (and a derived boot id)
                self.rng.mix(raw as u32);
                self.window.push(raw);
                self.saturated |= sat;
                self.sensor_fault = false;
                false
            }
            Ok(None) | Err(nb::Error::WouldBlock) => self.over_budget(now, cfg_samples),
            Err(nb::Error::Other(_)) => {
                // the sample is lost (the driver also restarts its settling count)
                self.stats.sample_errors = self.stats.sample_errors.wrapping_add(1);
                self.over_budget(now, cfg_samples)
            }
        };
        if fault {
            self.stats.sensor_faults += 1;
            self.emit(NodeEvent::SensorFault);
            if !self.sensor_fault {
                self.sensor_fault = true;
                self.enqueue(Kind::SensorFault, 0, 0, now);
            }
            self.collecting = false;
            self.next_reading = now.wrapping_add(interval);
            // a chip that lost power comes back powered down or mid-frame: wake it
            let _ = self.sensor.power_up();
            return;
        }
        if self.window.len() < samples {
            return;
        }
        self.finish_reading(now);
    }

    /// The reading under way has taken far longer than settling plus its samples, in time the
    /// loop spent looking at the sensor. DOUT stuck high (unplugged, unpowered) never errors in
    /// a non-blocking read, and one bad frame is no reason to give up: this is what makes a
    /// sensor fault.
    #[inline(never)] // one copy: keeps small targets (AVR) small
    fn over_budget(&self, now: u32, samples: u8) -> bool {
        let budget = self
            .reading_time_ms(2 * u32::from(samples))
            .saturating_add(500);
        now.wrapping_sub(self.started) > budget && reached(now, self.started)
    }

    /// Waking the sensor plus `samples` conversions, ms (`samples` up to 510).
    fn reading_time_ms(&self, samples: u32) -> u32 {
        // a sample period is at most 2^32 µs, 4 294 968 ms: 510 of them fit 32 bits, so a
        // plain multiplication (a checked one costs an AVR a 64-bit product)
        let samples_ms = samples.min(510) * self.sensor.sample_period_ms().min(4_294_968);
        self.sensor.wake_time_ms().saturating_add(samples_ms)
    }

    #[inline(never)] // one copy: keeps small targets (AVR) small
    fn finish_reading(&mut self, now: u32) {
        self.collecting = false;
        let Some(cfg) = self.config.as_ref().map(Plan::of) else {
            return;
        };
        let next = self.next_reading.wrapping_add(cfg.interval_ms);
        // never schedule into the past (a slow reading): at the latest, now
        self.next_reading = if reached(now, next) { now } else { next };
        let Some(raw) = self.window.estimate(self.settings.estimator) else {
            return;
        };
        let cal = cfg.calibration;
        let cg = cal.to_units(raw);
        let mut fl = 0u8;
        if let Some((lo, hi)) = self.window.span()
            && (cal.to_units(hi) - cal.to_units(lo)).abs() > self.settings.stable_cg
        {
            fl |= flags::UNSTABLE;
        }
        if self.saturated {
            fl |= flags::SATURATED;
        }
        self.stats.readings += 1;
        self.enqueue(Kind::Weight, cg, fl, now);
        #[cfg(feature = "stock")]
        self.stock_readings(&cfg, cg, fl, now);
        // power down until the next reading when that saves anything
        let busy = self.reading_time_ms(u32::from(cfg.samples));
        if cfg.interval_ms > busy.saturating_add(200) && self.sensor.power_down().is_ok() {
            self.powered_down = true;
        }
    }

    /// The "amount left" and volume readings and the low-stock alert that follow a weight
    /// (feature `stock`).
    #[cfg(feature = "stock")]
    fn stock_readings(&mut self, cfg: &Plan, cg: i32, fl: u8, now: u32) {
        if cfg.full_cg > cfg.container_cg {
            let span = i64::from(cfg.full_cg) - i64::from(cfg.container_cg);
            let pct = avia_hx711::math::div_trunc_i64(
                (i64::from(cg) - i64::from(cfg.container_cg)) * 10_000,
                span,
            )
            .clamp(0, 10_000) as i32;
            let low = cfg.low_centipct > 0 && pct < cfg.low_centipct;
            let afl = fl | if low { flags::LOW_STOCK } else { 0 };
            self.enqueue(Kind::Amount, pct, afl, now);
            if cfg.full_ml > 0 {
                // hundredths of a millilitre: pct is in hundredths of a percent
                let ml =
                    avia_hx711::math::div_trunc_i64(i64::from(pct) * i64::from(cfg.full_ml), 100);
                self.enqueue(
                    Kind::Volume,
                    ml.clamp(0, i64::from(i32::MAX)) as i32,
                    afl,
                    now,
                );
            }
            if low && !self.low_alerted {
                self.low_alerted = true;
                self.enqueue(Kind::LowStock, pct, afl, now);
            } else if pct >= cfg.low_centipct + self.settings.low_hysteresis {
                self.low_alerted = false;
            }
        }
    }

    #[inline(never)] // one copy: keeps small targets (AVR) small
    fn enqueue(&mut self, kind: Kind, centi: i32, fl: u8, now: u32) {
        if self.boot == 0 {
            // derived: fixed from the first reading on
            self.boot = self.rng.next_u32().max(1);
        }
        let r = Reading {
            seq: self.seq,
            kind,
            centi,
            flags: fl,
            at_ms: now,
        };
        self.seq = self.seq.wrapping_add(1);
        if self.queue.is_full() {
            // drop the oldest reading that is not on the wire
            let idx = self.in_flight.min(self.queue.len().saturating_sub(1));
            if let Some(old) = remove_at(&mut self.queue, idx) {
                self.stats.dropped += 1;
                self.emit(NodeEvent::Dropped(old));
            }
        }
        let _ = self.queue.push(r);
        self.emit(NodeEvent::Measured(r));
    }

    /// Retry time reached. A retry is never scheduled further ahead than the longest back-off,
    /// so a deadline that seems further away is one that went stale (over 24.8 days old).
    fn attempt_due(&self, now: u32) -> bool {
        reached(now, self.next_attempt)
            || self.next_attempt.wrapping_sub(now) > self.settings.backoff_max_ms
    }

    /// Wait before the next attempt: a delay drawn uniformly between half the current back-off
    /// and all of it ("equal jitter"), then the back-off doubles, up to `backoff_max_ms`.
    #[inline(never)] // one copy: keeps small targets (AVR) small
    fn back_off(&mut self, now: u32) {
        let backoff = self.backoff.min(self.settings.backoff_max_ms);
        let half = backoff >> 1;
        let jitter = self.rng.below(half + 1);
        self.next_attempt = now.wrapping_add(backoff - half + jitter);
        self.backoff = backoff.saturating_mul(2).min(self.settings.backoff_max_ms);
    }

    /// A failure of the link: back off, and count it towards a modem reset.
    fn schedule_retry(&mut self, now: u32) {
        self.back_off(now);
        self.failures = self.failures.saturating_add(1);
    }

    /// The gateway acknowledged a reading: the only thing that resets the back-off.
    fn acknowledged(&mut self) {
        self.backoff = self.settings.backoff_base_ms;
        self.failures = 0;
    }

    fn lose_in_flight(&mut self) {
        for r in self.queue.iter_mut().take(self.in_flight) {
            r.flags |= flags::RETRY;
        }
        self.in_flight = 0;
        self.ack.reset();
    }

    /// The gateway connection is gone: what was in flight goes again, over a new connection
    /// (after a new join if Wi-Fi went too), after a back-off.
    fn reconnect_later(&mut self, now: u32) {
        self.lose_in_flight();
        self.state = if self.uplink.is_joined() {
            State::Connect
        } else {
            State::Join
        };
        self.schedule_retry(now);
    }

    /// Apply one status from the gateway, which answers the lines in the order they were sent.
    #[inline(never)] // one copy: keeps small targets (AVR) small
    fn on_status(&mut self, status: u16, now: u32) {
        if self.owed > 0 {
            // the answer to a line that is to be sent again
            self.owed -= 1;
            return;
        }
        if self.in_flight == 0 {
            return;
        }
        let Some(&r) = self.queue.first() else {
            return;
        };
        let class = StatusClass::of(status);
        if class == StatusClass::Retry {
            self.emit(NodeEvent::Rejected(r.seq, status));
            // everything on the wire goes again, in order, after a back-off; the answers to the
            // lines behind this one are still to come and answer nothing
            self.owed = (self.in_flight - 1) as u8;
            self.lose_in_flight();
            self.back_off(now);
            return;
        }
        remove_at(&mut self.queue, 0);
        self.in_flight -= 1;
        if class == StatusClass::Delivered {
            self.stats.acked += 1;
            self.acknowledged();
            self.emit(NodeEvent::Delivered(r));
        } else {
            // for good: the lines behind it are not sent again because of it
            self.stats.refused += 1;
            self.emit(NodeEvent::Refused(r, status));
        }
    }
}

/// The node's steps that wait for the modem or the sensor, written once for both loops: the
/// blocking [`Node::poll`] (plain calls) and the async [`Node::step`] (the same calls, awaited).
/// The idents name each step's method in the loop being generated.
macro_rules! waiting_steps {
    (
        $($async_kw:ident)?; [$($await:tt)*];
        $(#[$entry_doc:meta])* $entry:ident, $sample_settled:ident;
        $boot:ident, $tare_if_needed:ident, $settled_raw:ident, $setup_command:ident,
        $scan_command:ident, $measuring_command:ident, $setup_step:ident, $failed:ident,
        $link:ident, $stream:ident, $hang_up:ident
    ) => {
    $(#[$entry_doc])*
    pub $($async_kw)? fn $entry(&mut self) {
        let now = self.clock.now_ms();
        self.led.update(now);
        match self.state {
            State::Boot => self.$boot(now)$($await)*,
            State::Setup => self.$setup_step(now)$($await)*,
            _ => {
                self.measure(now);
                self.$link(now)$($await)*;
            }
        }
    }

    /// The median of five settled, unsaturated samples (bounded by the sensor's deadlines);
    /// `None` when the sensor gives none.
    #[inline(never)] // one copy: keeps small targets (AVR) small
    $($async_kw)? fn $settled_raw(&mut self) -> Option<i32> {
        // in the node's own window: this runs at boot and in setup mode, where no reading is
        // being collected (a reading under way starts over)
        self.collecting = false;
        self.window.clear();
        for _ in 0..5 {
            if let Ok((raw, false)) = self.sensor.$sample_settled()$($await)* {
                self.window.push(raw);
            }
        }
        self.window.estimate(Estimator::Median)
    }

    #[inline(never)] // one copy: keeps small targets (AVR) small
    $($async_kw)? fn $boot(&mut self, now: u32) {
        // for a boot id to derive, and the jitter: the clock first, the samples next
        self.rng.mix(now);
        self.load_stored();
        // (a stored record whose CRC holds but whose fields do not validate loads as the
        // defaults, which do not validate either)
        if self.force_setup || self.config.as_ref().is_none_or(|c| c.validate().is_err()) {
            // setup edits the configuration in place, as a draft
            if self.config.is_none() {
                self.config = Some(NodeConfig::default());
            }
            self.state = State::Setup;
            return;
        }
        self.$tare_if_needed()$($await)*;
        self.state = State::Join;
        self.next_reading = now;
    }

    #[inline(never)] // one copy: keeps small targets (AVR) small
    $($async_kw)? fn $tare_if_needed(&mut self) {
        if self.config.as_ref().is_none_or(|c| c.calibrated) {
            return;
        }
        if let Some(offset) = self.$settled_raw()$($await)*
            && let Some(cfg) = self.config.as_mut()
        {
            cfg.calibration.set_offset(offset);
            self.emit(NodeEvent::Tared(offset));
        }
    }


    /// The setup commands other than `key=value`, `commit` and `abort`: `scan` (feature `scan`),
    /// `tare`, `calibrate=<grams>` and `weigh` (feature `guided-calibration`). A firmware built
    /// without them answers that they are not in it. `None`: an editing line.
    $($async_kw)? fn $setup_command(&mut self, out: &mut LineBuf<MAX_LINE>) -> Option<SetupReply> {
        let line = crate::config::trim(self.setup_line.as_bytes());
        #[cfg(not(all(feature = "scan", feature = "guided-calibration")))]
        let optional = rom!(b"\x04scan\x04tare\x05weigh")
            .position_in_list(line)
            .is_some()
            || rom!(b"calibrate=").is_prefix_of(line);
        #[cfg(feature = "scan")]
        if line == b"scan" {
            return Some(self.$scan_command(out)$($await)*);
        }
        #[cfg(feature = "guided-calibration")]
        if let Some(m) = Measure::parse(line) {
            return Some(self.$measuring_command(m, out)$($await)*);
        }
        let _ = &out;
        #[cfg(not(all(feature = "scan", feature = "guided-calibration")))]
        if optional {
            return Some(SetupReply::Err(rom!(b"not in this firmware")));
        }
        None
    }

    /// `scan`: one `AP <rssi> <channel> <open|secured> <ssid>` line per access point in range, strongest
    /// first (at most [`SCAN_MAX`]), before the `OK <n> networks` answer.
    #[cfg(feature = "scan")]
    #[inline(never)] // one copy: keeps small targets (AVR) small
    $($async_kw)? fn $scan_command(&mut self, out: &mut LineBuf<MAX_LINE>) -> SetupReply {
        let mut aps = [esp_at::AccessPoint::EMPTY; SCAN_MAX];
        let heard = match self.uplink.scan(&mut aps)$($await)* {
            Ok(n) => n,
            Err(e) => {
                self.last_error = Some(e);
                return SetupReply::Err(rom!(b"scan: the modem did not answer"));
            }
        };
        for ap in aps.iter().take(heard) {
            let mut line: LineBuf<64> = LineBuf::new();
            line.push_rom(rom!(b"AP "))
                .push_i32(i32::from(ap.rssi))
                .push(b" ")
                .push_u32(u32::from(ap.channel))
                .push_rom(if ap.is_open() {
                    rom!(b" open ")
                } else {
                    rom!(b" secured ")
                })
                .push(&ap.ssid)
                .push_rom(rom!(b"\r\n"));
            let _ = self.uplink.setup_send(line.as_bytes())$($await)*;
        }
        out.push(b" ")
            .push_u32(heard as u32)
            .push_rom(rom!(b" networks"));
        SetupReply::Ok
    }

    /// The setup commands that measure: `tare` (the empty scale's raw code becomes the offset),
    /// `calibrate=<grams>` (with that mass on the scale: the scale factor), and `weigh` (the
    /// load with the draft's calibration). What follows `OK` goes into `out`.
    #[cfg(feature = "guided-calibration")]
    #[inline(never)] // one copy: keeps small targets (AVR) small
    $($async_kw)? fn $measuring_command(&mut self, m: Measure, out: &mut LineBuf<MAX_LINE>) -> SetupReply {
        if m == Measure::Calibrate(None) {
            return SetupReply::Err(rom!(b"calibrate: a mass in grams, above 0"));
        }
        let Some(raw) = self.$settled_raw()$($await)* else {
            return SetupReply::Err(rom!(b"sensor: no settled reading"));
        };
        let draft = self.config.get_or_insert_with(NodeConfig::default);
        match m {
            Measure::Tare => {
                draft.calibration.set_offset(raw);
                out.push_rom(rom!(b" offset=")).push_i32(raw);
            }
            Measure::Calibrate(Some(cg)) => {
                let offset = draft.calibration.offset();
                let Ok(cal) = avia_hx711::Calibration::from_known_mass(offset, raw, cg) else {
                    return SetupReply::Err(rom!(
                        b"calibrate: no change since the tare (is the mass on the scale?)"
                    ));
                };
                draft.calibration = cal;
                draft.calibrated = true;
                // hundredths of a count per gram, as `cal_counts_per_gram` takes it
                let cpg = avia_hx711::math::div_trunc_i64(
                    (i64::from(raw) - i64::from(offset)) * 10_000,
                    i64::from(cg),
                );
                out.push_rom(rom!(b" cal_counts_per_gram="))
                    .push_centi(cpg.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32);
            }
            Measure::Weigh | Measure::Calibrate(None) => {
                out.push(b" ")
                    .push_centi(draft.calibration.to_units(raw))
                    .push_rom(rom!(b" g raw="))
                    .push_i32(raw);
            }
        }
        SetupReply::Ok
    }

    #[inline(never)] // one copy: keeps small targets (AVR) small
    $($async_kw)? fn $setup_step(&mut self, now: u32) {
        if self.led.playing().is_none() {
            self.led.play(BlinkCode::Setup, now);
        }
        if !self.setup_started {
            if !self.attempt_due(now) {
                return;
            }
            match self
                .uplink
                .start_setup(self.settings.setup_ssid, self.settings.setup_port)
                $($await)*
            {
                Ok(()) => {
                    self.setup_started = true;
                    self.emit(NodeEvent::SetupStarted);
                }
                Err(e) => self.$failed(e, now)$($await)*,
            }
            return;
        }
        let mut buf = [0u8; 64];
        let n = match self.uplink.setup_recv(&mut buf)$($await)* {
            Ok(n) => n,
            Err(e) => {
                self.last_error = Some(e);
                return;
            }
        };
        for &b in buf.get(..n).unwrap_or(&[]) {
            if b != b'\n' {
                self.setup_line.push(&[b]);
                continue;
            }
            // the answer; a measurement writes what follows "OK" into it
            let mut out: LineBuf<MAX_LINE> = LineBuf::new();
            out.push_rom(rom!(b"OK"));
            let reply = if self.setup_line.overflowed() {
                SetupReply::Err(rom!(b"line too long"))
            } else {
                match self.$setup_command(&mut out)$($await)* {
                    Some(reply) => reply,
                    None => self
                        .config
                        .get_or_insert_with(NodeConfig::default)
                        .edit(self.setup_line.as_bytes()),
                }
            };
            if matches!(reply, SetupReply::Aborted) {
                // back to the stored configuration (or the defaults)
                if !self.load_stored() {
                    *self.config.get_or_insert_with(NodeConfig::default) = NodeConfig::default();
                }
            }
            self.setup_line.clear();
            // store before answering: "committed" means it survives a reset
            let stored = match (&reply, self.config.as_ref()) {
                // an 8-bit MCU has the stack for no copy of the record (its EEPROM is written
                // in place); elsewhere one write, one erase of a flash page
                (SetupReply::Committed, Some(cfg)) if cfg!(target_pointer_width = "16") => {
                    cfg.save_in_place(&mut self.storage).is_ok()
                }
                (SetupReply::Committed, Some(cfg)) => cfg.save(&mut self.storage).is_ok(),
                _ => true,
            };
            if !matches!(reply, SetupReply::Ok) {
                out.clear();
            }
            match &reply {
                SetupReply::Ok => out.push_rom(rom!(b"\r\n")),
                SetupReply::Aborted => out.push_rom(rom!(b"OK aborted\r\n")),
                SetupReply::Committed if stored => out.push_rom(rom!(b"OK committed\r\n")),
                // it runs, but a reset loses it: say so
                SetupReply::Committed => {
                    out.push_rom(rom!(b"OK committed, not stored (storage failed)\r\n"))
                }
                SetupReply::Err(e) => out
                    .push_rom(rom!(b"ERR "))
                    .push_rom(*e)
                    .push_rom(rom!(b"\r\n")),
            };
            let _ = self.uplink.setup_send(out.as_bytes())$($await)*;
            if matches!(reply, SetupReply::Committed) {
                self.setup_started = false;
                self.force_setup = false;
                let _ = self.uplink.stop_setup()$($await)*;
                self.emit(NodeEvent::ConfigCommitted);
                self.$tare_if_needed()$($await)*;
                self.state = State::Join;
                self.next_reading = now;
                self.next_attempt = now;
                return;
            }
        }
    }


    /// React to an uplink failure.
    #[inline(never)] // one copy: keeps small targets (AVR) small
    $($async_kw)? fn $failed(&mut self, e: U::Error, now: u32) {
        let fault = U::fault(&e);
        self.last_error = Some(e);
        self.schedule_retry(now);
        let reset = fault == Fault::Modem || self.failures >= self.settings.reset_after;
        if self.state == State::Stream || self.state == State::Connect {
            if self.in_flight > 0 || self.state == State::Stream {
                self.emit(NodeEvent::LinkLost);
            }
            self.lose_in_flight();
        }
        if reset {
            self.failures = 0;
            self.stats.modem_resets += 1;
            self.emit(NodeEvent::ModemReset);
            let r = self.uplink.reset()$($await)*;
            if let Err(e) = r {
                self.last_error = Some(e);
            }
            if self.state != State::Setup {
                self.state = State::Join;
            }
            self.setup_started = false;
            return;
        }
        match (self.state, fault) {
            (State::Setup, _) => {}
            (_, Fault::WifiDown) | (State::Join, _) => self.state = State::Join,
            _ => {
                self.uplink.disconnect()$($await)*;
                self.state = if self.uplink.is_joined() {
                    State::Connect
                } else {
                    State::Join
                };
            }
        }
    }


    #[inline(never)] // one copy: keeps small targets (AVR) small
    $($async_kw)? fn $link(&mut self, now: u32) {
        if let Err(e) = self.uplink.poll()$($await)* {
            self.$failed(e, now)$($await)*;
            return;
        }
        let Some(cfg) = self.config.as_ref() else {
            return;
        };
        match self.state {
            State::Join => {
                if !self.attempt_due(now) {
                    return;
                }
                let joined = self.uplink.join(&cfg.ssid, &cfg.password)$($await)*;
                match joined {
                    Ok(()) => {
                        self.stats.joins += 1;
                        // the modem works; the back-off stays until the gateway acknowledges
                        self.failures = 0;
                        self.emit(NodeEvent::Joined);
                        self.state = State::Connect;
                    }
                    Err(e) => {
                        self.stats.join_failures += 1;
                        self.emit(NodeEvent::JoinFailed);
                        self.led.play(BlinkCode::JoinRetry, now);
                        self.$failed(e, now)$($await)*;
                    }
                }
            }
            State::Connect => {
                if !self.uplink.is_joined() {
                    self.state = State::Join;
                    return;
                }
                if !self.attempt_due(now) {
                    return;
                }
                let connected = self.uplink.connect(&cfg.host, cfg.port)$($await)*;
                match connected {
                    Ok(()) => {
                        self.stats.connects += 1;
                        // a TCP connect is no proof of a gateway (one that accepts and hangs up
                        // at once): the back-off stays until a reading is acknowledged
                        self.failures = 0;
                        self.owed = 0;
                        self.in_flight = 0;
                        self.ack.reset();
                        self.emit(NodeEvent::Connected);
                        self.led.play(BlinkCode::Ready, now);
                        self.state = State::Stream;
                    }
                    Err(e) => self.$failed(e, now)$($await)*,
                }
            }
            State::Stream => self.$stream(now)$($await)*,
            State::Boot | State::Setup => {}
        }
    }

    #[inline(never)] // one copy: keeps small targets (AVR) small
    $($async_kw)? fn $stream(&mut self, now: u32) {
        if !self.uplink.is_connected() {
            self.emit(NodeEvent::LinkLost);
            // a gateway that accepts and hangs up is not reconnected at once, again and again
            self.reconnect_later(now);
            return;
        }
        // statuses from the gateway
        if self.in_flight > 0 || self.owed > 0 {
            let mut buf = [0u8; 32];
            match self.uplink.recv(&mut buf)$($await)* {
                Ok(n) => {
                    for &b in buf.get(..n).unwrap_or(&[]) {
                        match self.ack.push(b) {
                            Ok(Some(status)) => self.on_status(status, now),
                            Ok(None) => {}
                            Err(BadReply(b)) => {
                                // not a scale gateway: nothing it said counts
                                self.stats.bad_replies += 1;
                                self.emit(NodeEvent::BadReply(b));
                                self.$hang_up(now)$($await)*;
                                return;
                            }
                        }
                    }
                }
                Err(e) => {
                    self.$failed(e, now)$($await)*;
                    return;
                }
            }
            if self.in_flight > 0 && now.wrapping_sub(self.sent_at) > self.settings.ack_timeout_ms {
                // no answer: the connection is not trustworthy any more
                self.emit(NodeEvent::LinkLost);
                self.$hang_up(now)$($await)*;
                return;
            }
        }
        // after a status that asks for a retry, the link stays up and the lines wait
        if !self.attempt_due(now) {
            return;
        }
        // (kept recent: a deadline more than 24.8 days old would look ahead)
        self.next_attempt = now;
        // send what the window allows
        while self.in_flight < usize::from(self.settings.window.max(1))
            && self.in_flight < self.queue.len()
        {
            let Some(r) = self.queue.get(self.in_flight).copied() else {
                break;
            };
            let mut line: LineBuf<MAX_LINE> = LineBuf::new();
            if let Some(cfg) = self.config.as_ref() {
                format_line(
                    &r,
                    &cfg.sensor_id,
                    cfg.format,
                    self.stats.dropped,
                    self.boot,
                    &mut line,
                );
            }
            match self.uplink.send(line.as_bytes())$($await)* {
                Ok(()) => {
                    self.stats.sent += 1;
                    if r.flags & flags::RETRY != 0 {
                        self.stats.retried += 1;
                    }
                    self.in_flight += 1;
                    self.sent_at = now;
                }
                Err(e) => {
                    self.led.play(BlinkCode::SendError, now);
                    self.$failed(e, now)$($await)*;
                    return;
                }
            }
        }
    }

    /// Close the gateway connection: what was in flight goes again, after a back-off.
    $($async_kw)? fn $hang_up(&mut self, now: u32) {
        self.uplink.disconnect()$($await)*;
        self.reconnect_later(now);
    }

    };
}

impl<S, U, C, L, St, const Q: usize> Node<S, U, C, L, St, Q>
where
    S: Sensor,
    U: Uplink,
    C: Clock,
    L: OutputPin,
    St: Storage,
{
    waiting_steps!(
        ; [];
        /// Do one bounded step of work: at most one sample, one uplink operation and the
        /// bookkeeping around them. Each uplink operation has its own deadline (see esp-at's
        /// `Config`), so `poll` never blocks longer than the longest of them. The loop for
        /// bare-metal firmware (AVR, a `loop {}` in `main`); on an async executor use
        /// [`step`](Self::step) or [`run`](Self::run), which never block it.
        poll, sample_blocking;
        boot, tare_if_needed, settled_raw, setup_command, scan_command, measuring_command,
        setup_step, failed, link, stream, hang_up
    );
}

#[cfg(feature = "async")]
impl<S, U, C, L, St, const Q: usize> Node<S, U, C, L, St, Q>
where
    S: SensorWait,
    U: AsyncUplink,
    C: Clock,
    L: OutputPin,
    St: Storage,
{
    /// Run forever: [`step`](Self::step), then, while a reading is being collected, await the
    /// sensor (for the HX711: `DOUT` through `embedded_hal_async::digital::Wait`), and sleep
    /// `idle_ms` on the async delay otherwise. Never blocks the executor on the modem.
    pub async fn run<D: embedded_hal_async::delay::DelayNs>(
        &mut self,
        delay: &mut D,
        idle_ms: u32,
    ) -> core::convert::Infallible {
        loop {
            self.step().await;
            if self.collecting && !self.powered_down {
                // never longer than the link can go unattended
                self.sensor
                    .wait_ready(idle_ms.max(1).saturating_mul(10))
                    .await;
            } else {
                delay.delay_ms(idle_ms).await;
            }
        }
    }

    waiting_steps!(
        async; [.await];
        /// [`poll`](Self::poll), awaited: the same step of work, where every wait for the modem
        /// (join, connect, `SEND OK`, a status from the gateway) and for a settled sample (tare,
        /// setup mode's measurements) is an `.await`, so other tasks run meanwhile.
        step, sample_settled;
        boot_async, tare_if_needed_async, settled_raw_async, setup_command_async,
        scan_command_async, measuring_command_async, setup_step_async, failed_async,
        link_async, stream_async, hang_up_async
    );
}

/// The numbers a reading needs from the configuration (copied, so the strings stay put).
#[derive(Clone, Copy)]
struct Plan {
    interval_ms: u32,
    samples: u8,
    calibration: avia_hx711::Calibration,
    #[cfg(feature = "stock")]
    container_cg: i32,
    #[cfg(feature = "stock")]
    full_cg: i32,
    #[cfg(feature = "stock")]
    low_centipct: i32,
    #[cfg(feature = "stock")]
    full_ml: u32,
}

impl Plan {
    fn of(c: &NodeConfig) -> Plan {
        Plan {
            interval_ms: c.interval_ms,
            samples: c.samples,
            calibration: c.calibration,
            #[cfg(feature = "stock")]
            container_cg: c.container_cg,
            #[cfg(feature = "stock")]
            full_cg: c.full_cg,
            #[cfg(feature = "stock")]
            low_centipct: c.low_centipct,
            #[cfg(feature = "stock")]
            full_ml: c.full_ml,
        }
    }
}

/// Most access points `scan` lists in setup mode.
pub const SCAN_MAX: usize = 8;

/// A setup command that measures.
#[cfg(feature = "guided-calibration")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    Tare,
    Weigh,
    /// The mass on the scale in centigrams (`None`: not a positive number).
    Calibrate(Option<i32>),
}

#[cfg(feature = "guided-calibration")]
impl Measure {
    fn parse(line: &[u8]) -> Option<Measure> {
        match crate::config::trim(line) {
            b"tare" => Some(Measure::Tare),
            b"weigh" => Some(Measure::Weigh),
            l => {
                let mass = l.strip_prefix(b"calibrate=")?;
                Some(Measure::Calibrate(
                    crate::fmt::parse_centi(mass).filter(|&g| g > 0),
                ))
            }
        }
    }
}
