/// Internal failures: not a verdict on the file, so a job that hits one is retried.
public enum PipelineError: Error, CustomStringConvertible {
    /// libmagic could not be opened or failed on a buffer.
    case magic(String)
    /// libvips could not start or is too old.
    case vipsStartup(String)
    /// A codec library is missing something it needs (FFmpeg without libx264, say).
    case codec(String)

    public var description: String {
        switch self {
        case .magic(let m): return "libmagic: \(m)"
        case .vipsStartup(let m): return "libvips: \(m)"
        case .codec(let m): return m
        }
    }
}
