//! The claims of an OIDC access token that the gateway reads: `iss`, `aud`, `sub` and the scopes
//! (`scope`, space-separated, or `scp`, a list or a string).

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
pub struct AccessClaims {
    pub(super) iss: Option<String>,
    aud: Option<Value>,
    pub(super) sub: Option<String>,
    scope: Option<String>,
    scp: Option<Value>,
}

impl AccessClaims {
    pub(super) fn scopes(&self) -> Vec<String> {
        let mut scopes: Vec<String> =
            self.scope.as_deref().unwrap_or("").split_whitespace().map(String::from).collect();
        match &self.scp {
            Some(Value::Array(items)) => scopes.extend(items.iter().filter_map(|v| v.as_str().map(String::from))),
            Some(Value::String(text)) => scopes.extend(text.split_whitespace().map(String::from)),
            _ => {}
        }
        scopes
    }

    pub(super) fn has_audience(&self, audience: &str) -> bool {
        match &self.aud {
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(audience)),
            _ => false,
        }
    }
}
