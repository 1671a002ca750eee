//! Rasa NLU as MaxBot's rasa extension uses it: `/model/parse` gives the intents and entities that
//! conditions and templates read as `intents.top.name`, `intents.<name>.confidence`, `entities.all`.

use serde_json::{json, Map, Value};

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
    let mut intents = Map::new();
    for item in &ranking {
        if let Some(name) = item["name"].as_str() {
            intents.entry(name.to_string()).or_insert_with(|| item.clone());
        }
    }
    intents.insert("top".into(), ranking.first().cloned().unwrap_or(Value::Null));
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
        assert_eq!(intents["top"]["name"], "book");
        assert_eq!(intents["greet"]["confidence"], 0.1);
        assert_eq!(entities["city"]["value"], "Paris");
        assert_eq!(entities["city"]["literal"], "Paris");
        assert_eq!(entities["all"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn an_empty_parse_has_no_top_intent() {
        let (intents, entities) = parse_nlu(&json!({}));
        assert!(intents["top"].is_null());
        assert_eq!(entities["all"], json!([]));
    }
}
