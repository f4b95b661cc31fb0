//! The OCI CLI/SDK configuration file (`~/.oci/config`): an INI file of named profiles.
//!
//! Modelled on the OCI SDKs' reader: `[PROFILE]` sections of `key=value` lines, `#` and `;` comment
//! lines, and a `[DEFAULT]` section whose keys every other profile inherits unless it sets them itself.

use std::collections::BTreeMap;

/// A parsed config file.
#[derive(Debug, Default, Clone)]
pub struct ConfigFile {
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

impl ConfigFile {
    pub fn parse(text: &str) -> Self {
        let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let name = name.trim().to_string();
                sections.entry(name.clone()).or_default();
                current = Some(name);
                continue;
            }
            // Lines before the first section header are ignored, as the SDKs do.
            if let (Some(section), Some((k, v))) = (&current, line.split_once('=')) {
                sections
                    .entry(section.clone())
                    .or_default()
                    .insert(k.trim().to_string(), v.trim().to_string());
            }
        }
        ConfigFile { sections }
    }

    pub fn has_profile(&self, profile: &str) -> bool {
        self.sections.contains_key(profile)
    }

    /// A key of `profile`, falling back to `[DEFAULT]`.
    pub fn get(&self, profile: &str, key: &str) -> Option<&str> {
        self.sections
            .get(profile)
            .and_then(|s| s.get(key))
            .or_else(|| self.sections.get("DEFAULT").and_then(|s| s.get(key)))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_inherit_default_and_comments_are_ignored() {
        let f = ConfigFile::parse(
            "# comment\n[DEFAULT]\nregion = us-ashburn-1\nuser=u1\n\n[dev]\n; other\nuser = u2\nkey_file=~/k.pem\n",
        );
        assert!(f.has_profile("dev"));
        assert!(!f.has_profile("prod"));
        assert_eq!(f.get("dev", "user"), Some("u2"));
        assert_eq!(f.get("dev", "region"), Some("us-ashburn-1"));
        assert_eq!(f.get("DEFAULT", "user"), Some("u1"));
        assert_eq!(f.get("dev", "key_file"), Some("~/k.pem"));
        assert_eq!(f.get("dev", "fingerprint"), None);
    }
}
