// Uploading device runs to `scenebench serve` (`POST /api/v1/uploads`, docs/SCHEMAS.md) through
// an on-disk queue, so nothing measured offline is lost:
// - every upload is first written to `pending/<upload_id>.json` (atomic write), with its retry
//   state beside it in `pending/<upload_id>.state.json`;
// - `drain` sends what is due; 200/201 removes the entry, a network error, 408, 429 or 5xx
//   reschedules it with exponential backoff, any other 4xx moves it to `rejected/` together with
//   `<upload_id>.reason.txt` (the server's `{"error": …}`), where it stays until `requeueRejected`.
// The transport is a protocol so tests run without a server.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What the queue needs from HTTP: send a request, get the status and body.
public protocol UploadTransport: Sendable {
    func send(_ request: URLRequest) async throws -> (status: Int, body: Data)
}

/// `URLSession`-backed transport (FoundationNetworking on Linux).
public struct URLSessionTransport: UploadTransport {
    public init() {}

    public func send(_ request: URLRequest) async throws -> (status: Int, body: Data) {
        try await withCheckedThrowingContinuation { cont in
            let task = URLSession.shared.dataTask(with: request) { data, response, error in
                if let error {
                    cont.resume(throwing: error)
                } else if let http = response as? HTTPURLResponse {
                    cont.resume(returning: (http.statusCode, data ?? Data()))
                } else {
                    cont.resume(throwing: UploadError.notHTTP)
                }
            }
            task.resume()
        }
    }
}

public enum UploadError: Error, LocalizedError, Equatable {
    case notHTTP
    case badServerURL(String)
    case io(path: String, reason: String)
    case corruptEntry(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case .notHTTP: return "upload: the response is not HTTP"
        case .badServerURL(let u): return "upload: bad server URL '\(u)'"
        case .io(let p, let r): return "upload queue: \(p): \(r)"
        case .corruptEntry(let p, let r): return "upload queue: unreadable entry \(p): \(r)"
        }
    }
}

/// Server endpoint and credentials.
public struct UploadServer: Sendable, Equatable {
    public var baseURL: URL
    public var token: String

    public init(baseURL: URL, token: String) {
        self.baseURL = baseURL
        self.token = token
    }

    public init(baseURL string: String, token: String) throws {
        guard let u = URL(string: string), let scheme = u.scheme, ["http", "https"].contains(scheme.lowercased()) else {
            throw UploadError.badServerURL(string)
        }
        self.init(baseURL: u, token: token)
    }

    /// `POST <base>/api/v1/uploads` with the bearer token and a JSON body.
    public func request(body: Data) -> URLRequest {
        var r = URLRequest(url: baseURL.appendingPathComponent("api/v1/uploads"))
        r.httpMethod = "POST"
        r.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        r.setValue("application/json", forHTTPHeaderField: "Content-Type")
        r.httpBody = body
        r.timeoutInterval = 120
        return r
    }
}

/// Retry bookkeeping of one pending upload.
public struct RetryState: Codable, Sendable, Equatable {
    public var attempts: Int
    public var nextAttemptAt: Date
    public var lastError: String?

    enum CodingKeys: String, CodingKey {
        case attempts
        case nextAttemptAt = "next_attempt_at"
        case lastError = "last_error"
    }
}

/// What one `drain` did.
public struct DrainReport: Sendable, Equatable {
    public var uploaded: [String] = []
    public var retryLater: [String] = []
    public var rejected: [String] = []
    public var notDue: [String] = []
}

/// How the server's answer is handled.
public enum UploadOutcome: Equatable, Sendable {
    case stored
    case retry(String)
    case reject(String)

    /// 200/201 stored; 408, 429, 5xx retried; other 4xx (and anything else) rejected.
    public static func classify(status: Int, body: Data) -> UploadOutcome {
        let reason = UploadOutcome.reason(status: status, body: body)
        switch status {
        case 200, 201: return .stored
        case 408, 429, 500...599: return .retry(reason)
        default: return .reject(reason)
        }
    }

    static func reason(status: Int, body: Data) -> String {
        struct ErrorBody: Decodable { let error: String }
        if let e = try? JSONDecoder().decode(ErrorBody.self, from: body) { return "HTTP \(status): \(e.error)" }
        let text = String(decoding: body.prefix(500), as: UTF8.self)
        return text.isEmpty ? "HTTP \(status)" : "HTTP \(status): \(text)"
    }
}

/// The on-disk upload queue. One instance per directory.
public actor UploadQueue {
    public let directory: URL
    private let transport: UploadTransport
    private let baseDelay: TimeInterval
    private let maxDelay: TimeInterval

    public var pendingDirectory: URL { directory.appendingPathComponent("pending", isDirectory: true) }
    public var rejectedDirectory: URL { directory.appendingPathComponent("rejected", isDirectory: true) }

    public init(directory: URL, transport: UploadTransport = URLSessionTransport(), baseDelay: TimeInterval = 5, maxDelay: TimeInterval = 3600) throws {
        self.directory = directory
        self.transport = transport
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        for d in [directory.appendingPathComponent("pending"), directory.appendingPathComponent("rejected")] {
            do {
                try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            } catch {
                throw UploadError.io(path: d.path, reason: error.localizedDescription)
            }
        }
    }

    private static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }

    private static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }

    private func write(_ data: Data, to url: URL) throws {
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw UploadError.io(path: url.path, reason: error.localizedDescription)
        }
    }

    private func payloadURL(_ id: String, in dir: URL) -> URL { dir.appendingPathComponent("\(id).json") }
    private func stateURL(_ id: String) -> URL { pendingDirectory.appendingPathComponent("\(id).state.json") }

    /// Persist an upload; it is sent by the next `drain`. Returns its id.
    @discardableResult
    public func enqueue(_ payload: UploadPayload, now: Date = Date()) throws -> String {
        let id = payload.uploadId
        guard !id.isEmpty, !id.contains("/"), !id.hasPrefix(".") else {
            throw UploadError.io(path: id, reason: "upload id is not a safe file name")
        }
        // The body is written first, so a crash in between leaves a payload with default state.
        try write(try Self.encoder().encode(payload), to: payloadURL(id, in: pendingDirectory))
        let state = RetryState(attempts: 0, nextAttemptAt: now, lastError: nil)
        try write(try Self.encoder().encode(state), to: stateURL(id))
        return id
    }

    /// Ids waiting to be sent, sorted.
    public func pendingIDs() -> [String] { ids(in: pendingDirectory) }

    /// Ids the server refused, sorted.
    public func rejectedIDs() -> [String] { ids(in: rejectedDirectory) }

    private func ids(in dir: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".json") && !$0.hasSuffix(".state.json") && !$0.hasPrefix(".") }
            .map { String($0.dropLast(5)) }.sorted()
    }

    public func retryState(_ id: String) -> RetryState? {
        guard let d = try? Data(contentsOf: stateURL(id)) else { return nil }
        return try? Self.decoder().decode(RetryState.self, from: d)
    }

    /// The server's reason for a rejected upload.
    public func rejectionReason(_ id: String) -> String? {
        try? String(contentsOf: rejectedDirectory.appendingPathComponent("\(id).reason.txt"), encoding: .utf8)
    }

    /// Delay before attempt `attempts + 1`: base · 2^(attempts-1), capped.
    public func backoff(afterAttempts attempts: Int) -> TimeInterval {
        min(maxDelay, baseDelay * pow(2, Double(max(attempts - 1, 0))))
    }

    /// Send every due upload once.
    public func drain(server: UploadServer, now: Date = Date()) async -> DrainReport {
        var report = DrainReport()
        for id in pendingIDs() {
            let state = retryState(id) ?? RetryState(attempts: 0, nextAttemptAt: now, lastError: nil)
            if state.nextAttemptAt > now {
                report.notDue.append(id)
                continue
            }
            let body: Data
            do {
                body = try Data(contentsOf: payloadURL(id, in: pendingDirectory))
            } catch {
                continue  // removed concurrently
            }
            let outcome: UploadOutcome
            do {
                let (status, data) = try await transport.send(server.request(body: body))
                outcome = UploadOutcome.classify(status: status, body: data)
            } catch {
                outcome = .retry("network: \(error.localizedDescription)")
            }
            switch outcome {
            case .stored:
                try? FileManager.default.removeItem(at: payloadURL(id, in: pendingDirectory))
                try? FileManager.default.removeItem(at: stateURL(id))
                report.uploaded.append(id)
            case .retry(let reason):
                let attempts = state.attempts + 1
                let next = RetryState(attempts: attempts, nextAttemptAt: now.addingTimeInterval(backoff(afterAttempts: attempts)), lastError: reason)
                try? write(try Self.encoder().encode(next), to: stateURL(id))
                report.retryLater.append(id)
            case .reject(let reason):
                do {
                    try write(Data(reason.utf8), to: rejectedDirectory.appendingPathComponent("\(id).reason.txt"))
                    let dst = payloadURL(id, in: rejectedDirectory)
                    try? FileManager.default.removeItem(at: dst)
                    try FileManager.default.moveItem(at: payloadURL(id, in: pendingDirectory), to: dst)
                    try? FileManager.default.removeItem(at: stateURL(id))
                    report.rejected.append(id)
                } catch {
                    report.retryLater.append(id)  // keep it pending rather than lose it
                }
            }
        }
        return report
    }

    /// When the earliest pending upload is due (nil when nothing is pending).
    public func nextDue() -> Date? {
        pendingIDs().map { retryState($0)?.nextAttemptAt ?? .distantPast }.min()
    }

    /// Drain repeatedly, sleeping until the next retry is due, until nothing is pending or
    /// `deadline` would be passed. Returns everything that happened.
    public func drainUntilEmpty(server: UploadServer, deadline: Date) async -> DrainReport {
        var total = DrainReport()
        while true {
            let r = await drain(server: server)
            total.uploaded += r.uploaded
            total.rejected += r.rejected
            guard let due = nextDue() else { break }
            if due > deadline {
                total.retryLater = pendingIDs()
                break
            }
            let wait = due.timeIntervalSinceNow
            if wait > 0 { try? await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
        }
        return total
    }

    /// Move rejected uploads back to the queue (e.g. after fixing the token).
    public func requeueRejected(now: Date = Date()) throws {
        for id in rejectedIDs() {
            let src = payloadURL(id, in: rejectedDirectory)
            do {
                try FileManager.default.moveItem(at: src, to: payloadURL(id, in: pendingDirectory))
            } catch {
                throw UploadError.io(path: src.path, reason: error.localizedDescription)
            }
            try? FileManager.default.removeItem(at: rejectedDirectory.appendingPathComponent("\(id).reason.txt"))
            try write(try Self.encoder().encode(RetryState(attempts: 0, nextAttemptAt: now, lastError: nil)), to: stateURL(id))
        }
    }
}
