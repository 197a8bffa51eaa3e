//! Layers called directly, without a boxed future per layer: how the default stack of
//! `perspio-api` runs the retry, authentication and body-limit layers as one future.
//!
//! A `reqwest_middleware` stack boxes one future per middleware per request and passes what
//! the layers say to each other ([`crate::replay`]) through the request's `Extensions`, a map
//! allocated per call. The same layers also run as plain generic code: each takes the rest of
//! the stack as a [`Downstream`], and the replay protocol travels in [`Signals`], a struct on
//! the caller's stack. The middlewares (`RetryMiddleware`, `AuthMiddleware`) are this code with
//! a `Next` as their downstream, so both forms have one implementation.

use std::future::Future;

use reqwest::{Request, Response};

/// What a layer tells the layer below about one request, and hears back: the
/// [`crate::replay`] protocol without the `Extensions` map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Signals {
    /// The caller keeps a copy of this request and sends it again on
    /// [`replay_wanted`](Self::replay_wanted) ([`ReplayOffered`](crate::replay::ReplayOffered)).
    pub replay_offered: bool,
    /// This request is that replay: answer it as it is
    /// ([`Replaying`](crate::replay::Replaying)).
    pub replaying: bool,
    /// Set by the layer below on the way back: send the copy once more
    /// ([`ReplayWanted`](crate::replay::ReplayWanted)).
    pub replay_wanted: bool,
}

/// The rest of a stack below a layer: one request in, one answer out.
///
/// Implemented by the layers' adapters of `reqwest_middleware::Next` and by the default
/// stack's own inner layers (perspio-api); a layer calls [`send`](Self::send) once per request
/// it sends (a retry or a replay is one more call).
pub trait Downstream: Send {
    /// Sends `request` through the rest of the stack.
    fn send<'a>(
        &'a mut self,
        request: Request,
        signals: &'a mut Signals,
    ) -> impl Future<Output = reqwest_middleware::Result<Response>> + Send + 'a;
}
