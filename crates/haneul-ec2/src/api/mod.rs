//! One module per EC2 resource family; each function is one operation.

pub mod regions;
pub mod rules;
pub mod security_groups;
pub mod subnets;
pub mod tags;
pub mod vpcs;
