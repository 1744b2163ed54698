//! The ECS scheduler benchmark, with the simulated engine (no Docker): an in-process haneul
//! (`--ecs-runtime simulated`), services created through the ECS API, then
//! - how long until every service is steady (all tasks RUNNING),
//! - the reconcile throughput: full scheduler passes over steady services (services/s),
//! - after 10 % of the tasks die at once, how long until every service is whole again.
//!
//! With `--agents N` the tasks run on N in-process `haneul agent`s instead (each its own
//! simulated engine, talking to the server over its API as a separate host would), as EC2
//! services spread over them.
//!
//! `cargo run --release -p bench-ecs -- --services 1000 --tasks-per-service 10 [--agents 100]`

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType, NetworkConfiguration, NetworkMode, PortMapping,
};
use clap::Parser;
use haneul_ecs::model::KIND_TASK;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 1000)]
    services: usize,
    #[arg(long, default_value_t = 10)]
    tasks_per_service: i32,
    /// Share of the tasks killed at once for the convergence figure.
    #[arg(long, default_value_t = 0.1)]
    kill_fraction: f64,
    /// Longest wait for any phase.
    #[arg(long, default_value_t = 600)]
    timeout_s: u64,
    /// Run the tasks on this many agents (0: on haneul's own host, FARGATE).
    #[arg(long, default_value_t = 0)]
    agents: usize,
    /// Print the converge phase every 0.5 s (tasks stopped since the kill, live, running).
    #[arg(long)]
    timeline: bool,
    /// How often each agent looks at its tasks.
    #[arg(long, default_value_t = 1000)]
    agent_poll_ms: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(args))
}

/// (running tasks, live tasks) of every service task in the store.
/// The two fields the probe reads of a task (decoding the rest would make the probe, which
/// runs every 50 ms beside what it measures, cost more than the scheduler).
#[derive(serde::Deserialize)]
struct Probe {
    desired_status: String,
    last_status: String,
}

/// (running, live, stopped) tasks: desired RUNNING and RUNNING; desired RUNNING and not
/// STOPPED; STOPPED.
async fn counts(store: &haneul_store::Store) -> anyhow::Result<(usize, usize, usize)> {
    let c = store
        .read(|t| {
            let (mut running, mut live, mut stopped) = (0, 0, 0);
            t.for_each_all_scopes::<Probe>(KIND_TASK, |_, _, task| {
                if task.last_status == "STOPPED" {
                    stopped += 1;
                }
                if task.desired_status == "RUNNING" && task.last_status != "STOPPED" {
                    live += 1;
                    if task.last_status == "RUNNING" {
                        running += 1;
                    }
                }
                Ok(())
            })?;
            Ok::<_, haneul_store::StoreError>((running, live, stopped))
        })
        .await?;
    Ok(c)
}

async fn wait_running(store: &haneul_store::Store, want: usize, timeout: Duration) -> anyhow::Result<Duration> {
    let start = Instant::now();
    loop {
        let (running, live, _) = counts(store).await?;
        if running == want && live == want {
            return Ok(start.elapsed());
        }
        if start.elapsed() > timeout {
            bail!("{running} of {want} tasks running ({live} live) after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = haneul::Config {
        api_addr: "127.0.0.1:0".parse()?,
        dns_addr: "127.0.0.1:0".parse()?,
        lb_cidr: "127.3.0.0/24".into(),
        task_cidr: "127.128.0.0/15".into(),
        ecs_remove_tasks_on_exit: true,
        ecs_runtime: haneul::config::EcsRuntime::Simulated,
        region: "us-east-1".into(),
        account_id: "000000000000".into(),
        data_dir: Some(dir.path().to_path_buf()),
        dev: true,
        geoip_db: None,
        latency_table: None,
        acm_validity_s: None,
        acme_directory: None,
        acme_email: None,
        acme_ca_file: None,
        dns_upstream: None,
        registry_host: None,
        registry_tls: None,
        vuln_db: None,
        ecr_lifecycle_interval_s: None,
        ecr_gc_interval_s: None,
        ecr_gc_grace_s: None,
        logs_retention_day_s: None,
        logs_retention_interval_s: None,
        runtime_files: Vec::new(),
    };
    let running = haneul::start(config).await?;
    let state = running.state.clone();
    let simulated = state.ecs_simulated.clone().context("the simulated runtime")?;
    let sdk = aws_sdk_ecs::Client::from_conf(
        aws_sdk_ecs::Config::builder()
            .behavior_version(aws_sdk_ecs::config::BehaviorVersion::latest())
            .region(aws_sdk_ecs::config::Region::new("us-east-1"))
            .endpoint_url(format!("http://{}", running.api_addr))
            .credentials_provider(aws_credential_types::Credentials::new("x", "x", None, None, "bench"))
            .build(),
    );
    sdk.create_cluster().cluster_name("bench").send().await?;
    sdk.register_task_definition()
        .family("web")
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name("web")
                .image("bench/web:v1")
                .port_mappings(PortMapping::builder().container_port(8080).build())
                .build(),
        )
        .send()
        .await?;
    sdk.register_task_definition()
        .family("web-ec2")
        .network_mode(NetworkMode::Bridge)
        .container_definitions(
            ContainerDefinition::builder()
                .name("web")
                .image("bench/web:v1")
                .memory(16)
                .build(),
        )
        .send()
        .await?;
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut engines = vec![simulated.clone()];
    let mut agent_tasks = Vec::new();
    let agents_started = Instant::now();
    for i in 0..args.agents {
        let engine = haneul_ecs::runtime::simulated::SimulatedRuntime::new();
        engines.push(engine.clone());
        let config = haneul_ecs::agent::AgentConfig {
            server: format!("http://{}", running.api_addr),
            cluster: "bench".into(),
            region: "us-east-1".into(),
            credentials: haneul_ecs::agent::client::Credentials {
                access_key_id: "x".into(),
                secret_access_key: "x".into(),
            },
            data_dir: dir.path().join(format!("agent-{i:03}")),
            host_address: "127.0.0.1".into(),
            cpu_units: 1 << 20,
            memory_mib: 1 << 20,
            availability_zone: Some(if i % 2 == 0 { "us-east-1a" } else { "us-east-1b" }.into()),
            attributes: Vec::new(),
            heartbeat_s: 10,
            poll_ms: args.agent_poll_ms,
        };
        let agent = haneul_ecs::agent::Agent::start(config, engine, cancel.child_token()).await?;
        agent_tasks.push(tokio::spawn(agent.run(cancel.clone())));
    }
    if args.agents > 0 {
        println!(
            "agents: {} registered in {:.2} s",
            args.agents,
            agents_started.elapsed().as_secs_f64()
        );
    }
    let described = default_subnets(&state.store).await?;
    let network = NetworkConfiguration::builder()
        .awsvpc_configuration(AwsVpcConfiguration::builder().set_subnets(Some(described)).build()?)
        .build();
    let total = args.services * args.tasks_per_service as usize;
    let t0 = Instant::now();
    for i in 0..args.services {
        let create = sdk
            .create_service()
            .cluster("bench")
            .service_name(format!("svc-{i:05}"))
            .desired_count(args.tasks_per_service);
        let create = if args.agents > 0 {
            create
                .task_definition("web-ec2")
                .launch_type(LaunchType::Ec2)
                .placement_strategy(
                    aws_sdk_ecs::types::PlacementStrategy::builder()
                        .r#type(aws_sdk_ecs::types::PlacementStrategyType::Spread)
                        .field("instanceId")
                        .build(),
                )
        } else {
            create
                .task_definition("web")
                .launch_type(LaunchType::Fargate)
                .network_configuration(network.clone())
        };
        create.send().await?;
    }
    let create_s = t0.elapsed().as_secs_f64();
    let timeout = Duration::from_secs(args.timeout_s);
    let up = wait_running(&state.store, total, timeout).await?;
    let all_up_s = t0.elapsed().as_secs_f64();
    println!(
        "services {} tasks {total}: created in {create_s:.2} s ({:.0} CreateService/s); all RUNNING {:.2} s after the first create ({:.2} s after the last)",
        args.services,
        args.services as f64 / create_s,
        all_up_s,
        up.as_secs_f64()
    );
    // Let every service reach its steady state before the throughput figure.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let passes = 5;
    let t1 = Instant::now();
    let mut written = 0;
    for _ in 0..passes {
        written += state.ecs_scheduler.pass().await?.written;
    }
    let pass_s = t1.elapsed().as_secs_f64() / f64::from(passes);
    println!(
        "reconcile: a full pass over {} steady services takes {:.1} ms ({:.0} services/s; {written} writes in {passes} passes)",
        args.services,
        pass_s * 1000.0,
        args.services as f64 / pass_s
    );
    if args.agents > 0 {
        // What placing one task reads: the cluster's instances and their usage.
        let calls = 200;
        let t = Instant::now();
        state
            .store
            .read(move |t| {
                let scope = haneul_store::Scope::new("000000000000", "us-east-1");
                for _ in 0..calls {
                    haneul_ecs::scheduler::placement::candidates(t, &scope, "bench", "service:svc-00000", false)
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                }
                Ok::<_, anyhow::Error>(())
            })
            .await?;
        println!(
            "placement: reading {} instances' candidates takes {:.2} ms",
            args.agents,
            t.elapsed().as_secs_f64() * 1000.0 / f64::from(calls)
        );
    }
    let victims: Vec<(usize, String)> = {
        let all: Vec<(usize, String)> = engines
            .iter()
            .enumerate()
            .flat_map(|(i, e)| e.running().into_iter().map(move |c| (i, c)))
            .collect();
        let n = ((all.len() as f64) * args.kill_fraction).round() as usize;
        // Spread over the engines: every n-th container.
        let step = (all.len() / n.max(1)).max(1);
        all.into_iter().step_by(step).take(n).collect()
    };
    let t2 = Instant::now();
    for (engine, v) in &victims {
        engines[*engine].kill(v, 137);
    }
    // Converged: every service whole again, with replacements for every killed task.
    let mut seen_drop = false;
    let mut replaced_s: Option<f64> = None;
    let stopped_before = counts(&state.store).await?.2;
    let mut next_line_s = 0.0;
    loop {
        let (run_now, live, stopped) = counts(&state.store).await?;
        if args.timeline && t2.elapsed().as_secs_f64() >= next_line_s {
            eprintln!(
                "t={:5.2}s stopped={:5} live={:5} running={:5}",
                t2.elapsed().as_secs_f64(),
                stopped - stopped_before,
                live,
                run_now
            );
            next_line_s += 0.5;
        }
        if run_now < total {
            seen_drop = true;
        }
        if seen_drop && live == total && replaced_s.is_none() {
            replaced_s = Some(t2.elapsed().as_secs_f64());
        }
        if seen_drop && run_now == total && live == total {
            break;
        }
        if !seen_drop && t2.elapsed() > Duration::from_secs(5) {
            seen_drop = true; // the drop may have been too quick to see
        }
        if t2.elapsed() > timeout {
            bail!(
                "not converged after killing {}: {run_now} running, {live} live",
                victims.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "converge: {} of {total} tasks killed at once, all services whole again in {:.2} s (goal < 5 s); every replacement placed after {:.2} s",
        victims.len(),
        t2.elapsed().as_secs_f64(),
        replaced_s.unwrap_or(0.0)
    );
    cancel.cancel();
    for a in agent_tasks {
        let _ = a.await;
    }
    running.shutdown().await;
    Ok(())
}

/// Two of the default VPC's subnets (made on first use, as EC2 does).
async fn default_subnets(store: &haneul_store::Store) -> anyhow::Result<Vec<String>> {
    let scope = haneul_store::Scope::new("000000000000", "us-east-1");
    let subnets = store
        .write(move |t| {
            haneul_ec2::defaults::ensure_in(t, &scope).map_err(|e| anyhow::anyhow!("{e}"))?;
            let list: Vec<(String, haneul_ec2::model::Subnet)> = t.list(&scope, haneul_ec2::model::KIND_SUBNET)?;
            Ok::<_, anyhow::Error>(list.into_iter().map(|(id, _)| id).take(2).collect::<Vec<_>>())
        })
        .await?;
    Ok(subnets)
}
