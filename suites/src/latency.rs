//! The latency suite: measuring a closure into raw per-iteration samples, and summarising
//! samples (ours or a device's `latency_samples.csv`, `docs/SCHEMAS.md`).
//!
//! Measurement follows the spirit of MLPerf Mobile / MLPerf Inference's single-stream scenario
//! (Reddi et al. 2020, "MLPerf Inference Benchmark"): untimed-for-summary warm-up iterations
//! first (kept as rows with phase `warmup`), then a run bounded by a minimum iteration count
//! and a minimum duration. Presets:
//! - `quick`: 3 warm-up, then stop at 20 iterations or 2 s, whichever comes first;
//! - `normal`: 10 warm-up, then stop at 100 iterations and 10 s, whichever comes later.
//!
//! Every event is timed with `std::time::Instant` (monotonic). Model load is timed apart
//! ([`time_load`], phase `load`). Peak resident memory comes from `/proc/self/status` `VmHWM`.
//!
//! Summaries (warm-up and load rows excluded) per group (model, backend, engine_version,
//! device, compute_unit, precision, threads, batch_size, mode): p50/p90/p99 (linear
//! interpolation, numpy's default — see [`crate::stats`]), mean, sample std, min, max, a
//! seeded bootstrap 95% interval on the median, throughput = batch · 1000 / mean_ms images/s,
//! and the load time (mean of the group's `load` rows).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use results::records::{LatencySample, MetricRecord, SCHEMA_VERSION};
use serde::{Deserialize, Serialize};

use crate::stats::{mean, percentile_select, percentile_sorted, std_dev, Bootstrap};
use crate::{metric, Interval, RecordMeta, SuiteConfig, SuiteError, SuiteInfo};

/// Registry entry.
pub const INFO: SuiteInfo = SuiteInfo {
    name: "latency",
    version: 1,
    description:
        "per-iteration latency with warm-up and load apart; p50/p90/p99/mean/std/min/max, \
                  bootstrap interval on the median, throughput, peak RSS",
};

/// When a measured run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopRule {
    /// Stop once either the iteration count or the duration is reached.
    WhicheverFirst,
    /// Stop once both the iteration count and the duration are reached.
    WhicheverLater,
}

/// How many iterations to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPlan {
    pub warmup: u32,
    pub min_iterations: u32,
    pub min_duration: Duration,
    pub stop: StopRule,
    /// Hard cap on measured iterations (guards `WhicheverLater` with very fast closures).
    pub max_iterations: Option<u32>,
}

impl RunPlan {
    /// 3 warm-up, then 20 iterations or 2 s, whichever comes first.
    pub fn quick() -> Self {
        Self {
            warmup: 3,
            min_iterations: 20,
            min_duration: Duration::from_secs(2),
            stop: StopRule::WhicheverFirst,
            max_iterations: None,
        }
    }

    /// 10 warm-up, then at least 100 iterations and at least 10 s.
    pub fn normal() -> Self {
        Self {
            warmup: 10,
            min_iterations: 100,
            min_duration: Duration::from_secs(10),
            stop: StopRule::WhicheverLater,
            max_iterations: Some(100_000),
        }
    }

    /// A preset by name (`quick` or `normal`).
    pub fn preset(name: &str) -> Result<Self, SuiteError> {
        match name {
            "quick" => Ok(Self::quick()),
            "normal" => Ok(Self::normal()),
            other => Err(SuiteError::BadConfig {
                field: "latency preset",
                reason: format!("unknown preset {other:?} (known: quick, normal)"),
            }),
        }
    }

    fn done(&self, iterations: u32, elapsed: Duration) -> bool {
        if self.max_iterations.is_some_and(|m| iterations >= m) {
            return true;
        }
        let by_count = iterations >= self.min_iterations;
        let by_time = elapsed >= self.min_duration;
        match self.stop {
            StopRule::WhicheverFirst => by_count || by_time,
            StopRule::WhicheverLater => by_count && by_time,
        }
    }
}

/// What a latency row says about the setup it measured (everything but phase, iteration and
/// the time itself).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LatencyMeta {
    pub run_id: String,
    pub model: String,
    pub backend: String,
    pub engine_version: String,
    pub device: String,
    pub compute_unit: String,
    pub precision: String,
    pub threads: u32,
    pub batch_size: u32,
    /// `model` or `e2e`.
    pub mode: String,
}

impl LatencyMeta {
    /// A sample row for this setup.
    pub fn sample(&self, phase: &str, iteration: u32, latency_ms: f64) -> LatencySample {
        LatencySample {
            schema_version: SCHEMA_VERSION,
            run_id: self.run_id.clone(),
            model: self.model.clone(),
            backend: self.backend.clone(),
            engine_version: self.engine_version.clone(),
            device: self.device.clone(),
            compute_unit: self.compute_unit.clone(),
            precision: self.precision.clone(),
            threads: self.threads,
            batch_size: self.batch_size,
            mode: self.mode.clone(),
            phase: phase.to_string(),
            iteration,
            latency_ms,
        }
    }

    fn of(s: &LatencySample) -> Self {
        Self {
            run_id: s.run_id.clone(),
            model: s.model.clone(),
            backend: s.backend.clone(),
            engine_version: s.engine_version.clone(),
            device: s.device.clone(),
            compute_unit: s.compute_unit.clone(),
            precision: s.precision.clone(),
            threads: s.threads,
            batch_size: s.batch_size,
            mode: s.mode.clone(),
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Times `f` per `plan`: `plan.warmup` rows with phase `warmup`, then measured rows with phase
/// `measure`. The first error from `f` is returned as is.
pub fn measure<F, E>(mut f: F, plan: &RunPlan, meta: &LatencyMeta) -> Result<Vec<LatencySample>, E>
where
    F: FnMut() -> Result<(), E>,
{
    let mut out = Vec::with_capacity(plan.warmup as usize + plan.min_iterations as usize);
    for i in 0..plan.warmup {
        let t0 = Instant::now();
        f()?;
        out.push(meta.sample("warmup", i, ms(t0.elapsed())));
    }
    let start = Instant::now();
    let mut i = 0u32;
    while !plan.done(i, start.elapsed()) {
        let t0 = Instant::now();
        f()?;
        out.push(meta.sample("measure", i, ms(t0.elapsed())));
        i += 1;
    }
    Ok(out)
}

/// Times a model load (or any one-off preparation) and returns its result with a `load` row.
pub fn time_load<T, E>(
    f: impl FnOnce() -> Result<T, E>,
    meta: &LatencyMeta,
) -> Result<(T, LatencySample), E> {
    let t0 = Instant::now();
    let v = f()?;
    Ok((v, meta.sample("load", 0, ms(t0.elapsed()))))
}

/// Peak resident set size of this process in bytes (`VmHWM` in `/proc/self/status`); `None`
/// where that file does not exist (non-Linux) or lacks the field.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

/// Parses the `VmHWM:  1234 kB` line of a `/proc/<pid>/status` text into bytes.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut parts = line["VmHWM:".len()..].split_whitespace();
    let kb: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => Some(kb * 1024),
        Some(_) => None,
    }
}

/// The `metrics.csv` row for a peak-RSS reading (metric `peak_rss`, unit `bytes`).
pub fn peak_rss_metric(meta: &LatencyMeta, split: &str, bytes: u64) -> MetricRecord {
    metric(
        &record_meta(meta, split),
        &INFO,
        "peak_rss",
        group_params(meta),
        bytes as f64,
        None,
        1,
        "bytes",
    )
}

/// Summary of one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencySummary {
    pub meta: LatencyMeta,
    /// Measured iterations (warm-up excluded).
    pub n: u64,
    pub warmup: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    pub std_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub p50_ci: Option<Interval>,
    pub throughput_ips: f64,
    /// Mean of the group's `load` rows, if any.
    pub load_ms: Option<f64>,
}

/// Output of [`analyze`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyReport {
    pub metrics: Vec<MetricRecord>,
    pub summaries: Vec<LatencySummary>,
}

fn record_meta(m: &LatencyMeta, split: &str) -> RecordMeta {
    RecordMeta {
        run_id: m.run_id.clone(),
        model: m.model.clone(),
        backend: m.backend.clone(),
        device: m.device.clone(),
        compute_unit: m.compute_unit.clone(),
        split: split.to_string(),
    }
}

/// `threads=2;batch=1;mode=model;precision=fp32;engine=candle 0.11.1`.
pub fn group_params(m: &LatencyMeta) -> String {
    format!(
        "threads={};batch={};mode={};precision={};engine={}",
        m.threads, m.batch_size, m.mode, m.precision, m.engine_version
    )
}

/// Summarises samples per group. Errors on an unknown phase or a negative / non-finite time.
/// Groups with load rows but no measured rows still report `load_ms`.
pub fn analyze(samples: &[LatencySample], cfg: &SuiteConfig) -> Result<LatencyReport, SuiteError> {
    #[derive(Default)]
    struct Acc {
        measure: Vec<f64>,
        warmup: u64,
        load: Vec<f64>,
    }
    let mut groups: BTreeMap<LatencyMeta, Acc> = BTreeMap::new();
    for (row, s) in samples.iter().enumerate() {
        if !s.latency_ms.is_finite() || s.latency_ms < 0.0 {
            return Err(SuiteError::BadLatency {
                row,
                reason: format!("latency_ms {} is not a finite time ≥ 0", s.latency_ms),
            });
        }
        let acc = groups.entry(LatencyMeta::of(s)).or_default();
        match s.phase.as_str() {
            "measure" => acc.measure.push(s.latency_ms),
            "warmup" => acc.warmup += 1,
            "load" => acc.load.push(s.latency_ms),
            other => {
                return Err(SuiteError::BadLatency {
                    row,
                    reason: format!("phase {other:?} is not load, warmup or measure"),
                })
            }
        }
    }
    let bs = Bootstrap {
        resamples: cfg.bootstrap_resamples,
        seed: cfg.seed,
    };
    let mut report = LatencyReport {
        metrics: Vec::new(),
        summaries: Vec::new(),
    };
    for (meta, mut acc) in groups {
        let rm = record_meta(&meta, "");
        let params = group_params(&meta);
        let load_ms = (!acc.load.is_empty()).then(|| mean(&acc.load));
        if let Some(l) = load_ms {
            report.metrics.push(metric(
                &rm,
                &INFO,
                "load_ms",
                params.clone(),
                l,
                None,
                acc.load.len() as u64,
                "ms",
            ));
        }
        if acc.measure.is_empty() {
            continue;
        }
        let x = &mut acc.measure;
        let n = x.len();
        let p50_ci = bs.percentile_intervals(n, 1, |idx| {
            let mut v: Vec<f64> = idx.iter().map(|&i| x[i]).collect();
            vec![percentile_select(&mut v, 0.5)]
        })[0];
        let m = mean(x);
        let sd = std_dev(x);
        x.sort_by(f64::total_cmp);
        let s = LatencySummary {
            meta: meta.clone(),
            n: n as u64,
            warmup: acc.warmup,
            p50_ms: percentile_sorted(x, 0.5),
            p90_ms: percentile_sorted(x, 0.9),
            p99_ms: percentile_sorted(x, 0.99),
            mean_ms: m,
            std_ms: sd,
            min_ms: x[0],
            max_ms: x[n - 1],
            p50_ci,
            throughput_ips: if m > 0.0 {
                meta.batch_size as f64 * 1000.0 / m
            } else {
                f64::NAN
            },
            load_ms,
        };
        let nn = n as u64;
        for (name, v, ci, unit) in [
            ("p50_ms", s.p50_ms, s.p50_ci, "ms"),
            ("p90_ms", s.p90_ms, None, "ms"),
            ("p99_ms", s.p99_ms, None, "ms"),
            ("mean_ms", s.mean_ms, None, "ms"),
            ("std_ms", s.std_ms, None, "ms"),
            ("min_ms", s.min_ms, None, "ms"),
            ("max_ms", s.max_ms, None, "ms"),
            ("throughput", s.throughput_ips, None, "images/s"),
        ] {
            report
                .metrics
                .push(metric(&rm, &INFO, name, params.clone(), v, ci, nn, unit));
        }
        report.summaries.push(s);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> LatencyMeta {
        LatencyMeta {
            model: "m".into(),
            backend: "candle".into(),
            precision: "fp32".into(),
            threads: 1,
            batch_size: 4,
            mode: "model".into(),
            ..Default::default()
        }
    }

    #[test]
    fn measure_counts_phases_and_propagates_errors() {
        let plan = RunPlan {
            warmup: 2,
            min_iterations: 5,
            min_duration: Duration::from_secs(3600),
            stop: StopRule::WhicheverFirst,
            max_iterations: None,
        };
        let mut calls = 0;
        let s = measure(
            || {
                calls += 1;
                Ok::<(), String>(())
            },
            &plan,
            &meta(),
        )
        .unwrap();
        assert_eq!(calls, 7);
        assert_eq!(s.iter().filter(|r| r.phase == "warmup").count(), 2);
        assert_eq!(s.last().unwrap().iteration, 4);
        assert!(s.iter().all(|r| r.latency_ms >= 0.0));
        // WhicheverLater with a zero duration behaves like a count; errors stop the run.
        let mut k = 0;
        let e = measure(
            || {
                k += 1;
                if k == 3 {
                    Err("boom")
                } else {
                    Ok(())
                }
            },
            &RunPlan::quick(),
            &meta(),
        )
        .unwrap_err();
        assert_eq!(e, "boom");
        let (v, load) = time_load(|| Ok::<_, ()>(42), &meta()).unwrap();
        assert_eq!((v, load.phase.as_str()), (42, "load"));
    }

    #[test]
    fn whichever_later_waits_for_both_bounds() {
        let plan = RunPlan {
            warmup: 0,
            min_iterations: 3,
            min_duration: Duration::from_millis(20),
            stop: StopRule::WhicheverLater,
            max_iterations: None,
        };
        let t0 = Instant::now();
        let s = measure(
            || {
                std::thread::sleep(Duration::from_millis(1));
                Ok::<(), ()>(())
            },
            &plan,
            &meta(),
        )
        .unwrap();
        // Not a speed assertion: the loop may not stop before both bounds are met.
        assert!(t0.elapsed() >= Duration::from_millis(20));
        assert!(s.len() >= 3);
        assert!(s
            .iter()
            .all(|r| r.phase == "measure" && r.latency_ms >= 1.0));
        assert!(RunPlan::preset("normal").unwrap().stop == StopRule::WhicheverLater);
        assert!(RunPlan::preset("slow").is_err());
    }

    #[test]
    fn vm_hwm_parsing() {
        let st = "Name:\tx\nVmPeak:\t  100 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(parse_vm_hwm(st), Some(2048 * 1024));
        assert_eq!(parse_vm_hwm("Name: x\n"), None);
        if cfg!(target_os = "linux") {
            assert!(peak_rss_bytes().unwrap() > 0);
        }
    }

    #[test]
    fn hand_computed_summary() {
        // measured 1..=10 ms, one warm-up of 100 ms (excluded), one load of 250 ms.
        // p50 = 5.5, p90: h = 8.1 → 9.1, p99: h = 8.91 → 9.91; mean 5.5;
        // sample std = √(82.5/9) = 3.0276503540974917; throughput = 4·1000/5.5.
        let m = meta();
        let mut s = vec![m.sample("load", 0, 250.0), m.sample("warmup", 0, 100.0)];
        for i in 0..10 {
            s.push(m.sample("measure", i, (10 - i) as f64));
        }
        let cfg = SuiteConfig {
            bootstrap_resamples: 200,
            ..Default::default()
        };
        let r = analyze(&s, &cfg).unwrap();
        let x = &r.summaries[0];
        assert_eq!((x.n, x.warmup), (10, 1));
        assert_eq!(x.p50_ms, 5.5);
        assert!((x.p90_ms - 9.1).abs() < 1e-12);
        assert!((x.p99_ms - 9.91).abs() < 1e-12);
        assert!((x.std_ms - 3.0276503540974917).abs() < 1e-12);
        assert_eq!((x.min_ms, x.max_ms, x.load_ms), (1.0, 10.0, Some(250.0)));
        assert!((x.throughput_ips - 4000.0 / 5.5).abs() < 1e-9);
        let ci = x.p50_ci.unwrap();
        assert!(ci.low <= 5.5 && 5.5 <= ci.high && ci.low >= 1.0 && ci.high <= 10.0);
        let p50 = r.metrics.iter().find(|m| m.metric == "p50_ms").unwrap();
        assert_eq!(
            p50.params,
            "threads=1;batch=4;mode=model;precision=fp32;engine="
        );
        assert!(r
            .metrics
            .iter()
            .any(|m| m.metric == "load_ms" && m.value == 250.0));
        let mut bad = s.clone();
        bad[2].phase = "cooldown".into();
        assert!(analyze(&bad, &cfg)
            .unwrap_err()
            .to_string()
            .contains("cooldown"));
    }
}
