//! The original SUN397 release (Xiao, Hays, Ehinger, Oliva, Torralba, "SUN Database: Large-scale
//! Scene Recognition from Abbey to Zoo", CVPR 2010).
//!
//! Layout: `SUN397/<letter>/<class>[/<sub>]/sun_*.jpg`, with `ClassName.txt` listing the 397
//! classes as `/a/abbey` or `/b/bow_window/indoor`, and the official partitions
//! `Training_NN.txt` / `Testing_NN.txt` (NN = 01..10, 50 + 50 images per class) listing images as
//! `/a/abbey/sun_aaalbzqrimafwbiv.jpg`. The partition files ship separately (`Partitions.zip`);
//! they are looked for in the root, then in `<root>/Partitions`, or in an explicit directory.
//! Without partition files, every image under the selected classes forms the train pool and the
//! test split is carved later (see [`super::split`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::presets::{normalize_class, ClassSelection};
use super::{has_image_extension, DataError, Item, ItemSource, RawSplits, SkipReport};

/// Options for reading a SUN397 tree.
#[derive(Debug, Clone)]
pub struct Sun397Options {
    /// The `SUN397` directory (holding `a/`, `b/`, ...).
    pub root: PathBuf,
    /// Where `ClassName.txt` and the partition files are, when not in `root` or `root/Partitions`.
    pub meta_dir: Option<PathBuf>,
    /// Official partition number, 1..=10 (default 1).
    pub partition: u32,
    pub classes: ClassSelection,
}

impl Sun397Options {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            meta_dir: None,
            partition: 1,
            classes: ClassSelection::All,
        }
    }
}

/// Class key from a `ClassName.txt` line: `/b/bow_window/indoor` → `bow_window/indoor`.
pub fn class_key(line: &str) -> String {
    let l = line.trim().trim_start_matches('/');
    match l.split_once('/') {
        Some((letter, rest)) if letter.len() == 1 => rest.trim_end_matches('/').to_string(),
        _ => l.trim_end_matches('/').to_string(),
    }
}

/// Display name of a class key: `living_room` → `living room`, `bow_window/indoor` →
/// `bow window indoor` (the Hugging Face label spelling).
pub fn display_name(key: &str) -> String {
    normalize_class(key)
}

fn find_meta(opts: &Sun397Options, name: &str) -> Option<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = &opts.meta_dir {
        dirs.push(d.clone());
    }
    dirs.push(opts.root.clone());
    dirs.push(opts.root.join("Partitions"));
    if let Some(parent) = opts.root.parent() {
        dirs.push(parent.to_path_buf());
        dirs.push(parent.join("Partitions"));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

fn read_lines(path: &Path) -> Result<Vec<String>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    Ok(text
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect())
}

/// Read a SUN397 tree: classes from `ClassName.txt`, train/test from partition `NN` when present.
pub fn load(opts: &Sun397Options) -> Result<RawSplits, DataError> {
    let class_file = find_meta(opts, "ClassName.txt").ok_or_else(|| {
        DataError::format(
            opts.root.join("ClassName.txt"),
            "ClassName.txt not found (looked in the root, root/Partitions and the meta dir)",
        )
    })?;
    let keys: Vec<String> = read_lines(&class_file)?
        .iter()
        .map(|l| class_key(l))
        .collect();
    let selected = opts
        .classes
        .resolve(&keys, display_name, "SUN397 ClassName.txt")?;
    let classes: Vec<String> = selected.iter().map(|(_, n)| n.clone()).collect();
    // Source class key → output label.
    let label_of: HashMap<String, u32> = selected
        .iter()
        .enumerate()
        .map(|(label, (src, _))| (keys[*src].clone(), label as u32))
        .collect();

    let nn = format!("{:02}", opts.partition);
    let train_file = find_meta(opts, &format!("Training_{nn}.txt"));
    let test_file = find_meta(opts, &format!("Testing_{nn}.txt"));
    let mut skipped = SkipReport::default();

    let (train, test) = match (train_file, test_file) {
        (Some(tr), Some(te)) => (
            partition_items(opts, &tr, &label_of, &mut skipped)?,
            Some(partition_items(opts, &te, &label_of, &mut skipped)?),
        ),
        _ => (scan_classes(opts, &selected, &keys)?, None),
    };
    if train.is_empty() {
        return Err(DataError::Empty {
            context: format!("SUN397 at {}", opts.root.display()),
        });
    }
    Ok(RawSplits {
        classes,
        train,
        val: None,
        test,
        skipped,
    })
}

/// Items listed in a partition file whose class is selected; missing files are reported.
fn partition_items(
    opts: &Sun397Options,
    list: &Path,
    label_of: &HashMap<String, u32>,
    skipped: &mut SkipReport,
) -> Result<Vec<Item>, DataError> {
    let mut items = Vec::new();
    for line in read_lines(list)? {
        let rel = line.trim_start_matches('/');
        let Some((dir, _file)) = rel.rsplit_once('/') else {
            return Err(DataError::format(list, format!("bad line {line:?}")));
        };
        let key = class_key(dir);
        let Some(&label) = label_of.get(&key) else {
            continue;
        };
        let path = opts.root.join(rel);
        if !path.is_file() {
            skipped.push(rel, format!("listed in {} but missing", list.display()));
            continue;
        }
        items.push(Item {
            id: rel.to_string(),
            label,
            source: ItemSource::File(path),
        });
    }
    Ok(items)
}

/// Every image file under each selected class directory (non-recursive below the class dir).
fn scan_classes(
    opts: &Sun397Options,
    selected: &[(usize, String)],
    keys: &[String],
) -> Result<Vec<Item>, DataError> {
    let mut items = Vec::new();
    for (label, (src, _)) in selected.iter().enumerate() {
        let key = &keys[*src];
        let letter = &key[..1];
        let dir = opts.root.join(letter).join(key);
        if !dir.is_dir() {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| DataError::io(&dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && has_image_extension(p))
            .collect();
        files.sort();
        for p in files {
            let rel = p
                .strip_prefix(&opts.root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            items.push(Item {
                id: rel,
                label: label as u32,
                source: ItemSource::File(p),
            });
        }
    }
    Ok(items)
}
