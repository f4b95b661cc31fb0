//! The `--list` sink: one JSON object per resource on stdout (NDJSON), for `jq` and dry runs. Only
//! type, id, name, scope, cloud type and parent: never a resource's contents (a Secret's data is not
//! even fetched).

use std::io::{BufWriter, Stdout, Write};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::json;

use super::{Named, Outcome, Sink};
use crate::discover::ProviderSpec;
use crate::summary::Summary;

pub struct ListSink<W: Write + Send = Stdout> {
    out: Mutex<BufWriter<W>>,
}

impl ListSink<Stdout> {
    pub fn stdout() -> Self {
        Self::new(std::io::stdout())
    }
}

impl<W: Write + Send> ListSink<W> {
    pub fn new(w: W) -> Self {
        ListSink {
            out: Mutex::new(BufWriter::new(w)),
        }
    }
}

#[async_trait]
impl<W: Write + Send> Sink for ListSink<W> {
    async fn start(&mut self, _provider: &ProviderSpec) -> anyhow::Result<()> {
        Ok(())
    }

    async fn accept(&self, r: &Named, parent: Option<&str>) -> Outcome {
        let d = &r.resource;
        let mut line = json!({
            "type": d.token,
            "id": d.id,
            "name": r.name,
            "scope": d.scope,
            "cloudType": d.cloud_type,
        });
        if let Some(p) = parent {
            line["parent"] = json!(p);
        }
        let mut out = self.out.lock().expect("list sink lock");
        let res = serde_json::to_writer(&mut *out, &line)
            .map_err(std::io::Error::from)
            .and_then(|_| out.write_all(b"\n"));
        match res {
            Ok(()) => Outcome::Read {
                handle: r.name.clone(),
            },
            Err(e) => Outcome::Failed {
                reason: format!("writing to stdout: {e}"),
            },
        }
    }

    async fn finish(&self, _summary: &Summary) -> anyhow::Result<()> {
        self.out.lock().expect("list sink lock").flush()?;
        Ok(())
    }
}
