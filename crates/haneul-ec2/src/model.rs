//! EC2 records as stored. Field names are the EC2 model's member names, so a record
//! serializes straight into its `Describe*` output item.

use serde::{Deserialize, Serialize};

pub const KIND_VPC: &str = "ec2.vpc";
pub const KIND_SUBNET: &str = "ec2.subnet";
pub const KIND_SECURITY_GROUP: &str = "ec2.security-group";
/// Marks that the account/region's default VPC was created (even if later deleted).
pub const KIND_DEFAULTS: &str = "ec2.defaults";
/// Instances haneul knows of, keyed by instance id: the hosts that joined as ECS container
/// instances (`haneul agent`), so `instance` target groups can reach them.
pub const KIND_INSTANCE: &str = "ec2.instance";

/// An instance: where its private address is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Instance {
    pub instance_id: String,
    pub private_ip_address: String,
    pub availability_zone: String,
    /// `running` while it is registered.
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CidrBlockState {
    pub state: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcCidrBlockAssociation {
    pub association_id: String,
    pub cidr_block: String,
    pub cidr_block_state: CidrBlockState,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Vpc {
    pub vpc_id: String,
    pub cidr_block: String,
    pub state: String,
    pub is_default: bool,
    pub owner_id: String,
    pub instance_tenancy: String,
    pub dhcp_options_id: String,
    pub cidr_block_association_set: Vec<VpcCidrBlockAssociation>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subnet {
    pub subnet_id: String,
    pub subnet_arn: String,
    pub vpc_id: String,
    pub cidr_block: String,
    pub availability_zone: String,
    pub availability_zone_id: String,
    pub available_ip_address_count: u64,
    pub default_for_az: bool,
    pub map_public_ip_on_launch: bool,
    pub state: String,
    pub owner_id: String,
    pub tags: Vec<Tag>,
}

/// One rule of a security group, as `DescribeSecurityGroupRules` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroupRule {
    pub security_group_rule_id: String,
    pub group_id: String,
    pub group_owner_id: String,
    pub is_egress: bool,
    /// `tcp`, `udp`, `icmp`, `icmpv6` or `-1` (all).
    pub ip_protocol: String,
    pub from_port: i64,
    pub to_port: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_ipv4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_ipv6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_list_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referenced_group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl SecurityGroupRule {
    /// Two rules are the same rule when everything but id and description matches.
    pub fn same_permission(&self, other: &SecurityGroupRule) -> bool {
        self.is_egress == other.is_egress
            && self.ip_protocol == other.ip_protocol
            && self.from_port == other.from_port
            && self.to_port == other.to_port
            && self.cidr_ipv4 == other.cidr_ipv4
            && self.cidr_ipv6 == other.cidr_ipv6
            && self.prefix_list_id == other.prefix_list_id
            && self.referenced_group_id == other.referenced_group_id
    }

    /// EC2's description of a rule in `InvalidPermission.Duplicate` messages.
    pub fn describe(&self) -> String {
        let peer = self
            .cidr_ipv4
            .clone()
            .or_else(|| self.cidr_ipv6.clone())
            .or_else(|| self.prefix_list_id.clone())
            .or_else(|| self.referenced_group_id.clone())
            .unwrap_or_default();
        let proto = match self.ip_protocol.as_str() {
            "-1" => "ALL".to_string(),
            p => p.to_uppercase(),
        };
        format!(
            "peer: {peer}, {proto}, from port: {}, to port: {}, ALLOW",
            self.from_port, self.to_port
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroup {
    pub group_id: String,
    pub group_name: String,
    pub description: String,
    pub vpc_id: String,
    pub owner_id: String,
    pub security_group_arn: String,
    pub tags: Vec<Tag>,
    pub rules: Vec<SecurityGroupRule>,
}
