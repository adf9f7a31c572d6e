// Pixel sources → RGBImage (padded rows, BGRA order, alpha dropped), crops, the ImageFolder
// evaluation set layout, and preprocessing edge cases (identity size, config validation).

import Foundation
import XCTest
@testable import SceneBench

final class ImageBufferTests: XCTestCase {
    func testFourChannelWithStrideAndBGRA() throws {
        // 2×2 pixels, rows padded to 12 bytes: (B,G,R,A) per pixel.
        let bytes: [UInt8] = [
            1, 2, 3, 255, 4, 5, 6, 255, 0xEE, 0xEE, 0xEE, 0xEE,
            7, 8, 9, 0, 10, 11, 12, 0, 0xEE, 0xEE, 0xEE, 0xEE,
        ]
        let bgra = try bytes.withUnsafeBytes { try RGBImage(fourChannel: $0, width: 2, height: 2, bytesPerRow: 12, bgra: true) }
        XCTAssertEqual(bgra.pixels, [3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10])
        let rgba = try bytes.withUnsafeBytes { try RGBImage(fourChannel: $0, width: 2, height: 2, bytesPerRow: 12) }
        XCTAssertEqual(rgba.pixels, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try RGBImage(fourChannel: $0, width: 4, height: 2) })
        XCTAssertThrowsError(try RGBImage(width: 2, height: 2, pixels: [0, 1, 2]))
    }

    func testCropAndIdentityResize() throws {
        let img = try RGBImage(width: 3, height: 2, pixels: Array(0..<18).map(UInt8.init))
        XCTAssertEqual(img.cropped(x0: 1, y0: 1, width: 2, height: 1).pixels, [12, 13, 14, 15, 16, 17])
        XCTAssertEqual(resize(img, width: 3, height: 2, interpolation: .bicubic), img)
        // Constant images stay constant under any resize (weights are normalized).
        let flat = try RGBImage(width: 7, height: 5, pixels: [UInt8](repeating: 77, count: 105))
        XCTAssertTrue(resize(flat, width: 3, height: 11, interpolation: .bicubic).pixels.allSatisfy { $0 == 77 })
    }

    func testNormalizeHandComputed() throws {
        let p = PreprocessConfig(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], cropSize: 1, cropPct: 1)
        let v = p.apply(try RGBImage(width: 1, height: 1, pixels: [255, 0, 128]))
        XCTAssertEqual(v[0], (1 - 0.485) / 0.229, accuracy: 1e-6)
        XCTAssertEqual(v[1], (0 - 0.456) / 0.224, accuracy: 1e-6)
        XCTAssertEqual(v[2], (128.0 / 255 - 0.406) / 0.225, accuracy: 1e-6)
    }

    func testConfigJSONAndValidation() throws {
        let json = #"{"mean":[0.5,0.5,0.5],"std":[0.5,0.5,0.5],"crop_size":224,"crop_pct":0.9,"resize_shorter":248,"interpolation":"bicubic"}"#
        let p = try JSONDecoder().decode(PreprocessConfig.self, from: Data(json.utf8))
        XCTAssertEqual(p, .timmViT())
        XCTAssertNoThrow(try p.validate())
        XCTAssertEqual(p.resizedSize(width: 640, height: 480).width, 331)  // round(640·248/480) = round(330.67)
        var bad = p
        bad.std = [0.5, 0, 0.5]
        XCTAssertThrowsError(try bad.validate())
        bad = p
        bad.mean = [0.5]
        XCTAssertThrowsError(try bad.validate())
    }

    func testImageFolderLayout() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("scenebench-eval-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        for (cls, files) in [("coast", ["b.jpg", "a.JPG", "notes.txt"]), ("office", ["x.png"])] {
            let dir = root.appendingPathComponent("test/\(cls)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for f in files { try Data([1]).write(to: dir.appendingPathComponent(f)) }
        }
        let set = try EvalSet.imageFolder(root: root, split: "test", classes: ["coast", "forest", "office"]) { url in
            try RGBImage(width: 1, height: 1, pixels: [UInt8(url.lastPathComponent.count), 0, 0])
        }
        XCTAssertEqual(set.items.map(\.imageId), ["test/coast/a.JPG", "test/coast/b.jpg", "test/office/x.png"])
        XCTAssertEqual(set.items.map(\.trueLabel), ["coast", "coast", "office"])
        XCTAssertEqual(try set.items[2].load().pixels[0], 5)
        XCTAssertThrowsError(try EvalSet.imageFolder(root: root, split: "test", classes: ["coast"]) { _ in
            try RGBImage(width: 1, height: 1, pixels: [0, 0, 0])
        })
    }
}
