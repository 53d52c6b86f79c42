// swift-tools-version:6.0
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    // Release builds put each of our functions in its own section, so that the link can lay
    // out the ones an agent runs together (hot-symbols.txt, below).
    .unsafeFlags(["-Xfrontend", "-function-sections"], .when(configuration: .release))
]

let package = Package(
    name: "tributary",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tributary", targets: ["tributary"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2")
    ],
    targets: [
        // System libraries named by the brief.
        .systemLibrary(
            name: "CSnappy",
            pkgConfig: "snappy",
            providers: [.apt(["libsnappy-dev"])]
        ),
        .systemLibrary(
            name: "CProtobufC",
            pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]
        ),
        // protoc-c output for ../shared/proto (regenerate with scripts/gen-proto) plus the arena.
        .target(
            name: "CPrompb",
            dependencies: ["CProtobufC"]
        ),

        .target(
            name: "TributaryModel",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TributaryWire",
            dependencies: ["TributaryModel", "CSnappy", "CPrompb", "CZlib", "CIsal"],
            swiftSettings: swiftSettings
        ),
        .target(name: "CTributaryCRC"),
        .target(name: "CTributaryPrefetch"),
        .target(
            name: "TributaryWAL",
            dependencies: ["TributaryModel", "CTributaryCRC", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TributaryTSDB",
            dependencies: ["TributaryModel", "TributaryWAL", "CTributaryCRC", "CTributaryPrefetch", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TributaryPromQL",
            dependencies: ["TributaryModel"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TributaryConfig",
            dependencies: ["TributaryModel", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // The WAL-backed sending pipeline the agent and the receiver's forwarding share.
        .target(
            name: "TributaryRemoteWrite",
            dependencies: [
                "TributaryModel", "TributaryWire", "TributaryWAL", "TributaryConfig",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams")
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP server settings both servers share: connection cap and read deadlines.
        .target(
            name: "TributaryHTTPServer",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TributaryAgent",
            dependencies: [
                "TributaryModel", "TributaryWire", "TributaryWAL", "TributaryConfig", "TributaryRemoteWrite", "TributaryHTTPServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams")
            ],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Intel's ISA-L for gzip answers: three to four times zlib's speed at level 1.
        .systemLibrary(name: "CIsal", providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "CCrypt", providers: [.apt(["libcrypt-dev"])]),
        // Microsoft's mimalloc, linked into the executable in place of glibc's malloc
        // (Sources/tributary/Allocator.swift says why).
        .systemLibrary(name: "CMimalloc", providers: [.apt(["libmimalloc-dev"])]),
        .target(
            name: "TributaryReceiver",
            dependencies: [
                "TributaryModel", "TributaryWire", "TributaryWAL", "TributaryTSDB", "TributaryPromQL", "TributaryConfig", "TributaryRemoteWrite", "TributaryHTTPServer",
                "CCrypt",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams")
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tributary",
            dependencies: [
                "TributaryModel",
                "TributaryWire",
                "TributaryReceiver",
                "TributaryAgent",
                "TributaryRemoteWrite",
                "TributaryConfig",
                "TributaryPromQL",
                "TributaryWAL",
                "TributaryHTTPServer",
                "CMimalloc",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus")
            ],
            // Linked by the toolchain's lld: relative relocations packed (RELR, glibc 2.36+)
            // instead of 2.7 MB of RELA records read at start, and no dynamic symbol table
            // (an executable exports nothing). Together about 6 MiB less mapped at run time.
            // The functions an agent runs are laid out together, first
            // (hot-symbols.txt, written by scripts/order-symbols; names it lists that the
            // build lacks are skipped): the kernel maps the executable in large folios, and
            // this keeps the rest of the code out of the process's memory.
            // Release builds link the Swift runtime and Foundation in (as scripts/build-release
            // does): with them as shared libraries, their mapped pages made a plain
            // `swift build -c release` agent 1.25x vmagent's peak RSS on recorded real pages
            // (scripts/bench-agent --pages, 100 targets: 47 vs 38 MiB, 29 MiB of it files);
            // linked in, 0.97-1.01x (36 MiB, 19 of it files). The archive names below are the
            // ones static Foundation needs that the shared modules we compile against omit.
            exclude: ["hot-symbols.txt"],
            swiftSettings: swiftSettings,
            linkerSettings: [
                .unsafeFlags([
                    "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic",
                    "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/Sources/tributary/hot-symbols.txt",
                    "-Xlinker", "--no-warn-symbol-ordering"
                ]),
                .unsafeFlags(["-static-stdlib"], .when(configuration: .release)),
                // Static Foundation's ICU and internationalization archives, which the modules
                // our code was compiled against (the shared ones) do not name.
                .linkedLibrary("FoundationInternationalization", .when(configuration: .release)),
                .linkedLibrary("_FoundationICU", .when(configuration: .release)),
                .linkedLibrary("_FoundationCollections", .when(configuration: .release)),
                .linkedLibrary("_FoundationCShims", .when(configuration: .release)),
                .linkedLibrary("CoreFoundation", .when(configuration: .release)),
                .linkedLibrary("FoundationEssentials", .when(configuration: .release))
            ]
        ),

        // Benchmarks and fuzzers: separate executables that `swift test` never runs.
        .target(name: "CMallocCounter", path: "Benchmarks/CMallocCounter"),
        .executableTarget(
            name: "tributary-bench",
            dependencies: [
                "TributaryModel", "TributaryWire", "TributaryTSDB", "TributaryWAL", "TributaryPromQL", "CPrompb", "CMallocCounter", "TributaryTestSupport"
            ],
            path: "Benchmarks/tributary-bench",
            swiftSettings: swiftSettings
        ),
        .target(name: "FuzzSupport", path: "Fuzz/FuzzSupport", swiftSettings: swiftSettings),
        .executableTarget(
            name: "fuzz-wire",
            dependencies: ["TributaryModel", "TributaryWire", "FuzzSupport"],
            path: "Fuzz/fuzz-wire",
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "fuzz-exposition",
            dependencies: ["TributaryWire", "FuzzSupport"],
            path: "Fuzz/fuzz-exposition",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fuzz-block",
            dependencies: ["TributaryTSDB", "TributaryModel", "FuzzSupport"],
            path: "Fuzz/fuzz-block",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fuzz-http",
            dependencies: ["TributaryWire", "FuzzSupport"],
            path: "Fuzz/fuzz-http",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fuzz-promql",
            dependencies: ["TributaryModel", "TributaryPromQL", "TributaryTSDB", "FuzzSupport"],
            path: "Fuzz/fuzz-promql",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TributaryTestSupport",
            path: "Tests/TributaryTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TributaryAgentTests",
            dependencies: [
                "TributaryAgent", "TributaryRemoteWrite", "TributaryConfig", "TributaryModel", "TributaryWire", "TributaryWAL", "TributaryTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus")
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TributaryRemoteWriteTests",
            dependencies: [
                "TributaryRemoteWrite", "TributaryConfig", "TributaryModel", "TributaryWire", "TributaryWAL", "TributaryTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus")
            ],
            swiftSettings: swiftSettings
        ),
        // The real binaries and Debian's peers as processes on loopback ports.
        .testTarget(
            name: "TributaryEndToEndTests",
            dependencies: ["TributaryTestSupport", "tributary", "TributaryModel", "TributaryWire", "TributaryConfig"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TributaryModelTests",
            dependencies: ["TributaryModel"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TributaryWALTests",
            dependencies: ["TributaryModel", "TributaryWAL", "CTributaryCRC", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tsdb-crash-writer",
            dependencies: ["TributaryModel", "TributaryTSDB", "TributaryWAL"],
            path: "TestTools/tsdb-crash-writer",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TributaryTSDBTests",
            dependencies: ["TributaryModel", "TributaryTSDB", "TributaryWAL", "tsdb-crash-writer", .product(name: "Logging", package: "swift-log")],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TributaryPromQLTests",
            dependencies: ["TributaryModel", "TributaryPromQL", "TributaryTSDB", "TributaryWire", "TributaryTestSupport"],
            exclude: ["Scripts"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TributaryReceiverTests",
            dependencies: [
                "TributaryConfig", "TributaryTestSupport", "TributaryRemoteWrite", "TributaryAgent",
                "TributaryModel", "TributaryWire", "TributaryReceiver", "TributaryTSDB", "TributaryWAL", "TributaryHTTPServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TributaryWireTests",
            dependencies: ["TributaryModel", "TributaryWire", "CZlib"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        )
    ]
)
