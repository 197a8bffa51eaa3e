//! The precedence table, one test per row:
//!
//! | rank | source |
//! |---|---|
//! | 1 | flag |
//! | 2 | `PERSPIO_*` variable |
//! | 3 | the profile named by `--profile`, else `PERSPIO_PROFILE` |
//! | 4 | the profile named by `default_profile` |
//! | 5 | the built-in default |

use perspio_config::{ConfigError, Key, Origin, ProfileVia, SecretName};
use secrecy::{ExposeSecret as _, SecretString};

use crate::helpers::*;

const TWO_PROFILES: &str = r#"default_profile = "home"

[profile.home]
base_url = "https://home.example"
tenant_id = "in-home"

[profile.work]
base_url = "https://work.example"
tenant_id = "in-work"
"#;

#[test]
fn a_flag_beats_the_variable_the_profile_and_the_default() {
    let dir = Dir::new();
    dir.config(TWO_PROFILES);

    let resolved = dir
        .resolver(&[("PERSPIO_BASE_URL", "https://env.example")])
        .with_flag(Key::BaseUrl, Some("https://flag.example"))
        .with_secret_flag(
            SecretName::ClientSecret,
            Some(SecretString::from("from-stdin")),
        )
        .resolve()
        .unwrap();

    assert_eq!(resolved.get(Key::BaseUrl), Some("https://flag.example"));
    assert_eq!(resolved.origin(Key::BaseUrl), Origin::Flag("--base-url"));
    assert_eq!(
        resolved
            .secret(SecretName::ClientSecret)
            .unwrap()
            .expose_secret(),
        "from-stdin"
    );
}

#[test]
fn a_variable_beats_the_profile_and_the_default() {
    let dir = Dir::new();
    dir.config(TWO_PROFILES);

    let resolved = dir
        .resolver(&[("PERSPIO_TENANT_ID", "in-env")])
        .with_profile(Some("work"))
        .resolve()
        .unwrap();

    assert_eq!(resolved.get(Key::TenantId), Some("in-env"));
    assert_eq!(
        resolved.origin(Key::TenantId),
        Origin::Env("PERSPIO_TENANT_ID")
    );
    // The profile still gives what no variable sets.
    assert_eq!(resolved.get(Key::BaseUrl), Some("https://work.example"));
}

#[test]
fn a_named_profile_beats_the_default_profile() {
    let dir = Dir::new();
    dir.config(TWO_PROFILES);

    for (resolver, via) in [
        (
            dir.resolver(&[]).with_profile(Some("work")),
            ProfileVia::Flag,
        ),
        (
            dir.resolver(&[("PERSPIO_PROFILE", "work")]),
            ProfileVia::Env,
        ),
    ] {
        let resolved = resolver.resolve().unwrap();

        assert_eq!(resolved.profile(), Some("work"));
        assert_eq!(resolved.profile_via(), Some(via));
        assert_eq!(resolved.get(Key::TenantId), Some("in-work"));
        assert!(matches!(
            resolved.origin(Key::TenantId),
            Origin::Profile { name, via: v, .. } if name == "work" && v == via
        ));
    }
}

#[test]
fn profile_beats_perspio_profile() {
    let dir = Dir::new();
    dir.config(TWO_PROFILES);

    let resolved = dir
        .resolver(&[("PERSPIO_PROFILE", "home")])
        .with_profile(Some("work"))
        .resolve()
        .unwrap();

    assert_eq!(resolved.profile(), Some("work"));
    assert_eq!(resolved.profile_via(), Some(ProfileVia::Flag));
}

#[test]
fn the_default_profile_is_used_when_none_is_named() {
    let dir = Dir::new();
    dir.config(TWO_PROFILES);

    let resolved = dir.resolver(&[]).resolve().unwrap();

    assert_eq!(resolved.profile(), Some("home"));
    assert_eq!(resolved.profile_via(), Some(ProfileVia::DefaultProfile));
    assert_eq!(resolved.get(Key::TenantId), Some("in-home"));
}

#[test]
fn the_built_in_default_is_the_last_resort() {
    let dir = Dir::new();
    dir.config("[profile.bare]\ntenant_id = \"in-bare\"\n");

    let resolved = dir
        .resolver(&[])
        .with_profile(Some("bare"))
        .resolve()
        .unwrap();

    assert_eq!(resolved.get(Key::BaseUrl), None);
    assert_eq!(
        resolved.value(Key::BaseUrl).as_deref(),
        Some("https://talk.perspio.io")
    );
    assert_eq!(resolved.origin(Key::BaseUrl), Origin::Default);
    assert_eq!(
        resolved.value(Key::Flow).as_deref(),
        Some("client_credentials")
    );
    assert_eq!(
        resolved.value(Key::Scope).as_deref(),
        Some("api://perspiotalk/.default")
    );
    assert_eq!(resolved.origin(Key::ClientId), Origin::Unset);
}

#[test]
fn a_named_profile_replaces_the_default_profile_it_does_not_mix_with_it() {
    let dir = Dir::new();
    dir.config(
        "default_profile = \"home\"\n[profile.home]\nclient_id = \"home-app\"\n[profile.work]\ntenant_id = \"in-work\"\n",
    );

    let resolved = dir
        .resolver(&[])
        .with_profile(Some("work"))
        .resolve()
        .unwrap();

    assert_eq!(resolved.get(Key::ClientId), None);
}

#[test]
fn a_login_profile_defaults_to_the_user_scope() {
    let dir = Dir::new();
    dir.config("[profile.me]\nflow = \"authorization_code\"\n");

    let resolved = dir
        .resolver(&[])
        .with_profile(Some("me"))
        .resolve()
        .unwrap();

    assert_eq!(
        resolved.value(Key::Scope).as_deref(),
        Some("api://perspiotalk/access_as_user")
    );
}

#[test]
fn a_profile_that_does_not_exist_names_what_named_it_and_the_fix() {
    let dir = Dir::new();
    dir.config(TWO_PROFILES);

    let error = dir
        .resolver(&[("PERSPIO_PROFILE", "wrok")])
        .resolve()
        .unwrap_err();

    let shown = error.to_string();
    assert!(matches!(error, ConfigError::ProfileNotFound { .. }));
    assert!(
        shown.contains("no profile `wrok` (named by PERSPIO_PROFILE)"),
        "{shown}"
    );
    assert!(shown.contains("it has: home, work"), "{shown}");
    assert!(shown.contains("fix: perspio profile add wrok"), "{shown}");
}

#[test]
fn a_missing_setting_names_every_place_looked_and_the_command_that_fixes_it() {
    let dir = Dir::new();
    dir.config("[profile.acme]\nclient_id = \"app\"\n");

    let resolved = dir
        .resolver(&[])
        .naming_flags(true)
        .with_profile(Some("acme"))
        .resolve()
        .unwrap();
    let shown = resolved.check_complete().unwrap_err().to_string();

    assert!(
        shown.starts_with("missing setting tenant_id: looked at --tenant-id, PERSPIO_TENANT_ID, profile acme (named by --profile) in "),
        "{shown}"
    );
    assert!(
        shown.ends_with("fix: perspio config set tenant_id <TENANT_ID> --profile acme"),
        "{shown}"
    );
}

#[test]
fn with_no_profile_at_all_the_error_says_so_and_how_to_make_one() {
    let dir = Dir::new();

    let resolved = dir.resolver(&[]).naming_flags(true).resolve().unwrap();
    let shown = resolved.check_complete().unwrap_err().to_string();

    assert!(shown.contains("--client-id, PERSPIO_CLIENT_ID, no profile (none named by --profile, PERSPIO_PROFILE or default_profile in "), "{shown}");
    assert!(
        shown.contains("fix: perspio profile add <NAME> --client-id <CLIENT_ID> --default"),
        "{shown}"
    );
}

#[test]
fn a_missing_secret_names_the_store_it_looked_in() {
    let dir = Dir::new();
    dir.config("[profile.acme]\nclient_id = \"app\"\ntenant_id = \"in-acme\"\n");

    let resolved = dir
        .resolver(&[("PERSPIO_SECRET_STORE", "file")])
        .with_profile(Some("acme"))
        .resolve()
        .unwrap();
    let shown = resolved.check_complete().unwrap_err().to_string();

    assert!(shown.contains("PERSPIO_CLIENT_SECRET, the secret store of profile acme (nothing stored (secret_store = file))"), "{shown}");
    assert!(
        shown.ends_with("fix: perspio profile add acme --client-secret-stdin"),
        "{shown}"
    );
}

#[test]
fn the_secret_store_mode_follows_the_variable_then_the_file() {
    let dir = Dir::new();
    dir.config("secret_store = \"file\"\n");

    assert_eq!(
        dir.resolver(&[]).resolve().unwrap().secret_mode(),
        perspio_config::SecretMode::File
    );
    assert_eq!(
        dir.resolver(&[("PERSPIO_SECRET_STORE", "memory")])
            .resolve()
            .unwrap()
            .secret_mode(),
        perspio_config::SecretMode::Memory
    );
    let error = dir
        .resolver(&[("PERSPIO_SECRET_STORE", "vault")])
        .resolve()
        .unwrap_err();
    assert!(
        error.to_string().contains("PERSPIO_SECRET_STORE"),
        "{error}"
    );
}

#[test]
fn a_lookup_without_perspio_config_dir_reads_no_file() {
    let resolver = perspio_config::Resolver::from_lookup(|_| None);
    assert_eq!(resolver.config_dir(), None);
    assert_eq!(resolver.resolve().unwrap().profile(), None);
}

#[test]
fn the_lookup_of_a_resolved_profile_feeds_code_that_reads_variables() {
    let dir = Dir::new();
    dir.config("[profile.acme]\ntenant_id = \"in-acme\"\n");

    let resolved = dir
        .resolver(&[("PERSPIO_CLIENT_SECRET", "env-secret")])
        .with_profile(Some("acme"))
        .resolve()
        .unwrap();

    assert_eq!(
        resolved.lookup("PERSPIO_TENANT_ID").as_deref(),
        Some("in-acme")
    );
    assert_eq!(
        resolved.lookup("PERSPIO_CLIENT_SECRET").as_deref(),
        Some("env-secret")
    );
    assert_eq!(resolved.lookup("PERSPIO_BASE_URL"), None);
    assert_eq!(
        resolved.describe("PERSPIO_TENANT_ID"),
        format!(
            "tenant_id of profile acme ({})",
            dir.path().join("config.toml").display()
        )
    );
}
