// CoreML backend of the suite (Apple platforms only; compiled out on Linux): loads an exported
// scenebench `.mlpackage` / `.mlmodelc` (issue 6: input `image` float32 [1,3,H,W], output
// `logits`, metadata with classes and preprocessing) with `MLModelConfiguration.computeUnits`
// set to the requested unit, preprocesses by writing straight into the MLMultiArray's storage,
// and decodes photos with ImageIO (EXIF orientation applied) into 8-bit RGB.

import Foundation

/// Metadata keys written by `scenebench export coreml` (creator-defined metadata,
/// tools/coreml/scenebench_coreml/export.py).
public enum SceneBenchMetadataKey {
    public static let classes = "scenebench.classes"
    public static let preprocess = "scenebench.preprocess"
    public static let sha256 = "scenebench.model_sha256"
    /// The checkpoint's file name; its stem is the model name in the CSVs (e.g. `finetune`).
    public static let modelFile = "scenebench.model_file"
    public static let config = "scenebench.config"
    /// `fp32` / `fp16`.
    public static let precision = "scenebench.precision"
    /// `int8` or `none`.
    public static let quantize = "scenebench.quantize"
    /// `tensor` (float32 [1,3,H,W], normalized by the caller) or `image` (ImageType, normalized in the graph).
    public static let input = "scenebench.input"
}

#if canImport(CoreML)
import CoreML

extension ComputeUnit {
    public var mlComputeUnits: MLComputeUnits {
        switch self {
        case .all: return .all
        case .cpuAndNeuralEngine: return .cpuAndNeuralEngine
        case .cpuAndGPU: return .cpuAndGPU
        case .cpuOnly: return .cpuOnly
        }
    }
}

public enum CoreMLModelError: Error, LocalizedError {
    case metadata(key: String, reason: String)
    case io(name: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case .metadata(let k, let r): return "CoreML model metadata '\(k)': \(r)"
        case .io(let n, let r): return "CoreML model feature '\(n)': \(r)"
        }
    }
}

/// A loaded CoreML classifier for one compute unit.
public final class CoreMLBenchModel: BenchModel {
    public let model: MLModel
    public let preprocess: PreprocessConfig
    /// The exported input kind: `tensor` or `image`.
    public let inputKind: String
    public let inputName: String
    public let outputName: String

    init(model: MLModel, preprocess: PreprocessConfig, inputKind: String, inputName: String = "image", outputName: String = "logits") {
        self.model = model
        self.preprocess = preprocess
        self.inputKind = inputKind
        self.inputName = inputName
        self.outputName = outputName
    }

    /// The model input for one image: a filled MLMultiArray (`tensor` export) or a resized and
    /// cropped BGRA CVPixelBuffer (`image` export, normalized inside the graph).
    public func makeInput(_ image: RGBImage) throws -> MLFeatureValue {
        if inputKind == "image" {
            return MLFeatureValue(pixelBuffer: try preprocess.resizeAndCrop(image).pixelBuffer())
        }
        return MLFeatureValue(multiArray: try makeTensor(image))
    }

    /// A `[1, 3, crop, crop]` float32 MLMultiArray filled in place (no NSNumber boxing).
    public func makeTensor(_ image: RGBImage) throws -> MLMultiArray {
        let c = preprocess.cropSize
        let array = try MLMultiArray(shape: [1, 3, NSNumber(value: c), NSNumber(value: c)], dataType: .float32)
        // A freshly created array is contiguous (strides [3cc, cc, c, 1]).
        let count = 3 * c * c
        let ptr = array.dataPointer.bindMemory(to: Float.self, capacity: count)
        preprocess.apply(image, into: UnsafeMutableBufferPointer(start: ptr, count: count))
        return array
    }

    public func predict(_ input: MLFeatureValue) throws -> [Float] {
        let features = try MLDictionaryFeatureProvider(dictionary: [inputName: input])
        let out = try model.prediction(from: features)
        guard let logits = out.featureValue(for: outputName)?.multiArrayValue else {
            throw CoreMLModelError.io(name: outputName, reason: "missing or not a multi-array")
        }
        return Self.floats(logits)
    }

    /// Copy a (possibly fp16, possibly strided) multi-array's last axis into Floats.
    static func floats(_ a: MLMultiArray) -> [Float] {
        let n = a.count
        let stride = a.strides.last?.intValue ?? 1
        switch a.dataType {
        case .float32:
            let p = a.dataPointer.bindMemory(to: Float.self, capacity: n * stride)
            return (0..<n).map { p[$0 * stride] }
        case .double:
            let p = a.dataPointer.bindMemory(to: Double.self, capacity: n * stride)
            return (0..<n).map { Float(p[$0 * stride]) }
        default:
            // fp16 and others: MLMultiArray converts on subscript (only C values, not per pixel).
            return (0..<n).map { a[$0].floatValue }
        }
    }
}

/// Loads an exported scenebench CoreML model for each compute unit.
public struct CoreMLModelLoader: BenchModelLoader {
    public let url: URL
    public let classes: [String]
    public let preprocess: PreprocessConfig
    public let modelInfo: ModelInfo
    /// `fp32`, `fp16` or `int8w` (from the export metadata), for the CSV `precision` column.
    public let precision: String
    public let inputKind: String

    /// Compiles `.mlpackage` / `.mlmodel` once (outside the timed loads) and reads the metadata.
    public init(url: URL, name: String? = nil) throws {
        var compiled = url
        if url.pathExtension != "mlmodelc" {
            compiled = try MLModel.compileModel(at: url)
        }
        self.url = compiled
        let probe = try MLModel(contentsOf: compiled)
        let meta = probe.modelDescription.metadata[MLModelMetadataKey.creatorDefinedKey] as? [String: String] ?? [:]
        guard let classesJSON = meta[SceneBenchMetadataKey.classes] else {
            throw CoreMLModelError.metadata(key: SceneBenchMetadataKey.classes, reason: "missing")
        }
        do {
            classes = try JSONDecoder().decode([String].self, from: Data(classesJSON.utf8))
        } catch {
            throw CoreMLModelError.metadata(key: SceneBenchMetadataKey.classes, reason: error.localizedDescription)
        }
        guard let ppJSON = meta[SceneBenchMetadataKey.preprocess] else {
            throw CoreMLModelError.metadata(key: SceneBenchMetadataKey.preprocess, reason: "missing")
        }
        do {
            preprocess = try JSONDecoder().decode(PreprocessConfig.self, from: Data(ppJSON.utf8))
            try preprocess.validate()
        } catch {
            throw CoreMLModelError.metadata(key: SceneBenchMetadataKey.preprocess, reason: error.localizedDescription)
        }
        let modelFile = meta[SceneBenchMetadataKey.modelFile]
        let stem = modelFile.map { ($0 as NSString).deletingPathExtension }
        var config = JSONValue.object([:])
        if let c = meta[SceneBenchMetadataKey.config], let v = try? JSONDecoder().decode(JSONValue.self, from: Data(c.utf8)) {
            config = v
        }
        modelInfo = ModelInfo(
            name: name ?? stem ?? url.deletingPathExtension().lastPathComponent,
            path: modelFile ?? url.lastPathComponent, sha256: meta[SceneBenchMetadataKey.sha256] ?? "",
            config: config, preprocess: preprocess)
        precision = meta[SceneBenchMetadataKey.quantize] == "int8" ? "int8w" : (meta[SceneBenchMetadataKey.precision] ?? "fp32")
        inputKind = meta[SceneBenchMetadataKey.input] ?? "tensor"
    }

    public func load(computeUnit: ComputeUnit) throws -> CoreMLBenchModel {
        let config = MLModelConfiguration()
        config.computeUnits = computeUnit.mlComputeUnits
        return CoreMLBenchModel(
            model: try MLModel(contentsOf: url, configuration: config), preprocess: preprocess, inputKind: inputKind)
    }
}
#endif

#if canImport(ImageIO) && canImport(CoreGraphics)
import CoreGraphics
import ImageIO

extension RGBImage {
    /// Decode an image file with EXIF orientation applied, as 8-bit RGB.
    public init(contentsOf url: URL) throws {
        guard let src = CGImageSourceCreateWithURL(url as CFURL, nil) else {
            throw PreprocessError.badBuffer("\(url.path): not an image")
        }
        try self.init(imageSource: src, name: url.path)
    }

    /// Decode encoded image bytes (e.g. from the photo picker).
    public init(data: Data) throws {
        guard let src = CGImageSourceCreateWithData(data as CFData, nil) else {
            throw PreprocessError.badBuffer("not an image")
        }
        try self.init(imageSource: src, name: "image data")
    }

    init(imageSource src: CGImageSource, name: String) throws {
        let props = CGImageSourceCopyPropertiesAtIndex(src, 0, nil) as? [CFString: Any] ?? [:]
        let w = props[kCGImagePropertyPixelWidth] as? Int ?? 0
        let h = props[kCGImagePropertyPixelHeight] as? Int ?? 0
        let opts: [CFString: Any] = [
            kCGImageSourceCreateThumbnailFromImageAlways: true,
            kCGImageSourceCreateThumbnailWithTransform: true,  // EXIF orientation
            kCGImageSourceThumbnailMaxPixelSize: max(w, h, 1),
            kCGImageSourceShouldCache: false,
        ]
        guard let cg = CGImageSourceCreateThumbnailAtIndex(src, 0, opts as CFDictionary) else {
            throw PreprocessError.badBuffer("\(name): cannot decode")
        }
        try self.init(cgImage: cg)
    }

    /// Draw a CGImage into 8-bit RGBX in its own RGB color space (no color management, as the
    /// Rust decoder ignores ICC profiles), then drop the padding byte.
    public init(cgImage: CGImage) throws {
        let w = cgImage.width, h = cgImage.height
        let space = (cgImage.colorSpace?.model == .rgb ? cgImage.colorSpace : nil) ?? CGColorSpaceCreateDeviceRGB()
        var buf = [UInt8](repeating: 0, count: w * h * 4)
        let ok = buf.withUnsafeMutableBytes { raw -> Bool in
            guard let ctx = CGContext(
                data: raw.baseAddress, width: w, height: h, bitsPerComponent: 8, bytesPerRow: w * 4, space: space,
                bitmapInfo: CGImageAlphaInfo.noneSkipLast.rawValue)
            else { return false }
            ctx.interpolationQuality = .none
            ctx.draw(cgImage, in: CGRect(x: 0, y: 0, width: w, height: h))
            return true
        }
        guard ok else { throw PreprocessError.badBuffer("cannot create an RGB bitmap context") }
        self = try buf.withUnsafeBytes { try RGBImage(fourChannel: $0, width: w, height: h) }
    }
}
#endif

#if canImport(CoreVideo)
import CoreVideo

extension RGBImage {
    /// A new 32BGRA CVPixelBuffer with these pixels (alpha 255), for `image`-input models.
    public func pixelBuffer() throws -> CVPixelBuffer {
        var pb: CVPixelBuffer?
        let attrs = [kCVPixelBufferIOSurfacePropertiesKey: [:] as CFDictionary] as CFDictionary
        guard CVPixelBufferCreate(kCFAllocatorDefault, width, height, kCVPixelFormatType_32BGRA, attrs, &pb) == kCVReturnSuccess,
              let pb
        else { throw PreprocessError.badBuffer("cannot create a \(width)x\(height) pixel buffer") }
        CVPixelBufferLockBaseAddress(pb, [])
        defer { CVPixelBufferUnlockBaseAddress(pb, []) }
        guard let base = CVPixelBufferGetBaseAddress(pb) else { throw PreprocessError.badBuffer("no base address") }
        let stride = CVPixelBufferGetBytesPerRow(pb)
        let dst = base.assumingMemoryBound(to: UInt8.self)
        for y in 0..<height {
            for x in 0..<width {
                let s = (y * width + x) * 3, d = y * stride + x * 4
                dst[d] = pixels[s + 2]
                dst[d + 1] = pixels[s + 1]
                dst[d + 2] = pixels[s]
                dst[d + 3] = 255
            }
        }
        return pb
    }

    /// From a 32BGRA or 32RGBA/ARGB-free CVPixelBuffer (camera frames are BGRA).
    public init(pixelBuffer pb: CVPixelBuffer) throws {
        let format = CVPixelBufferGetPixelFormatType(pb)
        guard format == kCVPixelFormatType_32BGRA || format == kCVPixelFormatType_32RGBA else {
            throw PreprocessError.badBuffer("pixel format \(format) is not 32BGRA/32RGBA")
        }
        CVPixelBufferLockBaseAddress(pb, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(pb, .readOnly) }
        guard let base = CVPixelBufferGetBaseAddress(pb) else { throw PreprocessError.badBuffer("no base address") }
        let w = CVPixelBufferGetWidth(pb), h = CVPixelBufferGetHeight(pb), stride = CVPixelBufferGetBytesPerRow(pb)
        try self.init(
            fourChannel: UnsafeRawBufferPointer(start: base, count: stride * h), width: w, height: h, bytesPerRow: stride,
            bgra: format == kCVPixelFormatType_32BGRA)
    }
}
#endif
