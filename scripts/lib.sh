# Shared helpers for the scripts in this folder; source it, don't run it.

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL SECONDS: waits until URL answers (any HTTP status), or fails.
wait_http() {
  local url=$1 deadline=$((SECONDS + $2))
  until curl -s -o /dev/null "$url"; do
    ((SECONDS < deadline)) || { echo "timed out waiting for $url" >&2; return 1; }
    sleep 0.2
  done
}

# bench_ports COUNT: prints the first of COUNT consecutive ports for scripts/bench-targets.py,
# below the kernel's ephemeral range (32768+) so that outgoing connections cannot hold them.
bench_ports() {
  python3 -c "import random, sys; print(random.randrange(20000, 32000 - int(sys.argv[1])))" "$1"
}

# target_list FIRST COUNT: "127.0.0.1:FIRST", … COUNT ports on, for a YAML flow list.
target_list() {
  python3 -c "import sys; f, n = map(int, sys.argv[1:]); print(', '.join('\"127.0.0.1:%d\"' % p for p in range(f, f + n)))" "$1" "$2"
}
