//! ECS clusters through the `aws` CLI (the SDK crate comes with tasks and services).

use haneul_testkit::Haneul;

#[test]
fn clusters_are_created_described_updated_listed_and_deleted() {
    let h = Haneul::start();
    let made = h.aws_ok(&[
        "ecs",
        "create-cluster",
        "--cluster-name",
        "demo",
        "--settings",
        "name=containerInsights,value=enabled",
        "--capacity-providers",
        "FARGATE",
        "FARGATE_SPOT",
        "--default-capacity-provider-strategy",
        "capacityProvider=FARGATE,base=1,weight=1",
        "--tags",
        "key=team,value=web",
    ]);
    let c = &made["cluster"];
    assert_eq!(c["clusterArn"], "arn:aws:ecs:us-east-1:000000000000:cluster/demo");
    assert_eq!(c["status"], "ACTIVE");
    assert_eq!(c["settings"][0]["value"], "enabled");
    assert_eq!(c["runningTasksCount"], 0);
    // Creating it again answers with the existing cluster.
    let again = h.aws_ok(&["ecs", "create-cluster", "--cluster-name", "demo"]);
    assert_eq!(again["cluster"]["capacityProviders"][1], "FARGATE_SPOT");
    h.aws_err(
        &["ecs", "create-cluster", "--cluster-name", "bad name"],
        "InvalidParameterException",
    );
    h.aws_err(
        &[
            "ecs",
            "create-cluster",
            "--cluster-name",
            "x",
            "--capacity-providers",
            "MINE",
        ],
        "InvalidParameterException",
    );
    h.aws_err(
        &[
            "ecs",
            "create-cluster",
            "--cluster-name",
            "x",
            "--default-capacity-provider-strategy",
            "capacityProvider=FARGATE,weight=1",
        ],
        "InvalidParameterException",
    );
    h.aws_ok(&["ecs", "create-cluster"]);

    let d = h.aws_ok(&[
        "ecs",
        "describe-clusters",
        "--clusters",
        "demo",
        "nope",
        "--include",
        "TAGS",
    ]);
    assert_eq!(d["clusters"][0]["tags"][0]["key"], "team");
    assert!(d["clusters"][0]
        .get("settings")
        .is_none_or(|s| s.as_array().is_some_and(|a| a.is_empty())));
    assert_eq!(d["failures"][0]["reason"], "MISSING");
    assert_eq!(
        d["failures"][0]["arn"],
        "arn:aws:ecs:us-east-1:000000000000:cluster/nope"
    );
    let d = h.aws_ok(&["ecs", "describe-clusters"]);
    assert_eq!(
        d["clusters"][0]["clusterName"], "default",
        "no names: the default cluster"
    );

    let u = h.aws_ok(&[
        "ecs",
        "update-cluster-settings",
        "--cluster",
        "arn:aws:ecs:us-east-1:000000000000:cluster/demo",
        "--settings",
        "name=containerInsights,value=disabled",
    ]);
    assert_eq!(u["cluster"]["settings"][0]["value"], "disabled");
    h.aws_err(
        &[
            "ecs",
            "update-cluster-settings",
            "--cluster",
            "demo",
            "--settings",
            "name=containerInsights,value=maybe",
        ],
        "InvalidParameterException",
    );
    let p = h.aws_ok(&[
        "ecs",
        "put-cluster-capacity-providers",
        "--cluster",
        "demo",
        "--capacity-providers",
        "FARGATE",
        "--default-capacity-provider-strategy",
        "capacityProvider=FARGATE,weight=2",
    ]);
    assert_eq!(p["cluster"]["defaultCapacityProviderStrategy"][0]["weight"], 2);

    let listed = h.aws_ok(&["ecs", "list-clusters", "--max-items", "1"]);
    assert_eq!(listed["clusterArns"].as_array().unwrap().len(), 1);
    assert!(listed["NextToken"].is_string(), "{listed}");
    let all = h.aws_ok(&["ecs", "list-clusters"]);
    assert_eq!(all["clusterArns"].as_array().unwrap().len(), 2);

    let gone = h.aws_ok(&["ecs", "delete-cluster", "--cluster", "demo"]);
    assert_eq!(gone["cluster"]["status"], "INACTIVE");
    let d = h.aws_ok(&["ecs", "describe-clusters", "--clusters", "demo"]);
    assert_eq!(
        d["clusters"][0]["status"], "INACTIVE",
        "a deleted cluster stays describable"
    );
    h.aws_err(
        &["ecs", "delete-cluster", "--cluster", "demo"],
        "ClusterNotFoundException",
    );
    h.aws_err(
        &[
            "ecs",
            "update-cluster-settings",
            "--cluster",
            "nope",
            "--settings",
            "name=containerInsights,value=enabled",
        ],
        "ClusterNotFoundException",
    );
    let all = h.aws_ok(&["ecs", "list-clusters"]);
    assert_eq!(
        all["clusterArns"],
        serde_json::json!(["arn:aws:ecs:us-east-1:000000000000:cluster/default"])
    );
    // Recreated under the same name, it is ACTIVE again.
    let back = h.aws_ok(&["ecs", "create-cluster", "--cluster-name", "demo"]);
    assert_eq!(back["cluster"]["status"], "ACTIVE");
    // A cluster made again starts empty.
    let services = h.aws_ok(&["ecs", "list-services", "--cluster", "demo"]);
    assert_eq!(services["serviceArns"], serde_json::json!([]));
}

#[test]
fn task_definitions_register_in_revisions_and_check_fargate_sizes() {
    let h = Haneul::start();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, v: serde_json::Value| {
        let p = dir.path().join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        format!("file://{}", p.display())
    };
    let web = serde_json::json!({
        "family": "web",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{
            "name": "web",
            "image": "127.0.0.1:4566/team/app:v1",
            "portMappings": [{"containerPort": 8080, "name": "http"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "web"}}
        }],
        "tags": [{"key": "team", "value": "web"}]
    });
    let r1 = h.aws_ok(&[
        "ecs",
        "register-task-definition",
        "--cli-input-json",
        &write("web.json", web.clone()),
    ]);
    let td = &r1["taskDefinition"];
    assert_eq!(
        td["taskDefinitionArn"],
        "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"
    );
    assert_eq!(td["status"], "ACTIVE");
    assert_eq!(td["containerDefinitions"][0]["essential"], true);
    assert_eq!(
        td["containerDefinitions"][0]["portMappings"][0]["hostPort"], 8080,
        "awsvpc: hostPort = containerPort"
    );
    assert_eq!(td["compatibilities"], serde_json::json!(["EC2", "FARGATE"]));
    let r2 = h.aws_ok(&[
        "ecs",
        "register-task-definition",
        "--cli-input-json",
        &write("web.json", web.clone()),
    ]);
    assert_eq!(r2["taskDefinition"]["revision"], 2);

    let mut bad = web.clone();
    bad["memory"] = serde_json::json!("4096");
    let e = h.aws_err(
        &[
            "ecs",
            "register-task-definition",
            "--cli-input-json",
            &write("bad.json", bad),
        ],
        "ClientException",
    );
    assert!(
        e.contains("No Fargate configuration exists for given values: 256 CPU, 4096 memory"),
        "{e}"
    );
    let mut bridge = web.clone();
    bridge["networkMode"] = serde_json::json!("bridge");
    let e = h.aws_err(
        &[
            "ecs",
            "register-task-definition",
            "--cli-input-json",
            &write("b.json", bridge),
        ],
        "ClientException",
    );
    assert!(e.contains("Fargate only supports network mode 'awsvpc'"), "{e}");
    let ec2 = serde_json::json!({"family": "worker", "containerDefinitions": [{"name": "w", "image": "x"}]});
    let e = h.aws_err(
        &[
            "ecs",
            "register-task-definition",
            "--cli-input-json",
            &write("w.json", ec2),
        ],
        "ClientException",
    );
    assert!(e.contains("At least one of 'memory' or 'memoryReservation'"), "{e}");
    let ec2 =
        serde_json::json!({"family": "worker", "containerDefinitions": [{"name": "w", "image": "x", "memory": 128}]});
    h.aws_ok(&[
        "ecs",
        "register-task-definition",
        "--cli-input-json",
        &write("w.json", ec2),
    ]);

    let latest = h.aws_ok(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        "web",
        "--include",
        "TAGS",
    ]);
    assert_eq!(latest["taskDefinition"]["revision"], 2);
    assert_eq!(latest["tags"][0]["key"], "team");
    let first = h.aws_ok(&["ecs", "describe-task-definition", "--task-definition", "web:1"]);
    assert_eq!(first["taskDefinition"]["revision"], 1);
    h.aws_err(
        &["ecs", "describe-task-definition", "--task-definition", "nope"],
        "ClientException",
    );

    let listed = h.aws_ok(&[
        "ecs",
        "list-task-definitions",
        "--family-prefix",
        "web",
        "--sort",
        "DESC",
    ]);
    assert_eq!(
        listed["taskDefinitionArns"],
        serde_json::json!([
            "arn:aws:ecs:us-east-1:000000000000:task-definition/web:2",
            "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"
        ])
    );
    let families = h.aws_ok(&["ecs", "list-task-definition-families"]);
    assert_eq!(families["families"], serde_json::json!(["web", "worker"]));

    let gone = h.aws_ok(&["ecs", "deregister-task-definition", "--task-definition", "web:2"]);
    assert_eq!(gone["taskDefinition"]["status"], "INACTIVE");
    h.aws_err(
        &["ecs", "deregister-task-definition", "--task-definition", "web"],
        "ClientException",
    );
    let latest = h.aws_ok(&["ecs", "describe-task-definition", "--task-definition", "web"]);
    assert_eq!(latest["taskDefinition"]["revision"], 1, "the latest ACTIVE revision");
    let deleted = h.aws_ok(&["ecs", "delete-task-definitions", "--task-definitions", "web:2", "web:1"]);
    assert_eq!(deleted["taskDefinitions"][0]["status"], "DELETE_IN_PROGRESS");
    assert_eq!(
        deleted["failures"][0]["arn"], "web:1",
        "an ACTIVE revision is not deleted"
    );
    let again = h.aws_ok(&[
        "ecs",
        "register-task-definition",
        "--cli-input-json",
        &write("web.json", web),
    ]);
    assert_eq!(again["taskDefinition"]["revision"], 3, "revisions are never reused");
}

#[test]
fn tags_on_clusters_and_task_definitions() {
    let h = Haneul::start();
    let arn = h.aws_ok(&[
        "ecs",
        "create-cluster",
        "--cluster-name",
        "tagged",
        "--tags",
        "key=a,value=1",
    ])["cluster"]["clusterArn"]
        .as_str()
        .unwrap()
        .to_string();
    h.aws_ok(&[
        "ecs",
        "tag-resource",
        "--resource-arn",
        &arn,
        "--tags",
        "key=b,value=2",
        "key=a,value=9",
    ]);
    let tags = h.aws_ok(&["ecs", "list-tags-for-resource", "--resource-arn", &arn]);
    assert_eq!(
        tags["tags"],
        serde_json::json!([{"key": "a", "value": "9"}, {"key": "b", "value": "2"}])
    );
    h.aws_ok(&["ecs", "untag-resource", "--resource-arn", &arn, "--tag-keys", "a"]);
    let tags = h.aws_ok(&["ecs", "list-tags-for-resource", "--resource-arn", &arn]);
    assert_eq!(tags["tags"], serde_json::json!([{"key": "b", "value": "2"}]));
    h.aws_err(
        &[
            "ecs",
            "tag-resource",
            "--resource-arn",
            &arn,
            "--tags",
            "key=aws:x,value=1",
        ],
        "InvalidParameterException",
    );
    h.aws_err(
        &[
            "ecs",
            "list-tags-for-resource",
            "--resource-arn",
            "arn:aws:ecs:us-east-1:000000000000:cluster/nope",
        ],
        "ClusterNotFoundException",
    );
    let td = h.aws_ok(&[
        "ecs",
        "register-task-definition",
        "--family",
        "t",
        "--container-definitions",
        r#"[{"name":"c","image":"x","memory":64}]"#,
    ])["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .unwrap()
        .to_string();
    h.aws_ok(&["ecs", "tag-resource", "--resource-arn", &td, "--tags", "key=k,value=v"]);
    let d = h.aws_ok(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        &td,
        "--include",
        "TAGS",
    ]);
    assert_eq!(d["tags"], serde_json::json!([{"key": "k", "value": "v"}]));
    h.aws_err(
        &[
            "ecs",
            "list-tags-for-resource",
            "--resource-arn",
            "arn:aws:ecs:us-east-1:000000000000:task-definition/t:9",
        ],
        "ResourceNotFoundException",
    );
}

#[test]
fn account_settings_layer_principal_over_default_over_ecs() {
    let h = Haneul::start();
    let listed = h.aws_ok(&[
        "ecs",
        "list-account-settings",
        "--effective-settings",
        "--name",
        "containerInsights",
    ]);
    assert_eq!(listed["settings"][0]["value"], "disabled");
    assert_eq!(listed["settings"][0]["type"], "aws_managed");
    h.aws_ok(&[
        "ecs",
        "put-account-setting-default",
        "--name",
        "containerInsights",
        "--value",
        "enabled",
    ]);
    let listed = h.aws_ok(&[
        "ecs",
        "list-account-settings",
        "--effective-settings",
        "--name",
        "containerInsights",
    ]);
    assert_eq!(listed["settings"][0]["value"], "enabled");
    let role = "arn:aws:iam::000000000000:role/deployer";
    let put = h.aws_ok(&[
        "ecs",
        "put-account-setting",
        "--name",
        "containerInsights",
        "--value",
        "enhanced",
        "--principal-arn",
        role,
    ]);
    assert_eq!(put["setting"]["principalArn"], role);
    let mine = h.aws_ok(&["ecs", "list-account-settings", "--principal-arn", role]);
    assert_eq!(
        mine["settings"],
        serde_json::json!([{"name": "containerInsights", "value": "enhanced", "principalArn": role, "type": "user"}])
    );
    h.aws_ok(&[
        "ecs",
        "delete-account-setting",
        "--name",
        "containerInsights",
        "--principal-arn",
        role,
    ]);
    let mine = h.aws_ok(&["ecs", "list-account-settings", "--principal-arn", role]);
    assert_eq!(mine["settings"], serde_json::json!([]));
    h.aws_err(
        &[
            "ecs",
            "put-account-setting",
            "--name",
            "containerInsights",
            "--value",
            "maybe",
        ],
        "InvalidParameterException",
    );
    // Task protection is for running service tasks; a task that does not exist is MISSING.
    h.aws_ok(&["ecs", "create-cluster", "--cluster-name", "demo"]);
    let got = h.aws_ok(&[
        "ecs",
        "update-task-protection",
        "--cluster",
        "demo",
        "--tasks",
        "0123456789abcdef0123456789abcdef",
        "--protection-enabled",
    ]);
    assert_eq!(got["failures"][0]["reason"], "MISSING");
    h.aws_err(
        &["ecs", "list-services-by-namespace", "--namespace", "nope"],
        "NamespaceNotFoundException",
    );
}

#[test]
fn container_instances_register_carry_attributes_drain_and_deregister() {
    let h = Haneul::start();
    h.aws_ok(&["ecs", "create-cluster", "--cluster-name", "hosts"]);
    let doc = r#"{"instanceId":"i-0123456789abcdef0","availabilityZone":"us-east-1b"}"#;
    let made = h.aws_ok(&[
        "ecs",
        "register-container-instance",
        "--cluster",
        "hosts",
        "--instance-identity-document",
        doc,
        "--total-resources",
        "name=CPU,type=INTEGER,integerValue=2048",
        "name=MEMORY,type=INTEGER,integerValue=4096",
        "--version-info",
        "agentVersion=1.0.0,agentHash=haneul,dockerVersion=28.2.2",
    ]);
    let ci = &made["containerInstance"];
    let arn = ci["containerInstanceArn"].as_str().unwrap().to_string();
    assert!(
        arn.starts_with("arn:aws:ecs:us-east-1:000000000000:container-instance/hosts/"),
        "{arn}"
    );
    assert_eq!(ci["ec2InstanceId"], "i-0123456789abcdef0");
    assert_eq!(ci["status"], "ACTIVE");
    assert_eq!(ci["agentConnected"], true);
    // Registering again with the ARN is the same instance.
    let again = h.aws_ok(&[
        "ecs",
        "register-container-instance",
        "--cluster",
        "hosts",
        "--container-instance-arn",
        &arn,
        "--instance-identity-document",
        doc,
        "--total-resources",
        "name=CPU,type=INTEGER,integerValue=2048",
    ]);
    assert_eq!(again["containerInstance"]["containerInstanceArn"], arn.as_str());
    let cluster = h.aws_ok(&["ecs", "describe-clusters", "--clusters", "hosts"]);
    assert_eq!(cluster["clusters"][0]["registeredContainerInstancesCount"], 1);
    h.aws_ok(&[
        "ecs",
        "put-attributes",
        "--cluster",
        "hosts",
        "--attributes",
        &format!("name=stack,value=blue,targetType=container-instance,targetId={arn}"),
    ]);
    let blue = h.aws_ok(&[
        "ecs",
        "list-container-instances",
        "--cluster",
        "hosts",
        "--filter",
        "attribute:stack == blue",
    ]);
    assert_eq!(blue["containerInstanceArns"][0], arn.as_str());
    let green = h.aws_ok(&[
        "ecs",
        "list-container-instances",
        "--cluster",
        "hosts",
        "--filter",
        "attribute:stack == green",
    ]);
    assert_eq!(green["containerInstanceArns"], serde_json::json!([]));
    let zone = h.aws_ok(&[
        "ecs",
        "list-attributes",
        "--cluster",
        "hosts",
        "--target-type",
        "container-instance",
        "--attribute-name",
        "ecs.availability-zone",
    ]);
    assert_eq!(zone["attributes"][0]["value"], "us-east-1b");
    h.aws_err(
        &[
            "ecs",
            "put-attributes",
            "--cluster",
            "hosts",
            "--attributes",
            "name=x,value=y,targetType=container-instance,targetId=nope",
        ],
        "TargetNotFoundException",
    );
    let drained = h.aws_ok(&[
        "ecs",
        "update-container-instances-state",
        "--cluster",
        "hosts",
        "--container-instances",
        &arn,
        "--status",
        "DRAINING",
    ]);
    assert_eq!(drained["containerInstances"][0]["status"], "DRAINING");
    let poll = h.aws_ok(&[
        "ecs",
        "discover-poll-endpoint",
        "--cluster",
        "hosts",
        "--container-instance",
        &arn,
    ]);
    assert_eq!(poll["endpoint"], h.endpoint_url().as_str());
    h.aws_err(
        &["ecs", "delete-cluster", "--cluster", "hosts"],
        "ClusterContainsContainerInstancesException",
    );
    let gone = h.aws_ok(&[
        "ecs",
        "deregister-container-instance",
        "--cluster",
        "hosts",
        "--container-instance",
        &arn,
    ]);
    assert_eq!(gone["containerInstance"]["status"], "INACTIVE");
    h.aws_ok(&["ecs", "delete-cluster", "--cluster", "hosts"]);
}

#[test]
fn capacity_providers_are_created_associated_updated_and_deleted() {
    let h = Haneul::start();
    let group = "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1:autoScalingGroupName/web-asg";
    let asg = |arn: &str| format!("autoScalingGroupArn={arn},managedScaling={{status=ENABLED,targetCapacity=90}}");
    // ECS's name rules and its one-of rule, before anything is stored.
    let e = h.aws_err(
        &[
            "ecs",
            "create-capacity-provider",
            "--name",
            "fargate-x",
            "--auto-scaling-group-provider",
            &asg(group),
        ],
        "InvalidParameterException",
    );
    assert!(e.contains("cannot be prefixed"), "{e}");
    h.aws_err(
        &[
            "ecs",
            "create-capacity-provider",
            "--name",
            "web",
            "--auto-scaling-group-provider",
            "autoScalingGroupArn=nope",
        ],
        "InvalidParameterException",
    );
    let made = h.aws_ok(&[
        "ecs",
        "create-capacity-provider",
        "--name",
        "web",
        "--auto-scaling-group-provider",
        &asg(group),
        "--tags",
        "key=team,value=edge",
    ]);
    let p = &made["capacityProvider"];
    assert_eq!(
        p["capacityProviderArn"],
        "arn:aws:ecs:us-east-1:000000000000:capacity-provider/web"
    );
    assert_eq!(p["status"], "ACTIVE");
    assert_eq!(p["type"], "EC2_AUTOSCALING");
    assert_eq!(p["autoScalingGroupProvider"]["managedScaling"]["targetCapacity"], 90);
    assert_eq!(
        p["autoScalingGroupProvider"]["managedScaling"]["maximumScalingStepSize"],
        10000
    );
    assert_eq!(
        p["autoScalingGroupProvider"]["managedTerminationProtection"],
        "DISABLED"
    );
    let e = h.aws_err(
        &[
            "ecs",
            "create-capacity-provider",
            "--name",
            "web",
            "--auto-scaling-group-provider",
            &asg(group),
        ],
        "ClientException",
    );
    assert!(e.contains("already exists"), "{e}");
    let e = h.aws_err(
        &[
            "ecs",
            "create-capacity-provider",
            "--name",
            "web2",
            "--auto-scaling-group-provider",
            &asg(group),
        ],
        "ClientException",
    );
    assert!(e.contains("already being used"), "{e}");

    // Described with FARGATE and FARGATE_SPOT; a missing name is a failure.
    let all = h.aws_ok(&["ecs", "describe-capacity-providers"]);
    let names: Vec<&str> = all["capacityProviders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["FARGATE", "FARGATE_SPOT", "web"]);
    let some = h.aws_ok(&[
        "ecs",
        "describe-capacity-providers",
        "--capacity-providers",
        "web",
        "nope",
        "--include",
        "TAGS",
    ]);
    assert_eq!(some["capacityProviders"][0]["tags"][0]["value"], "edge");
    assert_eq!(some["failures"][0]["reason"], "MISSING");

    // Associated with a cluster, it can be in its strategy and cannot be deleted.
    h.aws_ok(&["ecs", "create-cluster", "--cluster-name", "cp"]);
    h.aws_err(
        &[
            "ecs",
            "put-cluster-capacity-providers",
            "--cluster",
            "cp",
            "--capacity-providers",
            "nope",
            "--default-capacity-provider-strategy",
            "capacityProvider=nope,weight=1",
        ],
        "InvalidParameterException",
    );
    let put = h.aws_ok(&[
        "ecs",
        "put-cluster-capacity-providers",
        "--cluster",
        "cp",
        "--capacity-providers",
        "web",
        "FARGATE",
        "--default-capacity-provider-strategy",
        "capacityProvider=web,weight=1,base=1",
    ]);
    assert_eq!(
        put["cluster"]["capacityProviders"],
        serde_json::json!(["web", "FARGATE"])
    );
    let e = h.aws_err(
        &["ecs", "delete-capacity-provider", "--capacity-provider", "web"],
        "ClientException",
    );
    assert!(e.contains("in use"), "{e}");
    // A task through it needs its agents: there are none.
    h.aws_err(
        &[
            "ecs",
            "register-container-instance",
            "--cluster",
            "cp",
            "--attributes",
            "name=haneul.capacity-provider,value=nope",
            "--total-resources",
            "name=CPU,type=INTEGER,integerValue=1024",
        ],
        "InvalidParameterException",
    );

    let updated = h.aws_ok(&[
        "ecs",
        "update-capacity-provider",
        "--name",
        "web",
        "--auto-scaling-group-provider",
        "managedScaling={targetCapacity=50},managedDraining=DISABLED",
    ]);
    let p = &updated["capacityProvider"];
    assert_eq!(p["updateStatus"], "UPDATE_COMPLETE");
    assert_eq!(p["autoScalingGroupProvider"]["managedScaling"]["targetCapacity"], 50);
    assert_eq!(p["autoScalingGroupProvider"]["managedScaling"]["status"], "ENABLED");
    assert_eq!(p["autoScalingGroupProvider"]["managedDraining"], "DISABLED");

    h.aws_ok(&[
        "ecs",
        "put-cluster-capacity-providers",
        "--cluster",
        "cp",
        "--capacity-providers",
        "FARGATE",
        "--default-capacity-provider-strategy",
        "capacityProvider=FARGATE,weight=1",
    ]);
    let gone = h.aws_ok(&[
        "ecs",
        "delete-capacity-provider",
        "--capacity-provider",
        "arn:aws:ecs:us-east-1:000000000000:capacity-provider/web",
    ]);
    assert_eq!(gone["capacityProvider"]["status"], "INACTIVE");
    assert_eq!(gone["capacityProvider"]["updateStatus"], "DELETE_COMPLETE");
    let all = h.aws_ok(&["ecs", "describe-capacity-providers"]);
    assert_eq!(all["capacityProviders"].as_array().unwrap().len(), 2);
    let e = h.aws_err(
        &[
            "ecs",
            "update-capacity-provider",
            "--name",
            "web",
            "--auto-scaling-group-provider",
            "managedDraining=ENABLED",
        ],
        "InvalidParameterException",
    );
    assert!(e.contains("does not exist"), "{e}");
}

/// What a task takes is booked on its container instance when placed and given back when
/// it stops: remainingResources, the filters' runningTasksCount and task:group, and
/// placement all see it.
#[test]
fn tasks_book_and_give_back_resources_on_their_container_instance() {
    let h = Haneul::start();
    h.aws_ok(&["ecs", "create-cluster", "--cluster-name", "hosts"]);
    let made = h.aws_ok(&[
        "ecs",
        "register-container-instance",
        "--cluster",
        "hosts",
        "--instance-identity-document",
        r#"{"instanceId":"i-0fedcba9876543210","availabilityZone":"us-east-1a","privateIp":"127.0.0.9"}"#,
        "--total-resources",
        "name=CPU,type=INTEGER,integerValue=1024",
        "name=MEMORY,type=INTEGER,integerValue=1000",
        "name=PORTS,type=STRINGSET,stringSetValue=22",
    ]);
    let instance = made["containerInstance"]["containerInstanceArn"]
        .as_str()
        .unwrap()
        .to_string();
    h.aws_ok(&[
        "ecs",
        "register-task-definition",
        "--family",
        "big",
        "--container-definitions",
        r#"[{"name":"app","image":"busybox","cpu":256,"memory":600,"portMappings":[{"containerPort":80,"hostPort":8081}]}]"#,
    ]);
    let remaining = |h: &Haneul| -> (i64, i64, Vec<String>) {
        let d = h.aws_ok(&[
            "ecs",
            "describe-container-instances",
            "--cluster",
            "hosts",
            "--container-instances",
            &instance,
        ]);
        let r = d["containerInstances"][0]["remainingResources"]
            .as_array()
            .unwrap()
            .clone();
        let int = |name: &str| {
            r.iter()
                .find(|x| x["name"] == name)
                .and_then(|x| x["integerValue"].as_i64())
                .unwrap()
        };
        let ports = r
            .iter()
            .find(|x| x["name"] == "PORTS")
            .and_then(|x| x["stringSetValue"].as_array())
            .map(|a| a.iter().map(|p| p.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        (int("CPU"), int("MEMORY"), ports)
    };
    let filtered = |h: &Haneul, filter: &str| -> usize {
        h.aws_ok(&[
            "ecs",
            "list-container-instances",
            "--cluster",
            "hosts",
            "--filter",
            filter,
        ])["containerInstanceArns"]
            .as_array()
            .unwrap()
            .len()
    };
    let run_big = |h: &Haneul| {
        h.aws_ok(&[
            "ecs",
            "run-task",
            "--cluster",
            "hosts",
            "--task-definition",
            "big",
            "--launch-type",
            "EC2",
        ])
    };
    assert_eq!(remaining(&h).0, 1024);
    let ran = run_big(&h);
    let task = ran["tasks"][0]["taskArn"].as_str().unwrap().to_string();
    assert_eq!(ran["tasks"][0]["containerInstanceArn"], instance.as_str());
    let (cpu, memory, ports) = remaining(&h);
    assert_eq!((cpu, memory), (768, 400));
    assert!(ports.contains(&"8081".to_string()), "{ports:?}");
    assert_eq!(filtered(&h, "runningTasksCount == 1"), 1);
    assert_eq!(filtered(&h, "task:group == family:big"), 1);
    assert_eq!(filtered(&h, "task:group == family:other"), 0);
    // No room for a second one.
    let full = run_big(&h);
    assert_eq!(full["tasks"].as_array().unwrap().len(), 0);
    assert_eq!(full["failures"][0]["reason"], "RESOURCE:MEMORY");
    // The agent reports the task stopped: what it took is free again.
    h.aws_ok(&[
        "ecs",
        "submit-task-state-change",
        "--cluster",
        "hosts",
        "--task",
        &task,
        "--status",
        "STOPPED",
        "--reason",
        "Essential container in task exited",
    ]);
    let (cpu, memory, ports) = remaining(&h);
    assert_eq!((cpu, memory), (1024, 1000));
    assert!(!ports.contains(&"8081".to_string()), "{ports:?}");
    assert_eq!(filtered(&h, "runningTasksCount == 0"), 1);
    let again = run_big(&h);
    assert_eq!(again["tasks"].as_array().unwrap().len(), 1, "{again}");

    // The container instance is an EC2 instance `instance` target groups can name.
    let vpc = h.aws_ok(&["ec2", "describe-vpcs", "--query", "Vpcs[0].VpcId"]);
    let tg = h.aws_ok(&[
        "elbv2",
        "create-target-group",
        "--name",
        "by-instance",
        "--protocol",
        "HTTP",
        "--port",
        "80",
        "--target-type",
        "instance",
        "--vpc-id",
        vpc.as_str().unwrap(),
    ])["TargetGroups"][0]["TargetGroupArn"]
        .as_str()
        .unwrap()
        .to_string();
    h.aws_ok(&[
        "elbv2",
        "register-targets",
        "--target-group-arn",
        &tg,
        "--targets",
        "Id=i-0fedcba9876543210,Port=8081",
    ]);
    let health = h.aws_ok(&["elbv2", "describe-target-health", "--target-group-arn", &tg]);
    assert_eq!(
        health["TargetHealthDescriptions"][0]["Target"]["Id"],
        "i-0fedcba9876543210"
    );
    assert_eq!(health["TargetHealthDescriptions"][0]["Target"]["Port"], 8081);
    h.aws_err(
        &[
            "elbv2",
            "register-targets",
            "--target-group-arn",
            &tg,
            "--targets",
            "Id=i-00000000000000000",
        ],
        "InvalidTarget",
    );
}
