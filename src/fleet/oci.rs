//! OCI children: one per region the tenancy subscribes to (Identity `ListRegionSubscriptions`,
//! `READY` ones only), named `<tenancy>/<region>`. The tenancy's name comes from Identity
//! `GetTenancy`. Both are signed GETs with the same API key the scanner uses (`OCI_*` variables or
//! the OCI config file's profile).

use std::collections::BTreeMap;

use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use url::Url;

use super::plan::{child, Child, Credentials};
use crate::clouds::oci::auth::{Credentials as OciCredentials, Sources};
use crate::clouds::oci::signer::RequestSigner;

#[derive(Debug, Clone, Default)]
pub struct OciPlanArgs {
    pub regions: Option<Vec<String>>,
    pub profile: Option<String>,
    pub name: Option<String>,
    pub esc_environment: Option<String>,
}

pub async fn plan(
    args: &OciPlanArgs,
    extra: &BTreeMap<String, String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Vec<Child>)> {
    let creds = OciCredentials::resolve(&Sources {
        region: extra.get("region").map(String::as_str),
        profile: args.profile.as_deref(),
        env,
    })?;
    // The home region's Identity endpoint answers for the whole tenancy; `endpoint` (a proxy or a
    // test double) replaces it as it does for the scanner.
    let base = match extra.get("endpoint") {
        Some(e) => e.clone(),
        None => format!("https://identity.{}.oraclecloud.com", creds.region),
    };
    let base = Url::parse(&base).with_context(|| format!("endpoint {base:?} is not a URL"))?;
    let signer = RequestSigner::new(creds.key_id(), creds.key.clone());
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .context("building the HTTP client")?;
    let tenancy = &creds.tenancy;

    let name = match &args.name {
        Some(n) => n.clone(),
        None => {
            let t = get(
                &http,
                &signer,
                &base,
                &format!("/20160918/tenancies/{tenancy}"),
            )
            .await?;
            t.get("name")
                .and_then(Value::as_str)
                .map(|n| n.replace('/', "-"))
                .ok_or_else(|| anyhow!("GetTenancy returned no name; pass --name"))?
        }
    };
    let regions: Vec<String> = match &args.regions {
        Some(r) if !r.iter().any(|r| r == "all") => r.clone(),
        _ => {
            let subs = get(
                &http,
                &signer,
                &base,
                &format!("/20160918/tenancies/{tenancy}/regionSubscriptions"),
            )
            .await?;
            let mut out: Vec<String> = subs
                .as_array()
                .ok_or_else(|| anyhow!("ListRegionSubscriptions did not return a list"))?
                .iter()
                .filter(|s| s.get("status").and_then(Value::as_str) == Some("READY"))
                .filter_map(|s| s.get("regionName").and_then(Value::as_str))
                .map(str::to_string)
                .collect();
            out.sort();
            out
        }
    };
    let children = regions
        .iter()
        .map(|region| {
            let mut settings = extra.clone();
            settings.insert("cloud".into(), "oci".into());
            settings.insert("region".into(), region.clone());
            child(
                format!("{name}/{region}"),
                format!("oci/{tenancy}/{region}"),
                settings,
                Credentials {
                    profile: args.profile.clone(),
                    esc_environment: args.esc_environment.clone(),
                    ..Credentials::default()
                },
            )
        })
        .collect();
    Ok((name, children))
}

async fn get(
    http: &reqwest::Client,
    signer: &RequestSigner,
    base: &Url,
    path: &str,
) -> Result<Value> {
    let mut url = base.clone();
    url.set_path(path);
    let mut req = http.get(url).build().context("building the request")?;
    signer.sign(&mut req);
    let resp = http
        .execute(req)
        .await
        .map_err(|e| anyhow!("OCI Identity GET {path}: {e}"))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .map_err(|e| anyhow!("OCI Identity GET {path}: unreadable answer: {e}"))?;
    if !status.is_success() {
        let code = body.get("code").and_then(Value::as_str).unwrap_or("");
        let msg = body.get("message").and_then(Value::as_str).unwrap_or("");
        return Err(anyhow!(
            "OCI Identity GET {path}: HTTP {status} {code}: {msg}"
        ));
    }
    Ok(body)
}
