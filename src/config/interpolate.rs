//! `${NAME}` substitution in configuration strings (the convention of Rasa's endpoints.yml).
//!
//! Runs on the raw JSON tree before it is typed, so every string value anywhere can use it and the
//! error can name the field that referenced a missing variable.

use serde_json::Value;

use crate::error::{GatewayError, Result};

/// Replaces every `${NAME}` in every string of `value` with `lookup(NAME)`.
pub fn interpolate(value: &mut Value, lookup: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    walk(value, "", lookup)
}

fn walk(value: &mut Value, path: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    match value {
        Value::String(text) if text.contains("${") => *text = substitute(text, path, lookup)?,
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                walk(item, &format!("{path}[{index}]"), lookup)?;
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields.iter_mut() {
                let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                walk(item, &child, lookup)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn substitute(text: &str, path: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(GatewayError::config(format!("{path}: unterminated '${{' in configuration value"))
                .with_details(serde_json::json!({ "field": path })));
        };
        let name = &after[..end];
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(GatewayError::config(format!("{path}: invalid variable name '{name}'"))
                .with_details(serde_json::json!({ "field": path, "variable": name })));
        }
        match lookup(name) {
            Some(found) => out.push_str(&found),
            None => {
                return Err(GatewayError::config(format!(
                    "{path}: the variable '{name}' is not defined (set it as a Worker secret or variable)"
                ))
                .with_details(serde_json::json!({ "field": path, "variable": name })))
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lookup(name: &str) -> Option<String> {
        (name == "KEY").then(|| "s3cret".to_string())
    }

    #[test]
    fn replaces_variables_anywhere_in_the_tree() {
        let mut value = json!({"a": "${KEY}", "b": ["x-${KEY}-y"], "c": {"d": 1}});
        interpolate(&mut value, &lookup).unwrap();
        assert_eq!(value, json!({"a": "s3cret", "b": ["x-s3cret-y"], "c": {"d": 1}}));
    }

    #[test]
    fn a_missing_variable_names_the_variable_and_the_field() {
        let mut value = json!({"auth": {"token": "${NOPE}"}});
        let error = interpolate(&mut value, &lookup).unwrap_err();
        assert!(error.message.contains("NOPE"), "{}", error.message);
        assert!(error.message.contains("auth.token"), "{}", error.message);
        assert_eq!(error.details["variable"], "NOPE");
    }

    #[test]
    fn text_without_references_is_untouched() {
        let mut value = json!({"a": "$HOME {x} $"});
        interpolate(&mut value, &lookup).unwrap();
        assert_eq!(value["a"], "$HOME {x} $");
    }

    #[test]
    fn unterminated_reference_is_an_error() {
        let mut value = json!({"a": "${KEY"});
        assert!(interpolate(&mut value, &lookup).is_err());
    }
}
