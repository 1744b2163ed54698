#!/usr/bin/env bash
# bench/api: signed API requests per second from C concurrent clients, haneul vs moto_server
# (PyPI moto[server]) in the same run, plus time-to-healthy and idle RSS for both.
# Usage: bench/api/run.sh   (env: CONCURRENCY=16 DURATION_S=10)
# Prints one line per figure and the haneul/moto ratios; copy them into BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONCURRENCY=${CONCURRENCY:-16}
DURATION_S=${DURATION_S:-10}
command -v moto_server >/dev/null || pip install -q 'moto[server]'
cargo build --release -q -p haneul -p bench-api
work=$(mktemp -d /tmp/bench-api.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

wait_ready() {  # url
  for _ in $(seq 1 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.01; done
  echo "not ready: $1" >&2; exit 1
}

hp=$(free_port); mp=$(free_port)
t0=$(now_ms)
target/release/haneul up --dev --data-dir "$work/haneul" --api "127.0.0.1:$hp" >"$work/haneul.log" 2>&1 & pids+=($!); hpid=$!
wait_ready "http://127.0.0.1:$hp/_haneul/health"; h_start=$(( $(now_ms) - t0 ))
t0=$(now_ms)
moto_server -H 127.0.0.1 -p "$mp" >"$work/moto.log" 2>&1 & pids+=($!); mpid=$!
wait_ready "http://127.0.0.1:$mp/moto-api/"; m_start=$(( $(now_ms) - t0 ))
sleep 1
h_rss=$(rss_kb $hpid); m_rss=$(rss_kb $mpid)
echo "start-to-healthy: haneul ${h_start} ms, moto ${m_start} ms"
echo "idle RSS: haneul ${h_rss} KiB, moto ${m_rss} KiB"

run() {  # endpoint op -> rps
  target/release/bench-api --endpoint "$1" --op "$2" --concurrency "$CONCURRENCY" --duration-s "$DURATION_S"
}
for op in sts ec2; do
  run "http://127.0.0.1:$hp" "$op" >/dev/null 2>&1 || true  # warm-up (creates the default VPC)
  h=$(run "http://127.0.0.1:$hp" "$op")
  m=$(run "http://127.0.0.1:$mp" "$op")
  echo "haneul $h"
  echo "moto   $m"
  hr=$(echo "$h" | awk '{print $5}'); mr=$(echo "$m" | awk '{print $5}')
  hp99=$(echo "$h" | awk '{print $9}'); mp99=$(echo "$m" | awk '{print $9}')
  python3 -c "print(f'$op: haneul/moto rps ratio {$hr/$mr:.1f}x, p99 ratio (moto/haneul) {$mp99/$hp99:.1f}x')"
done
loaded_rss=$(rss_kb $hpid)
echo "haneul RSS after load: ${loaded_rss} KiB"
