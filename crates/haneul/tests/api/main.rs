//! Integration tests: every public surface driven as a client would (AWS SDK for Rust, the
//! `aws` CLI, raw HTTP for wire envelopes, the `haneul` binary itself).
//!
//! Slow end-to-end tests are `#[ignore]`d so `cargo test` skips them locally; CI runs them
//! with `--include-ignored` (see README).

mod acm;
mod cli;
mod dns_differential;
mod durability;
mod ec2_cli;
mod ecr;
mod ecr_docker;
mod ecr_pull_through;
mod ecr_registry;
mod ecs_agents;
mod ecs_cli;
mod ecs_services;
mod ecs_tasks;
mod elbv2_cli;
mod elbv2_proxy;
mod logs;
mod route53;
mod route53_private;
mod route53_routing;
mod route53domains_cli;
mod sigv4;
mod sts;
mod support;
mod wire;
