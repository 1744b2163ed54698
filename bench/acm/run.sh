#!/usr/bin/env bash
# bench/acm: certificates issued per second — haneul's CA (key generation + signing, in process,
# one thread) vs `openssl req -x509` generating a key and a certificate for the same names (one
# process per certificate, run back to back) — for RSA-2048 and P-256, in one run.
# Usage: bench/acm/run.sh   (env: SECONDS_EACH=10). Prints one line per key type with the ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${SECONDS_EACH:-10}
cargo build --release -q -p bench-acm
work=$(mktemp -d /tmp/bench-acm.XXXXXX); trap 'rm -rf "$work"' EXIT
openssl_rate() {  # newkey args...
  local n=0 end=$(( $(date +%s) + SECONDS_EACH ))
  while [ "$(date +%s)" -lt "$end" ]; do
    openssl req -x509 -nodes -days 395 -subj /CN=app.example.test \
      -addext 'subjectAltName=DNS:app.example.test,DNS:*.app.example.test' \
      "$@" -keyout "$work/k.pem" -out "$work/c.pem" 2>/dev/null
    n=$((n + 1))
  done
  python3 -c "print(f'{$n/$SECONDS_EACH:.1f}')"
}
for pair in "RSA_2048:-newkey rsa:2048" "EC_prime256v1:-newkey ec -pkeyopt ec_paramgen_curve:prime256v1"; do
  key=${pair%%:*}; args=${pair#*:}
  ours=$(target/release/bench-acm "$key" "$SECONDS_EACH")
  # shellcheck disable=SC2086
  theirs=$(openssl_rate $args)
  echo "$key: haneul $ours/s vs openssl req -x509 $theirs/s = $(python3 -c "print(f'{$ours/$theirs:.2f}')")x"
done
