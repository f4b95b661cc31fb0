//! Which state backend the Pulumi CLI writes to, as far as a process it starts can tell, and whether
//! it checkpoints after every step.
//!
//! Why it matters: the DIY backends (`file://`, `s3://`, `gs://`, `azblob://`, `postgres://`) have
//! no journal, so every checkpoint rewrites the whole state. A read step per resource then makes a
//! scan quadratic in its size. `PULUMI_SKIP_CHECKPOINTS=true` writes the state once at the end; a
//! run that dies keeps the previous state, which is what a re-scan wants. Pulumi Cloud journals
//! each step and does not need it.

use std::path::PathBuf;

/// The kind of backend, by the scheme of its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// Pulumi Cloud or a self-hosted Pulumi service (`https://...`): journals every step.
    Service,
    /// A DIY backend; the scheme, e.g. `file`.
    Diy(String),
    /// Not set where we can see it.
    Unknown,
}

const DIY_SCHEMES: &[&str] = &["file", "s3", "gs", "azblob", "postgres", "postgresql"];

impl Backend {
    /// From a backend URL as `pulumi login` takes it.
    pub fn of_url(url: &str) -> Backend {
        let Some((scheme, _)) = url.trim().split_once("://") else {
            return Backend::Unknown;
        };
        let scheme = scheme.to_ascii_lowercase();
        if DIY_SCHEMES.contains(&scheme.as_str()) {
            Backend::Diy(scheme)
        } else if scheme == "https" || scheme == "http" {
            Backend::Service
        } else {
            Backend::Unknown
        }
    }

    /// `PULUMI_BACKEND_URL`, else the current login in `$PULUMI_HOME/credentials.json` (default
    /// `~/.pulumi`), the two places the CLI looks before a project's own `backend.url`.
    pub fn detect(env: impl Fn(&str) -> Option<String>) -> Backend {
        if let Some(url) = env("PULUMI_BACKEND_URL").filter(|u| !u.trim().is_empty()) {
            return Backend::of_url(&url);
        }
        let home = env("PULUMI_HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".pulumi")));
        let current = home
            .and_then(|h| std::fs::read_to_string(h.join("credentials.json")).ok())
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|v| v["current"].as_str().map(String::from));
        match current {
            Some(url) => Backend::of_url(&url),
            None => Backend::Unknown,
        }
    }

    pub fn is_diy(&self) -> bool {
        matches!(self, Backend::Diy(_))
    }
}

/// Whether `PULUMI_SKIP_CHECKPOINTS` is on, read the way the CLI reads a boolean variable (`1` or
/// `true` in any case).
pub fn checkpoints_skipped(env: impl Fn(&str) -> Option<String>) -> bool {
    env("PULUMI_SKIP_CHECKPOINTS")
        .is_some_and(|v| v.trim() == "1" || v.trim().eq_ignore_ascii_case("true"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_scheme_says_which_backends_checkpoint_the_whole_state() {
        for diy in [
            "file://~/.pulumi-state",
            "s3://bucket?region=us-east-1",
            "postgres://u:p@127.0.0.1:5432/db",
            "azblob://container",
            "gs://bucket",
        ] {
            assert!(Backend::of_url(diy).is_diy(), "{diy}");
        }
        assert_eq!(Backend::of_url("https://api.pulumi.com"), Backend::Service);
        assert_eq!(Backend::of_url("not a url"), Backend::Unknown);
    }

    #[test]
    fn the_variable_wins_over_the_login_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("credentials.json"),
            r#"{"current": "https://api.pulumi.com", "accessTokens": {}}"#,
        )
        .unwrap();
        let home = dir.path().display().to_string();
        let mut env = HashMap::from([("PULUMI_HOME", home.clone())]);
        assert_eq!(Backend::detect(|k| env.get(k).cloned()), Backend::Service);
        env.insert("PULUMI_BACKEND_URL", "file:///tmp/state".into());
        assert_eq!(
            Backend::detect(|k| env.get(k).cloned()),
            Backend::Diy("file".into())
        );
        assert_eq!(Backend::detect(|_| None), Backend::Unknown);
    }

    #[test]
    fn skip_checkpoints_reads_like_the_cli() {
        for (v, on) in [
            ("true", true),
            ("TRUE", true),
            ("1", true),
            ("false", false),
            ("0", false),
            ("", false),
        ] {
            assert_eq!(checkpoints_skipped(|_| Some(v.to_string())), on, "{v:?}");
        }
        assert!(!checkpoints_skipped(|_| None));
    }
}
