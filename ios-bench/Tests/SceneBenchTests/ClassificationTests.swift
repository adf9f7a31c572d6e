// softmax / top-k / the 0.40 low-confidence rule, against hand-computed values.

import XCTest
@testable import SceneBench

final class ClassificationTests: XCTestCase {
    func testSoftmaxHandComputed() {
        // e^0, e^-1, e^-1.9 over their sum (computed independently: 1, 0.36787944, 0.14956862).
        let p = softmax([2.0, 1.0, 0.1])
        XCTAssertEqual(p[0], 0.6590011388859679, accuracy: 1e-12)
        XCTAssertEqual(p[1], 0.2424329707047139, accuracy: 1e-12)
        XCTAssertEqual(p[2], 0.09856589040931818, accuracy: 1e-12)
        XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-15)
    }

    func testSoftmaxIsStableForHugeLogits() {
        let p = softmax([1000.0, 999.0, -1000.0])
        XCTAssertFalse(p.contains { $0.isNaN })
        XCTAssertEqual(p[0], 1 / (1 + exp(-1.0)), accuracy: 1e-12)
        XCTAssertEqual(p[2], 0, accuracy: 1e-300)
        XCTAssertEqual(softmax([Float(88), 89, 90]).count, 3)
        XCTAssertEqual(softmax([Double]()), [])
    }

    func testTopKOrderAndTies() {
        XCTAssertEqual(topK([0.1, 0.3, 0.3, 0.2], k: 3), [1, 2, 3])
        XCTAssertEqual(topK([0.5, 0.5], k: 5), [0, 1])
        XCTAssertEqual(topK([0.2, 0.8], k: 0), [])
    }

    func testLowConfidenceRule() {
        let policy = LowConfidencePolicy(threshold: 0.40)
        XCTAssertEqual(policy, .standard)
        XCTAssertTrue(policy.isLowConfidence(0.399999))
        XCTAssertFalse(policy.isLowConfidence(0.40))
        XCTAssertFalse(policy.isLowConfidence(0.9))
        // Four equal classes → 25% top-1 → flagged; one dominant class → not flagged.
        XCTAssertTrue(Classification(logits: [0, 0, 0, 0], classes: ["a", "b", "c", "d"]).lowConfidence)
        let sure = Classification(logits: [5, 0, 0], classes: ["beach", "forest", "office"])
        XCTAssertFalse(sure.lowConfidence)
        XCTAssertEqual(sure.top1.label, "beach")
        XCTAssertEqual(sure.top(3).map(\.label), ["beach", "forest", "office"])
    }
}
