#!/usr/bin/env python3
"""Static scrape targets for scripts/bench-agent: COUNT ports on 127.0.0.1 from FIRST_PORT.
SOURCE is either a number S (each target serves the same node_exporter-like exposition of S
series) or a comma-separated list of recorded pages (scripts/bench-pages/*.prom; targets take
them in turn). Values change every request. Usage:
  bench-targets.py FIRST_PORT COUNT SOURCE"""
import http.server, socketserver, sys, threading, itertools, math

first, count, source = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def synthetic(series):
    lines = []
    for i in range(series):
        cpu, mode = divmod(i, 8)
        lines.append(('node_cpu_seconds_total{cpu="%d",mode="%s"}' % (cpu, ["idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice"][mode]), i))
    header = "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n# TYPE node_cpu_seconds_total counter\n"
    # A few bodies, rotated, so values move without formatting 500 lines per request.
    return [(header + "".join("%s %d.%d\n" % (name, base * 10 + k, k) for name, base in lines)).encode() for k in range(8)]


def recorded(path):
    """The page as recorded, in 8 variants whose finite sample values grow by k (comments, label
    sets and series order as captured, so the parser sees exactly what the exporter wrote)."""
    lines = open(path, encoding="utf-8").read().splitlines()
    bodies = []
    for k in range(8):
        out = []
        for line in lines:
            if line.startswith("#") or not line.strip():
                out.append(line)
                continue
            series, _, value = line.rpartition(" ")
            try:
                v = float(value)
            except ValueError:
                out.append(line)
                continue
            out.append(line if not math.isfinite(v) else "%s %s" % (series, repr(v + k) if v != int(v) else "%d" % (int(v) + k)))
        bodies.append(("\n".join(out) + "\n").encode())
    return bodies


if source.isdigit():
    pages = [synthetic(int(source))]
else:
    pages = [recorded(p) for p in source.split(",")]
counter = itertools.count()


def handler_for(bodies):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = bodies[next(counter) % len(bodies)]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


for i, port in enumerate(range(first, first + count)):
    server = Server(("127.0.0.1", port), handler_for(pages[i % len(pages)]))
    threading.Thread(target=server.serve_forever, daemon=True).start()
print("serving %d targets on ports %d-%d from %s" % (count, first, first + count - 1, source), flush=True)
threading.Event().wait()
