//! Package version order as the package managers define it: dpkg's (Debian, Ubuntu) and apk's
//! (Alpine), so "installed < fixed" means what the distribution means.

use std::cmp::Ordering;

/// dpkg's order: `[epoch:]upstream[-revision]`, each part compared by alternating runs of
/// non-digits (letters before other characters, `~` before everything, even the end) and
/// digits (numerically).
pub fn dpkg_cmp(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = dpkg_split(a);
    let (eb, ub, rb) = dpkg_split(b);
    ea.cmp(&eb)
        .then_with(|| dpkg_part_cmp(ua, ub))
        .then_with(|| dpkg_part_cmp(ra, rb))
}

fn dpkg_split(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if e.bytes().all(|b| b.is_ascii_digit()) => (e.parse().unwrap_or(0), rest),
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// The weight of one non-digit character in dpkg's order.
fn dpkg_char_order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

fn dpkg_part_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit runs.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ca = dpkg_char_order(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
            let cb = dpkg_char_order(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
            if ca != cb {
                return ca.cmp(&cb);
            }
            if i < a.len() && !a[i].is_ascii_digit() {
                i += 1;
            }
            if j < b.len() && !b[j].is_ascii_digit() {
                j += 1;
            }
        }
        // Digit runs, numerically (leading zeros ignored).
        let (na, ni) = digits(a, i);
        let (nb, nj) = digits(b, j);
        match na.cmp(&nb) {
            Ordering::Equal => {}
            other => return other,
        }
        i = ni;
        j = nj;
    }
    Ordering::Equal
}

/// The digit run at `at` without leading zeros (compared by length, then lexically), and
/// where it ends.
fn digits(s: &[u8], at: usize) -> (DigitRun<'_>, usize) {
    let mut end = at;
    while end < s.len() && s[end].is_ascii_digit() {
        end += 1;
    }
    let mut start = at;
    while start < end && s[start] == b'0' {
        start += 1;
    }
    (DigitRun(&s[start..end]), end)
}

#[derive(PartialEq, Eq)]
struct DigitRun<'a>(&'a [u8]);

impl Ord for DigitRun<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.cmp(other.0))
    }
}

impl PartialOrd for DigitRun<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// apk's order: dot-separated numbers, an optional letter, `_suffix[N]` (`alpha` < `beta` <
/// `pre` < `rc` < none < `cvs` < `svn` < `git` < `hg` < `p`), then `-rN`.
pub fn apk_cmp(a: &str, b: &str) -> Ordering {
    let pa = ApkVersion::parse(a);
    let pb = ApkVersion::parse(b);
    pa.cmp(&pb)
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ApkVersion {
    numbers: Vec<DigitKey>,
    letter: u8,
    suffixes: Vec<(i32, u64)>,
    revision: u64,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct DigitKey(u64);

impl ApkVersion {
    fn parse(v: &str) -> ApkVersion {
        let (main, revision) = match v.rsplit_once("-r") {
            Some((m, r)) if r.bytes().all(|b| b.is_ascii_digit()) && !r.is_empty() => (m, r.parse().unwrap_or(0)),
            _ => (v, 0),
        };
        let mut parts = main.split('_');
        let head = parts.next().unwrap_or("");
        let (num_part, letter) = match head.as_bytes().last() {
            Some(c) if c.is_ascii_lowercase() => (&head[..head.len() - 1], *c),
            _ => (head, 0),
        };
        let numbers = num_part.split('.').map(|n| DigitKey(n.parse().unwrap_or(0))).collect();
        let mut suffixes: Vec<(i32, u64)> = parts
            .map(|s| {
                let name: String = s.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
                let n = s[name.len()..].parse().unwrap_or(0);
                let rank = match name.as_str() {
                    "alpha" => -4,
                    "beta" => -3,
                    "pre" => -2,
                    "rc" => -1,
                    "cvs" => 1,
                    "svn" => 2,
                    "git" => 3,
                    "hg" => 4,
                    "p" => 5,
                    _ => 0,
                };
                (rank, n)
            })
            .collect();
        // No suffix ranks between the pre-release ones and the post-release ones.
        suffixes.push((0, 0));
        ApkVersion {
            numbers,
            letter,
            suffixes,
            revision,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn dpkg_orders_as_dpkg() {
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1:0.9", "2.0", Greater),
            ("3.0.9-1", "3.0.11-1~deb12u1", Less),
            ("3.0.11-1~deb12u1", "3.0.11-1", Less),
            ("1.2.3-1", "1.2.3-1+b1", Less),
            ("1.10", "1.9", Greater),
            ("1.0a", "1.0+", Less),
            ("2.36-9+deb12u4", "2.36-9+deb12u14", Less),
            ("1.001", "1.1", Equal),
        ] {
            assert_eq!(dpkg_cmp(a, b), want, "{a} vs {b}");
            assert_eq!(dpkg_cmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn apk_orders_as_apk() {
        for (a, b, want) in [
            ("3.1.4-r0", "3.1.4-r1", Less),
            ("3.1.4-r5", "3.1.10-r0", Less),
            ("1.2_rc1-r0", "1.2-r0", Less),
            ("1.2_p1-r0", "1.2-r0", Greater),
            ("1.2a-r0", "1.2-r0", Greater),
            ("1.36.1-r2", "1.36.1-r2", Equal),
        ] {
            assert_eq!(apk_cmp(a, b), want, "{a} vs {b}");
            assert_eq!(apk_cmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}
