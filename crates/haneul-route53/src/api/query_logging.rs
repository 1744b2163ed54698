//! Create/Get/List/DeleteQueryLoggingConfig. A configuration names a public zone and a
//! CloudWatch Logs group in us-east-1 called `/aws/route53/…`; the DNS server then writes a
//! line per query it answers for the zone (see `dns::querylog`).

use haneul_store::Scope;
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use super::hosted_zones::load_zone;
use crate::error::Route53Error;
use crate::generated as api_types;
use crate::model::{QueryLoggingConfig, KIND_QUERY_LOGGING_CONFIG};
use crate::{parse, scope};
use haneul_store::Store;

/// The region query logging's log groups must be in.
pub const LOG_GROUP_REGION: &str = "us-east-1";
pub const LOG_GROUP_PREFIX: &str = "/aws/route53/";
/// ListQueryLoggingConfigs' page size unless MaxResults says fewer (its maximum too).
pub const MAX_PAGE: usize = 100;

fn output(c: &QueryLoggingConfig) -> Value {
    json!({
        "Id": c.id,
        "HostedZoneId": c.zone_id,
        "CloudWatchLogsLogGroupArn": c.log_group_arn,
    })
}

/// `arn:aws:logs:<region>:<account>:log-group:<name>[:*]` → (region, account, name).
fn parse_group_arn(arn: &str) -> Option<(String, String, String)> {
    let mut parts = arn.splitn(7, ':');
    let (Some("arn"), Some(_partition), Some("logs"), Some(region), Some(account), Some("log-group"), Some(rest)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let name = rest.strip_suffix(":*").unwrap_or(rest);
    (!name.is_empty()).then(|| (region.to_string(), account.to_string(), name.to_string()))
}

pub async fn create_query_logging_config(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, Route53Error> {
    let input: api_types::CreateQueryLoggingConfigRequest = parse(input)?;
    let arn = input.cloud_watch_logs_log_group_arn.clone();
    let (region, account, group) = parse_group_arn(&arn)
        .ok_or_else(|| Route53Error::InvalidInput(format!("{arn} is not the ARN of a CloudWatch Logs log group")))?;
    if region != LOG_GROUP_REGION {
        return Err(Route53Error::InvalidInput(format!(
            "The CloudWatch Logs log group must be in the {LOG_GROUP_REGION} region, not {region}"
        )));
    }
    if !group.starts_with(LOG_GROUP_PREFIX) {
        return Err(Route53Error::InvalidInput(format!(
            "The CloudWatch Logs log group name must start with {LOG_GROUP_PREFIX}"
        )));
    }
    let scope = scope(ctx);
    let config = QueryLoggingConfig {
        id: uuid::Uuid::new_v4().to_string(),
        zone_id: String::new(),
        log_group_arn: arn,
        log_group: group,
        account_id: account,
    };
    let caller = ctx.account_id.clone();
    let config = store
        .write(move |t| {
            let zone = load_zone(t, &scope, &input.hosted_zone_id)?;
            if zone.private_zone {
                return Err(Route53Error::InvalidInput(
                    "Query logging is available only for public hosted zones".into(),
                ));
            }
            let existing: Vec<(String, QueryLoggingConfig)> = t.list(&scope, KIND_QUERY_LOGGING_CONFIG)?;
            if existing.iter().any(|(_, c)| c.zone_id == zone.id) {
                return Err(Route53Error::QueryLoggingConfigAlreadyExists(zone.id));
            }
            let logs_scope = Scope::new(config.account_id.clone(), LOG_GROUP_REGION);
            let group_exists = config.account_id == caller
                && t.exists(&logs_scope, haneul_logs::model::KIND_GROUP, &config.log_group)?;
            if !group_exists {
                return Err(Route53Error::NoSuchCloudWatchLogsLogGroup);
            }
            let config = QueryLoggingConfig {
                zone_id: zone.id,
                ..config
            };
            t.put(&scope, KIND_QUERY_LOGGING_CONFIG, &config.id, &config)?;
            Ok(config)
        })
        .await?;
    Ok(json!({
        "QueryLoggingConfig": output(&config),
        "Location": format!("https://route53.amazonaws.com/2013-04-01/queryloggingconfig/{}", config.id),
    }))
}

async fn load(store: &Store, ctx: &RequestContext, id: String) -> Result<QueryLoggingConfig, Route53Error> {
    let scope = scope(ctx);
    store
        .read(move |t| {
            t.get::<QueryLoggingConfig>(&scope, KIND_QUERY_LOGGING_CONFIG, &id)?
                .ok_or(Route53Error::NoSuchQueryLoggingConfig)
        })
        .await
}

pub async fn get_query_logging_config(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, Route53Error> {
    let input: api_types::GetQueryLoggingConfigRequest = parse(input)?;
    let config = load(store, ctx, input.id).await?;
    Ok(json!({ "QueryLoggingConfig": output(&config) }))
}

pub async fn list_query_logging_configs(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, Route53Error> {
    let input: api_types::ListQueryLoggingConfigsRequest = parse(input)?;
    let size = match input.max_results.as_deref() {
        None => MAX_PAGE,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(Route53Error::InvalidInput(format!(
                    "MaxResults must be a number from 1 to {MAX_PAGE}"
                )))
            }
        },
    };
    let scope = scope(ctx);
    let zone = input.hosted_zone_id.clone();
    let mut configs: Vec<QueryLoggingConfig> = store
        .read(move |t| {
            if let Some(z) = &zone {
                load_zone(t, &scope, z)?;
            }
            let all: Vec<(String, QueryLoggingConfig)> = t.list(&scope, KIND_QUERY_LOGGING_CONFIG)?;
            Ok::<_, Route53Error>(all.into_iter().map(|(_, c)| c).collect())
        })
        .await?;
    if let Some(z) = &input.hosted_zone_id {
        let id = crate::ids::strip_prefix(z, "hostedzone");
        configs.retain(|c| c.zone_id == id);
    }
    let after = input.next_token.as_deref();
    if let Some(token) = after {
        if !configs.iter().any(|c| c.id == token) {
            return Err(Route53Error::InvalidPaginationToken);
        }
    }
    let rest: Vec<&QueryLoggingConfig> = configs
        .iter()
        .filter(|c| after.is_none_or(|a| c.id.as_str() > a))
        .collect();
    let page: Vec<Value> = rest.iter().take(size).map(|c| output(c)).collect();
    let mut out = json!({ "QueryLoggingConfigs": page });
    if rest.len() > size {
        out["NextToken"] = json!(rest[size - 1].id);
    }
    Ok(out)
}

pub async fn delete_query_logging_config(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, Route53Error> {
    let input: api_types::DeleteQueryLoggingConfigRequest = parse(input)?;
    let scope = scope(ctx);
    store
        .write(move |t| {
            if !t.delete(&scope, KIND_QUERY_LOGGING_CONFIG, &input.id)? {
                return Err(Route53Error::NoSuchQueryLoggingConfig);
            }
            Ok(())
        })
        .await?;
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_arns() {
        assert_eq!(
            parse_group_arn("arn:aws:logs:us-east-1:000000000000:log-group:/aws/route53/example.com:*"),
            Some((
                "us-east-1".into(),
                "000000000000".into(),
                "/aws/route53/example.com".into()
            ))
        );
        assert_eq!(parse_group_arn("arn:aws:s3:::bucket"), None);
    }
}
