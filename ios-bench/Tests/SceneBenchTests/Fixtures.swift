// Locating the golden vectors shared with Rust (fixtures/golden/, written by
// models/tests/golden_ios.rs) and reading them.

import Foundation
import XCTest

enum Fixtures {
    /// `SCENEBENCH_GOLDEN_DIR`, else `<repo>/fixtures/golden` relative to this file.
    static var goldenDir: URL {
        if let d = ProcessInfo.processInfo.environment["SCENEBENCH_GOLDEN_DIR"], !d.isEmpty {
            return URL(fileURLWithPath: d, isDirectory: true)
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fixtures/golden")
    }

    static var updating: Bool { ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" }

    static func data(_ name: String) throws -> Data {
        let url = goldenDir.appendingPathComponent(name)
        do {
            return try Data(contentsOf: url)
        } catch {
            XCTFail("missing golden file \(url.path) (generate with UPDATE_GOLDEN=1 cargo test -p models --test golden_ios)")
            throw error
        }
    }

    static func text(_ name: String) throws -> String { String(decoding: try data(name), as: UTF8.self) }

    static func decode<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        try JSONDecoder().decode(T.self, from: try data(name))
    }
}
