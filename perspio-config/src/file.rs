//! config.toml: where it is, what it may hold, and edits that keep its comments and layout.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, value};

use crate::error::ConfigError;
use crate::keys::{Key, SecretMode, SecretName};

/// The variable that moves the whole configuration directory (config.toml and the secret
/// files) elsewhere. Tests set it to a temporary directory.
pub const ENV_CONFIG_DIR: &str = "PERSPIO_CONFIG_DIR";
/// The variable that names the profile to use (after `--profile`, before `default_profile`).
pub const ENV_PROFILE: &str = "PERSPIO_PROFILE";
/// The variable that chooses the secret store mode (before config.toml's `secret_store`).
pub const ENV_SECRET_STORE: &str = "PERSPIO_SECRET_STORE";
/// The configuration file's name inside the configuration directory.
pub const CONFIG_FILE: &str = "config.toml";

/// The top-level keys of config.toml.
const TOP_LEVEL_KEYS: [&str; 3] = ["default_profile", "secret_store", "profile"];

/// The configuration directory: `PERSPIO_CONFIG_DIR` when set, else `perspio` under the
/// platform's configuration directory: `$XDG_CONFIG_HOME` or `~/.config` on Linux **and
/// macOS** (XDG, through `etcetera`; CLI users expect `~/.config/perspio` there too),
/// `%APPDATA%` on Windows. `None` when neither is known (no home directory).
pub fn config_dir() -> Option<PathBuf> {
    config_dir_with(|name| std::env::var(name).ok(), true)
}

/// As [`config_dir`], reading `PERSPIO_CONFIG_DIR` through `lookup`; the platform directory
/// only when `platform` (a lookup that is not the process environment, such as a test's or a
/// sandbox's, has no platform directory).
pub fn config_dir_with(lookup: impl Fn(&str) -> Option<String>, platform: bool) -> Option<PathBuf> {
    if let Some(dir) = lookup(ENV_CONFIG_DIR).filter(|d| !d.trim().is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if !platform {
        return None;
    }
    use etcetera::BaseStrategy as _;
    etcetera::choose_base_strategy()
        .ok()
        .map(|strategy| strategy.config_dir().join("perspio"))
}

/// config.toml, parsed with its comments and layout, for reading and for edits.
///
/// It holds `default_profile`, `secret_store` and one `[profile.<name>]` table per profile
/// with the keys of [`Key`]. **No secrets**: a secret key, or a store URL with a password, is
/// refused when read and when set ([`ConfigError::SecretInConfig`]).
///
/// ```
/// # fn run() -> Result<(), perspio_config::ConfigError> {
/// # let dir = std::env::temp_dir().join(format!("perspio-config-doc-{}", std::process::id()));
/// use perspio_config::{ConfigFile, Key};
///
/// let mut file = ConfigFile::load(&dir)?; // an empty file if there is none yet
/// file.set(Some("acme"), Key::TenantId, "in-acme")?;
/// file.set_default_profile(Some("acme"))?;
/// file.save()?;
/// assert_eq!(ConfigFile::load(&dir)?.get("acme", Key::TenantId), Some("in-acme".into()));
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok(()) }
/// # run().unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    doc: DocumentMut,
}

impl ConfigFile {
    /// Reads `dir/config.toml`; a file that does not exist is an empty configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Read`], [`ConfigError::Parse`], [`ConfigError::UnknownKey`],
    /// [`ConfigError::InvalidValue`], and [`ConfigError::SecretInConfig`] for a file that
    /// holds a secret (it is not used until the secret is removed).
    pub fn load(dir: &Path) -> Result<ConfigFile, ConfigError> {
        let path = dir.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(ConfigError::read(&path, e)),
        };
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|e| ConfigError::Parse {
                path: path.clone(),
                message: perspio_core::text::remote(&e.to_string()),
            })?;
        let file = ConfigFile { path, doc };
        file.validate()?;
        Ok(file)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory the file is in (where the secret files are too).
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    fn place(&self, profile: Option<&str>) -> String {
        match profile {
            Some(name) => format!("[profile.{name}] of {}", self.path.display()),
            None => format!("the top level of {}", self.path.display()),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (key, item) in self.doc.iter() {
            if !TOP_LEVEL_KEYS.contains(&key) {
                return Err(self.unknown(key, None));
            }
            if key != "profile" && item.as_str().is_none() {
                return Err(ConfigError::InvalidValue {
                    key: key.to_owned(),
                    place: self.place(None),
                    reason: "must be a string".into(),
                });
            }
        }
        if let Some(mode) = self.doc.get("secret_store").and_then(Item::as_str) {
            mode.parse::<SecretMode>()
                .map_err(|reason| ConfigError::InvalidValue {
                    key: "secret_store".into(),
                    place: self.place(None),
                    reason,
                })?;
        }
        let Some(profiles) = self.doc.get("profile") else {
            return Ok(());
        };
        let profiles = profiles
            .as_table_like()
            .ok_or_else(|| ConfigError::InvalidValue {
                key: "profile".into(),
                place: self.place(None),
                reason: "must be a table of [profile.<name>] tables".into(),
            })?;
        for (name, table) in profiles.iter() {
            check_profile_name(name, &self.place(None))?;
            let table = table
                .as_table_like()
                .ok_or_else(|| ConfigError::InvalidValue {
                    key: format!("profile.{name}"),
                    place: self.place(None),
                    reason: "must be a table".into(),
                })?;
            for (key, item) in table.iter() {
                let place = self.place(Some(name));
                if let Some(secret) = SecretName::from_name(key) {
                    return Err(ConfigError::SecretInConfig {
                        key: key.to_owned(),
                        place,
                        fix: secret_fix(name, secret),
                    });
                }
                let known = Key::from_name(key).ok_or_else(|| self.unknown(key, Some(name)))?;
                let text = match (item.as_str(), item.as_integer()) {
                    (Some(text), _) => text.to_owned(),
                    (None, Some(n)) if known == Key::FleetSize => n.to_string(),
                    _ => {
                        return Err(ConfigError::InvalidValue {
                            key: key.to_owned(),
                            place,
                            reason: "must be a string".into(),
                        });
                    }
                };
                known.check(&text, &place, true)?;
            }
        }
        Ok(())
    }

    fn unknown(&self, key: &str, profile: Option<&str>) -> ConfigError {
        let known = match profile {
            Some(_) => Key::ALL.map(Key::name).join(", "),
            None => "default_profile, secret_store, [profile.<name>]".to_owned(),
        };
        ConfigError::UnknownKey {
            key: key.to_owned(),
            place: self.place(profile),
            known,
        }
    }

    /// The profiles, in file order.
    pub fn profiles(&self) -> Vec<String> {
        self.doc
            .get("profile")
            .and_then(Item::as_table_like)
            .map(|t| t.iter().map(|(name, _)| name.to_owned()).collect())
            .unwrap_or_default()
    }

    /// Whether the file has this profile.
    pub fn has_profile(&self, name: &str) -> bool {
        self.profile_table(name).is_some()
    }

    fn profile_table(&self, name: &str) -> Option<&dyn toml_edit::TableLike> {
        self.doc
            .get("profile")
            .and_then(Item::as_table_like)
            .and_then(|t| t.get(name))
            .and_then(Item::as_table_like)
    }

    /// A profile's value for `key`, if set.
    pub fn get(&self, profile: &str, key: Key) -> Option<String> {
        let item = self.profile_table(profile)?.get(key.name())?;
        item.as_str()
            .map(str::to_owned)
            .or_else(|| item.as_integer().map(|n| n.to_string()))
    }

    /// `default_profile`, if set.
    pub fn default_profile(&self) -> Option<String> {
        self.doc
            .get("default_profile")
            .and_then(Item::as_str)
            .map(str::to_owned)
    }

    /// `secret_store`, if set.
    pub fn secret_store(&self) -> Option<SecretMode> {
        self.doc
            .get("secret_store")
            .and_then(Item::as_str)
            .and_then(|m| m.parse().ok())
    }

    /// Creates the profile if it does not exist (an empty table).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidValue`] for a name that is not `[A-Za-z0-9_-]+`.
    pub fn add_profile(&mut self, name: &str) -> Result<bool, ConfigError> {
        check_profile_name(name, &self.place(None))?;
        if self.has_profile(name) {
            return Ok(false);
        }
        let profiles = self.profiles_mut();
        let mut table = Table::new();
        table.set_implicit(false);
        profiles.insert(name, Item::Table(table));
        Ok(true)
    }

    fn profiles_mut(&mut self) -> &mut Table {
        let root = self.doc.as_table_mut();
        if !matches!(root.get("profile"), Some(Item::Table(_))) {
            // `[profile.acme]` headers, without an empty `[profile]` above them; validate()
            // refused anything else under that key.
            let mut profiles = Table::new();
            profiles.set_implicit(true);
            root.insert("profile", Item::Table(profiles));
        }
        match root.get_mut("profile") {
            Some(Item::Table(table)) => table,
            _ => unreachable!("`profile` was made a table above"),
        }
    }

    /// Sets a profile's `key` (creating the profile), after checking the value. `profile`
    /// `None` is refused: every key of [`Key`] belongs to a profile.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidValue`]; [`ConfigError::SecretInConfig`] for a store URL with a
    /// password.
    pub fn set(&mut self, profile: Option<&str>, key: Key, raw: &str) -> Result<(), ConfigError> {
        let Some(profile) = profile else {
            return Err(ConfigError::InvalidValue {
                key: key.name().into(),
                place: self.place(None),
                reason: "belongs to a profile: name one with --profile".into(),
            });
        };
        let place = self.place(Some(profile));
        key.check(raw, &place, true)?;
        self.add_profile(profile)?;
        let raw = raw.trim();
        let new = match key {
            Key::FleetSize => raw.parse::<i64>().map_or_else(|_| value(raw), value),
            _ => value(raw),
        };
        if let Some(Item::Table(table)) = self.profiles_mut().get_mut(profile) {
            match table.get_mut(key.name()) {
                // Keep the decoration (comments, spacing) of a value that is replaced.
                Some(Item::Value(old)) => {
                    let decor = old.decor().clone();
                    let mut new = new.into_value().unwrap_or_else(|_| raw.into());
                    *new.decor_mut() = decor;
                    *old = new;
                }
                _ => {
                    table.insert(key.name(), new);
                }
            }
        }
        Ok(())
    }

    /// Removes a profile's `key`; whether it was set.
    pub fn unset(&mut self, profile: &str, key: Key) -> bool {
        match self.profiles_mut().get_mut(profile) {
            Some(Item::Table(table)) => table.remove(key.name()).is_some(),
            _ => false,
        }
    }

    /// Removes a profile (and `default_profile` if it named it); whether it existed.
    pub fn remove_profile(&mut self, name: &str) -> bool {
        let removed = self.profiles_mut().remove(name).is_some();
        if self.default_profile().as_deref() == Some(name) {
            self.doc.as_table_mut().remove("default_profile");
        }
        removed
    }

    /// Sets (or with `None` removes) `default_profile`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ProfileNotFound`] for a profile the file does not have.
    pub fn set_default_profile(&mut self, name: Option<&str>) -> Result<(), ConfigError> {
        match name {
            Some(name) => {
                if !self.has_profile(name) {
                    self.add_profile(name)?;
                }
                self.set_top_level("default_profile", name);
            }
            None => {
                self.doc.as_table_mut().remove("default_profile");
            }
        }
        Ok(())
    }

    /// Sets `secret_store`.
    pub fn set_secret_store(&mut self, mode: SecretMode) {
        self.set_top_level("secret_store", mode.as_str());
    }

    fn set_top_level(&mut self, key: &str, raw: &str) {
        let root = self.doc.as_table_mut();
        match root.get_mut(key) {
            Some(Item::Value(old)) => {
                let decor = old.decor().clone();
                let mut new: toml_edit::Value = raw.into();
                *new.decor_mut() = decor;
                *old = new;
            }
            _ => {
                // Top-level keys go before the first table, where TOML needs them.
                root.insert(key, value(raw));
                root.sort_values_by(|a, _, b, _| {
                    let rank = |k: &str| TOP_LEVEL_KEYS.iter().position(|t| *t == k);
                    rank(a.get()).cmp(&rank(b.get()))
                });
            }
        }
    }

    /// The text that [`save`](Self::save) writes.
    pub fn to_text(&self) -> String {
        self.doc.to_string()
    }

    /// Writes the file atomically (a temporary file in the same directory, then a rename),
    /// creating the directory when needed.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Write`].
    pub fn save(&self) -> Result<(), ConfigError> {
        write_atomically(&self.path, self.to_text().as_bytes(), false)
    }
}

/// A profile name: letters, digits, `-` and `_` (it is a TOML key and part of messages).
pub(crate) fn check_profile_name(name: &str, place: &str) -> Result<(), ConfigError> {
    if !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(())
    } else {
        Err(ConfigError::InvalidValue {
            key: "profile name".into(),
            place: place.to_owned(),
            reason: "must be 1 to 64 letters, digits, - or _".into(),
        })
    }
}

/// The command that stores a secret of a profile.
pub(crate) fn secret_fix(profile: &str, secret: SecretName) -> String {
    match secret {
        SecretName::ClientSecret => {
            format!("remove it and run: perspio profile add {profile} --client-secret-stdin")
        }
        SecretName::SubscriptionKey => {
            format!("remove it and run: perspio profile add {profile} --subscription-key-stdin")
        }
        SecretName::RefreshToken => {
            format!("remove it and run: perspio auth login --profile {profile}")
        }
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so that a reader sees the
/// old file or the new one; `private` files are created `0600` (on Unix).
pub(crate) fn write_atomically(
    path: &Path,
    bytes: &[u8],
    private: bool,
) -> Result<(), ConfigError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ConfigError::write(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut file = options.open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(ConfigError::write(path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn file_with(text: &str) -> (tempfile::TempDir, Result<ConfigFile, ConfigError>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), text).unwrap();
        let file = ConfigFile::load(dir.path());
        (dir, file)
    }

    #[test]
    fn edits_keep_comments_and_layout() {
        let text = "# my perspio settings\ndefault_profile = \"acme\" # the usual one\n\n\
                    [profile.acme]\n# production\nbase_url = \"https://talk.perspio.io\"  # prod\ntenant_id = \"in-acme\"\n";
        let (_dir, file) = file_with(text);
        let mut file = file.unwrap();

        file.set(Some("acme"), Key::BaseUrl, "https://dev-talk.perspio.io")
            .unwrap();
        file.set(Some("beta"), Key::TenantId, "in-beta").unwrap();

        let out = file.to_text();
        assert!(
            out.starts_with("# my perspio settings\ndefault_profile = \"acme\" # the usual one\n"),
            "{out}"
        );
        assert!(
            out.contains("# production\nbase_url = \"https://dev-talk.perspio.io\"  # prod\n"),
            "{out}"
        );
        assert!(
            out.contains("[profile.beta]\ntenant_id = \"in-beta\"\n"),
            "{out}"
        );
        assert!(!out.contains("[profile]\n"), "{out}");
    }

    #[test]
    fn a_secret_in_the_file_is_refused_with_the_command_that_moves_it() {
        let (_dir, file) = file_with("[profile.acme]\nclient_secret = \"s3cr3t-value\"\n");
        let error = file.unwrap_err();
        let shown = error.to_string();
        assert!(
            matches!(error, ConfigError::SecretInConfig { .. }),
            "{shown}"
        );
        assert!(
            shown.contains("perspio profile add acme --client-secret-stdin"),
            "{shown}"
        );
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
    }

    #[test]
    fn a_store_url_with_a_password_is_refused_in_the_file_and_when_set() {
        let (_dir, file) =
            file_with("[profile.acme]\nredis_url = \"redis://:hunter2@cache:6379\"\n");
        let shown = file.unwrap_err().to_string();
        assert!(
            shown.contains("PERSPIO_REDIS_URL") && !shown.contains("hunter2"),
            "{shown}"
        );

        let (_dir, file) = file_with("");
        let mut file = file.unwrap();
        let error = file
            .set(
                Some("acme"),
                Key::RedisUrl,
                "rediss://:hunter2@cache:6380/0",
            )
            .unwrap_err();
        assert!(matches!(error, ConfigError::SecretInConfig { .. }));
        file.set(Some("acme"), Key::RedisUrl, "rediss://cache:6380/0")
            .unwrap();
        assert!(!file.to_text().contains("hunter2"));
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_place() {
        let (_dir, file) = file_with("[profile.acme]\nbase_ulr = \"https://x\"\n");
        let shown = file.unwrap_err().to_string();
        assert!(
            shown.contains("base_ulr") && shown.contains("[profile.acme]"),
            "{shown}"
        );
        let (_dir, file) = file_with("[profile.acme]\nflow = \"device\"\n");
        let shown = file.unwrap_err().to_string();
        assert!(
            shown.contains("client_credentials or authorization_code"),
            "{shown}"
        );
        let (_dir, file) = file_with("secret_store = \"vault\"\n");
        assert!(
            file.unwrap_err()
                .to_string()
                .contains("auto, keyring, file or memory")
        );
    }

    #[test]
    fn removing_the_default_profile_removes_default_profile() {
        let (_dir, file) =
            file_with("default_profile = \"a\"\n[profile.a]\ntenant_id = \"in-a\"\n[profile.b]\n");
        let mut file = file.unwrap();
        assert!(file.remove_profile("a"));
        assert_eq!(file.default_profile(), None);
        assert_eq!(file.profiles(), ["b"]);
        assert!(!file.remove_profile("a"));
    }

    #[test]
    fn top_level_keys_are_written_before_the_tables() {
        let (_dir, file) = file_with("[profile.a]\ntenant_id = \"in-a\"\n");
        let mut file = file.unwrap();
        file.set_default_profile(Some("a")).unwrap();
        file.set_secret_store(SecretMode::File);
        let text = file.to_text();
        let reparsed: DocumentMut = text.parse().unwrap();
        assert_eq!(reparsed["default_profile"].as_str(), Some("a"), "{text}");
        assert_eq!(reparsed["secret_store"].as_str(), Some("file"), "{text}");
    }

    #[test]
    fn saving_is_atomic_and_creates_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        let mut file = ConfigFile::load(&nested).unwrap();
        file.set(Some("x"), Key::FleetSize, "8").unwrap();
        file.save().unwrap();
        let text = std::fs::read_to_string(nested.join(CONFIG_FILE)).unwrap();
        assert!(text.contains("fleet_size = 8"), "{text}");
        let leftovers = std::fs::read_dir(&nested).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left behind");
        assert_eq!(
            ConfigFile::load(&nested).unwrap().get("x", Key::FleetSize),
            Some("8".into())
        );
    }
}
