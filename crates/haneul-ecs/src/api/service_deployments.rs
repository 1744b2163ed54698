//! Service deployments and revisions, ECS's newer view of a service's rollouts:
//! ListServiceDeployments, DescribeServiceDeployments, StopServiceDeployment,
//! DescribeServiceRevisions, ContinueServiceDeployment. Every deployment a service starts
//! (create, an update that needs one) is a service deployment toward a new service revision —
//! the configuration it rolls out; a circuit-breaker rollback belongs to the deployment it
//! rolls back (ROLLBACK_IN_PROGRESS → ROLLBACK_SUCCESSFUL). Kept with the service
//! ([`crate::model::Service::history`], [`crate::model::Service::revisions`]).

use haneul_store::Scope;
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::error::EcsError;
use crate::generated as api;
use crate::model::{cluster_arn, service_key, Service, ServiceDeploymentRecord, KIND_SERVICE, SEP};
use crate::{parse, scope, Ecs};

pub fn deployment_arn(region: &str, account: &str, s: &Service, digits: &str) -> String {
    format!(
        "arn:aws:ecs:{region}:{account}:service-deployment/{}/{}/{digits}",
        s.cluster, s.name
    )
}

pub fn revision_arn(region: &str, account: &str, s: &Service, digits: &str) -> String {
    format!(
        "arn:aws:ecs:{region}:{account}:service-revision/{}/{}/{digits}",
        s.cluster, s.name
    )
}

/// (cluster, service, digits) of a service deployment or revision ARN of `kind`.
fn parse_arn<'a>(arn: &'a str, kind: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let rest = arn.split_once(&format!(":{kind}/"))?.1;
    let mut parts = rest.splitn(3, '/');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

async fn load(ecs: &Ecs, scope: Scope, cluster: String, service: String) -> Result<Option<Service>, EcsError> {
    ecs.store
        .read(move |t| Ok::<_, EcsError>(t.get::<Service>(&scope, KIND_SERVICE, &service_key(&cluster, &service))?))
        .await
}

fn brief(ctx: &RequestContext, s: &Service, d: &ServiceDeploymentRecord) -> Value {
    let mut v = json!({
        "serviceDeploymentArn": deployment_arn(&ctx.region, &ctx.account_id, s, &d.digits),
        "serviceArn": s.arn,
        "clusterArn": cluster_arn(&ctx.region, &ctx.account_id, &s.cluster),
        "createdAt": d.created_at,
        "startedAt": d.created_at,
        "status": d.status,
        "statusReason": d.status_reason,
        "targetServiceRevisionArn": revision_arn(&ctx.region, &ctx.account_id, s, &d.target_revision),
    });
    if let Some(f) = d.finished_at {
        v["finishedAt"] = json!(f);
    }
    v
}

fn full(ctx: &RequestContext, s: &Service, d: &ServiceDeploymentRecord) -> Value {
    let mut v = brief(ctx, s, d);
    v["updatedAt"] = json!(d.updated_at);
    v["targetServiceRevision"] = json!({
        "arn": revision_arn(&ctx.region, &ctx.account_id, s, &d.target_revision),
        "requestedTaskCount": s.desired_count,
    });
    v["sourceServiceRevisions"] = Value::Array(
        d.source_revisions
            .iter()
            .map(|r| json!({ "arn": revision_arn(&ctx.region, &ctx.account_id, s, r) }))
            .collect(),
    );
    v["deploymentCircuitBreaker"] =
        json!({ "status": if s.circuit_breaker_enable { "MONITORING" } else { "DISABLED" } });
    v["deploymentConfiguration"] = json!({
        "maximumPercent": s.maximum_percent,
        "minimumHealthyPercent": s.minimum_healthy_percent,
        "deploymentCircuitBreaker": { "enable": s.circuit_breaker_enable, "rollback": s.circuit_breaker_rollback },
    });
    if let Some(stopped) = d.stopped_at {
        v["stoppedAt"] = json!(stopped);
    }
    if let Some(r) = &d.rollback_revision {
        v["rollback"] = json!({
            "reason": d.status_reason,
            "startedAt": d.updated_at,
            "serviceRevisionArn": revision_arn(&ctx.region, &ctx.account_id, s, r),
        });
    }
    v
}

pub async fn list(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::ListServiceDeploymentsRequest = parse(input)?;
    let size = match input.max_results {
        None => 20,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(_) => {
            return Err(EcsError::InvalidParameter(
                "maxResults must be between 1 and 100.".into(),
            ))
        }
    };
    let offset = crate::api::task_definitions::page_token(input.next_token.as_deref())?;
    let cluster = crate::model::cluster_name(input.cluster.as_deref()).to_string();
    let service = input.service.rsplit('/').next().unwrap_or(&input.service).to_string();
    let s = load(ecs, scope(ctx), cluster, service)
        .await?
        .ok_or(EcsError::ServiceNotFound)?;
    let briefs: Vec<Value> =
        s.history
            .iter()
            .rev()
            .filter(|d| input.status.is_empty() || input.status.contains(&d.status))
            .filter(|d| {
                input.created_at.as_ref().is_none_or(|c| {
                    c.after.is_none_or(|a| d.created_at >= a) && c.before.is_none_or(|b| d.created_at <= b)
                })
            })
            .map(|d| brief(ctx, &s, d))
            .collect();
    Ok(crate::api::paged("serviceDeployments", &briefs, offset, size))
}

pub async fn describe(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DescribeServiceDeploymentsRequest = parse(input)?;
    if input.service_deployment_arns.is_empty() || input.service_deployment_arns.len() > 20 {
        return Err(EcsError::InvalidParameter(
            "serviceDeploymentArns must name between 1 and 20 ARNs.".into(),
        ));
    }
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for arn in &input.service_deployment_arns {
        let record = match parse_arn(arn, "service-deployment") {
            Some((cluster, service, digits)) => load(ecs, scope(ctx), cluster.into(), service.into())
                .await?
                .and_then(|s| s.history.iter().find(|d| d.digits == digits).map(|d| full(ctx, &s, d))),
            None => None,
        };
        match record {
            Some(v) => found.push(v),
            None => failures.push(json!({ "arn": arn, "reason": "MISSING" })),
        }
    }
    Ok(json!({ "serviceDeployments": found, "failures": failures }))
}

pub async fn describe_revisions(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DescribeServiceRevisionsRequest = parse(input)?;
    if input.service_revision_arns.is_empty() || input.service_revision_arns.len() > 20 {
        return Err(EcsError::InvalidParameter(
            "serviceRevisionArns must name between 1 and 20 ARNs.".into(),
        ));
    }
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for arn in &input.service_revision_arns {
        let record = match parse_arn(arn, "service-revision") {
            Some((cluster, service, digits)) => load(ecs, scope(ctx), cluster.into(), service.into()).await?.and_then(|s| {
                s.revisions.iter().find(|r| r.digits == digits).map(|r| {
                    let mut v = json!({
                        "serviceRevisionArn": revision_arn(&ctx.region, &ctx.account_id, &s, &r.digits),
                        "serviceArn": s.arn,
                        "clusterArn": cluster_arn(&ctx.region, &ctx.account_id, &s.cluster),
                        "taskDefinition": r.task_definition,
                        "createdAt": r.created_at,
                        "platformVersion": r.platform_version.clone().unwrap_or_else(|| "LATEST".into()),
                        "platformFamily": "Linux",
                        "loadBalancers": r.load_balancers.iter().map(|l| json!({
                            "targetGroupArn": l.target_group_arn, "containerName": l.container_name, "containerPort": l.container_port,
                        })).collect::<Vec<_>>(),
                        "containerImages": r.images.iter().map(|(name, image)| json!({ "containerName": name, "image": image })).collect::<Vec<_>>(),
                    });
                    if let Some(lt) = &r.launch_type {
                        v["launchType"] = json!(lt);
                    }
                    if !r.network_configuration.is_null() {
                        v["networkConfiguration"] = r.network_configuration.clone();
                    }
                    v
                })
            }),
            None => None,
        };
        match record {
            Some(v) => found.push(v),
            None => failures.push(json!({ "arn": arn, "reason": "MISSING" })),
        }
    }
    Ok(json!({ "serviceRevisions": found, "failures": failures }))
}

/// StopServiceDeployment: ROLLBACK (the default) rolls back to the last completed
/// deployment, as the circuit breaker does; ABORT stops the rollout where it is.
pub async fn stop(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::StopServiceDeploymentRequest = parse(input)?;
    let arn = input.service_deployment_arn.clone();
    let (cluster, service, digits) = parse_arn(&arn, "service-deployment")
        .map(|(c, s, d)| (c.to_string(), s.to_string(), d.to_string()))
        .ok_or(EcsError::ServiceDeploymentNotFound)?;
    let rollback = input.stop_type.as_deref() != Some("ABORT");
    let scope = scope(ctx);
    ecs.store
        .write(move |t| {
            let key = format!("{cluster}{SEP}{service}");
            let mut s: Service = t
                .get(&scope, KIND_SERVICE, &key)?
                .ok_or(EcsError::ServiceDeploymentNotFound)?;
            let record = s
                .history
                .iter()
                .find(|d| d.digits == digits)
                .ok_or(EcsError::ServiceDeploymentNotFound)?;
            let in_progress = s
                .deployments
                .first()
                .is_some_and(|p| p.id == record.deployment_id && p.rollout_state == "IN_PROGRESS");
            if !in_progress {
                return Err(EcsError::Conflict(
                    "The service deployment is not in progress and cannot be stopped.".into(),
                ));
            }
            let now = haneul_wire::value::now_epoch_s();
            crate::scheduler::plan::stop_rollout(
                &mut s,
                rollback,
                "Service deployment stopped by StopServiceDeployment.",
                now,
            );
            s.revision += 1;
            t.put(&scope, KIND_SERVICE, &key, &s)?;
            Ok::<_, EcsError>(())
        })
        .await?;
    Ok(json!({ "serviceDeploymentArn": arn }))
}

/// ContinueServiceDeployment moves a deployment past a lifecycle hook; haneul's deployments
/// have no lifecycle hooks, so there is never one waiting.
pub async fn continue_deployment(_ecs: &Ecs, _ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let _input: api::ContinueServiceDeploymentRequest = parse(input)?;
    Err(EcsError::Conflict(
        "The service deployment is not waiting at a lifecycle hook (haneul's deployments have none).".into(),
    ))
}
