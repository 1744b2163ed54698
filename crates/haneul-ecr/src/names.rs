//! What a repository name, a tag and a digest may look like. Everything a registry path
//! carries is checked here before it is used as a store key or a file name, so no path
//! trick (`..`, `/`, NUL, percent-escapes) reaches the filesystem.

/// Longest repository name ECR accepts.
pub const MAX_NAME_LEN: usize = 256;
/// Longest tag ECR accepts.
pub const MAX_TAG_LEN: usize = 300;

/// The pattern [`valid_repository_name`] implements, as ECR's messages quote it.
pub const REPOSITORY_NAME_PATTERN: &str = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*";

/// ECR's repository name pattern: lowercase components separated by `/`, each
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
pub fn valid_repository_name(name: &str) -> bool {
    (2..=MAX_NAME_LEN).contains(&name.len()) && name.split('/').all(valid_component)
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: one '.', one '_', two '_', or any number of '-'.
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// A tag as the distribution spec and ECR allow: `[A-Za-z0-9_][A-Za-z0-9._-]*`, ≤ 300.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_TAG_LEN
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

/// A digest haneul can store: `sha256:` and 64 lowercase hex digits.
pub fn valid_digest(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|x| x.is_ascii_digit() || (b'a'..=b'f').contains(&x)))
}

/// Whether a string has the general shape of a digest (`algorithm:hex`), any algorithm.
pub fn looks_like_digest(s: &str) -> bool {
    s.split_once(':').is_some_and(|(alg, hex)| {
        !alg.is_empty()
            && alg
                .bytes()
                .all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || matches!(x, b'+' | b'.' | b'_' | b'-'))
            && !hex.is_empty()
            && hex
                .bytes()
                .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'=' | b'_' | b'-'))
    })
}

/// An upload id haneul made: a hyphenated UUID.
pub fn valid_upload_id(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::parse_str(id).is_ok()
}

/// A manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(String),
}

impl Reference {
    /// `None` when it is neither a valid tag nor a digest haneul can store.
    pub fn parse(s: &str) -> Option<Reference> {
        if s.contains(':') {
            valid_digest(s).then(|| Reference::Digest(s.to_string()))
        } else {
            valid_tag(s).then(|| Reference::Tag(s.to_string()))
        }
    }
}

/// ECR's wildcard match for tag filters: `*` matches any run of characters.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_follow_ecr_pattern() {
        for ok in ["team/app", "ab", "a.b_c__d---e/f9", "x/y/z"] {
            assert!(valid_repository_name(ok), "{ok}");
        }
        for bad in [
            "A",
            "a",
            "team/../x",
            "team//x",
            "-a",
            "a-",
            "a..b",
            "a___b",
            "a/",
            "/a",
            "a b",
            "ab\0",
        ] {
            assert!(!valid_repository_name(bad), "{bad}");
        }
    }

    #[test]
    fn tags_and_digests() {
        assert!(valid_tag("v1.0_rc-2"));
        assert!(!valid_tag(".hidden") && !valid_tag("a/b") && !valid_tag(""));
        assert!(valid_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!valid_digest(&format!("sha256:{}", "A".repeat(64))));
        assert!(!valid_digest("sha256:../../etc/passwd"));
        assert_eq!(Reference::parse("latest"), Some(Reference::Tag("latest".into())));
        assert_eq!(Reference::parse("sha256:zz"), None);
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("prod-*", "prod-1"));
        assert!(wildcard_match("*-rc*", "v1-rc2"));
        assert!(!wildcard_match("prod-*", "dev-1"));
        assert!(wildcard_match("v1", "v1") && !wildcard_match("v1", "v10"));
    }
}
