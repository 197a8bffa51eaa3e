//! The spec the client is generated from, embedded.

/// The normalised PerspioTalk spec (OpenAPI 3.0, JSON) this client was generated from.
///
/// It is the package's own `spec/perspio-talk.normalized.json`, the same file `build.rs`
/// generates the client from: in this repository a copy of
/// `openapi/perspio-talk.normalized.json` that `cargo xtask regen` writes from
/// `openapi/perspio-talk.yaml` (and `cargo xtask regen --check` keeps equal).
///
/// Use it to derive anything that must agree with the client, such as the routes of a stand-in
/// server (`perspio-sandbox` reads its routes from it). It is the text as checked in; it is
/// valid JSON.
///
/// ```
/// let spec: serde_json::Value = serde_json::from_str(perspio_api::NORMALIZED_SPEC).unwrap();
/// assert!(spec["openapi"].as_str().unwrap().starts_with("3.0."));
/// assert!(spec["paths"]["/assets/v3/"]["get"]["operationId"] == "list_assets");
/// ```
pub const NORMALIZED_SPEC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/perspio-talk.normalized.json"
));
