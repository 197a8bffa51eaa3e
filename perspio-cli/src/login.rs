//! `perspio auth login | status | logout`: a user's interactive login (authorization code
//! with PKCE and `state`, received on a loopback listener or pasted), where each secret is
//! kept, and removing them.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use perspio_auth::{AuthorizationCodeSource, AuthorizationRequest, InMemoryRefreshTokenStore};
use perspio_config::{Flow, Key, ProfileRefreshToken, Resolved, SecretName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use crate::config::{GlobalArgs, config_error};
use crate::exit::{CliError, Exit, auth_error_in, cause_chain, typed_error};

/// How long `auth login` waits for the browser (or a paste) before giving up.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);
/// The most of a browser's request read by the loopback listener.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// Options of `perspio auth`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AuthArgs {
    #[command(subcommand)]
    command: AuthCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
enum AuthCommand {
    /// Log in as a user (authorization code with PKCE) and keep the refresh token in the
    /// profile's secret store; the login is checked with one get-current-user call.
    Login(LoginArgs),
    /// Show, per profile, its flow and where each secret is kept, and check the selected
    /// profile's token with one call.
    Status,
    /// Remove the stored secrets of the profile (client secret, subscription key, refresh
    /// token), or of every profile with --all.
    Logout(LogoutArgs),
}

#[derive(Debug, Clone, clap::Args)]
struct LoginArgs {
    /// Do not open a browser: print the login URL and read the address the browser lands on
    /// (http://localhost:PORT/?code=…) from stdin. The loopback listener still answers.
    #[arg(long)]
    no_browser: bool,
    /// The loopback port to receive the login on (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

#[derive(Debug, Clone, clap::Args)]
struct LogoutArgs {
    /// Remove the secrets of every profile (and the secret files, and the keyring entry).
    #[arg(long)]
    all: bool,
}

/// Runs `perspio auth …`.
pub(crate) async fn run(globals: &GlobalArgs, args: &AuthArgs) -> Result<(), CliError> {
    match &args.command {
        AuthCommand::Login(login_args) => login(globals, login_args).await,
        AuthCommand::Status => status(globals).await,
        AuthCommand::Logout(logout_args) => logout(globals, logout_args),
    }
}

/// One line on stderr.
fn say(line: &str) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "perspio: {}",
        perspio_core::text::message(line)
    );
}

/// Where the profile's secrets are, at `-v`; and a fallback (no keyring) as a warning.
pub(crate) fn announce_store(resolved: &Resolved) {
    let location = resolved.store().location();
    if let Some(notice) = location.notice() {
        tracing::warn!(secret_store = %resolved.secret_mode(), "{notice}");
    } else {
        tracing::info!(secret_store = %resolved.secret_mode(), location = %location, "secret store");
    }
}

async fn login(globals: &GlobalArgs, args: &LoginArgs) -> Result<(), CliError> {
    let sandbox = if globals.sandbox {
        Some(
            perspio_sandbox::Sandbox::start()
                .await
                .map_err(|e| CliError::new(Exit::Other, cause_chain(&e)))?,
        )
    } else {
        None
    };
    let settings = match &sandbox {
        Some(sandbox) => globals.resolve(|name| sandbox.setting(name), None)?,
        None => globals.resolve_env()?,
    };
    let profile = settings.resolved.profile().map(str::to_owned);
    if profile.is_none() && sandbox.is_none() {
        return Err(CliError::new(
            Exit::Usage,
            "auth login keeps the login in a profile, and none is named (--profile, \
             PERSPIO_PROFILE, default_profile); fix: perspio profile add <NAME> --client-id \
             <CLIENT_ID> --tenant-id <TENANT_ID> --flow authorization_code \
             --client-secret-stdin --subscription-key-stdin --default",
        ));
    }
    let store = Arc::clone(settings.resolved.store());
    let explicit_scope = match settings.resolved.origin(Key::Scope) {
        perspio_config::Origin::Default | perspio_config::Origin::Unset => None,
        _ => settings.resolved.get(Key::Scope).map(str::to_owned),
    };
    let profile_flow = settings.resolved.flow();

    // 1. The listener, then the authorize URL that points the browser back at it.
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| {
            CliError::new(
                Exit::Other,
                format!(
                    "cannot listen on 127.0.0.1:{} for the login: {e}",
                    args.port
                ),
            )
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| {
            CliError::new(
                Exit::Other,
                format!("the login listener has no address: {e}"),
            )
        })?
        .port();
    let redirect = Url::parse(&format!("http://localhost:{port}/"))
        .map_err(|e| CliError::new(Exit::Other, format!("no redirect url: {e}")))?;
    let mut request = AuthorizationRequest::new(
        settings.auth_config(),
        settings.credentials().client_id(),
        redirect,
    );
    if let Some(scope) = &explicit_scope {
        request = request.with_scope(scope);
    }
    let url = request.url();
    let read_stdin = if args.no_browser {
        say(&format!(
            "open this URL in a browser and log in; then paste here the address the browser \
             lands on (http://localhost:{port}/?code=…), or let it reach this machine:"
        ));
        let _ = writeln!(std::io::stderr().lock(), "{url}");
        true
    } else {
        match open::that_detached(url.as_str()) {
            Ok(()) => {
                say(&format!(
                    "the login page is open in your browser; waiting on http://localhost:{port}/ \
                     (if no browser opened, run again with --no-browser)"
                ));
                false
            }
            Err(e) => {
                say(&format!(
                    "no browser could be opened ({e}); open this URL, log in, then paste the \
                     address the browser lands on here:"
                ));
                let _ = writeln!(std::io::stderr().lock(), "{url}");
                true
            }
        }
    };

    // 2. The answer: from the browser on the listener, or pasted.
    let (answer, browser) = wait_for_answer(listener, read_stdin).await?;
    let code = request.code_from_redirect(&answer);
    if let Some(browser) = browser {
        answer_browser(browser, code.is_ok()).await;
    }
    let not_stored = |mut error: CliError| {
        error.message.push_str("; nothing was stored");
        error
    };
    let code = code.map_err(|e| not_stored(auth_error_in(&e, profile.as_deref())))?;

    // 3. The code for tokens, as the confidential client.
    let login = request
        .exchange(code, settings.credentials(), settings.auth_config())
        .await
        .map_err(|e| not_stored(auth_error_in(&e, profile.as_deref())))?;

    // 4. One call with the new token: the login works before anything is saved.
    let (token, refresh_token) = login.into_parts();
    let held = Arc::new(InMemoryRefreshTokenStore::new(refresh_token));
    let source =
        AuthorizationCodeSource::new(settings.credentials(), held.clone(), settings.auth_config())
            .map_err(|e| auth_error_in(&e, profile.as_deref()))?
            .with_first_token(token);
    let connection = settings.connect_with(Some(Arc::new(source)))?;
    let user = connection
        .client
        .get_current_user()
        .call()
        .await
        .map_err(|e| not_stored(typed_error(&e)))?
        .into_inner();
    let who = match (&user.display_name, &user.mail) {
        (Some(name), Some(mail)) => format!("{name} <{mail}>"),
        (Some(name), None) => name.clone(),
        (None, Some(mail)) => mail.clone(),
        (None, None) => "the user".to_owned(),
    };
    let who = perspio_core::text::remote(&who);

    // 5. Keep the refresh token (the newest one, should the check have refreshed).
    let Some(refresh_token) = held.get().await else {
        return Err(CliError::new(
            Exit::Other,
            "the login lost its refresh token",
        ));
    };
    let (Some(profile), None) = (profile, &sandbox) else {
        say(&format!(
            "logged in to the sandbox as {who}; nothing was saved: the sandbox's tokens end \
             with this process"
        ));
        return Ok(());
    };
    ProfileRefreshToken::new(Arc::clone(&store), &profile)
        .save(&refresh_token)
        .map_err(|e| config_error(&e))?;
    if profile_flow != Flow::AuthorizationCode {
        set_flow(&profile)?;
    }
    let location = store.location();
    say(&format!(
        "logged in as {who} (profile {profile}); the refresh token is kept in: {location}"
    ));
    if let Some(notice) = location.notice() {
        say(&format!("note: {notice}"));
    }
    Ok(())
}

/// Makes the profile a user login (`flow = "authorization_code"`).
fn set_flow(profile: &str) -> Result<(), CliError> {
    let dir = crate::profiles::config_dir()?;
    let mut file = perspio_config::ConfigFile::load(&dir).map_err(|e| config_error(&e))?;
    file.set(Some(profile), Key::Flow, Flow::AuthorizationCode.as_str())
        .map_err(|e| config_error(&e))?;
    file.save().map_err(|e| config_error(&e))?;
    say(&format!(
        "profile {profile} now uses flow = \"authorization_code\""
    ));
    Ok(())
}

/// The first login answer: a request to the listener that carries `code`, `error` or
/// `state` (other requests, such as `/favicon.ico`, get a 404), or a line on stdin.
async fn wait_for_answer(
    listener: TcpListener,
    read_stdin: bool,
) -> Result<(String, Option<TcpStream>), CliError> {
    let from_browser = async {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            match tokio::time::timeout(Duration::from_secs(10), read_target(&mut stream)).await {
                Ok(Some(target)) if is_answer(&target) => return (target, Some(stream)),
                _ => {
                    let _ = stream
                        .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                }
            }
        }
    };
    let from_stdin = async {
        if !read_stdin {
            return std::future::pending().await;
        }
        let line = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        })
        .await;
        match line {
            Ok(Ok(line)) if !line.trim().is_empty() => line,
            // No terminal or an empty paste: the listener may still get the answer.
            _ => std::future::pending().await,
        }
    };
    tokio::select! {
        (target, stream) = from_browser => Ok((target, stream)),
        line = from_stdin => Ok((line.trim().to_owned(), None)),
        () = tokio::time::sleep(LOGIN_TIMEOUT) => Err(CliError::new(
            Exit::Auth,
            format!(
                "no login answer within {}; nothing was stored",
                perspio_core::retry_after::describe(LOGIN_TIMEOUT)
            ),
        )),
    }
}

/// Whether a request target is a login answer.
fn is_answer(target: &str) -> bool {
    let Some((_, query)) = target.split_once('?') else {
        return false;
    };
    url::form_urlencoded::parse(query.as_bytes())
        .any(|(key, _)| matches!(key.as_ref(), "code" | "error" | "state"))
}

/// The target of a `GET` request (`/?code=…&state=…`), read up to [`MAX_REQUEST_HEAD`].
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_HEAD {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut parts = head.lines().next()?.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) => Some(target.to_owned()),
        _ => None,
    }
}

/// Tells the browser what happened; the terminal says the rest.
async fn answer_browser(mut browser: TcpStream, ok: bool) {
    let body = if ok {
        "perspio received the login. You can close this tab and return to the terminal."
    } else {
        "perspio could not use this login answer; the terminal says why. Nothing was stored."
    };
    let page = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = browser.write_all(page.as_bytes()).await;
    let _ = browser.shutdown().await;
}

/// `perspio auth status`.
async fn status(globals: &GlobalArgs) -> Result<(), CliError> {
    let resolved = globals
        .resolver(
            |name| std::env::var(name).ok(),
            perspio_config::config_dir(),
        )
        .resolve()
        .map_err(|e| config_error(&e))?;
    let store = resolved.store();
    let location = store.location();
    let stored = store.load();
    let selected = resolved.profile().map(str::to_owned);
    let mut profiles = Vec::new();
    let names = resolved
        .file()
        .map(perspio_config::ConfigFile::profiles)
        .unwrap_or_default();
    for name in &names {
        let file = resolved.file();
        let flow = file
            .and_then(|f| f.get(name, Key::Flow))
            .unwrap_or_else(|| Flow::default().as_str().to_owned());
        let mut secrets = serde_json::Map::new();
        for secret in SecretName::ALL {
            let kept = match &stored {
                Ok(stored) if stored.get(name, secret).is_some() => location.kind().to_owned(),
                Ok(_) => "not stored".to_owned(),
                Err(_) => "unreadable".to_owned(),
            };
            let shown = match (
                selected.as_deref() == Some(name.as_str()),
                resolved.secret_origin(secret),
            ) {
                (true, perspio_config::Origin::Flag(flag)) => {
                    format!("{kept}; {flag} overrides it")
                }
                (true, perspio_config::Origin::Env(variable)) => {
                    format!("{kept}; {variable} overrides it")
                }
                _ => kept,
            };
            secrets.insert(secret.name().to_owned(), Value::String(shown));
        }
        let mut entry = json!({
            "profile": name,
            "default": file.and_then(perspio_config::ConfigFile::default_profile).as_deref() == Some(name.as_str()),
            "selected": selected.as_deref() == Some(name.as_str()),
            "flow": flow,
            "secrets": secrets,
        });
        if selected.as_deref() == Some(name.as_str()) {
            entry["token"] = check_token(globals).await;
        }
        profiles.push(entry);
    }
    let mut report = json!({
        "secret_store": {
            "mode": resolved.secret_mode().as_str(),
            "kind": location.kind(),
            "location": location.to_string(),
        },
        "profiles": profiles,
    });
    if let Some(file) = resolved.file() {
        report["config"] = Value::String(file.path().display().to_string());
    }
    if let Err(e) = &stored {
        report["secret_store"]["error"] = Value::String(cause_chain(e));
    }
    if let Some(notice) = location.notice() {
        report["secret_store"]["notice"] = Value::String(notice.clone());
        say(&format!("note: {notice}"));
    }
    crate::printer(globals)?.print(&report)
}

/// One token acquisition for the selected profile: its expiry, or why there is none.
async fn check_token(globals: &GlobalArgs) -> Value {
    let connection = match globals
        .resolve_env()
        .and_then(crate::config::Settings::connect)
    {
        Ok(connection) => connection,
        Err(error) => return json!({ "error": error.to_string() }),
    };
    match connection.auth.token_info().await {
        Ok(info) => {
            let expires_in = info
                .expires_at()
                .duration_since(SystemTime::now())
                .map(|d| d.as_secs())
                .unwrap_or(0);
            json!({
                "expires_at": chrono::DateTime::<chrono::Utc>::from(info.expires_at())
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "expires_in": expires_in,
            })
        }
        Err(error) => json!({
            "error": auth_error_in(&error, connection.profile.as_deref()).to_string()
        }),
    }
}

/// `perspio auth logout [--all]`.
fn logout(globals: &GlobalArgs, args: &LogoutArgs) -> Result<(), CliError> {
    let resolved = globals
        .resolver(
            |name| std::env::var(name).ok(),
            perspio_config::config_dir(),
        )
        .resolve()
        .map_err(|e| config_error(&e))?;
    let store = resolved.store();
    let before = store.location();
    let mut removed: Vec<(String, Vec<SecretName>)> = Vec::new();
    let profile = resolved.profile().map(str::to_owned);
    if !args.all && profile.is_none() {
        return Err(CliError::new(
            Exit::Usage,
            "name the profile to log out of with --profile (or PERSPIO_PROFILE, default_profile), or pass --all",
        ));
    }
    store
        .update(&mut |secrets| {
            let profiles = match (&profile, args.all) {
                (_, true) => secrets.profiles(),
                (Some(profile), false) => vec![profile.clone()],
                (None, false) => Vec::new(),
            };
            for name in profiles {
                let names = secrets.remove_profile(&name);
                removed.push((name, names));
            }
        })
        .map_err(|e| config_error(&e))?;
    let count: usize = removed.iter().map(|(_, names)| names.len()).sum();
    match (args.all, profile) {
        (true, _) => say(&format!(
            "removed {count} secret(s) of every profile from {before}"
        )),
        (false, Some(profile)) => say(&format!(
            "removed {count} secret(s) of profile {profile} from {before}"
        )),
        (false, None) => {}
    }
    Ok(())
}
