//! A sender's conversation as it is stored between turns: the state templates see (`slots`,
//! `user`), the node whose followups wait, and the events Rasa's tracker shows. A turn reads it at
//! its start and stores its successor only when the reply goes out (see [`ChatChannel::answer`]).
//!
//! Events are bounded: the last [`MAX_TURNS`] turns are kept (each a `user` event, its `slot`
//! events and its `bot` events), older ones are dropped whole. The state has no such bound other
//! than the record's size ([`MAX_RECORD_BYTES`]), which a turn may not exceed.
//!
//! [`ChatChannel::answer`]: super::ChatChannel::answer

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::dialog::{Answer, NodePath, StateValues};

/// Turns whose events a conversation keeps.
pub const MAX_TURNS: usize = 50;
/// Largest stored record; a turn that would store more fails and stores nothing.
pub const MAX_RECORD_BYTES: usize = 128 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// `slots` and `user`.
    #[serde(default)]
    pub state: StateValues,
    /// The node that answered last and has followups, matched first on the next message.
    #[serde(default)]
    pub followup: Option<NodePath>,
    #[serde(default)]
    pub latest_message: Option<Value>,
    #[serde(default)]
    pub events: Vec<Value>,
}

/// What one turn adds to a conversation.
pub struct Turn<'a> {
    pub text: &'a str,
    pub now: f64,
    /// `(intents, entities)` from NLU.
    pub nlu: Option<&'a (Value, Value)>,
    pub answer: &'a Answer,
    /// The state the turn's templates left.
    pub state: StateValues,
}

impl Conversation {
    /// The stored record; a record that does not parse (written by an incompatible version) starts
    /// the conversation afresh rather than failing every turn.
    pub fn from_stored(record: Option<&str>) -> Conversation {
        record.and_then(|text| serde_json::from_str(text).ok()).unwrap_or_default()
    }

    /// The conversation after `turn`: slots are cleared when no followup waits (MaxBot's slot
    /// lifespan), `user` is kept, and the turn's events are appended.
    pub fn after(mut self, turn: Turn) -> Conversation {
        let Turn { text, now, nlu, answer, mut state } = turn;
        if answer.followup.is_none() {
            state.slots.clear();
        }
        let parse_data = parse_data(text, nlu);
        self.events.push(json!({ "event": "user", "timestamp": now, "text": text, "parse_data": parse_data }));
        for (name, value) in slot_changes(&self.state.slots, &state.slots) {
            self.events.push(json!({ "event": "slot", "timestamp": now, "name": name, "value": value }));
        }
        for message in &answer.messages {
            let mut data = Map::new();
            if !message.buttons.is_empty() {
                data.insert("buttons".into(), json!(message.buttons));
            }
            if let Some(image) = &message.image {
                data.insert("image".into(), json!(image));
            }
            self.events.push(json!({ "event": "bot", "timestamp": now, "text": message.text, "data": data }));
        }
        self.drop_old_turns();
        Conversation { state, followup: answer.followup.clone(), latest_message: Some(parse_data), events: self.events }
    }

    fn drop_old_turns(&mut self) {
        let starts: Vec<usize> =
            self.events.iter().enumerate().filter(|(_, e)| e["event"] == "user").map(|(at, _)| at).collect();
        if starts.len() > MAX_TURNS {
            self.events.drain(..starts[starts.len() - MAX_TURNS]);
        }
    }

    /// The stored form, or `None` when it is larger than [`MAX_RECORD_BYTES`].
    pub fn to_record(&self) -> Option<String> {
        serde_json::to_string(self).ok().filter(|record| record.len() <= MAX_RECORD_BYTES)
    }

    /// The conversation in the shape of Rasa's `GET /conversations/{id}/tracker`.
    pub fn tracker(&self, sender: &str) -> Value {
        let latest_event_time = self.events.last().and_then(|event| event.get("timestamp")).cloned();
        json!({
            "sender_id": sender,
            "slots": self.state.slots,
            "latest_message": self.latest_message.clone().unwrap_or_else(|| json!({"text": null})),
            "latest_event_time": latest_event_time,
            "followup_action": null,
            "paused": false,
            "events": self.events,
            "latest_input_channel": "rest",
        })
    }
}

/// Rasa's `parse_data` of a message: its text, and with NLU its top intent and entities.
fn parse_data(text: &str, nlu: Option<&(Value, Value)>) -> Value {
    match nlu {
        Some((intents, entities)) => json!({
            "text": text,
            "intent": intents["top"],
            "entities": entities["all"],
            "intent_ranking": intents["ranking"],
        }),
        None => json!({ "text": text }),
    }
}

/// Slots that changed, in the order of the new slots, then those removed (as `null`).
fn slot_changes<'a>(before: &'a Map<String, Value>, after: &'a Map<String, Value>) -> Vec<(&'a str, Value)> {
    let set = after.iter().filter(|(name, value)| before.get(*name) != Some(value));
    let removed = before.keys().filter(|name| !after.contains_key(*name));
    set.map(|(name, value)| (name.as_str(), value.clone()))
        .chain(removed.map(|name| (name.as_str(), Value::Null)))
        .collect()
}
