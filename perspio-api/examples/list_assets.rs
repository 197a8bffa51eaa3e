//! Lists the assets of your tenant.
//!
//! ```sh
//! export PERSPIO_CLIENT_ID=… PERSPIO_CLIENT_SECRET=… PERSPIO_TENANT_ID=in-… PERSPIO_SUBSCRIPTION_KEY=…
//! cargo run -p perspio-api --example list_assets
//! ```
#![allow(clippy::print_stdout, reason = "an example prints its result")]

use perspio_api::{Client, types};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::from_env()?;
    match client.list_assets().call().await?.into_inner() {
        types::AssetList::Array(assets) => {
            println!("{} assets", assets.len());
            for asset in &assets {
                // Asset fields are not published: all of them are kept in an open map.
                println!("{}", serde_json::Value::Object(asset.0.clone()));
            }
        }
        types::AssetList::OpenObject(other) => {
            println!("{}", serde_json::Value::Object(other.0.clone()));
        }
    }
    Ok(())
}
