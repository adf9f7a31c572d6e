//! The calibration suite, after Guo, Pleiss, Sun & Weinberger 2017, "On Calibration of Modern
//! Neural Networks" (ICML), and Geifman & El-Yaniv / Geifman et al. 2018 for selective
//! prediction (risk–coverage curve, AURC).
//!
//! Confidence = max softmax probability; "correct" = top-1 equals the true class.
//! - `ece_15`: expected calibration error over 15 equal-width bins `((m−1)/15, m/15]`
//!   (bin index `⌈15·conf⌉ − 1`, clamped to 0..14): Σ_m |B_m|/n · |acc(B_m) − conf(B_m)|.
//! - `ece_15_mass`: the same over 15 equal-mass bins: rows sorted by (confidence, correct)
//!   ascending and cut like `numpy.array_split` (the first `n mod 15` bins hold one extra row).
//! - `mce_15`: max over nonempty equal-width bins of |acc − conf|.
//! - `brier`: multi-class Brier score, mean over rows of Σ_k (p_k − 1[k = y])² (range [0, 2]).
//! - `nll`: mean −log p_y in nats, from the log-softmax of the logits.
//! - temperature scaling: T > 0 minimising the mean NLL of `softmax(z / T)` on the validation
//!   split — golden-section search on log T over [1/100, 100], then safeguarded Newton steps on
//!   β = 1/T (the NLL is convex in β); every metric is reported before (`calibrated=false`) and
//!   after (`calibrated=true`) applying T to the test split. Top-1 never changes.
//! - at each threshold τ: `coverage@τ` (share with confidence ≥ τ), `selective_acc@τ`
//!   (accuracy of those), `errors_flagged@τ` (share of errors with confidence < τ — the
//!   app's warning catches them), `correct_flagged@τ` (share of correct predictions with
//!   confidence < τ), each with a Wilson interval.
//! - risk–coverage curve: one point per distinct confidence t (descending), accepting rows with
//!   confidence ≥ t; `aurc` = (1/n) Σ_i risk(accept conf ≥ conf_i), which is the usual
//!   Σ_k risk@k / n without ties and does not depend on row order with ties.
//! - `threshold_for_selective_acc` (params `target=0.90`): the lowest threshold t (a confidence
//!   value of the data; accept conf ≥ t) whose selective accuracy reaches the target.
//!
//! `ece_15`, `ece_15_mass`, `mce_15`, `brier` and `nll` carry seeded bootstrap intervals.

use results::records::MetricRecord;
use serde::Serialize;

use crate::predictions::{log_softmax_at, softmax_into, Predictions};
use crate::stats::{wilson95, Bootstrap};
use crate::{format_threshold, metric, Interval, SuiteConfig, SuiteError, SuiteInfo};

/// Registry entry.
pub const INFO: SuiteInfo = SuiteInfo {
    name: "calibration",
    version: 1,
    description: "ECE (15 equal-width and equal-mass bins), MCE, Brier, NLL, reliability \
                  diagrams, temperature scaling, selective prediction at thresholds, \
                  risk-coverage and AURC",
};

/// Number of bins for ECE / MCE / reliability diagrams.
pub const BINS: usize = 15;

/// One reliability-diagram bin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReliabilityBin {
    /// `equal_width` or `equal_mass`.
    pub binning: &'static str,
    pub calibrated: bool,
    pub bin: usize,
    /// Bin edges: the fixed edges for equal-width bins; the smallest and largest confidence in
    /// the bin for equal-mass bins (`None` when empty).
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    pub count: u64,
    pub mean_confidence: Option<f64>,
    pub accuracy: Option<f64>,
}

/// One point of the risk–coverage curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskCoveragePoint {
    pub calibrated: bool,
    /// Accept rows with confidence ≥ threshold.
    pub threshold: f64,
    pub accepted: u64,
    pub coverage: f64,
    /// Error rate of the accepted rows.
    pub risk: f64,
}

/// The lowest threshold reaching a target selective accuracy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetThreshold {
    pub calibrated: bool,
    pub target: f64,
    /// `None` when no threshold reaches the target.
    pub threshold: Option<f64>,
    pub coverage: Option<f64>,
    pub selective_acc: Option<f64>,
    pub accepted: u64,
}

/// Headline numbers for one setting (before or after temperature scaling).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationSummary {
    pub calibrated: bool,
    pub temperature: f64,
    pub n: u64,
    pub ece_15: f64,
    pub ece_15_mass: f64,
    pub mce_15: f64,
    pub brier: f64,
    pub nll: f64,
    pub aurc: f64,
}

/// Output of [`run`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationReport {
    pub metrics: Vec<MetricRecord>,
    /// Fitted on the validation split; `None` when none was given.
    pub temperature: Option<f64>,
    /// Uncalibrated first, then calibrated (if fitted).
    pub summaries: Vec<CalibrationSummary>,
    pub reliability: Vec<ReliabilityBin>,
    pub risk_coverage: Vec<RiskCoveragePoint>,
    pub target_thresholds: Vec<TargetThreshold>,
}

/// Per-row quantities at one temperature.
#[derive(Debug, Clone, PartialEq)]
pub struct RowStats {
    pub confidence: Vec<f64>,
    pub correct: Vec<bool>,
    /// Σ_k (p_k − 1[k = y])² per row.
    pub brier: Vec<f64>,
    /// −log p_y per row.
    pub nll: Vec<f64>,
}

impl RowStats {
    /// Computes the per-row quantities of `preds` at temperature `t`.
    pub fn new(preds: &Predictions, t: f64) -> Self {
        let c = preds.num_classes();
        let mut p = vec![0.0; c];
        let n = preds.len();
        let mut s = RowStats {
            confidence: Vec::with_capacity(n),
            correct: Vec::with_capacity(n),
            brier: Vec::with_capacity(n),
            nll: Vec::with_capacity(n),
        };
        for i in 0..n {
            let z = preds.logits_row(i);
            let y = preds.labels[i];
            softmax_into(z, t, &mut p);
            let top = preds.argmax(i);
            s.confidence.push(p[top]);
            s.correct.push(top == y);
            s.brier.push(
                p.iter()
                    .enumerate()
                    .map(|(k, &pk)| {
                        let d = pk - if k == y { 1.0 } else { 0.0 };
                        d * d
                    })
                    .sum(),
            );
            s.nll.push(-log_softmax_at(z, t, y));
        }
        s
    }
}

/// Equal-width bin of a confidence: `⌈15·conf⌉ − 1`, clamped to `0..15`.
pub fn width_bin(conf: f64) -> usize {
    ((conf * BINS as f64).ceil() as i64 - 1).clamp(0, BINS as i64 - 1) as usize
}

/// Bin of sorted position `p` among `n` rows cut like `numpy.array_split(.., 15)`.
fn mass_bin(p: usize, n: usize) -> usize {
    let q = n / BINS;
    let r = n % BINS;
    let big = r * (q + 1);
    if p < big {
        p / (q + 1)
    } else {
        r + (p - big) / q
    }
}

/// Accumulates (count, Σconf, Σcorrect) per bin and folds them into (ECE, MCE).
#[derive(Clone)]
struct BinAcc {
    count: [u64; BINS],
    conf: [f64; BINS],
    correct: [u64; BINS],
}

impl BinAcc {
    fn new() -> Self {
        Self {
            count: [0; BINS],
            conf: [0.0; BINS],
            correct: [0; BINS],
        }
    }
    fn add(&mut self, b: usize, conf: f64, correct: bool) {
        self.count[b] += 1;
        self.conf[b] += conf;
        self.correct[b] += correct as u64;
    }
    fn ece_mce(&self) -> (f64, f64) {
        let n: u64 = self.count.iter().sum();
        let (mut ece, mut mce) = (0.0, 0.0f64);
        for b in 0..BINS {
            if self.count[b] == 0 {
                continue;
            }
            let cnt = self.count[b] as f64;
            let gap = (self.correct[b] as f64 / cnt - self.conf[b] / cnt).abs();
            ece += cnt / n as f64 * gap;
            mce = mce.max(gap);
        }
        (ece, mce)
    }
}

/// Row order for equal-mass binning: ascending (confidence, correct).
fn mass_order(conf: &[f64], correct: &[bool]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..conf.len()).collect();
    order.sort_by(|&i, &j| {
        conf[i]
            .total_cmp(&conf[j])
            .then(correct[i].cmp(&correct[j]))
    });
    order
}

/// ECE and MCE over 15 equal-width bins, with the reliability bins.
pub fn ece_equal_width(
    conf: &[f64],
    correct: &[bool],
    calibrated: bool,
) -> (f64, f64, Vec<ReliabilityBin>) {
    let mut acc = BinAcc::new();
    for (&c, &ok) in conf.iter().zip(correct) {
        acc.add(width_bin(c), c, ok);
    }
    let (ece, mce) = acc.ece_mce();
    let bins = (0..BINS)
        .map(|b| ReliabilityBin {
            binning: "equal_width",
            calibrated,
            bin: b,
            lo: Some(b as f64 / BINS as f64),
            hi: Some((b + 1) as f64 / BINS as f64),
            count: acc.count[b],
            mean_confidence: (acc.count[b] > 0).then(|| acc.conf[b] / acc.count[b] as f64),
            accuracy: (acc.count[b] > 0).then(|| acc.correct[b] as f64 / acc.count[b] as f64),
        })
        .collect();
    (ece, mce, bins)
}

/// ECE over 15 equal-mass bins, with the reliability bins.
pub fn ece_equal_mass(
    conf: &[f64],
    correct: &[bool],
    calibrated: bool,
) -> (f64, Vec<ReliabilityBin>) {
    let n = conf.len();
    let order = mass_order(conf, correct);
    let mut acc = BinAcc::new();
    let mut lo = [None::<f64>; BINS];
    let mut hi = [None::<f64>; BINS];
    for (p, &i) in order.iter().enumerate() {
        let b = mass_bin(p, n);
        acc.add(b, conf[i], correct[i]);
        lo[b] = Some(lo[b].map_or(conf[i], |v: f64| v.min(conf[i])));
        hi[b] = Some(hi[b].map_or(conf[i], |v: f64| v.max(conf[i])));
    }
    let (ece, _) = acc.ece_mce();
    let bins = (0..BINS)
        .map(|b| ReliabilityBin {
            binning: "equal_mass",
            calibrated,
            bin: b,
            lo: lo[b],
            hi: hi[b],
            count: acc.count[b],
            mean_confidence: (acc.count[b] > 0).then(|| acc.conf[b] / acc.count[b] as f64),
            accuracy: (acc.count[b] > 0).then(|| acc.correct[b] as f64 / acc.count[b] as f64),
        })
        .collect();
    (ece, bins)
}

/// Mean NLL of `softmax(z / t)`.
pub fn mean_nll(preds: &Predictions, t: f64) -> f64 {
    let n = preds.len();
    (0..n)
        .map(|i| -log_softmax_at(preds.logits_row(i), t, preds.labels[i]))
        .sum::<f64>()
        / n as f64
}

/// Mean NLL at inverse temperature β and its first two derivatives in β:
/// f = mean[lse(βz) − βz_y], f' = mean[E_p z − z_y], f'' = mean[Var_p z] ≥ 0.
fn nll_beta(preds: &Predictions, beta: f64) -> (f64, f64, f64) {
    let (mut f, mut g, mut h) = (0.0, 0.0, 0.0);
    for i in 0..preds.len() {
        let z = preds.logits_row(i);
        let y = preds.labels[i];
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let (mut s, mut s1, mut s2) = (0.0, 0.0, 0.0);
        for &v in z {
            let e = (beta * (v - m)).exp();
            s += e;
            s1 += e * v;
            s2 += e * v * v;
        }
        let ez = s1 / s;
        f += beta * (m - z[y]) + s.ln();
        g += ez - z[y];
        h += (s2 / s - ez * ez).max(0.0);
    }
    let n = preds.len() as f64;
    (f / n, g / n, h / n)
}

/// Bracket of the temperature search.
pub const T_MIN: f64 = 0.01;
pub const T_MAX: f64 = 100.0;

/// Fits the temperature minimising the mean NLL of `preds` (normally the validation split).
/// Golden-section search on log T over [`T_MIN`, `T_MAX`], polished by Newton steps on β = 1/T
/// that are kept only while they stay in the bracket and do not increase the NLL.
pub fn fit_temperature(preds: &Predictions) -> Result<f64, SuiteError> {
    if preds.is_empty() {
        return Err(SuiteError::Empty {
            suite: "calibration (temperature fit)",
        });
    }
    let f = |u: f64| nll_beta(preds, (-u).exp()).0;
    let (mut a, mut b) = (T_MIN.ln(), T_MAX.ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let mut x1 = b - g * (b - a);
    let mut x2 = a + g * (b - a);
    let (mut f1, mut f2) = (f(x1), f(x2));
    while b - a > 1e-7 {
        if f1 <= f2 {
            b = x2;
            x2 = x1;
            f2 = f1;
            x1 = b - g * (b - a);
            f1 = f(x1);
        } else {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + g * (b - a);
            f2 = f(x2);
        }
    }
    let mut beta = (-(a + b) / 2.0).exp();
    let (mut fb, mut gb, mut hb) = nll_beta(preds, beta);
    for _ in 0..30 {
        if hb <= 0.0 || gb == 0.0 {
            break;
        }
        let next = beta - gb / hb;
        if !(1.0 / T_MAX..=1.0 / T_MIN).contains(&next) {
            break;
        }
        let (fn_, gn, hn) = nll_beta(preds, next);
        if fn_ > fb || gn.abs() >= gb.abs() {
            break;
        }
        let done = (next - beta).abs() <= 1e-15 * beta;
        beta = next;
        (fb, gb, hb) = (fn_, gn, hn);
        if done {
            break;
        }
    }
    Ok(1.0 / beta)
}

/// The risk–coverage curve (descending threshold) and AURC.
pub fn risk_coverage(
    conf: &[f64],
    correct: &[bool],
    calibrated: bool,
) -> (Vec<RiskCoveragePoint>, f64) {
    let n = conf.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| conf[j].total_cmp(&conf[i]));
    let mut points = Vec::new();
    let mut aurc = 0.0;
    let (mut accepted, mut errors) = (0u64, 0u64);
    let mut p = 0;
    while p < n {
        let t = conf[order[p]];
        let mut q = p;
        while q < n && conf[order[q]] == t {
            accepted += 1;
            errors += !correct[order[q]] as u64;
            q += 1;
        }
        let risk = errors as f64 / accepted as f64;
        aurc += (q - p) as f64 * risk;
        points.push(RiskCoveragePoint {
            calibrated,
            threshold: t,
            accepted,
            coverage: accepted as f64 / n as f64,
            risk,
        });
        p = q;
    }
    (points, if n == 0 { f64::NAN } else { aurc / n as f64 })
}

/// The lowest curve threshold whose selective accuracy reaches `target`.
pub fn threshold_for_target(
    curve: &[RiskCoveragePoint],
    target: f64,
    calibrated: bool,
) -> TargetThreshold {
    let hit = curve.iter().rev().find(|pt| 1.0 - pt.risk >= target);
    TargetThreshold {
        calibrated,
        target,
        threshold: hit.map(|p| p.threshold),
        coverage: hit.map(|p| p.coverage),
        selective_acc: hit.map(|p| 1.0 - p.risk),
        accepted: hit.map_or(0, |p| p.accepted),
    }
}

/// Selective-prediction counts at threshold τ.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ThresholdCounts {
    pub n: u64,
    pub accepted: u64,
    pub accepted_correct: u64,
    pub errors: u64,
    pub errors_flagged: u64,
    pub correct: u64,
    pub correct_flagged: u64,
}

/// Counts at threshold τ (accept confidence ≥ τ).
pub fn threshold_counts(conf: &[f64], correct: &[bool], tau: f64) -> ThresholdCounts {
    let mut t = ThresholdCounts {
        n: conf.len() as u64,
        accepted: 0,
        accepted_correct: 0,
        errors: 0,
        errors_flagged: 0,
        correct: 0,
        correct_flagged: 0,
    };
    for (&c, &ok) in conf.iter().zip(correct) {
        let accept = c >= tau;
        t.accepted += accept as u64;
        t.accepted_correct += (accept && ok) as u64;
        if ok {
            t.correct += 1;
            t.correct_flagged += !accept as u64;
        } else {
            t.errors += 1;
            t.errors_flagged += !accept as u64;
        }
    }
    t
}

fn frac_or_nan(a: u64, b: u64) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

/// Runs the calibration suite on the test predictions; `val` (same model, validation split)
/// fits the temperature. Without `val` only uncalibrated metrics are reported.
pub fn run(
    test: &Predictions,
    val: Option<&Predictions>,
    cfg: &SuiteConfig,
) -> Result<CalibrationReport, SuiteError> {
    cfg.validate()?;
    if test.is_empty() {
        return Err(SuiteError::Empty { suite: INFO.name });
    }
    if let Some(v) = val {
        if v.classes != test.classes {
            return Err(SuiteError::ClassesDiffer {
                context: "calibration (val vs test)",
            });
        }
    }
    let temperature = val.map(fit_temperature).transpose()?;
    let mut report = CalibrationReport {
        metrics: Vec::new(),
        temperature,
        summaries: Vec::new(),
        reliability: Vec::new(),
        risk_coverage: Vec::new(),
        target_thresholds: Vec::new(),
    };
    let meta = &test.meta;
    let n = test.len() as u64;
    if let (Some(t), Some(v)) = (temperature, val) {
        report.metrics.push(metric(
            meta,
            &INFO,
            "temperature",
            format!("fit_split={}", v.meta.split),
            t,
            None,
            v.len() as u64,
            "",
        ));
    }
    let settings: Vec<(bool, f64)> = std::iter::once((false, 1.0))
        .chain(temperature.map(|t| (true, t)))
        .collect();
    let bs = Bootstrap {
        resamples: cfg.bootstrap_resamples,
        seed: cfg.seed,
    };
    for (calibrated, t) in settings {
        let rs = RowStats::new(test, t);
        let p = format!("calibrated={calibrated}");
        let (ece, mce, wbins) = ece_equal_width(&rs.confidence, &rs.correct, calibrated);
        let (ece_m, mbins) = ece_equal_mass(&rs.confidence, &rs.correct, calibrated);
        let brier = rs.brier.iter().sum::<f64>() / n as f64;
        let nll = rs.nll.iter().sum::<f64>() / n as f64;
        let boot = bootstrap_calibration(&bs, &rs);
        let frac = "fraction";
        for (name, v, ci, unit) in [
            ("ece_15", ece, boot[0], frac),
            ("ece_15_mass", ece_m, boot[1], frac),
            ("mce_15", mce, boot[2], frac),
            ("brier", brier, boot[3], "score"),
            ("nll", nll, boot[4], "nats"),
        ] {
            report
                .metrics
                .push(metric(meta, &INFO, name, p.clone(), v, ci, n, unit));
        }
        for &tau in &cfg.thresholds {
            let c = threshold_counts(&rs.confidence, &rs.correct, tau);
            let ts = format_threshold(tau);
            for (name, num, den) in [
                ("coverage", c.accepted, c.n),
                ("selective_acc", c.accepted_correct, c.accepted),
                ("errors_flagged", c.errors_flagged, c.errors),
                ("correct_flagged", c.correct_flagged, c.correct),
            ] {
                report.metrics.push(metric(
                    meta,
                    &INFO,
                    format!("{name}@{ts}"),
                    p.clone(),
                    frac_or_nan(num, den),
                    wilson95(num, den),
                    den,
                    frac,
                ));
            }
        }
        let (curve, aurc) = risk_coverage(&rs.confidence, &rs.correct, calibrated);
        report
            .metrics
            .push(metric(meta, &INFO, "aurc", p.clone(), aurc, None, n, frac));
        for &target in &cfg.target_selective_acc {
            let tt = threshold_for_target(&curve, target, calibrated);
            let tp = format!("target={};{p}", format_threshold(target));
            report.metrics.push(metric(
                meta,
                &INFO,
                "threshold_for_selective_acc",
                tp.clone(),
                tt.threshold.unwrap_or(f64::NAN),
                None,
                tt.accepted,
                "probability",
            ));
            report.metrics.push(metric(
                meta,
                &INFO,
                "coverage_for_selective_acc",
                tp,
                tt.coverage.unwrap_or(f64::NAN),
                None,
                tt.accepted,
                frac,
            ));
            report.target_thresholds.push(tt);
        }
        report.summaries.push(CalibrationSummary {
            calibrated,
            temperature: t,
            n,
            ece_15: ece,
            ece_15_mass: ece_m,
            mce_15: mce,
            brier,
            nll,
            aurc,
        });
        report.reliability.extend(wbins);
        report.reliability.extend(mbins);
        report.risk_coverage.extend(curve);
    }
    Ok(report)
}

/// Bootstrap intervals of [ece_15, ece_15_mass, mce_15, brier, nll]. Equal-mass binning of a
/// resample uses the precomputed rank of each row, so each resample costs O(n).
fn bootstrap_calibration(bs: &Bootstrap, rs: &RowStats) -> Vec<Option<Interval>> {
    let n = rs.confidence.len();
    // Everything in equal-mass order, so a resample is a multiplicity per sorted position and
    // one sequential pass computes all five statistics.
    let order = mass_order(&rs.confidence, &rs.correct);
    let mut rank = vec![0usize; n];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    let conf: Vec<f64> = order.iter().map(|&i| rs.confidence[i]).collect();
    let correct: Vec<bool> = order.iter().map(|&i| rs.correct[i]).collect();
    let wbin: Vec<usize> = conf.iter().map(|&c| width_bin(c)).collect();
    let brier: Vec<f64> = order.iter().map(|&i| rs.brier[i]).collect();
    let nll: Vec<f64> = order.iter().map(|&i| rs.nll[i]).collect();
    bs.percentile_intervals(n, 5, |idx| {
        let mut mult = vec![0u32; n];
        for &i in idx {
            mult[rank[i]] += 1;
        }
        let (mut w, mut m) = (BinAcc::new(), BinAcc::new());
        let (mut sb, mut sn) = (0.0, 0.0);
        let mut pos = 0;
        for r in 0..n {
            let k = mult[r];
            if k == 0 {
                continue;
            }
            let kf = k as f64;
            w.count[wbin[r]] += k as u64;
            w.conf[wbin[r]] += kf * conf[r];
            w.correct[wbin[r]] += if correct[r] { k as u64 } else { 0 };
            sb += kf * brier[r];
            sn += kf * nll[r];
            for _ in 0..k {
                m.add(mass_bin(pos, n), conf[r], correct[r]);
                pos += 1;
            }
        }
        let (ece, mce) = w.ece_mce();
        let (ece_m, _) = m.ece_mce();
        vec![ece, ece_m, mce, sb / n as f64, sn / n as f64]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RecordMeta;

    #[test]
    fn fast_bootstrap_equals_naive_recomputation() {
        // The O(n) rank-based resample statistics equal recomputing each metric from scratch
        // on the resampled rows (with ties in confidence, which the rank order must handle).
        let conf: Vec<f64> = (0..97)
            .map(|i| 0.1 + ((i * 37) % 23) as f64 / 25.0)
            .collect();
        let correct: Vec<bool> = (0..97).map(|i| (i * 11) % 5 < 3).collect();
        let rs = RowStats {
            brier: conf.iter().map(|c| 1.0 - c).collect(),
            nll: conf.iter().map(|c| -f64::ln(*c)).collect(),
            confidence: conf,
            correct,
        };
        let bs = Bootstrap {
            resamples: 40,
            seed: 3,
        };
        let fast = bootstrap_calibration(&bs, &rs);
        let slow = bs.percentile_intervals(97, 5, |idx| {
            let c: Vec<f64> = idx.iter().map(|&i| rs.confidence[i]).collect();
            let k: Vec<bool> = idx.iter().map(|&i| rs.correct[i]).collect();
            let (e, m, _) = ece_equal_width(&c, &k, false);
            let (em, _) = ece_equal_mass(&c, &k, false);
            let b = idx.iter().map(|&i| rs.brier[i]).sum::<f64>() / 97.0;
            let l = idx.iter().map(|&i| rs.nll[i]).sum::<f64>() / 97.0;
            vec![e, em, m, b, l]
        });
        for (f, s) in fast.iter().zip(&slow) {
            let (f, s) = (f.unwrap(), s.unwrap());
            assert!((f.low - s.low).abs() < 1e-12 && (f.high - s.high).abs() < 1e-12);
        }
    }

    #[test]
    fn width_bins_follow_guo_edges() {
        assert_eq!(width_bin(1.0), 14);
        assert_eq!(width_bin(1.0 / 15.0), 0); // right-closed (0, 1/15]
        assert_eq!(width_bin(0.0667), 1);
        assert_eq!(width_bin(0.0), 0);
        // array_split(17, 15): bins 0 and 1 hold two rows.
        let b: Vec<usize> = (0..17).map(|p| mass_bin(p, 17)).collect();
        assert_eq!(&b[..5], &[0, 0, 1, 1, 2]);
        assert_eq!(b[16], 14);
    }

    #[test]
    fn hand_computed_ece_mce() {
        // conf 0.95 ×2 (1 right), 0.45 ×2 (both right): bins 14 and 6.
        // bin 14: acc 0.5, conf 0.95 → gap 0.45; bin 6: acc 1, conf 0.45 → gap 0.55.
        // ECE = ½·0.45 + ½·0.55 = 0.5; MCE = 0.55.
        let conf = [0.95, 0.95, 0.45, 0.45];
        let ok = [true, false, true, true];
        let (ece, mce, bins) = ece_equal_width(&conf, &ok, false);
        assert!((ece - 0.5).abs() < 1e-12);
        assert!((mce - 0.55).abs() < 1e-12);
        assert_eq!(bins[14].count, 2);
        assert_eq!(bins[6].accuracy, Some(1.0));
        assert_eq!(bins[0].mean_confidence, None);
        // Equal mass with 4 rows: 4 bins of one row; |1−0.45|·2 + |0−0.95| + |1−0.95| over 4
        // = (0.55 + 0.55 + 0.95 + 0.05)/4 = 0.525.
        let (ece_m, _) = ece_equal_mass(&conf, &ok, false);
        assert!((ece_m - 0.525).abs() < 1e-12);
    }

    #[test]
    fn hand_computed_selective_and_aurc() {
        // conf: 0.9 ✓, 0.8 ✗, 0.6 ✓, 0.3 ✗, 0.2 ✓
        let conf = [0.9, 0.8, 0.6, 0.3, 0.2];
        let ok = [true, false, true, false, true];
        let c = threshold_counts(&conf, &ok, 0.4);
        assert_eq!((c.accepted, c.accepted_correct), (3, 2));
        assert_eq!((c.errors, c.errors_flagged), (2, 1));
        assert_eq!((c.correct, c.correct_flagged), (3, 1));
        // risks at k = 1..5: 0, 1/2, 1/3, 2/4, 2/5 → AURC = (0 + .5 + .3333 + .5 + .4)/5
        let (curve, aurc) = risk_coverage(&conf, &ok, false);
        assert!((aurc - (0.5 + 1.0 / 3.0 + 0.5 + 0.4) / 5.0).abs() < 1e-12);
        assert_eq!(curve.len(), 5);
        // target 0.6: selective acc at t = 0.2 is 0.6 → lowest threshold 0.2.
        let tt = threshold_for_target(&curve, 0.6, false);
        assert_eq!(tt.threshold, Some(0.2));
        // target 0.9: only t = 0.9 (acc 1).
        let tt = threshold_for_target(&curve, 0.9, false);
        assert_eq!((tt.threshold, tt.accepted), (Some(0.9), 1));
        // Ties are one block: conf 0.5 ✓, 0.5 ✗ → one point with risk ½; AURC ½ either order.
        let (c1, a1) = risk_coverage(&[0.5, 0.5], &[true, false], false);
        let (_, a2) = risk_coverage(&[0.5, 0.5], &[false, true], false);
        assert_eq!((c1.len(), a1, a2), (1, 0.5, 0.5));
    }

    fn two_class(logits: &[[f64; 2]], labels: &[usize]) -> Predictions {
        Predictions::from_parts(
            RecordMeta::default(),
            vec!["a".into(), "b".into()],
            (0..labels.len()).map(|i| format!("{i}")).collect(),
            labels.to_vec(),
            logits.iter().map(|z| z.to_vec()).collect(),
        )
        .unwrap()
    }

    #[test]
    fn temperature_hand_case() {
        // Two-class margins d = z_a − z_b = 2 for 4 rows, 3 labelled a and 1 labelled b: the
        // NLL-optimal calibrated probability of class a is the empirical 3/4, so
        // σ(2/T) = 3/4 → T = 2 / ln 3 = 1.8204784532536746.
        let p = two_class(&[[2.0, 0.0]; 4], &[0, 0, 0, 1]);
        let t = fit_temperature(&p).unwrap();
        assert!((t - 2.0 / 3f64.ln()).abs() < 1e-9, "{t}");
        // NLL derivative vanishes there.
        let (_, g, _) = nll_beta(&p, 1.0 / t);
        assert!(g.abs() < 1e-12);
    }

    #[test]
    fn temperature_at_bracket_edge_when_all_correct() {
        let p = two_class(&[[2.0, 0.0], [0.0, 3.0]], &[0, 1]);
        let t = fit_temperature(&p).unwrap();
        assert!(t < 0.0101, "{t}");
    }

    #[test]
    fn hand_computed_brier_nll() {
        // logits [ln 3, 0] → p = (0.75, 0.25). Label a: Brier = 0.25² + 0.25² = 0.125,
        // NLL = −ln 0.75.
        let p = two_class(&[[3f64.ln(), 0.0]], &[0]);
        let rs = RowStats::new(&p, 1.0);
        assert!((rs.brier[0] - 0.125).abs() < 1e-15);
        assert!((rs.nll[0] + 0.75f64.ln()).abs() < 1e-15);
        assert!((rs.confidence[0] - 0.75).abs() < 1e-15);
    }

    #[test]
    fn run_emits_the_schema_names() {
        let p = two_class(
            &[[2.0, 0.0], [1.0, 0.5], [0.0, 1.0], [0.2, 0.0], [0.0, 3.0]],
            &[0, 1, 1, 0, 0],
        );
        let cfg = SuiteConfig {
            bootstrap_resamples: 20,
            ..Default::default()
        };
        let r = run(&p, Some(&p), &cfg).unwrap();
        let names: std::collections::BTreeSet<_> =
            r.metrics.iter().map(|m| m.metric.as_str()).collect();
        for want in [
            "ece_15",
            "ece_15_mass",
            "mce_15",
            "brier",
            "nll",
            "temperature",
            "coverage@0.40",
            "selective_acc@0.40",
            "errors_flagged@0.40",
            "correct_flagged@0.40",
            "aurc",
            "threshold_for_selective_acc",
        ] {
            assert!(names.contains(want), "missing {want}: {names:?}");
        }
        let ece_rows: Vec<_> = r.metrics.iter().filter(|m| m.metric == "ece_15").collect();
        assert_eq!(ece_rows.len(), 2);
        assert_eq!(ece_rows[0].params, "calibrated=false");
        assert_eq!(ece_rows[1].params, "calibrated=true");
        // Calibrated NLL on the fitting set is never worse.
        assert!(r.summaries[1].nll <= r.summaries[0].nll + 1e-12);
        assert_eq!(r.reliability.len(), 4 * BINS);
    }
}
