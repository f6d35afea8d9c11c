// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "DeepScratch",
    products: [
        // libdeepscratch.so: the C ABI declared in include/deepscratch.h.
        .library(name: "deepscratch", type: .dynamic, targets: ["DeepScratchC"]),
        .library(name: "DeepScratch", targets: ["DeepScratch"]),
        .executable(name: "dsc", targets: ["dsc"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries (Debian: libopenblas-dev, zlib1g-dev, libpng-dev).
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CLibPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),

        // The innermost loops that gain from AVX2, compiled for it and for the
        // baseline, chosen by the CPU at load time.
        .target(name: "CKernels"),

        // What the system's BLAS runs, and OpenBLAS's kernels chosen again
        // when it does not know the CPU (see BLASBackend.swift).
        .target(name: "CBLASCore"),

        // The engine: math, layers, network, training, model file, inference.
        // Pure Swift on Glibc and BLAS (zlib for int8 tensors), no Foundation.
        .target(name: "DeepScratch", dependencies: ["CBLAS", "CBLASCore", "CZlib", "CKernels"]),

        // Image input: PNG decoding (libpng), the preprocessing that turns a
        // picture into a model's input, classification of pictures.
        .target(name: "DeepScratchImage", dependencies: ["DeepScratch", "CLibPNG"]),

        // Tools around the engine, outside what libdeepscratch.so links:
        // benchmarks, drawing (canvas, picture grids, charts), ONNX export.
        .target(name: "DeepScratchTools", dependencies: ["DeepScratch", "DeepScratchImage", "CBLAS", "CKernels"]),

        // Load-time code of libdeepscratch.so (it pins itself against dlclose).
        .target(name: "CLibrarySupport"),

        // The C ABI: converts and catches, nothing else.
        .target(name: "DeepScratchC", dependencies: ["DeepScratch", "DeepScratchImage", "CLibrarySupport"]),

        // The command-line tool.
        .executableTarget(
            name: "dsc",
            dependencies: [
                "DeepScratch",
                "DeepScratchImage",
                "DeepScratchTools",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // The shipped model, copied beside the executable (dsc predict's default).
            resources: [.copy("Resources/default.dsm"), .copy("Resources/mlp.dsm")]),

        // Helpers the test targets share (temporary folders, files, error assertions).
        .target(name: "DeepScratchTestSupport", dependencies: ["DeepScratch", "CZlib"], path: "Tests/Support"),
        .testTarget(name: "DeepScratchTests", dependencies: ["DeepScratch", "DeepScratchTestSupport", "CZlib", "CKernels", "CBLASCore"]),
        .testTarget(name: "DeepScratchImageTests", dependencies: ["DeepScratchImage", "DeepScratch", "DeepScratchTestSupport", "CLibPNG", "CZlib"]),
        .testTarget(name: "DeepScratchToolsTests", dependencies: ["DeepScratchTools", "DeepScratch"]),
        .testTarget(name: "DeepScratchCTests", dependencies: ["DeepScratchC", "DeepScratch", "DeepScratchImage", "DeepScratchTestSupport", "CLibrarySupport"]),
        .testTarget(name: "dscTests", dependencies: ["dsc", "DeepScratch", "DeepScratchImage", "DeepScratchTools", "DeepScratchTestSupport"]),
    ]
)
