#!/usr/bin/env bash
# bench/logs: CloudWatch Logs on haneul and on moto_server (PyPI moto[server]) in the same run:
#   - PutLogEvents events/s: C clients, one stream each, batches of BATCH events, until EVENTS
#     events are in (1,000,000 by default);
#   - FilterLogEvents latency over all of them for a rare phrase (every page followed);
#   - the same on haneul while a second client keeps PutLogEvents going, to show a search and
#     steady appends do not hold each other up.
# Usage: bench/logs/run.sh   (env: CONCURRENCY=4 BATCH=1000 EVENTS=1000000 DURATION_S=10)
# Prints one line per figure with the ratios (> 1: haneul better); copy them into BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONCURRENCY=${CONCURRENCY:-4}; BATCH=${BATCH:-1000}; EVENTS=${EVENTS:-1000000}; DURATION_S=${DURATION_S:-10}
command -v moto_server >/dev/null || pip install -q 'moto[server]'
cargo build --release -q -p haneul -p bench-api
work=$(mktemp -d /tmp/bench-logs.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_ready() { for _ in $(seq 1 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.01; done; echo "not ready: $1" >&2; exit 1; }
hp=$(free_port); mp=$(free_port)
target/release/haneul up --dev --data-dir "$work/haneul" --api "127.0.0.1:$hp" --dns 127.0.0.1:0 >"$work/haneul.log" 2>&1 & pids+=($!); hpid=$!
moto_server -H 127.0.0.1 -p "$mp" >"$work/moto.log" 2>&1 & pids+=($!)
wait_ready "http://127.0.0.1:$hp/_haneul/health"; wait_ready "http://127.0.0.1:$mp/moto-api/"
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
for ep in "http://127.0.0.1:$hp" "http://127.0.0.1:$mp"; do
  aws --endpoint-url "$ep" logs create-log-group --log-group-name bench
  for i in $(seq 0 $((CONCURRENCY * 2 - 1))); do aws --endpoint-url "$ep" logs create-log-stream --log-group-name bench --log-stream-name "bench-$i"; done
done
field() { tr ' ' '\n' | awk -v k="$1" 'prev == k { print; exit } { prev = $0 }'; }
bench() { target/release/bench-api --endpoint "$1" --key bench --secret bench-secret "${@:2}"; }
put_h=$(bench "http://127.0.0.1:$hp" --op logs-put --concurrency "$CONCURRENCY" --batch "$BATCH" --max-events "$EVENTS" --duration-s 600)
put_m=$(bench "http://127.0.0.1:$mp" --op logs-put --concurrency "$CONCURRENCY" --batch "$BATCH" --max-events "$EVENTS" --duration-s 600)
flt_h=$(bench "http://127.0.0.1:$hp" --op logs-filter --concurrency 1 --duration-s "$DURATION_S")
flt_m=$(bench "http://127.0.0.1:$mp" --op logs-filter --concurrency 1 --duration-s "$DURATION_S")
# A search on haneul while appends go on (the second half of the streams, so order holds).
bench "http://127.0.0.1:$hp" --op logs-put --concurrency 1 --batch "$BATCH" --duration-s "$DURATION_S" >"$work/bg.txt" &
bg=$!
flt_busy=$(bench "http://127.0.0.1:$hp" --op logs-filter --concurrency 1 --duration-s "$DURATION_S")
wait $bg
ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{a / max(b, 1e-9):.2f}x')" "$1" "$2"; }
eh=$(echo "$put_h" | field events_per_s); em=$(echo "$put_m" | field events_per_s)
fh=$(echo "$flt_h" | field p50_ms); fm=$(echo "$flt_m" | field p50_ms); fb=$(echo "$flt_busy" | field p50_ms)
echo "logs bench: $CONCURRENCY clients, batches of $BATCH, $EVENTS events"
echo "PutLogEvents events/s       haneul $eh, moto $em ($(ratio "$eh" "$em"))"
echo "FilterLogEvents p50 (1M)    haneul $fh ms, moto $fm ms ($(ratio "$fm" "$fh"))"
echo "  while appending           haneul $fb ms, $(field events_per_s <"$work/bg.txt") events/s appended meanwhile"
echo "haneul RSS after            $(awk '/VmHWM/ {print $2}' "/proc/$hpid/status") KiB peak"
