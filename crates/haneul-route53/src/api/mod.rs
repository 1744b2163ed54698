//! One module per Route 53 resource family; each function is one operation.

pub mod changes;
pub mod cidr_collections;
pub mod health_checks;
pub mod hosted_zones;
pub mod internal;
pub mod query_logging;
pub mod record_sets;
pub mod tags;
pub mod test_dns_answer;
pub mod vpcs;
