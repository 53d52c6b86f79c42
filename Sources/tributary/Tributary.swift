import ArgumentParser
import TributaryReceiver

@main
struct Tributary: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary",
        abstract: "A Prometheus remote-write aggregation gateway: edge agents and a deduplicating receiver.",
        version: TributaryVersion.string,
        subcommands: [Receive.self, Agent.self, Check.self, Debug.self]
    )
}

enum TributaryVersion {
    static let string = TributaryBuild.version
}

struct Agent: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an edge agent (scrape, label, buffer on disk, remote-write)."
    )

    @Option(help: "Path to agent.yml.") var config: String?
    @Option(help: "Listen address, HOST:PORT (default 0.0.0.0:9202).") var listen: String?
    @Option(name: .customLong("data-dir"), help: "WAL directory (default ./data/agent).") var dataDir: String?

    func run() throws {
        throw CommandError("the agent is not built yet (see issue 'The edge agent'); only the wire format exists so far")
    }
}

/// A command failure: printed as `Error: <message>` (without the usage text) and exit code 1.
struct CommandError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}
