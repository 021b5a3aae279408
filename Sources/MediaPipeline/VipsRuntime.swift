import CVips
import Foundation

/// Starts libvips once per process, hardened for untrusted input.
///
/// - refuses libvips older than 8.13 (no `block_untrusted`, no `fail_on`);
/// - blocks every loader, then re-enables only JPEG, PNG, GIF, PDF and WebP (stickers) (poppler is flagged untrusted,
///   so it is re-enabled by name after `vips_block_untrusted_set`);
/// - turns the operation cache off: a server must not keep decoded user images around.
public enum VipsRuntime {
    /// The oldest libvips the hardening above works on.
    public static let minimumVersion = (major: 8, minor: 13)

    /// Loaders left enabled; everything else that could parse user bytes stays blocked.
    public static let allowedLoaders = ["VipsForeignLoadJpeg", "VipsForeignLoadPng", "VipsForeignLoadNsgif", "VipsForeignLoadPdf",
                                         "VipsForeignLoadWebp"]

    private static let startup: Result<String, PipelineError> = {
        guard vips_init("mediaworker") == 0 else {
            return .failure(.vipsStartup("vips_init failed: \(VipsError.take())"))
        }
        let version: String
        do throws(PipelineError) { version = try checkVersion() } catch { return .failure(error) }
        vips_cache_set_max(0)
        vips_block_untrusted_set(1)
        vips_operation_block_set("VipsForeignLoad", 1)
        for loader in allowedLoaders { vips_operation_block_set(loader, 0) }
        return .success(version)
    }()

    /// Refuses a libvips older than 8.13, started or not (`vips_version` reports the library's own version); the
    /// version otherwise. The one check: `AttachmentPipeline.init` calls it early, the start-up again.
    @discardableResult
    public static func checkVersion() throws(PipelineError) -> String {
        let major = Int(vips_version(0)), minor = Int(vips_version(1)), micro = Int(vips_version(2))
        let version = "\(major).\(minor).\(micro)"
        if (major, minor) < (minimumVersion.major, minimumVersion.minor) {
            throw .vipsStartup("libvips \(version) is older than 8.13; refusing to start")
        }
        return version
    }

    /// Starts libvips (idempotent); throws when it cannot start or is too old.
    @discardableResult
    public static func start() throws -> String { try startup.get() }

    /// Threads libvips uses inside one image's evaluation (unset: libvips's own default, one per core). Helpers
    /// set `MEDIAWORKER_HELPER_VIPS_THREADS` (default 1): parallelism across files comes from one helper per slot.
    public static func setConcurrency(_ threads: Int) { vips_concurrency_set(Int32(max(1, threads))) }
}

/// libvips keeps one process-wide error buffer; these messages are for humans only, never decisions.
enum VipsError {
    /// The buffer's text, copied and cleared in one step under libvips's own lock (`vips_error_buffer_copy`):
    /// reading it, then clearing it, would race with another thread's error in between.
    static func take() -> String {
        guard let raw = vips_error_buffer_copy() else { return "" }
        defer { g_free(raw) }
        return String(cString: raw).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Owns one `VipsImage` reference and drops it when released.
final class VipsImageRef {
    let pointer: UnsafeMutablePointer<VipsImage>

    init(_ pointer: UnsafeMutablePointer<VipsImage>) { self.pointer = pointer }
    deinit { g_object_unref(pointer) }

    var width: Int { Int(vips_image_get_width(pointer)) }
    var height: Int { Int(vips_image_get_height(pointer)) }
    var hasAlpha: Bool { vips_image_hasalpha(pointer) != 0 }

    /// True when the file embeds an ICC colour profile.
    var hasICCProfile: Bool { vips_image_get_typeof(pointer, "icc-profile-data") != 0 }

    /// The nickname of the loader that opened this image, such as `jpegload_buffer`.
    var loader: String? { string("vips-loader") }

    func string(_ name: String) -> String? {
        var out: UnsafePointer<CChar>? = nil
        guard vips_image_get_typeof(pointer, name) != 0, vips_image_get_string(pointer, name, &out) == 0, let out else {
            return nil
        }
        return String(cString: out)
    }
}

extension Optional where Wrapped == String {
    /// Calls `body` with a C string, or with nil.
    func withOptionalCString<R>(_ body: (UnsafePointer<CChar>?) -> R) -> R {
        switch self {
        case .some(let s): return s.withCString { body($0) }
        case .none: return body(nil)
        }
    }
}
