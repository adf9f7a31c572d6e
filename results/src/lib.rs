//! scenebench results: the typed records every suite emits, their CSV schemas
//! (`docs/SCHEMAS.md`), run manifests, and the reports built from them (terminal, Markdown,
//! LaTeX tables and plots). Reports are rendered from the CSVs alone, so a CSV uploaded from an
//! iPhone is analysed and shown exactly like a desktop run.

pub mod csv_io;
pub mod error;
pub mod manifest;
pub mod plot;
pub mod records;
pub mod report;
pub mod table;

pub use error::ResultsError;
pub use records::{
    LatencySample, MetricRecord, PredictionContext, PredictionRecord, SCHEMA_VERSION,
};
