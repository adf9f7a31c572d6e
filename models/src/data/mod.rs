//! Datasets for training and evaluation: one item model, several sources, splits, duplicate
//! checks, bad-data accounting and a background batch loader.
//!
//! A [`Dataset`] is a list of class names and a list of [`Item`]s. Each item has a stable `id`
//! (a path relative to the dataset root, `file.parquet#row` for Parquet rows, or
//! `synthetic/<class>/<seed>` for generated images), a label index into `classes`, and an
//! [`ItemSource`] that says where its pixels come from. [`Item::load`] turns any item into an
//! 8-bit RGB image (EXIF orientation applied, see [`decode`]).
//!
//! Sources (all produce [`RawSplits`], turned into train/val/test by [`split::make_splits`]):
//! - [`sun397`]: the original SUN397 release (Xiao et al., CVPR 2010) with `ClassName.txt` and the
//!   official `Training_NN.txt` / `Testing_NN.txt` partitions;
//! - [`hf`]: the Hugging Face Parquet layout of `tanganke/sun397` (Apache Parquet, arrow-rs);
//! - [`folder`]: torchvision-style ImageFolder trees, optionally with `train/`, `val/`, `test/`;
//! - [`synthetic`]: the offline default, a deterministic generator of scene-like images (it is
//!   synthetic data, not photographs);
//! - [`crate::fractal`]: FractalDB-style formula-driven images for pretraining.
//!
//! Bad files (corrupt, truncated, not an image, absurdly large) never abort a run: they are skipped
//! and recorded in a [`SkipReport`].

pub mod decode;
pub mod folder;
pub mod hf;
pub mod loader;
pub mod presets;
pub mod source;
pub mod split;
pub mod sun397;
pub mod synthetic;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use decode::{decode_bytes, decode_path, DecodeLimits};
pub use loader::{Batch, BatchIter, Loader, LoaderConfig, Transform};
pub use presets::ClassSelection;
pub use source::DataSource;
pub use split::{find_duplicates, make_splits, DuplicateReport, SplitConfig, Splits};

/// Errors from reading datasets. Every variant names the file (or item id) involved.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{id}: cannot decode image: {message}")]
    Decode { id: String, message: String },
    #[error("{id}: image of {width}x{height} pixels refused (limit {max_pixels} pixels / {max_alloc} bytes)")]
    TooLarge {
        id: String,
        width: u32,
        height: u32,
        max_pixels: u64,
        max_alloc: u64,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{path}: parquet: {message}")]
    Parquet { path: PathBuf, message: String },
    #[error("unknown class {name:?} (not in {context})")]
    UnknownClass { name: String, context: String },
    #[error("{context}: no items found")]
    Empty { context: String },
    #[error("bad data source spec {spec:?}: {message}")]
    Spec { spec: String, message: String },
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        DataError::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A procedural image generator (synthetic scenes, fractals): label + seed → image.
///
/// Implementations must be pure functions of `(label, seed)` so that items are reproducible.
pub trait Generator: Send + Sync + fmt::Debug {
    /// Short name used in item ids and dataset hashes, e.g. `synthetic-scenes-v1`.
    fn name(&self) -> String;
    /// Render the image of class `label` with instance seed `seed`.
    fn generate(&self, label: u32, seed: u64) -> RgbImage;
}

/// Where an item's pixels come from.
#[derive(Debug, Clone)]
pub enum ItemSource {
    /// An encoded image file on disk.
    File(PathBuf),
    /// Encoded image bytes held in memory (e.g. a Parquet row).
    Bytes(Arc<[u8]>),
    /// A procedurally generated image.
    Generated {
        generator: Arc<dyn Generator>,
        seed: u64,
    },
}

/// One labelled example.
#[derive(Debug, Clone)]
pub struct Item {
    /// Stable identifier: path relative to the root, `file.parquet#row`, or
    /// `<generator>/<class>/<seed>`.
    pub id: String,
    /// Index into [`Dataset::classes`].
    pub label: u32,
    pub source: ItemSource,
}

impl Item {
    /// Decode (or generate) the image with default [`DecodeLimits`].
    pub fn load(&self) -> Result<RgbImage, DataError> {
        self.load_with(&DecodeLimits::default())
    }

    /// Decode (or generate) the image with explicit limits.
    pub fn load_with(&self, limits: &DecodeLimits) -> Result<RgbImage, DataError> {
        match &self.source {
            ItemSource::File(p) => {
                let bytes = std::fs::read(p).map_err(|e| DataError::io(p, e))?;
                decode::decode_bytes_limited(&bytes, &p.display().to_string(), limits)
            }
            ItemSource::Bytes(b) => decode::decode_bytes_limited(b, &self.id, limits),
            ItemSource::Generated { generator, seed } => Ok(generator.generate(self.label, *seed)),
        }
    }

    /// SHA-256 of the item's content: the encoded bytes for files and in-memory rows, the
    /// generated pixels (with width and height) for procedural items.
    pub fn content_sha256(&self) -> Result<[u8; 32], DataError> {
        let mut h = Sha256::new();
        match &self.source {
            ItemSource::File(p) => {
                let bytes = std::fs::read(p).map_err(|e| DataError::io(p, e))?;
                h.update(&bytes);
            }
            ItemSource::Bytes(b) => h.update(b),
            ItemSource::Generated { generator, seed } => {
                let img = generator.generate(self.label, *seed);
                h.update(img.width().to_le_bytes());
                h.update(img.height().to_le_bytes());
                h.update(img.as_raw());
            }
        }
        Ok(h.finalize().into())
    }

    /// The file path, when the item is a file on disk.
    pub fn path(&self) -> Option<&Path> {
        match &self.source {
            ItemSource::File(p) => Some(p),
            _ => None,
        }
    }
}

/// A labelled set of items sharing one class list.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Display names, index = label.
    pub classes: Vec<String>,
    pub items: Vec<Item>,
}

impl Dataset {
    pub fn new(classes: Vec<String>, items: Vec<Item>) -> Self {
        Self { classes, items }
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// Decode item `index`.
    pub fn load(&self, index: usize) -> Result<RgbImage, DataError> {
        self.items[index].load()
    }
    /// Number of items per class (index = label).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0usize; self.classes.len()];
        for it in &self.items {
            if let Some(slot) = c.get_mut(it.label as usize) {
                *slot += 1;
            }
        }
        c
    }

    /// Identity hash for manifests: SHA-256 over the class list and the items sorted by id, each
    /// contributing `id \t label \t hex(content sha256) \n`. Independent of item order.
    pub fn identity_sha256(&self) -> Result<String, DataError> {
        use rayon::prelude::*;
        let mut rows: Vec<(String, u32, [u8; 32])> = self
            .items
            .par_iter()
            .map(|it| Ok((it.id.clone(), it.label, it.content_sha256()?)))
            .collect::<Result<_, DataError>>()?;
        rows.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut h = Sha256::new();
        for c in &self.classes {
            h.update(c.as_bytes());
            h.update(b"\n");
        }
        h.update(b"--\n");
        for (id, label, digest) in rows {
            h.update(id.as_bytes());
            h.update(format!("\t{label}\t{}\n", hex::encode(digest)).as_bytes());
        }
        Ok(hex::encode(h.finalize()))
    }

    /// Decode every item in parallel and drop the ones that fail, returning the cleaned dataset
    /// and the report of what was skipped. Use this once up front to know the bad files before
    /// training; the loader also skips (and counts) failures it meets on the fly.
    pub fn validate(self, limits: &DecodeLimits) -> (Dataset, SkipReport) {
        use rayon::prelude::*;
        let results: Vec<Option<String>> = self
            .items
            .par_iter()
            .map(|it| it.load_with(limits).err().map(|e| e.to_string()))
            .collect();
        let mut report = SkipReport::default();
        let mut kept = Vec::with_capacity(self.items.len());
        for (it, err) in self.items.into_iter().zip(results) {
            match err {
                None => kept.push(it),
                Some(reason) => report.push(it.id.clone(), reason),
            }
        }
        (Dataset::new(self.classes, kept), report)
    }
}

/// One skipped item: its id (path) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub id: String,
    pub reason: String,
}

/// Items skipped because they could not be read or decoded. Never fatal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipReport {
    pub skipped: Vec<Skipped>,
}

impl SkipReport {
    pub fn push(&mut self, id: impl Into<String>, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            id: id.into(),
            reason: reason.into(),
        });
    }
    pub fn count(&self) -> usize {
        self.skipped.len()
    }
    pub fn is_empty(&self) -> bool {
        self.skipped.is_empty()
    }
    pub fn merge(&mut self, other: SkipReport) {
        self.skipped.extend(other.skipped);
    }
    /// Ids of skipped items, sorted and de-duplicated.
    pub fn ids(&self) -> Vec<String> {
        let mut v: Vec<String> = self.skipped.iter().map(|s| s.id.clone()).collect();
        v.sort();
        v.dedup();
        v
    }
}

/// What a source yields before splitting: a train pool and, where the source defines them, its
/// own validation and test sets (all with the same class list).
#[derive(Debug, Clone)]
pub struct RawSplits {
    pub classes: Vec<String>,
    pub train: Vec<Item>,
    pub val: Option<Vec<Item>>,
    pub test: Option<Vec<Item>>,
    /// Files that were listed but could not be found or read while indexing.
    pub skipped: SkipReport,
}

/// Image file extensions accepted by directory scanners (lower-case, without the dot).
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "bmp", "gif", "webp", "tif", "tiff"];

/// Whether a path has an image extension (case-insensitive).
pub fn has_image_extension(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .map(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        .unwrap_or(false)
}
