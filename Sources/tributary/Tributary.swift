import ArgumentParser
import TributaryHTTPServer
import TributaryReceiver

@main
struct Tributary: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary",
        abstract: "A Prometheus remote-write aggregation gateway: edge agents and a deduplicating receiver.",
        version: TributaryVersion.string,
        subcommands: [Receive.self, AgentCommand.self, Check.self, TSDB.self, Debug.self]
    )
}

enum TributaryVersion {
    static let string = TributaryBuild.version
}

/// A command failure: printed as `Error: <message>` (without the usage text) and exit code 1.
struct CommandError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}
