//! [`SandboxError`]: why a sandbox could not start.

use std::net::SocketAddr;

/// Why [`SandboxBuilder::start`](crate::SandboxBuilder::start) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The listening socket could not be bound (the port is taken, or not allowed).
    #[error("the sandbox cannot listen on {address}")]
    Bind {
        /// The loopback address and port asked for.
        address: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The spec embedded in `perspio-api` ([`perspio_api::NORMALIZED_SPEC`]) is not readable
    /// JSON: a build of `perspio-api` that is broken, never a user error.
    #[error("the sandbox cannot read the embedded spec")]
    Spec(#[source] serde_json::Error),
}
