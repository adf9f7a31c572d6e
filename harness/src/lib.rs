//! scenebench harness library: the pieces of the `scenebench` binary that tests drive directly
//! (the upload server, device-run ingestion, the end-to-end pipeline).

pub mod ingest;
pub mod serve;
