//! Integer division without the compiler's 64-bit division routines.
//!
//! On 8- and 16-bit targets (AVR, MSP430) `i64 / i64` links a 2.8 KB library routine; a
//! reading never divides, but computing a calibration does. These helpers divide by shifts and
//! subtractions there (about 100 bytes of code, 64 steps) and use the native division
//! everywhere else. Used by [`Calibration`](crate::Calibration), the filters and `scale-node`
//! (through the feature `__internal`, which makes this module public with no semver guarantee).

// some helpers serve only scale-node
#![cfg_attr(not(feature = "__internal"), allow(dead_code))]

/// `(n / d, n % d)`; `d` = 0 gives `(u64::MAX, n)`.
pub const fn div_rem_u64(n: u64, d: u64) -> (u64, u64) {
    if d == 0 {
        return (u64::MAX, n);
    }
    #[cfg(not(target_pointer_width = "16"))]
    {
        (n / d, n % d)
    }
    #[cfg(target_pointer_width = "16")]
    {
        long_division(n, d)
    }
}

#[cfg_attr(not(any(target_pointer_width = "16", test)), allow(dead_code))]
const fn long_division(n: u64, d: u64) -> (u64, u64) {
    let (mut q, mut r) = (0u64, 0u64);
    let mut i = 64;
    while i > 0 {
        i -= 1;
        // r < d before the shift; a bit shifted out of r means r > d
        let top = r >> 63;
        r = (r << 1) | ((n >> i) & 1);
        if top == 1 || r >= d {
            r = r.wrapping_sub(d);
            q |= 1 << i;
        }
    }
    (q, r)
}

/// `(n / d, n % d)` for 32 bits; `d` = 0 gives `(u32::MAX, n)`.
pub const fn div_rem_u32(n: u32, d: u32) -> (u32, u32) {
    if d == 0 {
        return (u32::MAX, n);
    }
    #[cfg(not(target_pointer_width = "16"))]
    {
        (n / d, n % d)
    }
    #[cfg(target_pointer_width = "16")]
    {
        let (q, r) = long_division(n as u64, d as u64);
        (q as u32, r as u32)
    }
}

/// `num / den` rounded to nearest, halves away from zero; `den` = 0 gives 0.
pub fn div_round_i64(num: i64, den: i64) -> i64 {
    if den == 0 {
        return 0;
    }
    let (q, r) = div_rem_u64(num.unsigned_abs(), den.unsigned_abs());
    let q = q + u64::from(r >= den.unsigned_abs() - r);
    let q = q.min(i64::MAX as u64) as i64;
    if (num < 0) != (den < 0) { -q } else { q }
}

/// `num / den` rounded toward minus infinity (`i64::div_euclid` for a positive `den`); `den`
/// = 0 gives 0.
pub fn div_floor_i64(num: i64, den: i64) -> i64 {
    if den == 0 {
        return 0;
    }
    let (q, r) = div_rem_u64(num.unsigned_abs(), den.unsigned_abs());
    let q = q.min(i64::MAX as u64) as i64;
    if (num < 0) == (den < 0) {
        q
    } else if r == 0 {
        -q
    } else {
        -q - 1
    }
}

/// `num / den` rounded toward zero (Rust's `/`); `den` = 0 gives 0.
pub fn div_trunc_i64(num: i64, den: i64) -> i64 {
    if den == 0 {
        return 0;
    }
    let (q, _) = div_rem_u64(num.unsigned_abs(), den.unsigned_abs());
    let q = q.min(i64::MAX as u64) as i64;
    if (num < 0) != (den < 0) { -q } else { q }
}

/// `x * k` saturated at `u32::MAX`, by one comparison with a constant `k` (`u32::MAX / k` folds
/// away; with a variable `k` it is a division): `u32::saturating_mul` checks the
/// product for overflow, which on 8- and 16-bit targets (AVR) is a 64-bit multiplication.
pub const fn saturating_mul_u32(x: u32, k: u32) -> u32 {
    if k != 0 && x > u32::MAX / k {
        u32::MAX
    } else {
        x * k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUES: [i64; 14] = [
        0,
        1,
        -1,
        2,
        -3,
        7,
        99,
        -100,
        12_345_678_901,
        -98_765_432_109,
        i64::MAX,
        i64::MIN + 1,
        1 << 62,
        -(1 << 40) + 3,
    ];

    #[test]
    fn long_division_matches_native() {
        for &n in &VALUES {
            for &d in &VALUES {
                let (n, d) = (n.unsigned_abs(), d.unsigned_abs());
                if d == 0 {
                    continue;
                }
                assert_eq!(long_division(n, d), (n / d, n % d), "{n} / {d}");
            }
        }
        assert_eq!(long_division(u64::MAX, u64::MAX), (1, 0));
        assert_eq!(long_division(u64::MAX, (1 << 63) + 1), (1, (1 << 63) - 2));
        assert_eq!(long_division(u64::MAX, 1), (u64::MAX, 0));
    }

    #[test]
    fn signed_helpers_match_native_rounding() {
        for &n in &VALUES {
            for &d in &VALUES {
                if d == 0 {
                    assert_eq!(div_round_i64(n, d), 0);
                    continue;
                }
                assert_eq!(div_trunc_i64(n, d), n / d, "{n} / {d}");
                assert_eq!(div_floor_i64(n, d), n.div_floor_ref(d), "{n} floor {d}");
                let exact = n as f64 / d as f64;
                let want = exact.abs().round().copysign(exact);
                if exact.abs() < 1e15 {
                    assert_eq!(div_round_i64(n, d) as f64, want, "{n} round {d}");
                }
            }
        }
        assert_eq!(div_round_i64(5, 2), 3);
        assert_eq!(div_round_i64(-5, 2), -3);
        assert_eq!(div_round_i64(7, -2), -4);
        assert_eq!(div_floor_i64(-7, 2), -4);
        assert_eq!(div_floor_i64(7, 2), 3);
    }

    #[test]
    fn saturating_product_by_a_constant() {
        assert_eq!(saturating_mul_u32(100_000, 4), 400_000);
        assert_eq!(saturating_mul_u32(u32::MAX / 3 + 1, 3), u32::MAX);
        assert_eq!(saturating_mul_u32(u32::MAX / 3, 3), u32::MAX / 3 * 3);
        assert_eq!(saturating_mul_u32(7, 0), 0);
    }

    trait FloorRef {
        fn div_floor_ref(self, d: i64) -> i64;
    }
    impl FloorRef for i64 {
        fn div_floor_ref(self, d: i64) -> i64 {
            let q = self / d;
            if (self % d != 0) && ((self < 0) != (d < 0)) {
                q - 1
            } else {
                q
            }
        }
    }
}
