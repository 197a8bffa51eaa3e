//! Typed Rust client for **PerspioTalk**, the REST API of the Perspio IoT and asset-tracking
//! platform (`https://talk.perspio.io`).
//!
//! The client is generated at build time by [progenitor](https://github.com/oxidecomputer/progenitor)
//! (through `perspio-codegen`) from the normalised spec this package carries
//! (`spec/perspio-talk.normalized.json`, [`NORMALIZED_SPEC`]; `cargo xtask regen` derives it
//! from the workspace's `openapi/perspio-talk.yaml`), and every call goes through the stack:
//! retries and the optional rate limit (`perspio-policy`), then
//! [`perspio_auth::AuthMiddleware`], which gets and caches OAuth2 tokens, adds the Perspio
//! headers, and refreshes and retries once on `401`, then the bounded body read.
//!
//! The stack's layers are [`reqwest_middleware`] middlewares, and a client can be given any
//! middleware stack ([`Client::from_middleware`]). The default stack without a rate limiter
//! runs the same layers' code as one future, called directly rather than through
//! `reqwest_middleware` ([`Transport`]): no boxed future, `Next` or extension map per layer and
//! call (BENCHMARKS.md, issue 16). Its requests are the same, and so are its errors and its
//! `401` and retry behaviour; what differs is that the [`OperationId`] extension is not set
//! there, since no middleware of yours is in it to read it.
//!
//! ```no_run
//! use perspio_api::{Client, types};
//!
//! # async fn run() -> Result<(), perspio_api::Error> {
//! // PERSPIO_CLIENT_ID, PERSPIO_CLIENT_SECRET, PERSPIO_TENANT_ID, PERSPIO_SUBSCRIPTION_KEY
//! let client = Client::from_env()?;
//!
//! match client.list_assets().call().await?.into_inner() {
//!     types::AssetList::Array(assets) => {
//!         for asset in &assets {
//!             // Asset fields are not published: every field is kept in an open map.
//!             println!("{:?}", asset.get("id"));
//!         }
//!     }
//!     // Any other JSON object is kept whole.
//!     types::AssetList::OpenObject(other) => println!("{other:?}"),
//! }
//! # Ok(()) }
//! ```
//!
//! # Operations
//! One method per operation of the spec, with the builder interface
//! (`client.list_assets().call()`): see [`Client`]. Each builder has two ways to send:
//! - `call()` returns [`Error`], which names the operation and keeps every cause typed
//!   (the authentication error via [`Error::auth_error`], status, body and `Retry-After` of an
//!   error answer);
//! - `send()` is progenitor's own and returns [`progenitor_client::Error`]; a middleware
//!   failure then arrives as `Error::Custom` with the operation and the cause chain as text.
//!
//! # Endpoints the spec does not have
//! [`Client::request`] sends a request to any path of the API through the same middleware
//! stack (token, Perspio headers, `401` refresh, retries, rate limit, body limit) and returns
//! a [`RawResponse`] (status, headers, body as bytes, text or JSON) or the same [`Error`]. A
//! path that would leave the configured origin is refused before anything is sent
//! ([`Error::PathRefused`], [`PathRefusal`]).
//!
//! ```no_run
//! # async fn run(client: perspio_api::Client) -> Result<(), perspio_api::Error> {
//! let answer = client
//!     .request(perspio_api::Method::GET, "/assets/v3/IN-000123")
//!     .query("expand", "devices")
//!     .send()
//!     .await?;
//! let asset: serde_json::Value = answer.json()?;
//! # let _ = asset; Ok(()) }
//! ```
//!
//! # Types
//! The request and response types are in [`types`]. Each derives `serde`'s traits, `Clone`,
//! `Debug`, `PartialEq` and `schemars::JsonSchema` (schemars 0.8, the version progenitor
//! uses), so `schemars::schema_for!(perspio_api::types::AssetList)` gives the JSON Schema of
//! an answer. A request body type also has a builder (`types::Body::builder()`, what an
//! operation's `body_map(|b| …)` hands you); the types a client only receives have none (their
//! fields are public: build one as a struct literal, or decode it with `serde_json`), since
//! their builders cost the compiler time on large specs and nothing called them.
//!
//! The list types (`AssetList`, `SiteList`, `LocationLabelList`: an array of items, or any
//! other JSON object kept whole) are untagged enums whose `Deserialize` looks at the first
//! token and decodes that variant directly, instead of serde's untagged derive, which buffers
//! the value and tries each variant: the same value for every input (property-tested against
//! the derive), in 0.69 of the time for a three-asset answer (BENCHMARKS.md).
//!
//! The generated [`Client`]'s inner value (`Client::inner()`, of progenitor's `ClientInfo`
//! trait; the third argument of `Client::new_with_client`) is a [`Transport`], which
//! dereferences to the client's middleware stack: `client.inner().get(url).send()` still
//! sends through the middlewares; a stack of your own becomes one with
//! `Transport::from(stack)`.
//!
//! # What the spec covers
//! Only the four operations that Perspio's public documentation and sample code show:
//! `list_assets`, `list_sites`, `list_location_labels`, `get_current_user`. Response bodies are
//! not published, so response objects are open: fields with evidence are typed, everything
//! else stays reachable in a `serde_json::Map`.
//!
//! # Headers
//! progenitor adds an `api-version` header to every request; PerspioTalk defines none and
//! Azure API Management may route on one, so the code generator leaves it out (and fails the
//! build on a progenitor whose append it does not recognise). A header parameter of a spec
//! named `api-version` is sent as the caller gives it.
//!
//! # Bounds
//! Every response body is read whole before it is decoded, at most 64 MiB by default
//! ([`ClientBuilder::with_max_body_size`], [`BodyLimitMiddleware`]); an answer over the limit
//! is [`Error::BodyTooLarge`]. Server text in messages is neutralised and bounded, URLs are
//! redacted. Every bound of the stack, with its default: the workspace README, "Bounds".
//!
//! # Limitations
//! - A decoded body takes several times its size in memory (open JSON maps): a body at the
//!   64 MiB limit can cost about a gigabyte. The body is decoded after it is read, not while
//!   (the generated code decodes from one buffer).
//! - Error bodies are not specified by PerspioTalk; they are handed over as JSON
//!   ([`ApiErrorResponse::body`]): `null` for an empty body, a JSON string for a body that is
//!   not JSON.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The progenitor output. Nobody edits it: change the spec and run `cargo xtask regen`.
#[allow(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    unused_imports,
    unreachable_patterns,
    unused_qualifications,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    rustdoc::all
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/perspio_talk.rs"));
}

mod body;
mod client;
mod decode;
mod error;
mod hooks;
mod request;
mod spec;
#[cfg(test)]
mod test_json;
mod transport;

pub use body::{BodyLimitMiddleware, DEFAULT_MAX_BODY_SIZE};
pub use client::{
    ClientBuilder, ClientParts, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT,
    ENV_BASE_URL, ENV_FLEET_SIZE, ENV_MEMCACHED_URL, ENV_REDIS_URL,
};
pub use error::{ApiErrorResponse, Error, capture_failure, cause_chain, error_message};
pub use generated::{Client, builder, types};
pub use hooks::OperationId;
pub use http::Method;
pub use perspio_auth as auth;
pub use perspio_policy as policy;
pub use progenitor_client::{self, ResponseValue};
pub use request::{PathRefusal, REQUEST_OPERATION, RawResponse, RequestBuilder};
pub use spec::NORMALIZED_SPEC;
pub use transport::Transport;

/// The README's example, compiled by `cargo test` as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
