// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "connectord",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "connectord", targets: ["connectord"]),
        .executable(name: "connectorctl", targets: ["connectorctl"]),
        .executable(name: "sample-connector", targets: ["sample-connector"]),
        .executable(name: "watch-load", targets: ["watch-load"]),
        .library(name: "ConnectorClient", targets: ["ConnectorClient"]),
        .library(name: "TTRPC", targets: ["TTRPC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // C: libprotobuf-c and the committed protoc-c output for proto/.
        .systemLibrary(
            name: "CProtobufC",
            pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]
        ),
        .target(name: "CProto", dependencies: ["CProtobufC"]),
        // Swift glue for protoc-c messages: arena-built encoding, checked decoding.
        .target(name: "ProtobufCKit", dependencies: ["CProto"], swiftSettings: swiftSettings),

        // The wire: ttrpc framing, envelope, server and client.
        .target(
            name: "TTRPC",
            dependencies: [
                "CProto", "ProtobufCKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // connectors.v1 messages as Swift values.
        .target(name: "ConnectorAPI", dependencies: ["CProto", "ProtobufCKit"], swiftSettings: swiftSettings),

        // The domain: no wire.
        .target(
            name: "ConnectorRegistry",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConnectorServer",
            dependencies: [
                "TTRPC", "ConnectorAPI", "ConnectorRegistry",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConnectorClient",
            dependencies: ["TTRPC", "ConnectorAPI", "ProtobufCKit", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // A small HTTP server that serves connector.json fixtures (sample connector, tests).
        .target(
            name: "SampleConnectorKit",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "connectord",
            dependencies: [
                "ConnectorServer", "ConnectorAPI", "ConnectorRegistry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "connectorctl",
            dependencies: [
                "ConnectorClient", "ConnectorAPI", "TTRPC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "sample-connector",
            dependencies: [
                "SampleConnectorKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The benchmark's watcher load client (Benchmarks/run.py, BENCHMARKS.md).
        .executableTarget(
            name: "watch-load",
            dependencies: [
                "ConnectorClient", "ConnectorAPI", "TTRPC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/watch-load",
            swiftSettings: swiftSettings
        ),

        // What the test targets share: child processes that die with the test
        // process, waiting for events.
        .target(
            name: "TestSupport",
            dependencies: [
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TTRPCTests",
            dependencies: ["TTRPC", "TestSupport", "CProto", "ConnectorAPI", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConnectorAPITests",
            dependencies: ["ConnectorAPI", "CProto", "ProtobufCKit"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConnectorRegistryTests",
            dependencies: [
                "ConnectorRegistry", "TestSupport", "SampleConnectorKit", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConnectorServerTests",
            dependencies: [
                "ConnectorServer", "ConnectorClient", "SampleConnectorKit", "TTRPC", "ConnectorAPI", "TestSupport",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["SampleConnectorKit", "TestSupport"],
            swiftSettings: swiftSettings
        ),

        // libFuzzer targets, built with the sanitizers by scripts/fuzz.sh; a
        // plain build makes executables that replay inputs without libFuzzer.
        .executableTarget(
            name: "FrameDecoderFuzzer",
            dependencies: [
                "TTRPC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            path: "Fuzz/FrameDecoderFuzzer",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "RequestFuzzer",
            dependencies: [
                "ConnectorServer", "ConnectorAPI", "ConnectorRegistry", "ProtobufCKit", "SampleConnectorKit", "TTRPC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Fuzz/RequestFuzzer",
            swiftSettings: swiftSettings
        ),
    ]
)
