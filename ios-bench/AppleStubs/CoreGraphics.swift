// Linux-only stand-in for the Apple framework of the same name: just the declarations
// ios-bench uses (signatures as in the SDK), so scripts/swift-test.sh can type-check the
// `#if canImport(CoreML)` code on Linux. Not a test of behaviour; never linked into anything.
import Foundation
public typealias CGFloat = Double
public struct CGRect { public init(x: Int, y: Int, width: Int, height: Int) {} }
public enum CGColorSpaceModel { case rgb, monochrome }
public final class CGColorSpace { public var model: CGColorSpaceModel { .rgb } }
public func CGColorSpaceCreateDeviceRGB() -> CGColorSpace { CGColorSpace() }
public enum CGImageAlphaInfo: UInt32 { case noneSkipLast = 5 }
public enum CGInterpolationQuality { case none, high }
public final class CGImage { public var width: Int { 0 }; public var height: Int { 0 }; public var colorSpace: CGColorSpace? { nil } }
public final class CGContext {
    public init?(data: UnsafeMutableRawPointer?, width: Int, height: Int, bitsPerComponent: Int, bytesPerRow: Int, space: CGColorSpace, bitmapInfo: UInt32) {}
    public var interpolationQuality: CGInterpolationQuality = .high
    public func draw(_ image: CGImage, in rect: CGRect) {}
}
