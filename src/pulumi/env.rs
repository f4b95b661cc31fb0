//! The environment contract between a Pulumi language host and the program it starts: the variables
//! Pulumi's Go language host sets (`PULUMI_MONITOR`, `PULUMI_CONFIG`, ...), parsed and checked once.
//!
//! Values are never logged: `PULUMI_CONFIG` holds decrypted secrets.

use std::collections::{BTreeMap, BTreeSet};

use crate::input_error::InputError;

/// What the language host told us about the deployment.
#[derive(Clone, PartialEq)]
pub struct PulumiEnv {
    /// Resource monitor address as `host:port`, no scheme.
    pub monitor: String,
    /// Engine (host) service address as `host:port`, no scheme.
    pub engine: String,
    pub project: String,
    /// Short stack name.
    pub stack: String,
    pub organization: Option<String>,
    /// Full `namespace:key` -> value. Secrets arrive decrypted.
    pub config: BTreeMap<String, String>,
    /// Full keys whose values are secret.
    pub secret_keys: BTreeSet<String>,
    pub dry_run: bool,
    /// The engine's `--parallel` (2147483647 = unbounded).
    pub parallel: Option<i32>,
    pub root_directory: Option<String>,
}

// Hand-written so that config values can never end up in a log line through `{:?}`.
impl std::fmt::Debug for PulumiEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PulumiEnv")
            .field("monitor", &self.monitor)
            .field("engine", &self.engine)
            .field("project", &self.project)
            .field("stack", &self.stack)
            .field("config_keys", &self.config.keys().collect::<Vec<_>>())
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

impl PulumiEnv {
    /// Reads the contract through `get` (normally `std::env::var`). `Ok(None)` when `PULUMI_MONITOR`
    /// is absent, i.e. the program was not started by a language host.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, InputError> {
        let Some(monitor) = non_empty(get("PULUMI_MONITOR")) else {
            return Ok(None);
        };
        let require = |name: &str| {
            non_empty(get(name)).ok_or_else(|| {
                InputError::new(format!(
                    "{name} is not set, but PULUMI_MONITOR is: the language host passed an incomplete environment"
                ))
            })
        };
        let monitor = check_address("PULUMI_MONITOR", monitor)?;
        let engine = check_address("PULUMI_ENGINE", require("PULUMI_ENGINE")?)?;
        let project = require("PULUMI_PROJECT")?;
        let stack = require("PULUMI_STACK")?;

        let config = match non_empty(get("PULUMI_CONFIG")) {
            None => BTreeMap::new(),
            // The error never quotes the text: it holds decrypted secrets.
            Some(text) => serde_json::from_str::<BTreeMap<String, String>>(&text).map_err(|e| {
                InputError::new(format!(
                    "PULUMI_CONFIG is not a JSON object of strings (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            })?,
        };
        let secret_keys = match non_empty(get("PULUMI_CONFIG_SECRET_KEYS")) {
            None => BTreeSet::new(),
            Some(text) => serde_json::from_str::<BTreeSet<String>>(&text).map_err(|_| {
                InputError::new(format!(
                    "PULUMI_CONFIG_SECRET_KEYS is not a JSON array of strings: {text:?}"
                ))
            })?,
        };
        let dry_run = match non_empty(get("PULUMI_DRY_RUN")).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(InputError::new(format!(
                    "PULUMI_DRY_RUN must be \"true\" or \"false\", not {other:?}"
                )))
            }
        };
        let parallel = match non_empty(get("PULUMI_PARALLEL")) {
            None => None,
            Some(text) => Some(text.parse::<i32>().map_err(|_| {
                InputError::new(format!("PULUMI_PARALLEL must be an integer, not {text:?}"))
            })?),
        };
        Ok(Some(PulumiEnv {
            monitor,
            engine,
            project,
            stack,
            organization: non_empty(get("PULUMI_ORGANIZATION")),
            config,
            secret_keys,
            dry_run,
            parallel,
            root_directory: non_empty(get("PULUMI_ROOT_DIRECTORY")),
        }))
    }

    /// The stack resource's name, `<project>-<stack>`, exactly as Pulumi's SDKs name it.
    pub fn stack_name(&self) -> String {
        format!("{}-{}", self.project, self.stack)
    }
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

/// `host:port` without a scheme, as the engine passes it.
fn check_address(var: &str, value: String) -> Result<String, InputError> {
    let ok = !value.contains("://")
        && value
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if ok {
        Ok(value)
    } else {
        Err(InputError::new(format!(
            "{var} must be host:port with no scheme, as the Pulumi engine passes it, not {value:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const BASE: &[(&str, &str)] = &[
        ("PULUMI_MONITOR", "127.0.0.1:41235"),
        ("PULUMI_ENGINE", "127.0.0.1:41236"),
        ("PULUMI_PROJECT", "pulumi-cloud-import"),
        ("PULUMI_STACK", "dev"),
    ];

    #[test]
    fn absent_monitor_means_not_under_pulumi() {
        assert_eq!(PulumiEnv::from_lookup(lookup(&[])).unwrap(), None);
    }

    #[test]
    fn parses_the_go_host_contract() {
        let mut pairs = BASE.to_vec();
        pairs.extend([
            (
                "PULUMI_CONFIG",
                r#"{"pulumi-cloud-import:cloud":"kubernetes","aws:region":"us-east-1"}"#,
            ),
            ("PULUMI_CONFIG_SECRET_KEYS", r#"["aws:region"]"#),
            ("PULUMI_DRY_RUN", "false"),
            ("PULUMI_PARALLEL", "2147483647"),
            ("PULUMI_ORGANIZATION", "acme"),
        ]);
        let env = PulumiEnv::from_lookup(lookup(&pairs)).unwrap().unwrap();
        assert_eq!(env.stack_name(), "pulumi-cloud-import-dev");
        assert_eq!(env.config["pulumi-cloud-import:cloud"], "kubernetes");
        assert!(env.secret_keys.contains("aws:region"));
        assert_eq!(env.parallel, Some(i32::MAX));
        assert_eq!(env.organization.as_deref(), Some("acme"));
        assert!(
            !format!("{env:?}").contains("us-east-1"),
            "Debug must not print config values"
        );
    }

    #[test]
    fn malformed_values_name_the_variable_but_not_secrets() {
        let mut pairs = BASE.to_vec();
        pairs.push(("PULUMI_CONFIG", r#"{"p:k": "hunter2""#));
        let err = PulumiEnv::from_lookup(lookup(&pairs))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("PULUMI_CONFIG "), "{err}");
        assert!(!err.contains("hunter2"), "{err}");

        let mut pairs = BASE.to_vec();
        pairs[0] = ("PULUMI_MONITOR", "http://127.0.0.1:1");
        let err = PulumiEnv::from_lookup(lookup(&pairs))
            .unwrap_err()
            .to_string();
        assert!(err.contains("PULUMI_MONITOR"), "{err}");

        let err = PulumiEnv::from_lookup(lookup(&BASE[..1]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("PULUMI_ENGINE is not set"), "{err}");
    }
}
