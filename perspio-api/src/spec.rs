//! The spec the client is generated from, embedded.

/// The normalised PerspioTalk spec (OpenAPI 3.0, JSON) this client was generated from:
/// `openapi/perspio-talk.normalized.json`, derived from `openapi/perspio-talk.yaml` by
/// `cargo xtask regen`.
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
// The one place that names the file; it moves into this package later (see the crate docs'
// limitations).
pub const NORMALIZED_SPEC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../openapi/perspio-talk.normalized.json"
));
