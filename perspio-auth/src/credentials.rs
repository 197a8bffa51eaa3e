//! Secrets as types, and the credentials of a PerspioTalk API application.

use std::fmt;

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::error::AuthError;

/// Name of the environment variable holding the Entra application (client) id.
pub const ENV_CLIENT_ID: &str = "PERSPIO_CLIENT_ID";
/// Name of the environment variable holding the Entra client secret.
pub const ENV_CLIENT_SECRET: &str = "PERSPIO_CLIENT_SECRET";
/// Name of the environment variable holding the Perspio tenant id (the `tid` header).
pub const ENV_TENANT_ID: &str = "PERSPIO_TENANT_ID";
/// Name of the environment variable holding the API Management subscription key.
pub const ENV_SUBSCRIPTION_KEY: &str = "PERSPIO_SUBSCRIPTION_KEY";
/// Name of the environment variable that overrides the token URL.
pub const ENV_TOKEN_URL: &str = "PERSPIO_TOKEN_URL";
/// Name of the environment variable that overrides the OAuth2 scope.
pub const ENV_SCOPE: &str = "PERSPIO_SCOPE";

const REDACTED: &str = "[redacted]";

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::from(value.into()))
            }

            /// The secret itself. Call this only where the value must leave the process.
            pub fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({REDACTED})", stringify!($name))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(REDACTED)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.expose_secret() == other.expose_secret()
            }
        }

        impl Eq for $name {}
    };
}

secret_type!(
    /// An Entra client secret. `Debug` and `Display` print a placeholder.
    ClientSecret
);
secret_type!(
    /// A PerspioTalk (Azure API Management) subscription key, sent as
    /// `Ocp-Apim-Subscription-Key`. `Debug` and `Display` print a placeholder.
    SubscriptionKey
);
secret_type!(
    /// An OAuth2 access token. `Debug` and `Display` print a placeholder.
    AccessToken
);
secret_type!(
    /// An OAuth2 refresh token. `Debug` and `Display` print a placeholder.
    RefreshToken
);

/// What a PerspioTalk API application needs to authenticate: Entra client id and secret,
/// Perspio tenant id and subscription key.
///
/// Validated on construction: nothing is empty, and the tenant id and subscription key are
/// valid HTTP header values.
#[derive(Clone)]
pub struct Credentials {
    client_id: String,
    client_secret: ClientSecret,
    tenant_id: String,
    subscription_key: SubscriptionKey,
    pub(crate) tenant_header: HeaderValue,
    pub(crate) subscription_key_header: HeaderValue,
}

impl Credentials {
    /// Credentials given in code.
    ///
    /// # Errors
    ///
    /// [`AuthError::InvalidConfig`] naming the field when a value is empty or not a valid
    /// header value. The value itself is never part of the error.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: ClientSecret,
        tenant_id: impl Into<String>,
        subscription_key: SubscriptionKey,
    ) -> Result<Self, AuthError> {
        let invalid =
            |field: &'static str| move |reason: String| AuthError::InvalidConfig { field, reason };
        Self::validated(
            client_id.into(),
            client_secret,
            tenant_id.into(),
            subscription_key,
            [
                invalid("client_id"),
                invalid("client_secret"),
                invalid("tenant_id"),
                invalid("subscription_key"),
            ],
        )
    }

    /// Credentials from `PERSPIO_CLIENT_ID`, `PERSPIO_CLIENT_SECRET`, `PERSPIO_TENANT_ID` and
    /// `PERSPIO_SUBSCRIPTION_KEY`.
    ///
    /// # Errors
    ///
    /// [`AuthError::MissingEnvVar`] or [`AuthError::InvalidEnvVar`] naming the variable.
    pub fn from_env() -> Result<Self, AuthError> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), but reads variables through `lookup`, so tests need
    /// not touch the process environment.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let env = HashMap::from([
    ///     ("PERSPIO_CLIENT_ID", "my-app"),
    ///     ("PERSPIO_CLIENT_SECRET", "s3cr3t"),
    ///     ("PERSPIO_TENANT_ID", "in-tenant"),
    ///     ("PERSPIO_SUBSCRIPTION_KEY", "key"),
    /// ]);
    /// let creds = perspio_auth::Credentials::from_env_with(|name| env.get(name).map(|v| v.to_string()))?;
    /// assert_eq!(creds.tenant_id(), "in-tenant");
    /// # Ok::<(), perspio_auth::AuthError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, AuthError> {
        let get = |name: &'static str| lookup(name).ok_or(AuthError::MissingEnvVar { name });
        let invalid =
            |name: &'static str| move |reason: String| AuthError::InvalidEnvVar { name, reason };
        Self::validated(
            get(ENV_CLIENT_ID)?,
            ClientSecret::new(get(ENV_CLIENT_SECRET)?),
            get(ENV_TENANT_ID)?,
            SubscriptionKey::new(get(ENV_SUBSCRIPTION_KEY)?),
            [
                invalid(ENV_CLIENT_ID),
                invalid(ENV_CLIENT_SECRET),
                invalid(ENV_TENANT_ID),
                invalid(ENV_SUBSCRIPTION_KEY),
            ],
        )
    }

    fn validated<F: Fn(String) -> AuthError>(
        client_id: String,
        client_secret: ClientSecret,
        tenant_id: String,
        subscription_key: SubscriptionKey,
        [bad_client_id, bad_secret, bad_tenant, bad_key]: [F; 4],
    ) -> Result<Self, AuthError> {
        if client_id.trim().is_empty() {
            return Err(bad_client_id("must not be empty".into()));
        }
        if client_secret.expose_secret().is_empty() {
            return Err(bad_secret("must not be empty".into()));
        }
        let tenant_header = header_value(&tenant_id).map_err(bad_tenant)?;
        let mut subscription_key_header =
            header_value(subscription_key.expose_secret()).map_err(bad_key)?;
        subscription_key_header.set_sensitive(true);
        Ok(Self {
            client_id,
            client_secret,
            tenant_id,
            subscription_key,
            tenant_header,
            subscription_key_header,
        })
    }

    /// The Entra application (client) id. Not a secret.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The Entra client secret.
    pub fn client_secret(&self) -> &ClientSecret {
        &self.client_secret
    }

    /// The Perspio tenant id, sent as the `tid` header. Not a secret.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The subscription key, sent as `Ocp-Apim-Subscription-Key`.
    pub fn subscription_key(&self) -> &SubscriptionKey {
        &self.subscription_key
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("tenant_id", &self.tenant_id)
            .field("subscription_key", &self.subscription_key)
            .finish()
    }
}

fn header_value(value: &str) -> Result<HeaderValue, String> {
    if value.trim().is_empty() {
        return Err("must not be empty".into());
    }
    HeaderValue::from_str(value)
        .map_err(|_| "contains characters that are not allowed in an http header".into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        move |name| map.get(name).map(|v| (*v).to_owned())
    }

    const FULL: [(&str, &str); 4] = [
        (ENV_CLIENT_ID, "client"),
        (ENV_CLIENT_SECRET, "hunter2-secret"),
        (ENV_TENANT_ID, "in-tenant"),
        (ENV_SUBSCRIPTION_KEY, "subkey-value"),
    ];

    #[test]
    fn credentials_are_read_from_the_four_environment_variables() {
        let creds = Credentials::from_env_with(env(&FULL)).unwrap();
        assert_eq!(creds.client_id(), "client");
        assert_eq!(creds.client_secret().expose_secret(), "hunter2-secret");
        assert_eq!(creds.tenant_id(), "in-tenant");
        assert_eq!(creds.subscription_key().expose_secret(), "subkey-value");
        assert!(creds.subscription_key_header.is_sensitive());
    }

    #[test]
    fn each_missing_variable_is_named_in_the_error() {
        for missing in [
            ENV_CLIENT_ID,
            ENV_CLIENT_SECRET,
            ENV_TENANT_ID,
            ENV_SUBSCRIPTION_KEY,
        ] {
            let pairs: Vec<_> = FULL
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            let err = Credentials::from_env_with(env(&pairs)).unwrap_err();
            assert!(
                matches!(err, AuthError::MissingEnvVar { name } if name == missing),
                "{err:?}"
            );
            assert!(err.to_string().contains(missing));
        }
    }

    #[test]
    fn empty_or_non_header_values_are_refused_naming_the_variable_but_not_the_value() {
        for (var, bad) in [
            (ENV_CLIENT_ID, ""),
            (ENV_CLIENT_SECRET, ""),
            (ENV_TENANT_ID, "  "),
            (ENV_SUBSCRIPTION_KEY, "key\nwith-newline"),
        ] {
            let pairs: Vec<_> = FULL
                .iter()
                .map(|(k, v)| if *k == var { (*k, bad) } else { (*k, *v) })
                .collect();
            let err = Credentials::from_env_with(env(&pairs)).unwrap_err();
            assert!(
                matches!(&err, AuthError::InvalidEnvVar { name, .. } if *name == var),
                "{err:?}"
            );
            assert!(err.to_string().contains(var));
            if !bad.trim().is_empty() {
                assert!(!err.to_string().contains(bad));
                assert!(!format!("{err:?}").contains(bad));
            }
        }
    }

    #[test]
    fn credentials_given_in_code_are_validated_by_field_name() {
        let err = Credentials::new(
            "client",
            ClientSecret::new("s"),
            "in-tenant",
            SubscriptionKey::new(""),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            AuthError::InvalidConfig {
                field: "subscription_key",
                ..
            }
        ));
    }

    #[test]
    fn secret_types_print_a_placeholder() {
        let creds = Credentials::from_env_with(env(&FULL)).unwrap();
        let shown = format!(
            "{creds:?} {} {} {:?} {} {:?} {}",
            creds.client_secret(),
            creds.subscription_key(),
            AccessToken::new("tok-abc"),
            AccessToken::new("tok-abc"),
            RefreshToken::new("rt-abc"),
            RefreshToken::new("rt-abc"),
        );
        for secret in ["hunter2-secret", "subkey-value", "tok-abc", "rt-abc"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("[redacted]"));
    }
}
