//! `auth.consumers`: named callers, each with its own key, that may call only what `allow` names.

use std::fmt;

use serde::Deserialize;

use super::Exposure;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    pub name: String,
    /// Presented as the shared token is; never shown in an error or a log line.
    pub key: String,
    #[serde(default)]
    pub allow: Vec<Grant>,
}

/// One entry of a consumer's `allow`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Grant {
    /// `"webhook"`: the chat webhook when `auth.webhook` is `required` (a public one is anyone's).
    Webhook,
    /// `"models/<service>"`, `"pi/<service>"`; `None` for `"models/*"`, `"pi/*"`.
    Service { exposure: Exposure, service: Option<String> },
}

/// Why an `allow` entry was refused.
#[derive(Debug)]
pub struct GrantError;

impl fmt::Display for GrantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("must be one of: webhook, models/<service>, pi/<service>, models/*, pi/*")
    }
}

impl TryFrom<String> for Grant {
    type Error = GrantError;

    fn try_from(text: String) -> Result<Self, GrantError> {
        if text == "webhook" {
            return Ok(Grant::Webhook);
        }
        let (prefix, service) = text.split_once('/').ok_or(GrantError)?;
        let exposure = match prefix {
            "models" => Exposure::Inference,
            "pi" => Exposure::Telemetry,
            _ => return Err(GrantError),
        };
        match service {
            "*" => Ok(Grant::Service { exposure, service: None }),
            "" => Err(GrantError),
            _ if service.contains(['/', '*']) => Err(GrantError),
            _ => Ok(Grant::Service { exposure, service: Some(service.to_string()) }),
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::Webhook => f.write_str("webhook"),
            Grant::Service { exposure, service } => {
                let prefix = if *exposure == Exposure::Inference { "models" } else { "pi" };
                write!(f, "{prefix}/{}", service.as_deref().unwrap_or("*"))
            }
        }
    }
}

impl Grant {
    /// Whether this entry lets its consumer call the exposed service `name` of kind `exposure`.
    pub fn covers(&self, exposure: Exposure, name: &str) -> bool {
        match self {
            Grant::Webhook => false,
            Grant::Service { exposure: granted, service } => {
                *granted == exposure && service.as_deref().is_none_or(|s| s.eq_ignore_ascii_case(name))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(text: &str) -> Option<Grant> {
        Grant::try_from(text.to_string()).ok()
    }

    #[test]
    fn grants_are_read_strictly() {
        let service = |exposure, name: Option<&str>| Some(Grant::Service { exposure, service: name.map(Into::into) });
        assert_eq!(grant("webhook"), Some(Grant::Webhook));
        assert_eq!(grant("models/catsdogs"), service(Exposure::Inference, Some("catsdogs")));
        assert_eq!(grant("pi/livingroom"), service(Exposure::Telemetry, Some("livingroom")));
        assert_eq!(grant("models/*"), service(Exposure::Inference, None));
        assert_eq!(grant("pi/*"), service(Exposure::Telemetry, None));
        for bad in ["", "*", "Webhook", "webhooks", "models", "models/", "pi/a/b", "pi/a*", "rasa/x", "/pi/x", "status"]
        {
            assert_eq!(grant(bad), None, "{bad}");
        }
        for text in ["webhook", "models/catsdogs", "pi/*"] {
            assert_eq!(grant(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn grants_cover_their_services() {
        let one = grant("models/CatsDogs").unwrap();
        assert!(one.covers(Exposure::Inference, "catsdogs"));
        assert!(!one.covers(Exposure::Inference, "other"));
        assert!(!one.covers(Exposure::Telemetry, "catsdogs"));
        let every_pi = grant("pi/*").unwrap();
        assert!(every_pi.covers(Exposure::Telemetry, "livingroom"));
        assert!(!every_pi.covers(Exposure::Inference, "catsdogs"));
        assert!(!every_pi.covers(Exposure::Rasa, "rasa"));
        assert!(!Grant::Webhook.covers(Exposure::Inference, "catsdogs"));
    }
}
