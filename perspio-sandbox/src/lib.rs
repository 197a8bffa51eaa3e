#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod counters;
mod error;
mod faults;
mod responders;
mod sandbox;
mod state;

pub use counters::Counters;
pub use error::SandboxError;
pub use faults::Faults;
pub use sandbox::{
    CLIENT_ID, CLIENT_SECRET, DEFAULT_RATE_LIMIT, DEFAULT_TOKEN_LIFETIME, DIRECTORY_TENANT,
    RATE_WINDOW, SUBSCRIPTION_KEY, Sandbox, SandboxBuilder, TENANT_ID, USER_DISPLAY_NAME, USER_ID,
    USER_PRINCIPAL_NAME,
};
