//! Which program binary `Run` starts, and the check that it is not older than its sources.
//!
//! Lookup order: `PULUMI_CLOUD_IMPORT_PROGRAM` in the host's environment; the runtime option
//! `binary` (Pulumi.yaml `runtime: {name: rust, options: {binary: ...}}`, relative to the project);
//! `pulumi-cloud-import` next to the host binary (both are built into `target/release`, and
//! `cargo install` puts both in the same directory).
//!
//! A missing or stale binary is an error that says exactly what to run; the host does not build it,
//! because a multi-minute `cargo build` inside `pulumi up`'s display is neither visible nor
//! cancellable in a useful way.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Overrides the program binary (absolute, or relative to the project directory).
pub const PROGRAM_ENV: &str = "PULUMI_CLOUD_IMPORT_PROGRAM";
/// The program's binary name.
pub const PROGRAM_NAME: &str = "pulumi-cloud-import";

/// Inputs of the lookup, gathered by the caller so that this stays a pure function.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    pub env_override: Option<String>,
    pub option_binary: Option<String>,
    /// The project (`main`) directory, relative paths resolve against it.
    pub program_dir: PathBuf,
    /// The directory holding Pulumi.yaml.
    pub root_dir: PathBuf,
    /// The running host binary.
    pub host_exe: Option<PathBuf>,
}

/// Finds the program and checks that it is fresh.
pub fn locate(lookup: &Lookup) -> Result<PathBuf, String> {
    let resolve = |p: &str| {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            lookup.program_dir.join(p)
        }
    };
    let (path, origin) = if let Some(p) = &lookup.env_override {
        (resolve(p), format!("named by {PROGRAM_ENV}"))
    } else if let Some(p) = &lookup.option_binary {
        (
            resolve(p),
            "named by the runtime option `binary` in Pulumi.yaml".to_string(),
        )
    } else if let Some(dir) = lookup.host_exe.as_deref().and_then(Path::parent) {
        (
            dir.join(PROGRAM_NAME),
            "next to the language host".to_string(),
        )
    } else {
        return Err(format!(
            "cannot tell where the program is: set the runtime option `binary` in Pulumi.yaml or {PROGRAM_ENV}"
        ));
    };

    let build_hint = cargo_project(&lookup.root_dir, &path);
    if !path.is_file() {
        return Err(match &build_hint {
            Some(root) => format!(
                "the program binary {} ({origin}) does not exist: run `cargo build --release` in {}, then run `pulumi up` again",
                path.display(),
                root.display()
            ),
            None => format!(
                "the program binary {} ({origin}) does not exist: install it next to pulumi-language-rust (`cargo install --path <clone of pulumi-cloud-import>`) or set the runtime option `binary` in Pulumi.yaml",
                path.display()
            ),
        });
    }
    if let Some(root) = build_hint {
        check_fresh(&path, &root)?;
    }
    Ok(path)
}

/// The crate root when `program` is a build output of the Cargo project at `root`; only then can
/// its sources be compared with it.
fn cargo_project(root: &Path, program: &Path) -> Option<PathBuf> {
    let root = root.canonicalize().ok()?;
    if !root.join("Cargo.toml").is_file() {
        return None;
    }
    let parent = program.parent()?.canonicalize().ok()?;
    parent.starts_with(root.join("target")).then_some(root)
}

/// Fails when a source file of the crate is newer than the binary.
pub fn check_fresh(program: &Path, root: &Path) -> Result<(), String> {
    let built =
        modified(program).ok_or_else(|| format!("cannot read the age of {}", program.display()))?;
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    for name in ["Cargo.toml", "Cargo.lock", "build.rs"] {
        consider(&root.join(name), &mut newest);
    }
    for dir in ["src", "proto"] {
        walk(&root.join(dir), &mut newest);
    }
    match newest {
        Some((when, file)) if when > built => Err(format!(
            "the program binary {} is older than its source {}: run `cargo build --release` in {}, then run `pulumi up` again",
            program.display(),
            file.strip_prefix(root).unwrap_or(&file).display(),
            root.display()
        )),
        _ => Ok(()),
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

fn consider(path: &Path, newest: &mut Option<(SystemTime, PathBuf)>) {
    if let Some(t) = modified(path) {
        if newest.as_ref().is_none_or(|(n, _)| t > *n) {
            *newest = Some((t, path.to_path_buf()));
        }
    }
}

fn walk(dir: &Path, newest: &mut Option<(SystemTime, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, newest);
        } else {
            consider(&path, newest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{self, File};
    use std::time::Duration;

    fn touch(path: &Path, at: SystemTime) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, b"x").unwrap();
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(at)
            .unwrap();
    }

    #[test]
    fn stale_and_missing_binaries_name_the_build_command() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let t0 = SystemTime::now() - Duration::from_secs(3600);
        touch(&root.join("Cargo.toml"), t0);
        touch(&root.join("src/main.rs"), t0);
        let host = root.join("target/release/pulumi-language-rust");
        touch(&host, t0);
        let lookup = Lookup {
            program_dir: root.clone(),
            root_dir: root.clone(),
            host_exe: Some(host),
            ..Default::default()
        };

        let err = locate(&lookup).unwrap_err();
        assert!(
            err.contains("does not exist") && err.contains("`cargo build --release`"),
            "{err}"
        );

        let program = root.join("target/release").join(PROGRAM_NAME);
        touch(&program, t0 + Duration::from_secs(60));
        assert_eq!(locate(&lookup).unwrap(), program);

        touch(
            &root.join("src/clouds/aws.rs"),
            t0 + Duration::from_secs(120),
        );
        let err = locate(&lookup).unwrap_err();
        assert!(
            err.contains("older than its source src/clouds/aws.rs"),
            "{err}"
        );
        assert!(err.contains("`cargo build --release`"), "{err}");
    }

    #[test]
    fn override_and_option_resolve_against_the_project() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        touch(&root.join("bin/prog"), SystemTime::now());
        let mut lookup = Lookup {
            option_binary: Some("./bin/prog".into()),
            program_dir: root.clone(),
            root_dir: root.clone(),
            ..Default::default()
        };
        assert_eq!(locate(&lookup).unwrap(), root.join("./bin/prog"));
        lookup.env_override = Some("/nonexistent/prog".into());
        let err = locate(&lookup).unwrap_err();
        assert!(
            err.contains(PROGRAM_ENV) && err.contains("/nonexistent/prog"),
            "{err}"
        );
    }
}
