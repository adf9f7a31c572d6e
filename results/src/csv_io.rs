//! Reading and writing the long-format CSVs of `docs/SCHEMAS.md` (RFC 4180, header row,
//! `schema_version` column). Writes are atomic (temporary file in the same directory, then
//! rename); reads validate the header (exact columns and order), every cell's type and the
//! schema's rules, and name the file, line and column of the first problem.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::records::{
    parse_float_list, split_list, LatencySample, MetricRecord, PredictionRecord, LATENCY_COLUMNS,
    METRIC_COLUMNS, PREDICTION_COLUMNS, SCHEMA_VERSION,
};
use crate::ResultsError;

/// File names of the CSVs in a run directory.
pub const PREDICTIONS_CSV: &str = "predictions.csv";
pub const LATENCY_CSV: &str = "latency_samples.csv";
pub const METRICS_CSV: &str = "metrics.csv";

/// The CoreML compute units a `compute_unit` cell may name (empty for other backends).
pub const COMPUTE_UNITS: &[&str] = &["all", "cpuAndNeuralEngine", "cpuAndGPU", "cpuOnly"];

/// What a row is checked against beyond its own types.
#[derive(Debug, Clone, Default)]
pub struct Validation<'a> {
    /// The run's class list (`manifest.json` `classes`): labels must be in it and `logits` must
    /// have one value per class. `None` skips these checks.
    pub classes: Option<&'a [String]>,
}

/// A record type with a schema in `docs/SCHEMAS.md`.
pub trait CsvRecord: Serialize + DeserializeOwned {
    /// Header columns in order.
    const COLUMNS: &'static [&'static str];
    /// Checks one parsed row; `Err((column, reason))` names the offending column.
    fn check(&self, v: &Validation<'_>) -> Result<(), (&'static str, String)>;
}

fn check_version(v: u32) -> Result<(), (&'static str, String)> {
    if v != SCHEMA_VERSION {
        return Err((
            "schema_version",
            format!("schema_version {v} is not supported (expected {SCHEMA_VERSION})"),
        ));
    }
    Ok(())
}

fn check_prob(col: &'static str, p: f64) -> Result<(), (&'static str, String)> {
    if !(0.0..=1.0).contains(&p) {
        return Err((col, format!("probability {p} is outside [0, 1]")));
    }
    Ok(())
}

fn check_compute_unit(cu: &str) -> Result<(), (&'static str, String)> {
    if !cu.is_empty() && !COMPUTE_UNITS.contains(&cu) {
        return Err((
            "compute_unit",
            format!("unknown compute unit `{cu}` (expected empty or one of {COMPUTE_UNITS:?})"),
        ));
    }
    Ok(())
}

impl CsvRecord for PredictionRecord {
    const COLUMNS: &'static [&'static str] = PREDICTION_COLUMNS;
    fn check(&self, v: &Validation<'_>) -> Result<(), (&'static str, String)> {
        check_version(self.schema_version)?;
        check_compute_unit(&self.compute_unit)?;
        check_prob("confidence", self.confidence)?;
        check_prob("true_prob", self.true_prob)?;
        let labels = split_list(&self.top5_labels);
        let probs = parse_float_list(&self.top5_probs).map_err(|e| ("top5_probs", e))?;
        for &p in &probs {
            check_prob("top5_probs", p)?;
        }
        if labels.len() != probs.len() {
            return Err((
                "top5_probs",
                format!(
                    "{} probabilities for {} top-5 labels",
                    probs.len(),
                    labels.len()
                ),
            ));
        }
        let logits = parse_float_list(&self.logits).map_err(|e| ("logits", e))?;
        if let Some(i) = logits.iter().position(|z| !z.is_finite()) {
            return Err(("logits", format!("logit {} is {}", i + 1, logits[i])));
        }
        if let Some(classes) = v.classes {
            let known = |col: &'static str, l: &str| {
                if classes.iter().any(|c| c == l) {
                    Ok(())
                } else {
                    Err((col, format!("label `{l}` is not one of the run's classes")))
                }
            };
            known("true_label", &self.true_label)?;
            known("pred_label", &self.pred_label)?;
            for l in &labels {
                known("top5_labels", l)?;
            }
            if logits.len() != classes.len() {
                return Err((
                    "logits",
                    format!(
                        "{} logits but the run has {} classes",
                        logits.len(),
                        classes.len()
                    ),
                ));
            }
            let want = classes.len().min(5);
            if labels.len() != want {
                return Err((
                    "top5_labels",
                    format!("{} labels, expected {want}", labels.len()),
                ));
            }
        }
        Ok(())
    }
}

impl CsvRecord for LatencySample {
    const COLUMNS: &'static [&'static str] = LATENCY_COLUMNS;
    fn check(&self, _v: &Validation<'_>) -> Result<(), (&'static str, String)> {
        check_version(self.schema_version)?;
        check_compute_unit(&self.compute_unit)?;
        if !matches!(self.mode.as_str(), "model" | "e2e") {
            return Err((
                "mode",
                format!("unknown mode `{}` (expected model or e2e)", self.mode),
            ));
        }
        if !matches!(self.phase.as_str(), "load" | "warmup" | "measure") {
            return Err((
                "phase",
                format!(
                    "unknown phase `{}` (expected load, warmup or measure)",
                    self.phase
                ),
            ));
        }
        if !(self.latency_ms.is_finite() && self.latency_ms >= 0.0) {
            return Err((
                "latency_ms",
                format!("latency {} is not a finite time ≥ 0", self.latency_ms),
            ));
        }
        Ok(())
    }
}

impl CsvRecord for MetricRecord {
    const COLUMNS: &'static [&'static str] = METRIC_COLUMNS;
    fn check(&self, _v: &Validation<'_>) -> Result<(), (&'static str, String)> {
        check_version(self.schema_version)?;
        check_compute_unit(&self.compute_unit)?;
        if self.metric.is_empty() {
            return Err(("metric", "empty metric name".into()));
        }
        if self.ci_low.is_some() != self.ci_high.is_some() {
            return Err((
                "ci_high",
                "ci_low and ci_high must both be set or both empty".into(),
            ));
        }
        Ok(())
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary path beside `path` (same directory, so `rename` is atomic).
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let k = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp-{}-{k}", std::process::id()))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| ResultsError::io(dir, e))?;
    }
    let tmp = temp_path(path);
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(ResultsError::io(path, e));
    }
    Ok(())
}

/// Serializes records to CSV text with the schema's header (also when `rows` is empty).
pub fn to_csv_string<T: CsvRecord>(rows: &[T]) -> Result<String, String> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record(T::COLUMNS).map_err(|e| e.to_string())?;
    for r in rows {
        w.serialize(r).map_err(|e| e.to_string())?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// Writes `rows` to `path` atomically, header first.
pub fn write_csv<T: CsvRecord>(path: &Path, rows: &[T]) -> Result<(), ResultsError> {
    let text = to_csv_string(rows).map_err(|reason| ResultsError::Row {
        path: path.to_path_buf(),
        line: 0,
        reason,
    })?;
    write_atomic(path, text.as_bytes())
}

/// Reads and validates a CSV file.
pub fn read_csv<T: CsvRecord>(path: &Path, v: &Validation<'_>) -> Result<Vec<T>, ResultsError> {
    let f = File::open(path).map_err(|e| ResultsError::io(path, e))?;
    read_csv_from(f, path, v)
}

/// Parses and validates CSV text; `name` is used in error messages (e.g. `predictions.csv` of
/// an upload).
pub fn parse_csv_str<T: CsvRecord>(
    text: &str,
    name: &Path,
    v: &Validation<'_>,
) -> Result<Vec<T>, ResultsError> {
    read_csv_from(text.as_bytes(), name, v)
}

fn read_csv_from<T: CsvRecord, R: std::io::Read>(
    reader: R,
    path: &Path,
    v: &Validation<'_>,
) -> Result<Vec<T>, ResultsError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(false)
        .from_reader(reader);
    let mut rec = csv::StringRecord::new();
    let row_err = |e: csv::Error| {
        let line = e.position().map(|p| p.line()).unwrap_or(0);
        let reason = match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!("{len} fields, expected {expected_len}"),
            csv::ErrorKind::Utf8 { err, .. } => format!("invalid UTF-8 ({err})"),
            _ => e.to_string(),
        };
        ResultsError::Row {
            path: path.to_path_buf(),
            line,
            reason,
        }
    };
    let expected = T::COLUMNS.join(",");
    let has_header = rdr.read_record(&mut rec).map_err(row_err)?;
    if !has_header {
        return Err(ResultsError::Header {
            path: path.to_path_buf(),
            line: 1,
            expected,
            found: "(empty file)".into(),
        });
    }
    let header: Vec<&str> = rec.iter().collect();
    // Accept a UTF-8 byte-order mark on the first column.
    let first_ok = header
        .first()
        .map(|h| h.trim_start_matches('\u{feff}') == T::COLUMNS[0])
        .unwrap_or(false);
    if header.len() != T::COLUMNS.len()
        || !first_ok
        || header[1..] != T::COLUMNS[1..T::COLUMNS.len().min(header.len())]
    {
        return Err(ResultsError::Header {
            path: path.to_path_buf(),
            line: rec.position().map(|p| p.line()).unwrap_or(1),
            expected,
            found: header.join(","),
        });
    }
    let names = csv::StringRecord::from(T::COLUMNS.to_vec());
    let mut out = Vec::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // Unequal lengths are reported against the header; keep the real line.
                return Err(row_err(e));
            }
        }
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.len() == 1 && rec.get(0) == Some("") {
            continue; // blank line
        }
        let row: T = rec.deserialize(Some(&names)).map_err(|e| {
            let (column, reason) = match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => match err.field() {
                    Some(i) => {
                        let col = T::COLUMNS.get(i as usize).copied().unwrap_or("?");
                        let cell = rec.get(i as usize).unwrap_or("");
                        (
                            col.to_string(),
                            format!("cannot parse `{cell}`: {}", err.kind()),
                        )
                    }
                    None => ("?".to_string(), err.kind().to_string()),
                },
                _ => ("?".to_string(), e.to_string()),
            };
            ResultsError::Field {
                path: path.to_path_buf(),
                line,
                column,
                reason,
            }
        })?;
        row.check(v)
            .map_err(|(column, reason)| ResultsError::Field {
                path: path.to_path_buf(),
                line,
                column: column.to_string(),
                reason,
            })?;
        out.push(row);
    }
    Ok(out)
}

/// Reads `predictions.csv`, checking labels and logit counts against `classes` when given.
pub fn read_predictions(
    path: &Path,
    classes: Option<&[String]>,
) -> Result<Vec<PredictionRecord>, ResultsError> {
    read_csv(path, &Validation { classes })
}

/// Reads `latency_samples.csv`.
pub fn read_latency(path: &Path) -> Result<Vec<LatencySample>, ResultsError> {
    read_csv(path, &Validation::default())
}

/// Reads `metrics.csv`.
pub fn read_metrics(path: &Path) -> Result<Vec<MetricRecord>, ResultsError> {
    read_csv(path, &Validation::default())
}

/// Appends rows to a CSV file as they are produced (long runs): writes the header if the file is
/// new or empty, otherwise checks that the existing header matches the schema. Each `push` is
/// flushed to the OS, so an interrupted run keeps every finished row.
pub struct CsvAppender<T: CsvRecord> {
    path: PathBuf,
    writer: csv::Writer<File>,
    rows: u64,
    _t: PhantomData<T>,
}

impl<T: CsvRecord> CsvAppender<T> {
    /// Opens (creating if needed) `path` for appending.
    pub fn open(path: &Path) -> Result<Self, ResultsError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| ResultsError::io(dir, e))?;
        }
        let expected = T::COLUMNS.join(",");
        let existing_len = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if existing_len > 0 {
            let f = File::open(path).map_err(|e| ResultsError::io(path, e))?;
            let mut first = String::new();
            BufReader::new(f)
                .read_line(&mut first)
                .map_err(|e| ResultsError::io(path, e))?;
            let found = first.trim_end_matches(['\r', '\n']);
            if found.trim_start_matches('\u{feff}') != expected {
                return Err(ResultsError::Header {
                    path: path.to_path_buf(),
                    line: 1,
                    expected,
                    found: found.to_string(),
                });
            }
        }
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| ResultsError::io(path, e))?;
        let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(f);
        if existing_len == 0 {
            writer
                .write_record(T::COLUMNS)
                .and_then(|_| writer.flush().map_err(csv::Error::from))
                .map_err(|e| ResultsError::Row {
                    path: path.to_path_buf(),
                    line: 1,
                    reason: e.to_string(),
                })?;
        }
        Ok(CsvAppender {
            path: path.to_path_buf(),
            writer,
            rows: 0,
            _t: PhantomData,
        })
    }

    /// Appends one row and flushes it.
    pub fn push(&mut self, row: &T) -> Result<(), ResultsError> {
        self.writer
            .serialize(row)
            .and_then(|_| self.writer.flush().map_err(csv::Error::from))
            .map_err(|e| ResultsError::Row {
                path: self.path.clone(),
                line: 0,
                reason: e.to_string(),
            })?;
        self.rows += 1;
        Ok(())
    }

    /// Rows appended through this writer.
    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// The file being appended to.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The parsed content of an upload (`docs/SCHEMAS.md` "Upload").
#[derive(Debug, Clone, Default)]
pub struct UploadContent {
    pub predictions: Vec<PredictionRecord>,
    pub latency: Vec<LatencySample>,
}

/// Validates an upload's CSV texts against its manifest's class list: at least one file, each
/// with the exact header, version 1, labels in `classes`, one logit per class, probabilities in
/// [0, 1], known phase/mode/compute unit, latencies ≥ 0. Errors name the file (`predictions.csv`
/// or `latency_samples.csv`), line and column; [`ResultsError::is_malformed`] separates 400 from
/// 422.
pub fn validate_upload(
    classes: &[String],
    predictions_csv: Option<&str>,
    latency_csv: Option<&str>,
) -> Result<UploadContent, ResultsError> {
    if predictions_csv.is_none() && latency_csv.is_none() {
        return Err(ResultsError::Report {
            path: PathBuf::from("files"),
            reason: format!("an upload needs {PREDICTIONS_CSV} and/or {LATENCY_CSV}"),
        });
    }
    if predictions_csv.is_some() && classes.is_empty() {
        return Err(ResultsError::Json {
            path: PathBuf::from("manifest"),
            reason: "classes missing: needed to check predictions.csv".into(),
        });
    }
    let mut out = UploadContent::default();
    if let Some(t) = predictions_csv {
        out.predictions = parse_csv_str(
            t,
            Path::new(PREDICTIONS_CSV),
            &Validation {
                classes: Some(classes),
            },
        )?;
    }
    if let Some(t) = latency_csv {
        out.latency = parse_csv_str(t, Path::new(LATENCY_CSV), &Validation::default())?;
    }
    Ok(out)
}
