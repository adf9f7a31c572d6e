// Float text forms byte-identical to the Rust harness's CSVs (docs/SCHEMAS.md: shortest
// round-trip representation).
//
// Two Rust forms matter:
// - float columns (`confidence`, `latency_ms`, …) are written by the `csv` crate through serde,
//   which formats f64 with `ryu` (ryu/src/pretty/mod.rs): `1.0`, `0.1`, `0.00001`, `1e-7`,
//   `1.2345678901234568e16`, `1e22`, `-0.0`, `NaN`, `inf`;
// - list cells (`top5_probs`, `logits`) are built with f64 `Display` (`to_string`): shortest
//   digits, never an exponent: `1`, `0.0000001`, `10000000000000000000000`, `-0`.
// Swift's `description` gives the same shortest round-trip digits (closest to the exact value
// among the shortest), so only the layout is re-done here.

import Foundation

/// Rust-compatible text forms of a Double.
public enum RustFloat {
    /// Decimal digits (no leading/trailing zeros, nonempty) and exponent such that
    /// |v| = 0.d1d2d3… × 10^pointPos, i.e. `pointPos` = position of the decimal point.
    static func decompose(_ v: Double) -> (negative: Bool, digits: [UInt8], pointPos: Int) {
        var s = Substring(abs(v).description)  // e.g. "0.1", "100.0", "1e-05", "1.2345678901234568e+16"
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
        return (v.sign == .minus, digits, pointPos)
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

    /// A `;`-separated list cell of `Display` forms (`top5_probs`, `logits`).
    public static func list(_ values: [Double]) -> String {
        values.map(display).joined(separator: ";")
    }
}
