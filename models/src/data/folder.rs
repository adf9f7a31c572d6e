//! ImageFolder trees, as torchvision's `datasets.ImageFolder` reads them: `<root>/<class>/**/*.jpg`
//! (classes are the sorted sub-directory names, files are found recursively and sorted), or the same
//! below `<root>/train`, `<root>/val` (or `validation`) and `<root>/test`.
//!
//! Files are selected by extension ([`super::IMAGE_EXTENSIONS`]); whether they really decode is
//! found out later and bad ones are skipped and reported, never fatal.

use std::path::{Path, PathBuf};

use super::presets::{normalize_class, ClassSelection};
use super::{has_image_extension, DataError, Item, ItemSource, RawSplits, SkipReport};

/// Options for reading an ImageFolder tree.
#[derive(Debug, Clone)]
pub struct FolderOptions {
    pub root: PathBuf,
    pub classes: ClassSelection,
}

fn subdirs(dir: &Path) -> Result<Vec<String>, DataError> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let e = e.map_err(|e| DataError::io(dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && e.path().is_dir() {
            v.push(name);
        }
    }
    v.sort();
    Ok(v)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DataError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if has_image_extension(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Which split directory names are present (`train`, `val`/`validation`, `test`).
fn split_dir(root: &Path, names: &[&str]) -> Option<PathBuf> {
    names.iter().map(|n| root.join(n)).find(|p| p.is_dir())
}

/// Items of the selected classes below `dir/<folder>` for each `(label, folder)`.
fn items_under(root: &Path, dir: &Path, folders: &[(u32, String)]) -> Result<Vec<Item>, DataError> {
    let mut items = Vec::new();
    for (label, folder) in folders {
        let cdir = dir.join(folder);
        if !cdir.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        walk(&cdir, &mut files)?;
        for p in files {
            let id = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            items.push(Item {
                id,
                label: *label,
                source: ItemSource::File(p),
            });
        }
    }
    Ok(items)
}

/// Read an ImageFolder tree.
pub fn load(opts: &FolderOptions) -> Result<RawSplits, DataError> {
    let root = &opts.root;
    if !root.is_dir() {
        return Err(DataError::io(
            root,
            std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
        ));
    }
    let train_dir = split_dir(root, &["train", "training"]);
    let val_dir = split_dir(root, &["val", "validation", "valid"]);
    let test_dir = split_dir(root, &["test", "testing"]);
    let class_root = train_dir.clone().unwrap_or_else(|| root.clone());
    let folders = subdirs(&class_root)?;
    if folders.is_empty() {
        return Err(DataError::Empty {
            context: format!("no class directories in {}", class_root.display()),
        });
    }
    let selected = opts.classes.resolve(
        &folders,
        normalize_class,
        &format!("class folders of {}", class_root.display()),
    )?;
    let classes: Vec<String> = selected.iter().map(|(_, n)| n.clone()).collect();
    let label_folders: Vec<(u32, String)> = selected
        .iter()
        .enumerate()
        .map(|(l, (src, _))| (l as u32, folders[*src].clone()))
        .collect();
    let train = items_under(root, &class_root, &label_folders)?;
    if train.is_empty() {
        return Err(DataError::Empty {
            context: format!("ImageFolder {}", class_root.display()),
        });
    }
    let val = match (&train_dir, &val_dir) {
        (Some(_), Some(v)) => Some(items_under(root, v, &label_folders)?),
        _ => None,
    };
    let test = match (&train_dir, &test_dir) {
        (Some(_), Some(t)) => Some(items_under(root, t, &label_folders)?),
        _ => None,
    };
    Ok(RawSplits {
        classes,
        train,
        val,
        test,
        skipped: SkipReport::default(),
    })
}
