//! Dataset sources against real layouts: SUN397 (a tiny tree built from the real `ClassName.txt`
//! and partition 01), Hugging Face Parquet written here (snappy and zstd) with the real label
//! order, ImageFolder on `../shared/data`, the `sun10` preset, splits and the scene15 leak check.

use std::collections::{HashMap, HashSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    builder::BinaryBuilder, Array, ArrayRef, Int64Array, RecordBatch, StringArray, StructArray,
};
use arrow_schema::{DataType, Field, Schema};
use image::{ImageFormat, Rgb, RgbImage};
use models::data::presets::{normalize_class, ClassSelection, SUN10, SUN10_HF_LABELS};
use models::data::{
    find_duplicates, folder, hf, make_splits, split::stratified_holdout, sun397, DataSource,
    Dataset, SplitConfig,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

fn shared() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"))
}

fn tiny_jpeg(seed: u8) -> Vec<u8> {
    let img = RgbImage::from_fn(12, 10, |x, y| Rgb([seed, (x * 20) as u8, (y * 20) as u8]));
    let mut c = Cursor::new(Vec::new());
    img.write_to(&mut c, ImageFormat::Jpeg).unwrap();
    c.into_inner()
}

fn tiny_png(seed: u8) -> Vec<u8> {
    let img = RgbImage::from_fn(6, 6, |x, y| Rgb([seed, x as u8, y as u8]));
    let mut c = Cursor::new(Vec::new());
    img.write_to(&mut c, ImageFormat::Png).unwrap();
    c.into_inner()
}

#[test]
fn real_sun397_meta_files_parse() {
    let meta = shared().join("sun397-meta");
    let lines: Vec<String> = std::fs::read_to_string(meta.join("ClassName.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 397);
    let keys: Vec<String> = lines.iter().map(|l| sun397::class_key(l)).collect();
    assert_eq!(keys[0], "abbey");
    assert!(keys.contains(&"bow_window/indoor".to_string()));
    assert_eq!(
        sun397::display_name("bow_window/indoor"),
        "bow window indoor"
    );
    // Display names of ClassName.txt equal the Hugging Face names, except the documented swap at
    // positions 206/207 (1-based): the same set, different order there.
    let hf: Vec<String> = std::fs::read_to_string(meta.join("hf-tanganke-label-order.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let disp: Vec<String> = keys.iter().map(|k| sun397::display_name(k)).collect();
    let a: HashSet<_> = disp.iter().collect();
    let b: HashSet<_> = hf.iter().collect();
    assert_eq!(a, b);
    let differing: Vec<usize> = (0..397).filter(|&i| disp[i] != hf[i]).collect();
    assert_eq!(differing, vec![206, 207]); // 0-based
                                           // The sun10 preset resolves in ClassName.txt and lands on the documented HF indices.
    let sel = ClassSelection::Sun10
        .resolve(&hf, normalize_class, "hf")
        .unwrap();
    let idx: Vec<u32> = sel.iter().map(|(i, _)| *i as u32).collect();
    assert_eq!(idx, SUN10_HF_LABELS);
    let names: Vec<&str> = sel.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, SUN10.map(|(n, _)| n));
}

/// Build a SUN397 tree with the first `ntr` train and `nte` test images of each sun10 class from
/// the real partition 01 lists; one listed image is left out to check it is reported.
#[test]
fn sun397_tree_with_real_partitions() {
    let meta = shared().join("sun397-meta");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("SUN397");
    std::fs::create_dir_all(&root).unwrap();
    for f in ["ClassName.txt", "Training_01.txt", "Testing_01.txt"] {
        std::fs::copy(meta.join(f), root.join(f)).unwrap();
    }
    let sun10_keys: Vec<&str> = SUN10.iter().map(|(_, k)| &k[3..]).collect();
    let mut made = HashMap::<String, usize>::new();
    let mut missing = None;
    for (list, n) in [("Training_01.txt", 3usize), ("Testing_01.txt", 2usize)] {
        let text = std::fs::read_to_string(meta.join(list)).unwrap();
        let mut per_class = HashMap::<String, usize>::new();
        for line in text.lines() {
            let rel = line.trim_start_matches('/');
            let dir = &rel[..rel.rfind('/').unwrap()];
            let key = sun397::class_key(dir);
            if !sun10_keys.contains(&key.as_str()) {
                continue;
            }
            let c = per_class.entry(key.clone()).or_default();
            if *c >= n {
                continue;
            }
            *c += 1;
            if missing.is_none() && list.starts_with("Training") && key == "mountain" {
                missing = Some(rel.to_string()); // listed but not written
                continue;
            }
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, tiny_jpeg(*c as u8)).unwrap();
            *made.entry(format!("{list}/{key}")).or_default() += 1;
        }
    }
    let mut opts = sun397::Sun397Options::new(&root);
    opts.classes = ClassSelection::Sun10;
    let raw = sun397::load(&opts).unwrap();
    assert_eq!(raw.classes, SUN10.map(|(n, _)| n.to_string()).to_vec());
    assert_eq!(raw.train.len(), 10 * 3 - 1);
    assert_eq!(raw.test.as_ref().unwrap().len(), 10 * 2);
    // Every listed image of the selected classes that is absent is reported (here: all but the 49
    // written), including the one deliberately left out.
    assert_eq!(raw.skipped.count(), 10 * (50 + 50) - 49);
    assert!(raw.skipped.ids().contains(&missing.clone().unwrap()));
    assert!(raw
        .skipped
        .skipped
        .iter()
        .all(|s| s.reason.contains("missing")));
    for it in &raw.train {
        let key = SUN10[it.label as usize].1;
        assert!(
            it.id.starts_with(&key[1..]),
            "{} has label {}",
            it.id,
            it.label
        );
        assert!(it.load().is_ok());
    }
    let forest = raw.train.iter().filter(|i| i.label == 1).count();
    assert_eq!(forest, 3);
    assert!(raw
        .train
        .iter()
        .filter(|i| i.label == 1)
        .all(|i| i.id.starts_with("f/forest/broadleaf/")));
    let tr: HashSet<_> = raw.train.iter().map(|i| &i.id).collect();
    assert!(raw
        .test
        .as_ref()
        .unwrap()
        .iter()
        .all(|i| !tr.contains(&i.id)));

    // Partition 2 does not exist here: falls back to scanning class directories.
    let mut opts2 = opts.clone();
    opts2.partition = 2;
    let raw2 = sun397::load(&opts2).unwrap();
    assert!(raw2.test.is_none());
    assert_eq!(raw2.train.len(), 10 * 5 - 1);

    // Through the spec parser and auto-detection.
    let spec = format!("{}", root.display());
    let src = DataSource::parse(&spec).unwrap();
    assert!(matches!(src, DataSource::Sun397 { .. }));
    let src = DataSource::parse(&format!(
        "sun397:{}:classes=sun10,partition=1",
        root.display()
    ))
    .unwrap();
    assert_eq!(src.open().unwrap().train.len(), 29);
}

fn write_parquet(path: &Path, names: &[String], rows: &[(i64, Vec<u8>)], compression: Compression) {
    let mut bytes = BinaryBuilder::new();
    for (_, b) in rows {
        bytes.append_value(b);
    }
    let paths = StringArray::from(
        rows.iter()
            .enumerate()
            .map(|(i, _)| format!("img_{i}.png"))
            .collect::<Vec<_>>(),
    );
    let bytes: ArrayRef = Arc::new(bytes.finish());
    let image = StructArray::from(vec![
        (Arc::new(Field::new("bytes", DataType::Binary, true)), bytes),
        (
            Arc::new(Field::new("path", DataType::Utf8, true)),
            Arc::new(paths) as ArrayRef,
        ),
    ]);
    let labels = Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>());
    let schema = Arc::new(Schema::new(vec![
        Field::new("image", image.data_type().clone(), true),
        Field::new("label", DataType::Int64, true),
    ]));
    let batch =
        RecordBatch::try_new(schema.clone(), vec![Arc::new(image), Arc::new(labels)]).unwrap();
    let hf_meta = serde_json::json!({
        "info": {"features": {
            "image": {"_type": "Image"},
            "label": {"names": names, "_type": "ClassLabel"}
        }}
    });
    let props = WriterProperties::builder()
        .set_compression(compression)
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "huggingface".into(),
            hf_meta.to_string(),
        )]))
        .build();
    let f = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(f, schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn hugging_face_parquet_snappy_and_zstd() {
    let names: Vec<String> =
        std::fs::read_to_string(shared().join("sun397-meta/hf-tanganke-label-order.txt"))
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // Shard 0 (snappy): beach (46) x2, abbey (0), living room (227). Shard 1 (zstd): forest
    // broadleaf (159), park (265), a corrupt image in kitchen (213), airport terminal (2).
    let shard0 = vec![
        (46, tiny_png(1)),
        (0, tiny_png(2)),
        (46, tiny_png(3)),
        (227, tiny_png(4)),
    ];
    let shard1 = vec![
        (159, tiny_png(5)),
        (265, tiny_png(6)),
        (213, b"not a png".to_vec()),
        (2, tiny_png(7)),
    ];
    write_parquet(
        &data.join("train-00000-of-00002.parquet"),
        &names,
        &shard0,
        Compression::SNAPPY,
    );
    write_parquet(
        &data.join("train-00001-of-00002.parquet"),
        &names,
        &shard1,
        Compression::ZSTD(ZstdLevel::try_new(3).unwrap()),
    );
    write_parquet(
        &data.join("test-00000-of-00001.parquet"),
        &names,
        &[(244, tiny_png(8)), (48, tiny_png(9))],
        Compression::ZSTD(ZstdLevel::default()),
    );

    assert_eq!(
        hf::class_names(&data.join("train-00001-of-00002.parquet")).unwrap(),
        names
    );
    let raw = hf::load(&hf::HfOptions {
        dir: tmp.path().to_path_buf(),
        classes: ClassSelection::Sun10,
    })
    .unwrap();
    assert_eq!(raw.classes[1], "forest");
    let got: Vec<(String, u32)> = raw.train.iter().map(|i| (i.id.clone(), i.label)).collect();
    assert_eq!(
        got,
        vec![
            ("train-00000-of-00002.parquet#0".to_string(), 0),
            ("train-00000-of-00002.parquet#2".to_string(), 0),
            ("train-00000-of-00002.parquet#3".to_string(), 8),
            ("train-00001-of-00002.parquet#0".to_string(), 1),
            ("train-00001-of-00002.parquet#1".to_string(), 9),
            ("train-00001-of-00002.parquet#2".to_string(), 3),
        ]
    );
    // Pixels survive the round trip; the corrupt row fails to decode (the loader skips it).
    assert_eq!(raw.train[3].load().unwrap().get_pixel(0, 0).0, [5, 0, 0]);
    assert!(raw.train[5].load().is_err());
    let test: Vec<u32> = raw.test.as_ref().unwrap().iter().map(|i| i.label).collect();
    assert_eq!(test, vec![2, 4]); // mountain, bedroom

    // All classes, by auto-detection.
    let src = DataSource::parse(&tmp.path().display().to_string()).unwrap();
    assert!(matches!(src, DataSource::HuggingFace { .. }));
    let all = src.open().unwrap();
    assert_eq!(all.classes.len(), 397);
    assert_eq!(all.train.len(), 8);
    assert_eq!(all.train[1].label, 0);
    assert_eq!(all.classes[all.train[0].label as usize], "beach");
}

#[test]
fn scene15_folder_and_its_duplicates() {
    let root = shared().join("scene15");
    let raw = folder::load(&folder::FolderOptions {
        root: root.clone(),
        classes: ClassSelection::All,
    })
    .unwrap();
    assert_eq!(raw.classes.len(), 15);
    assert_eq!(raw.classes[7], "living room");
    assert_eq!(raw.train.len(), 1500);
    let test = raw.test.clone().unwrap();
    assert_eq!(raw.train.len() + test.len(), 4485);
    let classes = raw.classes.clone();
    let train_ds = Dataset::new(classes.clone(), raw.train.clone());
    let test_ds = Dataset::new(classes.clone(), test);
    // 18 contents occur twice: 11 of them once in train/ and once in test/ (the leaks), 5 twice in
    // test/, 2 twice in train/ (counted independently from MANIFEST.tsv's sha256 column).
    let report = find_duplicates(&[("train", &train_ds), ("test", &test_ds)]);
    assert_eq!(report.duplicate_groups, 18);
    assert_eq!(report.leak_count(), 11, "{:#?}", report.cross_split);
    assert_eq!(report.within_split_groups, 7);
    assert!(report.unreadable.is_empty());
    for p in &report.cross_split {
        assert_eq!((p.split_a.as_str(), p.split_b.as_str()), ("train", "test"));
        assert!(
            p.id_a.starts_with("train/") && p.id_b.starts_with("test/"),
            "{p:?}"
        );
    }
    // One leaked image is even filed under two classes (inside_city in train, tall_building in test).
    let conflicts: Vec<_> = report
        .cross_split
        .iter()
        .filter(|p| p.label_a != p.label_b)
        .collect();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(classes[conflicts[0].label_a as usize], "inside city");
    assert_eq!(classes[conflicts[0].label_b as usize], "tall building");
    // Content hashes agree with MANIFEST.tsv's sha256 column.
    let manifest = std::fs::read_to_string(root.join("MANIFEST.tsv")).unwrap();
    let shas: HashSet<&str> = manifest
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').nth(4))
        .collect();
    assert!(report
        .cross_split
        .iter()
        .all(|p| shas.contains(p.sha256.as_str())));

    // After carving val from train the same check covers three splits; val is stratified (10 per
    // class) and the train/test leaks are all still found.
    let splits = make_splits(raw, &SplitConfig::default());
    assert_eq!(splits.val.len(), 150);
    assert_eq!(splits.train.len(), 1350);
    assert!(splits.val.class_counts().iter().all(|&c| c == 10));
    let r3 = find_duplicates(&[
        ("train", &splits.train),
        ("val", &splits.val),
        ("test", &splits.test),
    ]);
    assert_eq!(r3.duplicate_groups, 18);
    let train_or_val_vs_test = r3
        .cross_split
        .iter()
        .filter(|p| p.split_b == "test")
        .count();
    assert_eq!(train_or_val_vs_test, 11);
}

#[test]
fn places365_pool_split_stratified_and_seeded() {
    let root = shared().join("places365-indoor");
    let src = DataSource::parse(&format!(
        "folder:{}:classes=bedroom+kitchen+living_room",
        root.display()
    ))
    .unwrap();
    let raw = src.open().unwrap();
    assert_eq!(raw.classes, vec!["bedroom", "kitchen", "living room"]);
    assert!(raw.test.is_none());
    let cfg = SplitConfig {
        val_fraction: 0.1,
        test_fraction: 0.2,
        seed: 0,
    };
    let s = make_splits(raw.clone(), &cfg);
    assert_eq!(s.test.class_counts(), vec![60, 60, 60]);
    assert_eq!(s.val.class_counts(), vec![24, 24, 24]);
    assert_eq!(s.train.class_counts(), vec![216, 216, 216]);
    let ids = |d: &Dataset| d.items.iter().map(|i| i.id.clone()).collect::<HashSet<_>>();
    assert!(ids(&s.train).is_disjoint(&ids(&s.test)));
    assert!(ids(&s.train).is_disjoint(&ids(&s.val)));
    assert!(ids(&s.val).is_disjoint(&ids(&s.test)));
    // Same seed -> same split; the test split does not depend on the val fraction.
    let s2 = make_splits(raw.clone(), &cfg);
    assert_eq!(ids(&s.val), ids(&s2.val));
    let s3 = make_splits(
        raw.clone(),
        &SplitConfig {
            val_fraction: 0.25,
            ..cfg.clone()
        },
    );
    assert_eq!(ids(&s.test), ids(&s3.test));
    let s4 = make_splits(raw, &SplitConfig { seed: 1, ..cfg });
    assert_ne!(ids(&s.val), ids(&s4.val));
}

#[test]
fn holdout_independent_of_listing_order() {
    let raw = DataSource::parse("synthetic:train=20,test=0")
        .unwrap()
        .open()
        .unwrap();
    let mut rev = raw.train.clone();
    rev.reverse();
    let (_, a) = stratified_holdout(raw.train, 10, 0.1, 5);
    let (_, b) = stratified_holdout(rev, 10, 0.1, 5);
    let ia: Vec<_> = a.iter().map(|i| &i.id).collect();
    let ib: Vec<_> = b.iter().map(|i| &i.id).collect();
    assert_eq!(ia, ib);
    assert_eq!(a.len(), 20);
}

#[test]
fn identity_hash_is_order_free_and_label_sensitive() {
    let raw = DataSource::parse("synthetic:size=16,train=3,test=0")
        .unwrap()
        .open()
        .unwrap();
    let ds = Dataset::new(raw.classes.clone(), raw.train.clone());
    let h = ds.identity_sha256().unwrap();
    let mut shuffled = ds.clone();
    shuffled.items.reverse();
    assert_eq!(h, shuffled.identity_sha256().unwrap());
    let mut relabelled = ds.clone();
    relabelled.items[0].label = 5;
    assert_ne!(h, relabelled.identity_sha256().unwrap());
    assert_eq!(h.len(), 64);
}

#[test]
fn spec_errors_are_reported() {
    assert!(DataSource::parse("synthetic:size=abc").is_err());
    assert!(DataSource::parse("fractal:bogus=1").is_err());
    assert!(DataSource::parse("/definitely/not/a/dir").is_err());
    let e = folder::load(&folder::FolderOptions {
        root: shared().join("scene15"),
        classes: ClassSelection::Names(vec!["beach".into()]),
    })
    .unwrap_err();
    assert!(e.to_string().contains("beach"), "{e}");
}
