//! Data source selection for the CLI (`--data SOURCE`): one enum over the readers, parsed from a
//! short spec string, opened into [`RawSplits`].
//!
//! Specs:
//! - `synthetic[:size=64,train=300,test=100,seed=0]` — the offline synthetic scenes (not photos);
//! - `fractal[:classes=100,instances=200,size=64,seed=0]` — FractalDB-style pretraining data;
//! - `sun397:<dir>[:partition=1,classes=sun10,meta=<dir>]` — the original SUN397 release;
//! - `hf:<dir>[:classes=sun10]` — Hugging Face Parquet (`tanganke/sun397` layout);
//! - `folder:<dir>[:classes=a,b,c]` — an ImageFolder tree;
//! - a bare `<dir>` — detected: `ClassName.txt` → SUN397, `*.parquet` → Hugging Face, else folder.
//!
//! In `classes=...` several names are separated by `+` (commas separate options), e.g.
//! `folder:/data/scene15:classes=bedroom+kitchen`.

use std::path::{Path, PathBuf};

use super::folder::FolderOptions;
use super::hf::HfOptions;
use super::presets::ClassSelection;
use super::sun397::Sun397Options;
use super::synthetic::SyntheticOptions;
use super::{DataError, RawSplits};
use crate::fractal::{FractalConfig, FractalDb};

/// A parsed data source.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    Synthetic(SyntheticOptions),
    Fractal(FractalConfig),
    Sun397 {
        root: PathBuf,
        meta_dir: Option<PathBuf>,
        partition: u32,
        classes: ClassSelection,
    },
    HuggingFace {
        dir: PathBuf,
        classes: ClassSelection,
    },
    ImageFolder {
        root: PathBuf,
        classes: ClassSelection,
    },
}

fn spec_err(spec: &str, message: impl Into<String>) -> DataError {
    DataError::Spec {
        spec: spec.to_string(),
        message: message.into(),
    }
}

/// Parse `k=v,k=v` options.
fn parse_opts(spec: &str, s: Option<&str>) -> Result<Vec<(String, String)>, DataError> {
    let Some(s) = s else { return Ok(Vec::new()) };
    s.split(',')
        .filter(|kv| !kv.trim().is_empty())
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| spec_err(spec, format!("option {kv:?} is not key=value")))
        })
        .collect()
}

fn num<T: std::str::FromStr>(spec: &str, k: &str, v: &str) -> Result<T, DataError> {
    v.parse()
        .map_err(|_| spec_err(spec, format!("{k}={v} is not a number")))
}

fn classes_opt(v: &str) -> ClassSelection {
    ClassSelection::parse(&v.replace('+', ","))
}

impl DataSource {
    /// Parse a spec (see the module docs).
    pub fn parse(spec: &str) -> Result<DataSource, DataError> {
        let (kind, rest) = match spec.split_once(':') {
            Some((k, r)) => (k, Some(r)),
            None => (spec, None),
        };
        match kind {
            "synthetic" => {
                let mut o = SyntheticOptions::default();
                for (k, v) in parse_opts(spec, rest)? {
                    match k.as_str() {
                        "size" => o.size = num(spec, &k, &v)?,
                        "train" => o.train_per_class = num(spec, &k, &v)?,
                        "test" => o.test_per_class = num(spec, &k, &v)?,
                        "seed" => o.seed = num(spec, &k, &v)?,
                        _ => return Err(spec_err(spec, format!("unknown option {k:?}"))),
                    }
                }
                Ok(DataSource::Synthetic(o))
            }
            "fractal" => {
                let mut c = FractalConfig::default();
                for (k, v) in parse_opts(spec, rest)? {
                    match k.as_str() {
                        "classes" => c.classes = num(spec, &k, &v)?,
                        "instances" => c.instances = num(spec, &k, &v)?,
                        "size" => c.size = num(spec, &k, &v)?,
                        "seed" => c.seed = num(spec, &k, &v)?,
                        "min_coverage" => c.min_coverage = num(spec, &k, &v)?,
                        _ => return Err(spec_err(spec, format!("unknown option {k:?}"))),
                    }
                }
                Ok(DataSource::Fractal(c))
            }
            "sun397" | "hf" | "folder" => {
                let rest = rest.ok_or_else(|| spec_err(spec, "missing directory"))?;
                // The directory may itself contain ':' only if no options follow; options come
                // after the last ':' when it contains '='.
                let (dir, opts) = match rest.rsplit_once(':') {
                    Some((d, o)) if o.contains('=') => (d, Some(o)),
                    _ => (rest, None),
                };
                Self::with_dir(spec, kind, PathBuf::from(dir), parse_opts(spec, opts)?)
            }
            _ => {
                let p = Path::new(spec);
                if !p.is_dir() {
                    return Err(spec_err(
                        spec,
                        "expected synthetic, fractal, sun397:DIR, hf:DIR, folder:DIR or a directory",
                    ));
                }
                let kind = detect(p);
                Self::with_dir(spec, kind, p.to_path_buf(), Vec::new())
            }
        }
    }

    fn with_dir(
        spec: &str,
        kind: &str,
        dir: PathBuf,
        opts: Vec<(String, String)>,
    ) -> Result<DataSource, DataError> {
        let mut classes = ClassSelection::All;
        let mut partition = 1u32;
        let mut meta_dir = None;
        for (k, v) in opts {
            match (kind, k.as_str()) {
                (_, "classes") => classes = classes_opt(&v),
                ("sun397", "partition") => partition = num(spec, &k, &v)?,
                ("sun397", "meta") => meta_dir = Some(PathBuf::from(v)),
                _ => return Err(spec_err(spec, format!("unknown option {k:?} for {kind}"))),
            }
        }
        Ok(match kind {
            "sun397" => DataSource::Sun397 {
                root: dir,
                meta_dir,
                partition,
                classes,
            },
            "hf" => DataSource::HuggingFace { dir, classes },
            _ => DataSource::ImageFolder { root: dir, classes },
        })
    }

    /// Index the source (no pixels are decoded, except fractal class sampling).
    pub fn open(&self) -> Result<RawSplits, DataError> {
        match self {
            DataSource::Synthetic(o) => Ok(super::synthetic::load(o)),
            DataSource::Fractal(c) => Ok(FractalDb::new(c.clone()).into_raw_splits()),
            DataSource::Sun397 {
                root,
                meta_dir,
                partition,
                classes,
            } => super::sun397::load(&Sun397Options {
                root: root.clone(),
                meta_dir: meta_dir.clone(),
                partition: *partition,
                classes: classes.clone(),
            }),
            DataSource::HuggingFace { dir, classes } => super::hf::load(&HfOptions {
                dir: dir.clone(),
                classes: classes.clone(),
            }),
            DataSource::ImageFolder { root, classes } => super::folder::load(&FolderOptions {
                root: root.clone(),
                classes: classes.clone(),
            }),
        }
    }

    /// A one-line description for logs and manifests.
    pub fn describe(&self) -> String {
        match self {
            DataSource::Synthetic(o) => format!(
                "synthetic scenes (generated, not photographs): {}px, {} train + {} test per class, seed {}",
                o.size, o.train_per_class, o.test_per_class, o.seed
            ),
            DataSource::Fractal(c) => format!(
                "FractalDB-style fractals: {} classes x {} instances, {}px, seed {}",
                c.classes, c.instances, c.size, c.seed
            ),
            DataSource::Sun397 { root, partition, .. } => {
                format!("SUN397 at {} (partition {partition:02})", root.display())
            }
            DataSource::HuggingFace { dir, .. } => {
                format!("Hugging Face Parquet at {}", dir.display())
            }
            DataSource::ImageFolder { root, .. } => format!("ImageFolder at {}", root.display()),
        }
    }
}

/// Guess the kind of a directory: `sun397`, `hf` or `folder`.
pub fn detect(dir: &Path) -> &'static str {
    if dir.join("ClassName.txt").is_file() {
        return "sun397";
    }
    let has_parquet = |d: &Path| {
        std::fs::read_dir(d)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .any(|e| e.path().extension().is_some_and(|x| x == "parquet"))
            })
            .unwrap_or(false)
    };
    if has_parquet(dir) || has_parquet(&dir.join("data")) {
        return "hf";
    }
    "folder"
}
