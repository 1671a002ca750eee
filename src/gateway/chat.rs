//! The Rasa REST channel: `POST /webhooks/rest/webhook` with `{sender, message, metadata?}`,
//! answered with Rasa's message list, rendered by the dialog or forwarded to `chat.upstream`.

use serde_json::{json, Value};

use crate::http::{Body, GatewayRequest, GatewayResponse, Headers};
use crate::platform::Platform;
use super::Gateway;
use crate::auth::{authorize, Access, Identity};
use crate::config::WebhookAuth;
use crate::dialog::{parse_nlu, to_messages, CallLog, MemoryRecall, PlatformExecutor, TurnInput, MAX_CALLS_PER_MESSAGE};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::proxy::{self, ProxyCall};

/// Largest webhook body read.
pub const MAX_WEBHOOK_BYTES: usize = 256 * 1024;

pub struct ChatMessage {
    pub sender: String,
    pub text: String,
    pub metadata: Value,
    raw: Vec<u8>,
}

/// Parses the webhook body as JSON whatever its Content-Type (as Rasa does).
pub fn parse_message(bytes: Vec<u8>) -> Result<ChatMessage> {
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| GatewayError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    let object =
        value.as_object().ok_or_else(|| GatewayError::bad_request("The request body must be a JSON object."))?;
    let text_of = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let sender = match object.get("sender") {
        None | Some(Value::Null) => "default".to_string(),
        Some(v) => text_of(v).ok_or_else(|| GatewayError::bad_request("'sender' must be a string."))?,
    };
    let text = match object.get("message") {
        None | Some(Value::Null) => String::new(),
        Some(v) => text_of(v).ok_or_else(|| GatewayError::bad_request("'message' must be a string."))?,
    };
    let metadata = match object.get("metadata") {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => return Err(GatewayError::bad_request("'metadata' must be an object.")),
    };
    Ok(ChatMessage { sender, text, metadata, raw: bytes })
}

impl Gateway {
    pub(super) async fn webhook<P: Platform>(
        &self,
        request: GatewayRequest<P::Stream>,
        identity: &Identity,
        platform: &P,
    ) -> Result<GatewayResponse<P::Stream>> {
        let GatewayRequest { method, url, headers, body } = request;
        let bytes = platform.read(body, MAX_WEBHOOK_BYTES).await.map_err(|_| {
            GatewayError::new(
                ErrorKind::PayloadTooLarge,
                format!("The message is larger than {MAX_WEBHOOK_BYTES} bytes."),
            )
        })?;
        let message = parse_message(bytes)?;
        let required = self.config.auth.as_ref().is_some_and(|a| a.webhook == WebhookAuth::Required);
        authorize(identity, Access::Webhook { sender: &message.sender, required })?;

        if let Some(upstream) = &self.config.chat.upstream {
            let forwarded = GatewayRequest { method, url, headers, body: Body::Bytes(message.raw) };
            return self.forward_to_rasa(upstream, "webhooks/rest/webhook", forwarded, platform).await;
        }
        let nlu = match &self.config.chat.nlu {
            Some(service) => Some(self.understand(service, &message, platform).await?),
            None => None,
        };
        let input = TurnInput {
            text: message.text,
            sender: message.sender.clone(),
            metadata: message.metadata,
            now: platform.now(),
            nlu,
        };
        let max_calls = MAX_CALLS_PER_MESSAGE - usize::from(self.config.chat.nlu.is_some());
        let log = CallLog::new(max_calls, Some(Box::new(MemoryRecall { cache: self.cache.clone(), now: input.now })));
        let executor = PlatformExecutor {
            platform,
            cache: &self.cache,
            garbage_collector_seconds: self.dialog.rest.garbage_collector_seconds(),
        };
        let text = self.dialog.respond(&input, &log, &executor).await?;
        let messages = to_messages(&text, &message.sender);
        Ok(GatewayResponse::json(200, &messages))
    }

    async fn forward_to_rasa<P: Platform>(
        &self,
        service_name: &str,
        path: &str,
        request: GatewayRequest<P::Stream>,
        platform: &P,
    ) -> Result<GatewayResponse<P::Stream>> {
        let service = self.service(service_name)?;
        let call = ProxyCall {
            service,
            path,
            timeout_ms: self.timeout_ms(service),
            max_body_bytes: self.max_body_bytes(service),
            access_class: "chat",
            cache: &self.cache,
        };
        Ok(proxy::proxy(call, request, platform).await?.0)
    }

    /// Sends the message to the NLU service's `/model/parse`.
    async fn understand<P: Platform>(
        &self,
        service_name: &str,
        message: &ChatMessage,
        platform: &P,
    ) -> Result<(Value, Value)> {
        let mut headers = Headers::new();
        headers.set("content-type", "application/json");
        headers.set("accept", "application/json");
        let url = url::Url::parse("https://gateway.internal/model/parse").expect("static URL");
        let body = json!({ "text": message.text, "message_id": null }).to_string().into_bytes();
        let request = GatewayRequest { method: "POST".into(), url, headers, body: Body::Bytes(body) };
        let response = self.forward_to_rasa(service_name, "model/parse", request, platform).await?;
        let failed =
            |why: String| GatewayError::new(ErrorKind::BadGateway, format!("RASA POST /model/parse error: {why}"));
        if !(200..300).contains(&response.status) {
            return Err(failed(format!("status {}", response.status)));
        }
        let bytes = platform.read(response.body, MAX_WEBHOOK_BYTES * 4).await.map_err(|e| failed(format!("{e:?}")))?;
        let parsed: Value = serde_json::from_slice(&bytes).map_err(|e| failed(e.to_string()))?;
        Ok(parse_nlu(&parsed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_parsing() {
        let message = parse_message(br#"{"sender": "u1", "message": "hi", "metadata": {"a": 1}}"#.to_vec()).unwrap();
        assert_eq!((message.sender.as_str(), message.text.as_str()), ("u1", "hi"));
        assert_eq!(message.metadata["a"], 1);
        assert_eq!(parse_message(br#"{"message": "hi"}"#.to_vec()).unwrap().sender, "default");
        for bad in [&b"{not json"[..], b"[1]", br#"{"sender": {}}"#, br#"{"metadata": 3}"#, b""] {
            let error = parse_message(bad.to_vec()).map(|_| ()).unwrap_err();
            assert_eq!(error.status(), 400);
        }
    }
}
