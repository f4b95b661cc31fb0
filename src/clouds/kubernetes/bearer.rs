//! The client layer that signs every request with a managed cluster's current token (see
//! `cluster_auth`), in place of the kubeconfig's exec plugin. kube keeps its own token refresh
//! private, so this is the small piece we add: a tower async filter that awaits the
//! [`TokenSource`] (which makes a new token shortly before the old one expires) and sets
//! `Authorization`. kube's stack is a boxed service, which cannot be cloned, so a buffer goes under
//! the filter.

use std::sync::Arc;

use futures::future::BoxFuture;
use http::header::{HeaderValue, AUTHORIZATION};
use kube::client::Body;
use tower::buffer::BufferLayer;
use tower::filter::{AsyncFilterLayer, AsyncPredicate};
use tower::layer::util::{Identity, Stack};
use tower::{BoxError, ServiceBuilder};

use super::cluster_auth::TokenSource;

/// Requests waiting for the buffered service at once; the scan keeps far fewer in flight.
const BUFFER: usize = 256;

/// Sets the current token on a request (the filter's predicate).
#[derive(Clone)]
pub struct Sign(Arc<TokenSource>);

impl AsyncPredicate<http::Request<Body>> for Sign {
    type Future = BoxFuture<'static, Result<http::Request<Body>, BoxError>>;
    type Request = http::Request<Body>;

    fn check(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let source = self.0.clone();
        Box::pin(async move {
            let token = source.get().await.map_err(BoxError::from)?;
            let mut value = HeaderValue::from_str(&format!("Bearer {}", token.value))?;
            value.set_sensitive(true);
            request.headers_mut().insert(AUTHORIZATION, value);
            Ok(request)
        })
    }
}

/// The buffer under the signing filter.
type Layers = Stack<BufferLayer<http::Request<Body>>, Stack<AsyncFilterLayer<Sign>, Identity>>;

/// The layer for `kube::client::ClientBuilder::with_layer`.
pub fn layer(source: Arc<TokenSource>) -> ServiceBuilder<Layers> {
    ServiceBuilder::new()
        .layer(AsyncFilterLayer::new(Sign(source)))
        .layer(BufferLayer::new(BUFFER))
}
