#!/usr/bin/env python3
"""An OpenMetrics target with exemplars, for the exemplar tests: on 127.0.0.1:PORT, /metrics
serves a counter and a histogram whose exemplars change with every scrape (trace_id = the
scrape number, the exemplar timestamped at the scrape). Usage: openmetrics-target.py PORT"""
import http.server, socketserver, sys, threading, time

port = int(sys.argv[1])
lock = threading.Lock()
count = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with lock:
            count[0] += 1
            n = count[0]
        now = time.time()
        body = (
            "# TYPE demo_requests counter\n"
            "# HELP demo_requests Requests served.\n"
            'demo_requests_total{path="/api"} %d # {trace_id="t%d"} 1 %.3f\n'
            "# TYPE demo_latency_seconds histogram\n"
            'demo_latency_seconds_bucket{le="0.5"} %d # {trace_id="h%d"} 0.25 %.3f\n'
            'demo_latency_seconds_bucket{le="+Inf"} %d\n'
            "demo_latency_seconds_count %d\n"
            "demo_latency_seconds_sum %d\n"
            "# EOF\n" % (n, n, now, n, n, now, n, n, n)
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server(("127.0.0.1", port), Handler).serve_forever()
