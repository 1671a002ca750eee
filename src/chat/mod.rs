//! The Rasa REST channel: `POST /webhooks/rest/webhook` with `{sender, message, metadata?}`,
//! answered with Rasa's message list. A message is rendered by the [`dialog`](crate::dialog)
//! (understood first by Rasa's `/model/parse` when `chat.nlu` is set), or forwarded as it came to
//! the Rasa server named by `chat.upstream`.
//!
//! With `chat.conversations` on, a message is one turn of its sender's conversation: the turn
//! begins by waiting for the sender's previous turn and reading the [`Conversation`], renders,
//! and commits the conversation's successor before its reply is sent; a turn that fails aborts
//! and stores nothing. The runtime serialises the turns of one sender (a Durable Object per
//! conversation in a Worker, see `platform::conversation`); different senders never wait for
//! each other. The object only stores and orders: the turn itself runs here, in the Worker that
//! received the message, so the object never waits for the network.
//!
//! With `?stream=true` the reply is streamed (`stream.rs`), each message as soon as it is complete.

mod conversation;
mod message;
mod stream;
mod understand;

pub use conversation::{Conversation, MAX_RECORD_BYTES, MAX_TURNS};
pub use message::{parse_message, read_message, wants_stream, ChatMessage, MAX_WEBHOOK_BYTES};

use std::sync::Arc;

use crate::cache::TieredCache;
use conversation::Turn;

use crate::config::{Config, Conversations};
use crate::dialog::{
    Answer, CallLog, Dialog, MemoryRecall, MessageSink, PlatformExecutor, TurnInput, TurnState, MAX_CALLS_PER_MESSAGE,
};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::http::{Body, BodyWriting, GatewayRequest, GatewayResponse};
use crate::platform::{Deadline, Platform};
use crate::proxy::{self, ProxyCall, Upstream};
use crate::resilience::{Resilience, RetryBudget};

/// The channel, built once per isolate from the configuration.
pub struct ChatChannel {
    dialog: Dialog,
    /// `chat.upstream`: the Rasa server every message is forwarded to instead of the dialog.
    upstream: Option<Upstream>,
    /// `chat.nlu`: the Rasa server that parses each message before the dialog renders it.
    nlu: Option<Upstream>,
    cache: Arc<TieredCache>,
    /// Whether messages are turns of kept conversations (`chat.conversations`, when rendered here).
    conversations: bool,
    /// `chat.retention`, in seconds.
    retention: u64,
    /// The isolate's retries, fallbacks and circuits, for the dialog's calls.
    resilience: Resilience,
}

impl ChatChannel {
    pub fn new(config: &Config, cache: Arc<TieredCache>, resilience: &Resilience) -> Result<ChatChannel> {
        let upstream_named = |name: &Option<String>, field: &str| -> Result<Option<Upstream>> {
            let Some(name) = name else { return Ok(None) };
            let service = config.extensions.rest.service(name).ok_or_else(|| {
                GatewayError::config(format!("{field}: '{name}' is not an exposed rasa service"))
                    .with_details(serde_json::json!({ "field": field }))
            })?;
            Ok(Some(Upstream::new(service, config, resilience)))
        };
        Ok(ChatChannel {
            dialog: Dialog::compile(config)?,
            upstream: upstream_named(&config.chat.upstream, "chat.upstream")?,
            nlu: upstream_named(&config.chat.nlu, "chat.nlu")?,
            cache,
            conversations: config.chat.conversations == Conversations::On && config.chat.upstream.is_none(),
            retention: config.chat.retention,
            resilience: resilience.clone(),
        })
    }

    /// Whether the gateway keeps conversations itself (and answers their trackers).
    pub fn keeps_conversations(&self) -> bool {
        self.conversations
    }

    /// Answers `message`; `request` is the webhook request it came in (its body already read);
    /// `consumer` the consumer who sent it, named to a Rasa server it is forwarded to. A streamed
    /// reply comes with the work that writes the rest of it.
    pub async fn answer<'a, P: Platform>(
        &'a self,
        message: ChatMessage,
        request: GatewayRequest<P::Stream>,
        consumer: Option<&str>,
        platform: &'a P,
    ) -> Result<(GatewayResponse<P::Stream>, Option<BodyWriting<'a>>)> {
        if let Some(upstream) = &self.upstream {
            // The query goes along: Rasa streams a `?stream=true` reply itself, and the proxy passes
            // its body on as it arrives.
            let forwarded = GatewayRequest { body: Body::Bytes(message.raw), ..request };
            return Ok((self.forward(upstream, "webhooks/rest/webhook", forwarded, consumer, platform).await?, None));
        }
        if wants_stream(request.url.query()) {
            return self.stream(message, platform).await;
        }
        let answer = self.converse(message, None, platform).await?;
        Ok((GatewayResponse::json(200, &answer.messages), None))
    }

    /// One message's turn, whole: with conversations, it begins (waiting for the sender's previous
    /// turn), renders, and commits, or aborts when it fails. `sink` gets the messages complete
    /// before the turn ends (a streamed reply).
    async fn converse<P: Platform>(
        &self,
        message: ChatMessage,
        sink: Option<&dyn MessageSink>,
        platform: &P,
    ) -> Result<Answer> {
        if !self.conversations {
            return Ok(self.turn(message, None, sink, platform).await?.0);
        }
        let unavailable = |why: &str| GatewayError::new(ErrorKind::ServiceUnavailable, why.to_string());
        let (lease, record) = platform
            .conversation_begin(&message.sender)
            .await
            .map_err(|_| unavailable("The conversation could not be reached."))?;
        let conversation = Conversation::from_stored(record.as_deref());
        let outcome = self.turn(message, Some(conversation), sink, platform).await.and_then(|(answer, next)| {
            let record = next.as_ref().and_then(Conversation::to_record).ok_or_else(|| {
                let why = format!("The conversation would be larger than {MAX_RECORD_BYTES} bytes.");
                GatewayError::new(ErrorKind::LimitExceeded, why)
            })?;
            Ok((answer, record))
        });
        match outcome {
            Ok((answer, record)) => {
                if !platform.conversation_commit(&lease, &record, self.retention).await {
                    return Err(unavailable("The conversation could not be stored; the message was not answered."));
                }
                Ok(answer)
            }
            Err(error) => {
                platform.conversation_abort(lease);
                Err(error)
            }
        }
    }

    /// Renders one message; with a conversation, also answers the conversation after the turn.
    async fn turn<P: Platform>(
        &self,
        message: ChatMessage,
        conversation: Option<Conversation>,
        sink: Option<&dyn MessageSink>,
        platform: &P,
    ) -> Result<(Answer, Option<Conversation>)> {
        // One deadline for the whole message: NLU, then every call of the turn.
        let deadline = Deadline::after(platform.now(), self.dialog.message_timeout_ms());
        let nlu = match &self.nlu {
            Some(upstream) => Some(self.understand(upstream, &message.text, deadline, platform).await?),
            None => None,
        };
        let (start, followup) =
            conversation.as_ref().map(|c| (c.state.clone(), c.followup.clone())).unwrap_or_default();
        let input = TurnInput {
            text: message.text,
            sender: message.sender,
            metadata: message.metadata,
            now: platform.now(),
            nlu,
            state: TurnState::new(start),
            followup,
        };
        let max_calls = MAX_CALLS_PER_MESSAGE - usize::from(self.nlu.is_some());
        let recall = MemoryRecall { cache: self.cache.clone(), now: input.now };
        let log = CallLog::new(max_calls, Some(Box::new(recall)));
        let executor = PlatformExecutor {
            platform,
            cache: &self.cache,
            garbage_collector_seconds: self.dialog.rest.garbage_collector_seconds(),
            deadline,
            resilience: &self.resilience,
            budget: RetryBudget::default(),
        };
        let answer = self.dialog.respond(&input, &log, &executor, sink).await?;
        let next = conversation.map(|conversation| {
            conversation.after(Turn {
                text: &input.text,
                now: input.now,
                nlu: input.nlu.as_ref(),
                answer: &answer,
                state: input.state.current(),
            })
        });
        Ok((answer, next))
    }

    /// `GET /conversations/{id}/tracker`: the conversation in Rasa's tracker shape.
    pub async fn tracker<P: Platform>(&self, id: &str, platform: &P) -> Result<GatewayResponse<P::Stream>> {
        let record = platform
            .conversation_read(id)
            .await
            .map_err(|_| GatewayError::new(ErrorKind::ServiceUnavailable, "The conversation could not be reached."))?;
        Ok(GatewayResponse::json(200, &Conversation::from_stored(record.as_deref()).tracker(id)))
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
        let call = ProxyCall { upstream, path, access_class: "chat", consumer, cache: &self.cache, in_flight: None };
        Ok(proxy::proxy(call, request, platform).await?.0)
    }
}

#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;
