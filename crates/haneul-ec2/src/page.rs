//! EC2 pagination: `MaxResults` + an opaque `NextToken` (the id to resume from).

use base64::Engine;

use crate::error::Ec2Error;

pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

/// Cuts a sorted list of `(id, item)` into the page the request asked for.
pub fn paginate<T>(
    items: Vec<(String, T)>,
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> Result<Page<T>, Ec2Error> {
    let start_id = match next_token {
        Some(token) => {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .map_err(|_| Ec2Error::invalid(format!("Invalid value '{token}' for NextToken")))?;
            Some(
                String::from_utf8(bytes)
                    .map_err(|_| Ec2Error::invalid(format!("Invalid value '{token}' for NextToken")))?,
            )
        }
        None => None,
    };
    let mut rest: Vec<(String, T)> = match &start_id {
        Some(start) => items.into_iter().filter(|(id, _)| id >= start).collect(),
        None => items,
    };
    let Some(max) = max_results else {
        return Ok(Page {
            items: rest.into_iter().map(|(_, t)| t).collect(),
            next_token: None,
        });
    };
    let max = usize::try_from(max).unwrap_or(0).max(1);
    let next_token = if rest.len() > max {
        let next_id = rest[max].0.clone();
        rest.truncate(max);
        Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(next_id))
    } else {
        None
    };
    Ok(Page {
        items: rest.into_iter().map(|(_, t)| t).collect(),
        next_token,
    })
}
