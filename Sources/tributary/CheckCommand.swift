import ArgumentParser
import Foundation
import TributaryAgent
import TributaryConfig
import TributaryReceiver

/// `tributary check config FILE`.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate configuration.", subcommands: [CheckConfig.self])
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Validate a receiver.yml or an agent.yml (a file with scrape_configs or global); exit 1 with file:line:column on error."
    )

    @Argument(help: "The file to check.") var file: String

    func run() throws {
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        if text.contains("scrape_configs:") || text.contains("global:") {
            do {
                let c = try AgentConfigFile.load(path: file)
                let targets = c.scrapeConfigs.reduce(0) { $0 + ScrapeTarget.resolve($1).count }
                let fileSD = c.scrapeConfigs.reduce(0) { $0 + $1.fileSDConfigs.count }
                print(
                    "\(file): valid agent configuration (\(c.scrapeConfigs.count) jobs, \(targets) static targets, \(fileSD) file_sd_configs, \(c.remoteWrites.count) remote_write)"
                )
                if !c.ignoredKeys.isEmpty { print("warning: keys the agent does not act on (a Prometheus server's), ignored: \(c.ignoredKeys.joined(separator: ", "))") }
                return
            } catch {
                throw CommandError(error.description)
            }
        }
        do {
            let c = try ReceiverConfigFile.load(path: file)
            print("\(file): valid receiver configuration (listen \(c.host):\(c.port), data \(c.dataDirectory), dedup window \(c.dedupWindow) ms)")
        } catch {
            throw CommandError(error.description)
        }
    }
}
