//! awsvpc tasks' addresses: each task gets one loopback address of the task CIDR
//! (`--task-cidr`, default [`DEFAULT_TASK_CIDR`]) as its ENI's private IPv4 address, so every
//! task can publish the same container port and tests never send traffic off the host.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use haneul_store::{StoreError, Txn};

use crate::model::{address_scope, TaskAddress, KIND_TASK_ADDRESS};

pub const DEFAULT_TASK_CIDR: &str = "127.0.2.0/23";

#[derive(Debug, Clone)]
pub struct TaskCidr {
    network: u32,
    size: u32,
    /// Where the next allocation starts probing (shared by clones): addresses are handed
    /// out round the range, so a just-released one is not reused at once.
    cursor: Arc<AtomicU32>,
}

#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error("the task CIDR {0} is not an IPv4 loopback CIDR of /8 to /30")]
    Invalid(String),
    #[error("the task CIDR has no free address left")]
    Exhausted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TaskCidr {
    pub fn parse(cidr: &str) -> Result<TaskCidr, AddressError> {
        let invalid = || AddressError::Invalid(cidr.to_string());
        let (base, prefix) = cidr.split_once('/').ok_or_else(invalid)?;
        let base: Ipv4Addr = base.parse().map_err(|_| invalid())?;
        let prefix: u32 = prefix.parse().map_err(|_| invalid())?;
        if !(8..=30).contains(&prefix) || !base.is_loopback() {
            return Err(invalid());
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(TaskCidr {
            network: u32::from(base) & mask,
            size: 1 << (32 - prefix),
            cursor: Arc::new(AtomicU32::new(0)),
        })
    }

    /// A free address (not the network's first or last), recorded for `task_arn` in the
    /// same transaction. Addresses are probed one by one from where the last allocation
    /// left off (a keyed read each), so a task costs a few reads however many are running.
    pub fn allocate(&self, t: &mut Txn<'_>, task_arn: &str) -> Result<String, AddressError> {
        let scope = address_scope();
        let usable = self.size - 2;
        let start = self.cursor.load(Ordering::Relaxed) % usable;
        for step in 0..usable {
            let offset = (start + step) % usable;
            let ip = Ipv4Addr::from(self.network + 1 + offset).to_string();
            if t.exists(&scope, KIND_TASK_ADDRESS, &ip)? {
                continue;
            }
            t.put(
                &scope,
                KIND_TASK_ADDRESS,
                &ip,
                &TaskAddress {
                    ip: ip.clone(),
                    task_arn: task_arn.to_string(),
                },
            )?;
            self.cursor.store(offset + 1, Ordering::Relaxed);
            return Ok(ip);
        }
        Err(AddressError::Exhausted)
    }
}

/// Gives a stopped task's address back.
pub fn release(t: &mut Txn<'_>, ip: &str, task_arn: &str) -> Result<(), StoreError> {
    let scope = address_scope();
    if let Some(a) = t.get::<TaskAddress>(&scope, KIND_TASK_ADDRESS, ip)? {
        if a.task_arn == task_arn {
            t.delete(&scope, KIND_TASK_ADDRESS, ip)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let c = TaskCidr::parse("127.0.2.0/23").unwrap();
        assert_eq!(c.size, 512);
        assert!(TaskCidr::parse("10.0.0.0/24").is_err());
        assert!(TaskCidr::parse("127.0.0.0/31").is_err());
    }
}
