/// `GET /`: a small web UI on the receiver's own API — a query box, a graph of the range query
/// (or a table of the instant one), the head's series count and the build. Plain HTML and a
/// little JavaScript, no assets; the API calls it makes go through the read auth like any other.
enum WebUI {
    static let page = #"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Tributary receiver</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
        h1{font-size:1.3em;margin:0 0 .3em}
        #status{color:#555;font-size:.9em;margin-bottom:1em}
        form{display:flex;gap:.5em;flex-wrap:wrap}
        textarea{flex:1 1 30em;font-family:monospace;font-size:.95em;height:3.2em}
        select,button{font-size:.95em}
        #error{color:#b00;white-space:pre-wrap;margin:.6em 0}
        svg{border:1px solid #ccc;background:#fff;margin-top:.6em}
        .legend{font-family:monospace;font-size:.8em;margin:.4em 0}
        .legend span{display:inline-block;width:.8em;height:.8em;margin-right:.4em}
        table{border-collapse:collapse;margin-top:.6em;font-family:monospace;font-size:.85em}
        td,th{border:1px solid #ddd;padding:3px 6px;text-align:left}
        </style></head>
        <body>
        <h1>Tributary receiver</h1>
        <div id="status">loading status…</div>
        <form id="f">
        <textarea id="q" placeholder="PromQL, e.g. sum by (group) (rate(node_cpu_seconds_total{mode!=&quot;idle&quot;}[1m]))">sum by (group, job) (up)</textarea>
        <select id="range"><option value="300">5m</option><option value="3600" selected>1h</option><option value="21600">6h</option><option value="86400">1d</option></select>
        <select id="mode"><option value="graph">graph</option><option value="table">table</option></select>
        <button>Run</button>
        </form>
        <div id="error"></div>
        <div id="out"></div>
        <script>
        const colors = ["#1f77b4","#ff7f0e","#2ca02c","#d62728","#9467bd","#8c564b","#e377c2","#7f7f7f","#bcbd22","#17becf"];
        const esc = s => String(s).replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;"}[c]));
        const label = m => { const n = m.__name__ || ""; const rest = Object.keys(m).filter(k => k !== "__name__").sort().map(k => k + "=\"" + m[k] + "\""); return n + "{" + rest.join(", ") + "}"; };
        async function api(path, params) {
          const r = await fetch(path + "?" + new URLSearchParams(params));
          const j = await r.json().catch(() => ({status: "error", error: "HTTP " + r.status}));
          if (j.status !== "success") throw new Error((j.errorType ? j.errorType + ": " : "") + j.error);
          return j.data;
        }
        async function status() {
          try {
            const [tsdb, build] = await Promise.all([api("api/v1/status/tsdb", {}), api("api/v1/status/buildinfo", {})]);
            document.getElementById("status").textContent = tsdb.headStats.numSeries + " series in the head · version " + build.version;
          } catch (e) { document.getElementById("status").textContent = "status: " + e.message; }
        }
        function graph(result, start, end) {
          const W = 900, H = 300, P = 40;
          const series = result.slice(0, colors.length);
          let lo = Infinity, hi = -Infinity;
          for (const s of series) for (const [, v] of s.values) { const x = parseFloat(v); if (isFinite(x)) { lo = Math.min(lo, x); hi = Math.max(hi, x); } }
          if (!isFinite(lo)) return "<p>no data in range</p>";
          if (hi === lo) { hi += 1; lo -= 1; }
          const X = t => P + (t - start) / (end - start) * (W - 2 * P), Y = v => H - P - (v - lo) / (hi - lo) * (H - 2 * P);
          let svg = `<svg width="${W}" height="${H}"><text x="4" y="${P}" font-size="11">${hi.toPrecision(4)}</text><text x="4" y="${H - P}" font-size="11">${lo.toPrecision(4)}</text>`;
          series.forEach((s, i) => {
            let d = "", prev = null;
            for (const [t, v] of s.values) { const x = parseFloat(v); if (!isFinite(x)) { prev = null; continue; } d += (prev === null || t - prev > 2 * step ? "M" : "L") + X(t).toFixed(1) + "," + Y(x).toFixed(1); prev = t; }
            svg += `<path d="${d}" fill="none" stroke="${colors[i]}" stroke-width="1.5"/>`;
          });
          svg += "</svg>";
          const legend = series.map((s, i) => `<div class="legend"><span style="background:${colors[i]}"></span>${esc(label(s.metric))}</div>`).join("");
          return svg + legend + (result.length > series.length ? `<p>${result.length - series.length} more series not drawn</p>` : "");
        }
        let step = 15;
        async function run(ev) {
          if (ev) ev.preventDefault();
          const q = document.getElementById("q").value, range = +document.getElementById("range").value, mode = document.getElementById("mode").value;
          const end = Date.now() / 1000, start = end - range;
          step = Math.max(1, Math.round(range / 300));
          document.getElementById("error").textContent = "";
          try {
            if (mode === "graph") {
              const data = await api("api/v1/query_range", {query: q, start, end, step});
              document.getElementById("out").innerHTML = graph(data.result, start, end);
            } else {
              const data = await api("api/v1/query", {query: q, time: end});
              const rows = data.resultType === "vector" ? data.result.map(r => `<tr><td>${esc(label(r.metric))}</td><td>${esc(r.value[1])}</td></tr>`)
                         : [`<tr><td>${esc(data.resultType)}</td><td>${esc(JSON.stringify(data.result))}</td></tr>`];
              document.getElementById("out").innerHTML = `<table><tr><th>series</th><th>value</th></tr>${rows.join("")}</table>`;
            }
          } catch (e) { document.getElementById("error").textContent = e.message; document.getElementById("out").innerHTML = ""; }
        }
        document.getElementById("f").addEventListener("submit", run);
        status(); run();
        </script>
        </body></html>
        """#
}
