//! One resolver per VPC — haneul's stand-in for AWS's "VPC+2" Route 53 Resolver. Each gets its
//! own UDP+TCP address (the DNS address's IP, a port of haneul's choosing) and answers that
//! VPC's private zones first, then public zones, then (if configured) forwards upstream.
//! Addresses are published in [`DataPlane::vpc_resolvers`] (and `/_haneul/health`).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::dns::server::{bind, serve, Door};
use crate::dns::udp::UdpWorkers;
use crate::dns::DataPlane;

struct Running {
    addr: SocketAddr,
    /// Dropping these stops the resolver.
    _tasks: JoinSet<()>,
    _udp: UdpWorkers,
}

pub struct Resolvers {
    ip: IpAddr,
    upstream: Option<SocketAddr>,
    plane: Arc<DataPlane>,
    running: HashMap<String, Running>,
}

impl Resolvers {
    pub fn new(ip: IpAddr, upstream: Option<SocketAddr>, plane: Arc<DataPlane>) -> Resolvers {
        Resolvers {
            ip,
            upstream,
            plane,
            running: HashMap::new(),
        }
    }

    /// Starts a resolver for each new VPC and stops those of VPCs that are gone.
    pub async fn reconcile(&mut self, vpcs: &[String]) {
        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|id| vpcs.binary_search(id).is_err())
            .cloned()
            .collect();
        let stopped: Vec<Running> = gone.iter().filter_map(|id| self.running.remove(id)).collect();
        if !stopped.is_empty() {
            // Stopping waits for the UDP threads' next stop check: not on the runtime.
            tokio::task::spawn_blocking(move || drop(stopped));
        }
        for vpc in vpcs {
            if self.running.contains_key(vpc) {
                continue;
            }
            match bind(SocketAddr::new(self.ip, 0)).await {
                Ok((udp, tcp)) => {
                    let Ok(addr) = udp.local_addr() else { continue };
                    let door = Arc::new(Door {
                        vpc: Some(vpc.clone()),
                        upstream: self.upstream,
                    });
                    let mut tasks = JoinSet::new();
                    // One UDP thread: a VPC resolver answers one VPC's clients.
                    let udp = match serve(&mut tasks, udp, tcp, 1, self.plane.clone(), door) {
                        Ok(workers) => workers,
                        Err(e) => {
                            tracing::warn!(vpc = %vpc, error = %e, "cannot start the VPC's resolver");
                            continue;
                        }
                    };
                    tracing::info!(vpc = %vpc, %addr, "VPC resolver listening");
                    self.running.insert(
                        vpc.clone(),
                        Running {
                            addr,
                            _tasks: tasks,
                            _udp: udp,
                        },
                    );
                }
                Err(e) => tracing::warn!(vpc = %vpc, error = %e, "cannot start the VPC's resolver"),
            }
        }
        let published: BTreeMap<String, SocketAddr> = self.running.iter().map(|(id, r)| (id.clone(), r.addr)).collect();
        self.plane.vpc_resolvers.store(Arc::new(published));
    }
}
