//! A turn's messages sent while it renders (a streamed reply): each time the render pauses before
//! a REST call, the messages its response has completed go to a [`MessageSink`] before the call
//! is sent.
//!
//! A message is complete once a blank line follows it ([`settled_len`]). The replay loop renders
//! the response from its start again after each call, and a deterministic template writes the
//! same text up to where it paused before, so what was sent is a prefix of every later render; a
//! render that wrote otherwise is an error (the messages already sent cannot be taken back). The
//! turn's messages are those sent, then the rest's: the same as the whole text's, except that
//! buttons right after a pause form a message of their own (see [`settled_len`]).

use super::messages::{settled_len, to_messages, RasaMessage};

/// Where a streamed turn's complete messages go, in order, as soon as they are complete.
pub trait MessageSink {
    fn send(&self, messages: &[RasaMessage]);
}

/// A render whose output differs from what an earlier render of the same turn sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewritten;

/// The messages of one turn, sent as its response is rendered.
pub struct MessageStream<'s> {
    sink: &'s dyn MessageSink,
    recipient: &'s str,
    /// The response text whose messages were sent.
    sent_text: String,
    sent: Vec<RasaMessage>,
}

impl<'s> MessageStream<'s> {
    pub fn new(sink: &'s dyn MessageSink, recipient: &'s str) -> Self {
        MessageStream { sink, recipient, sent_text: String::new(), sent: Vec::new() }
    }

    /// The render paused with `partial`, the response written so far (empty when it paused in a
    /// condition): sends the messages it completed since the last pause.
    pub fn paused(&mut self, partial: &str) -> Result<(), Rewritten> {
        if !partial.starts_with(&self.sent_text) {
            return Err(Rewritten);
        }
        let settled = settled_len(partial);
        if settled <= self.sent_text.len() {
            return Ok(());
        }
        let messages = to_messages(&partial[self.sent_text.len()..settled], self.recipient);
        if !messages.is_empty() {
            self.sink.send(&messages);
        }
        self.sent.extend(messages);
        self.sent_text.push_str(&partial[self.sent_text.len()..settled]);
        Ok(())
    }

    /// The turn's messages from its whole `text`, and how many of them were sent already.
    pub fn finish(self, text: &str) -> Result<(Vec<RasaMessage>, usize), Rewritten> {
        let rest = text.strip_prefix(self.sent_text.as_str()).ok_or(Rewritten)?;
        let sent = self.sent.len();
        let mut messages = self.sent;
        messages.extend(to_messages(rest, self.recipient));
        Ok((messages, sent))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    #[derive(Default)]
    struct Collected(RefCell<Vec<Vec<String>>>);

    impl MessageSink for Collected {
        fn send(&self, messages: &[RasaMessage]) {
            self.0.borrow_mut().push(messages.iter().map(|m| m.text.clone().unwrap_or_default()).collect());
        }
    }

    #[test]
    fn complete_messages_go_out_at_each_pause_and_the_rest_at_the_end() {
        let sink = Collected::default();
        let mut stream = MessageStream::new(&sink, "u");
        stream.paused("").unwrap(); // paused in a condition
        stream.paused("Let me look.\n\nStill").unwrap();
        stream.paused("Let me look.\n\nStill looking").unwrap(); // nothing new is complete
        stream.paused("Let me look.\n\nStill looking.\n\nA").unwrap();
        assert_eq!(*sink.0.borrow(), [vec!["Let me look."], vec!["Still looking."]]);
        let (messages, sent) = stream.finish("Let me look.\n\nStill looking.\n\nAll done.\n\nBye").unwrap();
        let texts: Vec<_> = messages.iter().map(|m| m.text.as_deref().unwrap()).collect();
        assert_eq!((texts, sent), (vec!["Let me look.", "Still looking.", "All done.", "Bye"], 2));
    }

    #[test]
    fn a_render_that_rewrites_what_was_sent_is_refused() {
        let sink = Collected::default();
        let mut stream = MessageStream::new(&sink, "u");
        stream.paused("It is 1.\n\n").unwrap();
        assert_eq!(stream.paused("It is 2.\n\n"), Err(Rewritten));
        assert_eq!(stream.finish("It is 2.\n\nDone"), Err(Rewritten));
    }
}
