// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mediaworker",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mediaworker", targets: ["mediaworker"]),
        .library(name: "MediaPipeline", targets: ["MediaPipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // libvips through pkg-config (its variadic calls are wrapped in CVipsOperations).
        .systemLibrary(
            name: "CVips",
            pkgConfig: "vips",
            providers: [.apt(["libvips-dev"])]
        ),
        // libmagic through pkg-config.
        .systemLibrary(
            name: "CMagic",
            pkgConfig: "libmagic",
            providers: [.apt(["libmagic-dev"])]
        ),
        // Audio: Ogg/Opus, Ogg Vorbis and MP3 decoders, MP3 encoder.
        .systemLibrary(name: "COpusFile", pkgConfig: "opusfile", providers: [.apt(["libopusfile-dev"])]),
        .systemLibrary(name: "CVorbisFile", pkgConfig: "vorbisfile", providers: [.apt(["libvorbis-dev"])]),
        .systemLibrary(name: "CMpg123", pkgConfig: "libmpg123", providers: [.apt(["libmpg123-dev"])]),
        .systemLibrary(name: "CLame", pkgConfig: "lame", providers: [.apt(["libmp3lame-dev"])]),
        // Animations (GIF ⇄ MP4): FFmpeg's demuxers and decoders, libx264 through libavcodec, libswscale.
        .systemLibrary(name: "CAV", pkgConfig: "libavformat",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev"])]),
        // The C that uses those libraries, in .c files with small headers (the system-library shims above hold only
        // includes). libvips's variadic calls as fixed-argument functions, and its per-evaluation deadline.
        .target(name: "CVipsOperations", dependencies: ["CVips"]),
        // libopusfile's single-stream decode callback; libmpg123 and libvorbisfile reading from memory.
        // opus_direct.c calls libopus itself; opusfile.pc lists libopus only as private.
        .target(name: "CAudioDecoding", dependencies: ["COpusFile", "CVorbisFile", "CMpg123"],
                linkerSettings: [.linkedLibrary("opus")]),
        // FFmpeg on memory for animations: inspecting an MP4, any animation → H.264 MP4; typed `mw_av_status`.
        // Swift imports only its plain header, so CAV's module map does not link FFmpeg: the libraries are named here.
        .target(name: "CAVCodec", dependencies: ["CAV"],
                linkerSettings: [.linkedLibrary("avformat"), .linkedLibrary("avcodec"), .linkedLibrary("swscale"),
                                 .linkedLibrary("avutil")]),
        // Safe copies of PDFs: JPEG (libjpeg-turbo), palettes (libimagequant) and deflate (zlib) of pixels the parent
        // has checked; reads no format.
        .target(name: "CPageEncoding", linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("z"), .linkedLibrary("imagequant")]),
        // libseccomp, for the helper sandbox's C target only.
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        // The helper processes' confinement in C: the seccomp allow-list, Landlock (entered before main), resource
        // limits and the process calls Swift's Glibc module does not show.
        .target(name: "CHelperSandbox", dependencies: ["CSeccomp"]),
        // Ordered JSON writing shared by the pipeline, the queue and the CLI.
        .target(name: "MediaJSON"),
        // The domain every layer shares: sender, channel, media types, artifact roles and stored artifacts, the
        // rejection, job ids, the settings reader, hex and backoff. Depends on nothing but MediaJSON.
        .target(name: "MediaDomain", dependencies: ["MediaJSON"]),
        // The queue contract: job model and states, the queue and outbox protocols, retries, console queries.
        .target(name: "MediaQueue", dependencies: ["MediaDomain", "MediaJSON", .product(name: "Crypto", package: "swift-crypto")]),
        // The queue's SQLite driver (the embedded default) over GRDB.
        .target(
            name: "MediaSQLite",
            dependencies: ["MediaQueue", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The blob store contract and its file-system backend.
        .target(name: "MediaStore", dependencies: ["MediaDomain"]),
        // The PostgreSQL drivers of both contracts (queue + outbox, blob store) over PostgresNIO.
        .target(
            name: "MediaPostgres",
            dependencies: [
                "MediaQueue", "MediaStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The blob store on any S3-compatible object store (AWS S3, MinIO, R2, Ceph RGW, SeaweedFS): SigV4 on
        // swift-crypto, requests over AsyncHTTPClient.
        .target(
            name: "MediaS3",
            dependencies: [
                "MediaDomain", "MediaStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Intake: store the original, then enqueue (shared by `mediaworker enqueue` and the HTTP upload).
        .target(
            name: "MediaIntake",
            dependencies: ["MediaDomain", "MediaQueue", "MediaStore", .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics")]
        ),
        // The pure media pipeline: (bytes, facts, policy) -> outcome. No queue, HTTP or database.
        .target(
            name: "MediaPipeline",
            dependencies: ["MediaDomain", "MediaJSON", "CVips", "CVipsOperations", "CMagic", "COpusFile", "CVorbisFile",
                           "CMpg123", "CAudioDecoding", "CLame", "CAVCodec", "CPageEncoding"]
        ),
        // The pipeline in sandboxed, resource-limited helper processes: the pool the worker and the CLI use.
        .target(
            name: "MediaSandbox",
            dependencies: ["MediaPipeline", "CHelperSandbox",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "Metrics", package: "swift-metrics")]
        ),
        // The worker runtime: claim → load → process → store → complete, leases, retries, shutdown.
        .target(
            name: "MediaWorker",
            dependencies: [
                "MediaDomain", "MediaPipeline", "MediaQueue", "MediaStore", "MediaIntake",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The HTTP service: uploads, jobs, signed media with ranges, health, metrics, webhooks (never the codecs).
        .target(
            name: "MediaServer",
            dependencies: [
                "MediaDomain", "MediaQueue", "MediaStore", "MediaIntake", "MediaJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            resources: [.copy("openapi.yaml")]
        ),
        // The composition root: settings → storage, helper pool, worker, HTTP application and background services,
        // assembled once for `serve` and `work` (and for the in-process HTTP tests).
        .target(
            name: "MediaApplication",
            dependencies: [
                "MediaDomain", "MediaQueue", "MediaStore", "MediaSQLite", "MediaPostgres", "MediaS3", "MediaSandbox",
                "MediaWorker", "MediaServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The command line: flags, then one call into MediaApplication (or the helper's entry point).
        .executableTarget(
            name: "mediaworker",
            dependencies: [
                "MediaApplication", "MediaDomain", "MediaPipeline", "MediaQueue", "MediaIntake", "MediaJSON", "MediaServer",
                "MediaSandbox",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Benchmark program: prints throughput of the pipeline next to the peers (not a test). It lives with the
        // bench scripts and peers under Benchmarks/, apart from what the product needs.
        .executableTarget(
            name: "mediaworker-bench",
            dependencies: ["MediaPipeline", "MediaQueue", "MediaStore", "MediaIntake", "MediaWorker", "MediaSQLite", "MediaPostgres",
                           "MediaSandbox", .product(name: "Logging", package: "swift-log"),
                           .product(name: "GRDB", package: "GRDB.swift"), .product(name: "PostgresNIO", package: "postgres-nio"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/mediaworker-bench"
        ),
        // libFuzzer targets (`make fuzz` builds them with -sanitize=fuzzer,address -DFUZZING; a plain build makes
        // replay programs that run each file given once).
        .target(name: "FuzzSupport", path: "Fuzz/FuzzSupport"),
        .executableTarget(name: "fuzz-pipeline", dependencies: ["MediaPipeline", "FuzzSupport"], path: "Fuzz/FuzzPipeline"),
        .executableTarget(name: "fuzz-decoders", dependencies: ["MediaPipeline", "FuzzSupport"], path: "Fuzz/FuzzDecoders"),
        .executableTarget(name: "fuzz-http", dependencies: ["MediaServer", "FuzzSupport"], path: "Fuzz/FuzzHTTP"),
        // Test builds only: `mediaworker helper` taken over by its file (its plan is in the job's bytes), to prove
        // that the parent believes no forged answer and that the sandbox refuses what a taken-over helper tries.
        // Never linked into `mediaworker`.
        .executableTarget(name: "mediaworker-attack-helper", dependencies: ["MediaSandbox", "MediaPipeline", "CHelperSandbox"],
                          path: "Tests/AttackHelper"),
        // Shared by the test targets: the fixture manifest and independent WebP/MP3 readers.
        .target(name: "MediaTestSupport", dependencies: ["MediaPipeline", "MediaQueue", "MediaStore", "MediaSQLite", "MediaPostgres",
                                                   "MediaS3", "MediaIntake", .product(name: "PostgresNIO", package: "postgres-nio")],
                path: "Tests/MediaTestSupport"),
        .testTarget(
            name: "MediaPipelineTests",
            dependencies: ["MediaPipeline", "MediaJSON", "CVips", "MediaTestSupport", "MediaSandbox"],
            path: "Tests/MediaPipelineTests"
        ),
        .testTarget(
            name: "MediaSandboxTests",
            dependencies: ["MediaSandbox", "MediaPipeline", "MediaTestSupport", "CHelperSandbox", "MediaDomain",
                           "MediaQueue", "MediaSQLite", "MediaStore"],
            path: "Tests/MediaSandboxTests"
        ),
        .testTarget(
            name: "MediaQueueTests",
            dependencies: ["MediaQueue", "MediaSQLite", "MediaStore", "MediaIntake", "MediaJSON", "MediaPostgres", "MediaTestSupport",
                           .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "NIOCore", package: "swift-nio")],
            path: "Tests/MediaQueueTests"
        ),
        .testTarget(
            name: "MediaS3Tests",
            dependencies: ["MediaS3", "MediaStore", "MediaDomain", "MediaTestSupport",
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "HTTPTypes", package: "swift-http-types"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Tests/MediaS3Tests",
            exclude: ["botocore_sign.py"]
        ),
        .testTarget(
            name: "MediaServerTests",
            dependencies: ["MediaDomain", "MediaServer", "MediaQueue", "MediaIntake", "MediaTestSupport", "MediaApplication",
                           "MediaS3", "MediaStore",
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "HTTPTypes", package: "swift-http-types"),
                           .product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/MediaServerTests"
        ),
        .testTarget(
            name: "MediaWorkerTests",
            dependencies: ["MediaWorker", "MediaPipeline", "MediaQueue", "MediaStore", "MediaIntake", "MediaTestSupport",
                           "MediaDomain", "MediaSandbox",
                           .product(name: "Logging", package: "swift-log")],
            path: "Tests/MediaWorkerTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
