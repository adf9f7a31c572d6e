//! Property tests (proptest, modest case counts) of invariants every correct implementation
//! has: confusion rows sum to the class counts; ECE ∈ [0, 1]; metrics do not depend on row
//! order; temperature scaling never changes top-1; a Wilson interval contains its estimate and
//! lies in [0, 1].

use proptest::prelude::*;
use suites::calibration::{self, RowStats};
use suites::confusion::confusion_matrix;
use suites::stats::wilson95;
use suites::{accuracy, Predictions, RecordMeta, SuiteConfig};

const C: usize = 4;

/// Random predictions: 1..60 rows of C logits in [-8, 8] (rounded to 1/8 so ties happen).
fn predictions() -> impl Strategy<Value = Predictions> {
    prop::collection::vec((0..C, prop::collection::vec(-64i32..=64, C)), 1..60).prop_map(|rows| {
        let n = rows.len();
        Predictions::from_parts(
            RecordMeta::default(),
            (0..C).map(|k| format!("class{k}")).collect(),
            (0..n).map(|i| format!("img{i}")).collect(),
            rows.iter().map(|r| r.0).collect(),
            rows.iter()
                .map(|r| r.1.iter().map(|&v| v as f64 / 8.0).collect())
                .collect(),
        )
        .unwrap()
    })
}

fn cfg() -> SuiteConfig {
    SuiteConfig {
        bootstrap_resamples: 0,
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn confusion_rows_sum_to_class_counts(p in predictions()) {
        let m = confusion_matrix(&p);
        for (k, row) in m.iter().enumerate() {
            let count = p.labels.iter().filter(|&&y| y == k).count() as u64;
            prop_assert_eq!(row.iter().sum::<u64>(), count);
        }
    }

    #[test]
    fn ece_is_a_fraction(p in predictions(), t in 0.05f64..20.0) {
        let rs = RowStats::new(&p, t);
        let (ece, mce, _) = calibration::ece_equal_width(&rs.confidence, &rs.correct, false);
        let (ece_m, _) = calibration::ece_equal_mass(&rs.confidence, &rs.correct, false);
        for v in [ece, mce, ece_m] {
            prop_assert!((0.0..=1.0).contains(&v), "{}", v);
        }
        prop_assert!(ece <= mce + 1e-12);
    }

    #[test]
    fn metrics_do_not_depend_on_row_order(p in predictions(), seed in any::<u64>()) {
        // A seeded Fisher–Yates permutation.
        let n = p.len();
        let mut order: Vec<usize> = (0..n).collect();
        let mut s = seed | 1;
        for i in (1..n).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            order.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let q = p.select(&order);
        let a = accuracy::run(&p, &cfg()).unwrap();
        let b = accuracy::run(&q, &cfg()).unwrap();
        prop_assert_eq!(&a.summary, &b.summary);
        prop_assert_eq!(&a.per_class, &b.per_class);
        let ca = calibration::run(&p, None, &cfg()).unwrap();
        let cb = calibration::run(&q, None, &cfg()).unwrap();
        for (x, y) in ca.summaries.iter().zip(&cb.summaries) {
            // Sums in a different order: equal up to rounding.
            for (u, v) in [(x.ece_15, y.ece_15), (x.ece_15_mass, y.ece_15_mass), (x.mce_15, y.mce_15),
                           (x.brier, y.brier), (x.nll, y.nll), (x.aurc, y.aurc)] {
                prop_assert!((u - v).abs() < 1e-12, "{} vs {}", u, v);
            }
        }
        let ta: Vec<_> = ca.metrics.iter().filter(|m| m.metric.contains('@')).map(|m| m.value).collect();
        let tb: Vec<_> = cb.metrics.iter().filter(|m| m.metric.contains('@')).map(|m| m.value).collect();
        prop_assert_eq!(format!("{ta:?}"), format!("{tb:?}"));
    }

    #[test]
    fn temperature_scaling_keeps_top1(p in predictions(), t in 0.01f64..100.0) {
        let a = RowStats::new(&p, 1.0);
        let b = RowStats::new(&p, t);
        prop_assert_eq!(a.correct, b.correct);
        let fitted = calibration::fit_temperature(&p).unwrap();
        prop_assert!((calibration::T_MIN..=calibration::T_MAX).contains(&fitted));
        // The fit is no worse than T = 1 or the probe temperature.
        let best = calibration::mean_nll(&p, fitted);
        prop_assert!(best <= calibration::mean_nll(&p, 1.0) + 1e-9);
        prop_assert!(best <= calibration::mean_nll(&p, t) + 1e-9);
    }

    #[test]
    fn wilson_contains_estimate(n in 1u64..5000, frac in 0.0f64..=1.0) {
        let k = ((n as f64) * frac).round() as u64;
        let w = wilson95(k, n).unwrap();
        let p = k as f64 / n as f64;
        prop_assert!(0.0 <= w.low && w.low <= p + 1e-15 && p <= w.high + 1e-15 && w.high <= 1.0,
            "{:?} vs {}", w, p);
    }
}
