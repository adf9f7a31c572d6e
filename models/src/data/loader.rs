//! Background batch loading: decode + augment on a small thread pool, batches handed over through
//! a bounded channel so the model's threads are fed while the next batches are prepared.
//!
//! Reproducibility rules (so that a run resumed at epoch `k`, or at batch `b` of epoch `k`, sees
//! exactly the batches an uninterrupted run sees, whatever the thread scheduling):
//! - the epoch order is a Fisher–Yates shuffle from `ChaCha8Rng` seeded by `(seed, epoch)`;
//! - each sample's augmentation RNG is a `ChaCha8Rng` seeded by `(seed, epoch, item index)`;
//! - batches are assembled in order; within a batch, worker results are collected in order.
//!
//! Items that fail to load are dropped from their batch (which is then shorter) and recorded in
//! the loader's [`SkipReport`]; they never stop an epoch.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{DataError, Dataset, DecodeLimits, SkipReport};
use crate::augment::TrainAugment;
use crate::preprocess::Preprocess;

/// What to do with each decoded image.
#[derive(Debug, Clone)]
pub enum Transform {
    /// Random training augmentation (per-sample seeded).
    Train(TrainAugment),
    /// Deterministic evaluation preprocessing (resize shorter side, center crop, normalise).
    Eval(Preprocess),
}

impl Transform {
    /// Output side length.
    pub fn size(&self) -> usize {
        match self {
            Transform::Train(a) => a.size,
            Transform::Eval(p) => p.crop_size,
        }
    }
    /// Apply to one image; `rng` is only used by [`Transform::Train`].
    pub fn apply(&self, img: &image::RgbImage, rng: &mut ChaCha8Rng) -> Vec<f32> {
        match self {
            Transform::Train(a) => a.apply(img, rng),
            Transform::Eval(p) => p.apply(img),
        }
    }
}

/// Loader settings.
#[derive(Debug, Clone)]
pub struct LoaderConfig {
    pub batch_size: usize,
    /// Shuffle each epoch (train); eval loaders keep dataset order.
    pub shuffle: bool,
    /// Drop the last incomplete batch.
    pub drop_last: bool,
    pub seed: u64,
    /// Decode/augment threads.
    pub workers: usize,
    /// Batches prepared ahead (channel capacity).
    pub prefetch: usize,
    pub limits: DecodeLimits,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        Self {
            batch_size: 64,
            shuffle: true,
            drop_last: false,
            seed: 0,
            workers: 2,
            prefetch: 2,
            limits: DecodeLimits::default(),
        }
    }
}

/// One batch: images `[B, 3, S, S]` row-major CHW float32, labels and ids in the same order.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub images: Vec<f32>,
    pub labels: Vec<u32>,
    pub ids: Vec<String>,
    /// Side length `S`.
    pub size: usize,
    /// Index of this batch within its epoch.
    pub index: usize,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// A dataset plus a transform and settings; hands out per-epoch batch iterators.
#[derive(Clone)]
pub struct Loader {
    dataset: Arc<Dataset>,
    transform: Arc<Transform>,
    cfg: LoaderConfig,
    pool: Arc<rayon::ThreadPool>,
    skipped: Arc<Mutex<SkipReport>>,
}

/// Seed of a per-(seed, epoch, index) ChaCha8 stream.
pub fn sample_rng(seed: u64, epoch: u64, index: u64, stream: u64) -> ChaCha8Rng {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[8..16].copy_from_slice(&epoch.to_le_bytes());
    s[16..24].copy_from_slice(&index.to_le_bytes());
    s[24..].copy_from_slice(&stream.to_le_bytes());
    ChaCha8Rng::from_seed(s)
}

const SHUFFLE_STREAM: u64 = 0x5348_5546; // "SHUF"
const AUGMENT_STREAM: u64 = 0x4155_474D; // "AUGM"

impl Loader {
    pub fn new(
        dataset: Arc<Dataset>,
        transform: Transform,
        cfg: LoaderConfig,
    ) -> Result<Self, DataError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(cfg.workers.max(1))
            .thread_name(|i| format!("scenebench-loader-{i}"))
            .build()
            .map_err(|e| DataError::Spec {
                spec: format!("workers={}", cfg.workers),
                message: e.to_string(),
            })?;
        Ok(Self {
            dataset,
            transform: Arc::new(transform),
            cfg,
            pool: Arc::new(pool),
            skipped: Arc::new(Mutex::new(SkipReport::default())),
        })
    }

    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }
    pub fn config(&self) -> &LoaderConfig {
        &self.cfg
    }

    /// Batches per epoch.
    pub fn num_batches(&self) -> usize {
        let n = self.dataset.len();
        let b = self.cfg.batch_size.max(1);
        if self.cfg.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// The item order of an epoch (a pure function of `(seed, epoch)`).
    pub fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if self.cfg.shuffle {
            let mut rng = sample_rng(self.cfg.seed, epoch, 0, SHUFFLE_STREAM);
            order.shuffle(&mut rng);
        }
        order
    }

    /// Everything skipped so far by this loader (and its clones), de-duplicated by id.
    pub fn skipped(&self) -> SkipReport {
        let r = self.skipped.lock().map(|g| g.clone()).unwrap_or_default();
        let mut seen = std::collections::HashSet::new();
        SkipReport {
            skipped: r
                .skipped
                .into_iter()
                .filter(|s| seen.insert(s.id.clone()))
                .collect(),
        }
    }

    /// Load and transform the given dataset indices (in parallel on the pool) as one batch.
    pub fn load_batch(&self, indices: &[usize], epoch: u64, batch_index: usize) -> Batch {
        use rayon::prelude::*;
        let ds = &self.dataset;
        let tf = &self.transform;
        let cfg = &self.cfg;
        let results: Vec<(usize, Result<Vec<f32>, DataError>)> = self.pool.install(|| {
            indices
                .par_iter()
                .map(|&i| {
                    let r = ds.items[i].load_with(&cfg.limits).map(|img| {
                        let mut rng = sample_rng(cfg.seed, epoch, i as u64, AUGMENT_STREAM);
                        tf.apply(&img, &mut rng)
                    });
                    (i, r)
                })
                .collect()
        });
        let s = tf.size();
        let mut batch = Batch {
            images: Vec::with_capacity(indices.len() * 3 * s * s),
            labels: Vec::with_capacity(indices.len()),
            ids: Vec::with_capacity(indices.len()),
            size: s,
            index: batch_index,
        };
        for (i, r) in results {
            match r {
                Ok(v) => {
                    batch.images.extend_from_slice(&v);
                    batch.labels.push(ds.items[i].label);
                    batch.ids.push(ds.items[i].id.clone());
                }
                Err(e) => {
                    if let Ok(mut g) = self.skipped.lock() {
                        g.push(ds.items[i].id.clone(), e.to_string());
                    }
                }
            }
        }
        batch
    }

    /// Iterate over the batches of `epoch` (prepared in the background).
    pub fn epoch(&self, epoch: u64) -> BatchIter {
        self.epoch_from(epoch, 0)
    }

    /// Iterate over the batches of `epoch` starting at batch `start_batch` (mid-epoch resume).
    pub fn epoch_from(&self, epoch: u64, start_batch: usize) -> BatchIter {
        let order = self.epoch_order(epoch);
        let b = self.cfg.batch_size.max(1);
        let nb = self.num_batches();
        let (tx, rx) = crossbeam_channel::bounded(self.cfg.prefetch.max(1));
        let this = self.clone();
        let handle = std::thread::Builder::new()
            .name("scenebench-loader".into())
            .spawn(move || {
                for bi in start_batch..nb {
                    let end = ((bi + 1) * b).min(order.len());
                    let batch = this.load_batch(&order[bi * b..end], epoch, bi);
                    if tx.send(batch).is_err() {
                        break; // consumer dropped the iterator
                    }
                }
            })
            .ok();
        BatchIter {
            rx,
            handle,
            remaining: nb.saturating_sub(start_batch),
        }
    }
}

/// Iterator over one epoch's batches; dropping it stops the background work.
pub struct BatchIter {
    rx: crossbeam_channel::Receiver<Batch>,
    handle: Option<JoinHandle<()>>,
    remaining: usize,
}

impl Iterator for BatchIter {
    type Item = Batch;
    fn next(&mut self) -> Option<Batch> {
        if self.remaining == 0 {
            return None;
        }
        match self.rx.recv() {
            Ok(b) => {
                self.remaining -= 1;
                Some(b)
            }
            Err(_) => {
                self.remaining = 0;
                None
            }
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

impl Drop for BatchIter {
    fn drop(&mut self) {
        // Unblock the producer (its send fails once the receiver is gone), then wait for it.
        let (_, dead) = crossbeam_channel::bounded(0);
        let rx = std::mem::replace(&mut self.rx, dead);
        drop(rx);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
