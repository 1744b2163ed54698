#!/usr/bin/env bash
# bench/http: wrk through haneul's ALB, HAProxy and nginx with the same two nginx backends and the
# same /api/* rule (../shared/peers/http-peer.sh), in one run; then haneul with 100 rules ahead
# of that rule. First, memory per 8,000 idle keep-alive connections, haneul vs HAProxy; last, new
# TLS sessions per second (openssl s_time, ECDSA P-256), haneul vs HAProxy; then HTTP/2 over
# TLS (h2load, ALPN h2, HTTP/1.1 to the same two nginx backends), haneul vs HAProxy.
# Run from anywhere: bench/http/run.sh   Env: DURATION=15 (s per wrk run), IDLE=8000.
# Prints one line per figure; ratios are haneul / peer.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/sbin:/sbin"
DURATION="${DURATION:-15}"
IDLE="${IDLE:-8000}"   # HAProxy needs two descriptors per connection; the hard limit here is 20,000
PEERS=$(cd ../shared/peers && pwd)
WORK=$(mktemp -d /tmp/bench-http.XXXXXX)
cargo build --release -q --bin haneul
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
API=127.0.0.1:$(port); DNS=127.0.0.1:$(port)
target/release/haneul up --dev --api "$API" --dns "$DNS" >"$WORK/haneul.log" 2>&1 &
HANEUL_PID=$!
HAPROXY_PID=; BACKEND_PID=
trap 'kill $HANEUL_PID $HAPROXY_PID $BACKEND_PID 2>/dev/null; wait 2>/dev/null; cp "$WORK/haneul.log" /tmp/bench-http-haneul.log; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf "http://$API/_haneul/health" >/dev/null && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL=http://$API AWS_PAGER=""
vpc=$(aws ec2 describe-vpcs --filters Name=is-default,Values=true --query 'Vpcs[0].VpcId' --output text)
subnets=$(aws ec2 describe-subnets --filters Name=vpc-id,Values="$vpc" --query 'Subnets[0:2].SubnetId' --output text)
read -r lbarn ip < <(aws elbv2 create-load-balancer --name bench --subnets $subnets --query 'LoadBalancers[0].[LoadBalancerArn,DNSName]' --output text)
ip=$(dig @"${DNS%:*}" -p "${DNS#*:}" +short "$ip" A | head -1)
tg() { aws elbv2 create-target-group --name "$1" --protocol HTTP --port 80 --target-type ip --vpc-id "$vpc" --query 'TargetGroups[0].TargetGroupArn' --output text; }
tg1=$(tg api); tg2=$(tg all)
aws elbv2 register-targets --target-group-arn "$tg1" --targets Id=127.0.0.1,Port=18081 >/dev/null
aws elbv2 register-targets --target-group-arn "$tg2" --targets Id=127.0.0.1,Port=18081 Id=127.0.0.1,Port=18082 >/dev/null
listener() { aws elbv2 create-listener --load-balancer-arn "$lbarn" --protocol HTTP --port "$1" --default-actions Type=forward,TargetGroupArn="$tg2" --query 'Listeners[0].ListenerArn' --output text; }
p1=$(port); p2=$(port)
l1=$(listener "$p1"); l2=$(listener "$p2")
aws elbv2 create-rule --listener-arn "$l1" --priority 10 --conditions Field=path-pattern,Values='/api/*' --actions Type=forward,TargetGroupArn="$tg1" >/dev/null
# Memory per idle keep-alive connections: RSS before and after opening them.
idle_rss() { # pid addr -> KiB added per IDLE connections
  python3 - "$1" "$2" "$IDLE" <<'EOF'
import socket, sys, time
pid, addr, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
host, port = addr.rsplit(":", 1)
def rss():
    return sum(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS"))
import resource
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 1000, n + 1000))
before = rss(); conns = []
for _ in range(n):
    s = socket.create_connection((host, int(port)))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"); conns.append(s)
for s in conns:
    s.recv(4096)
time.sleep(1); print(rss() - before)
EOF
}
ulimit -n 65536 2>/dev/null || true
mkdir -p "$WORK/b" && printf 'backend\n' > "$WORK/b/index.html"
python3 -m http.server 18081 --bind 127.0.0.1 --directory "$WORK/b" >/dev/null 2>&1 &
BACKEND_PID=$!
sleep 1
ours_kib=$(idle_rss "$HANEUL_PID" "$ip:$p1")
cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn $((IDLE + 500))
    nbthread $(nproc)
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fe
    bind 127.0.0.1:$(port)
    default_backend be
backend be
    server b1 127.0.0.1:18081
EOF
hp=$(awk '/bind/{print $2}' "$WORK/haproxy.cfg")
haproxy -db -f "$WORK/haproxy.cfg" >/dev/null 2>&1 & HAPROXY_PID=$!
sleep 1
peer_kib=$(idle_rss "$HAPROXY_PID" "$hp")
echo "memory per $IDLE idle keep-alive connections: haneul $((ours_kib / 1024)) MiB vs haproxy $((peer_kib / 1024)) MiB = $(python3 -c "print(f'{$ours_kib/$peer_kib:.2f}')")x"
kill "$HAPROXY_PID" "$BACKEND_PID"; wait "$HAPROXY_PID" "$BACKEND_PID" 2>/dev/null || true
HAPROXY_PID=; BACKEND_PID=

# The 100-rule listener: 99 path rules that never match, then /api/*.
seq 1 99 | xargs -P 8 -I{} aws elbv2 create-rule --listener-arn "$l2" --priority {} \
  --conditions Field=path-pattern,Values='/never-{}/*' --actions Type=forward,TargetGroupArn="$tg1" --output text >/dev/null
aws elbv2 create-rule --listener-arn "$l2" --priority 100 --conditions Field=path-pattern,Values='/api/*' --actions Type=forward,TargetGroupArn="$tg1" >/dev/null

figure() { grep '^http:' | head -1; }
run_peer() { DURATION=$DURATION WORK=$WORK/peer "$PEERS/http-peer.sh" "$@" 2>/dev/null; }
ours=$(run_peer "$ip:$p1" | figure)
haproxy=$(PEER=haproxy run_peer | figure)
nginx=$(PEER=nginx run_peer | figure)
hundred=$(run_peer "$ip:$p2" | figure)
rps() { awk '{print $3}' <<<"$1"; }
p99() { awk '{print $6}' <<<"$1"; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
echo "rps: haneul $(rps "$ours") vs haproxy $(rps "$haproxy") = $(ratio "$(rps "$ours")" "$(rps "$haproxy")")x, vs nginx $(rps "$nginx") = $(ratio "$(rps "$ours")" "$(rps "$nginx")")x"
echo "p99 ms: haneul $(p99 "$ours") vs haproxy $(p99 "$haproxy") = $(ratio "$(p99 "$ours")" "$(p99 "$haproxy")")x, vs nginx $(p99 "$nginx")"
echo "100-rule listener: $(rps "$hundred") rps, p99 $(p99 "$hundred") ms ($(ratio "$(rps "$hundred")" "$(rps "$ours")")x of the 1-rule listener)"


# TLS handshakes: the same imported ECDSA certificate on an HTTPS listener and on HAProxy.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=bench.test \
  -addext subjectAltName=DNS:bench.test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
cert=$(aws acm import-certificate --certificate "fileb://$WORK/cert.pem" --private-key "fileb://$WORK/key.pem" --query CertificateArn --output text)
p3=$(port)
aws elbv2 create-listener --load-balancer-arn "$lbarn" --protocol HTTPS --port "$p3" --certificates CertificateArn="$cert" \
  --default-actions 'Type=fixed-response,FixedResponseConfig={StatusCode=200}' >/dev/null
cat "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/haproxy.pem"
hp=127.0.0.1:$(port)
cat >"$WORK/haproxy-tls.cfg" <<EOF
global
    nbthread $(nproc)
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind $hp ssl crt $WORK/haproxy.pem
    http-request return status 200
EOF
haproxy -db -f "$WORK/haproxy-tls.cfg" >/dev/null 2>&1 & HAPROXY_PID=$!
sleep 1
handshakes() { # addr -> new TLS sessions per second over DURATION seconds, two clients at once
  for _ in 1 2; do openssl s_time -connect "$1" -new -time "$DURATION" 2>/dev/null & done | \
    awk -v t="$DURATION" '/connections in .* real seconds/ {n += $1} END {printf "%.0f", n / t}'
}
ours_tls=$(handshakes "$ip:$p3")
peer_tls=$(handshakes "$hp")
echo "TLS handshakes/s: haneul $ours_tls vs haproxy $peer_tls = $(ratio "$ours_tls" "$peer_tls")x"
kill "$HAPROXY_PID"; wait "$HAPROXY_PID" 2>/dev/null || true
HAPROXY_PID=

# HTTP/2: h2load (16 connections x 10 streams, the wrk mix's four paths) over TLS to an HTTPS
# listener with the /api/* rule, and to HAProxy with the same rule, both forwarding HTTP/1.1 to
# two nginx backends.
command -v h2load >/dev/null || apt-get install -y -qq --no-install-recommends nghttp2-client >/dev/null
mkdir -p "$WORK/be"
cat >"$WORK/be/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/be/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
    access_log off; keepalive_requests 1000000; default_type text/plain;
    client_body_temp_path $WORK/be/b; proxy_temp_path $WORK/be/p; fastcgi_temp_path $WORK/be/f;
    uwsgi_temp_path $WORK/be/u; scgi_temp_path $WORK/be/s;
    server { listen 127.0.0.1:18081; location / { return 200 "backend 1\n"; } }
    server { listen 127.0.0.1:18082; location / { return 200 "backend 2\n"; } }
}
EOF
nginx -p "$WORK/be" -e stderr -c "$WORK/be/nginx.conf" -g 'daemon off;' >/dev/null 2>&1 & BACKEND_PID=$!
p4=$(port)
l4=$(aws elbv2 create-listener --load-balancer-arn "$lbarn" --protocol HTTPS --port "$p4" --certificates CertificateArn="$cert" \
  --default-actions Type=forward,TargetGroupArn="$tg2" --query 'Listeners[0].ListenerArn' --output text)
aws elbv2 create-rule --listener-arn "$l4" --priority 10 --conditions Field=path-pattern,Values='/api/*' --actions Type=forward,TargetGroupArn="$tg1" >/dev/null
hp=127.0.0.1:$(port)
cat >"$WORK/haproxy-h2.cfg" <<EOF
global
    nbthread $(nproc)
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
frontend fe
    bind $hp ssl crt $WORK/haproxy.pem alpn h2,http/1.1
    use_backend be_api if { path_beg /api/ }
    default_backend be_all
backend be_api
    server b1 127.0.0.1:18081
backend be_all
    balance roundrobin
    server b1 127.0.0.1:18081
    server b2 127.0.0.1:18082
EOF
haproxy -db -f "$WORK/haproxy-h2.cfg" >/dev/null 2>&1 & HAPROXY_PID=$!
sleep 2
h2rps() { # addr -> requests per second
  h2load -c 16 -m 10 -t 2 -D "$DURATION" "https://$1/" "https://$1/index.html" "https://$1/api/users" "https://$1/static/app.js" 2>/dev/null |
    awk '/^finished in/ {gsub(",", "", $4); printf "%.0f", $4}'
}
ours_h2=$(h2rps "$ip:$p4")
peer_h2=$(h2rps "$hp")
echo "HTTP/2 over TLS rps (h2load): haneul $ours_h2 vs haproxy $peer_h2 = $(ratio "$ours_h2" "$peer_h2")x"
