import Logging
import Synchronization
import TributaryWire

/// The settings a reload changes while the receiver runs. Requests read them once, under the
/// receiver's lock, and use that copy to the end.
struct LiveSettings: Sendable {
    /// Counts reloads; pooled decoders made with older limits are dropped.
    var generation = 0
    var writers: Authenticator
    var readers: Authenticator
    var maxBodyBytes: Int
    var decoder: DecoderLimits
    var dedupWindow: Int64
    /// The replica label names as bytes, compared without building strings.
    var replicaLabelNames: [[UInt8]]

    init(_ c: ReceiverConfiguration, generation: Int = 0) {
        self.generation = generation
        writers = Authenticator(c.auth.write)
        readers = Authenticator(c.auth.read)
        maxBodyBytes = c.maxBodyBytes
        decoder = c.decoder
        dedupWindow = c.dedupWindow
        replicaLabelNames = c.replicaLabels.map { Array($0.utf8) }
    }
}

extension Receiver {
    /// Applies a re-read receiver.yml (SIGHUP, `POST /-/reload`): auth, limits
    /// (`limits`, body size), dedup settings and the external labels of forwarded series take
    /// effect for the next request; changed `remote_write` entries stop and start, and
    /// forwarding itself starts or stops with the first or last entry. Settings that are bound
    /// at start (listen address, TLS, storage, `forward_retention`, `query`) keep their running
    /// values; each one that differs is named in the returned list and in a warning.
    @discardableResult
    public func reload(_ new: ReceiverConfiguration) -> [String] {
        let old = configuration
        var needRestart: [String] = []
        if new.host != old.host || new.port != old.port { needRestart.append("listen") }
        if new.tls != old.tls { needRestart.append("tls") }
        if new.dataDirectory != old.dataDirectory || new.walFsync != old.walFsync || new.walSyncInterval != old.walSyncInterval
            || new.head != old.head || new.storage != old.storage
        {
            needRestart.append("storage")
        }
        // Forwarding queues start, stop and change while running (from none too: the forward
        // WAL is always open, and logs only while there are queues); the retention of its WAL
        // is set at start. Unchanged entries keep their running queue.
        if new.forwardRetention != old.forwardRetention { needRestart.append("storage.forward_retention") }
        let entries = new.remoteWrites, forwarder = forwarder
        Task { await forwarder.replace(entries) }
        if new.queryDiffers(from: old) { needRestart.append("query") }
        live.withLock { $0 = LiveSettings(new, generation: $0.generation + 1) }
        forwarder.setExternalLabels(new.externalLabels)
        if !needRestart.isEmpty {
            logger.warning("reload: these settings need a restart and keep their running values", metadata: ["settings": "\(needRestart.joined(separator: ", "))"])
        }
        logger.info("configuration reloaded", metadata: ["applied": "auth, limits, dedup, external_labels, remote_write"])
        return needRestart
    }
}
