//! `chat.nlu`: each message is first parsed by a Rasa server's `/model/parse`, and the dialog sees
//! its `intents` and `entities` (as MaxBot's rasa extension does).

use serde_json::{json, Value};

use super::{ChatChannel, MAX_WEBHOOK_BYTES};
use crate::dialog::parse_nlu;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::http::{Body, BodyError, GatewayRequest, Headers, RequestUrl};
use crate::platform::{Deadline, Platform};
use crate::proxy::Upstream;

impl ChatChannel {
    /// `(intents, entities)` of `text`, as the NLU server parses it.
    pub(super) async fn understand<P: Platform>(
        &self,
        upstream: &Upstream,
        text: &str,
        deadline: Deadline,
        platform: &P,
    ) -> Result<(Value, Value)> {
        let mut headers = Headers::new();
        headers.set("content-type", "application/json");
        headers.set("accept", "application/json");
        let url = RequestUrl::new("https://gateway.internal/model/parse").expect("static URL");
        let body = json!({ "text": text, "message_id": null }).to_string().into_bytes();
        let request = GatewayRequest { method: "POST".into(), url, headers, body: Body::Bytes(body) };
        let response = self.forward(upstream, "model/parse", request, None, platform).await?;
        let failed =
            |why: String| GatewayError::new(ErrorKind::BadGateway, format!("RASA POST /model/parse error: {why}"));
        if !(200..300).contains(&response.status) {
            return Err(failed(format!("status {}", response.status)));
        }
        let bytes = match platform.read_by(response.body, MAX_WEBHOOK_BYTES * 4, deadline).await {
            Ok(bytes) => bytes,
            Err(BodyError::TimedOut) => return Err(self.dialog.out_of_time()),
            Err(error) => return Err(failed(format!("{error:?}"))),
        };
        let parsed: Value = serde_json::from_slice(&bytes).map_err(|e| failed(e.to_string()))?;
        Ok(parse_nlu(&parsed))
    }
}
