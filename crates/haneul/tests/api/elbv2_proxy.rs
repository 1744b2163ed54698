//! The load balancer's data plane through aws-sdk-elasticloadbalancingv2 and real HTTP clients:
//! rules of every condition type and each action, weighted forwards and stickiness,
//! algorithms, health and draining, WebSocket, HTTP/2 and gRPC, HTTPS with SNI over ACM
//! certificates, and ALB's own error responses.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2 as elbv2;
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use bytes::Bytes;
use elbv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, ForwardActionConfig, HttpHeaderConditionConfig, ProtocolEnum,
    QueryStringConditionConfig, QueryStringKeyValuePair, RedirectActionConfig, RedirectActionStatusCodeEnum,
    RuleCondition, RulePriorityPair, SourceIpConditionConfig, TargetDescription, TargetGroupAttribute,
    TargetGroupStickinessConfig, TargetGroupTuple, TargetTypeEnum,
};
use haneul_testkit::backend::Backend;
use haneul_testkit::Haneul;
use http_body_util::{BodyExt, Empty};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Lb {
    pub arn: String,
    /// Resolves to `ip` in haneul's DNS.
    pub dns_name: String,
    pub ip: IpAddr,
    pub vpc: String,
}

pub async fn create_lb(h: &Haneul, name: &str) -> Lb {
    let subnets = h.aws_ok(&[
        "ec2",
        "describe-subnets",
        "--filters",
        "Name=default-for-az,Values=true",
    ]);
    let subnets: Vec<String> = subnets["Subnets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["SubnetId"].as_str().unwrap().to_string())
        .collect();
    let out = h
        .elbv2()
        .create_load_balancer()
        .name(name)
        .subnets(&subnets[0])
        .subnets(&subnets[1])
        .send()
        .await
        .unwrap();
    let lb = &out.load_balancers()[0];
    let arn = lb.load_balancer_arn().unwrap().to_string();
    let address = h.aws_ok(&["elbv2", "describe-load-balancers", "--names", name]);
    let base = h.lb_cidr.trim_end_matches("0/24");
    let ip = dns_a(h, lb.dns_name().unwrap()).await;
    assert!(lb.dns_name().unwrap().ends_with(".elb.amazonaws.com"));
    assert!(ip.to_string().starts_with(base), "{ip} from {}", h.lb_cidr);
    Lb {
        arn,
        dns_name: lb.dns_name().unwrap().to_string(),
        ip,
        vpc: address["LoadBalancers"][0]["VpcId"].as_str().unwrap().to_string(),
    }
}

pub async fn dns_a(h: &Haneul, name: &str) -> IpAddr {
    use hickory_proto::rr::RecordType;
    for _ in 0..100 {
        let m = crate::support::dns_udp(h.dns_addr, &format!("{name}."), RecordType::A, None).await;
        if let Some(ip) = crate::support::answer_values(&m).first() {
            return ip.parse().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{name} does not resolve");
}

/// A target group of IP targets; health checks every 5 s on `/health`, 2 checks either way.
pub async fn create_tg(h: &Haneul, lb: &Lb, name: &str) -> String {
    h.elbv2()
        .create_target_group()
        .name(name)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .vpc_id(&lb.vpc)
        .target_type(TargetTypeEnum::Ip)
        .health_check_path("/health")
        .health_check_interval_seconds(5)
        .healthy_threshold_count(2)
        .unhealthy_threshold_count(2)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string()
}

/// A target group of IP targets spoken to with a protocol version (HTTP2, GRPC), default checks.
async fn create_tg_speaking(h: &Haneul, lb: &Lb, name: &str, version: &str) -> String {
    h.elbv2()
        .create_target_group()
        .name(name)
        .protocol(ProtocolEnum::Http)
        .protocol_version(version)
        .port(80)
        .vpc_id(&lb.vpc)
        .target_type(TargetTypeEnum::Ip)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string()
}

pub async fn register(h: &Haneul, tg: &str, backends: &[&Backend]) {
    let mut call = h.elbv2().register_targets().target_group_arn(tg);
    for b in backends {
        call = call.targets(
            TargetDescription::builder()
                .id("127.0.0.1")
                .port(i32::from(b.port()))
                .build(),
        );
    }
    call.send().await.unwrap();
}

pub fn forward(tg: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(tg)
        .build()
}

fn fixed(status: &str, body: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code(status)
                .content_type("text/plain")
                .message_body(body)
                .build(),
        )
        .build()
}

/// A port free on the load balancer's address.
fn free_port(ip: IpAddr) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn create_listener(h: &Haneul, lb: &Lb, default: Action) -> (String, SocketAddr) {
    let port = free_port(lb.ip);
    let out = h
        .elbv2()
        .create_listener()
        .load_balancer_arn(&lb.arn)
        .protocol(ProtocolEnum::Http)
        .port(i32::from(port))
        .default_actions(default)
        .send()
        .await
        .unwrap();
    (
        out.listeners()[0].listener_arn().unwrap().to_string(),
        SocketAddr::new(lb.ip, port),
    )
}

async fn set_default_action(h: &Haneul, listener: &str, action: Action) {
    h.elbv2()
        .modify_listener()
        .listener_arn(listener)
        .default_actions(action)
        .send()
        .await
        .unwrap();
}

async fn set_lb_attribute(h: &Haneul, lb_arn: &str, key: &str, value: &str) {
    h.elbv2()
        .modify_load_balancer_attributes()
        .load_balancer_arn(lb_arn)
        .attributes(
            elbv2::types::LoadBalancerAttribute::builder()
                .key(key)
                .value(value)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

async fn set_group_attributes(h: &Haneul, tg: &str, attributes: &[(&str, &str)]) {
    let mut call = h.elbv2().modify_target_group_attributes().target_group_arn(tg);
    for (k, v) in attributes {
        call = call.attributes(TargetGroupAttribute::builder().key(*k).value(*v).build());
    }
    call.send().await.unwrap();
}

pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

pub type Client = hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>;

pub fn client() -> Client {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new())
}

pub async fn get(c: &Client, method: &str, url: &str, headers: &[(&str, &str)]) -> Result<Reply, String> {
    let mut req = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = tokio::time::timeout(Duration::from_secs(10), c.request(req.body(Empty::new()).unwrap()))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Waits until `url` answers `want_body` (the proxy applies changes within moments).
pub async fn wait_body(c: &Client, url: &str, want_body: &str) -> Reply {
    let mut last = String::new();
    for _ in 0..100 {
        match get(c, "GET", url, &[]).await {
            Ok(r) if r.body == want_body => return r,
            Ok(r) => last = format!("{} {}", r.status, r.body),
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never answered '{want_body}'; last: {last}");
}

fn header<'a>(r: &'a Reply, name: &str) -> &'a str {
    r.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn rules_route_by_each_condition_and_act() {
    let h = Haneul::start();
    let lb = create_lb(&h, "rules").await;
    let (api, admin) = (Backend::start("api").await, Backend::start("admin").await);
    let (tg_api, tg_admin) = (create_tg(&h, &lb, "api").await, create_tg(&h, &lb, "admin").await);
    register(&h, &tg_api, &[&api]).await;
    register(&h, &tg_admin, &[&admin]).await;
    let (listener, addr) = create_listener(&h, &lb, fixed("404", "no rule")).await;
    let rule = |priority: i32, condition: RuleCondition, action: Action| {
        h.elbv2()
            .create_rule()
            .listener_arn(&listener)
            .priority(priority)
            .conditions(condition)
            .actions(action)
            .send()
    };
    let cond = |field: &str| RuleCondition::builder().field(field);
    rule(10, cond("path-pattern").values("/api/*").build(), forward(&tg_api))
        .await
        .unwrap();
    rule(
        20,
        cond("host-header").values("admin.*.test").build(),
        forward(&tg_admin),
    )
    .await
    .unwrap();
    let canary = HttpHeaderConditionConfig::builder()
        .http_header_name("X-Canary")
        .values("y?s")
        .build();
    rule(
        30,
        cond("http-header").http_header_config(canary).build(),
        forward(&tg_admin),
    )
    .await
    .unwrap();
    let method = elbv2::types::HttpRequestMethodConditionConfig::builder()
        .values("DELETE")
        .build();
    rule(
        40,
        cond("http-request-method").http_request_method_config(method).build(),
        fixed("405", "no deletes"),
    )
    .await
    .unwrap();
    let query = QueryStringConditionConfig::builder()
        .values(QueryStringKeyValuePair::builder().key("version").value("2*").build())
        .build();
    rule(
        50,
        cond("query-string").query_string_config(query).build(),
        forward(&tg_admin),
    )
    .await
    .unwrap();
    let outside = SourceIpConditionConfig::builder().values("10.0.0.0/8").build();
    rule(
        60,
        cond("source-ip").source_ip_config(outside).build(),
        fixed("403", "outside"),
    )
    .await
    .unwrap();
    let redirect = Action::builder()
        .r#type(ActionTypeEnum::Redirect)
        .redirect_config(
            RedirectActionConfig::builder()
                .path("/new/#{path}")
                .host("www.example.test")
                .status_code(RedirectActionStatusCodeEnum::Http301)
                .build(),
        )
        .build();
    rule(70, cond("path-pattern").values("/old*").build(), redirect)
        .await
        .unwrap();

    let c = client();
    let base = format!("http://{addr}");
    let r = wait_body(&c, &format!("{base}/api/users"), "api").await;
    // The rules went in one by one: the snapshot serving /api may predate the last of them.
    for _ in 0..100 {
        if get(&c, "GET", &format!("{base}/old/x"), &[])
            .await
            .is_ok_and(|r| r.status == 301)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ALB's forwarding headers reach the target.
    assert_eq!(header(&r, "x-seen-x-forwarded-for"), "127.0.0.1");
    assert_eq!(header(&r, "x-seen-x-forwarded-proto"), "http");
    assert_eq!(header(&r, "x-seen-x-forwarded-port"), addr.port().to_string());
    assert!(
        header(&r, "x-seen-x-amzn-trace-id").starts_with("Root=1-"),
        "{:?}",
        r.headers
    );
    assert_eq!(header(&r, "x-seen-host"), addr.to_string());
    // Paths are case-sensitive; the default action answers what no rule takes.
    let r = get(&c, "GET", &format!("{base}/API/users"), &[]).await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (404, "no rule"));
    assert_eq!(header(&r, "server"), "awselb/2.0");
    let r = get(&c, "GET", &format!("{base}/x"), &[("host", "ADMIN.example.test")])
        .await
        .unwrap();
    assert_eq!(r.body, "admin", "host-header matches without case");
    let r = get(&c, "GET", &format!("{base}/x"), &[("x-canary", "yes")])
        .await
        .unwrap();
    assert_eq!(r.body, "admin", "http-header with a ? wildcard");
    let r = get(&c, "GET", &format!("{base}/x"), &[("x-canary", "no")])
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    let r = get(&c, "DELETE", &format!("{base}/x"), &[]).await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (405, "no deletes"));
    let r = get(&c, "GET", &format!("{base}/x?a=1&version=2.1"), &[]).await.unwrap();
    assert_eq!(r.body, "admin", "query-string key and value wildcard");
    let r = get(&c, "GET", &format!("{base}/old/page?q=1"), &[]).await.unwrap();
    assert_eq!(r.status, 301);
    assert_eq!(
        header(&r, "location"),
        format!("http://www.example.test:{}/new/old/page?q=1", addr.port())
    );
    // Rules are evaluated in priority order: moving the source-ip rule ahead of /api/* changes
    // nothing for a loopback client, moving a catch-all ahead does.
    let rules = h.elbv2().describe_rules().listener_arn(&listener).send().await.unwrap();
    assert_eq!(rules.rules().len(), 8);
    let last = rules.rules().last().unwrap();
    assert_eq!((last.priority(), last.is_default()), (Some("default"), Some(true)));
    let api_rule = rules.rules()[0].rule_arn().unwrap().to_string();
    let method_rule = rules.rules()[3].rule_arn().unwrap().to_string();
    h.elbv2()
        .set_rule_priorities()
        .rule_priorities(RulePriorityPair::builder().rule_arn(&api_rule).priority(40).build())
        .rule_priorities(RulePriorityPair::builder().rule_arn(&method_rule).priority(10).build())
        .send()
        .await
        .unwrap();
    let mut status = 0;
    for _ in 0..50 {
        status = get(&c, "DELETE", &format!("{base}/api/x"), &[]).await.unwrap().status;
        if status == 405 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 405, "DELETE /api/x now meets the method rule first");

    // ELBv2's errors.
    let err = rule(40, cond("path-pattern").values("/z").build(), forward(&tg_api))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("PriorityInUse"));
    let err = h
        .elbv2()
        .delete_rule()
        .rule_arn(last.rule_arn().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("OperationNotPermitted"));
    let err = h
        .elbv2()
        .create_listener()
        .load_balancer_arn(&lb.arn)
        .protocol(ProtocolEnum::Http)
        .port(i32::from(addr.port()))
        .default_actions(forward(&tg_api))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("DuplicateListener"));
    let too_many = cond("path-pattern")
        .values("/a")
        .values("/b")
        .values("/c")
        .values("/d")
        .build();
    let err = rule(90, too_many, forward(&tg_api)).await.unwrap_err();
    assert_eq!(err.code(), Some("ValidationError"));
    let err = h
        .elbv2()
        .delete_target_group()
        .target_group_arn(&tg_api)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceInUse"));
    let other = create_lb(&h, "other").await;
    let err = h
        .elbv2()
        .create_listener()
        .load_balancer_arn(&other.arn)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .default_actions(forward(&tg_api))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("TargetGroupAssociationLimit"));
    let err = h
        .elbv2()
        .describe_listeners()
        .listener_arns(format!("{listener}0"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ListenerNotFound"));

    // Deleting the listener stops the port.
    h.elbv2()
        .delete_listener()
        .listener_arn(&listener)
        .send()
        .await
        .unwrap();
    let mut closed = false;
    for _ in 0..50 {
        if get(&client(), "GET", &format!("{base}/api/x"), &[]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed, "the listener's port still answers after DeleteListener");
    let tg = h
        .elbv2()
        .describe_target_groups()
        .target_group_arns(&tg_api)
        .send()
        .await
        .unwrap();
    assert!(tg.target_groups()[0].load_balancer_arns().is_empty());
}

/// Counts which backend answered `n` GETs of `url` (cookies sent back when `sticky`).
async fn spread(c: &Client, url: &str, n: usize, sticky: bool) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    let mut cookies: Vec<String> = Vec::new();
    for _ in 0..n {
        let cookie = cookies.join("; ");
        let headers: Vec<(&str, &str)> = if sticky && !cookie.is_empty() {
            vec![("cookie", cookie.as_str())]
        } else {
            vec![]
        };
        let r = get(c, "GET", url, &headers).await.unwrap();
        if sticky && cookies.is_empty() {
            cookies = r
                .headers
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
                .collect();
        }
        *counts.entry(r.body).or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn weighted_groups_stickiness_and_algorithms() {
    let h = Haneul::start();
    let lb = create_lb(&h, "weights").await;
    let (b1, b2, b3) = (
        Backend::start("one").await,
        Backend::start("two").await,
        Backend::start("three").await,
    );
    let (tg_a, tg_b) = (create_tg(&h, &lb, "a").await, create_tg(&h, &lb, "b").await);
    register(&h, &tg_a, &[&b1, &b2]).await;
    register(&h, &tg_b, &[&b3]).await;
    let weighted = |sticky: bool| {
        Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .forward_config(
                ForwardActionConfig::builder()
                    .target_groups(TargetGroupTuple::builder().target_group_arn(&tg_a).weight(3).build())
                    .target_groups(TargetGroupTuple::builder().target_group_arn(&tg_b).weight(1).build())
                    .target_group_stickiness_config(
                        TargetGroupStickinessConfig::builder()
                            .enabled(sticky)
                            .duration_seconds(60)
                            .build(),
                    )
                    .build(),
            )
            .build()
    };
    let (listener, addr) = create_listener(&h, &lb, weighted(false)).await;
    let c = client();
    let url = format!("http://{addr}/");
    let mut up = false;
    for _ in 0..100 {
        if get(&c, "GET", &url, &[]).await.is_ok_and(|r| r.status == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up);
    // 3:1 between the groups; round robin inside group a.
    let counts = spread(&c, &url, 800, false).await;
    let a = counts.get("one").copied().unwrap_or(0) + counts.get("two").copied().unwrap_or(0);
    let b = counts.get("three").copied().unwrap_or(0);
    assert!((520..=680).contains(&a) && a + b == 800, "{counts:?}");
    let (one, two) = (counts["one"] as i64, counts["two"] as i64);
    assert!((one - two).abs() <= 2, "round robin inside the group: {counts:?}");

    // Group stickiness: every request with the cookie lands in the first one's group.
    set_default_action(&h, &listener, weighted(true)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let counts = spread(&c, &url, 60, true).await;
    let in_a = counts.get("one").copied().unwrap_or(0) + counts.get("two").copied().unwrap_or(0);
    assert!(in_a == 60 || counts.get("three") == Some(&60), "{counts:?}");

    // Target stickiness (lb_cookie): every request with AWSALB lands on one target.
    set_default_action(&h, &listener, forward(&tg_a)).await;
    set_group_attributes(
        &h,
        &tg_a,
        &[("stickiness.enabled", "true"), ("stickiness.type", "lb_cookie")],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = get(&c, "GET", &url, &[]).await.unwrap();
    let cookies: Vec<&str> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(cookies.iter().any(|c| c.starts_with("AWSALB=")), "{cookies:?}");
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("AWSALBCORS=") && c.contains("SameSite=None; Secure")));
    let counts = spread(&c, &url, 40, true).await;
    assert_eq!(counts.len(), 1, "{counts:?}");

    // Application-cookie stickiness: once the target sets its cookie, AWSALBAPP-0 pins it.
    set_group_attributes(
        &h,
        &tg_a,
        &[
            ("stickiness.type", "app_cookie"),
            ("stickiness.app_cookie.cookie_name", "APPSESSION"),
        ],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = get(&c, "GET", &format!("http://{addr}/app-cookie"), &[]).await.unwrap();
    let app: Vec<String> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
        .collect();
    assert!(app.iter().any(|c| c.starts_with("AWSALBAPP-0=")), "{app:?}");
    let cookie = app.join("; ");
    for _ in 0..10 {
        let again = get(&c, "GET", &url, &[("cookie", &cookie)]).await.unwrap();
        assert_eq!(again.body, r.body, "pinned by the app cookie");
    }

    // Weighted random: both targets, not in strict turns.
    set_group_attributes(
        &h,
        &tg_a,
        &[
            ("stickiness.enabled", "false"),
            ("load_balancing.algorithm.type", "weighted_random"),
        ],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let counts = spread(&c, &url, 200, false).await;
    assert!(
        counts.values().all(|n| (60..=140).contains(n)) && counts.len() == 2,
        "{counts:?}"
    );

    // Least outstanding requests.
    set_group_attributes(
        &h,
        &tg_a,
        &[("load_balancing.algorithm.type", "least_outstanding_requests")],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let slow = format!("http://{addr}/slow/300");
    let mut tasks = Vec::new();
    // Two equally slow targets: each new request goes to the one holding fewer, so concurrent
    // requests end up split evenly rather than piled on one target.
    for _ in 0..20 {
        let c = c.clone();
        let slow = slow.clone();
        tasks.push(tokio::spawn(
            async move { get(&c, "GET", &slow, &[]).await.unwrap().body },
        ));
    }
    let mut lor: HashMap<String, usize> = HashMap::new();
    for t in tasks {
        *lor.entry(t.await.unwrap()).or_insert(0) += 1;
    }
    assert!(lor.values().all(|n| (8..=12).contains(n)), "{lor:?}");
}

/// Each target of `tg` as DescribeTargetHealth gives it: (port, state, reason), by port.
async fn target_states(h: &Haneul, tg: &str) -> Vec<(u16, String, Option<String>)> {
    let out = h
        .elbv2()
        .describe_target_health()
        .target_group_arn(tg)
        .send()
        .await
        .unwrap();
    let mut v: Vec<(u16, String, Option<String>)> = out
        .target_health_descriptions()
        .iter()
        .map(|d| {
            let t = d.target_health().unwrap();
            (
                d.target().unwrap().port().unwrap() as u16,
                t.state().unwrap().as_str().to_string(),
                t.reason().map(|r| r.as_str().to_string()),
            )
        })
        .collect();
    v.sort();
    v
}

/// Waits until `count` registered targets of `tg` are healthy.
async fn all_healthy(h: &Haneul, tg: &str, count: usize) {
    for _ in 0..100 {
        let states = target_states(h, tg).await;
        if states.iter().filter(|(_, s, _)| s == "healthy").count() == count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("targets of {tg} did not all turn healthy");
}

#[tokio::test]
async fn slow_start_ramps_up_only_targets_joining_a_healthy_group() {
    let h = Haneul::start();
    let lb = create_lb(&h, "slow").await;
    let (b1, b2, b3) = (
        Backend::start("one").await,
        Backend::start("two").await,
        Backend::start("three").await,
    );
    let tg = create_tg(&h, &lb, "slow").await;
    set_group_attributes(&h, &tg, &[("slow_start.duration_seconds", "30")]).await;
    // The group's first targets, registered together: neither enters slow start.
    register(&h, &tg, &[&b1, &b2]).await;
    let (_, addr) = create_listener(&h, &lb, forward(&tg)).await;
    all_healthy(&h, &tg, 2).await;
    let c = client();
    let url = format!("http://{addr}/");
    let counts = spread(&c, &url, 100, false).await;
    assert_eq!(
        (counts.get("one"), counts.get("two")),
        (Some(&50), Some(&50)),
        "{counts:?}"
    );

    // A third target joining healthy ones starts with a small share (its first seconds of 30),
    // where plain round robin would give it a third. (Targets turning healthy within a second
    // of each other count as joining together.)
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    register(&h, &tg, &[&b3]).await;
    all_healthy(&h, &tg, 3).await;
    let counts = spread(&c, &url, 300, false).await;
    let new = counts.get("three").copied().unwrap_or(0);
    assert!(
        new < 40,
        "slow start gives the new target far less than 100 of 300: {counts:?}"
    );
    let (one, two) = (counts["one"] as i64, counts["two"] as i64);
    assert!(
        one + two + new as i64 == 300 && (one - two).abs() <= 2 + new as i64,
        "{counts:?}"
    );
}

#[tokio::test]
async fn websocket_upgrades_and_http2_targets() {
    let h = Haneul::start();
    let lb = create_lb(&h, "ws").await;
    let b = Backend::start("ws").await;
    let tg = create_tg(&h, &lb, "ws").await;
    register(&h, &tg, &[&b]).await;
    let (_, addr) = create_listener(&h, &lb, forward(&tg)).await;
    wait_body(&client(), &format!("http://{addr}/"), "ws").await;

    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET /ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    for msg in [&b"hello"[..], b"through the load balancer"] {
        s.write_all(msg).await.unwrap();
        let mut echo = vec![0u8; msg.len()];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut echo))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(echo, msg);
    }

    // Protocol version HTTP2: the proxy speaks h2 to the target.
    let h2 = create_tg_speaking(&h, &lb, "h2", "HTTP2").await;
    let b2 = Backend::start("h2").await;
    register(&h, &h2, &[&b2]).await;
    let (_, addr2) = create_listener(&h, &lb, forward(&h2)).await;
    let r = wait_body(&client(), &format!("http://{addr2}/x"), "h2").await;
    assert_eq!(header(&r, "x-seen-version"), "HTTP/2.0");
}

#[tokio::test]
async fn alb_answers_for_targets_that_fail_and_requests_that_are_bad() {
    let h = Haneul::start();
    let lb = create_lb(&h, "errors").await;
    let empty = create_tg(&h, &lb, "empty").await;
    let (listener, addr) = create_listener(&h, &lb, forward(&empty)).await;
    let c = client();
    let url = format!("http://{addr}/");
    let mut r = None;
    for _ in 0..50 {
        if let Ok(reply) = get(&c, "GET", &url, &[]).await {
            r = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = r.expect("listener answers");
    assert_eq!(r.status, 503, "no registered targets");
    assert!(
        r.body.contains("<title>503 Service Temporarily Unavailable</title>"),
        "{}",
        r.body
    );

    // A registered target that refuses connections: 502.
    let gone = Backend::start("gone").await;
    register(&h, &empty, &[&gone]).await;
    let _ = gone.stop();
    let mut status = 0;
    for _ in 0..50 {
        status = get(&c, "GET", &url, &[]).await.unwrap().status;
        if status == 502 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 502);

    let live = Backend::start("live").await;
    let tg = create_tg(&h, &lb, "live").await;
    register(&h, &tg, &[&live]).await;
    set_default_action(&h, &listener, forward(&tg)).await;
    wait_body(&c, &url, "live").await;
    // Conflicting Content-Lengths (request smuggling): 400, connection closed, nothing forwarded.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert_eq!(out.matches("HTTP/1.1").count(), 1, "one response, then closed: {out}");
    assert_eq!(live.hits(), 1, "nothing reached the target but the readiness GET");

    // Transfer-Encoding with Content-Length: refused (ALB's desync mitigation), closed.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert_eq!(out.matches("HTTP/1.1").count(), 1, "{out}");
    assert_eq!(live.hits(), 1);

    // ALB's header limits: a request line or one header over 16 KiB is a 400; a target's
    // response head over 32 KiB is a 502 (under it, passed on whole).
    let long = "a".repeat(17 * 1024);
    let r = get(&c, "GET", &format!("{url}{long}"), &[]).await.unwrap();
    assert_eq!(r.status, 400, "request line over 16 KiB");
    let r = get(&c, "GET", &url, &[("x-long", &long)]).await.unwrap();
    assert_eq!(r.status, 400, "one header over 16 KiB");
    let r = get(&c, "GET", &url, &[("x-a", &long[..15_000]), ("x-b", &long[..15_000])])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "two headers under 16 KiB each");
    let r = get(&c, "GET", &format!("{url}big-header/33000"), &[]).await.unwrap();
    assert_eq!(r.status, 502, "response head over 32 KiB");
    let r = get(&c, "GET", &format!("{url}big-header/30000"), &[]).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-big"].len(), 30_000);

    // Bodies stream both ways: a large Content-Length body, then a chunked one (kept chunked),
    // on one keep-alive connection, with a pipelined GET behind them.
    let big: String = "x".repeat(300_000);
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{big}POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        big.len()
    );
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let out = String::from_utf8_lossy(&out);
    assert_eq!(out.matches("HTTP/1.1 200").count(), 3, "{}", &out[..out.len().min(400)]);
    assert!(out.contains(&big));
    assert!(out.contains("hello world"));
    assert!(out.ends_with("live"), "{}", &out[out.len().saturating_sub(200)..]);

    // routing.http.drop_invalid_header_fields.enabled: header names beyond letters, digits and
    // hyphens are dropped before the target.
    let with_underscore = |c: &Client| {
        let c = c.clone();
        let url = url.clone();
        async move { get(&c, "GET", &url, &[("x_odd", "1"), ("x-fine", "1")]).await.unwrap() }
    };
    let names = |r: &Reply| header(r, "x-seen-names").to_string();
    assert!(names(&with_underscore(&c).await).contains("x_odd"));
    set_lb_attribute(&h, &lb.arn, "routing.http.drop_invalid_header_fields.enabled", "true").await;
    let mut seen = String::new();
    for _ in 0..50 {
        seen = names(&with_underscore(&c).await);
        if !seen.contains("x_odd") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!seen.contains("x_odd") && seen.contains("x-fine"), "{seen}");

    // A target that stalls past the idle timeout: 504.
    set_lb_attribute(&h, &lb.arn, "idle_timeout.timeout_seconds", "1").await;
    let mut status = 0;
    for _ in 0..20 {
        status = get(&client(), "GET", &format!("http://{addr}/slow/2500"), &[])
            .await
            .unwrap()
            .status;
        if status == 504 {
            break;
        }
    }
    assert_eq!(status, 504);

    // Too many X-Forwarded-For entries: 463.
    let xff = vec!["10.0.0.1"; 31].join(", ");
    let r = get(&c, "GET", &url, &[("x-forwarded-for", &xff)]).await.unwrap();
    assert_eq!(r.status, 463);
}

#[tokio::test]
#[ignore = "slow: waits for real health-check intervals (5 s) and a draining delay"]
async fn unhealthy_targets_get_no_traffic_and_deregistered_ones_drain() {
    let h = Haneul::start();
    let lb = create_lb(&h, "health").await;
    let (good, bad) = (Backend::start("good").await, Backend::start("bad").await);
    let tg = create_tg(&h, &lb, "health").await;
    register(&h, &tg, &[&good, &bad]).await;
    let (_, addr) = create_listener(&h, &lb, forward(&tg)).await;
    let c = client();
    let states = || target_states(&h, &tg);
    let wait_for = |port: u16, state: &'static str| {
        let states = &states;
        async move {
            for _ in 0..60 {
                if states().await.iter().any(|(p, s, _)| *p == port && s == state) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            panic!("target {port} never {state}: {:?}", states().await);
        }
    };
    // One passing check makes a new target healthy.
    wait_for(good.port(), "healthy").await;
    wait_for(bad.port(), "healthy").await;
    bad.set_health(500);
    wait_for(bad.port(), "unhealthy").await;
    let reason = states().await.into_iter().find(|(p, _, _)| *p == bad.port()).unwrap().2;
    assert_eq!(reason.as_deref(), Some("Target.ResponseCodeMismatch"));
    let counts = spread(&c, &format!("http://{addr}/"), 40, false).await;
    assert_eq!(counts.get("good"), Some(&40), "{counts:?}");
    // Healthy again after HealthyThresholdCount passes.
    bad.set_health(200);
    wait_for(bad.port(), "healthy").await;
    let counts = spread(&c, &format!("http://{addr}/"), 40, false).await;
    assert_eq!(counts.get("bad"), Some(&20), "{counts:?}");

    // Deregistration drains for the delay, sending nothing new to the target.
    set_group_attributes(&h, &tg, &[("deregistration_delay.timeout_seconds", "3")]).await;
    h.elbv2()
        .deregister_targets()
        .target_group_arn(&tg)
        .targets(
            TargetDescription::builder()
                .id("127.0.0.1")
                .port(i32::from(bad.port()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let during = states().await;
    assert!(
        during.iter().any(|(p, s, r)| *p == bad.port()
            && s == "draining"
            && r.as_deref() == Some("Target.DeregistrationInProgress")),
        "{during:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let counts = spread(&c, &format!("http://{addr}/"), 20, false).await;
    assert_eq!(counts.get("good"), Some(&20), "{counts:?}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after = states().await;
    assert_eq!(after.len(), 1, "drained target gone: {after:?}");

    // Route 53 failover on the load balancer's health: a primary alias with
    // EvaluateTargetHealth, a secondary address.
    let zone = crate::route53::create_zone(&h, "health.test").await;
    let record = |id: &str, failover: &str| {
        aws_sdk_route53::types::ResourceRecordSet::builder()
            .name("app.health.test")
            .r#type(aws_sdk_route53::types::RrType::A)
            .set_identifier(id)
            .failover(aws_sdk_route53::types::ResourceRecordSetFailover::from(failover))
    };
    let primary = record("lb", "PRIMARY")
        .alias_target(
            aws_sdk_route53::types::AliasTarget::builder()
                .dns_name(&lb.dns_name)
                .hosted_zone_id("Z35SXDOTRQ7X7K")
                .evaluate_target_health(true)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let secondary = record("standby", "SECONDARY")
        .ttl(60)
        .resource_records(
            aws_sdk_route53::types::ResourceRecord::builder()
                .value("192.0.2.9")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let changes = [primary, secondary]
        .into_iter()
        .map(|r| {
            aws_sdk_route53::types::Change::builder()
                .action(aws_sdk_route53::types::ChangeAction::Create)
                .resource_record_set(r)
                .build()
                .unwrap()
        })
        .collect();
    let id = crate::route53::apply(&h, &zone, changes).await.unwrap();
    crate::route53::wait_insync(&h, &id).await;
    assert_eq!(dns_a(&h, "app.health.test").await, lb.ip, "healthy: the load balancer");

    // All targets unhealthy: the group fails open, and DNS fails over to the standby.
    good.set_health(503);
    wait_for(good.port(), "unhealthy").await;
    let r = get(&c, "GET", &format!("http://{addr}/"), &[]).await.unwrap();
    assert_eq!(r.body, "good");
    let mut answer = lb.ip;
    for _ in 0..30 {
        answer = dns_a(&h, "app.health.test").await;
        if answer.to_string() == "192.0.2.9" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        answer.to_string(),
        "192.0.2.9",
        "no healthy target: the secondary answers"
    );
}

/// Requests a DNS-validated ACM certificate for `name` in `zone` and waits until it is issued.
async fn issued_certificate(h: &Haneul, zone: &str, name: &str) -> String {
    let arn = h
        .acm()
        .request_certificate()
        .domain_name(name)
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .unwrap()
        .certificate_arn()
        .unwrap()
        .to_string();
    let record = crate::acm::validation_record(h, &arn).await;
    crate::acm::publish(h, zone, &record).await;
    crate::acm::wait_issued(h, &arn).await;
    arn
}

/// A TLS client that trusts haneul's CA; returns the peer certificate's names and the ALPN.
async fn tls_get(
    root_pem: &str,
    addr: SocketAddr,
    sni: &str,
    alpn: &[&[u8]],
) -> (
    Vec<String>,
    Option<Vec<u8>>,
    tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
) {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(root_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).unwrap();
    let tls = connector
        .connect(name, tcp)
        .await
        .expect("handshake verifies against haneul's CA");
    let (_, conn) = tls.get_ref();
    let cert = conn.peer_certificates().unwrap()[0].clone();
    let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
    let der = cert.as_ref();
    // The SANs are plain ASCII inside the DER; pick the DNS names we issued.
    let text = String::from_utf8_lossy(der);
    let names = ["a.shop.test", "b.shop.test"]
        .iter()
        .filter(|n| text.contains(*n))
        .map(|n| n.to_string())
        .collect();
    (names, alpn, tls)
}

#[tokio::test]
async fn https_listeners_serve_acm_certificates_by_sni_h2_grpc_and_route53_aliases() {
    let h = Haneul::start();
    let zone = crate::route53::create_zone(&h, "shop.test").await;
    let cert_a = issued_certificate(&h, &zone, "a.shop.test").await;
    let cert_b = issued_certificate(&h, &zone, "b.shop.test").await;
    let lb = create_lb(&h, "tls").await;
    let b = Backend::start("secure").await;
    let tg = create_tg(&h, &lb, "secure").await;
    register(&h, &tg, &[&b]).await;
    let port = free_port(lb.ip);
    let listener = h
        .elbv2()
        .create_listener()
        .load_balancer_arn(&lb.arn)
        .protocol(ProtocolEnum::Https)
        .port(i32::from(port))
        .certificates(elbv2::types::Certificate::builder().certificate_arn(&cert_a).build())
        .default_actions(forward(&tg))
        .send()
        .await
        .unwrap();
    let listener = listener.listeners()[0].clone();
    assert_eq!(listener.ssl_policy(), Some("ELBSecurityPolicy-TLS13-1-2-2021-06"));
    let listener_arn = listener.listener_arn().unwrap().to_string();
    h.elbv2()
        .add_listener_certificates()
        .listener_arn(&listener_arn)
        .certificates(elbv2::types::Certificate::builder().certificate_arn(&cert_b).build())
        .send()
        .await
        .unwrap();
    // ACM knows its certificates are in use, and refuses to delete them.
    let described = h
        .acm()
        .describe_certificate()
        .certificate_arn(&cert_b)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.certificate().unwrap().in_use_by(),
        std::slice::from_ref(&lb.arn)
    );
    let err = h
        .acm()
        .delete_certificate()
        .certificate_arn(&cert_a)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_acm::error::ProvideErrorMetadata::code(&err),
        Some("ResourceInUseException")
    );

    let root = h.raw("GET", "/_haneul/ca.pem", &[], "").await.body;
    let addr = SocketAddr::new(lb.ip, port);
    let mut names = Vec::new();
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            names = tls_get(&root, addr, "b.shop.test", &[b"http/1.1"]).await.0;
            if names == ["b.shop.test"] {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(names, ["b.shop.test"], "SNI picks the added certificate");
    let (names, _, _) = tls_get(&root, addr, "a.shop.test", &[b"http/1.1"]).await;
    assert_eq!(names, ["a.shop.test"]);

    // A renewed certificate is served from the next handshake on, no restart.
    let served = |tls: &tokio_rustls::client::TlsStream<tokio::net::TcpStream>| {
        tls.get_ref().1.peer_certificates().unwrap()[0].as_ref().to_vec()
    };
    let before = served(&tls_get(&root, addr, "a.shop.test", &[b"http/1.1"]).await.2);
    h.acm()
        .renew_certificate()
        .certificate_arn(&cert_a)
        .send()
        .await
        .unwrap();
    let mut after = before.clone();
    for _ in 0..100 {
        after = served(&tls_get(&root, addr, "a.shop.test", &[b"http/1.1"]).await.2);
        if after != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(after, before, "the renewed certificate is not served");

    // HTTP/2 by ALPN, then HTTP/1.1 to the target, with X-Forwarded-Proto https.
    let (_, alpn, tls) = tls_get(&root, addr, "a.shop.test", &[b"h2", b"http/1.1"]).await;
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get("https://a.shop.test/over-h2")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(req).await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"secure");
    assert_eq!(headers["x-seen-x-forwarded-proto"], "https");
    assert_eq!(headers["x-seen-version"], "HTTP/1.1");
    assert_eq!(headers["x-seen-host"], "a.shop.test");

    // Bodies both ways over HTTP/2: one of unknown length (chunked to the target, whose chunked
    // echo comes back decoded) and some with a length; all larger than any read buffer. The
    // target's connection goes back to the pool after each.
    let (_, _, tls) = tls_get(&root, addr, "a.shop.test", &[b"h2"]).await;
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let parts = big.chunks(70_000).map(Bytes::copy_from_slice).collect();
    let req = http::Request::post("https://a.shop.test/echo")
        .body(Frames(parts).boxed())
        .unwrap();
    let response = sender.send_request(req).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(!response.headers().contains_key("content-length"));
    let echoed = response.into_body().collect().await.unwrap().to_bytes();
    assert!(echoed == big, "echoed {} of {} bytes", echoed.len(), big.len());
    for _ in 0..3 {
        let req = http::Request::post("https://a.shop.test/echo")
            .body(http_body_util::Full::new(Bytes::from(big.clone())).boxed())
            .unwrap();
        let response = sender.send_request(req).await.unwrap();
        assert_eq!(response.headers()["content-length"], "300000");
        assert!(response.into_body().collect().await.unwrap().to_bytes() == big);
    }
    let req = http::Request::head("https://a.shop.test/over-h2")
        .body(Empty::<Bytes>::new().boxed())
        .unwrap();
    assert_eq!(sender.send_request(req).await.unwrap().status(), 200);
    // Cookies sent as separate HTTP/2 fields reach the HTTP/1.1 target in one Cookie line.
    let req = http::Request::get("https://a.shop.test/cookies")
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .body(Empty::<Bytes>::new().boxed())
        .unwrap();
    let response = sender.send_request(req).await.unwrap();
    assert_eq!(response.headers()["x-seen-cookie"], "a=1; b=2");
    // ALB's header limits hold over HTTP/2 too: one header over 16 KiB is a 400.
    let req = http::Request::get("https://a.shop.test/")
        .header("x-long", "a".repeat(17 * 1024))
        .body(Empty::<Bytes>::new().boxed())
        .unwrap();
    assert_eq!(sender.send_request(req).await.unwrap().status(), 400);

    // gRPC: a GRPC target group behind a rule; HTTP/2 end to end, trailers carried back.
    let grpc_tg = create_tg_speaking(&h, &lb, "grpc", "GRPC").await;
    let grpc = Backend::start("grpc").await;
    register(&h, &grpc_tg, &[&grpc]).await;
    h.elbv2()
        .create_rule()
        .listener_arn(&listener_arn)
        .priority(1)
        .conditions(
            RuleCondition::builder()
                .field("path-pattern")
                .values("/grpc.Echo/*")
                .build(),
        )
        .actions(forward(&grpc_tg))
        .send()
        .await
        .unwrap();
    let mut trailers = None;
    for _ in 0..50 {
        let (_, _, tls) = tls_get(&root, addr, "a.shop.test", &[b"h2"]).await;
        let (mut sender, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(tls),
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        let message = Bytes::from_static(b"\0\0\0\0\x05hello");
        let req = http::Request::post("https://a.shop.test/grpc.Echo/Say")
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(http_body_util::Full::new(message.clone()))
            .unwrap();
        let response = sender.send_request(req).await.unwrap();
        if response
            .headers()
            .get("content-type")
            .is_some_and(|v| v == "application/grpc")
        {
            assert_eq!(response.headers()["x-seen-te"], "trailers");
            let collected = response.into_body().collect().await.unwrap();
            trailers = collected.trailers().cloned();
            assert_eq!(collected.to_bytes(), message);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let trailers = trailers.expect("a gRPC response with trailers");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["x-backend"], "grpc");

    // An alias A record in Route 53 answers with the load balancer's address.
    let alias = aws_sdk_route53::types::ResourceRecordSet::builder()
        .name("www.shop.test")
        .r#type(aws_sdk_route53::types::RrType::A)
        .alias_target(
            aws_sdk_route53::types::AliasTarget::builder()
                .dns_name(format!("dualstack.{}", lb.dns_name))
                .hosted_zone_id("Z35SXDOTRQ7X7K")
                .evaluate_target_health(true)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let id = crate::route53::apply(
        &h,
        &zone,
        vec![aws_sdk_route53::types::Change::builder()
            .action(aws_sdk_route53::types::ChangeAction::Create)
            .resource_record_set(alias)
            .build()
            .unwrap()],
    )
    .await
    .unwrap();
    crate::route53::wait_insync(&h, &id).await;
    assert_eq!(dns_a(&h, "www.shop.test").await, lb.ip);
}

#[tokio::test]
async fn ssl_policies_and_account_limits_are_listed() {
    let h = Haneul::start();
    let policies = h
        .elbv2()
        .describe_ssl_policies()
        .names("ELBSecurityPolicy-TLS13-1-2-2021-06")
        .send()
        .await
        .unwrap();
    let policy = &policies.ssl_policies()[0];
    assert_eq!(policy.ssl_protocols(), ["TLSv1.2", "TLSv1.3"]);
    assert!(policy
        .ciphers()
        .iter()
        .any(|c| c.name() == Some("TLS_AES_128_GCM_SHA256")));
    let all = h.elbv2().describe_ssl_policies().send().await.unwrap();
    assert!(all.ssl_policies().len() >= 10);
    let err = h
        .elbv2()
        .describe_ssl_policies()
        .names("ELBSecurityPolicy-Nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("SSLPolicyNotFound"));
    let limits = h.elbv2().describe_account_limits().send().await.unwrap();
    let listeners = limits
        .limits()
        .iter()
        .find(|l| l.name() == Some("listeners-per-application-load-balancer"))
        .unwrap();
    assert_eq!(listeners.max(), Some("50"));
}

/// A request body sent as these frames, its length not given.
struct Frames(std::collections::VecDeque<Bytes>);

impl hyper::body::Body for Frames {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|d| Ok(hyper::body::Frame::data(d))))
    }
}
