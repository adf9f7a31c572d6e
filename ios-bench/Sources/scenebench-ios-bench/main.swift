// `scenebench-ios-bench`: the device suite from the command line on a Mac's CoreML (the same
// code the iOS app runs), writing a run directory and optionally uploading it to
// `scenebench serve`; `upload` / `drain` also work on Linux (no CoreML needed).
//
//   swift run scenebench-ios-bench run --model M.mlpackage --eval-dir DATA [--split val]
//       [--compute-units all,cpuAndNeuralEngine,cpuAndGPU,cpuOnly] [--warmup 5] [--iterations 50]
//       [--precision fp16 (default: from the model metadata)] [--out runs/device] [--server URL --token-file F] [--queue DIR]
//   swift run scenebench-ios-bench upload --run-dir DIR --server URL --token-file F [--queue DIR] [--wait S]
//   swift run scenebench-ios-bench drain --server URL --token-file F [--queue DIR] [--wait S]
// (--wait S: keep retrying failed uploads with backoff for up to S seconds)

import Foundation
import SceneBench

struct UsageError: Error, CustomStringConvertible {
    let description: String
}

func parse(_ args: ArraySlice<String>) throws -> [String: String] {
    var out: [String: String] = [:]
    var it = args.makeIterator()
    while let a = it.next() {
        guard a.hasPrefix("--") else { throw UsageError(description: "unexpected argument '\(a)'") }
        guard let v = it.next() else { throw UsageError(description: "\(a) needs a value") }
        out[String(a.dropFirst(2))] = v
    }
    return out
}

func server(_ opts: [String: String]) throws -> UploadServer? {
    guard let url = opts["server"] else { return nil }
    guard let tf = opts["token-file"] else { throw UsageError(description: "--server needs --token-file") }
    let token = try String(contentsOfFile: tf, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    return try UploadServer(baseURL: url, token: token)
}

func queue(_ opts: [String: String]) throws -> UploadQueue {
    let dir = opts["queue"] ?? FileManager.default.homeDirectoryForCurrentUser
        .appendingPathComponent(".scenebench/upload-queue").path
    return try UploadQueue(directory: URL(fileURLWithPath: dir, isDirectory: true))
}

/// Send what is due; with `--wait SECONDS`, keep retrying (with the queue's backoff) that long.
func drain(_ q: UploadQueue, _ s: UploadServer, wait: Double = 0) async {
    let r = wait > 0
        ? await q.drainUntilEmpty(server: s, deadline: Date().addingTimeInterval(wait)) : await q.drain(server: s)
    for id in r.uploaded { print("uploaded \(id)") }
    for id in r.retryLater { print("will retry \(id): \(await q.retryState(id)?.lastError ?? "")") }
    for id in r.rejected { print("rejected \(id): \(await q.rejectionReason(id) ?? "")") }
    if !r.notDue.isEmpty { print("\(r.notDue.count) upload(s) waiting for their retry time") }
}

func uploadRunDir(_ dir: URL, _ q: UploadQueue) async throws -> String {
    let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: dir.appendingPathComponent("manifest.json")))
    func read(_ name: String) -> String? {
        try? String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
    }
    let payload = UploadPayload(
        uploadId: manifest.runId, manifest: manifest, predictionsCSV: read("predictions.csv"),
        latencyCSV: read("latency_samples.csv"))
    return try await q.enqueue(payload)
}

func runSuite(_ opts: [String: String]) async throws -> Int32 {
    #if canImport(CoreML) && canImport(ImageIO)
    guard let modelPath = opts["model"], let evalDir = opts["eval-dir"] else {
        throw UsageError(description: "run needs --model and --eval-dir")
    }
    let loader = try CoreMLModelLoader(url: URL(fileURLWithPath: modelPath))
    let split = opts["split"] ?? "val"
    let evalSet = try EvalSet.imageFolder(
        root: URL(fileURLWithPath: evalDir), split: split, classes: loader.classes,
        decode: { try RGBImage(contentsOf: $0) })
    var options = SuiteOptions(precision: loader.precision, command: CommandLine.arguments)
    if let cus = opts["compute-units"] {
        options.computeUnits = try cus.split(separator: ",").map {
            guard let cu = ComputeUnit(rawValue: String($0)) else { throw UsageError(description: "unknown compute unit '\($0)'") }
            return cu
        }
    }
    if let w = opts["warmup"] { options.warmupIterations = Int(w) ?? options.warmupIterations }
    if let n = opts["iterations"] { options.measureIterations = Int(n) ?? options.measureIterations }
    if let p = opts["precision"] { options.precision = p }
    let result = try SuiteRunner(loader: loader, evalSet: evalSet, options: options).run(progress: { print($0) })
    let out = URL(fileURLWithPath: opts["out"] ?? "runs/device").appendingPathComponent(result.manifest.runId)
    try result.write(to: out)
    print("wrote \(out.path)")
    if let s = try server(opts) {
        let q = try queue(opts)
        try await q.enqueue(result.uploadPayload())
        await drain(q, s, wait: Double(opts["wait"] ?? "0") ?? 0)
    }
    return 0
    #else
    FileHandle.standardError.write(Data("scenebench-ios-bench: CoreML is unavailable on this platform; run the suite on macOS or iOS (upload and drain work here)\n".utf8))
    return 2
    #endif
}

func main() async -> Int32 {
    let args = CommandLine.arguments.dropFirst()
    guard let cmd = args.first else {
        print("usage: scenebench-ios-bench run|upload|drain [options] (see the source header)")
        return 2
    }
    do {
        let opts = try parse(args.dropFirst())
        switch cmd {
        case "run":
            return try await runSuite(opts)
        case "upload":
            guard let dir = opts["run-dir"], let s = try server(opts) else {
                throw UsageError(description: "upload needs --run-dir, --server and --token-file")
            }
            let q = try queue(opts)
            print("queued \(try await uploadRunDir(URL(fileURLWithPath: dir), q))")
            await drain(q, s, wait: Double(opts["wait"] ?? "0") ?? 0)
            return 0
        case "drain":
            guard let s = try server(opts) else { throw UsageError(description: "drain needs --server and --token-file") }
            await drain(try queue(opts), s, wait: Double(opts["wait"] ?? "0") ?? 0)
            return 0
        default:
            throw UsageError(description: "unknown command '\(cmd)'")
        }
    } catch {
        FileHandle.standardError.write(Data("scenebench-ios-bench: \(error)\n".utf8))
        return 1
    }
}

exit(await main())
