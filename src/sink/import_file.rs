//! The `--import` sink: an import file in the format `pulumi import --file` reads
//! (pulumi-protocol.md §6). The explicit provider is the first entry; every resource names it, and
//! its parent, by *name* (never by URN). Entries stream to a temporary file next to the target, which
//! is renamed into place only at the end, so a crash never leaves a half-written file and memory does
//! not grow with the number of resources.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context as _;
use async_trait::async_trait;
use serde_json::{json, Value};
use tempfile::NamedTempFile;

use super::{Named, Outcome, Sink};
use crate::discover::ProviderSpec;
use crate::summary::Summary;

pub struct ImportFileSink {
    out: PathBuf,
    state: Mutex<Option<Open>>,
}

struct Open {
    writer: BufWriter<NamedTempFile>,
    provider_name: String,
    version: String,
}

impl ImportFileSink {
    pub fn new(out: impl Into<PathBuf>) -> Self {
        ImportFileSink {
            out: out.into(),
            state: Mutex::new(None),
        }
    }

    fn write_entry(open: &mut Open, entry: &Value, first: bool) -> std::io::Result<()> {
        if !first {
            open.writer.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut open.writer, entry)?;
        Ok(())
    }
}

fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[async_trait]
impl Sink for ImportFileSink {
    async fn start(&mut self, provider: &ProviderSpec) -> anyhow::Result<()> {
        let dir = dir_of(&self.out);
        let tmp = NamedTempFile::new_in(dir).with_context(|| {
            format!(
                "--out {}: cannot create a file in {}",
                self.out.display(),
                dir.display()
            )
        })?;
        let mut open = Open {
            writer: BufWriter::new(tmp),
            provider_name: provider.name.clone(),
            version: provider.version.clone(),
        };
        open.writer.write_all(b"{\"resources\": [\n")?;
        let entry = json!({
            "type": provider.token(),
            "name": provider.name,
            "version": provider.version,
            "inputs": provider.inputs,
        });
        Self::write_entry(&mut open, &entry, true)?;
        *self.state.lock().expect("import sink lock") = Some(open);
        Ok(())
    }

    async fn accept(&self, r: &Named, parent: Option<&str>) -> Outcome {
        let mut guard = self.state.lock().expect("import sink lock");
        let open = guard
            .as_mut()
            .expect("ImportFileSink::start opens the file first");
        // The provider entry's name is referenced by every entry, so nothing else may use it.
        let name = if r.name == open.provider_name {
            format!("{}-resource", r.name)
        } else {
            r.name.clone()
        };
        let mut entry = json!({
            "type": r.resource.token,
            "name": name,
            "id": r.resource.id,
            "provider": open.provider_name,
            "version": open.version,
        });
        if let Some(parent) = parent {
            entry["parent"] = Value::String(parent.to_string());
        }
        match Self::write_entry(open, &entry, false) {
            Ok(()) => Outcome::Read { handle: name },
            Err(e) => Outcome::Failed {
                reason: format!("writing the import file: {e}"),
            },
        }
    }

    async fn finish(&self, _summary: &Summary) -> anyhow::Result<()> {
        let open = self
            .state
            .lock()
            .expect("import sink lock")
            .take()
            .context("import file was not started")?;
        let mut writer = open.writer;
        writer.write_all(b"\n]}\n")?;
        let tmp = writer.into_inner().map_err(|e| e.into_error())?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.out).with_context(|| {
            format!("--out {}: cannot write the import file", self.out.display())
        })?;
        Ok(())
    }
}
