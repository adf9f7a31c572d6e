// Writers for `predictions.csv` and `latency_samples.csv` (docs/SCHEMAS.md, schema_version 1),
// byte-identical to the Rust harness (`csv` crate + serde over `results::records`): header row,
// columns in schema order, `\n` line ends, RFC 4180 quoting only where needed (a field containing
// `,`, `"`, `\r` or `\n` is quoted, inner quotes doubled), integers in decimal, f64 columns in
// `ryu` form, list cells `;`-separated in Rust Debug form — f64 probabilities, f32 logits — as
// `results::records::PredictionRecord::from_logits` builds them (see FloatFormat.swift).

import Foundation

/// Version of every CSV schema in docs/SCHEMAS.md.
public let schemaVersion = 1

/// Backend name of CoreML rows.
public let coremlBackend = "coreml"

/// One row of `predictions.csv`.
public struct PredictionRow: Sendable, Equatable {
    public var runId: String
    public var model: String
    public var backend: String
    public var device: String
    public var computeUnit: String
    public var split: String
    public var imageId: String
    public var trueLabel: String
    public var predLabel: String
    public var confidence: Double
    public var trueProb: Double
    public var top5Labels: [String]
    public var top5Probs: [Double]
    /// The model's logits as it output them (f32), in class order.
    public var logits: [Float]

    public static let columns = [
        "schema_version", "run_id", "model", "backend", "device", "compute_unit", "split", "image_id",
        "true_label", "pred_label", "confidence", "true_prob", "top5_labels", "top5_probs", "logits",
    ]

    /// Build a row from logits: softmax in f64, top-5 (or C if fewer, ties to the lower index),
    /// probability of the true class — the rules of the Rust `PredictionRecord::from_logits`.
    public init(
        runId: String, model: String, backend: String = coremlBackend, device: String, computeUnit: String,
        split: String, imageId: String, trueLabel: String, logits: [Float], classes: [String]
    ) throws {
        guard logits.count == classes.count, !classes.isEmpty else {
            throw CSVError.shape("image \(imageId): \(logits.count) logits for \(classes.count) classes")
        }
        if let i = logits.firstIndex(where: { !$0.isFinite }) {
            throw CSVError.shape("image \(imageId): logit \(i) is \(logits[i])")
        }
        guard let ti = classes.firstIndex(of: trueLabel) else {
            throw CSVError.shape("image \(imageId): true label '\(trueLabel)' is not a class")
        }
        let c = Classification(logits: logits.map(Double.init), classes: classes)
        let top = c.top(5)
        self.runId = runId
        self.model = model
        self.backend = backend
        self.device = device
        self.computeUnit = computeUnit
        self.split = split
        self.imageId = imageId
        self.trueLabel = trueLabel
        predLabel = c.top1.label
        confidence = c.top1.probability
        trueProb = c.probabilities[ti]
        top5Labels = top.map(\.label)
        top5Probs = top.map(\.probability)
        self.logits = logits
    }

    var fields: [String] {
        [
            String(schemaVersion), runId, model, backend, device, computeUnit, split, imageId, trueLabel,
            predLabel, RustFloat.ryu(confidence), RustFloat.ryu(trueProb), top5Labels.joined(separator: ";"),
            RustFloat.list(top5Probs), RustFloat.list(logits),
        ]
    }
}

/// Event kinds of `latency_samples.csv`.
public enum LatencyPhase: String, Sendable, Codable {
    case load, warmup, measure
}

/// One row of `latency_samples.csv`.
public struct LatencySampleRow: Sendable, Equatable {
    public var runId: String
    public var model: String
    public var backend: String
    public var engineVersion: String
    public var device: String
    public var computeUnit: String
    public var precision: String
    public var threads: Int
    public var batchSize: Int
    public var mode: String
    public var phase: LatencyPhase
    public var iteration: Int
    public var latencyMs: Double

    public static let columns = [
        "schema_version", "run_id", "model", "backend", "engine_version", "device", "compute_unit", "precision",
        "threads", "batch_size", "mode", "phase", "iteration", "latency_ms",
    ]

    public init(
        runId: String, model: String, backend: String = coremlBackend, engineVersion: String, device: String,
        computeUnit: String, precision: String, threads: Int = 0, batchSize: Int = 1, mode: String = "model",
        phase: LatencyPhase, iteration: Int, latencyMs: Double
    ) {
        self.runId = runId
        self.model = model
        self.backend = backend
        self.engineVersion = engineVersion
        self.device = device
        self.computeUnit = computeUnit
        self.precision = precision
        self.threads = threads
        self.batchSize = batchSize
        self.mode = mode
        self.phase = phase
        self.iteration = iteration
        self.latencyMs = latencyMs
    }

    var fields: [String] {
        [
            String(schemaVersion), runId, model, backend, engineVersion, device, computeUnit, precision,
            String(threads), String(batchSize), mode, phase.rawValue, String(iteration), RustFloat.ryu(latencyMs),
        ]
    }
}

public enum CSVError: Error, LocalizedError, Equatable {
    case shape(String)

    public var errorDescription: String? {
        switch self {
        case .shape(let m): return "predictions.csv: \(m)"
        }
    }
}

/// RFC 4180 CSV text, quoting like the Rust `csv` crate's default (`QuoteStyle::Necessary`).
public enum CSV {
    public static func field(_ s: String) -> String {
        let needsQuotes = s.utf8.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 }
        guard needsQuotes else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func line(_ fields: [String]) -> String {
        fields.map(field).joined(separator: ",") + "\n"
    }

    /// Text of `predictions.csv` (header + one line per row).
    public static func predictions(_ rows: [PredictionRow]) -> String {
        var out = line(PredictionRow.columns)
        for r in rows { out += line(r.fields) }
        return out
    }

    /// Text of `latency_samples.csv` (header + one line per row).
    public static func latencySamples(_ rows: [LatencySampleRow]) -> String {
        var out = line(LatencySampleRow.columns)
        for r in rows { out += line(r.fields) }
        return out
    }
}
