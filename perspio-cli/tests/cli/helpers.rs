//! Running the binary and asserting on what it printed.

use std::process::Command;

/// The sandbox's demo secrets (sandbox-only values; the tests check they never appear).
pub(crate) const SANDBOX_SECRET: &str = "sandbox~secret.valid-only-against-the-local-sandbox";
pub(crate) const SANDBOX_SUBSCRIPTION_KEY: &str = "5a4db0c5sandbox0subscription0key";
/// Every token the sandbox issues starts with this.
pub(crate) const SANDBOX_TOKEN_PREFIX: &str = "sbx_";

/// Exit codes, as documented in `src/exit.rs`.
pub(crate) const EXIT_USAGE: i32 = 2;
pub(crate) const EXIT_AUTH: i32 = 3;
pub(crate) const EXIT_API: i32 = 4;
pub(crate) const EXIT_NETWORK: i32 = 5;

/// What one run of `perspio` produced.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// stdout parsed as JSON.
    #[track_caller]
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    #[track_caller]
    pub(crate) fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code: {self:#?}");
        self
    }

    /// None of `secrets` appears in stdout or stderr.
    #[track_caller]
    pub(crate) fn assert_nothing_of(&self, secrets: &[&str]) -> &Self {
        for secret in secrets {
            assert!(
                !self.stdout.contains(secret) && !self.stderr.contains(secret),
                "`{secret}` was printed: {self:#?}"
            );
        }
        self
    }

    /// The error is one line, the last on stderr; any line before it is a retry notice.
    #[track_caller]
    pub(crate) fn assert_one_line_error(&self) -> &Self {
        let lines: Vec<&str> = self.stderr.lines().collect();
        let errors = lines
            .iter()
            .filter(|l| l.starts_with("perspio: error: "))
            .count();
        assert_eq!(errors, 1, "{self:#?}");
        assert!(
            lines
                .last()
                .is_some_and(|l| l.starts_with("perspio: error: ")),
            "{self:#?}"
        );
        for notice in &lines[..lines.len() - 1] {
            assert!(
                notice.starts_with("perspio: ") && notice.contains(" attempt ")
                    || notice.contains(" request "),
                "{self:#?}"
            );
        }
        self
    }

    /// The retry notices printed before the error.
    pub(crate) fn notices(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("perspio: ") && !l.starts_with("perspio: error: "))
            .collect()
    }
}

/// A `perspio` command with only `PATH` and `env` set, a configuration directory of its own
/// (an empty temporary one unless `env` names `PERSPIO_CONFIG_DIR`) and a D-Bus session
/// address where nothing listens: no test reads or writes the user's configuration or
/// keyring.
pub(crate) fn command(args: &[&str], env: &[(&str, &str)]) -> (Command, Option<tempfile::TempDir>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_perspio"));
    command.env_clear().args(args);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    let own_dir = if env.iter().any(|(k, _)| *k == "PERSPIO_CONFIG_DIR") {
        None
    } else {
        let dir = tempfile::tempdir().expect("a temporary directory");
        command.env("PERSPIO_CONFIG_DIR", dir.path());
        Some(dir)
    };
    command.env(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/perspio-test-bus",
    );
    if !cfg!(target_os = "linux") && !env.iter().any(|(k, _)| *k == "PERSPIO_SECRET_STORE") {
        // Elsewhere the platform keyring needs no bus: keep tests away from it.
        command.env("PERSPIO_SECRET_STORE", "file");
    }
    command.envs(env.iter().copied());
    (command, own_dir)
}

/// Runs `perspio args…` with only `PATH` and `env` set (see [`command`]).
pub(crate) fn perspio(args: &[&str], env: &[(&str, &str)]) -> Run {
    let (mut command, _dir) = command(args, env);
    let output = command.output().expect("perspio runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `perspio args…` pointed at `sandbox` through its `PERSPIO_*` variables (the way a
/// user points any tool at `perspio sandbox`), with `env` on top.
pub(crate) fn perspio_at(
    sandbox: &perspio_sandbox::Sandbox,
    args: &[&str],
    env: &[(&str, &str)],
) -> Run {
    let variables = sandbox.env();
    let mut all: Vec<(&str, &str)> = variables.iter().map(|(n, v)| (*n, v.as_str())).collect();
    all.extend_from_slice(env);
    perspio(args, &all)
}

/// As [`perspio`] (the same isolation), writing `stdin` to its standard input.
pub(crate) fn perspio_with_stdin(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Run {
    use std::io::Write as _;
    use std::process::Stdio;

    let (mut command, _dir) = command(args, env);
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("perspio runs");
    child
        .stdin
        .take()
        .expect("a piped stdin")
        .write_all(stdin)
        .expect("stdin written");
    let output = child.wait_with_output().expect("perspio ends");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Nothing reached the sandbox: no token request, no API request, no 404.
#[track_caller]
pub(crate) fn assert_no_request(sandbox: &perspio_sandbox::Sandbox) {
    let seen = sandbox.counters();
    assert_eq!(
        (seen.token_requests, seen.api_requests, seen.not_found),
        (0, 0, 0),
        "{seen:#?}"
    );
}
