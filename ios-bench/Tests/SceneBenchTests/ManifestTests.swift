// manifest.json and the upload body: snake_case keys of docs/SCHEMAS.md, round trip, the schema's
// own example decodes.

import XCTest
@testable import SceneBench

func sampleManifest(device: DeviceBlock? = DeviceBlock(model: "iPhone15,2", os: "iOS 18.1", thermalStart: "nominal", thermalEnd: "fair", appVersion: "0.1.0")) -> Manifest {
    Manifest(
        runId: "device-iPhone15_2-20261204T213000Z", tool: ToolInfo(version: "0.1.0"), command: ["app"],
        startedAt: Date(timeIntervalSince1970: 1_796_420_000), finishedAt: Date(timeIntervalSince1970: 1_796_420_060),
        host: HostInfo(hostname: "phone", os: "iOS 18.1", arch: "aarch64", cpuModel: "iPhone15,2", cores: 6, memoryBytes: 6 << 30),
        engines: ["coreml": "iOS 18.1"], threads: [0],
        dataset: DatasetInfo(source: "bundled", synthetic: false, splits: ["val": 2], classes: ["beach", "living room"], contentSha256: ""),
        models: [ModelInfo(name: "finetune", path: "finetune.mlpackage", sha256: "ab", config: .object(["image_size": .number(224)]),
                           preprocess: .timmViT())],
        classes: ["beach", "living room"], device: device, notes: ["n"])
}

final class ManifestTests: XCTestCase {
    func testRoundTripAndKeys() throws {
        let m = sampleManifest()
        let data = try m.jsonData()
        XCTAssertEqual(try JSONDecoder().decode(Manifest.self, from: data), m)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(Set(obj.keys), [
            "schema_version", "run_id", "tool", "command", "started_at", "finished_at", "host", "engines", "threads",
            "seeds", "dataset", "models", "classes", "device", "notes",
        ])
        XCTAssertEqual(obj["schema_version"] as? Int, 1)
        XCTAssertEqual(obj["started_at"] as? String, "2026-12-04T21:33:20Z")
        let device = try XCTUnwrap(obj["device"] as? [String: Any])
        XCTAssertEqual(Set(device.keys), ["model", "os", "thermal_start", "thermal_end", "app_version"])
        let model = try XCTUnwrap((obj["models"] as? [[String: Any]])?.first)
        let pp = try XCTUnwrap(model["preprocess"] as? [String: Any])
        XCTAssertEqual(Set(pp.keys), ["mean", "std", "crop_size", "crop_pct", "resize_shorter", "interpolation"])
        XCTAssertEqual(pp["resize_shorter"] as? Int, 248)
        XCTAssertEqual(pp["interpolation"] as? String, "bicubic")
        let ds = try XCTUnwrap(obj["dataset"] as? [String: Any])
        XCTAssertTrue(ds.keys.contains("root"))  // written as null
    }

    func testNullDeviceIsWritten() throws {
        let data = try sampleManifest(device: nil).jsonData()
        XCTAssertTrue(String(decoding: data, as: UTF8.self).contains("\"device\" : null"))
        XCTAssertNil(try JSONDecoder().decode(Manifest.self, from: data).device)
    }

    func testSchemaExampleDecodes() throws {
        // The example of docs/SCHEMAS.md with the device block filled in.
        let json = """
        {"schema_version": 1, "run_id": "default-20261204T2130Z",
         "tool": {"name": "scenebench", "version": "0.1.0", "git_sha": "abc", "git_dirty": false},
         "command": ["scenebench", "run"], "started_at": "2026-12-04T21:30:00Z", "finished_at": "x",
         "host": {"hostname": "h", "os": "linux", "arch": "x86_64", "cpu_model": "c", "cpu_features": ["avx2","avx512f"], "cores": 2, "memory_bytes": 0},
         "engines": {"candle": "0.11.1", "onnxruntime": "1.31.0", "tract": "0.23.9"}, "threads": [1, 2],
         "seeds": {"data": 0, "train": 0, "bootstrap": 0},
         "dataset": {"source": "synthetic", "synthetic": true, "root": null, "splits": {"train": 0, "val": 0, "test": 0}, "classes": ["beach"], "content_sha256": "s"},
         "models": [{"name": "finetune", "path": "p", "sha256": "h", "config": {}, "preprocess": {"mean":[0.5,0.5,0.5],"std":[0.5,0.5,0.5],"crop_size":224,"crop_pct":0.9,"resize_shorter":248,"interpolation":"bicubic"}}],
         "classes": ["beach"],
         "device": {"model": "iPhone15,2", "os": "iOS 18.1", "thermal_start": "nominal", "thermal_end": "fair", "app_version": "1"},
         "notes": []}
        """
        let m = try JSONDecoder().decode(Manifest.self, from: Data(json.utf8))
        XCTAssertEqual(m.device?.thermalEnd, "fair")
        XCTAssertEqual(m.models[0].preprocess, PreprocessConfig.timmViT())
        XCTAssertEqual(m.threads, [1, 2])
        XCTAssertEqual(m.tool.gitDirty, false)
    }

    func testUploadPayloadShape() throws {
        let p = UploadPayload(uploadId: "u1", manifest: sampleManifest(), predictionsCSV: "a\n", latencyCSV: nil)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(p)) as? [String: Any])
        XCTAssertEqual(obj["schema_version"] as? Int, 1)
        XCTAssertEqual(obj["upload_id"] as? String, "u1")
        XCTAssertEqual(obj["files"] as? [String: String], ["predictions.csv": "a\n"])
        XCTAssertEqual(try JSONDecoder().decode(UploadPayload.self, from: JSONEncoder().encode(p)), p)
    }
}
