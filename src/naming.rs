//! Pulumi resource names: derived from the cloud id so they are readable and stable across runs (the
//! URN is a resource's identity in Insights' history), unique per type, never containing `::`, and
//! bounded in length.
//!
//! A name is the id (or the scanner's `name_basis`) as is when it is already a safe name. Only when
//! sanitising or truncating changed it does a short hash of the full id follow, so two ids that clean
//! up to the same text still get different names. [`Namer`] also drops resources listed twice and
//! resolves the (astronomically rare) case of two ids whose cleaned text and short hash both collide.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use crate::discover::Discovered;

/// Longest name we produce, in bytes (names are ASCII). Long enough for `namespace/name` and most
/// ARM ids relative to their subscription; short enough to keep URNs and generated code sane.
pub const MAX_NAME_LEN: usize = 120;
const HASH_LEN: usize = 8;

/// The name for a resource with this basis text and full id.
pub fn name_for(basis: &str, id: &str) -> String {
    let clean = sanitize(basis);
    if clean == basis && !basis.is_empty() && basis.len() <= MAX_NAME_LEN {
        return clean;
    }
    with_hash(&clean, id, HASH_LEN)
}

/// Keeps `[A-Za-z0-9._-/:@]`, turns anything else (spaces, `*`, `$`, `|`, non-ASCII...) into `-`, and
/// shortens runs of `:` to one, so `::` (the URN separator) never appears.
fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let keep = c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@');
        let c = if keep { c } else { '-' };
        if c == ':' && out.ends_with(':') {
            continue;
        }
        out.push(c);
    }
    out
}

/// `clean` cut to fit, then `-` and the first `hash_len` hex digits of SHA-256(id). Truncation keeps
/// the end of the text: ids grow more specific towards their end (`.../subnets/default`).
fn with_hash(clean: &str, id: &str, hash_len: usize) -> String {
    let digest = Sha256::digest(id.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let room = MAX_NAME_LEN - hash_len - 1;
    let start = clean.len().saturating_sub(room);
    let mut tail = clean[start..]
        .trim_start_matches([':', '-', '/'])
        .to_string();
    if tail.is_empty() {
        tail.push('r');
    }
    format!("{tail}-{}", &hex[..hash_len])
}

/// Why a resource gets no name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unnamed {
    /// The same (type, id) was already named in this run.
    Duplicate,
}

/// Names every resource of one run and guarantees (type, name) uniqueness, which makes every URN
/// unique whatever the parent: a URN is (parent types, type, name). Memory: two 128-bit hashes per
/// resource, not the ids themselves.
#[derive(Default)]
pub struct Namer {
    keys: HashSet<u128>,
    names: HashSet<u128>,
}

impl Namer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn name(&mut self, r: &Discovered) -> Result<String, Unnamed> {
        if !self.keys.insert(hash2(&r.token, &r.id)) {
            return Err(Unnamed::Duplicate);
        }
        let basis = r.name_basis.as_deref().unwrap_or(&r.id);
        let mut name = name_for(basis, &r.id);
        // A different id already produced this name: lengthen the hash until it is unique.
        let mut hash_len = HASH_LEN;
        while !self.names.insert(hash2(&r.token, &name)) {
            hash_len = (hash_len * 2).min(64);
            name = with_hash(&sanitize(basis), &r.id, hash_len);
            if hash_len == 64 {
                // Full SHA-256 collided: the ids are equal, which `keys` already ruled out.
                self.names.insert(hash2(&r.token, &name));
                break;
            }
        }
        Ok(name)
    }
}

fn hash2(a: &str, b: &str) -> u128 {
    let mut h = Sha256::new();
    h.update(a.as_bytes());
    h.update([0u8]);
    h.update(b.as_bytes());
    let d = h.finalize();
    u128::from_le_bytes(d[..16].try_into().expect("16 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(token: &str, id: &str) -> Discovered {
        Discovered::new(token, id, "t", "s")
    }

    #[test]
    fn safe_ids_are_kept_as_they_are() {
        assert_eq!(name_for("default/nginx", "default/nginx"), "default/nginx");
        assert_eq!(name_for("vpc-0abc", "vpc-0abc"), "vpc-0abc");
    }

    #[test]
    fn changed_ids_get_a_stable_hash() {
        let arn = "arn:aws:iam::123456789012:role/admin";
        let n = name_for(arn, arn);
        assert!(!n.contains("::"), "{n}");
        assert!(n.starts_with("arn:aws:iam:123456789012:role/admin-"), "{n}");
        assert_eq!(n, name_for(arn, arn), "deterministic");
        // Same cleaned text, different ids: different names.
        assert_ne!(name_for("a b", "a b"), name_for("a*b", "a*b"));
        assert!(!name_for("with space", "with space").contains(' '));
    }

    #[test]
    fn long_ids_are_bounded_and_keep_their_end() {
        let id = format!("/subscriptions/x/{}/subnets/default", "segment/".repeat(40));
        let n = name_for(&id, &id);
        assert!(n.len() <= MAX_NAME_LEN, "{}", n.len());
        assert!(n.contains("subnets/default-"), "{n}");
    }

    #[test]
    fn namer_drops_duplicates_and_keeps_names_unique_per_type() {
        let mut namer = Namer::new();
        assert_eq!(namer.name(&res("k:a:B", "x")).unwrap(), "x");
        assert_eq!(namer.name(&res("k:a:B", "x")), Err(Unnamed::Duplicate));
        // Same id under another type is another resource with the same name: fine.
        assert_eq!(namer.name(&res("k:a:C", "x")).unwrap(), "x");
        // Two ids of one type sharing a name basis get different names.
        let mut a = res("k:a:D", "id-1");
        a.name_basis = Some("same".into());
        let mut b = res("k:a:D", "id-2");
        b.name_basis = Some("same".into());
        let (na, nb) = (namer.name(&a).unwrap(), namer.name(&b).unwrap());
        assert_eq!(na, "same");
        assert_ne!(na, nb);
        assert!(nb.starts_with("same-"), "{nb}");
    }
}
