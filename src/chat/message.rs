//! A chat message as the webhook receives it: `{sender, message, metadata?}`, parsed as Rasa does.

use serde_json::{json, Value};

use crate::error::{ErrorKind, GatewayError, Result};
use crate::http::{Body, BodyError};
use crate::platform::Platform;

/// Largest webhook body read.
pub const MAX_WEBHOOK_BYTES: usize = 256 * 1024;

pub struct ChatMessage {
    pub sender: String,
    pub text: String,
    pub metadata: Value,
    /// The body as received, forwarded unchanged to `chat.upstream`.
    pub(super) raw: Vec<u8>,
}

/// Reads the webhook's body (at most [`MAX_WEBHOOK_BYTES`]) and parses it.
pub async fn read_message<P: Platform>(body: Body<P::Stream>, platform: &P) -> Result<ChatMessage> {
    let bytes = platform.read(body, MAX_WEBHOOK_BYTES).await.map_err(|error| match error {
        BodyError::TooLarge => GatewayError::new(
            ErrorKind::PayloadTooLarge,
            format!("The message is larger than {MAX_WEBHOOK_BYTES} bytes."),
        ),
        // The client stopped sending (or sent less than it declared): not a message too large.
        BodyError::TimedOut => GatewayError::bad_request("The message was not received in time."),
        BodyError::Broken(why) => GatewayError::bad_request(format!("The message could not be read: {why}")),
    })?;
    parse_message(bytes)
}

/// Whether the webhook's query asks for a streamed reply: `stream=true` (any case), as Rasa's
/// `bool_arg` reads it.
pub fn wants_stream(query: Option<&str>) -> bool {
    let Some(query) = query else { return false };
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "stream")
        .is_some_and(|(_, value)| value.eq_ignore_ascii_case("true"))
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

    #[test]
    fn a_body_that_breaks_off_is_a_bad_request_and_only_a_long_one_too_large() {
        use crate::platform::memory::{block_on, MemoryPlatform, MemoryStream, StreamEnd};
        let platform = MemoryPlatform::answering_json(json!({}));
        let read = |bytes: &[u8], end| {
            let body = Body::Stream(MemoryStream { bytes: bytes.to_vec(), end });
            block_on(read_message(body, &platform)).map(|_| ()).unwrap_err()
        };
        let broken = read(br#"{"sender": "s""#, StreamEnd::Fails);
        assert_eq!((broken.status(), broken.kind), (400, ErrorKind::BadRequest), "{}", broken.message);
        let long = read(&vec![b' '; MAX_WEBHOOK_BYTES + 1], StreamEnd::Complete);
        assert_eq!(long.status(), 413);
    }

    #[test]
    fn stream_is_asked_as_rasa_reads_it() {
        for (query, streamed) in [
            (None, false),
            (Some(""), false),
            (Some("stream=true"), true),
            (Some("token=x&stream=True"), true),
            (Some("stream=TRUE&stream=false"), true),
            (Some("stream=1"), false),
            (Some("stream=false"), false),
            (Some("streaming=true"), false),
        ] {
            assert_eq!(wants_stream(query), streamed, "{query:?}");
        }
    }
}
