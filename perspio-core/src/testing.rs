//! Stand-ins for the network, for tests and benchmarks that count what the layers themselves
//! cost (feature `testing`): a terminal layer that answers `200 []` without I/O, in both
//! forms (a `reqwest_middleware` middleware and a [`Downstream`]), and a layer that offers
//! its request copy as the retry layer does.

use std::future::Future;
use std::hint::black_box;

use async_trait::async_trait;
use bytes::Bytes;
use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::layer::{Downstream, Signals};
use crate::replay::ReplayOffered;

/// A `200` response with `body`, as a server's answer would reach a layer.
pub fn response(body: &'static [u8]) -> Response {
    Response::from(http::Response::new(Bytes::from_static(body)))
}

/// Answers every request with `200 []` and never touches the network (it looks at the
/// headers, so the work of the layers above is not optimised away).
#[derive(Debug, Clone, Copy, Default)]
pub struct Canned;

#[async_trait]
impl Middleware for Canned {
    async fn handle(
        &self,
        request: Request,
        _extensions: &mut Extensions,
        _next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        black_box(request.headers().len());
        Ok(response(b"[]"))
    }
}

impl Downstream for Canned {
    type Reply = Response;
    /// It answers at once: no wait of its own to end by a deadline. So a retry loop over it
    /// runs as over the default stack's innermost layer (no timer, no boxed attempt), which is
    /// what the allocation guards and the benchmark measure.
    const BOUNDS_WAITS: bool = true;

    fn send<'a>(
        &'a mut self,
        request: Request,
        _signals: &'a mut Signals,
    ) -> impl Future<Output = reqwest_middleware::Result<Response>> + Send + 'a {
        black_box(request.headers().len());
        std::future::ready(Ok(response(b"[]")))
    }
}

/// Stands for the retry layer above authentication in a middleware stack: it offers its
/// request copy ([`ReplayOffered`]), so the layer below keeps none of its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct OffersReplay;

#[async_trait]
impl Middleware for OffersReplay {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        extensions.insert(ReplayOffered);
        next.run(request, extensions).await
    }
}
