//! `perspio profile` and `perspio config`: config.toml edited in place (comments kept, never
//! a secret, checked after every command that writes it), the precedence through the CLI,
//! and the secret store's visible fallback where no keyring service exists.

use perspio_sandbox::{CLIENT_ID, Sandbox, TENANT_ID};

use crate::helpers::*;

struct Config {
    dir: tempfile::TempDir,
}

impl Config {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn dir(&self) -> String {
        self.dir.path().display().to_string()
    }

    fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let dir = self.dir();
        let mut env = vec![("PERSPIO_CONFIG_DIR", dir.as_str())];
        env.extend_from_slice(extra);
        let run = perspio(args, &env);
        self.assert_no_secret();
        run
    }

    fn run_stdin(&self, args: &[&str], stdin: &str, extra: &[(&str, &str)]) -> Run {
        let dir = self.dir();
        let mut env = vec![("PERSPIO_CONFIG_DIR", dir.as_str())];
        env.extend_from_slice(extra);
        let run = perspio_with_stdin(args, &env, stdin.as_bytes());
        self.assert_no_secret();
        run
    }

    fn text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("config.toml")).unwrap_or_default()
    }

    #[track_caller]
    fn assert_no_secret(&self) {
        let text = self.text();
        for secret in [
            SANDBOX_SECRET,
            SANDBOX_SUBSCRIPTION_KEY,
            "hunter2",
            "sbxrt_",
        ] {
            assert!(
                !text.contains(secret),
                "config.toml holds a secret:\n{text}"
            );
        }
    }

    /// A client-credentials profile `sbx` for `sandbox`, secrets on stdin.
    fn add_sandbox_profile(&self, sandbox: &Sandbox, extra: &[(&str, &str)]) -> Run {
        self.run_stdin(
            &[
                "profile",
                "add",
                "sbx",
                "--base-url",
                &sandbox.base_url(),
                "--token-url",
                &sandbox.token_url(),
                "--tenant-id",
                TENANT_ID,
                "--client-id",
                CLIENT_ID,
                "--client-secret-stdin",
                "--subscription-key-stdin",
                "--default",
            ],
            &format!("{SANDBOX_SECRET}\n{SANDBOX_SUBSCRIPTION_KEY}\n"),
            extra,
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_with_secrets_on_stdin_works_and_the_fallback_is_shown_with_v() {
    // Arrange
    let sandbox = Sandbox::start().await.unwrap();
    let config = Config::new();
    let added = config.add_sandbox_profile(&sandbox, &[]);
    added.assert_code(0);
    assert!(
        added
            .stderr
            .contains("client_secret and subscription_key kept in: encrypted file"),
        "{added:#?}"
    );

    // Act
    let run = config.run(&["-v", "list-sites"], &[]);

    // Assert: the call works from the profile alone; -v says where the secrets are.
    run.assert_code(0)
        .assert_nothing_of(&[SANDBOX_SECRET, SANDBOX_SUBSCRIPTION_KEY]);
    assert!(run.stdout.contains("SBX-SITE-000001"), "{run:#?}");
    assert!(run.stderr.contains("no usable OS keyring"), "{run:#?}");
    let quiet = config.run(&["list-sites"], &[]);
    assert!(quiet.stderr.is_empty(), "{quiet:#?}");
    let list = config.run(&["profile", "list"], &[]);
    list.assert_code(0);
    assert_eq!(list.json()[0]["secrets"], "client_secret, subscription_key");
    assert_eq!(list.json()[0]["default"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verbose_run_of_a_login_profile_says_the_keyring_fell_back() {
    let sandbox = Sandbox::start().await.unwrap();
    let config = Config::new();
    config.add_sandbox_profile(&sandbox, &[]).assert_code(0);
    config
        .run(&["config", "set", "flow", "authorization_code"], &[])
        .assert_code(0);

    let run = config.run(&["-v", "token"], &[]);

    run.assert_code(EXIT_AUTH);
    assert!(run.stderr.contains("no usable OS keyring"), "{run:#?}");
    assert!(
        run.stderr
            .contains("run `perspio auth login --profile sbx`"),
        "{run:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_beats_a_variable_which_beats_the_profile() {
    let sandbox = Sandbox::start().await.unwrap();
    let config = Config::new();
    config.add_sandbox_profile(&sandbox, &[]).assert_code(0);
    config
        .run(
            &["config", "set", "scope", "api://from-profile/.default"],
            &[],
        )
        .assert_code(0);

    let origin_of = |run: &Run, key: &str| -> (String, String) {
        let rows = run.json();
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .unwrap()
            .clone();
        (
            row["value"].as_str().unwrap_or_default().to_owned(),
            row["origin"].as_str().unwrap().to_owned(),
        )
    };
    let env = [("PERSPIO_SCOPE", "api://from-env/.default")];

    let profile = config.run(&["config", "list", "--show-origin"], &[]);
    let variable = config.run(&["config", "list", "--show-origin"], &env);
    let flag = config.run(
        &[
            "config",
            "list",
            "--show-origin",
            "--scope",
            "api://from-flag/.default",
        ],
        &env,
    );

    let (value, origin) = origin_of(&profile, "scope");
    assert_eq!(value, "api://from-profile/.default");
    assert!(
        origin.starts_with("profile sbx (default_profile) in "),
        "{origin}"
    );
    assert_eq!(
        origin_of(&variable, "scope"),
        ("api://from-env/.default".into(), "PERSPIO_SCOPE".into())
    );
    assert_eq!(
        origin_of(&flag, "scope"),
        ("api://from-flag/.default".into(), "--scope".into())
    );
    let (_, secret_origin) = origin_of(&profile, "client_secret");
    assert!(
        secret_origin.starts_with("secret store of profile sbx: encrypted file"),
        "{secret_origin}"
    );
    assert!(!profile.stdout.contains(SANDBOX_SECRET));
    let (value, origin) = origin_of(&profile, "base_url");
    assert_eq!(value, sandbox.base_url());
    assert!(origin.contains("profile sbx"), "{origin}");
}

#[test]
fn config_set_keeps_comments_and_refuses_secrets_and_passwords() {
    let config = Config::new();
    std::fs::write(
        config.dir.path().join("config.toml"),
        "# my settings\ndefault_profile = \"acme\"  # the usual one\n\n[profile.acme]\n# prod\ntenant_id = \"in-acme\"\n",
    )
    .unwrap();

    config
        .run(
            &["config", "set", "base_url", "https://dev-talk.perspio.io"],
            &[],
        )
        .assert_code(0);
    let secret = config.run(&["config", "set", "client_secret", "hunter2"], &[]);
    let password = config.run(
        &[
            "config",
            "set",
            "redis_url",
            "rediss://:hunter2@cache.example:6380/0",
        ],
        &[],
    );
    let get = config.run(&["config", "get", "base_url"], &[]);

    let text = config.text();
    assert!(
        text.starts_with("# my settings\ndefault_profile = \"acme\"  # the usual one\n"),
        "{text}"
    );
    assert!(text.contains("# prod\ntenant_id = \"in-acme\"\n"), "{text}");
    assert!(
        text.contains("base_url = \"https://dev-talk.perspio.io\""),
        "{text}"
    );
    secret
        .assert_code(EXIT_USAGE)
        .assert_nothing_of(&["hunter2"]);
    assert!(
        secret
            .stderr
            .contains("perspio profile add acme --client-secret-stdin"),
        "{secret:#?}"
    );
    password
        .assert_code(EXIT_USAGE)
        .assert_nothing_of(&["hunter2"]);
    assert!(
        password.stderr.contains("PERSPIO_REDIS_URL"),
        "{password:#?}"
    );
    get.assert_code(0);
    assert_eq!(get.stdout, "https://dev-talk.perspio.io\n");
}

#[test]
fn a_profile_named_nowhere_is_an_error_naming_what_named_it() {
    let config = Config::new();
    config
        .run(&["profile", "add", "home", "--tenant-id", "in-home"], &[])
        .assert_code(0);

    let run = config.run(&["list-sites", "--profile", "hoem"], &[]);

    run.assert_code(EXIT_USAGE).assert_one_line_error();
    assert!(
        run.stderr
            .contains("no profile `hoem` (named by --profile)"),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains("fix: perspio profile add hoem"),
        "{run:#?}"
    );
}

#[test]
fn a_missing_setting_of_a_profile_names_the_places_and_the_fix() {
    let config = Config::new();
    config
        .run(
            &[
                "profile",
                "add",
                "acme",
                "--tenant-id",
                "in-acme",
                "--default",
            ],
            &[],
        )
        .assert_code(0);

    let run = config.run(&["list-sites"], &[]);

    run.assert_code(EXIT_USAGE).assert_one_line_error();
    assert!(
        run.stderr.contains("missing setting client_id: looked at --client-id, PERSPIO_CLIENT_ID, profile acme (named by default_profile)"),
        "{run:#?}"
    );
    assert!(
        run.stderr
            .contains("fix: perspio config set client_id <CLIENT_ID> --profile acme"),
        "{run:#?}"
    );
}

#[test]
fn mode_keyring_without_a_keyring_service_fails_and_writes_no_secret() {
    let config = Config::new();

    let run = config.run_stdin(
        &["profile", "add", "acme", "--client-secret-stdin"],
        "hunter2\n",
        &[("PERSPIO_SECRET_STORE", "keyring")],
    );

    if cfg!(target_os = "linux") {
        run.assert_code(1).assert_nothing_of(&["hunter2"]);
        assert!(run.stderr.contains("is not usable"), "{run:#?}");
        assert!(!config.dir.path().join("secrets.enc").exists());
        assert!(!config.dir.path().join("secrets.key").exists());
    }
}

/// A store that refuses the secrets leaves config.toml as it was: neither a new profile nor an
/// existing one's changed settings, without their secrets.
#[test]
fn secrets_the_store_refuses_leave_the_settings_as_they_were() {
    let config = Config::new();
    config
        .run(
            &[
                "--base-url",
                "https://one.example",
                "profile",
                "add",
                "acme",
            ],
            &[],
        )
        .assert_code(0);
    let before = config.text();
    assert!(before.contains("https://one.example"), "{before}");

    let keyring = [("PERSPIO_SECRET_STORE", "keyring")];
    let updated = config.run_stdin(
        &[
            "--base-url",
            "https://two.example",
            "profile",
            "add",
            "acme",
            "--default",
            "--client-secret-stdin",
        ],
        "hunter2\n",
        &keyring,
    );
    let created = config.run_stdin(
        &["profile", "add", "beta", "--client-secret-stdin"],
        "hunter2\n",
        &keyring,
    );

    // Where a keyring service answers (not on this CI), the store accepts and nothing is refused.
    if cfg!(target_os = "linux") {
        for run in [&updated, &created] {
            run.assert_code(1).assert_nothing_of(&["hunter2"]);
            assert!(!run.stderr.contains("updated"), "{run:#?}");
            assert!(!run.stderr.contains("created"), "{run:#?}");
        }
        assert_eq!(config.text(), before);
    }
}

#[test]
fn mode_file_is_a_plain_file_that_status_calls_so() {
    let config = Config::new();
    config
        .run_stdin(
            &[
                "profile",
                "add",
                "acme",
                "--client-secret-stdin",
                "--default",
            ],
            "hunter2\n",
            &[("PERSPIO_SECRET_STORE", "file")],
        )
        .assert_code(0);

    let run = config.run(&["auth", "status"], &[("PERSPIO_SECRET_STORE", "file")]);

    run.assert_code(0).assert_nothing_of(&["hunter2"]);
    let status = run.json();
    assert_eq!(status["secret_store"]["kind"], "plain file", "{status:#}");
    assert_eq!(
        status["profiles"][0]["secrets"]["client_secret"],
        "plain file"
    );
    assert_eq!(
        status["profiles"][0]["secrets"]["refresh_token"],
        "not stored"
    );
}

#[test]
fn removing_a_profile_removes_its_secrets_and_the_default() {
    let config = Config::new();
    config
        .run_stdin(
            &[
                "profile",
                "add",
                "acme",
                "--client-secret-stdin",
                "--default",
            ],
            "hunter2\n",
            &[],
        )
        .assert_code(0);

    let run = config.run(&["profile", "remove", "acme"], &[]);

    run.assert_code(0);
    assert!(run.stderr.contains("and 1 stored secret(s)"), "{run:#?}");
    assert!(!config.text().contains("acme"), "{}", config.text());
    assert!(!config.dir.path().join("secrets.enc").exists());
}

/// The keyring's success path, through a real Secret Service (GNOME Keyring on a private
/// session bus, `perspio_store::testing::SecretService`): `keyring` and `auto` keep the key
/// of the sealed secrets in the OS keyring and nowhere else; the profile works from it, fails
/// clearly while the keyring is gone, and works again when it is back.
#[cfg(all(feature = "keyring", target_os = "linux"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_whose_key_is_in_a_real_os_keyring_works_from_it_alone() {
    let mut keyring = perspio_store::testing::SecretService::start().unwrap();
    let bus = keyring.bus_address().to_owned();
    let sandbox = Sandbox::start().await.unwrap();
    for mode in ["keyring", "auto"] {
        let config = Config::new();
        let env = [
            ("DBUS_SESSION_BUS_ADDRESS", bus.as_str()),
            ("PERSPIO_SECRET_STORE", mode),
        ];

        let added = config.add_sandbox_profile(&sandbox, &env);

        added
            .assert_code(0)
            .assert_nothing_of(&[SANDBOX_SECRET, SANDBOX_SUBSCRIPTION_KEY]);
        assert!(
            added.stderr.contains(
                "kept in: the OS keyring (Secret Service) holds the key; secrets sealed in"
            ),
            "{mode}: {added:#?}"
        );
        // The key is in the keyring only: no key file beside the sealed secrets, and no file
        // of the configuration holds a secret in the clear.
        assert!(!config.dir.path().join("secrets.key").exists(), "{mode}");
        for file in std::fs::read_dir(config.dir.path()).unwrap() {
            let bytes = std::fs::read(file.unwrap().path()).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(SANDBOX_SECRET), "{mode}: {text}");
            assert!(!text.contains(SANDBOX_SUBSCRIPTION_KEY), "{mode}: {text}");
        }
        let status = config.run(&["auth", "status"], &env);
        status.assert_code(0);
        let status = status.json();
        assert_eq!(
            status["secret_store"]["kind"], "keyring",
            "{mode}: {status:#}"
        );
        assert_eq!(
            status["profiles"][0]["secrets"]["client_secret"], "keyring",
            "{mode}: {status:#}"
        );
        let run = config.run(&["list-sites"], &env);
        run.assert_code(0);
        assert!(run.stdout.contains("SBX-SITE-000001"), "{mode}: {run:#?}");

        // The keyring gone: the secrets cannot be opened, and the error says where they are.
        keyring.stop();
        let gone = config.run(&["list-sites"], &env);
        gone.assert_code(1)
            .assert_nothing_of(&[SANDBOX_SECRET, SANDBOX_SUBSCRIPTION_KEY]);
        assert!(
            gone.stderr.contains(
                "secrets.enc cannot be opened: its key is in the OS keyring (Secret Service), \
                 which is not usable: "
            ),
            "{mode}: {gone:#?}"
        );
        // The fix is the keyring: the file must be kept, not removed.
        assert!(
            gone.stderr.contains(
                "fix: start or unlock the OS keyring, then run the command again (the secrets \
                 are kept as they are)"
            ),
            "{mode}: {gone:#?}"
        );
        assert!(!gone.stderr.contains("remove"), "{mode}: {gone:#?}");
        assert!(gone.stdout.is_empty(), "{mode}: {gone:#?}");
        // …and `auto` did not quietly make a new key beside them in its place.
        assert!(!config.dir.path().join("secrets.key").exists(), "{mode}");

        // Back (the same keyring, unlocked again): the profile works as before.
        keyring.restart().unwrap();
        config.run(&["list-sites"], &env).assert_code(0);

        // Frozen (on the bus, answering nothing, as a keyring behind an unseen prompt): the
        // call gives up after the keyring timeout (3 s) with the reason, and does not hang.
        keyring.pause().unwrap();
        let started = std::time::Instant::now();
        let frozen = config.run(&["list-sites"], &env);
        let waited = started.elapsed();
        keyring.resume().unwrap();
        frozen
            .assert_code(1)
            .assert_nothing_of(&[SANDBOX_SECRET, SANDBOX_SUBSCRIPTION_KEY]);
        assert!(
            frozen.stderr.contains("did not answer within 3 s"),
            "{mode}: {frozen:#?}"
        );
        assert!(
            waited < std::time::Duration::from_secs(20),
            "{mode}: {waited:?}"
        );
        // One entry of the keyring holds the key (service `perspio`)…
        assert_eq!(keyring.items("service", "perspio").unwrap(), 1, "{mode}");
        // Thawed, it answers again.
        let back = config.run(&["list-sites"], &env);
        back.assert_code(0);
        assert!(back.stdout.contains("SBX-SITE-000001"), "{mode}: {back:#?}");

        // Removing the only profile removes its secrets, and the key's entry with them.
        config
            .run(&["profile", "remove", "sbx"], &env)
            .assert_code(0);
        assert_eq!(keyring.items("service", "perspio").unwrap(), 0, "{mode}");
        assert!(!config.dir.path().join("secrets.enc").exists(), "{mode}");
    }
}

/// Secrets an `auto` run sealed under a key file (no keyring then) are moved into a real OS
/// keyring by the next write in mode `keyring`: the key file goes, the keyring holds the key,
/// and every profile works as before.
#[cfg(all(feature = "keyring", target_os = "linux"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode_keyring_moves_secrets_sealed_under_a_key_file_into_the_keyring() {
    let keyring = perspio_store::testing::SecretService::start().unwrap();
    let bus = keyring.bus_address().to_owned();
    let sandbox = Sandbox::start().await.unwrap();
    let config = Config::new();
    // No keyring on the bus the test helpers give (nothing listens there): a key file.
    config.add_sandbox_profile(&sandbox, &[]).assert_code(0);
    assert!(config.dir.path().join("secrets.key").exists());
    let env = [
        ("DBUS_SESSION_BUS_ADDRESS", bus.as_str()),
        ("PERSPIO_SECRET_STORE", "keyring"),
    ];

    let added = config.run_stdin(
        &["profile", "add", "other", "--client-secret-stdin"],
        "hunter2\n",
        &env,
    );

    added.assert_code(0).assert_nothing_of(&["hunter2"]);
    assert!(
        added
            .stderr
            .contains("kept in: the OS keyring (Secret Service) holds the key"),
        "{added:#?}"
    );
    assert!(!config.dir.path().join("secrets.key").exists());
    assert_eq!(keyring.items("service", "perspio").unwrap(), 1);
    let run = config.run(&["list-sites"], &env);
    run.assert_code(0);
    assert!(run.stdout.contains("SBX-SITE-000001"), "{run:#?}");
}
