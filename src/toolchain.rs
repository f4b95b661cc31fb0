//! (Tests only.) The Rust toolchain the project says it needs, held against what it really needs.
//!
//! `rust-version` in `Cargo.toml` is what a user's older toolchain is checked against, and the
//! Dockerfile's `rust:<version>` image is what `docker build` compiles with. Both go stale when a
//! dependency raises its own minimum: the build then fails deep inside a dependency with an obscure
//! message. The lock file decides which dependency versions are built, so the highest
//! `rust-version` among them is the real minimum.

#[cfg(test)]
mod tests {
    use std::process::Command;

    /// `1.94.1` -> [1, 94, 1]; a missing patch is 0.
    fn parse(v: &str) -> Vec<u64> {
        let mut parts: Vec<u64> = v
            .split('.')
            .map(|p| p.parse().unwrap_or_else(|_| panic!("version {v:?}")))
            .collect();
        parts.resize(3, 0);
        parts
    }

    fn manifest_rust_version() -> String {
        include_str!("../Cargo.toml")
            .lines()
            .find_map(|l| l.strip_prefix("rust-version = "))
            .map(|v| v.trim_matches('"').to_string())
            .expect("Cargo.toml declares rust-version")
    }

    fn dockerfile_rust_tag() -> String {
        include_str!("../Dockerfile")
            .lines()
            .find_map(|l| l.strip_prefix("FROM rust:"))
            .and_then(|rest| rest.split('-').next())
            .map(str::to_string)
            .expect("the Dockerfile builds FROM rust:<version>-...")
    }

    /// The highest `rust_version` among the locked packages built on this host.
    fn locked_minimum() -> (String, String) {
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let info = Command::new(rustc).arg("-vV").output().expect("rustc -vV");
        let host = String::from_utf8_lossy(&info.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
            .expect("rustc -vV names the host");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--locked", "--offline"])
            .args(["--filter-platform", &host])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo metadata");
        assert!(
            out.status.success(),
            "cargo metadata: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] != env!("CARGO_PKG_NAME"))
            .filter_map(|p| {
                let v = p["rust_version"].as_str()?;
                Some((v.to_string(), format!("{} {}", p["name"], p["version"])))
            })
            .max_by_key(|(v, _)| parse(v))
            .expect("some dependency declares rust-version")
    }

    #[test]
    fn rust_version_dockerfile_and_lock_file_agree() {
        let ours = manifest_rust_version();
        let (needed, by) = locked_minimum();
        assert!(
            parse(&ours) >= parse(&needed),
            "Cargo.toml says rust-version {ours}, but the locked {by} needs {needed}: raise rust-version (and the Dockerfile's rust image, and the README)"
        );
        assert_eq!(
            dockerfile_rust_tag(),
            ours,
            "the Dockerfile's rust image must be the toolchain Cargo.toml's rust-version names"
        );
        assert!(
            include_str!("../README.md").contains(&format!("Rust {ours}")),
            "the README names the Rust version needed (Rust {ours})"
        );
    }
}
