//! One JSON log line per request. It holds no header values and no query, so no secret.

use serde_json::json;

pub struct RequestLog<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub duration_ms: f64,
    pub client_ip: Option<&'a str>,
    pub cache: Option<&'a str>,
    pub error: Option<&'a str>,
}

impl RequestLog<'_> {
    pub fn line(&self) -> String {
        json!({
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "duration_ms": self.duration_ms,
            "client_ip": self.client_ip,
            "cache": self.cache,
            "error": self.error,
        })
        .to_string()
    }
}
