//! Checks that typing alone cannot express. Messages follow MaxBot's where it has one.

use std::collections::HashMap;

use super::{origin_url, AuthConfig, Config, Conversations, Exposure, Grant, JwtAlgorithm, LimitConfig, RouteWord};
use crate::error::{GatewayError, Result};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

pub fn validate(config: &Config) -> Result<()> {
    validate_services(config)?;
    validate_auth(config)?;
    validate_chat(config)?;
    validate_limits(config)?;
    Ok(())
}

fn field_error(field: &str, message: String) -> GatewayError {
    GatewayError::config(format!("{field}: {message}")).with_details(serde_json::json!({ "field": field }))
}

fn validate_services(config: &Config) -> Result<()> {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for (index, service) in config.extensions.rest.services.iter().enumerate() {
        let field = format!("extensions.rest.services[{index}]");
        if service.name.is_empty() {
            return Err(field_error(&format!("{field}.name"), "must not be empty".into()));
        }
        let lower = service.name.to_lowercase();
        if let Some(first) = seen.get(&lower) {
            return Err(field_error(
                &format!("{field}.name"),
                format!("Duplicate REST service names: '{}' and '{}'", service.name, first),
            ));
        }
        seen.insert(lower, &service.name);
        if let Some(method) = &service.method {
            if !METHODS.contains(&method.as_str()) {
                return Err(field_error(&format!("{field}.method"), format!("must be one of: {}", METHODS.join(", "))));
            }
        }
        if let Some(base_url) = &service.base_url {
            let base_field = format!("{field}.base_url");
            let parsed =
                url::Url::parse(base_url).map_err(|e| field_error(&base_field, format!("not a valid URL: {e}")))?;
            origin_url::require_http(&parsed).map_err(|message| field_error(&base_field, message.into()))?;
            // Only the proxy cannot send a base URL's userinfo: rest_call sends it as Basic auth
            // (as httpx does), so a service that is not exposed keeps MaxBot's form.
            if service.expose.is_some() {
                origin_url::refuse_userinfo(&parsed).map_err(|message| field_error(&base_field, message.into()))?;
            }
        }
        if service.stale_if_error.is_some() && service.cache_seconds().is_none() {
            return Err(field_error(
                &format!("{field}.stale_if_error"),
                "a stale answer needs a stored one: add cache, or remove stale_if_error".into(),
            ));
        }
        super::resilience::validate(service, &field).map_err(|(field, message)| field_error(&field, message))?;
        if service.paths.is_some() && service.expose.is_none() {
            return Err(field_error(
                &format!("{field}.paths"),
                "only an exposed service forwards requests: add expose, or remove paths".into(),
            ));
        }
        if service.expose.is_some() {
            if service.base_url.is_none() {
                return Err(field_error(&format!("{field}.base_url"), "an exposed service needs a base_url".into()));
            }
            let path_safe = service.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !path_safe {
                return Err(field_error(
                    &format!("{field}.name"),
                    "an exposed service name may hold only letters, digits, '-', '_' and '.'".into(),
                ));
            }
        }
    }
    Ok(())
}

fn validate_auth(config: &Config) -> Result<()> {
    let Some(auth) = &config.auth else { return Ok(()) };
    if let Some(token) = &auth.token {
        if token.is_empty() {
            return Err(field_error("auth.token", "must not be empty".into()));
        }
    }
    if let Some(jwt) = &auth.jwt {
        let symmetric = matches!(jwt.algorithm, JwtAlgorithm::HS256 | JwtAlgorithm::HS384 | JwtAlgorithm::HS512);
        if symmetric && jwt.secret.as_deref().is_none_or(str::is_empty) {
            return Err(field_error("auth.jwt.secret", format!("{:?} needs a secret", jwt.algorithm)));
        }
        if !symmetric && jwt.public_key.is_none() {
            return Err(field_error("auth.jwt.public_key", format!("{:?} needs a PEM public_key", jwt.algorithm)));
        }
    }
    if let Some(oidc) = &auth.oidc {
        for (name, value) in [("issuer", &oidc.issuer), ("jwks_uri", &oidc.jwks_url())] {
            if url::Url::parse(value).is_err() {
                return Err(field_error(&format!("auth.oidc.{name}"), "not a valid URL".into()));
            }
        }
    }
    validate_consumers(config, auth)?;
    Ok(())
}

/// Consumers: unique names, keys unique among themselves and distinct from `auth.token`, and
/// `allow` entries that name exposed services of their kind. No message shows a key.
fn validate_consumers(config: &Config, auth: &AuthConfig) -> Result<()> {
    let mut names: HashMap<String, usize> = HashMap::new();
    for (index, consumer) in auth.consumers.iter().enumerate() {
        let field = format!("auth.consumers[{index}]");
        let header_safe = consumer.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if consumer.name.is_empty() || !header_safe {
            return Err(field_error(
                &format!("{field}.name"),
                "must be a non-empty name of letters, digits, '-', '_' and '.'".into(),
            ));
        }
        if let Some(first) = names.insert(consumer.name.to_lowercase(), index) {
            return Err(field_error(
                &format!("{field}.name"),
                format!("duplicate consumer name (case-insensitive): auth.consumers[{first}] has it too"),
            ));
        }
        let key_field = format!("{field}.key");
        if consumer.key.is_empty() {
            return Err(field_error(&key_field, "must not be empty".into()));
        }
        if auth.token.as_deref() == Some(consumer.key.as_str()) {
            return Err(field_error(&key_field, "must differ from auth.token".into()));
        }
        if let Some(other) = auth.consumers[..index].iter().position(|c| c.key == consumer.key) {
            return Err(field_error(&key_field, format!("must differ from the key of auth.consumers[{other}]")));
        }
        for (at, grant) in consumer.allow.iter().enumerate() {
            let grant_field = format!("{field}.allow[{at}]");
            if consumer.allow[..at].contains(grant) {
                return Err(field_error(&grant_field, format!("duplicate entry '{grant}'")));
            }
            validate_grant(config, grant, &grant_field)?;
        }
    }
    Ok(())
}

/// A grant that names a service names an exposed service of its kind.
fn validate_grant(config: &Config, grant: &Grant, field: &str) -> Result<()> {
    if let Grant::Service { exposure, service: Some(name) } = grant {
        let service = config.extensions.rest.service(name);
        if service.and_then(|s| s.expose) != Some(*exposure) {
            return Err(field_error(field, format!("'{name}' is not an exposed {} service", exposure.as_str())));
        }
    }
    Ok(())
}

/// Limits: unique names fit for counters, positive budgets, routes that exist, consumers that are
/// consumers, and the Rate Limiting binding's periods for approximate ones.
fn validate_limits(config: &Config) -> Result<()> {
    for (index, limit) in config.limits.iter().enumerate() {
        let field = format!("limits[{index}]");
        let name_ok = !limit.name.is_empty()
            && limit.name.len() <= 64
            && limit.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !name_ok {
            return Err(field_error(
                &format!("{field}.name"),
                "must be a name of 1 to 64 letters, digits, '-', '_' and '.'".into(),
            ));
        }
        if let Some(first) = config.limits[..index].iter().position(|other| other.name == limit.name) {
            return Err(field_error(
                &format!("{field}.name"),
                format!("duplicate limit name: limits[{first}] has it too"),
            ));
        }
        for (number, name) in [(limit.requests, "requests"), (limit.period, "period")] {
            if number == 0 {
                return Err(field_error(&format!("{field}.{name}"), "must be a positive integer".into()));
            }
        }
        if limit.approximate && !matches!(limit.period, 10 | 60) {
            return Err(field_error(
                &format!("{field}.period"),
                "an approximate limit's period must be 10 or 60".into(),
            ));
        }
        validate_limit_scope(config, limit, &field)?;
    }
    Ok(())
}

fn validate_limit_scope(config: &Config, limit: &LimitConfig, field: &str) -> Result<()> {
    if let Some(routes) = &limit.routes {
        if routes.is_empty() {
            return Err(field_error(&format!("{field}.routes"), "must not be empty: omit it for every route".into()));
        }
        for (at, word) in routes.iter().enumerate() {
            if let RouteWord::Grant(grant) = word {
                validate_grant(config, grant, &format!("{field}.routes[{at}]"))?;
            }
        }
    }
    if let Some(consumers) = &limit.consumers {
        if consumers.is_empty() {
            return Err(field_error(
                &format!("{field}.consumers"),
                "must not be empty: omit it for every caller".into(),
            ));
        }
        let known = config.auth.as_ref().map_or(&[][..], |auth| &auth.consumers[..]);
        for (at, name) in consumers.iter().enumerate() {
            if !known.iter().any(|consumer| consumer.name.eq_ignore_ascii_case(name)) {
                return Err(field_error(
                    &format!("{field}.consumers[{at}]"),
                    "is not the name of a consumer in auth.consumers".into(),
                ));
            }
        }
    }
    Ok(())
}

fn validate_chat(config: &Config) -> Result<()> {
    for (field, name) in [("chat.upstream", &config.chat.upstream), ("chat.nlu", &config.chat.nlu)] {
        let Some(name) = name else { continue };
        let service = config.extensions.rest.service(name);
        if service.and_then(|s| s.expose) != Some(Exposure::Rasa) {
            return Err(field_error(field, format!("'{name}' is not an exposed rasa service")));
        }
    }
    if config.chat.conversations == Conversations::Off {
        if let Some(index) = config.dialog.iter().position(|node| !node.followup.is_empty()) {
            let field = format!("dialog[{index}].followup");
            return Err(field_error(&field, "followup needs chat.conversations \"on\"".to_string()));
        }
    }
    if config.chat.retention == 0 {
        return Err(field_error("chat.retention", "must be at least 1 second".to_string()));
    }
    Ok(())
}
