// Float text forms byte-identical to the Rust harness's CSVs (docs/SCHEMAS.md: shortest
// round-trip representation).
//
// Rust forms that matter:
// - float columns (`confidence`, `latency_ms`, …) are written by the `csv` crate through serde,
//   which formats f64 with `ryu` (ryu/src/pretty/mod.rs): `1.0`, `0.1`, `0.00001`, `1e-7`,
//   `1.2345678901234568e16`, `1e22`, `-0.0`, `NaN`, `inf`;
// - list cells are built by `results::records::PredictionRecord::from_logits` with `{:?}` (Debug):
//   f64 for `top5_probs`, f32 for `logits`: shortest digits, exponent form when
//   |x| < 1e-4 or |x| >= 1e16 (`1e-5`, `1.5e16`), otherwise at least one decimal (`1.0`, `0.0001`);
// - f64 `Display` (`to_string`) is kept for completeness: never an exponent, `1`, `0.0000001`.
// Swift's `description` gives the same shortest round-trip digits (closest to the exact value
// among the shortest) for Double and Float, so only the layout is re-done here.

import Foundation

/// Rust-compatible text forms of a Double.
public enum RustFloat {
    /// Decimal digits (no leading/trailing zeros, nonempty) and exponent such that
    /// |v| = 0.d1d2d3… × 10^pointPos, i.e. `pointPos` = position of the decimal point.
    static func decompose(_ v: Double) -> (negative: Bool, digits: [UInt8], pointPos: Int) {
        let (d, p) = decompose(description: abs(v).description)
        return (v.sign == .minus, d, p)
    }

    static func decompose(_ v: Float) -> (negative: Bool, digits: [UInt8], pointPos: Int) {
        let (d, p) = decompose(description: abs(v).description)
        return (v.sign == .minus, d, p)
    }

    /// Digits and point position of a finite, nonnegative `description`.
    static func decompose(description: String) -> (digits: [UInt8], pointPos: Int) {
        var s = Substring(description)  // e.g. "0.1", "100.0", "1e-05", "1.2345678901234568e+16"
        var exp10 = 0
        if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exp10 = Int(s[s.index(after: e)...])!
            s = s[..<e]
        }
        var digits: [UInt8] = []
        var intDigits = 0
        var seenPoint = false
        for ch in s.utf8 {
            if ch == UInt8(ascii: ".") { seenPoint = true; continue }
            digits.append(ch - UInt8(ascii: "0"))
            if !seenPoint { intDigits += 1 }
        }
        var pointPos = intDigits + exp10
        while let f = digits.first, f == 0, digits.count > 1 {
            digits.removeFirst()
            pointPos -= 1
        }
        while let l = digits.last, l == 0, digits.count > 1 { digits.removeLast() }
        return (digits, pointPos)
    }

    private static func chars(_ d: [UInt8]) -> String {
        String(decoding: d.map { $0 + UInt8(ascii: "0") }, as: UTF8.self)
    }

    /// The `ryu` crate's `format64` (what the `csv` crate writes for an f64 field).
    public static func ryu(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        if v == 0 { return v.sign == .minus ? "-0.0" : "0.0" }
        let (neg, d, kk) = decompose(v)
        let length = d.count
        let k = kk - length  // value = digits × 10^k
        var out = neg ? "-" : ""
        if k >= 0 && kk <= 16 {
            out += chars(d) + String(repeating: "0", count: kk - length) + ".0"
        } else if kk > 0 && kk <= 16 {
            out += chars(Array(d[..<kk])) + "." + chars(Array(d[kk...]))
        } else if kk > -5 && kk <= 0 {
            out += "0." + String(repeating: "0", count: -kk) + chars(d)
        } else if length == 1 {
            out += chars(d) + "e" + String(kk - 1)
        } else {
            out += chars([d[0]]) + "." + chars(Array(d[1...])) + "e" + String(kk - 1)
        }
        return out
    }

    /// Rust's `impl Display for f64` (`x.to_string()`): shortest digits, plain decimal notation.
    public static func display(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        if v == 0 { return v.sign == .minus ? "-0" : "0" }
        let (neg, d, kk) = decompose(v)
        var out = neg ? "-" : ""
        if kk <= 0 {
            out += "0." + String(repeating: "0", count: -kk) + chars(d)
        } else if kk >= d.count {
            out += chars(d) + String(repeating: "0", count: kk - d.count)
        } else {
            out += chars(Array(d[..<kk])) + "." + chars(Array(d[kk...]))
        }
        return out
    }

    /// Rust's `impl Debug for f64` (`format!("{x:?}")`).
    public static func debug(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        if v == 0 { return v.sign == .minus ? "-0.0" : "0.0" }
        let (neg, d, kk) = decompose(v)
        return debugLayout(neg, d, kk, exponential: abs(v) < 1e-4 || abs(v) >= 1e16)
    }

    /// Rust's `impl Debug for f32` (`format!("{x:?}")`), shortest f32 digits.
    public static func debug(_ v: Float) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        if v == 0 { return v.sign == .minus ? "-0.0" : "0.0" }
        let (neg, d, kk) = decompose(v)
        return debugLayout(neg, d, kk, exponential: abs(v) < Float(1e-4) || abs(v) >= Float(1e16))
    }

    private static func debugLayout(_ neg: Bool, _ d: [UInt8], _ kk: Int, exponential: Bool) -> String {
        var out = neg ? "-" : ""
        if exponential {
            out += chars([d[0]])
            if d.count > 1 { out += "." + chars(Array(d[1...])) }
            out += "e" + String(kk - 1)
        } else if kk <= 0 {
            out += "0." + String(repeating: "0", count: -kk) + chars(d)
        } else if kk >= d.count {
            out += chars(d) + String(repeating: "0", count: kk - d.count) + ".0"
        } else {
            out += chars(Array(d[..<kk])) + "." + chars(Array(d[kk...]))
        }
        return out
    }

    /// A `;`-separated list cell of f64 Debug forms (`top5_probs`).
    public static func list(_ values: [Double]) -> String {
        values.map { debug($0) }.joined(separator: ";")
    }

    /// A `;`-separated list cell of f32 Debug forms (`logits`).
    public static func list(_ values: [Float]) -> String {
        values.map { debug($0) }.joined(separator: ";")
    }
}
