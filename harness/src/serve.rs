//! `scenebench serve`: the HTTP endpoint that receives benchmark runs measured on an iPhone (or a
//! Mac) by the `ios-bench` Swift package, following the "Upload" section of `docs/SCHEMAS.md`.
//!
//! * `POST /api/v1/uploads` — `Authorization: Bearer <token>` (compared in constant time, on
//!   SHA-256 digests so the token's length does not leak either), a JSON body of at most
//!   [`ServeConfig::max_body_bytes`] holding `schema_version`, `upload_id`, `manifest` and
//!   `files` (`predictions.csv` and/or `latency_samples.csv` as text). Both CSVs are validated
//!   with `results::csv_io` (exact header, `schema_version` column, types, labels in the
//!   manifest's `classes`, logit count, phases/modes, latencies ≥ 0) plus the upload rules below;
//!   the first problem is reported with the file, line and column. A valid upload is written
//!   atomically to `<dir>/device/<upload_id>/{manifest.json,predictions.csv,latency_samples.csv}`
//!   (temporary directory inside `<dir>/device/`, every file fsynced, then one directory
//!   `rename`). Uploads are idempotent per id: the same id with identical content answers `200`,
//!   with different content `409`. Uploads of one id are serialised by a per-id lock, and the
//!   final `rename` refuses to replace an existing directory, so two servers sharing a directory
//!   cannot overwrite each other either.
//! * A body over the limit is read and discarded up to [`drain_cap`] before the `413`, so the
//!   client reads the answer instead of a broken pipe; a body that has not arrived within
//!   [`BODY_TIMEOUT`] gets `408`. Leftover temporaries older than [`STALE_TMP_AGE`] are removed
//!   at start.
//! * `GET /api/v1/health` — `{"status":"ok","schema_version":1}`, no token needed.
//!
//! Status codes follow RFC 9110 (400, 401, 409, 413, 422). Every error body is
//! `{"error": "<reason>"}`; every request is logged as one line on stderr.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use results::csv_io::{parse_csv_str, Validation, LATENCY_CSV, PREDICTIONS_CSV};
use results::manifest::{Manifest, MANIFEST_JSON};
use results::{LatencySample, PredictionRecord, ResultsError, SCHEMA_VERSION};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Default listen address: loopback only.
pub const DEFAULT_BIND: &str = "127.0.0.1:8787";
/// Default body limit (`docs/SCHEMAS.md`: at most 64 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Subdirectory of the runs directory that holds uploads.
pub const DEVICE_DIR: &str = "device";
/// The files an upload may carry.
pub const UPLOAD_FILES: &[&str] = &[PREDICTIONS_CSV, LATENCY_CSV];
/// How long a client may take to send an upload body (a stalled client cannot hold a
/// connection and its buffer forever).
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);
/// Temporary upload directories (`<dir>/device/.tmp-*`) older than this are removed at start:
/// leftovers of a server that died mid-write.
pub const STALE_TMP_AGE: std::time::Duration = std::time::Duration::from_secs(3600);
/// Longest accepted upload id.
pub const MAX_UPLOAD_ID_LEN: usize = 128;

/// What `scenebench serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The runs directory; uploads land in `<dir>/device/<upload_id>/`.
    pub dir: PathBuf,
    /// The bearer token clients must send (see [`read_token_file`]). Must not be empty.
    pub token: String,
    /// Listen address (default [`DEFAULT_BIND`], loopback). Port 0 picks a free port.
    pub bind: SocketAddr,
    /// Largest accepted request body (default [`DEFAULT_MAX_BODY_BYTES`]).
    pub max_body_bytes: usize,
}

impl ServeConfig {
    /// A config with the default bind address and body limit.
    pub fn new(dir: impl Into<PathBuf>, token: impl Into<String>) -> Self {
        ServeConfig {
            dir: dir.into(),
            token: token.into(),
            bind: DEFAULT_BIND
                .parse()
                .expect("DEFAULT_BIND is a socket address"),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// Reads a token file: surrounding whitespace (the trailing newline) is removed; an empty or
/// whitespace-only file is an error. Warns on stderr when the file is readable by others.
pub fn read_token_file(path: &Path) -> anyhow::Result<String> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("reading token file {}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        anyhow::bail!("token file {} is empty", path.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = fs::metadata(path) {
            if m.permissions().mode() & 0o077 != 0 {
                eprintln!(
                    "scenebench serve: warning: token file {} is readable by other users (chmod 600 it)",
                    path.display()
                );
            }
        }
    }
    Ok(token.to_string())
}

/// Why a request was refused; each variant maps to one HTTP status ([`UploadError::status`]) and
/// its message is the `error` field of the JSON body.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("missing bearer token (send `Authorization: Bearer <token>`)")]
    MissingToken,
    #[error("wrong token")]
    WrongToken,
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request body did not arrive within {secs} s")]
    Timeout { secs: u64 },
    /// The body is not JSON, or not an upload object (missing/mistyped fields).
    #[error("malformed upload JSON: {0}")]
    BadJson(String),
    /// A file is not parsable as CSV (quoting, field count, UTF-8, a cell of the wrong type).
    #[error("malformed CSV: {0}")]
    BadCsv(String),
    /// The upload id is not a safe token.
    #[error("invalid upload_id {id:?}: {reason}")]
    BadUploadId { id: String, reason: &'static str },
    /// Well-formed, but breaks the schema (version, header, labels, logit count, manifest…).
    #[error("{0}")]
    Schema(String),
    #[error("upload {id:?} is already stored with different content ({detail})")]
    Conflict { id: String, detail: String },
    /// Storage failed; the details go to the server log, not to the client.
    #[error("the server could not store the upload")]
    Storage(String),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
}

impl UploadError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            UploadError::MissingToken | UploadError::WrongToken => StatusCode::UNAUTHORIZED,
            UploadError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UploadError::Timeout { .. } => StatusCode::REQUEST_TIMEOUT,
            UploadError::BadJson(_) | UploadError::BadCsv(_) | UploadError::BadUploadId { .. } => {
                StatusCode::BAD_REQUEST
            }
            UploadError::Schema(_) => StatusCode::UNPROCESSABLE_ENTITY,
            UploadError::Conflict { .. } => StatusCode::CONFLICT,
            UploadError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
            UploadError::NotFound => StatusCode::NOT_FOUND,
            UploadError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }
}

impl IntoResponse for UploadError {
    fn into_response(self) -> Response {
        if let UploadError::Storage(detail) = &self {
            eprintln!("scenebench serve: storage error: {detail}");
        }
        let mut resp = (self.status(), Json(json!({ "error": self.to_string() }))).into_response();
        if matches!(
            self,
            UploadError::TooLarge { .. } | UploadError::Timeout { .. }
        ) {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if self.status() == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// Shared state of the server.
#[derive(Debug)]
pub struct AppState {
    /// `<dir>/device`.
    device_dir: PathBuf,
    /// SHA-256 of the token (compared against the digest of the presented one).
    token_digest: [u8; 32],
    max_body_bytes: usize,
    /// One lock per upload id currently being handled.
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl AppState {
    /// State for `cfg`; errors on an empty token.
    pub fn new(cfg: &ServeConfig) -> anyhow::Result<Arc<AppState>> {
        if cfg.token.trim().is_empty() {
            anyhow::bail!("the upload token is empty");
        }
        Ok(Arc::new(AppState {
            device_dir: cfg.dir.join(DEVICE_DIR),
            token_digest: Sha256::digest(cfg.token.as_bytes()).into(),
            max_body_bytes: cfg.max_body_bytes,
            locks: Mutex::new(HashMap::new()),
        }))
    }
}

/// The routes (`/api/v1/uploads`, `/api/v1/health`) with the body limit and request log.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.max_body_bytes;
    Router::new()
        .route("/api/v1/uploads", post(upload))
        .route("/api/v1/health", get(health))
        .fallback(|| async { UploadError::NotFound })
        .method_not_allowed_fallback(|| async { UploadError::MethodNotAllowed })
        // Uploads read their body with `read_body` (same limit, drains before a 413); the layer
        // bounds any extractor-based route.
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// A server listening in the background (see [`start`]).
pub struct RunningServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server task.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task
            .await
            .context("server task panicked")?
            .context("server failed")
    }
}

/// Creates `<dir>/device/`, binds `cfg.bind` and serves in a background task on the current
/// tokio runtime. Errors on an empty token or when the address cannot be bound.
pub async fn start(cfg: ServeConfig) -> anyhow::Result<RunningServer> {
    let state = AppState::new(&cfg)?;
    fs::create_dir_all(&state.device_dir)
        .with_context(|| format!("creating {}", state.device_dir.display()))?;
    remove_stale_temporaries(&state.device_dir, STALE_TMP_AGE);
    let listener = tokio::net::TcpListener::bind(cfg.bind)
        .await
        .with_context(|| format!("binding {}", cfg.bind))?;
    let addr = listener.local_addr()?;
    let app = router(state);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    Ok(RunningServer {
        addr,
        shutdown: Some(tx),
        task,
    })
}

/// Removes `.tmp-*` directories under `device_dir` last modified more than `age` ago (a
/// younger one may belong to another server writing into the same directory).
pub fn remove_stale_temporaries(device_dir: &Path, age: std::time::Duration) -> usize {
    let Ok(entries) = fs::read_dir(device_dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(".tmp-") {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|el| el > age);
        if old && fs::remove_dir_all(e.path()).is_ok() {
            eprintln!(
                "scenebench serve: removed stale temporary {}",
                e.path().display()
            );
            removed += 1;
        }
    }
    removed
}

/// `scenebench serve`: starts the server and runs until Ctrl-C (SIGINT) or SIGTERM.
pub async fn serve(cfg: ServeConfig) -> anyhow::Result<()> {
    if !cfg.bind.ip().is_loopback() {
        eprintln!(
            "scenebench serve: warning: listening on {} (not loopback); uploads travel as plain HTTP — put a TLS proxy in front",
            cfg.bind
        );
    }
    let dir = cfg.dir.join(DEVICE_DIR);
    let limit = cfg.max_body_bytes;
    let server = start(cfg).await?;
    eprintln!(
        "scenebench serve: listening on http://{}/api/v1/uploads, storing into {} (body limit {limit} bytes)",
        server.local_addr(),
        dir.display()
    );
    shutdown_signal().await;
    eprintln!("scenebench serve: shutting down");
    server.shutdown().await
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn log_request(req: Request, next: Next) -> Response {
    let t0 = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let bytes_in = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let resp = next.run(req).await;
    let bytes_out = resp
        .body()
        .size_hint()
        .exact()
        .map(|n| n.to_string())
        .unwrap_or_else(|| "-".into());
    eprintln!(
        "scenebench serve: {method} {path} {} in={bytes_in}B out={bytes_out}B {:.1}ms",
        resp.status().as_u16(),
        t0.elapsed().as_secs_f64() * 1e3
    );
    resp
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "schema_version": SCHEMA_VERSION }))
}

fn check_token(headers: &HeaderMap, digest: &[u8; 32]) -> Result<(), UploadError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(UploadError::MissingToken)?
        .as_bytes();
    let (scheme, token) = match value.iter().position(|&b| b == b' ') {
        Some(i) => (&value[..i], &value[i + 1..]),
        None => return Err(UploadError::MissingToken),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(UploadError::MissingToken);
    }
    let presented: [u8; 32] = Sha256::digest(token.trim_ascii()).into();
    if bool::from(presented.ct_eq(digest)) {
        Ok(())
    } else {
        Err(UploadError::WrongToken)
    }
}

/// The JSON body of an upload (after its `schema_version` has been checked).
#[derive(Debug, Deserialize)]
struct UploadBody {
    upload_id: String,
    manifest: Value,
    files: BTreeMap<String, String>,
}

/// A validated upload: the exact bytes to store per file name.
#[derive(Debug)]
struct Validated {
    upload_id: String,
    files: BTreeMap<&'static str, Vec<u8>>,
}

async fn upload(State(state): State<Arc<AppState>>, req: Request) -> Response {
    match upload_inner(state, req).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn upload_inner(state: Arc<AppState>, req: Request) -> Result<Response, UploadError> {
    // Authenticate before reading (and buffering) the body.
    check_token(req.headers(), &state.token_digest)?;
    let body = tokio::time::timeout(
        BODY_TIMEOUT,
        read_body(req.into_body(), state.max_body_bytes),
    )
    .await
    .map_err(|_| UploadError::Timeout {
        secs: BODY_TIMEOUT.as_secs(),
    })??;
    let st = state.clone();
    tokio::task::spawn_blocking(move || {
        let v = validate(&body)?;
        store(&st, v)
    })
    .await
    .map_err(|e| UploadError::Storage(format!("upload task failed: {e}")))?
}

/// How much of an oversized body is read (and discarded) before answering 413: a client still
/// sending when the server closes the connection sees a broken pipe instead of the 413, and a
/// queueing client (the iOS app) would then retry forever. Bodies announced or found to be
/// larger than this are refused at once.
pub fn drain_cap(limit: usize) -> u64 {
    (limit as u64).saturating_mul(2).max(16 << 20)
}

/// Reads the body, at most `limit` bytes (RFC 9110 §15.5.14: 413 beyond that).
async fn read_body(mut body: Body, limit: usize) -> Result<Bytes, UploadError> {
    let too_large = UploadError::TooLarge { limit };
    let announced = body.size_hint().exact();
    if announced.is_some_and(|n| n > drain_cap(limit)) {
        return Err(too_large);
    }
    let mut buf: Vec<u8> = Vec::new();
    let mut total: u64 = 0;
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let Some(frame) = frame else { break };
        let frame =
            frame.map_err(|e| UploadError::BadJson(format!("could not read the body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len() as u64;
        if total > limit as u64 {
            buf = Vec::new();
            if total > drain_cap(limit) {
                break;
            }
        } else {
            buf.extend_from_slice(&data);
        }
    }
    if total > limit as u64 {
        return Err(too_large);
    }
    Ok(Bytes::from(buf))
}

/// Checks that an upload id is a safe single path component: 1 to [`MAX_UPLOAD_ID_LEN`]
/// characters from `[A-Za-z0-9._-]`, starting with a letter or digit (so never `.`, `..`, a
/// hidden name or a path).
pub fn check_upload_id(id: &str) -> Result<(), UploadError> {
    let bad = |reason| UploadError::BadUploadId {
        id: id.chars().take(MAX_UPLOAD_ID_LEN + 8).collect(),
        reason,
    };
    if id.is_empty() {
        return Err(bad("empty"));
    }
    if id.len() > MAX_UPLOAD_ID_LEN {
        return Err(bad("longer than 128 characters"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(bad("only letters, digits, `-`, `_` and `.` are allowed"));
    }
    if !id.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(bad("must start with a letter or digit"));
    }
    Ok(())
}

/// Parses and validates an upload body; returns the bytes to store.
fn validate(body: &[u8]) -> Result<Validated, UploadError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| UploadError::BadJson(e.to_string()))?;
    let obj = value
        .as_object()
        .ok_or_else(|| UploadError::BadJson("the body is not a JSON object".into()))?;
    match obj.get("schema_version") {
        Some(v) if v.as_u64() == Some(SCHEMA_VERSION as u64) => {}
        Some(v) => {
            return Err(UploadError::Schema(format!(
                "schema_version {v} is not supported (expected {SCHEMA_VERSION})"
            )))
        }
        None => {
            return Err(UploadError::Schema(format!(
                "missing schema_version (expected {SCHEMA_VERSION})"
            )))
        }
    }
    let up: UploadBody =
        serde_json::from_value(value).map_err(|e| UploadError::BadJson(e.to_string()))?;
    check_upload_id(&up.upload_id)?;

    // Manifest: a manifest.json object (schema_version 1) with classes and device.
    if !up.manifest.is_object() {
        return Err(UploadError::Schema(
            "manifest: must be a JSON object (a manifest.json)".into(),
        ));
    }
    let manifest: Manifest = serde_json::from_value(up.manifest.clone())
        .map_err(|e| UploadError::Schema(format!("manifest: {e}")))?;
    if manifest.schema_version != SCHEMA_VERSION {
        return Err(UploadError::Schema(format!(
            "manifest: schema_version {} is not supported (expected {SCHEMA_VERSION})",
            manifest.schema_version
        )));
    }
    if manifest.classes.is_empty() {
        return Err(UploadError::Schema(
            "manifest: `classes` is required (the class order of every logits cell)".into(),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(c) = manifest.classes.iter().find(|c| !seen.insert(c.as_str())) {
        return Err(UploadError::Schema(format!(
            "manifest: class {c:?} appears twice in `classes`"
        )));
    }
    if manifest.device.is_none() {
        return Err(UploadError::Schema(
            "manifest: `device` is required for an upload (model, os, thermal_start, thermal_end, app_version)".into(),
        ));
    }

    // Files.
    if let Some(name) = up
        .files
        .keys()
        .find(|k| !UPLOAD_FILES.contains(&k.as_str()))
    {
        return Err(UploadError::Schema(format!(
            "files: unknown file {name:?} (expected {PREDICTIONS_CSV} and/or {LATENCY_CSV})"
        )));
    }
    if up.files.is_empty() {
        return Err(UploadError::Schema(format!(
            "files: at least one of {PREDICTIONS_CSV}, {LATENCY_CSV} is required"
        )));
    }
    let mut files: BTreeMap<&'static str, Vec<u8>> = BTreeMap::new();
    if let Some(text) = up.files.get(PREDICTIONS_CSV) {
        validate_predictions(text, &manifest.classes)?;
        files.insert(PREDICTIONS_CSV, text.as_bytes().to_vec());
    }
    if let Some(text) = up.files.get(LATENCY_CSV) {
        validate_latency(text)?;
        files.insert(LATENCY_CSV, text.as_bytes().to_vec());
    }
    let mut manifest_text = serde_json::to_string_pretty(&up.manifest)
        .map_err(|e| UploadError::Storage(format!("serialising the manifest: {e}")))?;
    manifest_text.push('\n');
    files.insert(MANIFEST_JSON, manifest_text.into_bytes());
    Ok(Validated {
        upload_id: up.upload_id,
        files,
    })
}

/// Maps a `results` CSV error to 400 (not parsable) or 422 (parsable but against the schema).
fn csv_error(e: ResultsError) -> UploadError {
    match &e {
        ResultsError::Row { .. } => UploadError::BadCsv(e.to_string()),
        ResultsError::Field { reason, .. } if reason.starts_with("cannot parse") => {
            UploadError::BadCsv(e.to_string())
        }
        _ => UploadError::Schema(e.to_string()),
    }
}

/// 1-based line of each data row, numbered exactly as `results::csv_io` numbers them (same reader,
/// same blank-line handling), for rules checked after parsing. Only called on text that parsed.
fn data_row_lines(text: &str) -> Vec<u64> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rec = csv::StringRecord::new();
    let mut lines = Vec::new();
    while let Ok(true) = rdr.read_record(&mut rec) {
        if rec.len() == 1 && rec.get(0) == Some("") {
            continue;
        }
        lines.push(rec.position().map(|p| p.line()).unwrap_or(0));
    }
    lines
}

fn missing_compute_unit(file: &str, line: u64) -> UploadError {
    UploadError::Schema(format!(
        "{file}: line {line}, column `compute_unit`: backend `coreml` rows must name the compute unit requested at load (all, cpuAndNeuralEngine, cpuAndGPU, cpuOnly)"
    ))
}

fn validate_predictions(text: &str, classes: &[String]) -> Result<(), UploadError> {
    let name = Path::new(PREDICTIONS_CSV);
    let rows: Vec<PredictionRecord> = parse_csv_str(
        text,
        name,
        &Validation {
            classes: Some(classes),
        },
    )
    .map_err(csv_error)?;
    if let Some(i) = rows
        .iter()
        .position(|r| r.backend == "coreml" && r.compute_unit.is_empty())
    {
        let line = data_row_lines(text).get(i).copied().unwrap_or(0);
        return Err(missing_compute_unit(PREDICTIONS_CSV, line));
    }
    // What ingestion will do: every group must parse (no duplicate image in a group).
    for (_, group) in suites::group_records(&rows) {
        suites::Predictions::from_records(group, classes)
            .map_err(|e| UploadError::Schema(format!("{PREDICTIONS_CSV}: {e}")))?;
    }
    Ok(())
}

fn validate_latency(text: &str) -> Result<(), UploadError> {
    let name = Path::new(LATENCY_CSV);
    let rows: Vec<LatencySample> =
        parse_csv_str(text, name, &Validation::default()).map_err(csv_error)?;
    if let Some(i) = rows
        .iter()
        .position(|r| r.backend == "coreml" && r.compute_unit.is_empty())
    {
        let line = data_row_lines(text).get(i).copied().unwrap_or(0);
        return Err(missing_compute_unit(LATENCY_CSV, line));
    }
    Ok(())
}

/// Compares a stored upload with a new one: `None` when identical, else what differs.
fn compare_stored(
    dir: &Path,
    files: &BTreeMap<&'static str, Vec<u8>>,
) -> Result<Option<String>, UploadError> {
    for name in [MANIFEST_JSON, PREDICTIONS_CSV, LATENCY_CSV] {
        let path = dir.join(name);
        let stored = match fs::read(&path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(UploadError::Storage(format!("{}: {e}", path.display()))),
        };
        match (stored, files.get(name)) {
            (None, None) => {}
            (Some(a), Some(b)) if a == *b => {}
            (Some(_), Some(_)) => return Ok(Some(format!("{name} differs"))),
            (Some(_), None) => {
                return Ok(Some(format!(
                    "the stored upload has {name}, this one does not"
                )))
            }
            (None, Some(_)) => {
                return Ok(Some(format!(
                    "this upload has {name}, the stored one does not"
                )))
            }
        }
    }
    Ok(None)
}

fn stored_response(status: StatusCode, id: &str, run_dir: &Path, duplicate: bool) -> Response {
    (
        status,
        Json(json!({
            "upload_id": id,
            "run_dir": run_dir.display().to_string(),
            "duplicate": duplicate,
        })),
    )
        .into_response()
}

/// Stores a validated upload under the per-id lock: 201 new, 200 identical duplicate, 409
/// conflicting duplicate.
fn store(state: &AppState, v: Validated) -> Result<Response, UploadError> {
    let id_lock = {
        let mut locks = state.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(v.upload_id.clone()).or_default().clone()
    };
    let result = {
        let _guard = id_lock.lock().unwrap_or_else(|p| p.into_inner());
        store_locked(state, &v)
    };
    {
        // Drop the id's lock entry when no other request holds it (the map lock orders this).
        let mut locks = state.locks.lock().unwrap_or_else(|p| p.into_inner());
        if Arc::strong_count(&id_lock) == 2 {
            locks.remove(&v.upload_id);
        }
    }
    result
}

fn store_locked(state: &AppState, v: &Validated) -> Result<Response, UploadError> {
    let final_dir = state.device_dir.join(&v.upload_id);
    let existing = |final_dir: &Path| -> Result<Response, UploadError> {
        match compare_stored(final_dir, &v.files)? {
            None => Ok(stored_response(
                StatusCode::OK,
                &v.upload_id,
                final_dir,
                true,
            )),
            Some(detail) => Err(UploadError::Conflict {
                id: v.upload_id.clone(),
                detail,
            }),
        }
    };
    if final_dir.exists() {
        return existing(&final_dir);
    }
    let storage = |what: &str, p: &Path, e: std::io::Error| {
        UploadError::Storage(format!("{what} {}: {e}", p.display()))
    };
    fs::create_dir_all(&state.device_dir).map_err(|e| storage("creating", &state.device_dir, e))?;
    let tmp = state.device_dir.join(format!(
        ".tmp-{}-{}",
        v.upload_id,
        uuid::Uuid::new_v4().simple()
    ));
    let write_all = || -> Result<(), UploadError> {
        fs::create_dir(&tmp).map_err(|e| storage("creating", &tmp, e))?;
        for (name, bytes) in &v.files {
            let p = tmp.join(name);
            let mut f = fs::File::create(&p).map_err(|e| storage("creating", &p, e))?;
            f.write_all(bytes).map_err(|e| storage("writing", &p, e))?;
            f.sync_all().map_err(|e| storage("syncing", &p, e))?;
        }
        sync_dir(&tmp).map_err(|e| storage("syncing", &tmp, e))?;
        Ok(())
    };
    if let Err(e) = write_all() {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    // rename(2) of a directory onto an existing non-empty directory fails (ENOTEMPTY/EEXIST):
    // if another process stored the same id meanwhile, we compare against its copy.
    match fs::rename(&tmp, &final_dir) {
        Ok(()) => {
            sync_dir(&state.device_dir).map_err(|e| storage("syncing", &state.device_dir, e))?;
            Ok(stored_response(
                StatusCode::CREATED,
                &v.upload_id,
                &final_dir,
                false,
            ))
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            if final_dir.exists() {
                existing(&final_dir)
            } else {
                Err(storage("renaming into", &final_dir, e))
            }
        }
    }
}

/// fsyncs a directory so a rename inside it is durable (no-op where directories cannot be
/// opened).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// A body for tests and clients: builds the upload JSON (`docs/SCHEMAS.md`).
pub fn upload_body(
    upload_id: &str,
    manifest: &Value,
    predictions_csv: Option<&str>,
    latency_csv: Option<&str>,
) -> Value {
    let mut files = serde_json::Map::new();
    if let Some(p) = predictions_csv {
        files.insert(PREDICTIONS_CSV.into(), Value::String(p.into()));
    }
    if let Some(l) = latency_csv {
        files.insert(LATENCY_CSV.into(), Value::String(l.into()));
    }
    json!({
        "schema_version": SCHEMA_VERSION,
        "upload_id": upload_id,
        "manifest": manifest,
        "files": files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_ids() {
        for ok in [
            "3f2b0c1e-9a8d-4e7f-b6a5-0123456789ab",
            "swift-fixture-run",
            "a",
            "A.b_c-1",
        ] {
            assert!(check_upload_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a\\b",
            ".hidden",
            "-x",
            "a b",
            "é",
            "x\0",
            &"a".repeat(129),
        ] {
            assert!(check_upload_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stale_temporaries_are_removed_by_age() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join(".tmp-a-1")).unwrap();
        fs::create_dir_all(d.path().join("kept-upload")).unwrap();
        assert_eq!(
            remove_stale_temporaries(d.path(), std::time::Duration::from_secs(3600)),
            0
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(
            remove_stale_temporaries(d.path(), std::time::Duration::from_millis(1)),
            1
        );
        assert!(!d.path().join(".tmp-a-1").exists());
        assert!(d.path().join("kept-upload").exists());
    }

    #[test]
    fn token_check() {
        let d: [u8; 32] = Sha256::digest(b"s3cret").into();
        let mut h = HeaderMap::new();
        assert!(matches!(
            check_token(&h, &d),
            Err(UploadError::MissingToken)
        ));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic s3cret"),
        );
        assert!(matches!(
            check_token(&h, &d),
            Err(UploadError::MissingToken)
        ));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cre"),
        );
        assert!(matches!(check_token(&h, &d), Err(UploadError::WrongToken)));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer s3cret"),
        );
        assert!(check_token(&h, &d).is_ok());
    }

    #[test]
    fn row_lines_count_multiline_cells() {
        let text = "a,b\n1,2\n3,\"x\ny\"\n4,5\n";
        assert_eq!(data_row_lines(text), vec![2, 3, 5]);
    }
}
