// swift-tools-version:6.0
// The nucleus-engine daemon: a Swift executable doing Nucleus-Image's model math on MLX and serving it over gRPC.
//
// MLX comes from the official backend wheel that `npm run setup` unpacks and links as .deps/mlx; the gRPC C core
// and protobuf-c come from the system (Debian packages, Homebrew on macOS).
import Foundation
import PackageDescription

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
// A stable path (a link into the cache), so SwiftPM's cached manifest stays valid when the SDK moves.
// NUCLEUS_MLX_LINK picks another link in .deps (scripts/device-kit.sh builds against .deps/mlx-cuda this way).
let mlxLink = ProcessInfo.processInfo.environment["NUCLEUS_MLX_LINK"] ?? "mlx"
let mlxPrefix = packageRoot + "/.deps/" + mlxLink
let mlxInclude = mlxPrefix + "/mlx/include"
let mlxLib = mlxPrefix + "/mlx/lib"
let homebrew = "/opt/homebrew"

let mlxLinkerFlags: [String] = ["-L", mlxLib, "-lmlx", "-Xlinker", "-rpath", "-Xlinker", mlxLib]
let macOSSystemLibraries: [LinkerSetting] = [
  .unsafeFlags(["-L", homebrew + "/lib"], .when(platforms: [.macOS]))
]

let package = Package(
  name: "nucleus-engine",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "nucleus-engine", targets: ["nucleus-engine"]),
    .executable(name: "nucleus-bench", targets: ["nucleus-bench"]),
  ],
  targets: [
    // C++ over libmlx behind a plain C header; every C++ exception becomes an error value.
    .target(
      name: "CMLXBridge",
      path: "swift-engine/Sources/CMLXBridge",
      cxxSettings: [.unsafeFlags(["-isystem", mlxInclude])],
      linkerSettings: [.unsafeFlags(mlxLinkerFlags)]
    ),
    // gRPC server transport over the gRPC C core.
    .target(
      name: "CGRPCShim",
      path: "swift-engine/Sources/CGRPCShim",
      cSettings: [.unsafeFlags(["-I", homebrew + "/include"], .when(platforms: [.macOS]))],
      linkerSettings: macOSSystemLibraries + [.linkedLibrary("grpc"), .linkedLibrary("gpr")]
    ),
    // protobuf-c messages generated from proto/ by scripts/generate-proto.sh.
    .target(
      name: "CEngineProto",
      path: "swift-engine/Sources/CEngineProto",
      cSettings: [.unsafeFlags(["-I", homebrew + "/include"], .when(platforms: [.macOS]))],
      linkerSettings: macOSSystemLibraries + [.linkedLibrary("protobuf-c")]
    ),
    // The Swift tensor API (reads like mlx-swift's MLX module).
    .target(name: "MLX", dependencies: ["CMLXBridge"], path: "swift-engine/Sources/MLX"),
    // Layers and parameter loading (mlx-swift's MLXNN names).
    .target(name: "MLXNN", dependencies: ["MLX"], path: "swift-engine/Sources/MLXNN"),
    // Checkpoint folders in the diffusers/transformers layout: validation, sharded loading, quantization, saving.
    .target(name: "Checkpoints", dependencies: ["MLX", "MLXNN"], path: "swift-engine/Sources/Checkpoints"),
    // The models: the Nucleus DiT (and later the VAE and the text encoder), one file per part.
    .target(
      name: "NucleusModels", dependencies: ["MLX", "MLXNN", "Checkpoints"], path: "swift-engine/Sources/NucleusModels"),
    // The engine: RPC handlers, model state, self-check.
    .target(
      name: "NucleusEngine",
      dependencies: ["MLX", "MLXNN", "Checkpoints", "NucleusModels", "CGRPCShim", "CEngineProto"],
      path: "swift-engine/Sources/NucleusEngine"
    ),
    .executableTarget(
      name: "nucleus-engine",
      dependencies: ["NucleusEngine"],
      path: "swift-engine/Sources/nucleus-engine",
      linkerSettings: [.unsafeFlags(["-Xlinker", "-rpath", "-Xlinker", mlxLib])]
    ),
    .executableTarget(
      name: "nucleus-bench",
      dependencies: ["MLX", "MLXNN", "Checkpoints", "NucleusModels"],
      path: "swift-engine/Sources/nucleus-bench",
      linkerSettings: [.unsafeFlags(["-Xlinker", "-rpath", "-Xlinker", mlxLib])]
    ),
    .testTarget(name: "MLXTests", dependencies: ["MLX"], path: "swift-engine/Tests/MLXTests"),
    // Hashed test weights (the formula the reference scripts share), optimized even in debug builds.
    .target(name: "CHashedWeights", path: "swift-engine/Tests/CHashedWeights", cSettings: [.unsafeFlags(["-O2"])]),
    .testTarget(
      name: "NucleusModelTests", dependencies: ["MLX", "MLXNN", "Checkpoints", "NucleusModels", "CHashedWeights"],
      path: "swift-engine/Tests/NucleusModelTests"),
    .testTarget(
      name: "CheckpointTests", dependencies: ["MLX", "MLXNN", "Checkpoints"], path: "swift-engine/Tests/CheckpointTests"),
    .testTarget(
      name: "NucleusEngineTests",
      dependencies: ["NucleusEngine"],
      path: "swift-engine/Tests/NucleusEngineTests"
    ),
  ],
  swiftLanguageModes: [.v5],
  cLanguageStandard: .c11,
  cxxLanguageStandard: .cxx20
)
