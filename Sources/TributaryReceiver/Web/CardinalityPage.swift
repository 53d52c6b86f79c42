import TributaryHTTPServer

/// `GET /tsdb-status`: the head's cardinality from `/api/v1/status/tsdb`: series per metric
/// name, values per label name, bytes per label name, series per label pair, each as a table
/// with bars, and the head and block totals. Each metric name and label pair links to the query
/// page.
enum CardinalityPage {
    static let html = WebPage.document(title: "Cardinality", product: ReceiverPages.product, links: ReceiverPages.links, current: "/tsdb-status", body: body, script: script)

    static let body = #"""
        <style>
        .bar{background:#e3ecfd;height:1.1em;min-width:1px}
        td.bar-cell{width:30%}
        .grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(34em,1fr));gap:0 1em}
        </style>
        <h1>TSDB cardinality <label class="muted" style="font-size:.75em;font-weight:normal">top <select id="limit"><option>10</option><option>20</option><option>50</option><option>100</option></select></label></h1>
        <div id="error" class="error" role="alert"></div>
        <section><h2>Totals</h2><table id="totals"></table></section>
        <div class="grid2">
        <section><h2>Series count by metric name</h2><table id="byMetric"></table></section>
        <section><h2>Label value count by label name</h2><table id="byLabel"></table></section>
        <section><h2>Memory used by label name</h2><table id="byMemory"></table></section>
        <section><h2>Series count by label pair</h2><table id="byPair"></table></section>
        </div>
        """#

    static let script = #"""
        const link = expr => "graph?" + new URLSearchParams({"g0.expr": expr, "g0.tab": "table"});
        function ranking(id, entries, what, format, linkFor) {
          const top = entries.length ? entries[0].value : 0;
          $(id).innerHTML = `<thead><tr><th>${esc(what)}</th><th class="num">count</th><th></th></tr></thead><tbody>`
            + (entries.map(e => `<tr><td class="mono">${linkFor ? `<a href="${esc(linkFor(e.name))}">${esc(e.name)}</a>` : esc(e.name)}</td>`
              + `<td class="num">${format(e.value)}</td><td class="bar-cell"><div class="bar" style="width:${top ? (100 * e.value / top).toFixed(1) : 0}%"></div></td></tr>`).join("")
              || `<tr><td colspan="3" class="muted">no series</td></tr>`) + "</tbody>";
        }
        async function load() {
          try {
            const d = (await api("api/v1/status/tsdb", {limit: $("limit").value})).data;
            const h = d.headStats, b = d.blockStats || {};
            $("totals").innerHTML = `<thead><tr><th></th><th class="num">series</th><th class="num">chunks</th><th class="num">label pairs</th><th class="num">samples</th><th>time range</th></tr></thead><tbody>`
              + `<tr><th>head</th><td class="num">${count(h.numSeries)}</td><td class="num">${count(h.chunkCount)}</td><td class="num">${count(h.numLabelPairs)}</td><td></td>`
              + `<td>${h.numSeries ? esc(isoTime(h.minTime)) + " to " + esc(isoTime(h.maxTime)) : ""}</td></tr>`
              + `<tr><th>${count(b.numBlocks || 0)} blocks</th><td class="num">${count(b.numSeries || 0)}</td><td class="num">${count(b.numChunks || 0)}</td><td></td>`
              + `<td class="num">${count(b.numSamples || 0)}</td><td>${b.numBlocks ? esc(isoTime(b.minTime)) + " to " + esc(isoTime(b.maxTime)) + " · " + esc(bytes(b.bytes)) : ""}</td></tr></tbody>`;
            ranking("byMetric", d.seriesCountByMetricName, "metric", count, n => n);
            ranking("byLabel", d.labelValueCountByLabelName, "label", count, n => `count by (${n}) ({${n}!=""})`);
            ranking("byMemory", d.memoryInBytesByLabelName, "label", bytes);
            ranking("byPair", d.seriesCountByLabelValuePair, "label pair", count, n => {
              const i = n.indexOf("=");
              return `count({${n.slice(0, i)}=${JSON.stringify(n.slice(i + 1))}})`;
            });
            $("error").textContent = "";
          } catch (e) { $("error").textContent = e.message; }
        }
        $("limit").addEventListener("change", load);
        load();
        """#
}
