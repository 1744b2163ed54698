//! The default VPC: 172.31.0.0/16 with a default /20 subnet per availability zone and its
//! default security group, created per account and region the first time EC2 is used there.

use haneul_store::{Scope, Store, Txn};

use crate::cidr::Cidr;
use crate::error::Ec2Error;
use crate::ids::new_id;
use crate::model::*;
use crate::regions;

pub const DEFAULT_VPC_CIDR: &str = "172.31.0.0/16";
/// Default subnets are consecutive /20s from the start of the default VPC.
pub const DEFAULT_SUBNET_PREFIX_LEN: u8 = 20;
const DEFAULTS_ID: &str = "default-vpc";

/// Makes sure the scope's defaults exist; cheap when they already do.
pub async fn ensure(store: &Store, scope: &Scope) -> Result<(), Ec2Error> {
    let s = scope.clone();
    let done = store
        .read(move |t| t.exists(&s, KIND_DEFAULTS, DEFAULTS_ID).map_err(Ec2Error::from))
        .await?;
    if done {
        return Ok(());
    }
    let s = scope.clone();
    store.write(move |t| ensure_in(t, &s)).await
}

/// The same, inside a transaction that is already open.
pub fn ensure_in(txn: &mut Txn<'_>, scope: &Scope) -> Result<(), Ec2Error> {
    if txn.exists(scope, KIND_DEFAULTS, DEFAULTS_ID)? {
        return Ok(());
    }
    let vpc = new_vpc(scope, DEFAULT_VPC_CIDR, true);
    txn.put(scope, KIND_VPC, &vpc.vpc_id, &vpc)?;
    let base = Cidr::parse(DEFAULT_VPC_CIDR).map(|c| c.network).unwrap_or(0);
    let step = 1u32 << (32 - u32::from(DEFAULT_SUBNET_PREFIX_LEN));
    for (i, zone) in regions::zones(&scope.region).into_iter().enumerate() {
        let cidr = Cidr {
            network: base + step * i as u32,
            prefix_len: DEFAULT_SUBNET_PREFIX_LEN,
        };
        let subnet = new_subnet(scope, &vpc.vpc_id, cidr, &zone, true);
        txn.put(scope, KIND_SUBNET, &subnet.subnet_id, &subnet)?;
    }
    let sg = new_default_security_group(scope, &vpc.vpc_id);
    txn.put(scope, KIND_SECURITY_GROUP, &sg.group_id, &sg)?;
    txn.put(scope, KIND_DEFAULTS, DEFAULTS_ID, &vpc.vpc_id)?;
    Ok(())
}

/// The scope's default VPC id, if it (still) exists.
pub fn default_vpc_id(txn: &Txn<'_>, scope: &Scope) -> Result<Option<String>, Ec2Error> {
    let Some(id) = txn.get::<String>(scope, KIND_DEFAULTS, DEFAULTS_ID)? else {
        return Ok(None);
    };
    Ok(txn.exists(scope, KIND_VPC, &id)?.then_some(id))
}

pub fn new_vpc(scope: &Scope, cidr: &str, is_default: bool) -> Vpc {
    Vpc {
        vpc_id: new_id("vpc"),
        cidr_block: cidr.to_string(),
        state: "available".into(),
        is_default,
        owner_id: scope.account_id.clone(),
        instance_tenancy: "default".into(),
        dhcp_options_id: "default".into(),
        cidr_block_association_set: vec![VpcCidrBlockAssociation {
            association_id: new_id("vpc-cidr-assoc"),
            cidr_block: cidr.to_string(),
            cidr_block_state: CidrBlockState {
                state: "associated".into(),
            },
        }],
        tags: Vec::new(),
    }
}

pub fn new_subnet(scope: &Scope, vpc_id: &str, cidr: Cidr, zone: &regions::Zone, default_for_az: bool) -> Subnet {
    let subnet_id = new_id("subnet");
    Subnet {
        subnet_arn: format!("arn:aws:ec2:{}:{}:subnet/{subnet_id}", scope.region, scope.account_id),
        subnet_id,
        vpc_id: vpc_id.to_string(),
        cidr_block: cidr.to_string(),
        availability_zone: zone.name.clone(),
        availability_zone_id: zone.id.clone(),
        // AWS reserves five addresses in every subnet.
        available_ip_address_count: cidr.size().saturating_sub(5),
        default_for_az,
        map_public_ip_on_launch: default_for_az,
        state: "available".into(),
        owner_id: scope.account_id.clone(),
        tags: Vec::new(),
    }
}

pub fn security_group_arn(scope: &Scope, group_id: &str) -> String {
    format!(
        "arn:aws:ec2:{}:{}:security-group/{group_id}",
        scope.region, scope.account_id
    )
}

/// Every VPC's `default` group: traffic from its own members in, everything out.
pub fn new_default_security_group(scope: &Scope, vpc_id: &str) -> SecurityGroup {
    let group_id = new_id("sg");
    let rule = |is_egress: bool| SecurityGroupRule {
        security_group_rule_id: new_id("sgr"),
        group_id: group_id.clone(),
        group_owner_id: scope.account_id.clone(),
        is_egress,
        ip_protocol: "-1".into(),
        from_port: -1,
        to_port: -1,
        cidr_ipv4: is_egress.then(|| "0.0.0.0/0".to_string()),
        cidr_ipv6: None,
        prefix_list_id: None,
        referenced_group_id: (!is_egress).then(|| group_id.clone()),
        description: None,
    };
    SecurityGroup {
        security_group_arn: security_group_arn(scope, &group_id),
        rules: vec![rule(false), rule(true)],
        group_id: group_id.clone(),
        group_name: "default".into(),
        description: "default VPC security group".into(),
        vpc_id: vpc_id.to_string(),
        owner_id: scope.account_id.clone(),
        tags: Vec::new(),
    }
}
