//! `perspio token`: acquire a token and show its metadata; the token itself only on request.

use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use crate::config::Connection;
use crate::exit::{CliError, auth_error_in};
use crate::output::Printer;

/// Options of `perspio token`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TokenArgs {
    /// Also print the access token itself. Anyone holding it can call the API as your
    /// application until it expires.
    #[arg(long)]
    pub(crate) show_token: bool,
}

/// Acquires a token through the same authentication middleware the API calls use.
///
/// # Errors
/// The token could not be obtained ([`crate::exit::Exit::Auth`] or `Network`).
pub(crate) async fn run(
    connection: &Connection,
    args: &TokenArgs,
    printer: &Printer,
) -> Result<(), CliError> {
    let info = connection
        .auth
        .token_info()
        .await
        .map_err(|e| auth_error_in(&e, connection.profile.as_deref()))?;
    let expires_in = info
        .expires_at()
        .duration_since(SystemTime::now())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut metadata = json!({
        "issued_at": rfc3339(info.issued_at()),
        "refresh_at": rfc3339(info.refresh_at()),
        "expires_at": rfc3339(info.expires_at()),
        "expires_in": expires_in,
        "scope": info.scope(),
    });
    if args.show_token {
        metadata["access_token"] = info.access_token().expose_secret().into();
    }
    printer.print(&metadata)
}

fn rfc3339(time: SystemTime) -> String {
    DateTime::<Utc>::from(time).to_rfc3339_opts(SecondsFormat::Secs, true)
}
