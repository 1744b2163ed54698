//! ECS services behind the ALB, through aws-sdk-ecs with images pushed to haneul's ECR: the
//! service gets stable and served, a killed container is replaced, a rolling deployment
//! keeps the minimum healthy percent (sampled through the load balancer), a bad revision is
//! rolled back by the circuit breaker, a restart adopts the service's tasks, and a forced
//! delete drains everything. They need the Docker engine and fail loudly without it.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{
    DeploymentCircuitBreaker, DeploymentConfiguration, DesiredStatus, LaunchType, LoadBalancer, Service,
};
use aws_sdk_ecs::Client;
use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetGroupAttribute, TargetTypeEnum};
use haneul_testkit::docker::{Docker, LocalImage};
use haneul_testkit::{Haneul, Options};

use crate::ecs_tasks::{awsvpc, code, push_script_image, register_fargate, web_container, TASK_ARN_LABEL, WEB_SCRIPT};
use crate::elbv2_proxy::{create_lb, create_listener, forward, get};

/// An ip target group checked on `/` every 5 s, 2 checks either way, 1 s deregistration delay.
async fn web_target_group(h: &Haneul, vpc: &str, name: &str) -> String {
    let tg = h
        .elbv2()
        .create_target_group()
        .name(name)
        .protocol(ProtocolEnum::Http)
        .port(8080)
        .vpc_id(vpc)
        .target_type(TargetTypeEnum::Ip)
        .health_check_path("/")
        .health_check_interval_seconds(5)
        .health_check_timeout_seconds(2)
        .healthy_threshold_count(2)
        .unhealthy_threshold_count(2)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    h.elbv2()
        .modify_target_group_attributes()
        .target_group_arn(&tg)
        .attributes(
            TargetGroupAttribute::builder()
                .key("deregistration_delay.timeout_seconds")
                .value("1")
                .build(),
        )
        .send()
        .await
        .unwrap();
    tg
}

async fn service(ecs: &Client, cluster: &str, name: &str) -> Service {
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(name)
        .send()
        .await
        .unwrap();
    out.services()
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("service {name} not described"))
}

fn events(s: &Service) -> Vec<String> {
    s.events()
        .iter()
        .filter_map(|e| e.message().map(str::to_string))
        .collect()
}

fn brief(s: &Service) -> String {
    let deps: Vec<String> = s
        .deployments()
        .iter()
        .map(|d| {
            format!(
                "{} {} {} {:?} running {} pending {} failed {}",
                d.id().unwrap_or(""),
                d.status().unwrap_or(""),
                d.task_definition().unwrap_or("").rsplit(':').next().unwrap_or(""),
                d.rollout_state(),
                d.running_count(),
                d.pending_count(),
                d.failed_tasks()
            )
        })
        .collect();
    format!(
        "running {}/{}; {}; events {:?}",
        s.running_count(),
        s.desired_count(),
        deps.join("; "),
        events(s).iter().take(6).collect::<Vec<_>>()
    )
}

/// As `aws ecs wait services-stable`: one deployment and runningCount == desiredCount.
async fn wait_stable(ecs: &Client, cluster: &str, name: &str, within: Duration) -> Service {
    let end = Instant::now() + within;
    loop {
        let s = service(ecs, cluster, name).await;
        if s.deployments().len() == 1 && s.running_count() == s.desired_count() {
            return s;
        }
        assert!(
            Instant::now() < end,
            "service {name} not stable within {within:?}: {}",
            brief(&s)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn wait_event(ecs: &Client, cluster: &str, name: &str, text: &str, within: Duration) -> Service {
    let end = Instant::now() + within;
    loop {
        let s = service(ecs, cluster, name).await;
        if events(&s).iter().any(|e| e.contains(text)) {
            return s;
        }
        assert!(
            Instant::now() < end,
            "no event {text:?} within {within:?}: {}",
            brief(&s)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn running_tasks(ecs: &Client, cluster: &str, name: &str) -> Vec<aws_sdk_ecs::types::Task> {
    let arns = ecs
        .list_tasks()
        .cluster(cluster)
        .service_name(name)
        .send()
        .await
        .unwrap();
    if arns.task_arns().is_empty() {
        return Vec::new();
    }
    let out = ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns.task_arns().to_vec()))
        .send()
        .await
        .unwrap();
    out.tasks().to_vec()
}

async fn healthy_targets(h: &Haneul, tg: &str) -> HashSet<String> {
    let out = h
        .elbv2()
        .describe_target_health()
        .target_group_arn(tg)
        .send()
        .await
        .unwrap();
    out.target_health_descriptions()
        .iter()
        .filter(|d| d.target_health().and_then(|t| t.state()).map(|s| s.as_str()) == Some("healthy"))
        .map(|d| {
            let t = d.target().unwrap();
            format!("{}:{}", t.id().unwrap(), t.port().unwrap_or(0))
        })
        .collect()
}

/// `v2 on <host>` pages: a second revision that is told apart by what it serves.
const WEB_V2_SCRIPT: &str = r#"h=$(/bin/busybox hostname)
/bin/busybox mkdir -p /www
echo "<p>v2 on $h</p>" > /www/index.html
echo "web-start host=$h"
exec /bin/busybox httpd -f -p 8080 -h /www
"#;

struct Stack {
    tg: String,
    url: String,
    v1: String,
    v2: String,
}

/// Images go to `images`, which the test declares before its haneul: haneul stops (and
/// removes its task containers) first, so the images are not in use when they are removed.
async fn stack<'d>(
    docker: &'d Docker,
    images: &mut Vec<LocalImage<'d>>,
    h: &Haneul,
    ecs: &Client,
    cluster: &str,
) -> Stack {
    let (v1, i1) = push_script_image(docker, h, "svc/web", "v1", WEB_SCRIPT);
    let (v2, i2) = push_script_image(docker, h, "svc/web", "v2", WEB_V2_SCRIPT);
    let lb = create_lb(h, "svc-lb").await;
    let tg = web_target_group(h, &lb.vpc, "svc-tg").await;
    let (_, addr) = create_listener(h, &lb, forward(&tg)).await;
    ecs.create_cluster().cluster_name(cluster).send().await.unwrap();
    images.extend([i1, i2]);
    Stack {
        tg,
        url: format!("http://{addr}/"),
        v1,
        v2,
    }
}

fn rollout_config(rollback: bool) -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .maximum_percent(200)
        .minimum_healthy_percent(100)
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(rollback)
                .build(),
        )
        .build()
}

#[tokio::test]
#[ignore = "needs the Docker engine: runs in CI with --include-ignored"]
async fn a_service_behind_the_alb_is_served_replaced_rolled_out_and_deleted() {
    let docker = Docker::require();
    let mut images = Vec::new();
    let h = Haneul::start();
    let ecs = h.ecs();
    let st = stack(&docker, &mut images, &h, &ecs, "demo").await;
    register_fargate(&ecs, "web", web_container("web", &st.v1, "/ecs/svc")).await;
    register_fargate(&ecs, "web", web_container("web", &st.v2, "/ecs/svc")).await;

    // ECS's errors for a bad service, before anything is stored.
    let lb = |port: i32| {
        LoadBalancer::builder()
            .target_group_arn(&st.tg)
            .container_name("web")
            .container_port(port)
            .build()
    };
    let e = ecs
        .create_service()
        .cluster("demo")
        .service_name("web")
        .task_definition("web:1")
        .desired_count(2)
        .launch_type(LaunchType::Fargate)
        .network_configuration(awsvpc(&h))
        .load_balancers(lb(9999))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        (
            "InvalidParameterException".into(),
            "The container web did not have a container port 9999 defined.".into()
        )
    );
    let e = ecs
        .update_service()
        .cluster("demo")
        .service("nope")
        .desired_count(1)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, "ServiceNotFoundException");

    let created = ecs
        .create_service()
        .cluster("demo")
        .service_name("web")
        .task_definition("web:1")
        .desired_count(2)
        .launch_type(LaunchType::Fargate)
        .network_configuration(awsvpc(&h))
        .load_balancers(lb(8080))
        .health_check_grace_period_seconds(10)
        .deployment_configuration(rollout_config(true))
        .send()
        .await
        .unwrap();
    let first = created.service().unwrap().deployments()[0].id().unwrap().to_string();
    let e = ecs
        .create_service()
        .cluster("demo")
        .service_name("web")
        .task_definition("web:1")
        .desired_count(2)
        .launch_type(LaunchType::Fargate)
        .network_configuration(awsvpc(&h))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        (
            "InvalidParameterException".into(),
            "Creation of service was not idempotent.".into()
        )
    );

    wait_stable(&ecs, "demo", "web", Duration::from_secs(120)).await;
    let s = wait_event(
        &ecs,
        "demo",
        "web",
        "(service web) has reached a steady state.",
        Duration::from_secs(60),
    )
    .await;
    let ev = events(&s);
    assert!(
        ev.iter()
            .any(|e| e.starts_with("(service web) has started 2 tasks: (task ")),
        "{ev:?}"
    );
    // One event per pass that registered some: both tasks in one, or one each.
    let registered: usize = ev
        .iter()
        .filter_map(|e| {
            e.strip_prefix("(service web) registered ")?
                .strip_suffix(&format!(" targets in (target-group {})", st.tg))?
                .parse::<usize>()
                .ok()
        })
        .sum();
    assert_eq!(registered, 2, "{ev:?}");
    assert!(
        ev.iter()
            .any(|e| e == &format!("(service web) (deployment {first}) deployment completed.")),
        "{ev:?}"
    );
    assert_eq!(
        s.deployments()[0].rollout_state().map(|r| r.as_str()),
        Some("COMPLETED")
    );
    let tasks = running_tasks(&ecs, "demo", "web").await;
    assert_eq!(tasks.len(), 2);
    let zones: HashSet<&str> = tasks.iter().filter_map(|t| t.availability_zone()).collect();
    assert_eq!(zones.len(), 2, "spread over the subnets' zones");
    let want: HashSet<String> = tasks
        .iter()
        .map(|t| format!("{}:8080", crate::ecs_tasks::private_ip(t)))
        .collect();
    assert_eq!(healthy_targets(&h, &st.tg).await, want);
    let c = crate::elbv2_proxy::client();
    let mut hosts = HashSet::new();
    for _ in 0..20 {
        let r = get(&c, "GET", &st.url, &[]).await.unwrap();
        assert_eq!(r.status, 200);
        hosts.insert(r.body.trim().to_string());
    }
    assert_eq!(hosts.len(), 2, "{hosts:?}");

    // A killed container: the task stops, the service replaces it, the ALB routes around it.
    let victim = tasks[0].task_arn().unwrap().to_string();
    let ids = docker.containers_labelled(TASK_ARN_LABEL, &victim);
    docker.ok(&["kill", &ids[0]]);
    let end = Instant::now() + Duration::from_secs(90);
    loop {
        let now = running_tasks(&ecs, "demo", "web").await;
        let fresh: Vec<&str> = now
            .iter()
            .filter_map(|t| t.task_arn())
            .filter(|a| !tasks.iter().any(|t| t.task_arn() == Some(*a)))
            .collect();
        let s = service(&ecs, "demo", "web").await;
        let targets: HashSet<String> = now
            .iter()
            .map(|t| format!("{}:8080", crate::ecs_tasks::private_ip(t)))
            .collect();
        if now.len() == 2
            && fresh.len() == 1
            && now.iter().all(|t| t.last_status() == Some("RUNNING"))
            && s.running_count() == 2
            && healthy_targets(&h, &st.tg).await == targets
        {
            let id = fresh[0].rsplit('/').next().unwrap();
            assert!(
                events(&s)
                    .iter()
                    .any(|e| e == &format!("(service web) has started 1 tasks: (task {id}).")),
                "{}",
                brief(&s)
            );
            break;
        }
        assert!(Instant::now() < end, "not replaced: {}", brief(&s));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stopped = crate::ecs_tasks::describe(&ecs, "demo", &victim).await;
    assert_eq!(
        stopped.stop_code().map(|c| c.as_str()),
        Some("EssentialContainerExited")
    );

    // A rolling deployment to revision 2: every request through the ALB is answered and at
    // least 2 targets (min healthy 100 % of 2) stay healthy throughout.
    let updated = ecs
        .update_service()
        .cluster("demo")
        .service("web")
        .task_definition("web:2")
        .send()
        .await
        .unwrap();
    let second = updated.service().unwrap().deployments()[0].id().unwrap().to_string();
    assert_eq!(updated.service().unwrap().deployments().len(), 2);
    let end = Instant::now() + Duration::from_secs(120);
    let mut least_healthy = usize::MAX;
    let mut bodies = HashSet::new();
    loop {
        let r = get(&c, "GET", &st.url, &[]).await.unwrap();
        assert_eq!(r.status, 200, "a request failed during the rollout: {}", r.body);
        bodies.insert(r.body.split(" on ").next().unwrap_or("").to_string());
        least_healthy = least_healthy.min(healthy_targets(&h, &st.tg).await.len());
        let s = service(&ecs, "demo", "web").await;
        if s.deployments().len() == 1
            && s.deployments()[0].rollout_state().map(|r| r.as_str()) == Some("COMPLETED")
            && s.running_count() == 2
        {
            assert_eq!(s.deployments()[0].id(), Some(second.as_str()));
            break;
        }
        assert!(Instant::now() < end, "rollout not done: {}", brief(&s));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        least_healthy >= 2,
        "healthy targets fell to {least_healthy} during the rollout"
    );
    assert!(bodies.contains("<p>v2") && bodies.contains("<p>web"), "{bodies:?}");
    let revs: HashSet<String> = running_tasks(&ecs, "demo", "web")
        .await
        .iter()
        .map(|t| t.task_definition_arn().unwrap().to_string())
        .collect();
    assert_eq!(revs.len(), 1);
    assert!(revs.iter().next().unwrap().ends_with("/web:2"), "{revs:?}");

    // Delete: refused while scaled up, forced drains; the cluster goes once the tasks are gone.
    let e = ecs
        .delete_service()
        .cluster("demo")
        .service("web")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        (
            "InvalidParameterException".into(),
            "The service cannot be stopped while it is scaled above 0.".into()
        )
    );
    let e = ecs.delete_cluster().cluster("demo").send().await.unwrap_err();
    assert_eq!(code(&e).0, "ClusterContainsServicesException");
    let deleted = ecs
        .delete_service()
        .cluster("demo")
        .service("web")
        .force(true)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.service().unwrap().status(), Some("DRAINING"));
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        match ecs.delete_cluster().cluster("demo").send().await {
            Ok(_) => break,
            Err(e) => assert!(Instant::now() < end, "delete-cluster still refused: {:?}", code(&e)),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let s = service(&ecs, "demo", "web").await;
    assert_eq!(s.status(), Some("INACTIVE"));
    assert!(healthy_targets(&h, &st.tg).await.is_empty());
}

#[tokio::test]
#[ignore = "needs the Docker engine: runs in CI with --include-ignored"]
async fn the_circuit_breaker_rolls_a_bad_revision_back() {
    let docker = Docker::require();
    let mut images = Vec::new();
    let h = Haneul::start();
    let ecs = h.ecs();
    let (v1, image) = push_script_image(&docker, &h, "cb/web", "v1", WEB_SCRIPT);
    images.push(image);
    ecs.create_cluster().cluster_name("demo").send().await.unwrap();
    register_fargate(&ecs, "web", web_container("web", &v1, "/ecs/cb")).await;
    let bad = aws_sdk_ecs::types::ContainerDefinition::builder()
        .name("web")
        .image(&v1)
        .essential(true)
        .command("/bin/busybox")
        .command("false")
        .build();
    register_fargate(&ecs, "web", bad).await;
    ecs.create_service()
        .cluster("demo")
        .service_name("web")
        .task_definition("web:1")
        .desired_count(2)
        .launch_type(LaunchType::Fargate)
        .network_configuration(awsvpc(&h))
        .deployment_configuration(rollout_config(true))
        .send()
        .await
        .unwrap();
    wait_stable(&ecs, "demo", "web", Duration::from_secs(60)).await;
    // The rollback goes to the last deployment that completed.
    wait_event(&ecs, "demo", "web", "deployment completed.", Duration::from_secs(30)).await;
    let updated = ecs
        .update_service()
        .cluster("demo")
        .service("web")
        .task_definition("web:2")
        .send()
        .await
        .unwrap();
    let bad_id = updated.service().unwrap().deployments()[0].id().unwrap().to_string();
    let end = Instant::now() + Duration::from_secs(120);
    let mut saw_failed = false;
    loop {
        let s = service(&ecs, "demo", "web").await;
        // Min healthy 100 %: the revision-1 tasks keep running while revision 2 fails.
        assert!(s.running_count() >= 2, "{}", brief(&s));
        if let Some(d) = s.deployments().iter().find(|d| d.id() == Some(bad_id.as_str())) {
            if d.rollout_state().map(|r| r.as_str()) == Some("FAILED") {
                saw_failed = true;
                assert!(d.failed_tasks() >= 3, "{}", brief(&s));
                assert_eq!(
                    d.rollout_state_reason(),
                    Some("ECS deployment circuit breaker: tasks failed to start.")
                );
            }
        }
        let primary = &s.deployments()[0];
        if saw_failed && s.deployments().len() == 1 && primary.rollout_state().map(|r| r.as_str()) == Some("COMPLETED")
        {
            assert!(primary.task_definition().unwrap().ends_with("/web:1"), "{}", brief(&s));
            assert!(
                events(&s)
                    .iter()
                    .any(|e| e
                        == &format!("(service web) (deployment {bad_id}) deployment failed: tasks failed to start.")),
                "{}",
                brief(&s)
            );
            break;
        }
        assert!(Instant::now() < end, "no rollback: {}", brief(&s));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let revisions = s_task_revisions(&ecs).await;
    assert!(
        revisions.len() == 2 && revisions.iter().all(|r| r.ends_with("/web:1")),
        "{revisions:?}"
    );
    // The same story in ECS's service deployments: the bad one rolled back, the first one done.
    let sd = ecs
        .list_service_deployments()
        .cluster("demo")
        .service("web")
        .send()
        .await
        .unwrap();
    let statuses: Vec<&str> = sd
        .service_deployments()
        .iter()
        .filter_map(|d| d.status())
        .map(|s| s.as_str())
        .collect();
    assert_eq!(statuses, ["ROLLBACK_SUCCESSFUL", "SUCCESSFUL"]);
    let arn = sd.service_deployments()[0].service_deployment_arn().unwrap();
    let described = ecs
        .describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .await
        .unwrap();
    let bad = &described.service_deployments()[0];
    assert!(bad.rollback().is_some(), "{bad:?}");
    let revision = bad.target_service_revision().unwrap().arn().unwrap();
    let revisions = ecs
        .describe_service_revisions()
        .service_revision_arns(revision)
        .send()
        .await
        .unwrap();
    assert!(revisions.service_revisions()[0]
        .task_definition()
        .unwrap()
        .ends_with("/web:2"));
    let failed = ecs
        .list_tasks()
        .cluster("demo")
        .service_name("web")
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    assert!(failed.task_arns().len() >= 3);
}

async fn s_task_revisions(ecs: &Client) -> Vec<String> {
    running_tasks(ecs, "demo", "web")
        .await
        .iter()
        .map(|t| t.task_definition_arn().unwrap().to_string())
        .collect()
}

#[tokio::test]
#[ignore = "needs the Docker engine: runs in CI with --include-ignored"]
async fn a_restarted_haneul_adopts_a_services_tasks() {
    let docker = Docker::require();
    let dir = tempfile::tempdir().unwrap();
    let options = |keep: bool| Options {
        data_dir: Some(dir.path().to_path_buf()),
        keep_tasks_on_exit: keep,
        ..Options::default()
    };
    let mut images = Vec::new();
    let h = Haneul::start_with(options(true));
    let ecs = h.ecs();
    let (v1, image) = push_script_image(&docker, &h, "restart/web", "v1", WEB_SCRIPT);
    images.push(image);
    ecs.create_cluster().cluster_name("demo").send().await.unwrap();
    register_fargate(&ecs, "web", web_container("web", &v1, "/ecs/restart")).await;
    ecs.create_service()
        .cluster("demo")
        .service_name("web")
        .task_definition("web")
        .desired_count(2)
        .launch_type(LaunchType::Fargate)
        .network_configuration(awsvpc(&h))
        .send()
        .await
        .unwrap();
    wait_stable(&ecs, "demo", "web", Duration::from_secs(60)).await;
    let before: HashSet<String> = running_tasks(&ecs, "demo", "web")
        .await
        .iter()
        .map(|t| t.task_arn().unwrap().to_string())
        .collect();
    drop(ecs);
    drop(h);
    let h = Haneul::start_with(options(false));
    let ecs = h.ecs();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = wait_stable(&ecs, "demo", "web", Duration::from_secs(30)).await;
    let after: HashSet<String> = running_tasks(&ecs, "demo", "web")
        .await
        .iter()
        .map(|t| t.task_arn().unwrap().to_string())
        .collect();
    assert_eq!(after, before, "the same tasks, adopted: {}", brief(&s));
    for arn in &after {
        assert_eq!(
            docker.containers_labelled(TASK_ARN_LABEL, arn).len(),
            1,
            "one container for {arn}"
        );
    }
    let _ = ecs
        .delete_service()
        .cluster("demo")
        .service("web")
        .force(true)
        .send()
        .await;
}

async fn task_set(ecs: &Client, id: &str) -> Option<aws_sdk_ecs::types::TaskSet> {
    let out = ecs
        .describe_task_sets()
        .cluster("demo")
        .service("ext")
        .task_sets(id)
        .send()
        .await
        .unwrap();
    out.task_sets().first().cloned()
}

async fn wait_task_set(ecs: &Client, id: &str, running: i32, within: Duration) -> aws_sdk_ecs::types::TaskSet {
    let end = Instant::now() + within;
    loop {
        let ts = task_set(ecs, id).await.expect("the task set");
        if ts.running_count() == running
            && ts.computed_desired_count() == running
            && ts.stability_status().map(|s| s.as_str()) == Some("STEADY_STATE")
        {
            return ts;
        }
        assert!(
            Instant::now() < end,
            "task set {id}: not {running} running within {within:?}: {ts:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What the ALB serves over `tries` requests (bodies trimmed).
async fn served(url: &str, tries: usize) -> HashSet<String> {
    let c = crate::elbv2_proxy::client();
    let mut seen = HashSet::new();
    for _ in 0..tries {
        if let Ok(r) = get(&c, "GET", url, &[]).await {
            if r.status == 200 {
                seen.insert(r.body.trim().split(" on ").next().unwrap_or_default().to_string());
            }
        }
    }
    seen
}

#[tokio::test]
#[ignore = "needs the Docker engine: runs in CI with --include-ignored"]
async fn task_sets_of_an_external_service_run_scale_and_drain() {
    let docker = Docker::require();
    let mut images = Vec::new();
    let h = Haneul::start();
    let ecs = h.ecs();
    let st = stack(&docker, &mut images, &h, &ecs, "demo").await;
    register_fargate(&ecs, "web", web_container("web", &st.v1, "/ecs/ext")).await;
    register_fargate(&ecs, "web", web_container("web", &st.v2, "/ecs/ext")).await;
    let external = aws_sdk_ecs::types::DeploymentController::builder()
        .r#type(aws_sdk_ecs::types::DeploymentControllerType::External)
        .build()
        .unwrap();
    let created = ecs
        .create_service()
        .cluster("demo")
        .service_name("ext")
        .desired_count(2)
        .deployment_controller(external)
        .send()
        .await
        .unwrap();
    let s = created.service().unwrap();
    assert_eq!(s.deployment_controller().unwrap().r#type().as_str(), "EXTERNAL");
    assert!(s.deployments().is_empty());
    let e = ecs
        .update_service()
        .cluster("demo")
        .service("ext")
        .task_definition("web:2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, "InvalidParameterException");
    let lb = LoadBalancer::builder()
        .target_group_arn(&st.tg)
        .container_name("web")
        .container_port(8080)
        .build();
    let set = |definition: &str, percent: f64| {
        ecs.create_task_set()
            .cluster("demo")
            .service("ext")
            .task_definition(definition)
            .launch_type(LaunchType::Fargate)
            .network_configuration(awsvpc(&h))
            .load_balancers(lb.clone())
            .scale(
                aws_sdk_ecs::types::Scale::builder()
                    .unit(aws_sdk_ecs::types::ScaleUnit::Percent)
                    .value(percent)
                    .build(),
            )
    };

    // Blue: the whole desired count, served.
    let blue = set("web:1", 100.0).external_id("blue").send().await.unwrap();
    let blue = blue.task_set().unwrap().id().unwrap().to_string();
    assert!(blue.starts_with("ecs-svc/"), "{blue}");
    wait_task_set(&ecs, &blue, 2, Duration::from_secs(90)).await;
    let end = Instant::now() + Duration::from_secs(60);
    while served(&st.url, 6).await != HashSet::from(["<p>web".to_string()]) {
        assert!(Instant::now() < end, "blue is not served");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let primary = ecs
        .update_service_primary_task_set()
        .cluster("demo")
        .service("ext")
        .primary_task_set(&blue)
        .send()
        .await
        .unwrap();
    assert_eq!(primary.task_set().unwrap().status(), Some("PRIMARY"));
    let e = ecs
        .delete_task_set()
        .cluster("demo")
        .service("ext")
        .task_set(&blue)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, "InvalidParameterException");

    // Green beside it at half the desired count: both are served.
    let green = set("web:2", 50.0).send().await.unwrap();
    let green = green.task_set().unwrap().id().unwrap().to_string();
    wait_task_set(&ecs, &green, 1, Duration::from_secs(90)).await;
    let end = Instant::now() + Duration::from_secs(60);
    while served(&st.url, 12).await.len() < 2 {
        assert!(Instant::now() < end, "blue and green are not both served");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Green takes over; blue drains and goes.
    ecs.update_service_primary_task_set()
        .cluster("demo")
        .service("ext")
        .primary_task_set(&green)
        .send()
        .await
        .unwrap();
    ecs.update_task_set()
        .cluster("demo")
        .service("ext")
        .task_set(&green)
        .scale(
            aws_sdk_ecs::types::Scale::builder()
                .unit(aws_sdk_ecs::types::ScaleUnit::Percent)
                .value(100.0)
                .build(),
        )
        .send()
        .await
        .unwrap();
    wait_task_set(&ecs, &green, 2, Duration::from_secs(90)).await;
    let draining = ecs
        .delete_task_set()
        .cluster("demo")
        .service("ext")
        .task_set(&blue)
        .send()
        .await
        .unwrap();
    assert_eq!(draining.task_set().unwrap().status(), Some("DRAINING"));
    let end = Instant::now() + Duration::from_secs(60);
    while task_set(&ecs, &blue).await.is_some() {
        assert!(Instant::now() < end, "blue did not drain away");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(served(&st.url, 8).await, HashSet::from(["<p>v2".to_string()]));
    let s = service(&ecs, "demo", "ext").await;
    assert_eq!((s.running_count(), s.task_sets().len()), (2, 1));
    let missing = ecs
        .describe_task_sets()
        .cluster("demo")
        .service("ext")
        .task_sets(&blue)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.failures()[0].reason(), Some("MISSING"));
    let e = ecs
        .update_task_set()
        .cluster("demo")
        .service("ext")
        .task_set(&blue)
        .scale(aws_sdk_ecs::types::Scale::builder().value(10.0).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, "TaskSetNotFoundException");
    let _ = ecs
        .delete_service()
        .cluster("demo")
        .service("ext")
        .force(true)
        .send()
        .await;
}

#[tokio::test]
#[ignore = "needs the Docker engine: runs in CI with --include-ignored"]
async fn an_express_gateway_service_is_made_served_updated_and_deleted() {
    let docker = Docker::require();
    let mut images = Vec::new();
    let h = Haneul::start();
    let ecs = h.ecs();
    let (v1, i1) = push_script_image(&docker, &h, "express/web", "v1", WEB_SCRIPT);
    let (v2, i2) = push_script_image(&docker, &h, "express/web", "v2", WEB_V2_SCRIPT);
    images.extend([i1, i2]);
    let container = |image: &str| {
        aws_sdk_ecs::types::ExpressGatewayContainer::builder()
            .image(image)
            .container_port(8080)
            .build()
            .unwrap()
    };
    let e = ecs
        .create_express_gateway_service()
        .execution_role_arn("not-a-role")
        .infrastructure_role_arn("arn:aws:iam::000000000000:role/ecsInfrastructureRoleForExpressServices")
        .primary_container(container(&v1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, "InvalidParameterException");
    let made = ecs
        .create_express_gateway_service()
        .service_name("hello")
        .execution_role_arn("arn:aws:iam::000000000000:role/ecsTaskExecutionRole")
        .infrastructure_role_arn("arn:aws:iam::000000000000:role/ecsInfrastructureRoleForExpressServices")
        .primary_container(container(&v1))
        .health_check_path("/")
        .scaling_target(
            aws_sdk_ecs::types::ExpressGatewayScalingTarget::builder()
                .min_task_count(2)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let svc = made.service().unwrap();
    let arn = svc.service_arn().unwrap().to_string();
    assert!(arn.ends_with(":service/default/hello"), "{arn}");
    let endpoint = svc.active_configurations()[0].ingress_paths()[0].endpoint().to_string();
    let host = endpoint.strip_prefix("http://").unwrap().to_string();
    assert!(host.ends_with(".elb.amazonaws.com"), "{endpoint}");
    // The service it made, in the default cluster it made.
    wait_stable(&ecs, "default", "hello", Duration::from_secs(90)).await;
    let s = service(&ecs, "default", "hello").await;
    assert_eq!(s.desired_count(), 2);
    assert_eq!(s.load_balancers().len(), 1);
    let ip = crate::elbv2_proxy::dns_a(&h, &host).await;
    let url = format!("http://{ip}:80/");
    let end = Instant::now() + Duration::from_secs(60);
    while served(&url, 4).await != HashSet::from(["<p>web".to_string()]) {
        assert!(Instant::now() < end, "{endpoint} does not serve v1");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // A new image rolls out behind the same endpoint.
    let updated = ecs
        .update_express_gateway_service()
        .service_arn(&arn)
        .primary_container(container(&v2))
        .send()
        .await
        .unwrap();
    assert_eq!(
        updated
            .service()
            .unwrap()
            .target_configuration()
            .unwrap()
            .primary_container()
            .unwrap()
            .image(),
        v2.as_str()
    );
    let end = Instant::now() + Duration::from_secs(120);
    while served(&url, 6).await != HashSet::from(["<p>v2".to_string()]) {
        assert!(Instant::now() < end, "{endpoint} does not serve v2 only");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let described = ecs
        .describe_express_gateway_service()
        .service_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described
            .service()
            .unwrap()
            .status()
            .unwrap()
            .status_code()
            .map(|c| c.as_str()),
        Some("ACTIVE")
    );
    // Deleted: the service drains and the load balancer goes.
    let deleted = ecs
        .delete_express_gateway_service()
        .service_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        deleted
            .service()
            .unwrap()
            .status()
            .unwrap()
            .status_code()
            .map(|c| c.as_str()),
        Some("INACTIVE")
    );
    let lbs = h.aws_ok(&["elbv2", "describe-load-balancers"]);
    assert!(
        !lbs["LoadBalancers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["DNSName"] == host.as_str()),
        "{lbs}"
    );
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let s = service(&ecs, "default", "hello").await;
        if s.status() == Some("INACTIVE") {
            break;
        }
        assert!(
            Instant::now() < end,
            "the express service's ECS service did not go: {}",
            brief(&s)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
