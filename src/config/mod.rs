//! The gateway configuration (CONTRACT section 1): types, parsing and validation.
//!
//! `GATEWAY_CONFIG` is parsed once per isolate: `${NAME}` references are substituted
//! ([`interpolate`]), the JSON is typed with unknown fields refused, and [`validate`] checks what
//! types cannot (duplicate service names, references between sections), and [`demo_token`] refuses the
//! published demo token outside a local demo. Every error names the field.

mod consumers;
mod demo_token;
mod duration;
mod interpolate;
mod limits;
mod origin_url;
pub mod paths;
pub mod resilience;
pub mod services;
mod validate;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

pub use consumers::{ConsumerConfig, Grant};
pub use duration::{TimeDelta, Timeout};
pub use limits::{FailMode, LimitConfig, LimitKey, RouteWord};
pub use resilience::{CircuitConfig, RetriesConfig};
pub use services::{BasicAuth, Exposure, RestConfig, ServiceConfig};

use crate::error::{GatewayError, Result};

/// Default for `proxy.max_body_bytes`: 32 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub auth: Option<AuthConfig>,
    #[serde(default)]
    pub cors: CorsConfig,
    #[serde(default)]
    pub proxy: ProxyConfig,
    #[serde(default)]
    pub extensions: Extensions,
    #[serde(default)]
    pub chat: ChatConfig,
    #[serde(default)]
    pub dialog: Vec<DialogNodeConfig>,
    /// Rate limits and quotas, checked after authorization.
    #[serde(default)]
    pub limits: Vec<LimitConfig>,
    /// Per-minute request analytics (on wherever their storage is bound).
    #[serde(default)]
    pub analytics: AnalyticsConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsConfig {
    /// `false` counts nothing and answers `/admin/analytics` with 404.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig { enabled: true }
    }
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub token: Option<String>,
    pub jwt: Option<JwtConfig>,
    pub oidc: Option<OidcConfig>,
    #[serde(default)]
    pub webhook: WebhookAuth,
    /// Named callers with their own keys, each allowed part of the gateway.
    #[serde(default)]
    pub consumers: Vec<ConsumerConfig>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookAuth {
    #[default]
    Public,
    Required,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum JwtAlgorithm {
    #[default]
    HS256,
    HS384,
    HS512,
    RS256,
    ES256,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    pub secret: Option<String>,
    pub public_key: Option<String>,
    #[serde(default)]
    pub algorithm: JwtAlgorithm,
    /// Seconds of clock skew tolerated on `exp` and `nbf` (Rasa's default is 180).
    #[serde(default = "default_leeway")]
    pub leeway: u64,
}

fn default_leeway() -> u64 {
    180
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    pub issuer: String,
    pub audience: String,
    /// Defaults to `{issuer}/.well-known/jwks.json`.
    pub jwks_uri: Option<String>,
    #[serde(default = "default_leeway_oidc")]
    pub leeway: u64,
}

fn default_leeway_oidc() -> u64 {
    60
}

impl OidcConfig {
    pub fn jwks_url(&self) -> String {
        match &self.jwks_uri {
            Some(uri) => uri.clone(),
            None => format!("{}/.well-known/jwks.json", self.issuer.trim_end_matches('/')),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    #[serde(default)]
    pub allow_origins: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    pub max_body_bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extensions {
    #[serde(default)]
    pub rest: RestConfig,
    /// MaxBot bots list other extensions (babel, datetime, ...); accepted and ignored when empty.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    pub upstream: Option<String>,
    pub nlu: Option<String>,
    /// Whether each sender's conversation is kept (slots, user, followups, the tracker).
    #[serde(default)]
    pub conversations: Conversations,
    /// Seconds an untouched conversation is kept.
    #[serde(default = "default_retention")]
    pub retention: u64,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            upstream: None,
            nlu: None,
            conversations: Conversations::default(),
            retention: default_retention(),
        }
    }
}

/// Default for `chat.retention`: 7 days.
fn default_retention() -> u64 {
    7 * 24 * 3600
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Conversations {
    #[default]
    On,
    Off,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialogNodeConfig {
    pub condition: String,
    pub response: String,
    /// An optional label, used in error messages instead of the node's index.
    pub label: Option<String>,
    /// Nodes matched first on the sender's next message, after this node answered.
    #[serde(default)]
    pub followup: Vec<DialogNodeConfig>,
}

impl Config {
    /// Parses `raw` (the JSON tree of `GATEWAY_CONFIG`), substituting `${NAME}` with `lookup`.
    pub fn parse(mut raw: Value, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
        interpolate::interpolate(&mut raw, lookup)?;
        let mut config: Config = serde_path_to_error::deserialize(raw).map_err(|error| {
            let field = error.path().to_string();
            let message = without_values(&error.inner().to_string());
            GatewayError::config(format!("invalid configuration at '{field}': {message}"))
                .with_details(serde_json::json!({ "field": field }))
        })?;
        validate::validate(&config)?;
        demo_token::refuse_demo_token(&config, lookup)?;
        for service in &mut config.extensions.rest.services {
            service.parsed_base_url = service.base_url.as_deref().and_then(|base| url::Url::parse(base).ok());
        }
        Ok(config)
    }

    /// Parses the text form of `GATEWAY_CONFIG`.
    pub fn parse_str(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
        let raw: Value = serde_json::from_str(text).map_err(|error| {
            GatewayError::config(format!("GATEWAY_CONFIG is not valid JSON: {error}"))
                .with_details(serde_json::json!({ "field": "GATEWAY_CONFIG" }))
        })?;
        Self::parse(raw, lookup)
    }

    /// The largest request body proxied to `service`: its own limit, else `proxy.max_body_bytes`.
    pub fn max_body_bytes(&self, service: &ServiceConfig) -> u64 {
        service.max_body_bytes.or(self.proxy.max_body_bytes).unwrap_or(DEFAULT_MAX_BODY_BYTES)
    }
}

/// serde's message about a wrong value, without the value: `${NAME}` may have put a secret there,
/// and configuration errors are answered to every client. `invalid type: string "s3cret", expected
/// u64` becomes `invalid type: string, expected u64`; `unknown variant `x`, expected one of ...`
/// becomes `unknown variant, expected one of ...`. Messages that name only fields stay whole.
fn without_values(message: &str) -> String {
    const EXPECTED: &str = ", expected ";
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            // The value comes first and may itself contain ", expected ": the last one is serde's.
            let (unexpected, expected) = rest.rfind(EXPECTED).map_or((rest, ""), |at| rest.split_at(at));
            // serde writes the value after its kind: string "...", integer `...`, floating point `...`.
            let kind = unexpected.split(['"', '`']).next().unwrap_or_default().trim();
            return format!("{prefix}{kind}{expected}");
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        return match rest.rfind(EXPECTED).or_else(|| rest.rfind(", there are no variants")) {
            Some(at) => format!("unknown variant{}", &rest[at..]),
            None => "unknown variant".to_string(),
        };
    }
    let names_fields_only =
        ["missing field ", "unknown field ", "duplicate field ", "invalid length ", "data did not match any variant"];
    if names_fields_only.iter().any(|prefix| message.starts_with(prefix)) {
        return message.to_string();
    }
    // Any other message: only what precedes a quoted or backquoted part.
    message.split(['"', '`']).next().unwrap_or_default().trim_end_matches([' ', ':', ',']).to_string()
}

#[cfg(test)]
mod tests;
