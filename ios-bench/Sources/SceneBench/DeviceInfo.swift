// What a device run records about the machine (docs/SCHEMAS.md `device` and `host` blocks):
// hardware model identifier from `uname` (`utsname.machine`, e.g. `iPhone15,2`; on a Mac the
// `hw.model` sysctl, e.g. `Mac14,2`), OS name and version, thermal state, and a monotonic clock
// for timing (`DispatchTime.now().uptimeNanoseconds`, never wall-clock time).

import Foundation
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic time in milliseconds between two `DispatchTime.now().uptimeNanoseconds` readings.
public struct Stopwatch: Sendable {
    public let start: UInt64

    public init() { start = DispatchTime.now().uptimeNanoseconds }

    public var elapsedMs: Double { Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e6 }

    /// Run `body`, returning its result and its duration in milliseconds.
    public static func measure<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let s = Stopwatch()
        let r = try body()
        return (r, s.elapsedMs)
    }
}

public enum DeviceInfo {
    /// `utsname.machine`: `iPhone15,2` on a phone, `arm64` / `x86_64` on a Mac or Linux.
    public static var machine: String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.machine) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Hardware model: `utsname.machine` on iOS; `hw.model` (e.g. `Mac14,2`) on macOS.
    public static var model: String {
        #if targetEnvironment(simulator)
        // The simulator runs on the Mac's CPU: say so rather than report a phone.
        let sim = ProcessInfo.processInfo.environment["SIMULATOR_MODEL_IDENTIFIER"] ?? "unknown"
        return "\(sim) simulator (\(machine))"
        #endif
        #if os(macOS)
        var size = 0
        if sysctlbyname("hw.model", nil, &size, nil, 0) == 0, size > 0 {
            var buf = [CChar](repeating: 0, count: size)
            if sysctlbyname("hw.model", &buf, &size, nil, 0) == 0 {
                return String(cString: buf)
            }
        }
        #endif
        return machine
    }

    /// e.g. `iOS 18.1`, `macOS 15.1.0`, `Linux 6.1.0`.
    public static var osVersion: String {
        let v = ProcessInfo.processInfo.operatingSystemVersion
        #if os(iOS)
        let name = "iOS"
        #elseif os(macOS)
        let name = "macOS"
        #elseif os(Linux)
        let name = "Linux"
        #else
        let name = "unknown"
        #endif
        return v.patchVersion == 0 && name == "iOS" ? "\(name) \(v.majorVersion).\(v.minorVersion)"
            : "\(name) \(v.majorVersion).\(v.minorVersion).\(v.patchVersion)"
    }

    /// `ProcessInfo.thermalState` as `nominal` / `fair` / `serious` / `critical` (`unknown` where
    /// the platform has none).
    public static var thermalState: String {
        #if canImport(Darwin)
        switch ProcessInfo.processInfo.thermalState {
        case .nominal: return "nominal"
        case .fair: return "fair"
        case .serious: return "serious"
        case .critical: return "critical"
        @unknown default: return "unknown"
        }
        #else
        return "unknown"
        #endif
    }

    /// The `host` block of a device manifest.
    public static func host() -> HostInfo {
        HostInfo(
            hostname: ProcessInfo.processInfo.hostName, os: osVersion, arch: machineArch, cpuModel: model,
            cpuFeatures: [], cores: ProcessInfo.processInfo.activeProcessorCount,
            memoryBytes: ProcessInfo.processInfo.physicalMemory)
    }

    static var machineArch: String {
        #if arch(arm64)
        return "aarch64"
        #elseif arch(x86_64)
        return "x86_64"
        #else
        return "unknown"
        #endif
    }
}
