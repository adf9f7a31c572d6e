// Pick a photo, classify it, show the top-3 scenes with confidence bars, warn below 40%.

import PhotosUI
import SceneBench
import SwiftUI

struct ClassifyView: View {
    @EnvironmentObject private var store: ModelStore
    @State private var item: PhotosPickerItem?
    @State private var preview: UIImage?
    @State private var result: Classification?
    @State private var error: String?
    @State private var busy = false

    var body: some View {
        NavigationStack {
            ScrollView {
                VStack(alignment: .leading, spacing: 16) {
                    Text("SceneBench classifies the scene a photo shows (beach, kitchen, forest…), not the people or objects in it.")
                        .font(.footnote)
                        .foregroundStyle(.secondary)

                    PhotosPicker(selection: $item, matching: .images) {
                        Label("Choose a photo", systemImage: "photo.on.rectangle")
                            .frame(maxWidth: .infinity)
                    }
                    .buttonStyle(.borderedProminent)
                    .disabled(store.loader == nil || busy)

                    if let preview {
                        Image(uiImage: preview)
                            .resizable()
                            .scaledToFit()
                            .frame(maxHeight: 280)
                            .clipShape(RoundedRectangle(cornerRadius: 12))
                    }
                    if busy { ProgressView("Classifying…") }
                    if let result { ResultView(result: result) }
                    if let message = error ?? store.loadError {
                        Text(message).foregroundStyle(.red).font(.callout)
                    }
                }
                .padding()
            }
            .navigationTitle("Classify")
        }
        .onChange(of: item) { newItem in
            guard let newItem else { return }
            Task { await classify(newItem) }
        }
    }

    private func classify(_ item: PhotosPickerItem) async {
        busy = true
        error = nil
        result = nil
        defer { busy = false }
        do {
            guard let data = try await item.loadTransferable(type: Data.self) else {
                error = "Could not read the photo."
                return
            }
            preview = UIImage(data: data)
            result = try await store.classify(imageData: data)
        } catch {
            self.error = error.localizedDescription
        }
    }
}

struct ResultView: View {
    let result: Classification

    var body: some View {
        VStack(alignment: .leading, spacing: 12) {
            if result.lowConfidence {
                Label(
                    "Not sure: the best guess is below \(Int(LowConfidencePolicy.standard.threshold * 100))% confidence. The photo may not show one of the scenes this model knows.",
                    systemImage: "exclamationmark.triangle.fill"
                )
                .foregroundStyle(.orange)
                .font(.callout)
            }
            ForEach(result.top(3), id: \.index) { c in
                VStack(alignment: .leading, spacing: 4) {
                    HStack {
                        Text(c.label.replacingOccurrences(of: "_", with: " ").capitalized)
                        Spacer()
                        Text(c.probability, format: .percent.precision(.fractionLength(1)))
                            .monospacedDigit()
                    }
                    ProgressView(value: c.probability)
                        .tint(c.index == result.top1.index && !result.lowConfidence ? .green : .gray)
                }
            }
        }
    }
}
