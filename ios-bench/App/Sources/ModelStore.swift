// Finds the bundled model and evaluation images, loads the model once for the Classify screen
// (compute unit `.all`), and classifies photos with the shared SceneBench preprocessing.

import CoreML
import Foundation
import SceneBench

@MainActor
final class ModelStore: ObservableObject {
    @Published private(set) var loader: CoreMLModelLoader?
    @Published private(set) var loadError: String?
    private var classifier: CoreMLBenchModel?

    static let modelName = "SceneClassifier"
    static let evalFolder = "EvalSet"

    init() {
        do {
            guard let url = Bundle.main.url(forResource: Self.modelName, withExtension: "mlmodelc") else {
                throw CoreMLModelError.io(name: Self.modelName, reason: "no \(Self.modelName).mlmodelc in the app bundle")
            }
            let l = try CoreMLModelLoader(url: url)  // model name from the export metadata (checkpoint stem)
            loader = l
            classifier = try l.load(computeUnit: .all)
        } catch {
            loadError = error.localizedDescription
        }
    }

    var classes: [String] { loader?.classes ?? [] }

    /// Decode, preprocess (into the MLMultiArray), predict, rank.
    func classify(imageData: Data) async throws -> Classification {
        guard let model = classifier, let loader else {
            throw CoreMLModelError.io(name: Self.modelName, reason: loadError ?? "not loaded")
        }
        let classes = loader.classes
        // Off the main actor: decoding and the model run take tens of milliseconds.
        return try await Task.detached(priority: .userInitiated) {
            let image = try RGBImage(data: imageData)
            let logits = try model.predict(try model.makeInput(image))
            return Classification(logits: logits.map(Double.init), classes: classes)
        }.value
    }

    /// The bundled evaluation set (`EvalSet/<split>/<class>/*`), or nil when none was bundled.
    func evalSet(split: String) throws -> EvalSet? {
        guard let loader, let root = Bundle.main.url(forResource: Self.evalFolder, withExtension: nil) else { return nil }
        return try EvalSet.imageFolder(root: root, split: split, classes: loader.classes) { try RGBImage(contentsOf: $0) }
    }
}
