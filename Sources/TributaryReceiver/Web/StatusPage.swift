import TributaryHTTPServer

/// `GET /status`: what an operator checks first. Build and runtime, the head and each block,
/// the HA groups (which replica fills each `group`, and when each last delivered), the
/// forwarding queues (how far behind, retries, the last error), the flags and the loaded
/// configuration. Drawn from `/api/v1/status/{buildinfo,runtimeinfo,tsdb,blocks,groups,queues,
/// flags,config}`.
enum StatusPage {
    static let html = WebPage.document(title: "Status", product: ReceiverPages.product, links: ReceiverPages.links, current: "/status", body: body, script: script)

    static let body = #"""
        <h1>Status</h1>
        <div id="error" class="error" role="alert"></div>
        <section><h2>Runtime and build</h2><table id="runtime"></table></section>
        <section><h2>Head</h2><table id="head"></table></section>
        <section><h2>Blocks</h2><table id="blocks"></table></section>
        <section><h2>HA groups</h2><p class="muted">Samples stored from each replica of an HA pair, by the series' <code>group</code> label. Series without a replica label are not deduplicated and not listed.</p><table id="groups"></table></section>
        <section><h2>Forwarding</h2><table id="queues"></table></section>
        <section><h2>Command-line flags</h2><table id="flags"></table></section>
        <section><h2>Configuration</h2><pre id="config"></pre></section>
        """#

    static let script = #"""
        const rows = pairs => pairs.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join("");
        const table = (head, body, empty) => `<thead><tr>${head.map(h => `<th${h.startsWith("#") ? ' class="num"' : ""}>${esc(h.replace(/^#/, ""))}</th>`).join("")}</tr></thead>`
          + `<tbody>${body.join("") || `<tr><td colspan="${head.length}" class="muted">${esc(empty)}</td></tr>`}</tbody>`;
        const num = v => `<td class="num">${v}</td>`;
        async function load() {
          const parts = ["buildinfo", "runtimeinfo", "tsdb", "blocks", "groups", "queues", "flags", "config"];
          const got = await Promise.allSettled(parts.map(p => api("api/v1/status/" + p)));
          const data = {}, errors = [];
          got.forEach((r, i) => { if (r.status === "fulfilled") data[parts[i]] = r.value.data; else errors.push(parts[i] + ": " + r.reason.message); });
          $("error").textContent = errors.join("\n");
          const b = data.buildinfo || {}, rt = data.runtimeinfo || {};
          $("runtime").innerHTML = rows([
            ["Version", esc(b.revision || "") + ` <span class="muted">(API as Prometheus ${esc(b.version || "")})</span>`],
            ["Started", rt.startTime ? esc(rt.startTime) + ` <span class="muted">(up ${duration((Date.now() - Date.parse(rt.startTime)) / 1000)})</span>` : ""],
            ["Working directory", `<code>${esc(rt.CWD || "")}</code>`],
            ["Data directory", `<code>${esc(rt.dataDirectory || "")}</code>`],
            ["Retention", esc(rt.storageRetention || "")],
            ["Configuration reload", rt.reloadConfigSuccess === false ? '<span class="bad">failed</span>' : '<span class="good">successful</span>'],
            ["Last configuration load", esc(rt.lastConfigTime || "")],
          ]);
          const tsdb = data.tsdb || {}, h = tsdb.headStats || {};
          $("head").innerHTML = rows([
            ["Series", count(h.numSeries || 0)],
            ["Chunks", count(h.chunkCount || 0)],
            ["Label pairs", count(h.numLabelPairs || 0)],
            ["Time range", h.numSeries ? esc(isoTime(h.minTime)) + " to " + esc(isoTime(h.maxTime)) : '<span class="muted">empty</span>'],
          ]) + `<tr><th></th><td><a href="tsdb-status">cardinality →</a></td></tr>`;
          $("blocks").innerHTML = table(["ULID", "from", "to", "#series", "#samples", "#chunks", "#level", "#size"],
            (data.blocks || []).map(k => `<tr><td class="mono">${esc(k.ulid)}</td><td>${esc(isoTime(k.minTime))}</td><td>${esc(isoTime(k.maxTime))}</td>`
              + num(count(k.numSeries)) + num(count(k.numSamples)) + num(count(k.numChunks)) + num(k.level) + num(bytes(k.bytes)) + "</tr>"),
            "no blocks yet: the head is written as a block once it spans 1.5 block ranges");
          $("groups").innerHTML = table(["group", "replica", "#samples stored", "#share", "last stored"],
            groupRows(data.groups || []), "no samples from HA replicas yet");
          $("queues").innerHTML = queuesTable(data.queues || [], "not forwarding: receiver.yml has no remote_write");
          $("flags").innerHTML = rows(Object.keys(data.flags || {}).sort().map(k => [k, `<code>${esc(data.flags[k])}</code>`]));
          $("config").textContent = (data.config || {}).yaml || "";
        }
        function groupRows(groups) {
          const totals = {};
          for (const g of groups) totals[g.group] = (totals[g.group] || 0) + g.samples;
          return groups.map(g => `<tr><td>${esc(g.group || "(none)")}</td><td>${esc(g.replica)}</td>` + num(count(g.samples))
            + num(totals[g.group] ? (100 * g.samples / totals[g.group]).toFixed(1) + "%" : "") + `<td>${esc(ago(g.lastStored))}</td></tr>`);
        }
        load();
        setInterval(load, 15000);
        """#
}
