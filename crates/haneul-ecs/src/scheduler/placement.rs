//! Task placement on container instances (the EC2 and EXTERNAL launch types), as ECS does
//! it: the instances of the cluster that are ACTIVE with a connected agent, that have the
//! CPU, memory and static host ports the task needs and satisfy every placement constraint
//! (`distinctInstance`, `memberOf` with a cluster query expression), ranked by the
//! placement strategies in order (`spread` over a field, `binpack` on cpu or memory,
//! `random`). FARGATE tasks run on haneul's own host and are not placed here.

use std::collections::{BTreeMap, HashMap};

use haneul_store::{Scope, Txn};
use serde_json::Value;

use super::expression::{self, Subject};
use super::usage::{self, Usage};
use crate::api::container_instances::{ContainerInstance, KIND_CONTAINER_INSTANCE};
use crate::error::EcsError;
use crate::model::SEP;

/// A container instance as placement sees it: what it has left and what runs on it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub arn: String,
    pub ec2_instance_id: String,
    pub zone: String,
    pub attributes: BTreeMap<String, Option<String>>,
    pub agent_connected: bool,
    pub cpu_left: i64,
    pub memory_left: i64,
    pub ports_used: Vec<u16>,
    /// Its live tasks per task group.
    pub task_groups: BTreeMap<String, i64>,
    /// How many live tasks it has.
    pub running_tasks: i64,
    /// The capacity provider its agent joined.
    pub capacity_provider: Option<String>,
}

/// What one task needs from an instance.
#[derive(Debug, Clone, Default)]
pub struct Need {
    pub cpu: i64,
    pub memory: i64,
    pub host_ports: Vec<u16>,
    pub group: String,
    /// Only instances that joined this capacity provider (a task launched through one).
    pub capacity_provider: Option<String>,
}

/// Why no instance took a task: ECS's RunTask failure reason, and the words of a service
/// event.
#[derive(Debug, Clone, PartialEq)]
pub struct Unplaced {
    pub reason: String,
    pub detail: String,
    /// The closest matching instance, when there is one.
    pub instance_arn: Option<String>,
}

impl Unplaced {
    fn new(reason: &str, detail: String) -> Unplaced {
        Unplaced {
            reason: reason.to_string(),
            detail,
            instance_arn: None,
        }
    }
}

fn registered(resources: &Value, name: &str) -> i64 {
    resources
        .as_array()
        .and_then(|a| a.iter().find(|r| r.get("name").and_then(Value::as_str) == Some(name)))
        .and_then(|r| r.get("integerValue").and_then(Value::as_i64))
        .unwrap_or(0)
}

fn reserved_ports(resources: &Value) -> Vec<u16> {
    resources
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|r| r.get("name").and_then(Value::as_str) == Some("PORTS"))
        })
        .and_then(|r| r.get("stringSetValue").and_then(Value::as_array))
        .map(|a| a.iter().filter_map(|p| p.as_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

/// The CPU units, MiB and static host ports a task of `definition` (with task-level
/// `cpu`/`memory` when set) takes on an instance.
pub fn need_of(definition: &Value, cpu: Option<&str>, memory: Option<&str>, group: &str) -> Need {
    let containers = crate::runtime::spec::containers_of(definition);
    let sum = |f: &dyn Fn(&Value) -> i64| containers.iter().map(|c| f(c)).sum::<i64>();
    let task_cpu = cpu.and_then(|c| c.parse::<i64>().ok());
    let task_memory = memory.and_then(|m| m.parse::<i64>().ok());
    let mode = definition
        .get("networkMode")
        .and_then(Value::as_str)
        .unwrap_or("bridge");
    let mut host_ports = Vec::new();
    if mode != "awsvpc" {
        for c in &containers {
            for p in c.get("portMappings").and_then(Value::as_array).into_iter().flatten() {
                let container = p.get("containerPort").and_then(Value::as_i64).unwrap_or(0);
                let host = match mode {
                    "host" => container,
                    _ => p.get("hostPort").and_then(Value::as_i64).unwrap_or(0),
                };
                if let Ok(port) = u16::try_from(host) {
                    if port != 0 {
                        host_ports.push(port);
                    }
                }
            }
        }
    }
    Need {
        cpu: task_cpu.unwrap_or_else(|| sum(&|c| c.get("cpu").and_then(Value::as_i64).unwrap_or(0))),
        memory: task_memory.unwrap_or_else(|| {
            sum(&|c| {
                c.get("memoryReservation")
                    .and_then(Value::as_i64)
                    .or_else(|| c.get("memory").and_then(Value::as_i64))
                    .unwrap_or(0)
            })
        }),
        host_ports,
        group: group.to_string(),
        capacity_provider: None,
    }
}

/// The instances of `cluster` that are not INACTIVE, with what their live tasks use and how
/// many tasks of `group` each has — of every group when `all_groups` (a memberOf expression
/// on `task:group` needs them).
pub fn candidates(
    t: &Txn<'_>,
    scope: &Scope,
    cluster: &str,
    group: &str,
    all_groups: bool,
) -> Result<Vec<Candidate>, EcsError> {
    let now = haneul_wire::value::now_epoch_s();
    let prefix = format!("{cluster}{SEP}");
    let mut out: Vec<Candidate> = Vec::new();
    for (_, ci) in t.list_prefix::<ContainerInstance>(scope, KIND_CONTAINER_INSTANCE, &prefix)? {
        if ci.status != "ACTIVE" {
            continue;
        }
        let zone = ci
            .attributes
            .get("ecs.availability-zone")
            .cloned()
            .flatten()
            .unwrap_or_default();
        out.push(Candidate {
            agent_connected: ci.agent_connected(now),
            cpu_left: registered(&ci.resources, "CPU"),
            memory_left: registered(&ci.resources, "MEMORY"),
            ports_used: reserved_ports(&ci.resources),
            capacity_provider: ci
                .attributes
                .get(crate::api::capacity_providers::PROVIDER_ATTRIBUTE)
                .cloned()
                .flatten(),
            arn: ci.arn,
            ec2_instance_id: ci.ec2_instance_id,
            zone,
            attributes: ci.attributes,
            task_groups: BTreeMap::new(),
            running_tasks: 0,
        });
    }
    if out.is_empty() {
        return Ok(out);
    }
    let mut used = usage::of_cluster(t, scope, cluster)?;
    for c in &mut out {
        if let Some(u) = used.remove(&c.arn) {
            c.cpu_left -= u.cpu;
            c.memory_left -= u.memory;
            c.ports_used.extend(&u.host_ports);
            c.running_tasks += u.tasks;
            if all_groups {
                c.task_groups = usage::groups_of(t, scope, cluster, &c.arn)?;
            } else {
                let n = usage::group_count(t, scope, cluster, &c.arn, group)?;
                if n > 0 {
                    c.task_groups.insert(group.to_string(), n);
                }
            }
        }
    }
    Ok(out)
}

/// Whether any of the constraints is a memberOf expression on `task:group`.
pub fn needs_all_groups(constraints: &[Value]) -> bool {
    constraints.iter().any(|k| {
        k.get("type").and_then(Value::as_str) == Some("memberOf")
            && k.get("expression")
                .and_then(Value::as_str)
                .is_some_and(|e| e.contains("task:group"))
    })
}

/// The instance's registered resources less what its live tasks take (remainingResources).
pub fn remaining(resources: &Value, used: Option<&Usage>) -> Value {
    let mut out = resources.clone();
    let none = Usage::default();
    let used = used.unwrap_or(&none);
    let (cpu, memory) = (used.cpu, used.memory);
    let ports: Vec<String> = used.host_ports.iter().map(u16::to_string).collect();
    for r in out.as_array_mut().into_iter().flatten() {
        match r.get("name").and_then(Value::as_str) {
            Some("CPU") => {
                let v = r.get("integerValue").and_then(Value::as_i64).unwrap_or(0);
                r["integerValue"] = Value::from(v - cpu);
            }
            Some("MEMORY") => {
                let v = r.get("integerValue").and_then(Value::as_i64).unwrap_or(0);
                r["integerValue"] = Value::from(v - memory);
            }
            Some("PORTS") => {
                if let Some(set) = r.get_mut("stringSetValue").and_then(Value::as_array_mut) {
                    set.extend(ports.iter().cloned().map(Value::from));
                }
            }
            _ => {}
        }
    }
    out
}

fn take(c: &mut Candidate, need: &Need) {
    c.cpu_left -= need.cpu;
    c.memory_left -= need.memory;
    c.ports_used.extend(&need.host_ports);
    *c.task_groups.entry(need.group.clone()).or_default() += 1;
    c.running_tasks += 1;
}

/// Checks the constraints and strategies as given (at RunTask / CreateService).
pub fn validate(constraints: &[Value], strategy: &[Value]) -> Result<(), EcsError> {
    let invalid = |m: String| EcsError::InvalidParameter(m);
    if constraints.len() > 10 {
        return Err(invalid("placementConstraints can have at most 10 items.".into()));
    }
    if strategy.len() > 5 {
        return Err(invalid("placementStrategy can have at most 5 items.".into()));
    }
    for c in constraints {
        match c.get("type").and_then(Value::as_str) {
            Some("distinctInstance") => {
                if c.get("expression").is_some() {
                    return Err(invalid(
                        "A distinctInstance placement constraint does not take an expression.".into(),
                    ));
                }
            }
            Some("memberOf") => {
                let Some(e) = c.get("expression").and_then(Value::as_str) else {
                    return Err(invalid(
                        "A memberOf placement constraint requires an expression.".into(),
                    ));
                };
                let empty = BTreeMap::new();
                let no_groups = BTreeMap::new();
                let probe = Subject {
                    attributes: &empty,
                    ec2_instance_id: "",
                    agent_connected: true,
                    running_tasks: 0,
                    task_groups: &no_groups,
                };
                expression::matches(e, &probe).map_err(|e| invalid(e.0))?;
            }
            other => {
                return Err(invalid(format!(
                    "Invalid placement constraint type: {}. Valid types are distinctInstance and memberOf.",
                    other.unwrap_or("")
                )))
            }
        }
    }
    for s in strategy {
        let field = s.get("field").and_then(Value::as_str);
        match s.get("type").and_then(Value::as_str) {
            Some("random") => {}
            Some("spread") => {
                if field.is_none() {
                    return Err(invalid("A spread placement strategy requires a field.".into()));
                }
            }
            Some("binpack") => {
                if !matches!(field.map(str::to_ascii_lowercase).as_deref(), Some("cpu" | "memory")) {
                    return Err(invalid(
                        "A binpack placement strategy's field must be cpu or memory.".into(),
                    ));
                }
            }
            other => {
                return Err(invalid(format!(
                    "Invalid placement strategy type: {}. Valid types are random, spread and binpack.",
                    other.unwrap_or("")
                )))
            }
        }
    }
    Ok(())
}

/// Picks an instance for one task and books its resources there. Returns the index.
pub fn place(
    candidates: &mut [Candidate],
    need: &Need,
    constraints: &[Value],
    strategy: &[Value],
) -> Result<usize, Unplaced> {
    if candidates.is_empty() {
        return Err(Unplaced::new(
            "MISSING",
            "No Container Instances were found in your cluster.".into(),
        ));
    }
    let mut closest: Option<Unplaced> = None;
    let mut fits: Vec<usize> = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        if need.capacity_provider.is_some() && c.capacity_provider != need.capacity_provider {
            continue;
        }
        let short = |r: &str, what: &str| Unplaced {
            instance_arn: Some(c.arn.clone()),
            ..Unplaced::new(
                r,
                format!(
                    "The closest matching (container-instance {}) {what}.",
                    c.arn.rsplit('/').next().unwrap_or(&c.arn)
                ),
            )
        };
        let failure = if !c.agent_connected {
            Some(short("AGENT", "has no connected agent"))
        } else if c.cpu_left < need.cpu {
            Some(short("RESOURCE:CPU", "has insufficient CPU units available"))
        } else if c.memory_left < need.memory {
            Some(short("RESOURCE:MEMORY", "has insufficient memory available"))
        } else if need.host_ports.iter().any(|p| c.ports_used.contains(p)) {
            Some(short("RESOURCE:PORTS", "is already using a port required by your task"))
        } else {
            constraints.iter().find_map(|k| {
                let holds = match k.get("type").and_then(Value::as_str) {
                    Some("distinctInstance") => !c.task_groups.contains_key(&need.group),
                    Some("memberOf") => {
                        let e = k.get("expression").and_then(Value::as_str).unwrap_or("");
                        let subject = Subject {
                            attributes: &c.attributes,
                            ec2_instance_id: &c.ec2_instance_id,
                            agent_connected: c.agent_connected,
                            running_tasks: c.running_tasks,
                            task_groups: &c.task_groups,
                        };
                        expression::matches(e, &subject).unwrap_or(false)
                    }
                    _ => true,
                };
                (!holds).then(|| {
                    let kind = k.get("type").and_then(Value::as_str).unwrap_or("");
                    if kind == "distinctInstance" {
                        short(
                            "ATTRIBUTE",
                            "encountered error \"DistinctInstance placement constraint unsatisfied.\"",
                        )
                    } else {
                        short(
                            "ATTRIBUTE",
                            "encountered error \"MemberOf placement constraint unsatisfied.\"",
                        )
                    }
                })
            })
        };
        match failure {
            None => fits.push(i),
            Some(f) => {
                closest.get_or_insert(f);
            }
        }
    }
    if fits.is_empty() {
        return Err(closest.unwrap_or_else(|| match &need.capacity_provider {
            Some(p) => Unplaced::new(
                "MISSING",
                format!("No Container Instances were found in capacity provider {p}."),
            ),
            None => Unplaced::new("MISSING", "No container instance fits.".into()),
        }));
    }
    let chosen = rank(candidates, &fits, need, strategy);
    take(&mut candidates[chosen], need);
    Ok(chosen)
}

/// The best of `fits` by the strategies in order (ties: the next strategy, then random).
fn rank(candidates: &[Candidate], fits: &[usize], need: &Need, strategy: &[Value]) -> usize {
    // For each spread strategy, once: how many of the group's tasks share each candidate's
    // value of the field (so ranking stays linear in the candidates).
    let spread: Vec<Option<Vec<i64>>> = strategy
        .iter()
        .map(|s| {
            (s.get("type").and_then(Value::as_str) == Some("spread")).then(|| {
                let field = s.get("field").and_then(Value::as_str).unwrap_or("");
                // instanceId, host (and anything else): the instance itself.
                let value_of = |x: &Candidate| -> Option<String> {
                    match field.strip_prefix("attribute:") {
                        Some(name) => x.attributes.get(name).cloned().flatten(),
                        None => Some(x.arn.clone()),
                    }
                };
                let values: Vec<Option<String>> = candidates.iter().map(value_of).collect();
                let mut per_value: HashMap<&Option<String>, i64> = HashMap::new();
                for (x, v) in candidates.iter().zip(&values) {
                    *per_value.entry(v).or_default() += x.task_groups.get(&need.group).copied().unwrap_or(0);
                }
                values.iter().map(|v| per_value.get(v).copied().unwrap_or(0)).collect()
            })
        })
        .collect();
    let score = |i: usize| -> Vec<i64> {
        let c = &candidates[i];
        let mut key = Vec::with_capacity(strategy.len() + 1);
        for (n, s) in strategy.iter().enumerate() {
            let field = s.get("field").and_then(Value::as_str).unwrap_or("");
            match (s.get("type").and_then(Value::as_str), &spread[n]) {
                (Some("binpack"), _) if field.eq_ignore_ascii_case("cpu") => key.push(c.cpu_left - need.cpu),
                (Some("binpack"), _) => key.push(c.memory_left - need.memory),
                (Some("spread"), Some(same)) => key.push(same[i]),
                _ => key.push(rand::random::<u16>() as i64),
            }
        }
        key.push(rand::random::<u16>() as i64);
        key
    };
    let scored: Vec<(Vec<i64>, usize)> = fits.iter().map(|&i| (score(i), i)).collect();
    scored
        .into_iter()
        .min_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, i)| i)
        .unwrap_or(fits[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn candidate(n: u8, zone: &str, memory: i64) -> Candidate {
        let mut attributes = BTreeMap::new();
        attributes.insert("ecs.availability-zone".to_string(), Some(zone.to_string()));
        Candidate {
            arn: format!("arn:aws:ecs:r:1:container-instance/c/{n}"),
            ec2_instance_id: format!("i-{n}"),
            zone: zone.into(),
            attributes,
            agent_connected: true,
            cpu_left: 1024,
            memory_left: memory,
            ports_used: vec![22],
            task_groups: BTreeMap::new(),
            running_tasks: 0,
            capacity_provider: None,
        }
    }

    fn need(memory: i64, ports: Vec<u16>) -> Need {
        Need {
            cpu: 128,
            memory,
            host_ports: ports,
            group: "service:web".into(),
            capacity_provider: None,
        }
    }

    #[test]
    fn spread_binpack_and_constraints() {
        let mut c = vec![candidate(1, "a", 1000), candidate(2, "b", 1000), candidate(3, "a", 500)];
        let spread = [json!({"type": "spread", "field": "attribute:ecs.availability-zone"})];
        let zones: Vec<String> = (0..4)
            .map(|_| {
                let at = place(&mut c, &need(100, vec![]), &[], &spread).unwrap();
                c[at].zone.clone()
            })
            .collect();
        assert_eq!(zones.iter().filter(|z| *z == "a").count(), 2, "{zones:?}");

        let mut c = vec![candidate(1, "a", 1000), candidate(2, "b", 300)];
        let binpack = [json!({"type": "binpack", "field": "memory"})];
        assert_eq!(place(&mut c, &need(200, vec![]), &[], &binpack), Ok(1));
        let unplaced = place(&mut c, &need(2000, vec![]), &[], &binpack).unwrap_err();
        assert_eq!(unplaced.reason, "RESOURCE:MEMORY");

        let mut c = vec![candidate(1, "a", 1000), candidate(2, "b", 1000)];
        let distinct = [json!({"type": "distinctInstance"})];
        let a = place(&mut c, &need(10, vec![]), &distinct, &[]).unwrap();
        let b = place(&mut c, &need(10, vec![]), &distinct, &[]).unwrap();
        assert_ne!(a, b);
        assert_eq!(
            place(&mut c, &need(10, vec![]), &distinct, &[]).unwrap_err().reason,
            "ATTRIBUTE"
        );

        let mut c = vec![candidate(1, "a", 1000), candidate(2, "b", 1000)];
        let member = [json!({"type": "memberOf", "expression": "attribute:ecs.availability-zone == b"})];
        assert_eq!(place(&mut c, &need(10, vec![]), &member, &[]), Ok(1));
        assert_eq!(
            place(&mut c, &need(10, vec![22]), &[], &[]).unwrap_err().reason,
            "RESOURCE:PORTS"
        );
        assert_eq!(
            place(&mut [], &need(10, vec![]), &[], &[]).unwrap_err().reason,
            "MISSING"
        );
    }
}
