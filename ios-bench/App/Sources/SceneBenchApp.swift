// The SceneBench iOS app: classify a photo with the exported scenebench model (Classify tab) and
// run the device benchmark suite, uploading its CSVs to `scenebench serve` (Benchmark tab).

import SwiftUI

@main
struct SceneBenchApp: App {
    @StateObject private var store = ModelStore()

    var body: some Scene {
        WindowGroup {
            TabView {
                ClassifyView()
                    .tabItem { Label("Classify", systemImage: "photo") }
                BenchmarkView()
                    .tabItem { Label("Benchmark", systemImage: "speedometer") }
            }
            .environmentObject(store)
        }
    }
}
