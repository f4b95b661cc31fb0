//! Kubernetes scanner (placeholder until the real one lands).

use futures::stream::BoxStream;

use crate::discover::{ProviderSpec, ScanEvent, Scanner};
use crate::settings::{InputError, Settings};

pub struct KubernetesScanner;

impl KubernetesScanner {
    pub async fn new(_settings: &Settings) -> Result<Self, InputError> {
        Err(InputError::new("kubernetes scanner not ready"))
    }
}

impl Scanner for KubernetesScanner {
    fn provider(&self) -> ProviderSpec {
        unimplemented!()
    }
    fn discover(self: Box<Self>) -> BoxStream<'static, ScanEvent> {
        unimplemented!()
    }
}
