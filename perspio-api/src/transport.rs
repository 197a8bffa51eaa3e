//! How a call leaves the client: through the default stack's layers called directly (one
//! future per call), or through a `reqwest_middleware` stack.
//!
//! The default stack (retry → auth → body limit, no rate limiter) is the same code as its
//! middlewares, run as plain generic calls ([`perspio_core::layer`]): no boxed future per
//! layer, no `Next`, no `Extensions` map and no [`OperationId`] extension per call, since no
//! middleware of someone else's is there to read them. A stack with a rate limiter, and a stack
//! given to [`Client::from_middleware`](crate::Client::from_middleware), run as middlewares:
//! a rate-limited call waits for its slot (20 per 90 s), so what the boxes cost does not show.

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;

use perspio_auth::AuthMiddleware;
use perspio_core::layer::{Downstream, Signals};
use perspio_policy::RetryMiddleware;
use reqwest::{Request, Response};
use reqwest_middleware::ClientWithMiddleware;

use crate::body::{DEFAULT_MAX_BODY_SIZE, read_whole, was_read};
use crate::hooks::OperationId;

/// What a [`Client`](crate::Client) sends its requests through (progenitor's inner value,
/// [`Client::inner`](crate::Client::inner)).
///
/// It dereferences to the client's middleware stack, so `client.inner().get(url).send()`
/// sends a request of your own through the same middlewares (authentication included). Made
/// from a stack with `Transport::from(stack)`.
#[derive(Clone)]
pub struct Transport {
    stack: ClientWithMiddleware,
    fused: Option<Arc<Fused>>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("stack", &self.stack)
            .field("fused", &self.fused.is_some())
            .finish()
    }
}

impl From<ClientWithMiddleware> for Transport {
    /// Every call through `stack`, as middlewares.
    fn from(stack: ClientWithMiddleware) -> Self {
        Transport { stack, fused: None }
    }
}

impl Deref for Transport {
    type Target = ClientWithMiddleware;

    fn deref(&self) -> &ClientWithMiddleware {
        &self.stack
    }
}

impl Transport {
    /// The default stack: operations run its layers directly; `stack` (the same layers as
    /// middlewares, sharing their state) serves [`Deref`].
    pub(crate) fn fused(
        stack: ClientWithMiddleware,
        http: reqwest::Client,
        retry: RetryMiddleware,
        auth: AuthMiddleware,
        max_body_size: u64,
    ) -> Self {
        Transport {
            stack,
            fused: Some(Arc::new(Fused {
                http,
                retry,
                auth,
                max_body_size,
            })),
        }
    }

    /// The middleware stack (also what `*transport` gives).
    pub fn middleware(&self) -> &ClientWithMiddleware {
        &self.stack
    }

    /// Whether operations run the default stack's layers directly rather than as middlewares.
    pub fn is_fused(&self) -> bool {
        self.fused.is_some()
    }

    /// Sends the request of operation `operation_id` and reads its body, bounded.
    pub(crate) async fn execute(
        &self,
        request: Request,
        operation_id: &'static str,
    ) -> reqwest_middleware::Result<Response> {
        if let Some(fused) = &self.fused {
            return fused.execute(request).await;
        }
        let mut extensions = http::Extensions::new();
        extensions.insert(OperationId(operation_id));
        match self
            .stack
            .execute_with_extensions(request, &mut extensions)
            .await
        {
            // A stack built without the body limit still reads bounded.
            Ok(response) if !was_read(&response) => {
                read_whole(response, DEFAULT_MAX_BODY_SIZE).await
            }
            other => other,
        }
    }
}

/// The default stack's layers: retry, then auth, then reqwest and the bounded body read.
#[derive(Debug)]
struct Fused {
    http: reqwest::Client,
    retry: RetryMiddleware,
    auth: AuthMiddleware,
    max_body_size: u64,
}

impl Fused {
    async fn execute(&self, request: Request) -> reqwest_middleware::Result<Response> {
        self.retry
            .run_around(request, false, &mut AuthThenHttp(self))
            .await
    }
}

/// Below the retry loop: authentication, then [`Http`].
struct AuthThenHttp<'f>(&'f Fused);

impl Downstream for AuthThenHttp<'_> {
    fn send<'a>(
        &'a mut self,
        request: Request,
        signals: &'a mut Signals,
    ) -> impl Future<Output = reqwest_middleware::Result<Response>> + Send + 'a {
        let fused = self.0;
        async move {
            fused
                .auth
                .authenticate(request, signals, &mut Http(fused))
                .await
        }
    }
}

/// The request sent, and its body read whole within the limit (what
/// [`BodyLimitMiddleware`](crate::BodyLimitMiddleware) does in a middleware stack).
struct Http<'f>(&'f Fused);

impl Downstream for Http<'_> {
    fn send<'a>(
        &'a mut self,
        request: Request,
        _signals: &'a mut Signals,
    ) -> impl Future<Output = reqwest_middleware::Result<Response>> + Send + 'a {
        let fused = self.0;
        async move {
            let response = fused.http.execute(request).await?;
            read_whole(response, fused.max_body_size).await
        }
    }
}
