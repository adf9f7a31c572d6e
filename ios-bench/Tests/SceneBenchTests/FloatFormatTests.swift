// Hand-checked Rust float forms: `ryu` (csv crate f64 fields) and f64 `Display` (list cells).
// Expected strings are what Rust prints (ryu/src/pretty/mod.rs rules; `format!("{}", x)`).

import XCTest
@testable import SceneBench

final class FloatFormatTests: XCTestCase {
    func testRyuForms() {
        let cases: [(Double, String)] = [
            (1.0, "1.0"), (0.1, "0.1"), (35.0, "35.0"), (812.25, "812.25"), (-2.5, "-2.5"),
            (0.0, "0.0"), (-0.0, "-0.0"),
            (0.0001, "0.0001"), (0.00001, "0.00001"), (0.000012, "0.000012"), (1e-6, "1e-6"), (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"), (-1.25e-10, "-1.25e-10"),
            (1e15, "1000000000000000.0"), (1e16, "1e16"), (1.2345678901234568e16, "1.2345678901234568e16"),
            (9007199254740993.0, "9007199254740992.0"), (123456789012345.6, "123456789012345.6"),
            (1e22, "1e22"), (1.7976931348623157e308, "1.7976931348623157e308"), (5e-324, "5e-324"),
            (3.3333333333333335, "3.3333333333333335"), (0.30000000000000004, "0.30000000000000004"),
            (.nan, "NaN"), (.infinity, "inf"), (-.infinity, "-inf"),
        ]
        for (v, s) in cases { XCTAssertEqual(RustFloat.ryu(v), s, "\(v)") }
    }

    func testDisplayForms() {
        let cases: [(Double, String)] = [
            (1.0, "1"), (0.1, "0.1"), (-2.5, "-2.5"), (0.0, "0"), (-0.0, "-0"), (100.0, "100"),
            (1e-7, "0.0000001"), (-1e-7, "-0.0000001"), (1.5e-10, "0.00000000015"),
            (1e16, "10000000000000000"), (1e22, "10000000000000000000000"),
            (1.2345678901234568e16, "12345678901234568"), (0.6590011388859679, "0.6590011388859679"),
            (.nan, "NaN"), (.infinity, "inf"), (-.infinity, "-inf"),
        ]
        for (v, s) in cases { XCTAssertEqual(RustFloat.display(v), s, "\(v)") }
    }

    func testDebugForms() {
        // format!("{:?}", x) for f64 / f32.
        let f64Cases: [(Double, String)] = [
            (1.0, "1.0"), (0.1, "0.1"), (-2.5, "-2.5"), (0.0, "0.0"), (-0.0, "-0.0"), (100.0, "100.0"),
            (0.0001, "0.0001"), (0.00009, "9e-5"), (1e-5, "1e-5"), (-1.5e-7, "-1.5e-7"),
            (1e15, "1000000000000000.0"), (9999999999999998.0, "9999999999999998.0"), (1e16, "1e16"),
            (1.2345678901234568e16, "1.2345678901234568e16"), (0.6590011388859679, "0.6590011388859679"),
            (.nan, "NaN"), (.infinity, "inf"), (-.infinity, "-inf"),
        ]
        for (v, s) in f64Cases { XCTAssertEqual(RustFloat.debug(v), s, "\(v)") }
        let f32Cases: [(Float, String)] = [
            (0.1, "0.1"), (3.0, "3.0"), (-1e-7, "-1e-7"), (1e-5, "1e-5"), (0.0002, "0.0002"), (0.0001, "0.0001"),
            (123456.79, "123456.79"), (0.33333334, "0.33333334"), (3.4028235e38, "3.4028235e38"), (-0.0, "-0.0"),
            (16777216, "16777216.0"),
        ]
        for (v, s) in f32Cases { XCTAssertEqual(RustFloat.debug(v), s, "\(v)") }
        XCTAssertEqual(RustFloat.list([1, 0.5, -1e-7] as [Double]), "1.0;0.5;-1e-7")
        XCTAssertEqual(RustFloat.list([1, 0.1, -1e-7] as [Float]), "1.0;0.1;-1e-7")
    }

    func testFormsRoundTrip() {
        // Whatever the layout, parsing the text gives back the same Double.
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<2000 {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            let v = Double(bitPattern: x)
            guard v.isFinite else { continue }
            XCTAssertEqual(Double(RustFloat.ryu(v)), v, RustFloat.ryu(v))
            XCTAssertEqual(Double(RustFloat.display(v)), v)
            XCTAssertEqual(Double(RustFloat.debug(v)), v)
            let f = Float(bitPattern: UInt32(truncatingIfNeeded: x >> 17))
            if f.isFinite { XCTAssertEqual(Float(RustFloat.debug(f)), f, RustFloat.debug(f)) }
        }
    }
}
