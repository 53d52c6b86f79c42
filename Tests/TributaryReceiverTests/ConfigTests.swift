import Foundation
import Testing
import TributaryConfig
import TributaryModel
import TributaryReceiver
import TributaryTSDB
import TributaryWAL
import TributaryWire

@Suite struct ConfigTests {
    static var configs: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../configs").standardized
    }

    /// Every receiver example in configs/ loads.
    @Test func examplesLoad() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.configs.path).filter { $0.hasPrefix("receiver") && $0.hasSuffix(".yml") }
        #expect(!files.isEmpty)
        for f in files {
            let c = try ReceiverConfigFile.load(path: Self.configs.appendingPathComponent(f).path)
            #expect(c.port == 9201)
            #expect(c.dedupWindow == 15_000)
            #expect(c.replicaLabels == ["replica", "__replica__"])
            #expect(c.walFsync == .batch)
        }
    }

    @Test func valuesAreRead() throws {
        let c = try ReceiverConfigFile.parse(
            """
            listen: 127.0.0.1:9300
            storage: {path: /tmp/x, wal_fsync: always, out_of_order_window: 1h30m, block_duration: 30m, retention_time: 30d, retention_size: 50GB}
            dedup: {replica_labels: [r], window: 30s}
            limits: {max_body_bytes: 1000, max_labels_per_series: 20}
            query: {max_concurrency: 4, results_cache: false, results_cache_max_points: 1000, slow_query_threshold: 2s, max_samples: 1000000, timeout: 30s, parallelism: 1}
            """, file: "r.yml")
        #expect(c.storage.blockDuration == 1_800_000 && c.storage.retentionTime == 30 * 86_400_000 && c.storage.retentionSize == 50 << 30)
        #expect(c.queryMaxConcurrency == 4 && !c.queryResultsCache && c.queryResultsCacheMaxPoints == 1000)
        #expect(c.slowQueryThreshold == 2000 && c.queryMaxSamples == 1_000_000 && c.queryTimeout == 30_000 && c.queryParallelism == 1)
        #expect(c.host == "127.0.0.1" && c.port == 9300)
        #expect(c.dataDirectory == "/tmp/x" && c.walFsync == .always)
        #expect(c.head.outOfOrderWindow == 5_400_000)
        #expect(c.replicaLabels == ["r"] && c.dedupWindow == 30_000)
        #expect(c.maxBodyBytes == 1000 && c.decoder.labels.maxLabelsPerSeries == 20)
    }

    static let bad: [(String, String)] = [
        ("listen: 1\nstorag:\n  path: x\n", "r.yml:2:1: unknown key \"storag\""),
        ("dedup:\n  window: soon\n", "r.yml:2:11: expected a duration like 15s or 1h30m, got \"soon\""),
        ("storage:\n  wal_fsync: sometimes\n", "r.yml:2:14: wal_fsync must be always or batch"),
        ("storage:\n  block_duration: 7m\n", "r.yml:2:19: storage.block_duration must be at least 1m and divide a day"),
        ("storage:\n  retention_size: lots\n", "r.yml:2:19: expected a size like 512MB or 10GB, got \"lots\""),
        ("limits:\n  max_body_bytes: -5\n", "r.yml:2:19: expected a positive integer, got -5"),
        ("dedup:\n  replica_labels: replica\n", "r.yml:2:19: expected a list of strings"),
        ("listen: [a\n", "r.yml:2:1: invalid YAML"),
        ("auth:\n  bearer: x\n", "r.yml:2:3: unknown key \"bearer\""),
        ("auth:\n  write:\n    basic_users: {bob: plain}\n", "r.yml:3:24: basic_users.bob must be a bcrypt hash"),
        ("tls:\n  cert_file: x\n", "r.yml:2:3: tls needs cert_file and key_file"),
        ("tls:\n  cert_file: /nonexistent.pem\n  key_file: k.pem\n", "r.yml:2:14: cannot load the certificate chain /nonexistent.pem"),
        ("remote_write:\n  - url: ftp://x\n", "r.yml:2:10: url must be an http:// or https:// URL"),
        ("remote_write:\n  - {url: 'http://a/w', name: c}\n  - {url: 'http://b/w', name: c}\n", "r.yml:3:5: duplicate remote_write name \"c\""),
        ("listen: localhost\n", "r.yml:1:9: listen must be HOST:PORT")
    ]

    @Test(arguments: bad)
    func errorsNameFileLineAndColumn(_ c: (String, String)) {
        do {
            _ = try ReceiverConfigFile.parse(c.0, file: "r.yml")
            Issue.record("expected an error for \(c.0)")
        } catch {
            #expect(error.description.hasPrefix(c.1), "got \(error.description)")
        }
    }
}
