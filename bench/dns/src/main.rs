//! Tools for `bench/dns/large.sh`: load a zone of N records into haneul through the Route 53
//! API (writing the same zone as a file for Knot), and time how long a change takes to show
//! in DNS answers — through the Route 53 API on haneul, through `knotc` on Knot.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use aws_credential_types::Credentials;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
};
use clap::{Parser, Subcommand};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create `zone` in haneul with `records` A records (r0…rN-1) and write it as a zone file.
    Load {
        #[arg(long)]
        endpoint: String,
        #[arg(long)]
        zone: String,
        #[arg(long)]
        records: usize,
        #[arg(long)]
        zone_file: String,
    },
    /// Upsert `name` with a new address `rounds` times; time until DNS answers with it.
    ChangeVisible {
        /// haneul's API endpoint; without it, changes go through `--knotc`.
        #[arg(long)]
        endpoint: Option<String>,
        #[arg(long)]
        zone_id: Option<String>,
        /// `knotc -c …/knot.conf` for Knot.
        #[arg(long)]
        knotc: Option<String>,
        #[arg(long)]
        zone: String,
        #[arg(long)]
        dns: SocketAddr,
        #[arg(long, default_value = "probe")]
        label: String,
        #[arg(long, default_value_t = 50)]
        rounds: usize,
    },
}

/// Records per ChangeResourceRecordSets batch (Route 53's limit for CREATE).
const BATCH: usize = 1000;
/// How long one change may take to show before the run fails.
const VISIBLE_TIMEOUT_S: u64 = 30;

fn client(endpoint: &str) -> aws_sdk_route53::Client {
    let config = aws_sdk_route53::Config::builder()
        .behavior_version(aws_sdk_route53::config::BehaviorVersion::latest())
        .region(aws_sdk_route53::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDBENCH", "bench-secret", None, None, "bench"))
        .build();
    aws_sdk_route53::Client::from_conf(config)
}

fn a_record(action: ChangeAction, name: String, ip: String) -> anyhow::Result<Change> {
    let set = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::A)
        .ttl(60)
        .resource_records(ResourceRecord::builder().value(ip).build()?)
        .build()?;
    Ok(Change::builder().action(action).resource_record_set(set).build()?)
}

fn ip_of(i: usize) -> String {
    format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)
}

async fn wait_insync(r53: &aws_sdk_route53::Client, id: &str) -> anyhow::Result<()> {
    loop {
        let out = r53.get_change().id(id).send().await?;
        if out.change_info().map(|c| c.status()) == Some(&ChangeStatus::Insync) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn load(endpoint: &str, zone: &str, records: usize, zone_file: &str) -> anyhow::Result<()> {
    let r53 = client(endpoint);
    let created = r53
        .create_hosted_zone()
        .name(zone)
        .caller_reference(format!("bench-{}", std::process::id()))
        .send()
        .await?;
    let zone_id = created
        .hosted_zone()
        .context("no zone")?
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string();
    let started = Instant::now();
    let mut last = String::new();
    for chunk in (0..records).collect::<Vec<_>>().chunks(BATCH) {
        let changes = chunk
            .iter()
            .map(|i| a_record(ChangeAction::Create, format!("r{i}.{zone}."), ip_of(*i)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let out = r53
            .change_resource_record_sets()
            .hosted_zone_id(&zone_id)
            .change_batch(ChangeBatch::builder().set_changes(Some(changes)).build()?)
            .send()
            .await?;
        last = out.change_info().context("no change")?.id().to_string();
    }
    wait_insync(&r53, &last).await?;
    eprintln!("loaded {records} records in {:.1} s", started.elapsed().as_secs_f64());
    // The same zone for Knot: haneul's SOA and NS, then the records.
    let apex = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .max_items(2)
        .send()
        .await?;
    let mut text = format!("$ORIGIN {zone}.\n");
    for set in apex.resource_record_sets() {
        for r in set.resource_records() {
            text += &format!(
                "@ {} IN {} {}\n",
                set.ttl().unwrap_or(300),
                set.r#type().as_str(),
                r.value()
            );
        }
    }
    for i in 0..records {
        text += &format!("r{i} 60 IN A {}\n", ip_of(i));
    }
    std::fs::write(zone_file, text)?;
    println!("{zone_id}");
    Ok(())
}

/// The A values `name` has right now at `dns` (empty on timeout).
async fn a_values(socket: &tokio::net::UdpSocket, dns: SocketAddr, name: &Name, id: u16) -> Vec<String> {
    let mut m = Message::new();
    m.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query);
    m.add_query(Query::query(name.clone(), RecordType::A));
    let Ok(bytes) = m.to_vec() else { return Vec::new() };
    if socket.send_to(&bytes, dns).await.is_err() {
        return Vec::new();
    }
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok(Ok((n, _))) = tokio::time::timeout(Duration::from_millis(50), socket.recv_from(&mut buf)).await else {
            return Vec::new();
        };
        match Message::from_vec(&buf[..n]) {
            Ok(reply) if reply.id() == id => return reply.answers().iter().map(|r| r.data().to_string()).collect(),
            _ => continue, // a late reply to an earlier probe
        }
    }
}

fn knotc_set(knotc: &str, zone: &str, label: &str, ip: &str) -> anyhow::Result<()> {
    let parts: Vec<&str> = knotc.split_whitespace().collect();
    let run = |args: &[&str]| -> anyhow::Result<()> {
        let status = std::process::Command::new(parts[0])
            .args(&parts[1..])
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()?;
        if !status.success() {
            bail!("knotc {args:?} failed");
        }
        Ok(())
    };
    run(&["zone-begin", zone])?;
    run(&["zone-unset", zone, label, "A"]).ok();
    run(&["zone-set", zone, label, "60", "A", ip])?;
    run(&["zone-commit", zone])
}

#[allow(clippy::too_many_arguments)]
async fn change_visible(
    endpoint: Option<&str>,
    zone_id: Option<&str>,
    knotc: Option<&str>,
    zone: &str,
    dns: SocketAddr,
    label: &str,
    rounds: usize,
) -> anyhow::Result<()> {
    let name = Name::from_ascii(format!("{label}.{zone}."))?;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    let mut samples_ms = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let ip = format!("172.16.{}.{}", round / 250, round % 250 + 1);
        let started = Instant::now();
        match (endpoint, zone_id, knotc) {
            (Some(endpoint), Some(zone_id), _) => {
                client(endpoint)
                    .change_resource_record_sets()
                    .hosted_zone_id(zone_id)
                    .change_batch(
                        ChangeBatch::builder()
                            .changes(a_record(ChangeAction::Upsert, format!("{label}.{zone}."), ip.clone())?)
                            .build()?,
                    )
                    .send()
                    .await?;
            }
            (_, _, Some(knotc)) => knotc_set(knotc, zone, label, &ip)?,
            _ => bail!("give --endpoint and --zone-id (haneul) or --knotc (Knot)"),
        }
        let mut id: u16 = 1;
        loop {
            id = id.wrapping_add(1);
            if a_values(&socket, dns, &name, id).await.contains(&ip) {
                break;
            }
            if started.elapsed() > Duration::from_secs(VISIBLE_TIMEOUT_S) {
                bail!("{name} never showed {ip}");
            }
        }
        samples_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples_ms.sort_by(f64::total_cmp);
    let pick = |q: f64| samples_ms[((samples_ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "change-to-visible: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {rounds} changes",
        pick(0.5),
        pick(0.99),
        pick(1.0)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Cmd::Load {
            endpoint,
            zone,
            records,
            zone_file,
        } => load(&endpoint, &zone, records, &zone_file).await,
        Cmd::ChangeVisible {
            endpoint,
            zone_id,
            knotc,
            zone,
            dns,
            label,
            rounds,
        } => {
            change_visible(
                endpoint.as_deref(),
                zone_id.as_deref(),
                knotc.as_deref(),
                &zone,
                dns,
                &label,
                rounds,
            )
            .await
        }
    }
}
