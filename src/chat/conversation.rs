//! A sender's conversation as it is stored between turns: the state templates see (`slots`,
//! `user`), the node whose followups wait, and the events Rasa's tracker shows. A turn reads it at
//! its start and stores its successor only when the reply goes out (see [`ChatChannel::answer`]).
//!
//! Events are bounded: the last [`MAX_TURNS`] turns are kept (each a `user` event, its `slot`
//! events and its `bot` events), older ones are dropped whole. The state has no such bound other
//! than the record's size ([`MAX_RECORD_BYTES`]), which a turn may not exceed.
//!
//! [`ChatChannel::answer`]: super::ChatChannel::answer

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::{to_raw_value, RawValue};
use serde_json::{json, Map, Value};

use crate::dialog::{Answer, NodePath, StateValues};

/// Turns whose events a conversation keeps.
pub const MAX_TURNS: usize = 50;
/// Largest stored record; a turn that would store more fails and stores nothing.
pub const MAX_RECORD_BYTES: usize = 128 * 1024;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Conversation {
    /// `slots` and `user`.
    #[serde(default)]
    pub state: StateValues,
    /// The node that answered last and has followups, matched first on the next message.
    #[serde(default)]
    pub followup: Option<NodePath>,
    #[serde(default)]
    pub latest_message: Option<Value>,
    /// Kept as their JSON text: a turn only appends to them and drops the oldest, so they are
    /// neither built into values when the record is read nor written anew from values when it is
    /// stored (natively, a 50-turn record's turn took 96 µs with them as values).
    #[serde(default)]
    pub events: Vec<Box<RawValue>>,
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
        push(&mut self.events, json!({ "event": "user", "timestamp": now, "text": text, "parse_data": parse_data }));
        for (name, value) in slot_changes(&self.state.slots, &state.slots) {
            push(&mut self.events, json!({ "event": "slot", "timestamp": now, "name": name, "value": value }));
        }
        for message in &answer.messages {
            let mut data = Map::new();
            if !message.buttons.is_empty() {
                data.insert("buttons".into(), json!(message.buttons));
            }
            if let Some(image) = &message.image {
                data.insert("image".into(), json!(image));
            }
            push(&mut self.events, json!({ "event": "bot", "timestamp": now, "text": message.text, "data": data }));
        }
        self.drop_old_turns();
        Conversation { state, followup: answer.followup.clone(), latest_message: Some(parse_data), events: self.events }
    }

    fn drop_old_turns(&mut self) {
        // Counted from the newest turn: the newest MAX_TURNS turns are kept, and every event before
        // the oldest of them is dropped.
        let mut turns = 0;
        let oldest_kept = self.events.iter().rposition(|event| {
            turns += usize::from(event_kind(event).as_deref() == Some("user"));
            turns == MAX_TURNS
        });
        if let Some(start) = oldest_kept {
            self.events.drain(..start);
        }
    }

    /// The stored form, or `None` when it is larger than [`MAX_RECORD_BYTES`].
    pub fn to_record(&self) -> Option<String> {
        serde_json::to_string(self).ok().filter(|record| record.len() <= MAX_RECORD_BYTES)
    }

    /// The conversation in the shape of Rasa's `GET /conversations/{id}/tracker`.
    pub fn tracker(&self, sender: &str) -> Value {
        let latest_event_time = self
            .events
            .last()
            .and_then(|event| serde_json::from_str::<Value>(event.get()).ok())
            .and_then(|mut event| event.get_mut("timestamp").map(Value::take));
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

/// Appends `event` as its JSON text.
fn push(events: &mut Vec<Box<RawValue>>, event: Value) {
    let raw = to_raw_value(&event);
    debug_assert!(raw.is_ok(), "a JSON value always serializes");
    events.extend(raw.ok());
}

/// An event's `event` field, read without building the rest of it: from the text's start when it
/// is the first field, as the events this module writes have it (preserving the fields' order),
/// else by parsing the event.
fn event_kind(event: &RawValue) -> Option<Cow<'_, str>> {
    let first = event.get().strip_prefix(r#"{"event":""#).and_then(|rest| rest.split_once('"'));
    if let Some((kind, _)) = first.filter(|(kind, _)| !kind.contains('\\')) {
        return Some(Cow::Borrowed(kind));
    }
    // An object only: a derived struct would also read a list's first item as the field.
    if !event.get().starts_with('{') {
        return None;
    }
    #[derive(Deserialize)]
    struct Kind {
        event: Option<String>,
    }
    serde_json::from_str::<Kind>(event.get()).ok()?.event.map(Cow::Owned)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialog::RasaMessage;

    fn answer(text: &str) -> Answer {
        let message = RasaMessage { recipient_id: "u1".into(), text: Some(text.into()), image: None, buttons: vec![] };
        Answer { text: text.into(), messages: vec![message], sent: 0, followup: None }
    }

    fn turn(conversation: Conversation, text: &str, now: f64) -> Conversation {
        let answer = answer(&format!("re: {text}"));
        conversation.after(Turn { text, now, nlu: None, answer: &answer, state: StateValues::default() })
    }

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[test]
    fn an_events_kind_is_read_in_any_of_its_forms() {
        let kind = |text: &str| event_kind(&raw(text)).map(Cow::into_owned);
        assert_eq!(kind(r#"{"event":"user","text":"hi"}"#).as_deref(), Some("user"));
        assert_eq!(kind(r#"{"timestamp":1,"event":"bot"}"#).as_deref(), Some("bot"));
        assert_eq!(kind(r#"{ "event" : "slot" }"#).as_deref(), Some("slot"));
        assert_eq!(kind(r#"{"event":"us\u0065r"}"#).as_deref(), Some("user"));
        assert_eq!(kind(r#"{"event":"a\"b"}"#).as_deref(), Some("a\"b"));
        assert_eq!(kind(r#"{"event":1}"#), None);
        assert_eq!(kind(r#"{"text":"{\"event\":\"user\"}"}"#), None);
        assert_eq!(kind("[]"), None);
        assert_eq!(kind(r#"["user"]"#), None);
    }

    #[test]
    fn a_record_read_and_stored_again_keeps_its_events_as_written() {
        let mut conversation = Conversation::default();
        for (at, text) in ["one", "two", "three"].into_iter().enumerate() {
            conversation = turn(conversation, text, at as f64 + 0.5);
        }
        let record = conversation.to_record().unwrap();
        assert_eq!(Conversation::from_stored(Some(&record)).to_record().unwrap(), record);
        // Events another writer spaced or ordered otherwise are kept as they are too.
        let other = r#"{"events":[{ "timestamp": 1e0, "event": "user", "text": "hi" }]}"#;
        let stored = Conversation::from_stored(Some(other)).to_record().unwrap();
        assert!(stored.contains(r#"[{ "timestamp": 1e0, "event": "user", "text": "hi" }]"#), "{stored}");
        let tracker = Conversation::from_stored(Some(other)).tracker("u1");
        assert_eq!((&tracker["events"][0]["text"], &tracker["latest_event_time"]), (&json!("hi"), &json!(1.0)));
    }

    #[test]
    fn a_conversation_keeps_its_newest_turns_and_no_more() {
        let mut conversation = Conversation::default();
        for at in 0..MAX_TURNS {
            conversation = turn(conversation, &at.to_string(), at as f64);
        }
        assert_eq!(conversation.events.len(), 2 * MAX_TURNS);
        assert_eq!(event_kind(&conversation.events[0]).as_deref(), Some("user"));
        let conversation = turn(conversation, "one more", 1e3);
        let events = conversation.tracker("u1")["events"].as_array().unwrap().clone();
        assert_eq!(events.len(), 2 * MAX_TURNS);
        assert_eq!((&events[0]["text"], &events[2 * MAX_TURNS - 1]["text"]), (&json!("1"), &json!("re: one more")));
    }

    #[test]
    fn the_oldest_turns_are_dropped_whole_in_any_form_of_event() {
        // Older turns whose events name their kind after another field, then turns written here.
        let older: Vec<String> = (0..MAX_TURNS)
            .flat_map(|at| {
                [
                    format!(r#"{{"timestamp":{at},"event":"user","text":"old {at}"}}"#),
                    format!(r#"{{"timestamp":{at},"event":"bot","text":"re: old {at}"}}"#),
                ]
            })
            .collect();
        let mut conversation = Conversation::from_stored(Some(&format!(r#"{{"events":[{}]}}"#, older.join(","))));
        for at in 0..3 {
            conversation = turn(conversation, &format!("new {at}"), 100.0 + at as f64);
        }
        let tracker = conversation.tracker("u1");
        let events = tracker["events"].as_array().unwrap();
        assert_eq!(events.len(), 2 * MAX_TURNS);
        assert_eq!((&events[0]["event"], &events[0]["text"]), (&json!("user"), &json!("old 3")));
        assert_eq!(events.last().unwrap()["text"], json!("re: new 2"));
        assert_eq!(tracker["latest_event_time"], json!(102.0));
    }
}
