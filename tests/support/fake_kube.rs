//! A fake Kubernetes API server, reached by the real `kube` client through a kubeconfig.
//!
//! It models what the client and our scanner meet on a real API server:
//! - bearer-token authentication: 401 `Status` without the right `Authorization` header. The token
//!   is a static one, or an EKS token checked the way aws-iam-authenticator does (presigned STS
//!   URL replayed against the fake STS, see `fake_sts`), or an Entra token that must have been
//!   issued for the AKS server application's audience; accepted tokens are cached, as the API
//!   server caches its token webhook's answers;
//! - HTTPS with the test CA when started with [`FakeKube::start_https`], as managed clusters serve;
//! - aggregated discovery (`/api`, `/apis` with `Accept: ...;as=APIGroupDiscoveryList`), versions in
//!   preference order, subresources nested, `freshness: Stale` for a dead aggregated API; the classic
//!   `APIVersions`/`APIGroupList` documents for clients that do not ask for it;
//! - chunked lists (`limit`/`continue`), items in etcd key order (`namespace/name` byte order), opaque
//!   continue tokens, and 410 `Expired` for a stale token, with or without a fresh token in the
//!   Status' `metadata.continue`, as the apiserver answers after a compaction;
//! - metadata-only lists (`Accept: ...;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`) as
//!   `PartialObjectMetadataList`; a plain list returns whole objects, Secret data included, which the
//!   fake records so a test can prove the scanner never asked for it;
//! - 403 `Forbidden` Status for types the user may not list, 500 `InternalError` for a broken one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Value};

pub const TOKEN: &str = "fake-bearer-token-7f3a";
pub const SECRET_DATA: &str = "c3VwZXItc2VjcmV0LXBhc3N3b3Jk";

#[derive(Clone, Debug)]
pub struct FakeType {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    pub verbs: &'static [&'static str],
}

#[derive(Clone, Debug, Default)]
pub struct FakeObject {
    pub namespace: Option<String>,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// (kind, name, controller)
    pub owner: Option<(String, String, bool)>,
}

impl FakeType {
    /// A type the reader may `get`, `list` and `watch` (what discovery reports for a view role).
    pub fn readable(
        group: &'static str,
        version: &'static str,
        kind: &'static str,
        plural: &'static str,
        namespaced: bool,
    ) -> FakeType {
        FakeType {
            group,
            version,
            kind,
            plural,
            namespaced,
            verbs: &["list", "get", "watch"],
        }
    }
}

impl FakeObject {
    pub fn ns(namespace: &str, name: &str) -> Self {
        FakeObject {
            namespace: Some(namespace.into()),
            name: name.into(),
            ..Default::default()
        }
    }
    pub fn cluster(name: &str) -> Self {
        FakeObject {
            name: name.into(),
            ..Default::default()
        }
    }
    pub fn owned_by(mut self, kind: &str, name: &str) -> Self {
        self.owner = Some((kind.into(), name.into(), true));
        self
    }
    pub fn annotated(mut self, k: &str, v: &str) -> Self {
        self.annotations.insert(k.into(), v.into());
        self
    }
    pub fn labelled(mut self, k: &str, v: &str) -> Self {
        self.labels.insert(k.into(), v.into());
        self
    }
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// How the fake authenticates bearer tokens.
#[derive(Clone, Default)]
pub enum FakeAuth {
    /// Only [`TOKEN`].
    #[default]
    Static,
    /// EKS: tokens aws-iam-authenticator accepts for `cluster` with STS at `sts_url`, from one of
    /// the `mapped` ARNs.
    Eks {
        sts_url: String,
        cluster: String,
        mapped: Vec<String>,
    },
    /// AKS with Entra ID: tokens `accepts` says were issued for the AKS server application.
    Aks {
        accepts: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    },
}

#[derive(Default)]
pub struct KubeOptions {
    pub auth: FakeAuth,
    pub types: Vec<FakeType>,
    /// plural -> objects
    pub objects: HashMap<&'static str, Vec<FakeObject>>,
    /// Plurals whose list answers 403.
    pub forbidden: HashSet<&'static str>,
    /// Plurals whose list always answers 500.
    pub broken: HashSet<&'static str>,
    /// Plurals whose list never answers: the connection stays open and silent, as an API server
    /// stuck behind a dead etcd or an overloaded aggregated API does.
    pub stalled: HashSet<&'static str>,
    /// Plurals whose first continued request answers 410; the bool says whether the Status carries
    /// a fresh continue token.
    pub expire_once: HashMap<&'static str, bool>,
    /// Plurals whose first list answers 429 the way API Priority and Fairness does: this
    /// `Retry-After` value and a plain-text body.
    pub throttle_once: HashMap<&'static str, String>,
    /// Plurals whose cluster-wide list is forbidden but whose list in these namespaces is allowed
    /// (RBAC granted per namespace with RoleBindings); other namespaces stay forbidden.
    pub allowed_namespaces: HashMap<&'static str, HashSet<&'static str>>,
    /// Groups whose aggregated API server is down (discovery marks them Stale).
    pub stale_groups: HashSet<&'static str>,
    /// Behave like an API server older than 1.26: no aggregated discovery, so `/api` and `/apis`
    /// answer the classic documents whatever the Accept header asks for.
    pub legacy_discovery: bool,
}

#[derive(Default, Debug)]
pub struct KubeRecord {
    pub requests: Vec<String>,
    /// When each of `requests` arrived.
    pub times: Vec<std::time::Instant>,
    pub unauthorized: usize,
    /// Why tokens were refused (EKS and AKS modes).
    pub refusals: Vec<String>,
    /// Distinct tokens accepted (EKS and AKS modes): a long scan shows its refreshes here.
    pub tokens_accepted: usize,
    pub expired_sent: usize,
    /// Plurals listed without the metadata-only Accept header.
    pub full_lists: Vec<String>,
}

struct Inner {
    opts: KubeOptions,
    throttled: Mutex<HashSet<String>>,
    record: Mutex<KubeRecord>,
    expired: Mutex<HashSet<String>>,
    /// Tokens already authenticated (the API server's token cache).
    authenticated: Mutex<HashSet<String>>,
}

impl Inner {
    fn new(mut opts: KubeOptions) -> Arc<Inner> {
        for objs in opts.objects.values_mut() {
            objs.sort_by_key(|o| o.id());
        }
        Arc::new(Inner {
            opts,
            record: Mutex::default(),
            expired: Mutex::default(),
            throttled: Mutex::default(),
            authenticated: Mutex::default(),
        })
    }
}

#[derive(Clone)]
pub struct FakeKube {
    inner: Arc<Inner>,
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>`, or `https://...` when started with [`FakeKube::start_https`].
    pub url: String,
}

impl FakeKube {
    pub async fn start(opts: KubeOptions) -> FakeKube {
        let inner = Inner::new(opts);
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeKube {
            inner,
            addr,
            url: format!("http://{addr}"),
        }
    }

    /// Like [`FakeKube::start`], serving HTTPS with the test CA (`tls::ca_pem`).
    pub async fn start_https(opts: KubeOptions) -> FakeKube {
        let inner = Inner::new(opts);
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let url = super::tls::serve_https(app).await;
        let addr = url.trim_start_matches("https://").parse().unwrap();
        FakeKube { inner, addr, url }
    }

    pub fn record(&self) -> std::sync::MutexGuard<'_, KubeRecord> {
        self.inner.record.lock().unwrap()
    }

    /// Writes a kubeconfig with one context pointing at this server.
    pub fn write_kubeconfig(&self, dir: &Path, context: &str) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: {context}\nclusters:\n- name: fake\n  cluster:\n    server: {}\ncontexts:\n- name: {context}\n  context:\n    cluster: fake\n    user: importer\nusers:\n- name: importer\n  user:\n    token: {TOKEN}\n",
            self.url
        );
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// Checks the request's bearer token as the configured authenticator does.
async fn authenticate(s: &Inner, auth: Option<&str>) -> Result<(), String> {
    let token = auth
        .and_then(|a| a.strip_prefix("Bearer "))
        .ok_or("no bearer token")?;
    if s.authenticated.lock().unwrap().contains(token) {
        return Ok(());
    }
    match &s.opts.auth {
        FakeAuth::Static if token == TOKEN => return Ok(()),
        FakeAuth::Static => return Err("not the static token".into()),
        FakeAuth::Eks {
            sts_url,
            cluster,
            mapped,
        } => {
            super::fake_sts::verify_eks_token(token, sts_url, cluster, mapped).await?;
        }
        FakeAuth::Aks { accepts } => {
            if !accepts(token) {
                return Err("not an Entra token for the AKS server application".into());
            }
        }
    }
    if s.authenticated.lock().unwrap().insert(token.to_string()) {
        s.record.lock().unwrap().tokens_accepted += 1;
    }
    Ok(())
}

fn status(code: u16, reason: &str, message: &str, cont: Option<String>) -> Response {
    let mut meta = json!({});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": meta, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap())
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn ok_json(body: Value, content_type: &str) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", content_type)
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn handle(State(s): State<Arc<Inner>>, uri: Uri, headers: HeaderMap) -> Response {
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    {
        let mut rec = s.record.lock().unwrap();
        rec.requests.push(uri.to_string());
        rec.times.push(std::time::Instant::now());
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if let Err(why) = authenticate(&s, auth).await {
        let mut rec = s.record.lock().unwrap();
        rec.unauthorized += 1;
        rec.refusals.push(why);
        return status(401, "Unauthorized", "Unauthorized", None);
    }
    let path = uri.path().trim_end_matches('/');
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let aggregated = accept.contains("as=APIGroupDiscoveryList") && !s.opts.legacy_discovery;
    // A list of a stalled plural (the last segment of a list path) never answers.
    if parts.len() >= 3 && parts.last().is_some_and(|p| s.opts.stalled.contains(p)) {
        std::future::pending::<()>().await;
    }
    match parts.as_slice() {
        ["api"] => discovery(&s, true, aggregated),
        ["apis"] => discovery(&s, false, aggregated),
        ["api", "v1"] => resource_list(&s, "", "v1"),
        ["apis", group, version] => resource_list(&s, group, version),
        ["api", "v1", plural] => list(&s, "", "v1", plural, None, &query, &accept),
        ["apis", group, version, plural] => list(&s, group, version, plural, None, &query, &accept),
        ["api", "v1", "namespaces", ns, plural] => {
            list(&s, "", "v1", plural, Some(ns), &query, &accept)
        }
        ["apis", group, version, "namespaces", ns, plural] => {
            list(&s, group, version, plural, Some(ns), &query, &accept)
        }
        _ => status(
            404,
            "NotFound",
            "the server could not find the requested resource",
            None,
        ),
    }
}

fn discovery(s: &Inner, core: bool, aggregated: bool) -> Response {
    let types: Vec<&FakeType> = s
        .opts
        .types
        .iter()
        .filter(|t| (t.group.is_empty()) == core)
        .collect();
    let mut groups: BTreeMap<&str, BTreeMap<&str, Vec<&FakeType>>> = BTreeMap::new();
    for t in &types {
        groups
            .entry(t.group)
            .or_default()
            .entry(t.version)
            .or_default()
            .push(t);
    }
    if !aggregated {
        return if core {
            ok_json(
                json!({"kind": "APIVersions", "versions": ["v1"]}),
                "application/json",
            )
        } else {
            let list: Vec<Value> = groups
                .iter()
                .map(|(g, versions)| {
                    let mut keys: Vec<&&str> = versions.keys().collect();
                    keys.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
                    let vs: Vec<Value> = keys
                        .into_iter()
                        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                        .collect();
                    json!({"name": g, "versions": vs, "preferredVersion": vs[0]})
                })
                .collect();
            ok_json(
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": list}),
                "application/json",
            )
        };
    }
    let items: Vec<Value> = groups
        .iter()
        .map(|(g, versions)| {
            // Descending preference, as the API server orders versions: GA before beta before
            // alpha, higher numbers first.
            let mut vs: Vec<(&&str, &Vec<&FakeType>)> = versions.iter().collect();
            vs.sort_by_key(|(v, _)| std::cmp::Reverse(version_priority(v)));
            let versions: Vec<Value> = vs
                .into_iter()
                .map(|(v, ts)| {
                    let resources: Vec<Value> = ts
                        .iter()
                        .map(|t| {
                            json!({
                                "resource": t.plural,
                                "responseKind": {"group": t.group, "version": t.version, "kind": t.kind},
                                "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
                                "singularResource": t.kind.to_lowercase(),
                                "verbs": t.verbs,
                                "subresources": [{"subresource": "status", "responseKind": {"group": t.group, "version": t.version, "kind": t.kind}, "verbs": ["get", "patch", "update"]}],
                            })
                        })
                        .collect();
                    let fresh = if s.opts.stale_groups.contains(g) { "Stale" } else { "Current" };
                    json!({"version": v, "resources": resources, "freshness": fresh})
                })
                .collect();
            json!({"metadata": {"name": g}, "versions": versions})
        })
        .collect();
    ok_json(
        json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}),
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
    )
}

/// The classic per-group-version `APIResourceList`, subresources listed as `<plural>/status`.
fn resource_list(s: &Inner, group: &str, version: &str) -> Response {
    let mut resources = Vec::new();
    for t in s
        .opts
        .types
        .iter()
        .filter(|t| t.group == group && t.version == version)
    {
        resources.push(json!({"name": t.plural, "singularName": t.kind.to_lowercase(), "namespaced": t.namespaced, "kind": t.kind, "verbs": t.verbs}));
        resources.push(json!({"name": format!("{}/status", t.plural), "singularName": "", "namespaced": t.namespaced, "kind": t.kind, "verbs": ["get", "patch", "update"]}));
    }
    if resources.is_empty() {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
            None,
        );
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    ok_json(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
        "application/json",
    )
}

/// Kubernetes version priority: (stability, major, minor) with GA = 2, beta = 1, alpha = 0.
fn version_priority(v: &str) -> (u8, u32, u32) {
    let rest = v.trim_start_matches('v');
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    let (stability, minor) = if let Some(m) = tail.strip_prefix("beta") {
        (1, m.parse().unwrap_or(0))
    } else if let Some(m) = tail.strip_prefix("alpha") {
        (0, m.parse().unwrap_or(0))
    } else {
        (2, 0)
    };
    (stability, major, minor)
}

fn list(
    s: &Inner,
    group: &str,
    version: &str,
    plural: &str,
    namespace: Option<&str>,
    query: &HashMap<String, String>,
    accept: &str,
) -> Response {
    let Some(t) = s
        .opts
        .types
        .iter()
        .find(|t| t.group == group && t.version == version && t.plural == plural)
    else {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
            None,
        );
    };
    if let Some(wait) = s.opts.throttle_once.get(t.plural) {
        if s.throttled.lock().unwrap().insert(t.plural.to_string()) {
            return Response::builder()
                .status(429)
                .header("retry-after", wait)
                .header("content-type", "text/plain; charset=utf-8")
                .body(Body::from("Too many requests, please try again later.\n"))
                .unwrap();
        }
    }
    if namespace.is_some() && !t.namespaced {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
            None,
        );
    }
    let per_ns = s.opts.allowed_namespaces.get(t.plural);
    let allowed = match (namespace, per_ns) {
        (_, None) => !s.opts.forbidden.contains(t.plural),
        (None, Some(_)) => false,
        (Some(ns), Some(allowed)) => allowed.contains(ns),
    };
    if !allowed {
        let scope = match namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_string(),
        };
        let msg = format!(
            "{plural}.{group} is forbidden: User \"system:serviceaccount:ci:importer\" cannot list resource \"{plural}\" in API group \"{group}\" {scope}"
        );
        return status(403, "Forbidden", &msg, None);
    }
    if s.opts.broken.contains(t.plural) {
        return status(
            500,
            "InternalError",
            "Internal error occurred: etcdserver: request timed out",
            None,
        );
    }
    let empty = Vec::new();
    let all = s.opts.objects.get(t.plural).unwrap_or(&empty);
    let in_namespace: Vec<FakeObject>;
    let objects = match namespace {
        None => all,
        Some(ns) => {
            in_namespace = all
                .iter()
                .filter(|o| o.namespace.as_deref() == Some(ns))
                .cloned()
                .collect();
            &in_namespace
        }
    };
    let start = match query.get("continue") {
        None => 0,
        Some(tok) => {
            let Some(offset) = tok
                .strip_prefix(&format!("{plural}:"))
                .and_then(|o| o.parse::<usize>().ok())
            else {
                return status(400, "BadRequest", "continue key is not valid", None);
            };
            if let Some(&fresh) = s.opts.expire_once.get(t.plural) {
                if s.expired.lock().unwrap().insert(t.plural.to_string()) {
                    s.record.lock().unwrap().expired_sent += 1;
                    let msg = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results.";
                    return status(410, "Expired", msg, fresh.then(|| tok.clone()));
                }
            }
            offset
        }
    };
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let end = start.saturating_add(limit).min(objects.len());
    let page = &objects[start.min(objects.len())..end];
    let cont = (end < objects.len()).then(|| format!("{plural}:{end}"));
    let metadata_only = accept.contains("as=PartialObjectMetadataList");
    if !metadata_only {
        s.record.lock().unwrap().full_lists.push(plural.to_string());
    }
    let items: Vec<Value> = page
        .iter()
        .map(|o| {
            let mut meta = json!({"name": o.name, "uid": format!("uid-{}", o.id()), "resourceVersion": "100"});
            if let Some(ns) = &o.namespace {
                meta["namespace"] = json!(ns);
            }
            if !o.labels.is_empty() {
                meta["labels"] = json!(o.labels);
            }
            if !o.annotations.is_empty() {
                meta["annotations"] = json!(o.annotations);
            }
            if let Some((kind, name, controller)) = &o.owner {
                meta["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": "owner-uid", "controller": controller}]);
            }
            if metadata_only {
                json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta})
            } else {
                let mut obj = json!({"kind": t.kind, "apiVersion": if group.is_empty() { version.to_string() } else { format!("{group}/{version}") }, "metadata": meta});
                if t.kind == "Secret" {
                    obj["data"] = json!({"password": SECRET_DATA});
                }
                obj
            }
        })
        .collect();
    let mut list_meta = json!({"resourceVersion": "100"});
    if let Some(c) = cont {
        list_meta["continue"] = json!(c);
    }
    let (kind, api_version, ct) = if metadata_only {
        (
            "PartialObjectMetadataList".to_string(),
            "meta.k8s.io/v1".to_string(),
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
        )
    } else {
        (
            format!("{}List", t.kind),
            version.to_string(),
            "application/json",
        )
    };
    ok_json(
        json!({"kind": kind, "apiVersion": api_version, "metadata": list_meta, "items": items}),
        ct,
    )
}
