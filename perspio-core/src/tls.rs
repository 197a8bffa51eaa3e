//! The TLS crypto provider of every HTTP client the perspio crates build.
//!
//! reqwest is built with rustls and no provider of its own (its `rustls` feature would compile
//! aws-lc-sys, most of a clean build). [`install_crypto_provider`] installs the provider this
//! crate's features name as the process default, once, unless one is installed already:
//!
//! - `ring` (the default of `perspio-api`, `perspio-auth` and `perspio-import`): rustls on `ring`;
//! - `aws-lc-rs`: rustls on `aws-lc-rs` (chosen when both are on).
//!
//! The perspio constructors call it before they build a `reqwest::Client`. A program that builds
//! its own `reqwest::Client` before it has built any perspio client calls it first (or installs a
//! provider of its choice: an installed provider is kept).
//!
//! # Limitations
//! The provider is process-wide (rustls' `CryptoProvider::install_default`). With neither feature
//! on, nothing is installed and reqwest refuses to build a client until the program installs one.

/// Installs the crate's rustls crypto provider as the process default, unless a provider is
/// installed already. Cheap after the first call; safe to call from any thread.
pub fn install_crypto_provider() {
    #[cfg(any(feature = "ring", feature = "aws-lc-rs"))]
    {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            if rustls::crypto::CryptoProvider::get_default().is_none() {
                #[cfg(feature = "aws-lc-rs")]
                let provider = rustls::crypto::aws_lc_rs::default_provider();
                #[cfg(not(feature = "aws-lc-rs"))]
                let provider = rustls::crypto::ring::default_provider();
                // Another thread may have installed one in between: that one is kept.
                let _ = provider.install_default();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    #[test]
    #[cfg(any(feature = "ring", feature = "aws-lc-rs"))]
    fn a_provider_is_installed_and_kept() {
        super::install_crypto_provider();
        let first = rustls::crypto::CryptoProvider::get_default().cloned();
        assert!(first.is_some());
        super::install_crypto_provider();
        let second = rustls::crypto::CryptoProvider::get_default().cloned();
        assert!(std::sync::Arc::ptr_eq(&first.unwrap(), &second.unwrap()));
    }
}
