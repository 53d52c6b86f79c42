import CMallocCounter
import CPrompb
import Foundation
import TributaryModel
import TributaryWire

/// Decode + validate throughput of 2,000-series node_exporter-like requests on one core, with
/// allocations per request, next to a C baseline in the same run: snappy + libprotobuf-c unpack
/// into an arena and nothing else (the figure ARCHITECTURE.md quotes as 3.35M samples/s).
enum DecodeBenchmark {
    static func run(seconds: Double) {
        let series = NodeExporterLoad.series(count: 20_000)
        let bodies = NodeExporterLoad.requests(series: series, perRequest: 2_000, rounds: 2)
        let samplesPerRequest = 2_000
        let bytes = bodies.reduce(0) { $0 + $1.count } / bodies.count
        print("decode: \(bodies.count) distinct requests of \(samplesPerRequest) series, ~\(bytes) compressed bytes each")

        let baseline = measure(seconds: seconds, bodies: bodies, samplesPerRequest: samplesPerRequest) { body in
            CBaseline.unpack(body)
        }
        print(
            String(
                format: "  C baseline (snappy + protobuf-c unpack, arena):  %6.2fM samples/s  %5.1f allocs/request",
                baseline.samplesPerSecond / 1e6, baseline.allocationsPerRequest))

        let reference = WriteRequestDecoder(implementation: .reference)
        let viaLibrary = measure(seconds: seconds, bodies: bodies, samplesPerRequest: samplesPerRequest) { body in
            let batch = try? reference.decode(body, version: .v1)
            precondition(batch?.series.count == samplesPerRequest && batch?.rejectedSeries == 0, "decode failed")
        }
        print(
            String(
                format: "  reference decoder (protobuf-c + copy + validate): %6.2fM samples/s  %5.1f allocs/request  (%.2fx baseline)",
                viaLibrary.samplesPerSecond / 1e6, viaLibrary.allocationsPerRequest, viaLibrary.samplesPerSecond / baseline.samplesPerSecond))

        let decoder = WriteRequestDecoder()
        let ours = measure(seconds: seconds, bodies: bodies, samplesPerRequest: samplesPerRequest) { body in
            let batch = try? decoder.decode(body, version: .v1)
            precondition(batch?.series.count == samplesPerRequest && batch?.rejectedSeries == 0, "decode failed")
        }
        print(
            String(
                format: "  direct decoder (decode + validate, default):     %6.2fM samples/s  %5.1f allocs/request  (%.2fx baseline)",
                ours.samplesPerSecond / 1e6, ours.allocationsPerRequest, ours.samplesPerSecond / baseline.samplesPerSecond))
        print("  target: >= 3.00M samples/s, < 20 allocs/request")

        // The same load as remote write 2.0 (libprotobuf-c unpack + symbol resolution).
        let v2Bodies = bodies.map { body -> [UInt8] in
            let request = (try? decoder.decode(body, version: .v1))?.makeWriteRequest() ?? WriteRequest()
            return V2Message(request).encode()
        }
        let v2 = measure(seconds: seconds, bodies: v2Bodies, samplesPerRequest: samplesPerRequest) { body in
            let batch = try? decoder.decode(body, version: .v2)
            precondition(batch?.series.count == samplesPerRequest && batch?.rejectedSeries == 0, "v2 decode failed")
        }
        print(
            String(
                format: "  remote write 2.0 (protobuf-c + symbols + validate): %6.2fM samples/s  %5.1f allocs/request",
                v2.samplesPerSecond / 1e6, v2.allocationsPerRequest))
    }

    struct Result {
        var samplesPerSecond: Double
        var allocationsPerRequest: Double
    }

    static func measure(seconds: Double, bodies: [[UInt8]], samplesPerRequest: Int, _ body: ([UInt8]) -> Void) -> Result {
        // Warm up: buffers and arenas grow to the working size.
        for b in bodies { body(b) }
        let allocationsBefore = tributary_allocation_count()
        let start = DispatchTime.now().uptimeNanoseconds
        var requests = 0
        var elapsed: Double = 0
        repeat {
            for b in bodies { body(b) }
            requests += bodies.count
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        } while elapsed < seconds
        let allocations = tributary_allocation_count() - allocationsBefore
        return Result(
            samplesPerSecond: Double(requests * samplesPerRequest) / elapsed,
            allocationsPerRequest: Double(allocations) / Double(requests)
        )
    }
}

/// snappy + protobuf-c unpack into a reused arena: the floor any decoder built on them pays.
enum CBaseline {
    nonisolated(unsafe) static let arena: UnsafeMutablePointer<TributaryArena> = {
        let a = UnsafeMutablePointer<TributaryArena>.allocate(capacity: 1)
        _ = tributary_arena_init(a, 1 << 20, Int.max)
        return a
    }()
    nonisolated(unsafe) static let scratch = ScratchBuffer()

    static func unpack(_ body: [UInt8]) {
        body.withUnsafeBytes { raw in
            guard let message = try? Snappy.decompress(raw, into: scratch, limit: 64 << 20) else { fatalError("snappy") }
            tributary_arena_reset(arena)
            let request = prometheus__write_request__unpack(
                &arena.pointee.allocator, message.count, message.baseAddress?.assumingMemoryBound(to: UInt8.self))
            precondition(request != nil)
        }
    }
}
