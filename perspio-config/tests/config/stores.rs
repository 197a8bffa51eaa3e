//! The secret stores: `memory` and `file` (every machine), `auto`/`keyring` behind the
//! keyring trait (a fake keyring, working or absent), and the refresh token's lock.

use std::sync::Arc;

use perspio_auth::{RefreshToken, RefreshTokenStore};
use perspio_config::secrets::{KEY_FILE, PLAIN_FILE, SEALED_FILE, SealedFileStore};
use perspio_config::{
    ConfigError, MemoryStore, ProfileRefreshToken, SecretLocation, SecretMode, SecretName,
    SecretStore, open_store,
};
use secrecy::ExposeSecret as _;

use crate::helpers::*;

const SECRET: &str = "client-secret-value-0123";
const KEY: &str = "subscription-key-value-4567";
const REFRESH: &str = "refresh-token-value-89ab";

fn fill(store: &dyn SecretStore) {
    store
        .update(&mut |s| {
            s.set("acme", SecretName::ClientSecret, SECRET);
            s.set("acme", SecretName::SubscriptionKey, KEY);
            s.set("beta", SecretName::RefreshToken, REFRESH);
        })
        .unwrap();
}

#[track_caller]
fn assert_reads_back(store: &dyn SecretStore) {
    let secret = store
        .get("acme", SecretName::ClientSecret)
        .unwrap()
        .unwrap();
    assert_eq!(secret.expose_secret(), SECRET);
    let refresh = store
        .get("beta", SecretName::RefreshToken)
        .unwrap()
        .unwrap();
    assert_eq!(refresh.expose_secret(), REFRESH);
    assert!(
        store
            .get("acme", SecretName::RefreshToken)
            .unwrap()
            .is_none()
    );
}

#[track_caller]
fn assert_no_plaintext_in(path: &std::path::Path) {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    for secret in [SECRET, KEY, REFRESH] {
        assert!(!text.contains(secret), "{} holds {secret}", path.display());
    }
}

#[cfg(unix)]
#[track_caller]
fn assert_private(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", path.display());
}

#[test]
fn the_memory_store_keeps_secrets_in_the_process_and_writes_nothing() {
    let dir = Dir::new();
    let store = open_store(
        Some(&dir.path()),
        SecretMode::Memory,
        Arc::new(FakeKeyring::broken()),
    );

    fill(store.as_ref());

    assert_reads_back(store.as_ref());
    assert_eq!(store.location(), SecretLocation::Memory);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    assert!(!format!("{:?}", store.load().unwrap()).contains(SECRET));
}

#[test]
fn the_file_store_is_a_plain_0600_file_that_says_so() {
    let dir = Dir::new();
    let store = open_store(
        Some(&dir.path()),
        SecretMode::File,
        Arc::new(FakeKeyring::broken()),
    );
    assert!(matches!(
        store.location(),
        SecretLocation::Nothing {
            mode: SecretMode::File
        }
    ));

    fill(store.as_ref());

    assert_reads_back(store.as_ref());
    let location = store.location();
    assert_eq!(location.kind(), "plain file");
    assert!(
        location.notice().unwrap().contains("plain text"),
        "{location:?}"
    );
    #[cfg(unix)]
    assert_private(&dir.path().join(PLAIN_FILE));
    assert_config_holds_none_of(&dir.path(), &[SECRET, KEY, REFRESH]);
}

#[test]
fn with_a_keyring_the_secrets_are_sealed_and_the_keyring_holds_only_a_short_key() {
    let dir = Dir::new();
    let keyring = FakeKeyring::default();
    let store = open_store(
        Some(&dir.path()),
        SecretMode::Auto,
        Arc::new(keyring.clone()),
    );

    fill(store.as_ref());

    assert_reads_back(store.as_ref());
    assert!(
        matches!(store.location(), SecretLocation::Keyring { .. }),
        "{:?}",
        store.location()
    );
    assert!(store.location().notice().is_none());
    assert_no_plaintext_in(&dir.path().join(SEALED_FILE));
    assert!(!dir.path().join(KEY_FILE).exists());
    let entries = keyring.entries.lock().unwrap().clone();
    assert_eq!(entries.len(), 1, "one entry, never one per secret");
    let (key, value) = entries.iter().next().unwrap();
    assert_eq!(key.0, "perspio");
    assert!(key.1.starts_with("secrets-key "), "{key:?}");
    assert_eq!(
        value.len(),
        44,
        "a 256-bit key in base64, far below any keyring's limit"
    );
    #[cfg(unix)]
    assert_private(&dir.path().join(SEALED_FILE));
}

#[test]
fn without_a_keyring_auto_falls_back_to_an_encrypted_file_and_says_so() {
    let dir = Dir::new();
    let store = open_store(
        Some(&dir.path()),
        SecretMode::Auto,
        Arc::new(FakeKeyring::broken()),
    );

    fill(store.as_ref());

    assert_reads_back(store.as_ref());
    let location = store.location();
    assert!(location.is_fallback(), "{location:?}");
    assert_eq!(location.kind(), "encrypted file");
    let notice = location.notice().unwrap();
    assert!(notice.contains("no usable OS keyring"), "{notice}");
    assert!(
        notice.contains("not from someone who can read your files"),
        "{notice}"
    );
    assert_no_plaintext_in(&dir.path().join(SEALED_FILE));
    #[cfg(unix)]
    assert_private(&dir.path().join(KEY_FILE));
}

#[test]
fn mode_keyring_without_a_keyring_is_an_error_and_writes_nothing() {
    let dir = Dir::new();
    let store = open_store(
        Some(&dir.path()),
        SecretMode::Keyring,
        Arc::new(FakeKeyring::broken()),
    );

    let error = store
        .update(&mut |s| s.set("acme", SecretName::ClientSecret, SECRET))
        .unwrap_err();

    assert!(matches!(error, ConfigError::Keyring { .. }), "{error:?}");
    assert!(!dir.path().join(SEALED_FILE).exists());
    assert!(!dir.path().join(KEY_FILE).exists());
}

/// Mode `keyring` is the keyring or an error, also for secrets an earlier `auto` run sealed
/// under the key file (no keyring then): a write seals them again under a key in the keyring
/// and deletes the key file; when the keyring refuses, the write fails and nothing changes.
#[test]
fn mode_keyring_moves_secrets_sealed_under_the_key_file_into_the_keyring_or_changes_nothing() {
    let dir = Dir::new();
    let auto = open_store(
        Some(&dir.path()),
        SecretMode::Auto,
        Arc::new(FakeKeyring::broken()),
    );
    fill(auto.as_ref());
    assert!(dir.path().join(KEY_FILE).exists());
    let sealed_before = std::fs::read(dir.path().join(SEALED_FILE)).unwrap();

    // No keyring: refused, and the files are as they were (the secrets still open).
    let refused = open_store(
        Some(&dir.path()),
        SecretMode::Keyring,
        Arc::new(FakeKeyring::broken()),
    );
    let error = refused
        .update(&mut |s| s.set("gamma", SecretName::ClientSecret, "gamma-secret"))
        .unwrap_err();
    assert!(matches!(error, ConfigError::Keyring { .. }), "{error:?}");
    assert_eq!(
        std::fs::read(dir.path().join(SEALED_FILE)).unwrap(),
        sealed_before
    );
    assert!(dir.path().join(KEY_FILE).exists());
    assert_reads_back(auto.as_ref());

    // A keyring: the next write moves every secret under its key, and the key file goes.
    let keyring = FakeKeyring::default();
    let moved = open_store(
        Some(&dir.path()),
        SecretMode::Keyring,
        Arc::new(keyring.clone()),
    );
    moved
        .update(&mut |s| s.set("gamma", SecretName::ClientSecret, "gamma-secret"))
        .unwrap();
    assert!(!dir.path().join(KEY_FILE).exists());
    assert_eq!(keyring.entries.lock().unwrap().len(), 1);
    assert_eq!(moved.location().kind(), "keyring");
    assert!(!moved.location().is_fallback());
    assert_no_plaintext_in(&dir.path().join(SEALED_FILE));
    let reopened = open_store(
        Some(&dir.path()),
        SecretMode::Auto,
        Arc::new(keyring.clone()),
    );
    assert_reads_back(reopened.as_ref());
    assert_eq!(
        reopened
            .get("gamma", SecretName::ClientSecret)
            .unwrap()
            .unwrap()
            .expose_secret(),
        "gamma-secret"
    );
}

#[test]
fn removing_every_secret_removes_the_files_and_the_keyring_entry() {
    let dir = Dir::new();
    let keyring = FakeKeyring::default();
    let store = open_store(
        Some(&dir.path()),
        SecretMode::Auto,
        Arc::new(keyring.clone()),
    );
    fill(store.as_ref());

    store
        .update(&mut |s| {
            s.remove_profile("acme");
            s.remove_profile("beta");
        })
        .unwrap();

    assert!(!dir.path().join(SEALED_FILE).exists());
    assert!(keyring.entries.lock().unwrap().is_empty());
    assert!(matches!(store.location(), SecretLocation::Nothing { .. }));
}

#[test]
fn a_tampered_secrets_file_is_refused_with_the_fix() {
    let dir = Dir::new();
    let store = open_store(
        Some(&dir.path()),
        SecretMode::Auto,
        Arc::new(FakeKeyring::broken()),
    );
    fill(store.as_ref());
    let path = dir.path().join(SEALED_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    // Relabel the key's home: the header is authenticated.
    std::fs::write(&path, text.replace("\"file\"", "\"keyring\"")).unwrap();
    let fresh = SealedFileStore::new(
        &dir.path(),
        SecretMode::Auto,
        Arc::new(FakeKeyring::default()),
    );

    let error = fresh.load().unwrap_err();

    assert!(
        matches!(error, ConfigError::SecretsUnreadable { .. }),
        "{error:?}"
    );
    assert!(error.fix().unwrap().contains("remove"), "{error}");
}

#[test]
fn two_stores_on_one_directory_see_each_others_writes() {
    let dir = Dir::new();
    let keyring = Arc::new(FakeKeyring::default());
    let a = open_store(Some(&dir.path()), SecretMode::Auto, keyring.clone());
    let b = open_store(Some(&dir.path()), SecretMode::Auto, keyring);

    a.update(&mut |s| s.set("acme", SecretName::ClientSecret, SECRET))
        .unwrap();
    b.update(&mut |s| s.set("acme", SecretName::SubscriptionKey, KEY))
        .unwrap();

    let both = a.load().unwrap();
    assert_eq!(both.names("acme").len(), 2, "{both:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_holds_the_lock_so_the_next_one_reads_the_rotated_token() {
    for mode in [SecretMode::Auto, SecretMode::File, SecretMode::Memory] {
        // Arrange: two handles on one profile's refresh token, as two processes have.
        let dir = Dir::new();
        let store: Arc<dyn SecretStore> = match mode {
            SecretMode::Memory => Arc::new(MemoryStore::new()),
            _ => open_store(Some(&dir.path()), mode, Arc::new(FakeKeyring::broken())),
        };
        let first = ProfileRefreshToken::new(store.clone(), "acme");
        let second = ProfileRefreshToken::new(store.clone(), "acme");
        first.save(&RefreshToken::new("rt-1")).unwrap();

        // Act: the first takes the lock; the second asks for it meanwhile.
        let mut held = first.lock().await.unwrap();
        assert_eq!(held.current().unwrap().expose_secret(), "rt-1");
        let waiting = tokio::spawn(async move {
            let guard = second.lock().await.unwrap();
            guard.current().map(|t| t.expose_secret().to_owned())
        });
        held.replace(RefreshToken::new("rt-2")).unwrap();
        drop(held);

        // Assert
        assert_eq!(waiting.await.unwrap().as_deref(), Some("rt-2"), "{mode}");
        assert_eq!(
            store
                .get("acme", SecretName::RefreshToken)
                .unwrap()
                .unwrap()
                .expose_secret(),
            "rt-2"
        );
    }
}
