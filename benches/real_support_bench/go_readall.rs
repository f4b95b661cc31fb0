//! The original program's stand-in, `go-readall` (a Go Pulumi program in the shared peers
//! directory, ../shared/peers/go-readall beside the clone): built once into the real-peer cache and
//! run under our language host, whose `binary` runtime option runs any program binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use crate::real_support::ROOT;

/// The built binary, or why the go-readall rows are skipped.
pub fn build() -> Result<PathBuf, String> {
    let src = Path::new(ROOT).join("../shared/peers/go-readall");
    if !src.join("go.mod").is_file() {
        return Err(format!("{} is absent", src.display()));
    }
    // The same cache as tests/real/build.sh, so `cargo clean` never costs a Go rebuild.
    let cache = std::env::var_os("PCI_REAL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/pulumi-cloud-import/real")
        });
    let bin = cache.join("go-readall/go-readall");
    let built = modified(&bin);
    let newest_source = std::fs::read_dir(&src)
        .map_err(|e| format!("read {}: {e}", src.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "go")
                || p.file_name()
                    .is_some_and(|n| n == "go.mod" || n == "go.sum")
        })
        .filter_map(|p| modified(&p))
        .max();
    if built.is_some() && built >= newest_source {
        return Ok(bin);
    }
    eprintln!("building {}", bin.display());
    let out = Command::new("go")
        .args(["build", "-trimpath", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&src)
        // As tests/real/build.sh builds its peers: no VCS stamping (the directory is no clone) and
        // the installed toolchain, never a downloaded one.
        .env("GOFLAGS", "-buildvcs=false")
        .env("GOTOOLCHAIN", "local")
        .output()
        .map_err(|e| format!("run go build: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "go build failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(bin)
}

fn modified(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// The project file that runs `binary` under our language host (found in `./target/release`, as in
/// this repository's own `Pulumi.yaml`). The project name is the Go program's config namespace.
pub fn project_yaml(binary: &Path) -> String {
    format!(
        "name: go-readall\n\
         runtime:\n  name: rust\n  options:\n    binary: {}\n\
         plugins:\n  languages:\n    - name: rust\n      path: ./target/release\n",
        binary.display()
    )
}

/// The objects file go-readall reads (`type<TAB>id<TAB>name` lines), from our `--list` NDJSON.
pub fn objects_file(list_ndjson: &str) -> String {
    let mut out = String::new();
    for line in list_ndjson.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("--list prints NDJSON");
        let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        out.push_str(&format!(
            "{}\t{}\t{}\n",
            field("type"),
            field("id"),
            field("name")
        ));
    }
    out
}
