import Metrics
import Prometheus

/// A metrics factory that keeps `business_number` labels bounded: a number listed in
/// `MEDIAWORKER_METRICS_BUSINESS_NUMBERS` keeps its own label value, `none` (no number given) stays, and every other
/// value becomes `other`. Without it any visitor who can reach an upload route would add label values without bound,
/// and `/metrics` (tokenless by default) would list every business number the service has seen.
public struct BusinessNumberLabels: MetricsFactory {
    /// The label this factory bounds.
    public static let label = "business_number"
    let inner: any MetricsFactory
    let allowed: Set<String>

    public init(_ inner: any MetricsFactory, allowed: Set<String>) {
        self.inner = inner
        self.allowed = allowed
    }

    /// `dimensions` with an unlisted business number replaced by `other`.
    func bounded(_ dimensions: [(String, String)]) -> [(String, String)] {
        dimensions.map { key, value in
            guard key == Self.label, value != "none", !allowed.contains(value) else { return (key, value) }
            return (key, "other")
        }
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        inner.makeCounter(label: label, dimensions: bounded(dimensions))
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        inner.makeFloatingPointCounter(label: label, dimensions: bounded(dimensions))
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        inner.makeMeter(label: label, dimensions: bounded(dimensions))
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        inner.makeRecorder(label: label, dimensions: bounded(dimensions), aggregate: aggregate)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        inner.makeTimer(label: label, dimensions: bounded(dimensions))
    }

    public func destroyCounter(_ handler: any CounterHandler) { inner.destroyCounter(handler) }
    public func destroyMeter(_ handler: any MeterHandler) { inner.destroyMeter(handler) }
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { inner.destroyFloatingPointCounter(handler) }
    public func destroyRecorder(_ handler: any RecorderHandler) { inner.destroyRecorder(handler) }
    public func destroyTimer(_ handler: any TimerHandler) { inner.destroyTimer(handler) }
}

extension ServerSettings {
    /// The metrics factory `serve` bootstraps: Prometheus into `registry`, business numbers bounded by
    /// `metricsBusinessNumbers`.
    public func metricsFactory(registry: PrometheusCollectorRegistry) -> any MetricsFactory {
        BusinessNumberLabels(PrometheusMetricsFactory(registry: registry), allowed: metricsBusinessNumbers)
    }
}
