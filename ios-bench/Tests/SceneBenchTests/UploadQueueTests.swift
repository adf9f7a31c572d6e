// The upload queue with a scripted fake transport: persistence, success removes, retry with
// backoff on network errors / 408 / 429 / 5xx, other 4xx moved to rejected/ with the reason,
// survival across a restart, and the HTTP request's shape.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
@testable import SceneBench

struct FakeNetworkError: Error {}

/// Answers requests from a script; records what it was sent.
actor FakeTransport: UploadTransport {
    enum Reply { case status(Int, String), fail }
    var script: [Reply]
    private(set) var requests: [URLRequest] = []

    init(_ script: [Reply]) { self.script = script }

    func push(_ r: Reply) { script.append(r) }

    func send(_ request: URLRequest) async throws -> (status: Int, body: Data) {
        requests.append(request)
        guard !script.isEmpty else { throw FakeNetworkError() }
        switch script.removeFirst() {
        case .status(let s, let body): return (s, Data(body.utf8))
        case .fail: throw FakeNetworkError()
        }
    }
}

final class UploadQueueTests: XCTestCase {
    var dir: URL!
    let server = try! UploadServer(baseURL: "http://127.0.0.1:8787", token: "s3cret")
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("scenebench-queue-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func payload(_ id: String) -> UploadPayload {
        UploadPayload(uploadId: id, manifest: sampleManifest(), predictionsCSV: "p\n", latencyCSV: "l\n")
    }

    func testSuccessRemovesAndRequestShape() async throws {
        let fake = FakeTransport([.status(201, #"{"upload_id":"a","run_dir":"x"}"#)])
        let q = try UploadQueue(directory: dir, transport: fake)
        try await q.enqueue(payload("a"), now: t0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("pending/a.json").path))
        let r = await q.drain(server: server, now: t0)
        XCTAssertEqual(r.uploaded, ["a"])
        let pending = await q.pendingIDs()
        XCTAssertEqual(pending, [])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("pending/a.state.json").path))

        let reqs = await fake.requests
        let req = try XCTUnwrap(reqs.first)
        XCTAssertEqual(req.httpMethod, "POST")
        XCTAssertEqual(req.url?.absoluteString, "http://127.0.0.1:8787/api/v1/uploads")
        XCTAssertEqual(req.value(forHTTPHeaderField: "Authorization"), "Bearer s3cret")
        XCTAssertEqual(req.value(forHTTPHeaderField: "Content-Type"), "application/json")
        let sent = try JSONDecoder().decode(UploadPayload.self, from: XCTUnwrap(req.httpBody))
        XCTAssertEqual(sent, payload("a"))
    }

    func testRetryWithBackoffThenIdempotent200() async throws {
        let fake = FakeTransport([.fail, .status(503, #"{"error":"busy"}"#), .status(429, ""), .status(200, "{}")])
        let q = try UploadQueue(directory: dir, transport: fake, baseDelay: 10, maxDelay: 25)
        try await q.enqueue(payload("b"), now: t0)

        var r = await q.drain(server: server, now: t0)  // network error
        XCTAssertEqual(r.retryLater, ["b"])
        var stOpt = await q.retryState("b")
        var st = try XCTUnwrap(stOpt)
        XCTAssertEqual(st.attempts, 1)
        XCTAssertEqual(st.nextAttemptAt, t0.addingTimeInterval(10))
        XCTAssertTrue(st.lastError?.hasPrefix("network:") ?? false)

        r = await q.drain(server: server, now: t0.addingTimeInterval(5))  // not due yet: nothing sent
        XCTAssertEqual(r.notDue, ["b"])
        let sentSoFar = await fake.requests.count
        XCTAssertEqual(sentSoFar, 1)

        r = await q.drain(server: server, now: t0.addingTimeInterval(10))  // 503
        stOpt = await q.retryState("b")
        st = try XCTUnwrap(stOpt)
        XCTAssertEqual(st.attempts, 2)
        XCTAssertEqual(st.nextAttemptAt, t0.addingTimeInterval(30))  // 10 + 20
        XCTAssertEqual(st.lastError, "HTTP 503: busy")

        r = await q.drain(server: server, now: t0.addingTimeInterval(30))  // 429
        stOpt = await q.retryState("b")
        st = try XCTUnwrap(stOpt)
        XCTAssertEqual(st.attempts, 3)
        XCTAssertEqual(st.nextAttemptAt, t0.addingTimeInterval(55))  // capped at 25

        r = await q.drain(server: server, now: t0.addingTimeInterval(60))  // 200: already stored
        XCTAssertEqual(r.uploaded, ["b"])
        let left = await q.pendingIDs()
        XCTAssertEqual(left, [])
    }

    func testClientErrorsAreRejectedNotLost() async throws {
        let fake = FakeTransport([
            .status(401, #"{"error":"wrong token"}"#), .status(422, #"{"error":"predictions.csv line 3: unknown label"}"#),
            .status(408, ""),
        ])
        let q = try UploadQueue(directory: dir, transport: fake)
        try await q.enqueue(payload("c1"), now: t0)
        try await q.enqueue(payload("c2"), now: t0)
        try await q.enqueue(payload("c3"), now: t0)
        let r = await q.drain(server: server, now: t0)
        XCTAssertEqual(r.rejected, ["c1", "c2"])
        XCTAssertEqual(r.retryLater, ["c3"])  // 408 is retried
        let rejected = await q.rejectedIDs()
        XCTAssertEqual(rejected, ["c1", "c2"])
        let reason = await q.rejectionReason("c2")
        XCTAssertEqual(reason, "HTTP 422: predictions.csv line 3: unknown label")
        let stored = try JSONDecoder().decode(UploadPayload.self, from: Data(contentsOf: dir.appendingPathComponent("rejected/c1.json")))
        XCTAssertEqual(stored, payload("c1"))

        // Not retried by later drains…
        await fake.push(.status(201, "{}"))
        let r2 = await q.drain(server: server, now: t0.addingTimeInterval(3600))
        XCTAssertEqual(r2.uploaded, ["c3"])
        // …until the user requeues them (e.g. after fixing the token).
        try await q.requeueRejected(now: t0)
        let pending = await q.pendingIDs()
        XCTAssertEqual(pending, ["c1", "c2"])
        let rejectedAfter = await q.rejectedIDs()
        XCTAssertEqual(rejectedAfter, [])
    }

    func testSurvivesRestart() async throws {
        do {
            let q = try UploadQueue(directory: dir, transport: FakeTransport([.fail]))
            try await q.enqueue(payload("d"), now: t0)
            _ = await q.drain(server: server, now: t0)
        }
        // A new process: same directory, the upload and its retry state are still there.
        let fake = FakeTransport([.status(201, "{}")])
        let q2 = try UploadQueue(directory: dir, transport: fake)
        let pending = await q2.pendingIDs()
        XCTAssertEqual(pending, ["d"])
        let st = await q2.retryState("d")
        XCTAssertEqual(st?.attempts, 1)
        let r = await q2.drain(server: server, now: t0.addingTimeInterval(3600))
        XCTAssertEqual(r.uploaded, ["d"])
        let body = await fake.requests.first?.httpBody
        let sent = try JSONDecoder().decode(UploadPayload.self, from: XCTUnwrap(body))
        XCTAssertEqual(sent.uploadId, "d")
    }

    func testDrainUntilEmptyWaitsForBackoff() async throws {
        let fake = FakeTransport([.fail, .status(503, ""), .status(201, "{}")])
        let q = try UploadQueue(directory: dir, transport: fake, baseDelay: 0.01, maxDelay: 0.05)
        try await q.enqueue(payload("e"))
        let r = await q.drainUntilEmpty(server: server, deadline: Date().addingTimeInterval(10))
        XCTAssertEqual(r.uploaded, ["e"])
        let sent = await fake.requests.count
        XCTAssertEqual(sent, 3)
        let due = await q.nextDue()
        XCTAssertNil(due)

        // A retry due after the deadline is left pending, not waited for.
        let q2 = try UploadQueue(directory: dir, transport: FakeTransport([.fail]), baseDelay: 3600)
        try await q2.enqueue(payload("f"))
        let r2 = await q2.drainUntilEmpty(server: server, deadline: Date().addingTimeInterval(1))
        XCTAssertEqual(r2.retryLater, ["f"])
    }

    func testUnsafeIdsAndBadURLs() async throws {
        let q = try UploadQueue(directory: dir, transport: FakeTransport([]))
        do {
            try await q.enqueue(payload("../evil"), now: t0)
            XCTFail("a path in the upload id must be refused")
        } catch {}
        XCTAssertThrowsError(try UploadServer(baseURL: "ftp://x", token: "t"))
        XCTAssertEqual(UploadOutcome.classify(status: 413, body: Data()), .reject("HTTP 413"))
        XCTAssertEqual(UploadOutcome.classify(status: 409, body: Data(#"{"error":"different content"}"#.utf8)), .reject("HTTP 409: different content"))
    }
}
