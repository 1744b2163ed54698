#!/usr/bin/env bash
# bench/ecs: ECS on the real Docker engine against `docker run` of the same image, in one run:
#   - RunTask → lastStatus RUNNING (awsvpc, image from haneul's ECR; ECS's default pull
#     behaviour re-checks the registry every time) against `docker run -d` of that image
#     (present locally), N times each, medians (goal: ≤ docker run + 150 ms);
#   - a 20-task service: create-service → runningCount 20, and → "has reached a steady state.";
#   - then the scheduler benchmark on the simulated engine (bench-ecs: 1,000 services,
#     10,000 tasks, 10 % killed at once), on haneul's own host and on AGENTS agents.
# Usage: bench/ecs/run.sh   (env: RUNS=10 SERVICE_TASKS=20 SERVICES=1000 TASKS_PER_SERVICE=10 AGENTS=100)
# Prints one line per figure; copy them into BENCHMARKS.md. Leaves no container or image.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-10}; SERVICE_TASKS=${SERVICE_TASKS:-20}; SERVICES=${SERVICES:-1000}; TASKS_PER_SERVICE=${TASKS_PER_SERVICE:-10}; AGENTS=${AGENTS:-100}
docker info >/dev/null 2>&1 || { echo "bench/ecs needs a running Docker engine" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "bench/ecs builds its image from a static /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }
cargo build --release -q -p haneul -p bench-ecs
work=$(mktemp -d /tmp/bench-ecs.XXXXXX)
RUN=bench-ecs-$$
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true
  c=$(docker ps -aq --filter "label=bench.run=$RUN"); [ -n "$c" ] && docker rm -f $c >/dev/null
  i=$(docker images -q --filter "label=bench.run=$RUN" | sort -u); [ -n "$i" ] && docker rmi -f $i >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
hp=$(free_port)
# A --dev haneul on temp state removes its task containers when it stops.
target/release/haneul up --dev --api "127.0.0.1:$hp" --dns 127.0.0.1:0 --task-cidr 127.0.6.0/23 >"$work/haneul.log" 2>&1 & pids+=($!)
for _ in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:$hp/_haneul/health" && break; sleep 0.01; done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
api=127.0.0.1:$hp
mkdir -p "$work/img/bin" && cp /bin/busybox "$work/img/bin/"
printf '/bin/busybox mkdir -p /www && echo ok > /www/index.html\nexec /bin/busybox httpd -f -p 8080 -h /www\n' > "$work/img/start"
aws --endpoint-url "http://$api" ecr create-repository --repository-name bench/web >/dev/null
tar -C "$work/img" -c . | docker import --change 'CMD ["/bin/busybox","sh","/start"]' --change "LABEL bench.run=$RUN" - "$api/bench/web:v1" >/dev/null
export DOCKER_CONFIG=$work/docker; mkdir -p "$DOCKER_CONFIG"
aws --endpoint-url "http://$api" ecr get-login-password | docker login -u AWS --password-stdin "$api" >/dev/null 2>&1
docker push -q "$api/bench/web:v1" >/dev/null
python3 - "$api" "$RUNS" "$SERVICE_TASKS" "$RUN" <<'PY'
import json, statistics, subprocess, sys, time
import botocore.session
api, runs, service_tasks, run_label = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = botocore.session.get_session()
ecs = s.create_client("ecs", endpoint_url=f"http://{api}", region_name="us-east-1")
ec2 = s.create_client("ec2", endpoint_url=f"http://{api}", region_name="us-east-1")
subnets = [x["SubnetId"] for x in ec2.describe_subnets()["Subnets"][:2]]
net = {"awsvpcConfiguration": {"subnets": subnets}}
ecs.create_cluster(clusterName="bench")
ecs.register_task_definition(family="web", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
    containerDefinitions=[{"name": "web", "image": f"{api}/bench/web:v1", "stopTimeout": 2, "portMappings": [{"containerPort": 8080}]}])
def ms(a, b): return (b - a) * 1000
ecs_ms, docker_ms = [], []
for i in range(runs + 1):
    t0 = time.monotonic()
    arn = ecs.run_task(cluster="bench", taskDefinition="web", launchType="FARGATE", networkConfiguration=net)["tasks"][0]["taskArn"]
    while ecs.describe_tasks(cluster="bench", tasks=[arn])["tasks"][0]["lastStatus"] != "RUNNING":
        time.sleep(0.005)
    t1 = time.monotonic()
    ecs.stop_task(cluster="bench", task=arn)
    t2 = time.monotonic()
    cid = subprocess.run(["docker", "run", "-d", "--label", f"bench.run={run_label}", "-p", f"127.0.7.{10 + i}:8080:8080", f"{api}/bench/web:v1"],
                         check=True, capture_output=True, text=True).stdout.strip()
    t3 = time.monotonic()
    subprocess.run(["docker", "rm", "-f", cid], check=True, capture_output=True)
    if i > 0:  # the first of each is a warm-up
        ecs_ms.append(ms(t0, t1)); docker_ms.append(ms(t2, t3))
e, d = statistics.median(ecs_ms), statistics.median(docker_ms)
print(f"run-task: RunTask -> RUNNING median {e:.0f} ms (p90 {sorted(ecs_ms)[int(len(ecs_ms)*0.9)-1]:.0f}), docker run -d median {d:.0f} ms: "
      f"haneul = docker run + {e - d:.0f} ms ({d / e:.2f}x; goal <= +150 ms)")
t0 = time.monotonic()
ecs.create_service(cluster="bench", serviceName="svc", taskDefinition="web", desiredCount=service_tasks, launchType="FARGATE", networkConfiguration=net)
running_at = steady_at = None
while steady_at is None and time.monotonic() - t0 < 300:
    sv = ecs.describe_services(cluster="bench", services=["svc"])["services"][0]
    if running_at is None and sv["runningCount"] == service_tasks:
        running_at = time.monotonic()
    if any(ev["message"].endswith("has reached a steady state.") for ev in sv["events"]):
        steady_at = time.monotonic()
    time.sleep(0.05)
print(f"service: {service_tasks} tasks RUNNING {ms(t0, running_at) / 1000:.2f} s after create-service, steady state event after {ms(t0, steady_at) / 1000:.2f} s")
ecs.delete_service(cluster="bench", service="svc", force=True)
PY
kill -TERM "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()
target/release/bench-ecs --services "$SERVICES" --tasks-per-service "$TASKS_PER_SERVICE"
# The same over AGENTS in-process `haneul agent`s (EC2 services spread over them).
target/release/bench-ecs --services "$SERVICES" --tasks-per-service "$TASKS_PER_SERVICE" --agents "$AGENTS"
