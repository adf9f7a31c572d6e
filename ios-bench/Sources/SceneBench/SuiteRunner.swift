// The device benchmark suite, independent of CoreML so it is tested on Linux with a fake model:
// for each compute unit, load the model (timed → a `phase=load` row), warm up (`warmup` rows,
// excluded from summaries by the harness), classify every evaluation image (one
// `predictions.csv` row each), then a latency loop on one preprocessed tensor (`measure` rows,
// mode `model` = tensor in → logits out), all on the monotonic clock. Thermal state is sampled at
// the start and end of the run. The compute unit written in each row is the one requested when
// the model was loaded — CoreML fixes it at load time, not at export time (issue 6).

import Foundation

/// CoreML compute units, spelled as in the CSV `compute_unit` column.
public enum ComputeUnit: String, CaseIterable, Codable, Sendable {
    case all
    case cpuAndNeuralEngine
    case cpuAndGPU
    case cpuOnly
}

/// A model the suite can time. `Input` is the engine's input object (an MLMultiArray on Apple
/// platforms) filled once per image.
public protocol BenchModel {
    associatedtype Input
    /// Preprocess an image straight into a new input object.
    func makeInput(_ image: RGBImage) throws -> Input
    /// Logits, one per class.
    func predict(_ input: Input) throws -> [Float]
}

/// Loads a model for a compute unit; the load is what the `load` row times.
public protocol BenchModelLoader {
    associatedtype Model: BenchModel
    /// Classes in logit order (the model's `scenebench.classes`).
    var classes: [String] { get }
    var preprocess: PreprocessConfig { get }
    /// Model description for the manifest.
    var modelInfo: ModelInfo { get }
    func load(computeUnit: ComputeUnit) throws -> Model
}

/// One evaluation image.
public struct EvalItem: Sendable {
    /// Stable id: path relative to the dataset root.
    public let imageId: String
    public let trueLabel: String
    public let load: @Sendable () throws -> RGBImage

    public init(imageId: String, trueLabel: String, load: @escaping @Sendable () throws -> RGBImage) {
        self.imageId = imageId
        self.trueLabel = trueLabel
        self.load = load
    }
}

/// An evaluation set bundled with the app (or a folder on a Mac).
public struct EvalSet: Sendable {
    public var name: String
    public var split: String
    public var items: [EvalItem]
    public var contentSha256: String

    public init(name: String, split: String = "val", items: [EvalItem], contentSha256: String = "") {
        self.name = name
        self.split = split
        self.items = items
        self.contentSha256 = contentSha256
    }
}

public struct SuiteOptions: Sendable {
    public var runId: String
    public var computeUnits: [ComputeUnit]
    public var warmupIterations: Int
    public var measureIterations: Int
    /// `fp32`, `fp16`, `int8w` — how the package was exported.
    public var precision: String
    public var appVersion: String
    public var command: [String]

    public init(
        runId: String = SuiteOptions.defaultRunId(), computeUnits: [ComputeUnit] = ComputeUnit.allCases,
        warmupIterations: Int = 5, measureIterations: Int = 50, precision: String = "fp16",
        appVersion: String = "0.1.0", command: [String] = ["scenebench-ios-bench"]
    ) {
        self.runId = runId
        self.computeUnits = computeUnits
        self.warmupIterations = warmupIterations
        self.measureIterations = measureIterations
        self.precision = precision
        self.appVersion = appVersion
        self.command = command
    }

    /// `device-<model>-<UTC timestamp>`.
    public static func defaultRunId(now: Date = Date()) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let model = DeviceInfo.model.replacingOccurrences(of: ",", with: "_")
        return "device-\(model)-\(f.string(from: now))"
    }
}

public enum SuiteError: Error, LocalizedError {
    case image(id: String, reason: String)
    case model(computeUnit: ComputeUnit, reason: String)
    case emptyEvalSet

    public var errorDescription: String? {
        switch self {
        case .image(let id, let r): return "evaluation image \(id): \(r)"
        case .model(let cu, let r): return "model with compute unit \(cu.rawValue): \(r)"
        case .emptyEvalSet: return "the evaluation set has no images"
        }
    }
}

/// Everything a run produced, ready to write or upload.
public struct SuiteResult: Sendable {
    public var manifest: Manifest
    public var predictions: [PredictionRow]
    public var latency: [LatencySampleRow]

    public var predictionsCSV: String { CSV.predictions(predictions) }
    public var latencyCSV: String { CSV.latencySamples(latency) }

    /// The upload body (`upload_id` defaults to the run id, so re-sending is idempotent).
    public func uploadPayload(uploadId: String? = nil) -> UploadPayload {
        UploadPayload(uploadId: uploadId ?? manifest.runId, manifest: manifest, predictionsCSV: predictionsCSV, latencyCSV: latencyCSV)
    }

    /// Write `manifest.json`, `predictions.csv`, `latency_samples.csv` into `directory`.
    public func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try manifest.jsonData().write(to: directory.appendingPathComponent("manifest.json"), options: .atomic)
        try Data(predictionsCSV.utf8).write(to: directory.appendingPathComponent("predictions.csv"), options: .atomic)
        try Data(latencyCSV.utf8).write(to: directory.appendingPathComponent("latency_samples.csv"), options: .atomic)
    }
}

/// Runs the suite. `progress` receives human-readable steps (for the app's Benchmark screen).
public struct SuiteRunner<Loader: BenchModelLoader> {
    public let loader: Loader
    public let evalSet: EvalSet
    public let options: SuiteOptions

    public init(loader: Loader, evalSet: EvalSet, options: SuiteOptions) {
        self.loader = loader
        self.evalSet = evalSet
        self.options = options
    }

    public func run(
        device: String = DeviceInfo.model, osVersion: String = DeviceInfo.osVersion,
        thermalState: () -> String = { DeviceInfo.thermalState }, progress: (String) -> Void = { _ in }
    ) throws -> SuiteResult {
        guard let first = evalSet.items.first else { throw SuiteError.emptyEvalSet }
        let started = Date()
        let thermalStart = thermalState()
        let classes = loader.classes
        let modelName = loader.modelInfo.name
        let engine = "coreml \(osVersion)"
        var predictions: [PredictionRow] = []
        var latency: [LatencySampleRow] = []

        func sample(_ cu: ComputeUnit, _ phase: LatencyPhase, _ i: Int, _ ms: Double) -> LatencySampleRow {
            LatencySampleRow(
                runId: options.runId, model: modelName, engineVersion: engine, device: device,
                computeUnit: cu.rawValue, precision: options.precision, threads: 0, batchSize: 1, mode: "model",
                phase: phase, iteration: i, latencyMs: ms)
        }

        for cu in options.computeUnits {
            progress("\(cu.rawValue): loading")
            let model: Loader.Model
            let loadMs: Double
            do {
                (model, loadMs) = try Stopwatch.measure { try loader.load(computeUnit: cu) }
            } catch {
                throw SuiteError.model(computeUnit: cu, reason: error.localizedDescription)
            }
            latency.append(sample(cu, .load, 0, loadMs))

            let timingInput: Loader.Model.Input
            do {
                timingInput = try model.makeInput(try first.load())
            } catch {
                throw SuiteError.image(id: first.imageId, reason: error.localizedDescription)
            }
            progress("\(cu.rawValue): warm-up")
            for i in 0..<options.warmupIterations {
                let (_, ms) = try Stopwatch.measure { try model.predict(timingInput) }
                latency.append(sample(cu, .warmup, i, ms))
            }

            progress("\(cu.rawValue): \(evalSet.items.count) images")
            for item in evalSet.items {
                let logits: [Float]
                do {
                    logits = try model.predict(try model.makeInput(try item.load()))
                } catch {
                    throw SuiteError.image(id: item.imageId, reason: error.localizedDescription)
                }
                predictions.append(
                    try PredictionRow(
                        runId: options.runId, model: modelName, device: device, computeUnit: cu.rawValue,
                        split: evalSet.split, imageId: item.imageId, trueLabel: item.trueLabel,
                        logits: logits, classes: classes))
            }

            progress("\(cu.rawValue): \(options.measureIterations) timed runs")
            for i in 0..<options.measureIterations {
                let (_, ms) = try Stopwatch.measure { try model.predict(timingInput) }
                latency.append(sample(cu, .measure, i, ms))
            }
        }

        let manifest = Manifest(
            runId: options.runId, tool: ToolInfo(version: options.appVersion), command: options.command,
            startedAt: started, finishedAt: Date(), host: DeviceInfo.host(), engines: ["coreml": osVersion],
            threads: [0], dataset: DatasetInfo(
                source: evalSet.name, synthetic: false, splits: [evalSet.split: evalSet.items.count], classes: classes,
                contentSha256: evalSet.contentSha256),
            models: [loader.modelInfo], classes: classes,
            device: DeviceBlock(
                model: device, os: osVersion, thermalStart: thermalStart, thermalEnd: thermalState(),
                appVersion: options.appVersion),
            notes: ["compute_unit is the MLModelConfiguration.computeUnits requested at load; CoreML may still run some layers elsewhere"])
        return SuiteResult(manifest: manifest, predictions: predictions, latency: latency)
    }
}

extension EvalSet {
    /// Image extensions picked up by `imageFolder`.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "heic", "webp", "bmp"]

    /// An ImageFolder-style set: `<root>/<split>/<class>/<file>`; `image_id` is the path relative
    /// to `root` (as the harness's folder datasets), sorted for a stable order. Class folders not
    /// in `classes` are an error (the harness would reject their labels).
    public static func imageFolder(
        root: URL, split: String, classes: [String], decode: @escaping @Sendable (URL) throws -> RGBImage
    ) throws -> EvalSet {
        let fm = FileManager.default
        let splitDir = root.appendingPathComponent(split, isDirectory: true)
        var items: [EvalItem] = []
        let classDirs = try fm.contentsOfDirectory(atPath: splitDir.path).filter { !$0.hasPrefix(".") }.sorted()
        for cls in classDirs {
            var isDir: ObjCBool = false
            let dir = splitDir.appendingPathComponent(cls, isDirectory: true)
            guard fm.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else { continue }
            guard classes.contains(cls) else {
                throw SuiteError.image(id: "\(split)/\(cls)", reason: "folder is not one of the model's classes")
            }
            for file in try fm.contentsOfDirectory(atPath: dir.path).sorted()
            where imageExtensions.contains((file as NSString).pathExtension.lowercased()) {
                let url = dir.appendingPathComponent(file)
                items.append(EvalItem(imageId: "\(split)/\(cls)/\(file)", trueLabel: cls) { try decode(url) })
            }
        }
        return EvalSet(name: root.lastPathComponent, split: split, items: items)
    }
}
