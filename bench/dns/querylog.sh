#!/usr/bin/env bash
# bench/dns/querylog.sh: DNS qps with Route 53 query logging off and on, in one run, on the
# peers' 1k-record zone loaded through the Route 53 API (dnsperf through ../shared/peers/dns-peer.sh).
# Rounds alternate off/on (ROUNDS=2 each by default); each figure is the best of its rounds.
# Prints "querylog: off Q qps, on Q qps = R x; lines written W, dropped D". Goal R >= 0.9.
set -euo pipefail
cd "$(dirname "$0")/../.."
acceptance=$(cd ../shared/acceptance && pwd)
peers=$(cd ../shared/peers && pwd)
. "$acceptance/lib/haneul.sh"
ACCEPTANCE_PROFILE=release
ROUNDS=${ROUNDS:-2}
export WORK=$HANEUL_TMP/peers DURATION=${DURATION:-10}
"$peers/dns-peer.sh" --zone-only 2>/dev/null
haneul_start
zid=$(aws route53 create-hosted-zone --name example.test --caller-reference "ql-$$" --query HostedZone.Id --output text)
python3 "$acceptance/lib/zone2batches.py" "$WORK/example.test.zone" "$HANEUL_TMP/batches" >/dev/null
for b in "$HANEUL_TMP"/batches/*.json; do aws route53 change-resource-record-sets --hosted-zone-id "${zid##*/}" --change-batch "file://$b" >/dev/null; done
aws logs create-log-group --log-group-name /aws/route53/example.test
arn=arn:aws:logs:us-east-1:000000000000:log-group:/aws/route53/example.test
best_off=0; best_on=0
for r in $(seq "$ROUNDS"); do
  sleep 1
  q=$("$peers/dns-peer.sh" "$DNS_ADDR:$DNS_PORT" 2>/dev/null | tail -1 | awk '{print $3}')
  best_off=$(python3 -c "print(max($best_off, $q))")
  id=$(aws route53 create-query-logging-config --hosted-zone-id "${zid##*/}" --cloud-watch-logs-log-group-arn "$arn" --query QueryLoggingConfig.Id --output text)
  sleep 1
  q=$("$peers/dns-peer.sh" "$DNS_ADDR:$DNS_PORT" 2>/dev/null | tail -1 | awk '{print $3}')
  best_on=$(python3 -c "print(max($best_on, $q))")
  aws route53 delete-query-logging-config --id "$id"
done
sleep 1
counts=$(curl -s "http://$API/_haneul/health" | python3 -c 'import json,sys; q=json.load(sys.stdin)["dns_query_log"]; print(q["written"], q["dropped"])')
echo "querylog: off $best_off qps, on $best_on qps = $(python3 -c "print(f'{$best_on/$best_off:.2f}')")x; lines written ${counts% *}, dropped ${counts#* }"
