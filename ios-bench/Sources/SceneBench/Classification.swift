// Turning logits into what the app shows and the CSVs record: a numerically stable softmax,
// top-k (descending, ties to the lower class index, as the Rust harness), and the one
// low-confidence rule (top-1 probability below 0.40 → "not sure"), matching the harness's
// selective-accuracy metrics `coverage@0.40` etc. (docs/SCHEMAS.md).

import Foundation

/// Numerically stable softmax in Double: subtract the max logit before `exp`.
public func softmax(_ logits: [Double]) -> [Double] {
    guard let m = logits.max() else { return [] }
    let e = logits.map { Foundation.exp($0 - m) }
    var s = 0.0
    for v in e { s += v }  // left-to-right, as Rust's `iter().sum()`
    return e.map { $0 / s }
}

/// Softmax of Float logits (CoreML output), computed in Double.
public func softmax(_ logits: [Float]) -> [Double] { softmax(logits.map(Double.init)) }

/// Indices of the `k` largest values, descending; ties keep the lower index first.
public func topK(_ values: [Double], k: Int) -> [Int] {
    let idx = values.indices.sorted { a, b in
        values[a] != values[b] ? values[a] > values[b] : a < b
    }
    return Array(idx.prefix(max(k, 0)))
}

/// One ranked class.
public struct RankedClass: Sendable, Equatable {
    public let index: Int
    public let label: String
    public let probability: Double
}

/// The rule that decides when the app says it is not sure.
public struct LowConfidencePolicy: Sendable, Equatable {
    /// Top-1 probabilities strictly below this are flagged.
    public let threshold: Double

    public init(threshold: Double) { self.threshold = threshold }

    /// The project's rule: flag a top-1 below 40%.
    public static let standard = LowConfidencePolicy(threshold: 0.40)

    public func isLowConfidence(_ top1Probability: Double) -> Bool { top1Probability < threshold }
}

/// A classified image: probabilities, ranking and the low-confidence verdict in one value.
public struct Classification: Sendable, Equatable {
    public let logits: [Double]
    public let probabilities: [Double]
    /// All classes, most probable first.
    public let ranking: [RankedClass]
    public let lowConfidence: Bool

    public init(logits: [Double], classes: [String], policy: LowConfidencePolicy = .standard) {
        precondition(logits.count == classes.count && !classes.isEmpty, "one logit per class")
        self.logits = logits
        let p = softmax(logits)
        probabilities = p
        ranking = topK(p, k: p.count).map { RankedClass(index: $0, label: classes[$0], probability: p[$0]) }
        lowConfidence = policy.isLowConfidence(p[ranking[0].index])
    }

    public var top1: RankedClass { ranking[0] }

    public func top(_ k: Int) -> [RankedClass] { Array(ranking.prefix(k)) }
}
