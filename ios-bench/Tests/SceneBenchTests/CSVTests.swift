// CSV layout: the docs/SCHEMAS.md column lists, RFC 4180 quoting, row construction errors.

import XCTest
@testable import SceneBench

final class CSVTests: XCTestCase {
    func testColumnsAreTheSchema() {
        // Copied from docs/SCHEMAS.md, in order.
        XCTAssertEqual(
            PredictionRow.columns.joined(separator: ","),
            "schema_version,run_id,model,backend,device,compute_unit,split,image_id,true_label,pred_label,confidence,true_prob,top5_labels,top5_probs,logits")
        XCTAssertEqual(
            LatencySampleRow.columns.joined(separator: ","),
            "schema_version,run_id,model,backend,engine_version,device,compute_unit,precision,threads,batch_size,mode,phase,iteration,latency_ms")
        XCTAssertEqual(CSV.latencySamples([]), LatencySampleRow.columns.joined(separator: ",") + "\n")
    }

    func testQuoting() {
        XCTAssertEqual(CSV.field("plain text"), "plain text")
        XCTAssertEqual(CSV.field("a,b"), "\"a,b\"")
        XCTAssertEqual(CSV.field("say \"hi\""), "\"say \"\"hi\"\"\"")
        XCTAssertEqual(CSV.field("two\nlines"), "\"two\nlines\"")
        XCTAssertEqual(CSV.field("cr\r"), "\"cr\r\"")
        XCTAssertEqual(CSV.field("a;b;c"), "a;b;c")
        XCTAssertEqual(CSV.field(""), "")
    }

    func testPredictionRow() throws {
        let classes = ["beach", "forest", "office"]
        let r = try PredictionRow(
            runId: "r", model: "m", device: "iPhone15,2", computeUnit: "all", split: "val", imageId: "x.jpg",
            trueLabel: "forest", logits: [2, 1, 0.1], classes: classes)
        XCTAssertEqual(r.backend, "coreml")
        XCTAssertEqual(r.predLabel, "beach")
        // Logits are f32 (0.1f ≈ 0.1 + 1.5e-9), so the hand-computed f64 values hold to ~1e-9.
        XCTAssertEqual(r.confidence, 0.6590011388859679, accuracy: 1e-9)
        XCTAssertEqual(r.trueProb, 0.2424329707047139, accuracy: 1e-9)
        XCTAssertEqual(r.top5Labels, classes)  // C < 5 → all C
        let line = CSV.predictions([r]).split(separator: "\n")[1]
        XCTAssertTrue(line.hasPrefix("1,r,m,coreml,\"iPhone15,2\",all,val,x.jpg,forest,beach,"), String(line))
        XCTAssertTrue(line.hasSuffix(",beach;forest;office,\(RustFloat.list(r.top5Probs)),2.0;1.0;0.1"), String(line))
        XCTAssertTrue(line.contains(",\(RustFloat.ryu(r.confidence)),\(RustFloat.ryu(r.trueProb)),"), String(line))

        XCTAssertThrowsError(
            try PredictionRow(runId: "r", model: "m", device: "d", computeUnit: "all", split: "val", imageId: "x",
                              trueLabel: "desert", logits: [1, 2, 3], classes: classes))
        XCTAssertThrowsError(
            try PredictionRow(runId: "r", model: "m", device: "d", computeUnit: "all", split: "val", imageId: "x",
                              trueLabel: "beach", logits: [1, 2], classes: classes))
        XCTAssertThrowsError(
            try PredictionRow(runId: "r", model: "m", device: "d", computeUnit: "all", split: "val", imageId: "x",
                              trueLabel: "beach", logits: [1, .nan, 3], classes: classes))
    }
}
