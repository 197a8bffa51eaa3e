//! A temporary configuration directory, an environment, a fake keyring.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use perspio_config::{ConfigError, KeyringBackend, Resolver};

/// A configuration directory that disappears with the test.
pub struct Dir {
    pub temp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Self {
        Self {
            temp: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.temp.path().to_owned()
    }

    /// Writes config.toml.
    pub fn config(&self, text: &str) -> &Self {
        std::fs::write(self.temp.path().join("config.toml"), text).unwrap();
        self
    }

    /// A resolver over this directory and these variables only.
    pub fn resolver(&self, env: &[(&str, &str)]) -> Resolver {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Resolver::from_lookup(move |name| env.get(name).cloned())
            .with_config_dir(Some(self.path()))
            .with_keyring(Arc::new(FakeKeyring::default()))
    }
}

/// Every file under `dir`, as text, for "no secret anywhere but the store" checks.
pub fn text_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The secrets never appear in config.toml.
#[track_caller]
pub fn assert_config_holds_none_of(dir: &Path, secrets: &[&str]) {
    let text = text_of(&dir.join("config.toml"));
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "config.toml holds {secret:?}:\n{text}"
        );
    }
}

/// A keyring in memory; `broken` makes every call fail as an absent keyring does.
#[derive(Debug, Default, Clone)]
pub struct FakeKeyring {
    pub entries: Arc<Mutex<HashMap<(String, String), String>>>,
    pub broken: bool,
}

impl FakeKeyring {
    pub fn broken() -> Self {
        Self {
            broken: true,
            ..Self::default()
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.broken {
            Err(ConfigError::Keyring {
                backend: "fake".into(),
                reason: "no Secret Service on this bus".into(),
            })
        } else {
            Ok(())
        }
    }
}

impl KeyringBackend for FakeKeyring {
    fn name(&self) -> String {
        "fake keyring".into()
    }

    fn get(&self, service: &str, user: &str) -> Result<Option<String>, ConfigError> {
        self.check()?;
        Ok(self
            .entries
            .lock()
            .unwrap()
            .get(&(service.into(), user.into()))
            .cloned())
    }

    fn set(&self, service: &str, user: &str, secret: &str) -> Result<(), ConfigError> {
        self.check()?;
        self.entries
            .lock()
            .unwrap()
            .insert((service.into(), user.into()), secret.into());
        Ok(())
    }

    fn delete(&self, service: &str, user: &str) -> Result<(), ConfigError> {
        self.check()?;
        self.entries
            .lock()
            .unwrap()
            .remove(&(service.into(), user.into()));
        Ok(())
    }
}
