//! ELBv2 through the `aws` CLI: load balancers get an address from `--lb-cidr` and a DNSName
//! haneul's DNS resolves; target groups; ELBv2's errors.

use haneul_testkit::Haneul;
use hickory_proto::rr::RecordType;

use crate::support::{answer_values, dns_udp};

fn default_subnets(h: &Haneul) -> Vec<String> {
    let out = h.aws_ok(&[
        "ec2",
        "describe-subnets",
        "--filters",
        "Name=default-for-az,Values=true",
    ]);
    let mut ids: Vec<String> = out["Subnets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["SubnetId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn load_balancers_get_an_address_their_dns_name_resolves_to() {
    let h = Haneul::start();
    let subnets = default_subnets(&h);
    let created = h.aws_ok(&[
        "elbv2",
        "create-load-balancer",
        "--name",
        "web",
        "--subnets",
        &subnets[0],
        &subnets[1],
    ]);
    let lb = &created["LoadBalancers"][0];
    assert_eq!(lb["State"]["Code"], "provisioning");
    assert_eq!(lb["Scheme"], "internet-facing");
    assert_eq!(lb["Type"], "application");
    let arn = lb["LoadBalancerArn"].as_str().unwrap().to_string();
    assert!(arn.starts_with("arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/"));
    let dns_name = lb["DNSName"].as_str().unwrap().to_string();
    assert!(dns_name.starts_with("web-") && dns_name.ends_with(".us-east-1.elb.amazonaws.com"));
    assert_eq!(
        lb["SecurityGroups"].as_array().unwrap().len(),
        1,
        "the VPC's default group"
    );

    // The DNSName resolves to the load balancer's own address from --lb-cidr.
    let mut answer = Vec::new();
    for _ in 0..100 {
        answer = answer_values(&dns_udp(h.dns_addr, &format!("{dns_name}."), RecordType::A, None).await);
        if !answer.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(answer, [h.lb_cidr.replace("0/24", "1")]);
    let second = h.aws_ok(&[
        "elbv2",
        "create-load-balancer",
        "--name",
        "api",
        "--scheme",
        "internal",
        "--subnets",
        &subnets[1],
        &subnets[2],
    ]);
    let second_name = second["LoadBalancers"][0]["DNSName"].as_str().unwrap().to_string();
    assert!(second_name.starts_with("internal-api-"));

    let described = h.aws_ok(&["elbv2", "describe-load-balancers", "--names", "web"]);
    assert_eq!(described["LoadBalancers"][0]["State"]["Code"], "active");
    let all = h.aws_ok(&["elbv2", "describe-load-balancers"]);
    assert_eq!(all["LoadBalancers"].as_array().unwrap().len(), 2);

    // ELBv2's errors; nothing half-made.
    h.aws_err(
        &[
            "elbv2",
            "create-load-balancer",
            "--name",
            "web",
            "--subnets",
            &subnets[1],
            &subnets[2],
        ],
        "DuplicateLoadBalancerName",
    );
    h.aws_err(
        &[
            "elbv2",
            "create-load-balancer",
            "--name",
            "one-az",
            "--subnets",
            &subnets[0],
        ],
        "ValidationError",
    );
    h.aws_err(
        &[
            "elbv2",
            "create-load-balancer",
            "--name",
            "nope",
            "--subnets",
            "subnet-0123456789abcdef0",
            &subnets[0],
        ],
        "SubnetNotFound",
    );
    h.aws_err(
        &[
            "elbv2",
            "create-load-balancer",
            "--name=-bad",
            "--subnets",
            &subnets[0],
            &subnets[1],
        ],
        "ValidationError",
    );
    h.aws_err(
        &[
            "elbv2",
            "create-load-balancer",
            "--name",
            "sg",
            "--subnets",
            &subnets[0],
            &subnets[1],
            "--security-groups",
            "sg-0123456789abcdef0",
        ],
        "InvalidSecurityGroup",
    );
    h.aws_err(
        &["elbv2", "describe-load-balancers", "--names", "missing"],
        "LoadBalancerNotFound",
    );

    // Target groups.
    let vpc = h.aws_ok(&["ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true"])["Vpcs"][0]["VpcId"]
        .as_str()
        .unwrap()
        .to_string();
    let tg = h.aws_ok(&[
        "elbv2",
        "create-target-group",
        "--name",
        "api",
        "--protocol",
        "HTTP",
        "--port",
        "8080",
        "--target-type",
        "ip",
        "--vpc-id",
        &vpc,
        "--health-check-path",
        "/health",
    ]);
    let tg = &tg["TargetGroups"][0];
    assert_eq!(tg["HealthCheckPath"], "/health");
    assert_eq!(tg["HealthCheckPort"], "traffic-port");
    assert_eq!(tg["Matcher"]["HttpCode"], "200");
    assert_eq!(tg["ProtocolVersion"], "HTTP1");
    h.aws_err(
        &[
            "elbv2",
            "create-target-group",
            "--name",
            "api",
            "--protocol",
            "HTTP",
            "--port",
            "9090",
            "--vpc-id",
            &vpc,
        ],
        "DuplicateTargetGroupName",
    );
    h.aws_err(
        &[
            "elbv2",
            "create-target-group",
            "--name",
            "novpc",
            "--protocol",
            "HTTP",
            "--port",
            "80",
        ],
        "ValidationError",
    );
    let listed = h.aws_ok(&["elbv2", "describe-target-groups", "--names", "api"]);
    assert_eq!(listed["TargetGroups"][0]["Port"], 8080);

    // Health check settings and attributes, with ALB's bounds.
    let tg_arn0 = tg["TargetGroupArn"].as_str().unwrap().to_string();
    let modified = h.aws_ok(&[
        "elbv2",
        "modify-target-group",
        "--target-group-arn",
        &tg_arn0,
        "--health-check-interval-seconds",
        "10",
        "--health-check-timeout-seconds",
        "3",
        "--matcher",
        "HttpCode=200-299",
    ]);
    assert_eq!(modified["TargetGroups"][0]["HealthCheckIntervalSeconds"], 10);
    assert_eq!(modified["TargetGroups"][0]["Matcher"]["HttpCode"], "200-299");
    h.aws_err(
        &[
            "elbv2",
            "modify-target-group",
            "--target-group-arn",
            &tg_arn0,
            "--health-check-timeout-seconds",
            "20",
        ],
        "ValidationError",
    );
    let tga = h.aws_ok(&[
        "elbv2",
        "describe-target-group-attributes",
        "--target-group-arn",
        &tg_arn0,
    ]);
    let attr = |v: &serde_json::Value, key: &str| {
        v["Attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["Key"] == key)
            .unwrap()["Value"]
            .clone()
    };
    assert_eq!(attr(&tga, "deregistration_delay.timeout_seconds"), "300");
    assert_eq!(attr(&tga, "load_balancing.algorithm.type"), "round_robin");
    let tga = h.aws_ok(&[
        "elbv2",
        "modify-target-group-attributes",
        "--target-group-arn",
        &tg_arn0,
        "--attributes",
        "Key=stickiness.enabled,Value=true",
        "Key=load_balancing.algorithm.type,Value=least_outstanding_requests",
    ]);
    assert_eq!(attr(&tga, "stickiness.enabled"), "true");
    h.aws_err(
        &[
            "elbv2",
            "modify-target-group-attributes",
            "--target-group-arn",
            &tg_arn0,
            "--attributes",
            "Key=slow_start.duration_seconds,Value=10",
        ],
        "ValidationError",
    );
    h.aws_err(
        &[
            "elbv2",
            "modify-target-group-attributes",
            "--target-group-arn",
            &tg_arn0,
            "--attributes",
            "Key=stickiness.type,Value=app_cookie",
        ],
        "ValidationError",
    );

    // Targets: IP addresses, the group's port by default; unused until a load balancer uses them.
    let tg_arn = tg["TargetGroupArn"].as_str().unwrap().to_string();
    h.aws_ok(&[
        "elbv2",
        "register-targets",
        "--target-group-arn",
        &tg_arn,
        "--targets",
        "Id=127.0.0.1,Port=8081",
        "Id=127.0.0.1",
    ]);
    let health = h.aws_ok(&["elbv2", "describe-target-health", "--target-group-arn", &tg_arn]);
    let descriptions = health["TargetHealthDescriptions"].as_array().unwrap();
    assert_eq!(descriptions.len(), 2);
    assert_eq!(descriptions[1]["Target"]["Port"], 8080);
    assert_eq!(descriptions[0]["TargetHealth"]["State"], "unused");
    assert_eq!(descriptions[0]["TargetHealth"]["Reason"], "Target.NotInUse");
    h.aws_err(
        &[
            "elbv2",
            "register-targets",
            "--target-group-arn",
            &tg_arn,
            "--targets",
            "Id=not-an-ip",
        ],
        "InvalidTarget",
    );
    h.aws_ok(&[
        "elbv2",
        "deregister-targets",
        "--target-group-arn",
        &tg_arn,
        "--targets",
        "Id=127.0.0.1,Port=8081",
    ]);
    h.aws_err(
        &[
            "elbv2",
            "deregister-targets",
            "--target-group-arn",
            &tg_arn,
            "--targets",
            "Id=127.0.0.1,Port=8081",
        ],
        "InvalidTarget",
    );
    let health = h.aws_ok(&[
        "elbv2",
        "describe-target-health",
        "--target-group-arn",
        &tg_arn,
        "--targets",
        "Id=127.0.0.1,Port=8081",
    ]);
    assert_eq!(
        health["TargetHealthDescriptions"][0]["TargetHealth"]["State"],
        "unavailable"
    );
    h.aws_ok(&[
        "elbv2",
        "delete-target-group",
        "--target-group-arn",
        tg["TargetGroupArn"].as_str().unwrap(),
    ]);
    h.aws_err(
        &["elbv2", "describe-target-groups", "--names", "api"],
        "TargetGroupNotFound",
    );

    // Tags on load balancers and target groups.
    h.aws_ok(&[
        "elbv2",
        "add-tags",
        "--resource-arns",
        &arn,
        "--tags",
        "Key=team,Value=edge",
        "Key=env,Value=dev",
    ]);
    h.aws_ok(&["elbv2", "remove-tags", "--resource-arns", &arn, "--tag-keys", "env"]);
    let tags = h.aws_ok(&["elbv2", "describe-tags", "--resource-arns", &arn]);
    assert_eq!(
        tags["TagDescriptions"][0]["Tags"],
        serde_json::json!([{ "Key": "team", "Value": "edge" }])
    );
    h.aws_err(
        &[
            "elbv2",
            "add-tags",
            "--resource-arns",
            &arn,
            "--tags",
            "Key=a,Value=1",
            "Key=a,Value=2",
        ],
        "DuplicateTagKeys",
    );
    h.aws_err(
        &[
            "elbv2",
            "describe-tags",
            "--resource-arns",
            "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/gone/0123456789abcdef",
        ],
        "LoadBalancerNotFound",
    );

    // Attributes: ALB's defaults; deletion protection guards the load balancer.
    let attrs = h.aws_ok(&[
        "elbv2",
        "describe-load-balancer-attributes",
        "--load-balancer-arn",
        &arn,
    ]);
    let value = |attrs: &serde_json::Value, key: &str| {
        attrs["Attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["Key"] == key)
            .unwrap()["Value"]
            .clone()
    };
    assert_eq!(value(&attrs, "idle_timeout.timeout_seconds"), "60");
    assert_eq!(value(&attrs, "routing.http2.enabled"), "true");
    let changed = h.aws_ok(&[
        "elbv2",
        "modify-load-balancer-attributes",
        "--load-balancer-arn",
        &arn,
        "--attributes",
        "Key=deletion_protection.enabled,Value=true",
        "Key=idle_timeout.timeout_seconds,Value=120",
    ]);
    assert_eq!(value(&changed, "idle_timeout.timeout_seconds"), "120");
    h.aws_err(
        &[
            "elbv2",
            "modify-load-balancer-attributes",
            "--load-balancer-arn",
            &arn,
            "--attributes",
            "Key=idle_timeout.timeout_seconds,Value=9999",
        ],
        "ValidationError",
    );
    h.aws_err(
        &[
            "elbv2",
            "modify-load-balancer-attributes",
            "--load-balancer-arn",
            &arn,
            "--attributes",
            "Key=no.such.key,Value=1",
        ],
        "ValidationError",
    );
    h.aws_err(
        &["elbv2", "delete-load-balancer", "--load-balancer-arn", &arn],
        "OperationNotPermitted",
    );
    h.aws_ok(&[
        "elbv2",
        "modify-load-balancer-attributes",
        "--load-balancer-arn",
        &arn,
        "--attributes",
        "Key=deletion_protection.enabled,Value=false",
    ]);

    // Deleting frees the name and the DNS name.
    h.aws_ok(&["elbv2", "delete-load-balancer", "--load-balancer-arn", &arn]);
    h.aws_ok(&["elbv2", "delete-load-balancer", "--load-balancer-arn", &arn]);
    for _ in 0..100 {
        let reply = dns_udp(h.dns_addr, &format!("{dns_name}."), RecordType::A, None).await;
        if answer_values(&reply).is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{dns_name} still resolves after the load balancer was deleted");
}
