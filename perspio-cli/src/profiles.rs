//! `perspio config list|get|set|unset` and `perspio profile add|remove|list`: config.toml
//! (perspio-config: comments and layout kept, never a secret) and the profiles' secrets.

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;

use perspio_config::{ConfigFile, Key, SecretMode, SecretName};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};

use crate::config::{GlobalArgs, config_error};
use crate::exit::{CliError, Exit};

/// Options of `perspio config`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
enum ConfigCommand {
    /// Every setting of the selected profile as it resolves now (flags, PERSPIO_* variables,
    /// the profile, the defaults); secrets only as `<set>`.
    List {
        /// Also say where each value came from.
        #[arg(long)]
        show_origin: bool,
    },
    /// One setting's resolved value, or a top-level key (default_profile, secret_store).
    Get {
        /// A profile key (base_url, tenant_id, …) or default_profile / secret_store.
        key: String,
    },
    /// Sets a key of the selected profile (--profile, PERSPIO_PROFILE, default_profile), or
    /// a top-level key; comments and layout of config.toml are kept. Secrets are refused:
    /// use `perspio profile add P --client-secret-stdin`.
    Set {
        /// A profile key or default_profile / secret_store.
        key: String,
        /// The value.
        value: String,
    },
    /// Removes a key of the selected profile, or a top-level key.
    Unset {
        /// A profile key or default_profile / secret_store.
        key: String,
    },
}

/// Options of `perspio profile`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ProfileArgs {
    #[command(subcommand)]
    command: ProfileCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
enum ProfileCommand {
    /// Creates a profile, or sets the given keys of an existing one. Settings come from the
    /// flags (--base-url, --token-url, --tenant-id, --client-id, --scope, --output and the
    /// ones below); secrets from stdin with --client-secret-stdin and
    /// --subscription-key-stdin (one per line: the client secret, then the subscription key;
    /// stdin is not read without them) or from --client-secret / --subscription-key (visible
    /// in the process list), into the secret store, never into config.toml.
    Add(AddArgs),
    /// Removes a profile and its stored secrets.
    Remove {
        /// The profile.
        name: String,
    },
    /// The profiles: name, default, flow, host, tenant, application, stored secrets.
    List,
}

#[derive(Debug, Clone, clap::Args)]
struct AddArgs {
    /// The profile's name: letters, digits, - and _.
    name: String,
    /// client_credentials (the application's token, read only) or authorization_code (a
    /// user's login: then run `perspio auth login --profile NAME`).
    #[arg(long, value_parser = ["client_credentials", "authorization_code"])]
    flow: Option<String>,
    /// A client-side rate limit: documented (PerspioTalk's documented limits) or off.
    #[arg(long, value_parser = ["documented", "off"])]
    rate_limit: Option<String>,
    /// A fleet's Redis, without a password (a URL with one belongs in PERSPIO_REDIS_URL).
    #[arg(long, value_name = "URL")]
    redis_url: Option<String>,
    /// A fleet's Memcached, without a password.
    #[arg(long, value_name = "URL")]
    memcached_url: Option<String>,
    /// How many processes share the application's budget.
    #[arg(long, value_name = "N")]
    fleet_size: Option<u32>,
    /// Read the client secret from the first line of stdin.
    #[arg(long)]
    client_secret_stdin: bool,
    /// Read the subscription key from the next line of stdin.
    #[arg(long)]
    subscription_key_stdin: bool,
    /// Make it the default profile.
    #[arg(long)]
    default: bool,
}

/// The configuration directory, or the error that says how to have one.
pub(crate) fn config_dir() -> Result<PathBuf, CliError> {
    perspio_config::config_dir().ok_or_else(|| {
        CliError::new(
            Exit::Usage,
            "no configuration directory: no home directory is known; set PERSPIO_CONFIG_DIR",
        )
    })
}

fn load() -> Result<ConfigFile, CliError> {
    ConfigFile::load(&config_dir()?).map_err(|e| config_error(&e))
}

fn save(file: &ConfigFile) -> Result<(), CliError> {
    file.save().map_err(|e| config_error(&e))
}

fn say(line: &str) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "perspio: {}",
        perspio_core::text::message(line)
    );
}

/// Runs `perspio config …`.
pub(crate) fn run_config(globals: &GlobalArgs, args: &ConfigArgs) -> Result<(), CliError> {
    match &args.command {
        ConfigCommand::List { show_origin } => list(globals, *show_origin),
        ConfigCommand::Get { key } => get(globals, key),
        ConfigCommand::Set { key, value } => set(globals, key, Some(value)),
        ConfigCommand::Unset { key } => set(globals, key, None),
    }
}

fn resolved(globals: &GlobalArgs) -> Result<perspio_config::Resolved, CliError> {
    globals
        .resolver(
            |name| std::env::var(name).ok(),
            perspio_config::config_dir(),
        )
        .resolve()
        .map_err(|e| config_error(&e))
}

fn list(globals: &GlobalArgs, show_origin: bool) -> Result<(), CliError> {
    let resolved = resolved(globals)?;
    let printer = crate::printer(globals)?;
    let entries = resolved.entries();
    if show_origin {
        let rows: Vec<Value> = entries
            .iter()
            .map(|e| json!({"key": e.key, "value": e.value, "origin": e.origin.to_string()}))
            .collect();
        printer.print(&rows)
    } else {
        let map: serde_json::Map<String, Value> = entries
            .into_iter()
            .map(|e| (e.key.to_owned(), e.value.map_or(Value::Null, Value::String)))
            .collect();
        printer.print(&map)
    }
}

/// A key that is no setting of a profile.
fn unknown_key(key: &str) -> CliError {
    CliError::new(
        Exit::Usage,
        format!(
            "unknown key `{}`; known: default_profile, secret_store, {}",
            perspio_core::text::remote(key),
            Key::ALL.map(Key::name).join(", ")
        ),
    )
}

fn get(globals: &GlobalArgs, key: &str) -> Result<(), CliError> {
    let resolved = resolved(globals)?;
    let value = match key {
        "default_profile" => resolved.file().and_then(ConfigFile::default_profile),
        "secret_store" => Some(resolved.secret_mode().as_str().to_owned()),
        _ => {
            if SecretName::from_name(key).is_some() {
                return Err(CliError::new(
                    Exit::Usage,
                    format!("{key} is a secret: `perspio auth status` says where it is kept"),
                ));
            }
            let key = Key::from_name(key).ok_or_else(|| unknown_key(key))?;
            match resolved.value(key) {
                Some(value) => Some(value),
                None => {
                    return Err(CliError::new(
                        Exit::Other,
                        resolved.missing(key).to_string(),
                    ));
                }
            }
        }
    };
    if let Some(value) = value {
        let _ = writeln!(std::io::stdout().lock(), "{value}");
    }
    Ok(())
}

/// The profile `config set` writes to: --profile, PERSPIO_PROFILE, default_profile.
fn selected_profile(globals: &GlobalArgs, file: &ConfigFile) -> Result<String, CliError> {
    globals
        .profile
        .clone()
        .or_else(|| {
            std::env::var(perspio_config::ENV_PROFILE)
                .ok()
                .filter(|p| !p.trim().is_empty())
        })
        .or_else(|| file.default_profile())
        .ok_or_else(|| {
            CliError::new(
                Exit::Usage,
                "which profile? name it with --profile (or PERSPIO_PROFILE, default_profile)",
            )
        })
}

fn set(globals: &GlobalArgs, key: &str, value: Option<&String>) -> Result<(), CliError> {
    let mut file = load()?;
    match key {
        "default_profile" => {
            if let Some(name) = value
                && !file.has_profile(name)
            {
                return Err(config_error(
                    &perspio_config::ConfigError::ProfileNotFound {
                        name: name.clone(),
                        via: "config set default_profile".into(),
                        path: Some(file.path().to_owned()),
                        known: file.profiles(),
                    },
                ));
            }
            file.set_default_profile(value.map(String::as_str))
                .map_err(|e| config_error(&e))?;
        }
        "secret_store" => match value {
            Some(mode) => {
                let mode: SecretMode = mode.parse().map_err(|reason: String| {
                    CliError::new(Exit::Usage, format!("invalid secret_store: {reason}"))
                })?;
                file.set_secret_store(mode);
            }
            None => file.set_secret_store(SecretMode::Auto),
        },
        _ => {
            if let Some(secret) = SecretName::from_name(key) {
                let profile = selected_profile(globals, &file).unwrap_or_else(|_| "<NAME>".into());
                let fix = match secret {
                    SecretName::RefreshToken => format!("perspio auth login --profile {profile}"),
                    _ => format!(
                        "perspio profile add {profile} --{}-stdin",
                        secret.name().replace('_', "-")
                    ),
                };
                return Err(CliError::new(
                    Exit::Usage,
                    format!("{key} is a secret and config.toml never holds one; fix: {fix}"),
                ));
            }
            let key = Key::from_name(key).ok_or_else(|| unknown_key(key))?;
            let profile = selected_profile(globals, &file)?;
            match value {
                Some(value) => file
                    .set(Some(&profile), key, value)
                    .map_err(|e| config_error(&e))?,
                None => {
                    file.unset(&profile, key);
                }
            }
        }
    }
    save(&file)?;
    say(&format!("{} updated", file.path().display()));
    Ok(())
}

/// Runs `perspio profile …`.
pub(crate) fn run_profile(globals: &GlobalArgs, args: &ProfileArgs) -> Result<(), CliError> {
    match &args.command {
        ProfileCommand::Add(add_args) => add(globals, add_args),
        ProfileCommand::Remove { name } => remove(globals, name),
        ProfileCommand::List => list_profiles(globals),
    }
}

/// Reads one secret per line from stdin.
fn read_stdin_secrets(count: usize) -> Result<Vec<SecretString>, CliError> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock();
    let mut secrets = Vec::new();
    for _ in 0..count {
        let mut line = String::new();
        lines
            .read_line(&mut line)
            .map_err(|e| CliError::new(Exit::Other, format!("cannot read stdin: {e}")))?;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return Err(CliError::new(
                Exit::Usage,
                "a secret was asked for on stdin (one per line: the client secret, then the \
                 subscription key) and the line is empty",
            ));
        }
        secrets.push(SecretString::from(line.to_owned()));
    }
    Ok(secrets)
}

fn add(globals: &GlobalArgs, args: &AddArgs) -> Result<(), CliError> {
    let mut file = load()?;
    let name = args.name.as_str();
    let created = file.add_profile(name).map_err(|e| config_error(&e))?;
    let output = globals
        .output
        .and_then(|o| clap::ValueEnum::to_possible_value(&o))
        .map(|v| v.get_name().to_owned());
    let fleet_size = args.fleet_size.map(|n| n.to_string());
    let given: [(Key, Option<&String>); 11] = [
        (Key::BaseUrl, globals.base_url.as_ref()),
        (Key::TokenUrl, globals.token_url.as_ref()),
        (Key::TenantId, globals.tenant_id.as_ref()),
        (Key::ClientId, globals.client_id.as_ref()),
        (Key::Scope, globals.scope.as_ref()),
        (Key::Flow, args.flow.as_ref()),
        (Key::Output, output.as_ref()),
        (Key::RateLimit, args.rate_limit.as_ref()),
        (Key::RedisUrl, args.redis_url.as_ref()),
        (Key::MemcachedUrl, args.memcached_url.as_ref()),
        (Key::FleetSize, fleet_size.as_ref()),
    ];
    for (key, value) in given {
        if let Some(value) = value {
            file.set(Some(name), key, value)
                .map_err(|e| config_error(&e))?;
        }
    }
    if args.default {
        file.set_default_profile(Some(name))
            .map_err(|e| config_error(&e))?;
    }
    // The secrets, before anything is written: a refused stdin leaves no half profile.
    let mut from_stdin = read_stdin_secrets(
        usize::from(args.client_secret_stdin) + usize::from(args.subscription_key_stdin),
    )?
    .into_iter();
    let mut secrets: Vec<(SecretName, SecretString)> = Vec::new();
    if args.client_secret_stdin {
        secrets.extend(from_stdin.next().map(|s| (SecretName::ClientSecret, s)));
    } else if let Some(secret) = &globals.client_secret {
        secrets.push((SecretName::ClientSecret, SecretString::from(secret.clone())));
    }
    if args.subscription_key_stdin {
        secrets.extend(from_stdin.next().map(|s| (SecretName::SubscriptionKey, s)));
    } else if let Some(key) = &globals.subscription_key {
        secrets.push((SecretName::SubscriptionKey, SecretString::from(key.clone())));
    }
    // The secrets first, then the settings: a store that refuses them (no keyring service, a
    // build without the `keyring` feature) leaves config.toml as it was, not a profile whose
    // settings changed and whose secrets did not.
    let mut kept = None;
    if !secrets.is_empty() {
        let store = globals
            .resolver(|n| std::env::var(n).ok(), Some(config_dir()?))
            .open_store()
            .map_err(|e| config_error(&e))?;
        store
            .update(&mut |stored| {
                for (secret, value) in &secrets {
                    stored.set(name, *secret, value.expose_secret());
                }
            })
            .map_err(|e| config_error(&e))?;
        kept = Some(store.location());
    }
    save(&file).map_err(|mut e| {
        if kept.is_some() {
            e.message = format!(
                "{}; the secrets given were stored, so running the same `profile add` again \
                 once config.toml can be written completes the profile",
                e.message
            );
        }
        e
    })?;
    say(&format!(
        "profile {name} {} in {}",
        if created { "created" } else { "updated" },
        file.path().display()
    ));
    if let Some(location) = kept {
        say(&format!(
            "{} kept in: {location}",
            secrets
                .iter()
                .map(|(s, _)| s.name())
                .collect::<Vec<_>>()
                .join(" and ")
        ));
        if let Some(notice) = location.notice() {
            say(&format!("note: {notice}"));
        }
    }
    Ok(())
}

fn remove(globals: &GlobalArgs, name: &str) -> Result<(), CliError> {
    let mut file = load()?;
    if !file.remove_profile(name) {
        return Err(config_error(
            &perspio_config::ConfigError::ProfileNotFound {
                name: name.to_owned(),
                via: "profile remove".into(),
                path: Some(file.path().to_owned()),
                known: file.profiles(),
            },
        ));
    }
    save(&file)?;
    let store = globals
        .resolver(|n| std::env::var(n).ok(), Some(config_dir()?))
        .open_store()
        .map_err(|e| config_error(&e))?;
    let mut removed = Vec::new();
    store
        .update(&mut |stored| removed = stored.remove_profile(name))
        .map_err(|e| config_error(&e))?;
    say(&format!(
        "profile {name} removed from {}, and {} stored secret(s)",
        file.path().display(),
        removed.len()
    ));
    Ok(())
}

fn list_profiles(globals: &GlobalArgs) -> Result<(), CliError> {
    let file = load()?;
    let store = globals
        .resolver(|n| std::env::var(n).ok(), Some(config_dir()?))
        .open_store()
        .map_err(|e| config_error(&e))?;
    let stored = store.load().ok();
    let default = file.default_profile();
    let rows: Vec<Value> = file
        .profiles()
        .iter()
        .map(|name| {
            let secrets: Vec<&str> = stored
                .as_ref()
                .map(|s| s.names(name).into_iter().map(SecretName::name).collect())
                .unwrap_or_default();
            json!({
                "name": name,
                "default": default.as_deref() == Some(name.as_str()),
                "flow": file.get(name, Key::Flow).unwrap_or_else(|| "client_credentials".into()),
                "base_url": file.get(name, Key::BaseUrl),
                "tenant_id": file.get(name, Key::TenantId),
                "client_id": file.get(name, Key::ClientId),
                "secrets": secrets.join(", "),
            })
        })
        .collect();
    crate::printer(globals)?.print(&rows)
}
