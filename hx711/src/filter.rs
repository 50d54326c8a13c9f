//! Allocation-free filters over raw codes: median, trimmed mean, a const-generic window and
//! stability detection. Integer-only, so an 8-bit target pays for no floating point.
//!
//! They live in the driver crate because every HX711 user needs them and they depend on
//! nothing but `i32` samples; `scale-node` builds its readings on them.

/// Sort a small slice in place (insertion sort: no allocation, tiny code, fine for N ≤ 32).
fn sort_small(values: &mut [i32]) {
    for i in 1..values.len() {
        let mut j = i;
        while j > 0 && values[j - 1] > values[j] {
            values.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Median of `values` (reordered in place). For an even count, the mean of the middle two,
/// rounded towards negative infinity. `None` when empty.
pub fn median_in_place(values: &mut [i32]) -> Option<i32> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    sort_small(values);
    let hi = *values.get(n / 2)?;
    if n % 2 == 1 {
        Some(hi)
    } else {
        let lo = *values.get(n / 2 - 1)?;
        Some(((i64::from(lo) + i64::from(hi)) >> 1) as i32)
    }
}

/// Mean of `values` after dropping the `trim` smallest and `trim` largest (reordered in
/// place). `None` when nothing is left.
pub fn trimmed_mean_in_place(values: &mut [i32], trim: usize) -> Option<i32> {
    let n = values.len();
    if n <= trim.saturating_mul(2) {
        return None;
    }
    sort_small(values);
    let kept = values.get(trim..n - trim)?;
    let sum: i64 = kept.iter().map(|&v| i64::from(v)).sum();
    Some(crate::math::div_floor_i64(sum, kept.len() as i64) as i32)
}

/// How a [`Window`] reduces its samples to one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Estimator {
    /// Arithmetic mean.
    Mean,
    /// Median: robust against single spikes.
    Median,
    /// Mean of the middle values after dropping `n` at each end.
    TrimmedMean(u8),
}

/// The last `N` samples.
#[derive(Debug, Clone)]
pub struct Window<const N: usize> {
    buf: [i32; N],
    len: usize,
    next: usize,
}

impl<const N: usize> Default for Window<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Window<N> {
    /// An empty window.
    pub const fn new() -> Self {
        Window {
            buf: [0; N],
            len: 0,
            next: 0,
        }
    }

    /// Add a sample, replacing the oldest when full.
    pub fn push(&mut self, value: i32) {
        if N == 0 {
            return;
        }
        if let Some(slot) = self.buf.get_mut(self.next) {
            *slot = value;
        }
        self.next = (self.next + 1) % N;
        self.len = (self.len + 1).min(N);
    }

    /// Number of samples held.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// `true` when empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `true` when `N` samples are held.
    pub const fn is_full(&self) -> bool {
        self.len == N
    }

    /// Forget every sample.
    pub fn clear(&mut self) {
        self.len = 0;
        self.next = 0;
    }

    /// Reduce the held samples (`None` when empty or over-trimmed).
    pub fn estimate(&self, estimator: Estimator) -> Option<i32> {
        let mut tmp = self.buf;
        let held = tmp.get_mut(..self.len)?;
        match estimator {
            Estimator::Mean => trimmed_mean_in_place(held, 0),
            Estimator::Median => median_in_place(held),
            Estimator::TrimmedMean(t) => trimmed_mean_in_place(held, usize::from(t)),
        }
    }

    /// Smallest and largest held sample.
    pub fn span(&self) -> Option<(i32, i32)> {
        let held = self.buf.get(..self.len)?;
        let min = held.iter().copied().min()?;
        let max = held.iter().copied().max()?;
        Some((min, max))
    }
}

/// "Stable when the last `N` samples lie within ±`tolerance` counts of each other."
#[derive(Debug, Clone)]
pub struct Stability<const N: usize> {
    window: Window<N>,
    tolerance: u32,
}

impl<const N: usize> Stability<N> {
    /// A detector with a tolerance of ±`tolerance` counts.
    pub const fn new(tolerance: u32) -> Self {
        Stability {
            window: Window::new(),
            tolerance,
        }
    }

    /// Add a sample; returns whether the window is now full and stable.
    pub fn push(&mut self, value: i32) -> bool {
        self.window.push(value);
        self.is_stable()
    }

    /// Whether the last `N` samples are within tolerance.
    pub fn is_stable(&self) -> bool {
        if !self.window.is_full() {
            return false;
        }
        match self.window.span() {
            Some((min, max)) => (i64::from(max) - i64::from(min)) <= 2 * i64::from(self.tolerance),
            None => false,
        }
    }

    /// Start over (after a tare or a mode change).
    pub fn reset(&mut self) {
        self.window.clear();
    }
}
