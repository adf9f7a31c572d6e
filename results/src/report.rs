//! `scenebench report`: renders one or more run directories from their CSVs and
//! `manifest.json` alone (no model needed) as a terminal report, Markdown, LaTeX (booktabs) or
//! CSV. Device uploads stored under `<run>/device/<upload_id>/` (iPhone runs, `docs/SCHEMAS.md`
//! "Upload") are merged in, so CoreML rows per compute unit sit next to the desktop backends.
//! The dataset identity is stated first, and every headline number carries its n and 95%
//! interval.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::csv_io::{read_metrics, to_csv_string, LATENCY_CSV, METRICS_CSV, PREDICTIONS_CSV};
use crate::manifest::{Manifest, MANIFEST_JSON};
use crate::records::MetricRecord;
use crate::table::{
    comparison_table, default_summary_columns, format_value, latency_table, pairs_table,
    summary_table, CiStyle, MetricColumn, Table,
};
use crate::ResultsError;

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Plain text with comfy-table tables.
    Table,
    /// GitHub Markdown with tables, plot images and galleries.
    Markdown,
    /// LaTeX fragment: booktabs tables (needs `\usepackage{booktabs}`).
    Latex,
    /// All metrics rows of every run and upload, as one `metrics.csv`.
    Csv,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "table" | "text" | "terminal" => Ok(Format::Table),
            "md" | "markdown" => Ok(Format::Markdown),
            "latex" | "tex" => Ok(Format::Latex),
            "csv" => Ok(Format::Csv),
            other => Err(format!(
                "unknown report format `{other}` (expected table, md, latex or csv)"
            )),
        }
    }
}

/// Report options beyond the format.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Image links in Markdown are made relative to this directory when they lie under it
    /// (e.g. the directory the report file is written to).
    pub link_base: Option<PathBuf>,
    pub ci_style: CiStyle,
}

/// A device upload found under `<run>/device/<upload_id>/`.
#[derive(Debug, Clone)]
pub struct UploadData {
    pub upload_id: String,
    pub dir: PathBuf,
    pub manifest: Option<Manifest>,
    pub metrics: Vec<MetricRecord>,
    pub has_predictions: bool,
    pub has_latency: bool,
}

/// What a report reads from one run directory.
#[derive(Debug, Clone)]
pub struct RunData {
    pub dir: PathBuf,
    pub manifest: Option<Manifest>,
    pub metrics: Vec<MetricRecord>,
    pub uploads: Vec<UploadData>,
    /// `plots/*.png`, sorted.
    pub plots: Vec<PathBuf>,
    /// `gallery/*.png` (and `.jpg`), sorted.
    pub gallery: Vec<PathBuf>,
}

fn list_images(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("png" | "jpg" | "jpeg")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn read_optional_manifest(dir: &Path) -> Result<Option<Manifest>, ResultsError> {
    let p = dir.join(MANIFEST_JSON);
    if p.is_file() {
        Manifest::read(&p).map(Some)
    } else {
        Ok(None)
    }
}

fn read_optional_metrics(dir: &Path) -> Result<Vec<MetricRecord>, ResultsError> {
    let p = dir.join(METRICS_CSV);
    if p.is_file() {
        read_metrics(&p)
    } else {
        Ok(Vec::new())
    }
}

/// Reads a run directory: `manifest.json`, `metrics.csv`, `device/*/` uploads, plots, gallery.
/// Errors if the directory has neither a manifest nor metrics nor uploads.
pub fn load_run(dir: &Path) -> Result<RunData, ResultsError> {
    if !dir.is_dir() {
        return Err(ResultsError::Report {
            path: dir.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    let manifest = read_optional_manifest(dir)?;
    let metrics = read_optional_metrics(dir)?;
    let mut uploads = Vec::new();
    let dev = dir.join("device");
    if dev.is_dir() {
        let mut subdirs: Vec<PathBuf> = std::fs::read_dir(&dev)
            .map_err(|e| ResultsError::io(&dev, e))?
            .flatten()
            .map(|e| e.path())
            // `.tmp-*` are uploads being written (or left by a crash), not uploads.
            .filter(|p| {
                p.is_dir()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        subdirs.sort();
        for d in subdirs {
            uploads.push(UploadData {
                upload_id: d
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                manifest: read_optional_manifest(&d)?,
                metrics: read_optional_metrics(&d)?,
                has_predictions: d.join(PREDICTIONS_CSV).is_file(),
                has_latency: d.join(LATENCY_CSV).is_file(),
                dir: d,
            });
        }
    }
    if manifest.is_none() && metrics.is_empty() && uploads.is_empty() {
        return Err(ResultsError::Report {
            path: dir.to_path_buf(),
            reason: format!("no {MANIFEST_JSON}, {METRICS_CSV} or device uploads found"),
        });
    }
    Ok(RunData {
        manifest,
        metrics,
        uploads,
        plots: list_images(&dir.join("plots")),
        gallery: list_images(&dir.join("gallery")),
        dir: dir.to_path_buf(),
    })
}

impl RunData {
    /// Every metric of the run and its uploads.
    pub fn all_metrics(&self) -> Vec<MetricRecord> {
        let mut v = self.metrics.clone();
        for u in &self.uploads {
            v.extend(u.metrics.iter().cloned());
        }
        v
    }

    fn title(&self) -> String {
        self.manifest
            .as_ref()
            .map(|m| m.run_id.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| {
                self.dir
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_else(|| self.dir.display().to_string())
            })
    }
}

/// Renders a report over `run_dirs` in `format` with default options.
pub fn render(run_dirs: &[PathBuf], format: Format) -> Result<String, ResultsError> {
    render_with(run_dirs, format, &RenderOptions::default())
}

/// Renders a report over `run_dirs`.
pub fn render_with(
    run_dirs: &[PathBuf],
    format: Format,
    opts: &RenderOptions,
) -> Result<String, ResultsError> {
    let runs = run_dirs
        .iter()
        .map(|d| load_run(d))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(render_runs(&runs, format, opts))
}

/// Renders already loaded runs.
pub fn render_runs(runs: &[RunData], format: Format, opts: &RenderOptions) -> String {
    let metrics: Vec<MetricRecord> = runs.iter().flat_map(|r| r.all_metrics()).collect();
    if format == Format::Csv {
        // Serializing plain records to memory cannot fail.
        return to_csv_string(&metrics).unwrap_or_default();
    }
    let mut tables = vec![
        summary_table(&metrics, &default_summary_columns(), opts.ci_style),
        latency_table(&metrics, opts.ci_style),
        pairs_table(&metrics, opts.ci_style),
        crate::table::parity_table(&metrics, opts.ci_style),
    ];
    if runs.len() > 1 {
        // Several run directories: top-1 and ECE side by side, one column per run id.
        for col in [
            MetricColumn::new("top-1", "top1_acc", &[]),
            MetricColumn::new("ECE-15", "ece_15", &[("calibrated", "false")]),
        ] {
            tables.push(comparison_table(&metrics, &col, opts.ci_style));
        }
    }
    let headline = headline_lines(&metrics);
    match format {
        Format::Markdown => markdown(runs, &headline, &tables, opts),
        Format::Latex => latex(runs, &headline, &tables),
        _ => terminal(runs, &headline, &tables),
    }
}

/// One line per evaluation with a Wilson `top1_acc`:
/// `finetune · candle · cpu · test: top-1 85.2% (95% CI 83.9–86.5%, wilson), n = 2000`.
pub fn headline_lines(metrics: &[MetricRecord]) -> Vec<String> {
    let mut out = Vec::new();
    for m in metrics
        .iter()
        .filter(|m| m.metric == "top1_acc" && m.params.is_empty())
    {
        let who = [
            m.model.as_str(),
            &m.backend,
            &m.compute_unit,
            &m.device,
            &m.split,
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" · ");
        let ci = match (m.ci_low, m.ci_high) {
            (Some(lo), Some(hi)) => format!(
                "95% CI {}–{}%, {}",
                format_value(lo, &m.unit),
                format_value(hi, &m.unit),
                if m.ci_method.is_empty() {
                    "method not given"
                } else {
                    &m.ci_method
                }
            ),
            _ => "no interval".to_string(),
        };
        let run = if m.run_id.is_empty() {
            String::new()
        } else {
            format!(" [{}]", m.run_id)
        };
        out.push(format!(
            "{who}{run}: top-1 {}% ({ci}), n = {}",
            format_value(m.value, &m.unit),
            m.n
        ));
    }
    out
}

fn manifest_lines(m: &Manifest) -> Vec<(String, String)> {
    let mut v = Vec::new();
    let t = &m.tool;
    if !t.name.is_empty() {
        v.push((
            "Tool".into(),
            format!(
                "{} {}, git {}{}",
                t.name,
                t.version,
                t.git_sha.chars().take(12).collect::<String>(),
                if t.git_dirty { " (dirty)" } else { "" }
            ),
        ));
    }
    let h = &m.host;
    if !h.cpu_model.is_empty() || !h.os.is_empty() {
        v.push((
            "Host".into(),
            format!(
                "{} ({} {}), {}, {} cores, {:.1} GiB, features: {}",
                h.hostname,
                h.os,
                h.arch,
                h.cpu_model,
                h.cores,
                h.memory_bytes as f64 / (1u64 << 30) as f64,
                if h.cpu_features.is_empty() {
                    "none recorded".to_string()
                } else {
                    h.cpu_features.join(" ")
                }
            ),
        ));
    }
    if let Some(d) = &m.device {
        v.push((
            "Device".into(),
            format!(
                "{}, {}, thermal {} → {}{}",
                d.model,
                d.os,
                or_q(&d.thermal_start),
                or_q(&d.thermal_end),
                if d.app_version.is_empty() {
                    String::new()
                } else {
                    format!(", app {}", d.app_version)
                }
            ),
        ));
    }
    if !m.engines.is_empty() {
        v.push((
            "Engines".into(),
            m.engines
                .iter()
                .map(|(k, x)| format!("{k} {x}"))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    if !m.models.is_empty() {
        v.push((
            "Models".into(),
            m.models
                .iter()
                .map(|x| {
                    if x.sha256.is_empty() {
                        x.name.clone()
                    } else {
                        format!(
                            "{} (sha256 {})",
                            x.name,
                            x.sha256.chars().take(12).collect::<String>()
                        )
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    if !m.threads.is_empty() {
        v.push((
            "Threads".into(),
            m.threads
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    if !m.seeds.is_empty() {
        v.push((
            "Seeds".into(),
            m.seeds
                .iter()
                .map(|(k, x)| format!("{k}={x}"))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    if !m.command.is_empty() {
        v.push(("Command".into(), m.command.join(" ")));
    }
    if !m.started_at.is_empty() {
        v.push((
            "Time".into(),
            format!("{} → {}", m.started_at, or_q(&m.finished_at)),
        ));
    }
    for n in &m.notes {
        v.push(("Note".into(), n.clone()));
    }
    v
}

fn or_q(s: &str) -> &str {
    if s.is_empty() {
        "?"
    } else {
        s
    }
}

fn dataset_line(run: &RunData) -> String {
    match &run.manifest {
        Some(m) => m.dataset_statement(),
        None => format!("unknown — {MANIFEST_JSON} missing in {}", run.dir.display()),
    }
}

fn upload_line(u: &UploadData) -> String {
    let mut files = Vec::new();
    if u.has_predictions {
        files.push(PREDICTIONS_CSV);
    }
    if u.has_latency {
        files.push(LATENCY_CSV);
    }
    let dev = u
        .manifest
        .as_ref()
        .and_then(|m| m.device.as_ref())
        .map(|d| {
            format!(
                "{}, {}, thermal {} → {}",
                d.model,
                d.os,
                or_q(&d.thermal_start),
                or_q(&d.thermal_end)
            )
        })
        .unwrap_or_else(|| "device not described".into());
    let analysed = if u.metrics.is_empty() {
        format!("; no {METRICS_CSV} yet (not analysed)")
    } else {
        format!("; {} metric rows", u.metrics.len())
    };
    format!(
        "{} — {dev}; files: {}{analysed}",
        u.upload_id,
        files.join(", ")
    )
}

fn link(p: &Path, opts: &RenderOptions) -> String {
    let rel = opts
        .link_base
        .as_ref()
        .and_then(|b| p.strip_prefix(b).ok())
        .unwrap_or(p);
    rel.to_string_lossy().replace(' ', "%20")
}

fn markdown(
    runs: &[RunData],
    headline: &[String],
    tables: &[Table],
    opts: &RenderOptions,
) -> String {
    let mut s = String::from("# scenebench report\n\n");
    for r in runs {
        let _ = writeln!(s, "## Run `{}`\n", r.title());
        let _ = writeln!(s, "**Dataset: {}**\n", dataset_line(r));
        if let Some(m) = &r.manifest {
            for (k, v) in manifest_lines(m) {
                let _ = writeln!(s, "- {k}: {v}");
            }
        }
        if !r.uploads.is_empty() {
            let _ = writeln!(s, "- Device uploads:");
            for u in &r.uploads {
                let _ = writeln!(s, "  - {}", upload_line(u));
            }
        }
        s.push('\n');
    }
    if !headline.is_empty() {
        s.push_str("## Headline\n\n");
        for h in headline {
            let _ = writeln!(s, "- {h}");
        }
        s.push('\n');
    }
    for t in tables.iter().filter(|t| !t.is_empty()) {
        let _ = writeln!(s, "## {}\n", t.title);
        s.push_str(&t.to_markdown());
        s.push('\n');
    }
    for r in runs {
        if !r.plots.is_empty() {
            let _ = writeln!(s, "## Plots ({})\n", r.title());
            for p in &r.plots {
                let name = p
                    .file_stem()
                    .map(|f| f.to_string_lossy())
                    .unwrap_or_default();
                let _ = writeln!(s, "![{name}]({})\n", link(p, opts));
            }
        }
        if !r.gallery.is_empty() {
            let _ = writeln!(s, "## Gallery ({})\n", r.title());
            for p in &r.gallery {
                let name = p
                    .file_stem()
                    .map(|f| f.to_string_lossy())
                    .unwrap_or_default();
                let _ = writeln!(s, "![{name}]({})", link(p, opts));
            }
            s.push('\n');
        }
    }
    s
}

fn terminal(runs: &[RunData], headline: &[String], tables: &[Table]) -> String {
    let mut s = String::new();
    for r in runs {
        let _ = writeln!(s, "Run {}", r.title());
        let _ = writeln!(s, "  Dataset: {}", dataset_line(r));
        if let Some(m) = &r.manifest {
            for (k, v) in manifest_lines(m) {
                let _ = writeln!(s, "  {k}: {v}");
            }
        }
        for u in &r.uploads {
            let _ = writeln!(s, "  Device upload: {}", upload_line(u));
        }
        s.push('\n');
    }
    for h in headline {
        let _ = writeln!(s, "{h}");
    }
    if !headline.is_empty() {
        s.push('\n');
    }
    for t in tables.iter().filter(|t| !t.is_empty()) {
        s.push_str(&t.to_terminal());
        s.push('\n');
    }
    s
}

fn latex(runs: &[RunData], headline: &[String], tables: &[Table]) -> String {
    use crate::table::latex_escape;
    let mut s = String::from("% scenebench report; requires \\usepackage{booktabs}\n");
    for r in runs {
        let _ = writeln!(s, "% Run {}", r.title());
        let _ = writeln!(s, "% Dataset: {}", dataset_line(r));
        for u in &r.uploads {
            let _ = writeln!(s, "% Device upload: {}", upload_line(u));
        }
    }
    if !headline.is_empty() {
        s.push_str("\\begin{itemize}\n");
        for h in headline {
            let _ = writeln!(s, "\\item {}", latex_escape(h));
        }
        s.push_str("\\end{itemize}\n");
    }
    for t in tables.iter().filter(|t| !t.is_empty()) {
        s.push('\n');
        s.push_str(&t.to_latex());
    }
    s
}

/// Writes `<run_dir>/report.md` (image links relative to the run directory) and returns its
/// path.
pub fn write_markdown_report(run_dir: &Path) -> Result<PathBuf, ResultsError> {
    let opts = RenderOptions {
        link_base: Some(run_dir.to_path_buf()),
        ..RenderOptions::default()
    };
    let text = render_with(&[run_dir.to_path_buf()], Format::Markdown, &opts)?;
    let p = run_dir.join("report.md");
    crate::csv_io::write_atomic(&p, text.as_bytes())?;
    Ok(p)
}
