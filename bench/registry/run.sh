#!/usr/bin/env bash
# bench/registry: skopeo pushes and pulls through haneul's registry and Debian's docker-registry
# (distribution 2.8, ../shared/peers/registry-peer.sh) in one run, with the same images:
#   - an image of ~SIZE_MIB MiB in five layers: push, pull, 8 and 16 pulls at once;
#   - an image of one BIG_MIB MiB layer: push and pull (memory must stay flat);
#   - peak resident memory of each server over the whole run.
# Layers are random bytes in stored (uncompressed) gzip blocks, so nobody's compression is measured.
# Each figure is the best of ROUNDS (default 3) interleaved rounds, the first mover alternating.
# Run from anywhere: bench/registry/run.sh   Env: SIZE_MIB=200 BIG_MIB=1024 ROUNDS=3
# Prints one line per figure; ratios are docker-registry's time / haneul's (> 1: haneul faster).
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB="${SIZE_MIB:-200}"; BIG_MIB="${BIG_MIB:-1024}"; ROUNDS="${ROUNDS:-3}"
PEERS=$(cd ../shared/peers && pwd)
WORK=$(mktemp -d /tmp/bench-registry.XXXXXX)
export WORK_PEER=$WORK/peer
command -v skopeo >/dev/null || { echo "bench/registry needs skopeo (apt-get install skopeo)" >&2; exit 1; }
cargo build --release -q --bin haneul
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
API=127.0.0.1:$(port)
target/release/haneul up --dev --api "$API" --dns 127.0.0.1:0 --lb-cidr 127.0.5.0/24 >"$WORK/haneul.log" 2>&1 &
HANEUL_PID=$!
SAMPLERS=""
trap 'kill $SAMPLERS $HANEUL_PID 2>/dev/null; WORK=$WORK_PEER "$PEERS/registry-peer.sh" stop >/dev/null 2>&1; wait 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf "http://$API/_haneul/health" >/dev/null && break; sleep 0.1; done
PEER=$(WORK=$WORK_PEER "$PEERS/registry-peer.sh" start 2>/dev/null)
PEER_PID=$(WORK=$WORK_PEER "$PEERS/registry-peer.sh" pid)
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL=http://$API AWS_PAGER=""
aws ecr create-repository --repository-name bench/img >/dev/null
PW=$(aws ecr get-login-password)

# layout DIR MIB... : an OCI layout whose image `bench` has one layer per MIB argument.
layout() { python3 - "$@" <<'EOF'
import hashlib, json, os, sys, tarfile, zlib
out, sizes = sys.argv[1], [int(a) for a in sys.argv[2:]]
blobs = os.path.join(out, "blobs", "sha256"); os.makedirs(blobs)
def put(data):
    d = hashlib.sha256(data).hexdigest(); open(os.path.join(blobs, d), "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
layers, diffs = [], []
for i, mib in enumerate(sizes):
    tmp, packed, plain = os.path.join(out, "tmp"), hashlib.sha256(), hashlib.sha256()
    z = zlib.compressobj(0, zlib.DEFLATED, 31)
    with open(tmp, "wb") as f:
        def emit(b):
            plain.update(b); c = z.compress(b); packed.update(c); f.write(c)
        info = tarfile.TarInfo(f"data/{i}.bin"); info.size = mib << 20
        emit(info.tobuf(format=tarfile.USTAR_FORMAT))
        for _ in range(mib): emit(os.urandom(1 << 20))
        emit(b"\0" * (1024 + (-(512 + info.size + 1024)) % tarfile.RECORDSIZE))
        c = z.flush(); packed.update(c); f.write(c)
    name = os.path.join(blobs, packed.hexdigest()); os.rename(tmp, name)
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + packed.hexdigest(), "size": os.path.getsize(name)})
    diffs.append("sha256:" + plain.hexdigest())
config = put(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diffs}}).encode())
m = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config}, "layers": layers}).encode())
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **m,
           "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}, open(os.path.join(out, "index.json"), "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(out, "oci-layout"), "w"))
EOF
}
q=$((SIZE_MIB / 4)); last=$((SIZE_MIB * 8 / 25))
for r in $(seq 1 "$ROUNDS"); do layout "$WORK/small.$r" $q $q $q $q $last; layout "$WORK/big.$r" "$BIG_MIB"; done

# Peak RSS of a process, sampled every 0.2 s, and its high-water mark at the end.
sample() { local max=0 v; while kill -0 "$1" 2>/dev/null; do v=$(awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0); [ "${v:-0}" -gt "$max" ] && { max=$v; echo "$max" >"$2"; }; sleep 0.2; done; }
sample "$HANEUL_PID" "$WORK/rss.h" & SAMPLERS=$!
sample "$PEER_PID" "$WORK/rss.p" & SAMPLERS="$SAMPLERS $!"

now_ms() { date +%s%3N; }
copy() { timeout 900 skopeo --insecure-policy copy -q "$@" >>"$WORK/skopeo.log" 2>&1 || { tail -3 "$WORK/skopeo.log" >&2; exit 1; }; }
addr() { if [ "$1" = h ]; then echo "$API"; else echo "$PEER"; fi; }
creds() { if [ "$1" = h ]; then echo "AWS:$PW"; else echo "x:x"; fi; }
push() { # who src tag -> ms
  local t0; sync; t0=$(now_ms)
  copy "oci:$2:bench" "docker://$(addr "$1")/bench/img:$3" --dest-tls-verify=false --dest-creds "$(creds "$1")"
  echo $(( $(now_ms) - t0 ))
}
pull() { # who tag ways -> ms for all of them
  local t0 i pids=(); rm -rf "$WORK"/out.*; sync; t0=$(now_ms)
  for i in $(seq 1 "$3"); do copy "docker://$(addr "$1")/bench/img:$2" "oci:$WORK/out.$i:bench" --src-tls-verify=false --src-creds "$(creds "$1")" & pids+=($!); done
  for i in "${pids[@]}"; do wait "$i"; done
  local ms=$(( $(now_ms) - t0 )); rm -rf "$WORK"/out.*; echo "$ms"
}
declare -A best
keep() { local k=$1 v=$2; if [ -z "${best[$k]:-}" ] || [ "$v" -lt "${best[$k]}" ]; then best[$k]=$v; fi; }
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then order="h p"; else order="p h"; fi
  for who in $order; do
    keep "push.$who" "$(push "$who" "$WORK/small.$r" "s$r")"
    keep "pull.$who" "$(pull "$who" "s$r" 1)"
    keep "pull8.$who" "$(pull "$who" "s$r" 8)"
    keep "pull16.$who" "$(pull "$who" "s$r" 16)"
    keep "bigpush.$who" "$(push "$who" "$WORK/big.$r" "b$r")"
    keep "bigpull.$who" "$(pull "$who" "b$r" 1)"
  done
done
sleep 0.5
hwm() { awk '/^VmHWM:/{print $2}' "/proc/$1/status"; }
rh=$(hwm "$HANEUL_PID"); rp=$(hwm "$PEER_PID")
s=$(cat "$WORK/rss.h" 2>/dev/null || echo 0); [ "$s" -gt "$rh" ] && rh=$s
s=$(cat "$WORK/rss.p" 2>/dev/null || echo 0); [ "$s" -gt "$rp" ] && rp=$s
small=$(( $(du -sk "$WORK/small.1" | cut -f1) / 1024 ))
ratio() { python3 -c "import sys; h, p = int(sys.argv[1]), int(sys.argv[2]); print(f'{p / max(h, 1):.2f}x (haneul {h / 1e3:.2f} s, docker-registry {p / 1e3:.2f} s)')" "$1" "$2"; }
echo "registry bench: best of $ROUNDS rounds, a ${small} MiB image in 5 layers and a ${BIG_MIB} MiB one-layer image"
echo "push ${small} MiB            $(ratio "${best[push.h]}" "${best[push.p]}")"
echo "pull ${small} MiB            $(ratio "${best[pull.h]}" "${best[pull.p]}")"
echo "8 pulls at once            $(ratio "${best[pull8.h]}" "${best[pull8.p]}")"
echo "16 pulls at once           $(ratio "${best[pull16.h]}" "${best[pull16.p]}")"
echo "push ${BIG_MIB} MiB layer       $(ratio "${best[bigpush.h]}" "${best[bigpush.p]}")"
echo "pull ${BIG_MIB} MiB layer       $(ratio "${best[bigpull.h]}" "${best[bigpull.p]}")"
echo "peak RSS                   haneul $((rh / 1024)) MiB, docker-registry $((rp / 1024)) MiB ($(python3 -c "print(f'{$rh / max($rp, 1):.2f}x')"))"
