/// The HTML pages both servers serve: each one document with its style and script inline (no
/// assets, nothing from a CDN), drawn in the browser from the server's own JSON API, so every
/// figure a page shows can be had with `curl` as well.
public enum WebPage {
    /// A link in the page header.
    public struct Link: Sendable {
        public var path: String
        public var title: String
        public init(_ path: String, _ title: String) {
            self.path = path
            self.title = title
        }
    }

    /// The whole document: header with `links` (the one at `current` marked), then `body`, then
    /// the shared helpers and `script`.
    public static func document(title: String, product: String, links: [Link], current: String, body: String, script: String) -> String {
        let nav = links.map { link in
            "<a href=\"\(link.path)\"\(link.path == current ? " aria-current=\"page\"" : "")>\(link.title)</a>"
        }.joined()
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(title) · \(product)</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <style>\(style)</style></head>
            <body>
            <header><strong>\(product)</strong><nav>\(nav)</nav></header>
            <main>
            \(body)
            </main>
            <script>\(helpers)</script>
            <script>\(script)</script>
            </body></html>
            """
    }

    /// Style shared by all pages.
    static let style = """
        :root{--fg:#1d2330;--muted:#5d6675;--line:#d9dde3;--bg:#fff;--head:#20293a;--accent:#2f6fdb;--bad:#c0262d;--good:#1b7f3b}
        *{box-sizing:border-box}
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--fg);background:#f6f7f9}
        header{display:flex;gap:1.5em;align-items:center;background:var(--head);color:#fff;padding:.55em 1.2em}
        header nav a{color:#c8d2e4;text-decoration:none;margin-right:1.1em}
        header nav a[aria-current]{color:#fff;border-bottom:2px solid #fff}
        main{padding:1em 1.2em;max-width:1500px}
        h1{font-size:1.25em;margin:.2em 0 .6em} h2{font-size:1.05em;margin:1.3em 0 .5em}
        section{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:.6em 1em;margin-bottom:1em}
        table{border-collapse:collapse;width:100%;font-size:.92em}
        th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
        th{color:var(--muted);font-weight:600}
        td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
        code,pre,.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.92em}
        pre{background:#f3f4f7;padding:.6em;overflow:auto;max-height:30em}
        .muted{color:var(--muted)} .bad{color:var(--bad)} .good{color:var(--good)}
        .error{color:var(--bad);white-space:pre-wrap;margin:.5em 0}
        .pill{display:inline-block;border-radius:9px;padding:0 .55em;font-size:.85em;color:#fff;background:var(--muted)}
        .pill.up{background:var(--good)} .pill.down{background:var(--bad)}
        button,select,input{font:inherit}
        button{background:var(--accent);color:#fff;border:0;border-radius:4px;padding:.3em .9em;cursor:pointer}
        button.plain{background:none;color:var(--accent);padding:0}
        """

    /// Script shared by all pages: `$(id)`, `api(path, params)` (a Prometheus API call that throws with
    /// the server's error), `esc`, `seriesName`, number, duration and time formatting, and the
    /// table of remote-write queues (agent and receiver show the same figures).
    static let helpers = #"""
        "use strict";
        const $ = id => document.getElementById(id);
        async function api(path, params) {
          const r = await fetch(path + (params ? "?" + new URLSearchParams(params) : ""));
          const j = await r.json().catch(() => ({status: "error", error: "HTTP " + r.status + " " + r.statusText}));
          if (j.status !== "success") throw new Error((j.errorType ? j.errorType + ": " : "") + j.error);
          return j;
        }
        const esc = s => String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c]));
        function seriesName(m) {
          const name = m.__name__ || "";
          const rest = Object.keys(m).filter(k => k !== "__name__").sort().map(k => k + "=" + JSON.stringify(m[k]));
          return rest.length ? name + "{" + rest.join(", ") + "}" : (name || "{}");
        }
        function si(v) {
          if (!isFinite(v)) return String(v);
          const a = Math.abs(v);
          if (a === 0) return "0";
          const units = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"], [1, ""], [1e-3, "m"], [1e-6, "µ"]];
          for (const [f, u] of units) if (a >= f) return +(v / f).toPrecision(3) + u;
          return v.toExponential(2);
        }
        const count = n => Number(n).toLocaleString("en-US");
        function bytes(n) {
          const u = ["B", "KiB", "MiB", "GiB", "TiB"];
          let i = 0; n = Number(n);
          while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
          return (i ? n.toFixed(1) : n) + " " + u[i];
        }
        function duration(s) {
          s = Math.max(0, Math.round(s));
          if (s < 60) return s + "s";
          const parts = [[86400, "d"], [3600, "h"], [60, "m"], [1, "s"]];
          let out = "";
          for (const [f, u] of parts) if (s >= f) { out += Math.floor(s / f) + u; s %= f; if (out.length > 4) break; }
          return out;
        }
        const ago = ms => ms > 0 ? duration(Date.now() / 1000 - ms / 1000) + " ago" : "never";
        function queuesTable(queues, empty) {
          const num = v => `<td class="num">${v}</td>`;
          return `<thead><tr><th>name</th><th>URL</th><th class="num">newest sent</th><th class="num">behind</th><th class="num">pending</th>`
            + `<th class="num">shards</th><th class="num">delivered</th><th class="num">retried</th><th class="num">failed</th><th>last error</th></tr></thead><tbody>`
            + (queues.map(q => `<tr class="queue"><td>${esc(q.name)}</td><td class="mono">${esc(q.url)}</td>`
              + num(q.highestSent ? esc(isoTime(q.highestSent)) : "none") + num(q.highestSent ? duration(q.behindSeconds) : "")
              + num(count(q.pending)) + num(q.shards + " / " + q.maxShards) + num(count(q.samplesDelivered)) + num(count(q.samplesRetried))
              + num(count(q.samplesFailed)) + `<td class="${q.lastError ? "bad" : "muted"}">${q.lastError ? esc(q.lastError) + " (" + ago(q.lastErrorTime) + ")" : "none"}</td></tr>`).join("")
              || `<tr><td colspan="10" class="muted">${esc(empty)}</td></tr>`) + "</tbody>";
        }
        const isoTime = ms => new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
        """#
}
