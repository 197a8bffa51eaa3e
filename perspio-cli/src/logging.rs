//! `-v`/`-vv`/`-vvv`: what the client is doing, on stderr.
//!
//! Only this workspace's crates log (`perspio_auth`, `perspio_api`, and this binary, `perspio`): the HTTP
//! libraries below them are not enabled, so no header can be printed. perspio-auth records a
//! token acquisition in an `acquire_token` span (reason `initial`/`proactive`/`expired`/
//! `invalidated-401`, outcome, duration, Entra trace ids); its close is printed, so a fetched
//! or refreshed token shows as one line. perspio-auth never logs a secret or a token.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Installs the stderr logger for `verbosity` (the number of `-v`); 0 logs nothing.
pub(crate) fn init(verbosity: u8) {
    let level = match verbosity {
        0 => return,
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::new(format!(
        "perspio_auth={level},perspio_policy={level},perspio_api={level},perspio={level}"
    ));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_span_events(FmtSpan::CLOSE)
        .compact()
        .try_init();
}
