//! Container instances run by `haneul agent`, each a separate process with its own data dir
//! and loopback address: an EC2 service behind the ALB is placed over two agents (bridge
//! mode, dynamic host ports), served, and logged through the API; a killed agent's task is
//! stopped after the heartbeat timeout and replaced on the other; the agent started again
//! is the same container instance and removes the container its stopped task left.
//! Needs the Docker engine and fails loudly without it.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, LaunchType, LoadBalancer, NetworkMode, PlacementStrategy,
    PlacementStrategyType, PortMapping,
};
use aws_sdk_ecs::Client;
use haneul_testkit::docker::Docker;
use haneul_testkit::Haneul;

use crate::ecs_tasks::{code, push_script_image, web_container, WEB_SCRIPT};
use crate::elbv2_proxy::{create_lb, create_listener, forward, get};

/// The label naming the agent (its data dir's identity) on its containers.
const INSTANCE_LABEL: &str = "dev.haneul.instance";

/// A `haneul agent` process. Dropped: stopped, and the containers it left removed.
struct AgentProcess<'d> {
    child: Child,
    dir: std::path::PathBuf,
    arn: String,
    docker: &'d Docker,
    /// Whether dropping removes the containers it left (not for an agent started again).
    clean: bool,
}

impl AgentProcess<'_> {
    fn instance_id(&self) -> String {
        std::fs::read_to_string(self.dir.join("ecs").join("instance-id"))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("agent.log")).unwrap_or_default()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for AgentProcess<'_> {
    fn drop(&mut self) {
        self.kill();
        let id = self.instance_id();
        if self.clean && !id.is_empty() {
            for c in self.docker.containers_labelled(INSTANCE_LABEL, &id) {
                let _ = self.docker.run(&["rm", "-f", &c]);
            }
        }
    }
}

fn start_agent<'d>(
    docker: &'d Docker,
    h: &Haneul,
    dir: &std::path::Path,
    address: &str,
    zone: &str,
    extra: &[&str],
) -> AgentProcess<'d> {
    std::fs::create_dir_all(dir).unwrap();
    let log = std::fs::File::create(dir.join("agent.log")).unwrap();
    let (key, secret) = h.credentials();
    let mut child = Command::new(env!("CARGO_BIN_EXE_haneul"))
        .args(["agent", "--server", &h.endpoint_url(), "--cluster", "fleet"])
        .args(["--data-dir", dir.to_str().unwrap(), "--address", address])
        .args([
            "--availability-zone",
            zone,
            "--cpu-units",
            "2048",
            "--memory-mib",
            "1024",
        ])
        .args(["--heartbeat-s", "1", "--poll-ms", "250", "--attribute", "role=web"])
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "info,haneul_ecs=debug")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("haneul agent starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(arn) = line.strip_prefix("container-instance ") {
                let _ = tx.send(arn.to_string());
            }
        }
    });
    let arn = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(arn) => arn,
        Err(_) => {
            let _ = child.kill();
            panic!(
                "the agent did not register within 30 s: {}",
                std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default()
            );
        }
    };
    AgentProcess {
        child,
        dir: dir.to_path_buf(),
        arn,
        docker,
        clean: true,
    }
}

/// A capacity provider (its Auto Scaling group named as given, there is none) that agents
/// join, associated with cluster `fleet`.
async fn agent_capacity_provider(ecs: &Client, name: &str) {
    ecs.create_capacity_provider()
        .name(name)
        .auto_scaling_group_provider(
            aws_sdk_ecs::types::AutoScalingGroupProvider::builder()
                .auto_scaling_group_arn(format!(
                    "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1:autoScalingGroupName/{name}"
                ))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    ecs.put_cluster_capacity_providers()
        .cluster("fleet")
        .capacity_providers(name)
        .set_default_capacity_provider_strategy(Some(Vec::new()))
        .send()
        .await
        .unwrap();
}

async fn service_tasks(ecs: &Client, name: &str) -> Vec<aws_sdk_ecs::types::Task> {
    let arns = ecs
        .list_tasks()
        .cluster("fleet")
        .service_name(name)
        .send()
        .await
        .unwrap();
    if arns.task_arns().is_empty() {
        return Vec::new();
    }
    ecs.describe_tasks()
        .cluster("fleet")
        .set_tasks(Some(arns.task_arns().to_vec()))
        .send()
        .await
        .unwrap()
        .tasks()
        .to_vec()
}

/// Waits until the service has `count` RUNNING tasks, all on instances `on` passes.
async fn wait_running_on(
    ecs: &Client,
    count: usize,
    within: Duration,
    what: &str,
    on: impl Fn(&[String]) -> bool,
) -> Vec<aws_sdk_ecs::types::Task> {
    let end = Instant::now() + within;
    loop {
        let tasks: Vec<_> = service_tasks(ecs, "web")
            .await
            .into_iter()
            .filter(|t| t.last_status() == Some("RUNNING"))
            .collect();
        let hosts: Vec<String> = tasks
            .iter()
            .filter_map(|t| t.container_instance_arn().map(str::to_string))
            .collect();
        if tasks.len() == count && on(&hosts) {
            return tasks;
        }
        if Instant::now() >= end {
            let s = ecs
                .describe_services()
                .cluster("fleet")
                .services("web")
                .send()
                .await
                .unwrap();
            let events: Vec<String> = s.services()[0]
                .events()
                .iter()
                .take(8)
                .filter_map(|e| e.message().map(str::to_string))
                .collect();
            panic!("{what}: not within {within:?}; running on {hosts:?}; events {events:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
#[ignore = "needs the Docker engine: runs in CI with --include-ignored"]
async fn a_service_runs_on_two_agents_and_moves_off_a_lost_one() {
    let docker = Docker::require();
    let mut images = Vec::new();
    let h = Haneul::start();
    let ecs = h.ecs();
    let dirs = tempfile::tempdir().unwrap();
    let net = 150 + std::process::id() % 50;
    let (addr_a, addr_b) = (format!("127.{net}.254.1"), format!("127.{net}.254.2"));

    let (image, local) = push_script_image(&docker, &h, "fleet/web", "v1", WEB_SCRIPT);
    images.push(local);
    ecs.create_cluster().cluster_name("fleet").send().await.unwrap();

    // EC2 tasks need container instances: none yet.
    let container = ContainerDefinition::builder()
        .set_port_mappings(Some(vec![PortMapping::builder()
            .container_port(8080)
            .host_port(0)
            .build()]))
        .memory(64)
        .cpu(128);
    let base = web_container("web", &image, "/ecs/fleet");
    let container = container
        .name("web")
        .image(&image)
        .essential(true)
        .stop_timeout(2)
        .set_log_configuration(base.log_configuration().cloned())
        .build();
    ecs.register_task_definition()
        .family("fleet-web")
        .requires_compatibilities(Compatibility::Ec2)
        .network_mode(NetworkMode::Bridge)
        .container_definitions(container)
        .send()
        .await
        .unwrap();
    let e = ecs
        .run_task()
        .cluster("fleet")
        .task_definition("fleet-web")
        .launch_type(LaunchType::Ec2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        (
            "InvalidParameterException".into(),
            "No Container Instances were found in your cluster.".into()
        )
    );

    // B's agent is the capacity of a capacity provider.
    agent_capacity_provider(&ecs, "fleet-b").await;
    let mut a = start_agent(&docker, &h, &dirs.path().join("a"), &addr_a, "us-east-1a", &[]);
    let b = start_agent(
        &docker,
        &h,
        &dirs.path().join("b"),
        &addr_b,
        "us-east-1b",
        &["--capacity-provider", "fleet-b"],
    );
    assert_ne!(a.arn, b.arn);
    let described = ecs
        .describe_container_instances()
        .cluster("fleet")
        .container_instances(&a.arn)
        .container_instances(&b.arn)
        .send()
        .await
        .unwrap();
    for ci in described.container_instances() {
        assert_eq!(ci.status(), Some("ACTIVE"));
        assert!(ci.agent_connected());
        let attrs: Vec<(&str, Option<&str>)> = ci.attributes().iter().map(|a| (a.name(), a.value())).collect();
        assert!(attrs.contains(&("role", Some("web"))), "{attrs:?}");
    }
    // A placement constraint no instance meets: RunTask reports the failure, runs nothing.
    let refused = ecs
        .run_task()
        .cluster("fleet")
        .task_definition("fleet-web")
        .launch_type(LaunchType::Ec2)
        .placement_constraints(
            aws_sdk_ecs::types::PlacementConstraint::builder()
                .r#type(aws_sdk_ecs::types::PlacementConstraintType::MemberOf)
                .expression("attribute:role == db")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(refused.tasks().is_empty());
    assert_eq!(refused.failures()[0].reason(), Some("ATTRIBUTE"));
    // Through the capacity provider: only on B.
    for _ in 0..2 {
        let run = ecs
            .run_task()
            .cluster("fleet")
            .task_definition("fleet-web")
            .capacity_provider_strategy(
                aws_sdk_ecs::types::CapacityProviderStrategyItem::builder()
                    .capacity_provider("fleet-b")
                    .weight(1)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let task = &run.tasks()[0];
        assert_eq!(task.container_instance_arn(), Some(b.arn.as_str()));
        assert_eq!(task.capacity_provider_name(), Some("fleet-b"));
        ecs.stop_task()
            .cluster("fleet")
            .task(task.task_arn().unwrap())
            .send()
            .await
            .unwrap();
    }

    // The service behind the ALB, spread over the instances.
    let lb = create_lb(&h, "fleet-lb").await;
    let tg = h
        .elbv2()
        .create_target_group()
        .name("fleet-tg")
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(8080)
        .vpc_id(&lb.vpc)
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Instance)
        .health_check_interval_seconds(5)
        .healthy_threshold_count(2)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    let (_, listener_addr) = create_listener(&h, &lb, forward(&tg)).await;
    ecs.create_service()
        .cluster("fleet")
        .service_name("web")
        .task_definition("fleet-web")
        .desired_count(2)
        .launch_type(LaunchType::Ec2)
        .placement_strategy(
            PlacementStrategy::builder()
                .r#type(PlacementStrategyType::Spread)
                .field("instanceId")
                .build(),
        )
        .load_balancers(
            LoadBalancer::builder()
                .target_group_arn(&tg)
                .container_name("web")
                .container_port(8080)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let both: HashSet<String> = [a.arn.clone(), b.arn.clone()].into();
    let tasks = wait_running_on(&ecs, 2, Duration::from_secs(90), "one task on each agent", |hosts| {
        hosts.iter().cloned().collect::<HashSet<_>>() == both
    })
    .await;
    for t in &tasks {
        let binding = &t.containers()[0].network_bindings()[0];
        let want = if t.container_instance_arn() == Some(a.arn.as_str()) {
            &addr_a
        } else {
            &addr_b
        };
        assert_eq!(binding.bind_ip(), Some(want.as_str()));
        assert_ne!(binding.host_port(), Some(8080), "a dynamic host port");
    }
    let url = format!("http://{listener_addr}/");
    let c = crate::elbv2_proxy::client();
    let end = Instant::now() + Duration::from_secs(60);
    let mut hosts = HashSet::new();
    while hosts.len() < 2 {
        if let Ok(r) = get(&c, "GET", &url, &[]).await {
            if r.status == 200 {
                hosts.insert(r.body.trim().to_string());
            }
        }
        assert!(
            Instant::now() < end,
            "the ALB did not serve both agents' tasks: {hosts:?}\n{}",
            a.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Bridge tasks are the group's instance targets: each agent's instance, its task's host port.
    let instances: HashSet<String> = described
        .container_instances()
        .iter()
        .map(|ci| ci.ec2_instance_id().unwrap().to_string())
        .collect();
    let health = h
        .elbv2()
        .describe_target_health()
        .target_group_arn(&tg)
        .send()
        .await
        .unwrap();
    let targets: HashSet<(String, i32)> = health
        .target_health_descriptions()
        .iter()
        .map(|d| {
            let t = d.target().unwrap();
            (t.id().unwrap().to_string(), t.port().unwrap())
        })
        .collect();
    let bound: HashSet<i32> = tasks
        .iter()
        .map(|t| t.containers()[0].network_bindings()[0].host_port().unwrap())
        .collect();
    assert_eq!(
        targets.iter().map(|(id, _)| id.clone()).collect::<HashSet<_>>(),
        instances,
        "{targets:?}"
    );
    assert_eq!(targets.iter().map(|(_, p)| *p).collect::<HashSet<_>>(), bound);

    // awslogs from an agent's container, through CloudWatch Logs' API.
    let on_b = tasks
        .iter()
        .find(|t| t.container_instance_arn() == Some(b.arn.as_str()))
        .unwrap();
    let stream = format!("web/web/{}", on_b.task_arn().unwrap().rsplit('/').next().unwrap());
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let lines: Vec<String> = h
            .logs()
            .get_log_events()
            .log_group_name("/ecs/fleet")
            .log_stream_name(&stream)
            .send()
            .await
            .map(|g| {
                g.events()
                    .iter()
                    .filter_map(|e| e.message().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if lines.iter().any(|l| l.starts_with("web-start")) {
            break;
        }
        assert!(
            Instant::now() < end,
            "no start line in {stream}: {lines:?}\n{}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Agent A is lost: its task is stopped after the heartbeat timeout and replaced on B.
    let on_a = tasks
        .iter()
        .find(|t| t.container_instance_arn() == Some(a.arn.as_str()))
        .unwrap()
        .task_arn()
        .unwrap()
        .to_string();
    a.kill();
    let only_b = b.arn.clone();
    wait_running_on(&ecs, 2, Duration::from_secs(90), "both tasks on agent B", |hosts| {
        hosts.iter().all(|h| *h == only_b)
    })
    .await;
    let lost = ecs
        .describe_tasks()
        .cluster("fleet")
        .tasks(&on_a)
        .send()
        .await
        .unwrap()
        .tasks()[0]
        .clone();
    assert_eq!(lost.last_status(), Some("STOPPED"));
    assert_eq!(lost.stop_code().map(|c| c.as_str()), Some("TerminationNotice"));
    let instance = ecs
        .describe_container_instances()
        .cluster("fleet")
        .container_instances(&a.arn)
        .send()
        .await
        .unwrap();
    assert!(!instance.container_instances()[0].agent_connected());
    let r = get(&c, "GET", &url, &[]).await.unwrap();
    assert_eq!(r.status, 200);

    // A again: the same instance; the container its stopped task left is removed.
    let a_dir = a.dir.clone();
    let a_arn = a.arn.clone();
    let a_id = a.instance_id();
    assert_eq!(
        docker.containers_labelled(INSTANCE_LABEL, &a_id).len(),
        1,
        "the lost task's container runs on"
    );
    a.clean = false;
    drop(a);
    let a = start_agent(&docker, &h, &a_dir, &addr_a, "us-east-1a", &[]);
    assert_eq!(a.arn, a_arn);
    assert_eq!(a.instance_id(), a_id);
    let end = Instant::now() + Duration::from_secs(20);
    while !docker.containers_labelled(INSTANCE_LABEL, &a_id).is_empty() {
        assert!(
            Instant::now() < end,
            "the stopped task's container is still there\n{}",
            a.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop((a, b));
}

async fn daemon_counts(ecs: &Client, arn: &str) -> Option<(String, Vec<(String, i32)>)> {
    let out = ecs.describe_daemon().daemon_arn(arn).send().await.ok()?;
    let d = out.daemon()?.clone();
    let latest = d.deployment_arn().unwrap_or_default().to_string();
    let counts = d
        .current_revisions()
        .iter()
        .map(|r| (r.arn().unwrap_or_default().to_string(), r.total_running_count()))
        .collect();
    Some((latest, counts))
}

async fn deployment_status(ecs: &Client, arn: &str) -> String {
    let out = ecs
        .describe_daemon_deployments()
        .daemon_deployment_arns(arn)
        .send()
        .await
        .unwrap();
    out.daemon_deployments()[0]
        .status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// Waits until the daemon's newest revision runs on `count` instances and nothing else runs.
async fn wait_daemon(ecs: &Client, arn: &str, count: i32, within: Duration) -> String {
    let end = Instant::now() + within;
    loop {
        if let Some((deployment, counts)) = daemon_counts(ecs, arn).await {
            let newest_only = counts.len() == 1 && counts[0].1 == count;
            if newest_only && deployment_status(ecs, &deployment).await == "SUCCESSFUL" {
                return counts[0].0.clone();
            }
            if Instant::now() >= end {
                let mut seen = Vec::new();
                for desired in [
                    aws_sdk_ecs::types::DesiredStatus::Running,
                    aws_sdk_ecs::types::DesiredStatus::Stopped,
                ] {
                    let arns = ecs
                        .list_tasks()
                        .cluster("fleet")
                        .desired_status(desired)
                        .send()
                        .await
                        .unwrap();
                    if arns.task_arns().is_empty() {
                        continue;
                    }
                    let d = ecs
                        .describe_tasks()
                        .cluster("fleet")
                        .set_tasks(Some(arns.task_arns().to_vec()))
                        .send()
                        .await
                        .unwrap();
                    for t in d.tasks() {
                        seen.push(format!(
                            "{:?} {:?} {:?}",
                            t.last_status(),
                            t.stopped_reason(),
                            t.container_instance_arn()
                        ));
                    }
                }
                panic!("daemon not on {count} instances within {within:?}: {counts:?}; tasks {seen:?}");
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
#[ignore = "needs the Docker engine: runs in CI with --include-ignored"]
async fn a_daemon_runs_one_task_on_every_agent_of_its_capacity_provider() {
    let docker = Docker::require();
    let mut images = Vec::new();
    let h = Haneul::start();
    let ecs = h.ecs();
    let dirs = tempfile::tempdir().unwrap();
    let net = 150 + std::process::id() % 50;
    let (image, local) = push_script_image(&docker, &h, "fleet/daemon", "v1", WEB_SCRIPT);
    images.push(local);
    ecs.create_cluster().cluster_name("fleet").send().await.unwrap();
    agent_capacity_provider(&ecs, "fleet-d").await;
    let register = |family: &str| {
        ecs.register_daemon_task_definition()
            .family(family)
            .container_definitions(
                aws_sdk_ecs::types::DaemonContainerDefinition::builder()
                    .name("agent")
                    .image(&image)
                    .memory(32)
                    .stop_timeout(2)
                    .build()
                    .unwrap(),
            )
            .send()
    };
    let v1 = register("node-agent")
        .await
        .unwrap()
        .daemon_task_definition_arn()
        .unwrap()
        .to_string();
    assert!(v1.ends_with(":daemon-task-definition/node-agent:1"), "{v1}");
    let v2 = register("node-agent")
        .await
        .unwrap()
        .daemon_task_definition_arn()
        .unwrap()
        .to_string();
    let listed = ecs
        .list_daemon_task_definitions()
        .family_prefix("node")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.daemon_task_definitions().len(), 2);

    // ECS's errors: FARGATE is no daemon capacity; a missing daemon.
    let e = ecs
        .create_daemon()
        .cluster_arn("fleet")
        .daemon_name("agent")
        .daemon_task_definition_arn(&v1)
        .capacity_provider_arns("FARGATE")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, "InvalidParameterException");
    let e = ecs
        .describe_daemon()
        .daemon_arn("arn:aws:ecs:us-east-1:000000000000:daemon/fleet/nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, "DaemonNotFoundException");

    let _a = start_agent(
        &docker,
        &h,
        &dirs.path().join("a"),
        &format!("127.{net}.253.1"),
        "us-east-1a",
        &["--capacity-provider", "fleet-d"],
    );
    let made = ecs
        .create_daemon()
        .cluster_arn("fleet")
        .daemon_name("agent")
        .daemon_task_definition_arn(&v1)
        .capacity_provider_arns("arn:aws:ecs:us-east-1:000000000000:capacity-provider/fleet-d")
        .send()
        .await
        .unwrap();
    let daemon = made.daemon_arn().unwrap().to_string();
    assert_eq!(daemon, "arn:aws:ecs:us-east-1:000000000000:daemon/fleet/agent");
    let first = wait_daemon(&ecs, &daemon, 1, Duration::from_secs(60)).await;
    // A second agent joins: the daemon follows it there.
    let _b = start_agent(
        &docker,
        &h,
        &dirs.path().join("b"),
        &format!("127.{net}.253.2"),
        "us-east-1b",
        &["--capacity-provider", "fleet-d"],
    );
    assert_eq!(wait_daemon(&ecs, &daemon, 2, Duration::from_secs(60)).await, first);

    // A new revision replaces the tasks on both.
    ecs.update_daemon()
        .daemon_arn(&daemon)
        .daemon_task_definition_arn(&v2)
        .capacity_provider_arns("fleet-d")
        .send()
        .await
        .unwrap();
    let second = wait_daemon(&ecs, &daemon, 2, Duration::from_secs(90)).await;
    assert_ne!(second, first);
    let revisions = ecs
        .describe_daemon_revisions()
        .daemon_revision_arns(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(
        revisions.daemon_revisions()[0].daemon_task_definition_arn(),
        Some(v2.as_str())
    );
    let deployments = ecs.list_daemon_deployments().daemon_arn(&daemon).send().await.unwrap();
    assert_eq!(deployments.daemon_deployments().len(), 2);

    // Deleted: its tasks stop and it goes.
    let deleting = ecs.delete_daemon().daemon_arn(&daemon).send().await.unwrap();
    assert_eq!(deleting.status().map(|s| s.as_str()), Some("DELETE_IN_PROGRESS"));
    let end = Instant::now() + Duration::from_secs(60);
    while ecs.describe_daemon().daemon_arn(&daemon).send().await.is_ok() {
        assert!(Instant::now() < end, "the daemon did not go");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let live = ecs.list_tasks().cluster("fleet").send().await.unwrap();
    assert!(live.task_arns().is_empty(), "{:?}", live.task_arns());
}
