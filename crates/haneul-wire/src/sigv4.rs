//! AWS Signature Version 4 verification, for the Authorization header and for presigned
//! query strings. We recompute the signature from the request as received and compare.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

type HmacSha256 = Hmac<Sha256>;

/// AWS rejects requests whose time is further than this from the server's.
pub const MAX_CLOCK_SKEW_S: i64 = 15 * 60;
/// The longest a presigned URL may live (7 days), as AWS allows.
pub const MAX_PRESIGN_EXPIRES_S: i64 = 7 * 24 * 3600;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The parts of a SigV4 signature a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub access_key_id: String,
    /// `20261125`
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
    /// `20261125T101500Z`
    pub amz_date: String,
    /// Presigned: seconds the URL stays valid.
    pub expires_s: Option<i64>,
}

impl Signature {
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    #[error("Request is missing Authentication Token")]
    Missing,
    #[error("Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters: {0}")]
    Malformed(String),
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")]
    Mismatch,
    #[error("Signature expired: {signed} is now earlier than {earliest} ({now} - 15 min.)")]
    Expired {
        signed: String,
        earliest: String,
        now: String,
    },
    #[error("Signature not yet current: {signed} is still later than {latest} ({now} + 15 min.)")]
    InFuture {
        signed: String,
        latest: String,
        now: String,
    },
    #[error("Request has expired")]
    PresignExpired,
}

/// A request as SigV4 sees it.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path as received (still percent-encoded).
    pub raw_path: &'a str,
    /// The query string as received, without `?`.
    pub raw_query: &'a str,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}

fn header_str<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Reads the signature from the Authorization header or the presigned query string.
/// `Ok(None)`: the request is not signed at all.
pub fn parse(req: &SignedRequest<'_>) -> Result<Option<Signature>, SigV4Error> {
    if let Some(auth) = header_str(req.headers, "authorization") {
        return parse_header(auth, req.headers).map(Some);
    }
    let query: Vec<(String, String)> = form_urlencoded::parse(req.raw_query.as_bytes()).into_owned().collect();
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let Some(algorithm) = get("X-Amz-Algorithm") else {
        return Ok(None);
    };
    if algorithm != ALGORITHM {
        return Err(SigV4Error::Malformed(format!("unsupported algorithm {algorithm}")));
    }
    let need = |k: &str| get(k).ok_or_else(|| SigV4Error::Malformed(format!("missing {k}")));
    let credential = need("X-Amz-Credential")?;
    let expires_s = need("X-Amz-Expires")?
        .parse::<i64>()
        .map_err(|_| SigV4Error::Malformed("X-Amz-Expires is not a number".into()))?;
    let mut sig = credential_parts(&credential)?;
    sig.signed_headers = need("X-Amz-SignedHeaders")?.split(';').map(str::to_string).collect();
    sig.signature = need("X-Amz-Signature")?;
    sig.amz_date = need("X-Amz-Date")?;
    sig.expires_s = Some(expires_s);
    Ok(Some(sig))
}

fn parse_header(auth: &str, headers: &http::HeaderMap) -> Result<Signature, SigV4Error> {
    let rest = auth
        .strip_prefix(ALGORITHM)
        .ok_or_else(|| SigV4Error::Malformed(format!("unsupported scheme in '{auth}'")))?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k.trim() {
            "Credential" => credential = Some(v.trim().to_string()),
            "SignedHeaders" => signed_headers = Some(v.trim().to_string()),
            "Signature" => signature = Some(v.trim().to_string()),
            _ => {}
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) = (credential, signed_headers, signature) else {
        return Err(SigV4Error::Malformed(auth.to_string()));
    };
    let mut sig = credential_parts(&credential)?;
    sig.signed_headers = signed_headers.split(';').map(str::to_string).collect();
    sig.signature = signature;
    sig.amz_date = header_str(headers, "x-amz-date")
        .map(str::to_string)
        .or_else(|| header_str(headers, "date").and_then(http_date_to_amz))
        .ok_or_else(|| SigV4Error::Malformed("missing X-Amz-Date".into()))?;
    Ok(sig)
}

fn credential_parts(credential: &str) -> Result<Signature, SigV4Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    if parts.len() != 5 || parts[4] != "aws4_request" {
        return Err(SigV4Error::Malformed(format!("bad Credential '{credential}'")));
    }
    Ok(Signature {
        access_key_id: parts[0].to_string(),
        date: parts[1].to_string(),
        region: parts[2].to_string(),
        service: parts[3].to_string(),
        signed_headers: Vec::new(),
        signature: String::new(),
        amz_date: String::new(),
        expires_s: None,
    })
}

fn http_date_to_amz(date: &str) -> Option<String> {
    let t = OffsetDateTime::parse(date, &time::format_description::well_known::Rfc2822).ok()?;
    Some(amz_date(t))
}

fn amz_date(t: OffsetDateTime) -> String {
    let fmt = format_description!("[year][month][day]T[hour][minute][second]Z");
    t.format(&fmt).unwrap_or_default()
}

fn parse_amz_date(text: &str) -> Option<OffsetDateTime> {
    let fmt = format_description!("[year][month][day]T[hour][minute][second]Z");
    PrimitiveDateTime::parse(text, &fmt).ok().map(|t| t.assume_utc())
}

/// Checks the request time against `now`: ±15 minutes for headers; for presigned URLs,
/// not yet expired.
pub fn check_time(sig: &Signature, now: OffsetDateTime) -> Result<(), SigV4Error> {
    let signed_at = parse_amz_date(&sig.amz_date)
        .ok_or_else(|| SigV4Error::Malformed(format!("bad X-Amz-Date '{}'", sig.amz_date)))?;
    if !sig.amz_date.starts_with(&sig.date) {
        return Err(SigV4Error::Mismatch);
    }
    let skew = time::Duration::seconds(MAX_CLOCK_SKEW_S);
    if let Some(expires_s) = sig.expires_s {
        if !(1..=MAX_PRESIGN_EXPIRES_S).contains(&expires_s) || now > signed_at + time::Duration::seconds(expires_s) {
            return Err(SigV4Error::PresignExpired);
        }
        if signed_at > now + skew {
            return Err(SigV4Error::PresignExpired);
        }
        return Ok(());
    }
    if signed_at < now - skew {
        return Err(SigV4Error::Expired {
            signed: sig.amz_date.clone(),
            earliest: amz_date(now - skew),
            now: amz_date(now),
        });
    }
    if signed_at > now + skew {
        return Err(SigV4Error::InFuture {
            signed: sig.amz_date.clone(),
            latest: amz_date(now + skew),
            now: amz_date(now),
        });
    }
    Ok(())
}

/// Verifies the signature with the caller's secret key.
pub fn verify(req: &SignedRequest<'_>, sig: &Signature, secret_access_key: &str) -> Result<(), SigV4Error> {
    let key = signing_key(secret_access_key, &sig.date, &sig.region, &sig.service);
    let presigned = sig.expires_s.is_some();
    let payload_hashes: Vec<String> = match header_str(req.headers, "x-amz-content-sha256") {
        Some(h) => vec![h.to_string()],
        None if presigned => vec![hex::encode(Sha256::digest(req.body)), "UNSIGNED-PAYLOAD".to_string()],
        None => vec![hex::encode(Sha256::digest(req.body))],
    };
    // Clients encode the path once (S3 style) or twice (every other service); accept either.
    let paths = [uri_encode(req.raw_path, false), req.raw_path.to_string()];
    for path in &paths {
        for payload_hash in &payload_hashes {
            let canonical = canonical_request(req, sig, path, payload_hash);
            let string_to_sign = format!(
                "{ALGORITHM}\n{}\n{}\n{}",
                sig.amz_date,
                sig.scope(),
                hex::encode(Sha256::digest(canonical.as_bytes()))
            );
            let expected = hex::encode(hmac(&key, string_to_sign.as_bytes()));
            if constant_time_eq(expected.as_bytes(), sig.signature.as_bytes()) {
                return Ok(());
            }
        }
    }
    Err(SigV4Error::Mismatch)
}

/// Signs `req` (haneul's own clients, such as `haneul logs tail`): the Authorization header
/// value for the headers `req` carries, which must include `host` and `x-amz-date`
/// (`20261125T101500Z`).
pub fn sign(
    req: &SignedRequest<'_>,
    access_key_id: &str,
    secret_access_key: &str,
    region: &str,
    service: &str,
) -> Result<String, SigV4Error> {
    let amz_date = header_str(req.headers, "x-amz-date")
        .ok_or_else(|| SigV4Error::Malformed("missing X-Amz-Date".into()))?
        .to_string();
    let mut signed_headers: Vec<String> = req.headers.keys().map(|k| k.as_str().to_ascii_lowercase()).collect();
    signed_headers.sort();
    signed_headers.dedup();
    let sig = Signature {
        access_key_id: access_key_id.to_string(),
        date: amz_date.get(..8).unwrap_or_default().to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers,
        signature: String::new(),
        amz_date,
        expires_s: None,
    };
    let payload_hash = hex::encode(Sha256::digest(req.body));
    let canonical = canonical_request(req, &sig, &uri_encode(req.raw_path, false), &payload_hash);
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        sig.amz_date,
        sig.scope(),
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(secret_access_key, &sig.date, region, service);
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    Ok(format!(
        "{ALGORITHM} Credential={access_key_id}/{}, SignedHeaders={}, Signature={signature}",
        sig.scope(),
        sig.signed_headers.join(";")
    ))
}

fn canonical_request(req: &SignedRequest<'_>, sig: &Signature, path: &str, payload_hash: &str) -> String {
    let path = if path.is_empty() { "/" } else { path };
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        path,
        canonical_query(req.raw_query),
        canonical_headers(req.headers, &sig.signed_headers),
        sig.signed_headers.join(";"),
        payload_hash
    )
}

fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(raw_query.as_bytes())
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (uri_encode(&k, true), uri_encode(&v, true)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_headers(headers: &http::HeaderMap, signed: &[String]) -> String {
    let mut out = String::new();
    for name in signed {
        let values: Vec<String> = headers
            .get_all(name.as_str())
            .iter()
            .map(|v| {
                let text = String::from_utf8_lossy(v.as_bytes());
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            })
            .collect();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out
}

/// RFC 3986 encoding as SigV4 wants it: unreserved characters stay, everything else is
/// `%XX`; `/` stays in paths.
pub fn uri_encode(text: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        let keep = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (b == b'/' && !encode_slash);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so new_from_slice cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// Whether `a` and `b` are equal, in time that does not depend on where they differ (for
/// comparing secrets: signatures, tokens).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `get-vanilla` case of AWS's SigV4 test suite.
    #[test]
    fn verifies_aws_test_suite_vanilla_get() {
        let mut headers = http::HeaderMap::new();
        headers.insert("host", "example.amazonaws.com".parse().unwrap());
        headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31".parse().unwrap(),
        );
        let req = SignedRequest {
            method: "GET",
            raw_path: "/",
            raw_query: "",
            headers: &headers,
            body: b"",
        };
        let sig = parse(&req).unwrap().unwrap();
        assert_eq!(sig.access_key_id, "AKIDEXAMPLE");
        verify(&req, &sig, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY").unwrap();
        assert_eq!(verify(&req, &sig, "wrong"), Err(SigV4Error::Mismatch));
    }

    /// Signing reproduces the test suite's signature.
    #[test]
    fn signs_aws_test_suite_vanilla_get() {
        let mut headers = http::HeaderMap::new();
        headers.insert("host", "example.amazonaws.com".parse().unwrap());
        headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
        let req = SignedRequest {
            method: "GET",
            raw_path: "/",
            raw_query: "",
            headers: &headers,
            body: b"",
        };
        let auth = sign(
            &req,
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "us-east-1",
            "service",
        )
        .unwrap();
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }
}
