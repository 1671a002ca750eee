//! The Rasa REST channel: `POST /webhooks/rest/webhook` with `{sender, message, metadata?}`,
//! answered with Rasa's message list. A message is rendered by the [`dialog`](crate::dialog)
//! (understood first by Rasa's `/model/parse` when `chat.nlu` is set), or forwarded as it came to
//! the Rasa server named by `chat.upstream`.

mod message;
mod understand;

pub use message::{parse_message, read_message, ChatMessage, MAX_WEBHOOK_BYTES};

use std::sync::Arc;

use crate::cache::TieredCache;
use crate::config::Config;
use crate::dialog::{to_messages, CallLog, Dialog, MemoryRecall, PlatformExecutor, TurnInput, MAX_CALLS_PER_MESSAGE};
use crate::error::{GatewayError, Result};
use crate::http::{Body, GatewayRequest, GatewayResponse};
use crate::platform::{Deadline, Platform};
use crate::proxy::{self, ProxyCall, Upstream};

/// The channel, built once per isolate from the configuration.
pub struct ChatChannel {
    dialog: Dialog,
    /// `chat.upstream`: the Rasa server every message is forwarded to instead of the dialog.
    upstream: Option<Upstream>,
    /// `chat.nlu`: the Rasa server that parses each message before the dialog renders it.
    nlu: Option<Upstream>,
    cache: Arc<TieredCache>,
}

impl ChatChannel {
    pub fn new(config: &Config, cache: Arc<TieredCache>) -> Result<ChatChannel> {
        let upstream_named = |name: &Option<String>, field: &str| -> Result<Option<Upstream>> {
            let Some(name) = name else { return Ok(None) };
            let service = config.extensions.rest.service(name).ok_or_else(|| {
                GatewayError::config(format!("{field}: '{name}' is not an exposed rasa service"))
                    .with_details(serde_json::json!({ "field": field }))
            })?;
            Ok(Some(Upstream::new(service, config)))
        };
        Ok(ChatChannel {
            dialog: Dialog::compile(config)?,
            upstream: upstream_named(&config.chat.upstream, "chat.upstream")?,
            nlu: upstream_named(&config.chat.nlu, "chat.nlu")?,
            cache,
        })
    }

    /// True when every message needs the network before it can be answered (forwarded, or parsed
    /// by NLU first), whatever the dialog's templates do.
    pub fn always_needs_network(&self) -> bool {
        self.upstream.is_some() || self.nlu.is_some()
    }

    /// Answers `message`; `request` is the webhook request it came in (its body already read);
    /// `consumer` the consumer who sent it, named to a Rasa server it is forwarded to.
    pub async fn answer<P: Platform>(
        &self,
        message: ChatMessage,
        request: GatewayRequest<P::Stream>,
        consumer: Option<&str>,
        platform: &P,
    ) -> Result<GatewayResponse<P::Stream>> {
        if let Some(upstream) = &self.upstream {
            let forwarded = GatewayRequest { body: Body::Bytes(message.raw), ..request };
            return self.forward(upstream, "webhooks/rest/webhook", forwarded, consumer, platform).await;
        }
        // One deadline for the whole message: NLU, then every call of the turn.
        let deadline = Deadline::after(platform.now(), self.dialog.message_timeout_ms());
        let nlu = match &self.nlu {
            Some(upstream) => Some(self.understand(upstream, &message.text, deadline, platform).await?),
            None => None,
        };
        let input = TurnInput {
            text: message.text,
            sender: message.sender,
            metadata: message.metadata,
            now: platform.now(),
            nlu,
        };
        let max_calls = MAX_CALLS_PER_MESSAGE - usize::from(self.nlu.is_some());
        let recall = MemoryRecall { cache: self.cache.clone(), now: input.now };
        let log = CallLog::new(max_calls, Some(Box::new(recall)));
        let executor = PlatformExecutor {
            platform,
            cache: &self.cache,
            garbage_collector_seconds: self.dialog.rest.garbage_collector_seconds(),
            deadline,
        };
        let text = self.dialog.respond(&input, &log, &executor).await?;
        Ok(GatewayResponse::json(200, &to_messages(&text, &input.sender)))
    }

    /// Sends a request to one of the channel's Rasa servers through the proxy (never cached).
    async fn forward<P: Platform>(
        &self,
        upstream: &Upstream,
        path: &str,
        request: GatewayRequest<P::Stream>,
        consumer: Option<&str>,
        platform: &P,
    ) -> Result<GatewayResponse<P::Stream>> {
        let call = ProxyCall { upstream, path, access_class: "chat", consumer, cache: &self.cache };
        Ok(proxy::proxy(call, request, platform).await?.0)
    }
}
