//! Statistics shared by the suites.
//!
//! - Wilson score interval for a binomial proportion (Wilson 1927; Brown, Cai & DasGupta 2001,
//!   "Interval Estimation for a Binomial Proportion"), z from the standard normal quantile.
//! - Seeded nonparametric bootstrap with the percentile interval (Efron & Tibshirani 1993,
//!   ch. 13). Resample `b` draws its indices from a ChaCha8 stream seeded with `seed` and
//!   stream number `b`, so results are identical whatever the number of rayon threads.
//! - McNemar's exact test (McNemar 1947; the exact conditional form: a two-sided binomial test
//!   with p = 1/2 on the discordant pairs), as `scipy.stats.binomtest(b, b + c)` computes it.
//! - Percentiles by linear interpolation between closest ranks: for sorted `x` of length `n` and
//!   `q ∈ [0, 1]`, `h = (n − 1)q`, value `x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋])` — numpy's default
//!   (`method="linear"`, Hyndman & Fan 1996 definition 7).
//! - Mean and the sample standard deviation (`n − 1` denominator, numpy `ddof=1`).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use statrs::distribution::{Binomial, ContinuousCDF, DiscreteCDF, Normal};

use crate::Interval;

/// The two-sided standard-normal quantile for a `level` interval (`1.959963984540054` for 0.95).
pub fn z_for_level(level: f64) -> f64 {
    let normal = Normal::new(0.0, 1.0).expect("standard normal parameters are valid");
    normal.inverse_cdf(0.5 + level / 2.0)
}

/// The 95% two-sided normal quantile.
pub fn z95() -> f64 {
    z_for_level(0.95)
}

/// Wilson score interval for `successes` out of `n` at quantile `z`; `None` when `n == 0`.
///
/// center = (p̂ + z²/2n) / (1 + z²/n), half = z/(1 + z²/n) · √(p̂(1−p̂)/n + z²/4n²).
pub fn wilson(successes: u64, n: u64, z: f64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let p = successes as f64 / nf;
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let center = (p + z2 / (2.0 * nf)) / denom;
    let half = z / denom * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    // At k = 0 (k = n) the lower (upper) bound is exactly 0 (1); rounding would leave ~1e-17.
    Some(Interval {
        low: if successes == 0 {
            0.0
        } else {
            (center - half).max(0.0)
        },
        high: if successes >= n {
            1.0
        } else {
            (center + half).min(1.0)
        },
        method: "wilson",
    })
}

/// 95% Wilson interval.
pub fn wilson95(successes: u64, n: u64) -> Option<Interval> {
    wilson(successes, n, z95())
}

/// Percentile `q ∈ [0, 1]` of already sorted data by linear interpolation (numpy default).
/// `NaN` for empty input.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let frac = h - lo as f64;
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

/// Percentile of unsorted data (sorts a copy; NaNs are not allowed).
pub fn percentile(data: &[f64], q: f64) -> f64 {
    let mut v = data.to_vec();
    v.sort_by(f64::total_cmp);
    percentile_sorted(&v, q)
}

/// Percentile `q` of unsorted data in O(n) by selection (reorders `data`); same value as
/// [`percentile_sorted`] on the sorted data. `NaN` for empty input.
pub fn percentile_select(data: &mut [f64], q: f64) -> f64 {
    let n = data.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let frac = h - lo as f64;
    let (_, &mut x_lo, rest) = data.select_nth_unstable_by(lo, f64::total_cmp);
    if frac == 0.0 || rest.is_empty() {
        return x_lo;
    }
    let x_hi = rest.iter().cloned().fold(f64::INFINITY, f64::min);
    x_lo + frac * (x_hi - x_lo)
}

/// Arithmetic mean; `NaN` for empty input.
pub fn mean(data: &[f64]) -> f64 {
    if data.is_empty() {
        return f64::NAN;
    }
    data.iter().sum::<f64>() / data.len() as f64
}

/// Sample standard deviation (`n − 1` denominator); `NaN` for fewer than two values.
pub fn std_dev(data: &[f64]) -> f64 {
    if data.len() < 2 {
        return f64::NAN;
    }
    let m = mean(data);
    let ss: f64 = data.iter().map(|x| (x - m) * (x - m)).sum();
    (ss / (data.len() - 1) as f64).sqrt()
}

/// Bootstrap settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bootstrap {
    pub resamples: usize,
    pub seed: u64,
}

impl Bootstrap {
    /// The indices of resample `b` of `n` items (with replacement): a pure function of
    /// (`seed`, `b`, `n`).
    pub fn resample_indices(&self, b: usize, n: usize, out: &mut Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(b as u64);
        out.clear();
        out.extend((0..n).map(|_| rng.random_range(0..n)));
    }

    /// Percentile bootstrap of `k` statistics at once. `stat` maps the resampled row indices to
    /// the `k` statistics; it runs once per resample, in parallel. Resamples where a statistic
    /// is `NaN` (e.g. no accepted predictions) are left out of that statistic's interval.
    /// Returns one 95% interval per statistic (`None` if no resample gave a finite value, or
    /// `resamples == 0` or `n == 0`).
    pub fn percentile_intervals<F>(&self, n: usize, k: usize, stat: F) -> Vec<Option<Interval>>
    where
        F: Fn(&[usize]) -> Vec<f64> + Sync,
    {
        if self.resamples == 0 || n == 0 {
            return vec![None; k];
        }
        let draws: Vec<Vec<f64>> = (0..self.resamples)
            .into_par_iter()
            .map_init(Vec::new, |buf, b| {
                self.resample_indices(b, n, buf);
                let s = stat(buf);
                debug_assert_eq!(s.len(), k);
                s
            })
            .collect();
        (0..k)
            .map(|j| {
                let mut col: Vec<f64> =
                    draws.iter().map(|d| d[j]).filter(|v| !v.is_nan()).collect();
                if col.is_empty() {
                    return None;
                }
                col.sort_by(f64::total_cmp);
                Some(Interval {
                    low: percentile_sorted(&col, 0.025),
                    high: percentile_sorted(&col, 0.975),
                    method: "bootstrap",
                })
            })
            .collect()
    }
}

/// McNemar's exact test: two-sided binomial p-value for `b` and `c` discordant pairs
/// (`b` = only model A right, `c` = only model B right) under p = 1/2:
/// `min(1, 2 · P[X ≤ min(b, c)])`, `X ~ Bin(b + c, 1/2)`; 1 when `b + c = 0`.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let bin = Binomial::new(0.5, n).expect("p = 0.5 is a valid binomial parameter");
    (2.0 * bin.cdf(b.min(c))).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_is_the_textbook_value() {
        assert!((z95() - 1.959963984540054).abs() < 1e-12);
    }

    #[test]
    fn wilson_hand_case() {
        // 8/10, z = 1.959964: z² = 3.841459; denom = 1.3841459;
        // center = (0.8 + 0.19207)/1.3841459 = 0.716741; half = z/denom·√(0.016 + 0.0096037)
        // = 1.416009·0.160012 = 0.226579 → [0.490162, 0.943320] (Brown et al. Table style).
        let w = wilson95(8, 10).unwrap();
        assert!((w.low - 0.4901625).abs() < 1e-6, "{w:?}");
        assert!((w.high - 0.9433178).abs() < 1e-6, "{w:?}");
        // 0/n stays inside [0, 1] with low exactly 0.
        let w = wilson95(0, 5).unwrap();
        assert_eq!(w.low, 0.0);
        assert!(w.high > 0.0 && w.high < 1.0);
        assert!(wilson95(0, 0).is_none());
    }

    #[test]
    fn percentile_hand_case() {
        // numpy.percentile([1, 2, 3, 4], 50) = 2.5; 90th: h = 2.7 → 3 + 0.7 = 3.7.
        let x = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(percentile(&x, 0.5), 2.5);
        assert!((percentile(&x, 0.9) - 3.7).abs() < 1e-12);
        assert_eq!(percentile(&x, 0.0), 1.0);
        assert_eq!(percentile(&x, 1.0), 4.0);
        assert!(percentile(&[], 0.5).is_nan());
        for q in [0.0, 0.25, 0.5, 0.9, 0.99, 1.0] {
            let mut v = vec![5.0, 1.0, 4.0, 4.0, 9.0, 2.0, 7.0];
            let want = percentile(&v, q);
            assert_eq!(percentile_select(&mut v, q), want, "q = {q}");
        }
    }

    #[test]
    fn mean_std_hand_case() {
        // [2, 4, 4, 4, 5, 5, 7, 9]: mean 5, Σ(x−5)² = 32, sample std √(32/7) = 2.138089935.
        let x = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(mean(&x), 5.0);
        assert!((std_dev(&x) - (32.0f64 / 7.0).sqrt()).abs() < 1e-15);
    }

    #[test]
    fn mcnemar_hand_case() {
        // b = 1, c = 5: P[X ≤ 1] for Bin(6, ½) = (1 + 6)/64 = 7/64; p = 14/64 = 0.21875.
        assert!((mcnemar_exact(1, 5) - 0.21875).abs() < 1e-12);
        assert!((mcnemar_exact(5, 1) - 0.21875).abs() < 1e-12);
        // b = 0, c = 10: 2/1024.
        assert!((mcnemar_exact(0, 10) - 2.0 / 1024.0).abs() < 1e-15);
        assert_eq!(mcnemar_exact(3, 3), 1.0);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
    }

    #[test]
    fn bootstrap_is_deterministic_and_thread_independent() {
        let data: Vec<f64> = (0..200).map(|i| ((i * 37) % 101) as f64).collect();
        let bs = Bootstrap {
            resamples: 300,
            seed: 7,
        };
        let stat =
            |idx: &[usize]| vec![idx.iter().map(|&i| data[i]).sum::<f64>() / idx.len() as f64];
        let a = bs.percentile_intervals(data.len(), 1, stat);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| bs.percentile_intervals(data.len(), 1, stat));
        assert_eq!(a, b);
        let iv = a[0].unwrap();
        let m = mean(&data);
        assert!(iv.low < m && m < iv.high, "{iv:?} vs {m}");
        // A different seed gives a different (but close) interval.
        let c = Bootstrap { seed: 8, ..bs }.percentile_intervals(data.len(), 1, stat);
        assert_ne!(a, c);
        // Standard error of the mean is σ/√n ≈ 29/14 ≈ 2.1: the 95% interval is ≈ ±4.1.
        let width = iv.high - iv.low;
        assert!(width > 5.0 && width < 12.0, "{width}");
    }
}
