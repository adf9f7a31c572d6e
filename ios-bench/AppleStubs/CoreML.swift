// Linux-only stand-in for the Apple framework of the same name: just the declarations
// ios-bench uses (signatures as in the SDK), so scripts/swift-test.sh can type-check the
// `#if canImport(CoreML)` code on Linux. Not a test of behaviour; never linked into anything.
import Foundation
import CoreVideo
public enum MLComputeUnits: Int { case cpuOnly, cpuAndGPU, all, cpuAndNeuralEngine }
public enum MLMultiArrayDataType { case float32, double, float16, int32 }
public final class MLMultiArray: NSObject {
    public init(shape: [NSNumber], dataType: MLMultiArrayDataType) throws {}
    public var dataPointer: UnsafeMutableRawPointer { fatalError() }
    public var count: Int { 0 }
    public var strides: [NSNumber] { [] }
    public var dataType: MLMultiArrayDataType { .float32 }
    public subscript(_ i: Int) -> NSNumber { 0 }
}
public final class MLFeatureValue: NSObject {
    public init(multiArray: MLMultiArray) {}
    public init(pixelBuffer: CVPixelBuffer) {}
    public var multiArrayValue: MLMultiArray? { nil }
}
public protocol MLFeatureProvider { func featureValue(for name: String) -> MLFeatureValue? }
public final class MLDictionaryFeatureProvider: NSObject, MLFeatureProvider {
    public init(dictionary: [String: Any]) throws {}
    public func featureValue(for name: String) -> MLFeatureValue? { nil }
}
public struct MLModelMetadataKey: Hashable { public static let creatorDefinedKey = MLModelMetadataKey() }
public final class MLModelDescription: NSObject { public var metadata: [MLModelMetadataKey: Any] { [:] } }
public final class MLModelConfiguration: NSObject { public var computeUnits: MLComputeUnits = .all }
public final class MLModel: NSObject {
    public init(contentsOf url: URL) throws {}
    public init(contentsOf url: URL, configuration: MLModelConfiguration) throws {}
    public static func compileModel(at url: URL) throws -> URL { url }
    public var modelDescription: MLModelDescription { MLModelDescription() }
    public func prediction(from input: MLFeatureProvider) throws -> MLFeatureProvider { fatalError() }
}
