extension ContinuousClock.Instant {
    /// Seconds from this instant until now (scrape durations, query timings).
    public var secondsElapsed: Double {
        let d = ContinuousClock.now - self
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
