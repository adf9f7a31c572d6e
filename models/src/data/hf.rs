//! SUN397 (or any image-classification dataset) in the Hugging Face Parquet layout, as published
//! for `tanganke/sun397`: files `data/{train,validation,test}-000NN-of-000MM.parquet` with columns
//! `image` (struct `{bytes: binary, path: string}`) and `label` (int64 ClassLabel). The class
//! names are in the Parquet key-value metadata under `huggingface`, a JSON document with
//! `info.features.label.names` (Apache Parquet format; read with arrow-rs, snappy and zstd
//! codecs enabled).
//!
//! Rows of the selected classes are read once and their encoded bytes kept in memory (the 10-class
//! subset of SUN397 is a few tens of MB); ids are `<file name>#<row index in file>`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, BinaryArray, Int64Array, LargeBinaryArray, RecordBatch, StructArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::presets::{normalize_class, ClassSelection};
use super::{DataError, Item, ItemSource, RawSplits, SkipReport};

/// Options for reading a Hugging Face Parquet dataset directory.
#[derive(Debug, Clone)]
pub struct HfOptions {
    /// The dataset directory (holding `data/` or the Parquet files themselves).
    pub dir: PathBuf,
    pub classes: ClassSelection,
}

/// The Parquet files of one split (`train`, `validation`/`val`, `test`), sorted by name.
pub fn split_files(dir: &Path, split: &str) -> Result<Vec<PathBuf>, DataError> {
    let mut out = Vec::new();
    for d in [dir.join("data"), dir.to_path_buf()] {
        if !d.is_dir() {
            continue;
        }
        for e in std::fs::read_dir(&d).map_err(|e| DataError::io(&d, e))? {
            let p = e.map_err(|e| DataError::io(&d, e))?.path();
            let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.ends_with(".parquet")
                && (name.starts_with(&format!("{split}-")) || name == format!("{split}.parquet"))
            {
                out.push(p);
            }
        }
        if !out.is_empty() {
            break;
        }
    }
    out.sort();
    Ok(out)
}

/// Class names from a Parquet file's `huggingface` key-value metadata.
pub fn class_names(path: &Path) -> Result<Vec<String>, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| pq(path, e))?;
    names_from_metadata(path, builder.metadata())
}

fn pq(path: &Path, e: impl std::fmt::Display) -> DataError {
    DataError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn names_from_metadata(
    path: &Path,
    metadata: &parquet::file::metadata::ParquetMetaData,
) -> Result<Vec<String>, DataError> {
    let kv = metadata
        .file_metadata()
        .key_value_metadata()
        .and_then(|kvs| kvs.iter().find(|kv| kv.key == "huggingface"))
        .and_then(|kv| kv.value.clone())
        .ok_or_else(|| pq(path, "no `huggingface` key-value metadata (class names)"))?;
    let json: serde_json::Value =
        serde_json::from_str(&kv).map_err(|e| pq(path, format!("huggingface metadata: {e}")))?;
    let names = json
        .pointer("/info/features/label/names")
        .and_then(|v| v.as_array())
        .ok_or_else(|| {
            pq(
                path,
                "huggingface metadata has no info.features.label.names",
            )
        })?;
    names
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| pq(path, "non-string label name"))
        })
        .collect()
}

/// Read all rows of the selected classes from one file. `select[src_label] = Some(out_label)`.
fn read_file(
    path: &Path,
    select: &[Option<u32>],
    skipped: &mut SkipReport,
) -> Result<Vec<Item>, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| pq(path, e))?;
    let reader = builder
        .with_batch_size(256)
        .build()
        .map_err(|e| pq(path, e))?;
    let fname = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut items = Vec::new();
    let mut row0 = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| pq(path, e))?;
        let n = batch.num_rows();
        let labels = label_column(path, &batch)?;
        let images = batch
            .column_by_name("image")
            .ok_or_else(|| pq(path, "no `image` column"))?;
        let images = images
            .as_any()
            .downcast_ref::<StructArray>()
            .ok_or_else(|| pq(path, "`image` column is not a struct"))?;
        let bytes_col = images
            .column_by_name("bytes")
            .ok_or_else(|| pq(path, "`image` struct has no `bytes` field"))?;
        for r in 0..n {
            let id = format!("{fname}#{}", row0 + r);
            if labels.is_null(r) {
                skipped.push(id, "null label");
                continue;
            }
            let src = labels.value(r);
            let Some(Some(label)) = usize::try_from(src).ok().and_then(|s| select.get(s)) else {
                if src < 0 || src as usize >= select.len() {
                    skipped.push(id, format!("label {src} out of range"));
                }
                continue;
            };
            let data: Option<&[u8]> = if images.is_null(r) || bytes_col.is_null(r) {
                None
            } else if let Some(b) = bytes_col.as_any().downcast_ref::<BinaryArray>() {
                Some(b.value(r))
            } else if let Some(b) = bytes_col.as_any().downcast_ref::<LargeBinaryArray>() {
                Some(b.value(r))
            } else {
                return Err(pq(
                    path,
                    format!(
                        "`image.bytes` has type {:?}, expected binary",
                        bytes_col.data_type()
                    ),
                ));
            };
            match data {
                Some(d) => items.push(Item {
                    id,
                    label: *label,
                    source: ItemSource::Bytes(Arc::from(d)),
                }),
                None => skipped.push(id, "null image bytes"),
            }
        }
        row0 += n;
    }
    Ok(items)
}

fn label_column<'a>(path: &Path, batch: &'a RecordBatch) -> Result<&'a Int64Array, DataError> {
    batch
        .column_by_name("label")
        .ok_or_else(|| pq(path, "no `label` column"))?
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| pq(path, "`label` column is not int64"))
}

/// Read a Hugging Face Parquet dataset: `train` (required), `validation` and `test` when present.
pub fn load(opts: &HfOptions) -> Result<RawSplits, DataError> {
    let train_files = split_files(&opts.dir, "train")?;
    let first = train_files.first().ok_or_else(|| DataError::Empty {
        context: format!("no train-*.parquet under {}", opts.dir.display()),
    })?;
    let names = class_names(first)?;
    let selected = opts.classes.resolve(
        &names,
        normalize_class,
        &format!("label names of {}", first.display()),
    )?;
    let mut select = vec![None; names.len()];
    for (out, (src, _)) in selected.iter().enumerate() {
        select[*src] = Some(out as u32);
    }
    let classes: Vec<String> = selected.iter().map(|(_, n)| n.clone()).collect();
    let mut skipped = SkipReport::default();
    let mut read_split = |files: &[PathBuf]| -> Result<Vec<Item>, DataError> {
        let mut items = Vec::new();
        for f in files {
            if class_names(f)? != names {
                return Err(pq(f, "label names differ from the train files'"));
            }
            items.extend(read_file(f, &select, &mut skipped)?);
        }
        Ok(items)
    };
    let train = read_split(&train_files)?;
    let mut val_files = split_files(&opts.dir, "validation")?;
    if val_files.is_empty() {
        val_files = split_files(&opts.dir, "val")?;
    }
    let val = if val_files.is_empty() {
        None
    } else {
        Some(read_split(&val_files)?)
    };
    let test_files = split_files(&opts.dir, "test")?;
    let test = if test_files.is_empty() {
        None
    } else {
        Some(read_split(&test_files)?)
    };
    Ok(RawSplits {
        classes,
        train,
        val,
        test,
        skipped,
    })
}
