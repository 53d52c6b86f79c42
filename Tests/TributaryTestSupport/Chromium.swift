import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Debian's headless Chromium, driven over the DevTools protocol on a pipe
/// (`--remote-debugging-pipe`: commands go in on the browser's fd 3, answers and events come out
/// on its fd 4, each a JSON object ended by a NUL byte). One page, attached at start. Every call
/// has a deadline, so a browser that hangs fails the test instead of hanging it. Blocking: call
/// it from `offPool`.
public final class Chromium: @unchecked Sendable {
    public static let path = "/usr/bin/chromium"

    let pid: pid_t
    let toBrowser: Int32
    let fromBrowser: Int32
    let profile: String
    private var nextID = 0
    private var session = ""
    private var pending: [UInt8] = []
    private var stopped = false
    /// Uncaught exceptions and `console.error` calls of the page, in order.
    public private(set) var pageErrors: [String] = []

    public init(width: Int = 1280, height: Int = 860) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.path) else {
            throw TestFailure("\(Self.path) is missing: scripts/setup installs Debian's chromium, which the page tests need")
        }
        profile = NSTemporaryDirectory() + "tributary-chromium-" + UUID().uuidString
        var commands: [Int32] = [0, 0], answers: [Int32] = [0, 0]
        guard pipe(&commands) == 0, pipe(&answers) == 0 else { throw TestFailure("pipe: errno \(errno)") }
        for fd in commands + answers { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears close-on-exec on the copies, so only fds 3 and 4 reach the browser.
        posix_spawn_file_actions_adddup2(&actions, commands[0], 3)
        posix_spawn_file_actions_adddup2(&actions, answers[1], 4)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let arguments = [
            Self.path, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
            "--remote-debugging-pipe", "--user-data-dir=\(profile)", "--window-size=\(width),\(height)", "about:blank"
        ]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, Self.path, &actions, nil, &argv, environ)
        close(commands[0])
        close(answers[1])
        guard spawned == 0 else {
            close(commands[1])
            close(answers[0])
            throw TestFailure("cannot start \(Self.path): error \(spawned)")
        }
        pid = child
        toBrowser = commands[1]
        fromBrowser = answers[0]
        do {
            let target = try call("Target.createTarget", ["url": "about:blank"], inSession: false)
            guard let targetID = target["targetId"] as? String else { throw TestFailure("Target.createTarget answered \(target)") }
            let attached = try call("Target.attachToTarget", ["targetId": targetID, "flatten": true], inSession: false)
            guard let id = attached["sessionId"] as? String else { throw TestFailure("Target.attachToTarget answered \(attached)") }
            session = id
            _ = try call("Runtime.enable")
            _ = try call("Page.enable")
            _ = try call("Emulation.setDeviceMetricsOverride", ["width": width, "height": height, "deviceScaleFactor": 1, "mobile": false])
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    /// Closes the browser (killed if it does not go within 5 s) and removes its profile.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        _ = try? send("Browser.close", [:], inSession: false)
        close(toBrowser)
        close(fromBrowser)
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(5)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                break
            }
            usleep(50_000)
        }
        try? FileManager.default.removeItem(atPath: profile)
    }

    // MARK: page

    /// Opens `url` and waits until the document has loaded.
    public func open(_ url: String, timeout: Double = 20) throws {
        let answer = try call("Page.navigate", ["url": url])
        if let error = answer["errorText"] as? String { throw TestFailure("navigating to \(url): \(error)") }
        try waitFor("document.readyState === 'complete'", timeout: timeout, what: "\(url) to load")
    }

    /// The value of a JavaScript expression (promises awaited), as JSON turns it into Foundation
    /// values; throws with the page's message when it throws.
    @discardableResult
    public func evaluate(_ expression: String, timeout: Double = 20) throws -> Any? {
        let answer = try call("Runtime.evaluate", ["expression": expression, "awaitPromise": true, "returnByValue": true], timeout: timeout)
        if let details = answer["exceptionDetails"] as? [String: Any] {
            let exception = (details["exception"] as? [String: Any])?["description"] as? String
            throw TestFailure("page threw evaluating \(expression.prefix(120)): \(exception ?? "\(details)")")
        }
        return (answer["result"] as? [String: Any])?["value"]
    }

    /// Polls `condition` (a JavaScript expression) every 100 ms until it is truthy.
    public func waitFor(_ condition: String, timeout: Double = 20, what: String? = nil) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let value = try evaluate(condition), Self.truthy(value) { return }
            guard Date() < deadline else { throw TestFailure("timed out after \(timeout) s waiting for \(what ?? condition)") }
            usleep(100_000)
        }
    }

    static func truthy(_ value: Any) -> Bool {
        switch value {
        case let b as Bool: return b
        case let n as NSNumber: return n.doubleValue != 0
        case let s as String: return !s.isEmpty
        case is NSNull: return false
        default: return true
        }
    }

    /// Writes a PNG of the viewport to `path`.
    public func screenshot(_ path: String) throws {
        let answer = try call("Page.captureScreenshot", ["format": "png"])
        guard let base64 = answer["data"] as? String, let png = Data(base64Encoded: base64) else { throw TestFailure("Page.captureScreenshot answered no image") }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try png.write(to: URL(fileURLWithPath: path))
    }

    /// Moves the mouse to page coordinates (CSS pixels of the viewport).
    public func mouseMove(x: Double, y: Double) throws {
        _ = try call("Input.dispatchMouseEvent", ["type": "mouseMoved", "x": x, "y": y])
    }

    /// A left click; `modifiers` as the protocol counts them (1 Alt, 2 Ctrl, 4 Meta, 8 Shift).
    public func click(x: Double, y: Double, modifiers: Int = 0) throws {
        for type in ["mousePressed", "mouseReleased"] {
            _ = try call("Input.dispatchMouseEvent", ["type": type, "x": x, "y": y, "button": "left", "clickCount": 1, "modifiers": modifiers])
        }
    }

    /// Clicks the centre of the first element `selector` matches.
    public func click(_ selector: String, modifiers: Int = 0) throws {
        let (x, y) = try centre(of: selector)
        try click(x: x, y: y, modifiers: modifiers)
    }

    /// The centre of the first element `selector` matches, scrolled into view.
    public func centre(of selector: String) throws -> (Double, Double) {
        let quoted = Self.jsString(selector)
        let box = try evaluate(
            "(() => { const e = document.querySelector(\(quoted)); if (!e) return null; e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        guard let xy = box as? [Any], xy.count == 2, let x = (xy[0] as? NSNumber)?.doubleValue, let y = (xy[1] as? NSNumber)?.doubleValue else {
            throw TestFailure("no element matches \(selector)")
        }
        return (x, y)
    }

    /// Types `text` into the focused element, as a user would (input events fire).
    public func type(_ text: String) throws {
        _ = try call("Input.insertText", ["text": text])
    }

    /// Presses one key (`Tab`, `Enter`, `ArrowDown`, `Escape`) on the focused element.
    public func press(_ key: String) throws {
        let codes = ["Tab": 9, "Enter": 13, "Escape": 27, "ArrowUp": 38, "ArrowDown": 40]
        var down: [String: Any] = ["type": "keyDown", "key": key, "code": key, "windowsVirtualKeyCode": codes[key] ?? 0]
        if key == "Enter" { down["text"] = "\r" }
        _ = try call("Input.dispatchKeyEvent", down)
        _ = try call("Input.dispatchKeyEvent", ["type": "keyUp", "key": key, "code": key, "windowsVirtualKeyCode": codes[key] ?? 0])
    }

    /// `s` as a JavaScript string literal.
    public static func jsString(_ s: String) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: [s]), let array = String(data: data, encoding: .utf8) else { return "\"\"" }
        return String(array.dropFirst().dropLast())
    }

    // MARK: protocol

    /// Sends a command and returns its `result`; page events met meanwhile are recorded.
    @discardableResult
    public func call(_ method: String, _ params: [String: Any] = [:], inSession: Bool = true, timeout: Double = 20) throws -> [String: Any] {
        let id = try send(method, params, inSession: inSession)
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let message = try readMessage(deadline: deadline, waitingFor: method)
            if message["id"] as? Int == id {
                if let error = message["error"] as? [String: Any] { throw TestFailure("\(method): \(error["message"] ?? error)") }
                return message["result"] as? [String: Any] ?? [:]
            }
            note(message)
        }
    }

    private func send(_ method: String, _ params: [String: Any], inSession: Bool) throws -> Int {
        nextID += 1
        var message: [String: Any] = ["id": nextID, "method": method, "params": params]
        if inSession { message["sessionId"] = session }
        var bytes = [UInt8](try JSONSerialization.data(withJSONObject: message))
        bytes.append(0)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(toBrowser, $0.baseAddress, $0.count) }
            guard n > 0 else { throw TestFailure("writing to chromium: errno \(errno)") }
            offset += n
        }
        return nextID
    }

    private func readMessage(deadline: Date, waitingFor method: String) throws -> [String: Any] {
        while true {
            if let end = pending.firstIndex(of: 0) {
                let body = Data(pending[..<end])
                pending.removeSubrange(...end)
                guard let message = try JSONSerialization.jsonObject(with: body) as? [String: Any] else { throw TestFailure("chromium sent a message that is not an object") }
                return message
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw TestFailure("chromium did not answer \(method) in time") }
            var fd = pollfd(fd: fromBrowser, events: Int16(POLLIN), revents: 0)
            guard poll(&fd, 1, Int32(min(left, 1) * 1000)) >= 0 else { throw TestFailure("poll: errno \(errno)") }
            guard fd.revents != 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let n = chunk.withUnsafeMutableBytes { read(fromBrowser, $0.baseAddress, $0.count) }
            guard n > 0 else { throw TestFailure("chromium closed its pipe while \(method) was pending") }
            pending.append(contentsOf: chunk[..<n])
        }
    }

    private func note(_ event: [String: Any]) {
        let params = event["params"] as? [String: Any] ?? [:]
        switch event["method"] as? String {
        case "Runtime.exceptionThrown":
            let details = params["exceptionDetails"] as? [String: Any] ?? [:]
            let exception = (details["exception"] as? [String: Any])?["description"] as? String
            pageErrors.append("uncaught: \(exception ?? (details["text"] as? String) ?? "\(details)")")
        case "Runtime.consoleAPICalled" where params["type"] as? String == "error":
            let args = (params["args"] as? [[String: Any]] ?? []).map { "\($0["value"] ?? $0["description"] ?? "")" }
            pageErrors.append("console.error: \(args.joined(separator: " "))")
        default: break
        }
    }

    /// Where the page tests keep their screenshots: `$TRIBUTARY_ARTIFACTS/screenshots`, or
    /// `.build/artifacts/screenshots` in the package.
    public static func screenshotDirectory() -> String {
        if let dir = ProcessInfo.processInfo.environment["TRIBUTARY_ARTIFACTS"], !dir.isEmpty { return dir + "/screenshots" }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.path + "/.build/artifacts/screenshots"
    }
}
