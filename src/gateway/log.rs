//! One JSON log line per request. It holds no header values and no query, so no secret.

use serde::Serialize;

/// Serialized as it stands, field by field: no intermediate JSON tree on every request.
#[derive(Serialize)]
pub struct RequestLog<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub duration_ms: f64,
    pub client_ip: Option<&'a str>,
    pub cache: Option<&'a str>,
    /// The consumer's name, when a consumer called.
    pub consumer: Option<&'a str>,
    pub error: Option<&'a str>,
}

impl RequestLog<'_> {
    pub fn line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_json_object_with_every_field() {
        let line = RequestLog {
            method: "GET",
            path: "/pi/a\"b",
            status: 200,
            duration_ms: 1.5,
            client_ip: Some("1.2.3.4"),
            cache: None,
            consumer: Some("shop"),
            error: None,
        }
        .line();
        assert_eq!(
            line,
            r#"{"method":"GET","path":"/pi/a\"b","status":200,"duration_ms":1.5,"client_ip":"1.2.3.4","cache":null,"consumer":"shop","error":null}"#
        );
    }
}
