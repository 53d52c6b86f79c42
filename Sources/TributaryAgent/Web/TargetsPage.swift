import TributaryHTTPServer

/// `GET /targets` (and `/`): the agent's targets grouped by job, each job folding open with its
/// count of healthy targets; a filter shows only unhealthy ones; each target with its labels,
/// last scrape, duration, interval and last error. Below, each remote-write queue: newest
/// sample sent, how far it is behind the WAL, pending samples, shards, retries and the last
/// error. Drawn from `/api/v1/targets` and `/api/v1/status/queues`, refreshed every 10 s.
enum TargetsPage {
    static let product = "Tributary agent"
    static let links = [WebPage.Link("/targets", "Targets"), WebPage.Link("/metrics", "Metrics")]
    static let html = WebPage.document(title: "Targets", product: product, links: links, current: "/targets", body: body, script: script)

    static let body = #"""
        <style>
        details.job{background:#fff;border:1px solid var(--line);border-radius:6px;margin-bottom:.7em}
        details.job>summary{cursor:pointer;padding:.5em .9em;font-weight:600}
        details.job>summary .muted{font-weight:normal;margin-left:.6em}
        details.job table{margin:0 0 .5em}
        .labels span{display:inline-block;background:#eef1f6;border-radius:3px;padding:0 .35em;margin:1px 2px;font-size:.88em}
        .toolbar{display:flex;gap:1.2em;align-items:center;margin-bottom:.8em}
        </style>
        <h1>Targets</h1>
        <div class="toolbar">
          <label><input type="checkbox" id="unhealthy"> Unhealthy only</label>
          <span id="summary" class="muted"></span>
        </div>
        <div id="error" class="error" role="alert"></div>
        <div id="jobs"></div>
        <h2>Remote write</h2>
        <section><table id="queues"></table></section>
        """#

    static let script = #"""
        const open = new Set();
        let firstLoad = true;
        const num = v => `<td class="num">${v}</td>`;
        function labelsHTML(labels) {
          return '<span class="labels">' + Object.keys(labels).sort().map(k => `<span>${esc(k)}="${esc(labels[k])}"</span>`).join("") + "</span>";
        }
        async function load() {
          try {
            const [targets, queues] = await Promise.all([api("api/v1/targets"), api("api/v1/status/queues")]);
            render(targets.data.activeTargets, queues.data);
            $("error").textContent = "";
          } catch (e) { $("error").textContent = e.message; }
        }
        function render(targets, queues) {
          const onlyBad = $("unhealthy").checked;
          const jobs = new Map();
          for (const t of targets) { if (!jobs.has(t.scrapePool)) jobs.set(t.scrapePool, []); jobs.get(t.scrapePool).push(t); }
          const bad = targets.filter(t => t.health !== "up").length;
          $("summary").textContent = `${targets.length} targets in ${jobs.size} jobs · ${targets.length - bad} up · ${bad} unhealthy`;
          let html = "";
          for (const job of [...jobs.keys()].sort()) {
            const all = jobs.get(job), up = all.filter(t => t.health === "up").length;
            const shown = onlyBad ? all.filter(t => t.health !== "up") : all;
            if (!shown.length) continue;
            if (firstLoad && up < all.length) open.add(job);
            const rows = shown.map(t => `<tr class="target ${esc(t.health)}"><td class="mono"><a href="${esc(t.scrapeUrl)}">${esc(t.scrapeUrl)}</a></td>`
              + `<td><span class="pill ${esc(t.health)}">${esc(t.health)}</span></td><td>${labelsHTML(t.labels)}</td>`
              + `<td>${t.lastScrape.startsWith("0001") ? "never" : esc(ago(Date.parse(t.lastScrape)))}</td>`
              + num((t.lastScrapeDuration * 1000).toFixed(1) + " ms") + num(esc(t.scrapeInterval))
              + `<td class="${t.lastError ? "bad" : ""}">${esc(t.lastError)}</td></tr>`).join("");
            html += `<details class="job" data-job="${esc(job)}"${open.has(job) || firstLoad ? " open" : ""}>`
              + `<summary>${esc(job)}<span class="muted">${up}/${all.length} up</span></summary>`
              + `<table><thead><tr><th>endpoint</th><th>state</th><th>labels</th><th>last scrape</th><th class="num">duration</th><th class="num">interval</th><th>error</th></tr></thead>`
              + `<tbody>${rows}</tbody></table></details>`;
          }
          $("jobs").innerHTML = html || `<p class="muted">${onlyBad ? "every target is up" : "no targets configured"}</p>`;
          for (const d of document.querySelectorAll("details.job")) {
            if (firstLoad) open.add(d.dataset.job);
            d.addEventListener("toggle", () => { if (d.open) open.add(d.dataset.job); else open.delete(d.dataset.job); });
          }
          firstLoad = false;
          $("queues").innerHTML = queuesTable(queues, "no remote_write configured");
        }
        $("unhealthy").checked = new URLSearchParams(location.search).get("health") === "unhealthy";
        $("unhealthy").addEventListener("change", () => {
          history.replaceState(null, "", location.pathname + ($("unhealthy").checked ? "?health=unhealthy" : ""));
          load();
        });
        load();
        setInterval(load, 10000);
        """#
}
