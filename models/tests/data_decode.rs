//! Decoding and bad data: truncated / random / text files are skipped and reported, never fatal;
//! grayscale, 16-bit, alpha, CMYK and EXIF-rotated images decode to the right RGB pixels; an
//! absurdly large image is refused before its pixels are allocated.

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use image::{ImageBuffer, ImageFormat, Luma, Rgb, RgbImage, Rgba};
use models::data::decode::{decode_bytes, decode_bytes_limited, decode_path, DecodeLimits};
use models::data::{
    loader::{Loader, LoaderConfig, Transform},
    DataError, Dataset, Item, ItemSource,
};
use models::preprocess::Preprocess;

fn encode<P, C>(img: &ImageBuffer<P, C>, fmt: ImageFormat) -> Vec<u8>
where
    P: image::Pixel + image::PixelWithColorType,
    [P::Subpixel]: image::EncodableLayout,
    C: std::ops::Deref<Target = [P::Subpixel]>,
{
    let mut buf = Cursor::new(Vec::new());
    img.write_to(&mut buf, fmt).unwrap();
    buf.into_inner()
}

/// A 4x2 image: left half red, right half blue.
fn red_blue() -> RgbImage {
    RgbImage::from_fn(4, 2, |x, _| {
        if x < 2 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    })
}

fn close(a: [u8; 3], b: [u8; 3], tol: i32) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (*x as i32 - y as i32).abs() <= tol)
}

/// JPEG with an EXIF APP1 segment carrying Orientation = `orientation`, written by hand:
/// "Exif\0\0", big-endian TIFF header, one IFD entry (0x0112, SHORT, 1, value), no next IFD.
fn jpeg_with_orientation(img: &RgbImage, orientation: u16) -> Vec<u8> {
    let jpg = encode(img, ImageFormat::Jpeg);
    let mut app1 = Vec::new();
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(b"MM\0\x2a\0\0\0\x08");
    app1.extend_from_slice(&[0, 1]); // one entry
    app1.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]);
    app1.extend_from_slice(&orientation.to_be_bytes());
    app1.extend_from_slice(&[0, 0]);
    app1.extend_from_slice(&[0, 0, 0, 0]); // no next IFD
    let len = (app1.len() + 2) as u16;
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpg[2..]); // skip the original SOI
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A PNG whose header claims `w`×`h` RGB pixels (no real image data follows).
fn png_header_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |ty: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut td = ty.to_vec();
        td.extend_from_slice(data);
        out.extend_from_slice(&td);
        out.extend_from_slice(&crc32(&td).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit, truecolour
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    out
}

/// CMYK JPEG (Adobe APP14, inverted CMYK as Photoshop/PIL write it), 8x8: left half red, right half
/// blue. Made with Pillow:
/// `im = Image.new('CMYK', (8, 8), (0, 255, 255, 0)); im.paste((255, 255, 0, 0), (4, 0, 8, 8));
///  im.save(b, 'JPEG', quality=95)`; Pillow decodes it to (255,0,0) at (1,1) and (0,0,255) at (6,6).
const CMYK_JPEG_HEX: &str = "ffd8ffee000e41646f626500640000000000ffdb0043000201010101010201010102020202020403020202020504040304060506060605060606070908060709070606080b08090a0a0a0a0a06080b0c0b0a0c090a0a0affc000140800080008044311004d11005911004b1100ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda000e0443004d0059004b00003f006ffc1f39ff0036bbff0073b7fee02bf9ff00a6ff00c18c7ff3745ff724ff00ee7ebf7f2bffd9";

#[test]
fn exif_orientation_is_applied() {
    let img = red_blue();
    // Orientation 1: as stored.
    let d1 = decode_bytes(&jpeg_with_orientation(&img, 1), "o1.jpg").unwrap();
    assert_eq!(d1.dimensions(), (4, 2));
    // Orientation 6: rotate 90° clockwise to display -> 2x4, the left (red) column on top.
    let d6 = decode_bytes(&jpeg_with_orientation(&img, 6), "o6.jpg").unwrap();
    assert_eq!(d6.dimensions(), (2, 4));
    assert!(
        close(d6.get_pixel(0, 0).0, [255, 0, 0], 60),
        "{:?}",
        d6.get_pixel(0, 0)
    );
    assert!(
        close(d6.get_pixel(1, 3).0, [0, 0, 255], 60),
        "{:?}",
        d6.get_pixel(1, 3)
    );
    // Orientation 3: rotate 180° -> blue on the left.
    let d3 = decode_bytes(&jpeg_with_orientation(&img, 3), "o3.jpg").unwrap();
    assert_eq!(d3.dimensions(), (4, 2));
    assert!(
        close(d3.get_pixel(0, 0).0, [0, 0, 255], 60),
        "{:?}",
        d3.get_pixel(0, 0)
    );
}

#[test]
fn grayscale_16bit_alpha_convert_like_pil() {
    let gray = ImageBuffer::<Luma<u8>, Vec<u8>>::from_pixel(3, 3, Luma([77]));
    let d = decode_bytes(&encode(&gray, ImageFormat::Png), "gray.png").unwrap();
    assert_eq!(d.get_pixel(1, 1).0, [77, 77, 77]);

    // 16-bit: 0xFFFF -> 255, 0x8080 -> 128, 0 -> 0 (x / 257).
    let deep = ImageBuffer::<Rgb<u16>, Vec<u16>>::from_pixel(2, 2, Rgb([0xFFFF, 0x8080, 0]));
    let d = decode_bytes(&encode(&deep, ImageFormat::Png), "deep.png").unwrap();
    assert_eq!(d.get_pixel(0, 0).0, [255, 128, 0]);

    // Alpha is dropped (PIL convert("RGB")), colour kept even where fully transparent.
    let rgba = ImageBuffer::<Rgba<u8>, Vec<u8>>::from_pixel(2, 2, Rgba([10, 20, 30, 0]));
    let d = decode_bytes(&encode(&rgba, ImageFormat::Png), "alpha.png").unwrap();
    assert_eq!(d.get_pixel(1, 0).0, [10, 20, 30]);
}

#[test]
fn cmyk_jpeg_decodes_to_rgb() {
    let bytes = hex::decode(CMYK_JPEG_HEX).unwrap();
    let d = decode_bytes(&bytes, "cmyk.jpg").unwrap();
    assert_eq!(d.dimensions(), (8, 8));
    assert!(
        close(d.get_pixel(1, 1).0, [255, 0, 0], 40),
        "{:?}",
        d.get_pixel(1, 1)
    );
    assert!(
        close(d.get_pixel(6, 6).0, [0, 0, 255], 40),
        "{:?}",
        d.get_pixel(6, 6)
    );
}

#[test]
fn oversized_header_is_refused_with_dimensions() {
    let bytes = png_header_claiming(100_000, 100_000);
    let err = decode_bytes(&bytes, "huge.png").unwrap_err();
    match &err {
        DataError::TooLarge {
            id, width, height, ..
        } => {
            assert_eq!(id, "huge.png");
            assert_eq!((*width, *height), (100_000, 100_000));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("huge.png") && msg.contains("100000x100000"),
        "{msg}"
    );
    // Pixel limit alone (allocation would be allowed): 3000x3000 > 1 Mpx.
    let small_limit = DecodeLimits {
        max_pixels: 1_000_000,
        max_alloc: u64::MAX,
    };
    let e = decode_bytes_limited(&png_header_claiming(3000, 3000), "big.png", &small_limit)
        .unwrap_err();
    assert!(
        matches!(
            e,
            DataError::TooLarge {
                width: 3000,
                height: 3000,
                ..
            }
        ),
        "{e:?}"
    );
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn bad_files_are_skipped_counted_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let noise = RgbImage::from_fn(64, 64, |x, y| {
        Rgb([
            ((x * 37) ^ (y * 11)) as u8,
            (x * y) as u8,
            (x + 3 * y) as u8,
        ])
    });
    let good_jpg = encode(&noise, ImageFormat::Jpeg);
    let mut rnd = 0x1234_5678u32;
    let random: Vec<u8> = (0..2000)
        .map(|_| {
            rnd ^= rnd << 13;
            rnd ^= rnd >> 17;
            rnd ^= rnd << 5;
            (rnd & 0xFF) as u8
        })
        .collect();
    let files = [
        ("good/a.jpg", good_jpg.clone(), true),
        (
            "good/gray.png",
            encode(
                &ImageBuffer::<Luma<u8>, Vec<u8>>::from_pixel(5, 5, Luma([9])),
                ImageFormat::Png,
            ),
            true,
        ),
        (
            "good/deep.png",
            encode(
                &ImageBuffer::<Rgb<u16>, Vec<u16>>::from_pixel(5, 5, Rgb([1, 2, 3])),
                ImageFormat::Png,
            ),
            true,
        ),
        (
            "good/rotated.jpg",
            jpeg_with_orientation(&red_blue(), 6),
            true,
        ),
        ("good/cmyk.jpg", hex::decode(CMYK_JPEG_HEX).unwrap(), true),
        // Cut inside the header tables: no decoder can make an image of this.
        (
            "bad/truncated.jpg",
            good_jpg[..good_jpg.len().min(300)].to_vec(),
            false,
        ),
        // Cut in the middle of the scan: the decoder alone would fill the rest with grey.
        (
            "bad/truncated_scan.jpg",
            good_jpg[..good_jpg.len() * 6 / 10].to_vec(),
            false,
        ),
        ("bad/random.jpg", random, false),
        (
            "bad/text.jpg",
            b"this is not an image, just text\n".to_vec(),
            false,
        ),
        ("bad/empty.png", Vec::new(), false),
        ("bad/huge.png", png_header_claiming(100_000, 100_000), false),
    ];
    let mut items = Vec::new();
    for (name, bytes, _) in &files {
        let p = write(dir, name, bytes);
        items.push(Item {
            id: name.to_string(),
            label: 0,
            source: ItemSource::File(p),
        });
    }
    // A listed file that does not exist.
    items.push(Item {
        id: "bad/missing.jpg".into(),
        label: 0,
        source: ItemSource::File(dir.join("bad/missing.jpg")),
    });

    let ds = Dataset::new(vec!["x".into()], items);
    let (clean, report) = ds.clone().validate(&DecodeLimits::default());
    let mut expected_bad: Vec<String> = files
        .iter()
        .filter(|f| !f.2)
        .map(|f| f.0.to_string())
        .collect();
    expected_bad.push("bad/missing.jpg".into());
    expected_bad.sort();
    assert_eq!(report.ids(), expected_bad, "{report:#?}");
    assert_eq!(clean.len(), 5);
    assert!(report
        .skipped
        .iter()
        .any(|s| s.id == "bad/truncated_scan.jpg" && s.reason.contains("truncated")));
    assert!(report
        .skipped
        .iter()
        .any(|s| s.id == "bad/huge.png" && s.reason.contains("100000x100000")));

    // The loader meets the same files without failing: bad items dropped and counted.
    let loader = Loader::new(
        Arc::new(ds),
        Transform::Eval(Preprocess::imagenet(16)),
        LoaderConfig {
            batch_size: 4,
            shuffle: false,
            workers: 2,
            ..Default::default()
        },
    )
    .unwrap();
    let batches: Vec<_> = loader.epoch(0).collect();
    assert_eq!(batches.len(), 3); // 12 items / 4
    let total: usize = batches.iter().map(|b| b.len()).sum();
    assert_eq!(total, 5);
    assert_eq!(loader.skipped().ids(), expected_bad);
    for b in &batches {
        assert_eq!(b.images.len(), b.len() * 3 * 16 * 16);
    }
}

#[test]
fn decode_path_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(tmp.path(), "nope.jpg", b"GIF89a-but-not-really");
    let e = decode_path(&p).unwrap_err();
    assert!(e.to_string().contains("nope.jpg"), "{e}");
    let e = decode_path(&tmp.path().join("absent.jpg")).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }) && e.to_string().contains("absent.jpg"));
}
