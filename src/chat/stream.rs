//! `POST /webhooks/rest/webhook?stream=true`: the reply as Rasa's REST channel streams it, one
//! JSON message per line (`text/event-stream`), each message sent as soon as it is complete: the
//! messages a response completes before a REST call go out before the call is sent.
//!
//! The answer waits for the first complete message. A turn that ends (or fails) before one is
//! answered whole, as a JSON reply would be: its error keeps its status. Once a line is out the
//! status is 200, and the rest of the turn writes the body while the answer is on its way; a turn
//! that fails then ends the body with a last line in the error shape (`"status": "failure"`,
//! never a secret, as every error body). With conversations the turn still commits once, when its
//! reply is complete and before its last lines are written; a turn that fails, even after lines
//! went out, stores nothing.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::task::Poll;

use super::{ChatChannel, ChatMessage};
use crate::dialog::{Answer, MessageSink, RasaMessage};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::http::{Body, BodyWriting, GatewayResponse, Headers};
use crate::platform::Platform;

/// The Content-Type of a streamed reply (Rasa's, though its lines are not Server-Sent Events).
const EVENT_STREAM: &str = "text/event-stream";

impl ChatChannel {
    /// Answers `message` with a streamed reply; the work that writes its rest comes with it when
    /// the answer goes out before the turn ended.
    pub(super) async fn stream<'a, P: Platform>(
        &'a self,
        message: ChatMessage,
        platform: &'a P,
    ) -> Result<(GatewayResponse<P::Stream>, Option<BodyWriting<'a>>)> {
        let lines = Rc::new(Lines::new(platform));
        let sink = lines.clone();
        let mut turn = Box::pin(async move { self.converse(message, Some(&*sink), platform).await });
        // The turn runs until it ends or its first line is written, whichever comes first.
        let mut ended = None;
        poll_fn(|context| {
            if let Poll::Ready(outcome) = turn.as_mut().poll(context) {
                ended = Some(outcome);
            }
            if ended.is_some() || lines.is_open() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        match (lines.take_opened(), ended) {
            (Some(stream), ended) => {
                let writing = async move {
                    let outcome = match ended {
                        Some(outcome) => outcome,
                        None => turn.await,
                    };
                    lines.finish(outcome)
                };
                Ok((event_stream(Body::Stream(stream)), Some(Box::pin(writing))))
            }
            (None, Some(outcome)) => {
                let answer = outcome?;
                Ok((event_stream(Body::Bytes(lines_of(&answer.messages).into_bytes())), None))
            }
            // The wait above ends only when one of the two happened.
            (None, None) => Err(GatewayError::new(ErrorKind::Internal, "The reply was neither written nor ended.")),
        }
    }
}

fn event_stream<B>(body: Body<B>) -> GatewayResponse<B> {
    let mut headers = Headers::new();
    headers.set("content-type", EVENT_STREAM);
    GatewayResponse { status: 200, headers, body }
}

/// One JSON message per line, as Rasa writes `json.dumps(message) + "\n"`.
fn lines_of(messages: &[RasaMessage]) -> String {
    let mut text = String::new();
    for message in messages {
        text.push_str(&serde_json::to_string(message).unwrap_or_default());
        text.push('\n');
    }
    text
}

/// A streamed reply's body, opened by its first line.
struct Lines<'p, P: Platform> {
    platform: &'p P,
    writer: RefCell<Option<P::Writer>>,
    /// The stream the answer carries, from the first line until the answer takes it.
    opened: RefCell<Option<P::Stream>>,
}

impl<P: Platform> MessageSink for Lines<'_, P> {
    fn send(&self, messages: &[RasaMessage]) {
        self.write(&lines_of(messages));
    }
}

impl<'p, P: Platform> Lines<'p, P> {
    fn new(platform: &'p P) -> Self {
        Lines { platform, writer: RefCell::new(None), opened: RefCell::new(None) }
    }

    fn write(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        let mut writer = self.writer.borrow_mut();
        let writer = writer.get_or_insert_with(|| {
            let (writer, stream) = self.platform.open_body();
            *self.opened.borrow_mut() = Some(stream);
            writer
        });
        self.platform.write_body(writer, text);
    }

    fn is_open(&self) -> bool {
        self.writer.borrow().is_some()
    }

    fn take_opened(&self) -> Option<P::Stream> {
        self.opened.borrow_mut().take()
    }

    /// Writes the end of the reply, its last messages or the error that ended the turn, and ends
    /// the body; the error is returned for the log.
    fn finish(&self, outcome: Result<Answer>) -> Option<GatewayError> {
        let error = match outcome {
            Ok(answer) => {
                self.write(&lines_of(answer.messages.get(answer.sent..).unwrap_or_default()));
                None
            }
            Err(error) => {
                self.write(&format!("{}\n", error.body()));
                Some(error)
            }
        };
        if let Some(writer) = self.writer.borrow_mut().take() {
            self.platform.end_body(writer);
        }
        error
    }
}
