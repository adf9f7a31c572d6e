//! Plots as PNG and SVG (plotters; PNGs are drawn into an RGB buffer and encoded with `image`):
//! reliability diagrams with confidence histograms (Guo et al. 2017, "On Calibration of Modern
//! Neural Networks", equal-width bins), row-normalized confusion heatmaps, latency distributions
//! (Tukey box plots: box = quartiles, whiskers = most extreme sample within 1.5 IQR), and
//! training curves from `train_log.csv`. Text uses the bundled DejaVu Sans
//! (`assets/DejaVuSans.ttf`, Bitstream Vera / DejaVu licence in `assets/DejaVuSans-LICENSE.txt`).
//! The format is chosen by the output file's extension (`.png` or `.svg`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use serde::{Deserialize, Serialize};

use crate::csv_io::write_atomic;
use crate::records::{LatencySample, PredictionRecord};
use crate::ResultsError;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static FONT_ONCE: Once = Once::new();

/// Registers the bundled font as `sans-serif` (idempotent).
pub fn ensure_font() {
    FONT_ONCE.call_once(|| {
        // The bytes are a valid TTF committed with the crate; registration cannot fail for them,
        // and if it did, plotters would report a font error on first draw.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
        let _ = register_font("sans-serif", FontStyle::Bold, FONT);
    });
}

/// Output format, from the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotFormat {
    Png,
    Svg,
}

impl PlotFormat {
    pub fn from_path(path: &Path) -> Result<PlotFormat, ResultsError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("png") => Ok(PlotFormat::Png),
            Some("svg") => Ok(PlotFormat::Svg),
            _ => Err(plot_err(path, "extension must be .png or .svg")),
        }
    }
}

fn plot_err(path: &Path, reason: impl ToString) -> ResultsError {
    ResultsError::Plot {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Draws with `$draw(&root)` on a PNG or SVG backend chosen by the extension and writes the file.
macro_rules! render {
    ($path:expr, $size:expr, $draw:expr) => {{
        ensure_font();
        let path: &Path = $path;
        let (w, h): (u32, u32) = $size;
        match PlotFormat::from_path(path)? {
            PlotFormat::Png => {
                let mut buf = vec![0u8; (w as usize) * (h as usize) * 3];
                {
                    let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
                    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
                    $draw(&root).map_err(|e| plot_err(path, e))?;
                    root.present().map_err(|e| plot_err(path, e))?;
                }
                let img = image::RgbImage::from_raw(w, h, buf)
                    .ok_or_else(|| plot_err(path, "buffer size mismatch"))?;
                let mut bytes = Vec::new();
                img.write_to(
                    &mut std::io::Cursor::new(&mut bytes),
                    image::ImageFormat::Png,
                )
                .map_err(|e| plot_err(path, e))?;
                write_atomic(path, &bytes)?;
            }
            PlotFormat::Svg => {
                let mut text = String::new();
                {
                    let root = SVGBackend::with_string(&mut text, (w, h)).into_drawing_area();
                    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
                    $draw(&root).map_err(|e| plot_err(path, e))?;
                    root.present().map_err(|e| plot_err(path, e))?;
                }
                write_atomic(path, text.as_bytes())?;
            }
        }
        Ok(())
    }};
}

// ---------------------------------------------------------------- reliability diagram

/// One equal-width confidence bin.
#[derive(Debug, Clone, PartialEq)]
pub struct ReliabilityBin {
    pub lo: f64,
    pub hi: f64,
    pub count: u64,
    /// Mean confidence in the bin (NaN if empty).
    pub mean_confidence: f64,
    /// Accuracy in the bin (NaN if empty).
    pub accuracy: f64,
}

/// Equal-width bins over [0, 1] (bin i = (i/B, (i+1)/B], the first also includes 0), as in
/// Guo et al. 2017; also returns ECE = Σ (n_b / n) |acc_b − conf_b|.
pub fn reliability_bins(
    confidence: &[f64],
    correct: &[bool],
    bins: usize,
) -> (Vec<ReliabilityBin>, f64) {
    let b = bins.max(1);
    let mut cnt = vec![0u64; b];
    let mut sc = vec![0f64; b];
    let mut sa = vec![0f64; b];
    for (&c, &ok) in confidence.iter().zip(correct) {
        let i = ((c * b as f64).ceil() as isize - 1).clamp(0, b as isize - 1) as usize;
        cnt[i] += 1;
        sc[i] += c;
        sa[i] += ok as u8 as f64;
    }
    let n: u64 = cnt.iter().sum();
    let mut ece = 0.0;
    let out = (0..b)
        .map(|i| {
            let (mc, ac) = if cnt[i] > 0 {
                (sc[i] / cnt[i] as f64, sa[i] / cnt[i] as f64)
            } else {
                (f64::NAN, f64::NAN)
            };
            if cnt[i] > 0 {
                ece += cnt[i] as f64 / n as f64 * (ac - mc).abs();
            }
            ReliabilityBin {
                lo: i as f64 / b as f64,
                hi: (i + 1) as f64 / b as f64,
                count: cnt[i],
                mean_confidence: mc,
                accuracy: ac,
            }
        })
        .collect();
    (out, ece)
}

/// Reliability diagram (accuracy per confidence bin against the diagonal, gap shaded) above a
/// histogram of confidences; 900×900.
pub fn reliability_diagram(
    path: &Path,
    title: &str,
    bins: &[ReliabilityBin],
    ece: f64,
) -> Result<(), ResultsError> {
    render!(path, (900, 900), |root: &DrawingArea<_, Shift>| {
        draw_reliability(root, title, bins, ece)
    })
}

fn draw_reliability<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    bins: &[ReliabilityBin],
    ece: f64,
) -> Result<(), String> {
    let root = root.titled(title, ("sans-serif", 26)).map_err(s)?;
    let (h, _) = root.dim_in_pixel();
    let _ = h;
    let (_, ph) = root.dim_in_pixel();
    let (upper, lower) = root.split_vertically(ph * 68 / 100);
    let mut c = ChartBuilder::on(&upper)
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(s)?;
    c.configure_mesh()
        .y_desc("accuracy")
        .x_desc("confidence")
        .label_style(("sans-serif", 18))
        .axis_desc_style(("sans-serif", 20))
        .draw()
        .map_err(s)?;
    c.draw_series(
        bins.iter()
            .filter(|b| b.count > 0)
            .map(|b| Rectangle::new([(b.lo, 0.0), (b.hi, b.accuracy)], BLUE.mix(0.65).filled())),
    )
    .map_err(s)?
    .label("accuracy")
    .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], BLUE.mix(0.65).filled()));
    c.draw_series(bins.iter().filter(|b| b.count > 0).map(|b| {
        let (a, m) = (b.accuracy, b.mean_confidence);
        Rectangle::new([(b.lo, a.min(m)), (b.hi, a.max(m))], RED.mix(0.3).filled())
    }))
    .map_err(s)?
    .label("gap to mean confidence")
    .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], RED.mix(0.3).filled()));
    c.draw_series(LineSeries::new(
        vec![(0.0, 0.0), (1.0, 1.0)],
        BLACK.stroke_width(2),
    ))
    .map_err(s)?
    .label("perfect calibration")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.stroke_width(2)));
    c.draw_series(std::iter::once(Text::new(
        format!("ECE ({} bins) = {:.2}%", bins.len(), ece * 100.0),
        (0.04, 0.93),
        ("sans-serif", 20).into_font(),
    )))
    .map_err(s)?;
    c.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 18))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(s)?;
    let maxc = bins.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    let mut h = ChartBuilder::on(&lower)
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..1f64, 0u64..(maxc + maxc / 10 + 1))
        .map_err(s)?;
    h.configure_mesh()
        .y_desc("images")
        .x_desc("confidence")
        .label_style(("sans-serif", 18))
        .axis_desc_style(("sans-serif", 20))
        .draw()
        .map_err(s)?;
    h.draw_series(
        bins.iter()
            .map(|b| Rectangle::new([(b.lo, 0), (b.hi, b.count)], BLACK.mix(0.45).filled())),
    )
    .map_err(s)?;
    Ok(())
}

// ---------------------------------------------------------------- confusion heatmap

/// Counts `[true][pred]` over `classes` (rows = true class); labels outside `classes` are skipped.
pub fn confusion_counts(preds: &[PredictionRecord], classes: &[String]) -> Vec<Vec<u64>> {
    let idx: BTreeMap<&str, usize> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let mut m = vec![vec![0u64; classes.len()]; classes.len()];
    for p in preds {
        if let (Some(&t), Some(&q)) = (
            idx.get(p.true_label.as_str()),
            idx.get(p.pred_label.as_str()),
        ) {
            m[t][q] += 1;
        }
    }
    m
}

/// Row-normalized confusion heatmap (rows = true class, columns = predicted), each cell labelled
/// with its row percentage; size grows with the number of classes.
pub fn confusion_heatmap(
    path: &Path,
    title: &str,
    classes: &[String],
    counts: &[Vec<u64>],
) -> Result<(), ResultsError> {
    let c = classes.len().max(1) as u32;
    let cell = if c <= 12 {
        70
    } else if c <= 40 {
        28
    } else {
        12
    };
    let side = (c * cell + 260).max(500);
    render!(path, (side, side), |root: &DrawingArea<_, Shift>| {
        draw_confusion(root, title, classes, counts)
    })
}

fn draw_confusion<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    classes: &[String],
    counts: &[Vec<u64>],
) -> Result<(), String> {
    let c = classes.len();
    if counts.len() != c || counts.iter().any(|r| r.len() != c) {
        return Err(format!("confusion matrix is not {c}×{c}"));
    }
    let font = if c <= 12 {
        16
    } else if c <= 40 {
        11
    } else {
        8
    };
    // Labels are drawn on `root` in absolute pixels (`backend_coord`), the chart on `area`.
    let area = root.titled(title, ("sans-serif", 24)).map_err(s)?;
    let mut ch = ChartBuilder::on(&area)
        .margin(10)
        .margin_right(30)
        .x_label_area_size(170)
        .y_label_area_size(170)
        .build_cartesian_2d(0f64..c as f64, 0f64..c as f64)
        .map_err(s)?;
    ch.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .disable_y_axis()
        .draw()
        .map_err(s)?;
    let norm: Vec<Vec<f64>> = counts
        .iter()
        .map(|r| {
            let t: u64 = r.iter().sum();
            r.iter()
                .map(|&v| if t > 0 { v as f64 / t as f64 } else { 0.0 })
                .collect()
        })
        .collect();
    // Row i (true class i) is drawn from the top.
    let y0 = |i: usize| (c - 1 - i) as f64;
    ch.draw_series(
        (0..c)
            .flat_map(|i| (0..c).map(move |j| (i, j)))
            .map(|(i, j)| {
                let v = norm[i][j];
                // white → dark blue
                let col = RGBColor(
                    (255.0 * (1.0 - 0.85 * v)) as u8,
                    (255.0 * (1.0 - 0.7 * v)) as u8,
                    (255.0 * (1.0 - 0.35 * v)) as u8,
                );
                Rectangle::new(
                    [(j as f64, y0(i)), (j as f64 + 1.0, y0(i) + 1.0)],
                    col.filled(),
                )
            }),
    )
    .map_err(s)?;
    if c <= 40 {
        ch.draw_series(
            (0..c)
                .flat_map(|i| (0..c).map(move |j| (i, j)))
                .filter_map(|(i, j)| {
                    let v = norm[i][j];
                    if counts[i][j] == 0 {
                        return None;
                    }
                    let color = if v > 0.55 { WHITE } else { BLACK };
                    let style = ("sans-serif", font).into_font().color(&color).pos(
                        plotters::style::text_anchor::Pos::new(
                            plotters::style::text_anchor::HPos::Center,
                            plotters::style::text_anchor::VPos::Center,
                        ),
                    );
                    Some(Text::new(
                        format!("{:.0}", v * 100.0),
                        (j as f64 + 0.5, y0(i) + 0.5),
                        style,
                    ))
                }),
        )
        .map_err(s)?;
    }
    // Class labels: left of each row (right-aligned) and below each column (rotated).
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let lab = ("sans-serif", font + 2).into_font();
    for (i, name) in classes.iter().enumerate() {
        let (px, py) = ch.backend_coord(&(0.0, y0(i) + 0.5));
        root.draw(&Text::new(
            name.clone(),
            (px - 8, py),
            lab.clone()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(s)?;
        let (qx, qy) = ch.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw(&Text::new(
            name.clone(),
            (qx, qy + 8),
            lab.clone()
                .transform(FontTransform::Rotate90)
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(s)?;
    }
    let (lx, _) = ch.backend_coord(&(0.0, 0.0));
    let (_, h) = root.dim_in_pixel();
    root.draw(&Text::new(
        "rows: true class · columns: predicted · cells: % of row".to_string(),
        (lx, h as i32 - 8),
        ("sans-serif", 15)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Bottom)),
    ))
    .map_err(s)?;
    Ok(())
}

// ---------------------------------------------------------------- latency distribution

/// Tukey box-plot statistics of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxStats {
    pub whisker_lo: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub whisker_hi: f64,
}

fn quantile_sorted(x: &[f64], q: f64) -> f64 {
    // linear interpolation between closest ranks (numpy's default)
    let h = (x.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    x[lo] + (h - lo as f64) * (x[hi] - x[lo])
}

impl BoxStats {
    /// Quartiles (numpy linear interpolation) and whiskers at the most extreme samples within
    /// 1.5 IQR of the box. `None` for an empty or non-finite sample.
    pub fn of(samples: &[f64]) -> Option<BoxStats> {
        if samples.is_empty() || samples.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let mut x = samples.to_vec();
        x.sort_by(f64::total_cmp);
        let (q1, med, q3) = (
            quantile_sorted(&x, 0.25),
            quantile_sorted(&x, 0.5),
            quantile_sorted(&x, 0.75),
        );
        let iqr = q3 - q1;
        let lo = x
            .iter()
            .copied()
            .find(|&v| v >= q1 - 1.5 * iqr)
            .unwrap_or(x[0]);
        let hi = x
            .iter()
            .rev()
            .copied()
            .find(|&v| v <= q3 + 1.5 * iqr)
            .unwrap_or(x[x.len() - 1]);
        Some(BoxStats {
            whisker_lo: lo,
            q1,
            median: med,
            q3,
            whisker_hi: hi,
        })
    }
}

/// Groups `measure` samples by (model, backend, compute unit, device, threads, batch, mode,
/// precision) with a readable label, in first-seen order.
pub fn latency_groups(samples: &[LatencySample]) -> Vec<(String, Vec<f64>)> {
    let mut order: Vec<String> = Vec::new();
    let mut map: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for x in samples.iter().filter(|x| x.phase == "measure") {
        let mut label = format!("{} {}", x.model, x.backend);
        if !x.compute_unit.is_empty() {
            label.push_str(&format!(" {}", x.compute_unit));
        }
        if x.backend != "coreml" || x.threads != 0 {
            label.push_str(&format!(" t{}", x.threads));
        }
        label.push_str(&format!(" b{} {} {}", x.batch_size, x.mode, x.precision));
        if !map.contains_key(&label) {
            order.push(label.clone());
        }
        map.entry(label).or_default().push(x.latency_ms);
    }
    order
        .into_iter()
        .map(|l| {
            let v = map.remove(&l).unwrap_or_default();
            (l, v)
        })
        .collect()
}

/// Horizontal box plots of latency per group (one row per group, sample count in the label);
/// the axis is logarithmic when the groups span more than 30×. Width 1100, height grows with the
/// number of groups.
pub fn latency_distribution(
    path: &Path,
    title: &str,
    groups: &[(String, Vec<f64>)],
) -> Result<(), ResultsError> {
    let stats: Vec<(String, BoxStats)> = groups
        .iter()
        .filter_map(|(l, v)| BoxStats::of(v).map(|b| (format!("{l} (n={})", v.len()), b)))
        .collect();
    if stats.is_empty() {
        return Err(plot_err(path, "no latency samples to plot"));
    }
    let h = (stats.len() as u32 * 48 + 190).max(320);
    render!(
        path,
        (1100, h),
        |root: &DrawingArea<_, Shift>| draw_latency(root, title, &stats)
    )
}

fn draw_latency<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    stats: &[(String, BoxStats)],
) -> Result<(), String> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let lo = stats
        .iter()
        .map(|s| s.1.whisker_lo)
        .fold(f64::INFINITY, f64::min);
    let hi = stats
        .iter()
        .map(|s| s.1.whisker_hi)
        .fold(f64::NEG_INFINITY, f64::max);
    let log = lo > 0.0 && hi / lo > 30.0;
    let tf = |v: f64| if log { v.log10() } else { v };
    let (a, b) = (tf(lo), tf(hi));
    let pad = ((b - a) * 0.05).max(if log { 0.05 } else { 0.01 * b.abs().max(1e-3) });
    let (xa, xb) = if log {
        (a - pad, b + pad)
    } else {
        ((a - pad).max(0.0), b + pad)
    };
    let g = stats.len();
    // Labels are drawn on `root` in absolute pixels (`backend_coord`), the chart on `area`.
    let area = root.titled(title, ("sans-serif", 24)).map_err(s)?;
    let longest = stats
        .iter()
        .map(|s| s.0.chars().count())
        .max()
        .unwrap_or(10) as u32;
    let mut ch = ChartBuilder::on(&area)
        .margin(15)
        .margin_right(30)
        .x_label_area_size(55)
        .y_label_area_size((longest * 9 + 20).min(600))
        .build_cartesian_2d(xa..xb, 0f64..g as f64)
        .map_err(s)?;
    let fmt = |v: &f64| {
        if log {
            let x = 10f64.powf(*v);
            if x >= 100.0 {
                format!("{x:.0}")
            } else if x >= 1.0 {
                format!("{x:.1}")
            } else {
                format!("{x:.3}")
            }
        } else {
            format!("{v}")
        }
    };
    ch.configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(8)
        .x_label_formatter(&fmt)
        .x_desc(if log {
            "latency (ms, log scale)"
        } else {
            "latency (ms)"
        })
        .label_style(("sans-serif", 17))
        .axis_desc_style(("sans-serif", 19))
        .draw()
        .map_err(s)?;
    let palette = [BLUE, RED, GREEN, MAGENTA, CYAN, RGBColor(230, 140, 0)];
    for (i, (label, b)) in stats.iter().enumerate() {
        let yc = (g - 1 - i) as f64 + 0.5;
        let col = palette[i % palette.len()];
        let (l, q1, m, q3, h) = (
            tf(b.whisker_lo),
            tf(b.q1),
            tf(b.median),
            tf(b.q3),
            tf(b.whisker_hi),
        );
        ch.draw_series([
            Rectangle::new([(q1, yc - 0.3), (q3, yc + 0.3)], col.mix(0.35).filled()),
            Rectangle::new([(q1, yc - 0.3), (q3, yc + 0.3)], col.stroke_width(2)),
        ])
        .map_err(s)?;
        ch.draw_series([
            PathElement::new(vec![(m, yc - 0.3), (m, yc + 0.3)], BLACK.stroke_width(3)),
            PathElement::new(vec![(l, yc), (q1, yc)], col.stroke_width(2)),
            PathElement::new(vec![(q3, yc), (h, yc)], col.stroke_width(2)),
            PathElement::new(vec![(l, yc - 0.15), (l, yc + 0.15)], col.stroke_width(2)),
            PathElement::new(vec![(h, yc - 0.15), (h, yc + 0.15)], col.stroke_width(2)),
        ])
        .map_err(s)?;
        let (px, py) = ch.backend_coord(&(xa, yc));
        root.draw(&Text::new(
            label.clone(),
            (px - 8, py),
            ("sans-serif", 16)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(s)?;
        let (mx, my) = ch.backend_coord(&(m, yc + 0.3));
        root.draw(&Text::new(
            format!("p50 {}", crate::table::format_number(b.median)),
            (mx, my - 2),
            ("sans-serif", 14)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Bottom)),
        ))
        .map_err(s)?;
    }
    Ok(())
}

// ---------------------------------------------------------------- training curves

/// One row of `train_log.csv` (`epoch,lr,train_loss,train_acc,val_loss,val_acc,seconds,images_per_sec`;
/// extra columns are ignored, empty validation cells allowed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainLogRow {
    pub epoch: u32,
    pub lr: f64,
    pub train_loss: f64,
    pub train_acc: f64,
    pub val_loss: Option<f64>,
    pub val_acc: Option<f64>,
    pub seconds: f64,
    pub images_per_sec: f64,
}

/// Reads a `train_log.csv` by column name; errors name the file and line.
pub fn read_train_log(path: &Path) -> Result<Vec<TrainLogRow>, ResultsError> {
    let mut rdr = csv::Reader::from_path(path).map_err(|e| ResultsError::Row {
        path: path.to_path_buf(),
        line: 0,
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    for r in rdr.deserialize::<TrainLogRow>() {
        let row = r.map_err(|e| ResultsError::Row {
            path: path.to_path_buf(),
            line: e.position().map(|p| p.line()).unwrap_or(0),
            reason: e.to_string(),
        })?;
        out.push(row);
    }
    Ok(out)
}

/// Loss (left) and accuracy (right) per epoch, train and validation; 1200×500.
pub fn training_curves(path: &Path, title: &str, rows: &[TrainLogRow]) -> Result<(), ResultsError> {
    if rows.is_empty() {
        return Err(plot_err(path, "empty training log"));
    }
    render!(path, (1200, 500), |root: &DrawingArea<_, Shift>| {
        draw_training(root, title, rows)
    })
}

fn draw_training<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    rows: &[TrainLogRow],
) -> Result<(), String> {
    let root = root.titled(title, ("sans-serif", 24)).map_err(s)?;
    let (left, right) = root.split_horizontally(root.dim_in_pixel().0 / 2);
    let e0 = rows.iter().map(|r| r.epoch).min().unwrap_or(0) as f64;
    let e1 = (rows.iter().map(|r| r.epoch).max().unwrap_or(0) as f64).max(e0 + 1.0);
    type Get = fn(&TrainLogRow) -> Option<f64>;
    let panels: [(&DrawingArea<DB, Shift>, &str, Get, Get); 2] = [
        (&left, "loss", |r| Some(r.train_loss), |r| r.val_loss),
        (&right, "accuracy", |r| Some(r.train_acc), |r| r.val_acc),
    ];
    for (area, name, tr, va) in panels {
        let vals: Vec<f64> = rows
            .iter()
            .flat_map(|r| [tr(r), va(r)])
            .flatten()
            .filter(|v| v.is_finite())
            .collect();
        let mut lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let mut hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if name == "accuracy" {
            // Fractions on [0, 1]; logs that write percentages get [0, max].
            lo = 0.0;
            hi = if hi <= 1.0 { 1.0 } else { hi * 1.05 };
        } else {
            lo = lo.min(0.0);
            hi = if hi > lo { hi * 1.08 } else { lo + 1.0 };
        }
        let mut c = ChartBuilder::on(area)
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(e0..e1, lo..hi)
            .map_err(s)?;
        c.configure_mesh()
            .x_desc("epoch")
            .y_desc(name)
            .label_style(("sans-serif", 17))
            .axis_desc_style(("sans-serif", 19))
            .draw()
            .map_err(s)?;
        for (which, get, col) in [("train", tr, BLUE), ("val", va, RED)] {
            let pts: Vec<(f64, f64)> = rows
                .iter()
                .filter_map(|r| {
                    get(r)
                        .filter(|v| v.is_finite())
                        .map(|v| (r.epoch as f64, v))
                })
                .collect();
            if pts.is_empty() {
                continue;
            }
            c.draw_series(LineSeries::new(pts.clone(), col.stroke_width(2)))
                .map_err(s)?
                .label(format!("{which} {name}"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], col.stroke_width(2))
                });
            c.draw_series(pts.into_iter().map(|p| Circle::new(p, 4, col.filled())))
                .map_err(s)?;
        }
        c.configure_series_labels()
            .position(if name == "loss" {
                SeriesLabelPosition::UpperRight
            } else {
                SeriesLabelPosition::LowerRight
            })
            .label_font(("sans-serif", 17))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(s)?;
    }
    Ok(())
}

// ---------------------------------------------------------------- whole run directory

fn slug(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("_")
}

/// Draws every plot the CSVs in `run_dir` allow into `run_dir/plots/` as PNG and SVG:
/// per (model, backend, compute unit, split) of `predictions.csv` a reliability diagram and a
/// confusion heatmap; latency distributions from `latency_samples.csv`; training curves from
/// every `train_log*.csv` (also `*/train_log.csv` one level down). `classes` is the run's class
/// order (manifest). Returns the files written.
pub fn plot_run_dir(run_dir: &Path, classes: &[String]) -> Result<Vec<PathBuf>, ResultsError> {
    let out = run_dir.join("plots");
    let mut written = Vec::new();
    let exts = ["png", "svg"];
    let preds_path = run_dir.join(crate::csv_io::PREDICTIONS_CSV);
    if preds_path.exists() {
        let preds = crate::csv_io::read_predictions(&preds_path, Some(classes))?;
        let mut groups: BTreeMap<(String, String, String, String), Vec<PredictionRecord>> =
            BTreeMap::new();
        for p in preds {
            groups
                .entry((
                    p.model.clone(),
                    p.backend.clone(),
                    p.compute_unit.clone(),
                    p.split.clone(),
                ))
                .or_default()
                .push(p);
        }
        for ((model, backend, cu, split), ps) in &groups {
            let name = slug(&[model, backend, cu, split]);
            let label = [model.as_str(), backend, cu, split]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" / ");
            let conf: Vec<f64> = ps.iter().map(|p| p.confidence).collect();
            let ok: Vec<bool> = ps.iter().map(|p| p.is_correct()).collect();
            let (bins, ece) = reliability_bins(&conf, &ok, 15);
            let counts = confusion_counts(ps, classes);
            for ext in exts {
                let p = out.join(format!("reliability_{name}.{ext}"));
                reliability_diagram(
                    &p,
                    &format!("Reliability: {label} (n={})", ps.len()),
                    &bins,
                    ece,
                )?;
                written.push(p);
                let p = out.join(format!("confusion_{name}.{ext}"));
                confusion_heatmap(
                    &p,
                    &format!("Confusion: {label} (n={})", ps.len()),
                    classes,
                    &counts,
                )?;
                written.push(p);
            }
        }
    }
    let lat_path = run_dir.join(crate::csv_io::LATENCY_CSV);
    if lat_path.exists() {
        let samples = crate::csv_io::read_latency(&lat_path)?;
        let groups = latency_groups(&samples);
        if !groups.is_empty() {
            for ext in exts {
                let p = out.join(format!("latency.{ext}"));
                latency_distribution(&p, "Latency per iteration (warm-up excluded)", &groups)?;
                written.push(p);
            }
        }
    }
    let mut logs: Vec<(String, PathBuf)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(run_dir) {
        let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            let fname = p
                .file_name()
                .and_then(|f| f.to_str())
                .unwrap_or("")
                .to_string();
            if p.is_file() && fname.starts_with("train_log") && fname.ends_with(".csv") {
                logs.push((fname.trim_end_matches(".csv").to_string(), p));
            } else if p.is_dir() && p.join("train_log.csv").is_file() {
                logs.push((
                    format!("train_log_{}", slug(&[&fname])),
                    p.join("train_log.csv"),
                ));
            }
        }
    }
    for (stem, p) in logs {
        let rows = read_train_log(&p)?;
        if rows.is_empty() {
            continue;
        }
        for ext in exts {
            let o = out.join(format!("{stem}.{ext}"));
            training_curves(&o, &format!("Training: {stem}"), &rows)?;
            written.push(o);
        }
    }
    Ok(written)
}
