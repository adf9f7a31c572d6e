// Linux-only stand-in for the Apple framework of the same name: just the declarations
// ios-bench uses (signatures as in the SDK), so scripts/swift-test.sh can type-check the
// `#if canImport(CoreML)` code on Linux. Not a test of behaviour; never linked into anything.
import Foundation
public final class CVBuffer {}
public typealias CVPixelBuffer = CVBuffer
public typealias CVReturn = Int32
public let kCVReturnSuccess: CVReturn = 0
public typealias OSType = UInt32
public let kCVPixelFormatType_32BGRA: OSType = 1
public let kCVPixelFormatType_32RGBA: OSType = 2
public let kCVPixelBufferIOSurfacePropertiesKey: NSString = "x"
public struct CVPixelBufferLockFlags: OptionSet { public let rawValue: UInt64; public init(rawValue: UInt64) { self.rawValue = rawValue }; public static let readOnly = CVPixelBufferLockFlags(rawValue: 1) }
public typealias CFDictionary = NSDictionary
public typealias CFAllocator = NSObject
public let kCFAllocatorDefault: CFAllocator? = nil
public func CVPixelBufferCreate(_ a: CFAllocator?, _ w: Int, _ h: Int, _ f: OSType, _ attrs: CFDictionary?, _ out: UnsafeMutablePointer<CVPixelBuffer?>) -> CVReturn { 0 }
@discardableResult public func CVPixelBufferLockBaseAddress(_ pb: CVPixelBuffer, _ f: CVPixelBufferLockFlags) -> CVReturn { 0 }
@discardableResult public func CVPixelBufferUnlockBaseAddress(_ pb: CVPixelBuffer, _ f: CVPixelBufferLockFlags) -> CVReturn { 0 }
public func CVPixelBufferGetBaseAddress(_ pb: CVPixelBuffer) -> UnsafeMutableRawPointer? { nil }
public func CVPixelBufferGetBytesPerRow(_ pb: CVPixelBuffer) -> Int { 0 }
public func CVPixelBufferGetWidth(_ pb: CVPixelBuffer) -> Int { 0 }
public func CVPixelBufferGetHeight(_ pb: CVPixelBuffer) -> Int { 0 }
public func CVPixelBufferGetPixelFormatType(_ pb: CVPixelBuffer) -> OSType { 0 }
