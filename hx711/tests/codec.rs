//! Decoding, timing validation, calibration arithmetic and serialization.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use avia_hx711::filter::{Estimator, Stability, Window, median_in_place, trimmed_mean_in_place};
use avia_hx711::{Calibration, CalibrationError, Mode, Rate, Timing, TimingError, decode};
use proptest::prelude::*;

#[test]
fn every_24_bit_code_decodes() {
    for code in 0u32..(1 << 24) {
        let expected = if code >= 0x80_0000 {
            code as i32 - (1 << 24)
        } else {
            code as i32
        };
        assert_eq!(decode(code), expected);
    }
    assert_eq!(decode(0x80_0000), -8_388_608);
    assert_eq!(decode(0x7F_FFFF), 8_388_607);
    assert_eq!(decode(0xFF_FFFF), -1);
}

proptest! {
    #[test]
    fn decode_ignores_high_bits(code in 0u32..(1 << 24), junk in 0u32..256) {
        prop_assert_eq!(decode(code | (junk << 24)), decode(code));
    }

    #[test]
    fn calibration_bytes_round_trip(offset in any::<i32>(), mul in any::<i32>().prop_filter("nonzero", |m| *m != 0), shift in 0u8..=62) {
        let c = Calibration::from_parts(offset, mul, shift).unwrap();
        prop_assert_eq!((c.offset(), c.mul(), c.shift()), (offset, mul, shift));
        prop_assert_eq!(Calibration::from_bytes(&c.to_bytes()).unwrap(), c);
    }

    #[test]
    fn any_flipped_bit_is_caught(offset in any::<i32>(), bit in 0usize..(14 * 8)) {
        let c = Calibration::from_parts(offset, 12345, 16).unwrap();
        let mut b = c.to_bytes();
        b[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(Calibration::from_bytes(&b).is_err());
    }

    #[test]
    fn from_parts_refuses_what_could_overflow(offset in any::<i32>(), mul in any::<i32>(), shift in any::<u8>()) {
        let r = Calibration::from_parts(offset, mul, shift);
        prop_assert_eq!(r.is_ok(), mul != 0 && shift <= Calibration::MAX_SHIFT);
        if r.is_err() {
            prop_assert_eq!(r, Err(CalibrationError::OutOfRange));
        }
    }

    #[test]
    fn every_checked_calibration_converts_without_overflow(
        offset in any::<i32>(),
        mul in any::<i32>().prop_filter("nonzero", |m| *m != 0),
        shift in 0u8..=Calibration::MAX_SHIFT,
        raw in any::<i32>(),
        units in any::<i32>(),
    ) {
        let c = Calibration::from_parts(offset, mul, shift).unwrap();
        // the exact quotient, rounded half up, saturated: the integer conversion agrees
        let exact = ((i128::from(raw) - i128::from(offset)) * i128::from(mul)
            + if shift == 0 { 0 } else { 1i128 << (shift - 1) })
            >> shift;
        let saturated = exact.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
        let expected = saturated.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32;
        // the product saturates in 64 bits first: only beyond 2^63 may the two differ
        if exact == saturated && ((i128::from(raw) - i128::from(offset)) * i128::from(mul)).abs() < (1i128 << 62) {
            prop_assert_eq!(c.to_units(raw), expected);
        }
        let _ = c.to_units_f32(raw);
        let _ = c.to_raw(units);
    }

    #[test]
    fn integer_conversion_matches_float(cpu in 1i32..1_000, mass in 1i32..8_000, offset in -1_000_000i32..1_000_000) {
        let raw_with_mass = offset as i64 + cpu as i64 * mass as i64;
        prop_assume!(raw_with_mass < 8_388_607);
        let cal = Calibration::from_known_mass(offset, raw_with_mass as i32, mass).unwrap();
        let exact = mass;
        prop_assert!((cal.to_units(raw_with_mass as i32) - exact).abs() <= 1);
        prop_assert!((cal.to_units_f32(raw_with_mass as i32) - exact as f32).abs() <= 1.0);
    }
}

#[test]
fn crc_check_value() {
    assert_eq!(avia_hx711::calibration::crc16(b"123456789"), 0x29B1);
}

#[test]
fn calibration_errors() {
    assert_eq!(
        Calibration::from_known_mass(10, 10, 100),
        Err(CalibrationError::NoSignal)
    );
    assert_eq!(
        Calibration::from_known_mass(10, 20, 0),
        Err(CalibrationError::ZeroMass)
    );
    assert_eq!(
        Calibration::from_bytes(&[0; 3]),
        Err(CalibrationError::Truncated)
    );
    assert_eq!(
        Calibration::from_bytes(&[0xFF; 14]),
        Err(CalibrationError::BadMagic)
    );
    let mut b = Calibration::default().to_bytes();
    b[2] = 9;
    assert_eq!(
        Calibration::from_bytes(&b),
        Err(CalibrationError::UnsupportedVersion(9))
    );
    // the three numbers, checked as a stored calibration is
    let c = Calibration::from_known_mass(8_000, 8_000 + 160 * 100, 10_000).unwrap();
    assert_eq!(
        Calibration::from_parts(c.offset(), c.mul(), c.shift()),
        Ok(c)
    );
    assert_eq!(
        Calibration::from_parts(0, 0, 10),
        Err(CalibrationError::OutOfRange)
    );
    assert_eq!(
        Calibration::from_parts(0, 1, 63),
        Err(CalibrationError::OutOfRange)
    );
    assert_eq!(
        Calibration::from_parts(0, 1, 70),
        Err(CalibrationError::OutOfRange)
    );
    assert!(Calibration::from_parts(0, 1, 62).is_ok());
    // the extremes convert and saturate instead of overflowing
    let steep = Calibration::from_parts(i32::MIN, i32::MIN, 0).unwrap();
    assert_eq!(steep.to_units(i32::MAX), i32::MIN);
    assert_eq!(steep.to_raw(i32::MAX), i32::MIN);
    let flat = Calibration::from_parts(0, 1, Calibration::MAX_SHIFT).unwrap();
    assert_eq!(flat.to_units(i32::MAX), 0);
    assert_eq!(flat.to_raw(1), i32::MAX);
    assert_eq!(flat.to_raw(-1), i32::MIN);
}

#[test]
fn two_point_calibration_derives_the_offset() {
    // 160 counts/g, zero at 8000
    let cal =
        Calibration::from_two_points((8000 + 160 * 100, 100), (8000 + 160 * 500, 500)).unwrap();
    assert_eq!(cal.offset(), 8000);
    assert_eq!(cal.to_units(8000 + 160 * 250), 250);
    assert_eq!(cal.to_raw(250), 8000 + 160 * 250);
    // the article's scale: set_scale(160.f)
    let art = Calibration::from_counts_per_unit(0, 160).unwrap();
    assert_eq!(art.to_units(160 * 123), 123);
    assert_eq!(art.to_units(-160 * 5), -5);
}

#[test]
fn timing_is_validated() {
    assert_eq!(Timing::new(99, 1000, 1000), Err(TimingError::T1TooShort));
    assert_eq!(Timing::new(100, 199, 1000), Err(TimingError::T3TooShort));
    assert_eq!(Timing::new(100, 50_001, 1000), Err(TimingError::T3TooLong));
    assert_eq!(Timing::new(100, 200, 199), Err(TimingError::T4TooShort));
    assert!(Timing::new(100, 200, 200).is_ok());
    assert!(Timing::new(100, 50_000, 30_000).is_ok());
}

#[test]
fn rates_and_settling() {
    assert_eq!(Rate::Sps10.period_us(), 100_000);
    assert_eq!(Rate::Sps80.period_us(), 12_500);
    assert_eq!(Rate::Sps10.settling_us(), 400_000);
    assert_eq!(Rate::Sps80.settling_us(), 50_000);
    assert_eq!(
        Rate::External {
            fclk_hz: 11_059_200,
            rate_high: false
        }
        .period_us(),
        100_000
    );
    assert_eq!(
        Rate::External {
            fclk_hz: 11_059_200,
            rate_high: true
        }
        .period_us(),
        12_500
    );
    assert_eq!(
        Rate::External {
            fclk_hz: 0,
            rate_high: true
        }
        .period_us(),
        u32::MAX
    );
}

#[test]
fn modes_follow_table_3() {
    // regression: a driver named the 27-pulse mode "B64"
    assert_eq!(
        (Mode::A128.pulses(), Mode::B32.pulses(), Mode::A64.pulses()),
        (25, 26, 27)
    );
    assert_eq!(Mode::A64.channel(), avia_hx711::Channel::A);
    assert_eq!(Mode::from_pulses(26), Some(Mode::B32));
    assert_eq!(Mode::from_pulses(28), None);
    assert_eq!(Mode::A128.full_scale_uv(5000), 19_531);
}

#[test]
fn filters() {
    assert_eq!(median_in_place(&mut []), None);
    assert_eq!(median_in_place(&mut [5, 1, 3]), Some(3));
    assert_eq!(median_in_place(&mut [4, 1, 3, 2]), Some(2));
    assert_eq!(median_in_place(&mut [-3, -4]), Some(-4));
    assert_eq!(trimmed_mean_in_place(&mut [100, 1, 2, 3, -100], 1), Some(2));
    assert_eq!(trimmed_mean_in_place(&mut [1, 2], 1), None);
    let mut w: Window<4> = Window::new();
    assert_eq!(w.estimate(Estimator::Median), None);
    for v in [10, 20, 1000, 30, 40] {
        w.push(v);
    }
    assert!(w.is_full());
    assert_eq!(w.span(), Some((20, 1000)));
    assert_eq!(w.estimate(Estimator::Median), Some(35));
    assert_eq!(w.estimate(Estimator::TrimmedMean(1)), Some(35));
    assert_eq!(w.estimate(Estimator::Mean), Some(272));
    let mut st: Stability<3> = Stability::new(5);
    assert!(!st.push(100));
    assert!(!st.push(108));
    assert!(st.push(104));
    assert!(!st.push(115));
    st.reset();
    assert!(!st.is_stable());
}
