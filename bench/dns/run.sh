#!/usr/bin/env bash
# bench/dns: dnsperf against haneul's DNS, Knot and NSD serving the same 1k-record zone, in one
# run. The zone is loaded into haneul through the Route 53 API. haneul vs Knot is the shared
# dns-perf check (../shared/acceptance/dns-perf); NSD follows right after with the same zone,
# queries and dnsperf settings (../shared/peers/dns-peer.sh). Run from anywhere.
# Env: DURATION=10 (s per dnsperf run).
# Prints "dns-perf: haneul Q qps vs knot Q qps = R x, lost N" and "nsd: Q qps (haneul/nsd = R x)".
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/sbin:/sbin"
command -v nsd >/dev/null 2>&1 || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nsd >/dev/null 2>&1 || { apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nsd >/dev/null; }; }
line=$(../shared/acceptance/dns-perf) || true
echo "$line"
ours=$(sed -n 's/.*haneul \([0-9.]*\) qps.*/\1/p' <<<"$line")
nsd_line=$(PEER=nsd WORK=/tmp/bench-dns-nsd DURATION="${DURATION:-10}" ../shared/peers/dns-peer.sh 2>/dev/null | tail -1)
nsd=$(awk '{print $3}' <<<"$nsd_line")
echo "nsd: $nsd qps (haneul/nsd = $(python3 -c "print(f'{$ours/$nsd:.2f}')")x)"
