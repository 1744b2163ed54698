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
    // What is not built yet says so.
    h.aws_err(&["ecs", "list-services", "--cluster", "demo"], "NotImplemented");
}
