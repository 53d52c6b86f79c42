import Foundation
import Testing
import TributaryTestSupport

/// The pages, in Debian's headless Chromium, against the real binaries: a receiver (forwarding to
/// an upstream that is down) fed by an HA pair of agents scraping node_exporter, themselves and a
/// target that does not answer. Each page is loaded, used as a person would (typing, the mouse,
/// clicks) and its rendered DOM checked; screenshots go to `.build/artifacts/screenshots`.
@Suite(.serialized) struct WebPagesTests {
    /// Everything the pages need, up until `stop()`.
    final class Site: @unchecked Sendable {
        var processes: [PeerProcess] = []
        var receiver: PeerProcess { processes[1] }
        var agentA: PeerProcess { processes[2] }
        var base: String { "http://127.0.0.1:\(receiver.port)" }
        let deadPort = freePort()

        init() throws {
            do {
                let node = try AgentProcessTests.node()
                processes.append(node)
                let upstream = deadPort
                processes.append(
                    try PeerProcess("tributary", readyPath: "/-/ready") { port, dir in
                        try """
                        listen: 127.0.0.1:\(port)
                        storage: {path: \(dir)/receiver}
                        dedup: {window: 500ms}
                        remote_write:
                          - name: central
                            url: http://127.0.0.1:\(upstream)/api/v1/write
                            queue_config: {min_backoff: 200ms, max_backoff: 1s}
                        """.write(toFile: dir + "/receiver.yml", atomically: true, encoding: .utf8)
                        return ["receive", "--config.file", dir + "/receiver.yml", "--log.level", "error"]
                    })
                let receiverPort = receiver.port
                for replica in ["a", "b"] {
                    processes.append(
                        try AgentProcessTests.agent { port, dir in
                            // The switch's port has nothing listening: a target that is down.
                            AgentProcessTests.haAgentConfig(
                                port: port, dir: dir, replica: replica, receiverPort: receiverPort,
                                jobs: [("node", "127.0.0.1:\(node.port)"), ("agent", "127.0.0.1:\(port)"), ("switch", "127.0.0.1:\(upstream)")])
                        })
                }
            } catch {
                stop()
                throw error
            }
        }

        func stop() {
            for p in processes.reversed() {
                p.stop()
                p.removeDirectory()
            }
            processes = []
        }
    }

    static func screenshot(_ browser: Chromium, _ name: String) throws {
        let path = Chromium.screenshotDirectory() + "/" + name + ".png"
        try browser.screenshot(path)
        print("screenshot: \(path)")
    }

    /// The number a JavaScript expression evaluates to.
    static func number(_ browser: Chromium, _ expression: String) throws -> Int {
        (try browser.evaluate(expression) as? NSNumber)?.intValue ?? -1
    }

    static func string(_ browser: Chromium, _ expression: String) throws -> String {
        try browser.evaluate(expression) as? String ?? ""
    }

    @Test func pagesRenderAndRespond() async throws {
        try await AgentProcessTests.onThread { check in
            let site = try Site()
            defer { site.stop() }
            // Twenty seconds of scrapes from both replicas, then the pages (whose graph shows the
            // last 30 s).
            let deadline = Date().addingTimeInterval(45)
            while Date() < deadline {
                let up = try httpJSON(site.base + "/api/v1/query?query=count(count_over_time(up[1m])>=40)")
                let value = (((up["data"] as? [String: Any])?["result"] as? [[String: Any]])?.first?["value"] as? [Any])?.last as? String
                if let value, Int(value) ?? 0 >= 3 { break }
                Thread.sleep(forTimeInterval: 0.5)
            }
            let browser = try Chromium()
            defer { browser.stop() }
            do {
                try Self.queryPage(browser, site, check)
                try Self.statusPages(browser, site, check)
                try Self.targetsPage(browser, site, check)
            } catch {
                // What the page looked like when it went wrong.
                try? Self.screenshot(browser, "failed")
                throw error
            }
            check(browser.pageErrors.isEmpty, "the pages logged errors: \(browser.pageErrors)")
        }
    }

    /// The graph of `up` over the last 30 s: one line per series with a time axis, the
    /// tooltip at the mouse, the legend hiding and showing series, the table tab, the URL, and
    /// completion of a metric name typed in the box.
    static func queryPage(_ browser: Chromium, _ site: Site, _ check: Checks) throws {
        let api = try httpJSON(site.base + "/api/v1/query_range?query=up&start=\(Date().timeIntervalSince1970 - 30)&end=\(Date().timeIntervalSince1970)&step=1")
        let expected = ((api["data"] as? [String: Any])?["result"] as? [Any])?.count ?? 0
        // node_exporter, each agent itself, the switch (both replicas scrape it: one series).
        check(expected == 4, "up has \(expected) series, 4 expected")
        try browser.open(site.base + "/graph?g0.expr=up&g0.range_input=30s&g0.tab=graph")
        try browser.waitFor("document.querySelectorAll('#plot path.series').length > 0", what: "the graph to draw")
        let drawn = try number(browser, "document.querySelectorAll('#plot path.series').length")
        check(drawn == expected, "\(drawn) lines drawn for \(expected) series")
        check(try number(browser, "document.querySelectorAll('#legend li').length") == expected, "one legend entry per series")
        // Every line has more than one point; the switch is down (0), the others up (1).
        check(try number(browser, "[...document.querySelectorAll('#plot path.series')].filter(p => (p.getAttribute('d').match(/L/g) || []).length >= 5).length") == expected, "each line joins its samples")
        let times = try browser.evaluate("[...document.querySelectorAll('#plot .axis.x text')].map(t => t.textContent)") as? [String] ?? []
        check(times.count >= 3 && times.allSatisfy { $0.range(of: #"^\d\d:\d\d(:\d\d)?$"#, options: .regularExpression) != nil }, "time axis labels: \(times)")
        let values = try browser.evaluate("[...document.querySelectorAll('#plot .axis.y text')].map(t => t.textContent)") as? [String] ?? []
        check(values.contains("0") && values.contains("1"), "value axis labels: \(values)")
        check(try string(browser, "document.getElementById('info').textContent").hasPrefix("\(expected) series"), "the summary counts the series")

        // The tooltip, at the middle of the newest half of the graph.
        let (x, y) = try browser.centre(of: "#plot")
        let width = try number(browser, "document.getElementById('plot').getBoundingClientRect().width")
        try browser.mouseMove(x: x + Double(width) / 4, y: y)
        try browser.waitFor("!document.getElementById('tooltip').hidden", what: "the tooltip")
        let tip = try string(browser, "document.getElementById('tooltip').innerText")
        check(tip.range(of: #"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ"#, options: .regularExpression) != nil, "tooltip time: \(tip)")
        check(tip.contains("up{") && tip.contains("job=\"node\"") && tip.contains(": 1"), "tooltip rows: \(tip)")
        check(try number(browser, "document.querySelectorAll('#plot path.series.hover').length") == 1, "the series nearest the mouse is highlighted")
        check(try string(browser, "document.getElementById('crosshair').getAttribute('visibility')") == "visible", "crosshair shown")
        try screenshot(browser, "receiver-query-graph")

        // The legend: a click hides a series, a second shows it again; ctrl-click keeps it alone.
        try browser.click("#legend li[data-i='0']")
        check(try number(browser, "document.querySelectorAll('#plot path.series').length") == expected - 1, "a click on the legend hides its series")
        check(try number(browser, "document.querySelectorAll('#plot path.series[data-i=\"0\"]').length") == 0, "the hidden one is the one clicked")
        check(try number(browser, "document.querySelectorAll('#legend li.off').length") == 1, "its legend entry is marked")
        try browser.click("#legend li[data-i='0']")
        check(try number(browser, "document.querySelectorAll('#plot path.series').length") == expected, "a second click shows it again")
        try browser.click("#legend li[data-i='1']", modifiers: 2)
        check(try number(browser, "document.querySelectorAll('#plot path.series').length") == 1, "ctrl-click leaves one series")

        // The table tab, and the URL that keeps the view.
        try browser.click(".tab[data-tab='table']")
        try browser.waitFor("document.querySelectorAll('#result-table tbody tr').length > 1", what: "the table")
        check(try number(browser, "document.querySelectorAll('#result-table tbody tr').length") == expected, "one row per series")
        let search = try string(browser, "location.search")
        check(search.contains("g0.expr=up") && search.contains("g0.tab=table") && search.contains("g0.range_input=30s"), "the URL holds the view: \(search)")

        // Completion: typing part of a name offers it; Tab takes it; Enter runs the query.
        try browser.open(site.base + "/graph?g0.expr=&g0.range_input=1m")
        try browser.waitFor("typeof metricNames !== 'undefined' && metricNames.length > 10", what: "the metric names")
        try browser.click("#expr")
        try browser.type("node_loa")
        try browser.waitFor("!document.getElementById('completions').hidden", what: "the completion list")
        let offered = try browser.evaluate("[...document.querySelectorAll('#completions li')].map(li => li.firstChild.textContent)") as? [String] ?? []
        check(offered.first == "node_load1" && offered.contains("node_load15") && offered.allSatisfy { $0.hasPrefix("node_loa") }, "offered: \(offered)")
        try browser.press("ArrowDown")
        try browser.press("Tab")
        check(try string(browser, "document.getElementById('expr').value") == offered.dropFirst().first, "Tab takes the selected name")
        check(try browser.evaluate("document.getElementById('completions').hidden") as? Bool == true, "the list closes")
        try browser.press("Enter")
        try browser.waitFor("location.search.includes('g0.expr=node_load')", what: "the query to run")
        try browser.waitFor("document.querySelectorAll('#plot path.series').length === 1", what: "one line")
        try browser.click("#expr")
        try browser.type(" + rat")
        try browser.waitFor("!document.getElementById('completions').hidden", what: "function completion")
        let functions = try browser.evaluate("[...document.querySelectorAll('#completions li')].map(li => li.textContent)") as? [String] ?? []
        check(functions.contains("ratefunction"), "functions are offered: \(functions)")
        try browser.press("Escape")

        // A wrong query shows the server's error.
        try browser.open(site.base + "/graph?g0.expr=" + "sum(".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
        try browser.waitFor("document.getElementById('error').textContent.length > 0", what: "the error")
        check(try string(browser, "document.getElementById('error').textContent").contains("bad_data"), "the error names its type")
    }

    /// The receiver's status page (HA groups, forwarding queue, flags, configuration) and its
    /// cardinality page.
    static func statusPages(_ browser: Chromium, _ site: Site, _ check: Checks) throws {
        try browser.open(site.base + "/status")
        try browser.waitFor("document.querySelectorAll('#groups tbody tr td').length > 2", what: "the HA groups")
        let groups = try browser.evaluate("[...document.querySelectorAll('#groups tbody tr')].map(r => [...r.cells].map(c => c.textContent))") as? [[String]] ?? []
        // One row per replica that had samples stored; which ones depends on who led.
        let lab = groups.filter { $0.count == 5 && $0[0] == "lab-1" }
        check(!lab.isEmpty && lab.allSatisfy { ["a", "b"].contains($0[1]) && (Int($0[2].replacingOccurrences(of: ",", with: "")) ?? 0) > 0 }, "groups: \(groups)")
        check(Set(lab.map { $0[1] }).count == lab.count, "a replica listed once: \(groups)")
        try browser.waitFor("document.querySelector('#queues tr.queue td.bad') !== null", timeout: 20, what: "the forwarding queue's error")
        let queue = try string(browser, "document.querySelector('#queues tr.queue').innerText")
        check(queue.contains("central") && queue.contains("127.0.0.1:\(site.deadPort)"), "queue row: \(queue)")
        let flags = try string(browser, "document.getElementById('flags').innerText")
        check(flags.contains("web.listen-address") && flags.contains("127.0.0.1:\(site.receiver.port)"), "flags: \(flags.prefix(400))")
        check(try string(browser, "document.getElementById('config').textContent").contains("remote_write"), "the loaded configuration")
        let head = try string(browser, "document.getElementById('head').innerText")
        check(head.range(of: #"Series\s+[1-9]"#, options: .regularExpression) != nil, "head: \(head)")
        check(try string(browser, "document.getElementById('runtime').innerText").contains("successful"), "reload state shown")
        try screenshot(browser, "receiver-status")

        try browser.open(site.base + "/tsdb-status")
        try browser.waitFor("document.querySelectorAll('#byMetric tbody tr a').length > 5", what: "the cardinality tables")
        let metrics = try browser.evaluate("[...document.querySelectorAll('#byMetric tbody tr')].map(r => [r.cells[0].textContent, r.cells[1].textContent])") as? [[String]] ?? []
        let counts = metrics.map { Int($0[1].replacingOccurrences(of: ",", with: "")) ?? -1 }
        check(metrics.count == 10 && metrics.contains { $0[0].hasPrefix("node_") } && counts == counts.sorted(by: >) && counts.allSatisfy { $0 > 0 }, "top metrics: \(metrics)")
        check(try string(browser, "document.querySelector('#byMetric .bar').style.width") == "100%", "the largest has the full bar")
        check(try number(browser, "document.querySelectorAll('#byPair tbody tr').length") == 10, "label pairs")
        try browser.evaluate("document.getElementById('limit').value = '20'; document.getElementById('limit').dispatchEvent(new Event('change'))")
        try browser.waitFor("document.querySelectorAll('#byMetric tbody tr').length === 20", what: "top 20")
        try screenshot(browser, "receiver-cardinality")
    }

    /// The agent's targets: grouped by job, the one that does not answer shown as down with its
    /// error, the unhealthy filter, and the remote-write queue.
    static func targetsPage(_ browser: Chromium, _ site: Site, _ check: Checks) throws {
        let agent = "http://127.0.0.1:\(site.agentA.port)"
        try browser.open(agent + "/targets")
        try browser.waitFor("document.querySelectorAll('details.job').length === 3", what: "three jobs")
        let jobs = try browser.evaluate("[...document.querySelectorAll('details.job summary')].map(s => s.textContent)") as? [String] ?? []
        check(jobs == ["agent1/1 up", "node1/1 up", "switch0/1 up"], "jobs: \(jobs)")
        let down = try string(browser, "document.querySelector('details.job[data-job=\"switch\"] tr.target').innerText")
        check(down.contains("down") && down.contains("127.0.0.1:\(site.deadPort)") && down.contains("group=\"lab-1\"") && down.contains("500ms"), "down target: \(down)")
        check(down.lowercased().contains("connect") || down.lowercased().contains("refused"), "its error is shown: \(down)")
        try browser.waitFor("document.querySelector('#queues tr.queue td.num') && document.querySelector('#queues tr.queue td.num').textContent !== 'none'", what: "the queue to have sent")
        let queue = try string(browser, "document.querySelector('#queues tr.queue').innerText")
        check(queue.contains("127.0.0.1:\(site.receiver.port)/api/v1/write"), "queue: \(queue)")
        try screenshot(browser, "agent-targets")
        try browser.click("#unhealthy")
        try browser.waitFor("document.querySelectorAll('details.job').length === 1", what: "only the unhealthy job")
        check(try number(browser, "document.querySelectorAll('tr.target.up').length") == 0, "no healthy targets shown")
        check(try number(browser, "document.querySelectorAll('tr.target.down').length") == 1, "the down one shown")
        check(try string(browser, "location.search") == "?health=unhealthy", "the filter is in the URL")
        try screenshot(browser, "agent-targets-unhealthy")
    }
}
