//! ARM resource id templates: normalising a sample id (from a schema's `## Import` section) into a
//! pattern by the ARM id grammar, and matching listed resource ids against such patterns.
//!
//! The grammar: an optional scope (`/subscriptions/{s}`, `/resourceGroups/{rg}`,
//! `/providers/Microsoft.Management/managementGroups/{mg}`, or a whole other resource id for
//! extension resources), then `/providers/<Namespace>`, then alternating type and name segments.
//! Matching is case-insensitive, as ARM is.

/// One segment of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A literal segment, lowercased (`providers`, `Microsoft.Web`, `sites`, `default`).
    Lit(String),
    /// Exactly one segment (`{name}`).
    One,
    /// Several segments: a scope placeholder (`/{scope}/providers/...` takes a whole resource id,
    /// at least one segment) or a parent path (`{parentResourcePath}`, possibly empty).
    Many { min: usize },
}

/// A normalised id template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub segs: Vec<Seg>,
}

/// Names that are fixed singletons rather than example names, kept literal even when a sample id
/// is fully concrete (`.../blobServices/default`, `.../config/appsettings`).
const SINGLETON_NAMES: &[&str] = &[
    "default",
    "current",
    "appsettings",
    "authsettings",
    "authsettingsv2",
    "connectionstrings",
    "metadata",
    "logs",
    "slotconfignames",
    "web",
];

fn is_placeholder(s: &str) -> bool {
    s.starts_with('{') && s.ends_with('}')
}

/// Split an id into its non-empty segments.
pub fn segments(id: &str) -> Vec<&str> {
    id.split('/').filter(|s| !s.is_empty()).collect()
}

impl Pattern {
    /// Normalise a sample id into a pattern. Placeholders stay placeholders; in a fully concrete
    /// sample (no `{...}` at all) every name position becomes a placeholder except known singleton
    /// names. Returns `None` for text that is not an ARM id.
    pub fn parse(sample: &str) -> Option<Pattern> {
        let sample = sample.trim().trim_matches(|c| c == '"' || c == '\'');
        if !sample.starts_with('/') {
            return None;
        }
        let parts = segments(sample);
        if parts.is_empty() {
            return None;
        }
        let concrete = !sample.contains('{');
        let mut segs = Vec::with_capacity(parts.len());
        // Position within a `providers/<ns>/<type>/<name>...` run: 0 = namespace, odd = type,
        // even (>0) = name. `None` outside a provider run (scope keys and their values).
        let mut in_provider: Option<usize> = None;
        let mut after_scope_key = false;
        for (i, part) in parts.iter().enumerate() {
            let lower = part.to_ascii_lowercase();
            if is_placeholder(part) {
                let inner = lower.trim_matches(|c| c == '{' || c == '}');
                if i == 0 {
                    segs.push(Seg::Many { min: 1 });
                } else if inner.ends_with("path") {
                    segs.push(Seg::Many { min: 0 });
                } else {
                    segs.push(Seg::One);
                }
                in_provider = in_provider.map(|p| if p == usize::MAX { 0 } else { p + 1 });
                after_scope_key = false;
                continue;
            }
            if lower == "providers" && in_provider.is_none_or(|p| p % 2 == 0 && p > 0) {
                segs.push(Seg::Lit(lower));
                in_provider = Some(usize::MAX); // the next segment is the namespace
                after_scope_key = false;
                continue;
            }
            match in_provider {
                Some(usize::MAX) => {
                    segs.push(Seg::Lit(lower));
                    in_provider = Some(0);
                }
                Some(p) => {
                    let pos = p + 1;
                    let is_name = pos % 2 == 0;
                    if is_name && concrete && !SINGLETON_NAMES.contains(&lower.as_str()) {
                        segs.push(Seg::One);
                    } else {
                        segs.push(Seg::Lit(lower));
                    }
                    in_provider = Some(pos);
                }
                None => {
                    if after_scope_key && concrete {
                        segs.push(Seg::One);
                        after_scope_key = false;
                    } else {
                        after_scope_key = matches!(
                            lower.as_str(),
                            "subscriptions" | "resourcegroups" | "managementgroups" | "tenants"
                        );
                        segs.push(Seg::Lit(lower));
                    }
                }
            }
        }
        Some(Pattern { segs })
    }

    /// Does `id` (split into segments and lowercased) match this pattern?
    pub fn matches(&self, id: &[String]) -> bool {
        match_from(&self.segs, id)
    }

    /// Literal segments after the last literal `providers`, the namespace included.
    pub fn literals_after_last_providers(&self) -> usize {
        let last = self
            .segs
            .iter()
            .rposition(|s| matches!(s, Seg::Lit(l) if l == "providers"));
        match last {
            Some(i) => self.segs[i + 1..]
                .iter()
                .filter(|s| matches!(s, Seg::Lit(_)))
                .count(),
            None => 0,
        }
    }

    pub fn literals(&self) -> usize {
        self.segs
            .iter()
            .filter(|s| matches!(s, Seg::Lit(_)))
            .count()
    }

    pub fn multi_segment_placeholders(&self) -> usize {
        self.segs
            .iter()
            .filter(|s| matches!(s, Seg::Many { .. }))
            .count()
    }

    /// The namespace after the last literal `providers`, lowercased, when it is literal. Used to
    /// index patterns so a lookup only tries those of the id's own namespace.
    pub fn last_namespace(&self) -> Option<&str> {
        let i = self
            .segs
            .iter()
            .rposition(|s| matches!(s, Seg::Lit(l) if l == "providers"))?;
        match self.segs.get(i + 1) {
            Some(Seg::Lit(ns)) => Some(ns),
            _ => None,
        }
    }

    /// The pattern as text, lowercased, `{}` for one segment and `{...}` for several.
    #[cfg(test)]
    pub fn describe(&self) -> String {
        self.segs
            .iter()
            .map(|s| match s {
                Seg::Lit(l) => l.clone(),
                Seg::One => "{}".into(),
                Seg::Many { .. } => "{...}".into(),
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

fn match_from(segs: &[Seg], id: &[String]) -> bool {
    let Some((first, rest)) = segs.split_first() else {
        return id.is_empty();
    };
    match first {
        Seg::Lit(l) => id.first().is_some_and(|p| p == l) && match_from(rest, &id[1..]),
        Seg::One => !id.is_empty() && match_from(rest, &id[1..]),
        Seg::Many { min } => (*min..=id.len()).any(|take| match_from(rest, &id[take..])),
    }
}

/// An id's segments, lowercased, ready for [`Pattern::matches`].
pub fn id_segments(id: &str) -> Vec<String> {
    segments(id)
        .into_iter()
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The namespace after the id's last `providers` segment, lowercased.
pub fn id_last_namespace(id: &[String]) -> Option<&str> {
    let i = id.iter().rposition(|s| s == "providers")?;
    id.get(i + 1).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(template: &str, id: &str) -> bool {
        Pattern::parse(template).unwrap().matches(&id_segments(id))
    }

    #[test]
    fn placeholders_and_case() {
        let t = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Web/sites/{name}";
        assert!(m(
            t,
            "/subscriptions/1/resourcegroups/RG/providers/microsoft.web/SITES/app"
        ));
        assert!(!m(
            t,
            "/subscriptions/1/resourceGroups/rg/providers/Microsoft.Web/sites/app/slots/s"
        ));
        assert!(!m(
            t,
            "/subscriptions/1/resourceGroups/rg/providers/Microsoft.Web/serverfarms/p"
        ));
    }

    #[test]
    fn extension_scope_takes_a_whole_resource_id() {
        let t = "/{scope}/providers/Microsoft.Authorization/locks/{lockName}";
        let p = Pattern::parse(t).unwrap();
        assert_eq!(p.multi_segment_placeholders(), 1);
        assert!(m(t, "/subscriptions/1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa/providers/Microsoft.Authorization/locks/l"));
        assert!(m(
            t,
            "/subscriptions/1/providers/Microsoft.Authorization/locks/l"
        ));
        assert!(!m(t, "/providers/Microsoft.Authorization/locks/l"));
    }

    #[test]
    fn concrete_samples_become_templates_but_keep_singletons() {
        let p = Pattern::parse(
            "/subscriptions/0000/resourceGroups/res1/providers/Microsoft.Storage/storageAccounts/sto1/blobServices/default/containers/c1",
        )
        .unwrap();
        assert_eq!(
            p.describe(),
            "subscriptions/{}/resourcegroups/{}/providers/microsoft.storage/storageaccounts/{}/blobservices/default/containers/{}"
        );
        assert_eq!(p.literals_after_last_providers(), 5);
    }

    #[test]
    fn parent_path_may_be_empty() {
        let t = "/subscriptions/{s}/resourcegroups/{rg}/providers/{ns}/{parentResourcePath}/{resourceType}/{resourceName}/providers/Microsoft.Authorization/locks/{lockName}";
        assert!(m(t, "/subscriptions/1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa/providers/Microsoft.Authorization/locks/l"));
        assert!(m(t, "/subscriptions/1/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s/providers/Microsoft.Authorization/locks/l"));
    }
}
