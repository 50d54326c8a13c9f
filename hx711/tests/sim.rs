//! Behaviour on the simulated chip: settling, mode tagging, saturation, deadlines, faults,
//! power management, and the peer drivers' bugs as regression tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use avia_hx711::sim::{Fault, Hx711Sim, SimClock, SimDelay, SimDout, SimSck};
use avia_hx711::{
    Calibration, Config, Error, Hx711, MAX_RAW, MIN_RAW, Mode, Rate, Revision, Saturation,
    SettlePolicy,
};

type Drv = Hx711<SimDout, SimSck, SimDelay>;

fn setup(rate: Rate) -> (Hx711Sim, Drv) {
    let sim = Hx711Sim::new(rate);
    let (d, s, delay) = sim.pins();
    let hx = Hx711::new(d, s, delay, Config::new(rate));
    (sim, hx)
}

fn per_mode(a128: i64, b32: i64, a64: i64) -> impl FnMut(u64, Mode) -> i64 + Send + 'static {
    move |_, m| match m {
        Mode::A128 => a128,
        Mode::B32 => b32,
        Mode::A64 => a64,
    }
}

#[test]
fn reads_the_exact_code_once_settled() {
    let (sim, mut hx) = setup(Rate::Sps10);
    sim.set_constant(123_456);
    let s = hx.read().unwrap();
    assert_eq!(s.raw, 123_456);
    assert_eq!(s.mode, Some(Mode::A128));
    assert!(s.settled && s.is_valid());
    // the settled sample came at least four conversion periods after power-on
    assert!(sim.now_ns() >= 400_000_000, "took only {} ns", sim.now_ns());
    // and again, one period later
    let t0 = sim.now_ns();
    assert_eq!(hx.read().unwrap().raw, 123_456);
    assert!(sim.now_ns() - t0 <= 101_000_000);
}

#[test]
fn unsettled_samples_are_flagged_and_differ_from_the_input() {
    let sim = Hx711Sim::new(Rate::Sps80);
    let (d, s, delay) = sim.pins();
    let mut c = Config::new(Rate::Sps80);
    c.settle = SettlePolicy::Flag;
    let mut hx = Hx711::new(d, s, delay, c);
    sim.set_constant(1_000_000);
    let samples: Vec<_> = (0..8).map(|_| hx.read().unwrap()).collect();
    let first_settled = samples.iter().position(|s| s.settled).unwrap();
    assert_eq!(first_settled, 5, "unknown mode + four settling conversions");
    assert!(
        samples[0].raw != 1_000_000,
        "the first conversion after power-on is transient"
    );
    for s in &samples[first_settled..] {
        assert_eq!(s.raw, 1_000_000);
    }
}

#[test]
fn samples_carry_the_mode_that_produced_them() {
    let sim = Hx711Sim::new(Rate::Sps80);
    let (d, s, delay) = sim.pins();
    let mut c = Config::new(Rate::Sps80);
    c.settle = SettlePolicy::Flag;
    let mut hx = Hx711::new(d, s, delay, c);
    sim.set_load(per_mode(1000, -2000, 500));
    for _ in 0..6 {
        hx.read().unwrap();
    }
    hx.set_mode(Mode::B32);
    // the read that selects B32 still returns an A/128 conversion
    let s = hx.read().unwrap();
    assert_eq!((s.mode, s.raw, s.settled), (Some(Mode::A128), 1000, true));
    // the next is B/32, and unsettled
    let s = hx.read().unwrap();
    assert_eq!(s.mode, Some(Mode::B32));
    assert!(!s.settled);
    let s = (0..4).map(|_| hx.read().unwrap()).last().unwrap();
    assert_eq!((s.mode, s.raw, s.settled), (Some(Mode::B32), -2000, true));
    assert_eq!(sim.chip_mode(), Mode::B32);
    hx.set_mode(Mode::A64);
    let s = (0..6).map(|_| hx.read().unwrap()).last().unwrap();
    assert_eq!((s.mode, s.raw, s.settled), (Some(Mode::A64), 500, true));
    assert_eq!(sim.stats().bad_frames, 0);
}

#[test]
fn first_sample_after_power_up_is_at_the_requested_gain() {
    // regression: loadcell defaulted to A64 while the chip booted in A128
    let (sim, mut hx) = setup(Rate::Sps80);
    sim.set_load(per_mode(1000, -2000, 500));
    hx.set_mode(Mode::A64);
    let s = hx.read().unwrap();
    assert_eq!((s.mode, s.raw), (Some(Mode::A64), 500));
}

#[test]
fn saturation_is_reported_at_both_ends() {
    // regression: HX711_ADC dropped 0x800000; hx711 had MIN_VALUE = +8388608
    assert_eq!(MIN_RAW, -8_388_608);
    assert_eq!(MAX_RAW, 8_388_607);
    let (sim, mut hx) = setup(Rate::Sps80);
    sim.set_constant(50_000_000);
    let s = hx.read().unwrap();
    assert_eq!(
        (s.raw, s.saturation()),
        (MAX_RAW, Some(Saturation::Positive))
    );
    assert!(!s.is_valid());
    sim.set_constant(-50_000_000);
    let s = hx.read().unwrap();
    assert_eq!(
        (s.raw, s.saturation()),
        (MIN_RAW, Some(Saturation::Negative))
    );
}

#[test]
fn no_chip_times_out_instead_of_hanging() {
    // regression: hx711 new() and loadcell tare() spun forever
    let (sim, mut hx) = setup(Rate::Sps10);
    sim.set_fault(Fault::DoutStuckHigh);
    let t0 = sim.now_ns();
    assert_eq!(hx.read().unwrap_err(), Error::Timeout);
    let waited = sim.now_ns() - t0;
    assert!(
        (300_000_000..=301_000_000).contains(&waited),
        "waited {waited} ns"
    );
    assert_eq!(hx.tare::<4>().unwrap_err(), Error::Timeout);
}

#[test]
fn explicit_deadline_is_honoured() {
    // regression: endail's waitReady ignored its timeout
    let (sim, mut hx) = setup(Rate::Sps10);
    sim.set_fault(Fault::DoutStuckHigh);
    let t0 = sim.now_ns();
    assert_eq!(hx.read_with_timeout(5_000).unwrap_err(), Error::Timeout);
    assert!(sim.now_ns() - t0 <= 5_500_000);
}

#[test]
fn dout_stuck_low_is_told_apart() {
    let (sim, mut hx) = setup(Rate::Sps80);
    sim.set_fault(Fault::DoutStuckLow);
    assert_eq!(hx.read().unwrap_err(), Error::StuckLow);
    sim.set_fault(Fault::None);
    sim.set_constant(42);
    assert_eq!(
        hx.read().unwrap().raw,
        42,
        "recovers once the line is fixed"
    );
}

#[test]
fn power_down_and_up() {
    let (sim, mut hx) = setup(Rate::Sps80);
    sim.set_constant(777);
    assert_eq!(hx.read().unwrap().raw, 777);
    hx.power_down().unwrap();
    sim.advance(1_000_000);
    assert!(sim.is_powered_down());
    assert_eq!(hx.read().unwrap_err(), Error::PoweredDown);
    hx.power_up().unwrap();
    assert!(!sim.is_powered_down());
    assert!(!hx.is_settled());
    let t0 = sim.now_ns();
    let s = hx.read().unwrap();
    assert_eq!(s.raw, 777);
    assert!(
        sim.now_ns() - t0 >= 50_000_000,
        "settling after wake-up honoured"
    );
    assert_eq!(sim.stats().power_downs, 1);
}

#[test]
fn v2_chip_keeps_its_mode_across_power_down() {
    let (sim, mut hx) = setup(Rate::Sps80);
    sim.set_load(per_mode(1000, -2000, 500));
    hx.set_mode(Mode::A64);
    hx.read().unwrap();
    hx.reset().unwrap();
    assert_eq!(sim.chip_mode(), Mode::A64);
    let mut c = *hx.config();
    c.settle = SettlePolicy::Flag;
    let (d, s, delay, _) = hx.release();
    let mut hx = Hx711::new(d, s, delay, c);
    hx.set_mode(Mode::A64);
    // the driver was re-created (MCU reset): it cannot know, and says so
    let s = hx.read().unwrap();
    assert_eq!((s.mode, s.settled), (None, false));
    assert_ne!(s.raw, 500, "first conversion after wake-up is transient");
    let s = (0..5).map(|_| hx.read().unwrap()).last().unwrap();
    assert_eq!((s.mode, s.raw, s.settled), (Some(Mode::A64), 500, true));
}

#[test]
fn v1_chip_returns_to_a128_and_the_mode_is_reasserted() {
    let sim = Hx711Sim::new(Rate::Sps80);
    sim.set_revision(Revision::V1);
    sim.set_load(per_mode(1000, -2000, 500));
    let (d, s, delay) = sim.pins();
    let mut c = Config::new(Rate::Sps80);
    c.revision = Revision::V1;
    c.settle = SettlePolicy::Flag;
    let mut hx = Hx711::new(d, s, delay, c);
    hx.set_mode(Mode::B32);
    for _ in 0..7 {
        hx.read().unwrap();
    }
    assert_eq!(sim.chip_mode(), Mode::B32);
    hx.reset().unwrap();
    assert_eq!(sim.chip_mode(), Mode::A128);
    let s = hx.read().unwrap();
    assert_eq!((s.mode, s.settled), (Some(Mode::A128), false));
    sim.advance(12_500_000);
    assert_eq!(sim.chip_mode(), Mode::B32, "first read re-asserted B/32");
}

#[test]
fn stretched_pulse_is_detected_with_a_clock() {
    let sim = Hx711Sim::new(Rate::Sps80);
    sim.set_constant(0x1234);
    let (d, s, delay) = sim.pins();
    let mut hx = Hx711::with_clock(d, s, delay, sim.clock(), Config::new(Rate::Sps80));
    assert_eq!(hx.read().unwrap().raw, 0x1234);
    sim.stretch_pulse(10, 100_000);
    match hx.read() {
        Err(Error::ClockStretched { high_us }) => assert!(high_us >= 100, "{high_us}"),
        other => panic!("expected ClockStretched, got {other:?}"),
    }
    assert_eq!(sim.stats().power_downs, 1, "the chip really did power down");
    // recovers, after settling again
    let s = hx.read().unwrap();
    assert_eq!(s.raw, 0x1234);
    assert!(s.settled);
}

#[test]
fn short_stretch_within_t3_is_accepted() {
    let sim = Hx711Sim::new(Rate::Sps80);
    sim.set_constant(-5);
    let (d, s, delay) = sim.pins();
    let mut hx: Hx711<_, _, _, SimClock> =
        Hx711::with_clock(d, s, delay, sim.clock(), Config::new(Rate::Sps80));
    hx.read().unwrap();
    sim.stretch_pulse(3, 20_000);
    assert_eq!(hx.read().unwrap().raw, -5);
}

#[test]
fn clock_timing_stays_within_the_datasheet() {
    let (sim, mut hx) = setup(Rate::Sps80);
    sim.set_noise(200);
    for m in [Mode::A128, Mode::B32, Mode::A64] {
        hx.set_mode(m);
        for _ in 0..8 {
            hx.read().unwrap();
        }
    }
    let st = sim.stats();
    assert_eq!(st.bad_frames, 0);
    assert!(st.min_high_ns >= 200 && st.max_high_ns <= 50_000, "{st:?}");
    assert!(st.min_low_ns >= 200, "{st:?}");
    assert_eq!(st.t3_violations, 0);
}

#[test]
fn repeated_tare_rezeroes() {
    // regression: loadcell's second tare used offset-applied readings
    let (sim, mut hx) = setup(Rate::Sps80);
    sim.set_constant(5_000);
    let mut cal = Calibration::from_counts_per_unit(0, 100).unwrap();
    cal.set_offset(hx.tare::<5>().unwrap());
    assert_eq!(cal.offset(), 5_000);
    sim.set_constant(8_000);
    cal.set_offset(hx.tare::<5>().unwrap());
    assert_eq!(cal.offset(), 8_000);
    assert_eq!(cal.to_units(hx.read().unwrap().raw), 0);
}

#[test]
fn tare_refuses_saturated_input() {
    let (sim, mut hx) = setup(Rate::Sps80);
    sim.set_constant(i64::from(MIN_RAW) - 10);
    assert_eq!(hx.tare::<3>().unwrap_err(), Error::Saturated);
}

#[test]
fn nb_read_would_block_until_ready() {
    let (sim, mut hx) = setup(Rate::Sps80);
    sim.set_constant(99);
    assert!(matches!(hx.try_read(), Err(nb::Error::WouldBlock)));
    sim.advance(12_500_000);
    let s = hx.try_read().unwrap();
    assert!(!s.settled);
    assert!(matches!(hx.try_read(), Err(nb::Error::WouldBlock)));
}

#[test]
fn noise_is_lower_after_median_filtering() {
    let (sim, mut hx) = setup(Rate::Sps80);
    sim.set_constant(10_000);
    sim.set_noise(400);
    let raw: Vec<i32> = (0..60).map(|_| hx.read().unwrap().raw).collect();
    let spread = |v: &[i32]| v.iter().map(|x| (x - 10_000).abs()).max().unwrap();
    let medians: Vec<i32> = raw
        .chunks(5)
        .map(|c| avia_hx711::filter::median_in_place(&mut c.to_vec()).unwrap())
        .collect();
    assert!(spread(&raw) > 300, "noise is present");
    assert!(spread(&medians) < spread(&raw));
}

#[test]
fn calibration_from_a_known_mass_on_the_simulated_cell() {
    // 160 counts per gram, 200 g reference
    let (sim, mut hx) = setup(Rate::Sps80);
    sim.set_constant(20_000);
    let offset = hx.tare::<5>().unwrap();
    sim.set_constant(20_000 + 160 * 200);
    let raw = hx.read().unwrap().raw;
    let cal = Calibration::from_known_mass(offset, raw, 200).unwrap();
    sim.set_constant(20_000 + 160 * 1234);
    assert_eq!(cal.to_units(hx.read().unwrap().raw), 1234);
}

#[test]
fn the_rate_pin_switches_between_10_and_80_sps() {
    let (sim, mut hx) = setup(Rate::Sps10);
    sim.set_constant(54_321);
    assert_eq!(hx.read().unwrap().raw, 54_321);
    let t0 = sim.now_ns();
    hx.read().unwrap();
    let slow = sim.now_ns() - t0;
    assert!(
        (90_000_000..=101_000_000).contains(&slow),
        "{slow} ns at 10 SPS"
    );

    assert!(Rate::Sps80.rate_pin_high() && !Rate::Sps10.rate_pin_high());
    sim.set_rate_pin(Rate::Sps80.rate_pin_high());
    hx.set_rate(Rate::Sps80);
    assert!(!hx.is_settled(), "a new rate settles again");
    assert_eq!(
        hx.config().ready_timeout(),
        37_500,
        "deadlines follow the rate"
    );
    let t1 = sim.now_ns();
    let s = hx.read().unwrap();
    let settle = sim.now_ns() - t1;
    assert!(s.settled);
    assert_eq!(s.raw, 54_321);
    assert!(
        (4 * 12_500_000..=6 * 12_500_000).contains(&settle),
        "four conversions of 12.5 ms discarded: {settle} ns"
    );
    let t2 = sim.now_ns();
    hx.read().unwrap();
    let fast = sim.now_ns() - t2;
    assert!(fast <= 13_000_000, "{fast} ns at 80 SPS");

    // and back down
    sim.set_rate_pin(false);
    hx.set_rate(Rate::Sps10);
    hx.read().unwrap();
    let t3 = sim.now_ns();
    hx.read().unwrap();
    assert!(sim.now_ns() - t3 >= 90_000_000);
}
