//! Turning a child's `credentials` (how to obtain them) into the environment of its run. Nothing
//! here is logged or written: the variables go to the child process only.
//!
//! - AWS `roleArn`: assumed now (STS AssumeRole from the `profile`'s or the default chain's
//!   identity), handed over as `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`,
//!   which both our listing and the aws-native provider's reads pick up first;
//! - AWS `profile`: `AWS_PROFILE`; OCI `profile`: `OCI_CLI_PROFILE`;
//! - `escEnvironment` is not an environment of ours to build: the run is started under
//!   `pulumi env run <env> --` instead (see `up`).

use anyhow::Result;

use super::plan::Child;

/// Variables to set and to remove for a child's process.
#[derive(Default, Clone)]
pub struct ChildEnv {
    pub set: Vec<(String, String)>,
    pub remove: Vec<String>,
}

// Hand-written so that a stray `{:?}` can never print a secret.
impl std::fmt::Debug for ChildEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.set.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ChildEnv")
            .field("set", &names)
            .field("remove", &self.remove)
            .finish()
    }
}

pub async fn child_env(cloud: &str, child: &Child) -> Result<ChildEnv> {
    let c = &child.credentials;
    let mut env = ChildEnv::default();
    match cloud {
        "aws" => {
            if let Some(arn) = &c.role_arn {
                let region = child.settings.get("region").map(String::as_str);
                let (key, secret, token) =
                    super::aws::assume(c.profile.as_deref(), arn, region).await?;
                env.set.push(("AWS_ACCESS_KEY_ID".into(), key));
                env.set.push(("AWS_SECRET_ACCESS_KEY".into(), secret));
                match token {
                    Some(t) => env.set.push(("AWS_SESSION_TOKEN".into(), t)),
                    None => env.remove.push("AWS_SESSION_TOKEN".into()),
                }
                // The assumed keys are the child's identity; a profile would be a second one.
                env.remove.extend(
                    [
                        "AWS_PROFILE",
                        "AWS_DEFAULT_PROFILE",
                        "AWS_WEB_IDENTITY_TOKEN_FILE",
                        "AWS_ROLE_ARN",
                    ]
                    .map(String::from),
                );
            } else if let Some(p) = &c.profile {
                env.set.push(("AWS_PROFILE".into(), p.clone()));
            }
        }
        "oci" => {
            if let Some(p) = &c.profile {
                env.set.push(("OCI_CLI_PROFILE".into(), p.clone()));
            }
        }
        _ => {}
    }
    Ok(env)
}
