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

        // The engine: pure Swift on Glibc, no Foundation.
        .target(name: "DeepScratch", dependencies: ["CBLAS", "CBLASCore", "CZlib", "CLibPNG", "CKernels"]),

        // Load-time code of libdeepscratch.so (it pins itself against dlclose).
        .target(name: "CLibrarySupport"),

        // The C ABI: converts and catches, nothing else.
        .target(name: "DeepScratchC", dependencies: ["DeepScratch", "CLibrarySupport"]),

        // The command-line tool.
        .executableTarget(
            name: "dsc",
            dependencies: [
                "DeepScratch",
                "DeepScratchC",  // dsc bench measures classification through the C ABI's functions
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // The shipped model, copied beside the executable (dsc predict's default).
            resources: [.copy("Resources/default.dsm")]),

        .testTarget(name: "DeepScratchTests", dependencies: ["DeepScratch", "CZlib", "CLibPNG", "CKernels", "CBLASCore"]),
        .testTarget(name: "DeepScratchCTests", dependencies: ["DeepScratchC", "DeepScratch", "CLibrarySupport"]),
        .testTarget(name: "dscTests", dependencies: ["dsc", "DeepScratch"]),
    ]
)
