import TributaryHTTPServer

/// `GET /` and `/graph`: the query page. An expression box with completion of metric names and
/// PromQL functions, a graph of the range query (time and value axes, a tooltip of every series
/// at the step under the mouse, a legend whose entries hide and show their series) or a table of
/// the instant query. The expression, tab, range, end and step live in the URL under
/// Prometheus's parameter names (`g0.expr`, `g0.tab`, `g0.range_input`, `g0.end_input`,
/// `g0.step_input`), so a link opens the same view, here or in Prometheus.
enum QueryPage {
    static let html = WebPage.document(title: "Query", product: ReceiverPages.product, links: ReceiverPages.links, current: "/graph", body: body, script: script)

    static let body = #"""
        <style>
        #query-form{display:flex;flex-direction:column;gap:.4em}
        .editor{position:relative}
        #expr{width:100%;font:14px ui-monospace,"DejaVu Sans Mono",monospace;padding:.45em .6em;border:1px solid var(--line);border-radius:4px;resize:vertical}
        #completions{position:absolute;left:0;top:100%;z-index:5;list-style:none;margin:2px 0 0;padding:2px 0;background:#fff;border:1px solid var(--line);border-radius:4px;box-shadow:0 4px 14px rgba(0,0,0,.14);max-height:18em;overflow:auto;min-width:26em;font:13px ui-monospace,"DejaVu Sans Mono",monospace}
        #completions li{padding:2px 10px;cursor:pointer;display:flex;justify-content:space-between;gap:2em}
        #completions li[aria-selected=true]{background:#e3ecfd}
        #completions .kind{color:var(--muted);font-size:.85em}
        .controls{display:flex;gap:1em;align-items:center;flex-wrap:wrap}
        .tab{background:#e4e8ef;color:var(--fg)}
        .tab[aria-selected=true]{background:var(--accent);color:#fff}
        #chart{position:relative}
        #plot{width:100%;height:380px;display:block}
        #plot .grid line{stroke:#eceef2}
        #plot .frame{stroke:#b9bfc9}
        #plot .axis text{fill:var(--muted);font-size:11px}
        #plot path.series{fill:none;stroke-width:1.6;stroke-linejoin:round;stroke-linecap:round}
        #plot path.series.hover{stroke-width:3.2}
        #plot #crosshair{stroke:#9aa3b1;stroke-dasharray:3 3}
        #tooltip{position:absolute;pointer-events:none;background:rgba(255,255,255,.97);border:1px solid var(--line);border-radius:4px;box-shadow:0 2px 10px rgba(0,0,0,.15);padding:.4em .6em;font-size:12px;max-width:40em;z-index:4}
        #tooltip .time{font-weight:600;margin-bottom:.2em}
        #tooltip .row{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
        #tooltip .row.near{font-weight:700}
        .swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:middle}
        #legend{list-style:none;padding:0;margin:.5em 0 0;font:12px ui-monospace,"DejaVu Sans Mono",monospace;max-height:16em;overflow:auto}
        #legend li{cursor:pointer;padding:1px 4px;border-radius:3px}
        #legend li:hover{background:#f0f3f8}
        #legend li.off{opacity:.4;text-decoration:line-through}
        </style>
        <form id="query-form" autocomplete="off">
          <div class="editor">
            <textarea id="expr" rows="2" spellcheck="false" aria-label="PromQL expression"
              placeholder="PromQL, e.g. sum by (group) (rate(node_cpu_seconds_total{mode!=&quot;idle&quot;}[5m])) · Enter runs, Shift+Enter is a new line"></textarea>
            <ul id="completions" role="listbox" hidden></ul>
          </div>
          <div class="controls">
            <span role="tablist"><button type="button" class="tab" role="tab" data-tab="graph">Graph</button> <button type="button" class="tab" role="tab" data-tab="table">Table</button></span>
            <label>Range <select id="range"></select></label>
            <label>End <input id="end" size="20" placeholder="now (UTC YYYY-MM-DD HH:MM)"></label>
            <label>Step <input id="step" size="6" placeholder="auto"></label>
            <button id="execute" type="submit">Execute</button>
          </div>
        </form>
        <div id="error" class="error" role="alert"></div>
        <div id="warnings" class="muted"></div>
        <p id="info" class="muted"></p>
        <section id="graph-panel"><div id="chart"><svg id="plot" role="img" aria-label="graph"></svg><div id="tooltip" hidden></div></div><ul id="legend"></ul></section>
        <section id="table-panel" hidden><table id="result-table"></table></section>
        """#

    static let script = #"""
        const RANGES = ["5m", "15m", "30m", "1h", "3h", "6h", "12h", "1d", "2d", "7d", "14d"];
        const PAD = {l: 64, r: 18, t: 12, b: 30};
        const MAX_DRAWN = 1000;
        const FUNCTIONS = ["abs", "absent", "absent_over_time", "avg", "avg_over_time", "bottomk", "ceil", "changes", "clamp",
          "clamp_max", "clamp_min", "count", "count_over_time", "count_values", "day_of_month", "day_of_week", "day_of_year",
          "days_in_month", "delta", "deriv", "exp", "floor", "group", "histogram_quantile", "holt_winters", "hour", "idelta",
          "increase", "irate", "label_join", "label_replace", "last_over_time", "ln", "log10", "log2", "max", "max_over_time",
          "min", "min_over_time", "minute", "month", "predict_linear", "present_over_time", "quantile", "quantile_over_time",
          "rate", "resets", "round", "scalar", "sgn", "sort", "sort_desc", "sqrt", "stddev", "stddev_over_time", "stdvar",
          "stdvar_over_time", "sum", "sum_over_time", "time", "timestamp", "topk", "vector", "year"];
        const state = {tab: "graph", data: null, hidden: new Set(), geometry: null, hover: -1};
        let metricNames = [];
        const color = i => `hsl(${Math.round(i * 137.508) % 360}, 68%, 42%)`;

        function parseDuration(s) {
          s = String(s || "").trim();
          if (!/^(\d+(ms|s|m|h|d|w|y))+$/.test(s)) return null;
          const f = {ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000};
          let total = 0;
          for (const [, n, u] of s.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(n) * f[u];
          return total > 0 ? total : null;
        }
        // "" → now (null); unix seconds; or UTC "YYYY-MM-DD HH:MM[:SS]"; undefined when unreadable.
        function parseEnd(s) {
          s = s.trim();
          if (!s) return null;
          if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
          const m = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d)(?::(\d\d))?Z?$/.exec(s);
          if (!m) return undefined;
          return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)) / 1000;
        }

        // MARK: the URL
        function readURL() {
          const p = new URLSearchParams(location.search);
          $("expr").value = p.has("g0.expr") ? p.get("g0.expr") : "sum by (group, job) (up)";
          const range = p.get("g0.range_input");
          if (range && parseDuration(range) && !RANGES.includes(range)) RANGES.push(range);
          $("range").innerHTML = RANGES.map(r => `<option>${esc(r)}</option>`).join("");
          $("range").value = range && parseDuration(range) ? range : "1h";
          const tab = p.get("g0.tab");
          state.tab = tab === "1" || tab === "table" ? "table" : "graph";
          $("end").value = p.get("g0.end_input") || "";
          $("step").value = p.get("g0.step_input") || "";
        }
        function writeURL() {
          const p = new URLSearchParams();
          p.set("g0.expr", $("expr").value);
          p.set("g0.tab", state.tab);
          p.set("g0.range_input", $("range").value);
          if ($("end").value.trim()) p.set("g0.end_input", $("end").value.trim());
          if ($("step").value.trim()) p.set("g0.step_input", $("step").value.trim());
          history.replaceState(null, "", location.pathname + "?" + p);
        }

        // MARK: running
        async function execute() {
          closeCompletions();
          writeURL();
          $("error").textContent = ""; $("warnings").textContent = ""; $("info").textContent = "";
          const expr = $("expr").value.trim();
          if (!expr) { state.data = null; renderGraph(); renderLegend(); $("result-table").innerHTML = ""; return; }
          const range = parseDuration($("range").value);
          let end = parseEnd($("end").value);
          if (end === undefined) { $("error").textContent = "End: expected UTC YYYY-MM-DD HH:MM[:SS] or unix seconds"; return; }
          if (end === null) end = Date.now() / 1000;
          let step = Math.max(1, Math.round(range / 250));
          if ($("step").value.trim()) {
            step = parseDuration($("step").value);
            if (!step) { $("error").textContent = "Step: expected a duration such as 15s"; return; }
          }
          const started = performance.now();
          $("execute").disabled = true;
          try {
            if (state.tab === "graph") {
              const start = end - range;
              const j = await api("api/v1/query_range", {query: expr, start: start.toFixed(3), end: end.toFixed(3), step});
              const points = j.data.result.reduce((n, s) => n + s.values.length, 0);
              state.data = {result: j.data.result, start, end, step};
              state.hidden = new Set();
              showWarnings(j.warnings);
              $("info").textContent = `${count(j.data.result.length)} series · ${count(points)} points · ${Math.round(performance.now() - started)} ms · step ${step}s`;
              renderGraph(); renderLegend();
            } else {
              const j = await api("api/v1/query", {query: expr, time: end.toFixed(3)});
              showWarnings(j.warnings);
              const n = Array.isArray(j.data.result) && j.data.resultType !== "scalar" && j.data.resultType !== "string" ? j.data.result.length : 1;
              $("info").textContent = `${count(n)} result${n === 1 ? "" : "s"} · ${Math.round(performance.now() - started)} ms · at ${isoTime(end * 1000)}`;
              renderTable(j.data);
            }
          } catch (e) {
            $("error").textContent = e.message;
            state.data = null; renderGraph(); renderLegend(); $("result-table").innerHTML = "";
          } finally {
            $("execute").disabled = false;
          }
        }
        function showWarnings(w) { $("warnings").textContent = w && w.length ? "Warnings: " + w.join("; ") : ""; }

        // MARK: the graph
        function niceStep(raw) {
          const p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
          return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
        }
        function valueTicks(lo, hi, n) {
          const step = niceStep((hi - lo) / n), ticks = [];
          for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(parseFloat(v.toPrecision(12)));
          return ticks;
        }
        function timeTicks(start, end, n) {
          const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
          const step = steps.find(s => (end - start) / s <= n) || 604800;
          const east = -new Date(start * 1000).getTimezoneOffset() * 60;
          const two = v => String(v).padStart(2, "0"), ticks = [];
          for (let t = Math.ceil((start + east) / step) * step - east; t <= end; t += step) {
            const d = new Date(t * 1000);
            const hm = two(d.getHours()) + ":" + two(d.getMinutes()) + (step < 60 ? ":" + two(d.getSeconds()) : "");
            const day = two(d.getMonth() + 1) + "-" + two(d.getDate());
            ticks.push({t, label: step >= 86400 ? day : end - start > 86400 ? day + " " + hm : hm});
          }
          return ticks;
        }
        function renderGraph() {
          const svg = $("plot"), d = state.data;
          const size = svg.getBoundingClientRect();
          const W = Math.round(size.width) || 900, H = Math.round(size.height) || 380;
          svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
          hideTooltip();
          if (!d) { svg.innerHTML = ""; state.geometry = null; return; }
          const drawn = d.result.map((s, i) => i).filter(i => i < MAX_DRAWN && !state.hidden.has(i));
          let lo = Infinity, hi = -Infinity;
          for (const i of drawn) for (const [, v] of d.result[i].values) { const x = Number(v); if (isFinite(x)) { if (x < lo) lo = x; if (x > hi) hi = x; } }
          if (!isFinite(lo)) { lo = 0; hi = 1; }
          if (lo === hi) { const pad = Math.abs(lo) * 0.1 || 1; lo -= pad; hi += pad; }
          const plotW = W - PAD.l - PAD.r, plotH = H - PAD.t - PAD.b;
          const X = t => PAD.l + (t - d.start) / (d.end - d.start) * plotW;
          const Y = v => PAD.t + (hi - v) / (hi - lo) * plotH;
          state.geometry = {X, Y, W, H, plotW};
          let grid = '<g class="grid">', ya = '<g class="axis y">', xa = '<g class="axis x">';
          for (const v of valueTicks(lo, hi, Math.max(3, Math.floor(plotH / 55)))) {
            const y = Y(v).toFixed(1);
            grid += `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y}" y2="${y}"/>`;
            ya += `<text x="${PAD.l - 7}" y="${y}" dy="4" text-anchor="end">${esc(si(v))}</text>`;
          }
          for (const tick of timeTicks(d.start, d.end, Math.max(2, Math.floor(plotW / 110)))) {
            const x = X(tick.t).toFixed(1);
            grid += `<line x1="${x}" x2="${x}" y1="${PAD.t}" y2="${H - PAD.b}"/>`;
            xa += `<text x="${x}" y="${H - PAD.b + 18}" text-anchor="middle">${esc(tick.label)}</text>`;
          }
          let paths = "";
          for (const i of drawn) {
            let path = "", prev = null;
            for (const [t, v] of d.result[i].values) {
              const x = Number(v);
              if (!isFinite(x)) { prev = null; continue; }
              const gap = prev === null || t - prev > d.step * 1.5;
              path += (gap ? "M" : "L") + X(t).toFixed(1) + "," + Y(x).toFixed(1) + (gap ? "h0" : "");
              prev = t;
            }
            paths += `<path class="series${i === state.hover ? " hover" : ""}" data-i="${i}" stroke="${color(i)}" d="${path}"/>`;
          }
          const frame = `<path class="frame" fill="none" d="M${PAD.l},${PAD.t}V${H - PAD.b}H${W - PAD.r}"/>`;
          const empty = drawn.length === 0 || d.result.length === 0
            ? `<text x="${PAD.l + plotW / 2}" y="${PAD.t + plotH / 2}" text-anchor="middle" fill="#5d6675">${d.result.length ? "all series hidden" : "no data in this range"}</text>` : "";
          svg.innerHTML = grid + "</g>" + ya + "</g>" + xa + "</g>" + frame + paths + empty
            + `<line id="crosshair" y1="${PAD.t}" y2="${H - PAD.b}" visibility="hidden"/>`;
          if (d.result.length > MAX_DRAWN) $("info").textContent += ` · the first ${MAX_DRAWN} drawn`;
        }

        // The sample of series i at time t (the step's timestamp), or undefined.
        function valueAt(i, t) {
          const values = state.data.result[i].values;
          let lo = 0, hi = values.length - 1;
          while (lo <= hi) {
            const mid = (lo + hi) >> 1, mt = values[mid][0];
            if (Math.abs(mt - t) < state.data.step / 2) return Number(values[mid][1]);
            if (mt < t) lo = mid + 1; else hi = mid - 1;
          }
          return undefined;
        }
        function hideTooltip() {
          $("tooltip").hidden = true;
          const line = document.getElementById("crosshair");
          if (line) line.setAttribute("visibility", "hidden");
          if (state.hover >= 0) {
            const p = document.querySelector(`#plot path.series[data-i="${state.hover}"]`);
            if (p) p.classList.remove("hover");
            state.hover = -1;
          }
        }
        function showTooltip(ev) {
          const d = state.data, g = state.geometry;
          if (!d || !g) return;
          const box = $("plot").getBoundingClientRect();
          // In the drawing's units (the same as CSS pixels unless the page was resized since).
          const px = (ev.clientX - box.left) * g.W / box.width, py = (ev.clientY - box.top) * g.H / box.height;
          if (px < PAD.l || px > g.W - PAD.r) return hideTooltip();
          const raw = d.start + (px - PAD.l) / g.plotW * (d.end - d.start);
          const t = d.start + Math.round((raw - d.start) / d.step) * d.step;
          const rows = [];
          for (let i = 0; i < Math.min(d.result.length, MAX_DRAWN); i++) {
            if (state.hidden.has(i)) continue;
            const v = valueAt(i, t);
            if (v !== undefined) rows.push({i, v});
          }
          if (!rows.length) return hideTooltip();
          let near = rows[0];
          for (const r of rows) if (isFinite(r.v) && Math.abs(g.Y(r.v) - py) < Math.abs(g.Y(near.v) - py)) near = r;
          if (state.hover !== near.i) {
            hideTooltip();
            state.hover = near.i;
            const p = document.querySelector(`#plot path.series[data-i="${near.i}"]`);
            if (p) p.classList.add("hover");
          }
          rows.sort((a, b) => b.v - a.v);
          const shown = rows.slice(0, 12);
          const tip = $("tooltip");
          tip.innerHTML = `<div class="time">${esc(isoTime(t * 1000))}</div>`
            + shown.map(r => `<div class="row${r.i === near.i ? " near" : ""}"><span class="swatch" style="background:${color(r.i)}"></span>${esc(seriesName(d.result[r.i].metric))}: <b>${esc(r.v)}</b></div>`).join("")
            + (rows.length > shown.length ? `<div class="muted">${rows.length - shown.length} more</div>` : "");
          tip.hidden = false;
          const line = document.getElementById("crosshair");
          line.setAttribute("x1", g.X(t)); line.setAttribute("x2", g.X(t)); line.setAttribute("visibility", "visible");
          const left = px + 16 + tip.offsetWidth > g.W ? Math.max(0, px - 16 - tip.offsetWidth) : px + 16;
          tip.style.left = left + "px";
          tip.style.top = Math.min(py + 12, g.H - tip.offsetHeight) + "px";
        }

        // MARK: the legend
        function renderLegend() {
          const d = state.data;
          $("legend").innerHTML = d ? d.result.slice(0, MAX_DRAWN).map((s, i) =>
            `<li data-i="${i}" class="${state.hidden.has(i) ? "off" : ""}" title="click: hide or show · ctrl-click: this one alone">`
            + `<span class="swatch" style="background:${color(i)}"></span>${esc(seriesName(s.metric))}</li>`).join("") : "";
        }
        $("legend").addEventListener("click", ev => {
          const li = ev.target.closest("li");
          if (!li || !state.data) return;
          const i = Number(li.dataset.i), n = Math.min(state.data.result.length, MAX_DRAWN);
          if (ev.ctrlKey || ev.metaKey) {
            const alone = !state.hidden.has(i) && state.hidden.size === n - 1;
            state.hidden = new Set();
            if (!alone) for (let k = 0; k < n; k++) if (k !== i) state.hidden.add(k);
          } else if (state.hidden.has(i)) {
            state.hidden.delete(i);
          } else {
            state.hidden.add(i);
          }
          renderGraph(); renderLegend();
        });

        // MARK: the table
        function renderTable(data) {
          let rows = [];
          if (data.resultType === "vector") {
            rows = data.result.map(r => `<tr><td class="mono">${esc(seriesName(r.metric))}</td><td class="num">${esc(r.value[1])}</td></tr>`);
          } else if (data.resultType === "matrix") {
            rows = data.result.map(r => `<tr><td class="mono">${esc(seriesName(r.metric))}</td><td class="num mono">${r.values.map(([t, v]) => esc(v) + " @" + t).join("<br>")}</td></tr>`);
          } else {
            rows = [`<tr><td>${esc(data.resultType)}</td><td class="num">${esc(data.result[1])}</td></tr>`];
          }
          $("result-table").innerHTML = `<thead><tr><th>series</th><th class="num">value</th></tr></thead><tbody>`
            + (rows.join("") || `<tr><td colspan="2" class="muted">empty result</td></tr>`) + "</tbody>";
        }

        // MARK: completion
        const comp = {items: [], sel: 0, from: 0, to: 0};
        async function loadMetricNames() {
          try { metricNames = (await api("api/v1/label/__name__/values")).data; } catch (e) { metricNames = []; }
        }
        function wordAtCursor() {
          const ta = $("expr"), pos = ta.selectionStart, text = ta.value.slice(0, pos);
          if (text.lastIndexOf("{") > text.lastIndexOf("}")) return null;
          if ((text.match(/"/g) || []).length % 2) return null;
          const m = /[A-Za-z_:][A-Za-z0-9_:]*$/.exec(text);
          return m ? {word: m[0], from: pos - m[0].length, to: pos} : null;
        }
        function updateCompletions() {
          const w = wordAtCursor();
          if (!w) return closeCompletions();
          const low = w.word.toLowerCase(), starts = [], inside = [];
          for (const n of metricNames) {
            const l = n.toLowerCase();
            if (l === low) continue;
            if (l.startsWith(low)) starts.push([n, "metric"]);
            else if (low.length >= 2 && l.includes(low)) inside.push([n, "metric"]);
          }
          const fns = FUNCTIONS.filter(f => f.startsWith(low) && f !== low).map(f => [f, "function"]);
          comp.items = [...starts, ...fns, ...inside].slice(0, 40);
          if (!comp.items.length) return closeCompletions();
          comp.sel = 0; comp.from = w.from; comp.to = w.to;
          renderCompletions();
        }
        function renderCompletions() {
          const list = $("completions");
          list.innerHTML = comp.items.map(([name, kind], k) =>
            `<li role="option" data-k="${k}" aria-selected="${k === comp.sel}">${esc(name)}<span class="kind">${kind}</span></li>`).join("");
          list.hidden = false;
          const sel = list.children[comp.sel];
          if (sel) sel.scrollIntoView({block: "nearest"});
        }
        function closeCompletions() { $("completions").hidden = true; comp.items = []; }
        function accept(k) {
          const ta = $("expr"), [name, kind] = comp.items[k];
          const insert = name + (kind === "function" ? "(" : "");
          ta.value = ta.value.slice(0, comp.from) + insert + ta.value.slice(comp.to);
          const pos = comp.from + insert.length;
          ta.setSelectionRange(pos, pos);
          closeCompletions();
          ta.focus();
        }
        $("expr").addEventListener("input", updateCompletions);
        $("expr").addEventListener("blur", () => setTimeout(closeCompletions, 150));
        $("expr").addEventListener("keydown", ev => {
          const open = !$("completions").hidden && comp.items.length;
          if (open && (ev.key === "ArrowDown" || ev.key === "ArrowUp")) {
            comp.sel = (comp.sel + (ev.key === "ArrowDown" ? 1 : comp.items.length - 1)) % comp.items.length;
            renderCompletions(); ev.preventDefault();
          } else if (open && (ev.key === "Tab" || ev.key === "Enter")) {
            accept(comp.sel); ev.preventDefault();
          } else if (open && ev.key === "Escape") {
            closeCompletions(); ev.preventDefault();
          } else if (ev.key === "Enter" && !ev.shiftKey) {
            ev.preventDefault(); execute();
          }
        });
        $("completions").addEventListener("mousedown", ev => {
          const li = ev.target.closest("li");
          if (li) { ev.preventDefault(); accept(Number(li.dataset.k)); }
        });

        // MARK: start
        function selectTab(tab) {
          state.tab = tab;
          for (const b of document.querySelectorAll(".tab")) b.setAttribute("aria-selected", String(b.dataset.tab === tab));
          $("graph-panel").hidden = tab !== "graph";
          $("table-panel").hidden = tab !== "table";
        }
        for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => { selectTab(b.dataset.tab); execute(); });
        $("query-form").addEventListener("submit", ev => { ev.preventDefault(); execute(); });
        $("range").addEventListener("change", execute);
        $("plot").addEventListener("mousemove", showTooltip);
        $("plot").addEventListener("mouseleave", hideTooltip);
        window.addEventListener("resize", renderGraph);
        readURL();
        selectTab(state.tab);
        loadMetricNames();
        execute();
        """#
}
