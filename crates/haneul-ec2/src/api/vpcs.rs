//! CreateVpc, DescribeVpcs, DeleteVpc.

use haneul_store::Store;
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::api::tags::tags_for;
use crate::cidr::Cidr;
use crate::describe::{self, Query, VPC};
use crate::error::Ec2Error;
use crate::filter::Filterable;
use crate::generated as api_types;
use crate::model::*;
use crate::{check_dry_run, defaults, parse, scope};

/// VPC CIDR blocks must be between /16 and /28.
pub const VPC_PREFIX_LEN_MIN: u8 = 16;
pub const VPC_PREFIX_LEN_MAX: u8 = 28;

impl Filterable for Vpc {
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        let one = |s: &str| Some(vec![s.to_string()]);
        match name {
            "vpc-id" => one(&self.vpc_id),
            "cidr" | "cidr-block-association.cidr-block" => one(&self.cidr_block),
            "cidr-block-association.association-id" => Some(
                self.cidr_block_association_set
                    .iter()
                    .map(|a| a.association_id.clone())
                    .collect(),
            ),
            "cidr-block-association.state" => one("associated"),
            "state" => one(&self.state),
            "is-default" => one(if self.is_default { "true" } else { "false" }),
            "owner-id" => one(&self.owner_id),
            "dhcp-options-id" => one(&self.dhcp_options_id),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// A CIDR as EC2 accepts it for a VPC or subnet: well-formed, host bits zero, /16–/28.
pub fn parse_block(text: &str, range_code: &'static str, param: &str) -> Result<Cidr, Ec2Error> {
    let Some(cidr) = Cidr::parse(text) else {
        return Err(Ec2Error::invalid(format!(
            "Value ({text}) for parameter {param} is invalid. This is not a valid CIDR block."
        )));
    };
    if !(VPC_PREFIX_LEN_MIN..=VPC_PREFIX_LEN_MAX).contains(&cidr.prefix_len) {
        return Err(Ec2Error::InvalidRange {
            code: range_code,
            cidr: text.to_string(),
        });
    }
    Ok(cidr)
}

pub async fn create_vpc(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Ec2Error> {
    let input: api_types::CreateVpcRequest = parse(input)?;
    let Some(cidr_text) = input.cidr_block.clone() else {
        return Err(Ec2Error::invalid(
            "Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided.",
        ));
    };
    let cidr = parse_block(&cidr_text, "InvalidVpc.Range", "cidrBlock")?;
    let tags = tags_for(&input.tag_specifications, "vpc")?;
    check_dry_run(input.dry_run)?;
    let scope = scope(ctx);
    let vpc = store
        .write(move |t| {
            defaults::ensure_in(t, &scope)?;
            let mut vpc = defaults::new_vpc(&scope, &cidr.to_string(), false);
            vpc.tags = tags;
            if let Some(tenancy) = input.instance_tenancy {
                vpc.instance_tenancy = tenancy;
            }
            t.put(&scope, KIND_VPC, &vpc.vpc_id, &vpc)?;
            let sg = defaults::new_default_security_group(&scope, &vpc.vpc_id);
            t.put(&scope, KIND_SECURITY_GROUP, &sg.group_id, &sg)?;
            Ok::<_, Ec2Error>(vpc)
        })
        .await?;
    Ok(json!({ "Vpc": vpc }))
}

pub async fn describe_vpcs(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Ec2Error> {
    let input: api_types::DescribeVpcsRequest = parse(input)?;
    check_dry_run(input.dry_run)?;
    let query = Query {
        ids: &input.vpc_ids,
        filters: &input.filters,
        max_results: input.max_results,
        next_token: input.next_token.as_deref(),
    };
    let page = describe::read_and_select::<Vpc>(store, scope(ctx), KIND_VPC, &VPC, &query).await?;
    Ok(json!({ "Vpcs": page.items, "NextToken": page.next_token }))
}

pub async fn delete_vpc(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Ec2Error> {
    let input: api_types::DeleteVpcRequest = parse(input)?;
    VPC.check_id(&input.vpc_id)?;
    let scope = scope(ctx);
    store
        .write(move |t| {
            defaults::ensure_in(t, &scope)?;
            let id = &input.vpc_id;
            if !t.exists(&scope, KIND_VPC, id)? {
                return Err(VPC.not_found(id));
            }
            let has_subnets = t
                .list::<Subnet>(&scope, KIND_SUBNET)?
                .iter()
                .any(|(_, s)| &s.vpc_id == id);
            let groups: Vec<(String, SecurityGroup)> = t
                .list::<SecurityGroup>(&scope, KIND_SECURITY_GROUP)?
                .into_iter()
                .filter(|(_, g)| &g.vpc_id == id)
                .collect();
            let has_own_groups = groups.iter().any(|(_, g)| g.group_name != "default");
            if has_subnets || has_own_groups {
                return Err(Ec2Error::DependencyViolation {
                    message: format!("The vpc '{id}' has dependencies and cannot be deleted."),
                });
            }
            check_dry_run(input.dry_run)?;
            for (group_id, _) in groups {
                t.delete(&scope, KIND_SECURITY_GROUP, &group_id)?;
            }
            t.delete(&scope, KIND_VPC, id)?;
            Ok(())
        })
        .await?;
    Ok(json!({}))
}
