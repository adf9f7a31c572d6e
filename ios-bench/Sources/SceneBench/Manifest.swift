// The run manifest (`manifest.json`, docs/SCHEMAS.md) as written by a device run, with the
// `device` block the harness requires for uploads, and the upload body of
// `POST /api/v1/uploads`. Keys are snake_case exactly as in the schema.

import Foundation

/// Free-form JSON (model config, provenance).
public enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}

public struct ToolInfo: Codable, Sendable, Equatable {
    public var name: String
    public var version: String
    public var gitSha: String?
    public var gitDirty: Bool?

    enum CodingKeys: String, CodingKey {
        case name, version
        case gitSha = "git_sha"
        case gitDirty = "git_dirty"
    }

    public init(name: String = "scenebench-ios-bench", version: String, gitSha: String? = nil, gitDirty: Bool? = nil) {
        self.name = name
        self.version = version
        self.gitSha = gitSha
        self.gitDirty = gitDirty
    }
}

public struct HostInfo: Codable, Sendable, Equatable {
    public var hostname: String
    public var os: String
    public var arch: String
    public var cpuModel: String
    public var cpuFeatures: [String]
    public var cores: Int
    public var memoryBytes: UInt64

    enum CodingKeys: String, CodingKey {
        case hostname, os, arch, cores
        case cpuModel = "cpu_model"
        case cpuFeatures = "cpu_features"
        case memoryBytes = "memory_bytes"
    }

    public init(hostname: String, os: String, arch: String, cpuModel: String, cpuFeatures: [String] = [], cores: Int, memoryBytes: UInt64) {
        self.hostname = hostname
        self.os = os
        self.arch = arch
        self.cpuModel = cpuModel
        self.cpuFeatures = cpuFeatures
        self.cores = cores
        self.memoryBytes = memoryBytes
    }
}

public struct Seeds: Codable, Sendable, Equatable {
    public var data: UInt64
    public var train: UInt64
    public var bootstrap: UInt64

    public init(data: UInt64 = 0, train: UInt64 = 0, bootstrap: UInt64 = 0) {
        self.data = data
        self.train = train
        self.bootstrap = bootstrap
    }
}

public struct DatasetInfo: Codable, Sendable, Equatable {
    public var source: String
    public var synthetic: Bool
    public var root: String?
    public var splits: [String: Int]
    public var classes: [String]
    public var contentSha256: String

    enum CodingKeys: String, CodingKey {
        case source, synthetic, root, splits, classes
        case contentSha256 = "content_sha256"
    }

    public init(source: String, synthetic: Bool, root: String? = nil, splits: [String: Int], classes: [String], contentSha256: String) {
        self.source = source
        self.synthetic = synthetic
        self.root = root
        self.splits = splits
        self.classes = classes
        self.contentSha256 = contentSha256
    }

    // `root` is always written, as `null` when absent (the schema shows the key).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(source, forKey: .source)
        try c.encode(synthetic, forKey: .synthetic)
        try c.encode(root, forKey: .root)
        try c.encode(splits, forKey: .splits)
        try c.encode(classes, forKey: .classes)
        try c.encode(contentSha256, forKey: .contentSha256)
    }
}

public struct ModelInfo: Codable, Sendable, Equatable {
    public var name: String
    public var path: String
    public var sha256: String
    public var config: JSONValue
    public var preprocess: PreprocessConfig?

    public init(name: String, path: String, sha256: String, config: JSONValue = .object([:]), preprocess: PreprocessConfig?) {
        self.name = name
        self.path = path
        self.sha256 = sha256
        self.config = config
        self.preprocess = preprocess
    }
}

/// The `device` block a device run adds to its manifest.
public struct DeviceBlock: Codable, Sendable, Equatable {
    /// Hardware model identifier (`utsname.machine`), e.g. `iPhone15,2`.
    public var model: String
    /// e.g. `iOS 18.1`.
    public var os: String
    /// `ProcessInfo.thermalState` at the start / end of the run: nominal, fair, serious, critical.
    public var thermalStart: String
    public var thermalEnd: String
    public var appVersion: String

    enum CodingKeys: String, CodingKey {
        case model, os
        case thermalStart = "thermal_start"
        case thermalEnd = "thermal_end"
        case appVersion = "app_version"
    }

    public init(model: String, os: String, thermalStart: String, thermalEnd: String, appVersion: String) {
        self.model = model
        self.os = os
        self.thermalStart = thermalStart
        self.thermalEnd = thermalEnd
        self.appVersion = appVersion
    }
}

/// `manifest.json` of one run.
public struct Manifest: Codable, Sendable, Equatable {
    public var schemaVersion: Int
    public var runId: String
    public var tool: ToolInfo
    public var command: [String]
    public var startedAt: String
    public var finishedAt: String
    public var host: HostInfo
    public var engines: [String: String]
    public var threads: [Int]
    public var seeds: Seeds
    public var dataset: DatasetInfo
    public var models: [ModelInfo]
    public var classes: [String]
    public var device: DeviceBlock?
    public var notes: [String]

    enum CodingKeys: String, CodingKey {
        case tool, command, host, engines, threads, seeds, dataset, models, classes, device, notes
        case schemaVersion = "schema_version"
        case runId = "run_id"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
    }

    public init(
        runId: String, tool: ToolInfo, command: [String], startedAt: Date, finishedAt: Date, host: HostInfo,
        engines: [String: String], threads: [Int] = [0], seeds: Seeds = Seeds(), dataset: DatasetInfo,
        models: [ModelInfo], classes: [String], device: DeviceBlock?, notes: [String] = []
    ) {
        schemaVersion = SceneBench.schemaVersion
        self.runId = runId
        self.tool = tool
        self.command = command
        self.startedAt = Manifest.timestamp(startedAt)
        self.finishedAt = Manifest.timestamp(finishedAt)
        self.host = host
        self.engines = engines
        self.threads = threads
        self.seeds = seeds
        self.dataset = dataset
        self.models = models
        self.classes = classes
        self.device = device
        self.notes = notes
    }

    // `device` is always written, as `null` for non-device runs (as the schema shows).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schemaVersion, forKey: .schemaVersion)
        try c.encode(runId, forKey: .runId)
        try c.encode(tool, forKey: .tool)
        try c.encode(command, forKey: .command)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(host, forKey: .host)
        try c.encode(engines, forKey: .engines)
        try c.encode(threads, forKey: .threads)
        try c.encode(seeds, forKey: .seeds)
        try c.encode(dataset, forKey: .dataset)
        try c.encode(models, forKey: .models)
        try c.encode(classes, forKey: .classes)
        try c.encode(device, forKey: .device)
        try c.encode(notes, forKey: .notes)
    }

    /// RFC 3339 UTC with seconds, e.g. `2026-12-04T21:30:00Z`.
    public static func timestamp(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: d)
    }

    /// Pretty JSON with sorted keys (stable bytes for the same manifest).
    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try e.encode(self)
    }
}

/// The body of `POST /api/v1/uploads`.
public struct UploadPayload: Codable, Sendable, Equatable {
    public var schemaVersion: Int
    public var uploadId: String
    public var manifest: Manifest
    /// `predictions.csv` and/or `latency_samples.csv` → CSV text.
    public var files: [String: String]

    enum CodingKeys: String, CodingKey {
        case manifest, files
        case schemaVersion = "schema_version"
        case uploadId = "upload_id"
    }

    public init(uploadId: String = UUID().uuidString.lowercased(), manifest: Manifest, predictionsCSV: String?, latencyCSV: String?) {
        schemaVersion = SceneBench.schemaVersion
        self.uploadId = uploadId
        self.manifest = manifest
        var f: [String: String] = [:]
        if let p = predictionsCSV { f["predictions.csv"] = p }
        if let l = latencyCSV { f["latency_samples.csv"] = l }
        files = f
    }
}
