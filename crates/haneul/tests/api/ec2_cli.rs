//! The minimal EC2 through the `aws` CLI (the EC2 SDK crate is too slow to build in CI).

use haneul_testkit::Haneul;
use serde_json::Value;

fn default_vpc(h: &Haneul) -> String {
    let out = h.aws_ok(&["ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true"]);
    out["Vpcs"][0]["VpcId"].as_str().unwrap().to_string()
}

#[test]
fn regions_and_zones() {
    let h = Haneul::start();
    let zones = h.aws_ok(&["ec2", "describe-availability-zones"]);
    let names: Vec<&str> = zones["AvailabilityZones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["ZoneName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["us-east-1a", "us-east-1b", "us-east-1c"]);
    assert_eq!(zones["AvailabilityZones"][0]["ZoneId"], "use1-az1");
    let regions = h.aws_ok(&["ec2", "describe-regions", "--region-names", "eu-west-1"]);
    assert_eq!(regions["Regions"][0]["Endpoint"], "ec2.eu-west-1.amazonaws.com");
    h.aws_err(
        &["ec2", "describe-availability-zones", "--zone-names", "us-east-1z"],
        "InvalidParameterValue",
    );
}

#[test]
fn default_vpc_has_a_subnet_per_zone_and_a_default_group() {
    let h = Haneul::start();
    let vpcs = h.aws_ok(&["ec2", "describe-vpcs"]);
    assert_eq!(vpcs["Vpcs"].as_array().unwrap().len(), 1);
    let vpc = &vpcs["Vpcs"][0];
    assert_eq!(vpc["CidrBlock"], "172.31.0.0/16");
    assert_eq!(vpc["IsDefault"], true);
    assert_eq!(vpc["State"], "available");
    let id = vpc["VpcId"].as_str().unwrap();
    assert!(id.starts_with("vpc-") && id.len() == 21, "EC2 id format: {id}");

    let subnets = h.aws_ok(&[
        "ec2",
        "describe-subnets",
        "--filters",
        &format!("Name=vpc-id,Values={id}"),
        "Name=default-for-az,Values=true",
    ]);
    let mut cidrs: Vec<&str> = subnets["Subnets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["CidrBlock"].as_str().unwrap())
        .collect();
    cidrs.sort();
    assert_eq!(cidrs, ["172.31.0.0/20", "172.31.16.0/20", "172.31.32.0/20"]);

    let groups = h.aws_ok(&["ec2", "describe-security-groups", "--group-names", "default"]);
    let g = &groups["SecurityGroups"][0];
    assert_eq!(g["VpcId"], id);
    assert_eq!(g["IpPermissionsEgress"][0]["IpRanges"][0]["CidrIp"], "0.0.0.0/0");
    assert_eq!(g["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"], g["GroupId"]);
}

#[test]
fn vpc_lifecycle_and_errors() {
    let h = Haneul::start();
    let created = h.aws_ok(&[
        "ec2",
        "create-vpc",
        "--cidr-block",
        "10.20.0.0/16",
        "--tag-specifications",
        "ResourceType=vpc,Tags=[{Key=Name,Value=app}]",
    ]);
    let vpc = created["Vpc"]["VpcId"].as_str().unwrap().to_string();
    assert_eq!(created["Vpc"]["Tags"][0]["Value"], "app");
    assert_eq!(created["Vpc"]["IsDefault"], false);

    let by_tag = h.aws_ok(&["ec2", "describe-vpcs", "--filters", "Name=tag:Name,Values=a*"]);
    assert_eq!(by_tag["Vpcs"].as_array().unwrap().len(), 1);
    assert_eq!(by_tag["Vpcs"][0]["VpcId"], vpc.as_str());

    h.aws_err(&["ec2", "create-vpc", "--cidr-block", "10.0.0.0/8"], "InvalidVpc.Range");
    h.aws_err(
        &["ec2", "create-vpc", "--cidr-block", "10.0.0.300/16"],
        "InvalidParameterValue",
    );
    h.aws_err(
        &["ec2", "describe-vpcs", "--vpc-ids", "vpc-0123456789abcdef0"],
        "InvalidVpcID.NotFound",
    );
    h.aws_err(
        &["ec2", "describe-vpcs", "--vpc-ids", "nonsense"],
        "InvalidVpcID.Malformed",
    );
    h.aws_err(
        &["ec2", "describe-vpcs", "--filters", "Name=colour,Values=blue"],
        "InvalidParameterValue",
    );
    h.aws_err(
        &["ec2", "create-vpc", "--cidr-block", "10.30.0.0/16", "--dry-run"],
        "DryRunOperation",
    );
    let after_dry_run = h.aws_ok(&["ec2", "describe-vpcs", "--filters", "Name=cidr,Values=10.30.0.0/16"]);
    assert_eq!(
        after_dry_run["Vpcs"].as_array().unwrap().len(),
        0,
        "a dry run must not create anything"
    );

    let subnet = h.aws_ok(&["ec2", "create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.20.1.0/24"]);
    let subnet_id = subnet["Subnet"]["SubnetId"].as_str().unwrap().to_string();
    h.aws_err(&["ec2", "delete-vpc", "--vpc-id", &vpc], "DependencyViolation");
    h.aws_ok(&["ec2", "delete-subnet", "--subnet-id", &subnet_id]);
    h.aws_ok(&["ec2", "delete-vpc", "--vpc-id", &vpc]);
    h.aws_err(&["ec2", "delete-vpc", "--vpc-id", &vpc], "InvalidVpcID.NotFound");
    let groups = h.aws_ok(&[
        "ec2",
        "describe-security-groups",
        "--filters",
        &format!("Name=vpc-id,Values={vpc}"),
    ]);
    assert_eq!(
        groups["SecurityGroups"].as_array().unwrap().len(),
        0,
        "the VPC's default group goes with it"
    );
}

#[test]
fn subnets_must_fit_the_vpc_without_overlap() {
    let h = Haneul::start();
    let vpc = default_vpc(&h);
    let err = h.aws_err(
        &["ec2", "create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.9.0.0/24"],
        "InvalidSubnet.Range",
    );
    assert!(err.contains("The CIDR '10.9.0.0/24' is invalid."), "{err}");
    h.aws_err(
        &[
            "ec2",
            "create-subnet",
            "--vpc-id",
            &vpc,
            "--cidr-block",
            "172.31.8.0/24",
        ],
        "InvalidSubnet.Conflict",
    );
    h.aws_err(
        &[
            "ec2",
            "create-subnet",
            "--vpc-id",
            &vpc,
            "--cidr-block",
            "172.31.64.0/29",
        ],
        "InvalidSubnet.Range",
    );
    h.aws_err(
        &[
            "ec2",
            "create-subnet",
            "--vpc-id",
            "vpc-0123456789abcdef0",
            "--cidr-block",
            "172.31.64.0/24",
        ],
        "InvalidVpcID.NotFound",
    );
    h.aws_err(
        &[
            "ec2",
            "create-subnet",
            "--vpc-id",
            &vpc,
            "--cidr-block",
            "172.31.64.0/24",
            "--availability-zone",
            "eu-west-1a",
        ],
        "InvalidParameterValue",
    );
    let ok = h.aws_ok(&[
        "ec2",
        "create-subnet",
        "--vpc-id",
        &vpc,
        "--cidr-block",
        "172.31.64.0/24",
        "--availability-zone",
        "us-east-1b",
    ]);
    assert_eq!(ok["Subnet"]["AvailabilityZone"], "us-east-1b");
    assert_eq!(ok["Subnet"]["AvailableIpAddressCount"], 251);
    assert_eq!(ok["Subnet"]["DefaultForAz"], false);
    h.aws_err(
        &["ec2", "delete-subnet", "--subnet-id", "subnet-0123456789abcdef0"],
        "InvalidSubnetID.NotFound",
    );
}

#[test]
fn security_groups_and_rules() {
    let h = Haneul::start();
    let vpc = default_vpc(&h);
    let created = h.aws_ok(&[
        "ec2",
        "create-security-group",
        "--group-name",
        "web",
        "--description",
        "web tier",
        "--vpc-id",
        &vpc,
    ]);
    let sg = created["GroupId"].as_str().unwrap().to_string();
    h.aws_err(
        &[
            "ec2",
            "create-security-group",
            "--group-name",
            "web",
            "--description",
            "again",
            "--vpc-id",
            &vpc,
        ],
        "InvalidGroup.Duplicate",
    );

    let added = h.aws_ok(&[
        "ec2",
        "authorize-security-group-ingress",
        "--group-id",
        &sg,
        "--protocol",
        "tcp",
        "--port",
        "443",
        "--cidr",
        "0.0.0.0/0",
    ]);
    assert_eq!(added["Return"], true);
    let rule_id = added["SecurityGroupRules"][0]["SecurityGroupRuleId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(rule_id.starts_with("sgr-"));
    h.aws_err(
        &[
            "ec2",
            "authorize-security-group-ingress",
            "--group-id",
            &sg,
            "--protocol",
            "tcp",
            "--port",
            "443",
            "--cidr",
            "0.0.0.0/0",
        ],
        "InvalidPermission.Duplicate",
    );
    h.aws_ok(&[
        "ec2",
        "authorize-security-group-ingress",
        "--group-id",
        &sg,
        "--ip-permissions",
        "IpProtocol=tcp,FromPort=8000,ToPort=8100,UserIdGroupPairs=[{GroupName=default}]",
    ]);

    let described = h.aws_ok(&["ec2", "describe-security-groups", "--group-ids", &sg]);
    let perms = described["SecurityGroups"][0]["IpPermissions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(perms.len(), 2);
    assert_eq!(perms[0]["FromPort"], 443);
    assert_eq!(perms[1]["ToPort"], 8100);

    let by_port = h.aws_ok(&[
        "ec2",
        "describe-security-groups",
        "--filters",
        "Name=ip-permission.from-port,Values=443",
    ]);
    assert_eq!(by_port["SecurityGroups"].as_array().unwrap().len(), 1);

    let rules = h.aws_ok(&[
        "ec2",
        "describe-security-group-rules",
        "--filters",
        &format!("Name=group-id,Values={sg}"),
    ]);
    assert_eq!(
        rules["SecurityGroupRules"].as_array().unwrap().len(),
        3,
        "two ingress + the default egress"
    );

    h.aws_ok(&[
        "ec2",
        "revoke-security-group-ingress",
        "--group-id",
        &sg,
        "--protocol",
        "tcp",
        "--port",
        "443",
        "--cidr",
        "0.0.0.0/0",
    ]);
    h.aws_err(
        &[
            "ec2",
            "revoke-security-group-ingress",
            "--group-id",
            &sg,
            "--protocol",
            "tcp",
            "--port",
            "443",
            "--cidr",
            "0.0.0.0/0",
        ],
        "InvalidPermission.NotFound",
    );
    h.aws_ok(&[
        "ec2",
        "revoke-security-group-egress",
        "--group-id",
        &sg,
        "--ip-permissions",
        "IpProtocol=-1,IpRanges=[{CidrIp=0.0.0.0/0}]",
    ]);
    let after = h.aws_ok(&["ec2", "describe-security-groups", "--group-ids", &sg]);
    assert_eq!(after["SecurityGroups"][0]["IpPermissionsEgress"], Value::Array(vec![]));

    let default_id = h.aws_ok(&["ec2", "describe-security-groups", "--group-names", "default"])["SecurityGroups"][0]
        ["GroupId"]
        .as_str()
        .unwrap()
        .to_string();
    h.aws_err(
        &["ec2", "delete-security-group", "--group-id", &default_id],
        "CannotDelete",
    );
    h.aws_ok(&["ec2", "delete-security-group", "--group-id", &sg]);
    h.aws_err(
        &["ec2", "describe-security-groups", "--group-ids", &sg],
        "InvalidGroup.NotFound",
    );
}

#[test]
fn tags_are_kept_filtered_and_limited() {
    let h = Haneul::start();
    let vpc = default_vpc(&h);
    h.aws_ok(&[
        "ec2",
        "create-tags",
        "--resources",
        &vpc,
        "--tags",
        "Key=env,Value=dev",
        "Key=team,Value=edge",
    ]);
    let tags = h.aws_ok(&[
        "ec2",
        "describe-tags",
        "--filters",
        &format!("Name=resource-id,Values={vpc}"),
    ]);
    assert_eq!(tags["Tags"].as_array().unwrap().len(), 2);
    assert_eq!(tags["Tags"][0]["ResourceType"], "vpc");
    h.aws_ok(&["ec2", "delete-tags", "--resources", &vpc, "--tags", "Key=env"]);
    let tags = h.aws_ok(&["ec2", "describe-tags", "--filters", "Name=key,Values=env"]);
    assert_eq!(tags["Tags"].as_array().unwrap().len(), 0);
    h.aws_err(
        &[
            "ec2",
            "create-tags",
            "--resources",
            "vpc-0123456789abcdef0",
            "--tags",
            "Key=a,Value=b",
        ],
        "InvalidVpcID.NotFound",
    );
    h.aws_err(
        &["ec2", "create-tags", "--resources", &vpc, "--tags", "Key=aws:x,Value=b"],
        "InvalidParameterValue",
    );
    let many: Vec<String> = (0..51).map(|i| format!("Key=k{i},Value=v")).collect();
    let mut args = vec!["ec2", "create-tags", "--resources", vpc.as_str(), "--tags"];
    args.extend(many.iter().map(String::as_str));
    h.aws_err(&args, "TagLimitExceeded");
    let tags = h.aws_ok(&["ec2", "describe-tags"]);
    assert_eq!(
        tags["Tags"].as_array().unwrap().len(),
        1,
        "a refused batch adds nothing"
    );
}

#[test]
fn describe_paginates_with_next_token() {
    let h = Haneul::start();
    for i in 0..7 {
        h.aws_ok(&["ec2", "create-vpc", "--cidr-block", &format!("10.{i}.0.0/16")]);
    }
    let first = h.aws_ok(&["ec2", "describe-vpcs", "--max-results", "5", "--no-paginate"]);
    assert_eq!(first["Vpcs"].as_array().unwrap().len(), 5);
    let token = first["NextToken"].as_str().unwrap();
    let second = h.aws_ok(&[
        "ec2",
        "describe-vpcs",
        "--max-results",
        "5",
        "--next-token",
        token,
        "--no-paginate",
    ]);
    assert_eq!(second["Vpcs"].as_array().unwrap().len(), 3);
    assert!(second.get("NextToken").is_none(), "last page has no token: {second}");
    let mut ids: Vec<&str> = first["Vpcs"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["Vpcs"].as_array().unwrap())
        .map(|v| v["VpcId"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "pages neither repeat nor skip");
    // The CLI's own paginator walks every page: all eight VPCs (seven + default).
    let all = h.aws_ok(&["ec2", "describe-vpcs", "--page-size", "5"]);
    assert_eq!(all["Vpcs"].as_array().unwrap().len(), 8);
}

#[test]
fn dev_reset_wipes_all_state() {
    let h = Haneul::start();
    let before = default_vpc(&h);
    h.aws_ok(&["ec2", "create-vpc", "--cidr-block", "10.40.0.0/16"]);
    let resp = h.raw_blocking("POST", "/_haneul/reset", &[], "");
    assert_eq!(resp.status, 200, "{}", resp.body);
    let vpcs = h.aws_ok(&["ec2", "describe-vpcs"]);
    assert_eq!(
        vpcs["Vpcs"].as_array().unwrap().len(),
        1,
        "only a fresh default VPC: {vpcs}"
    );
    assert_ne!(
        vpcs["Vpcs"][0]["VpcId"].as_str().unwrap(),
        before,
        "the default VPC was recreated"
    );
}
