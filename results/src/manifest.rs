//! `manifest.json`, one per run directory (`docs/SCHEMAS.md`): what ran, where, on which data
//! and code — git sha and dirty flag, engine versions, CPU model and features, threads, seeds,
//! dataset identity, model hashes, the command line and start/end times. Collection helpers read
//! `/proc/cpuinfo`, `/proc/meminfo` and `git`; anything unavailable becomes `"unknown"` with a
//! note rather than an error. Unknown fields in uploaded manifests are ignored; missing optional
//! fields default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::csv_io::write_atomic;
use crate::{ResultsError, SCHEMA_VERSION};

/// File name of the manifest in a run directory.
pub const MANIFEST_JSON: &str = "manifest.json";

/// The tool that produced the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
    pub git_sha: String,
    pub git_dirty: bool,
}

/// The machine the run executed on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct HostInfo {
    pub hostname: String,
    pub os: String,
    pub arch: String,
    pub cpu_model: String,
    pub cpu_features: Vec<String>,
    pub cores: u32,
    pub memory_bytes: u64,
}

/// Identity of the evaluation data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct DatasetInfo {
    /// e.g. `synthetic`, `sun397`, a directory path.
    pub source: String,
    /// True when the images are generated, not photographs.
    pub synthetic: bool,
    pub root: Option<String>,
    /// Images per split.
    pub splits: BTreeMap<String, u64>,
    pub classes: Vec<String>,
    pub content_sha256: String,
}

/// One model evaluated in the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ModelInfo {
    pub name: String,
    pub path: String,
    pub sha256: String,
    pub config: serde_json::Value,
    pub preprocess: serde_json::Value,
}

/// The phone (or Mac) of a device run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct DeviceInfo {
    /// Hardware identifier, e.g. `iPhone15,2`.
    pub model: String,
    /// e.g. `iOS 18.1`.
    pub os: String,
    pub thermal_start: String,
    pub thermal_end: String,
    pub app_version: String,
}

/// A run's `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    pub schema_version: u32,
    pub run_id: String,
    pub tool: ToolInfo,
    pub command: Vec<String>,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// RFC 3339 UTC; empty while running.
    pub finished_at: String,
    pub host: HostInfo,
    /// Engine name → version.
    pub engines: BTreeMap<String, String>,
    pub threads: Vec<u32>,
    pub seeds: BTreeMap<String, u64>,
    pub dataset: DatasetInfo,
    pub models: Vec<ModelInfo>,
    /// Class order of every `logits` cell in the run.
    pub classes: Vec<String>,
    pub device: Option<DeviceInfo>,
    pub notes: Vec<String>,
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest {
            schema_version: SCHEMA_VERSION,
            run_id: String::new(),
            tool: ToolInfo::default(),
            command: Vec::new(),
            started_at: String::new(),
            finished_at: String::new(),
            host: HostInfo::default(),
            engines: BTreeMap::new(),
            threads: Vec::new(),
            seeds: BTreeMap::new(),
            dataset: DatasetInfo::default(),
            models: Vec::new(),
            classes: Vec::new(),
            device: None,
            notes: Vec::new(),
        }
    }
}

/// The current UTC time in RFC 3339 with second precision (`2026-12-04T21:30:00Z`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Manifest {
    /// A manifest for a run starting now: tool (with git state of `repo_dir`), host, command
    /// line and start time filled in; collection problems are added to `notes`.
    pub fn start(
        run_id: &str,
        tool_name: &str,
        tool_version: &str,
        repo_dir: Option<&Path>,
    ) -> Manifest {
        let mut notes = Vec::new();
        let tool = ToolInfo::collect(tool_name, tool_version, repo_dir, &mut notes);
        let host = HostInfo::collect(&mut notes);
        Manifest {
            run_id: run_id.to_string(),
            tool,
            command: std::env::args().collect(),
            started_at: now_rfc3339(),
            host,
            notes,
            ..Manifest::default()
        }
    }

    /// Sets `finished_at` to now.
    pub fn finish(&mut self) {
        self.finished_at = now_rfc3339();
    }

    /// Reads a manifest; the error names the file.
    pub fn read(path: &Path) -> Result<Manifest, ResultsError> {
        let text = std::fs::read_to_string(path).map_err(|e| ResultsError::io(path, e))?;
        Self::from_json(&text, path)
    }

    /// Parses manifest JSON; `name` is used in errors. Rejects `schema_version` ≠ 1.
    pub fn from_json(text: &str, name: &Path) -> Result<Manifest, ResultsError> {
        let m: Manifest = serde_json::from_str(text).map_err(|e| ResultsError::Json {
            path: name.to_path_buf(),
            reason: e.to_string(),
        })?;
        if m.schema_version != SCHEMA_VERSION {
            return Err(ResultsError::Json {
                path: name.to_path_buf(),
                reason: format!(
                    "schema_version {} is not supported (expected {SCHEMA_VERSION})",
                    m.schema_version
                ),
            });
        }
        Ok(m)
    }

    /// Writes the manifest atomically as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<(), ResultsError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| ResultsError::Json {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        text.push('\n');
        write_atomic(path, text.as_bytes())
    }

    /// Reads `<dir>/manifest.json`.
    pub fn read_dir(dir: &Path) -> Result<Manifest, ResultsError> {
        Self::read(&dir.join(MANIFEST_JSON))
    }

    /// A one-line statement of what the data is, e.g.
    /// `SYNTHETIC scenes (generated) — not real photographs; 10 classes; test 500`.
    pub fn dataset_statement(&self) -> String {
        let d = &self.dataset;
        let classes = if d.classes.is_empty() {
            self.classes.len()
        } else {
            d.classes.len()
        };
        let what = if d.synthetic {
            "SYNTHETIC scenes (generated) — not real photographs".to_string()
        } else if d.source.is_empty() {
            "unknown source".to_string()
        } else {
            match &d.root {
                Some(r) if !r.is_empty() => format!("{} ({r})", d.source),
                _ => d.source.clone(),
            }
        };
        let mut s = format!("{what}; {classes} classes");
        for (k, v) in &d.splits {
            s.push_str(&format!("; {k} {v}"));
        }
        if !d.content_sha256.is_empty() {
            let short: String = d.content_sha256.chars().take(12).collect();
            s.push_str(&format!("; content sha256 {short}…"));
        }
        s
    }
}

impl ToolInfo {
    /// Tool name/version plus `git rev-parse HEAD` and `git status --porcelain` of `repo_dir`
    /// (default: the current directory). Without git, sha is `unknown` and a note says why.
    pub fn collect(
        name: &str,
        version: &str,
        repo_dir: Option<&Path>,
        notes: &mut Vec<String>,
    ) -> ToolInfo {
        let dir = repo_dir
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let git = |args: &[&str]| -> Result<String, String> {
            let out = Command::new("git")
                .args(args)
                .current_dir(&dir)
                .output()
                .map_err(|e| format!("git not runnable: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "git {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        let (git_sha, git_dirty) = match git(&["rev-parse", "HEAD"]) {
            Ok(sha) => {
                let dirty = match git(&["status", "--porcelain", "--untracked-files=no"]) {
                    Ok(s) => !s.is_empty(),
                    Err(e) => {
                        notes.push(format!("git dirty flag unknown: {e}"));
                        false
                    }
                };
                (sha, dirty)
            }
            Err(e) => {
                notes.push(format!("git sha unknown: {e}"));
                ("unknown".to_string(), false)
            }
        };
        ToolInfo {
            name: name.to_string(),
            version: version.to_string(),
            git_sha,
            git_dirty,
        }
    }
}

/// CPU feature flags worth recording for inference speed (x86 `flags`, Arm `Features`).
pub const INTERESTING_CPU_FLAGS: &[&str] = &[
    "sse4_1",
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx_vnni",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "asimd",
    "asimdhp",
    "asimddp",
    "i8mm",
    "bf16",
    "sve",
    "sve2",
];

/// CPU model and interesting feature flags from `/proc/cpuinfo` text.
pub fn parse_cpuinfo(text: &str) -> (Option<String>, Vec<String>) {
    let mut model = None;
    let mut flags: Vec<String> = Vec::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let k = k.trim();
        let v = v.trim();
        if model.is_none() && (k == "model name" || k == "Hardware" || k == "Model") {
            model = Some(v.to_string());
        }
        if flags.is_empty() && (k == "flags" || k == "Features") {
            let have: Vec<&str> = v.split_whitespace().collect();
            flags = INTERESTING_CPU_FLAGS
                .iter()
                .filter(|f| have.contains(f))
                .map(|f| f.to_string())
                .collect();
        }
    }
    (model, flags)
}

/// `MemTotal` from `/proc/meminfo` text, in bytes.
pub fn parse_meminfo(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix("MemTotal:")?;
        let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb * 1024)
    })
}

impl HostInfo {
    /// Hostname, OS, arch, CPU model and flags, logical cores and memory of this machine.
    pub fn collect(notes: &mut Vec<String>) -> HostInfo {
        let (cpu_model, cpu_features) = match std::fs::read_to_string("/proc/cpuinfo") {
            Ok(t) => {
                let (m, f) = parse_cpuinfo(&t);
                (m.unwrap_or_else(|| "unknown".into()), f)
            }
            Err(e) => {
                notes.push(format!("cpu model unknown: /proc/cpuinfo: {e}"));
                ("unknown".into(), Vec::new())
            }
        };
        let memory_bytes = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| parse_meminfo(&t))
            .unwrap_or_else(|| {
                notes.push("memory unknown: /proc/meminfo not readable".into());
                0
            });
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .map(|s| s.trim().to_string())
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "unknown".into());
        HostInfo {
            hostname,
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            cpu_model,
            cpu_features,
            cores: std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(0),
            memory_bytes,
        }
    }
}

/// SHA-256 of a file, lowercase hex (model and dataset hashes).
pub fn sha256_file(path: &Path) -> Result<String, ResultsError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| ResultsError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| ResultsError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}
