//! ECS tasks that really run: aws-sdk-ecs against images the test builds and pushes into
//! haneul's ECR (the engine can pull nothing else), the docker CLI to look at and kill
//! containers. They need the Docker engine and fail loudly without it.

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{
    AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType, LogConfiguration, LogDriver,
    NetworkConfiguration, NetworkMode, PortMapping, Task,
};
use aws_sdk_ecs::Client;
use haneul_testkit::docker::{unique_name, Docker, LocalImage};
use haneul_testkit::{Haneul, Options};

pub const TASK_ARN_LABEL: &str = "com.amazonaws.ecs.task-arn";

/// busybox httpd on 8080 serving the container's hostname; prints a start line first.
pub const WEB_SCRIPT: &str = r#"h=$(/bin/busybox hostname)
/bin/busybox mkdir -p /www
echo "<p>web on $h</p>" > /www/index.html
echo "web-start host=$h"
exec /bin/busybox httpd -f -p 8080 -h /www
"#;

pub fn code<E, R>(e: &aws_sdk_ecs::error::SdkError<E, R>) -> (String, String)
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata,
{
    let s = e.as_service_error();
    (
        s.and_then(|s| s.code()).unwrap_or("<not a service error>").to_string(),
        s.and_then(|s| s.message()).unwrap_or("").to_string(),
    )
}

/// Builds an image running `script`, pushes it to haneul's ECR as `repo:tag`, and removes
/// the local copies, so ECS must pull it from haneul. Returns the image URI.
pub fn push_script_image<'d>(
    docker: &'d Docker,
    h: &Haneul,
    repo: &str,
    tag: &str,
    script: &str,
) -> (String, LocalImage<'d>) {
    let registry = h.api_addr.to_string();
    let _ = h.aws(&["ecr", "create-repository", "--repository-name", repo]);
    let password = h.aws(&["ecr", "get-login-password"]).stdout.trim().to_string();
    let out = docker.login(&registry, &password);
    assert!(
        out.status.success(),
        "docker login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut image = docker.script_image(&unique_name("ecs"), script);
    let uri = format!("{registry}/{repo}:{tag}");
    image.tag(&uri);
    docker.ok(&["push", &uri]);
    docker.ok(&["rmi", &uri]);
    image.names.retain(|n| *n != uri);
    // A pulled copy is removed with the image too.
    image.also_remove(&uri);
    (uri, image)
}

pub fn web_container(name: &str, image: &str, log_group: &str) -> ContainerDefinition {
    ContainerDefinition::builder()
        .name(name)
        .image(image)
        .essential(true)
        .stop_timeout(2)
        .port_mappings(PortMapping::builder().container_port(8080).build())
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", log_group)
                .options("awslogs-region", "us-east-1")
                .options("awslogs-stream-prefix", "web")
                .options("awslogs-create-group", "true")
                .build()
                .unwrap(),
        )
        .build()
}

pub async fn register_fargate(ecs: &Client, family: &str, container: ContainerDefinition) -> String {
    ecs.register_task_definition()
        .family(family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(container)
        .send()
        .await
        .unwrap()
        .task_definition
        .unwrap()
        .task_definition_arn
        .unwrap()
}

pub fn awsvpc(h: &Haneul) -> NetworkConfiguration {
    let subnets = h.aws_ok(&["ec2", "describe-subnets", "--query", "Subnets[0:2].SubnetId"]);
    let subnets: Vec<String> = subnets
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .set_subnets(Some(subnets))
                .build()
                .unwrap(),
        )
        .build()
}

/// RunTask of `definition` on FARGATE in the default VPC's subnets; the tasks' ARNs.
pub async fn run_fargate(ecs: &Client, h: &Haneul, cluster: &str, definition: &str, count: i32) -> Vec<String> {
    let ran = ecs
        .run_task()
        .cluster(cluster)
        .task_definition(definition)
        .count(count)
        .launch_type(LaunchType::Fargate)
        .network_configuration(awsvpc(h))
        .send()
        .await
        .unwrap();
    ran.tasks().iter().map(|t| t.task_arn().unwrap().to_string()).collect()
}

pub async fn describe(ecs: &Client, cluster: &str, arn: &str) -> Task {
    let out = ecs.describe_tasks().cluster(cluster).tasks(arn).send().await.unwrap();
    out.tasks
        .unwrap_or_default()
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("task {arn} not described"))
}

/// Polls until the task's lastStatus is `status` (bounded).
pub async fn wait_status(ecs: &Client, cluster: &str, arn: &str, status: &str, within: Duration) -> Task {
    let end = Instant::now() + within;
    loop {
        let t = describe(ecs, cluster, arn).await;
        if t.last_status() == Some(status) {
            return t;
        }
        assert!(
            Instant::now() < end,
            "task {arn} not {status} within {within:?}: {t:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn private_ip(t: &Task) -> String {
    t.attachments()[0]
        .details()
        .iter()
        .find(|d| d.name() == Some("privateIPv4Address"))
        .and_then(|d| d.value())
        .unwrap()
        .to_string()
}

pub fn http_get(addr: &str) -> String {
    let out = std::process::Command::new("curl")
        .args(["-s", "-m", "3", &format!("http://{addr}/")])
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test]
#[ignore = "needs the Docker engine: runs in CI with --include-ignored"]
async fn run_task_pulls_from_ecr_serves_logs_and_stops() {
    let docker = Docker::require();
    let mut images = Vec::new();
    let h = Haneul::start();
    let ecs = h.ecs();
    let (uri, image) = push_script_image(&docker, &h, "tasks/web", "v1", WEB_SCRIPT);
    images.push(image);
    ecs.create_cluster().cluster_name("demo").send().await.unwrap();
    let group = "/ecs/tasks-web";
    let family = register_fargate(&ecs, "web", web_container("web", &uri, group)).await;
    assert!(family.ends_with(":task-definition/web:1"), "{family}");

    // Bad requests get ECS's errors and start nothing.
    let e = ecs
        .run_task()
        .cluster("demo")
        .task_definition("nope")
        .launch_type(LaunchType::Fargate)
        .network_configuration(awsvpc(&h))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        ("InvalidParameterException".into(), "TaskDefinition not found.".into())
    );
    let e = ecs
        .run_task()
        .cluster("missing")
        .task_definition("web")
        .launch_type(LaunchType::Fargate)
        .network_configuration(awsvpc(&h))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, "ClusterNotFoundException");
    let e = ecs
        .run_task()
        .cluster("demo")
        .task_definition("web")
        .launch_type(LaunchType::Fargate)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        (
            "InvalidParameterException".into(),
            "Network Configuration must be provided when networkMode 'awsvpc' is specified.".into()
        )
    );
    let listed = ecs.list_tasks().cluster("demo").send().await.unwrap();
    assert!(listed.task_arns().is_empty());

    let ran = ecs
        .run_task()
        .cluster("demo")
        .task_definition("web")
        .count(2)
        .launch_type(LaunchType::Fargate)
        .network_configuration(awsvpc(&h))
        .started_by("test")
        .send()
        .await
        .unwrap();
    let arns: Vec<String> = ran.tasks().iter().map(|t| t.task_arn().unwrap().to_string()).collect();
    assert_eq!(arns.len(), 2);
    assert_eq!(ran.tasks()[0].last_status(), Some("PROVISIONING"));
    assert_eq!(ran.tasks()[0].desired_status(), Some("RUNNING"));
    let mut tasks = Vec::new();
    for arn in &arns {
        tasks.push(wait_status(&ecs, "demo", arn, "RUNNING", Duration::from_secs(60)).await);
    }
    let ips: Vec<String> = tasks.iter().map(private_ip).collect();
    assert_ne!(ips[0], ips[1]);
    let mut hosts = Vec::new();
    for (t, ip) in tasks.iter().zip(&ips) {
        assert!(ip.starts_with("127."), "{ip}");
        let c = &t.containers()[0];
        assert_eq!(c.network_interfaces()[0].private_ipv4_address(), Some(ip.as_str()));
        assert_eq!(c.network_bindings()[0].bind_ip(), Some(ip.as_str()));
        assert!(c.image_digest().is_some_and(|d| d.starts_with("sha256:")), "{c:?}");
        assert!(t.pull_started_at().is_some() && t.started_at().is_some());
        assert_eq!(t.started_by(), Some("test"));
        assert_eq!(t.group(), Some("family:web"));
        let page = http_get(&format!("{ip}:8080"));
        let host = page
            .trim()
            .strip_prefix("<p>web on ")
            .and_then(|p| p.strip_suffix("</p>"))
            .unwrap_or_else(|| panic!("{ip}:8080 answered {page:?}"));
        hosts.push(host.to_string());
        // The agent's labels, with the task's ARN.
        let ids = docker.containers_labelled(TASK_ARN_LABEL, t.task_arn().unwrap());
        assert_eq!(ids.len(), 1, "one container labelled with {}", t.task_arn().unwrap());
    }
    assert_ne!(hosts[0], hosts[1]);
    let listed = ecs
        .list_tasks()
        .cluster("demo")
        .started_by("test")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.task_arns().len(), 2);

    // The containers' output, in stream web/web/<task id>.
    let logs = h.logs();
    let end = Instant::now() + Duration::from_secs(20);
    for (t, host) in tasks.iter().zip(&hosts) {
        let id = t.task_arn().unwrap().rsplit('/').next().unwrap();
        let stream = format!("web/web/{id}");
        loop {
            let got = logs
                .get_log_events()
                .log_group_name(group)
                .log_stream_name(&stream)
                .send()
                .await;
            let lines: Vec<String> = got
                .map(|g| {
                    g.events()
                        .iter()
                        .filter_map(|e| e.message().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if lines.contains(&format!("web-start host={host}")) {
                break;
            }
            assert!(Instant::now() < end, "no start line in {stream}: {lines:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // A killed essential container stops its task.
    let victim = &arns[0];
    let ids = docker.containers_labelled(TASK_ARN_LABEL, victim);
    docker.ok(&["kill", &ids[0]]);
    let stopped = wait_status(&ecs, "demo", victim, "STOPPED", Duration::from_secs(30)).await;
    assert_eq!(
        stopped.stop_code().map(|c| c.as_str()),
        Some("EssentialContainerExited")
    );
    assert_eq!(stopped.stopped_reason(), Some("Essential container in task exited"));
    assert_eq!(stopped.containers()[0].exit_code(), Some(137));
    assert_eq!(stopped.desired_status(), Some("STOPPED"));
    // Removed right after STOPPED is written (the engine may take a moment).
    let end = Instant::now() + Duration::from_secs(10);
    while !docker.containers_labelled(TASK_ARN_LABEL, victim).is_empty() {
        assert!(Instant::now() < end, "the stopped task's container is removed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // StopTask: SIGTERM, then SIGKILL after stopTimeout (httpd as PID 1 ignores SIGTERM).
    let other = &arns[1];
    let answered = ecs
        .stop_task()
        .cluster("demo")
        .task(other)
        .reason("done with it")
        .send()
        .await
        .unwrap();
    assert_eq!(answered.task().unwrap().desired_status(), Some("STOPPED"));
    let stopped = wait_status(&ecs, "demo", other, "STOPPED", Duration::from_secs(30)).await;
    assert_eq!(stopped.stop_code().map(|c| c.as_str()), Some("UserInitiated"));
    assert_eq!(stopped.stopped_reason(), Some("done with it"));
    assert!(stopped.stopped_at().is_some() && stopped.stopping_at().is_some());
    assert!(docker.containers_labelled(TASK_ARN_LABEL, other).is_empty());
    assert!(
        http_get(&format!("{}:8080", ips[1])).is_empty(),
        "nothing serves on a stopped task's address"
    );
    let running = ecs.list_tasks().cluster("demo").send().await.unwrap();
    assert!(running.task_arns().is_empty());
    let stopped_list = ecs
        .list_tasks()
        .cluster("demo")
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    assert_eq!(stopped_list.task_arns().len(), 2);
    let missing = ecs
        .describe_tasks()
        .cluster("demo")
        .tasks("0123456789abcdef0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.failures()[0].reason(), Some("MISSING"));
}

#[tokio::test]
#[ignore = "needs the Docker engine: runs in CI with --include-ignored"]
async fn a_task_whose_image_cannot_be_pulled_fails_to_start() {
    let _docker = Docker::require();
    let h = Haneul::start();
    let ecs = h.ecs();
    ecs.create_cluster().cluster_name("demo").send().await.unwrap();
    h.aws_ok(&["ecr", "create-repository", "--repository-name", "empty"]);
    let image = format!("{}/empty:none", h.api_addr);
    register_fargate(&ecs, "bad", web_container("web", &image, "/ecs/bad")).await;
    let arn = run_fargate(&ecs, &h, "demo", "bad", 1).await.remove(0);
    let t = wait_status(&ecs, "demo", &arn, "STOPPED", Duration::from_secs(30)).await;
    assert_eq!(t.stop_code().map(|c| c.as_str()), Some("TaskFailedToStart"));
    let reason = t.stopped_reason().unwrap_or_default();
    assert!(reason.starts_with("CannotPullContainerError: "), "{reason}");
    assert!(
        t.containers()[0]
            .reason()
            .is_some_and(|r| r.starts_with("CannotPullContainerError")),
        "{t:?}"
    );
}

#[tokio::test]
#[ignore = "needs the Docker engine: runs in CI with --include-ignored"]
async fn a_restarted_haneul_adopts_running_tasks() {
    let docker = Docker::require();
    let dir = tempfile::tempdir().unwrap();
    let keep = || Options {
        data_dir: Some(dir.path().to_path_buf()),
        keep_tasks_on_exit: true,
        ..Options::default()
    };
    let mut images = Vec::new();
    let h = Haneul::start_with(keep());
    let ecs = h.ecs();
    let (uri, image) = push_script_image(&docker, &h, "adopt/web", "v1", WEB_SCRIPT);
    images.push(image);
    ecs.create_cluster().cluster_name("demo").send().await.unwrap();
    register_fargate(&ecs, "web", web_container("web", &uri, "/ecs/adopt")).await;
    let arn = run_fargate(&ecs, &h, "demo", "web", 1).await.remove(0);
    let before = wait_status(&ecs, "demo", &arn, "RUNNING", Duration::from_secs(60)).await;
    let ip = private_ip(&before);
    let page = http_get(&format!("{ip}:8080"));
    drop(ecs);
    drop(h);
    // haneul is gone; the task's container is not.
    let ids = docker.containers_labelled(TASK_ARN_LABEL, &arn);
    assert_eq!(ids.len(), 1);
    assert_eq!(http_get(&format!("{ip}:8080")), page);

    let h = Haneul::start_with(Options {
        keep_tasks_on_exit: false,
        ..keep()
    });
    let ecs = h.ecs();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = describe(&ecs, "demo", &arn).await;
    assert_eq!(after.last_status(), Some("RUNNING"), "{after:?}");
    assert_eq!(after.containers()[0].runtime_id(), before.containers()[0].runtime_id());
    assert_eq!(
        docker.containers_labelled(TASK_ARN_LABEL, &arn),
        ids,
        "adopted, not started again"
    );
    // Adopted means watched: a kill now stops the task.
    docker.ok(&["kill", &ids[0]]);
    let stopped = wait_status(&ecs, "demo", &arn, "STOPPED", Duration::from_secs(30)).await;
    assert_eq!(
        stopped.stop_code().map(|c| c.as_str()),
        Some("EssentialContainerExited")
    );
}

/// Reads its own task metadata and haneul's API from inside the container, then waits.
const METADATA_SCRIPT: &str = r#"echo "task=$(/bin/busybox wget -qO- "$ECS_CONTAINER_METADATA_URI_V4/task")"
echo "container=$(/bin/busybox wget -qO- "$ECS_CONTAINER_METADATA_URI_V4")"
echo "api=$(/bin/busybox wget -qO- "$AWS_ENDPOINT_URL/_haneul/health")"
exec /bin/busybox sleep 60
"#;

#[tokio::test]
#[ignore = "needs the Docker engine: runs in CI with --include-ignored"]
async fn a_task_reads_its_metadata_and_reaches_the_api() {
    let docker = Docker::require();
    let mut images = Vec::new();
    let h = Haneul::start();
    let ecs = h.ecs();
    let (uri, image) = push_script_image(&docker, &h, "meta/probe", "v1", METADATA_SCRIPT);
    images.push(image);
    ecs.create_cluster().cluster_name("demo").send().await.unwrap();
    register_fargate(&ecs, "probe", web_container("probe", &uri, "/ecs/meta")).await;
    let arn = run_fargate(&ecs, &h, "demo", "probe", 1).await.remove(0);
    wait_status(&ecs, "demo", &arn, "RUNNING", Duration::from_secs(60)).await;
    let id = arn.rsplit('/').next().unwrap();
    let stream = format!("web/probe/{id}");
    let end = Instant::now() + Duration::from_secs(30);
    let lines = loop {
        let lines: Vec<String> = h
            .logs()
            .get_log_events()
            .log_group_name("/ecs/meta")
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
        if lines.iter().any(|l| l.starts_with("api=")) {
            break lines;
        }
        assert!(Instant::now() < end, "no probe output in {stream}: {lines:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let field = |prefix: &str| -> serde_json::Value {
        let line = lines.iter().find(|l| l.starts_with(prefix)).unwrap();
        serde_json::from_str(&line[prefix.len()..]).unwrap_or_else(|e| panic!("{line}: {e}"))
    };
    let task = field("task=");
    assert_eq!(task["TaskARN"], arn.as_str());
    assert_eq!(task["Cluster"], "demo");
    assert_eq!(task["Family"], "probe");
    assert_eq!(task["LaunchType"], "FARGATE");
    assert_eq!(task["Containers"][0]["Name"], "probe");
    let container = field("container=");
    assert_eq!(container["Name"], "probe");
    assert_eq!(container["Networks"][0]["NetworkMode"], "awsvpc");
    assert!(
        container["DockerId"].as_str().is_some_and(|d| !d.is_empty()),
        "{container}"
    );
    let api = field("api=");
    assert_eq!(api["status"], "ok");
    ecs.stop_task().cluster("demo").task(&arn).send().await.unwrap();
    wait_status(&ecs, "demo", &arn, "STOPPED", Duration::from_secs(30)).await;
}

/// A Session Manager client, as `session-manager-plugin` speaks the data channel: the token
/// in a text frame, then binary messages, each stream message acknowledged.
struct DataChannelClient {
    ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    next_sequence: i64,
    acknowledged: Vec<i64>,
}

impl DataChannelClient {
    async fn open(stream_url: &str, token: &str) -> DataChannelClient {
        use futures_util::SinkExt;
        let authority = stream_url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("stream URL {stream_url}"));
        let tcp = tokio::net::TcpStream::connect(authority).await.unwrap();
        let (mut ws, _) = tokio_tungstenite::client_async(stream_url, tcp).await.unwrap();
        let open = serde_json::json!({
            "MessageSchemaVersion": "1.0",
            "RequestId": "5c1bd7d4-8a46-4f44-8f35-6f05c7e6b1a1",
            "TokenValue": token,
            "ClientId": "2c9e1f55-6f3a-4d8e-9d55-7b5a1c3e0f11",
            "ClientVersion": "1.2.707.0",
        });
        ws.send(tokio_tungstenite::tungstenite::Message::Text(open.to_string().into()))
            .await
            .unwrap();
        DataChannelClient {
            ws,
            next_sequence: 0,
            acknowledged: Vec::new(),
        }
    }

    /// The next message that is not an acknowledgement (those are recorded); output stream
    /// messages are acknowledged. None when the channel closes.
    async fn next(&mut self) -> Option<ClientMessage> {
        use futures_util::{SinkExt, StreamExt};
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(20), self.ws.next())
                .await
                .expect("the data channel answers within 20 s");
            let bytes = match frame {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Binary(b))) => b,
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame))) => {
                    eprintln!("data channel closed: {frame:?}");
                    return None;
                }
                None => return None,
                Some(Err(e)) => {
                    eprintln!("data channel broke: {e}");
                    return None;
                }
                Some(Ok(_)) => continue,
            };
            let m = ClientMessage::decode(&bytes).expect("a well-formed data channel message");
            match m.message_type.as_str() {
                message::ACKNOWLEDGE => {
                    let ack: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                    self.acknowledged
                        .push(ack["AcknowledgedMessageSequenceNumber"].as_i64().unwrap());
                }
                message::OUTPUT_STREAM_DATA => {
                    let ack = ClientMessage::acknowledgement(&m).encode();
                    self.ws
                        .send(tokio_tungstenite::tungstenite::Message::Binary(ack.into()))
                        .await
                        .unwrap();
                    return Some(m);
                }
                _ => return Some(m),
            }
        }
    }

    async fn send(&mut self, payload_type: u32, payload: &[u8]) {
        use futures_util::SinkExt;
        let m = ClientMessage::new(
            message::INPUT_STREAM_DATA,
            self.next_sequence,
            payload_type,
            payload.to_vec(),
        );
        self.next_sequence += 1;
        self.ws
            .send(tokio_tungstenite::tungstenite::Message::Binary(m.encode().into()))
            .await
            .unwrap();
    }

    /// Output until `needle` has appeared in it.
    async fn read_until(&mut self, needle: &str) -> String {
        let mut seen = String::new();
        while !seen.contains(needle) {
            let m = self
                .next()
                .await
                .unwrap_or_else(|| panic!("channel closed before {needle:?}; output: {seen:?}"));
            if m.payload_type == message::PAYLOAD_OUTPUT {
                seen.push_str(&String::from_utf8_lossy(&m.payload));
            }
        }
        seen
    }
}

use haneul_ecs::exec::message::{self, ClientMessage};

#[tokio::test]
#[ignore = "needs the Docker engine: runs in CI with --include-ignored"]
async fn execute_command_opens_a_shell_in_the_container() {
    let docker = Docker::require();
    let mut images = Vec::new();
    let h = Haneul::start();
    let ecs = h.ecs();
    let (uri, image) = push_script_image(&docker, &h, "exec/web", "v1", WEB_SCRIPT);
    images.push(image);
    ecs.create_cluster().cluster_name("demo").send().await.unwrap();
    register_fargate(&ecs, "web", web_container("web", &uri, "/ecs/exec")).await;
    let ran = ecs
        .run_task()
        .cluster("demo")
        .task_definition("web")
        .launch_type(LaunchType::Fargate)
        .network_configuration(awsvpc(&h))
        .enable_execute_command(true)
        .send()
        .await
        .unwrap();
    let arn = ran.tasks()[0].task_arn().unwrap().to_string();
    let plain = run_fargate(&ecs, &h, "demo", "web", 1).await.remove(0);
    let task = wait_status(&ecs, "demo", &arn, "RUNNING", Duration::from_secs(60)).await;
    wait_status(&ecs, "demo", &plain, "RUNNING", Duration::from_secs(60)).await;
    let agents = task.containers()[0].managed_agents();
    assert_eq!(agents.len(), 1, "{task:#?}");
    assert_eq!(agents[0].name().map(|n| n.as_str()), Some("ExecuteCommandAgent"));
    assert_eq!(agents[0].last_status(), Some("RUNNING"));

    // What ECS refuses.
    let refused = ecs
        .execute_command()
        .cluster("demo")
        .task(&arn)
        .command("/bin/busybox sh")
        .interactive(false)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&refused),
        (
            "InvalidParameterException".into(),
            "Interactive is the only mode supported currently.".into()
        )
    );
    let refused = ecs
        .execute_command()
        .cluster("demo")
        .task(&plain)
        .command("/bin/busybox sh")
        .interactive(true)
        .send()
        .await
        .unwrap_err();
    let (c, m) = code(&refused);
    assert_eq!(c, "InvalidParameterException");
    assert!(m.contains("execute command was not enabled"), "{m}");

    // A shell: a command typed in, its output back, exit ends the session.
    let out = ecs
        .execute_command()
        .cluster("demo")
        .task(&arn)
        .container("web")
        .command("/bin/busybox sh")
        .interactive(true)
        .send()
        .await
        .unwrap();
    assert_eq!(out.container_name(), Some("web"));
    assert_eq!(out.task_arn(), Some(arn.as_str()));
    let session = out.session().unwrap();
    let stream_url = session.stream_url().unwrap();
    assert!(stream_url.contains(session.session_id().unwrap()), "{stream_url}");
    let mut client = DataChannelClient::open(stream_url, session.token_value().unwrap()).await;
    let request = client.next().await.expect("a handshake request");
    assert_eq!(request.payload_type, message::PAYLOAD_HANDSHAKE_REQUEST);
    let request: serde_json::Value = serde_json::from_slice(&request.payload).unwrap();
    assert_eq!(
        request["RequestedClientActions"][0]["ActionParameters"]["SessionType"],
        "InteractiveCommands"
    );
    let response = serde_json::json!({
        "ClientVersion": "1.2.707.0",
        "ProcessedClientActions": [{ "ActionType": "SessionType", "ActionStatus": 1 }],
        "Errors": [],
    });
    client
        .send(message::PAYLOAD_HANDSHAKE_RESPONSE, response.to_string().as_bytes())
        .await;
    let complete = client.next().await.expect("handshake complete");
    assert_eq!(complete.payload_type, message::PAYLOAD_HANDSHAKE_COMPLETE);
    client.send(message::PAYLOAD_SIZE, br#"{"cols":100,"rows":30}"#).await;
    client
        .send(
            message::PAYLOAD_OUTPUT,
            b"echo exec-$((40+2)) $(/bin/busybox hostname)\r",
        )
        .await;
    let seen = client.read_until("exec-42 ").await;
    client.send(message::PAYLOAD_OUTPUT, b"/bin/busybox stty size\r").await;
    client.read_until("30 100").await;
    client.send(message::PAYLOAD_OUTPUT, b"exit\r").await;
    let closed = loop {
        match client.next().await {
            Some(m) if m.message_type == message::CHANNEL_CLOSED => break m,
            Some(_) => continue,
            None => panic!("the channel closed without channel_closed"),
        }
    };
    let closed: serde_json::Value = serde_json::from_slice(&closed.payload).unwrap();
    assert_eq!(closed["SessionId"], session.session_id().unwrap());
    for sequence in 0..client.next_sequence {
        assert!(
            client.acknowledged.contains(&sequence),
            "input {sequence} not acknowledged: {:?}",
            client.acknowledged
        );
    }
    assert!(seen.contains("exec-42"), "{seen}");

    // A session opens once.
    let mut again = DataChannelClient::open(stream_url, session.token_value().unwrap()).await;
    assert!(again.next().await.is_none(), "a used session opened again");

    // The aws CLI, with haneul as its session-manager-plugin.
    let plugin_dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_haneul"),
        plugin_dir.path().join("session-manager-plugin"),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        plugin_dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("timeout")
        .args([
            "120",
            "aws",
            "ecs",
            "execute-command",
            "--cluster",
            "demo",
            "--task",
            &arn,
        ])
        .args(["--container", "web", "--interactive", "--command"])
        .arg("/bin/busybox sh -c 'echo cli-exec-$((40+2)); /bin/busybox hostname'")
        .envs(h.cli_env())
        .env("PATH", path)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the aws CLI runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "aws ecs execute-command: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("cli-exec-42"), "{stdout}");
    assert!(
        stdout.contains("Starting session with SessionId: ecs-execute-command-"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Exiting session with sessionId: ecs-execute-command-"),
        "{stdout}"
    );
    ecs.stop_task().cluster("demo").task(&arn).send().await.unwrap();
    ecs.stop_task().cluster("demo").task(&plain).send().await.unwrap();
    wait_status(&ecs, "demo", &arn, "STOPPED", Duration::from_secs(30)).await;
    wait_status(&ecs, "demo", &plain, "STOPPED", Duration::from_secs(30)).await;
}
