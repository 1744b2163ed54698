//! Record changes other haneul services make in an account's zones (ACME's DNS-01 TXT
//! records), with the same change records and revisions as ChangeResourceRecordSets.

use haneul_store::{Scope, Store};

use crate::api::changes::record_change;
use crate::error::Route53Error;
use crate::generated::ResourceRecord;
use crate::model::{rrset_key_of, ResourceRecordSet, Zone, KIND_RRSET, KIND_ZONE};
use crate::names;

/// TTL of records haneul writes for itself.
pub const INTERNAL_TTL_S: i64 = 60;

/// Sets (or, with no values, removes) the TXT record set `name` in the account's most
/// specific public zone holding it. Returns the store revision that carries the change.
pub async fn set_txt(store: &Store, account_id: &str, name: &str, values: Vec<String>) -> Result<u64, Route53Error> {
    let name = names::normalize(name).map_err(|e| Route53Error::InvalidInput(e.to_string()))?;
    let scope = Scope::global(account_id.to_string());
    store
        .write(move |t| {
            let zone = t
                .list::<Zone>(&scope, KIND_ZONE)?
                .into_iter()
                .map(|(_, z)| z)
                .filter(|z| !z.private_zone && names::in_zone(&name, &z.name))
                .max_by_key(|z| z.name.len())
                .ok_or_else(|| Route53Error::NoSuchHostedZone(format!("no public hosted zone holds {name}")))?;
            let set = ResourceRecordSet {
                name: name.clone(),
                r#type: "TXT".into(),
                ttl: Some(INTERNAL_TTL_S),
                resource_records: values
                    .iter()
                    .map(|v| ResourceRecord {
                        value: format!("\"{v}\""),
                    })
                    .collect(),
                ..ResourceRecordSet::default()
            };
            let key = rrset_key_of(&zone.id, &set);
            if values.is_empty() {
                t.delete(&scope, KIND_RRSET, &key)?;
            } else {
                t.put(&scope, KIND_RRSET, &key, &set)?;
            }
            let change = record_change(t, &scope, Some("haneul ACME DNS-01".into()))?;
            Ok(change.revision)
        })
        .await
}
