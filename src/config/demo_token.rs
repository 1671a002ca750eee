//! The demo token refused outside a demo.
//!
//! wrangler.toml ships a working configuration whose `AUTH_TOKEN` is published in this repository.
//! A gateway deployed with it would be protected by a key everyone knows, so that value is a
//! configuration error unless the variable `GATEWAY_DEMO` is `true`. Only local runs set it
//! (`npm run dev` and `npm run demo` pass `--var GATEWAY_DEMO:true` to `wrangler dev`; deploy
//! never sees those flags).

use super::Config;
use crate::error::{GatewayError, Result};

/// `AUTH_TOKEN` in wrangler.toml's `[vars]`.
pub const DEMO_TOKEN: &str = "demo-token-change-me";

/// The variable that says this run is a local demo.
pub const DEMO_FLAG: &str = "GATEWAY_DEMO";

/// Refuses the demo token as `auth.token` or a consumer's key, unless `GATEWAY_DEMO` is `true`.
pub fn refuse_demo_token(config: &Config, lookup: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    if lookup(DEMO_FLAG).is_some_and(|flag| flag.trim().eq_ignore_ascii_case("true")) {
        return Ok(());
    }
    let Some(auth) = &config.auth else { return Ok(()) };
    let token = auth.token.iter().map(|token| ("auth.token".to_string(), token));
    let keys =
        auth.consumers.iter().enumerate().map(|(i, consumer)| (format!("auth.consumers[{i}].key"), &consumer.key));
    match token.chain(keys).find(|(_, secret)| secret.as_str() == DEMO_TOKEN) {
        None => Ok(()),
        Some((field, _)) => Err(GatewayError::config(format!(
            "{field}: is the demo token published with this gateway; set a real secret \
             (`wrangler secret put AUTH_TOKEN`, after removing AUTH_TOKEN from wrangler.toml's [vars]), \
             or set {DEMO_FLAG}=true for a local demo"
        ))
        .with_details(serde_json::json!({ "field": field }))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn load(auth: serde_json::Value, demo: Option<&str>) -> Result<Config> {
        let lookup = move |name: &str| match name {
            "AUTH_TOKEN" => Some(DEMO_TOKEN.to_string()),
            DEMO_FLAG => demo.map(str::to_string),
            _ => None,
        };
        Config::parse(json!({ "auth": auth }), &lookup)
    }

    #[test]
    fn the_demo_token_is_a_configuration_error_naming_the_field_and_the_fix() {
        let error = load(json!({ "token": "${AUTH_TOKEN}" }), None).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("auth.token: is the demo token"), "{message}");
        assert!(message.contains("wrangler secret put AUTH_TOKEN"), "{message}");
        assert!(!message.contains(DEMO_TOKEN), "the value is not repeated: {message}");
        for flag in ["false", "1", ""] {
            assert!(load(json!({ "token": "${AUTH_TOKEN}" }), Some(flag)).is_err(), "{flag:?}");
        }
    }

    #[test]
    fn a_consumer_key_equal_to_the_demo_token_is_refused_too() {
        let auth =
            json!({ "token": "real", "consumers": [{ "name": "shop", "key": "${AUTH_TOKEN}", "allow": ["webhook"] }] });
        let message = load(auth, None).unwrap_err().to_string();
        assert!(message.contains("auth.consumers[0].key: is the demo token"), "{message}");
    }

    #[test]
    fn a_local_demo_and_real_tokens_load() {
        assert!(load(json!({ "token": "${AUTH_TOKEN}" }), Some("true")).is_ok());
        assert!(load(json!({ "token": "${AUTH_TOKEN}" }), Some(" TRUE ")).is_ok());
        assert!(load(json!({ "token": "a-real-secret" }), None).is_ok());
        assert!(Config::parse(json!({}), &|_| None).is_ok(), "an open gateway has no token to refuse");
    }
}
