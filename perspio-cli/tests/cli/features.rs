//! What the CLI's features (`keyring`, `redis`, `memcached`, all on by default) change. The
//! README's test command runs these tests on the default build; `.ci/run` runs them once more
//! on `--no-default-features`. Without a feature, a setting that needs it is refused with a
//! message that names the setting and the feature, before any request: never ignored (an
//! ignored `PERSPIO_REDIS_URL` would spend the fleet's rate budget behind its back).

use perspio_sandbox::Sandbox;

use crate::helpers::*;

/// Runs `list-sites` against `sandbox` with `variable` set to `url`, where nothing listens.
async fn list_sites_with_store(variable: &str, url: &str) -> (Sandbox, Run) {
    let sandbox = Sandbox::start().await.unwrap();
    let run = perspio_at(&sandbox, &["list-sites"], &[(variable, url)]);
    (sandbox, run)
}

#[track_caller]
fn assert_refused_naming(run: &Run, sandbox: &Sandbox, variable: &str, feature: &str) {
    run.assert_code(EXIT_USAGE).assert_one_line_error();
    assert!(run.stderr.contains(variable), "{run:#?}");
    assert!(
        run.stderr
            .contains(&format!("built without the `{feature}` feature")),
        "{run:#?}"
    );
    assert!(run.stdout.is_empty(), "{run:#?}");
    assert_no_request(sandbox);
}

#[tokio::test]
async fn a_redis_url_needs_the_redis_feature_and_is_refused_naming_it_without() {
    let (sandbox, run) = list_sites_with_store("PERSPIO_REDIS_URL", "redis://127.0.0.1:1/").await;

    if cfg!(feature = "redis") {
        assert!(!run.stderr.contains("built without"), "{run:#?}");
    } else {
        assert_refused_naming(&run, &sandbox, "PERSPIO_REDIS_URL", "redis");
    }
}

#[tokio::test]
async fn a_memcached_url_needs_the_memcached_feature_and_is_refused_naming_it_without() {
    let (sandbox, run) =
        list_sites_with_store("PERSPIO_MEMCACHED_URL", "memcache://127.0.0.1:1").await;

    if cfg!(feature = "memcached") {
        assert!(!run.stderr.contains("built without"), "{run:#?}");
    } else {
        assert_refused_naming(&run, &sandbox, "PERSPIO_MEMCACHED_URL", "memcached");
    }
}

#[test]
fn without_the_keyring_feature_mode_keyring_is_refused_naming_it_and_auto_seals_beside() {
    // `perspio_with_stdin` points D-Bus nowhere: with the feature, no test reaches a real
    // keyring.
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().display().to_string();
    let add = |store: &str| {
        perspio_with_stdin(
            &["profile", "add", "acme", "--client-secret-stdin"],
            &[
                ("PERSPIO_CONFIG_DIR", config_dir.as_str()),
                ("PERSPIO_SECRET_STORE", store),
            ],
            b"hunter2\n",
        )
    };

    let keyring = add("keyring");

    keyring.assert_nothing_of(&["hunter2"]);
    assert!(!dir.path().join("secrets.enc").exists());
    if cfg!(feature = "keyring") {
        assert!(!keyring.stderr.contains("built without"), "{keyring:#?}");
        return;
    }
    keyring.assert_code(1);
    assert!(
        keyring
            .stderr
            .contains("built without keyring support (the `keyring` feature"),
        "{keyring:#?}"
    );

    let auto = add("auto");

    auto.assert_code(0).assert_nothing_of(&["hunter2"]);
    assert!(auto.stderr.contains("no usable OS keyring"), "{auto:#?}");
    assert!(dir.path().join("secrets.enc").exists());
    assert!(dir.path().join("secrets.key").exists());
}
