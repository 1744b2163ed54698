#!/usr/bin/env bash
# bench/dns/large.sh: a large zone in haneul and in Knot, in one run —
#   * memory (RSS) with RECORDS A records loaded (haneul through the Route 53 API, Knot from
#     the same zone as a file), and
#   * change-to-visible latency under query load: dnsperf sends LOAD_QPS queries/s for the
#     zone while ROUNDS changes are made (haneul: ChangeResourceRecordSets; Knot: knotc
#     zone-begin/set/commit) and each is timed from the request until an answer carries it.
# Usage: bench/dns/large.sh   (env: RECORDS=1000000 ROUNDS=50 LOAD_QPS=20000)
# Prints one line per figure; copy them into BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/sbin:/sbin"
RECORDS=${RECORDS:-1000000}
ROUNDS=${ROUNDS:-50}
LOAD_QPS=${LOAD_QPS:-20000}
need() { command -v "$1" >/dev/null 2>&1 || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null 2>&1 || { apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null; }; }; }
need knotd knot; need kdig knot-dnsutils; need dnsperf dnsperf
cargo build --release -q -p haneul -p bench-dns
work=$(mktemp -d /tmp/bench-dns-large.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
rss_mib() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

api=$(free_port); dns=$(free_port); kport=$(free_port)
target/release/haneul up --dev --data-dir "$work/haneul" --api "127.0.0.1:$api" --dns "127.0.0.1:$dns" >"$work/haneul.log" 2>&1 &
hpid=$!; pids+=($hpid)
for _ in $(seq 1 500); do curl -sf -o /dev/null "http://127.0.0.1:$api/_haneul/health" && break; sleep 0.02; done
zid=$(target/release/bench-dns load --endpoint "http://127.0.0.1:$api" --zone big.test --records "$RECORDS" --zone-file "$work/big.test.zone")
sleep 2
h_rss=$(rss_mib $hpid)

mkdir -p "$work/knot/db"
cat >"$work/knot/knot.conf" <<CONF
server:
    rundir: "$work/knot"
    listen: 127.0.0.1@$kport
log:
  - target: stderr
    any: warning
database:
    storage: "$work/knot/db"
template:
  - id: default
    storage: "$work"
    semantic-checks: off
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: big.test.
    file: "$work/big.test.zone"
CONF
knotd -c "$work/knot/knot.conf" >"$work/knot/knotd.log" 2>&1 &
kpid=$!; pids+=($kpid)
for _ in $(seq 1 3000); do kdig @127.0.0.1 -p "$kport" +short +time=1 +retry=0 r1.big.test A 2>/dev/null | grep -q '^10\.' && break; sleep 0.05; done
sleep 2
k_rss=$(rss_mib $kpid)
echo "memory with $RECORDS records: haneul ${h_rss} MiB, knot ${k_rss} MiB = $(python3 -c "print(f'{$h_rss/$k_rss:.2f}')")x"

awk -v n="$RECORDS" 'BEGIN { srand(7); for (i = 0; i < 10000; i++) print "r" int(rand() * n) ".big.test A" }' >"$work/queries.txt"
under_load() {  # port, then the change-visible arguments
  local port=$1; shift
  dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -l 600 -Q "$LOAD_QPS" -c 4 >"$work/dnsperf.log" 2>&1 &
  local dp=$!
  sleep 1
  target/release/bench-dns change-visible --zone big.test --rounds "$ROUNDS" "$@"
  kill $dp 2>/dev/null || true; wait $dp 2>/dev/null || true
}
echo "haneul (under $LOAD_QPS qps): $(under_load "$dns" --endpoint "http://127.0.0.1:$api" --zone-id "$zid" --dns "127.0.0.1:$dns")"
echo "knot   (under $LOAD_QPS qps): $(under_load "$kport" --knotc "knotc -c $work/knot/knot.conf" --dns "127.0.0.1:$kport")"
