// Run the device suite over the bundled evaluation set for every compute unit, save the run
// (Documents/runs/<run_id>/), queue it for upload and send it to `scenebench serve`.

import SceneBench
import SwiftUI

@MainActor
final class BenchmarkModel: ObservableObject {
    @Published var log: [String] = []
    @Published var running = false
    @Published var pending = 0
    @Published var rejected = 0

    let queue: UploadQueue?

    init() {
        let support = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
        queue = try? UploadQueue(directory: support.appendingPathComponent("upload-queue", isDirectory: true))
        Task { await refreshCounts() }
    }

    func refreshCounts() async {
        guard let queue else { return }
        pending = await queue.pendingIDs().count
        rejected = await queue.rejectedIDs().count
    }

    func run(store: ModelStore, split: String, warmup: Int, iterations: Int, server: UploadServer?) async {
        guard let loader = store.loader else {
            log.append("No model: \(store.loadError ?? "not loaded")")
            return
        }
        running = true
        defer { running = false }
        log = []
        do {
            guard let evalSet = try store.evalSet(split: split) else {
                log.append("No EvalSet folder in the app bundle.")
                return
            }
            let version = Bundle.main.object(forInfoDictionaryKey: "CFBundleShortVersionString") as? String ?? "0"
            let options = SuiteOptions(warmupIterations: warmup, measureIterations: iterations, precision: loader.precision, appVersion: version, command: ["SceneBench.app"])
            log.append("\(evalSet.items.count) images, \(options.computeUnits.count) compute units")
            let result = try await Task.detached(priority: .userInitiated) { () throws -> SuiteResult in
                try SuiteRunner(loader: loader, evalSet: evalSet, options: options).run(progress: { step in
                    Task { @MainActor in self.log.append(step) }
                })
            }.value
            let docs = FileManager.default.urls(for: .documentDirectory, in: .userDomainMask)[0]
            let dir = docs.appendingPathComponent("runs/\(result.manifest.runId)", isDirectory: true)
            try result.write(to: dir)
            log.append("Saved \(dir.lastPathComponent) (thermal \(result.manifest.device?.thermalStart ?? "?") → \(result.manifest.device?.thermalEnd ?? "?"))")
            if let queue {
                try await queue.enqueue(result.uploadPayload())
                log.append("Queued for upload")
            }
            if let server { await upload(server: server) }
        } catch {
            log.append("Failed: \(error.localizedDescription)")
        }
        await refreshCounts()
    }

    func upload(server: UploadServer) async {
        guard let queue else { return }
        let r = await queue.drain(server: server)
        for id in r.uploaded { log.append("Uploaded \(id)") }
        for id in r.retryLater { log.append("Will retry \(id): \(await queue.retryState(id)?.lastError ?? "")") }
        for id in r.rejected { log.append("Rejected \(id): \(await queue.rejectionReason(id) ?? "")") }
        await refreshCounts()
    }

    func requeueRejected() async {
        try? await queue?.requeueRejected()
        await refreshCounts()
    }
}

struct BenchmarkView: View {
    @EnvironmentObject private var store: ModelStore
    @StateObject private var bench = BenchmarkModel()
    @AppStorage("serverURL") private var serverURL = "http://192.168.1.10:8787"
    // A bearer token for the harness's upload endpoint; stored in app defaults (use the Keychain
    // for anything more sensitive than a lab token).
    @AppStorage("uploadToken") private var token = ""
    @AppStorage("split") private var split = "val"
    @AppStorage("warmup") private var warmup = 5
    @AppStorage("iterations") private var iterations = 50

    private var server: UploadServer? {
        token.isEmpty ? nil : try? UploadServer(baseURL: serverURL, token: token)
    }

    var body: some View {
        NavigationStack {
            Form {
                Section("Suite") {
                    TextField("Split folder", text: $split)
                    Stepper("Warm-up runs: \(warmup)", value: $warmup, in: 0...50)
                    Stepper("Timed runs: \(iterations)", value: $iterations, in: 1...1000, step: 10)
                    if let loader = store.loader {
                        Text("\(loader.modelInfo.name), \(loader.precision), \(loader.classes.count) classes, \(loader.preprocess.cropSize) px")
                            .foregroundStyle(.secondary)
                    }
                    Button(bench.running ? "Running…" : "Run benchmark (all compute units)") {
                        Task { await bench.run(store: store, split: split, warmup: warmup, iterations: iterations, server: server) }
                    }
                    .disabled(bench.running || store.loader == nil)
                }
                Section("Upload") {
                    TextField("Server URL", text: $serverURL)
                        .keyboardType(.URL)
                        .textInputAutocapitalization(.never)
                        .autocorrectionDisabled()
                    SecureField("Token", text: $token)
                    Text("\(bench.pending) waiting, \(bench.rejected) rejected")
                        .foregroundStyle(.secondary)
                    Button("Upload now") {
                        if let server { Task { await bench.upload(server: server) } }
                    }
                    .disabled(server == nil)
                    if bench.rejected > 0 {
                        Button("Retry rejected uploads") { Task { await bench.requeueRejected() } }
                    }
                }
                Section("Log") {
                    ForEach(Array(bench.log.enumerated()), id: \.offset) { Text($0.element).font(.caption.monospaced()) }
                }
            }
            .navigationTitle("Benchmark")
            // Whatever is still queued (measured offline, or refused by a busy server) is retried
            // each time the screen appears; the queue's backoff decides what is due.
            .task {
                if let server { await bench.upload(server: server) }
            }
        }
    }
}
