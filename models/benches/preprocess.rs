//! Preprocessing throughput: the evaluation transform (resize shorter side, center crop,
//! normalize) and the training augmentation, in images per second.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use image::RgbImage;
use models::augment::TrainAugment;
use models::preprocess::Preprocess;
use rand::SeedableRng;

fn photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 7 % 256) as u8,
            (y * 3 % 256) as u8,
            ((x ^ y) % 256) as u8,
        ])
    })
}

fn bench(c: &mut Criterion) {
    let img = photo(640, 480);
    let mut g = c.benchmark_group("preprocess");
    g.throughput(Throughput::Elements(1)).sample_size(20);
    for size in [64usize, 224] {
        let p = Preprocess::timm_vit(size);
        g.bench_function(format!("eval_640x480_to_{size}"), |b| {
            b.iter(|| p.apply(&img))
        });
        let aug = TrainAugment::imagenet(&p);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        g.bench_function(format!("train_augment_640x480_to_{size}"), |b| {
            b.iter(|| aug.apply(&img, &mut rng))
        });
    }
    let jpeg = {
        let mut buf = std::io::Cursor::new(Vec::new());
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 90)
            .encode_image(&img)
            .unwrap();
        buf.into_inner()
    };
    g.bench_function("decode_jpeg_640x480", |b| {
        b.iter(|| models::data::decode_bytes(&jpeg, "bench.jpg").unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
