// Linux-only stand-in for the Apple framework of the same name: just the declarations
// ios-bench uses (signatures as in the SDK), so scripts/swift-test.sh can type-check the
// `#if canImport(CoreML)` code on Linux. Not a test of behaviour; never linked into anything.
import Foundation
import CoreGraphics
public typealias CFURL = NSURL
public typealias CFData = NSData
public typealias CFString = NSString
public typealias CFDictionary = NSDictionary
public final class CGImageSource {}
public func CGImageSourceCreateWithURL(_ u: CFURL, _ o: CFDictionary?) -> CGImageSource? { nil }
public func CGImageSourceCreateWithData(_ d: CFData, _ o: CFDictionary?) -> CGImageSource? { nil }
public func CGImageSourceCopyPropertiesAtIndex(_ s: CGImageSource, _ i: Int, _ o: CFDictionary?) -> CFDictionary? { nil }
public func CGImageSourceCreateThumbnailAtIndex(_ s: CGImageSource, _ i: Int, _ o: CFDictionary?) -> CGImage? { nil }
public let kCGImagePropertyPixelWidth: CFString = "a"
public let kCGImagePropertyPixelHeight: CFString = "b"
public let kCGImageSourceCreateThumbnailFromImageAlways: CFString = "c"
public let kCGImageSourceCreateThumbnailWithTransform: CFString = "d"
public let kCGImageSourceThumbnailMaxPixelSize: CFString = "e"
public let kCGImageSourceShouldCache: CFString = "f"
