//! Rasa NLU as MaxBot's rasa extension uses it: `/model/parse` gives the intents and entities that
//! conditions and templates read as `intents.top.name`, `intents.<name>.confidence`, `entities.all`.
//!
//! `intents` is MaxBot's `IntentsResult`: `ranking` holds every intent, most confident first; `top`
//! is the first of them only when its confidence reaches [`TOP_THRESHOLD`] (else none);
//! `irrelevant` is true when there is no top intent; and `intents.<name>` is the top intent when it
//! is named `<name>`, else none, so a later catch-all node answers whatever else was ranked.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr};
use serde_json::{json, Map, Value};

/// The confidence the top intent needs (MaxBot's `IntentsResult.resolve(top_threshold=0.5)`).
pub const TOP_THRESHOLD: f64 = 0.5;

/// `intents` and `entities` from a `/model/parse` answer.
pub fn parse_nlu(parsed: &Value) -> (Value, Value) {
    let mut ranking: Vec<Value> = Vec::new();
    let top = parsed.get("intent").filter(|i| i.get("name").is_some_and(|n| n.is_string()));
    if let Some(top) = top {
        ranking.push(intent(top));
    }
    for item in parsed.get("intent_ranking").and_then(Value::as_array).into_iter().flatten() {
        if item.get("name") != top.and_then(|t| t.get("name")) && item.get("name").is_some_and(|n| n.is_string()) {
            ranking.push(intent(item));
        }
    }
    // A stable sort, as Python's `sorted(..., reverse=True)`: equal confidences keep their order.
    ranking.sort_by(|a, b| confidence(b).total_cmp(&confidence(a)));
    let top = ranking.first().filter(|first| confidence(first) >= TOP_THRESHOLD).cloned();
    let mut intents = Map::new();
    if let Some(name) = top.as_ref().and_then(|top| top["name"].as_str()) {
        intents.insert(name.to_string(), top.clone().unwrap_or_default());
    }
    // Inserted after the top intent's name: an intent named `top` or `ranking` does not hide them.
    intents.insert("irrelevant".into(), Value::Bool(top.is_none()));
    intents.insert("top".into(), top.unwrap_or(Value::Null));
    intents.insert("ranking".into(), Value::Array(ranking));

    let text = parsed.get("text").and_then(Value::as_str).unwrap_or("");
    let all: Vec<Value> = parsed
        .get("entities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entity| {
            let name = entity.get("entity")?.as_str()?;
            let start = entity.get("start").and_then(Value::as_u64).unwrap_or(0) as usize;
            let end = entity.get("end").and_then(Value::as_u64).unwrap_or(0) as usize;
            let literal = text.get(start..end).unwrap_or("");
            Some(json!({"name": name, "value": entity.get("value").cloned().unwrap_or(Value::Null),
                        "literal": literal, "start": start, "end": end}))
        })
        .collect();
    let mut entities = Map::new();
    for entity in &all {
        if let Some(name) = entity["name"].as_str() {
            entities.entry(name.to_string()).or_insert_with(|| entity.clone());
        }
    }
    entities.insert("all".into(), Value::Array(all));
    (Value::Object(intents), Value::Object(entities))
}

fn intent(item: &Value) -> Value {
    json!({"name": item["name"], "confidence": item.get("confidence").cloned().unwrap_or(json!(0.0))})
}

fn confidence(intent: &Value) -> f64 {
    intent["confidence"].as_f64().unwrap_or(0.0)
}

/// `intents` as templates see it: any name that is not the top intent's is none (as MaxBot's
/// `__getattr__` answers), not undefined, so `intents.other.confidence` is no error either.
#[derive(Debug)]
pub struct Intents(minijinja::Value);

impl Intents {
    pub fn value(intents: &Value) -> minijinja::Value {
        minijinja::Value::from_object(Intents(minijinja::Value::from(minijinja::value::Serde(intents))))
    }
}

impl Object for Intents {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        Some(self.0.get_item(key).ok().filter(|value| !value.is_undefined()).unwrap_or(minijinja::Value::from(())))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.0.try_iter() {
            Ok(keys) => Enumerator::Values(keys.collect()),
            Err(_) => Enumerator::Empty,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_and_entities() {
        let parsed = json!({
            "text": "book a table in Paris",
            "intent": {"name": "book", "confidence": 0.9},
            "intent_ranking": [{"name": "book", "confidence": 0.9}, {"name": "greet", "confidence": 0.1}],
            "entities": [{"entity": "city", "value": "Paris", "start": 16, "end": 21}]
        });
        let (intents, entities) = parse_nlu(&parsed);
        assert_eq!(intents["top"], json!({"name": "book", "confidence": 0.9}));
        assert_eq!(intents["book"], intents["top"]);
        assert_eq!(intents["irrelevant"], false);
        assert_eq!(intents["ranking"][1], json!({"name": "greet", "confidence": 0.1}));
        assert!(intents.get("greet").is_none(), "only the top intent answers to its name");
        assert_eq!(entities["city"]["value"], "Paris");
        assert_eq!(entities["city"]["literal"], "Paris");
        assert_eq!(entities["all"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn an_empty_parse_has_no_top_intent() {
        let (intents, entities) = parse_nlu(&json!({}));
        assert!(intents["top"].is_null());
        assert_eq!((&intents["irrelevant"], &intents["ranking"]), (&json!(true), &json!([])));
        assert_eq!(entities["all"], json!([]));
    }

    #[test]
    fn the_ranking_is_sorted_and_the_top_needs_the_threshold() {
        let parsed = json!({
            "intent": {"name": "b", "confidence": 0.3},
            "intent_ranking": [{"name": "a", "confidence": 0.2}, {"name": "c", "confidence": 0.4},
                               {"name": "d", "confidence": 0.4}, {"name": "b", "confidence": 0.3}]
        });
        let (intents, _) = parse_nlu(&parsed);
        let names: Vec<&str> =
            intents["ranking"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["c", "d", "b", "a"]);
        assert!(intents["top"].is_null());
        assert_eq!(intents["irrelevant"], true);
        let (intents, _) = parse_nlu(&json!({"intent": {"name": "top", "confidence": 0.5}}));
        assert_eq!(intents["top"]["name"], "top");
        assert_eq!(intents["irrelevant"], false);
    }
}
