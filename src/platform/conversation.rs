//! A conversation as the runtime keeps it (CONTRACT section 8): one stored record per sender, and
//! one turn at a time. A turn *begins* by waiting for the sender's previous turn to end and reading
//! the record, and ends by *committing* its new record or *aborting* (storing nothing). The record
//! is opaque here (the chat floor's JSON); the Worker keeps it in a Durable Object per sender
//! (`conversation.mjs`), the native tests in [`ConversationStore`].

use std::collections::HashMap;

/// A turn's hold on its conversation, from `begin` to `commit` or `abort`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationLease {
    pub id: String,
    /// Tells this turn from any other, so a turn that outlived its hold cannot commit.
    pub token: String,
}

/// Conversations in memory, for the in-memory platform: the same rules as the Durable Object,
/// except that a second turn of one sender fails instead of waiting (nothing waits in a test).
#[derive(Debug, Default)]
pub struct ConversationStore {
    /// By id: the record, when it expires, and the token of the turn in progress.
    conversations: HashMap<String, (Option<String>, f64, Option<String>)>,
    turns: u64,
}

impl ConversationStore {
    pub fn begin(&mut self, id: &str, now: f64) -> Result<(ConversationLease, Option<String>), String> {
        self.turns += 1;
        let token = self.turns.to_string();
        let entry = self.conversations.entry(id.to_string()).or_insert((None, f64::INFINITY, None));
        if entry.2.is_some() {
            return Err("a turn of this conversation is in progress".into());
        }
        if now >= entry.1 {
            entry.0 = None; // retention passed: forgotten
        }
        entry.2 = Some(token.clone());
        Ok((ConversationLease { id: id.to_string(), token }, entry.0.clone()))
    }

    pub fn commit(&mut self, lease: &ConversationLease, record: &str, expires: f64) -> bool {
        match self.conversations.get_mut(&lease.id) {
            Some(entry) if entry.2.as_deref() == Some(&lease.token) => {
                *entry = (Some(record.to_string()), expires, None);
                true
            }
            _ => false,
        }
    }

    pub fn abort(&mut self, lease: &ConversationLease) {
        if let Some(entry) = self.conversations.get_mut(&lease.id) {
            if entry.2.as_deref() == Some(&lease.token) {
                entry.2 = None;
            }
        }
    }

    pub fn read(&self, id: &str, now: f64) -> Option<String> {
        self.conversations.get(id).filter(|entry| now < entry.1).and_then(|entry| entry.0.clone())
    }

    /// Whether a turn of `id` is in progress (begun, neither committed nor aborted).
    pub fn in_turn(&self, id: &str) -> bool {
        self.conversations.get(id).is_some_and(|entry| entry.2.is_some())
    }
}
