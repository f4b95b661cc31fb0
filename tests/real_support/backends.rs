//! Self-hosted Pulumi state backends for the real-peer suite: `file://` (a directory), `s3://` (an
//! S3-compatible server, moto) and `postgres://` (a real PostgreSQL). Each server is started by the
//! test on a free loopback port with a throwaway data directory, and stopped when its [`Backend`] is
//! dropped. `.ci/run` installs the server programs; without them a test skips (or fails under
//! `PULUMI_CLOUD_IMPORT_REAL=require`), as with the other real peers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Output;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    File,
    S3,
    Postgres,
}

impl BackendKind {
    pub const ALL: [BackendKind; 3] = [BackendKind::File, BackendKind::S3, BackendKind::Postgres];

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::File => "file",
            BackendKind::S3 => "s3",
            BackendKind::Postgres => "postgres",
        }
    }
}

/// The bucket the S3 backend keeps state in.
const BUCKET: &str = "pci-state";
/// The PostgreSQL role and database the backend connects as and to.
const PG_USER: &str = "pulumi";
const PG_DATABASE: &str = "pulumi";

/// A running backend; its servers stop when dropped.
pub struct Backend {
    kind: BackendKind,
    url: String,
    env: Vec<(String, String)>,
    server: Server,
}

enum Server {
    /// The state directory.
    None(PathBuf),
    Moto {
        child: Child,
        port: u16,
    },
    Postgres(Postgres),
}

struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    /// The unprivileged user the server runs as when the test runs as root.
    user: Option<String>,
    port: u16,
    password: String,
}

impl Backend {
    /// Starts what `kind` needs under `dir` (File: nothing but a directory). Returns None after
    /// printing why when a needed server program is missing and PULUMI_CLOUD_IMPORT_REAL is not
    /// "require" (then it panics instead), like `Peers::locate` does.
    pub fn start(kind: BackendKind, dir: &Path) -> Option<Backend> {
        std::fs::create_dir_all(dir).expect("backend dir");
        match kind {
            BackendKind::File => {
                let state = dir.join("state");
                std::fs::create_dir_all(&state).unwrap();
                Some(Backend {
                    kind,
                    url: format!("file://{}", state.display()),
                    env: Vec::new(),
                    server: Server::None(state),
                })
            }
            BackendKind::S3 => start_s3(dir),
            BackendKind::Postgres => start_postgres(dir),
        }
    }

    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// PULUMI_BACKEND_URL for the CLI.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Extra environment the CLI needs for it.
    pub fn env(&self) -> Vec<(String, String)> {
        self.env.clone()
    }

    /// Every key the store holds, read from the server itself (not through Pulumi), sorted: proof
    /// that state went where the URL says.
    pub fn keys(&self) -> Vec<String> {
        let mut keys = match &self.server {
            Server::None(dir) => walk(dir, dir),
            Server::Moto { port, .. } => {
                let (status, body) = http(
                    *port,
                    "GET",
                    &format!("/{BUCKET}?list-type=2&max-keys=1000"),
                )
                .expect("moto answers");
                assert_eq!(status, 200, "{body}");
                assert!(!body.contains("<IsTruncated>true"), "more than 1000 keys");
                body.split("<Key>")
                    .skip(1)
                    .map(|k| k.split("</Key>").next().unwrap().to_string())
                    .collect()
            }
            Server::Postgres(pg) => Output::of(
                Command::new(pg.bin.join("psql"))
                    .args(["-h", "127.0.0.1", "-p", &pg.port.to_string()])
                    .args(["-U", PG_USER, "-d", PG_DATABASE, "-At", "-c"])
                    .arg("SELECT key FROM pulumi_state")
                    .env("PGPASSWORD", &pg.password),
            )
            .ok("psql SELECT key FROM pulumi_state")
            .stdout
            .lines()
            .map(str::to_string)
            .collect(),
        };
        keys.sort();
        keys
    }
}

/// Files under `dir`, as paths relative to `root`.
fn walk(root: &Path, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(root, &path));
        } else {
            out.push(path.strip_prefix(root).unwrap().display().to_string());
        }
    }
    out
}

impl std::fmt::Debug for Backend {
    // The URL and env carry (test-only) credentials: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend").field("kind", &self.kind).finish()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        match &mut self.server {
            Server::None(_) => {}
            Server::Moto { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Server::Postgres(pg) => {
                let _ = pg
                    .command("pg_ctl")
                    .arg("stop")
                    .arg("-D")
                    .arg(&pg.data)
                    .args(["-m", "fast", "-w"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// Skips (None) or, under `PULUMI_CLOUD_IMPORT_REAL=require`, fails.
fn missing(kind: BackendKind, why: &str) -> Option<Backend> {
    let msg = format!(
        "{} backend: {why}; .ci/run installs it (see the backends section there)",
        kind.name()
    );
    if std::env::var("PULUMI_CLOUD_IMPORT_REAL").as_deref() == Ok("require") {
        panic!("{msg}");
    }
    eprintln!("skipping: {msg}");
    None
}

/// A loopback port nothing listens on now. The server binds it a moment later; the window is small
/// and the servers fail loudly (and we retry) if something took it meanwhile.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// A plain HTTP/1.1 request to 127.0.0.1:port; the status code and body, or None when nothing
/// answers.
fn http(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((status, body.to_string()))
}

/// S3: moto's standalone server (`moto_server`, PyPI `moto[server]`, pinned in `.ci/run`). It serves
/// the S3 REST API the CLI uses (object PUT/GET/HEAD/DELETE, ListObjectsV2, CopyObject for the
/// `.bak` checkpoints) from memory, path-style; it does not verify SigV4 signatures, the one part
/// of real S3's behaviour here it leaves out. The CLI reaches it through gocloud.dev's s3blob
/// driver, the same code that talks to AWS S3 or MinIO.
fn start_s3(dir: &Path) -> Option<Backend> {
    let Some(moto) = on_path("moto_server") else {
        return missing(BackendKind::S3, "moto_server is not on PATH");
    };
    for _attempt in 0..3 {
        let port = free_port();
        let log = std::fs::File::create(dir.join("moto.log")).unwrap();
        let mut child = Command::new(&moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn moto_server");
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut up = false;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break; // the port was taken, or moto failed: the log says which
            }
            if http(port, "GET", "/").is_some_and(|(status, _)| status == 200) {
                up = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        if !up {
            let _ = child.kill();
            let _ = child.wait();
            continue;
        }
        let region = "us-east-1";
        let backend = Backend {
            kind: BackendKind::S3,
            // gocloud.dev s3blob (v0.46, SDK v2) URL parameters: `endpoint` with an explicit http://
            // scheme (no TLS on loopback), `use_path_style` since a bucket subdomain of 127.0.0.1
            // does not resolve, and `region` for SigV4. Pulumi adds
            // request_checksum_calculation=when_required itself when an endpoint is set.
            url: format!(
                "s3://{BUCKET}?endpoint=http://127.0.0.1:{port}&region={region}&use_path_style=true"
            ),
            env: vec![
                ("AWS_ACCESS_KEY_ID".into(), "pci-test-access-key".into()),
                ("AWS_SECRET_ACCESS_KEY".into(), "pci-test-secret-key".into()),
                ("AWS_REGION".into(), region.into()),
                // No instance-metadata probe for credentials or region.
                ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ],
            server: Server::Moto { child, port },
        };
        // The DIY backend expects its bucket to exist (as on AWS, where `pulumi login s3://b` does
        // not create `b`): create it with a plain path-style PUT, which lands in us-east-1 as on AWS.
        let created = http(port, "PUT", &format!("/{BUCKET}"));
        assert_eq!(
            created.as_ref().map(|(status, _)| *status),
            Some(200),
            "create bucket {BUCKET} in moto: {created:?}"
        );
        return Some(backend);
    }
    panic!(
        "moto_server did not come up on a loopback port in 3 attempts:\n{}",
        std::fs::read_to_string(dir.join("moto.log")).unwrap_or_default()
    );
}

/// The newest `/usr/lib/postgresql/<ver>/bin` (Debian's layout), else the directory `initdb` on PATH
/// really lives in (pg_ctl finds `postgres` beside itself).
fn postgres_bin() -> Option<PathBuf> {
    let has = |d: &Path| {
        ["initdb", "pg_ctl", "postgres", "createdb", "psql"]
            .iter()
            .all(|b| d.join(b).is_file())
    };
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, d)| has(d))
        .collect();
    versions.sort();
    if let Some((_, d)) = versions.pop() {
        return Some(d);
    }
    let initdb = std::fs::canonicalize(on_path("initdb")?).ok()?;
    let d = initdb.parent()?.to_path_buf();
    has(&d).then_some(d)
}

/// Whether this process runs as root (the owner of /proc/self is the effective uid).
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn uid_gid(user: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, user]).output().ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

impl Postgres {
    /// A PostgreSQL program, run as the server's user.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }
}

/// PostgreSQL: the real server (Debian's `postgresql-15`), a cluster made by `initdb` in a
/// throwaway directory and started by `pg_ctl` on a free loopback port, with password (SCRAM)
/// authentication over TCP as a production server has it. Pulumi's DIY postgres backend creates its
/// table (`pulumi_state`) itself on first use; we create only the role (by initdb) and the database.
fn start_postgres(dir: &Path) -> Option<Backend> {
    let Some(bin) = postgres_bin() else {
        return missing(
            BackendKind::Postgres,
            "initdb/pg_ctl not found (neither /usr/lib/postgresql/<ver>/bin nor PATH)",
        );
    };
    // The server refuses to run as root; as root (CI), run it as an unprivileged user that owns its
    // directory: Debian's `postgres` user when the package made one, else `nobody`.
    let user = if running_as_root() {
        let Some((name, (uid, gid))) = ["postgres", "nobody"]
            .into_iter()
            .find_map(|u| uid_gid(u).map(|ids| (u, ids)))
        else {
            return missing(
                BackendKind::Postgres,
                "no unprivileged user (postgres or nobody) to run it as",
            );
        };
        Some((name.to_string(), uid, gid))
    } else {
        None
    };
    let home = dir.join("postgres");
    std::fs::create_dir_all(&home).unwrap();
    // Random, so that nothing can come to rely on a constant password.
    let password = format!("{:032x}", rand::random::<u128>());
    let pwfile = home.join("pwfile");
    std::fs::write(&pwfile, format!("{password}\n")).unwrap();
    if let Some((_, uid, gid)) = &user {
        // The server's user must reach its directory through `dir` and its ancestors (root's).
        // `dir` is ours to open up; an ancestor that is not (a 0700 temp dir) is the caller's to fix.
        let mut perms = std::fs::metadata(dir).unwrap().permissions();
        perms.set_mode(perms.mode() | 0o111);
        std::fs::set_permissions(dir, perms).unwrap();
        let dir = std::fs::canonicalize(dir).unwrap();
        for ancestor in dir.ancestors().skip(1) {
            let mode = std::fs::metadata(ancestor).unwrap().permissions().mode();
            assert!(
                mode & 0o001 != 0,
                "PostgreSQL's user cannot traverse {} (mode {mode:o}): start the backend in a \
                 directory whose ancestors others may traverse",
                ancestor.display()
            );
        }
        for p in [&home, &pwfile] {
            std::os::unix::fs::chown(p, Some(*uid), Some(*gid)).unwrap();
        }
    }
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut pg = Postgres {
        bin,
        data: home.join("data"),
        user: user.map(|(name, _, _)| name),
        port: 0,
        password: password.clone(),
    };
    Output::of(
        pg.command("initdb")
            .arg("-D")
            .arg(&pg.data)
            .args(["-U", PG_USER, "-E", "UTF8", "--no-sync"])
            .arg(format!("--pwfile={}", pwfile.display()))
            // Unix-socket peers (only ourselves, in a 0700 directory) are trusted; TCP, which
            // the CLI uses, needs the password, as on a real server.
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"]),
    )
    .ok("initdb");
    std::fs::remove_file(&pwfile).unwrap();
    for _attempt in 0..3 {
        let port = free_port();
        let started = Output::of(
            pg.command("pg_ctl")
                .arg("start")
                .arg("-D")
                .arg(&pg.data)
                .arg("-l")
                .arg(home.join("postgres.log"))
                .args(["-w", "-t", "60", "-o"])
                // Its socket in its own directory, TCP on loopback only.
                .arg(format!("-k {} -p {port} -h 127.0.0.1", home.display())),
        );
        if started.code != Some(0) {
            continue; // most likely the port was taken meanwhile; postgres.log says
        }
        pg.port = port;
        let createdb = pg.bin.join("createdb");
        // Built before anything else can fail, so that a failure stops the server.
        let backend = Backend {
            kind: BackendKind::Postgres,
            // lib/pq's URL form. `sslmode=disable`: the loopback server has no TLS, and lib/pq's
            // default (require) would refuse it. The password goes in PGPASSWORD, which lib/pq
            // reads too (`postgres://user:password@...` works as well), because the CLI prints
            // the whole URL when it cannot open a backend. The database name doubles as the key
            // prefix of everything the backend stores (`pulumi/.pulumi/...`).
            url: format!("postgres://{PG_USER}@127.0.0.1:{port}/{PG_DATABASE}?sslmode=disable"),
            env: vec![("PGPASSWORD".into(), password.clone())],
            server: Server::Postgres(pg),
        };
        Output::of(
            Command::new(createdb)
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-U",
                    PG_USER,
                    PG_DATABASE,
                ])
                .env("PGPASSWORD", &password),
        )
        .ok("createdb");
        return Some(backend);
    }
    panic!(
        "pg_ctl start failed 3 times:\n{}",
        std::fs::read_to_string(home.join("postgres.log")).unwrap_or_default()
    );
}
