#!/usr/bin/env bash
# bench/dns: dnsperf against haneul's DNS and Knot serving the same 1k-record zone, in one run.
# The zone is loaded into haneul through the Route 53 API. This is the shared dns-perf check
# (../shared/acceptance/dns-perf, peers from ../shared/peers); run from the repo root.
# Env: DURATION=10 (s per dnsperf run). Prints "haneul Q qps vs knot Q qps = R x, lost N".
set -euo pipefail
cd "$(dirname "$0")/../.."
exec ../shared/acceptance/dns-perf
