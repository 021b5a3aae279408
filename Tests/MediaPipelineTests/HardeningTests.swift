import CVips
import Foundation
import MediaTestSupport
import Testing
@testable import MediaPipeline

/// libvips is started hardened: only the five loaders the policy needs can parse user bytes.
@Suite(.offCooperativePool) struct HardeningTests {
    init() throws { try VipsRuntime.start() }

    func opens(_ bytes: [UInt8]) -> String? {
        bytes.withUnsafeBytes { raw -> String? in
            guard let image = mw_image_header(raw.baseAddress!, raw.count, Int32(VIPS_FAIL_ON_WARNING.rawValue)) else {
                _ = VipsError.take()
                return nil
            }
            return VipsImageRef(image).loader
        }
    }

    @Test("JPEG, PNG, GIF, PDF and WebP loaders stay enabled")
    func allowedLoaders() throws {
        #expect(opens(try FixtureManifest.named("jpeg-whatsapp-photo").bytes()) == "jpegload_buffer")
        #expect(opens(try FixtureManifest.named("png-palette").bytes()) == "pngload_buffer")
        #expect(opens(try FixtureManifest.named("gif87a").bytes()) == "gifload_buffer")
        #expect(opens(try FixtureManifest.named("pdf-text-3-pages").bytes()) == "pdfload_buffer")
        // WebP for visitors' stickers (docs/policy.md).
        #expect(opens(try FixtureManifest.named("webp-declared-jpeg").bytes()) == "webpload_buffer")
    }

    @Test("every other loader is blocked: SVG, and formats nobody asked for")
    func blockedLoaders() throws {
        #expect(opens(try FixtureManifest.named("svg-script-declared-png").bytes()) == nil)
        // A tiny valid PPM and a BMP-like header: loaders libvips has but the service must never run.
        #expect(opens(Array("P6\n1 1\n255\n\u{0}\u{0}\u{0}".utf8)) == nil)
        #expect(opens(Array("#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 1\n\u{1}\u{1}\u{1}\u{1}".utf8)) == nil)
    }

    @Test("the libvips in use is at least 8.13")
    func version() throws {
        let version = try VipsRuntime.start().split(separator: ".").compactMap { Int($0) }
        #expect(version.count == 3)
        #expect((version[0], version[1]) >= (8, 13))
    }
}

/// The pipeline is shared by worker threads: results must not depend on what runs beside them.
@Suite(.offCooperativePool) struct ConcurrencyTests {
    @Test("all fixtures on 4 threads at once give the same outcomes as one by one")
    func parallelMatchesSerial() throws {
        let pipeline = FixtureSuiteTests.pipeline
        // Minutes-long notes add time, not coverage: the short ones exercise the same code paths.
        let fixtures = FixtureManifest.inProcess.filter { ($0.expect.playback?.durationMs ?? 0) <= 20_000 }
        let inputs = try fixtures.map { try $0.bytes() }
        @Sendable func summary(_ o: Outcome) -> String {
            switch o {
            case .rejected(let r): return "rejected \(r.reason) \(r.detectedType ?? "")"
            case .accepted(let a):
                let t = a.artifacts.first { $0.role == .thumbnail }
                return "accepted \(a.detectedType) \(t?.width ?? 0)x\(t?.height ?? 0) \(a.previewUnavailable?.rawValue ?? "")"
            }
        }
        let serial = try zip(fixtures, inputs).map { summary(try pipeline.process($1, facts: $0.facts)) }
        let results = Locked([String?](repeating: nil, count: fixtures.count * 4))
        DispatchQueue.concurrentPerform(iterations: fixtures.count * 4) { n in
            let i = n % fixtures.count
            let s = (try? pipeline.process(inputs[i], facts: fixtures[i].facts)).map(summary) ?? "threw"
            results.withLock { $0[n] = s }
        }
        let parallel = results.withLock { $0 }
        for n in 0..<parallel.count {
            #expect(parallel[n] == serial[n % fixtures.count], "\(fixtures[n % fixtures.count].id)")
        }
    }
}

final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R { lock.lock(); defer { lock.unlock() }; return try body(&value) }
}
