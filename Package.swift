// swift-tools-version:6.0
// megaplan: an analytical planner for Megatron-LM / NeMo training runs.
// No package dependencies, by rule: it builds offline with the toolchain alone.
import PackageDescription

let package = Package(
  name: "megaplan",
  products: [
    .library(name: "MegatronPlan", targets: ["MegatronPlan"]),
    .executable(name: "megaplan", targets: ["megaplan"]),
  ],
  dependencies: [],
  targets: [
    .target(name: "MegatronPlan"),
    .target(name: "MegaplanCLI", dependencies: ["MegatronPlan"]),
    .executableTarget(name: "megaplan", dependencies: ["MegaplanCLI"]),
    .testTarget(
      name: "MegatronPlanTests", dependencies: ["MegatronPlan"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "MegaplanCLITests", dependencies: ["MegaplanCLI", "MegatronPlan"],
      resources: [.copy("Snapshots")]),
  ]
)
