//! CoreML export for the iPhone, driven from Rust: runs the repository's Python package
//! `tools/coreml/scenebench_coreml` (coremltools 9.0 MIL builder, ML Program, iOS 16) in the
//! project's own virtual environment (`scripts/setup-python.sh` makes `<repo>/.venv`).
//!
//! - [`export`] builds an `.mlpackage` from a scenebench / timm / Hugging Face safetensors
//!   checkpoint (docs/checkpoint-format.md): input `image` (a float32 `[1,3,H,W]` tensor or a CoreML
//!   `ImageType` with the mean/std normalization inside the graph), output `logits`, metadata with
//!   the class labels, preprocessing, model hash and scenebench version.
//! - [`inspect`] reads a package's spec back (inputs, outputs, metadata, precision, op counts).
//! - [`reference_eval`] evaluates the saved package's ML Program op by op with coremltools' own
//!   per-op numpy implementations (plus a numpy convolution): [`BACKEND`] `coreml-mil-numpy`, a
//!   **reference evaluation of the exported program, not the CoreML runtime** (CoreML itself only
//!   runs on Apple platforms). It proves the package computes the model; it measures nothing about
//!   speed or the Neural Engine.
//!
//! Compute units (ALL / CPU_AND_NE / CPU_ONLY) are not a property of a package: they are chosen when
//! the model is loaded on the device, where the iOS bench records them.
//!
//! The Python interpreter is `$SCENEBENCH_PYTHON` if set, else `<repo>/.venv/bin/python`. The
//! repository root is `$SCENEBENCH_ROOT` if set, else found by walking up from the current
//! directory, then from the running executable, to the folder holding `tools/coreml/scenebench_coreml`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::config::VitConfig;

/// Backend label for reports and parity tables.
pub const BACKEND: &str = "coreml-mil-numpy";
/// What [`BACKEND`] is, in one line, for reports.
pub const BACKEND_NOTE: &str =
    "reference evaluation of the exported program, not the CoreML runtime";

const PACKAGE_MARKER: &str = "tools/coreml/scenebench_coreml/__init__.py";
const SETUP_HINT: &str =
    "run `bash scripts/setup-python.sh` from the repository root (or set SCENEBENCH_PYTHON)";

/// Errors of the CoreML tooling; each names the path, command or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum CoreMlError {
    /// No repository root with `tools/coreml` was found.
    #[error("cannot find the scenebench repository (a folder with {PACKAGE_MARKER}) above {start}; set SCENEBENCH_ROOT")]
    RepoNotFound { start: PathBuf },
    /// The virtual environment's interpreter does not exist.
    #[error("the Python environment for CoreML export is missing: {python} does not exist; {SETUP_HINT}")]
    PythonMissing { python: PathBuf },
    /// The interpreter exists but lacks the packages (coremltools, numpy).
    #[error("the Python environment {python} lacks packages ({detail}); {SETUP_HINT}")]
    EnvBroken { python: PathBuf, detail: String },
    /// The interpreter could not be started.
    #[error("cannot start {python}: {source}")]
    Spawn { python: PathBuf, source: io::Error },
    /// The Python command failed; `stderr` holds its message (it names the file/tensor at fault).
    #[error("scenebench_coreml {command} failed (exit code {code:?}): {stderr}")]
    Command {
        command: String,
        code: Option<i32>,
        stderr: String,
    },
    /// The Python command's stdout was not the JSON it promises.
    #[error("scenebench_coreml {command} printed unexpected output ({source}): {stdout}")]
    Parse {
        command: String,
        stdout: String,
        source: serde_json::Error,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// A `.npy` file this reader does not understand.
    #[error("{path}: {reason}")]
    Npy { path: PathBuf, reason: String },
    /// The input slice does not hold `batch * 3 * size * size` values.
    #[error("input holds {got} values; batch {batch} × 3 × {size} × {size} = {expected} expected")]
    InputShape {
        got: usize,
        batch: usize,
        size: usize,
        expected: usize,
    },
    /// A metadata entry of a package is missing or not the JSON it should be.
    #[error("{package}: metadata `{key}`: {reason}")]
    Metadata {
        package: PathBuf,
        key: String,
        reason: String,
    },
}

type Result<T> = std::result::Result<T, CoreMlError>;

/// Arithmetic precision of the exported program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// float16 compute and weights (what ships to the phone).
    #[default]
    Fp16,
    /// float32 throughout.
    Fp32,
}

/// Weight compression applied after conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Quantize {
    /// Weights stored in the program's precision.
    #[default]
    None,
    /// Symmetric per-channel int8 weights (`linear_quantize_weights`), dequantized on load.
    Int8,
}

/// Kind of the model input `image`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    /// float32 `[1,3,H,W]`, normalized by the caller with the checkpoint's preprocessing.
    #[default]
    Tensor,
    /// CoreML `ImageType` (RGB, scale 1/255); mean/std applied inside the graph.
    Image,
}

impl Precision {
    fn arg(self) -> &'static str {
        match self {
            Precision::Fp16 => "fp16",
            Precision::Fp32 => "fp32",
        }
    }
}

impl Quantize {
    fn arg(self) -> &'static str {
        match self {
            Quantize::None => "none",
            Quantize::Int8 => "int8",
        }
    }
}

impl InputKind {
    fn arg(self) -> &'static str {
        match self {
            InputKind::Tensor => "tensor",
            InputKind::Image => "image",
        }
    }
}

/// Options of [`export`].
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    pub precision: Precision,
    pub quantize: Quantize,
    pub input: InputKind,
    /// Configuration overriding the file's (or the one inferred from shapes).
    pub config: Option<VitConfig>,
    /// Head count override (not visible in tensor shapes of a file without metadata).
    pub num_heads: Option<usize>,
}

/// What [`export`] reports (the Python side's JSON summary).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportSummary {
    pub package: PathBuf,
    /// Total size of the package folder in bytes.
    pub bytes: u64,
    /// Wall time of graph building, conversion, optional quantization and saving.
    pub seconds: f64,
    pub precision: Precision,
    pub quantize: Quantize,
    pub input: InputKind,
    pub image_size: usize,
    pub num_classes: usize,
    pub config: VitConfig,
    /// SHA-256 of the checkpoint file that was exported.
    pub model_sha256: String,
    pub scenebench_version: String,
    pub coremltools_version: String,
    pub minimum_deployment_target: String,
}

/// One input or output of a package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `tensor` or `image`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Element type of a tensor feature (`float32`, `float16`, …).
    #[serde(default)]
    pub dtype: Option<String>,
    /// Color space of an image feature (`RGB`, `BGR`, `GRAYSCALE`).
    #[serde(default)]
    pub color_space: Option<String>,
    /// `[N, C, H, W]` for images, the array shape for tensors.
    pub shape: Vec<usize>,
}

/// What [`inspect`] reports about a saved package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageSpec {
    pub package: PathBuf,
    pub bytes: u64,
    /// Core ML specification version (7 = iOS 16).
    pub spec_version: u32,
    /// `mlProgram` for everything scenebench exports.
    pub model_type: String,
    pub inputs: Vec<FeatureSpec>,
    pub outputs: Vec<FeatureSpec>,
    pub short_description: String,
    pub author: String,
    pub version: String,
    /// `user_defined_metadata` (scenebench's keys start with `scenebench.`).
    pub metadata: BTreeMap<String, String>,
    /// ML Program opset (`CoreML6` = iOS 16).
    #[serde(default)]
    pub opset: Option<String>,
    /// `fp16` or `fp32`, from the output types of the program's compute ops.
    #[serde(default)]
    pub precision: Option<String>,
    /// `none` or `int8 (<constexpr op>)`.
    #[serde(default)]
    pub weight_quantization: Option<String>,
    #[serde(default)]
    pub op_counts: BTreeMap<String, usize>,
    #[serde(default)]
    pub num_ops: usize,
    #[serde(default)]
    pub compute_dtypes: BTreeMap<String, usize>,
}

impl PackageSpec {
    fn meta_json<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Result<T> {
        let err = |reason: String| CoreMlError::Metadata {
            package: self.package.clone(),
            key: key.into(),
            reason,
        };
        let raw = self
            .metadata
            .get(key)
            .ok_or_else(|| err("missing".into()))?;
        serde_json::from_str(raw).map_err(|e| err(e.to_string()))
    }

    /// Class labels (`scenebench.classes`), index = logit index.
    pub fn classes(&self) -> Result<Vec<String>> {
        self.meta_json("scenebench.classes")
    }

    /// Preprocessing the package expects (`scenebench.preprocess`).
    pub fn preprocess(&self) -> Result<crate::preprocess::Preprocess> {
        self.meta_json("scenebench.preprocess")
    }

    /// Model configuration (`scenebench.config`).
    pub fn config(&self) -> Result<VitConfig> {
        self.meta_json("scenebench.config")
    }
}

/// A located Python environment and repository, ready to run `scenebench_coreml`.
#[derive(Debug, Clone)]
pub struct CoreMlTool {
    /// Repository root (holds `tools/coreml`).
    pub root: PathBuf,
    /// Python interpreter of the virtual environment.
    pub python: PathBuf,
}

fn find_root_above(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| d.join(PACKAGE_MARKER).is_file())
        .map(Path::to_path_buf)
}

impl CoreMlTool {
    /// Find the repository and interpreter (see the module docs) and check that the interpreter
    /// exists. Whether its packages are installed shows on the first command.
    pub fn locate() -> Result<Self> {
        let root = match std::env::var_os("SCENEBENCH_ROOT") {
            Some(r) => {
                let r = PathBuf::from(r);
                if !r.join(PACKAGE_MARKER).is_file() {
                    return Err(CoreMlError::RepoNotFound { start: r });
                }
                r
            }
            None => {
                let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
                let exe = std::env::current_exe().ok();
                find_root_above(&cwd)
                    .or_else(|| exe.as_deref().and_then(find_root_above))
                    .ok_or(CoreMlError::RepoNotFound { start: cwd })?
            }
        };
        let python = match std::env::var_os("SCENEBENCH_PYTHON") {
            Some(p) => PathBuf::from(p),
            None => root.join(".venv/bin/python"),
        };
        Self::with_python(root, python)
    }

    /// Use a given repository root and interpreter.
    pub fn with_python(root: PathBuf, python: PathBuf) -> Result<Self> {
        if !root.join(PACKAGE_MARKER).is_file() {
            return Err(CoreMlError::RepoNotFound { start: root });
        }
        // A bare name (`python3`) is looked up on PATH by the OS; a path must exist.
        if python.components().count() > 1 && !python.exists() {
            return Err(CoreMlError::PythonMissing { python });
        }
        Ok(Self { root, python })
    }

    fn run(&self, command: &str, args: &[&std::ffi::OsStr]) -> Result<String> {
        let mut pythonpath = std::ffi::OsString::from(self.root.join("tools/coreml"));
        if let Some(old) = std::env::var_os("PYTHONPATH") {
            pythonpath.push(":");
            pythonpath.push(old);
        }
        let out = Command::new(&self.python)
            .arg("-m")
            .arg("scenebench_coreml")
            .arg(command)
            .args(args)
            .env("PYTHONPATH", pythonpath)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .map_err(|source| match source.kind() {
                io::ErrorKind::NotFound => CoreMlError::PythonMissing {
                    python: self.python.clone(),
                },
                _ => CoreMlError::Spawn {
                    python: self.python.clone(),
                    source,
                },
            })?;
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if !out.status.success() {
            if let Some(line) = stderr.lines().find(|l| l.contains("No module named")) {
                return Err(CoreMlError::EnvBroken {
                    python: self.python.clone(),
                    detail: line.trim().to_string(),
                });
            }
            let stderr = stderr
                .strip_prefix("error: ")
                .unwrap_or(&stderr)
                .to_string();
            return Err(CoreMlError::Command {
                command: command.into(),
                code: out.status.code(),
                stderr,
            });
        }
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
        // The summary is the last line; anything a library printed before it is ignored.
        Ok(stdout.lines().last().unwrap_or("").to_string())
    }

    fn parse<T: for<'de> Deserialize<'de>>(command: &str, stdout: String) -> Result<T> {
        serde_json::from_str(&stdout).map_err(|source| CoreMlError::Parse {
            command: command.into(),
            stdout,
            source,
        })
    }

    /// See [`export`].
    pub fn export(
        &self,
        checkpoint: &Path,
        out: &Path,
        opts: &ExportOptions,
    ) -> Result<ExportSummary> {
        let mut args: Vec<std::ffi::OsString> = vec![
            "--weights".into(),
            checkpoint.into(),
            "--out".into(),
            out.into(),
            "--precision".into(),
            opts.precision.arg().into(),
            "--quantize".into(),
            opts.quantize.arg().into(),
            "--input".into(),
            opts.input.arg().into(),
            "--scenebench-version".into(),
            env!("CARGO_PKG_VERSION").into(),
        ];
        if let Some(cfg) = &opts.config {
            let json = serde_json::to_string(cfg).map_err(|source| CoreMlError::Parse {
                command: "export".into(),
                stdout: format!("{cfg:?}"),
                source,
            })?;
            args.extend(["--config".into(), json.into()]);
        }
        if let Some(h) = opts.num_heads {
            args.extend(["--num-heads".into(), h.to_string().into()]);
        }
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let stdout = self.run("export", &refs)?;
        Self::parse("export", stdout)
    }

    /// See [`inspect`].
    pub fn inspect(&self, pkg: &Path) -> Result<PackageSpec> {
        let stdout = self.run("inspect", &[pkg.as_os_str()])?;
        Self::parse("inspect", stdout)
    }

    /// See [`reference_eval`].
    pub fn reference_eval(
        &self,
        pkg: &Path,
        input: &[f32],
        batch: usize,
        size: usize,
    ) -> Result<Vec<f32>> {
        let expected = batch * 3 * size * size;
        if input.len() != expected || batch == 0 {
            return Err(CoreMlError::InputShape {
                got: input.len(),
                batch,
                size,
                expected,
            });
        }
        let dir = ScratchDir::new()?;
        let x_path = dir.0.join("input.npy");
        let y_path = dir.0.join("logits.npy");
        write_npy_f32(&x_path, &[batch, 3, size, size], input)?;
        self.run(
            "eval",
            &[
                "--model".as_ref(),
                pkg.as_os_str(),
                "--input".as_ref(),
                x_path.as_os_str(),
                "--out".as_ref(),
                y_path.as_os_str(),
            ],
        )?;
        let (shape, values) = read_npy_f32(&y_path)?;
        if shape.len() != 2 || shape[0] != batch {
            return Err(CoreMlError::Npy {
                path: y_path,
                reason: format!("logits have shape {shape:?}, [{batch}, C] expected"),
            });
        }
        Ok(values)
    }
}

/// Export a checkpoint to an `.mlpackage` (see the module docs).
pub fn export(checkpoint: &Path, out: &Path, opts: &ExportOptions) -> Result<ExportSummary> {
    CoreMlTool::locate()?.export(checkpoint, out, opts)
}

/// Read a package's spec: inputs, outputs, metadata, precision, op counts.
pub fn inspect(pkg: &Path) -> Result<PackageSpec> {
    CoreMlTool::locate()?.inspect(pkg)
}

/// Evaluate a package's program with numpy ([`BACKEND`]) on `input` = `[batch, 3, size, size]`
/// (normalized for a tensor input, pixel values 0..255 for an image input); returns the logits,
/// `[batch, C]` row-major.
pub fn reference_eval(pkg: &Path, input: &[f32], batch: usize, size: usize) -> Result<Vec<f32>> {
    CoreMlTool::locate()?.reference_eval(pkg, input, batch, size)
}

/// A private temporary folder, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!(
            "scenebench-coreml-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).map_err(|source| CoreMlError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Self(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Write a little-endian float32 C-order `.npy` file (NumPy format version 1.0).
pub fn write_npy_f32(path: &Path, shape: &[usize], values: &[f32]) -> Result<()> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_str = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_str}, }}");
    // magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in \n.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + values.len() * 4);
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).map_err(|source| CoreMlError::Io {
        path: path.into(),
        source,
    })
}

/// Read a little-endian float32 C-order `.npy` file; returns (shape, values).
pub fn read_npy_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let bad = |reason: String| CoreMlError::Npy {
        path: path.into(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|source| CoreMlError::Io {
        path: path.into(),
        source,
    })?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file".into()));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(format!("unsupported .npy version {v}"))),
    };
    let header = std::str::from_utf8(
        bytes
            .get(start..start + hlen)
            .ok_or_else(|| bad("truncated header".into()))?,
    )
    .map_err(|e| bad(format!("header is not UTF-8: {e}")))?;
    if !header.contains("'descr': '<f4'") {
        return Err(bad(format!("dtype is not little-endian float32: {header}")));
    }
    if !header.contains("'fortran_order': False") {
        return Err(bad("Fortran-order arrays are not supported".into()));
    }
    let shape_str = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split('(').nth(1))
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad(format!("no shape in header {header}")))?;
    let shape: Vec<usize> = shape_str
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|e| bad(format!("bad dimension `{s}`: {e}")))
        })
        .collect::<Result<_>>()?;
    let n: usize = shape.iter().product();
    let data = &bytes[start + hlen..];
    if data.len() != n * 4 {
        return Err(bad(format!(
            "{} data bytes for shape {shape:?} ({} expected)",
            data.len(),
            n * 4
        )));
    }
    let values = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((shape, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_roundtrip_and_header_alignment() {
        let dir = ScratchDir::new().unwrap();
        let p = dir.0.join("x.npy");
        let vals: Vec<f32> = (0..24).map(|i| i as f32 * 0.5 - 3.0).collect();
        write_npy_f32(&p, &[2, 3, 4], &vals).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        // NumPy requires the data to start at a multiple of 64 bytes.
        assert_eq!((bytes.len() - 24 * 4) % 64, 0);
        let (shape, back) = read_npy_f32(&p).unwrap();
        assert_eq!(shape, vec![2, 3, 4]);
        assert_eq!(back, vals);
        write_npy_f32(&p, &[3], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(read_npy_f32(&p).unwrap().0, vec![3]);
        std::fs::write(&p, b"not numpy").unwrap();
        assert!(matches!(read_npy_f32(&p), Err(CoreMlError::Npy { .. })));
    }

    #[test]
    fn missing_interpreter_is_a_clear_error() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let err = CoreMlTool::with_python(root, PathBuf::from("/nonexistent/.venv/bin/python"))
            .unwrap_err();
        assert!(matches!(err, CoreMlError::PythonMissing { .. }));
        assert!(err.to_string().contains("scripts/setup-python.sh"), "{err}");
    }
}
