import ArgumentParser
import Foundation
import TributaryConfig
import TributaryReceiver

/// `tributary check config FILE`.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate configuration.", subcommands: [CheckConfig.self])
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Validate a receiver.yml (or agent.yml, once the agent exists); exit 1 with file:line:column on error."
    )

    @Argument(help: "The file to check.") var file: String

    func run() throws {
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        if text.contains("scrape_configs:") {
            throw CommandError("\(file): agent configuration is not supported yet (open issue: the edge agent)")
        }
        do {
            let c = try ReceiverConfigFile.load(path: file)
            print("\(file): valid receiver configuration (listen \(c.host):\(c.port), data \(c.dataDirectory), dedup window \(c.dedupWindow) ms)")
        } catch {
            throw CommandError(error.description)
        }
    }
}
