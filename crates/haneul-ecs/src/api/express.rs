//! Express gateway services (ECS Express Mode): an image in, a served web service out.
//! CreateExpressGatewayService registers a task definition, makes an Application Load
//! Balancer with an HTTP listener and an ip target group through haneul's ELBv2 (its
//! endpoint is the load balancer's DNS name), and a FARGATE service behind it with
//! minTaskCount tasks; Update rolls out a new configuration, Delete drains the service and
//! removes what Create made. ECS's own endpoint is HTTPS on an AWS-owned domain; here it is
//! the load balancer's name in haneul's DNS. There is no Application Auto Scaling: the
//! service runs minTaskCount tasks.

use std::sync::Arc;

use haneul_store::Scope;
use haneul_wire::{RequestContext, Service as WireService};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::EcsError;
use crate::generated as api;
use crate::model::{cluster_name, SEP};
use crate::{parse, scope, Ecs};

pub const KIND_EXPRESS: &str = "ecs.express_gateway_service";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpressService {
    pub name: String,
    pub cluster: String,
    pub service_arn: String,
    pub infrastructure_role_arn: String,
    /// ACTIVE, DRAINING or INACTIVE.
    pub status: String,
    pub created_at: f64,
    pub updated_at: f64,
    pub load_balancer_arn: String,
    pub listener_arn: String,
    pub target_group_arn: String,
    pub endpoint: String,
    /// The configuration as the API shows it (ExpressGatewayServiceConfiguration).
    pub configuration: Value,
    pub tags: Value,
}

fn invalid(msg: impl Into<String>) -> EcsError {
    EcsError::InvalidParameter(msg.into())
}

fn key(cluster: &str, name: &str) -> String {
    format!("{cluster}{SEP}{name}")
}

fn elbv2(ecs: &Ecs) -> Result<Arc<dyn WireService>, EcsError> {
    ecs.elbv2()
        .ok_or_else(|| EcsError::Client("Express gateway services need the load balancer service.".into()))
}

/// One ELBv2 operation, in-process, as the caller.
async fn elb(ecs: &Ecs, ctx: &RequestContext, operation: &str, input: Value) -> Result<Value, EcsError> {
    elbv2(ecs)?
        .call(ctx, operation, input)
        .await
        .map_err(|e| EcsError::Client(format!("{operation}: {}: {}", e.code, e.message)))
}

fn check_role(name: &str, arn: &str) -> Result<(), EcsError> {
    if !arn.starts_with("arn:aws:iam::") || !arn.contains(":role/") {
        return Err(invalid(format!("{name} must be an IAM role ARN: {arn}")));
    }
    Ok(())
}

/// The default VPC's subnets and its default security group (made on first use, as EC2 does).
async fn default_network(ecs: &Ecs, scope: &Scope) -> Result<(Vec<String>, Vec<String>), EcsError> {
    let scope = scope.clone();
    ecs.store
        .write(move |t| {
            haneul_ec2::defaults::ensure_in(t, &scope).map_err(|e| invalid(e.to_string()))?;
            let vpc = haneul_ec2::defaults::default_vpc_id(t, &scope)
                .map_err(|e| invalid(e.to_string()))?
                .ok_or_else(|| invalid("There is no default VPC: give networkConfiguration subnets."))?;
            let subnets: Vec<String> = t
                .list_prefix::<haneul_ec2::model::Subnet>(&scope, haneul_ec2::model::KIND_SUBNET, "")?
                .into_iter()
                .map(|(_, s)| s)
                .filter(|s| s.vpc_id == vpc && s.default_for_az)
                .map(|s| s.subnet_id)
                .collect();
            let groups: Vec<String> = t
                .list_prefix::<haneul_ec2::model::SecurityGroup>(&scope, haneul_ec2::model::KIND_SECURITY_GROUP, "")?
                .into_iter()
                .map(|(_, g)| g)
                .filter(|g| g.vpc_id == vpc && g.group_name == "default")
                .map(|g| g.group_id)
                .collect();
            Ok::<_, EcsError>((subnets, groups))
        })
        .await
}

async fn vpc_of(ecs: &Ecs, scope: &Scope, subnet: &str) -> Result<String, EcsError> {
    let (scope, subnet) = (scope.clone(), subnet.to_string());
    ecs.store
        .read(move |t| {
            t.get::<haneul_ec2::model::Subnet>(&scope, haneul_ec2::model::KIND_SUBNET, &subnet)?
                .map(|s| s.vpc_id)
                .ok_or_else(|| invalid(format!("The subnet ID '{subnet}' does not exist")))
        })
        .await
}

/// The task definition an express configuration runs (registered in family `name`).
fn definition_input(name: &str, cluster: &str, config: &Value) -> Value {
    let c = &config["primaryContainer"];
    let port = c["containerPort"].as_i64().unwrap_or(80);
    let logs = &c["awsLogsConfiguration"];
    let mut container = json!({
        "name": "Main",
        "image": c["image"],
        "essential": true,
        "portMappings": [{ "containerPort": port, "protocol": "tcp" }],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": logs["logGroup"].as_str().map(str::to_string).unwrap_or_else(|| format!("/aws/ecs/{cluster}/{name}")),
                "awslogs-stream-prefix": logs["logStreamPrefix"].as_str().unwrap_or("ecs"),
                "awslogs-create-group": "true",
            },
        },
    });
    for k in ["command", "environment", "secrets", "repositoryCredentials"] {
        if let Some(v) = c.get(k) {
            container[k] = v.clone();
        }
    }
    let mut input = json!({
        "family": name,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": config["cpu"],
        "memory": config["memory"],
        "executionRoleArn": config["executionRoleArn"],
        "containerDefinitions": [container],
    });
    if let Some(r) = config.get("taskRoleArn").filter(|r| !r.is_null()) {
        input["taskRoleArn"] = r.clone();
    }
    input
}

fn min_tasks(config: &Value) -> i64 {
    config["scalingTarget"]["minTaskCount"].as_i64().unwrap_or(1)
}

/// What a Create or Update gives for a configuration.
struct Given<'a> {
    primary: &'a api::ExpressGatewayContainer,
    cpu: Option<&'a str>,
    memory: Option<&'a str>,
    execution_role: &'a str,
    task_role: Option<&'a str>,
    health_check_path: Option<&'a str>,
    subnets: &'a [String],
    groups: &'a [String],
    scaling: Option<&'a api::ExpressGatewayScalingTarget>,
}

/// The configuration as given, with Express's defaults.
fn configuration(g: Given<'_>) -> Result<Value, EcsError> {
    let Given {
        primary,
        cpu,
        memory,
        execution_role,
        task_role,
        health_check_path,
        subnets,
        groups,
        scaling,
    } = g;
    if primary.image.trim().is_empty() {
        return Err(invalid("primaryContainer.image should not be null or empty."));
    }
    let mut container = serde_json::to_value(primary).map_err(|e| invalid(e.to_string()))?;
    if container.get("containerPort").is_none() {
        container["containerPort"] = json!(80);
    }
    let mut scaling = scaling
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| invalid(e.to_string()))?
        .unwrap_or_else(|| json!({}));
    for (k, d) in [
        ("minTaskCount", json!(1)),
        ("maxTaskCount", json!(20)),
        ("autoScalingMetric", json!("AVERAGE_CPU")),
        ("autoScalingTargetValue", json!(60)),
    ] {
        if scaling.get(k).is_none() {
            scaling[k] = d;
        }
    }
    let (min, max) = (
        scaling["minTaskCount"].as_i64().unwrap_or(1),
        scaling["maxTaskCount"].as_i64().unwrap_or(20),
    );
    if min < 1 || max < min {
        return Err(invalid(
            "scalingTarget: minTaskCount must be at least 1 and at most maxTaskCount.",
        ));
    }
    let path = health_check_path.unwrap_or("/ping");
    if !path.starts_with('/') {
        return Err(invalid("healthCheckPath must start with /."));
    }
    let mut v = json!({
        "cpu": cpu.unwrap_or("1024"),
        "memory": memory.unwrap_or("2048"),
        "executionRoleArn": execution_role,
        "healthCheckPath": path,
        "networkConfiguration": { "subnets": subnets, "securityGroups": groups },
        "primaryContainer": container,
        "scalingTarget": scaling,
        "createdAt": haneul_wire::value::now_epoch_s(),
    });
    if let Some(r) = task_role {
        v["taskRoleArn"] = json!(r);
    }
    Ok(v)
}

fn view(x: &ExpressService, region: &str, account: &str, with_tags: bool) -> Value {
    let mut configuration = x.configuration.clone();
    configuration["ingressPaths"] = json!([{ "accessType": "PUBLIC", "endpoint": x.endpoint }]);
    let mut v = json!({
        "serviceArn": x.service_arn,
        "serviceName": x.name,
        "cluster": crate::model::cluster_arn(region, account, &x.cluster),
        "infrastructureRoleArn": x.infrastructure_role_arn,
        "status": { "statusCode": x.status },
        "activeConfigurations": [configuration],
        "createdAt": x.created_at,
        "updatedAt": x.updated_at,
    });
    if with_tags {
        v["tags"] = x.tags.clone();
    }
    v
}

/// What Create made, removed again (best effort, newest first).
async fn undo(ecs: &Ecs, ctx: &RequestContext, made: &[(&'static str, String)]) {
    for (what, arn) in made.iter().rev() {
        let result = match *what {
            "listener" => elb(ecs, ctx, "DeleteListener", json!({ "ListenerArn": arn })).await,
            "lb" => elb(ecs, ctx, "DeleteLoadBalancer", json!({ "LoadBalancerArn": arn })).await,
            "tg" => elb(ecs, ctx, "DeleteTargetGroup", json!({ "TargetGroupArn": arn })).await,
            "td" => crate::api::task_definitions::deregister(ecs, ctx, json!({ "taskDefinition": arn })).await,
            _ => Ok(Value::Null),
        };
        if let Err(e) = result {
            tracing::warn!(resource = %arn, error = %e, "cannot remove what an express service made");
        }
    }
}

pub async fn create(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::CreateExpressGatewayServiceRequest = parse(input)?;
    check_role("executionRoleArn", &input.execution_role_arn)?;
    check_role("infrastructureRoleArn", &input.infrastructure_role_arn)?;
    if let Some(r) = &input.task_role_arn {
        check_role("taskRoleArn", r)?;
    }
    let scope = scope(ctx);
    let cluster = cluster_name(input.cluster.as_deref()).to_string();
    // Express creates the default cluster when it is missing.
    if cluster == "default" {
        crate::api::clusters::create(ecs, ctx, json!({ "clusterName": "default" })).await?;
    }
    let name = match &input.service_name {
        Some(n) => n.clone(),
        None => {
            let repo = input.primary_container.image.rsplit('/').next().unwrap_or("app");
            let repo: String = repo
                .split([':', '@'])
                .next()
                .unwrap_or("app")
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            format!(
                "{}-{}",
                if repo.is_empty() { "app" } else { &repo },
                crate::api::tasks::hex(4)
            )
        }
    };
    let given = input.network_configuration.clone().unwrap_or_default();
    let (subnets, groups) = if given.subnets.is_empty() {
        let (s, g) = default_network(ecs, &scope).await?;
        (
            s,
            if given.security_groups.is_empty() {
                g
            } else {
                given.security_groups.clone()
            },
        )
    } else if given.security_groups.is_empty() {
        (given.subnets.clone(), default_network(ecs, &scope).await?.1)
    } else {
        (given.subnets.clone(), given.security_groups.clone())
    };
    let first_subnet = subnets
        .first()
        .ok_or_else(|| invalid("networkConfiguration needs subnets."))?;
    let vpc = vpc_of(ecs, &scope, first_subnet).await?;
    let config = configuration(Given {
        primary: &input.primary_container,
        cpu: input.cpu.as_deref(),
        memory: input.memory.as_deref(),
        execution_role: &input.execution_role_arn,
        task_role: input.task_role_arn.as_deref(),
        health_check_path: input.health_check_path.as_deref(),
        subnets: &subnets,
        groups: &groups,
        scaling: input.scaling_target.as_ref(),
    })?;
    let exists_key = key(&cluster, &name);
    let sc = scope.clone();
    let existing = ecs
        .store
        .read(move |t| t.get::<ExpressService>(&sc, KIND_EXPRESS, &exists_key))
        .await?;
    if existing.is_some_and(|x| x.status != "INACTIVE") {
        return Err(invalid("Creation of service was not idempotent."));
    }
    let mut made: Vec<(&'static str, String)> = Vec::new();
    let result = provision(ecs, ctx, &cluster, &name, &vpc, &subnets, &groups, &config, &mut made).await;
    let (lb, listener, tg, endpoint, service_arn) = match result {
        Ok(r) => r,
        Err(e) => {
            undo(ecs, ctx, &made).await;
            return Err(e);
        }
    };
    let now = haneul_wire::value::now_epoch_s();
    let record = ExpressService {
        name: name.clone(),
        cluster: cluster.clone(),
        service_arn,
        infrastructure_role_arn: input.infrastructure_role_arn.clone(),
        status: "ACTIVE".into(),
        created_at: now,
        updated_at: now,
        load_balancer_arn: lb,
        listener_arn: listener,
        target_group_arn: tg,
        endpoint,
        configuration: config,
        tags: serde_json::to_value(&input.tags).map_err(|e| invalid(e.to_string()))?,
    };
    let stored = record.clone();
    ecs.store
        .write(move |t| t.put(&scope, KIND_EXPRESS, &key(&stored.cluster, &stored.name), &stored))
        .await?;
    Ok(json!({ "service": view(&record, &ctx.region, &ctx.account_id, true) }))
}

/// Task definition, target group, load balancer, listener and service, in that order;
/// `made` records each as it is made. (lb, listener, tg, endpoint, service ARN).
#[allow(clippy::too_many_arguments)]
async fn provision(
    ecs: &Ecs,
    ctx: &RequestContext,
    cluster: &str,
    name: &str,
    vpc: &str,
    subnets: &[String],
    groups: &[String],
    config: &Value,
    made: &mut Vec<(&'static str, String)>,
) -> Result<(String, String, String, String, String), EcsError> {
    let registered = crate::api::task_definitions::register(ecs, ctx, definition_input(name, cluster, config)).await?;
    let td = registered["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    made.push(("td", td.clone()));
    let port = config["primaryContainer"]["containerPort"].as_i64().unwrap_or(80);
    let suffix = crate::api::tasks::hex(8);
    let tg = elb(
        ecs,
        ctx,
        "CreateTargetGroup",
        json!({
            "Name": format!("ecs-express-tg-{suffix}"),
            "Protocol": "HTTP",
            "Port": port,
            "VpcId": vpc,
            "TargetType": "ip",
            "HealthCheckPath": config["healthCheckPath"],
            "HealthCheckIntervalSeconds": 10,
            "HealthyThresholdCount": 2,
        }),
    )
    .await?;
    let tg = tg["TargetGroups"][0]["TargetGroupArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    made.push(("tg", tg.clone()));
    let lb = elb(
        ecs,
        ctx,
        "CreateLoadBalancer",
        json!({
            "Name": format!("ecs-express-{suffix}"),
            "Subnets": subnets,
            "SecurityGroups": groups,
            "Scheme": "internet-facing",
            "Type": "application",
        }),
    )
    .await?;
    let dns = lb["LoadBalancers"][0]["DNSName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let lb = lb["LoadBalancers"][0]["LoadBalancerArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    made.push(("lb", lb.clone()));
    let listener = elb(
        ecs,
        ctx,
        "CreateListener",
        json!({
            "LoadBalancerArn": lb,
            "Protocol": "HTTP",
            "Port": 80,
            "DefaultActions": [{ "Type": "forward", "TargetGroupArn": tg }],
        }),
    )
    .await?;
    let listener = listener["Listeners"][0]["ListenerArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    made.push(("listener", listener.clone()));
    let service = crate::api::services::create(
        ecs,
        ctx,
        json!({
            "cluster": cluster,
            "serviceName": name,
            "taskDefinition": td,
            "desiredCount": min_tasks(config),
            "launchType": "FARGATE",
            "networkConfiguration": { "awsvpcConfiguration": { "subnets": subnets, "securityGroups": groups, "assignPublicIp": "ENABLED" } },
            "loadBalancers": [{ "targetGroupArn": tg, "containerName": "Main", "containerPort": port }],
            "healthCheckGracePeriodSeconds": 30,
            "deploymentConfiguration": { "deploymentCircuitBreaker": { "enable": true, "rollback": true } },
        }),
    )
    .await?;
    let service_arn = service["service"]["serviceArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Ok((lb, listener, tg, format!("http://{dns}"), service_arn))
}

/// The express service an ARN names (`…:service/<cluster>/<name>`).
async fn load(ecs: &Ecs, scope: &Scope, arn: &str) -> Result<ExpressService, EcsError> {
    let mut parts = arn.rsplit('/');
    let (name, cluster) = (parts.next().unwrap_or_default(), parts.next().unwrap_or("default"));
    let (scope, k) = (scope.clone(), key(cluster, name));
    ecs.store
        .read(move |t| t.get::<ExpressService>(&scope, KIND_EXPRESS, &k))
        .await?
        .ok_or(EcsError::ServiceNotFound)
}

pub async fn describe(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DescribeExpressGatewayServiceRequest = parse(input)?;
    let x = load(ecs, &scope(ctx), &input.service_arn)
        .await
        .map_err(|_| EcsError::ResourceNotFound("The specified express gateway service does not exist.".into()))?;
    let tags = input.include.iter().any(|i| i == "TAGS");
    Ok(json!({ "service": view(&x, &ctx.region, &ctx.account_id, tags) }))
}

pub async fn update(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::UpdateExpressGatewayServiceRequest = parse(input)?;
    let scope = scope(ctx);
    let mut x = load(ecs, &scope, &input.service_arn).await?;
    if x.status != "ACTIVE" {
        return Err(EcsError::ServiceNotActive);
    }
    let old = x.configuration.clone();
    let primary: api::ExpressGatewayContainer = match &input.primary_container {
        Some(p) => p.clone(),
        None => serde_json::from_value(old["primaryContainer"].clone()).map_err(|e| invalid(e.to_string()))?,
    };
    if let Some(r) = &input.execution_role_arn {
        check_role("executionRoleArn", r)?;
    }
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let subnets = input
        .network_configuration
        .as_ref()
        .map(|n| n.subnets.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| strings(&old["networkConfiguration"]["subnets"]));
    let groups = input
        .network_configuration
        .as_ref()
        .map(|n| n.security_groups.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| strings(&old["networkConfiguration"]["securityGroups"]));
    let scaling: Option<api::ExpressGatewayScalingTarget> = match &input.scaling_target {
        Some(s) => Some(s.clone()),
        None => serde_json::from_value(old["scalingTarget"].clone()).ok(),
    };
    let config = configuration(Given {
        primary: &primary,
        cpu: input.cpu.as_deref().or(old["cpu"].as_str()),
        memory: input.memory.as_deref().or(old["memory"].as_str()),
        execution_role: input
            .execution_role_arn
            .as_deref()
            .or(old["executionRoleArn"].as_str())
            .unwrap_or_default(),
        task_role: input.task_role_arn.as_deref().or(old["taskRoleArn"].as_str()),
        health_check_path: input.health_check_path.as_deref().or(old["healthCheckPath"].as_str()),
        subnets: &subnets,
        groups: &groups,
        scaling: scaling.as_ref(),
    })?;
    let port = config["primaryContainer"]["containerPort"].as_i64().unwrap_or(80);
    if port != old["primaryContainer"]["containerPort"].as_i64().unwrap_or(80) {
        return Err(invalid(
            "The container port of an express gateway service cannot change.",
        ));
    }
    let registered =
        crate::api::task_definitions::register(ecs, ctx, definition_input(&x.name, &x.cluster, &config)).await?;
    let td = registered["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if config["healthCheckPath"] != old["healthCheckPath"] {
        elb(
            ecs,
            ctx,
            "ModifyTargetGroup",
            json!({ "TargetGroupArn": x.target_group_arn, "HealthCheckPath": config["healthCheckPath"] }),
        )
        .await?;
    }
    crate::api::services::update(
        ecs,
        ctx,
        json!({
            "cluster": x.cluster,
            "service": x.name,
            "taskDefinition": td,
            "desiredCount": min_tasks(&config),
            "networkConfiguration": { "awsvpcConfiguration": { "subnets": subnets, "securityGroups": groups, "assignPublicIp": "ENABLED" } },
        }),
    )
    .await?;
    x.configuration = config;
    x.updated_at = haneul_wire::value::now_epoch_s();
    let stored = x.clone();
    ecs.store
        .write(move |t| t.put(&scope, KIND_EXPRESS, &key(&stored.cluster, &stored.name), &stored))
        .await?;
    let mut target = x.configuration.clone();
    target["ingressPaths"] = json!([{ "accessType": "PUBLIC", "endpoint": x.endpoint }]);
    Ok(json!({
        "service": {
            "serviceArn": x.service_arn,
            "serviceName": x.name,
            "cluster": crate::model::cluster_arn(&ctx.region, &ctx.account_id, &x.cluster),
            "status": { "statusCode": x.status },
            "targetConfiguration": target,
            "createdAt": x.created_at,
            "updatedAt": x.updated_at,
        }
    }))
}

pub async fn delete(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DeleteExpressGatewayServiceRequest = parse(input)?;
    let scope = scope(ctx);
    let mut x = load(ecs, &scope, &input.service_arn).await?;
    if x.status != "ACTIVE" {
        return Err(EcsError::ServiceNotActive);
    }
    // The load balancer goes first: with nothing routing to the tasks there is nothing to
    // drain, and the service stops them at once.
    let made = vec![
        ("tg", x.target_group_arn.clone()),
        ("lb", x.load_balancer_arn.clone()),
        ("listener", x.listener_arn.clone()),
    ];
    undo(ecs, ctx, &made).await;
    crate::api::services::delete(
        ecs,
        ctx,
        json!({ "cluster": x.cluster, "service": x.name, "force": true }),
    )
    .await?;
    x.status = "INACTIVE".into();
    x.updated_at = haneul_wire::value::now_epoch_s();
    let stored = x.clone();
    ecs.store
        .write(move |t| t.put(&scope, KIND_EXPRESS, &key(&stored.cluster, &stored.name), &stored))
        .await?;
    Ok(json!({ "service": view(&x, &ctx.region, &ctx.account_id, false) }))
}
