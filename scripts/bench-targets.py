#!/usr/bin/env python3
"""Static scrape targets for scripts/bench-agent: N ports on 127.0.0.1, each serving the same
node_exporter-like exposition of S series (values change every request). Usage:
  bench-targets.py FIRST_PORT COUNT SERIES"""
import http.server, socketserver, sys, threading, itertools

first, count, series = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
lines = []
for i in range(series):
    cpu, mode = divmod(i, 8)
    lines.append(('node_cpu_seconds_total{cpu="%d",mode="%s"}' % (cpu, ["idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice"][mode]), i))
header = "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n# TYPE node_cpu_seconds_total counter\n"
# A few bodies, rotated, so values move without formatting 500 lines per request.
bodies = [(header + "".join("%s %d.%d\n" % (name, base * 10 + k, k) for name, base in lines)).encode() for k in range(8)]
counter = itertools.count()

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

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

for port in range(first, first + count):
    server = Server(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
print("serving %d targets x %d series on ports %d-%d" % (count, series, first, first + count - 1), flush=True)
threading.Event().wait()
