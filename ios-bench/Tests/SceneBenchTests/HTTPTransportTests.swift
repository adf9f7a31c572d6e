// The real URLSession transport against a one-shot HTTP/1.1 server on loopback (POSIX sockets):
// the request line, bearer token, content type and JSON body that reach the wire, and how the
// queue handles the server's 201 and 422 answers.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import XCTest
@testable import SceneBench

/// Accepts one connection on 127.0.0.1, records the raw request, answers `status` + `body`.
final class OneShotHTTPServer: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    private var raw = Data()
    private let done = DispatchSemaphore(value: 0)

    init(status: Int, body: String) throws {
        #if canImport(Glibc)
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let s = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard s >= 0 else { throw POSIXError(.EIO) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(0).bigEndian
        addr.sin_addr = in_addr(s_addr: inet_addr("127.0.0.1"))
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(s, sa, len) == 0 && listen(s, 1) == 0 && getsockname(s, sa, &len) == 0
            }
        }
        guard ok else { close(s); throw POSIXError(.EADDRINUSE) }
        fd = s
        port = UInt16(bigEndian: addr.sin_port)
        let reason = status == 201 ? "Created" : "Status"
        let response = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        DispatchQueue.global().async { self.serve(Data(response.utf8)) }
    }

    private func serve(_ response: Data) {
        defer { close(fd); done.signal() }
        let c = accept(fd, nil, nil)
        guard c >= 0 else { return }
        defer { close(c) }
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(c, &buf, buf.count)
            if n <= 0 { break }
            raw.append(contentsOf: buf[0..<n])
            if let end = raw.range(of: Data("\r\n\r\n".utf8)) {
                let head = String(decoding: raw[..<end.lowerBound], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if raw.count - end.upperBound >= length { break }
            }
        }
        response.withUnsafeBytes { _ = write(c, $0.baseAddress, $0.count) }
    }

    /// Head (lowercased) and body of the request, once it was answered.
    func request() -> (head: String, body: Data) {
        done.wait()
        guard let end = raw.range(of: Data("\r\n\r\n".utf8)) else { return ("", Data()) }
        return (String(decoding: raw[..<end.lowerBound], as: UTF8.self).lowercased(), Data(raw[end.upperBound...]))
    }
}

final class HTTPTransportTests: XCTestCase {
    func queueDir() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("scenebench-http-\(UUID().uuidString)")
    }

    func testUploadOverLoopback() async throws {
        let server = try OneShotHTTPServer(status: 201, body: #"{"upload_id":"h1","run_dir":"runs/device/h1"}"#)
        let dir = queueDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let q = try UploadQueue(directory: dir, transport: URLSessionTransport())
        let payload = UploadPayload(uploadId: "h1", manifest: sampleManifest(), predictionsCSV: "p\n", latencyCSV: "l\n")
        try await q.enqueue(payload)
        let r = await q.drain(server: try UploadServer(baseURL: "http://127.0.0.1:\(server.port)", token: "s3cret"))
        XCTAssertEqual(r.uploaded, ["h1"])
        let pending = await q.pendingIDs()
        XCTAssertEqual(pending, [])

        let (head, body) = server.request()
        XCTAssertTrue(head.hasPrefix("post /api/v1/uploads http/1.1\r\n"), head)
        XCTAssertTrue(head.contains("\r\nauthorization: bearer s3cret"), head)
        XCTAssertTrue(head.contains("\r\ncontent-type: application/json"), head)
        XCTAssertEqual(try JSONDecoder().decode(UploadPayload.self, from: body), payload)
    }

    func testServerRejectionOverLoopback() async throws {
        let server = try OneShotHTTPServer(status: 422, body: #"{"error":"predictions.csv line 2, column true_label: label `x` is not one of the run's classes"}"#)
        let dir = queueDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let q = try UploadQueue(directory: dir, transport: URLSessionTransport())
        try await q.enqueue(UploadPayload(uploadId: "h2", manifest: sampleManifest(), predictionsCSV: "p\n", latencyCSV: nil))
        let r = await q.drain(server: try UploadServer(baseURL: "http://127.0.0.1:\(server.port)", token: "t"))
        XCTAssertEqual(r.rejected, ["h2"])
        let reason = await q.rejectionReason("h2")
        XCTAssertEqual(reason, "HTTP 422: predictions.csv line 2, column true_label: label `x` is not one of the run's classes")
        _ = server.request()
    }
}
