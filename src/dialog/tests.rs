//! What the rest cases cannot say: the dialog's cases that reach the network are data, one file
//! each under `tests/rest_cases/` (run by `crate::rest_cases`); what stays here asserts on the
//! dialog's own structures.

use serde_json::json;

/// The cache key's identity text is written field by field; it must stay the `json.dumps` (sorted
/// keys) of the identity object, byte for byte, or entries stored by earlier versions are lost.
#[test]
fn cache_identity_is_the_sorted_dumps_of_the_call() {
    use crate::config::BasicAuth;
    use crate::dialog::python_json;
    use crate::dialog::rest_call::{OnError, RestCall};
    let calls = [
        RestCall {
            method: "get".into(),
            url: "http://127.0.0.1/a?x=1".into(),
            headers: Default::default(),
            parameters: Default::default(),
            body: None,
            auth: None,
            timeout_seconds: 5.0,
            on_error: OnError::BreakFlow,
            cache_seconds: Some(60.0),
        },
        RestCall {
            method: "post".into(),
            url: "https://h/é \"q\"".into(),
            headers: [("X-B".to_string(), "2".to_string()), ("A".to_string(), "ü\n".to_string())].into(),
            parameters: [("k".to_string(), "v".to_string())].into(),
            body: Some(json!({"z": [1, 2.5, null, true], "a": {"y": "ß", "b": {}}})),
            auth: Some(BasicAuth { user: "u\"".into(), password: "p😀".into() }),
            timeout_seconds: 5.0,
            on_error: OnError::Continue,
            cache_seconds: Some(1.0),
        },
    ];
    for call in calls {
        let auth = call.auth.as_ref().map(|a| json!([a.user, a.password]));
        let tree = json!({"m": call.method, "u": call.url, "h": call.headers, "p": call.parameters, "b": call.body, "a": auth});
        let expected = crate::cache::CacheKey::new("rest", &[python_json::dumps(&tree, true).as_bytes()]);
        assert_eq!(call.cache_key(), expected);
    }
}
