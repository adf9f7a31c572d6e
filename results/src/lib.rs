//! scenebench results: the typed records every suite emits, their CSV schemas
//! (`docs/SCHEMAS.md`), run manifests, and the reports built from them (terminal, Markdown,
//! LaTeX tables and plots). Reports are rendered from the CSVs alone, so a CSV uploaded from an
//! iPhone is analysed and shown exactly like a desktop run.

pub mod records;

pub use records::{LatencySample, MetricRecord, PredictionRecord, SCHEMA_VERSION};
