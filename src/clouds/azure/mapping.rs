//! ARM resource id -> azure-native type token, by id templates rather than by guessing.
//!
//! The table is built from azure-native's schema: every resource's description has an `## Import`
//! section whose sample command (`pulumi import azure-native:web:WebApp name <id>`) carries the id
//! template of that token. A listed id is matched against every template of its namespace,
//! case-insensitively, and the most specific match wins:
//! 1. most literal segments after the last `/providers/` (so `.../sites/{n}/config/appsettings`
//!    beats `.../sites/{n}/config/{name}`),
//! 2. then most literal segments overall (so a resource-group-scoped lock beats `/{scope}/...`),
//! 3. then fewest multi-segment scope placeholders.
//!
//! Several tokens can share one template (polymorphic resources told apart by `kind`, and renamed
//! duplicates). Among equally specific matches: first a token whose name contains the resource's
//! `kind` (`kind: Gen2` -> `Gen2Environment`), then the token named after the singular of the last
//! type segment (`firewallRules` -> `FirewallRule`), then the token whose module is the namespace's
//! own module, then the shortest name, then alphabetical order. The choice is deterministic.

use std::collections::HashMap;

use serde_json::Value;

use super::template::{id_last_namespace, id_segments, Pattern};

/// One token's template.
#[derive(Debug, Clone)]
struct Entry {
    token: String,
    pattern: Pattern,
    /// (literals after last providers, literals overall, -multi-segment placeholders): larger wins.
    rank: (usize, usize, isize),
}

/// The id-template table.
#[derive(Debug, Default, Clone)]
pub struct TypeMap {
    /// Entries by the lowercased namespace after their last `/providers/`.
    by_namespace: HashMap<String, Vec<Entry>>,
    /// Entries whose last namespace is itself a placeholder (rare): tried for every id.
    any_namespace: Vec<Entry>,
    len: usize,
}

impl TypeMap {
    /// Builds the table from (token, import sample id) pairs. Pairs whose sample is not an ARM id
    /// are ignored.
    pub fn from_import_ids<I, T, S>(pairs: I) -> TypeMap
    where
        I: IntoIterator<Item = (T, S)>,
        T: Into<String>,
        S: AsRef<str>,
    {
        let mut map = TypeMap::default();
        for (token, sample) in pairs {
            let Some(pattern) = Pattern::parse(sample.as_ref()) else {
                continue;
            };
            let rank = (
                pattern.literals_after_last_providers(),
                pattern.literals(),
                -(pattern.multi_segment_placeholders() as isize),
            );
            let entry = Entry {
                token: token.into(),
                pattern,
                rank,
            };
            match entry.pattern.last_namespace() {
                Some(ns) => map
                    .by_namespace
                    .entry(ns.to_string())
                    .or_default()
                    .push(entry),
                None => map.any_namespace.push(entry),
            }
            map.len += 1;
        }
        map
    }

    /// Builds the table from a parsed Pulumi package schema (`pulumi package get-schema
    /// azure-native`): `resources.<token>.description`'s `## Import` sample ids.
    pub fn from_schema(schema: &Value) -> TypeMap {
        let pairs = schema
            .get("resources")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(token, res)| {
                let description = res.get("description")?.as_str()?;
                Some((token.clone(), import_sample_id(description)?.to_string()))
            });
        TypeMap::from_import_ids(pairs)
    }

    /// Builds the table from the bytes of a schema file, reading only resource descriptions (the
    /// whole azure-native schema is tens of megabytes; nothing else of it is kept).
    pub fn from_schema_json(bytes: &[u8]) -> Result<TypeMap, serde_json::Error> {
        #[derive(serde::Deserialize)]
        struct Schema {
            #[serde(default)]
            resources: HashMap<String, Resource>,
        }
        #[derive(serde::Deserialize)]
        struct Resource {
            #[serde(default)]
            description: Option<String>,
        }
        let schema: Schema = serde_json::from_slice(bytes)?;
        let pairs = schema.resources.into_iter().filter_map(|(token, r)| {
            let id = import_sample_id(r.description.as_deref()?)?.to_string();
            Some((token, id))
        });
        Ok(TypeMap::from_import_ids(pairs))
    }

    /// Number of templates in the table.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The token for a listed ARM id, or `None` when no template matches. `kind` is the resource's
    /// `kind` property, when it has one.
    pub fn token_for(&self, id: &str, kind: Option<&str>) -> Option<&str> {
        let segs = id_segments(id);
        let namespaced = id_last_namespace(&segs)
            .and_then(|ns| self.by_namespace.get(ns))
            .into_iter()
            .flatten();
        let mut best: Vec<&Entry> = Vec::new();
        for entry in namespaced.chain(self.any_namespace.iter()) {
            if !entry.pattern.matches(&segs) {
                continue;
            }
            match best.first().map(|b| b.rank.cmp(&entry.rank)) {
                None | Some(std::cmp::Ordering::Equal) => best.push(entry),
                Some(std::cmp::Ordering::Less) => {
                    best.clear();
                    best.push(entry);
                }
                Some(std::cmp::Ordering::Greater) => {}
            }
        }
        let last_type = last_type_segment(&segs);
        let own_module = id_last_namespace(&segs).map(super::fallback::module_for_namespace);
        best.into_iter()
            .min_by_key(|e| preference(&e.token, kind, last_type, own_module.as_deref()))
            .map(|e| e.token.as_str())
    }
}

/// Sort key among equally specific candidates (smaller is preferred); see the module comment.
fn preference(
    token: &str,
    kind: Option<&str>,
    last_type: Option<&str>,
    own_module: Option<&str>,
) -> (bool, bool, bool, usize, String) {
    let (module, name) = split_token(token);
    let lname = name.to_ascii_lowercase();
    let kind_match = kind
        .map(|k| {
            k.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_lowercase()
        })
        .is_some_and(|k| !k.is_empty() && lname.contains(&k));
    let singular_match = last_type.is_some_and(|t| lname == super::fallback::singular(t));
    let module_match = own_module.is_some_and(|m| m == module);
    (
        !kind_match,
        !singular_match,
        !module_match,
        name.len(),
        token.to_string(),
    )
}

fn split_token(token: &str) -> (&str, &str) {
    let mut parts = token.splitn(3, ':');
    let _pkg = parts.next();
    let module = parts.next().unwrap_or("");
    let name = parts.next().unwrap_or("");
    (module, name)
}

/// The id's last type segment: in `.../providers/ns/t1/n1/t2/n2` that is `t2`.
fn last_type_segment(segs: &[String]) -> Option<&str> {
    let i = segs.iter().rposition(|s| s == "providers")?;
    let after = &segs[i + 1..];
    if after.len() < 3 {
        return None;
    }
    // after = [ns, t1, n1, t2, n2, ...]: types sit at odd offsets.
    let last_type_index = if after.len() % 2 == 1 {
        after.len() - 2
    } else {
        after.len() - 1
    };
    after.get(last_type_index).map(String::as_str)
}

/// The sample id of a schema description's `## Import` section: the last argument of the
/// `pulumi import <token> <name> <id>` line in its shell code block.
pub fn import_sample_id(description: &str) -> Option<&str> {
    let start = description.find("## Import")?;
    let section = &description[start..];
    section
        .lines()
        .map(str::trim)
        .map(|l| l.strip_prefix('$').map(str::trim).unwrap_or(l))
        .find(|l| l.starts_with("pulumi import "))
        .and_then(|l| l.split_whitespace().nth(4))
        .map(|id| id.trim_matches(|c| c == '"' || c == '\''))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_section_is_parsed() {
        let d = "Web app.\n\n## Import\n\nAn existing resource can be imported using its type token, name, and identifier, e.g.\n\n```sh\n$ pulumi import azure-native:web:WebApp myresource1 /subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Web/sites/{name} \n```\n";
        assert_eq!(
            import_sample_id(d),
            Some("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Web/sites/{name}")
        );
        assert_eq!(import_sample_id("no import here"), None);
    }

    #[test]
    fn last_type() {
        let s = id_segments("/subscriptions/1/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/s");
        assert_eq!(last_type_segment(&s), Some("subnets"));
        let s = id_segments(
            "/subscriptions/1/resourceGroups/r/providers/Microsoft.Web/sites/a/config/web",
        );
        assert_eq!(last_type_segment(&s), Some("config"));
    }
}
