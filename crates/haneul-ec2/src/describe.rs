//! The shared shape of every `Describe*`: ids (all must exist), filters, then a page.

use haneul_store::{Scope, Store};
use serde::de::DeserializeOwned;

use crate::defaults;
use crate::error::Ec2Error;
use crate::filter::{self, Filter, Filterable};
use crate::ids;
use crate::page::{paginate, Page};

/// How one resource type names itself in errors.
pub struct Kind {
    /// `vpc`, `subnet`, `security-group` (as [`ids::resource_type`] gives)
    pub resource_type: &'static str,
    /// `InvalidVpcID` — `.NotFound` / `.Malformed` are appended.
    pub code_prefix: &'static str,
    /// `vpc ID`, `subnet ID`, `security group`
    pub noun: &'static str,
    /// Request parameter named in `InvalidParameterCombination` (`vpcIds`).
    pub ids_param: &'static str,
}

pub const VPC: Kind = Kind {
    resource_type: "vpc",
    code_prefix: "InvalidVpcID",
    noun: "vpc ID",
    ids_param: "vpcIds",
};
pub const SUBNET: Kind = Kind {
    resource_type: "subnet",
    code_prefix: "InvalidSubnetID",
    noun: "subnet ID",
    ids_param: "subnetIds",
};
pub const SECURITY_GROUP: Kind = Kind {
    resource_type: "security-group",
    code_prefix: "InvalidGroup",
    noun: "security group",
    ids_param: "groupIds",
};

fn code_for(prefix: &'static str, suffix: &'static str) -> &'static str {
    // The few (prefix, suffix) pairs are constants; match them to static strings.
    match (prefix, suffix) {
        ("InvalidVpcID", "NotFound") => "InvalidVpcID.NotFound",
        ("InvalidVpcID", _) => "InvalidVpcID.Malformed",
        ("InvalidSubnetID", "NotFound") => "InvalidSubnetID.NotFound",
        ("InvalidSubnetID", _) => "InvalidSubnetID.Malformed",
        ("InvalidGroup", "NotFound") => "InvalidGroup.NotFound",
        ("InvalidGroup", _) => "InvalidGroupId.Malformed",
        _ => "InvalidParameterValue",
    }
}

impl Kind {
    pub fn not_found(&self, id: &str) -> Ec2Error {
        Ec2Error::not_found(
            code_for(self.code_prefix, "NotFound"),
            format!("The {} '{id}' does not exist", self.noun),
        )
    }

    pub fn malformed(&self, id: &str) -> Ec2Error {
        Ec2Error::not_found(code_for(self.code_prefix, "Malformed"), format!("Invalid id: \"{id}\""))
    }

    /// An id of this kind's format, or the `.Malformed` error.
    pub fn check_id(&self, id: &str) -> Result<(), Ec2Error> {
        match ids::resource_type(id) {
            Some(t) if t == self.resource_type => Ok(()),
            _ => Err(self.malformed(id)),
        }
    }
}

pub struct Query<'a> {
    pub ids: &'a [String],
    pub filters: &'a [Filter],
    pub max_results: Option<i64>,
    pub next_token: Option<&'a str>,
}

/// Reads every resource of `store_kind` in the scope (creating the defaults on first use),
/// then [`select`]s the page the request asked for.
pub async fn read_and_select<R>(
    store: &Store,
    scope: Scope,
    store_kind: &'static str,
    kind: &Kind,
    q: &Query<'_>,
) -> Result<Page<R>, Ec2Error>
where
    R: Filterable + DeserializeOwned + Send + 'static,
{
    defaults::ensure(store, &scope).await?;
    let all = store
        .read(move |t| t.list::<R>(&scope, store_kind).map_err(Ec2Error::from))
        .await?;
    select(kind, all, q)
}

/// Applies ids, filters and pagination to every `(id, resource)` of a kind (sorted by id).
pub fn select<R: Filterable>(kind: &Kind, all: Vec<(String, R)>, q: &Query<'_>) -> Result<Page<R>, Ec2Error> {
    if !q.ids.is_empty() && q.max_results.is_some() {
        return Err(Ec2Error::InvalidParameterCombination {
            message: format!(
                "The parameter {} cannot be used with the parameter maxResults",
                kind.ids_param
            ),
        });
    }
    for id in q.ids {
        kind.check_id(id)?;
        if !all.iter().any(|(have, _)| have == id) {
            return Err(kind.not_found(id));
        }
    }
    let mut chosen = Vec::new();
    for (id, r) in all {
        if !q.ids.is_empty() && !q.ids.contains(&id) {
            continue;
        }
        if filter::matches(&r, q.filters)? {
            chosen.push((id, r));
        }
    }
    paginate(chosen, q.max_results, q.next_token)
}
