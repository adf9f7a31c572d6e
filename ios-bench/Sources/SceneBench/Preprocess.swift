// Evaluation preprocessing, identical to the Rust harness (docs/checkpoint-format.md,
// models/src/preprocess.rs): resize the shorter side to `resize_shorter` keeping the aspect ratio,
// center crop `crop_size`, `x = (pixel/255 - mean[c]) / std[c]`, CHW float32.
//
// The resize is a port of the `image` crate 0.25 `imageops::resize` (imageops/sample.rs):
// a separable filter, vertical pass first into an f32 intermediate (not rounded), then the
// horizontal pass, clamped to [0, 255] and rounded half away from zero to u8. The filter support
// is widened by the downscale ratio; weights are normalized per output pixel; all arithmetic is
// f32 in the same order, so the result is bit-identical (checked against fixtures/golden/).
// Bicubic = Catmull-Rom (Mitchell-Netravali B = 0, C = 0.5).

import Foundation

/// Resampling filter, spelled as in the Rust `Interpolation` JSON.
public enum Interpolation: String, Codable, Sendable, CaseIterable {
    case bicubic
    case bilinear
    case nearest
}

/// Preprocessing parameters stored with the model (`scenebench.preprocess`), JSON-compatible with
/// the Rust `models::preprocess::Preprocess`.
public struct PreprocessConfig: Codable, Sendable, Equatable {
    public var mean: [Float]
    public var std: [Float]
    /// Output side length.
    public var cropSize: Int
    /// Fraction of the resized image kept by the center crop.
    public var cropPct: Double
    /// Shorter side after resizing: `floor(crop_size / crop_pct)`.
    public var resizeShorter: Int
    public var interpolation: Interpolation

    enum CodingKeys: String, CodingKey {
        case mean, std, interpolation
        case cropSize = "crop_size"
        case cropPct = "crop_pct"
        case resizeShorter = "resize_shorter"
    }

    public init(
        mean: [Float], std: [Float], cropSize: Int, cropPct: Double, resizeShorter: Int? = nil,
        interpolation: Interpolation = .bicubic
    ) {
        self.mean = mean
        self.std = std
        self.cropSize = cropSize
        self.cropPct = cropPct
        self.resizeShorter = resizeShorter ?? Int((Double(cropSize) / cropPct).rounded(.down))
        self.interpolation = interpolation
    }

    /// timm's defaults for ViT-B/16: mean = std = 0.5, bicubic, crop_pct 0.9.
    public static func timmViT(cropSize: Int = 224) -> PreprocessConfig {
        PreprocessConfig(mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], cropSize: cropSize, cropPct: 0.9)
    }

    /// Check the values a malformed metadata entry could break.
    public func validate() throws {
        guard mean.count == 3, std.count == 3 else {
            throw PreprocessError.invalidConfig("mean and std need 3 values, got \(mean.count) and \(std.count)")
        }
        guard std.allSatisfy({ $0 != 0 }) else { throw PreprocessError.invalidConfig("std has a zero") }
        guard cropSize > 0, resizeShorter > 0 else {
            throw PreprocessError.invalidConfig("crop_size \(cropSize) / resize_shorter \(resizeShorter) must be > 0")
        }
    }
}

public enum PreprocessError: Error, LocalizedError, Equatable {
    case invalidConfig(String)
    case badBuffer(String)

    public var errorDescription: String? {
        switch self {
        case .invalidConfig(let m): return "preprocess config: \(m)"
        case .badBuffer(let m): return "image buffer: \(m)"
        }
    }
}

/// An 8-bit RGB image, rows top to bottom, 3 interleaved bytes per pixel.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0, pixels.count == width * height * 3 else {
            throw PreprocessError.badBuffer("\(width)x\(height) RGB needs \(width * height * 3) bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// From interleaved 4-byte pixels (RGBA / RGBX, or BGRA with `bgra: true`), with an optional
    /// row stride in bytes (CVPixelBuffer / CGContext rows are padded). Alpha is dropped.
    public init(
        fourChannel bytes: UnsafeRawBufferPointer, width: Int, height: Int, bytesPerRow: Int? = nil,
        bgra: Bool = false
    ) throws {
        let stride = bytesPerRow ?? width * 4
        guard width > 0, height > 0, stride >= width * 4, bytes.count >= stride * (height - 1) + width * 4 else {
            throw PreprocessError.badBuffer("\(width)x\(height) stride \(stride) does not fit \(bytes.count) bytes")
        }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        let (r, b) = bgra ? (2, 0) : (0, 2)
        for y in 0..<height {
            let row = y * stride
            for x in 0..<width {
                let s = row + x * 4
                let d = (y * width + x) * 3
                out[d] = bytes[s + r]
                out[d + 1] = bytes[s + 1]
                out[d + 2] = bytes[s + b]
            }
        }
        self.width = width
        self.height = height
        self.pixels = out
    }

    /// Copy of the rectangle `[x0, x0+w) × [y0, y0+h)`.
    public func cropped(x0: Int, y0: Int, width w: Int, height h: Int) -> RGBImage {
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            let src = ((y0 + y) * width + x0) * 3
            out.replaceSubrange((y * w * 3)..<((y + 1) * w * 3), with: pixels[src..<(src + w * 3)])
        }
        // swiftlint:disable:next force_try
        return try! RGBImage(width: w, height: h, pixels: out)
    }
}

// MARK: - Resampling (port of image 0.25 imageops::resize)

/// Mitchell-Netravali cubic with parameters b, c, in f32 with the same operation order as
/// `bc_cubic_spline` in image 0.25.
@inline(__always)
func bcCubicSpline(_ x: Float, _ b: Float, _ c: Float) -> Float {
    let a = abs(x)
    let k: Float
    if a < 1 {
        let t1: Float = (12 - 9 * b - 6 * c) * (a * (a * a))
        let t2: Float = (-18 + 12 * b + 6 * c) * (a * a)
        k = t1 + t2 + (6 - 2 * b)
    } else if a < 2 {
        let t1: Float = (-b - 6 * c) * (a * (a * a))
        let t2: Float = (6 * b + 30 * c) * (a * a)
        let t3: Float = (-12 * b - 48 * c) * a
        k = t1 + t2 + t3 + (8 * b + 24 * c)
    } else {
        k = 0
    }
    return k / 6
}

struct ResampleFilter {
    let kernel: (Float) -> Float
    let support: Float

    static func forInterpolation(_ i: Interpolation) -> ResampleFilter {
        switch i {
        case .bicubic: return ResampleFilter(kernel: { bcCubicSpline($0, 0, 0.5) }, support: 2)
        case .bilinear: return ResampleFilter(kernel: { abs($0) < 1 ? 1 - abs($0) : 0 }, support: 1)
        case .nearest: return ResampleFilter(kernel: { _ in 1 }, support: 0)
        }
    }

    /// For each output index along one axis: first input index and normalized weights.
    func weights(inputLength: Int, outputLength: Int) -> [(left: Int, ws: [Float])] {
        let ratio = Float(inputLength) / Float(outputLength)
        let sratio: Float = ratio < 1 ? 1 : ratio
        let srcSupport = support * sratio
        var result: [(left: Int, ws: [Float])] = []
        result.reserveCapacity(outputLength)
        for out in 0..<outputLength {
            var input = (Float(out) + 0.5) * ratio
            let left = min(max(Int((input - srcSupport).rounded(.down)), 0), inputLength - 1)
            let right = min(max(Int((input + srcSupport).rounded(.up)), left + 1), inputLength)
            input = input - 0.5
            var ws: [Float] = []
            ws.reserveCapacity(right - left)
            var sum: Float = 0
            for i in left..<right {
                let w = kernel((Float(i) - input) / sratio)
                ws.append(w)
                sum += w
            }
            for j in ws.indices { ws[j] /= sum }
            result.append((left, ws))
        }
        return result
    }
}

/// Resize with the `image` crate's algorithm (vertical pass, then horizontal). Same size → copy.
public func resize(_ img: RGBImage, width newWidth: Int, height newHeight: Int, interpolation: Interpolation) -> RGBImage {
    if newWidth == img.width && newHeight == img.height { return img }
    let filter = ResampleFilter.forInterpolation(interpolation)
    let w = img.width
    let rowLen = w * 3
    // Vertical pass: u8 → f32, height changes, width kept; no rounding or clamping. Each output
    // value accumulates its taps in ascending order starting from 0, exactly as image-rs does;
    // looping taps outside the row only changes the memory order, not any sum.
    var tmp = [Float](repeating: 0, count: rowLen * newHeight)
    let vw = filter.weights(inputLength: img.height, outputLength: newHeight)
    img.pixels.withUnsafeBufferPointer { src in
        tmp.withUnsafeMutableBufferPointer { dst in
            for (outY, entry) in vw.enumerated() {
                let d0 = outY * rowLen
                for (i, wt) in entry.ws.enumerated() {
                    let s0 = (entry.left + i) * rowLen
                    for j in 0..<rowLen {
                        dst[d0 + j] += Float(src[s0 + j]) * wt
                    }
                }
            }
        }
    }
    // Horizontal pass: f32 → u8 with clamp to [0, 255] and round half away from zero.
    var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
    let hw = filter.weights(inputLength: w, outputLength: newWidth)
    @inline(__always) func toU8(_ v: Float) -> UInt8 {
        let c: Float = v < 0 ? 0 : (v > 255 ? 255 : v)
        return UInt8(c.rounded(.toNearestOrAwayFromZero))
    }
    tmp.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for y in 0..<newHeight {
                let s0 = y * rowLen
                let d0 = y * newWidth * 3
                for (outX, entry) in hw.enumerated() {
                    var t0: Float = 0, t1: Float = 0, t2: Float = 0
                    var s = s0 + entry.left * 3
                    for wt in entry.ws {
                        t0 += src[s] * wt
                        t1 += src[s + 1] * wt
                        t2 += src[s + 2] * wt
                        s += 3
                    }
                    let d = d0 + outX * 3
                    dst[d] = toU8(t0)
                    dst[d + 1] = toU8(t1)
                    dst[d + 2] = toU8(t2)
                }
            }
        }
    }
    // swiftlint:disable:next force_try
    return try! RGBImage(width: newWidth, height: newHeight, pixels: out)
}

// MARK: - The evaluation transform

extension PreprocessConfig {
    /// Size after resizing the shorter side to `resizeShorter` (longer side rounded half away
    /// from zero, at least 1), as in the Rust `resize_and_crop`.
    public func resizedSize(width w: Int, height h: Int) -> (width: Int, height: Int) {
        let s = resizeShorter
        if w <= h {
            return (s, max(Int((Double(h) * Double(s) / Double(w)).rounded(.toNearestOrAwayFromZero)), 1))
        } else {
            return (max(Int((Double(w) * Double(s) / Double(h)).rounded(.toNearestOrAwayFromZero)), 1), s)
        }
    }

    /// Resize the shorter side and center crop to `cropSize` × `cropSize` (8-bit RGB).
    public func resizeAndCrop(_ img: RGBImage) -> RGBImage {
        let (nw, nh) = resizedSize(width: img.width, height: img.height)
        let resized = resize(img, width: nw, height: nh, interpolation: interpolation)
        let c = cropSize
        let cw = min(c, nw), ch = min(c, nh)
        let cropped = resized.cropped(x0: (nw - cw) / 2, y0: (nh - ch) / 2, width: cw, height: ch)
        if cw == c && ch == c { return cropped }
        return resize(cropped, width: c, height: c, interpolation: interpolation)
    }

    /// Normalize an 8-bit RGB image into CHW float32, writing into `out` (3·w·h values):
    /// `(x/255 - mean[c]) / std[c]` in f32, as in Rust.
    public func normalizeCHW(_ img: RGBImage, into out: UnsafeMutableBufferPointer<Float>) {
        let plane = img.width * img.height
        precondition(out.count >= 3 * plane, "output buffer too small")
        let m0 = mean[0], m1 = mean[1], m2 = mean[2]
        let s0 = std[0], s1 = std[1], s2 = std[2]
        img.pixels.withUnsafeBufferPointer { px in
            for i in 0..<plane {
                out[i] = (Float(px[3 * i]) / 255 - m0) / s0
                out[plane + i] = (Float(px[3 * i + 1]) / 255 - m1) / s1
                out[2 * plane + i] = (Float(px[3 * i + 2]) / 255 - m2) / s2
            }
        }
    }

    /// The full evaluation transform into a caller-owned buffer of `3·crop·crop` floats (e.g. an
    /// MLMultiArray's storage — no NSNumber boxing).
    public func apply(_ img: RGBImage, into out: UnsafeMutableBufferPointer<Float>) {
        normalizeCHW(resizeAndCrop(img), into: out)
    }

    /// The full evaluation transform: CHW float32 of `3·crop·crop` values.
    public func apply(_ img: RGBImage) -> [Float] {
        var out = [Float](repeating: 0, count: 3 * cropSize * cropSize)
        out.withUnsafeMutableBufferPointer { apply(img, into: $0) }
        return out
    }
}
