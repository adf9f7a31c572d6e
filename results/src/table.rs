//! Tables built from `metrics.csv` rows (`docs/SCHEMAS.md`) and rendered for a terminal
//! (comfy-table), Markdown (GitHub pipe tables), LaTeX (booktabs: `\toprule`, `\midrule`,
//! `\bottomrule`) and CSV. Headline cells carry their 95% interval (`value ± half-width` or
//! `value [lo, hi]`, following the "Value ± Stderr" tables of lm-evaluation-harness) and `n`.
//! Fractions are shown as percentages with the unit in the column header.

use std::collections::{BTreeMap, BTreeSet};

use comfy_table::{presets, CellAlignment, ContentArrangement};

use crate::records::{parse_params, MetricRecord};

/// How a 95% interval is written in a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CiStyle {
    /// `85.2 ± 1.3` (half the interval width; hides the asymmetry of Wilson intervals).
    PlusMinus,
    /// `85.2 [83.9, 86.5]` — the default: Wilson and bootstrap intervals are asymmetric.
    #[default]
    Bracket,
}

/// A rendered-to-strings table: header, rows, which columns are numeric (right-aligned).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub numeric: Vec<bool>,
    /// Footnotes (e.g. what the interval is).
    pub notes: Vec<String>,
}

/// The text for a missing cell.
pub const MISSING: &str = "—";

impl Table {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// A terminal table (comfy-table, UTF-8 borders), title above, notes below.
    pub fn to_terminal(&self) -> String {
        let mut t = comfy_table::Table::new();
        t.load_preset(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(self.header.clone());
        for r in &self.rows {
            t.add_row(r.clone());
        }
        for (i, &num) in self.numeric.iter().enumerate() {
            if num {
                if let Some(c) = t.column_mut(i) {
                    c.set_cell_alignment(CellAlignment::Right);
                }
            }
        }
        let mut s = String::new();
        if !self.title.is_empty() {
            s.push_str(&self.title);
            s.push('\n');
        }
        s.push_str(&t.to_string());
        s.push('\n');
        for n in &self.notes {
            s.push_str(n);
            s.push('\n');
        }
        s
    }

    /// A GitHub-flavoured Markdown pipe table (no title), notes as an italic line below.
    pub fn to_markdown(&self) -> String {
        let esc = |c: &str| c.replace('|', "\\|");
        let mut s = String::new();
        s.push_str("| ");
        s.push_str(
            &self
                .header
                .iter()
                .map(|h| esc(h))
                .collect::<Vec<_>>()
                .join(" | "),
        );
        s.push_str(" |\n|");
        for i in 0..self.header.len() {
            s.push_str(if self.numeric.get(i).copied().unwrap_or(false) {
                " ---: |"
            } else {
                " --- |"
            });
        }
        s.push('\n');
        for r in &self.rows {
            s.push_str("| ");
            s.push_str(&r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | "));
            s.push_str(" |\n");
        }
        for n in &self.notes {
            s.push_str(&format!("\n_{}_\n", n));
        }
        s
    }

    /// A LaTeX `table` with a booktabs `tabular` (needs `\usepackage{booktabs}`), the title as
    /// caption and the notes in a footnotesize paragraph.
    pub fn to_latex(&self) -> String {
        let spec: String = (0..self.header.len())
            .map(|i| {
                if self.numeric.get(i).copied().unwrap_or(false) {
                    'r'
                } else {
                    'l'
                }
            })
            .collect();
        let mut s = String::new();
        s.push_str("\\begin{table}[t]\n\\centering\n");
        if !self.title.is_empty() {
            s.push_str(&format!("\\caption{{{}}}\n", latex_escape(&self.title)));
        }
        s.push_str(&format!("\\begin{{tabular}}{{{spec}}}\n\\toprule\n"));
        s.push_str(
            &self
                .header
                .iter()
                .map(|h| latex_escape(h))
                .collect::<Vec<_>>()
                .join(" & "),
        );
        s.push_str(" \\\\\n\\midrule\n");
        for r in &self.rows {
            s.push_str(
                &r.iter()
                    .map(|c| latex_escape(c))
                    .collect::<Vec<_>>()
                    .join(" & "),
            );
            s.push_str(" \\\\\n");
        }
        s.push_str("\\bottomrule\n\\end{tabular}\n");
        if !self.notes.is_empty() {
            s.push_str("\n{\\footnotesize ");
            s.push_str(
                &self
                    .notes
                    .iter()
                    .map(|n| latex_escape(n))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            s.push_str("}\n");
        }
        s.push_str("\\end{table}\n");
        s
    }

    /// The table as CSV (header + rows; title and notes omitted).
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        // Writing to a Vec cannot fail except on inconsistent row lengths, which `Table` builders
        // never produce; fall back to an empty string rather than panic.
        let _ = w.write_record(&self.header);
        for r in &self.rows {
            let _ = w.write_record(r);
        }
        w.into_inner()
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

/// Escapes LaTeX specials (`\ _ % & # $ { } ~ ^`) and maps `±` to `$\pm$`, `—`/`–` to `---`/`--`, `·` to `$\cdot$`,
/// `≥`/`≤`/`×`/`↔`/`→` to math.
pub fn latex_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        match ch {
            '\\' => o.push_str("\\textbackslash{}"),
            '_' | '%' | '&' | '#' | '$' | '{' | '}' => {
                o.push('\\');
                o.push(ch);
            }
            '~' => o.push_str("\\textasciitilde{}"),
            '^' => o.push_str("\\textasciicircum{}"),
            '±' => o.push_str("$\\pm$"),
            '—' => o.push_str("---"),
            '–' => o.push_str("--"),
            '·' => o.push_str("$\\cdot$"),
            '≥' => o.push_str("$\\geq$"),
            '≤' => o.push_str("$\\leq$"),
            '×' => o.push_str("$\\times$"),
            '↔' => o.push_str("$\\leftrightarrow$"),
            '→' => o.push_str("$\\rightarrow$"),
            '…' => o.push_str("\\ldots{}"),
            _ => o.push(ch),
        }
    }
    o
}

/// Number formatting by magnitude: 3 decimals below 10, 2 below 100, 1 below 1000, else 0.
pub fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let a = v.abs();
    if a < 10.0 {
        format!("{v:.3}")
    } else if a < 100.0 {
        format!("{v:.2}")
    } else if a < 1000.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// Whether a unit is shown as a percentage.
pub fn is_fraction(unit: &str) -> bool {
    unit == "fraction"
}

/// Decimals used for a value in its display unit: 1 for percentages, else by magnitude
/// (3 below 10, 2 below 100, 1 below 1000, 0 above).
pub fn display_decimals(v: f64, unit: &str) -> usize {
    if is_fraction(unit) {
        return 1;
    }
    let a = v.abs();
    if a < 10.0 {
        3
    } else if a < 100.0 {
        2
    } else if a < 1000.0 {
        1
    } else {
        0
    }
}

/// A value in its display unit: fractions as percent with one decimal.
pub fn format_value(v: f64, unit: &str) -> String {
    format_with(v, unit, display_decimals(v, unit))
}

/// A value in its display unit with a fixed number of decimals.
pub fn format_with(v: f64, unit: &str, decimals: usize) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let x = if is_fraction(unit) { v * 100.0 } else { v };
    format!("{x:.decimals$}")
}

/// The unit suffix of a column header: `%` for fractions, the unit otherwise.
pub fn unit_suffix(unit: &str) -> String {
    match unit {
        "fraction" => " (%)".into(),
        "" => String::new(),
        u => format!(" ({u})"),
    }
}

/// One cell: value with its interval in the given style (no interval if `ci_low`/`ci_high` are
/// empty or not finite). The interval uses the value's number of decimals.
pub fn format_cell(m: &MetricRecord, style: CiStyle) -> String {
    let d = display_decimals(m.value, &m.unit);
    let v = format_with(m.value, &m.unit, d);
    match (m.ci_low, m.ci_high) {
        (Some(lo), Some(hi)) if lo.is_finite() && hi.is_finite() && m.value.is_finite() => {
            match style {
                CiStyle::PlusMinus => {
                    let half = (hi - lo) / 2.0;
                    format!("{v} ± {}", format_with(half, &m.unit, d))
                }
                CiStyle::Bracket => format!(
                    "{v} [{}, {}]",
                    format_with(lo, &m.unit, d),
                    format_with(hi, &m.unit, d)
                ),
            }
        }
        _ => v,
    }
}

/// A table column: a metric name plus `params` it must carry (other params must be in
/// [`IGNORED_PARAMS`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricColumn {
    /// Header text (the unit is appended).
    pub label: String,
    pub metric: String,
    pub params: Vec<(String, String)>,
}

/// Params that qualify a metric without changing what a column means.
pub const IGNORED_PARAMS: &[&str] = &["k", "fit_split"];

impl MetricColumn {
    pub fn new(label: &str, metric: &str, params: &[(&str, &str)]) -> MetricColumn {
        MetricColumn {
            label: label.into(),
            metric: metric.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Whether a metric row belongs in this column: same metric, every required param present
    /// with its value, and no other param except [`IGNORED_PARAMS`].
    pub fn matches(&self, m: &MetricRecord) -> bool {
        if m.metric != self.metric {
            return false;
        }
        let have = parse_params(&m.params);
        let required_ok = self
            .params
            .iter()
            .all(|(k, v)| have.iter().any(|(hk, hv)| hk == k && hv == v));
        let extra_ok = have
            .iter()
            .all(|(hk, _)| IGNORED_PARAMS.contains(hk) || self.params.iter().any(|(k, _)| k == hk));
        required_ok && extra_ok
    }
}

/// The accuracy/calibration summary columns shown by default: top-1, top-5, balanced accuracy,
/// macro-F1, ECE (15 equal-width bins) before and after temperature scaling, equal-mass ECE,
/// Brier, NLL, the fitted temperature and the τ = 0.40 low-confidence warning numbers, AURC.
pub fn default_summary_columns() -> Vec<MetricColumn> {
    let unc = [("calibrated", "false")];
    vec![
        MetricColumn::new("top-1", "top1_acc", &[]),
        MetricColumn::new("top-5", "top5_acc", &[]),
        MetricColumn::new("bal. acc", "balanced_acc", &[]),
        MetricColumn::new("macro-F1", "macro_f1", &[]),
        MetricColumn::new("ECE-15", "ece_15", &unc),
        MetricColumn::new("ECE-15 (T)", "ece_15", &[("calibrated", "true")]),
        MetricColumn::new("ECE-15 mass", "ece_15_mass", &unc),
        MetricColumn::new("Brier", "brier", &unc),
        MetricColumn::new("NLL", "nll", &unc),
        MetricColumn::new("T", "temperature", &[]),
        MetricColumn::new("coverage@0.40", "coverage@0.40", &unc),
        MetricColumn::new("sel. acc@0.40", "selective_acc@0.40", &unc),
        MetricColumn::new("errors flagged@0.40", "errors_flagged@0.40", &unc),
        MetricColumn::new("AURC", "aurc", &unc),
    ]
}

/// The row identity of an evaluation: run, model, backend, device, compute unit, split.
type EvalKey = (String, String, String, String, String, String);

fn eval_key(m: &MetricRecord) -> EvalKey {
    (
        m.run_id.clone(),
        m.model.clone(),
        m.backend.clone(),
        m.device.clone(),
        m.compute_unit.clone(),
        m.split.clone(),
    )
}

fn distinct_runs(metrics: &[MetricRecord]) -> usize {
    metrics
        .iter()
        .map(|m| m.run_id.as_str())
        .collect::<BTreeSet<_>>()
        .len()
}

fn or_missing(s: &str) -> String {
    if s.is_empty() {
        MISSING.to_string()
    } else {
        s.to_string()
    }
}

/// The footnote: what a cell shows and which interval methods the shown rows used.
fn ci_note<'a>(style: CiStyle, shown: impl IntoIterator<Item = &'a MetricRecord>) -> String {
    let methods: BTreeSet<&str> = shown
        .into_iter()
        .filter(|m| m.ci_low.is_some())
        .map(|m| {
            if m.ci_method.is_empty() {
                "unspecified"
            } else {
                m.ci_method.as_str()
            }
        })
        .collect();
    let what = match style {
        CiStyle::PlusMinus => "value ± half-width of the 95% interval",
        CiStyle::Bracket => "value [95% interval]",
    };
    let methods = if methods.is_empty() {
        "none".to_string()
    } else {
        methods.into_iter().collect::<Vec<_>>().join(", ")
    };
    format!("Cells: {what} (interval method: {methods}); n = images behind each value.")
}

/// Accuracy/calibration summary: one row per (run if several, model, backend, device, compute
/// unit, split) with at least one of `columns`; cells with their interval; an `n` column taken
/// from the first filled column (cells whose `n` differs say `(n=…)`). Columns with no value in
/// any row are dropped. A `run` column appears when the metrics come from several runs.
pub fn summary_table(metrics: &[MetricRecord], columns: &[MetricColumn], style: CiStyle) -> Table {
    let multi = distinct_runs(metrics) > 1;
    let mut cells: BTreeMap<EvalKey, Vec<Option<&MetricRecord>>> = BTreeMap::new();
    for m in metrics {
        for (ci, col) in columns.iter().enumerate() {
            if col.matches(m) {
                let row = cells
                    .entry(eval_key(m))
                    .or_insert_with(|| vec![None; columns.len()]);
                if row[ci].is_none() {
                    row[ci] = Some(m);
                }
            }
        }
    }
    let used: Vec<usize> = (0..columns.len())
        .filter(|&ci| cells.values().any(|r| r[ci].is_some()))
        .collect();
    let mut header: Vec<String> = Vec::new();
    if multi {
        header.push("run".into());
    }
    header.extend(["model", "backend", "device", "compute unit", "split", "n"].map(String::from));
    let nkey = header.len();
    for &ci in &used {
        let unit = cells
            .values()
            .find_map(|r| r[ci].map(|m| m.unit.clone()))
            .unwrap_or_default();
        header.push(format!("{}{}", columns[ci].label, unit_suffix(&unit)));
    }
    let mut numeric = vec![false; nkey];
    numeric[nkey - 1] = true;
    numeric.extend(std::iter::repeat_n(true, used.len()));
    let mut rows = Vec::new();
    for (k, r) in &cells {
        let n = used.iter().find_map(|&ci| r[ci].map(|m| m.n));
        let mut row = Vec::new();
        if multi {
            row.push(k.0.clone());
        }
        row.extend([
            k.1.clone(),
            k.2.clone(),
            or_missing(&k.3),
            or_missing(&k.4),
            or_missing(&k.5),
            n.map(|n| n.to_string()).unwrap_or_else(|| MISSING.into()),
        ]);
        for &ci in &used {
            row.push(match r[ci] {
                None => MISSING.into(),
                Some(m) if Some(m.n) != n => format!("{} (n={})", format_cell(m, style), m.n),
                Some(m) => format_cell(m, style),
            });
        }
        rows.push(row);
    }
    Table {
        title: "Accuracy and calibration".into(),
        notes: vec![ci_note(
            style,
            cells
                .values()
                .flat_map(|r| used.iter().filter_map(move |&ci| r[ci])),
        )],
        header,
        rows,
        numeric,
    }
}

/// Latency: one row per (run if several, model, backend, compute unit, device, engine,
/// precision, threads, batch, mode) from `suite = latency` rows, columns n, p50 (with its
/// bootstrap interval), p90, p99, mean, throughput and load time. Rows are ordered by model,
/// mode, precision, batch, then backend/compute unit/threads, so CoreML rows from a phone sit
/// next to the desktop backends at the same batch and mode.
pub fn latency_table(metrics: &[MetricRecord], style: CiStyle) -> Table {
    let multi = distinct_runs(metrics) > 1;
    // sort key: model, mode, precision, batch(num), backend, compute unit, threads(num), device, engine, run
    type Key = (
        String,
        String,
        String,
        u64,
        String,
        String,
        u64,
        String,
        String,
        String,
    );
    const COLS: &[(&str, &str)] = &[
        ("p50", "p50_ms"),
        ("p90", "p90_ms"),
        ("p99", "p99_ms"),
        ("mean", "mean_ms"),
        ("throughput", "throughput"),
        ("load", "load_ms"),
    ];
    let mut groups: BTreeMap<Key, Vec<Option<&MetricRecord>>> = BTreeMap::new();
    for m in metrics.iter().filter(|m| m.suite == "latency") {
        let Some(ci) = COLS.iter().position(|(_, name)| *name == m.metric) else {
            continue;
        };
        let p = |k: &str| m.param(k).unwrap_or("").to_string();
        let num = |k: &str| m.param(k).and_then(|v| v.parse().ok()).unwrap_or(0u64);
        let key: Key = (
            m.model.clone(),
            p("mode"),
            p("precision"),
            num("batch"),
            m.backend.clone(),
            m.compute_unit.clone(),
            num("threads"),
            m.device.clone(),
            p("engine"),
            m.run_id.clone(),
        );
        let row = groups.entry(key).or_insert_with(|| vec![None; COLS.len()]);
        if row[ci].is_none() {
            row[ci] = Some(m);
        }
    }
    let mut header: Vec<String> = Vec::new();
    if multi {
        header.push("run".into());
    }
    header.extend(
        [
            "model",
            "backend",
            "compute unit",
            "device",
            "engine",
            "precision",
            "threads",
            "batch",
            "mode",
            "n",
            "p50 (ms)",
            "p90 (ms)",
            "p99 (ms)",
            "mean (ms)",
            "throughput (images/s)",
            "load (ms)",
        ]
        .map(String::from),
    );
    let mut numeric = vec![false; header.len()];
    let first_num = header.len() - 10; // threads
    numeric[first_num] = true;
    numeric[first_num + 1] = true;
    for x in numeric.iter_mut().skip(first_num + 3) {
        *x = true;
    }
    let mut rows = Vec::new();
    for (k, r) in &groups {
        let n = r[..5]
            .iter()
            .find_map(|m| m.map(|m| m.n))
            .map(|n| n.to_string())
            .unwrap_or_else(|| MISSING.into());
        let mut row = Vec::new();
        if multi {
            row.push(k.9.clone());
        }
        let threads = if k.6 == 0 && k.4 == "coreml" {
            "default".to_string()
        } else {
            k.6.to_string()
        };
        row.extend([
            k.0.clone(),
            k.4.clone(),
            or_missing(&k.5),
            or_missing(&k.7),
            or_missing(&k.8),
            or_missing(&k.2),
            threads,
            k.3.to_string(),
            or_missing(&k.1),
            n,
        ]);
        for (ci, m) in r.iter().enumerate() {
            row.push(match m {
                None => MISSING.into(),
                Some(m) if ci == 0 => format_cell(m, style),
                Some(m) => format_value(m.value, &m.unit),
            });
        }
        rows.push(row);
    }
    Table {
        title: "Latency".into(),
        header,
        rows,
        numeric,
        notes: vec![format!(
            "Warm-up excluded; n = measured iterations; p50 with its 95% interval ({}); throughput = batch · 1000 / mean; load = model load/compile time.",
            {
                let m: BTreeSet<&str> = groups
                    .values()
                    .filter_map(|r| r[0])
                    .filter(|m| m.ci_low.is_some())
                    .map(|m| m.ci_method.as_str())
                    .collect();
                if m.is_empty() {
                    "none".to_string()
                } else {
                    m.into_iter().collect::<Vec<_>>().join(", ")
                }
            }
        )],
    }
}

/// Named confusion pairs (`pair_rate`, params `from=…;to=…`): share of images of class
/// `from` predicted as `to`, with interval and n (images of `from`), highest rate first within
/// each evaluation.
pub fn pairs_table(metrics: &[MetricRecord], style: CiStyle) -> Table {
    let multi = distinct_runs(metrics) > 1;
    let mut by_eval: BTreeMap<EvalKey, Vec<&MetricRecord>> = BTreeMap::new();
    for m in metrics.iter().filter(|m| m.metric == "pair_rate") {
        by_eval.entry(eval_key(m)).or_default().push(m);
    }
    let mut header: Vec<String> = Vec::new();
    if multi {
        header.push("run".into());
    }
    header.extend(
        [
            "model",
            "backend",
            "compute unit",
            "split",
            "true class",
            "predicted as",
            "n",
            "rate (%)",
        ]
        .map(String::from),
    );
    let mut numeric = vec![false; header.len()];
    let l = numeric.len();
    numeric[l - 1] = true;
    numeric[l - 2] = true;
    let mut rows = Vec::new();
    let note = ci_note(style, by_eval.values().flatten().copied());
    for (k, mut ms) in by_eval {
        ms.sort_by(|a, b| {
            b.value
                .total_cmp(&a.value)
                .then_with(|| a.params.cmp(&b.params))
        });
        for m in ms {
            let mut row = Vec::new();
            if multi {
                row.push(k.0.clone());
            }
            row.extend([
                k.1.clone(),
                k.2.clone(),
                or_missing(&k.4),
                or_missing(&k.5),
                m.param("from").unwrap_or("?").to_string(),
                m.param("to").unwrap_or("?").to_string(),
                m.n.to_string(),
                format_cell(m, style),
            ]);
            rows.push(row);
        }
    }
    Table {
        title: "Confusion pairs".into(),
        header,
        rows,
        numeric,
        notes: vec![note],
    }
}

/// Side-by-side comparison of one metric across runs: rows = (model, backend, device, compute
/// unit, split), one column per run id (in order of first appearance).
pub fn comparison_table(metrics: &[MetricRecord], column: &MetricColumn, style: CiStyle) -> Table {
    let mut runs: Vec<String> = Vec::new();
    for m in metrics {
        if column.matches(m) && !runs.contains(&m.run_id) {
            runs.push(m.run_id.clone());
        }
    }
    type Key = (String, String, String, String, String);
    let mut grid: BTreeMap<Key, Vec<Option<&MetricRecord>>> = BTreeMap::new();
    let mut unit = String::new();
    for m in metrics.iter().filter(|m| column.matches(m)) {
        unit = m.unit.clone();
        let ri = runs.iter().position(|r| *r == m.run_id).unwrap_or(0);
        let k = (
            m.model.clone(),
            m.backend.clone(),
            m.device.clone(),
            m.compute_unit.clone(),
            m.split.clone(),
        );
        let row = grid.entry(k).or_insert_with(|| vec![None; runs.len()]);
        if row[ri].is_none() {
            row[ri] = Some(m);
        }
    }
    let mut header: Vec<String> = ["model", "backend", "device", "compute unit", "split"]
        .map(String::from)
        .to_vec();
    header.extend(runs.iter().cloned());
    let mut numeric = vec![false; 5];
    numeric.extend(std::iter::repeat_n(true, runs.len()));
    let note = ci_note(style, grid.values().flatten().flatten().copied());
    let rows = grid
        .into_iter()
        .map(|(k, r)| {
            let mut row = vec![
                k.0,
                k.1,
                or_missing(&k.2),
                or_missing(&k.3),
                or_missing(&k.4),
            ];
            row.extend(r.into_iter().map(|m| match m {
                None => MISSING.to_string(),
                Some(m) => format!("{} (n={})", format_cell(m, style), m.n),
            }));
            row
        })
        .collect();
    Table {
        title: format!("{}{} by run", column.label, unit_suffix(&unit)),
        header,
        rows,
        numeric,
        notes: vec![note],
    }
}

/// Backend parity: per model and pair of backends, max and mean |Δlogit| and top-1 agreement
/// over the same images (metrics `max_abs_dlogit`, `mean_abs_dlogit`, `top1_agreement`).
pub fn parity_table(metrics: &[MetricRecord], style: CiStyle) -> Table {
    let mut keys: Vec<(String, String, String)> = Vec::new();
    for m in metrics.iter().filter(|m| m.suite == "parity") {
        let k = (m.run_id.clone(), m.model.clone(), m.backend.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let find = |k: &(String, String, String), metric: &str| {
        metrics.iter().find(|m| {
            m.suite == "parity"
                && m.metric == metric
                && (m.run_id.clone(), m.model.clone(), m.backend.clone()) == *k
        })
    };
    let mut rows = Vec::new();
    for k in &keys {
        let max = find(k, "max_abs_dlogit");
        let mean = find(k, "mean_abs_dlogit");
        let agree = find(k, "top1_agreement");
        let n = max
            .or(agree)
            .map(|m| m.n.to_string())
            .unwrap_or_else(|| MISSING.into());
        let sci = |m: Option<&MetricRecord>| {
            m.map(|m| format!("{:.2e}", m.value))
                .unwrap_or_else(|| MISSING.into())
        };
        let agreement = agree
            .map(|m| {
                let pct = |v: f64| format!("{:.1}", 100.0 * v);
                match (style, m.ci_low, m.ci_high) {
                    (_, Some(lo), Some(hi)) => {
                        format!("{} [{}, {}]", pct(m.value), pct(lo), pct(hi))
                    }
                    _ => pct(m.value),
                }
            })
            .unwrap_or_else(|| MISSING.into());
        rows.push(vec![
            k.1.clone(),
            k.2.clone(),
            n,
            sci(max),
            sci(mean),
            agreement,
        ]);
    }
    Table {
        title: "Backend parity".into(),
        header: ["model", "backends", "n", "max |Δlogit|", "mean |Δlogit|", "top-1 agreement (%)"].map(String::from).to_vec(),
        rows,
        numeric: vec![false, false, true, true, true, true],
        notes: vec!["Same model and images on each pair of engines; coreml-mil-numpy is a reference evaluation of the exported CoreML program with numpy, not the CoreML runtime.".into()],
    }
}
