//! The one error type of the `results` crate. Every variant names the file it concerns and, for
//! CSV content, the 1-based line and the column, so a rejected upload says exactly what to fix.

use std::path::PathBuf;

/// Errors from reading, validating, writing and rendering results.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The file could not be opened, read, written or renamed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The header row is missing or differs from `docs/SCHEMAS.md`.
    #[error("{path}: line {line}: wrong header: expected `{expected}`, found `{found}`")]
    Header {
        path: PathBuf,
        line: u64,
        expected: String,
        found: String,
    },
    /// A cell cannot be parsed or breaks the schema.
    #[error("{path}: line {line}, column `{column}`: {reason}")]
    Field {
        path: PathBuf,
        line: u64,
        column: String,
        reason: String,
    },
    /// A row is malformed as CSV (wrong number of fields, bad quoting, invalid UTF-8).
    #[error("{path}: line {line}: {reason}")]
    Row {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    /// A JSON file (manifest) cannot be parsed or written.
    #[error("{path}: {reason}")]
    Json { path: PathBuf, reason: String },
    /// Logits and class list disagree when building a record.
    #[error("record for image `{image_id}`: {reason}")]
    Record { image_id: String, reason: String },
    /// A plot could not be drawn or encoded.
    #[error("plot {path}: {reason}")]
    Plot { path: PathBuf, reason: String },
    /// A report could not be assembled (e.g. a run directory without any results).
    #[error("report {path}: {reason}")]
    Report { path: PathBuf, reason: String },
}

impl ResultsError {
    /// True for input that is not well-formed CSV/JSON (bad quoting, ragged rows, a cell that
    /// does not parse as its type): an upload answers 400. False for well-formed input that
    /// breaks the schema (header, `schema_version`, labels, logit count, ranges): 422.
    pub fn is_malformed(&self) -> bool {
        match self {
            ResultsError::Row { .. } => true,
            ResultsError::Json { reason, .. } => !reason.starts_with("schema_version"),
            ResultsError::Field { reason, .. } => {
                reason.starts_with("cannot parse") || reason.starts_with("item ")
            }
            _ => false,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ResultsError::Io {
            path: path.into(),
            source,
        }
    }
}
