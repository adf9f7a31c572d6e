// The Swift side must reproduce what the Rust harness computes (fixtures/golden/, regenerated
// and checked by models/tests/golden_ios.rs): preprocessing (bit-identical 8-bit resize and
// normalized tensor), softmax / top-k / low-confidence flag, and the exact CSV bytes.

import Foundation
import XCTest
@testable import SceneBench

struct PreprocessGolden: Decodable {
    struct Image: Decodable {
        let name: String
        let width: Int
        let height: Int
        let rgb: [UInt8]
    }
    struct Case: Decodable {
        let image: String
        let preprocess: PreprocessConfig
        let resized_width: Int
        let resized_height: Int
        let resized_rgb: [UInt8]
        let cropped_rgb: [UInt8]
        let tensor: [Float]
    }
    let images: [Image]
    let cases: [Case]
}

struct SoftmaxGolden: Decodable {
    struct Case: Decodable {
        let logits: [Double]
        let probs: [Double]
        let top5: [Int]
        let top3: [Int]
        let low_confidence: Bool
    }
    let low_confidence_threshold: Double
    let cases: [Case]
}

struct CSVGoldenInput: Decodable {
    struct Row: Decodable {
        let image_id: String
        let true_label: String
        let logits: [Float]
    }
    struct Latency: Decodable {
        let phase: String
        let iteration: Int
        let latency_ms: Double
    }
    let run_id: String
    let model: String
    let backend: String
    let device: String
    let compute_unit: String
    let split: String
    let classes: [String]
    let engine_version: String
    let precision: String
    let threads: Int
    let batch_size: Int
    let mode: String
    let predictions: [Row]
    let latency: [Latency]
}

final class GoldenTests: XCTestCase {
    func testPreprocessMatchesRust() throws {
        let g = try Fixtures.decode(PreprocessGolden.self, "preprocess.json")
        XCTAssertGreaterThanOrEqual(g.cases.count, 6)
        var worstByte = 0
        var worstFloat: Float = 0
        for c in g.cases {
            let src = try XCTUnwrap(g.images.first { $0.name == c.image })
            let img = try RGBImage(width: src.width, height: src.height, pixels: src.rgb)
            let p = c.preprocess
            let label = "\(c.image) crop \(p.cropSize) pct \(p.cropPct)"
            XCTAssertEqual(p.resizeShorter, Int((Double(p.cropSize) / p.cropPct).rounded(.down)), label)
            let size = p.resizedSize(width: img.width, height: img.height)
            XCTAssertEqual(size.width, c.resized_width, label)
            XCTAssertEqual(size.height, c.resized_height, label)

            let resized = resize(img, width: size.width, height: size.height, interpolation: p.interpolation)
            XCTAssertEqual(resized.pixels.count, c.resized_rgb.count, label)
            let diffs = zip(resized.pixels, c.resized_rgb).map { abs(Int($0) - Int($1)) }
            worstByte = max(worstByte, diffs.max() ?? 0)
            XCTAssertEqual(diffs.filter { $0 != 0 }.count, 0, "\(label): resized bytes differ from Rust")

            XCTAssertEqual(p.resizeAndCrop(img).pixels, c.cropped_rgb, label)

            let t = p.apply(img)
            XCTAssertEqual(t.count, c.tensor.count, label)
            for (a, b) in zip(t, c.tensor) { worstFloat = max(worstFloat, abs(a - b)) }
        }
        XCTAssertEqual(worstByte, 0)
        XCTAssertLessThanOrEqual(worstFloat, 1e-5, "normalized tensor differs from Rust")
        print("golden preprocess: max |Δu8| = \(worstByte), max |Δx| = \(worstFloat)")
    }

    func testSoftmaxTopKMatchRust() throws {
        let g = try Fixtures.decode(SoftmaxGolden.self, "softmax.json")
        XCTAssertEqual(LowConfidencePolicy.standard.threshold, g.low_confidence_threshold)
        for c in g.cases {
            let p = softmax(c.logits)
            XCTAssertEqual(p.count, c.probs.count)
            for (a, b) in zip(p, c.probs) { XCTAssertEqual(a, b, accuracy: 1e-15, "\(c.logits)") }
            XCTAssertEqual(topK(p, k: 5), c.top5, "\(c.logits)")
            XCTAssertEqual(topK(p, k: 3), c.top3, "\(c.logits)")
            let classes = c.logits.indices.map { "c\($0)" }
            let cls = Classification(logits: c.logits, classes: classes)
            XCTAssertEqual(cls.lowConfidence, c.low_confidence, "\(c.logits)")
            XCTAssertEqual(cls.top(3).map(\.index), c.top3)
        }
    }

    func testCSVBytesMatchRust() throws {
        let g = try Fixtures.decode(CSVGoldenInput.self, "csv_input.json")
        let rows = try g.predictions.map {
            try PredictionRow(
                runId: g.run_id, model: g.model, backend: g.backend, device: g.device, computeUnit: g.compute_unit,
                split: g.split, imageId: $0.image_id, trueLabel: $0.true_label, logits: $0.logits, classes: g.classes)
        }
        XCTAssertEqual(CSV.predictions(rows), try Fixtures.text("predictions.csv"))

        let samples = g.latency.map {
            LatencySampleRow(
                runId: g.run_id, model: g.model, backend: g.backend, engineVersion: g.engine_version, device: g.device,
                computeUnit: g.compute_unit, precision: g.precision, threads: g.threads, batchSize: g.batch_size,
                mode: g.mode, phase: LatencyPhase(rawValue: $0.phase)!, iteration: $0.iteration, latencyMs: $0.latency_ms)
        }
        XCTAssertEqual(CSV.latencySamples(samples), try Fixtures.text("latency_samples.csv"))
    }
}

/// Photo-sized cases stored as checksums (fixtures/golden/preprocess_large.json).
struct LargeGolden: Decodable {
    struct Case: Decodable {
        let width: Int
        let height: Int
        let seed: Int
        let preprocess: PreprocessConfig
        let cropped_fnv1a64: String
        let tensor_fnv1a64: String
        let tensor_sum: Double
    }
    let cases: [Case]
}

/// FNV-1a 64 as in models/tests/golden_ios.rs.
func fnv1a64<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes {
        h ^= UInt64(b)
        h = h &* 0x100_0000_01b3
    }
    let hex = String(h, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

/// The Rust test pattern (`pattern` in models/tests/golden_ios.rs).
func rustPattern(_ w: Int, _ h: Int, seed: Int) -> RGBImage {
    var px = [UInt8](repeating: 0, count: w * h * 3)
    for y in 0..<h {
        for x in 0..<w {
            let i = (y * w + x) * 3
            px[i] = UInt8((x * 37 + y * 91 + seed * 11) % 256)
            px[i + 1] = (x / 3 + y / 2 + seed) % 2 == 0 ? 250 : 5
            px[i + 2] = UInt8(((x * x + 3 * y * y + 7 * x * y + seed) ^ (x * 29)) % 256)
        }
    }
    return try! RGBImage(width: w, height: h, pixels: px)
}

final class LargeGoldenTests: XCTestCase {
    func testPatternMatchesRust() throws {
        // The small golden images were made by the same formula.
        let g = try Fixtures.decode(PreprocessGolden.self, "preprocess.json")
        let img = try XCTUnwrap(g.images.first { $0.name == "landscape_37x23" })
        XCTAssertEqual(rustPattern(37, 23, seed: 0).pixels, img.rgb)
    }

    func testPhotoSizedPreprocessMatchesRust() throws {
        let g = try Fixtures.decode(LargeGolden.self, "preprocess_large.json")
        XCTAssertEqual(g.cases.count, 9)
        for c in g.cases {
            let img = rustPattern(c.width, c.height, seed: c.seed)
            let label = "\(c.width)x\(c.height) crop \(c.preprocess.cropSize) pct \(c.preprocess.cropPct)"
            XCTAssertEqual(fnv1a64(c.preprocess.resizeAndCrop(img).pixels), c.cropped_fnv1a64, label)
            let t = c.preprocess.apply(img)
            let le = t.map { Float(bitPattern: $0.bitPattern.littleEndian) }  // identity on little-endian hosts
            XCTAssertEqual(le.withUnsafeBytes { fnv1a64($0) }, c.tensor_fnv1a64, label)
            XCTAssertEqual(t.reduce(0.0) { $0 + Double($1) }, c.tensor_sum, accuracy: 1e-6 * Double(t.count), label)
        }
    }
}
