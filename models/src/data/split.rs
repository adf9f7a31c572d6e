//! Train / val / test splits and the cross-split exact-duplicate check.
//!
//! - The test split is the source's own when it has one; otherwise a stratified, seeded fraction
//!   of the pool is held out. It is never used for model selection.
//! - Val is the source's own when it has one; otherwise it is carved from train, stratified per
//!   class and seeded (default 10%), like scikit-learn's `train_test_split(stratify=y)`.
//! - Exact duplicates are found by SHA-256 of the encoded bytes; any content present in two
//!   different splits is a leak and reported as pairs of ids.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{DataError, Dataset, Item, RawSplits, SkipReport};

/// How to split a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitConfig {
    /// Fraction of each class's train pool held out as val when the source has no val split.
    pub val_fraction: f64,
    /// Fraction of each class held out as test when the source has no test split.
    pub test_fraction: f64,
    pub seed: u64,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            val_fraction: 0.1,
            test_fraction: 0.2,
            seed: 0,
        }
    }
}

/// The three splits (same class list) plus what was skipped while indexing.
#[derive(Debug, Clone)]
pub struct Splits {
    pub train: Dataset,
    pub val: Dataset,
    pub test: Dataset,
    pub skipped: SkipReport,
}

impl Splits {
    pub fn classes(&self) -> &[String] {
        &self.train.classes
    }
}

/// Split `items` per class: returns `(kept, held_out)` with `round(fraction * n_class)` items of
/// each class held out (at least one when the class has two or more items and `fraction > 0`).
/// Items are ordered by id before the seeded shuffle, so the result does not depend on the order
/// the source listed them in.
pub fn stratified_holdout(
    items: Vec<Item>,
    num_classes: usize,
    fraction: f64,
    seed: u64,
) -> (Vec<Item>, Vec<Item>) {
    let mut per_class: Vec<Vec<Item>> = vec![Vec::new(); num_classes];
    let mut other = Vec::new();
    for it in items {
        match per_class.get_mut(it.label as usize) {
            Some(v) => v.push(it),
            None => other.push(it),
        }
    }
    let mut kept = other;
    let mut held = Vec::new();
    for (c, mut v) in per_class.into_iter().enumerate() {
        v.sort_by(|a, b| a.id.cmp(&b.id));
        let mut rng =
            ChaCha8Rng::seed_from_u64(seed ^ (c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        v.shuffle(&mut rng);
        let n = v.len();
        let mut k = (fraction * n as f64).round() as usize;
        if fraction > 0.0 && k == 0 && n >= 2 {
            k = 1;
        }
        let k = k.min(n.saturating_sub(1));
        let rest = v.split_off(k);
        held.extend(v);
        kept.extend(rest);
    }
    kept.sort_by(|a, b| a.label.cmp(&b.label).then(a.id.cmp(&b.id)));
    held.sort_by(|a, b| a.label.cmp(&b.label).then(a.id.cmp(&b.id)));
    (kept, held)
}

/// Turn a source's raw splits into train / val / test.
pub fn make_splits(raw: RawSplits, cfg: &SplitConfig) -> Splits {
    let n = raw.classes.len();
    let (pool, test) = match raw.test {
        Some(t) => (raw.train, t),
        None => stratified_holdout(raw.train, n, cfg.test_fraction, cfg.seed ^ 0x7E57),
    };
    let (train, val) = match raw.val {
        Some(v) => (pool, v),
        None => stratified_holdout(pool, n, cfg.val_fraction, cfg.seed),
    };
    let ds = |items| Dataset::new(raw.classes.clone(), items);
    Splits {
        train: ds(train),
        val: ds(val),
        test: ds(test),
        skipped: raw.skipped,
    }
}

/// One cross-split duplicate: the same content under two ids in two splits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicatePair {
    pub sha256: String,
    pub split_a: String,
    pub id_a: String,
    pub split_b: String,
    pub id_b: String,
    /// Labels of the two copies (they differ when the same image is filed under two classes).
    pub label_a: u32,
    pub label_b: u32,
}

/// Result of [`find_duplicates`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateReport {
    /// Pairs of items with identical content in different splits (the leaks).
    pub cross_split: Vec<DuplicatePair>,
    /// Number of distinct contents that occur more than once anywhere.
    pub duplicate_groups: usize,
    /// Number of distinct contents that occur more than once inside a single split.
    pub within_split_groups: usize,
    /// Items that could not be read for hashing.
    pub unreadable: SkipReport,
}

impl DuplicateReport {
    /// Number of leaked pairs.
    pub fn leak_count(&self) -> usize {
        self.cross_split.len()
    }
}

/// Hash every item of every named split (in parallel) and report exact duplicates. Pairs are
/// reported once per pair of (split, id) across different splits, sorted.
pub fn find_duplicates(splits: &[(&str, &Dataset)]) -> DuplicateReport {
    use rayon::prelude::*;
    let mut report = DuplicateReport::default();
    let mut by_hash: BTreeMap<[u8; 32], Vec<(usize, String, u32)>> = BTreeMap::new();
    for (si, (_, ds)) in splits.iter().enumerate() {
        let hashes: Vec<(String, u32, Result<[u8; 32], DataError>)> = ds
            .items
            .par_iter()
            .map(|it| (it.id.clone(), it.label, it.content_sha256()))
            .collect();
        for (id, label, h) in hashes {
            match h {
                Ok(h) => by_hash.entry(h).or_default().push((si, id, label)),
                Err(e) => report.unreadable.push(id, e.to_string()),
            }
        }
    }
    for (h, members) in &by_hash {
        if members.len() < 2 {
            continue;
        }
        report.duplicate_groups += 1;
        let mut counts = vec![0usize; splits.len()];
        for (s, _, _) in members {
            counts[*s] += 1;
        }
        if counts.iter().any(|&c| c > 1) {
            report.within_split_groups += 1;
        }
        for i in 0..members.len() {
            for j in i + 1..members.len() {
                let (a, b) = (&members[i], &members[j]);
                if a.0 == b.0 {
                    continue;
                }
                let (a, b) = if a.0 < b.0 { (a, b) } else { (b, a) };
                report.cross_split.push(DuplicatePair {
                    sha256: hex::encode(h),
                    split_a: splits[a.0].0.to_string(),
                    id_a: a.1.clone(),
                    split_b: splits[b.0].0.to_string(),
                    id_b: b.1.clone(),
                    label_a: a.2,
                    label_b: b.2,
                });
            }
        }
    }
    report.cross_split.sort_by(|x, y| {
        (&x.split_a, &x.id_a, &x.split_b, &x.id_b).cmp(&(&y.split_a, &y.id_a, &y.split_b, &y.id_b))
    });
    report
}
