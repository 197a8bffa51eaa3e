//! `perspio auth login` end to end against a sandbox started in the test, the test playing
//! the browser (it follows the authorize URL with an HTTP client and hands the redirect to
//! the CLI, pasted or through the loopback listener), then the real `perspio` binary in
//! further processes: get-current-user, the rotated refresh token saved and used by a second
//! process, two processes refreshing at once, status, logout. No keyring service exists here
//! (the D-Bus address points nowhere), so `auto` falls back to the encrypted file, visibly.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;

use perspio_config::secrets::{KEY_FILE, NoKeyring, SEALED_FILE};
use perspio_config::{SecretMode, SecretName, open_store};
use perspio_sandbox::{CLIENT_ID, Sandbox, TENANT_ID, USER_PRINCIPAL_NAME};
use secrecy::ExposeSecret as _;

use crate::helpers::*;

/// A sandbox and a configuration directory with the login profile `sbx` (the default).
struct Setup {
    sandbox: Sandbox,
    dir: tempfile::TempDir,
}

impl Setup {
    async fn start() -> Setup {
        let sandbox = Sandbox::builder()
            .with_rate_limit(1_000)
            .start()
            .await
            .unwrap();
        let setup = Setup {
            sandbox,
            dir: tempfile::tempdir().unwrap(),
        };
        let run = setup.run_with_stdin(
            &[
                "profile",
                "add",
                "sbx",
                "--base-url",
                &setup.sandbox.base_url(),
                "--token-url",
                &setup.sandbox.token_url(),
                "--tenant-id",
                TENANT_ID,
                "--client-id",
                CLIENT_ID,
                "--flow",
                "authorization_code",
                "--client-secret-stdin",
                "--subscription-key-stdin",
                "--default",
            ],
            &format!("{SANDBOX_SECRET}\n{SANDBOX_SUBSCRIPTION_KEY}\n"),
        );
        run.assert_code(0);
        assert!(run.stderr.contains("no usable OS keyring"), "{run:#?}");
        setup.assert_config_has_no_secret();
        setup
    }

    fn env(&self) -> Vec<(&str, String)> {
        vec![("PERSPIO_CONFIG_DIR", self.dir.path().display().to_string())]
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    fn run_env(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let env = self.env();
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(extra);
        let run = perspio(args, &all);
        self.assert_config_has_no_secret();
        run
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let child = self.spawn(args);
        let run = finish(child, Some(stdin));
        self.assert_config_has_no_secret();
        run
    }

    fn spawn(&self, args: &[&str]) -> Child {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (mut command, _) = command(args, &env);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The profile's stored refresh token, read as an SDK program would.
    fn stored_refresh_token(&self) -> Option<String> {
        let store = open_store(
            Some(self.dir.path()),
            SecretMode::Auto,
            Arc::new(NoKeyring::new("tests use no keyring")),
        );
        store
            .get("sbx", SecretName::RefreshToken)
            .unwrap()
            .map(|t| t.expose_secret().to_owned())
    }

    /// config.toml holds none of the secrets, and never did (checked after every write).
    #[track_caller]
    fn assert_config_has_no_secret(&self) {
        let text = std::fs::read_to_string(self.dir.path().join("config.toml")).unwrap_or_default();
        let stored = self
            .stored_refresh_token()
            .unwrap_or_else(|| "sbxrt_".into());
        for secret in [
            SANDBOX_SECRET,
            SANDBOX_SUBSCRIPTION_KEY,
            stored.as_str(),
            "sbxrt_",
        ] {
            assert!(
                !text.contains(secret),
                "config.toml holds a secret:\n{text}"
            );
        }
    }
}

/// Writes `stdin` (if any), waits, collects.
fn finish(mut child: Child, stdin: Option<&str>) -> Run {
    if let Some(stdin) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(stdin.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A login in progress: the child, its stderr so far, the authorize URL it printed.
struct PendingLogin {
    child: Child,
    stderr: Vec<String>,
    /// The rest of stderr, read in the background.
    rest: std::thread::JoinHandle<Vec<String>>,
    url: String,
}

/// Starts `perspio auth login --no-browser …` and reads stderr up to the authorize URL.
fn start_login(setup: Option<&Setup>, args: &[&str]) -> PendingLogin {
    let mut child = match setup {
        Some(setup) => setup.spawn(args),
        None => {
            let (mut command, dir) = command(args, &[]);
            std::mem::forget(dir);
            command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        }
    };
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut stderr = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "no URL: {stderr:#?}"
        );
        let line = line.trim_end().to_owned();
        stderr.push(line.clone());
        if line.starts_with("http://127.0.0.1:") && line.contains("/oauth2/v2.0/authorize?") {
            // Keep reading stderr after the URL, in the background.
            let rest = std::thread::spawn(move || {
                reader
                    .lines()
                    .map_while(Result::ok)
                    .collect::<Vec<String>>()
            });
            return PendingLogin {
                child,
                stderr,
                rest,
                url: line,
            };
        }
    }
}

impl PendingLogin {
    /// Pastes `answer` and waits for the end.
    fn paste(self, answer: &str) -> Run {
        self.finish(Some(&format!("{answer}\n")))
    }

    fn finish(self, stdin: Option<&str>) -> Run {
        let mut run = finish(self.child, stdin);
        let mut lines = self.stderr;
        lines.extend(self.rest.join().unwrap());
        run.stderr = lines.join("\n");
        run
    }
}

/// The browser: opens `url` and returns where the authorize endpoint redirects it.
async fn browse(url: &str) -> String {
    perspio_core::tls::install_crypto_provider();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(url).send().await.unwrap();
    assert_eq!(answer.status(), 302, "{:?}", answer.text().await);
    answer.headers()["location"].to_str().unwrap().to_owned()
}

#[track_caller]
fn assert_file_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
    let _ = path;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_then_calls_rotate_the_refresh_token_a_second_process_uses_it_and_logout_removes_every_secret()
 {
    // Arrange
    let setup = Setup::start().await;

    // Act 1: log in, pasting the redirect.
    let login = start_login(
        Some(&setup),
        &["auth", "login", "--profile", "sbx", "--no-browser"],
    );
    let redirected = browse(&login.url).await;
    assert!(redirected.starts_with("http://localhost:"), "{redirected}");
    let run = login.paste(&redirected);

    // Assert 1: verified with one call, saved, the fallback said.
    run.assert_code(0).assert_nothing_of(&[
        SANDBOX_SECRET,
        SANDBOX_SUBSCRIPTION_KEY,
        "sbxrt_",
        "sbxcode_",
    ]);
    assert!(
        run.stderr.contains(
            "logged in as Sandbox API User <api.user@sandbox.perspio.example> (profile sbx)"
        ),
        "{run:#?}"
    );
    assert!(run.stderr.contains("no usable OS keyring"), "{run:#?}");
    let first = setup.stored_refresh_token().expect("the login is saved");
    assert!(setup.sandbox.refresh_token_is_valid(&first));
    assert_eq!(setup.sandbox.counters().operation("get_current_user"), 1);
    assert_file_private(&setup.dir.path().join(SEALED_FILE));
    assert_file_private(&setup.dir.path().join(KEY_FILE));
    setup.assert_config_has_no_secret();

    // Act 2: a new process refreshes (no access token is kept) and calls.
    let run = setup.run(&["get-current-user", "--profile", "sbx"]);

    // Assert 2: the rotated token is saved; the old one is spent.
    run.assert_code(0);
    assert!(run.stdout.contains(USER_PRINCIPAL_NAME), "{run:#?}");
    let second = setup.stored_refresh_token().unwrap();
    assert_ne!(second, first);
    assert!(!setup.sandbox.refresh_token_is_valid(&first));
    assert!(setup.sandbox.refresh_token_is_valid(&second));

    // Act 3: a second process (the default profile) uses the rotated token. The sandbox
    // refuses a spent one, so success proves it read the saved rotation.
    let run = setup.run(&["get-current-user"]);
    run.assert_code(0);
    let third = setup.stored_refresh_token().unwrap();
    assert_ne!(third, second);
    assert!(setup.sandbox.refresh_token_is_valid(&third));

    // Act 4: two processes refreshing at once both succeed and keep the login.
    let a = setup.spawn(&["token"]);
    let b = setup.spawn(&["token"]);
    let (a, b) = (finish(a, None), finish(b, None));
    a.assert_code(0);
    b.assert_code(0);
    let fourth = setup.stored_refresh_token().unwrap();
    assert!(
        setup.sandbox.refresh_token_is_valid(&fourth),
        "the login survived"
    );
    assert_eq!(setup.sandbox.counters().refreshes, 4);

    // Act 5: status says where each secret is, and checks the token with one call.
    let run = setup.run(&["auth", "status"]);
    run.assert_code(0);
    let status = run.json();
    assert_eq!(
        status["secret_store"]["kind"], "encrypted file",
        "{status:#}"
    );
    assert!(status["secret_store"]["notice"].is_string(), "{status:#}");
    let profile = &status["profiles"][0];
    assert_eq!(profile["flow"], "authorization_code");
    for secret in ["client_secret", "subscription_key", "refresh_token"] {
        assert_eq!(profile["secrets"][secret], "encrypted file", "{status:#}");
    }
    assert!(
        profile["token"]["expires_in"].as_u64().unwrap() > 0,
        "{status:#}"
    );
    assert!(run.stderr.contains("no usable OS keyring"), "{run:#?}");

    // Act 6: logout removes every secret (the files go with the last one).
    let run = setup.run(&["auth", "logout", "--profile", "sbx"]);
    run.assert_code(0);
    assert!(
        run.stderr.contains("removed 3 secret(s) of profile sbx"),
        "{run:#?}"
    );
    assert_eq!(setup.stored_refresh_token(), None);
    assert!(!setup.dir.path().join(SEALED_FILE).exists());
    assert!(!setup.dir.path().join(KEY_FILE).exists());
    setup.assert_config_has_no_secret();

    // Assert 6: with the app's secrets from variables, the missing login is exit 3 and says
    // how to log in again.
    let run = setup.run_env(
        &["get-current-user"],
        &[
            ("PERSPIO_CLIENT_SECRET", SANDBOX_SECRET),
            ("PERSPIO_SUBSCRIPTION_KEY", SANDBOX_SUBSCRIPTION_KEY),
        ],
    );
    run.assert_code(EXIT_AUTH).assert_one_line_error();
    assert!(
        run.stderr
            .contains("run `perspio auth login --profile sbx`"),
        "{run:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_can_come_back_through_the_loopback_listener() {
    let setup = Setup::start().await;
    let login = start_login(
        Some(&setup),
        &["auth", "login", "--no-browser", "--port", "0"],
    );
    let redirected = browse(&login.url).await;

    // The browser follows the redirect to the listener on 127.0.0.1.
    perspio_core::tls::install_crypto_provider();
    let page = reqwest::get(&redirected).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("You can close this tab")
    );
    let run = login.finish(None);

    run.assert_code(0);
    assert!(setup.stored_refresh_token().is_some(), "{run:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_refresh_token_exits_3_and_says_how_to_log_in_again() {
    let setup = Setup::start().await;
    let login = start_login(Some(&setup), &["auth", "login", "--no-browser"]);
    let redirected = browse(&login.url).await;
    login.paste(&redirected).assert_code(0);
    setup.sandbox.faults().expire_refresh_tokens();

    let run = setup.run(&["list-assets"]);

    run.assert_code(EXIT_AUTH)
        .assert_one_line_error()
        .assert_nothing_of(&["sbxrt_"]);
    assert!(run.stderr.contains("AADSTS700082"), "{run:#?}");
    assert!(
        run.stderr
            .trim_end()
            .ends_with("run `perspio auth login --profile sbx`"),
        "{run:#?}"
    );
}

/// A login that must fail: nothing is stored, the exit code is 3.
#[track_caller]
fn assert_failed_login_stored_nothing(setup: &Setup, run: &Run, says: &str) {
    run.assert_code(EXIT_AUTH);
    assert!(run.stderr.contains(says), "{run:#?}");
    assert!(run.stderr.contains("nothing was stored"), "{run:#?}");
    assert_eq!(setup.stored_refresh_token(), None);
    assert_eq!(setup.sandbox.counters().logins, 0);
    setup.assert_config_has_no_secret();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_state_is_refused_and_nothing_is_stored() {
    let setup = Setup::start().await;
    let login = start_login(Some(&setup), &["auth", "login", "--no-browser"]);
    let redirected = browse(&login.url).await;
    let forged = url::Url::parse(&redirected).unwrap();
    let code: String = forged
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();

    let run = login.paste(&format!(
        "http://localhost:1/?code={code}&state=someone-elses-login"
    ));

    assert_failed_login_stored_nothing(&setup, &run, "does not belong to this login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_consent_is_refused_and_nothing_is_stored() {
    let setup = Setup::start().await;
    setup.sandbox.faults().deny_consent_next(1);
    let login = start_login(Some(&setup), &["auth", "login", "--no-browser"]);
    let redirected = browse(&login.url).await;

    let run = login.paste(&redirected);

    assert_failed_login_stored_nothing(&setup, &run, "access_denied");
    assert!(run.stderr.contains("AADSTS65004"), "{run:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_bound_to_another_pkce_challenge_is_refused_and_nothing_is_stored() {
    // The "browser" swaps the code_challenge: the CLI's verifier then does not match it.
    let setup = Setup::start().await;
    let login = start_login(Some(&setup), &["auth", "login", "--no-browser"]);
    let mut url = url::Url::parse(&login.url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "code_challenge" {
                (k, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let redirected = browse(url.as_str()).await;

    let run = login.paste(&redirected);

    assert_failed_login_stored_nothing(&setup, &run, "AADSTS501481");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_login_works_end_to_end_with_no_account() {
    let login = start_login(None, &["--sandbox", "auth", "login", "--no-browser"]);
    let redirected = browse(&login.url).await;

    let run = login.paste(&redirected);

    run.assert_code(0);
    assert!(
        run.stderr.contains(
            "logged in to the sandbox as Sandbox API User <api.user@sandbox.perspio.example>"
        ),
        "{run:#?}"
    );
    assert!(run.stderr.contains("nothing was saved"), "{run:#?}");
}
