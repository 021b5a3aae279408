import Foundation

extension Duration {
    /// The span in seconds, for the few places that meet `Date` arithmetic or a database column in seconds.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The span in milliseconds (log fields).
    public var inMilliseconds: Double { inSeconds * 1000 }
}
