//! What the live tasks on each container instance take, kept as one row per instance (and a
//! count per instance and task group), so
//! placement reads a cluster's instances and their usage — not every task of the cluster —
//! for each task it places. Every task write goes through [`put_task`], which books a task's
//! need on its instance when it goes live there and gives it back when it stops; the task
//! carries what it booked ([`Booked`]), so each change is counted once. [`rebuild`] counts
//! everything again from the tasks (at scheduler start: data from before this ledger, or any
//! drift, is set right).

use std::collections::{BTreeMap, HashMap};

use haneul_store::{Scope, StoreError, Txn};
use serde::{Deserialize, Serialize};

use super::placement::need_of;
use crate::api::tasks::{on_instance_key, OnInstance, KIND_TASK_ON_INSTANCE};
use crate::model::{task_key, Booked, Task, HOST_LOCAL, KIND_TASK, SEP};

/// `cluster␁instance ARN` → [`Usage`].
pub const KIND_INSTANCE_USAGE: &str = "ecs.instance_usage";
/// `cluster␁instance ARN␁task group` → how many of the group's live tasks it has (apart
/// from [`Usage`], so placing a task reads one count per instance, not every group's).
pub const KIND_INSTANCE_GROUP_USAGE: &str = "ecs.instance_group_usage";

/// The sum of the live tasks' bookings on one instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub cpu: i64,
    pub memory: i64,
    /// One entry per booked port (a port two tasks book shows twice).
    pub host_ports: Vec<u16>,
    pub tasks: i64,
}

impl Usage {
    fn add(&mut self, b: &Booked) {
        self.cpu += b.cpu;
        self.memory += b.memory;
        self.host_ports.extend(&b.host_ports);
        self.tasks += 1;
    }

    fn subtract(&mut self, b: &Booked) {
        self.cpu -= b.cpu;
        self.memory -= b.memory;
        for p in &b.host_ports {
            if let Some(i) = self.host_ports.iter().position(|x| x == p) {
                self.host_ports.swap_remove(i);
            }
        }
        self.tasks -= 1;
    }
}

fn usage_key(cluster: &str, instance: &str) -> String {
    format!("{cluster}{SEP}{instance}")
}

fn group_key(cluster: &str, instance: &str, group: &str) -> String {
    format!("{cluster}{SEP}{instance}{SEP}{group}")
}

/// How many live tasks of `group` the instance has.
pub fn group_count(t: &Txn<'_>, scope: &Scope, cluster: &str, instance: &str, group: &str) -> Result<i64, StoreError> {
    Ok(
        t.get::<i64>(scope, KIND_INSTANCE_GROUP_USAGE, &group_key(cluster, instance, group))?
            .unwrap_or(0),
    )
}

/// The instance's live tasks per task group.
pub fn groups_of(
    t: &Txn<'_>,
    scope: &Scope,
    cluster: &str,
    instance: &str,
) -> Result<BTreeMap<String, i64>, StoreError> {
    let prefix = format!("{}{SEP}", usage_key(cluster, instance));
    Ok(t.list_prefix::<i64>(scope, KIND_INSTANCE_GROUP_USAGE, &prefix)?
        .into_iter()
        .map(|(key, n)| (key[prefix.len()..].to_string(), n))
        .collect())
}

/// What `task` takes on its instance, when it is live on one.
fn booking_of(task: &Task) -> Option<Booked> {
    if task.is_stopped() || task.host == HOST_LOCAL {
        return None;
    }
    let need = need_of(
        &task.definition(),
        task.cpu.as_deref(),
        task.memory.as_deref(),
        task.group.as_deref().unwrap_or(""),
    );
    Some(Booked {
        instance: task.host.clone(),
        cpu: need.cpu,
        memory: need.memory,
        host_ports: need.host_ports,
        group: need.group,
    })
}

fn change_usage(
    t: &mut Txn<'_>,
    scope: &Scope,
    cluster: &str,
    b: &Booked,
    change: fn(&mut Usage, &Booked),
) -> Result<(), StoreError> {
    let key = usage_key(cluster, &b.instance);
    let mut usage: Usage = t.get(scope, KIND_INSTANCE_USAGE, &key)?.unwrap_or_default();
    let before = usage.tasks;
    change(&mut usage, b);
    let group = group_key(cluster, &b.instance, &b.group);
    let count = group_count(t, scope, cluster, &b.instance, &b.group)? + (usage.tasks - before);
    if count <= 0 {
        t.delete(scope, KIND_INSTANCE_GROUP_USAGE, &group)?;
    } else {
        t.put(scope, KIND_INSTANCE_GROUP_USAGE, &group, &count)?;
    }
    if usage.tasks <= 0 {
        t.delete(scope, KIND_INSTANCE_USAGE, &key)?;
        Ok(())
    } else {
        t.put(scope, KIND_INSTANCE_USAGE, &key, &usage)
    }
}

/// Stores `task`, booking or giving back what it takes on its container instance.
pub fn put_task(t: &mut Txn<'_>, scope: &Scope, task: &mut Task) -> Result<(), StoreError> {
    let live_here = !task.is_stopped() && task.host != HOST_LOCAL;
    match (&task.booked, live_here) {
        (None, true) => {
            if let Some(b) = booking_of(task) {
                change_usage(t, scope, &task.cluster, &b, Usage::add)?;
                task.booked = Some(b);
            }
        }
        (Some(b), false) => {
            change_usage(t, scope, &task.cluster, b, Usage::subtract)?;
            task.booked = None;
        }
        _ => {}
    }
    put_index_row(t, scope, task)?;
    t.put(scope, KIND_TASK, &task_key(&task.cluster, &task.id), &*task)
}

/// Keeps the task's row in the tasks-by-instance index current (written only when it changes).
fn put_index_row(t: &mut Txn<'_>, scope: &Scope, task: &Task) -> Result<(), StoreError> {
    match on_instance_key(task) {
        Some(key) => write_index_row(t, scope, &key, &OnInstance::of(task)),
        None => Ok(()),
    }
}

fn write_index_row(t: &mut Txn<'_>, scope: &Scope, key: &str, row: &OnInstance) -> Result<(), StoreError> {
    let stored: Option<serde_json::Value> = t.get(scope, KIND_TASK_ON_INSTANCE, key)?;
    if stored
        .and_then(|v| serde_json::from_value::<OnInstance>(v).ok())
        .as_ref()
        != Some(row)
    {
        t.put(scope, KIND_TASK_ON_INSTANCE, key, row)?;
    }
    Ok(())
}

/// The usage of every instance of `cluster` with live tasks, by instance ARN.
pub fn of_cluster(t: &Txn<'_>, scope: &Scope, cluster: &str) -> Result<HashMap<String, Usage>, StoreError> {
    let prefix = format!("{cluster}{SEP}");
    Ok(t.list_prefix::<Usage>(scope, KIND_INSTANCE_USAGE, &prefix)?
        .into_iter()
        .map(|(key, usage)| (key[prefix.len()..].to_string(), usage))
        .collect())
}

/// Counts every instance's usage again from the tasks; fixes the tasks' bookings to match.
/// Returns how many tasks' bookings it had to change.
pub fn rebuild(t: &mut Txn<'_>) -> Result<usize, StoreError> {
    let mut stored: HashMap<(Scope, String), Usage> = HashMap::new();
    t.for_each_all_scopes::<Usage>(KIND_INSTANCE_USAGE, |scope, key, usage| {
        stored.insert((scope.clone(), key.to_string()), usage);
        Ok(())
    })?;
    let mut stored_groups: HashMap<(Scope, String), i64> = HashMap::new();
    t.for_each_all_scopes::<i64>(KIND_INSTANCE_GROUP_USAGE, |scope, key, n| {
        stored_groups.insert((scope.clone(), key.to_string()), n);
        Ok(())
    })?;
    let mut totals: HashMap<(Scope, String), Usage> = HashMap::new();
    let mut group_totals: HashMap<(Scope, String), i64> = HashMap::new();
    let mut fixed: Vec<(Scope, Task)> = Vec::new();
    // The index rows of tasks on instances (an older row holds the id alone).
    let mut indexed: Vec<(Scope, String, OnInstance)> = Vec::new();
    t.for_each_all_scopes::<Task>(KIND_TASK, |scope, _, mut task| {
        let booking = if task.is_stopped() || task.host == HOST_LOCAL {
            None
        } else {
            task.booked
                .clone()
                .filter(|b| b.instance == task.host)
                .or_else(|| booking_of(&task))
        };
        if let Some(b) = &booking {
            totals
                .entry((scope.clone(), usage_key(&task.cluster, &b.instance)))
                .or_default()
                .add(b);
            *group_totals
                .entry((scope.clone(), group_key(&task.cluster, &b.instance, &b.group)))
                .or_default() += 1;
        }
        if task.booked != booking {
            task.booked = booking;
            fixed.push((scope.clone(), task));
        } else if let Some(key) = on_instance_key(&task) {
            indexed.push((scope.clone(), key, OnInstance::of(&task)));
        }
        Ok(())
    })?;
    for (scope, key, row) in &indexed {
        write_index_row(t, scope, key, row)?;
    }
    for (scope, key) in stored.keys() {
        if !totals.contains_key(&(scope.clone(), key.clone())) {
            t.delete(scope, KIND_INSTANCE_USAGE, key)?;
        }
    }
    for (at, usage) in &totals {
        // Ports are a multiset: compare them in one order.
        let same = stored.get(at).is_some_and(|s| {
            let (mut a, mut b) = (s.host_ports.clone(), usage.host_ports.clone());
            a.sort_unstable();
            b.sort_unstable();
            a == b && (s.cpu, s.memory, s.tasks) == (usage.cpu, usage.memory, usage.tasks)
        });
        if !same {
            t.put(&at.0, KIND_INSTANCE_USAGE, &at.1, usage)?;
        }
    }
    for (scope, key) in stored_groups.keys() {
        if !group_totals.contains_key(&(scope.clone(), key.clone())) {
            t.delete(scope, KIND_INSTANCE_GROUP_USAGE, key)?;
        }
    }
    for (at, n) in &group_totals {
        if stored_groups.get(at) != Some(n) {
            t.put(&at.0, KIND_INSTANCE_GROUP_USAGE, &at.1, n)?;
        }
    }
    let changed = fixed.len();
    for (scope, task) in fixed {
        put_index_row(t, &scope, &task)?;
        t.put(&scope, KIND_TASK, &task_key(&task.cluster, &task.id), &task)?;
    }
    Ok(changed)
}
