// The suite runner with a fake model (no CoreML on Linux): which rows it emits per compute unit,
// what the manifest records, and the Swift-produced upload fixture
// (fixtures/golden/swift_run/) that the harness's upload tests feed to `scenebench serve`.

import Foundation
import XCTest
@testable import SceneBench

let scene15Classes = [
    "bedroom", "coast", "forest", "highway", "industrial", "inside_city", "kitchen", "living_room", "mountain",
    "office", "open_country", "store", "street", "suburb", "tall_building",
]

/// Logits from the mean of each channel of the preprocessed tensor: deterministic, image-dependent.
struct FakeModel: BenchModel {
    let preprocess: PreprocessConfig
    let classes: Int

    func makeInput(_ image: RGBImage) throws -> [Float] { preprocess.apply(image) }

    func predict(_ input: [Float]) throws -> [Float] {
        let plane = input.count / 3
        var means: [Float] = [0, 0, 0]
        for c in 0..<3 {
            var s: Float = 0
            for i in (c * plane)..<((c + 1) * plane) { s += input[i] }
            means[c] = s / Float(plane)
        }
        var logits: [Float] = []
        for k in 0..<classes {
            let scale = Float(k + 1) / 4
            logits.append(means[k % 3] * scale - Float(k) / 8)
        }
        return logits
    }
}

final class FakeLoader: BenchModelLoader, @unchecked Sendable {
    let classes: [String]
    let preprocess = PreprocessConfig(mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], cropSize: 16, cropPct: 0.875)
    var loaded: [ComputeUnit] = []
    var modelInfo: ModelInfo {
        ModelInfo(name: "finetune", path: "finetune.mlpackage", sha256: "0f", config: .object([:]), preprocess: preprocess)
    }

    init(classes: [String]) { self.classes = classes }

    func load(computeUnit: ComputeUnit) throws -> FakeModel {
        loaded.append(computeUnit)
        return FakeModel(preprocess: preprocess, classes: classes.count)
    }
}

func gradientImage(_ w: Int, _ h: Int, seed: Int) -> RGBImage {
    var px = [UInt8]()
    for y in 0..<h {
        for x in 0..<w {
            px += [UInt8((x * 9 + seed * 31) % 256), UInt8((y * 7 + seed * 17) % 256), UInt8((x * y + seed) % 256)]
        }
    }
    return try! RGBImage(width: w, height: h, pixels: px)
}

func evalSet() -> EvalSet {
    let items = (0..<4).map { i in
        let label = scene15Classes[(i * 4) % scene15Classes.count]
        return EvalItem(imageId: "test/\(label)/image_\(String(format: "%04d", i + 1)).jpg", trueLabel: label) {
            gradientImage(30 + i, 20 + 2 * i, seed: i)
        }
    }
    return EvalSet(name: "scene15", split: "test", items: items, contentSha256: "")
}

final class SuiteRunnerTests: XCTestCase {
    func run(_ loader: FakeLoader) throws -> SuiteResult {
        let options = SuiteOptions(runId: "swift-fixture-run", warmupIterations: 2, measureIterations: 3, precision: "fp16", appVersion: "0.1.0", command: ["SceneBenchTests"])
        var thermal = ["nominal", "fair"].makeIterator()
        var steps: [String] = []
        let r = try SuiteRunner(loader: loader, evalSet: evalSet(), options: options).run(
            device: "iPhone15,2", osVersion: "iOS 18.1", thermalState: { thermal.next() ?? "critical" },
            progress: { steps.append($0) })
        XCTAssertEqual(steps.first, "all: loading")
        return r
    }

    func testRowsPerComputeUnit() throws {
        let loader = FakeLoader(classes: scene15Classes)
        let r = try run(loader)
        XCTAssertEqual(loader.loaded, [.all, .cpuAndNeuralEngine, .cpuAndGPU, .cpuOnly])
        XCTAssertEqual(r.predictions.count, 4 * 4)
        XCTAssertEqual(r.latency.count, 4 * (1 + 2 + 3))
        for cu in ComputeUnit.allCases {
            let rows = r.latency.filter { $0.computeUnit == cu.rawValue }
            XCTAssertEqual(rows.map(\.phase), [.load, .warmup, .warmup, .measure, .measure, .measure])
            XCTAssertEqual(rows.map(\.iteration), [0, 0, 1, 0, 1, 2])
            XCTAssertTrue(rows.allSatisfy { $0.latencyMs >= 0 && $0.engineVersion == "coreml iOS 18.1" && $0.threads == 0 })
            XCTAssertEqual(r.predictions.filter { $0.computeUnit == cu.rawValue }.count, 4)
        }
        XCTAssertTrue(r.predictions.allSatisfy { $0.backend == "coreml" && $0.device == "iPhone15,2" && $0.split == "test" })
        // Same model for every unit here → same predictions per unit.
        XCTAssertEqual(r.predictions[0].logits, r.predictions[4].logits)
        XCTAssertEqual(r.manifest.device, DeviceBlock(model: "iPhone15,2", os: "iOS 18.1", thermalStart: "nominal", thermalEnd: "fair", appVersion: "0.1.0"))
        XCTAssertEqual(r.manifest.classes, scene15Classes)
        XCTAssertEqual(r.manifest.dataset.splits, ["test": 4])
    }

    func testEmptySetIsAnError() {
        let runner = SuiteRunner(loader: FakeLoader(classes: ["a"]), evalSet: EvalSet(name: "x", items: []), options: SuiteOptions(runId: "r"))
        XCTAssertThrowsError(try runner.run(device: "d", osVersion: "o"))
    }

    /// The Swift-produced run the harness side uploads in its tests: deterministic (fixed clock
    /// values and host), regenerated with UPDATE_GOLDEN=1 scripts/swift-test.sh.
    func testSwiftRunFixture() throws {
        var r = try run(FakeLoader(classes: scene15Classes))
        r.latency = r.latency.enumerated().map { i, s in
            var s = s
            s.latencyMs = s.phase == .load ? 850.5 + Double(i) : 20 + Double(i) * 0.125
            return s
        }
        r.manifest.startedAt = "2026-12-04T21:30:00Z"
        r.manifest.finishedAt = "2026-12-04T21:31:00Z"
        r.manifest.host = HostInfo(hostname: "fixture", os: "iOS 18.1", arch: "aarch64", cpuModel: "iPhone15,2", cores: 6, memoryBytes: 6_442_450_944)
        let payload = r.uploadPayload()
        XCTAssertEqual(payload.uploadId, "swift-fixture-run")

        let dir = Fixtures.goldenDir.appendingPathComponent("swift_run")
        if Fixtures.updating {
            try r.write(to: dir)
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try e.encode(payload).write(to: dir.appendingPathComponent("upload.json"), options: .atomic)
            return
        }
        XCTAssertEqual(try Fixtures.text("swift_run/predictions.csv"), r.predictionsCSV)
        XCTAssertEqual(try Fixtures.text("swift_run/latency_samples.csv"), r.latencyCSV)
        XCTAssertEqual(try Fixtures.decode(Manifest.self, "swift_run/manifest.json"), r.manifest)
        XCTAssertEqual(try Fixtures.decode(UploadPayload.self, "swift_run/upload.json"), payload)
    }
}
