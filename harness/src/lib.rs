//! scenebench harness library: the pieces of the `scenebench` binary that tests drive directly
//! (the pipeline, the upload server, device-run ingestion).

pub mod artifacts;
pub mod ingest;
pub mod pipeline;
pub mod run;
pub mod serve;
