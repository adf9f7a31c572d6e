//! ONNX Runtime backend through the `ort` crate (2.0.0-rc.15, C API version 31), CPU execution
//! provider only.
//!
//! `ort` is built with `load-dynamic`: nothing is downloaded at build time and the shared library
//! is opened at run time with `ort::init_from` (never `ort::init()`, which panics when the library
//! is missing). The library is found, in order, at
//!
//! 1. `ORT_DYLIB_PATH`;
//! 2. `<root>/.cache/onnxruntime/libonnxruntime.so`, where `<root>` is `SCENEBENCH_ROOT` if set,
//!    else the first directory above the current one holding `.cache/onnxruntime` or the
//!    workspace `Cargo.toml`; `scripts/fetch-onnxruntime.sh` puts the library from the
//!    `onnxruntime` 1.31 Python wheel there.
//!
//! ONNX Runtime is loaded once per process ([`runtime`]). A missing or too-old (< 1.31) library is a
//! [`BackendError::OrtLibrary`] that says how to fix it; there is no fallback to another engine or
//! execution provider. The reported engine version is read from the library that was loaded.
//!
//! Session options: intra-op threads = [`PrepareOptions::threads`], inter-op threads 1, sequential
//! execution, all graph optimizations (ORT's GELU/LayerNorm/attention fusions apply to the graph
//! written by [`crate::onnx`]). The batch dimension stays dynamic: any batch size runs.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;

use super::{
    check_input, Backend, BackendError, BackendInfo, BackendKind, ModelSource, PrepareOptions,
};

/// File name of the library inside the cache directory.
pub const LIBRARY_NAME: &str = "libonnxruntime.so";
/// Cache directory, relative to the repository root.
pub const CACHE_DIR: &str = ".cache/onnxruntime";
/// Oldest ONNX Runtime minor version `ort` rc.15 (`api-31`) accepts.
pub const MIN_MINOR_VERSION: u32 = 31;

const FIX_HINT: &str =
    "run scripts/fetch-onnxruntime.sh (it fetches ONNX Runtime 1.31 into .cache/onnxruntime/) \
     or set ORT_DYLIB_PATH to a libonnxruntime.so of version 1.31 or newer";

/// The loaded ONNX Runtime library.
#[derive(Debug)]
pub struct OrtRuntime {
    /// The library file that was loaded.
    pub path: PathBuf,
    /// Its version as reported by the library (`GetBuildInfoString`), e.g. `1.31.1`.
    pub version: String,
    /// ONNX Runtime's build description, verbatim.
    pub build_info: String,
    env: Environment,
}

static RUNTIME: OnceLock<OrtRuntime> = OnceLock::new();
static INIT_LOCK: Mutex<()> = Mutex::new(());
/// Set once `ort` has opened a library: `ort` keeps the first library it opens for the life of
/// the process, even when what follows (environment, version check) fails.
static OPENED: OnceLock<PathBuf> = OnceLock::new();

/// The repository root used to find `.cache/onnxruntime` (see [`crate::repo_root`]).
pub use crate::repo_root;

/// Where the library is looked for: `ORT_DYLIB_PATH`, else the repository cache.
pub fn library_path() -> Result<PathBuf, BackendError> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|s| !s.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    match repo_root() {
        Some(root) => Ok(root.join(CACHE_DIR).join(LIBRARY_NAME)),
        None => {
            Err(BackendError::OrtLibrary(format!(
            "ORT_DYLIB_PATH is not set and no scenebench checkout (with {CACHE_DIR}/) was found \
             above {}; {FIX_HINT}",
            std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default()
        )))
        }
    }
}

/// Load ONNX Runtime from [`library_path`] (once per process) and return it.
pub fn runtime() -> Result<&'static OrtRuntime, BackendError> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    init_runtime(&library_path()?)
}

/// Load ONNX Runtime from `path`. The library is loaded once per process: asking again for the
/// same file returns the loaded runtime, asking for another file after one was loaded is an error
/// naming both. A failed attempt loads nothing, so a later call may still succeed.
pub fn init_runtime(path: &Path) -> Result<&'static OrtRuntime, BackendError> {
    let _guard = INIT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(rt) = RUNTIME.get() {
        if same_file(&rt.path, path) {
            return Ok(rt);
        }
        return Err(BackendError::OrtLibrary(format!(
            "ONNX Runtime {} is already loaded in this process from {}; cannot load {} as well \
             (one library per process: set ORT_DYLIB_PATH consistently)",
            rt.version,
            rt.path.display(),
            path.display()
        )));
    }
    if let Some(opened) = OPENED.get() {
        return Err(BackendError::OrtLibrary(format!(
            "{} was opened earlier in this process but could not be used, and ONNX Runtime \
             cannot be reloaded in the same process; fix the library ({FIX_HINT}) and restart",
            opened.display()
        )));
    }
    if !path.is_file() {
        return Err(BackendError::OrtLibrary(format!(
            "{} does not exist; {FIX_HINT}",
            path.display()
        )));
    }
    let builder = ort::init_from(path)
        .map_err(|e| BackendError::OrtLibrary(format!("{}: {e}; {FIX_HINT}", path.display())))?;
    let _ = OPENED.set(path.to_path_buf());
    let env = builder.with_name("scenebench").build().map_err(|e| {
        BackendError::OrtLibrary(format!("{}: creating the environment: {e}", path.display()))
    })?;
    let build_info = ort::info().to_string();
    let version = library_version(path)
        .or_else(|| parse_version(&build_info))
        .unwrap_or_else(|| "unknown".into());
    if let Some(minor) = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse::<u32>().ok())
    {
        if minor < MIN_MINOR_VERSION {
            return Err(BackendError::OrtLibrary(format!(
                "{} is ONNX Runtime {version}, older than 1.{MIN_MINOR_VERSION}; {FIX_HINT}",
                path.display()
            )));
        }
    }
    let rt = OrtRuntime {
        path: path.to_path_buf(),
        version,
        build_info,
        env,
    };
    Ok(RUNTIME.get_or_init(|| rt))
}

/// The runtime loaded in this process, if any (never loads).
pub fn loaded_runtime() -> Option<&'static OrtRuntime> {
    RUNTIME.get()
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The version string of the already loaded library at `path`, from the C API's
/// `OrtGetApiBase()->GetVersionString()` (`ort` keeps that call private). The library is looked up
/// with `dlopen(RTLD_NOLOAD)`, so this never loads anything.
#[cfg(any(target_os = "linux", target_os = "macos"))]
fn library_version(path: &Path) -> Option<String> {
    use std::ffi::{c_char, c_int, c_void, CStr, CString};
    use std::os::unix::ffi::OsStrExt;
    extern "C" {
        fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
        fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
        fn dlclose(handle: *mut c_void) -> c_int;
    }
    const RTLD_LAZY: c_int = 1;
    #[cfg(target_os = "linux")]
    const RTLD_NOLOAD: c_int = 4;
    #[cfg(target_os = "macos")]
    const RTLD_NOLOAD: c_int = 0x10;

    let abs = path.canonicalize().ok()?;
    let c_path = CString::new(abs.as_os_str().as_bytes()).ok()?;
    // SAFETY: plain libdl calls; the handle is only used for the symbol lookup and closed after.
    // `OrtGetApiBase` has the C signature `const OrtApiBase* (void)` and `GetVersionString`
    // returns a static NUL-terminated string owned by the library, which stays loaded (`ort`
    // holds it for the life of the process).
    unsafe {
        let handle = dlopen(c_path.as_ptr(), RTLD_LAZY | RTLD_NOLOAD);
        if handle.is_null() {
            return None;
        }
        let sym = dlsym(handle, c"OrtGetApiBase".as_ptr());
        let version = if sym.is_null() {
            None
        } else {
            let get_base: unsafe extern "C" fn() -> *const ort::sys::OrtApiBase =
                std::mem::transmute(sym);
            let base = get_base();
            if base.is_null() {
                None
            } else {
                let v = ((*base).GetVersionString)();
                (!v.is_null()).then(|| CStr::from_ptr(v).to_string_lossy().into_owned())
            }
        };
        dlclose(handle);
        version
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn library_version(_path: &Path) -> Option<String> {
    None
}

/// The release version in ONNX Runtime's build string, when it names a release branch
/// (`ORT Build Info: git-branch=rel-1.31.1, …`; the PyPI wheels say `git-branch=HEAD`).
/// (`ORT Build Info: git-branch=rel-1.31.1, git-commit-id=…`).
pub fn parse_version(build_info: &str) -> Option<String> {
    let start = build_info.find("git-branch=rel-")? + "git-branch=rel-".len();
    let rest = &build_info[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let v = &rest[..end];
    (v.split('.').count() >= 2).then(|| v.to_string())
}

fn engine(e: impl std::fmt::Display) -> BackendError {
    BackendError::Engine {
        engine: "onnxruntime",
        message: e.to_string(),
    }
}

/// A model loaded in an ONNX Runtime session.
pub struct OrtBackend {
    session: Session,
    info: BackendInfo,
    input_name: String,
    output_name: String,
    num_classes: usize,
    image_size: usize,
}

impl std::fmt::Debug for OrtBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtBackend")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl OrtBackend {
    /// Load `source.onnx`, or, when there is none, export `source.checkpoint` to ONNX in memory.
    pub fn prepare(source: &ModelSource, opts: &PrepareOptions) -> Result<Self, BackendError> {
        if opts.device != "cpu" {
            return Err(BackendError::Unsupported(format!(
                "the ort backend runs on the CPU execution provider only (asked for device {:?})",
                opts.device
            )));
        }
        if opts.threads == 0 {
            return Err(BackendError::Unsupported(
                "threads must be at least 1".into(),
            ));
        }
        let rt = runtime()?;
        let builder = Session::builder(&rt.env)
            .map_err(engine)?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(engine)?
            .with_intra_threads(opts.threads)
            .map_err(engine)?
            .with_inter_threads(1)
            .map_err(engine)?
            .with_parallel_execution(false)
            .map_err(engine)?;
        let mut builder = builder;
        let session = match &source.onnx {
            Some(path) => builder
                .commit_from_file(path)
                .map_err(|e| BackendError::File {
                    path: path.clone(),
                    message: format!("onnxruntime could not load the model: {e}"),
                })?,
            None => {
                let ck = crate::checkpoint::Checkpoint::load(&source.checkpoint)?;
                let bytes = crate::onnx::to_onnx_bytes(&ck).map_err(|e| BackendError::File {
                    path: source.checkpoint.clone(),
                    message: format!("ONNX export failed: {e}"),
                })?;
                builder
                    .commit_from_memory(&bytes)
                    .map_err(|e| BackendError::File {
                        path: source.checkpoint.clone(),
                        message: format!("onnxruntime could not load the exported model: {e}"),
                    })?
            }
        };
        let model_name = || {
            source
                .onnx
                .clone()
                .unwrap_or_else(|| source.checkpoint.clone())
        };
        let bad = |message: String| BackendError::File {
            path: model_name(),
            message,
        };
        let [input] = session.inputs() else {
            return Err(bad(format!(
                "expected 1 input, found {}",
                session.inputs().len()
            )));
        };
        let [output] = session.outputs() else {
            return Err(bad(format!(
                "expected 1 output, found {}",
                session.outputs().len()
            )));
        };
        let in_shape: Vec<i64> = input
            .dtype()
            .tensor_shape()
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        let out_shape: Vec<i64> = output
            .dtype()
            .tensor_shape()
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        let image_size = match in_shape.as_slice() {
            [_, 3, h, w] if h == w && *h > 0 => *h as usize,
            other => {
                return Err(bad(format!(
                    "input {} has shape {other:?}, expected [N,3,S,S]",
                    input.name()
                )))
            }
        };
        let num_classes = match out_shape.as_slice() {
            [_, c] if *c > 0 => *c as usize,
            other => {
                return Err(bad(format!(
                    "output {} has shape {other:?}, expected [N,C]",
                    output.name()
                )))
            }
        };
        Ok(Self {
            info: BackendInfo {
                kind: BackendKind::Ort,
                engine_version: format!("onnxruntime {}", rt.version),
                device: "cpu".into(),
                threads: opts.threads,
                precision: "fp32".into(),
            },
            input_name: input.name().to_string(),
            output_name: output.name().to_string(),
            session,
            num_classes,
            image_size,
        })
    }
}

impl Backend for OrtBackend {
    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn image_size(&self) -> usize {
        self.image_size
    }

    fn run(&mut self, input: &[f32], batch: usize) -> Result<Vec<f32>, BackendError> {
        let s = self.image_size;
        check_input(input, batch, s)?;
        let tensor = TensorRef::from_array_view(([batch, 3, s, s], input)).map_err(engine)?;
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => tensor])
            .map_err(engine)?;
        let (shape, data) = outputs[self.output_name.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(engine)?;
        let expected = [batch as i64, self.num_classes as i64];
        if shape.iter().copied().ne(expected) {
            return Err(engine(format!(
                "output has shape {shape:?}, expected {expected:?}"
            )));
        }
        Ok(data.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_parsed_from_the_build_string() {
        let s = "ORT Build Info: git-branch=rel-1.31.1, git-commit-id=abc, build type=Release";
        assert_eq!(parse_version(s).as_deref(), Some("1.31.1"));
        assert_eq!(
            parse_version("ORT Build Info: git-branch=main, x").as_deref(),
            None
        );
    }
}
